//! The action lifecycle and the approval rules, pure: no I/O, no clock (time is a parameter).
//!
//! ```text
//! staged ──► approved ──► executing ──► done ──► rolled_back
//!   │  │                       └──────► failed
//!   │  └──► denied
//!   └─────► expired           (approved ──► expired too, when never executed)
//! ```
//!
//! Terminal states (`denied`, `expired`, `failed`, `rolled_back`, and `done` for an action that
//! cannot be undone) never change. An action's `hash` covers kind, identity, target, params,
//! proposer and expiry; approvals sign it, so an edit (`edit`) voids every approval given before it. The
//! proposer never counts as an approver; executing needs `required_approvals` distinct approvers
//! whose approvals are live (younger than the policy's `approval_ttl`) and signed over the
//! current hash. Every refusal is a `Refusal` that names who or what, which faces map to exit 4.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::core::model::Millis;

/// Where a proposal came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    Tui,
    Cli,
    Playbook,
    Mcp,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Tui => "tui",
            Via::Cli => "cli",
            Via::Playbook => "playbook",
            Via::Mcp => "mcp",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionState {
    Staged,
    Approved,
    Executing,
    Done,
    Failed,
    RolledBack,
    Denied,
    Expired,
}

impl ActionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionState::Staged => "staged",
            ActionState::Approved => "approved",
            ActionState::Executing => "executing",
            ActionState::Done => "done",
            ActionState::Failed => "failed",
            ActionState::RolledBack => "rolled_back",
            ActionState::Denied => "denied",
            ActionState::Expired => "expired",
        }
    }
    /// States no operation moves out of. `done` still moves to `rolled_back` when reversible.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ActionState::Failed
                | ActionState::RolledBack
                | ActionState::Denied
                | ActionState::Expired
        )
    }
    /// Waiting for approvals or for execution.
    pub fn is_open(self) -> bool {
        matches!(self, ActionState::Staged | ActionState::Approved)
    }
}

impl fmt::Display for ActionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who proposed an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposer {
    pub principal: String,
    pub via: Via,
    /// The AI agent (MCP client name) that proposed it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

/// One approval: an SSHSIG signature over the action hash by an allowed signer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub principal: String,
    #[serde(with = "ts")]
    pub at: Millis,
    /// Armored SSHSIG (namespace `blastdoor-action`) over `hash`.
    pub signature: String,
    /// The action hash the signature covers; an approval of an older hash does not count.
    pub hash: String,
    /// `SHA256:…` fingerprint of the key that signed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
}

/// What executing will change, what depends on it, whether and how it can be undone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DryRun {
    pub changes: Vec<String>,
    pub impact: Vec<String>,
    /// How to undo it, or why it cannot be undone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<String>,
    /// State captured before execution, for rollback (the executor's description).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub before: Value,
}

/// The action, exactly as INTERFACE.md prints it (plus `reason`, `evidence`, `preauthorized`,
/// `outcome`, `error`, `updated_at`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub id: String,
    pub identity: String,
    pub kind: String,
    pub target: Value,
    pub params: Value,
    pub state: ActionState,
    pub proposed_by: Proposer,
    pub approvals: Vec<Approval>,
    pub required_approvals: u32,
    pub hash: String,
    pub reversible: bool,
    pub dry_run: DryRun,
    #[serde(with = "ts")]
    pub created_at: Millis,
    #[serde(with = "ts")]
    pub expires_at: Millis,
    #[serde(default)]
    pub reason: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    #[serde(default)]
    pub preauthorized: bool,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub outcome: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(with = "ts", default)]
    pub updated_at: Millis,
    /// How many of `approvals` came before the last edit that changed the hash. They never
    /// count again, even when a later edit brings the same hash back (A → B → A).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stale_approvals: usize,
    /// Why a standing playbook staged it: the playbook, the condition's values, the events
    /// behind it and when each reached the console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<crate::core::playbook::Trigger>,
    /// When the executor acknowledged it (`done`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "ts_opt")]
    pub executed_at: Option<Millis>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Why an operation was refused; the message names who or what. Faces map it to exit 4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

fn refuse<T>(msg: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(msg.into()))
}

/// What `stage` needs besides the policy's decisions.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub id: String,
    pub identity: String,
    pub kind: String,
    pub target: Value,
    pub params: Value,
    pub proposed_by: Proposer,
    pub reason: String,
    pub evidence: Vec<String>,
    pub reversible: bool,
    pub dry_run: DryRun,
}

/// The timing rules, from the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Distinct approvers besides the proposer.
    pub required_approvals: u32,
    /// How long an approval stays live, ms.
    pub approval_ttl: Millis,
    /// How long an action may wait before it expires, ms.
    pub action_ttl: Millis,
}

/// Serialise `v` with object keys sorted at every level and no whitespace.
pub fn canonical_json(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String((*k).clone()).to_string());
                    out.push(':');
                    write(&m[*k], out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// `sha256:HEX` over the canonical encoding of (kind, identity, target, params, proposer,
/// expires_at): everything an executor reads to know what to act on, and who asked until when.
pub fn action_hash(
    kind: &str,
    identity: &str,
    target: &Value,
    params: &Value,
    proposer: &Proposer,
    expires_at: Millis,
) -> String {
    let doc = serde_json::json!({
        "v": 2,
        "kind": kind,
        "identity": identity,
        "target": target,
        "params": params,
        "proposer": {
            "principal": proposer.principal,
            "via": proposer.via.as_str(),
            "agent": proposer.agent,
        },
        "expires_at": expires_at,
    });
    let digest = Sha256::digest(canonical_json(&doc).as_bytes());
    format!("sha256:{}", hex::encode(digest))
}

/// The hash without its `sha256:` prefix: the idempotency key executors receive.
pub fn hash_hex(hash: &str) -> &str {
    hash.strip_prefix("sha256:").unwrap_or(hash)
}

impl Action {
    /// The hash this action's fields give now.
    pub fn computed_hash(&self) -> String {
        action_hash(
            &self.kind,
            &self.identity,
            &self.target,
            &self.params,
            &self.proposed_by,
            self.expires_at,
        )
    }

    /// The idempotency key: the hash in hex.
    pub fn key(&self) -> &str {
        hash_hex(&self.hash)
    }

    /// Approvals that count now: signed over the current hash, younger than `ttl`, not by the
    /// proposer, one per principal.
    pub fn live_approvers(&self, now: Millis, ttl: Millis) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for a in self.approvals.iter().skip(self.stale_approvals) {
            let live = a.hash == self.hash && now < a.at.saturating_add(ttl) && a.at <= now;
            if live && a.principal != self.proposed_by.principal && !out.contains(&&*a.principal) {
                out.push(&a.principal);
            }
        }
        out
    }

    fn has_enough(&self, now: Millis, ttl: Millis) -> bool {
        self.preauthorized || self.live_approvers(now, ttl).len() as u32 >= self.required_approvals
    }
}

/// A new staged action (or approved, when the rules ask for no approver or a playbook
/// pre-authorises it).
pub fn stage(p: Proposal, rules: Rules, preauthorized: bool, now: Millis) -> Action {
    let expires_at = now.saturating_add(rules.action_ttl);
    let hash = action_hash(
        &p.kind,
        &p.identity,
        &p.target,
        &p.params,
        &p.proposed_by,
        expires_at,
    );
    let state = if preauthorized || rules.required_approvals == 0 {
        ActionState::Approved
    } else {
        ActionState::Staged
    };
    Action {
        id: p.id,
        identity: p.identity,
        kind: p.kind,
        target: p.target,
        params: p.params,
        state,
        proposed_by: p.proposed_by,
        approvals: Vec::new(),
        required_approvals: rules.required_approvals,
        hash,
        reversible: p.reversible,
        dry_run: p.dry_run,
        created_at: now,
        expires_at,
        reason: p.reason,
        evidence: p.evidence,
        preauthorized,
        outcome: Value::Null,
        error: None,
        updated_at: now,
        stale_approvals: 0,
        trigger: None,
        executed_at: None,
    }
}

fn not_open(a: &Action, what: &str) -> Refusal {
    Refusal(format!(
        "{} is {}: it cannot be {what} any more",
        a.id, a.state
    ))
}

/// Expire `a` when its time is up and it was never executed. True when it changed.
pub fn expire_if_due(a: &mut Action, now: Millis) -> bool {
    if a.state.is_open() && now >= a.expires_at {
        a.state = ActionState::Expired;
        a.updated_at = now;
        true
    } else {
        false
    }
}

/// Approve `a` as `approver`. `signature_verified` says the signature over `a.hash` was checked
/// against the allowed signers and belongs to `approver`.
pub fn approve(
    a: &mut Action,
    approver: &str,
    signature: &str,
    key: &str,
    signature_verified: bool,
    now: Millis,
    rules: Rules,
) -> Result<(), Refusal> {
    if !a.state.is_open() {
        return Err(not_open(a, "approved"));
    }
    if now >= a.expires_at {
        return refuse(format!("{} expired before {approver} approved it", a.id));
    }
    if !signature_verified {
        return refuse(format!(
            "{approver}'s signature over {} does not verify: approval refused",
            a.id
        ));
    }
    if approver == a.proposed_by.principal {
        return refuse(format!(
            "{approver} proposed {} and cannot approve it: another responder must",
            a.id
        ));
    }
    if a.live_approvers(now, rules.approval_ttl)
        .contains(&approver)
    {
        return refuse(format!("{approver} has already approved {}", a.id));
    }
    a.approvals.push(Approval {
        principal: approver.to_string(),
        at: now,
        signature: signature.to_string(),
        hash: a.hash.clone(),
        key: key.to_string(),
    });
    if a.has_enough(now, rules.approval_ttl) {
        a.state = ActionState::Approved;
    }
    a.updated_at = now;
    Ok(())
}

/// Deny `a`: it will never run.
pub fn deny(a: &mut Action, by: &str, now: Millis) -> Result<(), Refusal> {
    if !a.state.is_open() {
        return Err(not_open(a, &format!("denied by {by}")));
    }
    a.state = ActionState::Denied;
    a.updated_at = now;
    Ok(())
}

/// Change params of an open action: the hash changes, so every approval given so far is void.
pub fn edit(a: &mut Action, params: Value, now: Millis, rules: Rules) -> Result<(), Refusal> {
    if !a.state.is_open() {
        return Err(not_open(a, "edited"));
    }
    a.params = params;
    let hash = a.computed_hash();
    if hash != a.hash {
        a.stale_approvals = a.approvals.len();
    }
    a.hash = hash;
    a.preauthorized = false;
    a.state = if a.has_enough(now, rules.approval_ttl) {
        ActionState::Approved
    } else {
        ActionState::Staged
    };
    a.updated_at = now;
    Ok(())
}

/// Start executing: needs enough live approvals for the current hash.
pub fn begin_execution(a: &mut Action, now: Millis, rules: Rules) -> Result<(), Refusal> {
    if !a.state.is_open() {
        return Err(not_open(a, "executed"));
    }
    if now >= a.expires_at {
        return refuse(format!("{} expired unexecuted", a.id));
    }
    if a.hash != a.computed_hash() {
        return refuse(format!(
            "{}'s hash does not match its contents: it was edited outside blastdoor",
            a.id
        ));
    }
    let live = a.live_approvers(now, rules.approval_ttl);
    if !a.has_enough(now, rules.approval_ttl) {
        let had = a.approvals.len();
        return refuse(format!(
            "{} needs {} approval(s) by someone other than {} and has {} live{}",
            a.id,
            a.required_approvals,
            a.proposed_by.principal,
            live.len(),
            if had > live.len() {
                format!(
                    " ({} expired, voided by an edit, or the proposer's)",
                    had - live.len()
                )
            } else {
                String::new()
            }
        ));
    }
    a.state = ActionState::Executing;
    a.updated_at = now;
    Ok(())
}

/// The executor answered: done.
pub fn complete(a: &mut Action, outcome: Value, now: Millis) -> Result<(), Refusal> {
    if a.state != ActionState::Executing {
        return refuse(format!("{} is {}, not executing", a.id, a.state));
    }
    a.state = ActionState::Done;
    a.outcome = outcome;
    a.updated_at = now;
    a.executed_at = Some(now);
    Ok(())
}

/// The executor failed (after its retries): handed back to a human.
pub fn fail(a: &mut Action, error: &str, now: Millis) -> Result<(), Refusal> {
    if a.state != ActionState::Executing {
        return refuse(format!("{} is {}, not executing", a.id, a.state));
    }
    a.state = ActionState::Failed;
    a.error = Some(error.to_string());
    a.updated_at = now;
    Ok(())
}

/// Check that `a` may be rolled back (done and reversible); `rolled_back` marks it undone.
pub fn can_roll_back(a: &Action) -> Result<(), Refusal> {
    if a.state != ActionState::Done {
        return refuse(format!(
            "{} is {}: only a done action can be rolled back",
            a.id, a.state
        ));
    }
    if !a.reversible {
        return refuse(format!(
            "{} ({}) cannot be undone{}",
            a.id,
            a.kind,
            a.dry_run
                .undo
                .as_deref()
                .map(|u| format!(": {u}"))
                .unwrap_or_default()
        ));
    }
    Ok(())
}

/// The executor undid it.
pub fn rolled_back(a: &mut Action, now: Millis) -> Result<(), Refusal> {
    can_roll_back(a)?;
    a.state = ActionState::RolledBack;
    a.updated_at = now;
    Ok(())
}

/// Timestamps: RFC 3339 (UTC, milliseconds) in JSON, ms since the epoch inside.
pub mod ts {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::core::model::Millis;

    pub fn format(ms: Millis) -> String {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            .unwrap_or_default()
    }

    pub fn parse(s: &str) -> Option<Millis> {
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp_millis())
    }

    pub fn serialize<S: Serializer>(ms: &Millis, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*ms))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum T {
            Ms(Millis),
            S(String),
        }
        match T::deserialize(d)? {
            T::Ms(ms) => Ok(ms),
            T::S(s) => parse(&s)
                .ok_or_else(|| serde::de::Error::custom(format!("'{s}' is not an RFC 3339 time"))),
        }
    }
}

/// `ts` for an optional time.
pub mod ts_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::core::model::Millis;

    pub fn serialize<S: Serializer>(ms: &Option<Millis>, s: S) -> Result<S::Ok, S::Error> {
        match ms {
            Some(ms) => super::ts::serialize(ms, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Millis>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "super::ts")] Millis);
        Ok(Option::<W>::deserialize(d)?.map(|W(ms)| ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = 1_790_000_000_000;
    const RULES: Rules = Rules {
        required_approvals: 1,
        approval_ttl: 15 * 60_000,
        action_ttl: 24 * 3_600_000,
    };

    fn proposal() -> Proposal {
        Proposal {
            id: "act_1".into(),
            identity: "aws:x".into(),
            kind: "agent.isolate_workload".into(),
            target: serde_json::json!({"identity": "aws:x"}),
            params: serde_json::json!({}),
            proposed_by: Proposer {
                principal: "alice".into(),
                via: Via::Cli,
                agent: None,
            },
            reason: "r".into(),
            evidence: vec![],
            reversible: true,
            dry_run: DryRun::default(),
        }
    }

    #[test]
    fn the_proposer_cannot_approve_and_execution_needs_another() {
        let mut a = stage(proposal(), RULES, false, T0);
        assert_eq!(a.state, ActionState::Staged);
        let e = approve(&mut a, "alice", "sig", "", true, T0, RULES).unwrap_err();
        assert!(e.0.contains("alice proposed"), "{e}");
        assert!(begin_execution(&mut a, T0, RULES).is_err());
        approve(&mut a, "bob", "sig", "", true, T0 + 1, RULES).unwrap();
        assert_eq!(a.state, ActionState::Approved);
        begin_execution(&mut a, T0 + 2, RULES).unwrap();
        complete(&mut a, Value::Null, T0 + 3).unwrap();
        rolled_back(&mut a, T0 + 4).unwrap();
        assert!(rolled_back(&mut a, T0 + 5).is_err());
    }

    #[test]
    fn an_edit_voids_approvals_and_approvals_expire() {
        let mut a = stage(proposal(), RULES, false, T0);
        approve(&mut a, "bob", "sig", "", true, T0, RULES).unwrap();
        let before = a.hash.clone();
        edit(&mut a, serde_json::json!({"x": 1}), T0 + 1, RULES).unwrap();
        assert_ne!(a.hash, before);
        assert_eq!(a.state, ActionState::Staged);
        assert!(begin_execution(&mut a, T0 + 2, RULES).is_err());
        approve(&mut a, "bob", "sig", "", true, T0 + 3, RULES).unwrap();
        assert!(begin_execution(&mut a.clone(), T0 + 3 + RULES.approval_ttl, RULES).is_err());
        begin_execution(&mut a, T0 + 4, RULES).unwrap();
    }

    #[test]
    fn the_hash_is_canonical_and_the_json_matches_the_interface() {
        let a = stage(proposal(), RULES, false, T0);
        assert_eq!(a.hash, a.computed_hash());
        assert!(a.hash.starts_with("sha256:") && a.hash.len() == 71);
        let v = serde_json::to_value(&a).unwrap();
        for k in [
            "id",
            "identity",
            "kind",
            "target",
            "params",
            "state",
            "proposed_by",
            "approvals",
            "required_approvals",
            "hash",
            "reversible",
            "dry_run",
            "created_at",
            "expires_at",
        ] {
            assert!(v.get(k).is_some(), "{k} missing");
        }
        assert_eq!(v["state"], "staged");
        assert_eq!(v["proposed_by"]["via"], "cli");
        let back: Action = serde_json::from_value(v).unwrap();
        assert_eq!(back, a);
        let x = serde_json::json!({"b": [1, {"d": 1, "c": 2}], "a": "é"});
        assert_eq!(canonical_json(&x), r#"{"a":"é","b":[1,{"c":2,"d":1}]}"#);
    }
}
