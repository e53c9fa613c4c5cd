//! AWS escalation edges: every way an IAM principal can become another one. Assuming a role
//! needs both sides: the role's trust policy must admit the principal and, unless it names the
//! principal itself, the principal's own policies must allow `sts:AssumeRole` on the role.
//! Passing a role to a service that runs code (`iam:PassRole` plus `ec2:RunInstances`,
//! `lambda:CreateFunction`, …) works when the role trusts that service. Creating an access key
//! or a console password for a user, or rewriting a role's trust policy, makes one the other.

use super::aws_policy::{allows, is_conditional, trusts};
use super::{EdgeKind, NodeInfo};
use crate::core::model::{IdentityKind, Provider};

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

/// Actions that make a principal a possible escalator.
pub const ESCALATION_ACTIONS: &[&str] = &[
    "sts:AssumeRole",
    "iam:PassRole",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:UpdateAssumeRolePolicy",
];

/// The strongest way `s` can become `t`, with whether it rests on a condition.
pub fn edge(s: &NodeInfo, t: &NodeInfo) -> Option<(EdgeKind, bool)> {
    if t.provider != Provider::Aws || s.principal == t.principal {
        return None;
    }
    let arn = t.principal.as_str();
    let perms = &s.perms;
    match t.kind {
        IdentityKind::IamRole => {
            let tags: Vec<&str> = t.tags.iter().map(String::as_str).collect();
            if let Some((direct, cond)) = trusts(&tags, &s.principal) {
                let same_account =
                    super::aws_policy::account(arn) == super::aws_policy::account(&s.principal);
                if let Some(g) = allows(perms, "sts:AssumeRole", arn) {
                    return Some((EdgeKind::AssumeRole, cond || is_conditional(g)));
                }
                if direct && same_account {
                    return Some((EdgeKind::AssumeRoleTrusted, cond));
                }
            }
            if let Some(g) = allows(perms, "iam:PassRole", arn) {
                for (i, (svc, run)) in PASS_ROLE_SERVICES.iter().enumerate() {
                    let service = format!("service:{svc}");
                    if let Some((_, cond)) =
                        trusts(&tags, &service).or_else(|| trusts_service(&tags, &service))
                        && let Some(r) = allows(perms, run, "*")
                    {
                        let c = cond || is_conditional(g) || is_conditional(r);
                        return Some((EdgeKind::PassRole(i as u8), c));
                    }
                }
            }
            if let Some(g) = allows(perms, "iam:UpdateAssumeRolePolicy", arn) {
                return Some((EdgeKind::UpdateTrust, is_conditional(g)));
            }
            None
        }
        IdentityKind::IamUser => {
            if let Some(g) = allows(perms, "iam:CreateAccessKey", arn) {
                return Some((EdgeKind::CreateAccessKey, is_conditional(g)));
            }
            for a in ["iam:CreateLoginProfile", "iam:UpdateLoginProfile"] {
                if let Some(g) = allows(perms, a, arn) {
                    return Some((EdgeKind::LoginProfile, is_conditional(g)));
                }
            }
            None
        }
        _ => None,
    }
}

/// `trust=service:…` tags match exactly (the principal is not an ARN).
fn trusts_service(tags: &[&str], service: &str) -> Option<(bool, bool)> {
    use super::aws_policy::{CONDITIONAL, TRUST, TRUST_DENY};
    if tags
        .iter()
        .any(|t| t.strip_prefix(TRUST_DENY) == Some(service))
    {
        return None;
    }
    let mut best = None;
    let bare = service.strip_prefix("service:").unwrap_or(service);
    for t in tags {
        // The decoder's older `trusts=ec2.amazonaws.com` tags say the same.
        if t.strip_prefix("trusts=") == Some(bare) {
            return Some((true, false));
        }
        match t.strip_prefix(TRUST) {
            Some(p) if p == service => return Some((true, false)),
            Some(p) if p.strip_suffix(CONDITIONAL) == Some(service) => best = Some((true, true)),
            _ => {}
        }
    }
    best
}
