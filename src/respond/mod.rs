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
pub mod demo_responders;
pub mod desk;
pub mod providers;
pub mod redact;
pub mod runner;
pub mod suggest;

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::workflow::{Action, DryRun};

pub use desk::{Desk, FireRequest, Fired, StageRequest};

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
    /// `rollback`, carrying the responder's SSHSIG over `rollback <hash>`
    /// (`agent::guard::rollback_message`) for an executor that checks who asks (an agent with a
    /// policy); the others need no more than `rollback`.
    fn rollback_signed<'a>(
        &'a self,
        a: &'a Action,
        key: &'a str,
        _signature: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        self.rollback(a, key)
    }
    /// How it describes the kinds it executes beyond their names (an agent's `/v1/health`
    /// says whether each can be undone); built-in kinds are described by `BUILTIN_KINDS`.
    fn described(&self) -> BoxFut<'_, Vec<crate::agent::actions::ActionCapability>> {
        Box::pin(async { Vec::new() })
    }
}

/// A built-in provider kind: its params and how it is undone (INTERFACE.md).
pub struct BuiltinKind {
    pub kind: &'static str,
    pub params: &'static [&'static str],
    pub undo: Option<&'static str>,
    pub does: &'static str,
    /// How much it stops, least first: one credential (1), sessions, a pod or one binding (2),
    /// everything the principal does (3), a whole workload (4). Suggestions offer the least
    /// destructive first.
    pub scope: u8,
}

pub const BUILTIN_KINDS: &[BuiltinKind] = &[
    BuiltinKind {
        kind: "aws.disable_access_key",
        params: &["user", "access_key_id"],
        undo: Some("re-activate the access key"),
        does: "set the access key to Inactive",
        scope: 1,
    },
    BuiltinKind {
        kind: "aws.delete_access_key",
        params: &["user", "access_key_id"],
        undo: None,
        does: "delete the access key",
        scope: 1,
    },
    BuiltinKind {
        kind: "aws.deny_all",
        params: &[],
        undo: Some("detach the deny-all policy"),
        does: "attach a deny-all policy to the user or role",
        scope: 3,
    },
    BuiltinKind {
        kind: "aws.revoke_role_sessions",
        params: &["role"],
        undo: Some("remove the session-revocation policy"),
        does: "deny every session of the role issued before now",
        scope: 2,
    },
    BuiltinKind {
        kind: "vault.revoke_accessor",
        params: &["accessor"],
        undo: None,
        does: "revoke the token behind the accessor",
        scope: 1,
    },
    BuiltinKind {
        kind: "vault.disable_entity",
        params: &["entity_id"],
        undo: Some("re-enable the entity"),
        does: "disable the entity",
        scope: 3,
    },
    BuiltinKind {
        kind: "k8s.quarantine_pod",
        params: &["namespace", "pod"],
        undo: Some("remove the quarantine label"),
        does: "apply a deny-all NetworkPolicy and label the pod",
        scope: 2,
    },
    BuiltinKind {
        kind: "k8s.delete_rolebinding",
        params: &["namespace", "name"],
        undo: Some("recreate the binding from its snapshot"),
        does: "delete the role binding (its snapshot is kept)",
        scope: 2,
    },
    BuiltinKind {
        kind: "k8s.scale_to_zero",
        params: &["namespace", "deployment"],
        undo: Some("restore the replica count"),
        does: "scale the deployment to zero replicas",
        scope: 4,
    },
    BuiltinKind {
        kind: "github.revoke_credential",
        params: &["credential"],
        undo: None,
        does: "revoke the credential",
        scope: 1,
    },
    BuiltinKind {
        kind: "gcp.disable_service_account_key",
        params: &["service_account", "key_id"],
        undo: Some("enable the key"),
        does: "disable the service account key",
        scope: 1,
    },
];

pub fn builtin(kind: &str) -> Option<&'static BuiltinKind> {
    BUILTIN_KINDS.iter().find(|b| b.kind == kind)
}

/// What to configure so that `kind` can be executed here (nothing here executes it): the words
/// the CLI's refusal, the suggestions' `why_not` and the console's execute key all use.
pub fn what_to_configure(kind: &str) -> String {
    let provider = kind.split('.').next().unwrap_or("?");
    if provider == "agent" {
        format!(
            "needs --agent URL (or --source URL/v1/events) of an agent whose /v1/health offers {kind}"
        )
    } else {
        let section = if provider == "k8s" {
            "kubernetes"
        } else {
            provider
        };
        format!(
            "needs [providers.{section}] in config.toml (or --agent URL of an agent offering {kind})"
        )
    }
}

/// The plan of a kind no executor handles: what it would do, and that nothing will run it yet.
pub fn unexecutable_plan(a: &Action) -> Plan {
    match builtin(&a.kind) {
        Some(b) => Plan {
            reversible: b.undo.is_some(),
            dry_run: DryRun {
                changes: vec![format!("{}: {} ({})", a.kind, b.does, a.params)],
                impact: vec![format!(
                    "nothing here executes {}: executing it is refused until something does ({})",
                    a.kind,
                    what_to_configure(&a.kind)
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
                    "nothing here executes {}: {}",
                    a.kind,
                    what_to_configure(&a.kind)
                )],
                undo: Some("unknown: no executor describes it".into()),
                before: Value::Null,
            },
        },
    }
}
