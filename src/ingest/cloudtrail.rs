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

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::lenient::{Arr, J, Obj};
use super::{DecodeError, Decoded, credential, event, get, identity, resource, s, safe, time_of};
use crate::core::{
    Change, CredentialKind, CredentialStatus, Event, EventClass, IdentityKind, IdentityRecord,
    Issued, Permission, Provider, Raw, Removal, SafeText, Signal, Status, identity_key,
};

const FORMAT: &str = "CloudTrail";

/// The parts of a CloudTrail record the decoder reads, typed (see [`super::lenient`]).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Record<'a> {
    #[serde(rename = "eventName", borrow)]
    event_name: J<'a>,
    #[serde(rename = "eventSource", borrow)]
    event_source: J<'a>,
    #[serde(rename = "eventTime", borrow)]
    event_time: J<'a>,
    #[serde(rename = "@timestamp", borrow)]
    timestamp: J<'a>,
    #[serde(rename = "userIdentity", borrow)]
    user_identity: Obj<UserIdentity<'a>>,
    #[serde(rename = "recipientAccountId", borrow)]
    recipient_account_id: J<'a>,
    #[serde(rename = "sourceIPAddress", borrow)]
    source_ip: J<'a>,
    #[serde(rename = "errorCode", borrow)]
    error_code: J<'a>,
    #[serde(rename = "userAgent", borrow)]
    user_agent: J<'a>,
    #[serde(rename = "awsRegion", borrow)]
    aws_region: J<'a>,
    #[serde(borrow)]
    resources: Arr<Obj<ResourceRef<'a>>>,
    #[serde(rename = "requestParameters", borrow)]
    request_parameters: Obj<Names<'a>>,
    #[serde(rename = "responseElements", borrow)]
    response_elements: Obj<Response<'a>>,
    #[serde(rename = "additionalEventData", borrow)]
    additional_event_data: Obj<Additional<'a>>,
    // Keys that `detect` looks for before CloudTrail's: a record with any of them is left to
    // the general path, which reads it as `detect` says.
    #[serde(borrow)]
    identities: J<'a>,
    #[serde(borrow)]
    actor: J<'a>,
    #[serde(rename = "Records", borrow)]
    records: J<'a>,
    #[serde(rename = "detail-type", borrow)]
    detail_type: J<'a>,
    #[serde(borrow)]
    rule_id: J<'a>,
    #[serde(borrow)]
    properties: J<'a>,
    // Datadog's renamed attributes (envelopes.rs): such a record is read by the general path,
    // which gives them back CloudTrail's names.
    #[serde(borrow)]
    evt: J<'a>,
    #[serde(rename = "evt.name", borrow)]
    evt_name: J<'a>,
    #[serde(rename = "@evt.name", borrow)]
    at_evt_name: J<'a>,
    // CloudWatch Logs envelopes (`awslogs`, a decoded `messageType` message), which `detect`
    // looks for before CloudTrail: left to the general path too.
    #[serde(borrow)]
    awslogs: J<'a>,
    #[serde(rename = "messageType", borrow)]
    message_type: J<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UserIdentity<'a> {
    #[serde(rename = "type", borrow)]
    typ: J<'a>,
    #[serde(rename = "accountId", borrow)]
    account_id: J<'a>,
    #[serde(borrow)]
    arn: J<'a>,
    #[serde(rename = "userName", borrow)]
    user_name: J<'a>,
    #[serde(rename = "principalId", borrow)]
    principal_id: J<'a>,
    #[serde(rename = "invokedBy", borrow)]
    invoked_by: J<'a>,
    #[serde(rename = "identityProvider", borrow)]
    identity_provider: J<'a>,
    #[serde(rename = "accessKeyId", borrow)]
    access_key_id: J<'a>,
    #[serde(rename = "sessionContext", borrow)]
    session_context: Obj<SessionContext<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SessionContext<'a> {
    #[serde(rename = "sessionIssuer", borrow)]
    session_issuer: Obj<Issuer<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Issuer<'a> {
    #[serde(borrow)]
    arn: J<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ResourceRef<'a> {
    #[serde(rename = "ARN", borrow)]
    arn: J<'a>,
    #[serde(rename = "type", borrow)]
    typ: J<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Response<'a> {
    #[serde(rename = "ConsoleLogin", borrow)]
    console_login: J<'a>,
    // What an `AssumeRole*`, `GetSessionToken` or `GetFederationToken` issued. The session
    // token beside the key id is a secret: it is not read.
    #[serde(borrow)]
    credentials: Obj<IssuedKey<'a>>,
    #[serde(rename = "assumedRoleUser", borrow)]
    assumed_role_user: Obj<Issuer<'a>>,
    #[serde(rename = "federatedUser", borrow)]
    federated_user: Obj<Issuer<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct IssuedKey<'a> {
    #[serde(rename = "accessKeyId", borrow)]
    access_key_id: J<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Additional<'a> {
    #[serde(rename = "MFAUsed", borrow)]
    mfa_used: J<'a>,
}

/// The `requestParameters` that name what a call acted on, in the order they are looked for.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Names<'a> {
    #[serde(rename = "userName", borrow)]
    user_name: J<'a>,
    #[serde(rename = "roleName", borrow)]
    role_name: J<'a>,
    #[serde(rename = "groupName", borrow)]
    group_name: J<'a>,
    #[serde(rename = "policyArn", borrow)]
    policy_arn: J<'a>,
    #[serde(rename = "bucketName", borrow)]
    bucket_name: J<'a>,
    #[serde(rename = "secretId", borrow)]
    secret_id: J<'a>,
    #[serde(borrow)]
    name: J<'a>,
    #[serde(rename = "instanceId", borrow)]
    instance_id: J<'a>,
    #[serde(rename = "functionName", borrow)]
    function_name: J<'a>,
    #[serde(rename = "trailName", borrow)]
    trail_name: J<'a>,
    #[serde(rename = "detectorId", borrow)]
    detector_id: J<'a>,
    #[serde(rename = "snapshotId", borrow)]
    snapshot_id: J<'a>,
    #[serde(rename = "dBSnapshotIdentifier", borrow)]
    db_snapshot_identifier: J<'a>,
    #[serde(rename = "imageId", borrow)]
    image_id: J<'a>,
    #[serde(rename = "roleArn", borrow)]
    role_arn: J<'a>,
    #[serde(rename = "roleSessionName", borrow)]
    role_session_name: J<'a>,
}

impl Names<'_> {
    /// The first name present, with its key.
    fn first(&self) -> Option<(&str, &'static str)> {
        [
            (&self.user_name, "userName"),
            (&self.role_name, "roleName"),
            (&self.group_name, "groupName"),
            (&self.policy_arn, "policyArn"),
            (&self.bucket_name, "bucketName"),
            (&self.secret_id, "secretId"),
            (&self.name, "name"),
            (&self.instance_id, "instanceId"),
            (&self.function_name, "functionName"),
            (&self.trail_name, "trailName"),
            (&self.detector_id, "detectorId"),
            (&self.snapshot_id, "snapshotId"),
            (&self.db_snapshot_identifier, "dBSnapshotIdentifier"),
            (&self.image_id, "imageId"),
        ]
        .into_iter()
        .find_map(|(v, k)| v.str().map(|v| (v, k)))
    }
}

/// Walk an S3 delivery file `{"Records": [...]}` in one pass, handing each record to `each`,
/// read into typed fields, with its text. `false` when the text is not a plain delivery file
/// that `detect` would call one (no `identities`, no `actor`, one `Records` array), or a record
/// does not read as typed fields (a duplicate key): the caller drops what `each` made and
/// leaves the file to the general path, which reads it, or names what is wrong with it.
pub fn walk_delivery_file<'a>(text: &'a str, each: impl FnMut(Record<'a>, &'a str)) -> bool {
    walk_records(text, each)
}

/// The text of every record of a delivery file, found without reading them into fields (a
/// large file's records are then read on several threads); `None` where `walk_delivery_file`
/// would give `false` for the file's shape.
pub fn delivery_records(text: &str) -> Option<Vec<&str>> {
    let mut out = Vec::with_capacity(text.len() / 1024);
    walk_records::<serde::de::IgnoredAny>(text, |_, t| out.push(t)).then_some(out)
}

fn walk_records<'a, T: Deserialize<'a>>(text: &'a str, mut each: impl FnMut(T, &'a str)) -> bool {
    let b = text.as_bytes();
    let mut pos = skip_ws(b, 0);
    if b.get(pos) != Some(&b'{') {
        return false;
    }
    pos += 1;
    let mut seen = false;
    let mut first = true;
    loop {
        pos = skip_ws(b, pos);
        if first && b.get(pos) == Some(&b'}') {
            pos += 1;
            break;
        }
        first = false;
        let Some((key, n)) = next_value::<Cow<str>>(text, pos) else {
            return false;
        };
        pos = skip_ws(b, pos + n);
        if b.get(pos) != Some(&b':') {
            return false;
        }
        pos += 1;
        match key.as_ref() {
            "Records" if !seen => {
                seen = true;
                pos = skip_ws(b, pos);
                if b.get(pos) != Some(&b'[') {
                    return false;
                }
                pos = skip_ws(b, pos + 1);
                if b.get(pos) == Some(&b']') {
                    pos += 1;
                } else {
                    loop {
                        let start = skip_ws(b, pos);
                        let Some((r, n)) = next_value::<T>(text, start) else {
                            return false;
                        };
                        each(r, &text[start..start + n]);
                        pos = skip_ws(b, start + n);
                        match b.get(pos) {
                            Some(b',') => pos += 1,
                            Some(b']') => {
                                pos += 1;
                                break;
                            }
                            _ => return false,
                        }
                    }
                }
            }
            "Records" | "identities" | "actor" => return false,
            _ => {
                let Some((_, n)) = next_value::<serde::de::IgnoredAny>(text, pos) else {
                    return false;
                };
                pos += n;
            }
        }
        pos = skip_ws(b, pos);
        match b.get(pos) {
            Some(b',') => pos += 1,
            Some(b'}') => {
                pos += 1;
                break;
            }
            _ => return false,
        }
    }
    seen && skip_ws(b, pos) == b.len()
}

fn skip_ws(b: &[u8], mut pos: usize) -> usize {
    while b
        .get(pos)
        .is_some_and(|c| matches!(c, b' ' | b'\n' | b'\r' | b'\t'))
    {
        pos += 1;
    }
    pos
}

/// The JSON value that starts at `pos` (after any whitespace), and how many bytes from `pos`
/// it took, whitespace included.
fn next_value<'a, T: Deserialize<'a>>(text: &'a str, pos: usize) -> Option<(T, usize)> {
    let mut it = serde_json::Deserializer::from_str(&text[pos..]).into_iter::<T>();
    let v = it.next()?.ok()?;
    Some((v, it.byte_offset()))
}

impl<'a> Record<'a> {
    /// The record read from its text into typed fields (`None`: it is not JSON, or has a
    /// duplicate key; the general path reads it, or names what is wrong).
    pub fn parse(text: &'a str) -> Option<Record<'a>> {
        serde_json::from_str(text).ok()
    }

    /// Whether `detect` would call the record CloudTrail (and no other format first).
    /// `eventName`, `eventSource`, `userIdentity.type`, `userAgent` and `userIdentity.arn` (empty when
    /// absent): the
    /// fields Sigma rules are indexed on (`ingest::sigma::INDEXED_FIELDS`).
    pub fn sigma_fields(&self) -> [&str; 5] {
        let u = self.user_identity.get();
        [
            self.event_name.str().unwrap_or(""),
            self.event_source.str().unwrap_or(""),
            u.and_then(|u| u.typ.str()).unwrap_or(""),
            self.user_agent.str().unwrap_or(""),
            u.and_then(|u| u.arn.str()).unwrap_or(""),
        ]
    }

    pub fn is_cloudtrail(&self) -> bool {
        let other = self.identities.present()
            || self.actor.present()
            || self.records.present()
            || self.detail_type.present()
            || self.rule_id.present()
            || self.properties.present()
            || self.evt.present()
            || self.evt_name.present()
            || self.at_evt_name.present()
            || self.awslogs.present()
            || self.message_type.present();
        !other
            && self.event_name.is_str()
            && (self.event_source.present() || self.user_identity.present())
    }
}

/// Who made the call, from `userIdentity`.
fn actor(v: &Record) -> IdentityRecord {
    let Some(u) = v.user_identity.get() else {
        // Service events (AwsServiceEvent) carry no userIdentity: the service acted.
        let svc = v.event_source.str().unwrap_or("aws");
        return identity(Provider::Aws, svc, IdentityKind::AwsService, Some(svc));
    };
    let typ = u.typ.str().unwrap_or("");
    let account = u
        .account_id
        .str()
        .or_else(|| v.recipient_account_id.str())
        .unwrap_or("unknown");
    let arn = u.arn.str();
    let issuer = || {
        u.session_context
            .get()
            .and_then(|c| c.session_issuer.get())
            .and_then(|i| i.arn.str())
    };
    let mut rec = match typ {
        "IAMUser" => {
            let name = u
                .user_name
                .str()
                .or_else(|| arn.and_then(|a| a.rsplit('/').next()));
            let principal = arn.map(str::to_string).unwrap_or_else(|| {
                format!("arn:aws:iam::{account}:user/{}", name.unwrap_or("unknown"))
            });
            identity(Provider::Aws, &principal, IdentityKind::IamUser, name)
        }
        "AssumedRole" => {
            let principal = arn
                .map(str::to_string)
                .or_else(|| u.principal_id.str().map(|p| format!("assumed-role:{p}")))
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
            if let Some(issuer) = issuer() {
                rec.tags
                    .push(SafeText::from(format!("assumed_from={issuer}")));
            }
            let session = principal.rsplit('/').next().unwrap_or("");
            if is_instance_id(session) {
                rec.tags
                    .push(SafeText::from(format!("workload=ec2:{session}")));
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
                .or_else(|| u.principal_id.str().map(|p| format!("federated:{p}")))
                .unwrap_or_else(|| "federated:unknown".into());
            let display = principal.rsplit('/').next().map(str::to_string);
            let mut rec = identity(
                Provider::Aws,
                &principal,
                IdentityKind::FederatedUser,
                display.as_deref(),
            );
            if let Some(issuer) = issuer() {
                rec.tags
                    .push(SafeText::from(format!("federated_from={issuer}")));
            }
            rec
        }
        "AWSService" => {
            let svc = u.invoked_by.str().unwrap_or("aws-service");
            identity(Provider::Aws, svc, IdentityKind::AwsService, Some(svc))
        }
        "SAMLUser" | "WebIdentityUser" => {
            let provider = u.identity_provider.str().unwrap_or("idp");
            let name = u
                .user_name
                .str()
                .or(u.principal_id.str())
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
            let acct = u.account_id.str().unwrap_or(account);
            let principal = u
                .principal_id
                .str()
                .map(|p| format!("account:{acct}:{p}"))
                .unwrap_or_else(|| format!("account:{acct}"));
            identity(Provider::Aws, &principal, IdentityKind::Unknown, None)
        }
        _ => {
            let principal = arn
                .map(str::to_string)
                .or_else(|| u.principal_id.str().map(str::to_string))
                .or_else(|| u.invoked_by.str().map(str::to_string))
                .unwrap_or_else(|| format!("{}:unknown", if typ.is_empty() { "aws" } else { typ }));
            identity(Provider::Aws, &principal, IdentityKind::Unknown, None)
        }
    };
    if let Some(key) = u.access_key_id.str() {
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

/// Calls whose record `changes` reads in depth for a change to someone else's inventory (the
/// arms of its `match`).
const CHANGE_OPS: [&str; 24] = [
    "CreateAccessKey",
    "DeleteAccessKey",
    "UpdateAccessKey",
    "DeleteLoginProfile",
    "DetachUserPolicy",
    "DetachRolePolicy",
    "DetachGroupPolicy",
    "DeleteUserPolicy",
    "DeleteRolePolicy",
    "DeleteGroupPolicy",
    "DeleteUser",
    "DeleteRole",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "AttachUserPolicy",
    "AttachRolePolicy",
    "AttachGroupPolicy",
    "PutUserPolicy",
    "PutRolePolicy",
    "PutGroupPolicy",
    "UpdateAssumeRolePolicy",
    "CreateUser",
    "CreateRole",
    "AddUserToGroup",
];

/// One CloudTrail record, already parsed (it arrived in an envelope, an array or a stream).
pub fn decode(v: Value, out: &mut Decoded) -> Result<(), DecodeError> {
    let r = Record::deserialize(&v).map_err(DecodeError::Json)?;
    let mut e = event_of(&r, || Cow::Borrowed(&v), out)?;
    drop(r);
    e.raw = v.into();
    out.events.push(e);
    Ok(())
}

/// One CloudTrail record read from its text into `r`: no tree of it is built (it is kept as
/// text for evidence), unless the call is one whose details `changes` reads.
pub fn decode_text(r: &Record, text: &str, out: &mut Decoded) -> Result<(), DecodeError> {
    let mut e = event_of(
        r,
        || Cow::Owned(serde_json::from_str(text).unwrap_or_default()),
        out,
    )?;
    e.raw = Raw::from_parsed_text(text);
    out.events.push(e);
    Ok(())
}

/// The event a record describes (without its raw record), and the changes it made to others
/// pushed to `out`. `whole` gives the record as a value, for the rare calls read in depth.
fn event_of<'v>(
    v: &Record,
    whole: impl Fn() -> Cow<'v, Value>,
    out: &mut Decoded,
) -> Result<Event, DecodeError> {
    let op = v
        .event_name
        .str()
        .ok_or_else(|| DecodeError::invalid(FORMAT, "eventName is missing"))?;
    let service = v
        .event_source
        .str()
        .map(|x| x.trim_end_matches(".amazonaws.com"))
        .unwrap_or_default();
    let time = v
        .event_time
        .time()
        .or_else(|| v.timestamp.time())
        .unwrap_or(0);
    let full = CHANGE_OPS.contains(&op).then(whole);
    let full = full.as_deref();
    let mut e = event(time, actor(v), service, op);
    e.credential = e.actor.credentials.first().cloned();
    e.src_ip = v.source_ip.str().map(safe);
    e.user_agent = v.user_agent.str().map(safe);
    e.region = v.aws_region.str().map(safe);
    let error = v.error_code.str();
    e.status = if error.is_some_and(is_denial)
        || v.response_elements
            .get()
            .and_then(|r| r.console_login.str())
            == Some("Failure")
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
    for r in v.resources.0.iter().take(8) {
        if let Some(a) = r.get().and_then(|r| r.arn.str()) {
            let kind = r.get().and_then(|r| r.typ.str()).unwrap_or("aws");
            e.resources.push(resource(a, kind));
        }
    }
    if e.resources.is_empty()
        && let Some((x, k)) = v.request_parameters.get().and_then(Names::first)
    {
        e.resources.push(resource(x, k));
    }
    if !failed {
        e.issued = issued(v, op, &e.actor).map(Box::new);
        if op == "GetSessionToken"
            && let Some(key) = issued_key(v)
        {
            // The session key is the user's own: its calls name the user.
            e.actor
                .credentials
                .push(credential(key, CredentialKind::Session));
        }
    }
    if op == "ConsoleLogin"
        && v.additional_event_data.get().and_then(|a| a.mfa_used.str()) == Some("No")
        && !failed
    {
        e.signals.push(Signal::NewNetwork);
    }
    // What a successful sensitive call shows the caller can do.
    if !failed
        && !service.is_empty()
        && e.actor.kind != IdentityKind::AwsService
        && shows_permission(op)
    {
        let p = Permission {
            action: SafeText::from(format!("{service}:{op}")),
            resource: safe("(observed in use)"),
            effect: Default::default(),
            via: Some(safe("observed in use")),
            sensitivity: None,
        };
        e.actor.permissions.push(p);
    }
    if !failed && let Some(full) = full {
        changes(full, op, &e.actor, time, out);
    }
    Ok(e)
}

fn issued_key<'a>(v: &'a Record<'a>) -> Option<&'a str> {
    v.response_elements
        .get()?
        .credentials
        .get()?
        .access_key_id
        .str()
}

/// The session a successful `AssumeRole*` or `GetFederationToken` issued, named as its own
/// calls will name it, with the role or user it is of and, when a service asked for it, the
/// workload it is for. A service's `AssumeRole` (EC2 for an instance profile, Lambda, ECS
/// tasks, EKS pod identity) carries no session ARN: it is built from the role and the session
/// name, as STS builds it.
fn issued(v: &Record, op: &str, actor: &IdentityRecord) -> Option<Issued> {
    let resp = v.response_elements.get();
    let params = v.request_parameters.get();
    let key = issued_key(v);
    let (principal, kind, session_of) = match op {
        "AssumeRole" | "AssumeRoleWithWebIdentity" | "AssumeRoleWithSAML" => {
            let role = params.and_then(|p| p.role_arn.str());
            let arn = resp
                .and_then(|r| r.assumed_role_user.get())
                .and_then(|u| u.arn.str())
                .map(str::to_string)
                .or_else(|| {
                    let role = role?;
                    let session = params.and_then(|p| p.role_session_name.str())?;
                    let (head, path) = role.split_once(":role/")?;
                    let account = head.rsplit(':').next()?;
                    let name = path.rsplit('/').next()?;
                    Some(format!(
                        "arn:aws:sts::{account}:assumed-role/{name}/{session}"
                    ))
                })?;
            (arn, IdentityKind::AssumedRole, role.map(str::to_string))
        }
        "GetFederationToken" => {
            let arn = resp
                .and_then(|r| r.federated_user.get())
                .and_then(|u| u.arn.str())?;
            (
                arn.to_string(),
                IdentityKind::FederatedUser,
                Some(actor.principal.to_string()),
            )
        }
        _ => return None,
    };
    let display = match kind {
        IdentityKind::AssumedRole => principal.split_once(":assumed-role/").map(|(_, r)| r),
        _ => principal.rsplit('/').next(),
    };
    let mut identity = identity(Provider::Aws, &principal, kind, display);
    if let Some(key) = key {
        identity
            .credentials
            .push(credential(key, CredentialKind::Session));
    }
    let workload = match actor.kind {
        IdentityKind::AwsService => {
            let svc = actor.principal.as_str();
            Some(
                match svc.trim_end_matches(".amazonaws.com") {
                    "ec2" => "ec2",
                    "lambda" | "edgelambda" => "lambda",
                    "ecs-tasks" => "ecs",
                    "pods.eks" => "eks-pod",
                    "bedrock" => "bedrock",
                    "sagemaker" => "sagemaker",
                    other => other.split('.').next().unwrap_or(other),
                }
                .to_string(),
            )
        }
        _ if op == "AssumeRoleWithWebIdentity" => actor
            .tags
            .iter()
            .find_map(|t| t.strip_prefix("idp="))
            .map(|idp| {
                if idp.contains("token.actions.githubusercontent.com") {
                    "github-actions".to_string()
                } else if idp.contains(".eks.") || idp.contains("oidc.eks") {
                    "eks-pod".to_string()
                } else {
                    "web-identity".to_string()
                }
            }),
        _ => None,
    };
    Some(Issued {
        identity,
        session_of: session_of.map(|s| safe(&s)),
        workload: workload.map(|w| safe(&w)),
    })
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
                crate::core::graph::aws_policy::percent_decode(t)
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
        let not = crate::core::graph::aws_policy::NOT;
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
            format!("{via}{}", crate::core::graph::aws_policy::CONDITIONAL)
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
    let mut change = |target: IdentityRecord,
                      detail: String,
                      signal: Option<Signal>,
                      removes: Option<Removal>| {
        out.changes.push(Change {
            time,
            target,
            detail: safe(&detail),
            by: by_key.clone(),
            signal,
            removes,
        });
    };
    let mut push = |target, detail, signal| change(target, detail, signal, None);
    match op {
        "CreateAccessKey" => {
            let name = s(req, "userName");
            let mut target = match name {
                Some(n) => user(n),
                None => bare(actor),
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
                    .or_else(|| s(req, "groupName").map(|g| group(&account, g))),
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
        // Deletions take away what the calls above (or an inventory) gave.
        "DeleteAccessKey" | "UpdateAccessKey" => {
            let Some(key) = s(req, "accessKeyId") else {
                return;
            };
            let status = match (op, s(req, "status")) {
                ("DeleteAccessKey", _) => CredentialStatus::Revoked,
                (_, Some("Inactive")) => CredentialStatus::Inactive,
                (_, Some("Active")) => CredentialStatus::Active,
                _ => return,
            };
            let target = match s(req, "userName") {
                Some(n) => user(n),
                None => bare(actor),
            };
            let what = match status {
                CredentialStatus::Revoked => "deleted",
                CredentialStatus::Inactive => "made inactive",
                CredentialStatus::Active => "made active again",
            };
            let mut c = credential(key, CredentialKind::AccessKey);
            c.status = status;
            change(
                target,
                format!("access key {key} {what} by {by} ({op})"),
                None,
                Some(Removal::Credential(c)),
            );
        }
        "DeleteLoginProfile" => {
            if let Some(n) = s(req, "userName") {
                let mut c = credential("console-password", CredentialKind::Password);
                c.status = CredentialStatus::Revoked;
                change(
                    user(n),
                    format!("console password removed by {by} ({op})"),
                    None,
                    Some(Removal::Credential(c)),
                );
            }
        }
        "DetachUserPolicy" | "DetachRolePolicy" | "DetachGroupPolicy" | "DeleteUserPolicy"
        | "DeleteRolePolicy" | "DeleteGroupPolicy" => {
            let name = s(req, "policyArn")
                .map(policy_name)
                .or_else(|| s(req, "policyName"));
            let target = s(req, "userName")
                .map(user)
                .or_else(|| s(req, "roleName").map(role))
                .or_else(|| s(req, "groupName").map(|g| group(&account, g)));
            let (Some(name), Some(target)) = (name, target) else {
                return;
            };
            let verb = if op.starts_with("Detach") {
                "detached"
            } else {
                "deleted"
            };
            change(
                target,
                format!("{name} {verb} by {by} ({op})"),
                None,
                Some(Removal::Grants { via: safe(name) }),
            );
        }
        "DeleteUser" | "DeleteRole" => {
            let target = match op {
                "DeleteUser" => s(req, "userName").map(user),
                _ => s(req, "roleName").map(role),
            };
            if let Some(target) = target {
                change(
                    target,
                    format!("deleted by {by} ({op})"),
                    None,
                    Some(Removal::Identity),
                );
            }
        }
        _ => {}
    }
}

/// An IAM group as a change's target (a group's grants are its members').
fn group(account: &str, name: &str) -> IdentityRecord {
    identity(
        Provider::Aws,
        &format!("arn:aws:iam::{account}:group/{name}"),
        IdentityKind::Unknown,
        Some(name),
    )
}

/// The identity of `r` without what it carries (a change's target is the identity, not its
/// grants).
fn bare(r: &IdentityRecord) -> IdentityRecord {
    IdentityRecord {
        credentials: Vec::new(),
        permissions: Vec::new(),
        ..r.clone()
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
    e.raw = v.into();
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

    const REC: &str = r#"{"eventName": "ListBuckets", "eventSource": "s3.amazonaws.com",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/a\u001b[2J",
        "accessKeyId": "AKIAEXAMPLE000000001"}, "note": "a ] and , and } in a string"}"#;

    fn walk(text: &str) -> Option<Vec<String>> {
        let mut seen = Vec::new();
        walk_delivery_file(text, |r, t| {
            assert!(r.is_cloudtrail());
            seen.push(t.to_string());
        })
        .then_some(seen)
    }

    #[test]
    fn a_delivery_file_is_walked_in_one_pass_with_each_records_text() {
        let one = REC.replace('\n', " ");
        let file = format!("{{\"Records\":[{one},{one}]}}");
        assert_eq!(walk(&file), Some(vec![one.clone(), one.clone()]));
        // Pretty-printed, other keys around the records, no records.
        let pretty = format!(
            "\n{{ \"x\": [1, {{\"y\": \"]\"}}],\n  \"Records\" : [\n {REC} \n] , \"z\": null }}\n"
        );
        assert_eq!(walk(&pretty), Some(vec![REC.to_string()]));
        assert_eq!(walk(r#"{"Records": []}"#), Some(vec![]));
        // What is not a plain delivery file is left to the general path.
        for text in [
            format!("{{\"Records\":[{one}]}} x"),
            format!("{{\"Records\":[{one},]}}"),
            format!("{{\"Records\":[{one}],\"Records\":[]}}"),
            format!("{{\"identities\":[],\"Records\":[{one}]}}"),
            r#"{"Records":[{"eventName":"A","eventName":"B"}]}"#.to_string(),
            r#"{"Records": {}}"#.to_string(),
            r#"{"records": []}"#.to_string(),
            r#"{"Records": [1, 2"#.to_string(),
        ] {
            assert_eq!(walk(&text), None, "{text}");
        }
    }

    #[test]
    fn a_record_kept_as_text_serialises_as_the_record_and_stays_one_line() {
        let one = REC.replace('\n', " ");
        let out = crate::ingest::decode_record(&format!("{{\"Records\":[{one}]}}")).unwrap();
        let e = &out.events[0];
        assert!(matches!(e.raw, Raw::Text(_)));
        assert_eq!(*e.raw.value(), serde_json::from_str::<Value>(REC).unwrap());
        let line = serde_json::to_string(e).unwrap();
        let back: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["raw"], serde_json::from_str::<Value>(REC).unwrap());
        // The identity is sanitised where it enters; the evidence keeps the escape, escaped.
        assert!(!e.actor.principal.as_str().contains('\u{1b}'));
        assert!(line.contains("\\u001b[2J") && !line.contains('\u{1b}'));
        // From a pretty-printed file the record is kept parsed, so JSON Lines stay lines.
        let pretty = crate::ingest::decode_record(&format!("{{\"Records\":[{REC}]}}")).unwrap();
        assert!(matches!(pretty.events[0].raw, Raw::Value(_)));
        assert!(
            !serde_json::to_string(&pretty.events[0])
                .unwrap()
                .contains('\n')
        );
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
