//! What the REST providers (`github.rs`, `gcp.rs`) share: one HTTP client, turning an answer into
//! an `ExecError` that names the verb, the resource, the endpoint and the config key to fix, and
//! fingerprints for secrets (a token is never printed, only `sha256:` of it, shortened).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::respond::ExecError;

/// `[providers.SECTION] api_url`: an http(s) URL without its trailing slash, or `default`.
pub fn api_url(section: &toml::Table, provider: &str, default: &str) -> anyhow::Result<String> {
    match section.get("api_url") {
        None => Ok(default.to_string()),
        Some(toml::Value::String(s)) if s.starts_with("http://") || s.starts_with("https://") => {
            Ok(s.trim_end_matches('/').to_string())
        }
        Some(v) => anyhow::bail!(
            "[providers.{provider}] api_url = {v}: give an http(s) URL, e.g. \"{default}\""
        ),
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .connect_timeout(Duration::from_secs(3))
        .build()
        .unwrap_or_default()
}

/// `sha256:0123abcd…`: enough to tell two secrets apart, useless to anyone who reads it.
pub fn fingerprint(secret: &str) -> String {
    let h = Sha256::digest(secret.as_bytes());
    format!("sha256:{}", &hex::encode(h)[..12])
}

/// Where a request went, for messages: the provider's section and its endpoint key.
pub struct Endpoint<'a> {
    /// `github`, `gcp`.
    pub section: &'a str,
    /// `api_url`.
    pub key: &'a str,
    pub url: &'a str,
}

impl Endpoint<'_> {
    /// A request that never got an answer: transient, naming the endpoint and its config key.
    pub fn unreachable(&self, e: reqwest::Error) -> ExecError {
        let why = if e.is_timeout() {
            "timed out".to_string()
        } else if e.is_connect() {
            "connection failed".to_string()
        } else {
            e.to_string()
        };
        ExecError::Transient(format!(
            "cannot reach {} ({why}): check [providers.{}] {} in config.toml and the network",
            self.url, self.section, self.key
        ))
    }

    /// An answer that is not a success: 401/403 and 404 are permanent and name what was
    /// attempted; 429 and 5xx are transient; any other 4xx is permanent with the provider's
    /// own message.
    pub fn failure(&self, code: StatusCode, verb: &str, resource: &str, body: &str) -> ExecError {
        let said = provider_message(body);
        match code.as_u16() {
            401 => ExecError::Permanent(format!(
                "{verb} {resource}: not authenticated at {} (HTTP 401{said}): {}",
                self.url,
                self.auth_fix()
            )),
            403 => ExecError::Permanent(format!(
                "{verb} {resource}: permission denied at {} (HTTP 403{said}): the credential in {} lacks the permission to {verb}",
                self.url,
                self.auth_source()
            )),
            404 => ExecError::Permanent(format!(
                "{verb} {resource}: not found at {} (HTTP 404{said}): check the action's params",
                self.url
            )),
            429 | 500..=599 => ExecError::Transient(format!(
                "{verb} {resource}: {} answered HTTP {}{said}",
                self.url,
                code.as_u16()
            )),
            _ => ExecError::Permanent(format!(
                "{verb} {resource}: {} answered HTTP {}{said}",
                self.url,
                code.as_u16()
            )),
        }
    }

    fn auth_source(&self) -> String {
        format!("[providers.{}] token_env", self.section)
    }

    fn auth_fix(&self) -> String {
        format!(
            "set the variable named by [providers.{}] token_env in config.toml to a valid token",
            self.section
        )
    }
}

/// `: message` from a JSON error body (`{"message"}` for GitHub, `{"error": {"message"}}` for
/// Google), sanitised and capped; empty when there is none.
fn provider_message(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let m = v
        .pointer("/error/message")
        .or_else(|| v.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if m.is_empty() {
        return String::new();
    }
    let safe = crate::core::SafeText::new(m);
    format!(": {}", safe.as_str().chars().take(200).collect::<String>())
}

/// The token a provider section names by `token_env`, or why there is none.
pub fn token_from_env(section: &str, var: &str) -> Result<String, String> {
    match std::env::var(var) {
        Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_string()),
        _ => Err(format!(
            "[providers.{section}] token_env = \"{var}\" in config.toml: the variable {var} is not set in blastdoor's environment"
        )),
    }
}

/// A `param` that holds a secret may name where it is instead (`env:VAR`), so that the secret
/// never enters the queue or the audit log.
pub fn secret_param(v: &str) -> Result<String, String> {
    match v.strip_prefix("env:") {
        Some(var) => std::env::var(var)
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("the param names env:{var}, but {var} is not set")),
        None => Ok(v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_hide_the_secret() {
        let f = fingerprint("ghp_abcdefghijklmnopqrstuvwxyz0123456789");
        assert!(f.starts_with("sha256:"));
        assert!(!f.contains("ghp_"));
        assert_eq!(f.len(), "sha256:".len() + 12);
    }

    #[test]
    fn errors_name_verb_resource_and_fix() {
        let ep = Endpoint {
            section: "gcp",
            key: "api_url",
            url: "http://x",
        };
        let e = ep.failure(
            StatusCode::FORBIDDEN,
            "disable",
            "key k",
            r#"{"error":{"message":"Permission iam.serviceAccountKeys.disable denied"}}"#,
        );
        let ExecError::Permanent(m) = e else { panic!() };
        assert!(m.contains("disable key k") && m.contains("403") && m.contains("token_env"));
        assert!(matches!(
            ep.failure(StatusCode::SERVICE_UNAVAILABLE, "v", "r", ""),
            ExecError::Transient(_)
        ));
    }
}
