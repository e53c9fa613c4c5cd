//! `gcp.disable_service_account_key` through the IAM REST API, configured by `[providers.gcp]`:
//! `api_url` (default `https://iam.googleapis.com`) and `token_env` (the variable holding an
//! OAuth access token; default `GOOGLE_OAUTH_ACCESS_TOKEN`, e.g. from
//! `gcloud auth print-access-token`).
//!
//! - read: `GET /v1/projects/-/serviceAccounts/SA/keys/KEY` (`disabled` is absent when false)
//! - act: `POST …/keys/KEY:disable` with `{}`; undo: `POST …/keys/KEY:enable`
//!
//! Execute reads the key first (an already disabled key is not disabled again) and reads it
//! back after, so the outcome is what Google shows, not what a 200 suggested.

use serde_json::{Value, json};

use super::rest::{self, Endpoint};
use crate::core::workflow::{Action, DryRun};
use crate::respond::{BoxFut, ExecError, ExecStatus, Executor, Outcome, Plan};

pub const KIND: &str = "gcp.disable_service_account_key";
const DEFAULT_API: &str = "https://iam.googleapis.com";
const DEFAULT_TOKEN_ENV: &str = "GOOGLE_OAUTH_ACCESS_TOKEN";

pub struct GcpExecutor {
    api: String,
    token_env: String,
    http: reqwest::Client,
}

impl GcpExecutor {
    pub fn from_section(section: &toml::Table) -> anyhow::Result<GcpExecutor> {
        let api = rest::api_url(section, "gcp", DEFAULT_API)?;
        let token_env = match section.get("token_env") {
            None => DEFAULT_TOKEN_ENV.to_string(),
            Some(toml::Value::String(s)) if !s.is_empty() => s.clone(),
            Some(v) => anyhow::bail!(
                "[providers.gcp] token_env = {v}: give the name of the variable that holds an access token, e.g. \"{DEFAULT_TOKEN_ENV}\""
            ),
        };
        Ok(GcpExecutor {
            api,
            token_env,
            http: rest::client(),
        })
    }

    fn endpoint(&self) -> Endpoint<'_> {
        Endpoint {
            section: "gcp",
            key: "api_url",
            url: &self.api,
        }
    }

    fn token(&self) -> Result<String, ExecError> {
        rest::token_from_env("gcp", &self.token_env).map_err(|m| {
            ExecError::Permanent(format!(
                "{m}: set it to an OAuth access token with iam.serviceAccountKeys.* permissions, e.g. `export {}=$(gcloud auth print-access-token)`",
                self.token_env
            ))
        })
    }

    /// `projects/-/serviceAccounts/SA/keys/KEY` (a full `projects/…` service account name is
    /// kept as it is).
    fn key_name(a: &Action) -> Result<String, ExecError> {
        let p = |k: &str| {
            a.params
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ExecError::Permanent(format!("{KIND} needs --param {k}=…")))
        };
        let sa = p("service_account")?;
        let key = p("key_id")?;
        let key = key.rsplit('/').next().unwrap_or(key);
        if sa.contains('?') || sa.contains('#') || key.contains(['?', '#', ':']) {
            return Err(ExecError::Permanent(format!(
                "{KIND}: service_account and key_id must be a service account email or name and a key id"
            )));
        }
        Ok(if sa.starts_with("projects/") {
            format!("{sa}/keys/{key}")
        } else {
            format!("projects/-/serviceAccounts/{sa}/keys/{key}")
        })
    }

    /// Whether the key is disabled, as Google shows it now.
    async fn read(&self, name: &str) -> Result<bool, ExecError> {
        let token = self.token()?;
        let r = self
            .http
            .get(format!("{}/v1/{name}", self.api))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| self.endpoint().unreachable(e))?;
        let code = r.status();
        let body = r.text().await.map_err(|e| self.endpoint().unreachable(e))?;
        if !code.is_success() {
            return Err(self.endpoint().failure(
                code,
                "get",
                &format!("service account key {name}"),
                &body,
            ));
        }
        let v: Value = serde_json::from_str(&body).map_err(|e| {
            ExecError::Permanent(format!(
                "get {name}: unreadable answer from {} ({e})",
                self.api
            ))
        })?;
        Ok(v.get("disabled").and_then(Value::as_bool).unwrap_or(false))
    }

    async fn call(&self, name: &str, verb: &str) -> Result<(), ExecError> {
        let token = self.token()?;
        let r = self
            .http
            .post(format!("{}/v1/{name}:{verb}", self.api))
            .bearer_auth(token)
            .json(&json!({}))
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
            .failure(code, verb, &format!("service account key {name}"), &body))
    }

    /// Move the key to `disabled` (true: disable, false: enable), checking first and reading
    /// back after.
    async fn set(&self, a: &Action, disabled: bool) -> Result<Outcome, ExecError> {
        let name = Self::key_name(a)?;
        let verb = if disabled { "disable" } else { "enable" };
        let done = if disabled {
            ExecStatus::Done
        } else {
            ExecStatus::RolledBack
        };
        if self.read(&name).await? == disabled {
            return Ok(Outcome {
                status: done,
                detail: json!({"key": name, "disabled": disabled, "already": true}),
            });
        }
        self.call(&name, verb).await?;
        let now = self.read(&name).await?;
        if now == disabled {
            Ok(Outcome {
                status: done,
                detail: json!({"key": name, "disabled": now}),
            })
        } else {
            Ok(Outcome {
                status: ExecStatus::Failed,
                detail: json!({
                    "key": name, "disabled": now,
                    "error": format!("{verb} {name}: Google answered success but the key reads back disabled={now}"),
                }),
            })
        }
    }
}

impl Executor for GcpExecutor {
    fn name(&self) -> String {
        format!("gcp:{}", self.api)
    }

    fn kinds(&self) -> BoxFut<'_, Vec<String>> {
        Box::pin(async { vec![KIND.to_string()] })
    }

    fn plan<'a>(&'a self, a: &'a Action) -> BoxFut<'a, anyhow::Result<Plan>> {
        Box::pin(async move {
            let name = Self::key_name(a).map_err(|e| anyhow::anyhow!("{e}"))?;
            let disabled = self.read(&name).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut impact = vec![
                "anything authenticating with this key (a JSON key file) is refused; the service account's other keys still work".to_string(),
            ];
            if disabled {
                impact.insert(
                    0,
                    "the key is already disabled: executing will only confirm it".into(),
                );
            }
            Ok(Plan {
                reversible: true,
                dry_run: DryRun {
                    changes: vec![format!(
                        "disable {name} (POST {}/v1/{name}:disable)",
                        self.api
                    )],
                    impact,
                    undo: Some(format!("enable the key (POST …/{name}:enable)")),
                    before: json!({"key": name, "disabled": disabled}),
                },
            })
        })
    }

    fn execute<'a>(
        &'a self,
        a: &'a Action,
        _key: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        Box::pin(self.set(a, true))
    }

    fn status<'a>(&'a self, _key: &'a str) -> BoxFut<'a, Result<Option<Outcome>, ExecError>> {
        // Google keeps no record by key; execute reads the key's state first, so a resend under
        // the same key never acts twice.
        Box::pin(async { Ok(None) })
    }

    fn rollback<'a>(
        &'a self,
        a: &'a Action,
        _key: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        Box::pin(async move {
            // Undo restores what was before: a key already disabled then stays disabled.
            if a.dry_run.before.get("disabled").and_then(Value::as_bool) == Some(true) {
                return Ok(Outcome {
                    status: ExecStatus::RolledBack,
                    detail: json!({"disabled": true, "note": "the key was already disabled before this action: left disabled"}),
                });
            }
            self.set(a, false).await
        })
    }
}
