//! Live sources that are not HTTP streams: `tail:PATH` (a growing file, followed across
//! rotation and truncation) and `webhook:ADDR:PORT` (falcosidekick's webhook output and
//! GitHub-style webhook deliveries). Both hand batches to the core with `Engine::offer`, so a
//! core that falls behind drops (and counts) rather than stalls the sender.

use std::io::{Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;

use crate::engine::{Engine, Health};
use crate::ingest;

/// Largest webhook body accepted at least (falcosidekick alerts and GitHub deliveries are far
/// smaller); `max_record` when that is larger, since a Kubernetes API server's audit webhook
/// posts batches of up to 400 events as one `EventList`.
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

/// `[webhook]` of `config.toml`: how callers of a `webhook:` source authenticate. Each names
/// the environment variable that holds the secret, never the secret itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookAuthConfig {
    /// The bearer token falcosidekick (`webhook.customheaders`) or a Kubernetes API server's
    /// audit webhook kubeconfig (`token`) sends.
    #[serde(default)]
    pub token_env: Option<String>,
    /// The secret of a GitHub webhook: deliveries carry `X-Hub-Signature-256`, an HMAC-SHA256
    /// of the body under it.
    #[serde(default)]
    pub github_secret_env: Option<String>,
}

/// The secrets themselves, read from the variables at start-up.
#[derive(Clone, Default)]
struct WebhookAuth {
    token: Option<String>,
    github_secret: Option<Vec<u8>>,
}

impl WebhookAuth {
    fn from_config(c: &WebhookAuthConfig) -> anyhow::Result<WebhookAuth> {
        let read = |key: &str, var: &Option<String>| -> anyhow::Result<Option<String>> {
            let Some(var) = var else { return Ok(None) };
            match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_string())),
                _ => Err(crate::exit::Failure::usage(format!(
                    "config.toml [webhook] {key} = \"{var}\": the variable {var} is not set"
                ))),
            }
        };
        Ok(WebhookAuth {
            token: read("token_env", &c.token_env)?,
            github_secret: read("github_secret_env", &c.github_secret_env)?.map(String::into_bytes),
        })
    }

    fn required(&self) -> bool {
        self.token.is_some() || self.github_secret.is_some()
    }

    /// Whether a delivery may be ingested: a GitHub delivery by its signature, anything else by
    /// the bearer token; `Err` says why not (never echoing a secret).
    fn admit(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
        if !self.required() {
            return Ok(());
        }
        if let Some(sig) = headers.get("x-hub-signature-256") {
            let Some(secret) = &self.github_secret else {
                return Err(
                    "a GitHub-signed delivery, but no [webhook] github_secret_env is configured"
                        .into(),
                );
            };
            let sig = sig.to_str().unwrap_or("");
            return if github_signature_valid(secret, body, sig) {
                Ok(())
            } else {
                Err("X-Hub-Signature-256 does not match the body under the webhook secret".into())
            };
        }
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match (&self.token, given) {
            (Some(want), Some(got))
                if crate::auth::constant_time_eq(want.as_bytes(), got.as_bytes()) =>
            {
                Ok(())
            }
            (Some(_), Some(_)) => Err("the bearer token is wrong".into()),
            (Some(_), None) => Err("no Authorization: Bearer token".into()),
            (None, _) => {
                Err("no X-Hub-Signature-256 (only signed GitHub deliveries are accepted)".into())
            }
        }
    }
}

/// GitHub's `X-Hub-Signature-256: sha256=HEX`: HMAC-SHA256 of the raw body under the secret,
/// compared in constant time.
pub fn github_signature_valid(secret: &[u8], body: &[u8], header: &str) -> bool {
    use hmac::Mac;
    let Some(hex_sig) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(want) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&want).is_ok()
}

#[derive(Clone)]
struct Hook {
    engine: Engine,
    id: usize,
    auth: WebhookAuth,
}

/// Listen on `addr` for webhook POSTs. Binding errors are reported at start-up, and so is a
/// listener beyond loopback that would take deliveries from anyone (no `[webhook]` secret).
pub(crate) async fn spawn_webhook(
    engine: Engine,
    id: usize,
    addr: SocketAddr,
    config: &WebhookAuthConfig,
) -> anyhow::Result<SocketAddr> {
    let auth = WebhookAuth::from_config(config)?;
    if !auth.required() && !addr.ip().is_loopback() {
        return Err(crate::exit::Failure::usage(format!(
            "--source webhook:{addr}: a webhook that does not authenticate its callers listens \
             on loopback only; set [webhook] token_env (a bearer token) or github_secret_env (a \
             GitHub webhook secret) in config.toml to listen on {}",
            addr.ip()
        )));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("--source webhook:{addr}: cannot listen: {e}"))?;
    let local = listener.local_addr()?;
    let app = axum::Router::new()
        .fallback(axum::routing::post(receive).get(health))
        // The handler reads the body under its own limit, so that a body too large is counted
        // and named rather than turned away unseen.
        .layer(DefaultBodyLimit::disable())
        .with_state(Hook {
            engine: engine.clone(),
            id,
            auth,
        });
    engine.set_health(id, Health::Up, Some(format!("listening on {local}")));
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, service).await {
            engine.set_health(id, Health::Error, Some(e.to_string()));
        }
    });
    Ok(local)
}

async fn health() -> &'static str {
    "blastdoor webhook: POST falcosidekick alerts or GitHub deliveries here\n"
}

async fn receive(
    State(h): State<Hook>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> (StatusCode, String) {
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let limit = h.engine.limits().record().max(WEBHOOK_BODY_LIMIT);
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            h.engine.reject(
                h.id,
                format!(
                    "webhook: refused a delivery from {peer}: the body is over {} KiB (max_record in [limits])",
                    limit >> 10
                ),
            );
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body over {limit} bytes\n"),
            );
        }
    };
    if let Err(why) = h.auth.admit(&headers, &body) {
        h.engine.reject(
            h.id,
            format!("webhook: refused a delivery from {peer}: {why}"),
        );
        return (StatusCode::UNAUTHORIZED, format!("{why}\n"));
    }
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
