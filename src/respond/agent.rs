//! The agent executor: `agent.*` kinds through an agent's HTTP protocol (INTERFACE.md).
//!
//! - `POST /v1/actions` with `Idempotency-Key: <hash hex>` and the whole action as its body
//!   (approvals and their signatures included), so that an agent can check them itself.
//! - `GET /v1/actions/KEY` asks what became of a key (recovery after a crash).
//! - `POST /v1/actions/KEY/rollback` undoes it.
//!
//! The agent's `/v1/health` names its capabilities and (an extension) describes each one:
//! what it does, whether and how it can be undone. That description is the dry run.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::agent::actions::plan_from_capability;
use crate::agent::server::{ActionCapability, Health};
use crate::core::workflow::Action;
use crate::respond::{BoxFut, ExecError, ExecStatus, Executor, Outcome, Plan};

/// How long to wait for an agent still executing a key before calling it transient.
const POLL_FOR: Duration = Duration::from_secs(30);

pub struct AgentExecutor {
    base: String,
    http: reqwest::Client,
    health: OnceCell<Health>,
}

/// `http://host:port` from any of `http://host:port`, `…/`, `…/v1/events`, `…/v1`.
pub fn base_url(url: &str) -> String {
    let mut u = url.trim().trim_end_matches('/').to_string();
    for suffix in ["/v1/events", "/v1/health", "/v1"] {
        if let Some(s) = u.strip_suffix(suffix) {
            u = s.to_string();
            break;
        }
    }
    u
}

#[derive(Deserialize)]
struct PlanAnswer {
    reversible: bool,
    dry_run: crate::core::workflow::DryRun,
}

#[derive(Deserialize)]
struct Answer {
    status: ExecStatus,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

fn transient(e: reqwest::Error) -> ExecError {
    ExecError::Transient(e.to_string())
}

fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .connect_timeout(Duration::from_secs(3))
}

impl AgentExecutor {
    /// An agent reached without authentication (a loopback agent, tests).
    pub fn new(url: &str) -> AgentExecutor {
        AgentExecutor {
            base: base_url(url),
            http: client_builder().build().unwrap_or_default(),
            health: OnceCell::new(),
        }
    }

    /// An agent reached as the `[endpoints.*]` section covering `url` says (token, CA, client
    /// certificate). A problem with the section is a usage error naming it.
    pub fn with_endpoints(
        url: &str,
        endpoints: &crate::auth::endpoint::Endpoints,
    ) -> anyhow::Result<AgentExecutor> {
        let base = base_url(url);
        let http = endpoints
            .client(&base, client_builder())
            .map_err(|e| crate::exit::Failure::usage(format!("--agent {base}: {e:#}")))?;
        Ok(AgentExecutor {
            base,
            http,
            health: OnceCell::new(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The agent's health, fetched once it answers (`None` while it does not: asked again next
    /// time, so an agent that was down when first asked is not taken for one offering nothing).
    pub async fn health(&self) -> Option<&Health> {
        self.health
            .get_or_try_init(|| async {
                let r = self
                    .http
                    .get(format!("{}/v1/health", self.base))
                    .send()
                    .await
                    .map_err(|_| ())?;
                r.error_for_status()
                    .map_err(|_| ())?
                    .json::<Health>()
                    .await
                    .map_err(|_| ())
            })
            .await
            .ok()
    }

    async fn answer(&self, r: reqwest::Response) -> Result<Outcome, ExecError> {
        let code = r.status();
        let text = r.text().await.map_err(transient)?;
        if code.is_server_error() || code == StatusCode::TOO_MANY_REQUESTS {
            return Err(ExecError::Transient(format!(
                "agent {}: {code}: {text}",
                self.base
            )));
        }
        if !code.is_success() {
            return Err(ExecError::Permanent(format!(
                "agent {} answered {code}: {}",
                self.base,
                text.trim()
            )));
        }
        let a: Answer = serde_json::from_str(&text).map_err(|e| {
            ExecError::Permanent(format!(
                "agent {}: unreadable answer ({e}): {text}",
                self.base
            ))
        })?;
        // What the agent's executor read back is the outcome, as a local executor's would be;
        // which agent carried it out is added beside it.
        let mut rest = a.rest;
        let detail = match rest.remove("outcome") {
            Some(Value::Object(mut o)) => {
                o.insert("agent".into(), self.base.clone().into());
                if let Some(e) = rest.remove("error") {
                    o.entry("error").or_insert(e);
                }
                Value::Object(o)
            }
            _ => Value::Object(rest),
        };
        Ok(Outcome {
            status: a.status,
            detail,
        })
    }

    /// `POST /v1/actions/KEY/rollback`, with the responder's signature when there is one.
    async fn post_rollback(
        &self,
        key: &str,
        signature: Option<&str>,
    ) -> Result<Outcome, ExecError> {
        let mut req = self
            .http
            .post(format!("{}/v1/actions/{key}/rollback", self.base));
        if let Some(sig) = signature {
            req = req.json(&serde_json::json!({"signature": sig}));
        }
        let r = req.send().await.map_err(transient)?;
        self.answer(r).await
    }

    /// Wait while the agent reports `executing`.
    async fn settle(&self, key: &str, mut o: Outcome) -> Result<Outcome, ExecError> {
        let start = std::time::Instant::now();
        while o.status == ExecStatus::Executing {
            if start.elapsed() > POLL_FOR {
                return Err(ExecError::Transient(format!(
                    "agent {} still executing {key} after {}s",
                    self.base,
                    POLL_FOR.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            match self.status(key).await? {
                Some(next) => o = next,
                None => {
                    return Err(ExecError::Transient(format!(
                        "agent {} forgot {key}",
                        self.base
                    )));
                }
            }
        }
        Ok(o)
    }
}

fn capability<'a>(h: &'a Health, kind: &str) -> Option<&'a ActionCapability> {
    h.actions.iter().find(|c| c.kind == kind)
}

impl Executor for AgentExecutor {
    fn name(&self) -> String {
        self.base.clone()
    }

    fn kinds(&self) -> BoxFut<'_, Vec<String>> {
        Box::pin(async move {
            self.health()
                .await
                .map(|h| h.capabilities.clone())
                .unwrap_or_default()
        })
    }

    fn described(&self) -> BoxFut<'_, Vec<ActionCapability>> {
        Box::pin(async move {
            self.health()
                .await
                .map(|h| h.actions.clone())
                .unwrap_or_default()
        })
    }

    fn plan<'a>(&'a self, a: &'a Action) -> BoxFut<'a, anyhow::Result<Plan>> {
        Box::pin(async move {
            // The agent's own executor plans it (reading the provider, as a local one would);
            // an agent that cannot says what the kind does in its /v1/health.
            if let Ok(r) = self
                .http
                .post(format!("{}/v1/plan", self.base))
                .json(a)
                .send()
                .await
                && r.status().is_success()
                && let Ok(p) = r.json::<PlanAnswer>().await
            {
                let mut dry_run = p.dry_run;
                if let Value::Object(m) = &mut dry_run.before {
                    m.insert("agent".into(), self.base.clone().into());
                }
                return Ok(Plan {
                    reversible: p.reversible,
                    dry_run,
                });
            }
            let h = self
                .health()
                .await
                .ok_or_else(|| anyhow::anyhow!("agent {} does not answer /v1/health", self.base))?;
            let cap = capability(h, &a.kind);
            let mut plan =
                plan_from_capability(cap, a, &format!("agent {}, {}", h.name, self.base));
            plan.dry_run.before["agent"] = self.base.clone().into();
            plan.dry_run.before["agent_name"] = h.name.clone().into();
            Ok(plan)
        })
    }

    fn execute<'a>(
        &'a self,
        a: &'a Action,
        key: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        Box::pin(async move {
            let r = self
                .http
                .post(format!("{}/v1/actions", self.base))
                .header("Idempotency-Key", key)
                .json(a)
                .send()
                .await
                .map_err(transient)?;
            let o = self.answer(r).await?;
            self.settle(key, o).await
        })
    }

    fn status<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<Outcome>, ExecError>> {
        Box::pin(async move {
            let r = self
                .http
                .get(format!("{}/v1/actions/{key}", self.base))
                .send()
                .await
                .map_err(transient)?;
            if r.status() == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            self.answer(r).await.map(Some)
        })
    }

    fn rollback<'a>(
        &'a self,
        _a: &'a Action,
        key: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        Box::pin(self.post_rollback(key, None))
    }

    fn rollback_signed<'a>(
        &'a self,
        _a: &'a Action,
        key: &'a str,
        signature: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        Box::pin(self.post_rollback(key, Some(signature)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(base_url("http://h:1/v1/events"), "http://h:1");
        assert_eq!(base_url("http://h:1/"), "http://h:1");
        assert_eq!(base_url("http://h:1"), "http://h:1");
    }
}
