//! OCSF events: API Activity (6003), Authentication (3002), Account Change (3001) and Detection
//! Finding (2004, and the older Security Finding 2001). Published samples carry trailing commas;
//! `parse_json` tolerates them. The actor is `actor.user` (uid, else name); the provider comes
//! from `cloud.provider` or the product vendor.

use serde_json::Value;

use super::{DecodeError, Decoded, credential, event, get, identity, resource, s, safe, time_of};
use crate::core::{Change, CredentialKind, EventClass, IdentityKind, Provider, Signal, Status};

fn provider(v: &Value) -> Provider {
    let p = s(v, "cloud.provider")
        .or_else(|| s(v, "metadata.product.vendor_name"))
        .unwrap_or("")
        .to_ascii_lowercase();
    if p.contains("aws") || p.contains("amazon") {
        Provider::Aws
    } else if p.contains("gcp") || p.contains("google") {
        Provider::Gcp
    } else if p.contains("github") {
        Provider::Github
    } else if p.contains("kubernetes") {
        Provider::Kubernetes
    } else if p.contains("hashicorp") || p.contains("vault") || p.contains("openbao") {
        Provider::Vault
    } else {
        Provider::Other
    }
}

fn user_kind(u: &Value) -> IdentityKind {
    match s(u, "type").map(|t| t.to_ascii_lowercase()).as_deref() {
        Some("user") => IdentityKind::Human,
        Some("admin") => IdentityKind::Human,
        Some("system") | Some("service") => IdentityKind::ServiceAccount,
        _ => {
            let uid = s(u, "uid").unwrap_or("");
            if uid.contains(":assumed-role/") {
                IdentityKind::AssumedRole
            } else if uid.contains(":user/") {
                IdentityKind::IamUser
            } else if uid.contains(":role/") {
                IdentityKind::IamRole
            } else {
                IdentityKind::Unknown
            }
        }
    }
}

pub fn decode(v: Value, out: &mut Decoded) -> Result<(), DecodeError> {
    let class = get(&v, "class_uid").and_then(|c| c.as_i64()).unwrap_or(0);
    let prov = provider(&v);
    let user = get(&v, "actor.user")
        .filter(|u| u.is_object())
        .or_else(|| get(&v, "user").filter(|u| class == 3002 && u.is_object()))
        .cloned()
        .unwrap_or(Value::Null);
    let principal = s(&user, "uid")
        .or_else(|| s(&user, "name"))
        .or_else(|| s(&user, "email_addr"))
        .or_else(|| s(&v, "actor.app_name"))
        .or_else(|| s(&v, "actor.process.name"))
        .or_else(|| s(&v, "device.hostname"))
        .unwrap_or("unknown");
    let mut actor = identity(prov, principal, user_kind(&user), s(&user, "name"));
    if let Some(c) = s(&user, "credential_uid").or_else(|| s(&v, "actor.session.credential_uid")) {
        actor
            .credentials
            .push(credential(c, CredentialKind::AccessKey));
    }
    let (service, op) = match class {
        6003 => (
            s(&v, "api.service.name").unwrap_or("api").to_string(),
            s(&v, "api.operation").unwrap_or("call").to_string(),
        ),
        _ => (
            s(&v, "class_name").unwrap_or("ocsf").to_string(),
            s(&v, "activity_name")
                .or_else(|| s(&v, "finding_info.title"))
                .or_else(|| s(&v, "finding.title"))
                .unwrap_or("activity")
                .to_string(),
        ),
    };
    let time = time_of(&v, &["time", "time_dt", "metadata.logged_time"]);
    let mut e = event(time, actor, &service, &op);
    e.credential = e.actor.credentials.first().cloned();
    e.class = match class {
        3002 => EventClass::Authentication,
        3001 => EventClass::AccountChange,
        2001 | 2004 => EventClass::DetectionFinding,
        _ => EventClass::ApiActivity,
    };
    e.src_ip = s(&v, "src_endpoint.ip").map(safe);
    let failed = get(&v, "status_id").and_then(|x| x.as_i64()) == Some(2)
        || s(&v, "status").is_some_and(|x| x.eq_ignore_ascii_case("failure"));
    if failed {
        e.status = Status::Failure;
    }
    for r in get(&v, "resources")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
        .take(8)
    {
        if let Some(n) = s(r, "uid").or_else(|| s(r, "name")) {
            e.resources
                .push(resource(n, s(r, "type").unwrap_or("resource")));
        }
    }
    if matches!(class, 2001 | 2004) {
        e.signals.push(Signal::Detection);
        if get(&v, "severity_id").and_then(|x| x.as_i64()).unwrap_or(0) >= 4 {
            e.signals.push(Signal::PrivilegeEscalation);
        }
    }
    if class == 3001
        && !failed
        && let Some(target) = get(&v, "user").filter(|u| u.is_object())
        && let Some(tp) = s(target, "uid").or_else(|| s(target, "name"))
        && tp != principal
    {
        let activity = s(&v, "activity_name").unwrap_or("account change");
        let by = e.actor.display.as_deref().unwrap_or(principal).to_string();
        let strong = activity.to_ascii_lowercase().contains("attach policy")
            || activity.to_ascii_lowercase().contains("privileges");
        out.changes.push(Change {
            time,
            target: identity(prov, tp, user_kind(target), s(target, "name")),
            detail: safe(&format!("{activity} by {by} (OCSF account change)")),
            by: Some(e.actor.key()),
            signal: strong.then_some(Signal::PrivilegeEscalation),
            removes: None,
        });
    }
    e.raw = v.into();
    out.events.push(e);
    Ok(())
}
