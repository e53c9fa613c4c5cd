//! Responding: the response desk (`desk.rs`, the one place every face's action verbs go through)
//! and the executors that carry actions out. Each executor plans (dry run, before-snapshot,
//! whether and how it can be undone) and executes under an idempotency key (the action hash), so
//! that a retry or a recovery after a crash never acts twice.
//!
//! `agent.rs` executes `agent.*` kinds through an agent's HTTP protocol. The built-in provider
//! kinds (`aws.*`, `vault.*`, `k8s.*`, `github.*`, `gcp.*`) are executed by `providers/`, each
//! configured by its `[providers.*]` section; without one, executing fails with a clear message.
//! `suggest.rs` says which kinds fit an identity, params filled from the evidence.

pub mod agent;
pub mod desk;
pub mod providers;
pub mod redact;
pub mod suggest;

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::workflow::{Action, DryRun};

pub use desk::{Desk, StageRequest};

/// A boxed future, so that executors are object safe.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What an executor says it will do.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub reversible: bool,
    pub dry_run: DryRun,
}

/// Where an action stands at its executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecStatus {
    Executing,
    Done,
    Failed,
    RolledBack,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: ExecStatus,
    #[serde(default)]
    pub detail: Value,
}

/// Why a call to an executor did not give an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecError {
    /// Worth retrying under the same key (connection refused, timeout, 5xx).
    Transient(String),
    /// Retrying will not help (409, 4xx, unsupported kind).
    Permanent(String),
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExecError::Transient(m) | ExecError::Permanent(m) => f.write_str(m),
        }
    }
}

/// Carries actions out. `key` is the action hash in hex: the same key must never act twice.
pub trait Executor: Send + Sync {
    /// Who it is (an agent's URL), as recorded in the journal.
    fn name(&self) -> String;
    /// The action kinds it executes.
    fn kinds(&self) -> BoxFut<'_, Vec<String>>;
    /// The dry run and before-snapshot.
    fn plan<'a>(&'a self, a: &'a Action) -> BoxFut<'a, anyhow::Result<Plan>>;
    fn execute<'a>(&'a self, a: &'a Action, key: &'a str)
    -> BoxFut<'a, Result<Outcome, ExecError>>;
    /// What the executor knows about `key` (`None`: never received).
    fn status<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<Outcome>, ExecError>>;
    fn rollback<'a>(
        &'a self,
        a: &'a Action,
        key: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>>;
}

/// A built-in provider kind: its params and how it is undone (INTERFACE.md).
pub struct BuiltinKind {
    pub kind: &'static str,
    pub params: &'static [&'static str],
    pub undo: Option<&'static str>,
    pub does: &'static str,
}

pub const BUILTIN_KINDS: &[BuiltinKind] = &[
    BuiltinKind {
        kind: "aws.disable_access_key",
        params: &["user", "access_key_id"],
        undo: Some("re-activate the access key"),
        does: "set the access key to Inactive",
    },
    BuiltinKind {
        kind: "aws.delete_access_key",
        params: &["user", "access_key_id"],
        undo: None,
        does: "delete the access key",
    },
    BuiltinKind {
        kind: "aws.deny_all",
        params: &[],
        undo: Some("detach the deny-all policy"),
        does: "attach a deny-all policy to the user or role",
    },
    BuiltinKind {
        kind: "aws.revoke_role_sessions",
        params: &["role"],
        undo: Some("remove the session-revocation policy"),
        does: "deny every session of the role issued before now",
    },
    BuiltinKind {
        kind: "vault.revoke_accessor",
        params: &["accessor"],
        undo: None,
        does: "revoke the token behind the accessor",
    },
    BuiltinKind {
        kind: "vault.disable_entity",
        params: &["entity_id"],
        undo: Some("re-enable the entity"),
        does: "disable the entity",
    },
    BuiltinKind {
        kind: "k8s.quarantine_pod",
        params: &["namespace", "pod"],
        undo: Some("remove the quarantine label"),
        does: "apply a deny-all NetworkPolicy and label the pod",
    },
    BuiltinKind {
        kind: "k8s.delete_rolebinding",
        params: &["namespace", "name"],
        undo: Some("recreate the binding from its snapshot"),
        does: "delete the role binding (its snapshot is kept)",
    },
    BuiltinKind {
        kind: "k8s.scale_to_zero",
        params: &["namespace", "deployment"],
        undo: Some("restore the replica count"),
        does: "scale the deployment to zero replicas",
    },
    BuiltinKind {
        kind: "github.revoke_credential",
        params: &["credential"],
        undo: None,
        does: "revoke the credential",
    },
    BuiltinKind {
        kind: "gcp.disable_service_account_key",
        params: &["service_account", "key_id"],
        undo: Some("enable the key"),
        does: "disable the service account key",
    },
];

pub fn builtin(kind: &str) -> Option<&'static BuiltinKind> {
    BUILTIN_KINDS.iter().find(|b| b.kind == kind)
}

/// The plan of a kind no executor handles: what it would do, and that nothing will run it yet.
pub fn unexecutable_plan(a: &Action) -> Plan {
    let provider = a.kind.split('.').next().unwrap_or("?");
    match builtin(&a.kind) {
        Some(b) => Plan {
            reversible: b.undo.is_some(),
            dry_run: DryRun {
                changes: vec![format!("{}: {} ({})", a.kind, b.does, a.params)],
                impact: vec![format!(
                    "no executor for {provider}.* is configured: executing this action will fail until one is"
                )],
                undo: Some(b.undo.unwrap_or("none: this cannot be undone").to_string()),
                before: serde_json::json!({"identity": a.identity, "params": a.params}),
            },
        },
        None => Plan {
            reversible: false,
            dry_run: DryRun {
                changes: vec![format!("{}: {}", a.kind, a.params)],
                impact: vec![format!(
                    "no executor for {} is configured{}",
                    a.kind,
                    if provider == "agent" {
                        " (give --agent URL of an agent whose /v1/health lists it)"
                    } else {
                        ""
                    }
                )],
                undo: Some("unknown: no executor describes it".into()),
                before: Value::Null,
            },
        },
    }
}
