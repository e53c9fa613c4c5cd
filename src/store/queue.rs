//! The action queue and the execution journal: what the backends keep and how an action is
//! encoded, whichever backend (`sqlite.rs`, `postgres.rs`) holds the tables.
//!
//! - `actions`: one row per action, its JSON (INTERFACE.md) plus the columns queries need.
//! - `journal`: one row per execution intent, keyed by the action hash (the idempotency key the
//!   executor receives). The INTENT is committed durably before the request leaves; the outcome
//!   is written when the executor answers. An INTENT without an outcome after a crash is
//!   resolved by asking the executor about that key, never by sending under a new one.
//! - `cursors`: a resume point per source name.
//!
//! Callers put a transition, its journal row and its audit record in one transaction
//! (`Store::write`, `store::audit::append_in`).

use crate::core::model::Millis;
use crate::core::workflow::Action;

pub(crate) fn decode(body: &str) -> anyhow::Result<Action> {
    serde_json::from_str(body)
        .map_err(|e| anyhow::anyhow!("an action in the queue is not readable ({e})"))
}

pub(crate) fn encode(a: &Action) -> String {
    serde_json::to_string(a).unwrap_or_default()
}

/// One execution intent.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    pub key: String,
    pub action_id: String,
    /// The executor it was sent to (an agent URL).
    pub executor: String,
    /// `host:pid` of the process that wrote it.
    pub owner: String,
    pub intent_at: Millis,
    pub outcome: Option<String>,
}
