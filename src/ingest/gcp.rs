//! GCP Cloud Audit Logs (`protoPayload`), including GKE's Kubernetes audit through Cloud
//! Logging. The identity is `authenticationInfo.principalEmail` (a service account when it ends
//! in `gserviceaccount.com`); GKE calls by `system:serviceaccount:…` are Kubernetes identities.
//! Creating a service-account key is a `Change` on that service account.

use serde_json::Value;

use super::{
    DecodeError, Decoded, credential, event, get, identity, k8s_audit, resource, s, safe, time_of,
};
use crate::core::{Change, CredentialKind, EventClass, IdentityKind, Provider, Signal, Status};

pub fn decode(v: Value, out: &mut Decoded) -> Result<(), DecodeError> {
    let p = v.get("protoPayload").unwrap_or(&Value::Null);
    let principal = s(p, "authenticationInfo.principalEmail")
        .or_else(|| s(p, "authenticationInfo.principalSubject"))
        .unwrap_or("unknown");
    let service = s(p, "serviceName").unwrap_or("gcp").to_string();
    let method = s(p, "methodName").unwrap_or("unknown").to_string();
    let mut actor = if service == "k8s.io" || principal.starts_with("system:") {
        k8s_audit::user_identity(principal)
    } else {
        let kind = if principal.ends_with("gserviceaccount.com") {
            IdentityKind::ServiceAccount
        } else {
            IdentityKind::Human
        };
        identity(Provider::Gcp, principal, kind, Some(principal))
    };
    if let Some(k) = s(p, "authenticationInfo.serviceAccountKeyName") {
        let id = k.rsplit('/').next().unwrap_or(k);
        actor
            .credentials
            .push(credential(id, CredentialKind::ServiceAccountKey));
    }
    if let Some(first) = get(p, "authenticationInfo.serviceAccountDelegationInfo")
        .and_then(|d| d.get(0))
        .and_then(|d| s(d, "firstPartyPrincipal.principalEmail"))
    {
        actor.tags.push(safe(&format!("delegated_by={first}")));
    }
    let time = time_of(&v, &["timestamp", "receiveTimestamp"]);
    let short = method.rsplit('.').next().unwrap_or(&method).to_string();
    let mut e = event(time, actor, &service, &method);
    e.credential = e.actor.credentials.first().cloned();
    e.src_ip = s(p, "requestMetadata.callerIp").map(safe);
    let denied = get(p, "status.code")
        .and_then(|c| c.as_i64())
        .is_some_and(|c| c != 0)
        || get(p, "authorizationInfo")
            .and_then(|a| a.as_array())
            .is_some_and(|a| {
                a.iter()
                    .any(|x| x.get("granted").and_then(|g| g.as_bool()) == Some(false))
            });
    if denied {
        e.status = Status::Failure;
    }
    if let Some(r) = s(p, "resourceName") {
        e.resources
            .push(resource(r, s(&v, "resource.type").unwrap_or("resource")));
    }
    let m = method.to_ascii_lowercase();
    let perms: Vec<&str> = get(p, "authorizationInfo")
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
        .filter_map(|a| s(a, "permission"))
        .collect();
    let any = |needle: &str| {
        m.contains(needle)
            || perms
                .iter()
                .any(|x| x.to_ascii_lowercase().contains(needle))
    };
    if any("serviceaccountkeys.create") || any("createserviceaccountkey") {
        e.signals.push(Signal::Persistence);
        e.class = EventClass::AccountChange;
        if !denied
            && let Some(sa) = s(p, "request.name").or_else(|| s(p, "resourceName"))
            && let Some(email) = sa.rsplit('/').next().filter(|x| x.contains('@'))
        {
            let mut target = identity(
                Provider::Gcp,
                email,
                IdentityKind::ServiceAccount,
                Some(email),
            );
            let key = s(p, "response.name")
                .and_then(|n| n.rsplit('/').next())
                .unwrap_or("new-key");
            target
                .credentials
                .push(credential(key, CredentialKind::ServiceAccountKey));
            out.changes.push(Change {
                time,
                target,
                detail: safe(&format!(
                    "service account key {key} created by {principal} ({short})"
                )),
                by: Some(e.actor.key()),
                signal: Some(Signal::Persistence),
                removes: None,
            });
        }
    }
    if any("setiampolicy") {
        e.signals.push(Signal::PrivilegeEscalation);
    }
    if any("generateaccesstoken")
        || any("signblob")
        || any("signjwt")
        || any("actas")
        || any("getopenidtoken")
    {
        e.signals.push(Signal::PrivilegeEscalation);
    }
    if any("deletesink") || any("updatesink") || any("logging.sinks.delete") || any("deletelog") {
        e.signals.push(Signal::DefenseEvasion);
    }
    if any("secretmanager") && any("access") {
        e.signals.push(Signal::SecretRead);
    }
    if m.contains(".list") || m.contains(".get") && !m.contains("secret") {
        e.signals.push(Signal::Recon);
    }
    e.raw = v.into();
    out.events.push(e);
    Ok(())
}
