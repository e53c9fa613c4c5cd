//! `blastdoor agent`: serve the agent protocol on a host the console cannot see directly.
//!
//! - With `--demo`, the simulated fleet fills it (the README's demo and the acceptance checks).
//! - Otherwise it serves what it is given: its own `--source` specs (a Kubernetes audit log by
//!   `tail:`, a Vault audit file, a falcosidekick webhook, NATS), read by the same engine the
//!   console uses and relayed over `/v1/events` and `/v1/inventory`; and the action kinds of the
//!   providers configured on its host (`[providers.*]` of its `config.toml`), advertised in
//!   `/v1/health` and carried out there.
//!
//! Callers authenticate (`--token-env`, or mutual TLS with `--tls-cert`/`--tls-key`/
//! `--client-ca`); an agent with neither listens on loopback only. With a policy (`--policy`, or
//! `--allowed-signers` for one approval of anything) it checks every action's approvals itself.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::agent::actions::ActionCapability;
use crate::agent::guard::{Access, Verifier, check_bind, token_from_env};
use crate::agent::tls::{TlsFiles, server_config};
use crate::agent::{AgentState, server};
use crate::core::policy::Policy;
use crate::engine::{Engine, EngineOptions, Relay, RelayTo};
use crate::exit::Failure;
use crate::respond::{BUILTIN_KINDS, Executor};

/// What `blastdoor agent` was asked to do.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    pub listen: SocketAddr,
    pub demo: bool,
    pub seed: u64,
    pub token_env: Option<String>,
    pub tls: Option<TlsFiles>,
    /// `--policy FILE` (or the user's `policy.toml`): approvals are checked against it.
    pub policy: Option<PathBuf>,
    /// `--allowed-signers FILE`: the default policy (one approval of anything) over it.
    pub allowed_signers: Option<PathBuf>,
    /// The sources to relay (`--source`, or `config.toml`'s `sources`).
    pub engine: EngineOptions,
    /// `[providers.*]` of `config.toml`.
    pub providers: toml::Table,
}

impl Relay for AgentState {
    fn events(&self, events: &[crate::core::Event]) {
        self.push_slice(events);
    }
    fn inventory(&self, identities: &[crate::core::IdentityRecord]) {
        self.add_inventory(identities);
    }
}

/// The capabilities a provider executor offers: its kinds, described as INTERFACE.md does.
async fn provider_capabilities(exec: &dyn Executor) -> Vec<ActionCapability> {
    exec.kinds()
        .await
        .into_iter()
        .map(|kind| {
            let b = BUILTIN_KINDS.iter().find(|b| b.kind == kind);
            ActionCapability {
                description: b.map_or_else(|| kind.clone(), |b| b.does.to_string()),
                reversible: b.is_some_and(|b| b.undo.is_some()),
                undo: b.and_then(|b| b.undo.map(str::to_string)),
                impact: None,
                kind,
            }
        })
        .collect()
}

fn verifier(o: &AgentOptions) -> anyhow::Result<Option<Verifier>> {
    if let Some(path) = &o.allowed_signers {
        let policy = Policy {
            allowed_signers: Some(path.clone()),
            ..Policy::default()
        };
        return Verifier::new(policy).map(Some);
    }
    let explicit = o.policy.is_some();
    let policy = super::action::load_policy(o.policy.as_deref())?;
    if policy.allowed_signers.is_none() && !explicit {
        return Ok(None);
    }
    Verifier::new(policy).map(Some)
}

pub async fn run(o: AgentOptions) -> anyhow::Result<()> {
    let token = o.token_env.as_deref().map(token_from_env).transpose()?;
    let access = Access::new(token, o.tls.as_ref().is_some_and(|t| t.client_ca.is_some()));
    check_bind(o.listen, &access)?;
    let tls = o.tls.as_ref().map(server_config).transpose()?;
    let verifier = verifier(&o)?;
    let scheme = if tls.is_some() { "https" } else { "http" };

    let state = if o.demo {
        let (fleet, state) =
            crate::agent::demo_state(o.seed, crate::agent::now_ms(), server::DEFAULT_CAPACITY);
        tokio::spawn(crate::agent::drive(fleet, state.clone()));
        state
    } else {
        let mut st = AgentState::new("blastdoor agent");
        let executors = crate::respond::providers::from_config(&o.providers)
            .map_err(|e| Failure::usage(format!("config.toml: {e:#}")))?;
        for exec in executors {
            let caps = provider_capabilities(exec.as_ref()).await;
            st = st.with_executor(exec, caps);
        }
        Arc::new(st)
    };
    let listener = tokio::net::TcpListener::bind(o.listen)
        .await
        .map_err(|e| anyhow::anyhow!("--listen {}: cannot listen: {e}", o.listen))?;
    let addr = listener.local_addr()?;
    let checks = verifier
        .as_ref()
        .map(|v| format!("approvals checked against {}", v.allowed.source))
        .unwrap_or_else(|| {
            "approvals NOT checked here (give --policy or --allowed-signers)".into()
        });
    let who = if access.required() {
        "callers authenticate"
    } else {
        "no authentication, loopback only"
    };
    state.guard(access, verifier);

    let _engine = if o.engine.sources.is_empty() && o.engine.inventories.is_empty() {
        None
    } else {
        let mut opts = o.engine.clone();
        opts.relay = Some(RelayTo(state.clone()));
        Some(Engine::start(opts).await?)
    };
    let what = if o.demo {
        format!("the demo fleet (seed {})", o.seed)
    } else {
        let n = o.engine.sources.len();
        format!("{n} source(s) relayed, actions {:?}", state.capabilities())
    };
    eprintln!("blastdoor agent: serving {what} on {scheme}://{addr}/v1/events ({who}; {checks})");
    match tls {
        Some(config) => crate::agent::tls::serve_tls(listener, state, config).await,
        None => server::serve(listener, state).await,
    }
}
