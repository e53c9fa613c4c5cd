//! `github.revoke_credential` through GitHub's credential revocation API
//! (`POST /credentials/revoke` with `{"credentials": [...]}`, answered `202 Accepted`), configured
//! by `[providers.github]`: `api_url` (default `https://api.github.com`, or a GitHub Enterprise
//! `https://HOST/api/v3`) and `token_env` (optional: the API takes unauthenticated requests).
//!
//! The `credential` param is the token itself, or `env:VAR` naming a variable that holds it, so
//! the secret need not enter the queue. It is never printed: plans, outcomes and errors carry its
//! fingerprint. Whether the token still works is read with a read-only `GET /rate_limit` made
//! with it (401 means GitHub rejects it): before acting (a rejected token is not revoked again)
//! and after (a revocation is asynchronous; the outcome says only what GitHub shows).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::rest::{self, Endpoint, fingerprint};
use crate::core::workflow::{Action, DryRun};
use crate::respond::{BoxFut, ExecError, ExecStatus, Executor, Outcome, Plan};

pub const KIND: &str = "github.revoke_credential";
const DEFAULT_API: &str = "https://api.github.com";
/// How long to wait for GitHub to start rejecting a revoked token before saying it is not.
const CONFIRM_TRIES: u32 = 5;
const CONFIRM_PAUSE: Duration = Duration::from_millis(400);

pub struct GithubExecutor {
    api: String,
    token_env: Option<String>,
    http: reqwest::Client,
}

/// What GitHub says about a token when it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenState {
    /// It authenticates.
    Live,
    /// `401 Bad credentials`: revoked, expired or never valid.
    Rejected,
}

impl TokenState {
    fn as_str(self) -> &'static str {
        match self {
            TokenState::Live => "live",
            TokenState::Rejected => "rejected",
        }
    }
}

impl GithubExecutor {
    pub fn from_section(section: &toml::Table) -> anyhow::Result<GithubExecutor> {
        let api = rest::api_url(section, "github", DEFAULT_API)?;
        let token_env = match section.get("token_env") {
            None => None,
            Some(toml::Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(v) => anyhow::bail!(
                "[providers.github] token_env = {v}: give the name of the variable that holds the token, e.g. \"GITHUB_TOKEN\""
            ),
        };
        Ok(GithubExecutor {
            api,
            token_env,
            http: rest::client(),
        })
    }

    fn endpoint(&self) -> Endpoint<'_> {
        Endpoint {
            section: "github",
            key: "api_url",
            url: &self.api,
        }
    }

    fn credential(a: &Action) -> Result<String, ExecError> {
        let v = a
            .params
            .get("credential")
            .and_then(Value::as_str)
            .ok_or_else(|| ExecError::Permanent(format!("{KIND} needs --param credential=…")))?;
        rest::secret_param(v).map_err(|e| ExecError::Permanent(format!("{KIND}: {e}")))
    }

    fn request(
        &self,
        m: reqwest::Method,
        path: &str,
    ) -> Result<reqwest::RequestBuilder, ExecError> {
        let mut r = self
            .http
            .request(m, format!("{}{path}", self.api))
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header("User-Agent", "blastdoor");
        if let Some(var) = &self.token_env {
            let t = rest::token_from_env("github", var).map_err(ExecError::Permanent)?;
            r = r.bearer_auth(t);
        }
        Ok(r)
    }

    /// Use the token once, read-only, to see whether GitHub still accepts it.
    async fn probe(&self, cred: &str) -> Result<TokenState, ExecError> {
        let r = self
            .http
            .get(format!("{}/rate_limit", self.api))
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header("User-Agent", "blastdoor")
            .bearer_auth(cred)
            .send()
            .await
            .map_err(|e| self.endpoint().unreachable(e))?;
        match r.status() {
            s if s.is_success() => Ok(TokenState::Live),
            StatusCode::UNAUTHORIZED => Ok(TokenState::Rejected),
            s => {
                let body = r.text().await.unwrap_or_default();
                Err(self
                    .endpoint()
                    .failure(s, "check", "the credential (GET /rate_limit)", &body))
            }
        }
    }

    async fn revoke(&self, cred: &str, fp: &str) -> Result<(), ExecError> {
        let r = self
            .request(reqwest::Method::POST, "/credentials/revoke")?
            .json(&json!({ "credentials": [cred] }))
            .send()
            .await
            .map_err(|e| self.endpoint().unreachable(e))?;
        let code = r.status();
        if code.is_success() {
            return Ok(());
        }
        let body = r.text().await.unwrap_or_default();
        Err(self
            .endpoint()
            .failure(code, "revoke", &format!("credential {fp}"), &body))
    }
}

impl Executor for GithubExecutor {
    fn name(&self) -> String {
        format!("github:{}", self.api)
    }

    fn kinds(&self) -> BoxFut<'_, Vec<String>> {
        Box::pin(async { vec![KIND.to_string()] })
    }

    fn plan<'a>(&'a self, a: &'a Action) -> BoxFut<'a, anyhow::Result<Plan>> {
        Box::pin(async move {
            let cred = Self::credential(a).map_err(|e| anyhow::anyhow!("{e}"))?;
            let fp = fingerprint(&cred);
            let state = self
                .probe(&cred)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut impact = vec![
                "every request made with it fails from then on; GitHub tells the token's owner it was revoked".to_string(),
            ];
            if state == TokenState::Rejected {
                impact.insert(
                    0,
                    "GitHub already rejects this credential (401): executing will only confirm it"
                        .into(),
                );
            }
            Ok(Plan {
                reversible: false,
                dry_run: DryRun {
                    changes: vec![format!(
                        "revoke credential {fp} at {} (POST /credentials/revoke)",
                        self.api
                    )],
                    impact,
                    undo: Some(
                        "none: a revoked credential cannot be restored; issue a new one".into(),
                    ),
                    before: json!({"credential": fp, "state": state.as_str(), "api_url": self.api}),
                },
            })
        })
    }

    fn execute<'a>(
        &'a self,
        a: &'a Action,
        _key: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        Box::pin(async move {
            let cred = Self::credential(a)?;
            let fp = fingerprint(&cred);
            // Check first: a token GitHub already rejects (a retry, a recovery) is not revoked again.
            if self.probe(&cred).await? == TokenState::Rejected {
                return Ok(Outcome {
                    status: ExecStatus::Done,
                    detail: json!({"credential": fp, "state": "rejected", "already_rejected": true}),
                });
            }
            self.revoke(&cred, &fp).await?;
            for _ in 0..CONFIRM_TRIES {
                tokio::time::sleep(CONFIRM_PAUSE).await;
                if self.probe(&cred).await? == TokenState::Rejected {
                    return Ok(Outcome {
                        status: ExecStatus::Done,
                        detail: json!({"credential": fp, "state": "rejected", "revoked": true}),
                    });
                }
            }
            Ok(Outcome {
                status: ExecStatus::Failed,
                detail: json!({
                    "credential": fp, "state": "live",
                    "error": format!(
                        "GitHub accepted the revocation of {fp}, but the credential still authenticates (GET /rate_limit answers 200): not confirmed; check it again before trusting it"
                    ),
                }),
            })
        })
    }

    fn status<'a>(&'a self, _key: &'a str) -> BoxFut<'a, Result<Option<Outcome>, ExecError>> {
        // GitHub keeps no record by key; execute reads the token's state first, so a resend
        // under the same key never acts twice.
        Box::pin(async { Ok(None) })
    }

    fn rollback<'a>(
        &'a self,
        _a: &'a Action,
        _key: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        Box::pin(async {
            Err(ExecError::Permanent(format!(
                "{KIND} cannot be undone: a revoked GitHub credential stays revoked; issue a new one"
            )))
        })
    }
}
