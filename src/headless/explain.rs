//! `blastdoor explain ID`: read the sources as `rank` does, then print one identity's scores,
//! every reason with the calls behind it, and its credentials (`core::explain`). The table is
//! written for a terminal as narrow as 80 columns; the JSON is the ranked identity with
//! `reasons` and `evidence` beside it. Everything goes out through the output sanitiser.

use std::io::Write;
use std::time::Duration;

use crate::core::explain::{self, Evidence, Explanation};
use crate::engine::EngineOptions;
use crate::exit::Failure;
use crate::headless::{Format, cell, table_width, wrap, wrap_hanging};
use crate::store::Store;

pub struct ExplainOptions {
    pub engine: EngineOptions,
    pub identity: String,
    pub format: Format,
    pub live_for: Duration,
    pub store: Option<std::sync::Arc<Store>>,
}

pub async fn run(opts: ExplainOptions, out: &mut dyn Write) -> anyhow::Result<()> {
    if opts.engine.sources.is_empty() && opts.engine.inventories.is_empty() {
        return Err(Failure::usage(
            "explain: nothing to read: give --source PATH, --source URL, --source demo or --inventory FILE (as for rank)",
        ));
    }
    let engine =
        super::rank::read_sources(opts.engine, opts.live_for, opts.store.as_deref()).await?;
    let stats = engine.stats();
    for u in super::rank::unread_sources(&stats) {
        super::say(&format!("blastdoor: {u}"));
    }
    let found = engine.read(|c| match explain::find(c, &opts.identity) {
        Ok(idx) => Ok(explain::explain(c, idx)),
        Err(many) => Err(many),
    });
    let x = match found {
        Ok(Some(x)) => x,
        Ok(None) => {
            return Err(anyhow::anyhow!(
                "explain: identity {:?} vanished while being read",
                crate::core::SafeText::new(&opts.identity).as_str()
            ));
        }
        Err(many) if many.is_empty() => {
            return Err(Failure::usage(format!(
                "explain: no identity {:?} in what was read: `blastdoor rank` lists the identities",
                crate::core::SafeText::new(&opts.identity).as_str()
            )));
        }
        Err(many) => {
            return Err(Failure::usage(format!(
                "explain: {:?} names {} identities; give one of: {}",
                crate::core::SafeText::new(&opts.identity).as_str(),
                many.len(),
                many.join(", ")
            )));
        }
    };
    match opts.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &x)?;
            writeln!(out)?;
        }
        Format::Ndjson => {
            serde_json::to_writer(&mut *out, &x)?;
            writeln!(out)?;
        }
        Format::Table => print_table(&x, table_width(), out)?,
    }
    Ok(())
}

/// One call on one line: time, call, source IP, result, user agent (cut to fit).
fn call_line(e: &Evidence, indent: &str, width: usize) -> String {
    let call = e.call();
    let result = e.result_word();
    let ip = e.source_ip.as_ref().map_or("-", |s| s.as_str());
    let ua = e.user_agent.as_ref().map_or("-", |s| s.as_str());
    // The time without its year (the header has it): 14 (time) + 1 + 24 (call) + 1 + 15 (IP)
    // + 1 + 6 (result) + 1 = 63 before the user agent.
    let short = e.short_time();
    let line = format!(
        "{indent}{} {} {} {}",
        cell(&short, 14),
        cell(&call, 24),
        cell(ip, 15),
        cell(result, 6)
    );
    let left = width.saturating_sub(line.chars().count() + 1);
    if left >= 4 {
        format!("{line} {}", cell(ua, left).trim_end())
    } else {
        line.trim_end().to_string()
    }
}

/// `1 tool`, `3 tools`.
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

pub fn print_table(x: &Explanation, width: usize, out: &mut dyn Write) -> anyhow::Result<()> {
    let r = &x.ranked;
    for l in wrap(&r.identity, "", width) {
        writeln!(out, "{l}")?;
    }
    writeln!(
        out,
        "{} {}, {}, rank {}",
        r.provider,
        r.kind,
        cell(&r.display, 30).trim_end(),
        r.rank
    )?;
    let scores = format!(
        "risk {:.1}, blast radius {:.1}, threat {:.1}, {} events{}",
        r.risk,
        r.blast_radius,
        r.threat,
        r.events,
        r.last_seen
            .as_deref()
            .map(|t| format!(", last seen {t}"))
            .unwrap_or_default()
    );
    for l in wrap(&scores, "  ", width) {
        writeln!(out, "{l}")?;
    }
    if let Some(c) = &r.containment {
        writeln!(out, "{} by {} ({}) at {}", c.state, c.action, c.kind, c.at)?;
    }
    if let Some(role) = &r.role {
        for l in wrap(&format!("a session of {role}"), "  ", width) {
            writeln!(out, "{l}")?;
        }
    }
    if let Some(by) = &r.issued_by {
        let line = format!("issued by {} ({} at {})", by.identity, by.call, by.time);
        for l in wrap(&line, "  ", width) {
            writeln!(out, "{l}")?;
        }
    }
    writeln!(out)?;
    writeln!(out, "BASELINE")?;
    let learnt = match &x.baseline {
        None => "no calls seen: nothing to compare its calls with yet".to_string(),
        Some(b) if !b.learned => format!(
            "learning: {}, {}, {}; nothing counts as new until {} calls",
            count(b.calls as usize, "call"),
            count(b.tools, "tool"),
            count(b.regions, "region"),
            crate::core::baseline::LEARNING_EVENTS
        ),
        Some(b) => format!(
            "{} seen, with {} and {}",
            count(b.calls as usize, "call"),
            count(b.tools, "tool"),
            count(b.regions, "region")
        ),
    };
    for l in wrap(&learnt, "  ", width) {
        writeln!(out, "  {}", l.trim_start())?;
    }
    if let Some(h) = x.baseline.as_ref().and_then(|b| b.workload_home.as_ref()) {
        let line = format!(
            "its workload calls from {} with {}",
            h.source_ip.as_str(),
            crate::core::baseline::quote_ua(h.user_agent.as_str())
        );
        for l in wrap(&line, "  ", width) {
            writeln!(out, "  {}", l.trim_start())?;
        }
    }
    writeln!(out)?;
    writeln!(out, "REASONS")?;
    for (n, reason) in x.reasons.iter().enumerate() {
        let head = format!(
            "{:>2}. [{} {:.1}] {}",
            n + 1,
            reason.factor,
            reason.weight,
            reason.detail
        );
        for l in wrap_hanging(&head, "    ", width) {
            writeln!(out, "{l}")?;
        }
        const SHOWN: usize = 5;
        for i in reason.evidence.iter().take(SHOWN) {
            writeln!(out, "{}", call_line(&x.evidence[*i], "    ", width))?;
        }
        if reason.evidence.len() > SHOWN {
            writeln!(
                out,
                "    ... and {} more (--format json lists them all)",
                reason.evidence.len() - SHOWN
            )?;
        }
    }
    writeln!(out)?;
    writeln!(out, "CREDENTIALS")?;
    if r.credentials.is_empty() {
        writeln!(out, "  none known")?;
    }
    for c in &r.credentials {
        let kind = serde_json::to_value(c.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let status = serde_json::to_value(c.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        writeln!(
            out,
            "  {} {} {}",
            cell(c.id.as_str(), width.saturating_sub(30).max(20)),
            cell(&kind, 18),
            status
        )?;
    }
    if !r.paths.is_empty() {
        writeln!(out)?;
        writeln!(out, "PATHS")?;
        for p in &r.paths {
            for l in wrap(&p.through.join(" → "), "  ", width) {
                writeln!(out, "{l}")?;
            }
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "RECENT CALLS ({} held of {} events)",
        x.events_held, r.events
    )?;
    writeln!(
        out,
        "    {} {} {} {} USER AGENT",
        cell("TIME (UTC)", 14),
        cell("CALL", 24),
        cell("SOURCE IP", 15),
        cell("RESULT", 6)
    )?;
    for e in x.evidence.iter().take(explain::CONTEXT_EVENTS) {
        writeln!(out, "{}", call_line(e, "    ", width))?;
    }
    Ok(())
}
