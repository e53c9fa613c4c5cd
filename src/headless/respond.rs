//! `blastdoor respond` (the standing playbooks' runner, `respond::runner`) and
//! `blastdoor playbooks list|pause|resume` (the kill switch). Acts go to stdout, one per line
//! (NDJSON, or a line of text in table form); news of the runner (lease, pauses, holds) to
//! stderr.

use std::io::Write;
use std::sync::Arc;

use clap::Subcommand;
use serde_json::json;

use crate::core::workflow::{Via, ts};
use crate::engine::{Engine, EngineOptions};
use crate::exit::Failure;
use crate::headless::{Format, cell, say};
use crate::respond::Desk;
use crate::respond::runner::{self, RunnerOptions};
use crate::store::audit::{AuditEvent, append_in};
use crate::store::runner as shared;

#[derive(Subcommand, Debug, Clone)]
pub enum PlaybooksCmd {
    /// The policy's playbooks: mode, condition, action, limits, and whether each is armed
    List,
    /// Stop a playbook (every one without NAME) from acting; every runner honours it within a
    /// second
    Pause { name: Option<String> },
    /// Let a paused playbook (every one without NAME) act again
    Resume { name: Option<String> },
}

/// Run the playbooks on the live sources until `duration` is over (or ctrl-c).
pub async fn run(
    desk: Arc<Desk>,
    engine: EngineOptions,
    opts: RunnerOptions,
    format: Format,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    if desk.policy().playbooks.is_empty() {
        return Err(Failure::usage(format!(
            "respond: {} has no [[playbook]]: add one (INTERFACE.md, policy.toml) and run `blastdoor check-config`",
            desk.policy()
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "no policy (--policy FILE)".into())
        )));
    }
    if engine.sources.is_empty() {
        return Err(Failure::usage(
            "respond: nothing to watch: give --source URL (an agent's /v1/events, a webhook, a folder)",
        ));
    }
    let engine = Engine::start(engine).await?;
    // Done actions are watched like any other: a contained identity is not fired on again,
    // and a containment that does not hold is a leak alert.
    crate::engine::containment::spawn(&engine, desk.store().clone(), true);
    runner::run(engine, desk, opts, |r| {
        if r.is_act() {
            let line = match format {
                Format::Table => r.line(),
                _ => serde_json::to_string(&r).unwrap_or_default(),
            };
            let _ = writeln!(out, "{line}").and_then(|()| out.flush());
        } else {
            say(&format!("blastdoor: respond: {}", r.line()));
        }
    })
    .await
}

pub fn playbooks(
    desk: &Desk,
    cmd: &PlaybooksCmd,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let policy = desk.policy();
    let name_of = |n: &Option<String>| -> anyhow::Result<Option<String>> {
        match n {
            Some(n) if policy.playbook(n).is_none() => Err(Failure::usage(format!(
                "no playbook named '{}' in {} (`blastdoor playbooks list` shows them)",
                crate::core::SafeText::new(n),
                policy
                    .path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "the policy".into())
            ))),
            other => Ok(other.clone()),
        }
    };
    match cmd {
        PlaybooksCmd::List => {
            let paused = desk.store().read(shared::paused)?;
            let now = crate::engine::now_ms();
            let rows: Vec<_> = policy
                .playbooks
                .iter()
                .map(|p| {
                    let status = if p.expires.is_some_and(|t| now > t) {
                        "expired"
                    } else if shared::is_paused(&paused, &p.name) {
                        "paused"
                    } else {
                        "armed"
                    };
                    json!({
                        "name": p.name, "status": status, "mode": p.mode.as_str(),
                        "when": p.when_text, "action": p.action,
                        "max_per_hour": p.max_per_hour, "max_per_identity": p.max_per_identity,
                        "cooldown_s": p.cooldown / 1000,
                        "expires": p.expires.map(ts::format),
                    })
                })
                .collect();
            match format {
                Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?,
                Format::Ndjson => {
                    for r in &rows {
                        writeln!(out, "{r}")?;
                    }
                }
                Format::Table => {
                    writeln!(
                        out,
                        "{} {:<8} {:<8} {} WHEN",
                        cell("NAME", 18),
                        "STATUS",
                        "MODE",
                        cell("ACTION", 24)
                    )?;
                    for (p, r) in policy.playbooks.iter().zip(&rows) {
                        writeln!(
                            out,
                            "{} {:<8} {:<8} {} {}",
                            cell(&p.name, 18),
                            r["status"].as_str().unwrap_or(""),
                            p.mode.as_str(),
                            cell(&p.action, 24),
                            p.when_text
                        )?;
                    }
                }
            }
            Ok(())
        }
        PlaybooksCmd::Pause { name } | PlaybooksCmd::Resume { name } => {
            let pause = matches!(cmd, PlaybooksCmd::Pause { .. });
            let name = name_of(name)?;
            // Pausing is the safe direction: anyone who can write the state may stop the
            // automation at 3 a.m. Arming it again takes a responder the allowed signers name.
            let actor = match desk.whoami() {
                Ok(who) => who,
                Err(e) if !pause => {
                    return Err(e.context(
                        "playbooks resume needs a responder's key (--key, or ssh-agent)",
                    ));
                }
                Err(_) => format!(
                    "user:{}",
                    std::env::var("USER").unwrap_or_else(|_| "unknown".into())
                ),
            };
            let now = crate::engine::now_ms();
            let changed = desk.store().write(|tx| {
                let before = shared::paused(tx)?;
                if !pause
                    && let Some(n) = &name
                    && before.contains("*")
                {
                    return Ok(Err(format!(
                        "every playbook is paused (`playbooks pause` with no name): `blastdoor playbooks resume` resumes them all, not {n} alone"
                    )));
                }
                let changed = shared::set_paused(tx, name.as_deref(), pause, now)?;
                if changed {
                    append_in(
                        tx,
                        &AuditEvent {
                            kind: if pause { "playbook_paused" } else { "playbook_resumed" }.into(),
                            actor: actor.clone(),
                            via: Via::Cli.as_str().into(),
                            action_id: None,
                            detail: json!({"playbook": name.as_deref().unwrap_or("*")}),
                        },
                        now,
                    )?;
                }
                Ok(Ok(changed))
            })?;
            let changed = changed.map_err(Failure::usage)?;
            let what = name.as_deref().unwrap_or("every playbook");
            let msg = match (changed, pause) {
                (true, true) => format!(
                    "{what} paused: no runner acts on it until `blastdoor playbooks resume`"
                ),
                (true, false) => format!("{what} resumed: armed again"),
                (false, true) => format!("{what} was paused already"),
                (false, false) => format!("{what} was not paused"),
            };
            match format {
                Format::Table => writeln!(out, "{msg}")?,
                _ => writeln!(
                    out,
                    "{}",
                    json!({"playbook": name.as_deref().unwrap_or("*"), "paused": pause, "changed": changed})
                )?,
            }
            Ok(())
        }
    }
}
