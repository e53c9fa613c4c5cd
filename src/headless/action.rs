//! `blastdoor action stage|approve|deny|execute|rollback|list|show|recover|suggest`: the
//! response desk for scripts. Each verb goes through `respond::Desk`, the same code the console
//! and MCP use; `suggest` reads the sources as `rank` does and prints `respond::suggest`.
//!
//! Exit codes: `0` done · `1` runtime failure (an executor failed) · `2` usage or configuration ·
//! `4` refused by the policy or the approval rules (the message names who and why).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;
use serde_json::Value;

use crate::auth::{AllowedSigners, Signer};
use crate::core::policy::{IdentityFacts, Policy};
use crate::core::text::escaped_json;
use crate::core::workflow::{Action, Via, ts};
use crate::engine::{EngineOptions, SourceSpec};
use crate::exit::Failure;
use crate::headless::{Format, cell};
use crate::respond::agent::{AgentExecutor, base_url};
use crate::respond::{Desk, Executor, StageRequest};
use crate::store::Store;

#[derive(Subcommand, Debug, Clone)]
pub enum ActionCmd {
    /// Propose an action; prints it
    Stage {
        /// The identity it acts on (as `rank` prints it)
        #[arg(long)]
        identity: String,
        /// provider.verb, e.g. aws.disable_access_key or agent.isolate_workload
        #[arg(long)]
        kind: String,
        /// A parameter the kind needs, K=V (repeatable)
        #[arg(long = "param", value_name = "K=V")]
        params: Vec<String>,
        /// Why, for the approvers and the audit log
        #[arg(long)]
        reason: String,
        /// Evidence to show the approvers (repeatable)
        #[arg(long)]
        evidence: Vec<String>,
    },
    /// Approve (signs the action hash with your SSH key); never by the proposer
    Approve { id: String },
    /// Deny: the action will never run
    Deny {
        id: String,
        /// Why, for the audit log
        #[arg(long, default_value = "denied")]
        reason: String,
    },
    /// Execute an approved action
    Execute { id: String },
    /// Undo a done, reversible action
    Rollback { id: String },
    /// The queue
    List,
    /// One action
    Show { id: String },
    /// Settle executions a crashed process left (asks the executor about each key)
    Recover,
    /// The action kinds that fit an identity, best first, and whether each can run here
    /// (reads the sources as `rank` does)
    Suggest {
        /// The identity (as `rank` prints it)
        #[arg(long)]
        identity: String,
        /// Seconds to read live sources (agents, demo) before suggesting
        #[arg(long, default_value_t = 3.0)]
        live_for: f64,
    },
}

/// Where the desk's parts come from (the global options).
#[derive(Debug, Clone, Default)]
pub struct DeskOptions {
    pub state: Option<String>,
    pub key: Option<PathBuf>,
    pub policy: Option<PathBuf>,
    pub agents: Vec<String>,
    /// How to reach guarded agents (`[endpoints.*]` of `config.toml`).
    pub endpoints: crate::auth::endpoint::Endpoints,
    /// The sources: an agent's event stream (`…/v1/events`) registers that agent too.
    pub sources: Vec<SourceSpec>,
    /// The `[providers.*]` sections of `config.toml`.
    pub providers: toml::Table,
}

/// Load the policy: the given file (it must exist), else `policy.toml` in the user config dir
/// if there is one, else the default policy (one approval, no signers).
pub fn load_policy(flag: Option<&std::path::Path>) -> anyhow::Result<Policy> {
    match crate::core::policy::locate(flag) {
        Some((path, explicit)) if explicit || path.exists() => {
            Policy::load(&path).map_err(|p| Failure::usage(p.join("\n")))
        }
        _ => Ok(Policy::default()),
    }
}

/// Open the desk the options describe.
pub fn open_desk(o: &DeskOptions) -> anyhow::Result<Desk> {
    let store = Arc::new(Store::open_at(&crate::store::resolve_state(
        o.state.as_deref(),
    )?)?);
    let policy = load_policy(o.policy.as_deref())?;
    let signer = match &o.key {
        Some(k) => Some(Signer::from_file(k).map_err(|e| Failure::usage(format!("{e:#}")))?),
        None => {
            let allowed = policy
                .allowed_signers
                .as_deref()
                .and_then(|p| AllowedSigners::load(p).ok());
            Signer::from_agent(allowed.as_ref()).unwrap_or_else(|e| {
                tracing::warn!("ssh-agent: {e:#}");
                None
            })
        }
    };
    // `--agent` URLs and the agents whose event streams are sources, each once.
    let mut bases: Vec<String> = Vec::new();
    for u in o
        .agents
        .iter()
        .cloned()
        .chain(o.sources.iter().filter_map(SourceSpec::agent_url))
    {
        if !bases.contains(&base_url(&u)) {
            bases.push(base_url(&u));
        }
    }
    let mut executors: Vec<Arc<dyn Executor>> = bases
        .iter()
        .map(|u| Ok(Arc::new(AgentExecutor::with_endpoints(u, &o.endpoints)?) as Arc<dyn Executor>))
        .collect::<anyhow::Result<_>>()?;
    executors.extend(
        crate::respond::providers::from_config(&o.providers)
            .map_err(|e| Failure::usage(format!("config.toml: {e:#}")))?,
    );
    Desk::open(store, policy, signer, executors)
}

/// `K=V` pairs as a JSON object (values stay strings).
pub fn parse_params(params: &[String]) -> anyhow::Result<Value> {
    let mut m = serde_json::Map::new();
    for p in params {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| Failure::usage(format!("--param {p}: write K=V")))?;
        if k.trim().is_empty() {
            return Err(Failure::usage(format!("--param {p}: the name is empty")));
        }
        m.insert(k.trim().to_string(), Value::String(v.to_string()));
    }
    Ok(Value::Object(m))
}

/// Run one verb on `desk`, printing to `out`. Returns the action it acted on, if one.
pub async fn run(
    desk: &Desk,
    cmd: &ActionCmd,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<Option<Action>> {
    if !matches!(cmd, ActionCmd::Recover)
        && let Err(e) = desk.recover().await
    {
        tracing::warn!("recovery: {e:#}");
    }
    // What the queue shows must include what was undone at an agent since.
    if matches!(cmd, ActionCmd::List | ActionCmd::Show { .. })
        && let Err(e) = desk.sync_with_executors().await
    {
        tracing::warn!("asking the executors: {e:#}");
    }
    let acted = match cmd {
        ActionCmd::Stage {
            identity,
            kind,
            params,
            reason,
            evidence,
        } => {
            let req = StageRequest {
                identity: identity.clone(),
                kind: kind.clone(),
                target: None,
                params: parse_params(params)?,
                reason: reason.clone(),
                evidence: evidence.clone(),
                via: Via::Cli,
                agent: None,
                facts: IdentityFacts::default(),
            };
            desk.stage(req).await?
        }
        ActionCmd::Approve { id } => desk.approve(id).await?,
        ActionCmd::Deny { id, reason } => desk.deny(id, reason).await?,
        ActionCmd::Execute { id } => desk.execute(id).await?,
        ActionCmd::Rollback { id } => desk.rollback(id).await?,
        ActionCmd::Show { id } => desk.show(id)?,
        ActionCmd::List => {
            let all = desk.list()?;
            print_list(&all, format, out)?;
            return Ok(None);
        }
        ActionCmd::Recover => {
            let settled = desk.recover().await?;
            print_list(&settled, format, out)?;
            return Ok(None);
        }
        ActionCmd::Suggest { .. } => {
            return Err(Failure::usage(
                "action suggest reads the sources: run it as `blastdoor action suggest --identity ID --source …`, not in a script",
            ));
        }
    };
    print_action(&acted, format, out)?;
    Ok(Some(acted))
}

/// `action suggest --identity ID`: read the sources as `rank` does, then print the kinds that
/// fit the identity, best first, each judged against what this desk can execute.
pub async fn suggest(
    desk: &Desk,
    engine: EngineOptions,
    identity: &str,
    live_for: Duration,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if engine.sources.is_empty() && engine.inventories.is_empty() {
        return Err(Failure::usage(
            "action suggest: give --source (or --inventory) so the identity is known, as for rank",
        ));
    }
    let engine = crate::headless::rank::read_sources(engine, live_for, None).await?;
    let offers = desk.offers().await;
    let found = engine.read(|c| {
        let idx = c.lookup(identity)?;
        let recent: Vec<&crate::core::Event> = c
            .feed(Some(idx), 20)
            .into_iter()
            .map(|f| &f.event)
            .collect();
        Some(crate::respond::suggest::suggest(
            &c.get(idx)?.record,
            &recent,
            &offers,
        ))
    });
    let Some(list) = found else {
        return Err(Failure::usage(format!(
            "--identity {}: not in the sources (`blastdoor rank` lists the identities they show)",
            crate::core::SafeText::new(identity)
        )));
    };
    match format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?,
        Format::Ndjson => {
            for s in &list {
                writeln!(out, "{}", serde_json::to_string(s)?)?;
            }
        }
        Format::Table => {
            writeln!(
                out,
                "{} {:<4} {:<4} PARAMS / WHY NOT",
                cell("KIND", 32),
                "UNDO",
                "RUNS"
            )?;
            for s in &list {
                let yes = |b: bool| if b { "yes" } else { "no" };
                let detail = match &s.why_not {
                    Some(w) => w.clone(),
                    None => s.params_label(),
                };
                writeln!(
                    out,
                    "{} {:<4} {:<4} {detail}",
                    cell(&s.kind, 32),
                    yes(s.reversible()),
                    yes(s.executable)
                )?;
            }
        }
    }
    Ok(())
}

/// Actions come from the shared state, which anyone who can write the database can fill: their
/// text is printed escaped, in JSON too (`escaped_json`), and `out` escapes whatever is left.
pub fn print_list(all: &[Action], format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    match format {
        Format::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&escaped_json(all)?)?
        )?,
        Format::Ndjson => {
            for a in all {
                writeln!(out, "{}", serde_json::to_string(&escaped_json(a)?)?)?;
            }
        }
        Format::Table => {
            // Chosen for the width as `rank` does: the proposer from 100 columns, the identity
            // in what is left, keeping its end (its last path segment).
            let width = super::table_width();
            let id_w = all
                .iter()
                .map(|a| a.id.chars().count())
                .max()
                .unwrap_or(2)
                .max(2);
            let proposer = width >= 100;
            let kind_w = if width >= 100 { 26 } else { 22 };
            let fixed = id_w + 1 + 11 + 1 + kind_w + 1 + 5 + 1 + if proposer { 13 } else { 0 };
            let ident_w = width.saturating_sub(fixed).max(12);
            let mut head = format!(
                "{} {:<11} {} {:<5} ",
                cell("ID", id_w),
                "STATE",
                cell("KIND", kind_w),
                "APPR"
            );
            if proposer {
                head.push_str(&format!("{} ", cell("PROPOSER", 12)));
            }
            head.push_str("IDENTITY");
            writeln!(out, "{head}")?;
            for a in all {
                let mut line = format!(
                    "{} {:<11} {} {:<5} ",
                    cell(&a.id, id_w),
                    a.state.as_str(),
                    cell(&a.kind, kind_w),
                    format!("{}/{}", a.approvals.len(), a.required_approvals),
                );
                if proposer {
                    line.push_str(&format!("{} ", cell(&a.proposed_by.principal, 12)));
                }
                line.push_str(&super::cell_tail(&a.identity, ident_w));
                writeln!(out, "{}", line.trim_end())?;
            }
        }
    }
    Ok(())
}

pub fn print_action(a: &Action, format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    match format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&escaped_json(a)?)?)?,
        Format::Ndjson => writeln!(out, "{}", serde_json::to_string(&escaped_json(a)?)?)?,
        Format::Table => {
            writeln!(out, "{}  {}  {}", a.id, a.state, a.kind)?;
            writeln!(out, "  identity   {}", a.identity)?;
            if a.params.as_object().is_some_and(|m| !m.is_empty()) {
                writeln!(out, "  params     {}", a.params)?;
            }
            writeln!(
                out,
                "  proposed   by {} via {}{} at {}",
                a.proposed_by.principal,
                a.proposed_by.via.as_str(),
                a.proposed_by
                    .agent
                    .as_deref()
                    .map(|x| format!(" (agent {x})"))
                    .unwrap_or_default(),
                ts::format(a.created_at)
            )?;
            writeln!(out, "  reason     {}", a.reason)?;
            let who: Vec<String> = a
                .approvals
                .iter()
                .map(|x| format!("{} at {}", x.principal, ts::format(x.at)))
                .collect();
            writeln!(
                out,
                "  approvals  {}/{}{}{}",
                a.approvals.len(),
                a.required_approvals,
                if who.is_empty() {
                    String::new()
                } else {
                    format!(": {}", who.join(", "))
                },
                if a.preauthorized {
                    " (pre-authorised playbook)"
                } else {
                    ""
                }
            )?;
            for c in &a.dry_run.changes {
                writeln!(out, "  changes    {c}")?;
            }
            for c in &a.dry_run.impact {
                writeln!(out, "  impact     {c}")?;
            }
            writeln!(
                out,
                "  undo       {}{}",
                if a.reversible { "yes: " } else { "no: " },
                a.dry_run.undo.as_deref().unwrap_or("")
            )?;
            writeln!(out, "  hash       {}", a.hash)?;
            writeln!(out, "  expires    {}", ts::format(a.expires_at))?;
            if let Some(e) = &a.error {
                writeln!(out, "  error      {e}")?;
            }
        }
    }
    Ok(())
}
