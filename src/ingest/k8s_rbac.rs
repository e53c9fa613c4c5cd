//! `kubectl get serviceaccounts,roles,rolebindings,clusterroles,clusterrolebindings -A -o json`:
//! every service account becomes an identity (ranked even with no activity), and every binding
//! gives its subjects the rules of the role it references, as `resource:verb` permissions.

use std::collections::HashMap;

use serde_json::Value;

use super::k8s_audit::{role_permission, subject_identity, user_identity};
use super::{DecodeError, s, safe};
use crate::core::{IdentityRecord, Permission};

fn rules_permissions(rules: &Value, role: &str, scope: &str) -> Vec<Permission> {
    let mut out = Vec::new();
    let list = |r: &Value, k: &str| -> Vec<String> {
        r.get(k)
            .and_then(|x| x.as_array())
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    };
    for r in rules.as_array().into_iter().flatten() {
        let verbs = list(r, "verbs");
        let mut resources = list(r, "resources");
        if resources.is_empty() {
            resources = list(r, "nonResourceURLs");
        }
        for res in resources.iter().take(32) {
            for verb in verbs.iter().take(16) {
                let action = if res == "*" && verb == "*" {
                    "*".to_string()
                } else {
                    format!("{res}:{verb}")
                };
                out.push(Permission {
                    action: safe(&action),
                    resource: safe(scope),
                    effect: Default::default(),
                    via: Some(safe(role)),
                    sensitivity: None,
                });
            }
        }
    }
    out
}

pub fn decode(v: &Value) -> Result<Vec<IdentityRecord>, DecodeError> {
    let items: Vec<&Value> = v
        .get("items")
        .and_then(|i| i.as_array())
        .into_iter()
        .flatten()
        .collect();
    let mut roles: HashMap<(String, String), &Value> = HashMap::new();
    for i in &items {
        match s(i, "kind") {
            Some("ClusterRole") => {
                if let Some(n) = s(i, "metadata.name") {
                    roles.insert((String::new(), n.to_string()), i);
                }
            }
            Some("Role") => {
                if let (Some(n), Some(ns)) = (s(i, "metadata.name"), s(i, "metadata.namespace")) {
                    roles.insert((ns.to_string(), n.to_string()), i);
                }
            }
            _ => {}
        }
    }
    let mut out: Vec<IdentityRecord> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut add = |rec: IdentityRecord, out: &mut Vec<IdentityRecord>| {
        let key = rec.key();
        match index.get(&key) {
            Some(&i) => out[i].permissions.extend(rec.permissions),
            None => {
                index.insert(key, out.len());
                out.push(rec);
            }
        }
    };
    for i in &items {
        if s(i, "kind") == Some("ServiceAccount")
            && let (Some(n), Some(ns)) = (s(i, "metadata.name"), s(i, "metadata.namespace"))
        {
            add(
                user_identity(&format!("system:serviceaccount:{ns}:{n}")),
                &mut out,
            );
        }
    }
    for i in &items {
        let kind = s(i, "kind");
        if !matches!(kind, Some("RoleBinding") | Some("ClusterRoleBinding")) {
            continue;
        }
        let ns = s(i, "metadata.namespace");
        let Some(role) = s(i, "roleRef.name") else {
            continue;
        };
        let scope = if kind == Some("ClusterRoleBinding") {
            "*"
        } else {
            ns.unwrap_or("*")
        };
        let role_obj = if s(i, "roleRef.kind") == Some("Role") {
            roles.get(&(ns.unwrap_or("").to_string(), role.to_string()))
        } else {
            roles.get(&(String::new(), role.to_string()))
        };
        let mut perms = match role_obj.and_then(|r| r.get("rules")) {
            Some(rules) => rules_permissions(rules, role, scope),
            None => Vec::new(),
        };
        if perms.is_empty() || matches!(role, "cluster-admin" | "admin") {
            perms.push(role_permission(role, scope));
        }
        for sub in i
            .get("subjects")
            .and_then(|x| x.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(mut rec) = subject_identity(sub, ns) {
                rec.permissions = perms.clone();
                let namespace =
                    s(i, "metadata.namespace").filter(|_| s(i, "kind") == Some("RoleBinding"));
                rec.tags.push(safe(&crate::core::binding_tag(
                    namespace,
                    s(i, "metadata.name").unwrap_or("?"),
                    role,
                )));
                add(rec, &mut out);
            }
        }
    }
    if out.is_empty() {
        return Err(DecodeError::invalid(
            "Kubernetes RBAC inventory",
            "no service accounts or bound subjects",
        ));
    }
    Ok(out)
}
