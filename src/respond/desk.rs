//! The response desk: the one place the action verbs live, whichever face calls them (the CLI
//! now, the TUI and MCP later). It joins the pure workflow (`core::workflow`), the policy, the
//! responder's SSH key, the shared queue and audit log (`store`) and the executors.
//!
//! Every transition and its audit record are written in one IMMEDIATE transaction, re-reading
//! the action inside it, so responders in several processes never lose each other's updates.
//! Every refusal is audited too, with who tried what, then returned as exit 4.
//!
//! Execution: one transaction moves the action to `executing`, writes the INTENT (keyed by the
//! action hash) and its audit record, durably; then the executor is called under that key, with
//! capped exponential backoff and jitter on transient errors; then the outcome, the new state and
//! the audit record are written together. `recover` resolves intents a crashed process left.

use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use serde_json::{Value, json};

use crate::auth::{AllowedSigners, Signer, approval};
use crate::core::SafeText;
use crate::core::model::Millis;
use crate::core::playbook::{Firing, Hold, Mode, Playbook, Trigger};
use crate::core::policy::{IdentityFacts, Policy};
use crate::core::text::escape_value;
use crate::core::workflow::{self, Action, ActionState, Proposal, Proposer, Refusal, Via};
use crate::exit::Failure;
use crate::respond::redact::Redacting;
use crate::respond::suggest::{Offers, offers_of};
use crate::respond::{
    ExecError, ExecStatus, Executor, Outcome, Plan, unexecutable_plan, what_to_configure,
};
use crate::store::audit::{AuditEvent, append_in};
use crate::store::{Intent, Store, Tx};

/// What a face asks to stage.
#[derive(Debug, Clone)]
pub struct StageRequest {
    /// The identity key (`aws:arn:…`).
    pub identity: String,
    /// `provider.verb`.
    pub kind: String,
    /// What it acts on; `{"identity": …}` when `None`.
    pub target: Option<Value>,
    /// An object of the kind's params.
    pub params: Value,
    pub reason: String,
    pub evidence: Vec<String>,
    pub via: Via,
    /// The AI agent (MCP client name) proposing it; required with `Via::Mcp`.
    pub agent: Option<String>,
    /// What the console knows about the identity (for pre-authorised playbooks).
    pub facts: IdentityFacts,
}

impl StageRequest {
    /// The request with what someone typed or an agent sent made inert, as telemetry is
    /// (`SafeText`): nothing raw reaches the queue, the audit log or a responder's screen.
    pub fn inert(mut self) -> StageRequest {
        let safe = |s: &mut String| *s = SafeText::new(s).to_string();
        safe(&mut self.identity);
        safe(&mut self.kind);
        safe(&mut self.reason);
        self.evidence.iter_mut().for_each(safe);
        if let Some(a) = &mut self.agent {
            safe(a);
        }
        escape_value(&mut self.params);
        if let Some(t) = &mut self.target {
            escape_value(t);
        }
        self
    }
}

/// Retries of transient executor errors: capped exponential backoff with full jitter.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            attempts: 5,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(5),
        }
    }
}

impl Retry {
    /// The pause before attempt `n` (1-based retry count): uniform in [d/2, d].
    pub fn delay(&self, n: u32) -> Duration {
        let exp = self.base.saturating_mul(1u32 << n.min(16));
        let d = exp.min(self.cap);
        let mut b = [0u8; 4];
        let _ = getrandom_fill(&mut b);
        let frac = 0.5 + (u32::from_le_bytes(b) as f64 / u32::MAX as f64) * 0.5;
        d.mul_f64(frac)
    }
}

fn getrandom_fill(b: &mut [u8]) -> Result<(), rand_core::Error> {
    use rand_core::RngCore;
    rand_core::OsRng.try_fill_bytes(b)
}

type Clock = Arc<dyn Fn() -> Millis + Send + Sync>;

pub struct Desk {
    store: Arc<Store>,
    policy: Policy,
    allowed: Option<AllowedSigners>,
    signer: Option<Signer>,
    executors: Vec<Arc<dyn Executor>>,
    clock: Clock,
    retry: Retry,
    /// The face acting through this desk (console, command line), recorded on every act.
    via: Via,
    /// `host:pid`, written on intents so recovery can tell a live owner from a dead one.
    owner: String,
    /// Test hook: pause (seconds) at a named point (`BLASTDOOR_TEST_PAUSE_AT=after_intent`).
    pause_at: Option<(String, Duration)>,
}

fn wall_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// An intent older than this is recovered even if its owner seems alive (or is on another host).
const STALE_INTENT_MS: Millis = 10 * 60_000;

/// A new action id: `act_`, the time in milliseconds (12 hex digits), then 6 random bytes.
/// Ids made later sort later, so the audit log's index on action ids grows at its end instead of
/// touching a page at random for every new action (3× fewer pages written per group commit);
/// the random part keeps ids made in the same millisecond, on any host, apart.
pub fn new_action_id(now: Millis) -> String {
    let mut b = [0u8; 6];
    let _ = getrandom_fill(&mut b);
    let ms = now.clamp(0, (1 << 48) - 1) as u64;
    format!("act_{ms:012x}{}", hex::encode(b))
}

fn refused(r: Refusal) -> anyhow::Error {
    Failure::refused(r.0)
}

impl Desk {
    /// A desk on `store` under `policy`, acting as the holder of `signer` (if any), carrying
    /// actions out through `executors`. Reads the policy's allowed signers file now.
    pub fn open(
        store: Arc<Store>,
        policy: Policy,
        signer: Option<Signer>,
        executors: Vec<Arc<dyn Executor>>,
    ) -> anyhow::Result<Desk> {
        let allowed = match &policy.allowed_signers {
            Some(p) => Some(AllowedSigners::load(p).map_err(|e| Failure::usage(e.join("\n")))?),
            None => None,
        };
        let pause_at = std::env::var("BLASTDOOR_TEST_PAUSE_AT").ok().map(|p| {
            let secs = std::env::var("BLASTDOOR_TEST_PAUSE_SECS")
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .unwrap_or(30.0);
            (p, Duration::from_secs_f64(secs))
        });
        Ok(Desk {
            store,
            policy,
            allowed,
            signer,
            // Whatever an executor answers is redacted before it is kept or shown (agents'
            // answers too; providers' are already, and redacting twice changes nothing).
            executors: executors
                .into_iter()
                .map(|e| Arc::new(Redacting(e)) as Arc<dyn Executor>)
                .collect(),
            clock: Arc::new(wall_ms),
            retry: Retry::default(),
            via: Via::Cli,
            owner: format!("{}:{}", host(), std::process::id()),
            pause_at,
        })
    }

    /// Read time from `clock` instead of the wall (tests).
    pub fn with_clock(mut self, clock: impl Fn() -> Millis + Send + Sync + 'static) -> Desk {
        self.clock = Arc::new(clock);
        self
    }

    /// Record acts through this desk as coming from `via` (the console passes `Via::Tui`).
    pub fn with_via(mut self, via: Via) -> Desk {
        self.via = via;
        self
    }

    pub fn with_retry(mut self, retry: Retry) -> Desk {
        self.retry = retry;
        self
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    fn now(&self) -> Millis {
        (self.clock)()
    }

    async fn pause(&self, point: &str) {
        if let Some((p, d)) = &self.pause_at
            && p == point
        {
            eprintln!("blastdoor: test pause at {point}");
            tokio::time::sleep(*d).await;
        }
    }

    /// The responder at this desk: the principal the allowed signers give the signer's key.
    /// No key is a usage error (exit 2); an unknown key is refused (exit 4) naming its
    /// fingerprint.
    pub fn whoami(&self) -> anyhow::Result<String> {
        let signer = self.signer.as_ref().ok_or_else(|| {
            Failure::usage(
                "no SSH key: give --key FILE, or load your key into ssh-agent (SSH_AUTH_SOCK)",
            )
        })?;
        let allowed = self.allowed()?;
        signer.principal(allowed).map_err(Failure::refused)
    }

    /// `whoami` for an act on the shared queue: a key the allowed signers do not name is refused
    /// (exit 4) and the attempt is audited, with the key's fingerprint, so that someone trying
    /// keys leaves a trace.
    fn responder(&self, op: &str, id: Option<&str>) -> anyhow::Result<String> {
        let signer = self.signer.as_ref().ok_or_else(|| {
            Failure::usage(
                "no SSH key: give --key FILE, or load your key into ssh-agent (SSH_AUTH_SOCK)",
            )
        })?;
        let allowed = self.allowed()?;
        signer.principal(allowed).or_else(|reason| {
            let now = self.now();
            self.tx(|tx| {
                append_in(
                    tx,
                    &AuditEvent {
                        kind: "refused".into(),
                        actor: format!("key {}", signer.fingerprint()),
                        via: self.via.as_str().into(),
                        action_id: id.map(str::to_string),
                        detail: json!({"op": op, "reason": reason}),
                    },
                    now,
                )?;
                Ok(())
            })?;
            Err(Failure::refused(reason))
        })
    }

    fn allowed(&self) -> anyhow::Result<&AllowedSigners> {
        self.allowed.as_ref().ok_or_else(|| {
            Failure::usage(format!(
                "{}: the policy names no allowed_signers file, so no responder can be identified",
                self.policy
                    .path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "no policy (--policy FILE)".into())
            ))
        })
    }

    fn executor_for(
        &self,
        kind: &str,
        kinds: &[(Arc<dyn Executor>, Vec<String>)],
    ) -> Option<Arc<dyn Executor>> {
        kinds
            .iter()
            .find(|(_, ks)| ks.iter().any(|k| k == kind))
            .map(|(e, _)| e.clone())
    }

    async fn find_executor(&self, kind: &str) -> Option<Arc<dyn Executor>> {
        let mut all = Vec::new();
        for e in &self.executors {
            all.push((e.clone(), e.kinds().await));
            if let Some(found) = self.executor_for(kind, &all) {
                return Some(found);
            }
        }
        None
    }

    /// Run `f` in one write transaction (the state's writer lock held throughout).
    fn tx<T: Send>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> anyhow::Result<T> + Send,
    ) -> anyhow::Result<T> {
        self.store.write(f)
    }

    /// Apply `op` to action `id` as `actor`: re-read it, expire it if due, apply, save and audit
    /// `kind` in one transaction; a refusal is audited and returned as exit 4.
    fn transition(
        &self,
        id: &str,
        actor: &str,
        via: Via,
        kind: &str,
        detail: Value,
        op: impl FnOnce(&mut Action, Millis) -> Result<(), Refusal> + Send,
    ) -> anyhow::Result<Action> {
        let now = self.now();
        let r = self.tx(|tx| {
            let mut a = load(tx, id)?;
            if workflow::expire_if_due(&mut a, now) {
                tx.save_action(&a)?;
                audit(
                    tx,
                    "expired",
                    "blastdoor",
                    via,
                    &a,
                    json!({"expires_at": a.expires_at}),
                    now,
                )?;
            }
            match op(&mut a, now) {
                Ok(()) => {
                    tx.save_action(&a)?;
                    let mut d = detail;
                    if let Value::Object(m) = &mut d {
                        m.insert("hash".into(), a.hash.clone().into());
                        m.insert("state".into(), a.state.as_str().into());
                    }
                    audit(tx, kind, actor, via, &a, d, now)?;
                    Ok(Ok(a))
                }
                Err(r) => {
                    audit(
                        tx,
                        "refused",
                        actor,
                        via,
                        &a,
                        json!({"op": kind, "reason": r.0, "state": a.state.as_str()}),
                        now,
                    )?;
                    Ok(Err(r))
                }
            }
        })?;
        r.map_err(refused)
    }

    /// Propose an action. For `Via::Mcp` the agent must be named in the policy with
    /// `may = "propose"` (and within its rate); otherwise the responder is the key holder.
    /// A pre-authorised playbook stages and executes at once (via `playbook`).
    pub async fn stage(&self, req: StageRequest) -> anyhow::Result<Action> {
        let req = req.inert();
        let now = self.now();
        validate_kind(&req)?;
        let (principal, via) = match (req.via, &req.agent) {
            (Via::Mcp, Some(agent)) => {
                let principal = format!("agent:{agent}");
                if !self.policy.agents.get(agent).is_some_and(|g| g.may_propose) {
                    let msg = format!(
                        "agent '{agent}' may not propose: the policy ({}) has no [agents.{agent}] with may = \"propose\"",
                        self.policy_name()
                    );
                    self.tx(|tx| {
                        append_in(
                            tx,
                            &AuditEvent {
                                kind: "agent_refused".into(),
                                actor: principal.clone(),
                                via: "mcp".into(),
                                action_id: None,
                                detail: json!({"kind": req.kind, "identity": req.identity, "reason": msg}),
                            },
                            now,
                        )?;
                        Ok(())
                    })?;
                    return Err(Failure::refused(msg));
                }
                (principal, Via::Mcp)
            }
            (Via::Mcp, None) => {
                return Err(Failure::usage("an MCP proposal needs the agent's name"));
            }
            (via, _) => (self.responder("stage", None)?, via),
        };
        let mut params = req.params.clone();
        if params.is_null() {
            params = json!({});
        }
        let target = req
            .target
            .clone()
            .unwrap_or_else(|| json!({"identity": req.identity}));
        // A standing playbook runs whoever proposes the matching action, an AI agent too: the
        // policy pre-authorised the case, not the proposer.
        let preauthorized = self.policy.preauthorizes(&req.kind, &req.facts);
        let proposer = Proposer {
            principal: principal.clone(),
            via: if preauthorized { Via::Playbook } else { via },
            agent: req.agent.clone(),
        };
        let rules = self.policy.rules_for(&req.kind);
        let mut draft = workflow::stage(
            Proposal {
                id: new_action_id(self.now()),
                identity: req.identity.clone(),
                kind: req.kind.clone(),
                target,
                params,
                proposed_by: proposer,
                reason: req.reason.clone(),
                evidence: req.evidence.clone(),
                reversible: false,
                dry_run: Default::default(),
            },
            rules,
            preauthorized,
            now,
        );
        self.plan_into(&mut draft).await;
        let agent = req.agent.clone();
        let rate = agent
            .as_ref()
            .and_then(|a| self.policy.agents.get(a))
            .and_then(|g| g.rate_per_minute);
        let staged = self.tx(|tx| {
            if let (Some(agent), Some(rate)) = (&agent, rate) {
                let n = tx.count_by_agent_since(agent, now - 60_000)?;
                if n >= rate {
                    let msg = format!(
                        "agent '{agent}' has proposed {n} action(s) in the last minute; the policy allows {rate}"
                    );
                    append_in(
                            tx,
                        &AuditEvent {
                            kind: "agent_refused".into(),
                            actor: principal.clone(),
                            via: "mcp".into(),
                            action_id: None,
                            detail: json!({"kind": draft.kind, "identity": draft.identity, "reason": msg}),
                        },
                        now,
                    )?;
                    return Ok(Err(Refusal(msg)));
                }
            }
            tx.insert_action(&draft)?;
            audit(
                    tx,
                "proposed",
                &principal,
                draft.proposed_by.via,
                &draft,
                json!({
                    "kind": draft.kind, "identity": draft.identity, "target": draft.target,
                    "params": draft.params, "reason": draft.reason, "hash": draft.hash,
                    "required_approvals": draft.required_approvals,
                    "preauthorized": draft.preauthorized, "agent": draft.proposed_by.agent,
                }),
                now,
            )?;
            Ok(Ok(draft))
        })?;
        let staged = staged.map_err(refused)?;
        if staged.preauthorized {
            return self
                .run(staged, &principal, Via::Playbook, Authority::Playbook)
                .await;
        }
        Ok(staged)
    }

    /// Ask the kind's executor what executing `draft` would do (its dry run, whether it can be
    /// undone); an action nothing here executes gets a plan that says so.
    async fn plan_into(&self, draft: &mut Action) {
        let plan = match self.find_executor(&draft.kind).await {
            Some(e) => e.plan(draft).await.unwrap_or_else(|err| {
                let mut p = unexecutable_plan(draft);
                p.dry_run
                    .impact
                    .insert(0, format!("plan unavailable: {err}"));
                p
            }),
            None => unexecutable_plan(draft),
        };
        let Plan {
            reversible,
            dry_run,
        } = plan;
        draft.reversible = reversible;
        draft.dry_run = dry_run;
    }

    /// A standing playbook of this desk's policy fires: inside one transaction the pauses and
    /// the limits are checked against every firing so far (whichever runner made it) and the
    /// action is staged with its trigger, or the hold is returned; in enforce mode it is then
    /// executed at once, as pre-authorised. No human key is involved: the proposer is
    /// `playbook:NAME`.
    pub async fn fire(&self, req: FireRequest) -> anyhow::Result<Fired> {
        let Some(pb) = self.policy.playbook(&req.playbook).cloned() else {
            return Err(Failure::usage(format!(
                "no playbook named '{}' in {}",
                req.playbook,
                self.policy_name()
            )));
        };
        let now = self.now();
        let principal = format!("playbook:{}", pb.name);
        let enforce = pb.mode == Mode::Enforce;
        let rules = self.policy.rules_for(&pb.action);
        let mut params = req.params;
        escape_value(&mut params);
        let mut trigger = req.trigger;
        trigger.values.values_mut().for_each(escape_value);
        let mut draft = workflow::stage(
            Proposal {
                id: new_action_id(now),
                identity: SafeText::new(&req.identity).to_string(),
                kind: pb.action.clone(),
                target: json!({"identity": SafeText::new(&req.identity).to_string()}),
                params,
                proposed_by: Proposer {
                    principal: principal.clone(),
                    via: Via::Playbook,
                    agent: None,
                },
                reason: SafeText::new(&req.reason).to_string(),
                evidence: req
                    .evidence
                    .iter()
                    .map(|e| SafeText::new(e).to_string())
                    .collect(),
                reversible: false,
                dry_run: Default::default(),
            },
            rules,
            enforce,
            now,
        );
        draft.trigger = Some(trigger);
        self.plan_into(&mut draft).await;
        let staged = self.tx(|tx| {
            if crate::store::runner::is_paused(&crate::store::runner::paused(tx)?, &pb.name) {
                return Ok(Err(Hold::Paused));
            }
            let history = firings(tx)?;
            let key = draft
                .trigger
                .as_ref()
                .map(|t| t.key.clone())
                .unwrap_or_default();
            if let Err(h) = pb.decide(&draft.identity, &key, draft.reversible, &history, now) {
                if h.is_notable() {
                    append_in(
                        tx,
                        &AuditEvent {
                            kind: "playbook_held".into(),
                            actor: principal.clone(),
                            via: Via::Playbook.as_str().into(),
                            action_id: None,
                            detail: json!({"playbook": pb.name, "identity": draft.identity,
                                "kind": draft.kind, "key": key, "reason": h.describe(&pb),
                                "trigger": draft.trigger}),
                        },
                        now,
                    )?;
                }
                return Ok(Err(h));
            }
            tx.insert_action(&draft)?;
            audit(
                tx,
                "proposed",
                &principal,
                Via::Playbook,
                &draft,
                json!({
                    "kind": draft.kind, "identity": draft.identity, "target": draft.target,
                    "params": draft.params, "reason": draft.reason, "hash": draft.hash,
                    "required_approvals": draft.required_approvals,
                    "preauthorized": draft.preauthorized, "playbook": pb.name,
                    "mode": pb.mode.as_str(), "trigger": draft.trigger,
                }),
                now,
            )?;
            Ok(Ok(draft))
        })?;
        let staged = match staged {
            Ok(a) => a,
            Err(h) => return Ok(Fired::Held(h, pb)),
        };
        if !enforce {
            return Ok(Fired::Staged(staged));
        }
        match self
            .run(
                staged.clone(),
                &principal,
                Via::Playbook,
                Authority::Playbook,
            )
            .await
        {
            Ok(a) => Ok(Fired::Staged(a)),
            // Failed at the executor (the action says so) or refused: the action as it is now.
            Err(e) => Ok(Fired::Failed(self.show(&staged.id)?, format!("{e:#}"))),
        }
    }

    /// Every action a playbook staged, as its limits count them.
    pub fn firings(&self) -> anyhow::Result<Vec<Firing>> {
        self.store.read(firings)
    }

    fn policy_name(&self) -> String {
        self.policy
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "no policy file".into())
    }

    /// Approve with the desk's key: signs the action hash (SSHSIG), verifies the signature
    /// against the allowed signers, and records it. The proposer is refused.
    pub async fn approve(&self, id: &str) -> anyhow::Result<Action> {
        let me = self.responder("approve", Some(id))?;
        let signer = self.signer.as_ref().expect("whoami checked the signer");
        let allowed = self.allowed()?;
        let current = self.show(id)?;
        let sig = signer.sign(current.hash.as_bytes())?;
        let verified = allowed.verify(&sig, current.hash.as_bytes());
        let fp = signer.fingerprint();
        let (ok, principal) = match &verified {
            Ok((p, _)) => (p == &me, p.clone()),
            Err(_) => (false, me.clone()),
        };
        let rules = self.policy.rules_for(&current.kind);
        let signed_hash = current.hash.clone();
        self.transition(
            id,
            &principal,
            self.via,
            "approved",
            json!({"key": fp, "signature": sig}),
            |a, now| {
                if a.hash != signed_hash {
                    return Err(Refusal(format!(
                        "{} changed while {principal} was signing: approve again",
                        a.id
                    )));
                }
                workflow::approve(a, &principal, &sig, &fp, ok, now, rules)
            },
        )
    }

    /// Deny: it will never run.
    pub async fn deny(&self, id: &str, reason: &str) -> anyhow::Result<Action> {
        let me = self.responder("deny", Some(id))?;
        self.transition(
            id,
            &me,
            self.via,
            "denied",
            json!({"reason": SafeText::new(reason)}),
            |a, now| workflow::deny(a, &me, now),
        )
    }

    /// Execute an approved action at its executor.
    pub async fn execute(&self, id: &str) -> anyhow::Result<Action> {
        let me = self.responder("execute", Some(id))?;
        let a = self.show(id)?;
        self.run(a, &me, self.via, Authority::Approvals).await
    }

    /// Begin, journal, dispatch, record. Refusals (approvals that do not verify, too few of them,
    /// a hash that does not match the content) are audited and exit 4; an action nothing here can
    /// carry out is refused before anything is spent (exit 2, still approved); an executor that fails
    /// after its retries leaves the action `failed` and is exit 1.
    async fn run(
        &self,
        a: Action,
        actor: &str,
        via: Via,
        authority: Authority,
    ) -> anyhow::Result<Action> {
        self.refuse_unexecutable(&a, actor, via).await?;
        let exec = self.find_executor(&a.kind).await;
        let rules = self.policy.rules_for(&a.kind);
        let executor_name = exec
            .as_ref()
            .map(|e| e.name())
            .unwrap_or_else(|| "none".into());
        let key = a.key().to_string();
        let owner = self.owner.clone();
        let now = self.now();
        let begun = self.tx(|tx| {
            let mut a = load(tx, &a.id)?;
            if workflow::expire_if_due(&mut a, now) {
                tx.save_action(&a)?;
                audit(tx, "expired", "blastdoor", via, &a, json!({}), now)?;
            }
            // The approvals are verified here, where the action happens, from what is in the
            // state now: its hash against its content, each signature against the allowed
            // signers, their number against this desk's policy. A pre-authorised playbook that
            // this desk's policy allowed a moment ago needs no approvals, but its content must
            // still be what was staged.
            let verified = match authority {
                Authority::Approvals => approval::verify(
                    &a,
                    self.allowed.as_ref(),
                    rules,
                    now,
                    approval::When::Acting,
                ),
                Authority::Playbook => {
                    approval::verify_playbook(&a, rules, now, approval::When::Acting)
                        .map(|()| Vec::new())
                }
            };
            let mut next = a.clone();
            let checked = workflow::begin_execution(&mut next, now, rules).and(verified);
            let approvers = match checked {
                Ok(v) => {
                    a = next;
                    v
                }
                Err(r) => {
                    audit(
                        tx,
                        "refused",
                        actor,
                        via,
                        &a,
                        json!({"op": "execute", "reason": r.0, "state": a.state.as_str()}),
                        now,
                    )?;
                    return Ok(Err(r));
                }
            };
            tx.save_action(&a)?;
            audit(
                tx,
                "executing",
                actor,
                via,
                &a,
                json!({"hash": a.hash, "approvers": approvers,
                    "preauthorized": authority == Authority::Playbook}),
                now,
            )?;
            if exec.is_some() {
                tx.intent(a.key(), &a.id, &executor_name, &owner, now)?;
                audit(
                    tx,
                    "intent",
                    actor,
                    via,
                    &a,
                    json!({"key": a.key(), "executor": executor_name}),
                    now,
                )?;
            }
            Ok(Ok(a))
        })?;
        let a = begun.map_err(refused)?;
        let Some(exec) = exec else {
            let provider = a.kind.split('.').next().unwrap_or("?");
            let msg = format!(
                "no executor for {provider}.* configured{}",
                if provider == "agent" {
                    ": give --agent URL of an agent whose /v1/health lists this kind"
                } else {
                    ""
                }
            );
            let a = self.finish(&a, actor, via, Err(msg.clone()), None)?;
            return Err(anyhow!("{}: {msg}; it is now {}", a.id, a.state));
        };
        self.pause("after_intent").await;
        let result = self
            .dispatch(exec.as_ref(), &a, &key)
            .await
            .map_err(Undelivered::into_message);
        let a = self.finish(&a, actor, via, result, Some(&key))?;
        match a.state {
            ActionState::Failed => Err(anyhow!(
                "{} failed: {}; handed back to a human",
                a.id,
                a.error.clone().unwrap_or_default()
            )),
            _ => Ok(a),
        }
    }

    /// Every kind the executors here offer now, as suggestions judge executability.
    pub async fn offers(&self) -> Offers {
        offers_of(&self.executors).await
    }

    /// Refuse before spending: an action that no executor or agent here can carry out is
    /// refused (exit 2, naming what to configure) and audited before anything moves, so it
    /// stays as it was (`approved`) for when one is configured.
    async fn refuse_unexecutable(&self, a: &Action, actor: &str, via: Via) -> anyhow::Result<()> {
        if self.find_executor(&a.kind).await.is_some() {
            return Ok(());
        }
        let why = what_to_configure(&a.kind);
        let now = self.now();
        self.tx(|conn| {
            audit(
                conn,
                "refused",
                actor,
                via,
                a,
                json!({"op": "execute", "reason": why, "state": a.state.as_str()}),
                now,
            )
        })?;
        Err(Failure::usage(format!(
            "{} ({}) cannot be executed here: {why}; it stays {}",
            a.id, a.kind, a.state
        )))
    }

    /// Call the executor under `key`, retrying transient errors with capped exponential
    /// backoff and jitter. Always the same key: a resend is idempotent at the executor.
    async fn dispatch(
        &self,
        exec: &dyn Executor,
        a: &Action,
        key: &str,
    ) -> Result<Outcome, Undelivered> {
        let mut last = String::new();
        for attempt in 0..self.retry.attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(self.retry.delay(attempt)).await;
            }
            match exec.execute(a, key).await {
                Ok(o) => return Ok(o),
                Err(ExecError::Permanent(m)) => return Err(Undelivered::Refused(m)),
                Err(ExecError::Transient(m)) => last = m,
            }
        }
        Err(Undelivered::Unreachable(format!(
            "{} (after {} attempts)",
            last,
            self.retry.attempts.max(1)
        )))
    }

    /// Record an executor's answer: journal outcome, state, audit, in one transaction.
    fn finish(
        &self,
        a: &Action,
        actor: &str,
        via: Via,
        result: Result<Outcome, String>,
        key: Option<&str>,
    ) -> anyhow::Result<Action> {
        let now = self.now();
        self.tx(|tx| {
            let mut cur = load(tx, &a.id)?;
            if cur.state != ActionState::Executing {
                // Someone (a recovery) recorded it already.
                return Ok(cur);
            }
            let (kind, detail) = match &result {
                Ok(o) if matches!(o.status, ExecStatus::Done | ExecStatus::RolledBack) => {
                    workflow::complete(&mut cur, o.detail.clone(), now).map_err(refused)?;
                    ("executed", json!({"outcome": o.detail, "key": key}))
                }
                Ok(o) => {
                    let msg = o
                        .detail
                        .get("error")
                        .and_then(Value::as_str)
                        .unwrap_or("the executor reported failure")
                        .to_string();
                    workflow::fail(&mut cur, &msg, now).map_err(refused)?;
                    (
                        "failed",
                        json!({"error": msg, "outcome": o.detail, "key": key}),
                    )
                }
                Err(m) => {
                    workflow::fail(&mut cur, m, now).map_err(refused)?;
                    ("failed", json!({"error": m, "key": key}))
                }
            };
            if let Some(k) = key {
                tx.outcome(k, &serde_json::to_string(&detail)?, now)?;
            }
            tx.save_action(&cur)?;
            audit(tx, kind, actor, via, &cur, detail, now)?;
            Ok(cur)
        })
    }

    /// Undo a done, reversible action at its executor.
    pub async fn rollback(&self, id: &str) -> anyhow::Result<Action> {
        let me = self.responder("rollback", Some(id))?;
        let now = self.now();
        let a = self.show(id)?;
        // Undoing acts too: the action must be one that was approved (or that this desk's
        // policy pre-authorises), exactly as the state now shows it, or an edited or forged
        // "done" row could re-enable what a responder contained.
        let rules = self.policy.rules_for(&a.kind);
        let genuine = if self.policy.playbook_authorizes(&a) {
            approval::verify_playbook(&a, rules, now, approval::When::Undoing)
        } else {
            approval::verify(
                &a,
                self.allowed.as_ref(),
                rules,
                now,
                approval::When::Undoing,
            )
            .map(|_| ())
        };
        if let Err(r) = workflow::can_roll_back(&a).and(genuine) {
            self.tx(|tx| {
                audit(
                    tx,
                    "refused",
                    &me,
                    self.via,
                    &a,
                    json!({"op": "rollback", "reason": r.0}),
                    now,
                )
            })?;
            return Err(refused(r));
        }
        let exec = self.find_executor(&a.kind).await.ok_or_else(|| {
            anyhow!(
                "{}: no executor for {} configured to roll it back",
                a.id,
                a.kind
            )
        })?;
        let key = a.key().to_string();
        // An agent that checks approvals wants to know who asks for the undo.
        let proof = self
            .signer
            .as_ref()
            .expect("responder() checked the signer")
            .sign(approval::rollback_message(&a.hash).as_bytes())?;
        let mut last = String::new();
        let mut done = None;
        for attempt in 0..self.retry.attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(self.retry.delay(attempt)).await;
            }
            match exec.rollback_signed(&a, &key, &proof).await {
                Ok(o) => {
                    done = Some(o);
                    break;
                }
                Err(ExecError::Permanent(m)) => {
                    last = m;
                    break;
                }
                Err(ExecError::Transient(m)) => last = m,
            }
        }
        match done {
            Some(o) if o.status == ExecStatus::RolledBack => self.transition(
                id,
                &me,
                self.via,
                "rolled_back",
                json!({"outcome": o.detail, "key": key}),
                workflow::rolled_back,
            ),
            other => {
                let msg = match other {
                    Some(o) => format!("the executor answered {:?}: {}", o.status, o.detail),
                    None => last,
                };
                self.tx(|tx| {
                    audit(
                        tx,
                        "rollback_failed",
                        &me,
                        self.via,
                        &a,
                        json!({"error": msg}),
                        self.now(),
                    )
                })?;
                Err(anyhow!("{}: rollback failed: {msg}; it stays done", a.id))
            }
        }
    }

    /// Ask the executors about the done actions they carried out: one that an executor reports
    /// rolled back (undone at the agent, by someone else) is recorded as such in the queue and
    /// the audit log, with the executor that reported it. Executors that do not answer are
    /// asked again next time. Returns the actions it changed.
    pub async fn sync_with_executors(&self) -> anyhow::Result<Vec<Action>> {
        let done: Vec<(Action, Intent)> = self.store.read(|tx| {
            let mut out = Vec::new();
            for a in tx.actions()? {
                if a.state == ActionState::Done
                    && let Some(i) = tx.intent_for(a.key())?
                {
                    out.push((a, i));
                }
            }
            Ok(out)
        })?;
        let mut changed = Vec::new();
        for (a, intent) in done {
            let Some(exec) = self.executors.iter().find(|e| e.name() == intent.executor) else {
                continue;
            };
            let Ok(Some(o)) = exec.status(a.key()).await else {
                continue;
            };
            if o.status != ExecStatus::RolledBack {
                continue;
            }
            let now = self.now();
            let r = self.tx(|tx| {
                let mut cur = load(tx, &a.id)?;
                if cur.state != ActionState::Done {
                    return Ok(None);
                }
                cur.state = ActionState::RolledBack;
                cur.updated_at = now;
                tx.save_action(&cur)?;
                audit(
                    tx,
                    "rolled_back",
                    "blastdoor",
                    self.via,
                    &cur,
                    json!({"reported_by": intent.executor, "outcome": o.detail,
                        "note": "rolled back at the executor, not through this desk"}),
                    now,
                )?;
                Ok(Some(cur))
            })?;
            changed.extend(r);
        }
        Ok(changed)
    }

    /// Every action, oldest first (open ones past their expiry shown as expired).
    pub fn list(&self) -> anyhow::Result<Vec<Action>> {
        let now = self.now();
        let mut all = self.store.read(|tx| tx.actions())?;
        for a in &mut all {
            workflow::expire_if_due(a, now);
        }
        Ok(all)
    }

    /// One action (exit 2 naming the id when there is none).
    pub fn show(&self, id: &str) -> anyhow::Result<Action> {
        let mut a = self.store.read(|tx| load(tx, id))?;
        workflow::expire_if_due(&mut a, self.now());
        Ok(a)
    }

    /// Resolve intents a crashed process left: ask the executor what became of each key and
    /// record it; a key it never received is sent again under the same key (idempotent).
    /// Intents whose owner is still alive (and not stale) are left alone. Returns the actions
    /// it settled.
    pub async fn recover(&self) -> anyhow::Result<Vec<Action>> {
        let now = self.now();
        let open = self.store.read(|tx| tx.open_intents())?;
        let mut settled = Vec::new();
        for i in open {
            if i.owner == self.owner
                || (owner_alive(&i.owner) && now - i.intent_at < STALE_INTENT_MS)
            {
                continue;
            }
            let a = self.store.read(|tx| load(tx, &i.action_id))?;
            if a.state != ActionState::Executing {
                continue;
            }
            let exec = match self.executors.iter().find(|e| e.name() == i.executor) {
                Some(e) => Some(e.clone()),
                None => self.find_executor(&a.kind).await,
            };
            let Some(exec) = exec else {
                tracing::warn!(
                    "{}: intent at {} but no such executor configured",
                    a.id,
                    i.executor
                );
                continue;
            };
            let result = match exec.status(&i.key).await {
                Ok(Some(o)) if o.status != ExecStatus::Executing => Ok(o),
                Ok(_) => self.dispatch(exec.as_ref(), &a, &i.key).await,
                Err(_) => self.dispatch(exec.as_ref(), &a, &i.key).await,
            };
            let result = match result {
                Err(Undelivered::Unreachable(m)) => {
                    // Still unreachable: leave the intent for a later recovery.
                    tracing::warn!("{}: recovery could not reach {}: {m}", a.id, i.executor);
                    continue;
                }
                other => other.map_err(Undelivered::into_message),
            };
            self.tx(|tx| {
                audit(
                    tx,
                    "recovered",
                    "blastdoor",
                    Via::Cli,
                    &a,
                    json!({"key": i.key, "owner": i.owner}),
                    now,
                )
            })?;
            settled.push(self.finish(&a, "blastdoor", a.proposed_by.via, result, Some(&i.key))?);
        }
        Ok(settled)
    }
}

/// What lets an execution go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Authority {
    /// Approvals in the action, verified now.
    Approvals,
    /// A standing playbook this desk's policy pre-authorised when it staged the action.
    Playbook,
}

/// What a standing playbook asks the desk to do (`Desk::fire`).
#[derive(Debug, Clone)]
pub struct FireRequest {
    /// The playbook's name in the desk's policy (the desk acts on its own copy of it).
    pub playbook: String,
    pub identity: String,
    /// The kind's params, filled from the identity as `action suggest` fills them.
    pub params: Value,
    pub reason: String,
    pub evidence: Vec<String>,
    pub trigger: Trigger,
}

/// What came of a firing.
#[derive(Debug)]
pub enum Fired {
    /// Staged (propose) or executed (enforce): the action as it is now.
    Staged(Action),
    /// Staged and sent to the executor, which failed or refused: handed back to a human.
    Failed(Action, String),
    /// A limit, a pause or an earlier firing of the same trigger held it.
    Held(Hold, Playbook),
}

fn firings(tx: &mut dyn Tx) -> anyhow::Result<Vec<Firing>> {
    Ok(tx
        .actions()?
        .into_iter()
        .filter(|a| a.proposed_by.via == Via::Playbook)
        .filter_map(|a| {
            let t = a.trigger?;
            Some(Firing {
                playbook: t.playbook,
                identity: a.identity,
                at: a.created_at,
                key: t.key,
            })
        })
        .collect())
}

/// Why a dispatch gave no answer.
enum Undelivered {
    /// Every attempt met a transient error.
    Unreachable(String),
    /// The executor refused (409, 4xx).
    Refused(String),
}

impl Undelivered {
    fn into_message(self) -> String {
        match self {
            Undelivered::Unreachable(m) | Undelivered::Refused(m) => m,
        }
    }
}

fn owner_alive(owner: &str) -> bool {
    let Some((h, pid)) = owner.rsplit_once(':') else {
        return false;
    };
    if h != host() {
        return true; // another host: only staleness tells
    }
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn load(tx: &mut dyn Tx, id: &str) -> anyhow::Result<Action> {
    tx.action(id)?.ok_or_else(|| {
        Failure::usage(format!(
            "{id}: no such action in the queue (`blastdoor action list` shows them)"
        ))
    })
}

fn audit(
    tx: &mut dyn Tx,
    kind: &str,
    actor: &str,
    via: Via,
    a: &Action,
    detail: Value,
    at: Millis,
) -> anyhow::Result<()> {
    append_in(
        tx,
        &AuditEvent {
            kind: kind.to_string(),
            actor: actor.to_string(),
            via: via.as_str().to_string(),
            action_id: Some(a.id.clone()),
            detail,
        },
        at,
    )?;
    Ok(())
}

/// `provider.verb`, and a built-in kind's params present.
fn validate_kind(req: &StageRequest) -> anyhow::Result<()> {
    let ok = req
        .kind
        .split_once('.')
        .is_some_and(|(p, v)| !p.is_empty() && !v.is_empty());
    if !ok {
        return Err(Failure::usage(format!(
            "--kind {}: write provider.verb (aws.disable_access_key, agent.isolate_workload, …)",
            req.kind
        )));
    }
    if req.identity.trim().is_empty() {
        return Err(Failure::usage("--identity is empty"));
    }
    if req.reason.trim().is_empty() {
        return Err(Failure::usage(
            "--reason is empty: say why, for the audit log",
        ));
    }
    let provider = req.kind.split('.').next().unwrap_or("");
    if provider != "agent" {
        match crate::respond::builtin(&req.kind) {
            None => {
                return Err(Failure::usage(format!(
                    "--kind {}: not a known action kind (see INTERFACE.md: aws.*, vault.*, k8s.*, github.*, gcp.*, agent.*)",
                    req.kind
                )));
            }
            Some(b) => {
                let missing: Vec<&str> = b
                    .params
                    .iter()
                    .filter(|p| req.params.get(**p).is_none())
                    .copied()
                    .collect();
                if !missing.is_empty() {
                    return Err(Failure::usage(format!(
                        "--kind {} needs --param {}",
                        req.kind,
                        missing
                            .iter()
                            .map(|m| format!("{m}=…"))
                            .collect::<Vec<_>>()
                            .join(" --param ")
                    )));
                }
            }
        }
    }
    Ok(())
}
