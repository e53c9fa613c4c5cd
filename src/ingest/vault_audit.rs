//! Vault / OpenBao audit log (file device): `request` and `response` entries. The response
//! entry carries the request and its outcome, so it is the event; a request entry only counts
//! when it already failed. The identity is the entity (or, for tokens without one, the token's
//! accessor); the credential is the accessor, an HMAC when the device hashes it.

use serde_json::Value;

use super::{DecodeError, Decoded, credential, event, get, identity, resource, s, safe, time_of};
use crate::core::{CredentialKind, EventClass, IdentityKind, Permission, Provider, Signal, Status};

pub fn decode(v: Value, out: &mut Decoded) -> Result<(), DecodeError> {
    let typ = s(&v, "type").unwrap_or("");
    let error = s(&v, "error");
    if typ == "request" && error.is_none() {
        return Ok(());
    }
    let auth = v.get("auth").unwrap_or(&Value::Null);
    let accessor = s(auth, "accessor");
    let display = s(auth, "display_name");
    let (principal, kind) = match (s(auth, "entity_id"), accessor) {
        (Some(id), _) => (format!("entity:{id}"), IdentityKind::VaultEntity),
        (None, Some(acc)) => (format!("token:{acc}"), IdentityKind::VaultToken),
        (None, None) => ("anonymous".to_string(), IdentityKind::Unknown),
    };
    let mut actor = identity(Provider::Vault, &principal, kind, display);
    if let Some(acc) = accessor {
        actor
            .credentials
            .push(credential(acc, CredentialKind::VaultToken));
    }
    let policies: Vec<&str> = get(auth, "policies")
        .or_else(|| get(auth, "token_policies"))
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str())
        .collect();
    for p in policies.iter().take(16) {
        if *p == "default" {
            continue;
        }
        actor.permissions.push(Permission {
            action: safe(if *p == "root" { "*" } else { "vault:policy" }),
            resource: safe("*"),
            effect: Default::default(),
            via: Some(safe(p)),
            sensitivity: None,
        });
    }
    let path = s(&v, "request.path").unwrap_or("");
    let op = s(&v, "request.operation").unwrap_or("unknown");
    let mount = path.split('/').next().unwrap_or("");
    let time = time_of(&v, &["time"]);
    let mut e = event(time, actor, mount, op);
    e.credential = e.actor.credentials.first().cloned();
    if !path.is_empty() {
        e.resources.push(resource(path, "path"));
    }
    e.src_ip = s(&v, "request.remote_address").map(safe);
    if let Some(err) = error {
        // "permission denied", "1 error occurred: * permission denied", a bad token: refused.
        // Anything else ("invalid request", a missing path) failed without a refusal.
        let err = err.to_ascii_lowercase();
        e.status = if err.contains("permission denied") || err.contains("invalid token") {
            Status::Failure
        } else {
            Status::Error
        };
    }
    if path.starts_with("auth/") && path.contains("login") {
        e.class = EventClass::Authentication;
    }
    let read = matches!(op, "read" | "list");
    if read
        && (path.contains("/data/")
            || mount == "secret"
            || mount == "kv"
            || path.starts_with("database/creds")
            || path.starts_with("aws/creds"))
    {
        e.signals.push(Signal::SecretRead);
    }
    if path.starts_with("sys/audit") && matches!(op, "delete" | "update") {
        e.signals.push(Signal::DefenseEvasion);
    }
    if path.starts_with("sys/policy") || path.starts_with("sys/policies") {
        if matches!(op, "create" | "update") {
            e.signals.push(Signal::PrivilegeEscalation);
        }
    } else if path.starts_with("auth/token/create") {
        e.signals.push(Signal::Persistence);
    }
    if path.starts_with("sys/") && read {
        e.signals.push(Signal::Recon);
    }
    e.raw = v.into();
    out.events.push(e);
    Ok(())
}
