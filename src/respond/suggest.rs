//! Which containment fits an identity: the built-in kinds that act on what it is and what it
//! authenticates with, params filled in from the evidence (its credentials, its ARN, its tags,
//! and the raw records of its recent events: CloudTrail's `userIdentity`, a Kubernetes audit
//! record's `user.extra` pod). Pure; the TUI's staging picker and MCP's `explain_identity` both
//! use it, so a suggestion is the same wherever it is shown.
//!
//! - an AWS access key → disable it (while active), delete it
//! - an IAM user → deny all; a role or an assumed role → revoke its sessions, deny all
//! - a Kubernetes service account (its token) → quarantine the pod it was bound to, delete its
//!   role binding, scale its deployment to zero
//! - a Vault token → revoke its accessor; a Vault entity → disable it
//! - a GitHub credential → revoke it; a GCP service account key → disable it

use serde::Serialize;
use serde_json::Value;

use crate::core::model::{
    CredentialKind, CredentialStatus, Event, IdentityKind, IdentityRecord, Provider,
};

/// One kind that fits, with the params the evidence gives and those it does not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    pub kind: String,
    /// `(param, value)` in the order the kind documents its params; `None` where the evidence
    /// does not say.
    pub params: Vec<(String, Option<String>)>,
    /// Why it fits, in words a responder reads in the picker.
    pub why: String,
}

impl Suggestion {
    fn new(kind: &str, params: &[(&str, Option<String>)], why: impl Into<String>) -> Suggestion {
        Suggestion {
            kind: kind.to_string(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone().filter(|s| !s.is_empty())))
                .collect(),
            why: why.into(),
        }
    }

    /// Params the evidence does not give.
    pub fn missing(&self) -> Vec<&str> {
        self.params
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.as_str())
            .collect()
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

/// The value of the first `name=value` tag of the record or of a recent event's actor.
fn tag(rec: &IdentityRecord, recent: &[&Event], name: &str) -> Option<String> {
    let find = |r: &IdentityRecord| {
        r.tags.iter().find_map(|t| {
            t.as_str()
                .split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    };
    find(rec).or_else(|| recent.iter().find_map(|e| find(&e.actor)))
}

/// A string at `path` in the raw record of the newest recent event that has one.
fn raw(recent: &[&Event], path: &str) -> Option<String> {
    recent
        .iter()
        .find_map(|e| {
            e.raw
                .value()
                .pointer(path)
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .filter(|s| !s.is_empty())
        .map(|s| crate::core::SafeText::new(&s).to_string())
}

/// The kinds that fit `rec`, most targeted first. `recent` are its recent events, newest first.
pub fn suggest(rec: &IdentityRecord, recent: &[&Event]) -> Vec<Suggestion> {
    let principal = rec.principal.as_str();
    let live = |s: CredentialStatus| s != CredentialStatus::Revoked;
    let mut out = Vec::new();
    match rec.provider {
        Provider::Aws => {
            let user = (rec.kind == IdentityKind::IamUser)
                .then(|| arn_name(principal))
                .flatten()
                .or_else(|| raw(recent, "/userIdentity/userName"));
            let mut keys: Vec<(String, CredentialStatus)> = rec
                .credentials
                .iter()
                .filter(|c| c.kind == CredentialKind::AccessKey && live(c.status))
                .map(|c| (c.id.to_string(), c.status))
                .collect();
            // A key the evidence shows in use that the record does not list yet.
            if let Some(k) = raw(recent, "/userIdentity/accessKeyId")
                && k.starts_with("AKIA")
                && !keys.iter().any(|(id, _)| *id == k)
            {
                keys.push((k, CredentialStatus::Active));
            }
            for (id, status) in keys {
                let params = [("user", user.clone()), ("access_key_id", Some(id.clone()))];
                if status == CredentialStatus::Active {
                    out.push(Suggestion::new(
                        "aws.disable_access_key",
                        &params,
                        format!("access key {id} is active: disabling it stops it at once and can be undone"),
                    ));
                }
                out.push(Suggestion::new(
                    "aws.delete_access_key",
                    &params,
                    format!("access key {id}: deleting it is final"),
                ));
            }
            match rec.kind {
                IdentityKind::IamUser => out.push(Suggestion::new(
                    "aws.deny_all",
                    &[("user", user)],
                    "an IAM user: a deny-all policy stops every credential it has",
                )),
                IdentityKind::IamRole | IdentityKind::AssumedRole => {
                    let role = if rec.kind == IdentityKind::IamRole {
                        arn_name(principal)
                    } else {
                        assumed_role(principal)
                    };
                    out.push(Suggestion::new(
                        "aws.revoke_role_sessions",
                        &[("role", role.clone())],
                        "role sessions: revoking them ends every session issued before now",
                    ));
                    out.push(Suggestion::new(
                        "aws.deny_all",
                        &[("role", role)],
                        "a deny-all policy on the role stops new sessions too",
                    ));
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
            let pod = tag(rec, recent, "pod")
                .or_else(|| {
                    tag(rec, recent, "workload")
                        .and_then(|w| w.strip_prefix("pod:").map(Into::into))
                })
                .or_else(|| {
                    raw(
                        recent,
                        "/user/extra/authentication.kubernetes.io~1pod-name/0",
                    )
                })
                .map(|p| p.rsplit('/').next().unwrap_or(&p).to_string());
            let token = rec
                .credentials
                .iter()
                .any(|c| c.kind == CredentialKind::SaToken);
            out.push(Suggestion::new(
                "k8s.quarantine_pod",
                &[("namespace", namespace.clone()), ("pod", pod.clone())],
                match (&pod, token) {
                    (Some(p), _) => format!("its token was bound to pod {p}: cut the pod off the network, keep it for forensics"),
                    (None, _) => "a service account token: cut its pod off the network".to_string(),
                },
            ));
            out.push(Suggestion::new(
                "k8s.delete_rolebinding",
                &[
                    ("namespace", namespace.clone()),
                    ("name", tag(rec, recent, "binding")),
                ],
                "take away what its role binding grants (a snapshot is kept)",
            ));
            if let Some(d) = tag(rec, recent, "deployment") {
                out.push(Suggestion::new(
                    "k8s.scale_to_zero",
                    &[("namespace", namespace), ("deployment", Some(d))],
                    "stop every pod of its deployment",
                ));
            }
        }
        Provider::Vault => {
            for c in rec
                .credentials
                .iter()
                .filter(|c| c.kind == CredentialKind::VaultToken && live(c.status))
            {
                out.push(Suggestion::new(
                    "vault.revoke_accessor",
                    &[("accessor", Some(c.id.to_string()))],
                    format!(
                        "a Vault token (accessor {}): revoke it and its children",
                        c.id
                    ),
                ));
            }
            if rec.kind == IdentityKind::VaultEntity {
                out.push(Suggestion::new(
                    "vault.disable_entity",
                    &[("entity_id", Some(principal.to_string()))],
                    "a Vault entity: disabling it stops all its tokens",
                ));
            }
        }
        Provider::Github => {
            for c in rec.credentials.iter().filter(|c| live(c.status)) {
                out.push(Suggestion::new(
                    "github.revoke_credential",
                    &[("credential", Some(c.id.to_string()))],
                    "a GitHub credential: revoke it (final)",
                ));
            }
        }
        Provider::Gcp => {
            for c in rec
                .credentials
                .iter()
                .filter(|c| c.kind == CredentialKind::ServiceAccountKey && live(c.status))
            {
                out.push(Suggestion::new(
                    "gcp.disable_service_account_key",
                    &[
                        ("service_account", Some(principal.to_string())),
                        ("key_id", Some(c.id.to_string())),
                    ],
                    format!("service account key {}: disabling it can be undone", c.id),
                ));
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{Api, Credential, Status};
    use crate::core::text::SafeText;

    fn rec(provider: Provider, principal: &str, kind: IdentityKind) -> IdentityRecord {
        IdentityRecord {
            provider,
            principal: SafeText::new(principal),
            kind,
            display: None,
            credentials: vec![],
            permissions: vec![],
            tags: vec![],
        }
    }

    fn event(actor: IdentityRecord, raw: Value) -> Event {
        Event {
            time: 1,
            class: Default::default(),
            actor,
            credential: None,
            api: Api::default(),
            resources: vec![],
            src_ip: None,
            status: Status::Success,
            signals: vec![],
            raw: raw.into(),
        }
    }

    fn kinds(s: &[Suggestion]) -> Vec<&str> {
        s.iter().map(|s| s.kind.as_str()).collect()
    }

    #[test]
    fn an_access_key_seen_in_cloudtrail_is_offered_for_disabling_with_its_user() {
        // An assumed role's events name the key and the user only in the raw record.
        let r = rec(
            Provider::Aws,
            "arn:aws:iam::1:user/ci-bot",
            IdentityKind::Unknown,
        );
        let e = event(
            r.clone(),
            serde_json::json!({"userIdentity": {"userName": "ci-bot", "accessKeyId": "AKIAEVIDENCE0001"}}),
        );
        let s = suggest(&r, &[&e]);
        assert_eq!(
            kinds(&s),
            ["aws.disable_access_key", "aws.delete_access_key"]
        );
        assert_eq!(
            s[0].params,
            vec![
                ("user".into(), Some("ci-bot".into())),
                ("access_key_id".into(), Some("AKIAEVIDENCE0001".into()))
            ]
        );
        assert!(s[0].why.contains("AKIAEVIDENCE0001"));
    }

    #[test]
    fn an_assumed_role_gets_session_revocation_for_its_role() {
        let r = rec(
            Provider::Aws,
            "arn:aws:sts::1:assumed-role/deploy/gh-run-42",
            IdentityKind::AssumedRole,
        );
        let s = suggest(&r, &[]);
        assert_eq!(kinds(&s), ["aws.revoke_role_sessions", "aws.deny_all"]);
        assert_eq!(s[0].params, vec![("role".into(), Some("deploy".into()))]);
    }

    #[test]
    fn a_service_account_token_gets_its_pod_from_the_audit_records_user_extra() {
        let mut r = rec(
            Provider::Kubernetes,
            "system:serviceaccount:ci:runner",
            IdentityKind::ServiceAccount,
        );
        r.credentials.push(Credential {
            id: SafeText::new("JTI-1"),
            kind: CredentialKind::SaToken,
            status: CredentialStatus::Active,
        });
        let e = event(
            r.clone(),
            serde_json::json!({"user": {"extra": {"authentication.kubernetes.io/pod-name": ["runner-7"]}}}),
        );
        let s = suggest(&r, &[&e]);
        assert_eq!(kinds(&s), ["k8s.quarantine_pod", "k8s.delete_rolebinding"]);
        assert_eq!(
            s[0].params,
            vec![
                ("namespace".into(), Some("ci".into())),
                ("pod".into(), Some("runner-7".into()))
            ]
        );
        assert_eq!(s[1].missing(), ["name"]);
    }

    #[test]
    fn a_vault_token_gets_its_accessor_revoked() {
        let mut r = rec(Provider::Vault, "accessor:abc", IdentityKind::VaultToken);
        r.credentials.push(Credential {
            id: SafeText::new("abc"),
            kind: CredentialKind::VaultToken,
            status: CredentialStatus::Active,
        });
        let s = suggest(&r, &[]);
        assert_eq!(kinds(&s), ["vault.revoke_accessor"]);
        assert_eq!(s[0].params, vec![("accessor".into(), Some("abc".into()))]);
    }
}
