//! Kubernetes `audit.k8s.io/v1` events. The identity is the user name (service accounts are
//! `system:serviceaccount:NS:NAME`); the credential is the token's
//! `authentication.kubernetes.io/credential-id` from `user.extra`; the pod and node the token
//! was bound to become tags (`pod=NS/NAME`, `node=…`, and `workload=pod:…`, so the core notices
//! a pod token used from elsewhere). A `forbid` decision or an error status is a failure.
//! A non-resource request's service is its path (`/healthz`), as RBAC's `nonResourceURLs`
//! name it; a list or watch of one object by `fieldSelector=metadata.name` names that object.
//! An impersonated request (`impersonatedUser`) is two events: the impersonated identity's
//! and the impersonator's (an escalation), each with a `Change` whose detail names the other.
//! Creating, updating or patching a (cluster) role binding is a `Change` on every subject its
//! object names (the request's, or for a patch the response's) and one on the binder saying
//! whom it bound to what; deleting a service account, a binding or a role takes away what it
//! gave (`Removal`). A privileged pod, or a workload whose pod template is privileged, is an
//! escalation of whoever asked for it. What the control plane's own identities always do is
//! weighed in `core::k8s_baseline`.

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
    // What the core's baseline learns a token's tools from (kubectl on a laptop is not a pod).
    e.user_agent = get(&v, "userAgent").and_then(|x| x.as_str()).map(safe);
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::core::explain::explain;
    use crate::core::score::{baseline_note, event_signals};
    use crate::core::{Core, Msg, RankedIdentity, SortKey};

    const T: &str = "2026-12-01T10:00:00.000000Z";

    /// An audit record of `user` doing `verb` on `res` (`resource[/subresource]`, or a
    /// non-resource path), in `ns` on `name`, with `more` merged in.
    fn rec(
        user: &str,
        verb: &str,
        res: &str,
        ns: Option<&str>,
        name: Option<&str>,
        more: Value,
    ) -> Value {
        let mut r = json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
            "verb": verb, "user": {"username": user}, "sourceIPs": ["10.0.0.5"],
            "stageTimestamp": T, "responseStatus": {"code": 200}});
        if res.starts_with('/') {
            r["requestURI"] = json!(res);
        } else {
            let (resource, sub) = res
                .split_once('/')
                .map_or((res, None), |(a, b)| (a, Some(b)));
            let mut o = json!({"resource": resource, "apiVersion": "v1"});
            if let Some(sub) = sub {
                o["subresource"] = json!(sub);
            }
            if let Some(ns) = ns {
                o["namespace"] = json!(ns);
            }
            if let Some(name) = name {
                o["name"] = json!(name);
            }
            r["objectRef"] = o;
        }
        if let (Some(m), Some(more)) = (r.as_object_mut(), more.as_object()) {
            for (k, v) in more {
                m.insert(k.clone(), v.clone());
            }
        }
        r
    }

    fn decoded(v: Value) -> Decoded {
        let mut out = Decoded::default();
        decode(v, &mut out).unwrap();
        out
    }

    fn core_of(records: Vec<Value>) -> Core {
        let mut core = Core::new();
        for r in records {
            let d = decoded(r);
            let now = d.events.iter().map(|e| e.time).max().unwrap_or(0);
            core.update(Msg::Events {
                events: d.events,
                now,
            });
            core.update(Msg::Changes {
                changes: d.changes,
                now,
            });
        }
        core
    }

    fn ranked(core: &mut Core, key: &str) -> RankedIdentity {
        let all = core.top(1000, SortKey::Risk);
        all.into_iter()
            .find(|r| r.identity == key)
            .unwrap_or_else(|| panic!("{key} not ranked"))
    }

    fn why(r: &RankedIdentity) -> String {
        r.why
            .iter()
            .map(|w| w.detail.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// The signals of the one event a record gives, and the baseline rule that lowered any.
    fn signals(v: Value) -> (Vec<Signal>, Option<&'static str>) {
        let d = decoded(v);
        assert_eq!(d.events.len(), 1);
        let e = &d.events[0];
        (event_signals(e), baseline_note(e))
    }

    const ALICE: &str = "k8s:alice";
    const API: &str = "k8s:system:serviceaccount:prod:api";

    #[test]
    fn an_impersonated_request_is_an_action_of_both_identities() {
        let r = rec(
            "alice",
            "get",
            "secrets",
            Some("prod"),
            Some("db"),
            json!({
            "impersonatedUser": {"username": "system:serviceaccount:prod:api"},
            "user": {"username": "alice", "extra": {"authentication.kubernetes.io/credential-id": ["JTI=a1"]}}}),
        );
        let d = decoded(r.clone());
        assert_eq!(d.events.len(), 2);
        let (as_api, as_alice) = (&d.events[0], &d.events[1]);
        assert_eq!(as_api.actor.key(), API);
        assert!(as_api.credential.is_none(), "the token is alice's");
        assert_eq!(as_alice.actor.key(), ALICE);
        assert_eq!(as_alice.credential.as_ref().unwrap().id.as_str(), "JTI=a1");
        assert!(event_signals(as_alice).contains(&Signal::PrivilegeEscalation));
        assert!(event_signals(as_api).contains(&Signal::SecretRead));
        assert!(!event_signals(as_api).contains(&Signal::PrivilegeEscalation));

        let mut core = core_of(vec![r]);
        let api = ranked(&mut core, API);
        assert!(
            why(&api).contains("impersonated by alice (secrets:get on prod/db)"),
            "{}",
            why(&api)
        );
        assert!(why(&api).contains("secret reads"), "{}", why(&api));
        let alice = ranked(&mut core, ALICE);
        let w = why(&alice);
        assert!(
            w.contains("impersonated system:serviceaccount:prod:api"),
            "{w}"
        );
        assert!(w.contains("privilege-escalation calls"), "{w}");
        // Both explanations show the call.
        for key in [ALICE, API] {
            let idx = core.lookup(key).unwrap();
            let x = explain(&core, idx).unwrap();
            assert!(
                x.evidence
                    .iter()
                    .any(|e| e.call() == "secrets:get" && e.resource.as_deref() == Some("prod/db")),
                "{key}: {:?}",
                x.evidence
            );
        }
        let idx = core.lookup(ALICE).unwrap();
        let x = explain(&core, idx).unwrap();
        let esc = x
            .reasons
            .iter()
            .find(|r| r.detail.starts_with("privilege-escalation"))
            .unwrap();
        assert_eq!(x.evidence[esc.evidence[0]].call(), "secrets:get");
    }

    #[test]
    fn a_refused_impersonation_is_the_impersonators_alone() {
        let r = rec(
            "alice",
            "get",
            "secrets",
            Some("prod"),
            Some("db"),
            json!({
            "impersonatedUser": {"username": "system:serviceaccount:prod:api"},
            "responseStatus": {"code": 403}}),
        );
        let d = decoded(r.clone());
        assert_eq!(d.events.len(), 1);
        assert_eq!(d.events[0].actor.key(), ALICE);
        let mut core = core_of(vec![r]);
        let alice = ranked(&mut core, ALICE);
        assert!(
            why(&alice).contains("impersonated system:serviceaccount:prod:api (refused)"),
            "{}",
            why(&alice)
        );
        assert!(
            core.lookup(API)
                .is_none_or(|i| core.get(i).unwrap().events == 0)
        );
    }

    #[test]
    fn impersonating_or_being_impersonated_is_outside_a_control_plane_baseline() {
        // Reading a pod's secret by name is routine for a kubelet, not when someone else does
        // it as the kubelet.
        let r = rec(
            "mallory",
            "get",
            "secrets",
            Some("prod"),
            Some("db"),
            json!({
            "impersonatedUser": {"username": "system:node:n1"}}),
        );
        let d = decoded(r);
        let node = &d.events[0];
        assert_eq!(node.actor.key(), "k8s:system:node:n1");
        assert!(event_signals(node).contains(&Signal::OutsideBaseline));
        assert!(event_signals(node).contains(&Signal::SecretRead));
        assert_eq!(baseline_note(node), None);
        // A controller impersonating anyone.
        let r = rec(
            "system:serviceaccount:kube-system:replicaset-controller",
            "list",
            "pods",
            Some("prod"),
            None,
            json!({
            "impersonatedUser": {"username": "alice"}}),
        );
        let d = decoded(r);
        let ctl = &d.events[1];
        assert!(
            ctl.actor
                .principal
                .as_str()
                .ends_with("replicaset-controller")
        );
        let s = event_signals(ctl);
        assert!(
            s.contains(&Signal::OutsideBaseline) && s.contains(&Signal::PrivilegeEscalation),
            "{s:?}"
        );
    }

    fn crb(name: &str, role: &str, subjects: Value) -> Value {
        json!({"kind": "ClusterRoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1",
               "metadata": {"name": name}, "roleRef": {"kind": "ClusterRole", "name": role},
               "subjects": subjects})
    }

    #[test]
    fn a_service_account_bound_to_cluster_admin_ranks_with_admin_blast_though_it_never_acts() {
        let body = crb(
            "ops-admin",
            "cluster-admin",
            json!([{"kind": "ServiceAccount", "name": "evil", "namespace": "kube-system"}]),
        );
        let create = rec(
            "alice",
            "create",
            "clusterrolebindings",
            None,
            Some("ops-admin"),
            json!({"requestObject": body}),
        );
        let mut core = core_of(vec![create]);
        let sa = ranked(&mut core, "k8s:system:serviceaccount:kube-system:evil");
        assert_eq!(sa.events, 0);
        assert!(sa.blast_radius >= 60.0, "{} {}", sa.blast_radius, why(&sa));
        let w = why(&sa);
        assert!(
            w.contains("bound to cluster-admin by alice (binding ops-admin)"),
            "{w}"
        );
        assert!(w.contains("via cluster-admin"), "{w}");
        let alice = ranked(&mut core, ALICE);
        let w = why(&alice);
        assert!(
            w.contains("bound kube-system:evil to cluster-admin (binding ops-admin)"),
            "{w}"
        );
        assert!(w.contains("privilege-escalation calls"), "{w}");
        assert!(
            sa.rank < alice.rank,
            "the admin-bound account ranks above its binder"
        );
    }

    #[test]
    fn a_patched_binding_is_read_from_the_object_it_made() {
        // A merge patch that adds a subject: the patch has no roleRef, the response has all.
        let patch =
            json!({"subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": "build"}]});
        let full = crb(
            "deployers",
            "cluster-admin",
            json!([{"kind": "ServiceAccount", "name": "ci", "namespace": "build"}]),
        );
        let r = rec(
            "alice",
            "patch",
            "clusterrolebindings",
            None,
            Some("deployers"),
            json!({"requestObject": patch, "responseObject": full}),
        );
        let mut core = core_of(vec![r]);
        let sa = ranked(&mut core, "k8s:system:serviceaccount:build:ci");
        assert!(sa.blast_radius >= 60.0, "{}", why(&sa));
        assert!(why(&sa).contains("(binding deployers)"), "{}", why(&sa));
    }

    #[test]
    fn the_api_servers_bootstrap_policy_grants_no_escalation_but_a_new_admin_binding_does() {
        let boot = rec(
            "system:apiserver",
            "create",
            "clusterrolebindings",
            None,
            Some("cluster-admin"),
            json!({"requestObject": crb("cluster-admin", "cluster-admin", json!([{"kind": "Group", "name": "system:masters"}]))}),
        );
        let (s, note) = signals(boot.clone());
        assert!(!s.contains(&Signal::PrivilegeEscalation), "{s:?}");
        assert!(note.unwrap().contains("bootstrap RBAC policy"));
        let d = decoded(boot);
        assert!(
            d.changes.iter().all(|c| c.signal.is_none()),
            "{:?}",
            d.changes
        );
        let odd = rec(
            "system:apiserver",
            "create",
            "clusterrolebindings",
            None,
            Some("backdoor"),
            json!({"requestObject": crb("backdoor", "cluster-admin", json!([{"kind": "User", "name": "eve"}]))}),
        );
        let (s, note) = signals(odd.clone());
        assert!(
            s.contains(&Signal::PrivilegeEscalation) && note.is_none(),
            "{s:?}"
        );
        assert!(
            decoded(odd)
                .changes
                .iter()
                .any(|c| c.signal == Some(Signal::PrivilegeEscalation))
        );
    }

    #[test]
    fn kubelet_token_requests_are_routine_but_a_users_are_an_escalation() {
        let (s, note) = signals(rec(
            "system:node:n1",
            "create",
            "serviceaccounts/token",
            Some("prod"),
            Some("api"),
            json!({}),
        ));
        assert!(!s.contains(&Signal::PrivilegeEscalation), "{s:?}");
        assert_eq!(
            note,
            Some("control plane: kubelet requesting its pods' service-account tokens is routine")
        );
        let (s, note) = signals(rec(
            "alice",
            "create",
            "serviceaccounts/token",
            Some("prod"),
            Some("api"),
            json!({}),
        ));
        assert!(
            s.contains(&Signal::PrivilegeEscalation) && note.is_none(),
            "{s:?}"
        );
        // A refused token request by a node is not lowered.
        let (s, note) = signals(rec(
            "system:node:n1",
            "create",
            "serviceaccounts/token",
            Some("prod"),
            Some("api"),
            json!({"responseStatus": {"code": 403}}),
        ));
        assert!(
            s.contains(&Signal::PrivilegeEscalation)
                && s.contains(&Signal::Denied)
                && note.is_none(),
            "{s:?}"
        );
    }

    #[test]
    fn a_kubelet_reads_its_pods_secrets_by_name_but_never_lists_them_all() {
        let by_name = rec(
            "system:node:n1",
            "list",
            "secrets",
            Some("prod"),
            None,
            json!({"requestURI": "/api/v1/namespaces/prod/secrets?fieldSelector=metadata.name%3Ddb-creds&limit=500"}),
        );
        let d = decoded(by_name.clone());
        assert_eq!(d.events[0].resources[0].name.as_str(), "prod/db-creds");
        let (s, note) = signals(by_name);
        assert!(
            !s.contains(&Signal::SecretRead) && !s.contains(&Signal::Recon),
            "{s:?}"
        );
        assert!(
            note.unwrap()
                .contains("kubelet reading the secrets its pods mount")
        );
        let all = rec(
            "system:node:n1",
            "list",
            "secrets",
            None,
            None,
            json!({"requestURI": "/api/v1/secrets"}),
        );
        let (s, note) = signals(all.clone());
        assert!(
            s.contains(&Signal::OutsideBaseline)
                && s.contains(&Signal::SecretRead)
                && note.is_none(),
            "{s:?}"
        );
        let mut core = core_of(vec![all]);
        let n = ranked(&mut core, "k8s:system:node:n1");
        assert!(
            n.threat >= 20.0 && why(&n).contains("outside its baseline"),
            "{} {}",
            n.threat,
            why(&n)
        );
    }

    #[test]
    fn controllers_create_default_service_accounts_and_token_secrets_but_nothing_else() {
        let ctl = "system:serviceaccount:kube-system:service-account-controller";
        let (s, note) = signals(rec(
            ctl,
            "create",
            "serviceaccounts",
            Some("team-a"),
            Some("default"),
            json!({}),
        ));
        assert!(!s.contains(&Signal::Persistence), "{s:?}");
        assert!(note.unwrap().contains("default service account"));
        let (s, note) = signals(rec(
            ctl,
            "create",
            "serviceaccounts",
            Some("kube-system"),
            Some("backdoor"),
            json!({}),
        ));
        assert!(s.contains(&Signal::Persistence) && note.is_none(), "{s:?}");
        let kcm = "system:kube-controller-manager";
        // The controller manager creates its controllers' accounts when it starts.
        let (s, note) = signals(rec(
            kcm,
            "create",
            "serviceaccounts",
            Some("kube-system"),
            Some("replicaset-controller"),
            json!({}),
        ));
        assert!(!s.contains(&Signal::Persistence) && note.is_some(), "{s:?}");
        let (s, note) = signals(rec(
            kcm,
            "create",
            "serviceaccounts",
            Some("prod"),
            Some("replicaset-controller"),
            json!({}),
        ));
        assert!(s.contains(&Signal::Persistence) && note.is_none(), "{s:?}");
        let (s, note) = signals(rec(
            kcm,
            "create",
            "secrets",
            Some("test2"),
            Some("default-token-7v4pb"),
            json!({}),
        ));
        assert!(!s.contains(&Signal::Persistence), "{s:?}");
        assert!(note.unwrap().contains("token secrets"));
        let (s, note) = signals(rec(
            kcm,
            "create",
            "secrets",
            Some("kube-system"),
            Some("stolen"),
            json!({}),
        ));
        assert!(s.contains(&Signal::Persistence) && note.is_none(), "{s:?}");
        // Exec into a pod is never a controller's.
        let (s, _) = signals(rec(
            "system:serviceaccount:kube-system:replicaset-controller",
            "create",
            "pods/exec",
            Some("prod"),
            Some("api-1"),
            json!({}),
        ));
        assert!(
            s.contains(&Signal::OutsideBaseline) && s.contains(&Signal::PrivilegeEscalation),
            "{s:?}"
        );
    }

    fn privileged_pod_spec() -> Value {
        json!({"hostNetwork": true, "containers": [{"name": "c", "securityContext": {"privileged": true}}]})
    }

    #[test]
    fn a_privileged_pod_is_its_templates_authors_not_the_replica_set_controllers() {
        let rs = "system:serviceaccount:kube-system:replicaset-controller";
        let (s, note) = signals(rec(
            rs,
            "create",
            "pods",
            Some("default"),
            None,
            json!({"requestObject": {"kind": "Pod", "spec": privileged_pod_spec()}}),
        ));
        assert!(!s.contains(&Signal::PrivilegeEscalation), "{s:?}");
        assert!(note.unwrap().contains("from their template"));
        let (s, _) = signals(rec(
            "alice",
            "create",
            "deployments",
            Some("default"),
            Some("web"),
            json!({"requestObject": {"kind": "Deployment", "spec": {"template": {"spec": privileged_pod_spec()}}}}),
        ));
        assert!(s.contains(&Signal::PrivilegeEscalation), "{s:?}");
        // Someone else creating the same pod directly still escalates.
        let (s, _) = signals(rec(
            "alice",
            "create",
            "pods",
            Some("default"),
            Some("p"),
            json!({"requestObject": {"kind": "Pod", "spec": privileged_pod_spec()}}),
        ));
        assert!(s.contains(&Signal::PrivilegeEscalation), "{s:?}");
    }

    #[test]
    fn anonymous_health_probes_are_routine_but_anonymous_reads_are_not() {
        let probes: Vec<Value> = [
            "/healthz",
            "/livez",
            "/readyz?verbose",
            "/version",
            "/livez/ping",
        ]
        .iter()
        .cycle()
        .take(60)
        .map(|p| rec("system:anonymous", "get", p, None, None, json!({})))
        .collect();
        let (s, note) = signals(probes[0].clone());
        assert!(s.is_empty(), "{s:?}");
        assert!(
            note.unwrap()
                .contains("anonymous health, version and discovery probes")
        );
        let mut core = core_of(probes);
        let a = ranked(&mut core, "k8s:system:anonymous");
        assert!(a.threat < 1.0, "{} {}", a.threat, why(&a));
        assert!(
            why(&a).contains("control plane: anonymous health"),
            "{}",
            why(&a)
        );
        assert!(!why(&a).contains("workload credential"), "{}", why(&a));
        let secrets = rec(
            "system:anonymous",
            "get",
            "secrets",
            Some("kube-system"),
            Some("admin-token"),
            json!({}),
        );
        let (s, note) = signals(secrets.clone());
        assert!(
            s.contains(&Signal::OutsideBaseline)
                && s.contains(&Signal::SecretRead)
                && note.is_none(),
            "{s:?}"
        );
        let mut core = core_of(vec![secrets]);
        let a = ranked(&mut core, "k8s:system:anonymous");
        assert!(a.threat >= 20.0, "{} {}", a.threat, why(&a));
        // A probe path an anonymous caller does not get: outside.
        let (s, _) = signals(rec(
            "system:anonymous",
            "get",
            "/metrics",
            None,
            None,
            json!({}),
        ));
        assert!(s.contains(&Signal::OutsideBaseline), "{s:?}");
    }

    #[test]
    fn a_kubelet_credential_used_from_a_public_address_is_outside_its_baseline() {
        let token = |ip: &str| {
            rec(
                "system:node:n1",
                "create",
                "serviceaccounts/token",
                Some("kube-system"),
                Some("kube-proxy"),
                json!({"sourceIPs": [ip]}),
            )
        };
        for inside in [
            "10.0.27.115",
            "192.168.49.2",
            "127.0.0.1",
            "::1",
            "100.64.3.2",
            "fd00::5",
        ] {
            let (s, note) = signals(token(inside));
            assert!(s.is_empty() && note.is_some(), "{inside}: {s:?}");
        }
        let (s, note) = signals(token("1.2.3.4"));
        assert!(
            s.contains(&Signal::OutsideBaseline) && s.contains(&Signal::PrivilegeEscalation),
            "{s:?}"
        );
        assert!(note.is_none());
        // A load balancer's health check may come from a public address.
        let (s, _) = signals(rec(
            "system:anonymous",
            "get",
            "/healthz",
            None,
            None,
            json!({"sourceIPs": ["35.191.0.9"]}),
        ));
        assert!(s.is_empty(), "{s:?}");
    }

    #[test]
    fn the_scheduler_and_kube_proxy_watch_but_never_read_secrets() {
        for who in [
            "system:kube-scheduler",
            "system:kube-proxy",
            "system:serviceaccount:kube-system:coredns",
        ] {
            let (s, note) = signals(rec(who, "watch", "nodes", None, None, json!({})));
            assert!(s.is_empty() && note.is_some(), "{who}: {s:?}");
            let (s, _) = signals(rec(
                who,
                "get",
                "secrets",
                Some("prod"),
                Some("db"),
                json!({}),
            ));
            assert!(s.contains(&Signal::OutsideBaseline), "{who}: {s:?}");
        }
        // And nobody else gets their baseline.
        let (s, note) = signals(rec(
            "system:serviceaccount:prod:kube-proxy",
            "list",
            "nodes",
            None,
            None,
            json!({}),
        ));
        assert!(s.contains(&Signal::Recon) && note.is_none(), "{s:?}");
    }
}
