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
    Change, CredentialKind, Event, EventClass, IdentityKind, IdentityRecord, Permission, Provider,
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
    let caller = s(&v, "user.username");
    let impersonated = s(&v, "impersonatedUser.username");
    // The user the request was authorised as: the impersonated one when there is one.
    let user = impersonated.or(caller).unwrap_or("unknown-user");
    // The token, and the pod and node it is bound to, are the caller's.
    let mut own = user_identity(caller.unwrap_or(user));
    if let Some(cid) = extra(&v, "authentication.kubernetes.io/credential-id") {
        own.credentials
            .push(credential(cid, CredentialKind::SaToken));
    }
    let ns = s(&v, "objectRef.namespace");
    if let Some(pod) = extra(&v, "authentication.kubernetes.io/pod-name") {
        let sa_ns = caller
            .unwrap_or(user)
            .strip_prefix("system:serviceaccount:")
            .and_then(|r| r.split(':').next())
            .unwrap_or("");
        own.tags.push(safe(&format!("pod={sa_ns}/{pod}")));
        own.tags.push(safe(&format!("workload=pod:{sa_ns}/{pod}")));
    }
    if let Some(node) = extra(&v, "authentication.kubernetes.io/node-name") {
        own.tags.push(safe(&format!("node={node}")));
    }
    let res = s(&v, "objectRef.resource").unwrap_or("");
    let service = match (s(&v, "objectRef.subresource"), v.get("objectRef")) {
        (Some(sub), _) => format!("{res}/{sub}"),
        // A non-resource request (`/healthz`, `/version`): the path is what RBAC grants, as
        // `nonResourceURLs`.
        (None, None) => non_resource_path(&v).unwrap_or_default(),
        (None, Some(_)) => res.to_string(),
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
    let actor = match impersonated {
        Some(t) if caller.is_some() => user_identity(t),
        _ => own.clone(),
    };
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
    let name = s(&v, "objectRef.name").or_else(|| selected_name(&v));
    if let Some(name) = name {
        let full = match ns {
            Some(ns) => format!("{ns}/{name}"),
            None => name.to_string(),
        };
        e.resources.push(resource(&full, res));
    } else if let Some(ns) = ns {
        e.resources.push(resource(ns, "namespace"));
    }
    let body = if verb == "patch" {
        // A patch's request body is the patch; the response is the object it made.
        v.get("responseObject").or_else(|| v.get("requestObject"))
    } else {
        v.get("requestObject").or_else(|| v.get("responseObject"))
    };
    if matches!(verb.as_str(), "create" | "update" | "patch")
        && body.is_some_and(|b| privileged_template(b, res))
    {
        e.signals.push(Signal::PrivilegeEscalation);
    }
    if res.contains("rolebinding") || res.contains("role") || res == "serviceaccounts" {
        e.class = EventClass::AccountChange;
    }
    if !failed
        && matches!(verb.as_str(), "create" | "update" | "patch")
        && matches!(res, "rolebindings" | "clusterrolebindings")
        && let Some(obj) = body
    {
        binding_changes(obj, ns, &e.actor, time, &mut out.changes);
    }
    if !failed
        && verb == "delete"
        && let Some(name) = s(&v, "objectRef.name")
    {
        deletion_change(res, ns, name, &e.actor, time, &mut out.changes);
    }
    let pair = impersonated
        .zip(caller)
        .filter(|(t, b)| t != b)
        .map(|(t, b)| (t.to_string(), b.to_string()));
    match pair {
        Some((target, by)) => impersonation(e, own, &target, &by, failed, v, out),
        None => {
            e.raw = v.into();
            out.events.push(e);
        }
    }
    Ok(())
}

/// A request made by `by` as `target`: an action of both. The impersonated identity did what
/// the call did (its `why` says by whom, and a control-plane identity acting for someone else
/// is outside its baseline); the impersonator gets the same call with its token, as a
/// privilege escalation, and its `why` names whom it impersonated. A refused request is the
/// impersonator's alone: nothing was done as the other identity.
fn impersonation(
    mut e: Event,
    own: IdentityRecord,
    target: &str,
    by: &str,
    failed: bool,
    v: Value,
    out: &mut Decoded,
) {
    use crate::core::k8s_baseline::role_of;
    let mut mine = e.clone();
    mine.actor = own;
    mine.credential = mine.actor.credentials.first().cloned();
    mine.signals.push(Signal::PrivilegeEscalation);
    if role_of(by).is_some() {
        mine.signals.push(Signal::OutsideBaseline);
    }
    let call = e.summary();
    out.changes.push(Change {
        time: e.time,
        target: user_identity(by),
        detail: safe(&format!(
            "impersonated {target}{}",
            if failed { " (refused)" } else { "" }
        )),
        by: None,
        signal: None,
        removes: None,
    });
    mine.raw = v.clone().into();
    if !failed {
        if role_of(target).is_some() {
            e.signals.push(Signal::OutsideBaseline);
        }
        out.changes.push(Change {
            time: e.time,
            target: user_identity(target),
            detail: safe(&format!("impersonated by {by} ({call})")),
            by: None,
            signal: None,
            removes: None,
        });
        e.raw = v.into();
        out.events.push(e);
    }
    out.events.push(mine);
}

/// The path of a non-resource request, without its query.
fn non_resource_path(v: &Value) -> Option<String> {
    let uri = s(v, "requestURI")?;
    let path = uri.split('?').next().unwrap_or(uri);
    Some(path.chars().take(128).collect())
}

/// The one object a list or watch selects by name (`?fieldSelector=metadata.name%3DNAME`, as
/// kubelets read their pods' secrets and config maps).
fn selected_name(v: &Value) -> Option<&str> {
    let uri = s(v, "requestURI")?;
    let (_, query) = uri.split_once('?')?;
    query.split('&').find_map(|kv| {
        let sel = kv.strip_prefix("fieldSelector=")?;
        let name = sel
            .strip_prefix("metadata.name%3D")
            .or_else(|| sel.strip_prefix("metadata.name="))?;
        // One name, not a list of selectors.
        (!name.is_empty() && !name.contains(['%', ',', '='])).then_some(name)
    })
}

/// Whether the object created or changed asks for a privileged pod: a pod itself, or the pod
/// template of a workload (deployment, daemon set, stateful set, replica set, job, cron job):
/// the one who wrote the template asked for it, not the controller that creates its pods.
fn privileged_template(obj: &Value, res: &str) -> bool {
    let spec = match res {
        "pods" => obj.get("spec"),
        "deployments"
        | "daemonsets"
        | "statefulsets"
        | "replicasets"
        | "replicationcontrollers"
        | "jobs" => get(obj, "spec.template.spec"),
        "cronjobs" => get(obj, "spec.jobTemplate.spec.template.spec"),
        _ => None,
    };
    spec.is_some_and(privileged_spec)
}

fn privileged_spec(sp: &Value) -> bool {
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

/// A (cluster) role binding created or changed, read from the object in the request (the
/// response, for a patch): every subject it names gets the bound role's grants and a change
/// saying by whom and through which binding (a grant of `cluster-admin`, `admin` or `edit` is
/// an escalation of the subject's), and the binder's `why` names whom it bound to what. The
/// API server reconciling its bootstrap policy grants nothing new: no escalation.
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
    let bootstrap =
        crate::core::k8s_baseline::is_bootstrap_reconcile(actor.principal.as_str(), binding);
    let strong = matches!(role, "cluster-admin" | "admin" | "edit") && !bootstrap;
    let by = actor.display.as_deref().unwrap_or(actor.principal.as_str());
    let mut bound: Vec<String> = Vec::new();
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
        bound.push(
            target
                .display
                .as_deref()
                .unwrap_or(target.principal.as_str())
                .to_string(),
        );
        out.push(Change {
            time,
            target,
            detail: safe(&format!("bound to {role} by {by} (binding {binding})")),
            by: Some(actor.key()),
            signal: strong.then_some(Signal::PrivilegeEscalation),
            removes: None,
        });
    }
    if bound.is_empty() || bootstrap {
        return;
    }
    let mut whom = bound.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    if bound.len() > 3 {
        whom.push_str(&format!(" and {} more", bound.len() - 3));
    }
    out.push(Change {
        time,
        target: user_identity(actor.principal.as_str()),
        detail: safe(&format!("bound {whom} to {role} (binding {binding})")),
        by: None,
        signal: None,
        removes: None,
    });
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
