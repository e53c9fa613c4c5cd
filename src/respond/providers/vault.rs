//! `vault.*` kinds through the Vault / OpenBao HTTP API, configured by `[providers.vault]`:
//!
//! ```toml
//! [providers.vault]
//! addr = "https://vault.internal:8200"
//! token_env = "VAULT_TOKEN"     # the name of the variable that holds the token (default)
//! namespace = "team-a"          # optional (Vault Enterprise / OpenBao namespaces)
//! ```
//!
//! The token is read from that variable when a call is made and is never printed or logged:
//! messages name the variable and, at most, a fingerprint (`sha256:` and 12 hex digits).
//!
//! Each kind reads Vault first, acts only when Vault is not already in the wanted state, and reads
//! the result back. Vault keeps no record of blastdoor's keys, so `status` answers "never
//! received" and the desk resends under the same key: safe, since every execute is idempotent.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::core::workflow::{Action, DryRun};
use crate::respond::{BoxFut, ExecError, ExecStatus, Executor, Outcome, Plan};

pub const KINDS: &[&str] = &["vault.revoke_accessor", "vault.disable_entity"];

pub struct VaultExecutor {
    addr: String,
    token_env: String,
    namespace: Option<String>,
    http: reqwest::Client,
}

/// `sha256:` and the first 12 hex digits of the token's digest: enough to tell tokens apart.
pub fn fingerprint(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    format!("sha256:{}", &hex::encode(d)[..12])
}

/// What Vault answered: the status and the JSON body (`Null` when empty or not JSON).
struct Answer {
    code: StatusCode,
    body: Value,
}

impl Answer {
    fn errors(&self) -> String {
        self.body
            .get("errors")
            .and_then(Value::as_array)
            .map(|e| {
                e.iter()
                    .filter_map(Value::as_str)
                    .flat_map(str::lines)
                    .map(|l| l.trim().trim_start_matches("* ").trim())
                    .filter(|l| {
                        !l.is_empty()
                            && !l.contains("error occurred")
                            && !l.contains("errors occurred")
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| self.code.to_string())
    }
}

fn param(a: &Action, name: &str) -> Result<String, ExecError> {
    a.params
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| ExecError::Permanent(format!("{} needs --param {name}=…", a.kind)))
}

/// What a token lookup may keep: facts about the token, never the token (`id`), its metadata
/// (anything may be written there) or whatever else a server adds. An allow-list, so a server
/// that echoes the token under a new name is not kept either.
const TOKEN_FACTS: &[&str] = &[
    "accessor",
    "creation_time",
    "creation_ttl",
    "display_name",
    "entity_id",
    "expire_time",
    "explicit_max_ttl",
    "issue_time",
    "num_uses",
    "orphan",
    "path",
    "policies",
    "renewable",
    "ttl",
    "type",
];

fn token_facts(v: Value) -> Value {
    match v {
        Value::Object(mut m) => {
            m.retain(|k, _| TOKEN_FACTS.contains(&k.as_str()));
            Value::Object(m)
        }
        _ => Value::Null,
    }
}

impl VaultExecutor {
    /// From `[providers.vault]`: `addr` (required), `token_env` (default `VAULT_TOKEN`),
    /// `namespace` (optional).
    pub fn from_section(t: &toml::Table) -> anyhow::Result<VaultExecutor> {
        let mut addr = None;
        let mut token_env = "VAULT_TOKEN".to_string();
        let mut namespace = None;
        for (k, v) in t {
            let s = v.as_str().map(str::to_string).ok_or_else(|| {
                anyhow::anyhow!("[providers.vault] {k}: write a string, e.g. {k} = \"…\"")
            });
            match k.as_str() {
                "addr" => {
                    let u = s?;
                    if !(u.starts_with("http://") || u.starts_with("https://")) {
                        anyhow::bail!(
                            "[providers.vault] addr = \"{u}\": write a URL, e.g. \"https://vault.internal:8200\""
                        );
                    }
                    addr = Some(u.trim_end_matches('/').to_string());
                }
                "token_env" => token_env = s?,
                "namespace" => namespace = Some(s?),
                "token" => anyhow::bail!(
                    "[providers.vault] token: the token does not go in config.toml; put it in a variable and name it with token_env = \"VAULT_TOKEN\""
                ),
                other => anyhow::bail!(
                    "[providers.vault] {other}: unknown key; known: addr, token_env, namespace"
                ),
            }
        }
        let addr = addr.ok_or_else(|| {
            anyhow::anyhow!(
                "[providers.vault] has no addr: add addr = \"https://vault.internal:8200\""
            )
        })?;
        Ok(VaultExecutor {
            addr,
            token_env,
            namespace,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .connect_timeout(Duration::from_secs(3))
                .build()
                .unwrap_or_default(),
        })
    }

    fn token(&self) -> Result<String, ExecError> {
        match std::env::var(&self.token_env) {
            Ok(t) if !t.trim().is_empty() => {
                // An answer or a log line that echoes it is redacted, whatever its shape.
                crate::respond::redact::remember(&t);
                Ok(t.trim().to_string())
            }
            _ => Err(ExecError::Permanent(format!(
                "no Vault token: config.toml [providers.vault] token_env names {}, which is not set; export the token in {}",
                self.token_env, self.token_env
            ))),
        }
    }

    /// One call; transport errors are transient and name the address and its config key.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Answer, ExecError> {
        let token = self.token()?;
        let mut r = self
            .http
            .request(method.clone(), format!("{}/v1/{path}", self.addr))
            .header("X-Vault-Token", &token)
            .header("X-Vault-Request", "true");
        if let Some(ns) = &self.namespace {
            r = r.header("X-Vault-Namespace", ns);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.map_err(|e| {
            ExecError::Transient(format!(
                "Vault at {} is unreachable ({method} /v1/{path}): {}; check [providers.vault] addr in config.toml",
                self.addr,
                if e.is_timeout() { "timed out".to_string() } else if e.is_connect() { "connection failed".to_string() } else { e.without_url().to_string() }
            ))
        })?;
        let code = resp.status();
        let text = resp.text().await.map_err(|e| {
            ExecError::Transient(format!("Vault at {}: {}", self.addr, e.without_url()))
        })?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        let a = Answer { code, body };
        if code.is_server_error() || code == StatusCode::TOO_MANY_REQUESTS {
            return Err(ExecError::Transient(format!(
                "Vault at {} answered {code} to {method} /v1/{path}: {}",
                self.addr,
                a.errors()
            )));
        }
        if code == StatusCode::FORBIDDEN {
            return Err(ExecError::Permanent(format!(
                "Vault denied {method} /v1/{path}: the token in {} (fingerprint {}) needs a policy granting \"{}\" on {path} ({})",
                self.token_env,
                fingerprint(&token),
                if method == Method::GET {
                    "read"
                } else {
                    "update"
                },
                a.errors()
            )));
        }
        Ok(a)
    }

    /// The token behind `accessor` (scrubbed), `None` when Vault knows no such accessor.
    async fn lookup_accessor(&self, accessor: &str) -> Result<Option<Value>, ExecError> {
        let a = self
            .call(
                Method::POST,
                "auth/token/lookup-accessor",
                Some(json!({"accessor": accessor})),
            )
            .await?;
        if a.code.is_success() {
            return Ok(Some(token_facts(
                a.body.get("data").cloned().unwrap_or(Value::Null),
            )));
        }
        let e = a.errors();
        if a.code == StatusCode::NOT_FOUND
            || (a.code == StatusCode::BAD_REQUEST
                && (e.contains("invalid accessor") || e.contains("not found")))
        {
            return Ok(None);
        }
        Err(ExecError::Permanent(format!(
            "Vault at {}: lookup of accessor {accessor} failed: {}: {e}",
            self.addr, a.code
        )))
    }

    /// The entity, `None` when there is none with that id.
    async fn entity(&self, id: &str) -> Result<Option<Value>, ExecError> {
        let a = self
            .call(Method::GET, &format!("identity/entity/id/{id}"), None)
            .await?;
        if a.code == StatusCode::NOT_FOUND || a.code == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        if !a.code.is_success() {
            return Err(ExecError::Permanent(format!(
                "Vault at {}: reading entity {id} failed: {}: {}",
                self.addr,
                a.code,
                a.errors()
            )));
        }
        Ok(a.body.get("data").cloned().filter(|d| !d.is_null()))
    }

    fn missing_entity(&self, id: &str) -> ExecError {
        ExecError::Permanent(format!(
            "Vault identity entity {id} does not exist at {} (GET /v1/identity/entity/id/{id} found none)",
            self.addr
        ))
    }

    fn missing_accessor(&self, accessor: &str) -> ExecError {
        ExecError::Permanent(format!(
            "Vault token accessor {accessor} does not exist at {} (expired, revoked or mistyped: lookup-accessor answered invalid accessor)",
            self.addr
        ))
    }

    async fn set_disabled(&self, id: &str, disabled: bool) -> Result<Value, ExecError> {
        let a = self
            .call(
                Method::POST,
                &format!("identity/entity/id/{id}"),
                Some(json!({"disabled": disabled})),
            )
            .await?;
        if !a.code.is_success() {
            return Err(ExecError::Permanent(format!(
                "Vault at {}: updating entity {id} failed: {}: {}",
                self.addr,
                a.code,
                a.errors()
            )));
        }
        let after = self
            .entity(id)
            .await?
            .ok_or_else(|| self.missing_entity(id))?;
        if after.get("disabled").and_then(Value::as_bool) != Some(disabled) {
            return Err(ExecError::Permanent(format!(
                "Vault entity {id} reads disabled = {} after setting it to {disabled}",
                after.get("disabled").unwrap_or(&Value::Null)
            )));
        }
        Ok(after)
    }

    async fn plan_of(&self, a: &Action) -> Result<Plan, ExecError> {
        match a.kind.as_str() {
            "vault.revoke_accessor" => {
                let acc = param(a, "accessor")?;
                let t = self
                    .lookup_accessor(&acc)
                    .await?
                    .ok_or_else(|| self.missing_accessor(&acc))?;
                let s = |k: &str| {
                    t.get(k)
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "?".into())
                };
                Ok(Plan {
                    reversible: false,
                    dry_run: DryRun {
                        changes: vec![format!(
                            "revoke the token behind accessor {acc} ({}, policies {}) and its child tokens (POST /v1/auth/token/revoke-accessor)",
                            s("display_name"),
                            s("policies")
                        )],
                        impact: vec![
                            format!(
                                "whatever uses that token (entity {}, issued at {} via {}) loses Vault access at once; its leases are revoked",
                                s("entity_id"),
                                s("creation_time"),
                                s("path")
                            ),
                            format!("the token would have expired at {}", s("expire_time")),
                        ],
                        undo: Some(
                            "none: a revoked token cannot be restored; issue a new token".into(),
                        ),
                        before: json!({"accessor": acc, "token": t}),
                    },
                })
            }
            "vault.disable_entity" => {
                let id = param(a, "entity_id")?;
                let e = self
                    .entity(&id)
                    .await?
                    .ok_or_else(|| self.missing_entity(&id))?;
                let name = e
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string();
                let disabled = e.get("disabled").and_then(Value::as_bool).unwrap_or(false);
                let aliases: Vec<String> = e
                    .get("aliases")
                    .and_then(Value::as_array)
                    .map(|v| {
                        v.iter()
                            .map(|a| {
                                format!(
                                    "{} via {}",
                                    a.get("name").and_then(Value::as_str).unwrap_or("?"),
                                    a.get("mount_type").and_then(Value::as_str).unwrap_or("?")
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let change = if disabled {
                    format!("none: entity {id} ({name}) is already disabled")
                } else {
                    format!(
                        "disable identity entity {id} ({name}) (POST /v1/identity/entity/id/{id} disabled=true)"
                    )
                };
                Ok(Plan {
                    reversible: true,
                    dry_run: DryRun {
                        changes: vec![change],
                        impact: vec![
                            format!(
                                "every token of {name} ({} aliases: {}) is refused while it is disabled, and it cannot log in; tokens are not revoked",
                                aliases.len(),
                                if aliases.is_empty() {
                                    "none".into()
                                } else {
                                    aliases.join(", ")
                                }
                            ),
                            format!(
                                "policies {} and groups {} stop applying to it",
                                e.get("policies").unwrap_or(&Value::Null),
                                e.get("group_ids").unwrap_or(&Value::Null)
                            ),
                        ],
                        undo: Some(format!(
                            "re-enable: set disabled=false on entity {id}; its unexpired tokens work again"
                        )),
                        before: json!({
                            "entity_id": id, "name": name, "disabled": disabled,
                            "aliases": aliases, "policies": e.get("policies"),
                        }),
                    },
                })
            }
            other => Err(ExecError::Permanent(format!(
                "{other}: not a vault.* kind this executor knows"
            ))),
        }
    }

    async fn execute_of(&self, a: &Action) -> Result<Outcome, ExecError> {
        let done = |detail| Outcome {
            status: ExecStatus::Done,
            detail,
        };
        match a.kind.as_str() {
            "vault.revoke_accessor" => {
                let acc = param(a, "accessor")?;
                match self.lookup_accessor(&acc).await? {
                    Some(_) => {
                        let r = self
                            .call(
                                Method::POST,
                                "auth/token/revoke-accessor",
                                Some(json!({"accessor": acc})),
                            )
                            .await?;
                        if !r.code.is_success() {
                            return Err(ExecError::Permanent(format!(
                                "Vault at {}: revoke-accessor {acc} failed: {}: {}",
                                self.addr,
                                r.code,
                                r.errors()
                            )));
                        }
                    }
                    // Gone already: this key's earlier attempt, if the plan saw it.
                    None if a.dry_run.before.get("token").is_some() => {}
                    None => return Err(self.missing_accessor(&acc)),
                }
                if self.lookup_accessor(&acc).await?.is_some() {
                    return Err(ExecError::Permanent(format!(
                        "Vault still knows accessor {acc} after revoke-accessor"
                    )));
                }
                Ok(done(
                    json!({"accessor": acc, "revoked": true, "before": a.dry_run.before}),
                ))
            }
            "vault.disable_entity" => {
                let id = param(a, "entity_id")?;
                let now = self
                    .entity(&id)
                    .await?
                    .ok_or_else(|| self.missing_entity(&id))?;
                let was = now
                    .get("disabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let before_disabled = a
                    .dry_run
                    .before
                    .get("disabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(was);
                let after = if was {
                    now
                } else {
                    self.set_disabled(&id, true).await?
                };
                Ok(done(json!({
                    "entity_id": id, "name": after.get("name"), "disabled": true,
                    "before": {"disabled": before_disabled},
                })))
            }
            other => Err(ExecError::Permanent(format!(
                "{other}: not a vault.* kind this executor knows"
            ))),
        }
    }

    async fn rollback_of(&self, a: &Action) -> Result<Outcome, ExecError> {
        match a.kind.as_str() {
            "vault.revoke_accessor" => Err(ExecError::Permanent(
                "vault.revoke_accessor cannot be undone: the token is revoked; issue a new token"
                    .into(),
            )),
            "vault.disable_entity" => {
                let id = param(a, "entity_id")?;
                if a.outcome
                    .pointer("/before/disabled")
                    .and_then(Value::as_bool)
                    == Some(true)
                {
                    return Ok(Outcome {
                        status: ExecStatus::RolledBack,
                        detail: json!({"entity_id": id, "disabled": true,
                            "note": "the entity was already disabled before this action: left disabled"}),
                    });
                }
                self.entity(&id)
                    .await?
                    .ok_or_else(|| self.missing_entity(&id))?;
                let after = self.set_disabled(&id, false).await?;
                Ok(Outcome {
                    status: ExecStatus::RolledBack,
                    detail: json!({"entity_id": id, "name": after.get("name"), "disabled": false}),
                })
            }
            other => Err(ExecError::Permanent(format!(
                "{other}: not a vault.* kind this executor knows"
            ))),
        }
    }
}

impl Executor for VaultExecutor {
    fn name(&self) -> String {
        format!("vault {}", self.addr)
    }

    fn kinds(&self) -> BoxFut<'_, Vec<String>> {
        Box::pin(async { KINDS.iter().map(|k| k.to_string()).collect() })
    }

    fn plan<'a>(&'a self, a: &'a Action) -> BoxFut<'a, anyhow::Result<Plan>> {
        Box::pin(async move { self.plan_of(a).await.map_err(|e| anyhow::anyhow!("{e}")) })
    }

    fn execute<'a>(
        &'a self,
        a: &'a Action,
        _key: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        Box::pin(self.execute_of(a))
    }

    /// Vault keeps no record of keys: "never received", so the desk resends (idempotently).
    fn status<'a>(&'a self, _key: &'a str) -> BoxFut<'a, Result<Option<Outcome>, ExecError>> {
        Box::pin(async { Ok(None) })
    }

    fn rollback<'a>(
        &'a self,
        a: &'a Action,
        _key: &'a str,
    ) -> BoxFut<'a, Result<Outcome, ExecError>> {
        Box::pin(self.rollback_of(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_hide_the_token() {
        let f = fingerprint("s.supersecret");
        assert!(f.starts_with("sha256:") && f.len() == 19, "{f}");
        assert!(!f.contains("supersecret"));
    }

    #[test]
    fn section_needs_addr_and_refuses_a_token() {
        let t: toml::Table = toml::from_str("token_env = \"X\"").unwrap();
        let e = VaultExecutor::from_section(&t).err().unwrap().to_string();
        assert!(e.contains("[providers.vault] has no addr"), "{e}");
        let t: toml::Table = toml::from_str("addr = \"http://h:1\"\ntoken = \"s.x\"").unwrap();
        let e = VaultExecutor::from_section(&t).err().unwrap().to_string();
        assert!(e.contains("token_env") && !e.contains("s.x"), "{e}");
    }
}
