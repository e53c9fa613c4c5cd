//! Did containment hold, and what did it take away? What a done action contained (a credential,
//! or a whole principal), what that takes from the identity's reach (`Takes`: the residual risk
//! is scored from what is left), and whether an event shows it acting again after the change
//! took effect: a containment leak.
//!
//! Pure: the engine feeds the done actions of the shared queue in (`contained_of` each) and the
//! core applies what each takes away and checks every event against them (`leak_of`). A call
//! that failed (denied, invalid key) is containment holding, not a leak: only a successful (or
//! unknown-outcome) call counts.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::model::{CredentialStatus, Event, Millis, Status};
use crate::core::workflow::{Action, ActionState};

/// Params that name the credential an action acts on (an identifier, never a secret).
const CREDENTIAL_PARAMS: &[&str] = &[
    "access_key_id",
    "accessor",
    "key_id",
    "credential_id",
    "token_id",
    "credential",
];

/// What a containment takes away from what the identity can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Takes {
    /// One credential, which now has this status (as the executor read it back). With no other
    /// credential left active, the identity can use none of its grants.
    Credential {
        id: String,
        status: CredentialStatus,
    },
    /// Every credential of the identity is revoked (a token revoked at the agent).
    Credentials,
    /// Everything the principal may do: a deny-all policy, a disabled entity, an isolated
    /// workload, its sessions revoked.
    Everything,
    /// The grants of one role, whose binding was deleted.
    Role(String),
    /// Nothing it can reach: its workload is cut off or stopped, but whoever holds its
    /// credential elsewhere still has every grant (a quarantined pod's token, replayed from
    /// another pod, still works).
    Nothing,
}

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
    pub takes: Takes,
    /// Whether acting again is a leak: not for an action that takes only some grants away
    /// (a deleted binding), after which the identity still acts through the others.
    pub watched: bool,
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

/// How an identity's containment reads in the ranked identity (INTERFACE.md): `contained`, or
/// `leaking` once it acted again after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainmentState {
    pub state: String,
    pub action: String,
    pub kind: String,
    pub at: String,
}

/// A credential's status as an executor read it back (`"Inactive"`, `"revoked": true`, …),
/// else what the kind leaves it in.
fn read_back_status(outcome: &Value, default: CredentialStatus) -> CredentialStatus {
    let o = outcome;
    match o
        .get("status")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
    {
        Some(s) if s == "inactive" || s == "disabled" => return CredentialStatus::Inactive,
        Some(s) if s == "revoked" || s == "deleted" || s == "rejected" => {
            return CredentialStatus::Revoked;
        }
        _ => {}
    }
    let flag = |k: &str| o.get(k).and_then(Value::as_bool) == Some(true);
    if flag("revoked")
        || flag("deleted")
        || o.get("state").and_then(Value::as_str) == Some("rejected")
    {
        CredentialStatus::Revoked
    } else if flag("disabled") {
        CredentialStatus::Inactive
    } else {
        default
    }
}

/// What a done action contained and takes away: `None` for actions not done.
pub fn contained_of(a: &Action) -> Option<Contained> {
    if a.state != ActionState::Done {
        return None;
    }
    let credential = CREDENTIAL_PARAMS
        .iter()
        .find_map(|k| a.params.get(*k).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let session = a.identity.contains(":assumed-role/");
    let (takes, watched) = match a.kind.as_str() {
        "aws.disable_access_key" | "gcp.disable_service_account_key" => (
            credential.clone().map(|id| Takes::Credential {
                id,
                status: read_back_status(&a.outcome, CredentialStatus::Inactive),
            }),
            true,
        ),
        "aws.delete_access_key" | "vault.revoke_accessor" | "github.revoke_credential" => (
            credential.clone().map(|id| Takes::Credential {
                id,
                status: read_back_status(&a.outcome, CredentialStatus::Revoked),
            }),
            true,
        ),
        "agent.revoke_token" => (
            Some(match &credential {
                Some(id) => Takes::Credential {
                    id: id.clone(),
                    status: CredentialStatus::Revoked,
                },
                None => Takes::Credentials,
            }),
            true,
        ),
        "aws.deny_all" | "vault.disable_entity" | "agent.isolate_workload" => {
            (Some(Takes::Everything), true)
        }
        // Sessions issued before the revocation die; the role itself can be assumed again.
        "aws.revoke_role_sessions" if session => (Some(Takes::Everything), true),
        "k8s.delete_rolebinding" => (
            a.outcome
                .pointer("/snapshot/roleRef/name")
                .and_then(Value::as_str)
                .map(|r| Takes::Role(r.to_string())),
            false,
        ),
        _ => (None, true),
    };
    let takes = takes.unwrap_or(Takes::Nothing);
    // Watched by the credential it names, unless it contains the whole principal.
    let by_principal = matches!(
        takes,
        Takes::Everything | Takes::Credentials | Takes::Role(_)
    );
    Some(Contained {
        action_id: a.id.clone(),
        kind: a.kind.clone(),
        identity: a.identity.clone(),
        credential: credential.filter(|_| !by_principal),
        since: a.updated_at,
        takes,
        watched,
    })
}

/// Whether `e` shows what `c` contained acting after it took effect.
pub fn leak_of(c: &Contained, e: &Event) -> Option<Leak> {
    if !c.watched || e.time <= c.since || e.status == Status::Failure {
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
            user_agent: None,
            region: None,
            issued: None,
            status,
            signals: vec![],
            sigma: Vec::new(),
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
            takes: Takes::Credential {
                id: "AKIAOLD".into(),
                status: CredentialStatus::Inactive,
            },
            watched: true,
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

    /// A done action as the queue holds it after its executor answered `outcome`.
    fn done(kind: &str, identity: &str, params: Value, outcome: Value) -> Action {
        use crate::core::workflow::{Proposal, Proposer, Rules, Via, stage};
        let mut a = stage(
            Proposal {
                id: "act_1".into(),
                identity: identity.into(),
                kind: kind.into(),
                target: serde_json::json!({"identity": identity}),
                params,
                proposed_by: Proposer {
                    principal: "alice".into(),
                    via: Via::Cli,
                    agent: None,
                },
                reason: "stolen".into(),
                evidence: vec![],
                reversible: true,
                dry_run: Default::default(),
            },
            Rules {
                required_approvals: 1,
                approval_ttl: 60_000,
                action_ttl: 60_000,
            },
            false,
            0,
        );
        a.state = ActionState::Done;
        a.outcome = outcome;
        a.updated_at = 5_000;
        a
    }

    #[test]
    fn each_kind_takes_what_its_provider_takes_and_the_read_back_status_is_the_credentials() {
        use serde_json::json;
        let user = "aws:arn:aws:iam::1:user/ci-bot";
        let c = contained_of(&done(
            "aws.disable_access_key",
            user,
            json!({"user": "ci-bot", "access_key_id": "AKIAOLD"}),
            json!({"user": "ci-bot", "access_key_id": "AKIAOLD", "status": "Inactive"}),
        ))
        .unwrap();
        assert_eq!(
            c.takes,
            Takes::Credential {
                id: "AKIAOLD".into(),
                status: CredentialStatus::Inactive
            }
        );
        assert_eq!((c.credential.as_deref(), c.since), (Some("AKIAOLD"), 5_000));
        let c = contained_of(&done(
            "vault.revoke_accessor",
            "vault:auth/approle/role/x",
            json!({"accessor": "acc1"}),
            json!({"accessor": "acc1", "revoked": true}),
        ))
        .unwrap();
        assert!(matches!(
            c.takes,
            Takes::Credential {
                status: CredentialStatus::Revoked,
                ..
            }
        ));
        let deny = contained_of(&done(
            "aws.deny_all",
            user,
            json!({"user": "ci-bot"}),
            json!({}),
        ));
        assert_eq!(
            deny.map(|c| (c.takes, c.credential)),
            Some((Takes::Everything, None))
        );
        // A role's sessions revoked: the session identity is done for, the role is not.
        let session = "aws:arn:aws:sts::1:assumed-role/deploy/run-1";
        let revoke = |id: &str| {
            contained_of(&done(
                "aws.revoke_role_sessions",
                id,
                json!({"role": "deploy"}),
                json!({}),
            ))
            .unwrap()
            .takes
        };
        assert_eq!(revoke(session), Takes::Everything);
        assert_eq!(revoke("aws:arn:aws:iam::1:role/deploy"), Takes::Nothing);
        let q = contained_of(&done(
            "k8s.quarantine_pod",
            "k8s:system:serviceaccount:ci:runner",
            json!({"namespace": "ci", "pod": "runner-7"}),
            json!({"pod": "ci/runner-7", "labelled": true}),
        ))
        .unwrap();
        assert_eq!((q.takes, q.watched), (Takes::Nothing, true));
        let b = contained_of(&done(
            "k8s.delete_rolebinding",
            "k8s:system:serviceaccount:ci:runner",
            json!({"namespace": "ci", "name": "runner-debug"}),
            json!({"binding": "ci/runner-debug", "deleted": true,
                   "snapshot": {"roleRef": {"kind": "Role", "name": "runner-debug"}}}),
        ))
        .unwrap();
        assert_eq!(
            (b.takes, b.watched),
            (Takes::Role("runner-debug".into()), false)
        );
        let mut open = done("aws.deny_all", user, json!({}), json!({}));
        open.state = ActionState::Approved;
        assert!(contained_of(&open).is_none(), "only a done action contains");
    }

    #[test]
    fn a_contained_principal_leaks_whatever_credential_it_uses() {
        let mut c = key_contained();
        c.credential = None;
        assert!(leak_of(&c, &event(None, 2_000, Status::Success)).is_some());
    }
}
