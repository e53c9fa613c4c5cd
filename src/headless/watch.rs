//! `blastdoor watch`: one ranking snapshot per interval, as NDJSON lines
//! `{"at", "ingested", "dropped", "sources", "top", "containment_leaks"}`.
//!
//! With a state that has a queue, done actions are watched: a contained credential or principal
//! seen acting again shows in `containment_leaks`, on stderr once, and in the audit log.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::core::containment::Leak;
use crate::core::{RankedIdentity, SortKey, state::format_time};
use crate::engine::{Engine, EngineOptions, SourceStatus, now_ms};
use crate::exit::Failure;
use crate::store::Store;

pub struct WatchOptions {
    pub engine: EngineOptions,
    pub top: usize,
    pub by: SortKey,
    pub interval: Duration,
    /// Stop after this long; run until interrupted when `None`.
    pub duration: Option<Duration>,
    /// The shared state whose done actions are watched for containment leaks.
    pub store: Option<Arc<Store>>,
}

#[derive(Debug, Serialize)]
pub struct Snapshot {
    pub at: String,
    pub ingested: u64,
    pub dropped: u64,
    pub rejected: u64,
    pub rate: f64,
    pub sources: Vec<SourceStatus>,
    pub top: Vec<RankedIdentity>,
    /// Contained credentials or principals seen acting again, one per action.
    pub containment_leaks: Vec<LeakLine>,
    /// With a state: the actions on their way (staged, approved, executing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<crate::engine::containment::OpenAction>>,
}

/// A containment leak as `watch` prints it.
#[derive(Debug, Serialize)]
pub struct LeakLine {
    pub alert: &'static str,
    pub action_id: String,
    pub kind: String,
    pub identity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    pub since: String,
    pub seen_at: String,
    pub call: String,
    pub summary: String,
}

impl From<&Leak> for LeakLine {
    fn from(l: &Leak) -> LeakLine {
        LeakLine {
            alert: "containment_leak",
            action_id: l.action_id.clone(),
            kind: l.kind.clone(),
            identity: l.identity.clone(),
            credential: l.credential.clone(),
            since: format_time(l.since),
            seen_at: format_time(l.seen_at),
            call: l.call.clone(),
            summary: l.summary(),
        }
    }
}

pub fn snapshot(engine: &Engine, top: usize, by: SortKey) -> Snapshot {
    let stats = engine.stats();
    let (top, containment_leaks) = engine.write(|c| {
        (
            c.top(top, by),
            c.leaks().iter().map(LeakLine::from).collect(),
        )
    });
    Snapshot {
        at: format_time(now_ms()),
        ingested: stats.ingested,
        dropped: stats.dropped,
        rejected: stats.rejected,
        rate: (stats.rate * 10.0).round() / 10.0,
        sources: stats.sources,
        top,
        containment_leaks,
        actions: None,
    }
}

pub async fn run(opts: WatchOptions, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    if opts.engine.sources.is_empty() && opts.engine.inventories.is_empty() {
        return Err(Failure::usage(
            "watch: nothing to watch: give --source URL, --source demo or --source PATH",
        ));
    }
    if opts.interval.is_zero() {
        return Err(Failure::usage("watch: --interval must be above 0"));
    }
    let engine = Engine::start(opts.engine).await?;
    let state = opts
        .store
        .clone()
        .map(|store| crate::engine::containment::spawn(&engine, store, true));
    let mut told = 0;
    let mut told_problems = 0;
    let started = tokio::time::Instant::now();
    let mut tick = tokio::time::interval_at(started + opts.interval, opts.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let deadline = opts.duration.map(|d| started + d);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            // Another console staged, approved or executed: a line at once, not at the next tick.
            _ = async {
                match &state {
                    Some(s) => s.synced.notified().await,
                    None => std::future::pending().await,
                }
            } => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
        let mut snap = snapshot(&engine, opts.top, opts.by);
        snap.actions = state
            .as_ref()
            .map(|s| s.open.lock().unwrap_or_else(|e| e.into_inner()).clone());
        for l in snap.containment_leaks.iter().skip(told) {
            super::say(&format!("blastdoor: {}", l.summary));
        }
        told = snap.containment_leaks.len();
        // What a source could not read, as it happens (bad records, objects, refused callers).
        let problems = engine.problems();
        for p in problems.iter().skip(told_problems) {
            super::say(&format!("blastdoor: skipped: {p}"));
        }
        told_problems = problems.len();
        serde_json::to_writer(&mut *out, &snap)?;
        writeln!(out)?;
        out.flush()?;
        if deadline.is_some_and(|d| tokio::time::Instant::now() + opts.interval / 2 >= d) {
            return Ok(());
        }
    }
}
