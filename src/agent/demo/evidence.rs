//! Evidence: each simulated call becomes a core `Event` whose `raw` record is shaped like what
//! the real source would have logged, so the console's evidence views have something true to show.

use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::*;

/// Turn one call into a core event with a raw record shaped like the source that would have
/// logged it (CloudTrail, Kubernetes audit, Vault audit, GitHub/GitLab audit, a tool-call log).
pub(super) fn build_event(m: &Member, rng: &mut ChaCha8Rng, now: Millis, b: &Beat) -> Event {
    let call = &b.call;
    let credential = b.credential.clone().or_else(|| m.credential.clone());
    let cred_id = credential
        .as_ref()
        .map(|c| c.id.to_string())
        .unwrap_or_default();
    let when = format_time(now);
    let id = uuid(rng);
    let principal = m.record.principal.as_str();
    let name = m.raw_display.clone().unwrap_or_else(|| m.short.clone());
    let mut raw = match call.family {
        Family::Aws => {
            let identity = match m.record.kind {
                IdentityKind::IamUser => json!({
                    "type": "IAMUser", "arn": principal, "accountId": m.scope,
                    "accessKeyId": cred_id, "userName": m.short,
                }),
                IdentityKind::CiToken => json!({
                    "type": "AssumedRole", "accountId": PROD, "accessKeyId": cred_id,
                    "arn": format!("arn:aws:sts::{PROD}:assumed-role/gha-deploy-{}/GitHubActions", m.short),
                    "sessionContext": {"webIdFederationData": {
                        "federatedProvider": format!("arn:aws:iam::{PROD}:oidc-provider/token.actions.githubusercontent.com"),
                        "attributes": {"sub": principal},
                    }},
                }),
                _ => json!({
                    "type": "AssumedRole", "arn": principal, "accountId": m.scope,
                    "accessKeyId": cred_id,
                    "sessionContext": {
                        "sessionIssuer": {"type": "Role", "userName": m.short,
                            "arn": format!("arn:aws:iam::{}:role/{}", m.scope, m.short)},
                        "sourceIdentity": name,
                    },
                }),
            };
            let mut r = json!({
                "eventVersion": "1.09",
                "eventTime": when,
                "eventSource": format!("{}.amazonaws.com", call.service),
                "eventName": call.op,
                "awsRegion": REGION,
                "sourceIPAddress": b.ip,
                "userAgent": if b.signals.is_empty() { "aws-sdk-go-v2/1.30.3" } else { "aws-cli/2.17.20 Python/3.11.9 Linux/6.8" },
                "userIdentity": identity,
                "requestParameters": {"resource": call.resource},
                "eventID": id,
                "eventType": "AwsApiCall",
                "recipientAccountId": m.scope,
            });
            if !b.ok {
                let (code, message) = b.refusal.clone().unwrap_or_else(|| {
                    (
                        "AccessDenied",
                        format!(
                            "User: {principal} is not authorized to perform: {}:{} on resource: {}",
                            call.service, call.op, call.resource
                        ),
                    )
                });
                r["errorCode"] = json!(code);
                r["errorMessage"] = json!(message);
            }
            r
        }
        Family::K8s => {
            let (ns, obj) = call
                .resource
                .split_once('/')
                .unwrap_or(("", call.resource.as_str()));
            let (resource, sub) = call
                .service
                .split_once('/')
                .map_or((call.service, None), |(r, s)| (r, Some(s)));
            let mut extra =
                json!({"authentication.kubernetes.io/credential-id": [format!("JTI={cred_id}")]});
            // A bound token names its pod, wherever it is used from.
            if let Some(pod) = contain::pod_of(m) {
                extra["authentication.kubernetes.io/pod-name"] = json!([pod]);
            }
            let status = match &b.refusal {
                Some((code, message)) if !b.ok => {
                    json!({"code": 403, "status": "Failure", "reason": code, "message": message})
                }
                _ => json!({"code": if b.ok { 200 } else { 403 }}),
            };
            json!({
                "kind": "Event",
                "apiVersion": "audit.k8s.io/v1",
                "level": "Metadata",
                "auditID": id,
                "stage": "ResponseComplete",
                "verb": call.op,
                "requestURI": format!("/api/v1/namespaces/{ns}/{}/{obj}", call.service),
                "user": {
                    "username": principal,
                    "groups": ["system:serviceaccounts", format!("system:serviceaccounts:{}", m.scope), "system:authenticated"],
                    "extra": extra,
                },
                "sourceIPs": [b.ip],
                "userAgent": if b.signals.is_empty() { "kube-client/v0.30.2" } else { "kubectl/v1.30.2 (linux/amd64)" },
                "objectRef": {"resource": resource, "subresource": sub, "namespace": ns, "name": obj},
                "responseStatus": status,
                "requestReceivedTimestamp": when,
            })
        }
        Family::Vault => json!({
            "time": when,
            "type": "response",
            "auth": {"accessor": cred_id, "display_name": format!("{}-{}", m.scope, m.short), "token_type": "service",
                     "entity_id": contain::entity_of(principal)},
            "request": {"id": id, "operation": call.op, "path": call.resource, "remote_address": b.ip, "mount_type": call.service},
            "error": match (&b.refusal, b.ok) {
                (_, true) => Value::Null,
                (Some((_, message)), false) => json!(message),
                (None, false) => json!("permission denied"),
            },
        }),
        Family::Github => json!({
            "@timestamp": now,
            "_document_id": id,
            "action": format!("{}.{}", call.service, call.op),
            "actor": "github-actions[bot]",
            "repo": m.scope,
            "actor_ip": b.ip,
            "programmatic_access_type": "GitHub App server-to-server token",
            "token_id": cred_id,
            "target": call.resource,
            "outcome": if b.ok { "success" } else { "forbidden" },
            "error": refusal_message(b),
        }),
        Family::Gitlab => json!({
            "created_at": when,
            "id": id,
            "event_name": format!("{}_{}", call.service, call.op),
            "author_name": "gitlab-ci-token",
            "entity_path": m.scope,
            "target_details": call.resource,
            "ip_address": b.ip,
            "job_token_id": cred_id,
            "outcome": if b.ok { "success" } else { "forbidden" },
            "error": refusal_message(b),
        }),
        Family::Tool => json!({
            "type": "tool_call",
            "ts": when,
            "agent": m.short,
            "session_id": id,
            "tool": format!("{}.{}", call.service, call.op),
            "arguments": {"target": call.resource},
            "client_ip": b.ip,
            "api_key_id": cred_id,
            "outcome": if b.ok { "ok" } else { "denied" },
            "error": refusal_message(b),
        }),
    };
    if let (Some(Value::Object(extra)), Some(obj)) = (&b.extra, raw.as_object_mut()) {
        for (k, v) in extra {
            obj.insert(k.clone(), v.clone());
        }
    }
    let mut actor = m.actor.clone();
    if let Some(g) = &b.grant {
        actor.permissions.push(g.clone());
    }
    let class = match (call.service, call.op) {
        ("sts", _) => EventClass::Authentication,
        ("iam", op) if !op.starts_with("List") && !op.starts_with("Get") => {
            EventClass::AccountChange
        }
        _ => EventClass::ApiActivity,
    };
    Event {
        time: now,
        class,
        actor,
        credential,
        api: Api {
            service: SafeText::new(call.service),
            operation: SafeText::new(call.op),
        },
        resources: if call.resource.is_empty() || call.resource == "*" {
            Vec::new()
        } else {
            vec![Resource {
                name: SafeText::new(&call.resource),
                kind: Some(SafeText::new(resource_kind(call))),
            }]
        },
        src_ip: Some(SafeText::new(&b.ip)),
        user_agent: None,
        region: None,
        issued: None,
        status: if b.ok {
            Status::Success
        } else {
            Status::Failure
        },
        signals: b.signals.clone(),
        sigma: Vec::new(),
        raw: raw.into(),
    }
}

/// A containment's refusal as the source logs it (`null` for any other call).
fn refusal_message(b: &Beat) -> Value {
    match &b.refusal {
        Some((_, m)) if !b.ok => json!(m),
        _ => Value::Null,
    }
}

fn resource_kind(call: &Call) -> &'static str {
    match call.family {
        Family::Aws => match call.service {
            "s3" => "s3_object",
            "iam" => "iam",
            "secretsmanager" => "secret",
            "cloudtrail" => "trail",
            "dynamodb" => "table",
            "sqs" => "queue",
            "kms" => "key",
            "ecr" => "repository",
            "ecs" => "service",
            "lambda" => "function",
            _ => "aws_resource",
        },
        Family::K8s => "kubernetes_object",
        Family::Vault => "vault_path",
        Family::Github | Family::Gitlab => "repository",
        Family::Tool => "tool_target",
    }
}
