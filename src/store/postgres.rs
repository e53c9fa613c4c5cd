//! The PostgreSQL backend: `--state postgres://USER@HOST:PORT/DB`, for consoles on several hosts
//! sharing one queue and one audit chain.
//!
//! Concurrency between hosts: every write transaction takes one advisory transaction lock
//! (`pg_advisory_xact_lock`) as its first statement, in READ COMMITTED, so write transactions
//! run one at a time, each seeing everything committed before it, exactly as SQLite's
//! `BEGIN IMMEDIATE` does on one host. Why this and not row locks or SERIALIZABLE: every
//! transition appends to the audit chain, whose tail must be read and extended by one writer at
//! a time anyway, so a per-action row lock would buy no concurrency and add a second lock (and a
//! lock order to keep); SERIALIZABLE would turn the same contention into serialization failures
//! and a retry loop around code that calls executors. Two consoles pressing execute at once
//! queue on the lock; the second sees `executing` and is refused, so there is one dispatch and
//! one `done`. Readers (listing the queue, verify) take no lock.
//!
//! Live updates: a transaction that changes the queue or the journal sends `NOTIFY
//! blastdoor_queue` as it commits; [`Db::changes`] listens on a connection of its own and bumps a
//! counter, so the approvals view and `watch` read the queue again when another host acts.
//!
//! Faults: a lost connection is reported by [`Db::unreachable`] (the console's header, stderr)
//! and reopened on the next call; a transaction that could not commit wrote nothing, so nothing
//! is dispatched without its INTENT committed.
//!
//! The synchronous `postgres` client drives a runtime of its own, which must not run on a thread
//! that runs tokio tasks: every call goes through `off_runtime`.
//!
//! Schema: versioned migrations applied under an advisory lock; a database whose schema is newer
//! than this build is refused. The audit tables are append-only by privilege, not by trigger:
//! the migration revokes UPDATE, DELETE and TRUNCATE on them from PUBLIC and from the role that
//! owns them (a DBA gives blastdoor a role that does not own the tables to make that binding; a
//! superuser can still edit them, which is what the hashes and signatures are for). Roots and
//! signatures of checkpoints are kept as hex text, so every text column of every audit table is
//! covered by verification.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use anyhow::anyhow;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, Statement};

use super::merkle::Hash;
use super::{
    Checkpoint, Intent, LastCheckpoint, NewRecord, RawRecord, Reader, ScanFn, Tx, off_runtime,
    queue,
};
use crate::core::model::Millis;
use crate::core::workflow::Action;

/// The advisory lock every write transaction holds ("blastdor" in ASCII). Advisory locks are
/// per database, so two blastdoor databases on one server do not share it.
const WRITE_LOCK: i64 = 0x626c_6173_7464_6f72;
/// The lock migrations run under.
const MIGRATE_LOCK: i64 = WRITE_LOCK + 1;
/// The channel queue changes are announced on, and how a write that changed the queue commits.
const CHANNEL: &str = "blastdoor_queue";
const NOTIFY_COMMIT: &str = "SELECT pg_notify('blastdoor_queue', ''); COMMIT";

/// The schema, one step per version; `blastdoor_schema.version` says how many are applied.
const MIGRATIONS: &[&str] = &["CREATE TABLE actions (
         id text PRIMARY KEY,
         state text NOT NULL,
         hash text NOT NULL,
         proposer text NOT NULL,
         agent text,
         created_at bigint NOT NULL,
         updated_at bigint NOT NULL,
         body text NOT NULL
     );
     CREATE INDEX actions_created ON actions (created_at);
     CREATE TABLE journal (
         key text PRIMARY KEY,
         action_id text NOT NULL,
         executor text NOT NULL,
         owner text NOT NULL,
         intent_at bigint NOT NULL,
         outcome text,
         outcome_at bigint
     );
     CREATE TABLE cursors (
         source text PRIMARY KEY,
         value text NOT NULL,
         updated_at bigint NOT NULL
     );
     CREATE TABLE audit_meta (
         key text PRIMARY KEY,
         value text NOT NULL
     );
     CREATE TABLE audit_log (
         seq bigint PRIMARY KEY CHECK (seq >= 1),
         at bigint NOT NULL,
         kind text NOT NULL,
         actor text NOT NULL,
         via text NOT NULL,
         action_id text,
         detail text NOT NULL,
         prev bytea NOT NULL,
         hash bytea NOT NULL
     );
     CREATE INDEX audit_log_action ON audit_log (action_id) WHERE action_id IS NOT NULL;
     CREATE TABLE audit_checkpoint (
         n bigint PRIMARY KEY CHECK (n >= 1),
         tree_size bigint NOT NULL,
         root text NOT NULL,
         at bigint NOT NULL,
         signature text NOT NULL,
         frontier bytea NOT NULL
     );
     REVOKE UPDATE, DELETE, TRUNCATE ON audit_meta, audit_log, audit_checkpoint
         FROM PUBLIC, CURRENT_USER;"];

// ---------------------------------------------------------------------------------------------
// Where: the URL, its password and its TLS

/// libpq's `sslmode`, as far as blastdoor acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    Disable,
    /// TLS when the server offers it (libpq's default, `prefer`, and `allow`).
    Prefer,
    /// `require`, `verify-ca`, `verify-full`: TLS or no connection.
    Require,
}

/// A PostgreSQL state, parsed from `--state postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?…]`.
#[derive(Clone)]
pub struct Target {
    config: postgres::Config,
    tls: Tls,
    /// `sslrootcert`: the CA to trust instead of the system's.
    root_cert: Option<PathBuf>,
    host: String,
    port: u16,
    db: String,
    user: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.write_str(&self.label())
    }
}

impl PartialEq for Target {
    fn eq(&self, o: &Target) -> bool {
        self.label() == o.label() && self.tls == o.tls && self.root_cert == o.root_cert
    }
}

impl Eq for Target {}

impl Target {
    /// Parse a libpq URL. `sslmode` (`disable`, `allow`, `prefer`, `require`, `verify-ca`,
    /// `verify-full`) and `sslrootcert` are read here; the rest as libpq does. A problem is
    /// returned as text naming the flag.
    pub fn parse(url: &str) -> Result<Target, String> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut tls = Tls::Prefer;
        let mut root_cert = None;
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("sslmode", v)) => {
                    tls = match v {
                        "disable" => Tls::Disable,
                        "allow" | "prefer" => Tls::Prefer,
                        "require" | "verify-ca" | "verify-full" => Tls::Require,
                        other => {
                            return Err(format!(
                                "--state: sslmode={other} is not one of disable, allow, prefer, \
                                 require, verify-ca, verify-full"
                            ));
                        }
                    }
                }
                Some(("sslrootcert", v)) => root_cert = Some(PathBuf::from(v)),
                _ => rest.push(pair),
            }
        }
        let text = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let mut config = postgres::Config::from_str(&text).map_err(|e| {
            format!("--state: not a PostgreSQL URL ({e}); write postgres://USER@HOST:PORT/DB")
        })?;
        let host = match config.get_hosts().first() {
            Some(postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => {
                return Err(
                    "--state: the PostgreSQL URL names no host; write postgres://USER@HOST:PORT/DB"
                        .into(),
                );
            }
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let Some(db) = config.get_dbname().map(str::to_string) else {
            return Err(
                "--state: the PostgreSQL URL names no database; write postgres://USER@HOST:PORT/DB"
                    .into(),
            );
        };
        let user = match config.get_user() {
            Some(u) => u.to_string(),
            None => {
                let u = std::env::var("PGUSER")
                    .or_else(|_| std::env::var("USER"))
                    .map_err(|_| {
                        "--state: the PostgreSQL URL names no user; write postgres://USER@HOST:PORT/DB"
                            .to_string()
                    })?;
                config.user(&u);
                u
            }
        };
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        // A server that vanished (a dropped network, a failed-over host) shows within seconds,
        // not after the kernel's default two hours.
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(5))
            .tcp_user_timeout(Duration::from_secs(10))
            .application_name("blastdoor");
        config.ssl_mode(match tls {
            Tls::Disable => postgres::config::SslMode::Disable,
            Tls::Prefer => postgres::config::SslMode::Prefer,
            Tls::Require => postgres::config::SslMode::Require,
        });
        Ok(Target {
            config,
            tls,
            root_cert,
            host,
            port,
            db,
            user,
        })
    }

    /// `postgres://USER@HOST:PORT/DB`, never with the password.
    pub fn label(&self) -> String {
        format!(
            "postgres://{}@{}:{}/{}",
            self.user, self.host, self.port, self.db
        )
    }

    /// The database, whoever connects: `postgres://HOST:PORT/DB`.
    pub fn identity(&self) -> String {
        format!("postgres://{}:{}/{}", self.host, self.port, self.db)
    }

    /// A file name for things kept per state on this host (the audit key).
    pub fn file_stem(&self) -> String {
        format!("{}_{}_{}", self.host, self.port, self.db)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }

    /// The config to connect with: the password from the URL, else `PGPASSWORD`, else the
    /// first matching line of `PGPASSFILE` or `~/.pgpass` (as libpq, which ignores a file that
    /// others may read).
    fn config(&self) -> postgres::Config {
        let mut c = self.config.clone();
        if c.get_password().is_none() {
            if let Some(p) = std::env::var_os("PGPASSWORD").filter(|p| !p.is_empty()) {
                c.password(p.to_string_lossy().as_bytes());
            } else if let Some(p) = self.pgpass() {
                c.password(p.as_bytes());
            }
        }
        c
    }

    fn pgpass(&self) -> Option<String> {
        let path = std::env::var_os("PGPASSFILE")
            .map(PathBuf::from)
            .or_else(|| directories::BaseDirs::new().map(|d| d.home_dir().join(".pgpass")))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).ok()?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    "{}: ignored, others may read it (chmod 0600 it, as libpq asks)",
                    path.display()
                );
                return None;
            }
        }
        let text = std::fs::read_to_string(&path).ok()?;
        pgpass_lookup(
            &text,
            &[&self.host, &self.port.to_string(), &self.db, &self.user],
        )
    }

    fn tls(&self) -> anyhow::Result<Option<tls::MakeRustls>> {
        match self.tls {
            Tls::Disable => Ok(None),
            Tls::Prefer | Tls::Require => tls::MakeRustls::new(self.root_cert.as_deref()).map(Some),
        }
    }

    fn connect(&self) -> anyhow::Result<Client> {
        let config = self.config();
        let r = match self.tls()? {
            None => config.connect(postgres::NoTls),
            Some(t) => config.connect(t),
        };
        r.map_err(|e| anyhow!("{}: cannot connect: {}", self.label(), pg_error(&e)))
    }
}

/// The password of the first `.pgpass` line whose fields (`*` for any) match
/// `host:port:db:user`; `\:` and `\\` escape.
fn pgpass_lookup(text: &str, want: &[&str; 4]) -> Option<String> {
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::with_capacity(5);
        let mut cur = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => cur.extend(chars.next()),
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            }
        }
        fields.push(cur);
        if fields.len() == 5
            && fields[..4]
                .iter()
                .zip(want)
                .all(|(f, w)| f == "*" || f == w)
        {
            return fields.pop();
        }
    }
    None
}

/// A driver error in words: the server's own message when it sent one.
fn pg_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(c) = src {
                s.push_str(&format!(": {c}"));
                src = c.source();
            }
            s
        }
    }
}

mod tls {
    //! TLS for the PostgreSQL client through rustls (ring), which the agent and the AWS client
    //! already use: the server's certificate is verified against `sslrootcert`, else the
    //! system's roots, and its name against the URL's host.

    use std::future::Future;
    use std::io;
    use std::path::Path;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};

    use postgres::Socket;
    use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

    #[derive(Clone)]
    pub struct MakeRustls(Arc<rustls::ClientConfig>);

    impl MakeRustls {
        pub fn new(root_cert: Option<&Path>) -> anyhow::Result<MakeRustls> {
            let mut roots = rustls::RootCertStore::empty();
            match root_cert {
                Some(p) => {
                    for c in CertificateDer::pem_file_iter(p)
                        .map_err(|e| anyhow::anyhow!("--state sslrootcert={}: {e}", p.display()))?
                    {
                        let c = c.map_err(|e| {
                            anyhow::anyhow!("--state sslrootcert={}: {e}", p.display())
                        })?;
                        roots.add(c).map_err(|e| {
                            anyhow::anyhow!("--state sslrootcert={}: {e}", p.display())
                        })?;
                    }
                }
                None => {
                    for c in rustls_native_certs::load_native_certs().certs {
                        let _ = roots.add(c);
                    }
                }
            }
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
            Ok(MakeRustls(Arc::new(config)))
        }
    }

    impl MakeTlsConnect<Socket> for MakeRustls {
        type Stream = Stream;
        type TlsConnect = Connect;
        type Error = io::Error;

        fn make_tls_connect(&mut self, domain: &str) -> io::Result<Connect> {
            let name = ServerName::try_from(domain.to_string())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            Ok(Connect(self.0.clone(), name))
        }
    }

    pub struct Connect(Arc<rustls::ClientConfig>, ServerName<'static>);

    impl TlsConnect<Socket> for Connect {
        type Stream = Stream;
        type Error = io::Error;
        type Future = Pin<Box<dyn Future<Output = io::Result<Stream>> + Send>>;

        fn connect(self, socket: Socket) -> Self::Future {
            Box::pin(async move {
                let s = tokio_rustls::TlsConnector::from(self.0)
                    .connect(self.1, socket)
                    .await?;
                Ok(Stream(Box::new(s)))
            })
        }
    }

    pub struct Stream(Box<tokio_rustls::client::TlsStream<Socket>>);

    impl TlsStream for Stream {
        fn channel_binding(&self) -> ChannelBinding {
            ChannelBinding::none()
        }
    }

    impl AsyncRead for Stream {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut *self.0).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Stream {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut *self.0).poll_write(cx, buf)
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut *self.0).poll_flush(cx)
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut *self.0).poll_shutdown(cx)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The connection

/// A connection and the statements prepared on it.
struct Conn {
    client: Client,
    stmts: HashMap<&'static str, Statement>,
}

/// What the store's connection and its listener share.
struct Shared {
    /// Why the database cannot be reached, while it cannot.
    unreachable: Mutex<Option<String>>,
    changes: tokio::sync::watch::Sender<u64>,
    /// Set when the store is dropped: the listener stops.
    closed: AtomicBool,
}

impl Shared {
    fn set_unreachable(&self, why: Option<String>) {
        let mut u = self.unreachable.lock().unwrap_or_else(|e| e.into_inner());
        if *u == why {
            return;
        }
        match &why {
            Some(w) => tracing::warn!("shared state unreachable: {w}"),
            None => tracing::info!("shared state reachable again"),
        }
        *u = why;
        drop(u);
        // Views read again: what changed while the database was away, or that it is away.
        self.changes.send_modify(|v| *v += 1);
    }
}

pub(crate) struct Db {
    target: Target,
    conn: Mutex<Option<Conn>>,
    shared: Arc<Shared>,
    listener: OnceLock<()>,
}

impl Db {
    pub fn open(target: &Target, create: bool) -> anyhow::Result<Db> {
        let db = Db {
            target: target.clone(),
            conn: Mutex::new(None),
            shared: Arc::new(Shared {
                unreachable: Mutex::new(None),
                changes: tokio::sync::watch::channel(0).0,
                closed: AtomicBool::new(false),
            }),
            listener: OnceLock::new(),
        };
        off_runtime(|| {
            let mut guard = db.lock();
            let conn = db.connected(&mut guard)?;
            migrate(&mut conn.client, create)
                .map_err(|e| super::prefixed(e, &format!("--state {}: ", target.label())))
        })?;
        Ok(db)
    }

    fn lock(&self) -> MutexGuard<'_, Option<Conn>> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The open connection, reconnecting if it was lost.
    fn connected<'g>(&self, guard: &'g mut Option<Conn>) -> anyhow::Result<&'g mut Conn> {
        if guard.as_ref().is_some_and(|c| c.client.is_closed()) {
            *guard = None;
        }
        if guard.is_none() {
            match self.target.connect() {
                Ok(client) => {
                    *guard = Some(Conn {
                        client,
                        stmts: HashMap::new(),
                    });
                    self.shared.set_unreachable(None);
                }
                Err(e) => {
                    self.shared.set_unreachable(Some(format!("{e:#}")));
                    return Err(e);
                }
            }
        }
        Ok(guard.as_mut().expect("connected above"))
    }

    /// Run `f` between `begin` and COMMIT; roll back on error. A connection lost on the way is
    /// reported and dropped, to be reopened by the next call.
    fn run<R: Send>(
        &self,
        begin: &str,
        lock: bool,
        f: impl FnOnce(&mut dyn Tx) -> anyhow::Result<R> + Send,
    ) -> anyhow::Result<R> {
        off_runtime(|| {
            let mut guard = self.lock();
            let conn = self.connected(&mut guard)?;
            let r = (|| {
                conn.client
                    .batch_execute(begin)
                    .map_err(|e| anyhow!("{}: {}", self.target.label(), pg_error(&e)))?;
                let mut tx = PgTx {
                    conn: &mut *conn,
                    appended: false,
                    changed: false,
                };
                let r = f(&mut tx);
                let changed = tx.changed;
                match r {
                    Ok(v) => {
                        let end = if changed && lock {
                            NOTIFY_COMMIT
                        } else {
                            "COMMIT"
                        };
                        conn.client
                            .batch_execute(end)
                            .map_err(|e| anyhow!("{}: {}", self.target.label(), pg_error(&e)))?;
                        Ok(v)
                    }
                    Err(e) => {
                        let _ = conn.client.batch_execute("ROLLBACK");
                        Err(e)
                    }
                }
            })();
            if conn.client.is_closed() {
                let why = match &r {
                    Err(e) => format!("{}: connection lost: {e:#}", self.target.label()),
                    Ok(_) => format!("{}: connection lost", self.target.label()),
                };
                self.shared.set_unreachable(Some(why));
                *guard = None;
            }
            r
        })
    }

    pub fn write<R: Send>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> anyhow::Result<R> + Send,
    ) -> anyhow::Result<R> {
        let begin = format!(
            "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
        );
        self.run(&begin, true, f)
    }

    pub fn read<R: Send>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> anyhow::Result<R> + Send,
    ) -> anyhow::Result<R> {
        // One snapshot for the whole read: `verify` sees the records and checkpoints of one
        // moment while other hosts keep appending.
        self.run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", false, f)
    }

    pub fn reader(&self) -> anyhow::Result<Box<dyn Reader>> {
        off_runtime(|| {
            let mut client = self.target.connect()?;
            client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
            Ok(Box::new(PgReader(Some(Conn {
                client,
                stmts: HashMap::new(),
            }))) as Box<dyn Reader>)
        })
    }

    pub fn unreachable(&self) -> Option<String> {
        self.shared
            .unreachable
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A counter bumped when another process changes the queue (NOTIFY), and when the database
    /// goes away or comes back. The listener starts on the first call.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.listener.get_or_init(|| {
            let shared = self.shared.clone();
            let target = self.target.clone();
            let spawned = std::thread::Builder::new()
                .name("blastdoor-pg-listen".into())
                .spawn(move || listen(&target, &shared));
            if let Err(e) = spawned {
                tracing::warn!("shared state: no live updates ({e})");
            }
        });
        self.shared.changes.subscribe()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Relaxed);
        // The client owns a runtime, which must not be dropped on a runtime's thread.
        if let Some(c) = self
            .conn
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            off_runtime(move || drop(c));
        }
    }
}

/// Listen for queue changes until the store is closed, reconnecting each second while the
/// database is away.
fn listen(target: &Target, shared: &Shared) {
    while !shared.closed.load(Ordering::Relaxed) {
        let mut client = match target.connect().and_then(|mut c| {
            c.batch_execute(&format!("LISTEN {CHANNEL}"))
                .map(|_| c)
                .map_err(Into::into)
        }) {
            Ok(c) => c,
            Err(e) => {
                shared.set_unreachable(Some(format!("{e:#}")));
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        shared.set_unreachable(None);
        while !shared.closed.load(Ordering::Relaxed) {
            let mut got = false;
            let mut notes = client.notifications();
            let mut it = notes.timeout_iter(Duration::from_millis(500));
            loop {
                match it.next() {
                    Ok(Some(_)) => got = true,
                    Ok(None) => break,
                    Err(e) => {
                        shared.set_unreachable(Some(format!(
                            "{}: connection lost: {}",
                            target.label(),
                            pg_error(&e)
                        )));
                        break;
                    }
                }
            }
            drop(it);
            drop(notes);
            if got {
                shared.changes.send_modify(|v| *v += 1);
            }
            if client.is_closed() {
                break;
            }
        }
    }
}

fn migrate(client: &mut Client, create: bool) -> anyhow::Result<()> {
    let mut tx = client.transaction()?;
    tx.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock({MIGRATE_LOCK}); \
         CREATE TABLE IF NOT EXISTS blastdoor_schema (version integer NOT NULL)"
    ))?;
    let have: Option<i32> = tx
        .query_opt("SELECT version FROM blastdoor_schema", &[])?
        .map(|r| r.get(0));
    let known = MIGRATIONS.len() as i32;
    match have {
        None if !create => {
            return Err(crate::exit::Failure::usage(
                "no blastdoor state in this database yet (nothing has been recorded in it)",
            ));
        }
        Some(v) if v > known => {
            return Err(crate::exit::Failure::usage(format!(
                "the state's schema is version {v}, newer than this blastdoor knows ({known}): \
                 upgrade blastdoor on this host"
            )));
        }
        _ => {}
    }
    let have = have.unwrap_or(0);
    for m in &MIGRATIONS[have as usize..] {
        tx.batch_execute(m)?;
    }
    if have == 0 {
        tx.execute(
            "INSERT INTO blastdoor_schema (version) VALUES ($1)",
            &[&known],
        )?;
    } else if have < known {
        tx.execute("UPDATE blastdoor_schema SET version = $1", &[&known])?;
    }
    tx.commit()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Transactions

struct PgTx<'c> {
    conn: &'c mut Conn,
    appended: bool,
    /// The queue or journal changed: announce it on commit.
    changed: bool,
}

impl Conn {
    fn st(&mut self, sql: &'static str) -> anyhow::Result<Statement> {
        if let Some(s) = self.stmts.get(sql) {
            return Ok(s.clone());
        }
        let s = self
            .client
            .prepare(sql)
            .map_err(|e| anyhow!("{}", pg_error(&e)))?;
        self.stmts.insert(sql, s.clone());
        Ok(s)
    }

    fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> anyhow::Result<Vec<postgres::Row>> {
        let st = self.st(sql)?;
        self.client
            .query(&st, params)
            .map_err(|e| anyhow!("{}", pg_error(&e)))
    }

    fn execute(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> anyhow::Result<u64> {
        let st = self.st(sql)?;
        self.client
            .execute(&st, params)
            .map_err(|e| anyhow!("{}", pg_error(&e)))
    }

    fn scan(&mut self, after: u64, upto: u64, f: &mut ScanFn<'_>) -> anyhow::Result<()> {
        let st = self.st(
            "SELECT seq, at, kind, actor, via, action_id, detail, prev, hash FROM audit_log
             WHERE seq > $1 AND seq <= $2 ORDER BY seq",
        )?;
        let lo = after.min(i64::MAX as u64) as i64;
        let hi = upto.min(i64::MAX as u64) as i64;
        let mut rows = self
            .client
            .query_raw(&st, [lo, hi])
            .map_err(|e| anyhow!("{}", pg_error(&e)))?;
        while let Some(r) = rows.next().map_err(|e| anyhow!("{}", pg_error(&e)))? {
            let record = RawRecord {
                seq: r.get::<_, i64>(0) as u64,
                at: Some(r.get(1)),
                kind: Some(r.get(2)),
                actor: Some(r.get(3)),
                via: Some(r.get(4)),
                action_id: Ok(r.get(5)),
                detail: Some(r.get(6)),
                prev: Some(r.get(7)),
                hash: Some(r.get(8)),
            };
            if !f(record)? {
                break;
            }
        }
        Ok(())
    }
}

struct PgReader(Option<Conn>);

impl Reader for PgReader {
    fn scan(&mut self, after: u64, upto: u64, f: &mut ScanFn<'_>) -> anyhow::Result<()> {
        let conn = self.0.as_mut().expect("open until dropped");
        off_runtime(|| conn.scan(after, upto, f))
    }
}

impl Drop for PgReader {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            off_runtime(move || drop(c));
        }
    }
}

fn row_intent(r: &postgres::Row) -> Intent {
    Intent {
        key: r.get(0),
        action_id: r.get(1),
        executor: r.get(2),
        owner: r.get(3),
        intent_at: r.get(4),
        outcome: r.get(5),
    }
}

impl Tx for PgTx<'_> {
    fn insert_action(&mut self, a: &Action) -> anyhow::Result<()> {
        self.changed = true;
        self.conn.execute(
            "INSERT INTO actions (id, state, hash, proposer, agent, created_at, updated_at, body)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &a.id,
                &a.state.as_str(),
                &a.hash,
                &a.proposed_by.principal,
                &a.proposed_by.agent,
                &a.created_at,
                &a.updated_at,
                &queue::encode(a),
            ],
        )?;
        Ok(())
    }

    fn save_action(&mut self, a: &Action) -> anyhow::Result<()> {
        self.changed = true;
        self.conn.execute(
            "UPDATE actions SET state = $2, hash = $3, updated_at = $4, body = $5 WHERE id = $1",
            &[
                &a.id,
                &a.state.as_str(),
                &a.hash,
                &a.updated_at,
                &queue::encode(a),
            ],
        )?;
        Ok(())
    }

    fn action(&mut self, id: &str) -> anyhow::Result<Option<Action>> {
        let rows = self
            .conn
            .query("SELECT body FROM actions WHERE id = $1", &[&id])?;
        rows.first()
            .map(|r| queue::decode(r.get::<_, &str>(0)))
            .transpose()
    }

    fn actions(&mut self) -> anyhow::Result<Vec<Action>> {
        let rows = self
            .conn
            .query("SELECT body FROM actions ORDER BY created_at, id", &[])?;
        rows.iter()
            .map(|r| queue::decode(r.get::<_, &str>(0)))
            .collect()
    }

    fn count_by_agent_since(&mut self, agent: &str, since: Millis) -> anyhow::Result<u32> {
        let rows = self.conn.query(
            "SELECT COUNT(*) FROM actions WHERE agent = $1 AND created_at >= $2",
            &[&agent, &since],
        )?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0)) as u32)
    }

    fn intent(
        &mut self,
        key: &str,
        action_id: &str,
        executor: &str,
        owner: &str,
        at: Millis,
    ) -> anyhow::Result<()> {
        self.changed = true;
        self.conn.execute(
            "INSERT INTO journal (key, action_id, executor, owner, intent_at) VALUES ($1, $2, $3, $4, $5)",
            &[&key, &action_id, &executor, &owner, &at],
        )?;
        Ok(())
    }

    fn outcome(&mut self, key: &str, outcome: &str, at: Millis) -> anyhow::Result<()> {
        self.changed = true;
        self.conn.execute(
            "UPDATE journal SET outcome = $2, outcome_at = $3 WHERE key = $1",
            &[&key, &outcome, &at],
        )?;
        Ok(())
    }

    fn intent_for(&mut self, key: &str) -> anyhow::Result<Option<Intent>> {
        let rows = self.conn.query(
            "SELECT key, action_id, executor, owner, intent_at, outcome FROM journal WHERE key = $1",
            &[&key],
        )?;
        Ok(rows.first().map(row_intent))
    }

    fn open_intents(&mut self) -> anyhow::Result<Vec<Intent>> {
        let rows = self.conn.query(
            "SELECT key, action_id, executor, owner, intent_at, outcome FROM journal
             WHERE outcome IS NULL ORDER BY intent_at",
            &[],
        )?;
        Ok(rows.iter().map(row_intent).collect())
    }

    fn journal(&mut self) -> anyhow::Result<Vec<Intent>> {
        let rows = self.conn.query(
            "SELECT key, action_id, executor, owner, intent_at, outcome FROM journal ORDER BY intent_at",
            &[],
        )?;
        Ok(rows.iter().map(row_intent).collect())
    }

    fn cursor(&mut self, source: &str) -> anyhow::Result<Option<String>> {
        let rows = self
            .conn
            .query("SELECT value FROM cursors WHERE source = $1", &[&source])?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    fn set_cursor(&mut self, source: &str, value: &str, at: Millis) -> anyhow::Result<()> {
        self.conn.execute(
            "INSERT INTO cursors (source, value, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            &[&source, &value, &at],
        )?;
        Ok(())
    }

    fn audit_tail(&mut self) -> anyhow::Result<(u64, Hash)> {
        let rows = self.conn.query(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            &[],
        )?;
        super::audit::tail_of(rows.first().map(|r| (r.get(0), r.get(1))))
    }

    fn audit_insert(&mut self, records: &[NewRecord<'_>]) -> anyhow::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        // One statement for the batch (arrays unnested server-side): one round trip, not one
        // per record.
        let seq: Vec<i64> = records.iter().map(|r| r.seq as i64).collect();
        let at: Vec<i64> = records.iter().map(|r| r.at).collect();
        let kind: Vec<&str> = records.iter().map(|r| r.kind).collect();
        let actor: Vec<&str> = records.iter().map(|r| r.actor).collect();
        let via: Vec<&str> = records.iter().map(|r| r.via).collect();
        let action_id: Vec<Option<&str>> = records.iter().map(|r| r.action_id).collect();
        let detail: Vec<&str> = records.iter().map(|r| r.detail).collect();
        let prev: Vec<&[u8]> = records.iter().map(|r| &r.prev[..]).collect();
        let hash: Vec<&[u8]> = records.iter().map(|r| &r.hash[..]).collect();
        self.conn.execute(
            "INSERT INTO audit_log (seq, at, kind, actor, via, action_id, detail, prev, hash)
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                                  $6::text[], $7::text[], $8::bytea[], $9::bytea[])",
            &[
                &seq, &at, &kind, &actor, &via, &action_id, &detail, &prev, &hash,
            ],
        )?;
        self.appended = true;
        Ok(())
    }

    fn audit_has(&mut self, action_id: &str, kind: &str) -> anyhow::Result<bool> {
        let rows = self.conn.query(
            "SELECT 1 FROM audit_log WHERE action_id = $1 AND kind = $2 LIMIT 1",
            &[&action_id, &kind],
        )?;
        Ok(!rows.is_empty())
    }

    fn audit_scan(&mut self, after: u64, upto: u64, f: &mut ScanFn<'_>) -> anyhow::Result<()> {
        self.conn.scan(after, upto, f)
    }

    fn audit_last_seq(&mut self) -> anyhow::Result<u64> {
        let rows = self
            .conn
            .query("SELECT COALESCE(MAX(seq), 0) FROM audit_log", &[])?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0)).max(0) as u64)
    }

    fn checkpoint_last(&mut self) -> anyhow::Result<Option<LastCheckpoint>> {
        let rows = self.conn.query(
            "SELECT n, tree_size, at, frontier FROM audit_checkpoint ORDER BY n DESC LIMIT 1",
            &[],
        )?;
        Ok(rows.first().map(|r| LastCheckpoint {
            n: r.get::<_, i64>(0) as u64,
            tree_size: r.get::<_, i64>(1) as u64,
            at: r.get(2),
            frontier: r.get(3),
        }))
    }

    fn checkpoint_insert(&mut self, cp: &Checkpoint, frontier: &[u8]) -> anyhow::Result<()> {
        self.conn.execute(
            "INSERT INTO audit_checkpoint (n, tree_size, root, at, signature, frontier)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &(cp.n as i64),
                &(cp.tree_size as i64),
                &hex::encode(cp.root),
                &cp.at,
                &hex::encode(cp.signature),
                &frontier,
            ],
        )?;
        Ok(())
    }

    fn checkpoints(&mut self) -> anyhow::Result<Result<Vec<Checkpoint>, String>> {
        let rows = self.conn.query(
            "SELECT n, tree_size, root, at, signature FROM audit_checkpoint ORDER BY n",
            &[],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            match super::audit::checkpoint_of(
                out.len() + 1,
                Some(r.get(0)),
                Some(r.get(1)),
                super::audit::hex_column(Some(r.get(2))),
                Some(r.get(3)),
                super::audit::hex_column(Some(r.get(4))),
            ) {
                Ok(cp) => out.push(cp),
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(out))
    }

    fn meta(&mut self, key: &str) -> anyhow::Result<Option<String>> {
        let rows = self
            .conn
            .query("SELECT value FROM audit_meta WHERE key = $1", &[&key])?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    fn meta_insert(&mut self, key: &str, value: &str) -> anyhow::Result<()> {
        self.conn.execute(
            "INSERT INTO audit_meta (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&key, &value],
        )?;
        Ok(())
    }

    fn appended(&self) -> bool {
        self.appended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_matches_as_libpq_does() {
        let text = "# comment\n\
                    other:5432:*:*:nope\n\
                    db.internal:5432:blast\\:door:*:pa\\:ss\\\\word\n\
                    *:*:*:*:fallback\n";
        let want = ["db.internal", "5432", "blast:door", "alice"];
        assert_eq!(pgpass_lookup(text, &want).as_deref(), Some("pa:ss\\word"));
        let other = ["elsewhere", "5433", "x", "bob"];
        assert_eq!(pgpass_lookup(text, &other).as_deref(), Some("fallback"));
        assert_eq!(pgpass_lookup("a:1:b:c:d\n", &other), None);
    }

    #[test]
    fn a_state_url_is_named_without_its_password_and_sslmode_is_checked() {
        let t =
            Target::parse("postgres://alice:s3cret@db.internal:6543/team?sslmode=require").unwrap();
        assert_eq!(t.label(), "postgres://alice@db.internal:6543/team");
        assert!(!format!("{t:?}").contains("s3cret"));
        assert_eq!(t.tls, Tls::Require);
        assert_eq!(t.file_stem(), "db.internal_6543_team");
        let e = Target::parse("postgres://a@h/db?sslmode=sometimes").unwrap_err();
        assert!(e.contains("sslmode=sometimes"), "{e}");
        let e = Target::parse("postgres://a@h:5432").unwrap_err();
        assert!(e.contains("no database"), "{e}");
    }
}
