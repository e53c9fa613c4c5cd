//! The action queue and the execution journal, in the shared SQLite database.
//!
//! - `actions`: one row per action, its JSON (INTERFACE.md) plus the columns queries need.
//! - `journal`: one row per execution intent, keyed by the action hash (the idempotency key the
//!   executor receives). The INTENT is committed (synchronous=FULL) before the request leaves;
//!   the outcome is written when the executor answers. An INTENT without an outcome after a
//!   crash is resolved by asking the executor about that key, never by sending under a new one.
//!
//! Every function takes a `&Connection` so that callers put a transition, its journal row and its
//! audit record in one transaction (`store::audit::append_in`).

use rusqlite::{Connection, OptionalExtension, params};

use crate::core::model::Millis;
use crate::core::workflow::Action;

pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS actions (
            id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            hash TEXT NOT NULL,
            proposer TEXT NOT NULL,
            agent TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            body TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS actions_created ON actions(created_at);
        CREATE TABLE IF NOT EXISTS journal (
            key TEXT PRIMARY KEY,
            action_id TEXT NOT NULL,
            executor TEXT NOT NULL,
            owner TEXT NOT NULL,
            intent_at INTEGER NOT NULL,
            outcome TEXT,
            outcome_at INTEGER
        );",
    )
}

fn decode(body: String) -> rusqlite::Result<Action> {
    serde_json::from_str(&body).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn encode(a: &Action) -> String {
    serde_json::to_string(a).unwrap_or_default()
}

pub fn insert(conn: &Connection, a: &Action) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO actions (id, state, hash, proposer, agent, created_at, updated_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            a.id,
            a.state.as_str(),
            a.hash,
            a.proposed_by.principal,
            a.proposed_by.agent,
            a.created_at,
            a.updated_at,
            encode(a)
        ],
    )?;
    Ok(())
}

pub fn save(conn: &Connection, a: &Action) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE actions SET state = ?2, hash = ?3, updated_at = ?4, body = ?5 WHERE id = ?1",
        params![a.id, a.state.as_str(), a.hash, a.updated_at, encode(a)],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, id: &str) -> rusqlite::Result<Option<Action>> {
    conn.query_row("SELECT body FROM actions WHERE id = ?1", [id], |r| {
        r.get::<_, String>(0)
    })
    .optional()?
    .map(decode)
    .transpose()
}

/// Every action, oldest first.
pub fn list(conn: &Connection) -> rusqlite::Result<Vec<Action>> {
    let mut st = conn.prepare("SELECT body FROM actions ORDER BY created_at, id")?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?;
    rows.map(|b| b.and_then(decode)).collect()
}

/// Actions proposed by AI agent `agent` at or after `since`.
pub fn count_by_agent_since(
    conn: &Connection,
    agent: &str,
    since: Millis,
) -> rusqlite::Result<u32> {
    conn.query_row(
        "SELECT COUNT(*) FROM actions WHERE agent = ?1 AND created_at >= ?2",
        params![agent, since],
        |r| r.get(0),
    )
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

/// Record the intent to dispatch `action_id` under `key` (fails if one already exists: an
/// action is dispatched under its key once).
pub fn intent(
    conn: &Connection,
    key: &str,
    action_id: &str,
    executor: &str,
    owner: &str,
    at: Millis,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO journal (key, action_id, executor, owner, intent_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![key, action_id, executor, owner, at],
    )?;
    Ok(())
}

/// Record what the executor answered for `key`.
pub fn outcome(conn: &Connection, key: &str, outcome: &str, at: Millis) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE journal SET outcome = ?2, outcome_at = ?3 WHERE key = ?1",
        params![key, outcome, at],
    )?;
    Ok(())
}

fn row_intent(r: &rusqlite::Row<'_>) -> rusqlite::Result<Intent> {
    Ok(Intent {
        key: r.get(0)?,
        action_id: r.get(1)?,
        executor: r.get(2)?,
        owner: r.get(3)?,
        intent_at: r.get(4)?,
        outcome: r.get(5)?,
    })
}

pub fn intent_for(conn: &Connection, key: &str) -> rusqlite::Result<Option<Intent>> {
    conn.query_row(
        "SELECT key, action_id, executor, owner, intent_at, outcome FROM journal WHERE key = ?1",
        [key],
        row_intent,
    )
    .optional()
}

/// Intents the executor has not answered yet (in flight, or left by a crash).
pub fn open_intents(conn: &Connection) -> rusqlite::Result<Vec<Intent>> {
    let mut st = conn.prepare(
        "SELECT key, action_id, executor, owner, intent_at, outcome FROM journal
         WHERE outcome IS NULL ORDER BY intent_at",
    )?;
    let rows = st.query_map([], row_intent)?;
    rows.collect()
}

/// Every journal row, oldest first (for tests and diagnostics).
pub fn journal(conn: &Connection) -> rusqlite::Result<Vec<Intent>> {
    let mut st = conn.prepare(
        "SELECT key, action_id, executor, owner, intent_at, outcome FROM journal ORDER BY intent_at",
    )?;
    let rows = st.query_map([], row_intent)?;
    rows.collect()
}
