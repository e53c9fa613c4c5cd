//! `blastdoor watch`: one ranking snapshot per interval, as NDJSON lines
//! `{"at", "ingested", "dropped", "sources", "top"}`.

use std::io::Write;
use std::time::Duration;

use serde::Serialize;

use crate::core::{RankedIdentity, SortKey, state::format_time};
use crate::engine::{Engine, EngineOptions, SourceStatus, now_ms};
use crate::exit::Failure;

pub struct WatchOptions {
    pub engine: EngineOptions,
    pub top: usize,
    pub by: SortKey,
    pub interval: Duration,
    /// Stop after this long; run until interrupted when `None`.
    pub duration: Option<Duration>,
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
}

pub fn snapshot(engine: &Engine, top: usize, by: SortKey) -> Snapshot {
    let stats = engine.stats();
    let top = engine.write(|c| c.top(top, by));
    Snapshot {
        at: format_time(now_ms()),
        ingested: stats.ingested,
        dropped: stats.dropped,
        rejected: stats.rejected,
        rate: (stats.rate * 10.0).round() / 10.0,
        sources: stats.sources,
        top,
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
    let started = tokio::time::Instant::now();
    let mut tick = tokio::time::interval_at(started + opts.interval, opts.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let deadline = opts.duration.map(|d| started + d);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
        let snap = snapshot(&engine, opts.top, opts.by);
        serde_json::to_writer(&mut *out, &snap)?;
        writeln!(out)?;
        out.flush()?;
        if deadline.is_some_and(|d| tokio::time::Instant::now() + opts.interval / 2 >= d) {
            return Ok(());
        }
    }
}
