//! Executors for the built-in provider kinds (`aws.*`, `vault.*`, `k8s.*`, `github.*`,
//! `gcp.*`), each in its own file and each configured by its `[providers.NAME]` section of
//! `config.toml` (INTERFACE.md). A provider with no section is not configured: its kinds can
//! still be staged and planned, and executing one fails with a message naming the section.

pub mod gcp;
pub mod github;
pub mod k8s;
mod rest;

use std::sync::Arc;

use super::Executor;

/// The executors the `[providers.*]` sections of `config.toml` configure.
pub fn from_config(providers: &toml::Table) -> anyhow::Result<Vec<Arc<dyn Executor>>> {
    #[allow(unused_mut)]
    let mut out: Vec<Arc<dyn Executor>> = Vec::new();
    for (name, section) in providers {
        let empty = toml::Table::new();
        let section = section.as_table().unwrap_or(&empty);
        match name.as_str() {
            "kubernetes" => out.push(Arc::new(k8s::K8sExecutor::from_section(section)?)),
            "github" => out.push(Arc::new(github::GithubExecutor::from_section(section)?)),
            "gcp" => out.push(Arc::new(gcp::GcpExecutor::from_section(section)?)),
            "aws" | "vault" => {}
            other => anyhow::bail!(
                "[providers.{other}]: unknown provider; known: aws, vault, kubernetes, github, gcp"
            ),
        }
    }
    Ok(out)
}
