//! The response workflow as the console shows it, in plain data: the action kinds that fit an
//! identity (`KindChoice`, from `suggest_kinds`), queued actions as table rows (`ActionRow`, from
//! the workflow's `Action`), and what the app asks the desk to do (`StageDraft`, `Pending`).
//! Screens are drawn from these, so they can be tested with hand-made data and no store.
//!
//! Everything that came from a person or an agent (reasons, evidence, principals, dry-run
//! text) is `SafeText` here: an agent's proposal is untrusted text on a responder's terminal.

use serde_json::{Map, Value};

use crate::core::Millis;
use crate::core::SafeText;
use crate::core::model::{CredentialKind, CredentialStatus, IdentityKind, Provider};
use crate::core::policy::IdentityFacts;
use crate::core::state::IdentityState;
use crate::core::workflow::{Action, ActionState, Via};
use crate::respond::builtin;

/// Reasons copied into a proposal's evidence.
const EVIDENCE_REASONS: usize = 4;

/// One action kind that fits an identity, with its params filled in from the evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct KindChoice {
    pub kind: String,
    /// In the order the kind documents them.
    pub params: Vec<(String, String)>,
    /// What executing it would do (the dry run in one line).
    pub does: String,
    /// How it is undone; `None` when it cannot be.
    pub undo: Option<String>,
    /// Params the evidence does not give: the console cannot stage it, the CLI can.
    pub missing: Vec<String>,
}

impl KindChoice {
    fn builtin(kind: &str, params: &[(&str, Option<String>)]) -> KindChoice {
        let b = builtin(kind);
        let mut have = Vec::new();
        let mut missing = Vec::new();
        for (k, v) in params {
            match v {
                Some(v) if !v.is_empty() => have.push((k.to_string(), v.clone())),
                _ => missing.push(k.to_string()),
            }
        }
        KindChoice {
            kind: kind.to_string(),
            params: have,
            does: b.map_or_else(|| kind.to_string(), |b| b.does.to_string()),
            undo: b.and_then(|b| b.undo).map(str::to_string),
            missing,
        }
    }

    /// Can be staged as it is.
    pub fn ready(&self) -> bool {
        self.missing.is_empty()
    }

    pub fn params_json(&self) -> Value {
        Value::Object(
            self.params
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect::<Map<String, Value>>(),
        )
    }

    /// `user=ci-bot, access_key_id=AKIA…`.
    pub fn params_label(&self) -> String {
        self.params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The last path segment of an ARN resource (`user/path/ci-bot` → `ci-bot`).
fn arn_name(principal: &str) -> Option<String> {
    let resource = principal.rsplit(':').next()?;
    resource
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The role of an assumed-role ARN (`…:assumed-role/deploy/session` → `deploy`).
fn assumed_role(principal: &str) -> Option<String> {
    let rest = principal.split("assumed-role/").nth(1)?;
    rest.split('/')
        .next()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The value of the first `name=value` tag.
fn tag(st: &IdentityState, name: &str) -> Option<String> {
    st.record.tags.iter().find_map(|t| {
        t.as_str()
            .split_once('=')
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
}

/// The action kinds that fit an identity, most targeted first, with params pre-filled from what
/// is known of it (its credentials, its ARN, its tags), followed by every `agent.*` kind the
/// connected agents advertise in `capabilities`.
pub fn suggest_kinds(st: &IdentityState, capabilities: &[String]) -> Vec<KindChoice> {
    let rec = &st.record;
    let principal = rec.principal.as_str();
    let mut out = Vec::new();
    let live = |s: CredentialStatus| s != CredentialStatus::Revoked;
    match rec.provider {
        Provider::Aws => {
            let user = (rec.kind == IdentityKind::IamUser)
                .then(|| arn_name(principal))
                .flatten();
            for c in rec
                .credentials
                .iter()
                .filter(|c| c.kind == CredentialKind::AccessKey && live(c.status))
            {
                let params = [
                    ("user", user.clone()),
                    ("access_key_id", Some(c.id.to_string())),
                ];
                if c.status == CredentialStatus::Active {
                    out.push(KindChoice::builtin("aws.disable_access_key", &params));
                }
                out.push(KindChoice::builtin("aws.delete_access_key", &params));
            }
            match rec.kind {
                IdentityKind::IamUser => {
                    out.push(KindChoice::builtin("aws.deny_all", &[("user", user)]));
                }
                IdentityKind::IamRole => {
                    let role = arn_name(principal);
                    out.push(KindChoice::builtin(
                        "aws.revoke_role_sessions",
                        &[("role", role.clone())],
                    ));
                    out.push(KindChoice::builtin("aws.deny_all", &[("role", role)]));
                }
                IdentityKind::AssumedRole => {
                    let role = assumed_role(principal);
                    out.push(KindChoice::builtin(
                        "aws.revoke_role_sessions",
                        &[("role", role.clone())],
                    ));
                    out.push(KindChoice::builtin("aws.deny_all", &[("role", role)]));
                }
                _ => {}
            }
        }
        Provider::Kubernetes if rec.kind == IdentityKind::ServiceAccount => {
            // system:serviceaccount:NAMESPACE:NAME; a pod tag is NAMESPACE/POD.
            let namespace = principal
                .strip_prefix("system:serviceaccount:")
                .and_then(|r| r.split(':').next())
                .map(str::to_string);
            let pod = tag(st, "pod")
                .or_else(|| {
                    tag(st, "workload").and_then(|w| w.strip_prefix("pod:").map(Into::into))
                })
                .map(|p| p.rsplit('/').next().unwrap_or(&p).to_string());
            out.push(KindChoice::builtin(
                "k8s.quarantine_pod",
                &[("namespace", namespace.clone()), ("pod", pod)],
            ));
            out.push(KindChoice::builtin(
                "k8s.delete_rolebinding",
                &[("namespace", namespace), ("name", tag(st, "binding"))],
            ));
        }
        Provider::Vault => {
            for c in rec
                .credentials
                .iter()
                .filter(|c| c.kind == CredentialKind::VaultToken && live(c.status))
            {
                out.push(KindChoice::builtin(
                    "vault.revoke_accessor",
                    &[("accessor", Some(c.id.to_string()))],
                ));
            }
            if matches!(rec.kind, IdentityKind::VaultEntity) {
                out.push(KindChoice::builtin(
                    "vault.disable_entity",
                    &[("entity_id", Some(principal.to_string()))],
                ));
            }
        }
        Provider::Github => {
            for c in rec.credentials.iter().filter(|c| live(c.status)) {
                out.push(KindChoice::builtin(
                    "github.revoke_credential",
                    &[("credential", Some(c.id.to_string()))],
                ));
            }
        }
        Provider::Gcp => {
            for c in rec
                .credentials
                .iter()
                .filter(|c| c.kind == CredentialKind::ServiceAccountKey && live(c.status))
            {
                out.push(KindChoice::builtin(
                    "gcp.disable_service_account_key",
                    &[
                        ("service_account", Some(principal.to_string())),
                        ("key_id", Some(c.id.to_string())),
                    ],
                ));
            }
        }
        _ => {}
    }
    let mut agent_kinds: Vec<&String> = capabilities
        .iter()
        .filter(|k| k.starts_with("agent."))
        .collect();
    agent_kinds.sort();
    agent_kinds.dedup();
    for k in agent_kinds {
        out.push(KindChoice {
            kind: k.clone(),
            params: Vec::new(),
            does: "carried out by the agent that offers it".into(),
            undo: Some("as the agent describes it (in the dry run once staged)".into()),
            missing: Vec::new(),
        });
    }
    out
}

/// The selected identity, as the picker and a proposal need it.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    /// The identity key (`aws:arn:…`).
    pub key: String,
    pub display: SafeText,
    pub facts: IdentityFacts,
    /// The top reasons behind its scores, copied into a proposal's evidence.
    pub evidence: Vec<String>,
    pub choices: Vec<KindChoice>,
}

impl Subject {
    pub fn of(st: &IdentityState, capabilities: &[String]) -> Subject {
        let evidence = st
            .why()
            .iter()
            .filter(|r| r.weight != 0.0)
            .take(EVIDENCE_REASONS)
            .map(|r| format!("{}: {}", r.factor, r.detail))
            .collect();
        Subject {
            key: st.key(),
            display: SafeText::new(st.display()),
            facts: IdentityFacts {
                kind: Some(st.record.kind.as_str().to_string()),
                provider: Some(st.record.provider.as_str().to_string()),
                threat: Some(st.threat),
                risk: Some(st.risk),
                blast_radius: Some(st.blast),
            },
            evidence,
            choices: suggest_kinds(st, capabilities),
        }
    }
}

/// A proposal, ready for the desk.
#[derive(Debug, Clone, PartialEq)]
pub struct StageDraft {
    pub identity: String,
    pub display: SafeText,
    pub kind: String,
    pub params: Value,
    pub reason: String,
    pub evidence: Vec<String>,
    pub facts: IdentityFacts,
}

/// What a confirmation moves an action on by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Approve,
    Deny,
    Execute,
    Rollback,
}

impl Verb {
    /// `Approve`, as a confirmation asks.
    pub fn title(self) -> &'static str {
        match self {
            Verb::Approve => "Approve",
            Verb::Deny => "Deny",
            Verb::Execute => "Execute",
            Verb::Rollback => "Roll back",
        }
    }
    /// `approving`, while the desk works.
    pub fn doing(self) -> &'static str {
        match self {
            Verb::Approve => "approving",
            Verb::Deny => "denying",
            Verb::Execute => "executing",
            Verb::Rollback => "rolling back",
        }
    }
    /// `approved`, when it is done.
    pub fn done(self) -> &'static str {
        match self {
            Verb::Approve => "approved",
            Verb::Deny => "denied",
            Verb::Execute => "executed",
            Verb::Rollback => "rolled back",
        }
    }
}

/// An action on a queued action, waiting for (or given) confirmation.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub verb: Verb,
    pub id: SafeText,
    pub kind: SafeText,
    /// The target as the confirmation names it: display name and params.
    pub target: SafeText,
    /// Only for deny: why.
    pub reason: Option<String>,
}

/// One queued action as the approvals view shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRow {
    pub id: SafeText,
    pub state: ActionState,
    pub kind: SafeText,
    /// The identity key.
    pub identity: SafeText,
    /// The identity's display name where the console knows it, else its key.
    pub target: SafeText,
    /// `user=ci-bot, access_key_id=AKIA…`.
    pub params: SafeText,
    pub principal: SafeText,
    pub via: Via,
    /// The AI agent that proposed it.
    pub agent: Option<SafeText>,
    /// Who approved, and when.
    pub approvals: Vec<(SafeText, Millis)>,
    pub required: u32,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub reason: SafeText,
    pub evidence: Vec<SafeText>,
    pub changes: Vec<SafeText>,
    pub impact: Vec<SafeText>,
    pub undo: Option<SafeText>,
    pub reversible: bool,
    /// A standing playbook authorised it: it runs without approvals.
    pub preauthorized: bool,
    pub error: Option<SafeText>,
}

fn params_text(v: &Value) -> String {
    match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl ActionRow {
    /// A row from the workflow's action; `display` is the target identity's display name where
    /// the console knows it.
    pub fn from_action(a: &Action, display: Option<&str>) -> ActionRow {
        let s = SafeText::new;
        ActionRow {
            id: s(&a.id),
            state: a.state,
            kind: s(&a.kind),
            identity: s(&a.identity),
            target: s(display.unwrap_or(&a.identity)),
            params: s(&params_text(&a.params)),
            principal: s(&a.proposed_by.principal),
            via: a.proposed_by.via,
            agent: a.proposed_by.agent.as_deref().map(s),
            approvals: a
                .approvals
                .iter()
                .filter(|ap| ap.hash == a.hash)
                .map(|ap| (s(&ap.principal), ap.at))
                .collect(),
            required: a.required_approvals,
            created_at: a.created_at,
            expires_at: a.expires_at,
            reason: s(&a.reason),
            evidence: a.evidence.iter().map(|e| s(e)).collect(),
            changes: a.dry_run.changes.iter().map(|c| s(c)).collect(),
            impact: a.dry_run.impact.iter().map(|c| s(c)).collect(),
            undo: a.dry_run.undo.as_deref().map(s),
            reversible: a.reversible,
            preauthorized: a.preauthorized,
            error: a.error.as_deref().map(s),
        }
    }

    /// Who proposed it, in words that need no colour or emoji: `alice (tui)`,
    /// `agent triage-bot (mcp)`, `alice (playbook)`.
    pub fn proposed_by(&self) -> String {
        match &self.agent {
            Some(agent) => format!("agent {agent} ({})", self.via.as_str()),
            None => format!("{} ({})", self.principal, self.via.as_str()),
        }
    }

    /// `1/2`; a pre-authorised action needs none.
    pub fn approvals_label(&self) -> String {
        if self.preauthorized {
            "pre".into()
        } else {
            format!("{}/{}", self.approvals.len(), self.required)
        }
    }

    /// The target as a confirmation names it: `ci-bot (user=ci-bot, access_key_id=AKIA…)`.
    pub fn target_label(&self) -> String {
        if self.params.is_empty() {
            self.target.to_string()
        } else {
            format!("{} ({})", self.target, self.params)
        }
    }

    pub fn pending(&self, verb: Verb, reason: Option<String>) -> Pending {
        Pending {
            verb,
            id: self.id.clone(),
            kind: self.kind.clone(),
            target: SafeText::new(&self.target_label()),
            reason,
        }
    }
}

/// The order of the approvals view: open actions first (what needs a responder), newest first
/// within each group.
pub fn sort_rows(rows: &mut [ActionRow]) {
    rows.sort_by_key(|r| {
        let open = matches!(
            r.state,
            ActionState::Staged | ActionState::Approved | ActionState::Executing
        );
        (!open, std::cmp::Reverse(r.created_at))
    });
}
