//! Source kinds: files and folders of records (read to their end), agent and collector streams
//! over HTTP (NDJSON or SSE, resumed by cursor, reconnected with capped backoff and jitter), and
//! the demo fleet (an in-process agent on loopback, read over HTTP like any remote one).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;

use crate::core::{Event, IdentityRecord};
use crate::engine::{Engine, Health};
use crate::ingest;
use crate::ingest::lines::LineReader;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// The embedded demo fleet.
    Demo,
    /// A file or folder (recursively), `.gz` too, read to its end.
    Path(PathBuf),
    /// An agent or collector stream.
    Http(String),
    /// A growing file, followed across rotation and truncation (`tail:PATH`).
    Tail(PathBuf),
    /// Listen for falcosidekick and GitHub-style webhook POSTs (`webhook:ADDR:PORT`).
    Webhook(std::net::SocketAddr),
    /// A NATS JetStream subject, read by a durable consumer (`nats://HOST:PORT/SUBJECT`).
    Nats(super::nats::NatsSpec),
    /// CloudTrail delivery files in an S3 bucket, polled in key order (`s3://BUCKET/PREFIX`).
    S3(super::aws_logs::S3Spec),
    /// S3 event notifications or EventBridge CloudTrail events on an SQS queue (`sqs:URL`).
    Sqs(String),
    /// JSON lines over TCP: the Vault/OpenBao socket audit device (`tcp:ADDR:PORT`).
    Tcp(std::net::SocketAddr),
}

impl SourceSpec {
    /// Parse a `--source` value. The error names what was wrong and what is accepted.
    pub fn parse(s: &str) -> Result<SourceSpec, String> {
        if s == "demo" {
            return Ok(SourceSpec::Demo);
        }
        if s.starts_with("http://") || s.starts_with("https://") {
            reqwest::Url::parse(s).map_err(|e| format!("--source {s}: not a valid URL: {e}"))?;
            return Ok(SourceSpec::Http(s.to_string()));
        }
        if let Some(p) = s.strip_prefix("tail:") {
            if p.is_empty() {
                return Err(format!(
                    "--source {s}: give the file to follow, as tail:PATH"
                ));
            }
            if let Some(kind) = special_file(Path::new(p)) {
                return Err(format!(
                    "--source {s}: {kind}, not a regular file: tail: follows a file that grows (a log file)"
                ));
            }
            return Ok(SourceSpec::Tail(PathBuf::from(p)));
        }
        if let Some(a) = s.strip_prefix("webhook:") {
            return listen_addr(s, "webhook", a, 8088).map(SourceSpec::Webhook);
        }
        if s.starts_with("s3://") {
            return super::aws_logs::S3Spec::parse(s)
                .map(SourceSpec::S3)
                .map_err(|e| format!("--source {s}: {e}"));
        }
        if let Some(q) = s.strip_prefix("sqs:") {
            return super::aws_logs::parse_queue(q)
                .map(SourceSpec::Sqs)
                .map_err(|e| format!("--source {s}: {e}"));
        }
        if let Some(a) = s.strip_prefix("tcp:") {
            return super::tcp::parse_addr(s, a).map(SourceSpec::Tcp);
        }
        if s.starts_with("nats://") {
            return super::nats::NatsSpec::parse(s)
                .map(SourceSpec::Nats)
                .map_err(|e| format!("--source {s}: {e}"));
        }
        let p = PathBuf::from(s);
        if !p.exists() {
            return Err(format!(
                "--source {s}: no such file or folder (give a path, http(s)://…/v1/events, or demo)"
            ));
        }
        if let Some(kind) = special_file(&p) {
            return Err(format!(
                "--source {s}: {kind}, not a file or folder: blastdoor reads files to their end, and this one has none; copy what it carries into a file, or send it to a webhook: or nats:// source"
            ));
        }
        Ok(SourceSpec::Path(p))
    }

    pub fn name(&self) -> String {
        match self {
            SourceSpec::Demo => "demo".into(),
            SourceSpec::Path(p) => p.display().to_string(),
            SourceSpec::Http(u) => redact_url(u),
            SourceSpec::Tail(p) => format!("tail:{}", p.display()),
            SourceSpec::Webhook(a) => format!("webhook:{a}"),
            SourceSpec::Nats(n) => n.name(),
            SourceSpec::S3(s) => s.name(),
            SourceSpec::Sqs(q) => format!("sqs:{}", redact_url(q)),
            SourceSpec::Tcp(a) => format!("tcp:{a}"),
        }
    }

    /// Read to an end: files and folders, and `s3://…?once` (every object there, then done).
    pub fn is_finite(&self) -> bool {
        matches!(self, SourceSpec::Path(_)) || matches!(self, SourceSpec::S3(s) if s.once)
    }

    /// Whether this source keeps a cursor in the shared state, to resume after a restart.
    pub fn keeps_cursor(&self) -> bool {
        matches!(self, SourceSpec::S3(s) if !s.once)
    }

    /// The URL of the agent behind an agent's event stream (`http(s)://…/v1/events`): it
    /// executes that agent's kinds too, as `--agent URL` would (INTERFACE.md).
    pub fn agent_url(&self) -> Option<String> {
        match self {
            SourceSpec::Http(u) => reqwest::Url::parse(u)
                .ok()
                .filter(|url| url.path().trim_end_matches('/').ends_with("/v1/events"))
                .map(|_| u.clone()),
            _ => None,
        }
    }
}

/// What follows `KIND:` in a listening source (`webhook:`, `tcp:`): `ADDR:PORT`, or a bare port
/// (`8088`, `:8088`), which listens on loopback. `example` is the port the error suggests.
pub(crate) fn listen_addr(
    spec: &str,
    kind: &str,
    a: &str,
    example: u16,
) -> Result<std::net::SocketAddr, String> {
    match a.trim_start_matches(':').parse::<u16>() {
        Ok(port) => Ok(std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port))),
        Err(_) => a.parse().map_err(|e| {
            format!(
                "--source {spec}: expected {kind}:PORT (loopback) or {kind}:ADDR:PORT, e.g. {kind}:127.0.0.1:{example} ({e})"
            )
        }),
    }
}

/// A URL as it may be shown: no user, password or query string (they can carry tokens).
pub fn redact_url(u: &str) -> String {
    match reqwest::Url::parse(u) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.to_string()
        }
        Err(_) => "<invalid url>".into(),
    }
}

pub(crate) async fn spawn(engine: &Engine, spec: SourceSpec, demo_seed: u64) -> anyhow::Result<()> {
    match spec {
        SourceSpec::Demo => {
            let addr = crate::agent::spawn_demo(demo_seed).await?;
            let url = format!("http://{addr}/v1/events");
            let client = stream_client(engine, &url)?;
            engine.add_agent(url.clone());
            let id = engine.register("demo".into(), false);
            tokio::spawn(stream_task(engine.clone(), id, url, client));
        }
        SourceSpec::Http(url) => {
            let client = stream_client(engine, &url)?;
            if let Some(agent) = spec_agent(&url) {
                engine.add_agent(agent);
            }
            let id = engine.register(redact_url(&url), false);
            tokio::spawn(stream_task(engine.clone(), id, url, client));
        }
        SourceSpec::Tail(path) => {
            let id = engine.register(format!("tail:{}", path.display()), false);
            tokio::spawn(super::live::tail_task(engine.clone(), id, path));
        }
        SourceSpec::Webhook(addr) => {
            let id = engine.register(format!("webhook:{addr}"), false);
            super::live::spawn_webhook(engine.clone(), id, addr, &engine.inner.webhook.clone())
                .await?;
        }
        SourceSpec::Nats(spec) => {
            let id = engine.register(spec.name(), false);
            tokio::spawn(super::nats::nats_task(engine.clone(), id, spec));
        }
        SourceSpec::Tcp(addr) => {
            let id = engine.register(format!("tcp:{addr}"), false);
            super::tcp::spawn_tcp(engine.clone(), id, addr).await?;
        }
        SourceSpec::S3(spec) => {
            let id = engine.register(spec.name(), spec.once);
            super::aws_logs::spawn_s3(engine, id, spec).await?;
        }
        SourceSpec::Sqs(url) => {
            let id = engine.register(format!("sqs:{}", redact_url(&url)), false);
            super::aws_logs::spawn_sqs(engine, id, url).await?;
        }
        SourceSpec::Path(path) => {
            let id = engine.register(path.display().to_string(), true);
            let engine = engine.clone();
            tokio::spawn(async move {
                file_task(&engine, id, path).await;
                engine.finite_finished();
            });
        }
    }
    Ok(())
}

fn spec_agent(url: &str) -> Option<String> {
    SourceSpec::Http(url.to_string()).agent_url()
}

const BATCH: usize = 512;
/// What the files being read at once may hold in records, at most (see `file_task`).
const READ_BUDGET: u64 = 192 << 20;

/// Files under a path: the file itself, or every regular file in a folder, sorted for a stable
/// order. Hidden files are skipped. A symbolic link to a file is read (evidence is often staged
/// as links to where it was collected); a link to a folder is not followed, so no link loop can
/// make a walk endless.
pub fn files_under(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    files_under_noting(path, &mut Vec::new())
}

/// What a path is when it is neither a regular file nor a folder (following links): a FIFO,
/// a device, a socket. Such a file has no end to read to (`/dev/zero`), or blocks (a FIFO).
pub fn special_file(path: &Path) -> Option<&'static str> {
    let ft = std::fs::metadata(path).ok()?.file_type();
    if ft.is_file() || ft.is_dir() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if ft.is_char_device() {
            return Some("a character device");
        }
        if ft.is_block_device() {
            return Some("a block device");
        }
        if ft.is_socket() {
            return Some("a socket");
        }
    }
    Some("a special file")
}

/// [`files_under`], noting in `skipped` the special files (FIFOs, devices, sockets) a folder
/// holds, which are not read.
pub fn files_under_noting(
    path: &Path,
    skipped: &mut Vec<(PathBuf, &'static str)>,
) -> std::io::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if let Some(kind) = special_file(path) {
        return Err(std::io::Error::other(format!(
            "{kind}, not a file or folder"
        )));
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let p = entry.path();
            if p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
            {
                continue;
            }
            let ft = entry.file_type()?;
            if ft.is_dir() {
                stack.push(p);
            } else if (ft.is_file() || ft.is_symlink() && p.is_file()) && !is_documentation(&p) {
                out.push(p);
            } else if let Some(kind) = special_file(&p) {
                skipped.push((p, kind));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Files a folder of telemetry often carries beside the data (licences, READMEs, metadata):
/// skipped when walking a folder; named explicitly, they are read like any other.
fn is_documentation(p: &Path) -> bool {
    let name = p
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let ext = p
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    name.starts_with("license")
        || name.starts_with("readme")
        || name.starts_with("notice")
        || matches!(
            ext.as_str(),
            "md" | "yaml" | "yml" | "txt" | "toml" | "py" | "sh"
        )
}

async fn file_task(engine: &Engine, id: usize, path: PathBuf) {
    engine.set_health(id, Health::Up, None);
    let mut special = Vec::new();
    let files = match files_under_noting(&path, &mut special) {
        Ok(f) => f,
        Err(e) => {
            engine.reject(id, format!("{}: cannot read: {e}", path.display()));
            engine.set_health(id, Health::Error, Some(e.to_string()));
            return;
        }
    };
    for (p, kind) in special {
        engine.problem(format!("{}: {kind}, not read", p.display()));
    }
    let limits = engine.limits();
    if files.is_empty() {
        engine.problem(format!(
            "{}: no files to read here (hidden files, READMEs and licences are skipped)",
            path.display()
        ));
    }
    // Each file's size, asked once: for the progress bar and for what each reader reads.
    let files: Vec<(PathBuf, u64)> = files
        .into_iter()
        .map(|f| {
            let size = f.metadata().map_or(0, |m| m.len());
            (f, size)
        })
        .collect();
    let total: u64 = files.iter().map(|(_, size)| size).sum();
    engine.set_progress(id, 0, total);
    // Decode several files at once (decoding is the costly part), but deliver them in file
    // order, so that a replay is the same however the threads are scheduled: which network an
    // instance credential is first seen from decides what counts as "outside its workload".
    // A reader ahead of the one being delivered fills its small channel and waits, so memory
    // stays at a few batches per reader.
    // Three files per thread in flight: a reader that finished early waits for the one being
    // delivered, and with one per thread the threads sat idle a third of the time (perf).
    // Each holds up to one record of `max_record`: with records raised far above the default,
    // fewer are in flight, so memory stays within READ_BUDGET.
    let readers = (decode_threads() * 3).min((READ_BUDGET / limits.max_record).max(1) as usize);
    let mut pending = std::collections::VecDeque::new();
    let mut files = files.into_iter();
    let mut done = 0u64;
    loop {
        while pending.len() < readers {
            let Some((file, size)) = files.next() else {
                break;
            };
            let (tx, rx) = tokio::sync::mpsc::channel::<FileItem>(4);
            let f2 = file.clone();
            let read = Arc::new(AtomicU64::new(0));
            let read2 = read.clone();
            let reader = spawn_decode(engine.background_decode(), move || {
                read_file(&f2, &tx, &read2, &limits)
            });
            pending.push_back((file, size, rx, read, reader));
        }
        let Some((file, size, mut rx, read, reader)) = pending.pop_front() else {
            break;
        };
        while let Some(item) = rx.recv().await {
            forward(engine, id, item).await;
            engine.set_progress(id, done + read.load(Ordering::Relaxed).min(size), total);
        }
        if let Some(Err(e)) = reader.await {
            engine.reject(id, format!("{}: {e}", file.display()));
        }
        done += size;
        engine.set_progress(id, done, total);
    }
    engine.set_health(id, Health::Done, None);
}

/// Run a file's decoding off the async threads: on tokio's blocking pool, or, for a screen's
/// engine, on a thread of its own at a lower priority (nice 10) that ends with the file, so that
/// the screen and the core's apply step run first when the cores are busy. A thread a file is
/// not spent: `rank` keeps the pool, whose threads are reused and keep their priority.
fn spawn_decode<R: Send + 'static>(
    background: bool,
    f: impl FnOnce() -> R + Send + 'static,
) -> impl std::future::Future<Output = Option<R>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let run = move || {
        let _ = tx.send(f());
    };
    if background {
        let spawned = std::thread::Builder::new()
            .name("decode".into())
            .spawn(move || {
                lower_priority();
                run()
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start a decoding thread: {e}");
        }
    } else {
        drop(tokio::task::spawn_blocking(run));
    }
    async move { rx.await.ok() }
}

/// Lower the calling thread's scheduling priority (Linux keeps the nice value per thread, and
/// the threads it starts inherit it). Best effort: where it is refused, decoding runs as before.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its arguments; `who == 0` is the calling thread on Linux.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

/// How many files are decoded at once: one per core, leaving the core task its share.
fn decode_threads() -> usize {
    // Asked once: the answer reads cgroup files, and every file of a large folder asks.
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 8)
    })
}

pub(crate) enum FileItem {
    Decoded(ingest::Decoded),
    Reject(String),
    /// Further rejects of the same file, counted but not listed one by one.
    MoreRejected(u64),
}

/// Rejects of one file listed one by one; the rest are counted and summed up in one line.
const LISTED_REJECTS: u64 = 20;

/// Counts the bytes read from the file (compressed bytes for `.gz`), for progress.
struct Counting<R> {
    inner: R,
    n: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.fetch_add(k as u64, Ordering::Relaxed);
        Ok(k)
    }
}

/// A file's bytes (decompressed for `.gz`, or for gzip bytes whatever the name: Firehose
/// writes its objects without an extension; within `max_file` and `max_ratio`), counting what
/// is read from the disk into `n`.
fn open_counted(
    path: &Path,
    n: &Arc<AtomicU64>,
    limits: &ingest::Limits,
) -> std::io::Result<Box<dyn BufRead + Send>> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let mut gz = path.extension().is_some_and(|e| e == "gz");
    if !gz {
        let mut magic = [0u8; 2];
        let k = f.read(&mut magic)?;
        gz = k == 2 && magic == [0x1f, 0x8b];
        f.seek(SeekFrom::Start(0))?;
    }
    Ok(counted(f, gz, n, limits))
}

/// `raw`'s bytes, gunzipped when `gz` (within `max_file` and `max_ratio`), counting what is read
/// of `raw` into `n`.
fn counted<R: Read + Send + 'static>(
    raw: R,
    gz: bool,
    n: &Arc<AtomicU64>,
    limits: &ingest::Limits,
) -> Box<dyn BufRead + Send> {
    let f = Counting {
        inner: raw,
        n: n.clone(),
    };
    if gz {
        Box::new(BufReader::with_capacity(
            1 << 16,
            ingest::limits::Bounded::new(flate2::read::MultiGzDecoder::new(f), n.clone(), *limits),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, f))
    }
}

/// Sends what records decode to, in batches, and a reject naming the file and line (or record
/// index) for each one that does not.
pub(crate) struct Sink<'a> {
    tx: &'a tokio::sync::mpsc::Sender<FileItem>,
    batch: ingest::Decoded,
    path: &'a Path,
    rejects: u64,
}

impl Sink<'_> {
    fn add(&mut self, d: ingest::Decoded) -> bool {
        if self.batch.is_empty() && d.events.len() >= BATCH {
            // A whole delivery file's worth: sent as it is, not moved event by event.
            self.batch = d;
        } else {
            if self.batch.events.capacity() == 0 {
                // Room for a full batch: growing a vector of events by doubling, batch after
                // batch, was a tenth of `rank`'s time (perf).
                self.batch.events.reserve(BATCH);
            }
            self.batch.extend(d);
        }
        if self.batch.events.len() >= BATCH || !self.batch.inventory.is_empty() {
            return self.flush();
        }
        true
    }
    fn flush(&mut self) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        self.tx
            .blocking_send(FileItem::Decoded(std::mem::take(&mut self.batch)))
            .is_ok()
    }
    fn reject(&mut self, problem: String) {
        self.rejects += 1;
        if self.rejects <= LISTED_REJECTS {
            let _ = self.tx.blocking_send(FileItem::Reject(problem));
        }
    }
    fn finish(&mut self) {
        self.flush();
        if self.rejects > LISTED_REJECTS {
            let more = self.rejects - LISTED_REJECTS;
            let _ = self.tx.blocking_send(FileItem::Reject(format!(
                "{}: {more} more records rejected (only the first {LISTED_REJECTS} are listed)",
                self.path.display()
            )));
            let _ = self.tx.blocking_send(FileItem::MoreRejected(more - 1));
        }
    }
}

/// JSON Lines files at least this large (on disk) are decoded on several threads.
const PARALLEL_MIN_BYTES: u64 = 4 << 20;
/// Lines per unit of work when one file is decoded on several threads.
const CHUNK_LINES: usize = 1024;

fn read_file(
    path: &Path,
    tx: &tokio::sync::mpsc::Sender<FileItem>,
    counter: &Arc<AtomicU64>,
    limits: &ingest::Limits,
) -> std::io::Result<()> {
    read_file_with(
        path,
        tx,
        counter,
        limits,
        PARALLEL_MIN_BYTES,
        decode_threads(),
    )
}

/// `read_file`, decoding JSON Lines on `workers` threads when the file is `parallel_min` bytes
/// or more. Whatever the threads, records are delivered and rejects named in file order. A bad
/// line (too long, not UTF-8, not a record) costs that line; a file over a limit of `limits` is
/// named and its reading stops, keeping everything read before.
fn read_file_with(
    path: &Path,
    tx: &tokio::sync::mpsc::Sender<FileItem>,
    counter: &Arc<AtomicU64>,
    limits: &ingest::Limits,
    parallel_min: u64,
    workers: usize,
) -> std::io::Result<()> {
    let size = path.metadata().map_or(0, |m| m.len());
    let reader = open_counted(path, counter, limits)?;
    read_source(path, reader, size, tx, limits, parallel_min, workers);
    Ok(())
}

/// Read one object held in memory (an S3 delivery file, named `name`: `s3://bucket/key`) as a
/// file source reads a file. Gzip is told by its first bytes, not by the name; a `.gz` name
/// whose body is not gzip is named and skipped.
pub(crate) fn read_object(
    name: &Path,
    body: Vec<u8>,
    tx: &tokio::sync::mpsc::Sender<FileItem>,
    limits: &ingest::Limits,
) {
    let gz = body.starts_with(&[0x1f, 0x8b]);
    if !gz && name.extension().is_some_and(|e| e == "gz") {
        let _ = tx.blocking_send(FileItem::Reject(format!(
            "{}: not gzip (the name ends in .gz, the bytes are not); skipped",
            name.display()
        )));
        return;
    }
    let size = body.len() as u64;
    let counter = Arc::new(AtomicU64::new(0));
    let reader = counted(std::io::Cursor::new(body), gz, &counter, limits);
    read_source(
        name,
        reader,
        size,
        tx,
        limits,
        PARALLEL_MIN_BYTES,
        decode_threads(),
    );
}

/// Decode an object in memory as `read_object` does and hand it to the core, waiting for room
/// (nothing dropped), rejects counted against `id`. Returns once everything is queued.
pub(crate) async fn deliver_object(engine: &Engine, id: usize, name: PathBuf, body: Vec<u8>) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<FileItem>(4);
    let limits = engine.limits();
    let reader = tokio::task::spawn_blocking(move || read_object(&name, body, &tx, &limits));
    while let Some(item) = rx.recv().await {
        forward(engine, id, item).await;
    }
    let _ = reader.await;
}

/// One item of a reader, to the core: batches waited for, rejects counted.
pub(crate) async fn forward(engine: &Engine, id: usize, item: FileItem) {
    match item {
        FileItem::Decoded(d) => {
            if !d.inventory.is_empty() {
                engine.deliver_inventory(d.inventory).await;
            }
            if !d.events.is_empty() || !d.changes.is_empty() {
                engine.deliver_with(id, d.events, d.changes).await;
            }
        }
        FileItem::Reject(p) => engine.reject(id, p),
        FileItem::MoreRejected(n) => engine.reject_more(id, n),
    }
}

/// The reading shared by files and objects: `reader` (already decompressed) line by line, or
/// as one document, `size` bytes as stored.
fn read_source(
    path: &Path,
    reader: Box<dyn BufRead + Send>,
    size: u64,
    tx: &tokio::sync::mpsc::Sender<FileItem>,
    limits: &ingest::Limits,
    parallel_min: u64,
    workers: usize,
) {
    let parallel = workers > 1 && size >= parallel_min;
    let mut sink = Sink {
        tx,
        batch: ingest::Decoded::default(),
        path,
        rejects: 0,
    };
    let mut reader = reader;
    if reader
        .fill_buf()
        .is_ok_and(ingest::envelopes::starts_subscription_messages)
    {
        read_subscription_messages(path, reader, limits, &mut sink);
        sink.finish();
        return;
    }
    // Room for a one-line file (an S3 delivery file is one line) or a long line, so the line
    // is not grown by doubling and copying (a tenth of `rank`'s time on delivery files, perf).
    let mut r =
        LineReader::new(reader, limits.record()).with_capacity((size as usize).min(1 << 20));
    let read = read_lines(path, &mut r, &mut sink, parallel, workers);
    if let Err(e) = &read {
        // What was read before the error is kept, and the error names the line it stopped at.
        let at = r.line_number() + 1;
        if let Some(limit) = ingest::limits::Exceeded::of(e) {
            sink.reject(format!(
                "{}: line {at}: {limit}; stopped reading it (the records before are kept)",
                path.display()
            ));
        } else {
            sink.reject(format!("{}: line {at}: cannot read: {e}", path.display()));
        }
    }
    sink.finish();
}

fn read_lines(
    path: &Path,
    r: &mut LineReader<Box<dyn BufRead + Send>>,
    sink: &mut Sink<'_>,
    parallel: bool,
    workers: usize,
) -> std::io::Result<()> {
    let mut seen_record = false;
    while let Some((n, line)) = r.next_line()? {
        let text = match line {
            Ok(t) => t.trim(),
            Err(skip) => {
                sink.reject(format!("{}: line {n}: {skip}", path.display()));
                continue;
            }
        };
        if text.is_empty() {
            continue;
        }
        // The first line, when decoding it is what tells the file's shape.
        let mut first = None;
        if !seen_record && ingest::csv_export::is_export_header(text) {
            read_csv_export(path, n, r, sink);
            return Ok(());
        }
        if !seen_record {
            // A pretty-printed document (or a sequence of them) starts with `[`, or with a `{`
            // that does not close on its line. A first line that decodes is a record (JSON
            // Lines, or a one-line delivery file): decoding it tells so without reading it once
            // more only to check it is whole.
            let document = if text.starts_with('[') {
                true
            } else if text.starts_with('{') {
                let decoded = (!parallel).then(|| decode_line(path, n, text));
                let whole = decoded.as_ref().is_some_and(Result::is_ok) || complete_object(text);
                first = decoded;
                !whole
            } else {
                false
            };
            if document {
                match r.rest_as_document()? {
                    Ok(doc) => decode_whole(path, doc, sink),
                    Err(skip) => sink.reject(format!(
                        "{}: the document from line {n}: {skip}",
                        path.display()
                    )),
                }
                return Ok(());
            }
        }
        seen_record = true;
        if parallel {
            let first = (n, Ok(text.to_string()));
            return decode_lines_parallel(path, first, r, sink, workers);
        }
        match first.unwrap_or_else(|| decode_line(path, n, text)) {
            Ok(d) => {
                if !sink.add(d) {
                    return Ok(());
                }
            }
            Err(p) => sink.reject(p),
        }
    }
    Ok(())
}

/// CloudWatch Logs subscription messages one after another, as Firehose writes them: each
/// decoded, a bad one named by its index, one over `max_record` (or not JSON, after which the
/// next cannot be found) ending the file with what came before kept.
fn read_subscription_messages(
    path: &Path,
    reader: Box<dyn BufRead + Send>,
    limits: &ingest::Limits,
    sink: &mut Sink<'_>,
) {
    let stop =
        ingest::envelopes::read_concatenated(reader, limits.max_record, |index, d| match d {
            Ok(d) => sink.add(d),
            Err(e) => {
                sink.reject(format!("{}: record {index}: {e}", path.display()));
                true
            }
        });
    let kept = "stopped reading it (the records before are kept)";
    match stop {
        Ok(()) => {}
        Err(ingest::envelopes::StreamStop::TooLong { index, max }) => sink.reject(format!(
            "{}: record {index}: longer than [limits] max_record = {} (config.toml raises it); {kept}",
            path.display(),
            ingest::limits::show_size(max)
        )),
        Err(ingest::envelopes::StreamStop::NotJson { index, line, error }) => sink.reject(format!(
            "{}: record {index} (line {line}): not JSON: {error}; {kept}",
            path.display()
        )),
        Err(ingest::envelopes::StreamStop::Read { index, error }) => {
            match ingest::limits::Exceeded::of(&error) {
                Some(limit) => sink.reject(format!(
                    "{}: record {index}: {limit}; {kept}",
                    path.display()
                )),
                None => sink.reject(format!(
                    "{}: record {index}: cannot read: {error}",
                    path.display()
                )),
            }
        }
    }
}

/// A CloudTrail event history CSV export whose header is line `n`: every row decoded, a bad
/// row named by file, line and row, and a row over `max_record` (or a read error) ending the
/// file with what came before kept.
fn read_csv_export(
    path: &Path,
    n: usize,
    r: &mut LineReader<Box<dyn BufRead + Send>>,
    sink: &mut Sink<'_>,
) {
    let max = r.max() as u64;
    let stop = ingest::csv_export::read(r.rest_with_line(), n as u64, max, |row| match row {
        Ok(d) => sink.add(d),
        Err(p) => {
            sink.reject(format!("{}: {p}", path.display()));
            true
        }
    });
    match stop {
        Ok(()) => {}
        Err(ingest::csv_export::Stop::TooLong { line, row, max }) => sink.reject(format!(
            "{}: line {line} (row {row}): a row longer than [limits] max_record = {} (config.toml raises it); stopped reading it (the rows before are kept)",
            path.display(),
            ingest::limits::show_size(max)
        )),
        Err(ingest::csv_export::Stop::Read { line, error }) => {
            if let Some(limit) = ingest::limits::Exceeded::of(&error) {
                sink.reject(format!(
                    "{}: line {line}: {limit}; stopped reading it (the rows before are kept)",
                    path.display()
                ));
            } else {
                sink.reject(format!("{}: line {line}: cannot read: {error}", path.display()));
            }
        }
    }
}

/// Line `n` of a JSON Lines file decoded, or the reject that names the file and the line:
/// the same on one thread and on several.
fn decode_line(path: &Path, n: usize, text: &str) -> Result<ingest::Decoded, String> {
    // A large one-line delivery file is decoded on every core.
    ingest::decode_record_on(text, decode_threads())
        .map_err(|e| format!("{}: line {n}: {e}", path.display()))
}

/// One chunk of a JSON Lines file, decoded: what its records gave, and its rejects in order.
type Chunk = (ingest::Decoded, Vec<String>);

/// A line handed to the decoding threads: its number, and its text or the reject the reading
/// thread already wrote for it (kept in line, so rejects stay in file order).
type NumberedLine = (usize, Result<String, String>);

/// Most bytes of lines in one chunk: with long lines a chunk holds fewer of them.
const CHUNK_BYTES: usize = 4 << 20;

/// Decode the rest of a JSON Lines file (its first record line is `first`) on `workers`
/// threads, `CHUNK_LINES` lines (or `CHUNK_BYTES`) at a time. This thread reads and hands out
/// chunks, and delivers decoded chunks to the sink in file order; at most two chunks per worker
/// are in flight, so memory stays bounded however large the file.
fn decode_lines_parallel(
    path: &Path,
    first: NumberedLine,
    r: &mut LineReader<Box<dyn BufRead + Send>>,
    sink: &mut Sink<'_>,
    workers: usize,
) -> std::io::Result<()> {
    use std::sync::{Mutex, mpsc};
    let decode = |lines: Vec<NumberedLine>| -> Chunk {
        let mut out = ingest::Decoded::default();
        let mut rejects = Vec::new();
        for (n, line) in lines {
            match line.and_then(|l| decode_line(path, n, l.trim())) {
                Ok(d) => out.extend(d),
                Err(p) => rejects.push(p),
            }
        }
        (out, rejects)
    };
    let (job_tx, job_rx) = mpsc::channel::<(u64, Vec<NumberedLine>)>();
    let (done_tx, done_rx) = mpsc::channel::<(u64, Chunk)>();
    let job_rx = Mutex::new(job_rx);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (job_rx, done_tx) = (&job_rx, done_tx.clone());
            scope.spawn(move || {
                loop {
                    let job = job_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((seq, lines))) = job else { return };
                    if done_tx.send((seq, decode(lines))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        let mut ready = std::collections::BTreeMap::new();
        let (mut sent, mut delivered) = (0u64, 0u64);
        let mut open = true;
        // Deliver the next chunk in order, waiting for it; false when the engine has gone.
        let deliver_next = |ready: &mut std::collections::BTreeMap<u64, Chunk>,
                            delivered: &mut u64,
                            sink: &mut Sink<'_>|
         -> bool {
            while !ready.contains_key(delivered) {
                match done_rx.recv() {
                    Ok((seq, c)) => {
                        ready.insert(seq, c);
                    }
                    Err(_) => return false,
                }
            }
            let (d, rejects) = ready.remove(delivered).expect("present");
            *delivered += 1;
            let alive = sink.add(d);
            for p in rejects {
                sink.reject(p);
            }
            alive
        };
        let mut chunk_bytes = first.1.as_ref().map_or(0, String::len);
        let mut chunk = vec![first];
        let result = loop {
            // A read error ends the file; everything before it is delivered first.
            let next = r.next_line();
            let eof = !matches!(next, Ok(Some(_)));
            if let Ok(Some((n, line))) = next {
                match line {
                    Ok(t) if t.trim().is_empty() => {}
                    Ok(t) => {
                        chunk_bytes += t.len();
                        chunk.push((n, Ok(t.to_string())));
                    }
                    Err(skip) => {
                        chunk.push((n, Err(format!("{}: line {n}: {skip}", path.display()))))
                    }
                }
            }
            if chunk.len() >= CHUNK_LINES
                || chunk_bytes >= CHUNK_BYTES
                || (eof && !chunk.is_empty())
            {
                let _ = job_tx.send((sent, std::mem::take(&mut chunk)));
                chunk_bytes = 0;
                sent += 1;
                while open && sent - delivered > 2 * workers as u64 {
                    open = deliver_next(&mut ready, &mut delivered, sink);
                }
            }
            if eof || !open {
                while open && delivered < sent {
                    open = deliver_next(&mut ready, &mut delivered, sink);
                }
                break next.map(|_| ());
            }
        };
        drop(job_tx);
        result
    })
}

/// Read one file as a file source does, to its end, collecting what it sends: the batches, and
/// the rejects in order (`more N` for those only counted). For tests and the fuzz target.
#[doc(hidden)]
pub fn read_collect(
    path: &Path,
    limits: &ingest::Limits,
    parallel_min: u64,
    workers: usize,
) -> (Vec<ingest::Decoded>, Vec<String>) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1 << 20);
    let counter = Arc::new(AtomicU64::new(0));
    if let Err(e) = read_file_with(path, &tx, &counter, limits, parallel_min, workers) {
        let _ = tx.blocking_send(FileItem::Reject(format!("{}: {e}", path.display())));
    }
    drop(tx);
    let (mut decoded, mut rejects) = (Vec::new(), Vec::new());
    while let Some(item) = rx.blocking_recv() {
        match item {
            FileItem::Decoded(d) => decoded.push(d),
            FileItem::Reject(p) => rejects.push(p),
            FileItem::MoreRejected(n) => rejects.push(format!("more {n}")),
        }
    }
    (decoded, rejects)
}

/// Does this line hold one whole JSON object (as JSON Lines do)?
fn complete_object(text: &str) -> bool {
    // With the trailing commas `parse_json` tolerates, as decoding the line would: one thread
    // (which decodes it) and several (which only look) must judge the first line alike.
    text.ends_with('}')
        && (serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
            || ingest::parse_json(text).is_ok())
}

/// A whole document: one value, an array (each item reported by index), or several
/// pretty-printed values one after another.
fn decode_whole(path: &Path, text: &str, sink: &mut Sink<'_>) {
    // A large pretty-printed delivery file is read as a one-line one is: typed, on every core.
    if text.len() >= ingest::PARALLEL_RECORDS_MIN
        && text.trim_start().starts_with('{')
        && let Ok(d) = ingest::decode_record_on(text, decode_threads())
    {
        sink.add(d);
        return;
    }
    match ingest::decode_document_lenient(text) {
        Ok((d, errors)) => {
            sink.add(d);
            for e in errors {
                sink.reject(format!("{}: {e}", path.display()));
            }
        }
        Err(first) => {
            // Concatenated pretty-printed values?
            let stream = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
            let mut any = false;
            for (index, item) in stream.enumerate() {
                match item {
                    Ok(v) => {
                        let mut d = ingest::Decoded::default();
                        match ingest::decode_value(v, &mut d) {
                            Ok(()) => {
                                any = true;
                                sink.add(d);
                            }
                            Err(e) => {
                                sink.reject(format!("{}: record {index}: {e}", path.display()))
                            }
                        }
                    }
                    Err(e) => {
                        if any || index > 0 {
                            sink.reject(format!(
                                "{}: record {index} (line {}): not JSON: {e}",
                                path.display(),
                                e.line()
                            ));
                        } else {
                            sink.reject(format!("{}: {first}", path.display()));
                        }
                        break;
                    }
                }
            }
        }
    }
}

/// An `--inventory` file, read whole before the sources start, within `[limits] max_file`.
pub fn load_inventory(path: &Path, limits: &ingest::Limits) -> anyhow::Result<Vec<IdentityRecord>> {
    let mut text = String::new();
    let max = limits.max_file;
    open_counted(path, &Arc::default(), limits)
        .and_then(|r| r.take(max + 1).read_to_string(&mut text))
        .map_err(|e| anyhow::anyhow!("--inventory {}: cannot read: {e}", path.display()))?;
    if text.len() as u64 > max {
        anyhow::bail!(
            "--inventory {}: larger than [limits] max_file = {} (config.toml raises it)",
            path.display(),
            ingest::limits::show_size(max)
        );
    }
    match ingest::decode_document(&text) {
        Ok(d) if !d.inventory.is_empty() => Ok(d.inventory),
        Ok(_) => {
            anyhow::bail!(
                "--inventory {}: this file holds events, not an inventory (AWS get-account-authorization-details, kubectl RBAC list or blastdoor's own); pass it with --source",
                path.display()
            )
        }
        Err(e) => anyhow::bail!("--inventory {}: {e}", path.display()),
    }
}

/// Backoff before reconnect attempt `n` (1-based): 250 ms doubling to 30 s, with ±25 % jitter.
pub fn backoff(n: u32, jitter_seed: u64) -> Duration {
    let base = 250u64
        .saturating_mul(1u64 << n.min(7).saturating_sub(1))
        .min(30_000);
    // Cheap deterministic jitter from the seed: no shared RNG needed.
    let x = jitter_seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add((n as u64).wrapping_mul(1442695040888963407));
    let frac = ((x >> 33) % 1000) as f64 / 1000.0; // 0..1
    Duration::from_millis((base as f64 * (0.75 + 0.5 * frac)) as u64)
}

/// The client a stream source reads `url` with: the `[endpoints.*]` section that covers it
/// says how to authenticate. A problem (a token variable not set, an unreadable CA) stops the
/// start-up with a usage error naming it.
fn stream_client(engine: &Engine, url: &str) -> anyhow::Result<reqwest::Client> {
    let builder = reqwest::Client::builder().connect_timeout(Duration::from_secs(5));
    engine
        .endpoints()
        .client(url, builder)
        .map_err(|e| crate::exit::Failure::usage(format!("--source {}: {e:#}", redact_url(url))))
}

async fn stream_task(engine: Engine, id: usize, url: String, client: reqwest::Client) {
    let shown = redact_url(&url);
    let mut cursor: Option<u64> = None;
    let mut attempt = 0u32;
    let mut inventory_loaded = false;
    loop {
        if !inventory_loaded
            && let Some(inv_url) = inventory_url(&url)
            && let Ok(resp) = client.get(&inv_url).send().await
            && resp.status().is_success()
            && let Some(body) = capped_body(resp, engine.limits().max_file).await
            && let Ok(inv) = serde_json::from_slice::<ingest::native::Inventory>(&body)
        {
            engine.deliver_inventory(inv.identities).await;
            inventory_loaded = true;
        }
        let mut req = client
            .get(&url)
            .header("Accept", "application/x-ndjson, text/event-stream;q=0.5");
        if let Some(c) = cursor {
            req = req.query(&[("since", c)]);
        }
        let result = match req.send().await {
            Ok(resp) if resp.status().is_success() => {
                attempt = 0;
                engine.set_health(id, Health::Up, None);
                let sse = resp
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("text/event-stream"));
                read_stream(&engine, id, resp, sse, &mut cursor).await
            }
            Ok(resp) => Err(format!("{shown}: HTTP {}", resp.status())),
            Err(e) => Err(format!("{shown}: {}", describe_reqwest(&e))),
        };
        attempt += 1;
        let why = result
            .err()
            .unwrap_or_else(|| format!("{shown}: stream ended"));
        tracing::warn!("{why}; reconnecting (attempt {attempt})");
        engine.set_health(id, Health::Retrying, Some(why));
        tokio::time::sleep(backoff(attempt, id as u64 ^ attempt as u64)).await;
    }
}

/// A response's body, or `None` past `max` bytes (an agent's inventory is read whole: it must
/// not be able to fill the memory).
async fn capped_body(mut resp: reqwest::Response, max: u64) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.ok()? {
        if (body.len() + chunk.len()) as u64 > max {
            tracing::warn!(
                "an inventory over [limits] max_file ({}) was not read",
                ingest::limits::show_size(max)
            );
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body)
}

fn describe_reqwest(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "cannot connect (is the agent running?)".into()
    } else if e.is_timeout() {
        "timed out".into()
    } else {
        let mut s = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(inner) = src {
            s = format!("{s}: {inner}");
            src = inner.source();
        }
        s
    }
}

/// `…/v1/events` → `…/v1/inventory`.
fn inventory_url(events_url: &str) -> Option<String> {
    let mut u = reqwest::Url::parse(events_url).ok()?;
    let path = u.path().strip_suffix("/events")?.to_string();
    u.set_path(&format!("{path}/inventory"));
    u.set_query(None);
    Some(u.to_string())
}

async fn read_stream(
    engine: &Engine,
    id: usize,
    resp: reqwest::Response,
    sse: bool,
    cursor: &mut Option<u64>,
) -> Result<(), String> {
    let mut body = resp.bytes_stream();
    let mut lines = ingest::lines::LineSplitter::new(engine.limits().record());
    let mut batch: Vec<Event> = Vec::new();
    let mut sse_id: Option<u64> = None;
    let mut flush_at = tokio::time::Instant::now() + Duration::from_millis(50);
    loop {
        let chunk = tokio::select! {
            c = body.next() => c,
            _ = tokio::time::sleep_until(flush_at), if !batch.is_empty() => {
                engine.offer(id, std::mem::take(&mut batch));
                flush_at = tokio::time::Instant::now() + Duration::from_millis(50);
                continue;
            }
        };
        let Some(chunk) = chunk else {
            if !batch.is_empty() {
                engine.offer(id, batch);
            }
            return Ok(());
        };
        let chunk = chunk.map_err(|e| e.to_string())?;
        lines.push(&chunk, |_, line| {
            let text = match line {
                Ok(t) => t,
                Err(skip) => {
                    let at = format!("{cursor:?}");
                    return engine.reject(id, format!("stream: line after cursor {at}: {skip}"));
                }
            };
            let payload = if sse {
                if let Some(v) = text.strip_prefix("id:") {
                    sse_id = v.trim().parse().ok();
                    return;
                }
                match text.strip_prefix("data:") {
                    Some(d) => d.trim_start(),
                    None => return,
                }
            } else {
                text
            };
            if payload.trim().is_empty() {
                return;
            }
            match ingest::native::decode_line(payload) {
                Ok(l) => {
                    if let Some(c) = l.cursor.or(sse_id.take()) {
                        *cursor = Some(c);
                    }
                    batch.push(l.event);
                }
                Err(e) => engine.reject(id, format!("stream: record after cursor {cursor:?}: {e}")),
            }
        });
        if batch.len() >= BATCH {
            engine.offer(id, std::mem::take(&mut batch));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_folder_of_links_to_files_is_read_and_a_link_to_a_folder_is_not_followed() {
        let evidence = tempfile::tempdir().unwrap();
        let staged = tempfile::tempdir().unwrap();
        std::fs::write(evidence.path().join("a.json"), "{}").unwrap();
        std::fs::write(evidence.path().join("b.json"), "{}").unwrap();
        let link = |to: &Path, name: &str| std::os::unix::fs::symlink(to, staged.path().join(name));
        link(&evidence.path().join("a.json"), "a.json").unwrap();
        link(&evidence.path().join("b.json"), "b.json").unwrap();
        // A link back up: following it would walk forever.
        link(staged.path(), "loop").unwrap();
        std::fs::write(staged.path().join("c.json"), "{}").unwrap();
        let names: Vec<String> = files_under(staged.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.json", "b.json", "c.json"]);
    }

    /// Everything `read_file_with` sent, as text, in order: events and changes, then rejects.
    /// (Rejects go out as they are found and records in batches, so the two interleave
    /// differently; each on its own is in file order either way.)
    fn read_all(path: &Path, parallel_min: u64, workers: usize) -> Vec<String> {
        read_all_within(path, &ingest::Limits::default(), parallel_min, workers)
    }

    fn read_all_within(
        path: &Path,
        limits: &ingest::Limits,
        parallel_min: u64,
        workers: usize,
    ) -> Vec<String> {
        let (decoded, rejects) = read_collect(path, limits, parallel_min, workers);
        let events = decoded
            .iter()
            .flat_map(|d| d.events.iter().map(|e| format!("{e:?}")));
        let changes = decoded
            .iter()
            .flat_map(|d| d.changes.iter().map(|c| format!("{c:?}")));
        events
            .chain(changes)
            .chain(rejects.into_iter().map(|r| format!("reject {r}")))
            .collect()
    }

    #[test]
    fn a_large_json_lines_file_decodes_on_several_threads_as_it_does_on_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trail.jsonl");
        let mut text = String::new();
        for i in 0..5000 {
            if i % 97 == 13 {
                text.push_str(&format!("{{\"broken\": {i}\n"));
            } else if i % 500 == 7 {
                text.push('\n'); // blank lines keep their place in the numbering
            } else {
                text.push_str(&format!(
                    r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/svc-{u}","accountId":"123456789012","accessKeyId":"AKIA{i:016}"}},"eventTime":"2026-11-26T03:{m:02}:{s:02}Z","eventSource":"iam.amazonaws.com","eventName":"{op}","sourceIPAddress":"198.51.100.{u}","requestParameters":{{"userName":"svc-{u}"}}}}"#,
                    u = i % 40,
                    m = (i / 60) % 60,
                    s = i % 60,
                    op = if i % 3 == 0 { "CreateAccessKey" } else { "ListUsers" },
                ));
                text.push('\n');
            }
        }
        std::fs::write(&path, &text).unwrap();
        let one = read_all(&path, u64::MAX, 1);
        let many = read_all(&path, 0, 3);
        assert!(one.len() > 4000, "{}", one.len());
        // Bad lines are named by their line number, whichever thread decoded them.
        assert!(
            one.iter().any(|l| l.contains("trail.jsonl: line 14:")),
            "{:?}",
            &one[..3]
        );
        assert!(
            one.iter().any(|l| l.starts_with("reject more ")),
            "more than 20 rejects are summed up"
        );
        assert_eq!(one.len(), many.len());
        for (i, (a, b)) in one.iter().zip(&many).enumerate() {
            assert_eq!(a, b, "item {i} differs");
        }
    }

    /// A CloudTrail record as one JSON line, for user `u`.
    fn trail_line(u: usize) -> String {
        format!(
            r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/svc-{u}","accountId":"123456789012"}},"eventTime":"2026-11-26T03:00:{u:02}Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","sourceIPAddress":"198.51.100.1"}}"#
        )
    }

    fn events_and_rejects(lines: &[String]) -> (usize, Vec<&String>) {
        let rejects: Vec<&String> = lines.iter().filter(|l| l.starts_with("reject")).collect();
        (lines.len() - rejects.len(), rejects)
    }

    #[test]
    fn one_invalid_utf8_byte_costs_its_line_only_on_one_thread_and_on_several() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("five.jsonl");
        let mut bytes = Vec::new();
        for u in 1..=5 {
            let mut line = trail_line(u).into_bytes();
            if u == 2 {
                line.insert(40, 0xff);
            }
            bytes.extend(line);
            bytes.push(b'\n');
        }
        std::fs::write(&path, &bytes).unwrap();
        for (min, workers) in [(u64::MAX, 1), (0, 3)] {
            let all = read_all(&path, min, workers);
            let (events, rejects) = events_and_rejects(&all);
            assert_eq!(events, 4, "{all:?}");
            assert_eq!(rejects.len(), 1, "{rejects:?}");
            assert!(
                rejects[0].contains("five.jsonl: line 2: not UTF-8"),
                "{rejects:?}"
            );
        }
    }

    #[test]
    fn a_line_over_max_record_is_named_and_skipped_and_the_next_one_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.jsonl");
        let long = format!("{{\"junk\": \"{}\"}}", "x".repeat(5000));
        let text = [trail_line(1), long, trail_line(3)].join("\n");
        std::fs::write(&path, text).unwrap();
        let limits = ingest::Limits {
            max_record: 4096,
            ..Default::default()
        };
        for (min, workers) in [(u64::MAX, 1), (0, 3)] {
            let all = read_all_within(&path, &limits, min, workers);
            let (events, rejects) = events_and_rejects(&all);
            assert_eq!(events, 2, "{all:?}");
            assert!(
                rejects.len() == 1
                    && rejects[0].contains(
                        "long.jsonl: line 2: 4.9 KiB long, over [limits] max_record = 4 KiB"
                    ),
                "{rejects:?}"
            );
        }
    }

    fn gzip(path: &Path, parts: &[&[u8]]) {
        use std::io::Write;
        let f = std::fs::File::create(path).unwrap();
        let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::default());
        for p in parts {
            gz.write_all(p).unwrap();
        }
        gz.finish().unwrap();
    }

    #[test]
    fn a_gzip_bomb_is_stopped_named_and_what_came_before_it_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bomb.json.gz");
        let head = format!("{}\n{}\n", trail_line(1), trail_line(2));
        // 64 MiB of zeros compress a thousand times: a bomb, and one endless line too.
        gzip(&path, &[head.as_bytes(), &vec![0u8; 64 << 20]]);
        let all = read_all(&path, u64::MAX, 1);
        let (events, rejects) = events_and_rejects(&all);
        assert_eq!(events, 2, "{all:?}");
        assert_eq!(rejects.len(), 1, "{rejects:?}");
        assert!(
            rejects[0].contains("bomb.json.gz: line 3: decompresses")
                && rejects[0].contains("max_ratio = 100"),
            "{rejects:?}"
        );
    }

    #[test]
    fn a_compressed_file_over_max_file_is_stopped_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.jsonl.gz");
        let lines: String = (0..2000).map(|u| trail_line(u % 60) + "\n").collect();
        gzip(&path, &[lines.as_bytes()]);
        let limits = ingest::Limits {
            max_file: 64 << 10,
            ..Default::default()
        };
        let all = read_all_within(&path, &limits, u64::MAX, 1);
        let (events, rejects) = events_and_rejects(&all);
        let per_line = lines.len() / 2000;
        assert!(events > 0 && events <= (64 << 10) / per_line, "{events}");
        assert!(
            rejects.len() == 1
                && rejects[0].contains("decompressed to more than 64 KiB ([limits] max_file"),
            "{rejects:?}"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever mix of good, broken, long, blank and not-UTF-8 lines (and a first line
        /// with a trailing comma, which decodes), one thread and several read the same.
        #[test]
        fn one_thread_and_several_read_any_mix_of_lines_alike(
            kinds in proptest::collection::vec(0u8..6, 1..40),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("mix.jsonl");
            let mut bytes = Vec::new();
            for (i, k) in kinds.iter().enumerate() {
                match k {
                    0 => bytes.extend(trail_line(i % 60).into_bytes()),
                    1 => bytes.extend(b"{\"broken\": ".to_vec()),
                    2 => bytes.extend(format!("{{\"pad\": \"{}\"}}", "x".repeat(3000)).into_bytes()),
                    3 => {}
                    4 => bytes.extend(b"{\"a\": \"\xff\"}".to_vec()),
                    _ => {
                        let t = trail_line(i % 60);
                        bytes.extend(format!("{},}}", &t[..t.len() - 1]).into_bytes());
                    }
                }
                bytes.push(b'\n');
            }
            std::fs::write(&path, &bytes).unwrap();
            let limits = ingest::Limits { max_record: 2048, ..Default::default() };
            let one = read_all_within(&path, &limits, u64::MAX, 1);
            let many = read_all_within(&path, &limits, 0, 3);
            proptest::prop_assert_eq!(one, many);
        }
    }

    #[cfg(unix)]
    #[test]
    fn fifos_and_devices_are_refused_by_name_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        for (p, kind) in [
            (fifo.as_path(), "a FIFO"),
            (Path::new("/dev/zero"), "a character device"),
        ] {
            let e = SourceSpec::parse(p.to_str().unwrap()).unwrap_err();
            assert!(
                e.contains(kind) && e.contains("not a file or folder"),
                "{e}"
            );
            let e = SourceSpec::parse(&format!("tail:{}", p.display())).unwrap_err();
            assert!(e.contains(kind), "{e}");
        }
        // In a folder, a FIFO is noted and skipped; the files beside it are read.
        std::fs::write(dir.path().join("a.json"), "{}").unwrap();
        let mut skipped = Vec::new();
        let files = files_under_noting(dir.path(), &mut skipped).unwrap();
        assert_eq!(files, [dir.path().join("a.json")]);
        assert_eq!(skipped, [(fifo, "a FIFO (named pipe)")]);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let a = backoff(1, 7);
        let b = backoff(4, 7);
        let c = backoff(50, 7);
        assert!(a < b && b < c, "{a:?} {b:?} {c:?}");
        assert!(c <= Duration::from_millis(37_500));
        assert!(a >= Duration::from_millis(187));
    }

    #[test]
    fn urls_are_shown_without_credentials() {
        let r = redact_url("https://user:hunter2@agent.internal:8443/v1/events?token=s3cr3t");
        assert!(
            !r.contains("hunter2") && !r.contains("s3cr3t") && !r.contains("user"),
            "{r}"
        );
    }

    #[test]
    fn unknown_source_kinds_are_named() {
        let e = SourceSpec::parse("/definitely/not/here").unwrap_err();
        assert!(e.contains("/definitely/not/here") && e.contains("demo"));
    }

    #[test]
    fn inventory_url_sits_beside_events() {
        assert_eq!(
            inventory_url("http://127.0.0.1:9/v1/events?since=4").as_deref(),
            Some("http://127.0.0.1:9/v1/inventory")
        );
    }
}
