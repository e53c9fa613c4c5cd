//! The Kubernetes control plane's own identities and what each of them always does: the
//! kubelets (`system:node:*`), the controllers (`system:kube-controller-manager` and the
//! `kube-system` controller service accounts), the scheduler, the API server's loopback client,
//! kube-proxy and CoreDNS, and anonymous health probes. What a role always does is not a
//! threat signal (a kubelet requesting its pods' tokens is no privilege escalation, a controller
//! creating a namespace's `default` service account is no persistence, an anonymous `/healthz`
//! is no stolen credential), and the identity's `why` says which rule lowered it. What a role
//! never does (exec into a pod, impersonate, an anonymous caller reading anything but the
//! public health and version paths, a kubelet listing every secret) is
//! [`Signal::OutsideBaseline`] on top of what the call carries.
//!
//! Refused calls are never lowered: a denial is what the role did not manage to do.

use crate::core::model::{Event, Signal, Status};

/// A control-plane role, from the user name alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `system:anonymous`: unauthenticated requests (load-balancer and kubelet health probes).
    Anonymous,
    /// `system:node:NAME`: a kubelet.
    Node,
    /// `system:kube-controller-manager` and the `kube-system` controller service accounts.
    Controller,
    /// `system:kube-scheduler`.
    Scheduler,
    /// `system:apiserver`: the API server's own loopback client.
    ApiServer,
    /// kube-proxy (`system:kube-proxy` or its `kube-system` service account) and CoreDNS.
    Network,
}

/// The `kube-system` service accounts of the controller manager's controllers whose names do
/// not end in `-controller`.
const CONTROLLER_SAS: [&str; 9] = [
    "generic-garbage-collector",
    "pod-garbage-collector",
    "persistent-volume-binder",
    "horizontal-pod-autoscaler",
    "bootstrap-signer",
    "token-cleaner",
    "root-ca-cert-publisher",
    "legacy-service-account-token-cleaner",
    "service-account-issuer-discovery",
];

/// Controllers that create pods from a template someone else wrote.
const POD_TEMPLATE_CONTROLLERS: [&str; 6] = [
    "replicaset-controller",
    "replication-controller",
    "daemon-set-controller",
    "statefulset-controller",
    "job-controller",
    "cronjob-controller",
];

/// Paths `system:public-info-viewer` opens to anyone, and the service-account issuer
/// discovery documents that clusters commonly open to them.
const PUBLIC_PATHS: [&str; 6] = [
    "/healthz",
    "/livez",
    "/readyz",
    "/version",
    "/.well-known/openid-configuration",
    "/openid/v1/jwks",
];

/// The control-plane role of a Kubernetes user name, if it is one.
pub fn role_of(user: &str) -> Option<Role> {
    if let Some(sa) = user.strip_prefix("system:serviceaccount:kube-system:") {
        return if sa.ends_with("-controller") || CONTROLLER_SAS.contains(&sa) {
            Some(Role::Controller)
        } else if matches!(sa, "kube-proxy" | "coredns") {
            Some(Role::Network)
        } else {
            None
        };
    }
    Some(match user {
        "system:anonymous" => Role::Anonymous,
        "system:kube-controller-manager" => Role::Controller,
        "system:kube-scheduler" => Role::Scheduler,
        "system:apiserver" => Role::ApiServer,
        "system:kube-proxy" => Role::Network,
        u if u.starts_with("system:node:") => Role::Node,
        _ => return None,
    })
}

/// Whether a path is one of the public health, version and issuer-discovery paths
/// (`/healthz`, `/livez/ping`, `/readyz?verbose`, …).
pub fn is_public_path(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    PUBLIC_PATHS.iter().any(|p| {
        path.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// Whether a (cluster) role or binding of this name is part of the API server's bootstrap
/// RBAC policy, which it reconciles on every start.
pub fn is_bootstrap_rbac(name: &str) -> bool {
    name.starts_with("system:")
        || matches!(
            name,
            "cluster-admin"
                | "admin"
                | "edit"
                | "view"
                | "extension-apiserver-authentication-reader"
        )
}

/// Whether `user` reconciling the role or binding `name` is the API server's bootstrap.
pub fn is_bootstrap_reconcile(user: &str, name: &str) -> bool {
    role_of(user) == Some(Role::ApiServer) && is_bootstrap_rbac(name)
}

/// Whether an address is a public one: not private, loopback, link-local, shared (CGNAT) or
/// unique-local. Text that is not an address is not public.
pub fn is_public_address(ip: &str) -> bool {
    use std::net::IpAddr;
    match ip.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => {
            let [x, y, ..] = a.octets();
            !(a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_unspecified()
                || (x == 100 && (64..128).contains(&y)))
        }
        Ok(IpAddr::V6(a)) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return is_public_address(&v4.to_string());
            }
            let first = a.segments()[0];
            !(a.is_loopback()
                || a.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
        Err(_) => false,
    }
}

fn is_read(op: &str) -> bool {
    matches!(op, "get" | "list" | "watch")
}

fn is_write(op: &str) -> bool {
    matches!(op, "create" | "update" | "patch")
}

fn remove(signals: &mut Vec<Signal>, drop: &[Signal]) -> bool {
    let before = signals.len();
    signals.retain(|s| !drop.contains(s));
    signals.len() < before
}

/// Apply the baseline of the actor's control-plane role to the signals the call carries
/// (`signals`, already matched from the call): routine signals are taken off, a call outside the
/// role's baseline gains [`Signal::OutsideBaseline`]. Returns the rule, in words, that lowered
/// something (for the identity's `why`), if one did.
pub fn apply(e: &Event, signals: &mut Vec<Signal>) -> Option<&'static str> {
    let user = e.actor.principal.as_str();
    let role = role_of(user)?;
    // Impersonation (marked by the decoder) is never what the control plane does.
    if e.signals.contains(&Signal::OutsideBaseline) || e.status == Status::Failure {
        return None;
    }
    // The control plane calls from inside the cluster's networks; a kubelet's or a
    // controller's credential used from a public address is not the control plane's doing.
    // (Anonymous probes come from load balancers, which may have public addresses.)
    if role != Role::Anonymous && e.src_ip.as_deref().is_some_and(is_public_address) {
        signals.push(Signal::OutsideBaseline);
        return None;
    }
    let op = e.api.operation.as_str();
    let svc = e.api.service.as_str();
    let first = e.resources.first();
    // A single object by name, not a namespace or the whole cluster.
    let named = first.is_some_and(|r| r.kind.as_deref() != Some("namespace"));
    let name = first.map(|r| r.name.as_str()).unwrap_or("");
    let never = matches!(
        svc,
        "pods/exec" | "pods/attach" | "pods/portforward" | "pods/proxy" | "services/proxy"
    ) || matches!(op, "impersonate" | "escalate" | "bind");
    if never {
        signals.push(Signal::OutsideBaseline);
        return None;
    }
    let secret = svc == "secrets";
    match role {
        Role::Anonymous => {
            if op == "get" && is_public_path(svc) {
                return Some(
                    "control plane: anonymous health, version and discovery probes are routine",
                );
            }
            signals.push(Signal::OutsideBaseline);
            None
        }
        Role::Node => {
            if svc == "serviceaccounts/token" && op == "create" {
                remove(signals, &[Signal::PrivilegeEscalation]).then_some(
                    "control plane: kubelet requesting its pods' service-account tokens is routine",
                )
            } else if matches!(svc, "secrets" | "configmaps") && is_read(op) {
                if named {
                    remove(signals, &[Signal::SecretRead, Signal::Recon]).then_some(
                        "control plane: kubelet reading the secrets its pods mount, by name, is routine",
                    )
                } else {
                    if secret {
                        // A kubelet only ever reads its own pods' secrets, one by one.
                        signals.push(Signal::OutsideBaseline);
                    }
                    None
                }
            } else if svc == "pods" && op == "create" {
                remove(signals, &[Signal::PrivilegeEscalation]).then_some(
                    "control plane: kubelet creating the mirror pods of its static pods is routine",
                )
            } else if is_read(op) {
                remove(signals, &[Signal::Recon]).then_some(
                    "control plane: kubelet watching nodes, services and its pods is routine",
                )
            } else {
                None
            }
        }
        Role::Controller => {
            let sa = user.strip_prefix("system:serviceaccount:kube-system:");
            let manager = sa.is_none();
            if is_read(op) {
                remove(signals, &[Signal::Recon, Signal::SecretRead]).then_some(
                    "control plane: controllers watching the objects they reconcile is routine",
                )
            } else if svc == "pods"
                && op == "create"
                && (manager || sa.is_some_and(|s| POD_TEMPLATE_CONTROLLERS.contains(&s)))
            {
                remove(signals, &[Signal::PrivilegeEscalation]).then_some(
                    "control plane: a workload controller creating pods from their template is routine (the template's author is flagged for what it asks)",
                )
            } else if svc == "serviceaccounts"
                && op == "create"
                && manager
                && name.strip_prefix("kube-system/").is_some_and(|n| {
                    role_of(&format!("system:serviceaccount:kube-system:{n}"))
                        == Some(Role::Controller)
                })
            {
                remove(signals, &[Signal::Persistence]).then_some(
                    "control plane: the controller manager creating its controllers' service accounts is routine",
                )
            } else if svc == "serviceaccounts"
                && op == "create"
                && name.rsplit('/').next() == Some("default")
            {
                remove(signals, &[Signal::Persistence]).then_some(
                    "control plane: the service-account controller creating a namespace's default service account is routine",
                )
            } else if secret && op == "create" && name.contains("-token-") {
                remove(signals, &[Signal::Persistence]).then_some(
                    "control plane: the token controller creating service-account token secrets is routine",
                )
            } else if svc == "serviceaccounts/token"
                && op == "create"
                && manager
                && name.strip_prefix("kube-system/").is_some_and(|n| {
                    role_of(&format!("system:serviceaccount:kube-system:{n}"))
                        == Some(Role::Controller)
                })
            {
                remove(signals, &[Signal::PrivilegeEscalation]).then_some(
                    "control plane: the controller manager requesting its controllers' tokens is routine",
                )
            } else if matches!(svc, "clusterroles")
                && matches!(op, "update" | "patch")
                && (manager || sa == Some("clusterrole-aggregation-controller"))
            {
                remove(signals, &[Signal::PrivilegeEscalation]).then_some(
                    "control plane: the cluster-role aggregation controller updating aggregated roles is routine",
                )
            } else {
                None
            }
        }
        Role::Scheduler | Role::Network => {
            if secret {
                // Neither the scheduler nor kube-proxy and CoreDNS read secrets.
                signals.push(Signal::OutsideBaseline);
                None
            } else if is_read(op) {
                remove(signals, &[Signal::Recon]).then_some(if role == Role::Scheduler {
                    "control plane: the scheduler watching pods, nodes and namespaces is routine"
                } else {
                    "control plane: kube-proxy and CoreDNS watching services, endpoints and namespaces is routine"
                })
            } else {
                None
            }
        }
        Role::ApiServer => {
            if is_read(op) {
                remove(signals, &[Signal::Recon, Signal::SecretRead])
                    .then_some("control plane: the API server's own loopback reads are routine")
            } else if is_write(op)
                && matches!(
                    svc,
                    "clusterroles" | "clusterrolebindings" | "roles" | "rolebindings"
                )
                && is_bootstrap_rbac(name.rsplit('/').next().unwrap_or(name))
            {
                remove(signals, &[Signal::PrivilegeEscalation]).then_some(
                    "control plane: the API server reconciling its bootstrap RBAC policy is routine",
                )
            } else {
                None
            }
        }
    }
}
