//! The demo fleet's providers: every kind that fits one of its identities (AWS keys, users and
//! roles, Kubernetes service accounts, Vault tokens, CI tokens, AI agents), carried out on the
//! simulated organisation with the params the real providers take and the outcome shapes they
//! read back, reversibly where the real provider allows it. The fleet reacts as the real system
//! would (`Containment::fate`, asked for every call it makes):
//!
//! - a disabled or deleted access key: its calls fail with `InvalidClientTokenId`;
//! - a deny-all policy on a user or role, a role's revoked sessions: `AccessDenied`, explicit
//!   deny; a disabled Vault entity or revoked accessor: `permission denied`;
//! - a deleted role binding: what only that binding's role allowed is `403 Forbidden`, the rest
//!   still works;
//! - a quarantined pod goes silent (cut off the network), but its token replayed from another
//!   pod still works: that containment does not hold, and the console sees the leak;
//! - a revoked GitHub token: its GitHub calls fail, but the AWS session it was exchanged for
//!   lives on until it expires (the leak again); an isolated workload's calls are refused.
//!
//! The storyline's attacker keeps trying and is seen failing. Rollback takes the measure away.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use serde_json::{Value, json};

use super::{CLUSTER, Call, Family, Member, PROD, allows};
use crate::agent::actions::{ActionCapability, plan_from_capability, reference_actions};
use crate::core::model::{CredentialKind, IdentityKind, Provider, parse_binding_tag};
use crate::core::workflow::{Action, DryRun};
use crate::respond::providers::{
    QUARANTINE_LABEL, QUARANTINE_POLICY, REVOKE_POLICY, deny_all_policy_name, fingerprint,
};
use crate::respond::{BUILTIN_KINDS, BoxFut, ExecError, ExecStatus, Executor, Outcome, Plan};

/// What the demo agent executes: its own kinds first (what other consoles expect of an agent),
/// then the built-in kinds that fit its fleet.
pub fn capabilities() -> Vec<ActionCapability> {
    // The reference kinds, isolation as the demo does it: refused calls, not silence.
    let mut out = reference_actions();
    if let Some(isolate) = out.iter_mut().find(|c| c.kind == "agent.isolate_workload") {
        isolate.description = "isolate the workload: the agent refuses its calls".into();
        isolate.impact = Some("every call the identity makes is refused until released".into());
    }
    for b in BUILTIN_KINDS
        .iter()
        .filter(|b| !b.kind.starts_with("gcp.") && b.kind != "k8s.scale_to_zero")
    {
        out.push(ActionCapability {
            kind: b.kind.into(),
            description: format!("{} (demo fleet)", b.does),
            reversible: b.undo.is_some(),
            undo: b.undo.map(str::to_string),
            impact: None,
        });
    }
    out
}

/// One measure in force, from the action that put it there.
#[derive(Debug, Clone, PartialEq)]
enum Hold {
    Key { id: String },
    DenyUser(String),
    DenyRole(String),
    Sessions(String),
    Quarantine { namespace: String, pod: String },
    Binding { namespace: String, role: String },
    Accessor(String),
    Entity(String),
    Token(String),
    Isolated(String),
}

/// What becomes of one call of the fleet.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Fate {
    /// As the fleet would make it anyway.
    As,
    /// Refused, with the error the source logs.
    Refused { code: &'static str, message: String },
    /// Never made (the workload is cut off).
    Silent,
}

/// The measures in force, by idempotency key: what the executor writes and the fleet reads.
#[derive(Debug, Default)]
pub struct Containment(RwLock<Vec<(String, Hold)>>);

impl Containment {
    fn put(&self, key: &str, h: Hold) {
        let mut v = self.0.write().unwrap_or_else(|e| e.into_inner());
        if !v.iter().any(|(k, _)| k == key) {
            v.push((key.to_string(), h));
        }
    }

    fn take(&self, key: &str) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(k, _)| k != key);
    }

    pub fn is_empty(&self) -> bool {
        self.0.read().map(|v| v.is_empty()).unwrap_or(true)
    }

    /// What the measures in force make of `m` calling `call` from `ip` with `credential`.
    pub(super) fn fate(&self, m: &Member, call: &Call, ip: &str, credential: &str) -> Fate {
        let holds = self.0.read().unwrap_or_else(|e| e.into_inner());
        let mut fate = Fate::As;
        for (_, h) in holds.iter() {
            match hold_fate(h, m, call, ip, credential) {
                Fate::Silent => return Fate::Silent,
                Fate::Refused { code, message } if fate == Fate::As => {
                    fate = Fate::Refused { code, message }
                }
                _ => {}
            }
        }
        fate
    }
}

/// The role an AWS call of `m` runs as: its own, or the one a CI token's OIDC exchange gave it.
fn aws_role(m: &Member) -> Option<String> {
    match m.record.kind {
        IdentityKind::IamRole | IdentityKind::AssumedRole => Some(m.short.clone()),
        IdentityKind::CiToken => Some(format!("gha-deploy-{}", m.short)),
        _ => None,
    }
}

fn explicit_deny(m: &Member, call: &Call, why: &str) -> Fate {
    Fate::Refused {
        code: "AccessDenied",
        message: format!(
            "User: {} is not authorized to perform: {}:{} on resource: {} with an explicit deny in an identity-based policy{why}",
            m.record.principal, call.service, call.op, call.resource
        ),
    }
}

fn refused_as(family: Family, what: &str) -> Fate {
    let (code, message) = match family {
        Family::Aws => ("AccessDenied", format!("{what}: access denied")),
        Family::K8s => ("Forbidden", format!("forbidden: {what}")),
        Family::Vault => ("permission denied", format!("permission denied: {what}")),
        Family::Github | Family::Gitlab => ("forbidden", format!("Bad credentials: {what}")),
        Family::Tool => ("denied", format!("denied: {what}")),
    };
    Fate::Refused { code, message }
}

fn hold_fate(h: &Hold, m: &Member, call: &Call, ip: &str, credential: &str) -> Fate {
    let aws = call.family == Family::Aws;
    match h {
        Hold::Key { id } if aws && credential == id => Fate::Refused {
            code: "InvalidClientTokenId",
            message: "The security token included in the request is invalid.".into(),
        },
        Hold::DenyUser(u) if aws && m.record.kind == IdentityKind::IamUser && m.short == *u => {
            explicit_deny(m, call, "")
        }
        Hold::DenyRole(r) if aws && aws_role(m).as_deref() == Some(r.as_str()) => {
            explicit_deny(m, call, "")
        }
        Hold::Sessions(r) if aws && aws_role(m).as_deref() == Some(r.as_str()) => explicit_deny(
            m,
            call,
            &format!(" ({REVOKE_POLICY}: aws:TokenIssueTime before the revocation)"),
        ),
        // The pod is off the network: it makes no call at all. Its token used from anywhere
        // else still works.
        Hold::Quarantine { namespace, pod }
            if m.scope == *namespace
                && pod_of(m).as_deref() == Some(pod.as_str())
                && m.ips.iter().any(|i| i == ip) =>
        {
            Fate::Silent
        }
        Hold::Binding { namespace, role }
            if call.family == Family::K8s
                && m.scope == *namespace
                && only_through(m, call, role) =>
        {
            Fate::Refused {
                code: "Forbidden",
                message: format!(
                    "{} is forbidden: User \"{}\" cannot {} resource \"{}\" in namespace \"{namespace}\"",
                    call.resource, m.record.principal, call.op, call.service
                ),
            }
        }
        Hold::Accessor(a) if m.record.provider == Provider::Vault && credential == a => {
            refused_as(Family::Vault, "invalid token")
        }
        Hold::Entity(e)
            if m.record.provider == Provider::Vault
                && entity_of(m.record.principal.as_str()) == *e =>
        {
            refused_as(Family::Vault, "the entity is disabled")
        }
        // A revoked token's own calls fail; the AWS session it was exchanged for lives on.
        Hold::Token(t) if credential == t && !aws => refused_as(call.family, "token revoked"),
        Hold::Isolated(k) if m.record.key() == *k => {
            refused_as(call.family, "isolated by the agent")
        }
        _ => Fate::As,
    }
}

/// Whether a Kubernetes call of `m` is allowed only by the grants of `role` (so deleting the
/// binding to it refuses the call): what the call needs, as the demo's grants are written.
fn only_through(m: &Member, call: &Call, role: &str) -> bool {
    let (ns, obj) = call
        .resource
        .split_once('/')
        .unwrap_or(("", &call.resource));
    let action = format!("{}:{}", call.service, call.op);
    let resource = format!("{CLUSTER}/namespaces/{ns}/{}/{obj}", call.service);
    let perms = &m.record.permissions;
    let via_role = |p: &&crate::core::model::Permission| {
        p.via
            .as_deref()
            .is_some_and(|v| v == role || v.rsplit(['/', ' ']).next() == Some(role))
    };
    let rest: Vec<_> = perms.iter().filter(|p| !via_role(p)).cloned().collect();
    allows(perms, &action, &resource) && !allows(&rest, &action, &resource)
}

/// The pod a service account's token is bound to, named from the token (stable for a seed).
pub(super) fn pod_of(m: &Member) -> Option<String> {
    if m.record.kind != IdentityKind::ServiceAccount {
        return None;
    }
    let cred = m.credential.as_ref()?;
    Some(format!(
        "{}-{}",
        m.short,
        cred.id.as_str().get(..5).unwrap_or("0")
    ))
}

/// The Vault identity entity behind a token of `principal` (stable: derived from it).
pub(super) fn entity_of(principal: &str) -> String {
    use sha2::Digest;
    let h = hex::encode(sha2::Sha256::digest(principal.as_bytes()));
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// What the executor knows of the fleet to check a target exists, as a provider would.
#[derive(Debug, Default)]
struct Known {
    users: Vec<String>,
    roles: Vec<String>,
    keys: Vec<String>,
    /// `(namespace, pod)`.
    pods: Vec<(String, String)>,
    /// `(namespace, binding, role)`.
    bindings: Vec<(String, String, String)>,
    accessors: Vec<String>,
    entities: Vec<String>,
    tokens: Vec<String>,
    identities: Vec<String>,
}

impl Known {
    fn of(members: &[Member]) -> Known {
        let mut k = Known::default();
        for m in members {
            let r = &m.record;
            k.identities.push(r.key());
            match (r.provider, r.kind) {
                (Provider::Aws, IdentityKind::IamUser) => k.users.push(m.short.clone()),
                (Provider::Aws, IdentityKind::IamRole | IdentityKind::AssumedRole) => {
                    k.roles.push(m.short.clone())
                }
                (Provider::Vault, _) => k.entities.push(entity_of(r.principal.as_str())),
                (Provider::Github | Provider::Ci, _) => {
                    k.roles.push(format!("gha-deploy-{}", m.short))
                }
                _ => {}
            }
            if let Some(p) = pod_of(m) {
                k.pods.push((m.scope.clone(), p));
            }
            for t in &r.tags {
                if let Some((Some(ns), name, role)) = parse_binding_tag(t.as_str()) {
                    k.bindings
                        .push((ns.to_string(), name.to_string(), role.to_string()));
                }
            }
            for c in &r.credentials {
                let id = c.id.to_string();
                match c.kind {
                    CredentialKind::AccessKey => k.keys.push(id),
                    CredentialKind::VaultToken => k.accessors.push(id),
                    CredentialKind::CiToken | CredentialKind::ApiKey => k.tokens.push(id),
                    _ => {}
                }
            }
        }
        k.roles.sort();
        k.roles.dedup();
        k
    }
}

fn param(a: &Action, name: &str) -> Result<String, ExecError> {
    a.params
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| ExecError::Permanent(format!("{} needs --param {name}=…", a.kind)))
}

fn missing(what: String) -> ExecError {
    ExecError::Permanent(format!("{what} does not exist in the demo fleet"))
}

/// The demo fleet's executor: checks the target as the real provider would, puts the measure
/// in force (`Containment`) and answers what the real provider reads back.
pub struct DemoExecutor {
    containment: Arc<Containment>,
    known: Known,
    done: Mutex<HashMap<String, Outcome>>,
}

impl DemoExecutor {
    pub(super) fn new(containment: Arc<Containment>, members: &[Member]) -> DemoExecutor {
        DemoExecutor {
            containment,
            known: Known::of(members),
            done: Mutex::default(),
        }
    }

    /// The measure an action asks for, and the outcome the real provider would read back.
    fn measure(&self, a: &Action, key: &str) -> Result<(Hold, Value), ExecError> {
        let k = &self.known;
        Ok(match a.kind.as_str() {
            "aws.disable_access_key" | "aws.delete_access_key" => {
                let (user, id) = (param(a, "user")?, param(a, "access_key_id")?);
                if !k.users.contains(&user) {
                    return Err(missing(format!("IAM user {user}")));
                }
                // A key the fleet made (or the storyline's attacker did) for an existing user.
                if !id.starts_with("AKIA") {
                    return Err(missing(format!("access key {id} of IAM user {user}")));
                }
                let before = json!({"access_key_id": id, "status": "Active"});
                let out = if a.kind == "aws.disable_access_key" {
                    json!({"user": user, "access_key_id": id, "status": "Inactive", "before": before, "already": false})
                } else {
                    json!({"user": user, "access_key_id": id, "deleted": true, "before": before})
                };
                (Hold::Key { id }, out)
            }
            "aws.deny_all" => {
                let (hold, principal) = match (param(a, "user"), param(a, "role")) {
                    (Ok(u), Err(_)) if k.users.contains(&u) => {
                        (Hold::DenyUser(u.clone()), format!("IAM user {u}"))
                    }
                    (Err(_), Ok(r)) if k.roles.contains(&r) => {
                        (Hold::DenyRole(r.clone()), format!("IAM role {r}"))
                    }
                    (Ok(u), Err(_)) => return Err(missing(format!("IAM user {u}"))),
                    (Err(_), Ok(r)) => return Err(missing(format!("IAM role {r}"))),
                    _ => {
                        return Err(ExecError::Permanent(
                            "aws.deny_all takes --param user=… or --param role=…".into(),
                        ));
                    }
                };
                let name = deny_all_policy_name(key);
                let doc = json!({"Version": "2012-10-17", "Statement": [{
                    "Sid": format!("BlastdoorDenyAll{}", &key[..key.len().min(16)]),
                    "Effect": "Deny", "Action": "*", "Resource": "*"}]});
                (
                    hold,
                    json!({"principal": principal, "policy": name, "document": doc,
                           "before": {"inline_policies": [], "account": PROD}}),
                )
            }
            "aws.revoke_role_sessions" => {
                let role = param(a, "role")?;
                if !k.roles.contains(&role) {
                    return Err(missing(format!("IAM role {role}")));
                }
                let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                (
                    Hold::Sessions(role.clone()),
                    json!({"role": role, "policy": REVOKE_POLICY, "revoked_before": at, "replaced_policy": null}),
                )
            }
            "k8s.quarantine_pod" => {
                let (ns, pod) = (param(a, "namespace")?, param(a, "pod")?);
                if !k.pods.contains(&(ns.clone(), pod.clone())) {
                    return Err(missing(format!("pod {ns}/{pod}")));
                }
                (
                    Hold::Quarantine {
                        namespace: ns.clone(),
                        pod: pod.clone(),
                    },
                    json!({"pod": format!("{ns}/{pod}"), "label": format!("{QUARANTINE_LABEL}=true"),
                           "labelled": true, "network_policy": format!("{ns}/{QUARANTINE_POLICY}"),
                           "policy_present": true, "created_policy": true}),
                )
            }
            "k8s.delete_rolebinding" => {
                let (ns, name) = (param(a, "namespace")?, param(a, "name")?);
                let Some((_, _, role)) = k.bindings.iter().find(|(n, b, _)| *n == ns && *b == name)
                else {
                    return Err(missing(format!("role binding {ns}/{name}")));
                };
                let snapshot = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                    "metadata": {"name": name, "namespace": ns},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role}});
                (
                    Hold::Binding {
                        namespace: ns.clone(),
                        role: role.clone(),
                    },
                    json!({"binding": format!("{ns}/{name}"), "deleted": true, "snapshot": snapshot}),
                )
            }
            "vault.revoke_accessor" => {
                let acc = param(a, "accessor")?;
                if !k.accessors.contains(&acc) {
                    return Err(missing(format!("accessor {acc}")));
                }
                (
                    Hold::Accessor(acc.clone()),
                    json!({"accessor": acc, "revoked": true, "before": a.dry_run.before}),
                )
            }
            "vault.disable_entity" => {
                let id = param(a, "entity_id")?;
                if !k.entities.contains(&id) {
                    return Err(missing(format!("entity {id}")));
                }
                (
                    Hold::Entity(id.clone()),
                    json!({"entity_id": id, "disabled": true, "before": {"disabled": false}}),
                )
            }
            "github.revoke_credential" => {
                let c = param(a, "credential")?;
                if !k.tokens.contains(&c) {
                    return Err(missing(format!("credential {}", fingerprint(&c))));
                }
                (
                    Hold::Token(c.clone()),
                    json!({"credential": fingerprint(&c), "state": "rejected", "revoked": true}),
                )
            }
            "agent.isolate_workload" | "agent.revoke_token" => {
                if !k.identities.contains(&a.identity) {
                    return Err(missing(format!("identity {}", a.identity)));
                }
                let isolate = a.kind == "agent.isolate_workload";
                (
                    Hold::Isolated(a.identity.clone()),
                    json!({"identity": a.identity, "isolated": true,
                           "status": if isolate { "isolated" } else { "revoked" }}),
                )
            }
            other => {
                return Err(ExecError::Permanent(format!(
                    "the demo fleet does not execute {other}"
                )));
            }
        })
    }

    /// What undoing `a` reads back (the real provider's rollback answer).
    fn undone(a: &Action) -> Value {
        let p = |k: &str| a.params.get(k).cloned().unwrap_or(Value::Null);
        match a.kind.as_str() {
            "aws.disable_access_key" => {
                json!({"user": p("user"), "access_key_id": p("access_key_id"), "status": "Active"})
            }
            "aws.deny_all" => json!({"principal": a.outcome.get("principal"),
                "policy": a.outcome.get("policy"), "removed": true}),
            "aws.revoke_role_sessions" => json!({"role": p("role"), "policy": REVOKE_POLICY,
                "restored_previous": false,
                "note": format!("sessions of {} issued before {} are valid again until they expire",
                    p("role").as_str().unwrap_or("the role"),
                    a.outcome.get("revoked_before").and_then(Value::as_str).unwrap_or("the revocation"))}),
            "k8s.quarantine_pod" => json!({"pod": a.outcome.get("pod"), "labelled": false}),
            "k8s.delete_rolebinding" => {
                json!({"binding": a.outcome.get("binding"), "recreated": true,
                "role_ref": format!("Role/{}", a.outcome.pointer("/snapshot/roleRef/name").and_then(Value::as_str).unwrap_or("?"))})
            }
            "vault.disable_entity" => json!({"entity_id": p("entity_id"), "disabled": false}),
            _ => json!({"identity": a.identity, "isolated": false, "status": "released"}),
        }
    }
}

impl Executor for DemoExecutor {
    fn name(&self) -> String {
        "demo fleet".into()
    }

    fn kinds(&self) -> BoxFut<'_, Vec<String>> {
        Box::pin(async { capabilities().into_iter().map(|c| c.kind).collect() })
    }

    fn described(&self) -> BoxFut<'_, Vec<ActionCapability>> {
        Box::pin(async { capabilities() })
    }

    fn plan<'a>(&'a self, a: &'a Action) -> BoxFut<'a, anyhow::Result<Plan>> {
        Box::pin(async move {
            // Checked as the provider checks before acting; planned as the agent describes it.
            self.measure(a, "plan")
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let cap = capabilities().into_iter().find(|c| c.kind == a.kind);
            let mut plan = plan_from_capability(cap.as_ref(), a, "demo fleet");
            plan.dry_run = DryRun {
                before: json!({"identity": a.identity, "params": a.params}),
                ..plan.dry_run
            };
            Ok(plan)
        })
    }

    fn execute<'a>(
        &'a self,
        a: &'a Action,
        key: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        Box::pin(async move {
            let (hold, detail) = self.measure(a, key)?;
            self.containment.put(key, hold);
            let o = Outcome {
                status: ExecStatus::Done,
                detail,
            };
            self.done
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key.to_string(), o.clone());
            Ok(o)
        })
    }

    fn status<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<Outcome>, ExecError>> {
        Box::pin(async move {
            Ok(self
                .done
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(key)
                .cloned())
        })
    }

    fn rollback<'a>(
        &'a self,
        a: &'a Action,
        key: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        Box::pin(async move {
            let reversible = capabilities()
                .iter()
                .any(|c| c.kind == a.kind && c.reversible);
            if !reversible {
                return Err(ExecError::Permanent(format!("{} cannot be undone", a.kind)));
            }
            self.containment.take(key);
            let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
            let executed = done.get(key).map(|o| o.detail.clone()).unwrap_or_default();
            let mut undo_of = a.clone();
            undo_of.outcome = executed;
            let o = Outcome {
                status: ExecStatus::RolledBack,
                detail: DemoExecutor::undone(&undo_of),
            };
            done.insert(key.to_string(), o.clone());
            Ok(o)
        })
    }
}
