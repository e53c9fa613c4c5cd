//! Kubernetes `audit.k8s.io/v1` events. The identity is the user name (service accounts are
//! `system:serviceaccount:NS:NAME`); the credential is the token's
//! `authentication.kubernetes.io/credential-id` from `user.extra`; the pod and node the token
//! was bound to become tags (`pod=NS/NAME`, `node=…`, and `workload=pod:…`, so the core notices
//! a pod token used from elsewhere). A `forbid` decision or an error status is a failure.
//! Creating a (cluster) role binding is a `Change` on every subject it names; deleting a
//! service account, a binding or a role takes away what it gave (`Removal`).

use serde_json::Value;

use super::{DecodeError, Decoded, credential, event, get, identity, resource, s, safe, time_of};
use crate::core::{
    Change, CredentialKind, EventClass, IdentityKind, IdentityRecord, Permission, Provider,
    Removal, Signal, Status, binding_tag,
};

fn extra<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    let x = get(v, "user.extra")?.get(key)?;
    match x {
        Value::Array(a) => a.first().and_then(|s| s.as_str()),
        Value::String(s) => Some(s.as_str()),
        _ => None,
    }
}

pub fn user_identity(name: &str) -> IdentityRecord {
    let kind = if name.starts_with("system:serviceaccount:") {
        IdentityKind::ServiceAccount
    } else if name.starts_with("system:node:") || name.starts_with("system:kube-") {
        IdentityKind::Unknown
    } else {
        IdentityKind::Human
    };
    let display = name.strip_prefix("system:serviceaccount:").unwrap_or(name);
    identity(Provider::Kubernetes, name, kind, Some(display))
}

pub fn decode(v: Value, out: &mut Decoded) -> Result<(), DecodeError> {
    if s(&v, "stage") == Some("RequestReceived") {
        // The same request is logged again at ResponseComplete with its outcome.
        return Ok(());
    }
    let verb = s(&v, "verb").unwrap_or("unknown").to_string();
    let user = s(&v, "user.username")
        .or_else(|| s(&v, "impersonatedUser.username"))
        .unwrap_or("unknown-user");
    let mut actor = user_identity(user);
    if let Some(cid) = extra(&v, "authentication.kubernetes.io/credential-id") {
        actor
            .credentials
            .push(credential(cid, CredentialKind::SaToken));
    }
    let ns = s(&v, "objectRef.namespace");
    if let Some(pod) = extra(&v, "authentication.kubernetes.io/pod-name") {
        let sa_ns = user
            .strip_prefix("system:serviceaccount:")
            .and_then(|r| r.split(':').next())
            .unwrap_or("");
        actor.tags.push(safe(&format!("pod={sa_ns}/{pod}")));
        actor
            .tags
            .push(safe(&format!("workload=pod:{sa_ns}/{pod}")));
    }
    if let Some(node) = extra(&v, "authentication.kubernetes.io/node-name") {
        actor.tags.push(safe(&format!("node={node}")));
    }
    let res = s(&v, "objectRef.resource").unwrap_or("");
    let service = match s(&v, "objectRef.subresource") {
        Some(sub) => format!("{res}/{sub}"),
        None => res.to_string(),
    };
    let time = time_of(
        &v,
        &[
            "stageTimestamp",
            "requestReceivedTimestamp",
            "timestamp",
            "metadata.creationTimestamp",
            "p_event_time",
        ],
    );
    let mut e = event(time, actor, &service, &verb);
    e.credential = e.actor.credentials.first().cloned();
    e.src_ip = get(&v, "sourceIPs")
        .and_then(|a| a.get(0))
        .and_then(|x| x.as_str())
        .map(safe);
    let decision = get(&v, "annotations")
        .and_then(|a| a.get("authorization.k8s.io/decision"))
        .and_then(|d| d.as_str());
    let code = get(&v, "responseStatus.code").and_then(|c| c.as_i64());
    e.status = if decision == Some("forbid") || matches!(code, Some(401 | 403)) {
        Status::Failure
    } else if code.is_some_and(|c| c >= 400) {
        Status::Error
    } else {
        Status::Success
    };
    let failed = e.status != Status::Success;
    if let Some(name) = s(&v, "objectRef.name") {
        let full = match ns {
            Some(ns) => format!("{ns}/{name}"),
            None => name.to_string(),
        };
        e.resources.push(resource(&full, res));
    } else if let Some(ns) = ns {
        e.resources.push(resource(ns, "namespace"));
    }
    if user == "system:anonymous" && !failed {
        e.signals.push(Signal::CredentialOutsideWorkload);
    }
    if matches!(res, "pods") && verb == "create" && privileged_pod(&v) {
        e.signals.push(Signal::PrivilegeEscalation);
    }
    if res.contains("rolebinding") || res.contains("role") || res == "serviceaccounts" {
        e.class = EventClass::AccountChange;
    }
    if !failed
        && matches!(verb.as_str(), "create" | "update" | "patch")
        && matches!(res, "rolebindings" | "clusterrolebindings")
        && let Some(obj) = v.get("requestObject").or_else(|| v.get("responseObject"))
    {
        binding_changes(obj, ns, &e.actor, time, &mut out.changes);
    }
    if !failed
        && verb == "delete"
        && let Some(name) = s(&v, "objectRef.name")
    {
        deletion_change(res, ns, name, &e.actor, time, &mut out.changes);
    }
    e.raw = v.into();
    out.events.push(e);
    Ok(())
}

fn privileged_pod(v: &Value) -> bool {
    let spec = get(v, "requestObject.spec");
    spec.is_some_and(|sp| {
        sp.get("hostNetwork").and_then(|x| x.as_bool()) == Some(true)
            || sp.get("hostPID").and_then(|x| x.as_bool()) == Some(true)
            || sp
                .get("containers")
                .and_then(|c| c.as_array())
                .is_some_and(|cs| {
                    cs.iter().any(|c| {
                        get(c, "securityContext.privileged").and_then(|p| p.as_bool()) == Some(true)
                    })
                })
    })
}

/// The permission a role reference confers, as far as its name tells.
pub fn role_permission(role: &str, scope: &str) -> Permission {
    let action = match role {
        "cluster-admin" | "admin" => "*",
        "edit" => "*:create",
        "view" => "*:get",
        _ => "",
    };
    Permission {
        action: safe(if action.is_empty() {
            "role:bound"
        } else {
            action
        }),
        resource: safe(scope),
        effect: Default::default(),
        via: Some(safe(role)),
        sensitivity: None,
    }
}

/// The identity a binding subject names.
pub fn subject_identity(sub: &Value, default_ns: Option<&str>) -> Option<IdentityRecord> {
    let name = s(sub, "name")?;
    Some(match s(sub, "kind") {
        Some("ServiceAccount") => {
            let ns = s(sub, "namespace").or(default_ns).unwrap_or("default");
            user_identity(&format!("system:serviceaccount:{ns}:{name}"))
        }
        Some("Group") => identity(
            Provider::Kubernetes,
            &format!("group:{name}"),
            IdentityKind::Unknown,
            Some(name),
        ),
        _ => user_identity(name),
    })
}

fn binding_changes(
    obj: &Value,
    ns: Option<&str>,
    actor: &IdentityRecord,
    time: crate::core::Millis,
    out: &mut Vec<Change>,
) {
    let Some(role) = s(obj, "roleRef.name") else {
        return;
    };
    let ns = s(obj, "metadata.namespace").or(ns);
    let scope = ns.unwrap_or("*");
    let binding = s(obj, "metadata.name").unwrap_or("binding");
    let strong = matches!(role, "cluster-admin" | "admin" | "edit");
    let by = actor.display.as_deref().unwrap_or(actor.principal.as_str());
    for sub in obj
        .get("subjects")
        .and_then(|x| x.as_array())
        .into_iter()
        .flatten()
        .take(32)
    {
        let Some(mut target) = subject_identity(sub, ns) else {
            continue;
        };
        target.permissions.push(role_permission(role, scope));
        target.tags.push(safe(&binding_tag(ns, binding, role)));
        out.push(Change {
            time,
            target,
            detail: safe(&format!("bound to {role} by {by} (binding {binding})")),
            by: Some(actor.key()),
            signal: strong.then_some(Signal::PrivilegeEscalation),
            removes: None,
        });
    }
}

/// What deleting a service account, a (cluster) role binding or a (cluster) role takes away.
fn deletion_change(
    res: &str,
    ns: Option<&str>,
    name: &str,
    actor: &IdentityRecord,
    time: crate::core::Millis,
    out: &mut Vec<Change>,
) {
    let by = actor.display.as_deref().unwrap_or(actor.principal.as_str());
    let (target, removes, what) = match res {
        "serviceaccounts" => {
            let Some(ns) = ns else { return };
            (
                user_identity(&format!("system:serviceaccount:{ns}:{name}")),
                Removal::Identity,
                "deleted".to_string(),
            )
        }
        "rolebindings" | "clusterrolebindings" => {
            let key = match ns.filter(|_| res == "rolebindings") {
                Some(ns) => format!("{ns}/{name}"),
                None => name.to_string(),
            };
            (
                identity(
                    Provider::Kubernetes,
                    &format!("{res}/{key}"),
                    IdentityKind::Unknown,
                    None,
                ),
                Removal::Binding {
                    binding: safe(&key),
                },
                format!("binding {key} deleted"),
            )
        }
        "roles" | "clusterroles" => (
            identity(
                Provider::Kubernetes,
                &format!("{res}/{name}"),
                IdentityKind::Unknown,
                None,
            ),
            Removal::Role { role: safe(name) },
            format!("role {name} deleted"),
        ),
        _ => return,
    };
    out.push(Change {
        time,
        target,
        detail: safe(&format!("{what} by {by} (delete {res})")),
        by: Some(actor.key()),
        signal: None,
        removes: Some(removes),
    });
}
