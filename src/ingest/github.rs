//! GitHub: audit log entries (`action`, `actor`, `programmatic_access_type`, `token_id`,
//! `hashed_token`) and webhook deliveries (`sender`, `pusher`, `workflow_run`, …). The identity
//! is the acting account; the credential is the token id (or its hash) when the entry has one.

use serde_json::Value;

use super::{DecodeError, Decoded, credential, event, get, identity, resource, s, safe, time_of};
use crate::core::{CredentialKind, EventClass, IdentityKind, Provider, Signal};

/// Does this look like a GitHub audit log entry or webhook delivery?
pub fn looks_github(v: &Value) -> bool {
    let Value::Object(m) = v else { return false };
    (m.contains_key("action")
        && (m.contains_key("actor")
            || m.contains_key("org")
            || m.contains_key("repo")
            || m.contains_key("repository")
            || m.contains_key("sender")
            || m.contains_key("business")))
        || (m.contains_key("pusher") && m.contains_key("repository"))
        || m.contains_key("workflow_run")
        || m.contains_key("workflow_job")
        || m.contains_key("_document_id") && m.contains_key("action")
}

/// The webhook event name the delivery carried, from `X-GitHub-Event` when there was one.
pub fn decode_webhook(
    v: Value,
    event_name: Option<&str>,
    out: &mut Decoded,
) -> Result<(), DecodeError> {
    let mut v = v;
    if let (Some(name), Value::Object(m)) = (event_name, &mut v) {
        m.insert("_github_event".into(), Value::String(name.to_string()));
    }
    decode(v, out)
}

pub fn decode(v: Value, out: &mut Decoded) -> Result<(), DecodeError> {
    let actor_name = s(&v, "actor")
        .or_else(|| s(&v, "sender.login"))
        .or_else(|| s(&v, "pusher.name"))
        .or_else(|| s(&v, "workflow_run.actor.login"))
        .or_else(|| s(&v, "workflow_run.triggering_actor.login"))
        .or_else(|| s(&v, "workflow_job.runner_name"))
        .unwrap_or("github-actions");
    let pat = s(&v, "programmatic_access_type").unwrap_or("");
    let kind = if actor_name.ends_with("[bot]") || pat.contains("GitHub App") {
        IdentityKind::GithubApp
    } else if !pat.is_empty()
        || s(&v, "workflow_run.id").is_some()
        || get(&v, "workflow_job").is_some()
    {
        IdentityKind::CiToken
    } else {
        IdentityKind::Human
    };
    let mut actor = identity(Provider::Github, actor_name, kind, Some(actor_name));
    if let Some(org) = s(&v, "org").or_else(|| s(&v, "organization.login")) {
        actor.tags.push(safe(&format!("org={org}")));
    }
    let token = get(&v, "token_id")
        .map(|t| match t {
            Value::Number(n) => n.to_string(),
            Value::String(x) => x.clone(),
            _ => String::new(),
        })
        .filter(|t| !t.is_empty())
        .or_else(|| s(&v, "hashed_token").map(str::to_string));
    if let Some(t) = &token {
        let k = if pat.contains("OAuth") || pat.contains("GitHub App") {
            CredentialKind::ApiKey
        } else {
            CredentialKind::CiToken
        };
        actor.credentials.push(credential(t, k));
    }
    let action = s(&v, "action").unwrap_or("");
    let hook = s(&v, "_github_event").or_else(|| {
        if get(&v, "workflow_run").is_some() {
            Some("workflow_run")
        } else if get(&v, "workflow_job").is_some() {
            Some("workflow_job")
        } else if get(&v, "pusher").is_some() {
            Some("push")
        } else {
            None
        }
    });
    let (service, op) = match (hook, action.split_once('.')) {
        (Some(h), _) => (
            h.to_string(),
            if action.is_empty() {
                h.to_string()
            } else {
                action.to_string()
            },
        ),
        (None, Some((a, b))) => (a.to_string(), b.to_string()),
        (None, None) => ("github".to_string(), action.to_string()),
    };
    let time = time_of(
        &v,
        &[
            "@timestamp",
            "created_at",
            "timestamp",
            "workflow_run.created_at",
            "head_commit.timestamp",
        ],
    );
    let mut e = event(time, actor, &service, &op);
    e.credential = e.actor.credentials.first().cloned();
    e.src_ip = s(&v, "actor_ip").map(safe);
    if let Some(r) = s(&v, "repo")
        .or_else(|| s(&v, "repository.full_name"))
        .or_else(|| s(&v, "repository"))
    {
        e.resources.push(resource(r, "repository"));
    }
    let full = action;
    if matches!(
        full,
        "org.disable_two_factor_requirement"
            | "protected_branch.destroy"
            | "protected_branch.policy_override"
            | "repository_secret_scanning.disable"
            | "repository_secret_scanning_push_protection.disable"
            | "secret_scanning_push_protection.bypass"
            | "audit_log_streaming.destroy"
            | "org.audit_log_export"
            | "business.disable_two_factor_requirement"
            | "repository_vulnerability_alerts.disable"
            | "dependabot_alerts.disable"
    ) || full.ends_with(".disable") && full.contains("secret_scanning")
    {
        e.signals.push(Signal::DefenseEvasion);
    }
    if matches!(
        full,
        "public_key.create"
            | "deploy_key.create"
            | "oauth_application.create"
            | "integration_installation.create"
            | "personal_access_token.request_created"
            | "org.add_outside_collaborator"
            | "repo.add_member"
            | "hook.create"
    ) {
        e.signals.push(Signal::Persistence);
    }
    if matches!(
        full,
        "org.update_member"
            | "team.promote_maintainer"
            | "business.add_admin"
            | "org.add_member"
            | "repo.update_member"
    ) {
        e.signals.push(Signal::PrivilegeEscalation);
        e.class = EventClass::AccountChange;
    }
    if matches!(full, "git.clone" | "repo.download_zip" | "git.fetch") {
        e.signals.push(Signal::DataRead);
    }
    if matches!(
        full,
        "repo.access" | "repo.transfer" | "repo.transfer_outgoing"
    ) {
        e.signals.push(Signal::Exfiltration);
    }
    if full.contains("secret") && (full.ends_with(".read") || full.ends_with(".list")) {
        e.signals.push(Signal::SecretRead);
    }
    if hook == Some("workflow_run")
        && let (Some(head), Some(base)) = (
            s(&v, "workflow_run.head_repository.full_name").or_else(|| {
                get(&v, "workflow_run.pull_requests")
                    .and_then(|p| p.get(0))
                    .and_then(|p| s(p, "head.repo.full_name"))
            }),
            s(&v, "repository.full_name"),
        )
        && head != base
    {
        e.signals.push(Signal::Detection);
    }
    e.raw = v.into();
    out.events.push(e);
    Ok(())
}
