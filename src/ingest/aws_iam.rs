//! `aws iam get-account-authorization-details` output: users (with their groups), roles and
//! their inline and attached policies become identities with permissions. Managed policies are
//! resolved through the document's own `Policies` list (default version); AWS-managed ones not
//! in it are read by name (AdministratorAccess grants `*`).

use std::collections::HashMap;

use serde_json::Value;

use super::cloudtrail::{document_permissions, managed_policy_permissions};
use super::{DecodeError, identity, s, safe};
use crate::core::{IdentityKind, IdentityRecord, Permission, Provider};

fn arr<'a>(v: &'a Value, k: &str) -> impl Iterator<Item = &'a Value> {
    v.get(k).and_then(|x| x.as_array()).into_iter().flatten()
}

pub fn decode(v: &Value) -> Result<Vec<IdentityRecord>, DecodeError> {
    // Managed policy ARN -> default version document.
    let mut managed: HashMap<&str, (&str, &Value)> = HashMap::new();
    for p in arr(v, "Policies") {
        let (Some(arn), Some(name)) = (s(p, "Arn"), s(p, "PolicyName")) else {
            continue;
        };
        if let Some(doc) = arr(p, "PolicyVersionList")
            .find(|pv| pv.get("IsDefaultVersion").and_then(|d| d.as_bool()) == Some(true))
            .and_then(|pv| pv.get("Document"))
        {
            managed.insert(arn, (name, doc));
        }
    }
    let attached = |entity: &Value| -> Vec<Permission> {
        let mut out = Vec::new();
        for a in arr(entity, "AttachedManagedPolicies") {
            let (Some(arn), Some(name)) = (s(a, "PolicyArn"), s(a, "PolicyName")) else {
                continue;
            };
            match managed.get(arn) {
                Some((n, doc)) => out.extend(document_permissions(doc, n)),
                None => out.extend(managed_policy_permissions(name)),
            }
        }
        for (list, name_key) in [
            ("UserPolicyList", "PolicyName"),
            ("RolePolicyList", "PolicyName"),
            ("GroupPolicyList", "PolicyName"),
        ] {
            for p in arr(entity, list) {
                let name = s(p, name_key).unwrap_or("inline policy");
                if let Some(doc) = p.get("PolicyDocument") {
                    out.extend(document_permissions(doc, name));
                }
            }
        }
        out
    };
    let mut groups: HashMap<&str, Vec<Permission>> = HashMap::new();
    for g in arr(v, "GroupDetailList") {
        if let Some(name) = s(g, "GroupName") {
            let mut perms = attached(g);
            for p in &mut perms {
                let via = p.via.as_deref().unwrap_or("").to_string();
                p.via = Some(safe(&format!("{via} (group {name})")));
            }
            groups.insert(name, perms);
        }
    }
    let mut out = Vec::new();
    for u in arr(v, "UserDetailList") {
        let Some(arn) = s(u, "Arn") else { continue };
        let mut rec = identity(Provider::Aws, arn, IdentityKind::IamUser, s(u, "UserName"));
        rec.permissions = attached(u);
        for g in arr(u, "GroupList").filter_map(|g| g.as_str()) {
            rec.tags.push(safe(&format!("group={g}")));
            if let Some(p) = groups.get(g) {
                rec.permissions.extend(p.iter().cloned());
            }
        }
        out.push(rec);
    }
    for r in arr(v, "RoleDetailList") {
        let Some(arn) = s(r, "Arn") else { continue };
        let mut rec = identity(Provider::Aws, arn, IdentityKind::IamRole, s(r, "RoleName"));
        rec.permissions = attached(r);
        if let Some(trust) = r.get("AssumeRolePolicyDocument") {
            let text = match trust {
                Value::String(t) => t.clone(),
                other => other.to_string(),
            };
            for t in crate::core::graph::aws_policy::trust_tags(trust) {
                rec.tags.push(safe(&t));
            }
            for svc in [
                "ec2.amazonaws.com",
                "lambda.amazonaws.com",
                "eks.amazonaws.com",
            ] {
                if text.contains(svc) {
                    rec.tags.push(safe(&format!("trusts={svc}")));
                }
            }
        }
        for ip in arr(r, "InstanceProfileList").filter_map(|p| s(p, "InstanceProfileName")) {
            rec.tags.push(safe(&format!("instance_profile={ip}")));
        }
        out.push(rec);
    }
    if out.is_empty() {
        return Err(DecodeError::invalid(
            "AWS IAM inventory",
            "no UserDetailList or RoleDetailList entries with an Arn",
        ));
    }
    Ok(out)
}
