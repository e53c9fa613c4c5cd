//! Did containment hold? Feeds the core what the done actions of the shared queue contained
//! (`core::containment`), so it can tell when a contained credential or principal acts again,
//! and records each leak the core finds in the audit log as a `containment_leak` record, once per
//! action (checked against the log itself, so two consoles on one state record it once). It is
//! also how a face follows the shared state: its open actions, each change to them, and whether
//! the state can be reached (see [`spawn`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use serde::Serialize;

use crate::core::Msg;
use crate::core::containment::{Leak, contained_of};
use crate::core::workflow::Action;
use crate::engine::{Engine, Health, now_ms};
use crate::store::Store;
use crate::store::audit::{AuditEvent, append_in};

/// How often the queue is read again for newly done actions, on a state that does not announce
/// its changes (SQLite); one that does (PostgreSQL) is read again on each announcement, and after
/// `SAFETY_NET` without one.
const POLL: Duration = Duration::from_secs(1);
const SAFETY_NET: Duration = Duration::from_secs(10);

/// Append a `containment_leak` record for `leak` unless its action has one; true if appended.
pub fn record_leak(store: &Store, leak: &Leak, at: i64) -> anyhow::Result<bool> {
    // Checked and written under the state's writer lock: two consoles record it once.
    store.write(|tx| {
        if tx.audit_has(&leak.action_id, "containment_leak")? {
            return Ok(false);
        }
        append_in(
            tx,
            &AuditEvent {
                kind: "containment_leak".into(),
                actor: "blastdoor".into(),
                via: "watch".into(),
                action_id: Some(leak.action_id.clone()),
                detail: json!({
                    "kind": leak.kind, "identity": leak.identity, "credential": leak.credential,
                    "since": crate::core::state::format_time(leak.since),
                    "seen_at": crate::core::state::format_time(leak.seen_at),
                    "call": leak.call, "src_ip": leak.src_ip, "summary": leak.summary(),
                }),
            },
            at,
        )?;
        Ok(true)
    })
}

/// One round: feed the core the contained list of `actions` (the queue as just read), record new
/// leaks. `recorded` holds the actions whose leak this process has already written.
pub async fn sync(
    engine: &Engine,
    store: &Store,
    actions: &[Action],
    recorded: &mut HashSet<String>,
) {
    // Rolled back first: a call after the rollback (which this round may be the first to see)
    // is the identity's own again, not a leak.
    let lifted: Vec<(String, i64)> = actions
        .iter()
        .filter(|a| a.state == crate::core::workflow::ActionState::RolledBack)
        .map(|a| (a.id.clone(), a.updated_at))
        .collect();
    if !lifted.is_empty() {
        engine.send(Msg::Lifted { actions: lifted }).await;
    }
    let items = actions.iter().filter_map(contained_of).collect();
    engine.send(Msg::Contained { items }).await;
    let leaks: Vec<Leak> = engine.read(|c| c.leaks().to_vec());
    for l in leaks {
        if recorded.contains(&l.action_id) {
            continue;
        }
        match record_leak(store, &l, now_ms()) {
            Ok(_) => {
                tracing::warn!("{}", l.summary());
                recorded.insert(l.action_id.clone());
            }
            Err(e) => tracing::warn!("containment: cannot record a leak: {e:#}"),
        }
    }
}

/// An action still on its way (staged, approved, executing), as `watch` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct OpenAction {
    pub id: String,
    pub kind: String,
    pub identity: String,
    pub state: String,
    pub updated_at: String,
}

/// What a face keeps of the shared state between reads: the open actions, and a signal each
/// time the queue was found changed (by this process or another, on any host).
#[derive(Default)]
pub struct StateView {
    pub open: std::sync::Mutex<Vec<OpenAction>>,
    pub synced: tokio::sync::Notify,
}

/// Keep the core's contained list in step with the shared queue, the audit log with the leaks
/// it finds, and the state's health in the header (a source named `state …`), for as long as
/// the engine runs. The queue is read again when the state announces a change (PostgreSQL's
/// LISTEN/NOTIFY: within a second of another host's stage, approval or execution), else every
/// second (SQLite). With `to_stderr`, losing and regaining the state is said on stderr too.
pub fn spawn(engine: &Engine, store: Arc<Store>, to_stderr: bool) -> Arc<StateView> {
    let engine = engine.clone();
    let view = Arc::new(StateView::default());
    let out = view.clone();
    let source = engine.register(format!("state {}", store.location().label()), false);
    tokio::spawn(async move {
        let mut recorded = HashSet::new();
        let mut changes = store.changes();
        engine.set_health(source, Health::Up, None);
        let mut down: Option<String> = None;
        let mut seen: Vec<(String, &'static str)> = Vec::new();
        loop {
            let read = {
                let store = store.clone();
                tokio::task::spawn_blocking(move || store.read(|tx| tx.actions())).await
            };
            match read {
                Ok(Ok(actions)) => {
                    sync(&engine, &store, &actions, &mut recorded).await;
                    let open = actions
                        .iter()
                        .filter(|a| {
                            a.state.is_open()
                                || a.state == crate::core::workflow::ActionState::Executing
                        })
                        .map(|a| OpenAction {
                            id: a.id.clone(),
                            kind: a.kind.clone(),
                            identity: a.identity.clone(),
                            state: a.state.as_str().to_string(),
                            updated_at: crate::core::state::format_time(a.updated_at),
                        })
                        .collect();
                    *out.open.lock().unwrap_or_else(|e| e.into_inner()) = open;
                    // Said after the open list is in place: a face woken by it reads the new one.
                    let now: Vec<(String, &'static str)> = actions
                        .iter()
                        .map(|a| (a.id.clone(), a.state.as_str()))
                        .collect();
                    if now != seen {
                        seen = now;
                        out.synced.notify_waiters();
                    }
                }
                Ok(Err(e)) => tracing::warn!("containment: cannot read the queue: {e:#}"),
                Err(e) => tracing::warn!("containment: {e}"),
            }
            let now_down = store.unreachable();
            if now_down != down {
                match &now_down {
                    Some(why) => {
                        engine.set_health(source, Health::Retrying, Some(why.clone()));
                        if to_stderr {
                            eprintln!("blastdoor: shared state unreachable: {why}; retrying");
                        }
                    }
                    None => {
                        engine.set_health(source, Health::Up, None);
                        if to_stderr && down.is_some() {
                            eprintln!("blastdoor: shared state reachable again");
                        }
                    }
                }
                down = now_down;
            }
            match &mut changes {
                // Announced changes: the timer is only a safety net.
                Some(c) => {
                    tokio::select! {
                        _ = c.changed() => {}
                        _ = tokio::time::sleep(SAFETY_NET) => {}
                    }
                }
                None => tokio::time::sleep(POLL).await,
            }
        }
    });
    view
}
