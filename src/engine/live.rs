//! Live sources that are not HTTP streams: `tail:PATH` (a growing file, followed across
//! rotation and truncation) and `webhook:ADDR:PORT` (falcosidekick's webhook output and
//! GitHub-style webhook deliveries). Both hand batches to the core with `Engine::offer`, so a
//! core that falls behind drops (and counts) rather than stalls the sender.

use std::io::{Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};

use crate::engine::{Engine, Health};
use crate::ingest;

/// Largest webhook body accepted (falcosidekick alerts and GitHub deliveries are far smaller).
pub const WEBHOOK_BODY_LIMIT: usize = 1 << 20;
const TAIL_POLL: Duration = Duration::from_millis(200);

#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    m.ino() ^ (m.dev() << 48)
}
#[cfg(not(unix))]
fn file_id(_m: &std::fs::Metadata) -> u64 {
    0
}

/// Decode the lines `piece` completes (a partial last line is kept by `lines` for later).
fn take_lines(
    lines: &mut ingest::lines::LineSplitter,
    piece: &[u8],
    out: &mut ingest::Decoded,
    rejects: &mut Vec<String>,
    name: &str,
) {
    lines.push(piece, |n, line| {
        let text = match line {
            Ok(t) => t.trim(),
            Err(skip) => return rejects.push(format!("{name}: line {n}: {skip}")),
        };
        if text.is_empty() {
            return;
        }
        match ingest::decode_record(text) {
            Ok(d) => out.extend(d),
            Err(e) => rejects.push(format!("{name}: line {n}: {e}")),
        }
    });
}

/// Most bytes read from a followed file at once: a file that grew by gigabytes is read in
/// pieces, not into memory whole.
const TAIL_PIECE: u64 = 1 << 20;

/// Follow a file: read what is there, then what is appended; when the path is replaced
/// (rotation: another inode) finish the old file and start on the new one from its beginning;
/// when it shrinks (truncation) start again from the beginning.
pub(crate) async fn tail_task(engine: Engine, id: usize, path: PathBuf) {
    let name = format!("tail:{}", path.display());
    let mut file: Option<(std::fs::File, u64)> = None;
    let mut pos = 0u64;
    let mut lines = ingest::lines::LineSplitter::new(engine.limits().record());
    let mut waiting_said = false;
    loop {
        if file.is_none() {
            // Opening a FIFO would block until someone writes to it; a device never ends.
            let opened = match super::sources::special_file(&path) {
                Some(kind) => Err(std::io::Error::other(format!("{kind}, not a regular file"))),
                None => {
                    std::fs::File::open(&path).and_then(|f| f.metadata().map(|m| (f, file_id(&m))))
                }
            };
            match opened {
                Ok(f) => {
                    file = Some(f);
                    pos = 0;
                    lines.reset();
                    engine.set_health(id, Health::Up, None);
                    waiting_said = false;
                }
                Err(e) => {
                    if !waiting_said {
                        engine.set_health(
                            id,
                            Health::Retrying,
                            Some(format!("{}: {e}; waiting for it", path.display())),
                        );
                        waiting_said = true;
                    }
                    tokio::time::sleep(TAIL_POLL).await;
                    continue;
                }
            }
        }
        let Some((f, fid)) = file.as_mut() else {
            continue;
        };
        // Read whatever is new.
        let mut chunk = Vec::new();
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if len < pos {
            // Truncated in place: start again.
            pos = 0;
            lines.reset();
            let _ = f.seek(SeekFrom::Start(0));
        }
        if len > pos {
            let _ = f.seek(SeekFrom::Start(pos));
            let _ = f
                .by_ref()
                .take((len - pos).min(TAIL_PIECE))
                .read_to_end(&mut chunk);
            pos += chunk.len() as u64;
        }
        if !chunk.is_empty() {
            let mut out = ingest::Decoded::default();
            let mut rejects = Vec::new();
            take_lines(&mut lines, &chunk, &mut out, &mut rejects, &name);
            for r in rejects {
                engine.reject(id, r);
            }
            if !out.inventory.is_empty() {
                engine
                    .deliver_inventory(std::mem::take(&mut out.inventory))
                    .await;
            }
            if !out.events.is_empty() || !out.changes.is_empty() {
                engine.offer_with(id, out.events, out.changes);
            }
            engine.set_progress(id, pos, len);
            continue;
        }
        // Nothing new: has the path been rotated to another file?
        let rotated = std::fs::metadata(&path)
            .map(|m| file_id(&m) != *fid)
            .unwrap_or(false);
        if rotated {
            file = None;
            continue;
        }
        tokio::time::sleep(TAIL_POLL).await;
    }
}

#[derive(Clone)]
struct Hook {
    engine: Engine,
    id: usize,
}

/// Listen on `addr` for webhook POSTs. Binding errors are reported at start-up.
pub(crate) async fn spawn_webhook(
    engine: Engine,
    id: usize,
    addr: SocketAddr,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("--source webhook:{addr}: cannot listen: {e}"))?;
    let local = listener.local_addr()?;
    let app = axum::Router::new()
        .fallback(axum::routing::post(receive).get(health))
        .layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT))
        .with_state(Hook {
            engine: engine.clone(),
            id,
        });
    engine.set_health(id, Health::Up, Some(format!("listening on {local}")));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            engine.set_health(id, Health::Error, Some(e.to_string()));
        }
    });
    Ok(local)
}

async fn health() -> &'static str {
    "blastdoor webhook: POST falcosidekick alerts or GitHub deliveries here\n"
}

async fn receive(State(h): State<Hook>, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    let gh_event = headers
        .get("x-github-event")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (decoded, problem) = decode_webhook_body(&body, gh_event.as_deref());
    if let Some(p) = &problem {
        h.engine.reject(h.id, format!("webhook: {p}"));
    }
    if decoded.is_empty() {
        if gh_event.as_deref() == Some("ping") {
            return (StatusCode::OK, "pong\n".into());
        }
        return (
            StatusCode::BAD_REQUEST,
            format!(
                "{}\n",
                crate::core::SafeText::new(problem.as_deref().unwrap_or("nothing to ingest"))
            ),
        );
    }
    let n = decoded.events.len();
    if !decoded.inventory.is_empty() {
        h.engine.deliver_inventory(decoded.inventory).await;
    }
    let queued = h.engine.offer_with(h.id, decoded.events, decoded.changes);
    if queued {
        (StatusCode::ACCEPTED, format!("{{\"accepted\":{n}}}\n"))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "ingest queue full, retry later\n".into(),
        )
    }
}

/// A webhook body: one JSON value (a Falco alert, a GitHub delivery, any detected record),
/// an array of them, or NDJSON.
pub fn decode_webhook_body(
    body: &[u8],
    github_event: Option<&str>,
) -> (ingest::Decoded, Option<String>) {
    let mut out = ingest::Decoded::default();
    let Ok(text) = std::str::from_utf8(body) else {
        // Not one JSON document; NDJSON with a bad line costs that line.
        return decode_ndjson(body, out, "body is not UTF-8".into());
    };
    if let Some(ev) = github_event {
        return match ingest::parse_json(text) {
            Ok(v) => match ingest::github::decode_webhook(v, Some(ev), &mut out) {
                Ok(()) => (out, None),
                Err(e) => (out, Some(format!("GitHub {ev} delivery: {e}"))),
            },
            Err(e) => (out, Some(format!("GitHub {ev} delivery: {e}"))),
        };
    }
    match ingest::decode_document_lenient(text) {
        Ok((d, errors)) => {
            let problem = errors.first().map(|e| e.to_string());
            (d, problem)
        }
        Err(first) => decode_ndjson(body, out, first.to_string()),
    }
}

/// A body read as NDJSON, line by line: what decoded, and the first problem (or `otherwise`
/// when nothing did and no line said why).
fn decode_ndjson(
    body: &[u8],
    mut out: ingest::Decoded,
    otherwise: String,
) -> (ingest::Decoded, Option<String>) {
    let mut problem = None;
    ingest::lines::split(body, body.len(), |n, line| match line.map(str::trim) {
        Ok("") => {}
        Ok(text) => match ingest::decode_record(text) {
            Ok(d) => out.extend(d),
            Err(e) => {
                problem.get_or_insert(format!("line {n}: {e}"));
            }
        },
        Err(skip) => {
            problem.get_or_insert(format!("line {n}: {skip}"));
        }
    });
    if out.is_empty() {
        (out, Some(problem.unwrap_or(otherwise)))
    } else {
        (out, problem)
    }
}
