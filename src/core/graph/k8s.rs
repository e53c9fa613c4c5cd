//! Kubernetes RBAC escalation: the grants the RBAC decoder flattens (`resource:verb` on a
//! namespace, or `*` cluster-wide) that let one subject act as a service account: creating pods
//! in its namespace (they may mount its token), exec into its pods, reading its token secret,
//! minting a token for it, or impersonating it. `bind` and `escalate` on roles are
//! administrator grants by themselves (see `graph::own_items`).

use compact_str::CompactString;

use super::aws_policy::grants_by_action;
use super::index::{Key, Look, push_key};
use super::{EdgeKind, NodeInfo, Rights};
use crate::core::model::{Effect, IdentityKind, Permission};

/// The namespace of `system:serviceaccount:NS:NAME`.
pub fn sa_namespace(principal: &str) -> Option<&str> {
    let rest = principal.strip_prefix("system:serviceaccount:")?;
    rest.split(':').next()
}

/// Actions that make a Kubernetes subject a possible escalator (indexes of
/// `K8sRights::by_action`).
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
const CREATE_POD: usize = 0;
const EXEC: [usize; 2] = [1, 2];
const SECRET: [usize; 2] = [3, 4];
const TOKEN: usize = 5;
const IMPERSONATE_SA: usize = 6;
const IMPERSONATE_USER: usize = 7;
/// The actions that reach service accounts, by namespace.
const ON_SERVICE_ACCOUNTS: [usize; 7] = [0, 1, 2, 3, 4, 5, 6];

/// A subject's escalation grants, compiled once when its grants change: for each escalation
/// action, the grants (allow and deny) whose action covers it.
#[derive(Debug, Clone, PartialEq)]
pub struct K8sRights {
    by_action: [Box<[Permission]>; 8],
}

impl K8sRights {
    /// `None` when no grant allows any escalation action.
    pub fn compile(perms: &[Permission]) -> Option<K8sRights> {
        grants_by_action(perms, ESCALATION_ACTIONS).map(|by_action| K8sRights { by_action })
    }

    /// Whether action `a` is allowed in namespace `ns` (a `*` scope is cluster-wide).
    fn can(&self, a: usize, ns: &str) -> bool {
        let grants = &self.by_action[a];
        let hit = |p: &Permission| p.resource.as_str() == "*" || p.resource.as_str() == ns;
        grants.iter().any(|p| p.effect == Effect::Allow && hit(p))
            && !grants.iter().any(|p| p.effect == Effect::Deny && hit(p))
    }

    /// The namespaces (or `*`) where some action that reaches service accounts is allowed.
    fn impersonates_users(&self) -> bool {
        self.can(IMPERSONATE_USER, "*")
    }

    fn namespaces(&self) -> impl Iterator<Item = &str> {
        ON_SERVICE_ACCOUNTS.into_iter().flat_map(|a| {
            self.by_action[a]
                .iter()
                .filter(|p| p.effect == Effect::Allow)
                .map(|p| p.resource.as_str())
        })
    }
}

fn rights(n: &NodeInfo) -> Option<&K8sRights> {
    match &n.rights {
        Rights::K8s(r) => Some(r),
        _ => None,
    }
}

/// A subject one may impersonate as a user: neither a service account nor a group.
fn person(n: &NodeInfo) -> bool {
    sa_namespace(&n.principal).is_none()
        && n.kind != IdentityKind::Unknown
        && !n.principal.starts_with("group:")
}

/// The strongest way `s` can act as `t`, if any.
pub fn edge(s: &NodeInfo, t: &NodeInfo) -> Option<(EdgeKind, bool)> {
    let r = rights(s)?;
    if let Some(ns) = sa_namespace(&t.principal) {
        let kind = if r.can(IMPERSONATE_SA, ns) {
            EdgeKind::K8sImpersonate
        } else if r.can(TOKEN, ns) {
            EdgeKind::K8sToken
        } else if SECRET.iter().any(|&a| r.can(a, ns)) {
            EdgeKind::K8sSecret
        } else if r.can(CREATE_POD, ns) {
            EdgeKind::K8sCreatePod
        } else if EXEC.iter().any(|&a| r.can(a, ns)) {
            EdgeKind::K8sExec
        } else {
            return None;
        };
        return Some((kind, false));
    }
    (person(t) && r.impersonates_users()).then_some((EdgeKind::K8sImpersonate, false))
}

/// The lists a Kubernetes subject is filed under (see `index`).
pub fn filed_under(n: &NodeInfo, out: &mut Vec<Key>) {
    if let Some(ns) = sa_namespace(&n.principal) {
        push_key(out, Key::ServiceAccounts(ns.into()));
        push_key(out, Key::AllServiceAccounts);
    } else if person(n) {
        push_key(out, Key::People);
    }
    if let Some(r) = rights(n) {
        for ns in r.namespaces() {
            push_key(out, acts_in(ns));
        }
        if r.impersonates_users() {
            push_key(out, Key::Impersonators);
        }
    }
}

fn acts_in(ns: &str) -> Key {
    if ns == "*" {
        Key::ActsAnywhere
    } else {
        Key::ActsIn(CompactString::from(ns))
    }
}

/// Where the subjects `n` may act as are found.
pub fn targets(n: &NodeInfo, out: &mut Vec<Look>) {
    let Some(r) = rights(n) else { return };
    for ns in r.namespaces() {
        out.push(Look::List(if ns == "*" {
            Key::AllServiceAccounts
        } else {
            Key::ServiceAccounts(ns.into())
        }));
    }
    if r.impersonates_users() {
        out.push(Look::List(Key::People));
    }
}

/// Where the subjects that may act as `n` are found.
pub fn sources(n: &NodeInfo, out: &mut Vec<Look>) {
    if let Some(ns) = sa_namespace(&n.principal) {
        out.push(Look::List(acts_in(ns)));
        out.push(Look::List(Key::ActsAnywhere));
    } else if person(n) {
        out.push(Look::List(Key::Impersonators));
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
            rights: Rights::compile(
                Provider::Kubernetes,
                &grants
                    .iter()
                    .map(|(a, r)| Permission {
                        action: SafeText::new(a),
                        resource: SafeText::new(r),
                        effect: Effect::Allow,
                        via: Some(SafeText::new("role")),
                        sensitivity: None,
                    })
                    .collect::<Vec<_>>(),
            ),
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
