//! Did containment hold? What a done action contained (a credential, or a whole principal) and
//! whether an event shows it acting again after the change took effect: a containment leak.
//!
//! Pure: the engine feeds the done actions of the shared queue in (`contained_of` each) and the
//! core checks every event against them (`leak_of`). A call that failed (denied, invalid key) is
//! containment holding, not a leak: only a successful (or unknown-outcome) call counts.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::model::{Event, Millis, Status};
use crate::core::workflow::{Action, ActionState};

/// Params that name the credential an action acts on (an identifier, never a secret).
const CREDENTIAL_PARAMS: &[&str] = &[
    "access_key_id",
    "accessor",
    "key_id",
    "credential_id",
    "token_id",
];

/// What one done action contained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contained {
    pub action_id: String,
    pub kind: String,
    /// The identity key the action was staged on (`aws:arn:…`).
    pub identity: String,
    /// The credential it disabled or revoked; `None` when it contained the whole principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// When the change took effect (the action's completion).
    pub since: Millis,
}

/// A contained credential or principal seen acting again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leak {
    pub action_id: String,
    pub kind: String,
    pub identity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// When the containment took effect, and when it was seen acting after it.
    pub since: Millis,
    pub seen_at: Millis,
    /// The call it made (`iam:ListUsers`), sanitised.
    pub call: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<String>,
}

impl Leak {
    /// One line for a header, a feed or a log: what was contained and what it did after.
    pub fn summary(&self) -> String {
        let what = match &self.credential {
            Some(c) => format!("credential {c}"),
            None => self.identity.clone(),
        };
        format!(
            "containment leak: {what} acted after {} ({}): {}",
            self.action_id, self.kind, self.call
        )
    }
}

/// What a done action contained, if it contained anything an event can show acting: the
/// credential its params name, else the principal it was staged on. `None` for actions not
/// done, and for `github.*` (its `credential` param is the token itself, which events never
/// carry).
pub fn contained_of(a: &Action) -> Option<Contained> {
    if a.state != ActionState::Done || a.kind.starts_with("github.") {
        return None;
    }
    let credential = CREDENTIAL_PARAMS
        .iter()
        .find_map(|k| a.params.get(*k).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Some(Contained {
        action_id: a.id.clone(),
        kind: a.kind.clone(),
        identity: a.identity.clone(),
        credential,
        since: a.updated_at,
    })
}

/// Whether `e` shows what `c` contained acting after it took effect.
pub fn leak_of(c: &Contained, e: &Event) -> Option<Leak> {
    if e.time <= c.since || e.status == Status::Failure {
        return None;
    }
    let hit = match &c.credential {
        Some(id) => {
            e.credential.as_ref().is_some_and(|k| k.id.as_str() == id)
                || e.actor.credentials.iter().any(|k| k.id.as_str() == id)
        }
        None => e.actor.key() == c.identity,
    };
    hit.then(|| Leak {
        action_id: c.action_id.clone(),
        kind: c.kind.clone(),
        identity: c.identity.clone(),
        credential: c.credential.clone(),
        since: c.since,
        seen_at: e.time,
        call: e.summary(),
        src_ip: e.src_ip.as_ref().map(|s| s.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{
        Api, Credential, CredentialKind, CredentialStatus, IdentityKind, IdentityRecord, Provider,
    };
    use crate::core::text::SafeText;

    fn event(key: Option<&str>, t: Millis, status: Status) -> Event {
        Event {
            time: t,
            class: Default::default(),
            actor: IdentityRecord {
                provider: Provider::Aws,
                principal: SafeText::new("arn:aws:iam::1:user/ci-bot"),
                kind: IdentityKind::IamUser,
                display: None,
                credentials: vec![],
                permissions: vec![],
                tags: vec![],
            },
            credential: key.map(|k| Credential {
                id: SafeText::new(k),
                kind: CredentialKind::AccessKey,
                status: CredentialStatus::Active,
            }),
            api: Api {
                service: SafeText::new("iam"),
                operation: SafeText::new("ListUsers"),
            },
            resources: vec![],
            src_ip: None,
            status,
            signals: vec![],
            raw: Default::default(),
        }
    }

    fn key_contained() -> Contained {
        Contained {
            action_id: "act_1".into(),
            kind: "aws.disable_access_key".into(),
            identity: "aws:arn:aws:iam::1:user/ci-bot".into(),
            credential: Some("AKIAOLD".into()),
            since: 1_000,
        }
    }

    #[test]
    fn a_disabled_key_used_successfully_after_the_change_is_a_leak() {
        let l = leak_of(
            &key_contained(),
            &event(Some("AKIAOLD"), 2_000, Status::Success),
        )
        .expect("a leak");
        assert!(l.summary().contains("AKIAOLD") && l.summary().contains("iam:ListUsers"));
    }

    #[test]
    fn before_the_change_denied_or_another_key_is_not_a_leak() {
        let c = key_contained();
        assert!(leak_of(&c, &event(Some("AKIAOLD"), 900, Status::Success)).is_none());
        assert!(leak_of(&c, &event(Some("AKIAOLD"), 2_000, Status::Failure)).is_none());
        assert!(leak_of(&c, &event(Some("AKIANEW"), 2_000, Status::Success)).is_none());
    }

    #[test]
    fn a_contained_principal_leaks_whatever_credential_it_uses() {
        let mut c = key_contained();
        c.credential = None;
        assert!(leak_of(&c, &event(None, 2_000, Status::Success)).is_some());
    }
}
