//! `aws.*` kinds through the IAM API (`aws-sdk-iam`), configured by `[providers.aws]`:
//!
//! ```toml
//! [providers.aws]
//! region = "us-east-1"                      # optional; else the usual AWS chain's region
//! endpoint_url = "http://127.0.0.1:5000"    # optional (moto, LocalStack, a VPC endpoint)
//! ```
//!
//! Credentials come from the standard AWS chain (environment, profile, web identity, ECS,
//! instance metadata). Secret access keys are never printed: only access key ids, which are
//! not secret.
//!
//! Every kind reads IAM first (plan and execute), acts only when IAM is not already in the
//! wanted state, and reads the result back. What it creates is named from the action's
//! idempotency key, so a resend under the same key (a retry, a recovery after a crash) finds
//! its own work and does not act twice. IAM keeps no record of keys, so `status` answers
//! "never received" and the desk resends: safe, since every execute is idempotent.

use std::time::Duration;

use aws_sdk_iam::Client;
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::StatusType;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::core::workflow::{Action, DryRun};
use crate::respond::{BoxFut, ExecError, ExecStatus, Executor, Outcome, Plan};

pub use super::{REVOKE_POLICY, deny_all_policy_name};

pub const KINDS: &[&str] = &[
    "aws.disable_access_key",
    "aws.delete_access_key",
    "aws.deny_all",
    "aws.revoke_role_sessions",
];

pub struct AwsExecutor {
    region: Option<String>,
    endpoint_url: Option<String>,
    client: OnceCell<Client>,
}

/// An IAM user or role.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Principal {
    User(String),
    Role(String),
}

impl Principal {
    fn describe(&self) -> String {
        match self {
            Principal::User(u) => format!("IAM user {u}"),
            Principal::Role(r) => format!("IAM role {r}"),
        }
    }
}

/// What an action asks of IAM.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    DisableKey { user: String, key_id: String },
    DeleteKey { user: String, key_id: String },
    DenyAll(Principal),
    RevokeSessions { role: String },
}

fn param(a: &Action, name: &str) -> Option<String> {
    a.params
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The user or role an identity key names: `aws:arn:aws:iam::ACCOUNT:user/PATH/NAME`.
fn principal_of_identity(identity: &str) -> Option<Principal> {
    let arn = identity.strip_prefix("aws:").unwrap_or(identity);
    let resource = arn.strip_prefix("arn:")?.splitn(5, ':').nth(4)?;
    let (typ, rest) = resource.split_once('/')?;
    let name = rest.rsplit('/').next()?.to_string();
    match typ {
        "user" => Some(Principal::User(name)),
        "role" => Some(Principal::Role(name)),
        _ => None,
    }
}

fn op_of(a: &Action) -> Result<Op, String> {
    let need = |p: &str| param(a, p).ok_or_else(|| format!("{} needs --param {p}=…", a.kind));
    match a.kind.as_str() {
        "aws.disable_access_key" => Ok(Op::DisableKey {
            user: need("user")?,
            key_id: need("access_key_id")?,
        }),
        "aws.delete_access_key" => Ok(Op::DeleteKey {
            user: need("user")?,
            key_id: need("access_key_id")?,
        }),
        "aws.deny_all" => match (param(a, "user"), param(a, "role")) {
            (Some(_), Some(_)) => Err("aws.deny_all takes --param user=… or --param role=…, not both".into()),
            (Some(u), None) => Ok(Op::DenyAll(Principal::User(u))),
            (None, Some(r)) => Ok(Op::DenyAll(Principal::Role(r))),
            (None, None) => principal_of_identity(&a.identity).map(Op::DenyAll).ok_or_else(|| {
                format!(
                    "aws.deny_all needs --param user=… or --param role=… (the identity {} names neither)",
                    a.identity
                )
            }),
        },
        "aws.revoke_role_sessions" => Ok(Op::RevokeSessions { role: need("role")? }),
        other => Err(format!("{other}: not an aws.* kind this executor knows")),
    }
}

/// The statement id that marks a revocation made under `key`.
fn revoke_sid(key: &str) -> String {
    format!("BlastdoorRevoke{}", &key[..key.len().min(16)])
}

fn deny_all_document(key: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": format!("BlastdoorDenyAll{}", &key[..key.len().min(16)]),
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*"
        }]
    })
    .to_string()
}

/// The policy AWS documents for revoking a role's temporary credentials issued before `at`.
fn revoke_document(key: &str, at: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": revoke_sid(key),
            "Effect": "Deny",
            "Action": ["*"],
            "Resource": ["*"],
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": at}}
        }]
    })
    .to_string()
}

/// IAM returns policy documents URL-encoded; moto may not.
fn decode_policy(doc: &str) -> String {
    if doc.trim_start().starts_with('{') {
        return doc.to_string();
    }
    crate::core::graph::aws_policy::percent_decode(doc)
}

fn date(d: Option<&aws_sdk_iam::primitives::DateTime>) -> Value {
    d.map(|d| Value::String(d.to_string()))
        .unwrap_or(Value::Null)
}

/// `(code, message)` of an error answer the SDK did not parse: the first `<Code>` and
/// `<Message>` elements of the body, else the HTTP status (403 reads as AccessDenied, 404 as
/// NoSuchEntity). The message is cut and cleaned: it is the provider's text, not ours.
fn unparsed_error(status: u16, body: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(body);
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].trim().to_string())
    };
    let code = element("Code").unwrap_or_else(|| match status {
        401 | 403 => "AccessDenied".to_string(),
        404 => "NoSuchEntity".to_string(),
        _ => format!("HTTP {status}"),
    });
    let msg = element("Message").unwrap_or_else(|| format!("HTTP {status}"));
    let msg = crate::core::SafeText::new(&msg)
        .as_str()
        .chars()
        .take(300)
        .collect();
    (code, msg)
}

/// The IAM permission an operation needs (for AccessDenied messages and the README).
fn iam_action(op: &str) -> String {
    format!("iam:{op}")
}

impl AwsExecutor {
    /// From `[providers.aws]`: `region`, `endpoint_url`, both optional strings.
    pub fn from_section(t: &toml::Table) -> anyhow::Result<AwsExecutor> {
        let mut region = None;
        let mut endpoint_url = None;
        for (k, v) in t {
            let s = v.as_str().map(str::to_string).ok_or_else(|| {
                anyhow::anyhow!("[providers.aws] {k}: write a string, e.g. {k} = \"…\"")
            });
            match k.as_str() {
                "region" => region = Some(s?),
                "endpoint_url" => {
                    let u = s?;
                    if !(u.starts_with("http://") || u.starts_with("https://")) {
                        anyhow::bail!(
                            "[providers.aws] endpoint_url = \"{u}\": write a URL, e.g. \"http://127.0.0.1:5000\""
                        );
                    }
                    endpoint_url = Some(u.trim_end_matches('/').to_string());
                }
                other => anyhow::bail!(
                    "[providers.aws] {other}: unknown key; known: region, endpoint_url (credentials come from the AWS chain: AWS_PROFILE, AWS_ACCESS_KEY_ID, …)"
                ),
            }
        }
        Ok(AwsExecutor {
            region,
            endpoint_url,
            client: OnceCell::new(),
        })
    }

    fn endpoint(&self) -> String {
        match &self.endpoint_url {
            Some(u) => u.clone(),
            None => format!(
                "the IAM endpoint of region {}",
                self.region.as_deref().unwrap_or("(from the AWS chain)")
            ),
        }
    }

    /// The endpoint from `[providers.aws] endpoint_url`, if one is set (moto, LocalStack).
    pub fn endpoint_url(&self) -> Option<&str> {
        self.endpoint_url.as_deref()
    }

    /// The SDK configuration every AWS client of blastdoor is built from: `[providers.aws]`'s
    /// region and endpoint, credentials from the standard chain (remembered by the redactor,
    /// so no answer or log line shows them), bounded timeouts and retries.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        let mut l = aws_config::defaults(aws_config::BehaviorVersion::latest())
            // The desk retries with backoff; one SDK attempt per desk attempt.
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_timeout(Duration::from_secs(30))
                    .build(),
            );
        if let Some(r) = &self.region {
            l = l.region(aws_config::Region::new(r.clone()));
        }
        if let Some(u) = &self.endpoint_url {
            l = l.endpoint_url(u.clone());
        }
        let conf = l.load().await;
        if let Some(p) = conf.credentials_provider() {
            use aws_sdk_iam::config::ProvideCredentials;
            if let Ok(c) = p.provide_credentials().await {
                crate::respond::redact::remember(c.secret_access_key());
                if let Some(t) = c.session_token() {
                    crate::respond::redact::remember(t);
                }
            }
        }
        conf
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let conf = self.sdk_config().await;
                let mut b = aws_sdk_iam::config::Builder::from(&conf);
                if conf.region().is_none() {
                    // IAM is global: its endpoint is signed for us-east-1.
                    b = b.region(aws_config::Region::new("us-east-1"));
                }
                Client::from_conf(b.build())
            })
            .await
    }

    /// An SDK error as the desk needs it: unreachable → transient; denied, missing → permanent,
    /// naming the IAM action, the target and the fix.
    fn err<E>(&self, op: &str, target: &str, e: SdkError<E>) -> ExecError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let endpoint = self.endpoint();
        match &e {
            SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() => {
                ExecError::Transient(format!(
                    "AWS IAM at {endpoint} is unreachable ({op}): {}; check [providers.aws] endpoint_url and region in config.toml",
                    DisplayErrorContext(&e)
                ))
            }
            SdkError::TimeoutError(_) => ExecError::Transient(format!(
                "AWS IAM at {endpoint} did not answer in time ({op}); check [providers.aws] endpoint_url and region in config.toml"
            )),
            SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_) => {
                ExecError::Permanent(format!(
                    "AWS IAM {op} on {target} could not be sent: {}; the credentials come from the AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, …)",
                    DisplayErrorContext(&e)
                ))
            }
            SdkError::ResponseError(_) => ExecError::Transient(format!(
                "AWS IAM at {endpoint} gave an unreadable answer to {op}: {}",
                DisplayErrorContext(&e)
            )),
            _ => {
                let (code, msg) = match (e.code(), e.raw_response()) {
                    (Some(c), _) => (c.to_string(), e.message().unwrap_or("").to_string()),
                    // An error body the SDK could not read (an IAM look-alike that nests
                    // <Errors><Error>, a proxy's page): its <Code> and <Message>, else the status.
                    (None, Some(raw)) => unparsed_error(
                        raw.status().as_u16(),
                        raw.body().bytes().unwrap_or_default(),
                    ),
                    (None, None) => (String::new(), e.message().unwrap_or("").to_string()),
                };
                match code.as_str() {
                    "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
                        ExecError::Permanent(format!(
                            "AWS denied {} on {target}: the responder's AWS credentials need {} ({msg})",
                            iam_action(op),
                            iam_action(op)
                        ))
                    }
                    "NoSuchEntity" => ExecError::Permanent(format!(
                        "{target} does not exist in AWS IAM ({} answered NoSuchEntity: {msg})",
                        iam_action(op)
                    )),
                    "InvalidClientTokenId"
                    | "SignatureDoesNotMatch"
                    | "ExpiredToken"
                    | "UnrecognizedClientException" => ExecError::Permanent(format!(
                        "AWS refused the responder's credentials ({code}: {msg}); fix the AWS chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, …)"
                    )),
                    "Throttling"
                    | "ThrottlingException"
                    | "ServiceFailure"
                    | "ServiceUnavailable"
                    | "InternalFailure"
                    | "RequestTimeout" => ExecError::Transient(format!(
                        "AWS IAM at {endpoint}: {code} on {op}: {msg}"
                    )),
                    _ => ExecError::Permanent(format!(
                        "AWS IAM {op} on {target} failed: {code}: {msg}"
                    )),
                }
            }
        }
    }

    /// `(status, created, last_used)` of `key_id`, `None` when the user has no such key.
    async fn key_state(&self, user: &str, key_id: &str) -> Result<Option<Value>, ExecError> {
        let c = self.client().await;
        let target = format!("IAM user {user}");
        let out = c
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .map_err(|e| self.err("ListAccessKeys", &target, e))?;
        let keys = out.access_key_metadata();
        let Some(k) = keys.iter().find(|k| k.access_key_id() == Some(key_id)) else {
            return Ok(None);
        };
        let others: Vec<Value> = keys
            .iter()
            .filter(|k| k.access_key_id() != Some(key_id))
            .map(|k| {
                json!({"access_key_id": k.access_key_id(),
                       "status": k.status().map(|s| s.as_str())})
            })
            .collect();
        let last = c
            .get_access_key_last_used()
            .access_key_id(key_id)
            .send()
            .await
            .ok()
            .and_then(|o| o.access_key_last_used().cloned());
        Ok(Some(json!({
            "user": user,
            "access_key_id": key_id,
            "status": k.status().map(|s| s.as_str()),
            "created": date(k.create_date()),
            "last_used": last.as_ref().and_then(|l| l.last_used_date()).map(|d| d.to_string()),
            "last_used_service": last.as_ref().map(|l| l.service_name()).filter(|s| !s.is_empty() && *s != "N/A"),
            "last_used_region": last.as_ref().map(|l| l.region()).filter(|s| !s.is_empty() && *s != "N/A"),
            "other_keys": others,
        })))
    }

    async fn set_key_status(
        &self,
        user: &str,
        key_id: &str,
        status: StatusType,
    ) -> Result<(), ExecError> {
        self.client()
            .await
            .update_access_key()
            .user_name(user)
            .access_key_id(key_id)
            .status(status)
            .send()
            .await
            .map_err(|e| {
                self.err(
                    "UpdateAccessKey",
                    &format!("access key {key_id} of IAM user {user}"),
                    e,
                )
            })?;
        Ok(())
    }

    /// What the user or role is and what it holds (404 → NoSuchEntity error).
    async fn principal_state(&self, p: &Principal) -> Result<Value, ExecError> {
        let c = self.client().await;
        let target = p.describe();
        match p {
            Principal::User(u) => {
                let user = c
                    .get_user()
                    .user_name(u)
                    .send()
                    .await
                    .map_err(|e| self.err("GetUser", &target, e))?;
                let attached = c
                    .list_attached_user_policies()
                    .user_name(u)
                    .send()
                    .await
                    .map_err(|e| self.err("ListAttachedUserPolicies", &target, e))?;
                let inline = c
                    .list_user_policies()
                    .user_name(u)
                    .send()
                    .await
                    .map_err(|e| self.err("ListUserPolicies", &target, e))?;
                let keys = c
                    .list_access_keys()
                    .user_name(u)
                    .send()
                    .await
                    .map_err(|e| self.err("ListAccessKeys", &target, e))?;
                Ok(json!({
                    "user": u,
                    "arn": user.user().map(|u| u.arn()),
                    "attached_policies": attached.attached_policies().iter().map(|p| p.policy_arn()).collect::<Vec<_>>(),
                    "inline_policies": inline.policy_names(),
                    "access_keys": keys.access_key_metadata().iter().map(|k| json!({
                        "access_key_id": k.access_key_id(), "status": k.status().map(|s| s.as_str())
                    })).collect::<Vec<_>>(),
                }))
            }
            Principal::Role(r) => {
                let role = c
                    .get_role()
                    .role_name(r)
                    .send()
                    .await
                    .map_err(|e| self.err("GetRole", &target, e))?;
                let attached = c
                    .list_attached_role_policies()
                    .role_name(r)
                    .send()
                    .await
                    .map_err(|e| self.err("ListAttachedRolePolicies", &target, e))?;
                let inline = c
                    .list_role_policies()
                    .role_name(r)
                    .send()
                    .await
                    .map_err(|e| self.err("ListRolePolicies", &target, e))?;
                Ok(json!({
                    "role": r,
                    "arn": role.role().map(|r| r.arn()),
                    "max_session_duration_s": role.role().and_then(|r| r.max_session_duration()),
                    "attached_policies": attached.attached_policies().iter().map(|p| p.policy_arn()).collect::<Vec<_>>(),
                    "inline_policies": inline.policy_names(),
                }))
            }
        }
    }

    /// An inline policy's document (decoded), `None` when there is no such policy.
    async fn inline_policy(&self, p: &Principal, name: &str) -> Result<Option<String>, ExecError> {
        let c = self.client().await;
        let target = p.describe();
        let r = match p {
            Principal::User(u) => c
                .get_user_policy()
                .user_name(u)
                .policy_name(name)
                .send()
                .await
                .map(|o| o.policy_document().to_string())
                .map_err(|e| {
                    (
                        e.code() == Some("NoSuchEntity"),
                        self.err("GetUserPolicy", &target, e),
                    )
                }),
            Principal::Role(r) => c
                .get_role_policy()
                .role_name(r)
                .policy_name(name)
                .send()
                .await
                .map(|o| o.policy_document().to_string())
                .map_err(|e| {
                    (
                        e.code() == Some("NoSuchEntity"),
                        self.err("GetRolePolicy", &target, e),
                    )
                }),
        };
        match r {
            Ok(doc) => Ok(Some(decode_policy(&doc))),
            Err((true, _)) => {
                // NoSuchEntity: the policy or the principal. Tell which.
                self.principal_exists(p).await?;
                Ok(None)
            }
            Err((false, e)) => Err(e),
        }
    }

    async fn principal_exists(&self, p: &Principal) -> Result<(), ExecError> {
        let c = self.client().await;
        let target = p.describe();
        match p {
            Principal::User(u) => c
                .get_user()
                .user_name(u)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.err("GetUser", &target, e)),
            Principal::Role(r) => c
                .get_role()
                .role_name(r)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.err("GetRole", &target, e)),
        }
    }

    async fn put_inline(&self, p: &Principal, name: &str, doc: &str) -> Result<(), ExecError> {
        let c = self.client().await;
        let target = p.describe();
        match p {
            Principal::User(u) => c
                .put_user_policy()
                .user_name(u)
                .policy_name(name)
                .policy_document(doc)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.err("PutUserPolicy", &target, e)),
            Principal::Role(r) => c
                .put_role_policy()
                .role_name(r)
                .policy_name(name)
                .policy_document(doc)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.err("PutRolePolicy", &target, e)),
        }
    }

    /// Delete an inline policy; one already gone is fine.
    async fn delete_inline(&self, p: &Principal, name: &str) -> Result<(), ExecError> {
        let c = self.client().await;
        let target = format!("inline policy {name} of {}", p.describe());
        let r = match p {
            Principal::User(u) => c
                .delete_user_policy()
                .user_name(u)
                .policy_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    (
                        e.code() == Some("NoSuchEntity"),
                        self.err("DeleteUserPolicy", &target, e),
                    )
                }),
            Principal::Role(r) => c
                .delete_role_policy()
                .role_name(r)
                .policy_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    (
                        e.code() == Some("NoSuchEntity"),
                        self.err("DeleteRolePolicy", &target, e),
                    )
                }),
        };
        match r {
            Ok(()) | Err((true, _)) => Ok(()),
            Err((false, e)) => Err(e),
        }
    }

    async fn plan_op(&self, a: &Action, op: &Op) -> Result<Plan, ExecError> {
        let plan = |reversible, changes, impact, undo: String, before| Plan {
            reversible,
            dry_run: DryRun {
                changes,
                impact,
                undo: Some(undo),
                before,
            },
        };
        match op {
            Op::DisableKey { user, key_id } | Op::DeleteKey { user, key_id } => {
                let before = self.key_state(user, key_id).await?.ok_or_else(|| {
                    ExecError::Permanent(format!(
                        "access key {key_id} of IAM user {user} does not exist (iam:ListAccessKeys does not list it)"
                    ))
                })?;
                let status = before["status"].as_str().unwrap_or("?").to_string();
                let mut impact = vec![match before["last_used"].as_str() {
                    Some(t) => format!(
                        "{key_id} was last used {t}{}{}: whatever signs requests with it stops working",
                        before["last_used_service"]
                            .as_str()
                            .map(|s| format!(" by {s}"))
                            .unwrap_or_default(),
                        before["last_used_region"]
                            .as_str()
                            .map(|s| format!(" in {s}"))
                            .unwrap_or_default()
                    ),
                    None => format!("{key_id} has no recorded use"),
                }];
                let others = before["other_keys"].as_array().map(Vec::len).unwrap_or(0);
                impact.push(format!(
                    "{user}'s other access keys ({others}) and its console login are not touched"
                ));
                if matches!(op, Op::DisableKey { .. }) {
                    let change = if status == "Inactive" {
                        format!("none: access key {key_id} of IAM user {user} is already Inactive")
                    } else {
                        format!(
                            "set access key {key_id} of IAM user {user} from {status} to Inactive (iam:UpdateAccessKey)"
                        )
                    };
                    Ok(plan(
                        true,
                        vec![change],
                        impact,
                        format!(
                            "re-activate: set access key {key_id} back to Active (iam:UpdateAccessKey)"
                        ),
                        before,
                    ))
                } else {
                    if status == "Active" {
                        impact.push(format!(
                            "{key_id} is Active: aws.disable_access_key first can be undone, deleting cannot"
                        ));
                    }
                    Ok(plan(
                        false,
                        vec![format!(
                            "delete access key {key_id} ({status}) of IAM user {user} (iam:DeleteAccessKey)"
                        )],
                        impact,
                        "none: a deleted access key cannot be restored; issue a new one (iam:CreateAccessKey) and redeploy its users".into(),
                        before,
                    ))
                }
            }
            Op::DenyAll(p) => {
                let name = deny_all_policy_name(a.key());
                let before = self.principal_state(p).await?;
                let attached = before["attached_policies"]
                    .as_array()
                    .map(Vec::len)
                    .unwrap_or(0);
                let inline = before["inline_policies"]
                    .as_array()
                    .map(Vec::len)
                    .unwrap_or(0);
                let who = p.describe();
                let mut impact = vec![format!(
                    "every request by {who} is denied, whatever its {attached} attached and {inline} inline policies allow"
                )];
                match p {
                    Principal::User(_) => {
                        let keys = before["access_keys"].as_array().map(Vec::len).unwrap_or(0);
                        impact.push(format!(
                            "covers all {keys} of its access keys and its console session; nothing is deleted"
                        ));
                    }
                    Principal::Role(_) => impact.push(
                        "covers existing sessions of the role too, and every service or workload that assumes it".into(),
                    ),
                }
                Ok(plan(
                    true,
                    vec![format!(
                        "put inline policy {name} (Deny * on *) on {who} (iam:Put{}Policy)",
                        if matches!(p, Principal::User(_)) {
                            "User"
                        } else {
                            "Role"
                        }
                    )],
                    impact,
                    format!(
                        "detach: delete inline policy {name} from {who} (iam:Delete{}Policy)",
                        if matches!(p, Principal::User(_)) {
                            "User"
                        } else {
                            "Role"
                        }
                    ),
                    before,
                ))
            }
            Op::RevokeSessions { role } => {
                let p = Principal::Role(role.clone());
                let mut before = self.principal_state(&p).await?;
                let existing = self.inline_policy(&p, REVOKE_POLICY).await?;
                before["revoke_policy"] =
                    existing.clone().map(Value::String).unwrap_or(Value::Null);
                let max = before["max_session_duration_s"].as_i64().unwrap_or(3600);
                let mut impact = vec![
                    format!(
                        "every session of IAM role {role} issued before the moment of execution is denied (aws:TokenIssueTime); sessions can last up to {max}s"
                    ),
                    "workloads that assume the role again get new, working sessions: pair with aws.deny_all to stop them".into(),
                ];
                if existing.is_some() {
                    impact.push(format!(
                        "{role} already has a {REVOKE_POLICY} policy: it is replaced (and restored on undo)"
                    ));
                }
                Ok(plan(
                    true,
                    vec![format!(
                        "put inline policy {REVOKE_POLICY} on IAM role {role}: Deny * when aws:TokenIssueTime is before the execution time (iam:PutRolePolicy)"
                    )],
                    impact,
                    format!(
                        "remove the {REVOKE_POLICY} policy (iam:DeleteRolePolicy), or put back the one it replaced: sessions issued before the execution time become valid again until they expire"
                    ),
                    before,
                ))
            }
        }
    }

    async fn execute_op(&self, a: &Action, op: &Op, key: &str) -> Result<Outcome, ExecError> {
        let done = |detail: Value| Outcome {
            status: ExecStatus::Done,
            detail,
        };
        match op {
            Op::DisableKey { user, key_id } => {
                let now = self
                    .key_state(user, key_id)
                    .await?
                    .ok_or_else(|| missing_key(user, key_id))?;
                let was = now["status"].as_str().unwrap_or("?").to_string();
                // Before-snapshot: the plan's (taken before any resend of this key acted).
                let before = snapshot(a, "status", &now);
                if was != "Inactive" {
                    self.set_key_status(user, key_id, StatusType::Inactive)
                        .await?;
                }
                let after = self
                    .key_state(user, key_id)
                    .await?
                    .ok_or_else(|| missing_key(user, key_id))?;
                let status = after["status"].as_str().unwrap_or("?");
                if status != "Inactive" {
                    return Err(ExecError::Permanent(format!(
                        "access key {key_id} of IAM user {user} is still {status} after iam:UpdateAccessKey"
                    )));
                }
                Ok(done(json!({
                    "user": user, "access_key_id": key_id, "status": status,
                    "before": before, "already": was == "Inactive",
                })))
            }
            Op::DeleteKey { user, key_id } => {
                let now = self.key_state(user, key_id).await?;
                let planned = a.dry_run.before.get("access_key_id").is_some();
                match now {
                    Some(_) => {
                        self.client()
                            .await
                            .delete_access_key()
                            .user_name(user)
                            .access_key_id(key_id)
                            .send()
                            .await
                            .map_err(|e| {
                                self.err(
                                    "DeleteAccessKey",
                                    &format!("access key {key_id} of IAM user {user}"),
                                    e,
                                )
                            })?;
                    }
                    // Gone already: this key's earlier attempt, if the plan saw it.
                    None if planned => {}
                    None => return Err(missing_key(user, key_id)),
                }
                if self.key_state(user, key_id).await?.is_some() {
                    return Err(ExecError::Permanent(format!(
                        "access key {key_id} of IAM user {user} is still listed after iam:DeleteAccessKey"
                    )));
                }
                Ok(done(json!({
                    "user": user, "access_key_id": key_id, "deleted": true,
                    "before": a.dry_run.before,
                })))
            }
            Op::DenyAll(p) => {
                let name = deny_all_policy_name(key);
                let before = self.principal_state(p).await?;
                if self.inline_policy(p, &name).await?.is_none() {
                    self.put_inline(p, &name, &deny_all_document(key)).await?;
                }
                let doc = self.inline_policy(p, &name).await?.ok_or_else(|| {
                    ExecError::Permanent(format!(
                        "inline policy {name} is missing from {} right after it was put",
                        p.describe()
                    ))
                })?;
                Ok(done(json!({
                    "principal": p.describe(), "policy": name,
                    "document": serde_json::from_str::<Value>(&doc).unwrap_or(Value::String(doc)),
                    "before": snapshot(a, "attached_policies", &before),
                })))
            }
            Op::RevokeSessions { role } => {
                let p = Principal::Role(role.clone());
                let sid = revoke_sid(key);
                let existing = self.inline_policy(&p, REVOKE_POLICY).await?;
                let ours = existing.as_deref().is_some_and(|d| d.contains(&sid));
                // What to put back on undo: the policy this replaced (none if it was ours).
                let replaced = if ours {
                    a.dry_run
                        .before
                        .get("revoke_policy")
                        .cloned()
                        .unwrap_or(Value::Null)
                } else {
                    existing.clone().map(Value::String).unwrap_or(Value::Null)
                };
                if !ours {
                    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                    self.put_inline(&p, REVOKE_POLICY, &revoke_document(key, &at))
                        .await?;
                }
                let doc = self
                    .inline_policy(&p, REVOKE_POLICY)
                    .await?
                    .unwrap_or_default();
                let v: Value = serde_json::from_str(&doc).unwrap_or(Value::Null);
                let at = v
                    .pointer("/Statement/0/Condition/DateLessThan/aws:TokenIssueTime")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let Some(at) = at.filter(|_| doc.contains(&sid)) else {
                    return Err(ExecError::Permanent(format!(
                        "{REVOKE_POLICY} on IAM role {role} does not hold this action's revocation after iam:PutRolePolicy"
                    )));
                };
                Ok(done(json!({
                    "role": role, "policy": REVOKE_POLICY, "revoked_before": at,
                    "replaced_policy": replaced,
                })))
            }
        }
    }

    async fn rollback_op(&self, a: &Action, op: &Op, key: &str) -> Result<Outcome, ExecError> {
        let back = |detail: Value| Outcome {
            status: ExecStatus::RolledBack,
            detail,
        };
        match op {
            Op::DisableKey { user, key_id } => {
                let was_inactive =
                    a.outcome.pointer("/before/status").and_then(Value::as_str) == Some("Inactive");
                if was_inactive {
                    return Ok(back(json!({
                        "user": user, "access_key_id": key_id, "status": "Inactive",
                        "note": "the key was already Inactive before this action: left Inactive",
                    })));
                }
                self.set_key_status(user, key_id, StatusType::Active)
                    .await?;
                let after = self
                    .key_state(user, key_id)
                    .await?
                    .ok_or_else(|| missing_key(user, key_id))?;
                let status = after["status"].as_str().unwrap_or("?");
                if status != "Active" {
                    return Err(ExecError::Permanent(format!(
                        "access key {key_id} of IAM user {user} is still {status} after iam:UpdateAccessKey"
                    )));
                }
                Ok(back(
                    json!({"user": user, "access_key_id": key_id, "status": status}),
                ))
            }
            Op::DeleteKey { key_id, .. } => Err(ExecError::Permanent(format!(
                "aws.delete_access_key cannot be undone: {key_id} is deleted; issue a new key (iam:CreateAccessKey)"
            ))),
            Op::DenyAll(p) => {
                let name = deny_all_policy_name(key);
                self.delete_inline(p, &name).await?;
                if self.inline_policy(p, &name).await?.is_some() {
                    return Err(ExecError::Permanent(format!(
                        "inline policy {name} is still on {} after iam:Delete*Policy",
                        p.describe()
                    )));
                }
                Ok(back(
                    json!({"principal": p.describe(), "policy": name, "removed": true}),
                ))
            }
            Op::RevokeSessions { role } => {
                let p = Principal::Role(role.clone());
                let sid = revoke_sid(key);
                let current = self.inline_policy(&p, REVOKE_POLICY).await?;
                if current.as_deref().is_some_and(|d| !d.contains(&sid)) {
                    return Err(ExecError::Permanent(format!(
                        "{REVOKE_POLICY} on IAM role {role} was replaced since this action (by a later revocation?): left as it is"
                    )));
                }
                match a.outcome.get("replaced_policy").and_then(Value::as_str) {
                    Some(old) => self.put_inline(&p, REVOKE_POLICY, old).await?,
                    None => self.delete_inline(&p, REVOKE_POLICY).await?,
                }
                let now = self.inline_policy(&p, REVOKE_POLICY).await?;
                if now.as_deref().is_some_and(|d| d.contains(&sid)) {
                    return Err(ExecError::Permanent(format!(
                        "{REVOKE_POLICY} on IAM role {role} still holds this action's revocation"
                    )));
                }
                Ok(back(json!({
                    "role": role, "policy": REVOKE_POLICY, "restored_previous": now.is_some(),
                    "note": format!("sessions of {role} issued before {} are valid again until they expire",
                        a.outcome.get("revoked_before").and_then(Value::as_str).unwrap_or("the revocation")),
                })))
            }
        }
    }
}

fn missing_key(user: &str, key_id: &str) -> ExecError {
    ExecError::Permanent(format!(
        "access key {key_id} of IAM user {user} does not exist (iam:ListAccessKeys does not list it)"
    ))
}

/// The plan's before-snapshot when it read the provider (it has `field`), else `now`.
fn snapshot(a: &Action, field: &str, now: &Value) -> Value {
    if a.dry_run.before.get(field).is_some() {
        a.dry_run.before.clone()
    } else {
        now.clone()
    }
}

impl Executor for AwsExecutor {
    fn name(&self) -> String {
        match &self.endpoint_url {
            Some(u) => format!("aws {u}"),
            None => "aws".into(),
        }
    }

    fn kinds(&self) -> BoxFut<'_, Vec<String>> {
        Box::pin(async { KINDS.iter().map(|k| k.to_string()).collect() })
    }

    fn plan<'a>(&'a self, a: &'a Action) -> BoxFut<'a, anyhow::Result<Plan>> {
        Box::pin(async move {
            let op = op_of(a).map_err(anyhow::Error::msg)?;
            self.plan_op(a, &op)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))
        })
    }

    fn execute<'a>(
        &'a self,
        a: &'a Action,
        key: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        Box::pin(async move {
            let op = op_of(a).map_err(ExecError::Permanent)?;
            self.execute_op(a, &op, key).await
        })
    }

    /// IAM keeps no record of keys: "never received", so the desk resends (idempotently).
    fn status<'a>(&'a self, _key: &'a str) -> BoxFut<'a, Result<Option<Outcome>, ExecError>> {
        Box::pin(async { Ok(None) })
    }

    fn rollback<'a>(
        &'a self,
        a: &'a Action,
        key: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        Box::pin(async move {
            let op = op_of(a).map_err(ExecError::Permanent)?;
            self.rollback_op(a, &op, key).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_the_sdk_cannot_read_still_names_the_code_and_message() {
        // moto's shape: <Errors> around <Error>, which the SDK's awsQuery parser skips.
        let body = b"<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: arn:aws:iam::1:user/r is not authorized\x1b[2J</Message></Error></Errors></ErrorResponse>";
        let (code, msg) = unparsed_error(403, body);
        assert_eq!(code, "AccessDenied");
        assert!(
            msg.starts_with("User: arn:aws:iam::1:user/r is not authorized"),
            "{msg}"
        );
        assert!(
            !msg.contains('\x1b'),
            "terminal escapes pass through: {msg:?}"
        );
        // No XML at all (a proxy's page): the status decides.
        assert_eq!(unparsed_error(403, b"forbidden").0, "AccessDenied");
        assert_eq!(unparsed_error(404, b"").0, "NoSuchEntity");
        assert_eq!(unparsed_error(502, b"<html>").0, "HTTP 502");
    }

    #[test]
    fn identities_name_users_and_roles() {
        assert_eq!(
            principal_of_identity("aws:arn:aws:iam::123456789012:user/ci-bot"),
            Some(Principal::User("ci-bot".into()))
        );
        assert_eq!(
            principal_of_identity("aws:arn:aws:iam::123456789012:role/svc/deployer"),
            Some(Principal::Role("deployer".into()))
        );
        assert_eq!(principal_of_identity("vault:entity:x"), None);
    }

    #[test]
    fn policy_documents_decode() {
        assert_eq!(decode_policy("%7B%22a%22%3A1%7D"), "{\"a\":1}");
        assert_eq!(decode_policy("{\"a\":1}"), "{\"a\":1}");
    }

    #[test]
    fn section_keys_are_checked() {
        let t: toml::Table = toml::from_str("regoin = \"us-east-1\"").unwrap();
        let e = AwsExecutor::from_section(&t).err().unwrap().to_string();
        assert!(e.contains("[providers.aws] regoin"), "{e}");
        let t: toml::Table = toml::from_str("endpoint_url = \"127.0.0.1:5000\"").unwrap();
        assert!(AwsExecutor::from_section(&t).is_err());
    }

    #[test]
    fn created_policies_are_named_from_the_key() {
        let k = "0123456789abcdef0123456789abcdef";
        assert_eq!(deny_all_policy_name(k), "BlastdoorDenyAll-0123456789abcdef");
        assert!(revoke_document(k, "2026-01-01T00:00:00Z").contains("aws:TokenIssueTime"));
    }
}
