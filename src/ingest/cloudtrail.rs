//! AWS CloudTrail: one record (from an S3 delivery file, a JSON array, an EventBridge envelope,
//! JSON Lines, or the Logstash shape with `@timestamp`), and GuardDuty findings.
//!
//! Identity: the principal is the ARN. An `AssumedRole` session is its own identity (the
//! session ARN) and records the role it was assumed from (`sessionContext.sessionIssuer`) as a
//! tag `assumed_from=…`; an instance-profile session (`…/i-0abc…`) is tagged as a workload so
//! the core notices when its credential is used from elsewhere. The credential is the access
//! key id. Calls that change someone else's inventory (CreateAccessKey, Attach*Policy,
//! Put*Policy, UpdateAssumeRolePolicy, CreateUser, CreateRole, CreateLoginProfile,
//! AddUserToGroup) become `Change`s on the target.

use serde_json::Value;

use super::{DecodeError, Decoded, credential, event, get, identity, resource, s, safe, time_of};
use crate::core::{
    Change, CredentialKind, EventClass, IdentityKind, IdentityRecord, Permission, Provider, Signal,
    Status, identity_key,
};

const FORMAT: &str = "CloudTrail";

/// Who made the call, from `userIdentity`.
pub fn actor(v: &Value) -> IdentityRecord {
    let Some(u) = v.get("userIdentity").filter(|u| u.is_object()) else {
        // Service events (AwsServiceEvent) carry no userIdentity: the service acted.
        let svc = s(v, "eventSource").unwrap_or("aws");
        return identity(Provider::Aws, svc, IdentityKind::AwsService, Some(svc));
    };
    let typ = s(u, "type").unwrap_or("");
    let account = s(u, "accountId")
        .or_else(|| s(v, "recipientAccountId"))
        .unwrap_or("unknown");
    let arn = s(u, "arn");
    let mut rec = match typ {
        "IAMUser" => {
            let name = s(u, "userName").or_else(|| arn.and_then(|a| a.rsplit('/').next()));
            let principal = arn.map(str::to_string).unwrap_or_else(|| {
                format!("arn:aws:iam::{account}:user/{}", name.unwrap_or("unknown"))
            });
            identity(Provider::Aws, &principal, IdentityKind::IamUser, name)
        }
        "AssumedRole" => {
            let principal = arn
                .map(str::to_string)
                .or_else(|| s(u, "principalId").map(|p| format!("assumed-role:{p}")))
                .unwrap_or_else(|| "assumed-role:unknown".into());
            let display = principal
                .split_once(":assumed-role/")
                .map(|(_, r)| r.to_string());
            let mut rec = identity(
                Provider::Aws,
                &principal,
                IdentityKind::AssumedRole,
                display.as_deref(),
            );
            if let Some(issuer) = s(u, "sessionContext.sessionIssuer.arn") {
                rec.tags.push(safe(&format!("assumed_from={issuer}")));
            }
            let session = principal.rsplit('/').next().unwrap_or("");
            if is_instance_id(session) {
                rec.tags.push(safe(&format!("workload=ec2:{session}")));
            }
            rec
        }
        "Root" => {
            let principal = arn
                .map(str::to_string)
                .unwrap_or_else(|| format!("arn:aws:iam::{account}:root"));
            let mut rec = identity(Provider::Aws, &principal, IdentityKind::Root, Some("root"));
            rec.permissions.push(Permission {
                action: safe("*"),
                resource: safe("*"),
                effect: Default::default(),
                via: Some(safe("root account")),
                sensitivity: None,
            });
            rec
        }
        "FederatedUser" => {
            let principal = arn
                .map(str::to_string)
                .or_else(|| s(u, "principalId").map(|p| format!("federated:{p}")))
                .unwrap_or_else(|| "federated:unknown".into());
            let display = principal.rsplit('/').next().map(str::to_string);
            let mut rec = identity(
                Provider::Aws,
                &principal,
                IdentityKind::FederatedUser,
                display.as_deref(),
            );
            if let Some(issuer) = s(u, "sessionContext.sessionIssuer.arn") {
                rec.tags.push(safe(&format!("federated_from={issuer}")));
            }
            rec
        }
        "AWSService" => {
            let svc = s(u, "invokedBy").unwrap_or("aws-service");
            identity(Provider::Aws, svc, IdentityKind::AwsService, Some(svc))
        }
        "SAMLUser" | "WebIdentityUser" => {
            let provider = s(u, "identityProvider").unwrap_or("idp");
            let name = s(u, "userName")
                .or(s(u, "principalId"))
                .unwrap_or("unknown");
            let principal = format!("{}:{provider}:{name}", typ.to_ascii_lowercase());
            let mut rec = identity(
                Provider::Aws,
                &principal,
                IdentityKind::FederatedUser,
                Some(name),
            );
            rec.tags.push(safe(&format!("idp={provider}")));
            rec
        }
        "AWSAccount" => {
            let acct = s(u, "accountId").unwrap_or(account);
            let principal = s(u, "principalId")
                .map(|p| format!("account:{acct}:{p}"))
                .unwrap_or_else(|| format!("account:{acct}"));
            identity(Provider::Aws, &principal, IdentityKind::Unknown, None)
        }
        _ => {
            let principal = arn
                .map(str::to_string)
                .or_else(|| s(u, "principalId").map(str::to_string))
                .or_else(|| s(u, "invokedBy").map(str::to_string))
                .unwrap_or_else(|| format!("{}:unknown", if typ.is_empty() { "aws" } else { typ }));
            identity(Provider::Aws, &principal, IdentityKind::Unknown, None)
        }
    };
    if let Some(key) = s(u, "accessKeyId") {
        rec.credentials.push(credential(key, key_kind(key)));
    }
    rec
}

/// Whether a CloudTrail `errorCode` says the caller lacked permission or valid credentials
/// (`AccessDenied`, EC2's `Client.UnauthorizedOperation`, a dead key), as opposed to a throttle,
/// a missing resource or a bad parameter, which automation hits all day.
fn is_denial(code: &str) -> bool {
    let c = code.strip_prefix("Client.").unwrap_or(code);
    c.contains("AccessDenied")
        || c.contains("Unauthorized")
        || c.contains("NotAuthorized")
        || matches!(
            c,
            "AuthFailure"
                | "AuthorizationError"
                | "Forbidden"
                | "InvalidClientTokenId"
                | "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "ExpiredToken"
                | "ExpiredTokenException"
        )
}

fn key_kind(key: &str) -> CredentialKind {
    if key.starts_with("AKIA") {
        CredentialKind::AccessKey
    } else {
        CredentialKind::Session
    }
}

fn is_instance_id(s: &str) -> bool {
    s.strip_prefix("i-")
        .is_some_and(|h| h.len() >= 8 && h.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Calls whose success shows the caller holds a sensitive permission.
fn shows_permission(op: &str) -> bool {
    !(op.starts_with("List")
        || op.starts_with("Describe")
        || op.starts_with("Get")
            && !matches!(
                op,
                "GetSecretValue"
                    | "GetParameter"
                    | "GetParameters"
                    | "GetPasswordData"
                    | "GetObject"
            )
        || op.starts_with("Head")
        || op == "ConsoleLogin"
        || op.starts_with("AssumeRole")
        || op == "CheckMfa")
}

pub fn decode(v: Value, out: &mut Decoded) -> Result<(), DecodeError> {
    let op = s(&v, "eventName")
        .ok_or_else(|| DecodeError::invalid(FORMAT, "eventName is missing"))?
        .to_string();
    let service = s(&v, "eventSource")
        .map(|x| x.trim_end_matches(".amazonaws.com").to_string())
        .unwrap_or_default();
    let time = time_of(&v, &["eventTime", "@timestamp"]);
    let mut actor = actor(&v);
    let mut e = event(time, actor.clone(), &service, &op);
    e.credential = actor.credentials.first().cloned();
    e.src_ip = s(&v, "sourceIPAddress").map(safe);
    let error = s(&v, "errorCode").filter(|c| !c.is_empty());
    e.status = if error.is_some_and(is_denial)
        || s(&v, "responseElements.ConsoleLogin").is_some_and(|r| r == "Failure")
    {
        Status::Failure
    } else if error.is_some() {
        Status::Error
    } else {
        Status::Success
    };
    // Refused or errored: nothing changed.
    let failed = e.status != Status::Success;
    e.class = if op == "ConsoleLogin" || op.starts_with("AssumeRole") || op == "GetFederationToken"
    {
        EventClass::Authentication
    } else if service == "iam" && !op.starts_with("List") && !op.starts_with("Get") {
        EventClass::AccountChange
    } else {
        EventClass::ApiActivity
    };
    if let Some(Value::Array(rs)) = v.get("resources") {
        for r in rs.iter().take(8) {
            if let Some(a) = s(r, "ARN") {
                e.resources.push(resource(a, s(r, "type").unwrap_or("aws")));
            }
        }
    }
    if e.resources.is_empty()
        && let Some(p) = v.get("requestParameters").filter(|p| p.is_object())
    {
        for k in [
            "userName",
            "roleName",
            "groupName",
            "policyArn",
            "bucketName",
            "secretId",
            "name",
            "instanceId",
            "functionName",
            "trailName",
            "detectorId",
            "snapshotId",
            "dBSnapshotIdentifier",
            "imageId",
        ] {
            if let Some(x) = s(p, k) {
                e.resources.push(resource(x, k));
                break;
            }
        }
    }
    // An instance-profile session used with a workstation's tools is used outside its instance.
    if actor.tags.iter().any(|t| t.starts_with("workload=ec2:"))
        && let Some(ua) = s(&v, "userAgent")
        && looks_like_workstation(ua)
    {
        e.signals.push(Signal::CredentialOutsideWorkload);
    }
    if op == "ConsoleLogin" && s(&v, "additionalEventData.MFAUsed") == Some("No") && !failed {
        e.signals.push(Signal::NewNetwork);
    }
    // What a successful sensitive call shows the caller can do.
    if !failed
        && !service.is_empty()
        && actor.kind != IdentityKind::AwsService
        && shows_permission(&op)
    {
        let p = Permission {
            action: safe(&format!("{service}:{op}")),
            resource: safe("(observed in use)"),
            effect: Default::default(),
            via: Some(safe("observed in use")),
            sensitivity: None,
        };
        actor.permissions.push(p.clone());
        e.actor.permissions.push(p);
    }
    if !failed {
        changes(&v, &op, &actor, time, out);
    }
    e.raw = v;
    out.events.push(e);
    Ok(())
}

fn looks_like_workstation(ua: &str) -> bool {
    let l = ua.to_ascii_lowercase();
    (l.contains("darwin")
        || l.contains("windows")
        || l.contains("kali")
        || l.contains("ubuntu") && !l.contains("ec2"))
        && !l.contains("amazon-ssm-agent")
}

fn account_of(v: &Value, actor: &IdentityRecord) -> String {
    s(v, "recipientAccountId")
        .or_else(|| s(v, "userIdentity.accountId"))
        .map(str::to_string)
        .or_else(|| {
            actor
                .principal
                .split(':')
                .nth(4)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".into())
}

/// A policy name from an ARN or name.
fn policy_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Permissions a managed policy grants, as far as its name tells.
pub fn managed_policy_permissions(name: &str) -> Vec<Permission> {
    let action = match name {
        "AdministratorAccess" => "*",
        "PowerUserAccess" => "*",
        "IAMFullAccess" => "iam:*",
        "SecretsManagerReadWrite" => "secretsmanager:*",
        "AmazonS3FullAccess" => "s3:*",
        "AmazonS3ReadOnlyAccess" => "s3:Get*",
        "AmazonEC2FullAccess" => "ec2:*",
        "AWSCloudTrail_FullAccess" => "cloudtrail:*",
        "AmazonSSMFullAccess" => "ssm:*",
        "AmazonSSMManagedInstanceCore" => "ssm:UpdateInstanceInformation",
        "ReadOnlyAccess" => "*:Get*",
        _ => "",
    };
    let action = if action.is_empty() {
        format!("policy:{name}")
    } else {
        action.to_string()
    };
    vec![Permission {
        action: safe(&action),
        resource: safe("*"),
        effect: Default::default(),
        via: Some(safe(name)),
        sensitivity: None,
    }]
}

/// Permissions an inline policy document grants (a JSON string or object).
pub fn document_permissions(doc: &Value, via: &str) -> Vec<Permission> {
    let parsed;
    let doc = match doc {
        Value::String(t) => {
            let decoded = if t.contains('%') {
                crate::graph::aws_policy::percent_decode(t)
            } else {
                t.clone()
            };
            parsed = super::parse_json(&decoded).unwrap_or(Value::Null);
            &parsed
        }
        d => d,
    };
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for st in statements {
        let effect = if s(st, "Effect") == Some("Deny") {
            crate::core::Effect::Deny
        } else {
            crate::core::Effect::Allow
        };
        let list = |k: &str| -> Vec<String> {
            match st.get(k) {
                Some(Value::String(x)) => vec![x.clone()],
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            }
        };
        // `NotAction` / `NotResource` become one `not a, b` pattern (graph::aws_policy reads
        // them); a statement with a `Condition` is marked in `via`.
        let not = crate::graph::aws_policy::NOT;
        let mut actions = list("Action");
        let not_actions = list("NotAction");
        if !not_actions.is_empty() {
            actions.push(format!("{not}{}", not_actions.join(", ")));
        }
        let mut resources = list("Resource");
        let not_resources = list("NotResource");
        if !not_resources.is_empty() {
            resources.push(format!("{not}{}", not_resources.join(", ")));
        }
        if resources.is_empty() {
            resources.push("*".into());
        }
        let via = if st.get("Condition").is_some() {
            format!("{via}{}", crate::graph::aws_policy::CONDITIONAL)
        } else {
            via.to_string()
        };
        for a in actions.iter().take(64) {
            for r in resources.iter().take(8) {
                out.push(Permission {
                    action: safe(a),
                    resource: safe(r),
                    effect,
                    via: Some(safe(&via)),
                    sensitivity: None,
                });
            }
        }
    }
    out
}

fn is_admin(perms: &[Permission]) -> bool {
    perms.iter().any(|p| {
        p.effect == crate::core::Effect::Allow && matches!(p.action.as_str(), "*" | "*:*" | "iam:*")
    })
}

fn changes(
    v: &Value,
    op: &str,
    actor: &IdentityRecord,
    time: crate::core::Millis,
    out: &mut Decoded,
) {
    let req = v.get("requestParameters").unwrap_or(&Value::Null);
    let account = account_of(v, actor);
    let by = actor
        .display
        .as_deref()
        .unwrap_or(actor.principal.as_str())
        .to_string();
    let by_key = Some(actor.key());
    let user = |name: &str| -> IdentityRecord {
        identity(
            Provider::Aws,
            &format!("arn:aws:iam::{account}:user/{name}"),
            IdentityKind::IamUser,
            Some(name),
        )
    };
    let role = |name: &str| -> IdentityRecord {
        identity(
            Provider::Aws,
            &format!("arn:aws:iam::{account}:role/{name}"),
            IdentityKind::IamRole,
            Some(name),
        )
    };
    let mut push = |target: IdentityRecord, detail: String, signal: Option<Signal>| {
        out.changes.push(Change {
            time,
            target,
            detail: safe(&detail),
            by: by_key.clone(),
            signal,
        });
    };
    match op {
        "CreateAccessKey" => {
            let name = s(req, "userName");
            let mut target = match name {
                Some(n) => user(n),
                None => IdentityRecord {
                    credentials: Vec::new(),
                    permissions: Vec::new(),
                    ..actor.clone()
                },
            };
            let key = s(v, "responseElements.accessKey.accessKeyId").unwrap_or("unknown-key");
            target
                .credentials
                .push(credential(key, CredentialKind::AccessKey));
            let other = target.key() != actor.key();
            push(
                target,
                format!("access key {key} created by {by} (CreateAccessKey)"),
                other.then_some(Signal::Persistence),
            );
        }
        "CreateLoginProfile" | "UpdateLoginProfile" => {
            if let Some(n) = s(req, "userName") {
                let mut target = user(n);
                target
                    .credentials
                    .push(credential("console-password", CredentialKind::Password));
                push(
                    target,
                    format!("console password set by {by} ({op})"),
                    Some(Signal::Persistence),
                );
            }
        }
        "AttachUserPolicy" | "AttachRolePolicy" | "AttachGroupPolicy" => {
            let (Some(arn), Some(mut target)) = (
                s(req, "policyArn"),
                s(req, "userName")
                    .map(user)
                    .or_else(|| s(req, "roleName").map(role))
                    .or_else(|| {
                        s(req, "groupName").map(|g| {
                            identity(
                                Provider::Aws,
                                &format!("arn:aws:iam::{account}:group/{g}"),
                                IdentityKind::Unknown,
                                Some(g),
                            )
                        })
                    }),
            ) else {
                return;
            };
            let name = policy_name(arn);
            target.permissions = managed_policy_permissions(name);
            let admin = is_admin(&target.permissions);
            push(
                target,
                format!("granted {name} by {by} ({op})"),
                admin.then_some(Signal::PrivilegeEscalation),
            );
        }
        "PutUserPolicy" | "PutRolePolicy" | "PutGroupPolicy" => {
            let Some(mut target) = s(req, "userName")
                .map(user)
                .or_else(|| s(req, "roleName").map(role))
            else {
                return;
            };
            let name = s(req, "policyName").unwrap_or("inline policy");
            if let Some(doc) = req.get("policyDocument") {
                target.permissions = document_permissions(doc, name);
            }
            let admin = is_admin(&target.permissions);
            push(
                target,
                format!(
                    "inline policy {name}{} put by {by} ({op})",
                    if admin { " granting *" } else { "" }
                ),
                admin.then_some(Signal::PrivilegeEscalation),
            );
        }
        "UpdateAssumeRolePolicy" => {
            if let Some(n) = s(req, "roleName") {
                let trusted = req
                    .get("policyDocument")
                    .map(trusted_principals)
                    .unwrap_or_default();
                let mut target = role(n);
                for t in &trusted {
                    target.tags.push(safe(&format!("trusts={t}")));
                }
                push(
                    target,
                    format!(
                        "trust policy changed by {by} (UpdateAssumeRolePolicy){}",
                        if trusted.is_empty() {
                            String::new()
                        } else {
                            format!(": now trusts {}", trusted.join(", "))
                        }
                    ),
                    Some(Signal::Persistence),
                );
            }
        }
        "CreateUser" => {
            if let Some(n) = s(req, "userName") {
                push(user(n), format!("created by {by} (CreateUser)"), None);
            }
        }
        "CreateRole" => {
            if let Some(n) = s(req, "roleName") {
                let mut target = role(n);
                let trusted = req
                    .get("assumeRolePolicyDocument")
                    .map(trusted_principals)
                    .unwrap_or_default();
                let external = trusted
                    .iter()
                    .any(|t| t == "*" || t.starts_with("arn:aws:iam::") && !t.contains(&account));
                for t in &trusted {
                    target.tags.push(safe(&format!("trusts={t}")));
                }
                push(
                    target,
                    format!(
                        "created by {by} (CreateRole){}",
                        if external {
                            format!(", trusting {}", trusted.join(", "))
                        } else {
                            String::new()
                        }
                    ),
                    external.then_some(Signal::Persistence),
                );
            }
        }
        "AddUserToGroup" => {
            if let (Some(u), Some(g)) = (s(req, "userName"), s(req, "groupName")) {
                let mut target = user(u);
                target.tags.push(safe(&format!("group={g}")));
                let admin = g.to_ascii_lowercase().contains("admin");
                if admin {
                    target.permissions.push(Permission {
                        action: safe("*"),
                        resource: safe("*"),
                        effect: Default::default(),
                        via: Some(safe(&format!("group {g}"))),
                        sensitivity: None,
                    });
                }
                push(
                    target,
                    format!("added to group {g} by {by} (AddUserToGroup)"),
                    admin.then_some(Signal::PrivilegeEscalation),
                );
            }
        }
        _ => {}
    }
}

/// The principals a trust policy lets in.
fn trusted_principals(doc: &Value) -> Vec<String> {
    let parsed;
    let doc = match doc {
        Value::String(t) => {
            parsed = super::parse_json(t).unwrap_or(Value::Null);
            &parsed
        }
        d => d,
    };
    let mut out = Vec::new();
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => Vec::new(),
    };
    for st in statements {
        match st.get("Principal") {
            Some(Value::String(p)) => out.push(p.clone()),
            Some(Value::Object(m)) => {
                for (_, x) in m {
                    match x {
                        Value::String(p) => out.push(p.clone()),
                        Value::Array(a) => {
                            out.extend(a.iter().filter_map(|p| p.as_str().map(str::to_string)))
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    out.truncate(8);
    out
}

/// A GuardDuty finding: a detection on the principal it names.
pub fn decode_guardduty(v: Value, out: &mut Decoded) -> Result<(), DecodeError> {
    let account = s(&v, "accountId").unwrap_or("unknown").to_string();
    let kd = get(&v, "resource.accessKeyDetails");
    let (principal, kind, display) = match kd {
        Some(kd) => {
            let name = s(kd, "userName").unwrap_or("unknown");
            match s(kd, "userType") {
                Some("IAMUser") => (
                    format!("arn:aws:iam::{account}:user/{name}"),
                    IdentityKind::IamUser,
                    name.to_string(),
                ),
                Some("Root") => (
                    format!("arn:aws:iam::{account}:root"),
                    IdentityKind::Root,
                    "root".into(),
                ),
                Some("AssumedRole") => (
                    format!("arn:aws:iam::{account}:role/{name}"),
                    IdentityKind::IamRole,
                    name.to_string(),
                ),
                _ => (
                    format!("guardduty:{account}:{name}"),
                    IdentityKind::Unknown,
                    name.to_string(),
                ),
            }
        }
        None => (
            format!(
                "guardduty:{account}:{}",
                s(&v, "resource.resourceType").unwrap_or("resource")
            ),
            IdentityKind::Unknown,
            s(&v, "resource.resourceType")
                .unwrap_or("resource")
                .to_string(),
        ),
    };
    let mut actor = identity(Provider::Aws, &principal, kind, Some(&display));
    if let Some(k) = kd.and_then(|kd| s(kd, "accessKeyId")) {
        actor.credentials.push(credential(k, key_kind(k)));
    }
    let typ = s(&v, "type").unwrap_or("Finding");
    let time = time_of(&v, &["updatedAt", "createdAt", "service.eventLastSeen"]);
    let mut e = event(time, actor, "guardduty", typ);
    e.class = EventClass::DetectionFinding;
    e.credential = e.actor.credentials.first().cloned();
    e.signals.push(Signal::Detection);
    let sev = get(&v, "severity").and_then(|x| x.as_f64()).unwrap_or(0.0);
    if sev >= 7.0 {
        e.signals.push(Signal::PrivilegeEscalation);
    }
    if typ.contains("Exfiltration") {
        e.signals.push(Signal::Exfiltration);
    }
    if typ.contains("InstanceCredentialExfiltration") {
        e.signals.push(Signal::CredentialOutsideWorkload);
    }
    e.raw = v;
    out.events.push(e);
    Ok(())
}

/// The identity key of an IAM user or role by name.
pub fn iam_key(account: &str, kind: &str, name: &str) -> String {
    identity_key(
        Provider::Aws,
        &format!("arn:aws:iam::{account}:{kind}/{name}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::Signal;
    use crate::core::score::event_signals;
    use serde_json::json;

    fn status_and_denied(error_code: Option<&str>) -> (Status, bool) {
        let mut v = json!({"eventVersion": "1.08", "eventTime": "2026-11-26T03:00:00Z",
            "eventSource": "s3.amazonaws.com", "eventName": "GetBucketPolicy",
            "sourceIPAddress": "203.0.113.9",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/ci-bot",
                             "accountId": "123456789012", "accessKeyId": "AKIAEXAMPLE000000001"}});
        if let Some(c) = error_code {
            v["errorCode"] = json!(c);
        }
        let mut out = Decoded::default();
        decode(v, &mut out).unwrap();
        let e = &out.events[0];
        (e.status, event_signals(e).contains(&Signal::Denied))
    }

    #[test]
    fn only_refusals_count_as_denied_calls() {
        for code in [
            "AccessDenied",
            "Client.UnauthorizedOperation",
            "InvalidClientTokenId",
        ] {
            assert_eq!(
                status_and_denied(Some(code)),
                (Status::Failure, true),
                "{code}"
            );
        }
        // What the corpus's automation hits all day: throttles and missing configuration.
        for code in [
            "ThrottlingException",
            "NoSuchBucketPolicy",
            "Client.InvalidVpcID.NotFound",
        ] {
            assert_eq!(
                status_and_denied(Some(code)),
                (Status::Error, false),
                "{code}"
            );
        }
        assert_eq!(status_and_denied(Some("")), (Status::Success, false));
        assert_eq!(status_and_denied(None), (Status::Success, false));
    }
}
