//! Which containment fits an identity, best first: the built-in kinds that act on what it is and
//! what it authenticates with, params filled in from the evidence (its credentials, its ARN, its
//! tags, and the raw records of its recent events: CloudTrail's `userIdentity`, a Kubernetes
//! audit record's `user.extra` pod, a Vault audit record's entity), and every `agent.*` kind an
//! agent offers. Each says whether it can be undone and whether it can run here (`Offers`: the
//! desk's executors and the agents' capabilities), or what to configure so that it can.
//!
//! Pure, and the one place this is decided: `blastdoor action suggest`, the console's staging
//! picker and MCP's `explain_identity` all show this list, in this order.
//!
//! - an AWS access key → disable it (while active), delete it; keys seen in use first
//! - an IAM user → deny all; a role or an assumed role → revoke its sessions, deny all
//! - a Kubernetes service account → quarantine the pod its token was bound to, delete each of
//!   its role bindings, scale its deployment to zero
//! - a Vault token → disable its entity, revoke its accessor; a Vault entity → disable it
//! - a GitHub credential → revoke it; a GCP service account key → disable it
//!
//! Best first: what can be undone before what cannot, what can run here before what cannot,
//! then the least destructive (`BuiltinKind::scope`), then the most targeted.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::agent::actions::ActionCapability;
use crate::core::model::{
    CredentialKind, CredentialStatus, Event, IdentityKind, IdentityRecord, Provider, Signal,
    parse_binding_tag,
};
use crate::respond::{builtin, what_to_configure};

/// How destructive an `agent.*` kind counts (it acts on the whole identity at the agent).
const AGENT_SCOPE: u8 = 3;

/// One kind something here executes, and who.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub kind: String,
    /// The executor's name (an agent's URL, `aws`).
    pub by: String,
    /// How the executor describes it (an agent's capability), if it does.
    pub described: Option<ActionCapability>,
}

/// Every kind that can be executed here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Offers(pub Vec<Offer>);

impl Offers {
    pub fn get(&self, kind: &str) -> Option<&Offer> {
        self.0.iter().find(|o| o.kind == kind)
    }
}

/// One kind that fits, with the params the evidence gives and those it does not.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub kind: String,
    /// `(param, value)` in the order the kind documents its params; `None` where the evidence
    /// does not say.
    pub params: Vec<(String, Option<String>)>,
    /// Why it fits, in words a responder reads in the picker.
    pub why: String,
    /// What executing it does (the dry run in one line).
    pub does: String,
    /// How it is undone; `None` when it cannot be.
    pub undo: Option<String>,
    /// Something here executes it and the evidence gives every param.
    pub executable: bool,
    /// Why it cannot run as it is: what to configure, or which param to give.
    pub why_not: Option<String>,
    /// Who executes it here.
    pub by: Option<String>,
    /// How destructive it is (`BuiltinKind::scope`), for the order.
    pub scope: u8,
}

impl Suggestion {
    fn new(kind: &str, params: &[(&str, Option<String>)], why: impl Into<String>) -> Suggestion {
        let b = builtin(kind);
        Suggestion {
            kind: kind.to_string(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone().filter(|s| !s.is_empty())))
                .collect(),
            why: why.into(),
            does: b.map_or_else(|| kind.to_string(), |b| b.does.to_string()),
            undo: b.and_then(|b| b.undo).map(str::to_string),
            executable: false,
            why_not: None,
            by: None,
            scope: b.map_or(AGENT_SCOPE, |b| b.scope),
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

    /// Every param is known: it can be staged as it is.
    pub fn ready(&self) -> bool {
        self.params.iter().all(|(_, v)| v.is_some())
    }

    pub fn reversible(&self) -> bool {
        self.undo.is_some()
    }

    /// The known params as the object an action carries.
    pub fn params_json(&self) -> Value {
        Value::Object(
            self.params
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), Value::String(v.clone()?))))
                .collect::<Map<String, Value>>(),
        )
    }

    /// `user=ci-bot, access_key_id=AKIA…`.
    pub fn params_label(&self) -> String {
        self.params
            .iter()
            .filter_map(|(k, v)| Some(format!("{k}={}", v.as_ref()?)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Judge it against what executes kinds here.
    fn judge(&mut self, offers: &Offers) {
        let offer = offers.get(&self.kind);
        self.by = offer.map(|o| o.by.clone());
        if let Some(cap) = offer.and_then(|o| o.described.as_ref()) {
            self.does = cap.description.clone();
            self.undo = cap.reversible.then(|| {
                cap.undo
                    .clone()
                    .unwrap_or_else(|| "as the agent undoes it".into())
            });
        }
        let missing = self.missing();
        self.why_not = match (offer, missing.first()) {
            (None, _) => Some(what_to_configure(&self.kind)),
            (Some(_), Some(_)) => Some(format!(
                "needs --param {} (not in the evidence): stage it with `blastdoor action stage --kind {} --param {}=…`",
                missing.join(", "),
                self.kind,
                missing[0]
            )),
            (Some(_), None) => None,
        };
        self.executable = self.why_not.is_none();
    }
}

/// The JSON `action suggest` prints (INTERFACE.md): params as an object of what is known.
impl Serialize for Suggestion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            kind: &'a str,
            params: Value,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            missing: Vec<&'a str>,
            reversible: bool,
            executable: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            why_not: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            by: Option<&'a str>,
            why: &'a str,
            does: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            undo: Option<&'a str>,
        }
        Out {
            kind: &self.kind,
            params: self.params_json(),
            missing: self.missing(),
            reversible: self.reversible(),
            executable: self.executable,
            why_not: self.why_not.as_deref(),
            by: self.by.as_deref(),
            why: &self.why,
            does: &self.does,
            undo: self.undo.as_deref(),
        }
        .serialize(s)
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

/// Every value of the `name=value` tags of the record and of its recent events' actors.
fn tags<'a>(rec: &'a IdentityRecord, recent: &'a [&Event], name: &'a str) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for r in std::iter::once(rec).chain(recent.iter().map(|e| &e.actor)) {
        for t in &r.tags {
            if let Some((k, v)) = t.as_str().split_once('=')
                && k == name
                && !out.contains(&v)
            {
                out.push(v);
            }
        }
    }
    out
}

fn tag(rec: &IdentityRecord, recent: &[&Event], name: &str) -> Option<String> {
    tags(rec, recent, name).first().map(|s| s.to_string())
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

/// The kinds that fit `rec`, best first, each judged against `offers`. `recent` are its recent
/// events, newest first.
pub fn suggest(rec: &IdentityRecord, recent: &[&Event], offers: &Offers) -> Vec<Suggestion> {
    let mut out = fits(rec, recent);
    // Whatever an agent offers acts on the identity at the agent: it fits every identity.
    for o in offers.0.iter().filter(|o| o.kind.starts_with("agent.")) {
        if out.iter().any(|s| s.kind == o.kind) {
            continue;
        }
        out.push(Suggestion::new(
            &o.kind,
            &[],
            format!("offered by the agent at {}", o.by),
        ));
    }
    for s in &mut out {
        s.judge(offers);
    }
    // A stable sort: within one rank the most targeted (listed first) stays first.
    out.sort_by_key(|s| (!s.reversible(), !s.executable, s.scope));
    out
}

/// The built-in kinds that fit `rec`, most targeted first, not yet judged.
fn fits(rec: &IdentityRecord, recent: &[&Event]) -> Vec<Suggestion> {
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
            // The keys seen in use most recently first: an attacker's new key before the
            // workload's old one.
            let last_use = |id: &str| {
                recent
                    .iter()
                    .position(|e| e.credential.as_ref().is_some_and(|c| c.id.as_str() == id))
            };
            keys.sort_by_key(|(id, _)| last_use(id).unwrap_or(usize::MAX));
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
            // A token replayed from elsewhere is not stopped by cutting its own pod off.
            let elsewhere = recent
                .iter()
                .any(|e| e.signals.contains(&Signal::CredentialOutsideWorkload));
            let mut q = Suggestion::new(
                "k8s.quarantine_pod",
                &[("namespace", namespace.clone()), ("pod", pod.clone())],
                match (&pod, elsewhere) {
                    (Some(p), false) => format!("its token was bound to pod {p}: cut the pod off the network, keep it for forensics"),
                    (_, true) => "its token is used from outside its pod: quarantining the pod will not stop that".to_string(),
                    (None, false) => "a service account token: cut its pod off the network".to_string(),
                },
            );
            if elsewhere {
                q.scope = u8::MAX;
            }
            out.push(q);
            // One suggestion per binding the inventory names (namespaced ones: a cluster
            // role binding is not a role binding). Without any, the name is a param to give.
            let bindings: Vec<(Option<String>, String, String)> = tags(rec, recent, "binding")
                .into_iter()
                .filter_map(|v| {
                    let t = format!("binding={v}");
                    let (ns, name, role) = parse_binding_tag(&t)?;
                    Some((ns.map(str::to_string), name.to_string(), role.to_string()))
                })
                .collect();
            let namespaced: Vec<&(Option<String>, String, String)> =
                bindings.iter().filter(|(ns, _, _)| ns.is_some()).collect();
            if namespaced.is_empty() {
                out.push(Suggestion::new(
                    "k8s.delete_rolebinding",
                    &[("namespace", namespace.clone()), ("name", None)],
                    "take away what its role binding grants (a snapshot is kept)",
                ));
            }
            for (ns, name, role) in namespaced {
                out.push(Suggestion::new(
                    "k8s.delete_rolebinding",
                    &[("namespace", ns.clone()), ("name", Some(name.clone()))],
                    if role.is_empty() {
                        format!("take away what binding {name} grants (a snapshot is kept)")
                    } else {
                        format!("take away what binding {name} grants ({role}), wherever its token is used; a snapshot is kept")
                    },
                ));
            }
            if let Some(d) = tag(rec, recent, "deployment") {
                out.push(Suggestion::new(
                    "k8s.scale_to_zero",
                    &[("namespace", namespace), ("deployment", Some(d))],
                    "stop every pod of its deployment",
                ));
            }
        }
        Provider::Vault => {
            let entity = match rec.kind {
                IdentityKind::VaultEntity => principal
                    .strip_prefix("entity:")
                    .map(str::to_string)
                    .or_else(|| Some(principal.to_string())),
                _ => raw(recent, "/auth/entity_id"),
            };
            if let Some(id) = entity {
                out.push(Suggestion::new(
                    "vault.disable_entity",
                    &[("entity_id", Some(id.clone()))],
                    format!("its Vault entity {id}: disabling it refuses all of its tokens, and can be undone"),
                ));
            }
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

/// What the executors here offer, each with how it describes its kinds: the one list
/// suggestions, the desk and the console judge executability by.
pub async fn offers_of(executors: &[std::sync::Arc<dyn crate::respond::Executor>]) -> Offers {
    let mut out = Offers::default();
    for e in executors {
        let described = e.described().await;
        for kind in e.kinds().await {
            if out.get(&kind).is_some() {
                continue;
            }
            out.0.push(Offer {
                described: described.iter().find(|c| c.kind == kind).cloned(),
                kind,
                by: e.name(),
            });
        }
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
            user_agent: None,
            region: None,
            issued: None,
            status: Status::Success,
            signals: vec![],
            sigma: Vec::new(),
            raw: raw.into(),
        }
    }

    fn kinds(s: &[Suggestion]) -> Vec<&str> {
        s.iter().map(|s| s.kind.as_str()).collect()
    }

    fn offering(kinds: &[&str]) -> Offers {
        Offers(
            kinds
                .iter()
                .map(|k| Offer {
                    kind: k.to_string(),
                    by: "http://agent:7878".into(),
                    described: k.starts_with("agent.").then(|| ActionCapability {
                        kind: k.to_string(),
                        description: format!("{k} at the agent"),
                        reversible: *k == "agent.isolate_workload",
                        undo: Some("release it".into()),
                        impact: None,
                    }),
                })
                .collect(),
        )
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
        let s = suggest(&r, &[&e], &Offers::default());
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
        let s = suggest(&r, &[], &Offers::default());
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
        let s = suggest(&r, &[&e], &Offers::default());
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
    fn a_token_used_outside_its_pod_gets_its_bindings_deleted_before_its_pod_quarantined() {
        let mut r = rec(
            Provider::Kubernetes,
            "system:serviceaccount:payments:payments-api",
            IdentityKind::ServiceAccount,
        );
        r.tags.push(SafeText::new("pod=payments/payments-api-7d9"));
        r.tags.push(SafeText::new(&crate::core::binding_tag(
            Some("payments"),
            "payments-api-debug",
            "payments-api-debug",
        )));
        let mut e = event(r.clone(), Value::Null);
        e.signals.push(Signal::CredentialOutsideWorkload);
        let offers = offering(&["k8s.quarantine_pod", "k8s.delete_rolebinding"]);
        let s = suggest(&r, &[&e], &offers);
        assert_eq!(kinds(&s), ["k8s.delete_rolebinding", "k8s.quarantine_pod"]);
        assert_eq!(
            s[0].params,
            vec![
                ("namespace".into(), Some("payments".into())),
                ("name".into(), Some("payments-api-debug".into()))
            ]
        );
        assert!(s[1].why.contains("outside its pod"), "{}", s[1].why);
        // Without the replay, the pod's quarantine (one pod) comes first.
        let s = suggest(&r, &[], &offers);
        assert_eq!(kinds(&s), ["k8s.quarantine_pod", "k8s.delete_rolebinding"]);
    }

    #[test]
    fn a_vault_token_gets_its_entity_disabled_before_its_accessor_revoked() {
        let mut r = rec(
            Provider::Vault,
            "auth/approle/role/etl",
            IdentityKind::VaultToken,
        );
        r.credentials.push(Credential {
            id: SafeText::new("abc"),
            kind: CredentialKind::VaultToken,
            status: CredentialStatus::Active,
        });
        let e = event(
            r.clone(),
            serde_json::json!({"auth": {"accessor": "abc", "entity_id": "ent-1"}}),
        );
        let s = suggest(&r, &[&e], &Offers::default());
        assert_eq!(kinds(&s), ["vault.disable_entity", "vault.revoke_accessor"]);
        assert_eq!(
            s[0].params,
            vec![("entity_id".into(), Some("ent-1".into()))]
        );
        assert_eq!(s[1].params, vec![("accessor".into(), Some("abc".into()))]);
        // A Vault audit log names an entity identity `entity:ID`; the param is the ID.
        let ent = rec(Provider::Vault, "entity:ent-2", IdentityKind::VaultEntity);
        assert_eq!(
            suggest(&ent, &[], &Offers::default())[0].params,
            vec![("entity_id".into(), Some("ent-2".into()))]
        );
    }

    #[test]
    fn reversible_and_runnable_come_first_and_what_cannot_run_says_what_to_configure() {
        let mut r = rec(
            Provider::Github,
            "repo:acme/infra:environment:production",
            IdentityKind::CiToken,
        );
        r.credentials.push(Credential {
            id: SafeText::new("tok-1"),
            kind: CredentialKind::CiToken,
            status: CredentialStatus::Active,
        });
        // Nothing configured: the one kind that fits cannot run, and says why.
        let s = suggest(&r, &[], &Offers::default());
        assert_eq!(kinds(&s), ["github.revoke_credential"]);
        assert!(!s[0].executable && !s[0].reversible());
        assert!(
            s[0].why_not
                .as_deref()
                .unwrap()
                .contains("[providers.github]"),
            "{:?}",
            s[0].why_not
        );
        // An agent offering its kinds: the reversible isolation first, runnable, then the
        // final revocations.
        let s = suggest(
            &r,
            &[],
            &offering(&["agent.revoke_token", "agent.isolate_workload"]),
        );
        assert_eq!(
            kinds(&s),
            [
                "agent.isolate_workload",
                "agent.revoke_token",
                "github.revoke_credential"
            ]
        );
        assert!(s[0].executable && s[0].reversible() && s[0].why_not.is_none());
        assert_eq!(s[0].does, "agent.isolate_workload at the agent");
        assert_eq!(s[0].by.as_deref(), Some("http://agent:7878"));
        assert!(!s[1].reversible() && s[1].executable);
        let json = serde_json::to_value(&s[0]).unwrap();
        assert_eq!(json["executable"], true);
        assert_eq!(json["reversible"], true);
        assert_eq!(json["params"], serde_json::json!({}));
    }

    #[test]
    fn the_key_seen_in_use_is_offered_before_the_idle_one_and_missing_params_cannot_run() {
        let mut r = rec(
            Provider::Aws,
            "arn:aws:iam::1:user/svc-backup",
            IdentityKind::IamUser,
        );
        for k in ["AKIAOLDWORKLOADKEY01", "AKIANEWATTACKERKEY01"] {
            r.credentials.push(Credential {
                id: SafeText::new(k),
                kind: CredentialKind::AccessKey,
                status: CredentialStatus::Active,
            });
        }
        let mut e = event(r.clone(), Value::Null);
        e.credential = Some(r.credentials[1].clone());
        let offers = offering(&[
            "aws.disable_access_key",
            "aws.delete_access_key",
            "aws.deny_all",
        ]);
        let s = suggest(&r, &[&e], &offers);
        assert_eq!(
            s[0].params[1],
            ("access_key_id".into(), Some("AKIANEWATTACKERKEY01".into()))
        );
        assert!(s[0].executable);
        // A role binding nobody named cannot be staged from the evidence.
        let sa = rec(
            Provider::Kubernetes,
            "system:serviceaccount:ci:runner",
            IdentityKind::ServiceAccount,
        );
        let s = suggest(&sa, &[], &offering(&["k8s.delete_rolebinding"]));
        let b = s
            .iter()
            .find(|s| s.kind == "k8s.delete_rolebinding")
            .unwrap();
        assert!(!b.executable);
        assert!(
            b.why_not.as_deref().unwrap().contains("--param name"),
            "{:?}",
            b.why_not
        );
    }
}
