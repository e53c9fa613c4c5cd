//! Did containment hold? Feeds the core what the done actions of the shared queue contained
//! (`core::containment`), so it can tell when a contained credential or principal acts again,
//! and records each leak the core finds in the audit log as a `containment_leak` record, once per
//! action (checked against the log itself, so two consoles on one state record it once).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::core::Msg;
use crate::core::containment::{Contained, Leak, contained_of};
use crate::engine::{Engine, now_ms};
use crate::store::Store;
use crate::store::audit::{AuditEvent, append_in};

/// How often the queue is read again for newly done actions.
const POLL: Duration = Duration::from_secs(1);

/// What the done actions in the store contained.
pub fn contained_in(store: &Store) -> anyhow::Result<Vec<Contained>> {
    let all = store.read(|tx| tx.actions())?;
    Ok(all.iter().filter_map(contained_of).collect())
}

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

/// One round: feed the core the current contained list, record new leaks. `recorded` holds the
/// actions whose leak this process has already written.
pub async fn sync(engine: &Engine, store: &Store, recorded: &mut HashSet<String>) {
    match contained_in(store) {
        Ok(items) => engine.send(Msg::Contained { items }).await,
        Err(e) => tracing::warn!("containment: cannot read the queue: {e:#}"),
    }
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

/// Keep the core's contained list in step with the shared queue, and the audit log with the
/// leaks it finds, for as long as the engine runs.
pub fn spawn(engine: &Engine, store: Arc<Store>) {
    let engine = engine.clone();
    tokio::spawn(async move {
        let mut recorded = HashSet::new();
        loop {
            sync(&engine, &store, &mut recorded).await;
            tokio::time::sleep(POLL).await;
        }
    });
}
