//! The reference agent server: the read side of the agent protocol (INTERFACE.md) over axum.
//!
//! - `GET /v1/health` names the agent, its version and the `agent.*` action kinds it executes.
//! - `GET /v1/events?since=CURSOR` streams events: NDJSON lines in blastdoor's native format
//!   (each with its `cursor`), or Server-Sent Events when the client prefers
//!   `text/event-stream` (`id: CURSOR` / `data: JSON`, resumed by `Last-Event-ID`). The response
//!   stays open and follows new events live.
//! - `GET /v1/inventory` answers the native inventory document.
//! - `POST /v1/actions` with `Idempotency-Key` executes an action once per key,
//!   `GET /v1/actions/KEY` tells its status, `POST /v1/actions/KEY/rollback` undoes it, through
//!   the executors the agent was given (`actions.rs`).
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
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::core::{Event, IdentityRecord};
use crate::respond::{ExecStatus, Executor};

use super::actions::{ActionBody, Actions, Isolation, Posted, ReferenceExecutor};
pub use super::actions::{ActionCapability, reference_actions};
use super::guard::{Access, Verifier};
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
    /// What each capability does and how it is undone (an extension; the dry run shows it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionCapability>,
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
    /// How long an idle stream waits before a keepalive.
    pub keepalive: Duration,
    capacity: usize,
    ring: Mutex<Ring>,
    /// The latest cursor, so that waiting streams wake when it moves.
    latest: watch::Sender<u64>,
    /// The inventory document, serialised once when it is set.
    inventory: RwLock<Bytes>,
    streams: AtomicUsize,
    /// How long executing one action takes (a slow agent, for tests).
    pub action_delay: Duration,
    acts: Actions,
    /// Identities isolated at this agent: their events are no longer relayed.
    isolation: Arc<Isolation>,
    /// How callers authenticate (`guard.rs`); nobody needs to by default (loopback only).
    /// Set once, before serving.
    access: std::sync::OnceLock<Access>,
    /// The policy approvals are checked against, if the agent was given one.
    verifier: std::sync::OnceLock<Verifier>,
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
            keepalive: DEFAULT_KEEPALIVE,
            capacity: capacity.max(1),
            ring: Mutex::new(Ring {
                events: VecDeque::new(),
                next: 1,
            }),
            latest,
            inventory: RwLock::new(Bytes::from_static(b"{\"identities\":[]}")),
            streams: AtomicUsize::new(0),
            action_delay: Duration::ZERO,
            acts: Actions::default(),
            isolation: Arc::default(),
            access: std::sync::OnceLock::new(),
            verifier: std::sync::OnceLock::new(),
        }
    }

    /// Offer the reference actions (`reference_actions`): isolate a workload, revoke a token.
    pub fn with_reference_actions(self) -> AgentState {
        let exec = Arc::new(ReferenceExecutor::new(self.isolation.clone()));
        self.with_executor(exec, reference_actions())
    }

    /// Carry out the kinds `caps` describes through `exec` (the first executor offering a kind
    /// takes it).
    pub fn with_executor(
        mut self,
        exec: Arc<dyn Executor>,
        caps: Vec<ActionCapability>,
    ) -> AgentState {
        self.acts.offer(exec, caps);
        self
    }

    /// Before serving: callers must authenticate as `access` says, and with a `verifier` the
    /// approvals of every action are checked against its policy and allowed signers. Set once.
    pub fn guard(&self, access: Access, verifier: Option<Verifier>) {
        let _ = self.access.set(access);
        if let Some(v) = verifier {
            let _ = self.verifier.set(v);
        }
    }

    pub(crate) fn access(&self) -> Option<&Access> {
        self.access.get()
    }

    /// Whether this agent checks approvals itself.
    pub fn verifies(&self) -> bool {
        self.verifier.get().is_some()
    }

    /// Add `identities` to the inventory `GET /v1/inventory` answers (an identity already there
    /// is replaced by its newer record).
    pub fn add_inventory(&self, identities: &[IdentityRecord]) {
        if identities.is_empty() {
            return;
        }
        let mut inv = self.inventory.write().unwrap_or_else(|e| e.into_inner());
        let mut doc: Inventory =
            serde_json::from_slice(&inv).unwrap_or(Inventory { identities: vec![] });
        for r in identities {
            let key = r.key();
            match doc.identities.iter_mut().find(|x| x.key() == key) {
                Some(x) => *x = r.clone(),
                None => doc.identities.push(r.clone()),
            }
        }
        if let Ok(bytes) = serde_json::to_vec(&doc) {
            *inv = Bytes::from(bytes);
        }
    }

    /// The action kinds this agent executes.
    pub fn capabilities(&self) -> Vec<String> {
        self.acts
            .capabilities()
            .into_iter()
            .map(|c| c.kind)
            .collect()
    }

    /// Is this identity key isolated (its events dropped)?
    pub fn is_isolated(&self, identity: &str) -> bool {
        self.isolation.contains(identity)
    }

    /// `(key, action_id)` of every first-time execution so far.
    pub fn executions(&self) -> Vec<(String, String)> {
        self.acts.executions()
    }

    /// Every `POST /v1/actions` so far, replays included.
    pub fn action_requests(&self) -> usize {
        self.acts.requests()
    }

    /// Replace the inventory `GET /v1/inventory` answers.
    pub fn set_inventory(&self, identities: Vec<IdentityRecord>) {
        let doc = Inventory { identities };
        let bytes = serde_json::to_vec(&doc).unwrap_or_else(|_| b"{\"identities\":[]}".to_vec());
        *self.inventory.write().unwrap_or_else(|e| e.into_inner()) = Bytes::from(bytes);
    }

    /// Append events, giving each the next cursor, and wake the streams.
    pub fn push(&self, events: Vec<Event>) {
        self.push_slice(&events);
    }

    /// `push` for borrowed events (a relay of the agent's own sources).
    pub fn push_slice(&self, events: &[Event]) {
        let events: Vec<&Event> = events
            .iter()
            .filter(|e| self.isolation.is_empty() || !self.isolation.contains(&e.actor.key()))
            .collect();
        if events.is_empty() {
            return;
        }
        let latest = {
            let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
            for event in events {
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
        let actions = self.acts.capabilities();
        Health {
            name: self.name.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            capabilities: actions.iter().map(|a| a.kind.clone()).collect(),
            actions,
        }
    }
}

/// The agent protocol's routes over `state`.
pub fn router(state: Arc<AgentState>) -> Router {
    let guard = axum::middleware::from_fn_with_state(state.clone(), super::guard::authenticate);
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/events", get(events))
        .route("/v1/inventory", get(inventory))
        .route("/v1/actions", post(post_action))
        .route("/v1/plan", post(plan_action))
        .route("/v1/actions/{key}", get(get_action))
        .route("/v1/actions/{key}/rollback", post(rollback_action))
        .fallback(not_found)
        .layer(guard)
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
        "error": "no such endpoint: the agent protocol has GET /v1/health, /v1/events?since=CURSOR, /v1/inventory, /v1/actions/KEY and POST /v1/actions, /v1/plan, /v1/actions/KEY/rollback"
    }));
    (StatusCode::NOT_FOUND, body).into_response()
}

fn json_status(code: StatusCode, v: serde_json::Value) -> Response {
    (code, axum::Json(v)).into_response()
}

/// The key as given, without a `sha256:` prefix.
fn norm_key(k: &str) -> String {
    k.trim()
        .strip_prefix("sha256:")
        .unwrap_or(k.trim())
        .to_ascii_lowercase()
}

#[derive(Debug, Deserialize)]
struct KeyPath {
    key: String,
}

fn answer(code: u16, v: serde_json::Value) -> Response {
    json_status(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        v,
    )
}

async fn post_action(
    State(state): State<Arc<AgentState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.acts.count_request();
    let Some(key) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(norm_key)
        .filter(|k| !k.is_empty())
    else {
        return bad_request(
            "POST /v1/actions needs an Idempotency-Key header (the action hash)".into(),
        );
    };
    let action = match serde_json::from_slice::<ActionBody>(&body) {
        Ok(b) => b.into_action(),
        Err(e) => return bad_request(format!("the body is not an action: {e}")),
    };
    // A key already received with this content was checked when it first came; anything new
    // is checked now, before it is recorded, so a forged post cannot take a real action's key.
    if let Some(v) = state.verifier.get()
        && !state.acts.knows(&key, &action)
        && let Err(why) = v.check(&key, &action, super::now_ms())
    {
        tracing::warn!("agent: refused {} ({}): {why}", key, action.kind);
        return json_status(
            StatusCode::FORBIDDEN,
            serde_json::json!({"status": "refused", "error": why}),
        );
    }
    match state.acts.receive(&key, &action) {
        Posted::Unsupported(msg) => {
            return json_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                serde_json::json!({"status": "failed", "error": msg}),
            );
        }
        Posted::Conflict(status) => {
            return json_status(
                StatusCode::CONFLICT,
                serde_json::json!({"error": format!("key {key} was used with another action"), "status": status}),
            );
        }
        Posted::Again => {}
        Posted::First => {
            // Executed in its own task: a client that hangs up does not cut an action in half.
            let st = state.clone();
            let k = key.clone();
            tokio::spawn(async move { st.acts.run(&k, st.action_delay).await });
        }
    }
    // Answer once it has settled (or after a while, still executing).
    let deadline = tokio::time::Instant::now() + state.action_delay + Duration::from_secs(5);
    loop {
        match state.acts.get(&key) {
            Some(r)
                if r.status != ExecStatus::Executing || tokio::time::Instant::now() >= deadline =>
            {
                return json_status(StatusCode::ACCEPTED, r.answer(&key));
            }
            _ => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
}

/// `POST /v1/plan`: what executing the action would do, from the executor that would do it
/// (its dry run and before-snapshot), without doing it.
async fn plan_action(State(state): State<Arc<AgentState>>, body: Bytes) -> Response {
    let action = match serde_json::from_slice::<ActionBody>(&body) {
        Ok(b) => b.into_action(),
        Err(e) => return bad_request(format!("the body is not an action: {e}")),
    };
    match state.acts.plan(&action).await {
        Ok(p) => json_status(
            StatusCode::OK,
            serde_json::json!({"reversible": p.reversible, "dry_run": p.dry_run}),
        ),
        Err((code, msg)) => answer(code, serde_json::json!({"error": msg})),
    }
}

async fn get_action(
    State(state): State<Arc<AgentState>>,
    axum::extract::Path(p): axum::extract::Path<KeyPath>,
) -> Response {
    let key = norm_key(&p.key);
    match state.acts.get(&key) {
        Some(r) => json_status(StatusCode::OK, r.answer(&key)),
        None => json_status(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": format!("no action with key {key}")}),
        ),
    }
}

#[derive(Debug, Default, Deserialize)]
struct RollbackBody {
    /// SSHSIG over `rollback <hash>` by an allowed signer (`guard::rollback_message`).
    #[serde(default)]
    signature: Option<String>,
}

async fn rollback_action(
    State(state): State<Arc<AgentState>>,
    axum::extract::Path(p): axum::extract::Path<KeyPath>,
    body: Bytes,
) -> Response {
    let key = norm_key(&p.key);
    let req: RollbackBody = if body.iter().all(u8::is_ascii_whitespace) {
        RollbackBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return bad_request(format!("the body is not a rollback request: {e}")),
        }
    };
    if let Some(v) = state.verifier.get()
        && let Some(r) = state.acts.get(&key)
    {
        match v.check_rollback(&r.action, req.signature.as_deref()) {
            Ok(who) => tracing::info!("agent: rollback of {key} asked by {who}"),
            Err(why) => {
                return json_status(
                    StatusCode::FORBIDDEN,
                    serde_json::json!({"status": "refused", "error": why}),
                );
            }
        }
    }
    match state.acts.roll_back(&key).await {
        Ok(v) => json_status(StatusCode::OK, v),
        Err((code, v)) => answer(code, v),
    }
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
            user_agent: None,
            region: None,
            issued: None,
            status: Status::Success,
            signals: vec![],
            sigma: Vec::new(),
            raw: Default::default(),
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
