//! The reference agent server: the read side of the agent protocol (INTERFACE.md) over axum.
//!
//! - `GET /v1/health` names the agent, its version and the `agent.*` action kinds it executes.
//! - `GET /v1/events?since=CURSOR` streams events: NDJSON lines in blastdoor's native format
//!   (each with its `cursor`), or Server-Sent Events when the client prefers
//!   `text/event-stream` (`id: CURSOR` / `data: JSON`, resumed by `Last-Event-ID`). The response
//!   stays open and follows new events live.
//! - `GET /v1/inventory` answers the native inventory document.
//!
//! Events live in a bounded ring with cursors that only grow (1, 2, 3, …), so a client resumes
//! exactly where it stopped. The ring forgets its oldest events: a client that resumes from a
//! cursor older than the oldest one kept (or that reads slower than the agent writes) continues
//! from the oldest kept event, and the jump in cursors shows the gap. Each line is encoded once,
//! when it is pushed, and shared by every client.
//!
//! A stream is a pull-based body (`futures_util::stream::unfold`): no task is spawned per client,
//! so a client that disconnects leaves nothing behind once hyper drops its body. Idle streams send
//! a keepalive (an SSE comment, or an empty NDJSON line) so that dead connections are noticed.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::core::{Event, IdentityRecord};
use crate::ingest::native::{Inventory, encode_line};

/// Events kept for resuming clients by default.
pub const DEFAULT_CAPACITY: usize = 50_000;
/// How long an idle stream waits before sending a keepalive.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(15);
/// Most events sent in one body chunk: large enough to catch up fast, small enough to interleave.
const CHUNK_EVENTS: usize = 256;

/// `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub name: String,
    pub version: String,
    /// `agent.*` action kinds this agent executes.
    pub capabilities: Vec<String>,
}

/// The ring of encoded events.
#[derive(Debug, Default)]
struct Ring {
    /// `(cursor, encoded JSON)`, cursors contiguous and increasing.
    events: VecDeque<(u64, Bytes)>,
    /// The cursor the next pushed event gets.
    next: u64,
}

impl Ring {
    /// Up to `max` events after `since`, from the oldest kept when `since` fell out of the ring,
    /// or was never handed out (a cursor from before an agent restart).
    fn after(&self, since: u64, max: usize) -> Vec<(u64, Bytes)> {
        let Some(&(oldest, _)) = self.events.front() else {
            return Vec::new();
        };
        let last = self.next.saturating_sub(1);
        let start = if since < oldest || since > last {
            0
        } else {
            (since + 1 - oldest) as usize
        };
        self.events.iter().skip(start).take(max).cloned().collect()
    }
}

/// What an agent serves. Share it as `Arc<AgentState>` between the server and whatever feeds it.
#[derive(Debug)]
pub struct AgentState {
    /// Shown by `/v1/health`.
    pub name: String,
    /// `agent.*` action kinds this agent executes (none yet: actions come with `POST /v1/actions`).
    pub capabilities: Vec<String>,
    /// How long an idle stream waits before a keepalive.
    pub keepalive: Duration,
    capacity: usize,
    ring: Mutex<Ring>,
    /// The latest cursor, so that waiting streams wake when it moves.
    latest: watch::Sender<u64>,
    /// The inventory document, serialised once when it is set.
    inventory: RwLock<Bytes>,
    streams: AtomicUsize,
}

impl AgentState {
    /// An agent with an empty inventory that keeps the last `DEFAULT_CAPACITY` events.
    pub fn new(name: impl Into<String>) -> AgentState {
        AgentState::with_capacity(name, DEFAULT_CAPACITY)
    }

    pub fn with_capacity(name: impl Into<String>, capacity: usize) -> AgentState {
        let (latest, _) = watch::channel(0);
        AgentState {
            name: name.into(),
            capabilities: Vec::new(),
            keepalive: DEFAULT_KEEPALIVE,
            capacity: capacity.max(1),
            ring: Mutex::new(Ring {
                events: VecDeque::new(),
                next: 1,
            }),
            latest,
            inventory: RwLock::new(Bytes::from_static(b"{\"identities\":[]}")),
            streams: AtomicUsize::new(0),
        }
    }

    /// Replace the inventory `GET /v1/inventory` answers.
    pub fn set_inventory(&self, identities: Vec<IdentityRecord>) {
        let doc = Inventory { identities };
        let bytes = serde_json::to_vec(&doc).unwrap_or_else(|_| b"{\"identities\":[]}".to_vec());
        *self.inventory.write().unwrap_or_else(|e| e.into_inner()) = Bytes::from(bytes);
    }

    /// Append events, giving each the next cursor, and wake the streams.
    pub fn push(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let latest = {
            let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
            for event in &events {
                let cursor = ring.next;
                ring.next += 1;
                let line = encode_line(Some(cursor), event);
                ring.events.push_back((cursor, Bytes::from(line)));
                if ring.events.len() > self.capacity {
                    ring.events.pop_front();
                }
            }
            ring.next - 1
        };
        self.latest.send_replace(latest);
    }

    /// The cursor of the newest event (0 before the first).
    pub fn latest_cursor(&self) -> u64 {
        *self.latest.borrow()
    }

    /// The cursor of the oldest event still kept, if any.
    pub fn oldest_cursor(&self) -> Option<u64> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.events.front().map(|(c, _)| *c)
    }

    /// Events currently kept.
    pub fn len(&self) -> usize {
        self.ring.lock().map(|r| r.events.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Event streams currently open (a disconnected client's stream ends and is not counted).
    pub fn active_streams(&self) -> usize {
        self.streams.load(Ordering::SeqCst)
    }

    fn after(&self, since: u64, max: usize) -> Vec<(u64, Bytes)> {
        self.ring
            .lock()
            .map(|r| r.after(since, max))
            .unwrap_or_default()
    }

    fn health(&self) -> Health {
        Health {
            name: self.name.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            capabilities: self.capabilities.clone(),
        }
    }
}

/// The agent protocol's routes over `state`.
pub fn router(state: Arc<AgentState>) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/events", get(events))
        .route("/v1/inventory", get(inventory))
        .fallback(not_found)
        .with_state(state)
}

/// Serve the agent protocol on `listener` until the listener fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AgentState>,
) -> anyhow::Result<()> {
    let addr = listener.local_addr().ok();
    axum::serve(listener, router(state))
        .await
        .map_err(|e| anyhow::anyhow!("agent server on {addr:?}: {e}"))
}

async fn health(State(state): State<Arc<AgentState>>) -> axum::Json<Health> {
    axum::Json(state.health())
}

async fn inventory(State(state): State<Arc<AgentState>>) -> Response {
    let body = state
        .inventory
        .read()
        .map(|b| b.clone())
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn not_found() -> Response {
    let body = axum::Json(serde_json::json!({
        "error": "no such endpoint: the agent protocol has GET /v1/health, /v1/events?since=CURSOR and /v1/inventory"
    }));
    (StatusCode::NOT_FOUND, body).into_response()
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    /// Send only events with a cursor greater than this.
    since: Option<u64>,
}

/// The wire format a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    Ndjson,
    Sse,
}

/// Pick the format from `Accept`: SSE when `text/event-stream` is accepted with a higher
/// quality than NDJSON (so `text/event-stream` alone gives SSE, and blastdoor's own
/// `application/x-ndjson, text/event-stream;q=0.5` gives NDJSON). NDJSON otherwise.
fn negotiate(accept: Option<&str>) -> Wire {
    let Some(accept) = accept else {
        return Wire::Ndjson;
    };
    let (mut sse, mut ndjson) = (0.0f32, 0.0f32);
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|v| v.trim().parse::<f32>().ok())
            })
            .next()
            .unwrap_or(1.0);
        match media.as_str() {
            "text/event-stream" => sse = sse.max(q),
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
                ndjson = ndjson.max(q)
            }
            _ => {}
        }
    }
    if sse > 0.0 && sse > ndjson {
        Wire::Sse
    } else {
        Wire::Ndjson
    }
}

fn bad_request(msg: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(serde_json::json!({ "error": msg })),
    )
        .into_response()
}

async fn events(
    State(state): State<Arc<AgentState>>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let since = match query {
        Ok(Query(q)) => q.since,
        Err(e) => return bad_request(format!("since must be a cursor (a whole number): {e}")),
    };
    let wire = negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    // An SSE client (a browser's EventSource) reconnects to the same URL with `Last-Event-ID`
    // set to the last id it saw, so the header is more recent than `since` and wins.
    let mut since = since.unwrap_or(0);
    if let Some(v) = headers.get("last-event-id").filter(|_| wire == Wire::Sse) {
        match v
            .to_str()
            .ok()
            .map(str::trim)
            .and_then(|s| s.parse::<u64>().ok())
        {
            Some(id) => since = id,
            None => return bad_request("Last-Event-ID must be a cursor (a whole number)".into()),
        }
    }
    let content_type = match wire {
        Wire::Ndjson => "application/x-ndjson",
        Wire::Sse => "text/event-stream",
    };
    let body = Body::from_stream(event_stream(state, since, wire));
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Reverse proxies (nginx) buffer responses unless told not to; a live stream must not wait.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

/// Counts a stream as open while it lives; dropping the body (client gone) uncounts it.
struct StreamGuard(Arc<AgentState>);

impl StreamGuard {
    fn new(state: Arc<AgentState>) -> StreamGuard {
        state.streams.fetch_add(1, Ordering::SeqCst);
        StreamGuard(state)
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Cursor {
    guard: StreamGuard,
    since: u64,
    wire: Wire,
    rx: watch::Receiver<u64>,
    started: bool,
}

/// The body of one events response: buffered events after `since`, then new ones as they come.
fn event_stream(
    state: Arc<AgentState>,
    since: u64,
    wire: Wire,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    let rx = state.latest.subscribe();
    let cur = Cursor {
        guard: StreamGuard::new(state),
        since,
        wire,
        rx,
        started: false,
    };
    futures_util::stream::unfold(cur, |mut cur| async move {
        if !cur.started && cur.wire == Wire::Sse {
            // Tell EventSource clients how soon to reconnect; it also flushes the headers.
            cur.started = true;
            return Some((Ok(Bytes::from_static(b"retry: 2000\n\n")), cur));
        }
        cur.started = true;
        loop {
            // Mark the current value seen *before* reading the ring: a push after this point
            // makes `changed()` return at once, so no event is missed between the two.
            cur.rx.borrow_and_update();
            let batch = cur.guard.0.after(cur.since, CHUNK_EVENTS);
            if let Some(&(last, _)) = batch.last() {
                cur.since = last;
                return Some((Ok(encode_chunk(&batch, cur.wire)), cur));
            }
            let keepalive = cur.guard.0.keepalive;
            tokio::select! {
                changed = cur.rx.changed() => {
                    if changed.is_err() {
                        return None; // the agent is gone
                    }
                }
                _ = tokio::time::sleep(keepalive) => {
                    let ping: &'static [u8] = match cur.wire {
                        Wire::Sse => b": keepalive\n\n",
                        Wire::Ndjson => b"\n",
                    };
                    return Some((Ok(Bytes::from_static(ping)), cur));
                }
            }
        }
    })
}

fn encode_chunk(batch: &[(u64, Bytes)], wire: Wire) -> Bytes {
    let size: usize = batch.iter().map(|(_, b)| b.len() + 32).sum();
    let mut out = Vec::with_capacity(size);
    for (cursor, line) in batch {
        match wire {
            Wire::Ndjson => {
                out.extend_from_slice(line);
                out.push(b'\n');
            }
            Wire::Sse => {
                out.extend_from_slice(format!("id: {cursor}\ndata: ").as_bytes());
                out.extend_from_slice(line);
                out.extend_from_slice(b"\n\n");
            }
        }
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{Api, IdentityKind, Provider, Status};
    use crate::core::{IdentityRecord, SafeText};

    fn ev(i: i64) -> Event {
        Event {
            time: i,
            class: Default::default(),
            actor: IdentityRecord {
                provider: Provider::Aws,
                principal: SafeText::new("arn:aws:iam::1:user/x"),
                kind: IdentityKind::IamUser,
                display: None,
                credentials: vec![],
                permissions: vec![],
                tags: vec![],
            },
            credential: None,
            api: Api {
                service: SafeText::new("s3"),
                operation: SafeText::new("GetObject"),
            },
            resources: vec![],
            src_ip: None,
            status: Status::Success,
            signals: vec![],
            raw: serde_json::Value::Null,
        }
    }

    fn cursors(v: &[(u64, Bytes)]) -> Vec<u64> {
        v.iter().map(|(c, _)| *c).collect()
    }

    #[test]
    fn cursors_start_at_one_and_grow() {
        let s = AgentState::with_capacity("t", 10);
        s.push((0..3).map(ev).collect());
        assert_eq!(cursors(&s.after(0, 100)), vec![1, 2, 3]);
        assert_eq!(cursors(&s.after(2, 100)), vec![3]);
        assert!(s.after(3, 100).is_empty());
        assert_eq!(s.latest_cursor(), 3);
    }

    #[test]
    fn a_cursor_older_than_the_ring_resumes_from_the_oldest_kept() {
        let s = AgentState::with_capacity("t", 4);
        s.push((0..10).map(ev).collect());
        assert_eq!(s.oldest_cursor(), Some(7));
        assert_eq!(cursors(&s.after(2, 100)), vec![7, 8, 9, 10]);
        assert_eq!(cursors(&s.after(8, 100)), vec![9, 10]);
    }

    #[test]
    fn a_cursor_from_the_future_means_a_restarted_agent_and_replays_the_ring() {
        let s = AgentState::with_capacity("t", 4);
        s.push((0..2).map(ev).collect());
        assert_eq!(cursors(&s.after(5_000, 100)), vec![1, 2]);
    }

    #[test]
    fn lines_are_native_ndjson_with_their_cursor() {
        let s = AgentState::with_capacity("t", 4);
        s.push(vec![ev(5)]);
        let (_, line) = &s.after(0, 1)[0];
        let l = crate::ingest::native::decode_line(std::str::from_utf8(line).unwrap()).unwrap();
        assert_eq!(l.cursor, Some(1));
        assert_eq!(l.event.time, 5);
    }

    #[test]
    fn accept_negotiation_prefers_what_the_client_prefers() {
        assert_eq!(negotiate(None), Wire::Ndjson);
        assert_eq!(negotiate(Some("*/*")), Wire::Ndjson);
        assert_eq!(negotiate(Some("text/event-stream")), Wire::Sse);
        assert_eq!(
            negotiate(Some("application/x-ndjson, text/event-stream;q=0.5")),
            Wire::Ndjson
        );
        assert_eq!(
            negotiate(Some("application/x-ndjson;q=0.2, text/event-stream")),
            Wire::Sse
        );
        assert_eq!(negotiate(Some("text/event-stream;q=0")), Wire::Ndjson);
    }
}
