//! Kubernetes RBAC escalation: the grants the RBAC decoder flattens (`resource:verb` on a
//! namespace, or `*` cluster-wide) that let one subject act as a service account: creating pods
//! in its namespace (they may mount its token), exec into its pods, reading its token secret,
//! minting a token for it, or impersonating it. `bind` and `escalate` on roles are
//! administrator grants by themselves (see `graph::own_items`).

use super::aws_policy::action_matches;
use super::{EdgeKind, NodeInfo};
use crate::core::model::{Effect, IdentityKind, Permission};

/// The namespace of `system:serviceaccount:NS:NAME`.
pub fn sa_namespace(principal: &str) -> Option<&str> {
    let rest = principal.strip_prefix("system:serviceaccount:")?;
    rest.split(':').next()
}

/// Whether `perms` allow `verb` on `resource` in namespace `ns` (a `*` scope is cluster-wide).
pub fn can(perms: &[Permission], resource: &str, verb: &str, ns: &str) -> bool {
    let action = format!("{resource}:{verb}");
    let hit = |p: &Permission| {
        (p.action.as_str() == "*" || action_matches(p.action.as_str(), &action))
            && (p.resource.as_str() == "*" || p.resource.as_str() == ns)
    };
    perms.iter().any(|p| p.effect == Effect::Allow && hit(p))
        && !perms.iter().any(|p| p.effect == Effect::Deny && hit(p))
}

/// Actions that make a Kubernetes subject a possible escalator.
pub const ESCALATION_ACTIONS: &[&str] = &[
    "pods:create",
    "pods/exec:create",
    "pods/exec:get",
    "secrets:get",
    "secrets:list",
    "serviceaccounts/token:create",
    "serviceaccounts:impersonate",
    "users:impersonate",
];

/// The strongest way `s` can act as `t`, if any.
pub fn edge(s: &NodeInfo, t: &NodeInfo) -> Option<(EdgeKind, bool)> {
    let perms = &s.perms;
    match sa_namespace(&t.principal) {
        Some(ns) => {
            if can(perms, "serviceaccounts", "impersonate", ns) {
                return Some((EdgeKind::K8sImpersonate, false));
            }
            if can(perms, "serviceaccounts/token", "create", ns) {
                return Some((EdgeKind::K8sToken, false));
            }
            if can(perms, "secrets", "get", ns) || can(perms, "secrets", "list", ns) {
                return Some((EdgeKind::K8sSecret, false));
            }
            if can(perms, "pods", "create", ns) {
                return Some((EdgeKind::K8sCreatePod, false));
            }
            if can(perms, "pods/exec", "create", ns) || can(perms, "pods/exec", "get", ns) {
                return Some((EdgeKind::K8sExec, false));
            }
            None
        }
        None if t.kind != IdentityKind::Unknown && !t.principal.starts_with("group:") => {
            can(perms, "users", "impersonate", "*").then_some((EdgeKind::K8sImpersonate, false))
        }
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::Provider;
    use crate::core::text::SafeText;

    fn node(principal: &str, grants: &[(&str, &str)]) -> NodeInfo {
        NodeInfo {
            provider: Provider::Kubernetes,
            kind: IdentityKind::ServiceAccount,
            principal: principal.into(),
            tags: Box::default(),
            perms: grants
                .iter()
                .map(|(a, r)| Permission {
                    action: SafeText::new(a),
                    resource: SafeText::new(r),
                    effect: Effect::Allow,
                    via: Some(SafeText::new("role")),
                    sensitivity: None,
                })
                .collect(),
        }
    }

    const DEPLOYER: &str = "system:serviceaccount:prod:deployer";

    #[test]
    fn creating_pods_in_a_namespace_reaches_its_service_accounts_only() {
        let ci = node(
            "system:serviceaccount:ci:runner",
            &[("pods:create", "prod")],
        );
        let t = node(DEPLOYER, &[]);
        let other = node("system:serviceaccount:dev:app", &[]);
        assert_eq!(edge(&ci, &t), Some((EdgeKind::K8sCreatePod, false)));
        assert_eq!(edge(&ci, &other), None);
    }

    #[test]
    fn cluster_wide_grants_reach_every_namespace() {
        let t = node(DEPLOYER, &[]);
        for (grant, kind) in [
            ("pods/exec:create", EdgeKind::K8sExec),
            ("secrets:get", EdgeKind::K8sSecret),
            ("serviceaccounts/token:create", EdgeKind::K8sToken),
            ("serviceaccounts:impersonate", EdgeKind::K8sImpersonate),
        ] {
            let s = node("system:serviceaccount:ci:runner", &[(grant, "*")]);
            assert_eq!(edge(&s, &t), Some((kind, false)), "{grant}");
        }
        let wildcard = node("system:serviceaccount:ci:runner", &[("*:get", "*")]);
        assert_eq!(edge(&wildcard, &t), Some((EdgeKind::K8sSecret, false)));
    }

    #[test]
    fn reading_configmaps_or_listing_pods_reaches_nobody() {
        let s = node(
            "system:serviceaccount:ci:runner",
            &[("configmaps:get", "*"), ("pods:list", "*")],
        );
        assert_eq!(edge(&s, &node(DEPLOYER, &[])), None);
    }

    #[test]
    fn impersonating_users_reaches_users() {
        let s = node(
            "system:serviceaccount:ci:runner",
            &[("users:impersonate", "*")],
        );
        let mut admin = node("alice@example.com", &[]);
        admin.kind = IdentityKind::Human;
        assert_eq!(edge(&s, &admin), Some((EdgeKind::K8sImpersonate, false)));
    }
}
