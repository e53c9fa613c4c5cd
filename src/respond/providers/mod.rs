//! Executors for the built-in provider kinds (`aws.*`, `vault.*`, `k8s.*`, `github.*`,
//! `gcp.*`), each in its own file and each configured by its `[providers.NAME]` section of
//! `config.toml` (INTERFACE.md). A provider with no section is not configured: its kinds can
//! still be staged and planned, and executing one fails with a message naming the section.

use std::sync::Arc;

use super::Executor;

/// The executors the `[providers.*]` sections of `config.toml` configure.
pub fn from_config(providers: &toml::Table) -> anyhow::Result<Vec<Arc<dyn Executor>>> {
    #[allow(unused_mut)]
    let mut out: Vec<Arc<dyn Executor>> = Vec::new();
    for name in providers.keys() {
        match name.as_str() {
            "aws" | "vault" | "kubernetes" | "github" | "gcp" => {}
            other => anyhow::bail!(
                "[providers.{other}]: unknown provider; known: aws, vault, kubernetes, github, gcp"
            ),
        }
    }
    Ok(out)
}
