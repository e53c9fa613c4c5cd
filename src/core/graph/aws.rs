//! AWS escalation edges: every way an IAM principal can become another one. Assuming a role
//! needs both sides: the role's trust policy must admit the principal and, unless it names the
//! principal itself, the principal's own policies must allow `sts:AssumeRole` on the role.
//! Passing a role to a service that runs code (`iam:PassRole` plus `ec2:RunInstances`,
//! `lambda:CreateFunction`, …) works when the role trusts that service. Creating an access key
//! or a console password for a user, or rewriting a role's trust policy, makes one the other.
//!
//! IAM acts on the caller's own account: passing a role, rewriting a trust policy and creating
//! credentials reach only identities of the same account. Only a trust policy crosses accounts,
//! so an edge to another account exists only where a role's trust policy names it (the
//! principal, its account, or a pattern or `*` that covers it).

use compact_str::CompactString;

use super::aws_policy::{
    CONDITIONAL, NOT, TRUST, TRUST_DENY, account, allows, grants_by_action, is_conditional, trusts,
    verdict,
};
use super::index::{Key, Look, push_key};
use super::{EdgeKind, NodeInfo, Rights};
use crate::core::model::{Effect, IdentityKind, Permission, Provider, identity_key};

/// Services that run code with a passed role, and the call that starts it.
pub const PASS_ROLE_SERVICES: &[(&str, &str)] = &[
    ("ec2.amazonaws.com", "ec2:RunInstances"),
    ("lambda.amazonaws.com", "lambda:CreateFunction"),
    ("ecs-tasks.amazonaws.com", "ecs:RunTask"),
    ("glue.amazonaws.com", "glue:CreateDevEndpoint"),
    ("cloudformation.amazonaws.com", "cloudformation:CreateStack"),
    ("codebuild.amazonaws.com", "codebuild:CreateProject"),
    (
        "sagemaker.amazonaws.com",
        "sagemaker:CreateNotebookInstance",
    ),
    ("datapipeline.amazonaws.com", "datapipeline:CreatePipeline"),
];
const SERVICES: usize = 8;

/// Actions that make a principal a possible escalator (indexes of `AwsRights::by_action`).
pub const ESCALATION_ACTIONS: &[&str] = &[
    "sts:AssumeRole",
    "iam:PassRole",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:UpdateAssumeRolePolicy",
];
const ASSUME: usize = 0;
const PASS: usize = 1;
const CREATE_KEY: usize = 2;
const LOGIN: [usize; 2] = [3, 4];
const UPDATE_TRUST: usize = 5;
/// The actions on a user that make one that user.
const ON_USERS: [usize; 3] = [CREATE_KEY, LOGIN[0], LOGIN[1]];

/// An identity's escalation grants, compiled once when its grants change: for each escalation
/// action the grants (allow and deny) whose action pattern covers it, so that an edge only
/// matches resources; and for each service that runs code, whether its call is allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsRights {
    by_action: [Box<[Permission]>; 6],
    /// `Some(conditional)` where the service's call is allowed on `*`.
    runs: [Option<bool>; SERVICES],
}

impl AwsRights {
    /// `None` when no grant allows any escalation action.
    pub fn compile(perms: &[Permission]) -> Option<AwsRights> {
        let by_action = grants_by_action(perms, ESCALATION_ACTIONS)?;
        let runs = std::array::from_fn(|i| {
            allows(perms, PASS_ROLE_SERVICES[i].1, "*").map(is_conditional)
        });
        Some(AwsRights { by_action, runs })
    }

    /// Whether action `a` is allowed on `resource`: `Some(conditional)`.
    fn allowed(&self, a: usize, resource: &str) -> Option<bool> {
        verdict(self.by_action[a].iter(), resource).map(is_conditional)
    }

    fn allows_any(&self, a: usize) -> bool {
        self.by_action[a].iter().any(|p| p.effect == Effect::Allow)
    }

    /// The resource patterns of the allowed grants of action `a`.
    fn allowed_on(&self, a: usize) -> impl Iterator<Item = &str> {
        self.by_action[a]
            .iter()
            .filter(|p| p.effect == Effect::Allow)
            .map(|p| p.resource.as_str())
    }

    /// Resource patterns of the grants that act on roles: passing them (when some service's
    /// call is allowed too) and rewriting their trust; `true` with those that only pass.
    fn on_roles(&self) -> impl Iterator<Item = (&str, bool)> {
        let pass = self
            .runs
            .iter()
            .any(Option::is_some)
            .then(|| self.allowed_on(PASS))
            .into_iter()
            .flatten()
            .map(|r| (r, true));
        pass.chain(self.allowed_on(UPDATE_TRUST).map(|r| (r, false)))
    }

    fn on_users(&self) -> impl Iterator<Item = &str> {
        ON_USERS.into_iter().flat_map(|a| self.allowed_on(a))
    }
}

fn rights(n: &NodeInfo) -> Option<&AwsRights> {
    match &n.rights {
        Rights::Aws(r) => Some(r),
        _ => None,
    }
}

/// The strongest way `s` can become `t`, with whether it rests on a condition.
pub fn edge(s: &NodeInfo, t: &NodeInfo) -> Option<(EdgeKind, bool)> {
    // Only a role or a user can be taken over; most candidates of a wide grant are neither.
    let role = match t.kind {
        IdentityKind::IamRole => true,
        IdentityKind::IamUser => false,
        _ => return None,
    };
    if t.provider != Provider::Aws || s.principal == t.principal {
        return None;
    }
    let arn = t.principal.as_str();
    let r = rights(s);
    let same_account = account(arn) == account(&s.principal);
    if !role {
        let r = r.filter(|_| same_account)?;
        if let Some(g) = r.allowed(CREATE_KEY, arn) {
            return Some((EdgeKind::CreateAccessKey, g));
        }
        return LOGIN
            .into_iter()
            .find_map(|a| r.allowed(a, arn))
            .map(|g| (EdgeKind::LoginProfile, g));
    }
    if let Some((direct, cond)) = trusts(&t.tags, &s.principal) {
        if let Some(c) = r.and_then(|r| r.allowed(ASSUME, arn)) {
            return Some((EdgeKind::AssumeRole, cond || c));
        }
        if direct && same_account {
            return Some((EdgeKind::AssumeRoleTrusted, cond));
        }
    }
    let r = r.filter(|_| same_account)?;
    if let Some(g) = r.allowed(PASS, arn) {
        for (i, (svc, _)) in PASS_ROLE_SERVICES.iter().enumerate() {
            if let Some(run) = r.runs[i]
                && let Some((_, cond)) = trusts_service(&t.tags, svc)
            {
                return Some((EdgeKind::PassRole(i as u8), cond || g || run));
            }
        }
    }
    r.allowed(UPDATE_TRUST, arn)
        .map(|g| (EdgeKind::UpdateTrust, g))
}

/// Whether a role's trust admits a service (`svc` bare: `ec2.amazonaws.com`): as any
/// principal (`trust=*` admits it too), or by the `trust=service:…` tags, which match exactly,
/// or the decoder's older `trusts=…` tags.
fn trusts_service(tags: &[String], svc: &str) -> Option<(bool, bool)> {
    let service = format!("service:{svc}");
    if let Some(t) = trusts(tags, &service) {
        return Some(t);
    }
    if tags
        .iter()
        .any(|t| t.strip_prefix(TRUST_DENY) == Some(service.as_str()))
    {
        return None;
    }
    let mut best = None;
    for t in tags {
        if t.strip_prefix("trusts=") == Some(svc) {
            return Some((true, false));
        }
        match t.strip_prefix(TRUST) {
            Some(p) if p == service => return Some((true, false)),
            Some(p) if p.strip_suffix(CONDITIONAL) == Some(service.as_str()) => {
                best = Some((true, true))
            }
            _ => {}
        }
    }
    best
}

/// The principals a role's trust tags admit (conditions aside).
fn trusted(tags: &[String]) -> impl Iterator<Item = &str> {
    tags.iter().filter_map(|t| {
        let p = t.strip_prefix(TRUST)?;
        Some(p.strip_suffix(CONDITIONAL).unwrap_or(p))
    })
}

/// The account field of a principal for the index: empty when it is not an ARN.
fn acct(principal: &str) -> CompactString {
    account(principal).unwrap_or("").into()
}

/// The account a trust pattern can match in, or `*` when a wildcard stands before or in the
/// account field (a `*` matches `:` too, so it could reach any account).
fn pattern_account(p: &str) -> CompactString {
    let fields: Vec<&str> = p.splitn(6, ':').collect();
    if fields.len() < 6 || fields[..5].iter().any(|f| f.contains('*')) {
        return "*".into();
    }
    fields[4].into()
}

/// A resource pattern that names exactly one ARN.
fn literal(resource: &str) -> bool {
    !resource.contains(['*', '?']) && !resource.starts_with(NOT)
}

/// The lists an AWS identity is filed under (see `index`).
pub fn filed_under(n: &NodeInfo, out: &mut Vec<Key>) {
    let a = acct(&n.principal);
    if n.kind == IdentityKind::IamUser {
        push_key(out, Key::Users(a.clone()));
    }
    if n.kind == IdentityKind::IamRole {
        push_key(out, Key::Roles(a.clone()));
        if PASS_ROLE_SERVICES
            .iter()
            .any(|(svc, _)| trusts_service(&n.tags, svc).is_some())
        {
            push_key(out, Key::ServiceRoles(a.clone()));
        }
        for p in trusted(&n.tags) {
            if p.contains('*') {
                push_key(out, Key::TrustsPattern(pattern_account(p)));
            } else {
                push_key(out, Key::TrustsPrincipal(p.into()));
                if p.ends_with(":root")
                    && let Some(c) = account(p)
                {
                    push_key(out, Key::TrustsAccount(c.into()));
                }
            }
        }
    }
    if let Some(r) = rights(n) {
        if r.allows_any(ASSUME) {
            push_key(out, Key::Assumers(a.clone()));
            push_key(out, Key::AnyAssumer);
        }
        for (res, _) in r.on_roles() {
            let k = if literal(res) {
                Key::Named(res.into())
            } else {
                Key::RoleWriters(a.clone())
            };
            push_key(out, k);
        }
        for res in r.on_users() {
            let k = if literal(res) {
                Key::Named(res.into())
            } else {
                Key::UserWriters(a.clone())
            };
            push_key(out, k);
        }
    }
    push_key(out, Key::Members(a));
}

/// Where the identities `n` may become are found.
pub fn targets(n: &NodeInfo, out: &mut Vec<Look>) {
    let a = acct(&n.principal);
    out.push(Look::List(Key::TrustsPrincipal(
        n.principal.as_str().into(),
    )));
    out.push(Look::List(Key::TrustsPattern(a.clone())));
    out.push(Look::List(Key::TrustsPattern("*".into())));
    let Some(r) = rights(n) else { return };
    if r.allows_any(ASSUME) {
        out.push(Look::List(Key::TrustsAccount(a.clone())));
    }
    for (res, pass_only) in r.on_roles() {
        out.push(if literal(res) {
            Look::Identity(identity_key(Provider::Aws, res))
        } else if pass_only {
            Look::List(Key::ServiceRoles(a.clone()))
        } else {
            Look::List(Key::Roles(a.clone()))
        });
    }
    for res in r.on_users() {
        out.push(if literal(res) {
            Look::Identity(identity_key(Provider::Aws, res))
        } else {
            Look::List(Key::Users(a.clone()))
        });
    }
}

/// Where the identities that may become `n` are found.
pub fn sources(n: &NodeInfo, out: &mut Vec<Look>) {
    let a = acct(&n.principal);
    match n.kind {
        IdentityKind::IamRole => {
            for p in trusted(&n.tags) {
                if p.contains('*') {
                    out.push(Look::List(Key::AnyAssumer));
                    if p != "*" {
                        // A pattern naming principals of the role's own account admits them
                        // with no identity policy.
                        out.push(Look::List(Key::Members(a.clone())));
                    }
                } else {
                    out.push(Look::Identity(identity_key(Provider::Aws, p)));
                    if p.ends_with(":root")
                        && let Some(c) = account(p)
                    {
                        out.push(Look::List(Key::Assumers(c.into())));
                    }
                }
            }
            out.push(Look::List(Key::RoleWriters(a)));
        }
        IdentityKind::IamUser => out.push(Look::List(Key::UserWriters(a))),
        _ => return,
    }
    out.push(Look::List(Key::Named(n.principal.as_str().into())));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::text::SafeText;

    #[test]
    fn a_trust_pattern_with_a_wildcard_before_its_account_may_match_any_account() {
        assert_eq!(
            pattern_account("arn:aws:iam::111122223333:role/ci-*"),
            "111122223333"
        );
        assert_eq!(pattern_account("arn:aws:iam::*:role/ci"), "*");
        // `*` matches `:` as well: this one matches arn:aws:iam::1:role/x.
        assert_eq!(pattern_account("arn:*::1:role/x"), "*");
        assert_eq!(pattern_account("*"), "*");
    }

    fn node(
        principal: &str,
        kind: IdentityKind,
        grants: &[(&str, &str)],
        tags: &[&str],
    ) -> NodeInfo {
        let perms: Vec<Permission> = grants
            .iter()
            .map(|(a, r)| Permission {
                action: SafeText::new(a),
                resource: SafeText::new(r),
                effect: Effect::Allow,
                via: Some(SafeText::new("p")),
                sensitivity: None,
            })
            .collect();
        NodeInfo {
            provider: Provider::Aws,
            kind,
            principal: principal.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            rights: Rights::compile(Provider::Aws, &perms),
        }
    }

    #[test]
    fn iam_calls_reach_only_their_own_account_and_trust_policies_cross_accounts() {
        let all = [
            ("iam:PassRole", "*"),
            ("ec2:RunInstances", "*"),
            ("iam:CreateAccessKey", "*"),
            ("iam:UpdateAssumeRolePolicy", "*"),
            ("sts:AssumeRole", "*"),
        ];
        let ops = node("arn:aws:iam::1:user/ops", IdentityKind::IamUser, &all, &[]);
        let same = |k, tags: &[&str]| node("arn:aws:iam::1:role/x", k, &[], tags);
        let other = |k, tags: &[&str]| node("arn:aws:iam::2:role/x", k, &[], tags);
        let ec2 = ["trust=service:ec2.amazonaws.com"];
        assert_eq!(
            edge(&ops, &same(IdentityKind::IamRole, &ec2)).map(|e| e.0),
            Some(EdgeKind::PassRole(0))
        );
        assert_eq!(edge(&ops, &other(IdentityKind::IamRole, &ec2)), None);
        let mut user2 = other(IdentityKind::IamUser, &[]);
        user2.principal = "arn:aws:iam::2:user/y".into();
        assert_eq!(edge(&ops, &user2), None);
        // Named by the other account's trust policy: assumable across accounts.
        let trusting = other(IdentityKind::IamRole, &["trust=arn:aws:iam::1:root"]);
        assert_eq!(
            edge(&ops, &trusting).map(|e| e.0),
            Some(EdgeKind::AssumeRole)
        );
    }
}
