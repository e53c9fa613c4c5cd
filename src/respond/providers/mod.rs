//! Executors for the built-in provider kinds (`aws.*`, `vault.*`, `k8s.*`, `github.*`,
//! `gcp.*`), each in its own file and each configured by its `[providers.NAME]` section of
//! `config.toml` (INTERFACE.md). A provider with no section is not configured: its kinds can
//! still be staged and planned, and executing one fails with a message naming the section.

#[cfg(feature = "aws")]
pub mod aws;
pub mod gcp;
pub mod github;
#[cfg(feature = "kubernetes")]
pub mod k8s;
mod rest;
pub mod vault;

use std::sync::Arc;

use super::Executor;

pub use rest::fingerprint;

/// The documented name of the inline policy that revokes a role's older sessions.
pub const REVOKE_POLICY: &str = "AWSRevokeOlderSessions";
/// The label a quarantined pod carries, and the deny-all NetworkPolicy that selects it.
pub const QUARANTINE_LABEL: &str = "blastdoor.io/quarantine";
pub const QUARANTINE_POLICY: &str = "blastdoor-quarantine";

/// The inline deny-all policy's name for idempotency key `key`.
pub fn deny_all_policy_name(key: &str) -> String {
    format!("BlastdoorDenyAll-{}", &key[..key.len().min(16)])
}

/// The executors the `[providers.*]` sections of `config.toml` configure, each answering
/// through the redactor (`respond::redact`): whoever holds one (the desk, an agent) never
/// keeps a secret a provider echoed.
pub fn from_config(providers: &toml::Table) -> anyhow::Result<Vec<Arc<dyn Executor>>> {
    Ok(configured(providers)?
        .into_iter()
        .map(|e| Arc::new(super::redact::Redacting(e)) as Arc<dyn Executor>)
        .collect())
}

fn configured(providers: &toml::Table) -> anyhow::Result<Vec<Arc<dyn Executor>>> {
    let mut out: Vec<Arc<dyn Executor>> = Vec::new();
    for (name, section) in providers {
        match name.as_str() {
            #[cfg(feature = "aws")]
            "aws" => out.push(Arc::new(aws::AwsExecutor::from_section(table(
                name, section,
            )?)?)),
            "vault" => out.push(Arc::new(vault::VaultExecutor::from_section(table(
                name, section,
            )?)?)),
            #[cfg(feature = "kubernetes")]
            "kubernetes" => out.push(Arc::new(k8s::K8sExecutor::from_section(table(
                name, section,
            )?)?)),
            "github" => out.push(Arc::new(github::GithubExecutor::from_section(table(
                name, section,
            )?)?)),
            "gcp" => out.push(Arc::new(gcp::GcpExecutor::from_section(table(
                name, section,
            )?)?)),
            #[cfg(not(feature = "aws"))]
            "aws" => return Err(not_built(name)),
            #[cfg(not(feature = "kubernetes"))]
            "kubernetes" => return Err(not_built(name)),
            other => anyhow::bail!(
                "[providers.{other}]: unknown provider; known: aws, vault, kubernetes, github, gcp"
            ),
        }
    }
    Ok(out)
}

/// A provider whose executor this build left out (the fuzz build, say).
#[cfg(not(all(feature = "aws", feature = "kubernetes")))]
fn not_built(name: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "[providers.{name}]: this blastdoor was built without the `{name}` cargo feature; \
         rebuild it with default features to execute {name} actions"
    )
}

/// A `[providers.NAME]` section's table.
fn table<'a>(name: &str, v: &'a toml::Value) -> anyhow::Result<&'a toml::Table> {
    v.as_table().ok_or_else(|| {
        anyhow::anyhow!("providers.{name}: write it as a [providers.{name}] section")
    })
}
