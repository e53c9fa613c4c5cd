//! The response workflow as the console shows it, in plain data: the action kinds that fit an
//! identity (`KindChoice`, the suggestions of `respond::suggest`), queued actions as table rows (`ActionRow`, from
//! the workflow's `Action`), and what the app asks the desk to do (`StageDraft`, `Pending`).
//! Screens are drawn from these, so they can be tested with hand-made data and no store.
//!
//! Everything that came from a person or an agent (reasons, evidence, principals, dry-run
//! text) is `SafeText` here: an agent's proposal is untrusted text on a responder's terminal.

use serde_json::Value;

use crate::core::Millis;
use crate::core::SafeText;
use crate::core::model::Event;
use crate::core::policy::IdentityFacts;
use crate::core::reason::Reason;
use crate::core::state::IdentityState;
use crate::core::workflow::{Action, ActionState, Via};
use crate::respond::suggest::{Offers, Suggestion, suggest};

/// Reasons copied into a proposal's evidence.
const EVIDENCE_REASONS: usize = 4;

/// One action kind that fits an identity: the suggestion itself (`respond::suggest`), so the
/// picker shows what `blastdoor action suggest` prints, in its order.
pub type KindChoice = Suggestion;

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
    /// What can be staged for an identity: `why` is its reasons (`Core::why`), the strongest
    /// of which become evidence; `recent` its events (newest first) to pre-fill params from.
    pub fn with_evidence(
        st: &IdentityState,
        why: &[Reason],
        recent: &[&Event],
        offers: &Offers,
    ) -> Subject {
        let evidence = why
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
            choices: suggest(&st.record, recent, offers),
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
