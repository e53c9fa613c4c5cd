//! Who may ask an agent to act, and on what authority.
//!
//! - **Callers authenticate.** Every route but `/v1/health` needs `Authorization: Bearer` with
//!   the token of the agent's `--token-env VAR`, or a client certificate signed by its
//!   `--client-ca` (mutual TLS, `tls.rs`). An agent with neither only listens on loopback
//!   (`check_bind`).
//! - **Approvals are checked here too.** An agent given a policy (`--policy`, or
//!   `--allowed-signers` for the default one-approval policy) verifies the approvals of every
//!   action it is asked to carry out, as the desk does at execute (`auth::approval`): the
//!   Idempotency-Key must be the hash of the action's content, and the policy's number of
//!   approvals must verify against its own allowed signers. A rollback must carry a signature by
//!   an allowed signer over `rollback <hash>`. So neither a compromised console nor a local
//!   user who stole the token can act without the approvals the policy asks.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::approval::{self, rollback_message};
use crate::auth::{AllowedSigners, constant_time_eq};
use crate::core::model::Millis;
use crate::core::policy::Policy;
use crate::core::workflow::{Action, hash_hex};
use crate::exit::Failure;

use super::AgentState;

/// A connection whose client certificate verified against the agent's `--client-ca`.
#[derive(Debug, Clone, Copy)]
pub struct VerifiedClient;

/// How callers authenticate to this agent.
#[derive(Default)]
pub struct Access {
    token: Option<String>,
    mtls: bool,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("Access")
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("mtls", &self.mtls)
            .finish()
    }
}

impl Access {
    pub fn new(token: Option<String>, mtls: bool) -> Access {
        Access { token, mtls }
    }

    /// Whether any caller must authenticate.
    pub fn required(&self) -> bool {
        self.token.is_some() || self.mtls
    }

    fn admits(&self, req: &Request) -> bool {
        if !self.required() {
            return true;
        }
        if self.mtls && req.extensions().get::<VerifiedClient>().is_some() {
            return true;
        }
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match (&self.token, given) {
            (Some(want), Some(got)) => constant_time_eq(want.as_bytes(), got.as_bytes()),
            _ => false,
        }
    }
}

/// The token named by `--token-env VAR`: the variable must be set and non-empty.
pub fn token_from_env(var: &str) -> anyhow::Result<String> {
    match std::env::var(var) {
        Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_string()),
        _ => Err(Failure::usage(format!(
            "--token-env {var}: the variable {var} is not set (export it with the token callers must present)"
        ))),
    }
}

/// An agent that does not authenticate its callers never listens beyond loopback.
pub fn check_bind(addr: SocketAddr, access: &Access) -> anyhow::Result<()> {
    if access.required() || addr.ip().is_loopback() {
        return Ok(());
    }
    Err(Failure::usage(format!(
        "--listen {addr}: an agent that does not authenticate its callers listens on loopback \
         only; give --token-env VAR (a bearer token) or --tls-cert/--tls-key/--client-ca \
         (mutual TLS) to listen on {}",
        addr.ip()
    )))
}

/// Axum middleware: every route but `/v1/health` needs an authenticated caller.
pub async fn authenticate(
    State(state): State<Arc<AgentState>>,
    req: Request,
    next: Next,
) -> Response {
    if req.uri().path() == "/v1/health" || state.access().is_none_or(|a| a.admits(&req)) {
        return next.run(req).await;
    }
    let mut resp = (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({
            "error": "this agent needs an authenticated caller: Authorization: Bearer <token> (the agent's --token-env) or a client certificate signed by its --client-ca"
        })),
    )
        .into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"blastdoor agent\""),
    );
    resp
}

/// The policy an agent checks approvals against.
pub struct Verifier {
    pub policy: Policy,
    pub allowed: AllowedSigners,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("policy", &self.policy.path)
            .field("allowed_signers", &self.allowed.source)
            .finish()
    }
}

impl Verifier {
    /// The policy file's allowed signers must load.
    pub fn new(policy: Policy) -> anyhow::Result<Verifier> {
        let path = policy.allowed_signers.clone().ok_or_else(|| {
            Failure::usage(format!(
                "{}: the policy names no allowed_signers file, so the agent could not check approvals",
                policy
                    .path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "--policy".into())
            ))
        })?;
        let allowed = AllowedSigners::load(&path).map_err(|e| Failure::usage(e.join("\n")))?;
        Ok(Verifier { policy, allowed })
    }

    /// Why `a`, posted under `key`, may not act (each missing thing named), or who approved it.
    pub fn check(&self, key: &str, a: &Action, now: Millis) -> Result<Vec<String>, String> {
        let mut missing = Vec::new();
        if a.proposed_by.principal.is_empty() {
            missing.push("proposed_by (who proposed it)");
        }
        if a.expires_at == 0 {
            missing.push("expires_at");
        }
        if a.identity.is_empty() {
            missing.push("identity");
        }
        if !missing.is_empty() {
            return Err(format!(
                "the action lacks {}: send the whole action as blastdoor holds it",
                missing.join(", ")
            ));
        }
        if hash_hex(&a.hash) != key {
            return Err(format!(
                "the Idempotency-Key {key} is not the action's hash {}",
                a.hash
            ));
        }
        let rules = self.policy.rules_for(&a.kind);
        let within = |r: crate::core::workflow::Refusal| {
            format!(
                "{} (checked by this agent against {})",
                r.0, self.allowed.source
            )
        };
        if self.policy.playbook_authorizes(a) {
            return approval::verify_playbook(a, rules, now, approval::When::Acting)
                .map(|()| Vec::new())
                .map_err(within);
        }
        approval::verify(a, Some(&self.allowed), rules, now, approval::When::Acting).map_err(within)
    }

    /// Who signed the request to undo `a`, or why it does not count.
    pub fn check_rollback(&self, a: &Action, signature: Option<&str>) -> Result<String, String> {
        let sig = signature.ok_or_else(|| {
            "a rollback at this agent needs a signature by an allowed signer over \"rollback <hash>\" (blastdoor action rollback sends one)".to_string()
        })?;
        self.allowed
            .verify(sig, rollback_message(&a.hash).as_bytes())
            .map(|(p, _)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_agent_is_refused_beyond_loopback() {
        let open = Access::default();
        assert!(check_bind("127.0.0.1:1".parse().unwrap(), &open).is_ok());
        assert!(check_bind("[::1]:1".parse().unwrap(), &open).is_ok());
        let e = check_bind("0.0.0.0:1".parse().unwrap(), &open).unwrap_err();
        assert!(e.to_string().contains("--token-env"), "{e}");
        assert!(
            check_bind(
                "0.0.0.0:1".parse().unwrap(),
                &Access::new(Some("t".into()), false)
            )
            .is_ok()
        );
    }
}
