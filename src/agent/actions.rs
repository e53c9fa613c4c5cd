//! The action side of an agent: `POST /v1/actions`, `GET /v1/actions/KEY`,
//! `POST /v1/actions/KEY/rollback`.
//!
//! An agent carries actions out through executors (`respond::Executor`), the same trait the
//! console's desk uses: the reference actions below (`agent.isolate_workload`,
//! `agent.revoke_token`), the demo fleet's simulated providers, or on a real host the provider
//! executors its `[providers.*]` configure. The agent itself keeps the protocol's promises around
//! them:
//! - one execution per idempotency key (the action hash): the same key and content again answers
//!   what the first one did; the same key with other content is `409`;
//! - the execution runs in its own task, so a client that hangs up does not cut it in half;
//! - the status of every key it received, for a console recovering after a crash.
//!
//! The body is the whole action as the console holds it (INTERFACE.md): kind, identity, target,
//! params, proposer, expiry, hash, approvals with their signatures. Which fields the agent
//! insists on, and whose approvals it accepts, is `super::guard`'s business.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::core::model::Millis;
use crate::core::workflow::{Action, ActionState, Approval, DryRun, Proposer, Via, canonical_json};
use crate::respond::{BoxFut, ExecError, ExecStatus, Executor, Outcome, Plan};

/// One action kind an agent executes, as it describes it in `/v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ActionCapability {
    pub kind: String,
    pub description: String,
    pub reversible: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<String>,
}

/// The reference agent's action kinds: isolate a workload (reversible), revoke a token (not).
pub fn reference_actions() -> Vec<ActionCapability> {
    vec![
        ActionCapability {
            kind: "agent.isolate_workload".into(),
            description: "isolate the workload: its calls are cut off at the agent".into(),
            reversible: true,
            undo: Some("release the isolation (POST /v1/actions/KEY/rollback)".into()),
            impact: Some("the identity stops producing activity until released".into()),
        },
        ActionCapability {
            kind: "agent.revoke_token".into(),
            description: "revoke the identity's token at the agent".into(),
            reversible: false,
            undo: None,
            impact: Some("the token is dead for good; a new one must be issued".into()),
        },
    ]
}

/// Identity keys whose events an agent no longer relays.
#[derive(Debug, Default)]
pub struct Isolation(RwLock<HashSet<String>>);

impl Isolation {
    pub fn contains(&self, identity: &str) -> bool {
        self.0.read().map(|s| s.contains(identity)).unwrap_or(false)
    }
    pub fn is_empty(&self) -> bool {
        self.0.read().map(|s| s.is_empty()).unwrap_or(true)
    }
    fn set(&self, identity: &str, isolated: bool) {
        let mut s = self.0.write().unwrap_or_else(|e| e.into_inner());
        if isolated {
            s.insert(identity.to_string());
        } else {
            s.remove(identity);
        }
    }
    /// Drop the events of isolated identities.
    pub fn filter(&self, events: &mut Vec<crate::core::Event>) {
        let s = self.0.read().unwrap_or_else(|e| e.into_inner());
        if !s.is_empty() {
            events.retain(|e| !s.contains(&e.actor.key()));
        }
    }
}

/// The reference actions: an identity isolated (or its token revoked) at the agent stops
/// reaching its event ring; isolation is released by rollback, a revocation never is.
pub struct ReferenceExecutor {
    isolation: Arc<Isolation>,
}

impl ReferenceExecutor {
    pub fn new(isolation: Arc<Isolation>) -> ReferenceExecutor {
        ReferenceExecutor { isolation }
    }
}

impl Executor for ReferenceExecutor {
    fn name(&self) -> String {
        "reference".into()
    }
    fn kinds(&self) -> BoxFut<'_, Vec<String>> {
        Box::pin(async { reference_actions().into_iter().map(|c| c.kind).collect() })
    }
    fn plan<'a>(&'a self, a: &'a Action) -> BoxFut<'a, anyhow::Result<Plan>> {
        Box::pin(async move {
            let cap = reference_actions().into_iter().find(|c| c.kind == a.kind);
            Ok(plan_from_capability(cap.as_ref(), a, "reference agent"))
        })
    }
    fn execute<'a>(
        &'a self,
        a: &'a Action,
        _key: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        Box::pin(async move {
            self.isolation.set(&a.identity, true);
            Ok(Outcome {
                status: ExecStatus::Done,
                detail: json!({"identity": a.identity, "isolated": true,
                    "status": if a.kind == "agent.revoke_token" { "revoked" } else { "isolated" }}),
            })
        })
    }
    fn status<'a>(&'a self, _key: &'a str) -> BoxFut<'a, Result<Option<Outcome>, ExecError>> {
        Box::pin(async { Ok(None) })
    }
    fn rollback<'a>(
        &'a self,
        a: &'a Action,
        _key: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        Box::pin(async move {
            if a.kind != "agent.isolate_workload" {
                return Err(ExecError::Permanent(format!("{} cannot be undone", a.kind)));
            }
            self.isolation.set(&a.identity, false);
            Ok(Outcome {
                status: ExecStatus::RolledBack,
                detail: json!({"identity": a.identity, "isolated": false, "status": "released"}),
            })
        })
    }
}

/// The dry run an agent's description of a kind gives (what the console shows before approval).
pub fn plan_from_capability(cap: Option<&ActionCapability>, a: &Action, agent: &str) -> Plan {
    let desc = cap
        .map(|c| c.description.clone())
        .unwrap_or_else(|| format!("{} as the agent implements it", a.kind));
    Plan {
        reversible: cap.is_some_and(|c| c.reversible),
        dry_run: DryRun {
            changes: vec![format!("{desc}: {} ({agent})", a.identity)],
            impact: cap
                .and_then(|c| c.impact.clone())
                .map(|i| vec![i])
                .unwrap_or_default(),
            undo: Some(
                cap.and_then(|c| c.undo.clone())
                    .unwrap_or_else(|| "none: the agent cannot undo it".into()),
            ),
            before: json!({"identity": a.identity, "capability": cap}),
        },
    }
}

/// An executor and the kinds it offers, described.
struct Offered {
    exec: Arc<dyn Executor>,
    caps: Vec<ActionCapability>,
}

/// What the agent knows of one idempotency key.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// The digest of the action's hashed content: the same key with other content conflicts.
    content: [u8; 32],
    pub(crate) action: Action,
    pub(crate) status: ExecStatus,
    error: Option<String>,
    outcome: Value,
}

impl Received {
    pub(crate) fn answer(&self, key: &str) -> Value {
        let mut v = json!({
            "status": self.status, "key": key, "action_id": self.action.id,
            "kind": self.action.kind, "identity": self.action.identity,
        });
        if let Some(e) = &self.error {
            v["error"] = e.clone().into();
        }
        if !self.outcome.is_null() {
            v["outcome"] = self.outcome.clone();
        }
        v
    }
}

/// The agent's executors and the actions it received.
#[derive(Default)]
pub struct Actions {
    offered: Vec<Offered>,
    received: Mutex<HashMap<String, Received>>,
    /// `(key, action_id)` of each first-time execution, in order (tests count them).
    executions: Mutex<Vec<(String, String)>>,
    /// Every POST /v1/actions, replays included.
    requests: AtomicUsize,
}

impl std::fmt::Debug for Actions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actions")
            .field("kinds", &self.capabilities())
            .finish_non_exhaustive()
    }
}

/// What `POST /v1/actions` carries: the action as the console holds it. Fields a minimal client
/// leaves out read as empty, so that whoever checks the action can say what is missing.
#[derive(Debug, Clone, Deserialize)]
pub struct ActionBody {
    #[serde(default, alias = "action_id")]
    pub id: String,
    pub kind: String,
    #[serde(default)]
    pub identity: String,
    #[serde(default)]
    pub target: Value,
    #[serde(default)]
    pub params: Value,
    #[serde(default)]
    pub proposed_by: Option<Proposer>,
    #[serde(default)]
    pub approvals: Vec<Approval>,
    #[serde(default)]
    pub stale_approvals: usize,
    #[serde(default)]
    pub hash: Option<String>,
    #[serde(default, with = "opt_ts")]
    pub expires_at: Option<Millis>,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub dry_run: DryRun,
    #[serde(default)]
    pub reversible: bool,
    /// A standing playbook's trigger: which playbook (of the agent's own policy) it claims.
    #[serde(default)]
    pub trigger: Option<crate::core::playbook::Trigger>,
}

mod opt_ts {
    use serde::{Deserialize, Deserializer};

    use crate::core::model::Millis;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Millis>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "crate::core::workflow::ts")] Millis);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }
}

impl ActionBody {
    /// The action an executor is handed. Fields the body does not carry are empty; the hash is
    /// the one the body claims (or, without one, what its content hashes to).
    pub fn into_action(self) -> Action {
        let proposed_by = self.proposed_by.unwrap_or(Proposer {
            principal: String::new(),
            via: Via::Cli,
            agent: None,
        });
        let expires_at = self.expires_at.unwrap_or(0);
        let mut a = Action {
            id: self.id,
            identity: self.identity,
            kind: self.kind,
            target: self.target,
            params: self.params,
            state: ActionState::Approved,
            proposed_by,
            approvals: self.approvals,
            required_approvals: 0,
            hash: String::new(),
            reversible: self.reversible,
            dry_run: self.dry_run,
            created_at: 0,
            expires_at,
            reason: self.reason,
            evidence: Vec::new(),
            preauthorized: false,
            outcome: Value::Null,
            error: None,
            updated_at: 0,
            stale_approvals: self.stale_approvals,
            trigger: self.trigger,
            executed_at: None,
        };
        a.hash = self.hash.unwrap_or_else(|| a.computed_hash());
        a
    }
}

/// The digest of what an action's hash covers, whether or not the body claims a hash.
fn content_digest(a: &Action) -> [u8; 32] {
    use sha2::Digest;
    let doc = json!({
        "kind": a.kind, "identity": a.identity, "target": a.target, "params": a.params,
        "proposer": a.proposed_by, "expires_at": a.expires_at,
    });
    sha2::Sha256::digest(canonical_json(&doc).as_bytes()).into()
}

/// How a POST ended.
pub(crate) enum Posted {
    /// The key was new: the action is being carried out.
    First,
    /// The same key and content again.
    Again,
    /// The same key with other content.
    Conflict(ExecStatus),
    /// No executor offers the kind.
    Unsupported(String),
}

impl Actions {
    pub fn offer(&mut self, exec: Arc<dyn Executor>, caps: Vec<ActionCapability>) {
        self.offered.push(Offered { exec, caps });
    }

    /// Every kind offered, in the order the executors were added.
    pub fn capabilities(&self) -> Vec<ActionCapability> {
        let mut out: Vec<ActionCapability> = Vec::new();
        for c in self.offered.iter().flat_map(|o| o.caps.iter()) {
            if !out.iter().any(|x| x.kind == c.kind) {
                out.push(c.clone());
            }
        }
        out
    }

    pub fn capability(&self, kind: &str) -> Option<&ActionCapability> {
        self.offered
            .iter()
            .flat_map(|o| o.caps.iter())
            .find(|c| c.kind == kind)
    }

    fn executor(&self, kind: &str) -> Option<Arc<dyn Executor>> {
        self.offered
            .iter()
            .find(|o| o.caps.iter().any(|c| c.kind == kind))
            .map(|o| o.exec.clone())
    }

    fn unsupported(&self, kind: &str) -> String {
        let offered: Vec<String> = self.capabilities().into_iter().map(|c| c.kind).collect();
        format!("this agent does not execute {kind}; it offers {offered:?}")
    }

    pub fn executions(&self) -> Vec<(String, String)> {
        self.executions
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    pub(crate) fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn get(&self, key: &str) -> Option<Received> {
        self.received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// Whether `key` was received already, with this content.
    pub(crate) fn knows(&self, key: &str, a: &Action) -> bool {
        let content = content_digest(a);
        self.received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .is_some_and(|r| r.content == content)
    }

    /// Record `a` under `key` unless the key is known; the caller starts the execution on
    /// `Posted::First`.
    pub(crate) fn receive(&self, key: &str, a: &Action) -> Posted {
        if self.executor(&a.kind).is_none() {
            return Posted::Unsupported(self.unsupported(&a.kind));
        }
        let content = content_digest(a);
        let mut rec = self.received.lock().unwrap_or_else(|e| e.into_inner());
        match rec.get(key) {
            Some(r) if r.content != content => Posted::Conflict(r.status),
            Some(_) => Posted::Again,
            None => {
                rec.insert(
                    key.to_string(),
                    Received {
                        content,
                        action: a.clone(),
                        status: ExecStatus::Executing,
                        error: None,
                        outcome: Value::Null,
                    },
                );
                self.executions
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((key.to_string(), a.id.clone()));
                Posted::First
            }
        }
    }

    fn settle(&self, key: &str, result: Result<Outcome, ExecError>) {
        let mut rec = self.received.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = rec.get_mut(key) {
            match result {
                Ok(o) => {
                    r.status = o.status;
                    r.error = (o.status == ExecStatus::Failed).then(|| {
                        o.detail
                            .get("error")
                            .and_then(Value::as_str)
                            .unwrap_or("the executor reported failure")
                            .to_string()
                    });
                    r.outcome = o.detail;
                }
                Err(e) => {
                    r.status = ExecStatus::Failed;
                    r.error = Some(e.to_string());
                }
            }
        }
    }

    /// The dry run of `a` by the executor that would carry it out.
    pub(crate) async fn plan(&self, a: &Action) -> Result<Plan, (u16, String)> {
        let exec = self
            .executor(&a.kind)
            .ok_or_else(|| (422, self.unsupported(&a.kind)))?;
        exec.plan(a).await.map_err(|e| (502, format!("{e:#}")))
    }

    /// Carry out the action received under `key` (after `delay`), recording how it ended.
    pub(crate) async fn run(&self, key: &str, delay: Duration) {
        let Some(r) = self.get(key) else { return };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let result = match self.executor(&r.action.kind) {
            Some(exec) => exec.execute(&r.action, key).await,
            None => Err(ExecError::Permanent(format!(
                "no executor for {}",
                r.action.kind
            ))),
        };
        self.settle(key, result);
    }

    /// Undo what `key` did, where its kind can be undone. `Err` carries the HTTP answer.
    pub(crate) async fn roll_back(&self, key: &str) -> Result<Value, (u16, Value)> {
        let Some(r) = self.get(key) else {
            return Err((404, json!({"error": format!("no action with key {key}")})));
        };
        match r.status {
            ExecStatus::RolledBack => return Ok(r.answer(key)),
            ExecStatus::Done => {}
            s => {
                return Err((
                    409,
                    json!({"error": format!("the action is {}: only a done action can be rolled back", status_name(s)), "status": s}),
                ));
            }
        }
        let reversible = self
            .capability(&r.action.kind)
            .is_some_and(|c| c.reversible);
        let Some(exec) = self.executor(&r.action.kind).filter(|_| reversible) else {
            return Err((
                409,
                json!({"error": format!("{} cannot be undone", r.action.kind), "status": r.status}),
            ));
        };
        match exec.rollback(&r.action, key).await {
            Ok(o) if o.status == ExecStatus::RolledBack => {
                let mut rec = self.received.lock().unwrap_or_else(|e| e.into_inner());
                let Some(cur) = rec.get_mut(key) else {
                    return Err((404, json!({"error": format!("no action with key {key}")})));
                };
                cur.status = ExecStatus::RolledBack;
                cur.outcome = json!({"executed": cur.outcome, "rolled_back": o.detail});
                Ok(cur.answer(key))
            }
            Ok(o) => Err((
                502,
                json!({"error": format!("the executor answered {} to the rollback", status_name(o.status)), "detail": o.detail}),
            )),
            Err(ExecError::Transient(m)) => Err((503, json!({"error": m}))),
            Err(ExecError::Permanent(m)) => Err((409, json!({"error": m, "status": r.status}))),
        }
    }
}

fn status_name(s: ExecStatus) -> &'static str {
    match s {
        ExecStatus::Executing => "executing",
        ExecStatus::Done => "done",
        ExecStatus::Failed => "failed",
        ExecStatus::RolledBack => "rolled_back",
    }
}
