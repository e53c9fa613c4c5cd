//! `blastdoor rank`: read finite sources and inventories to their end (live sources for a
//! fixed time), then print the ranking as a table, a JSON array or NDJSON.

use std::io::Write;
use std::time::Duration;

use crate::core::{RankedIdentity, SortKey};
use crate::engine::{Engine, EngineOptions};
use crate::exit::Failure;
use crate::headless::{Format, cell};

pub struct RankOptions {
    pub engine: EngineOptions,
    pub top: usize,
    pub by: SortKey,
    pub format: Format,
    /// How long live sources (agents, demo) are read before ranking.
    pub live_for: Duration,
}

pub async fn run(opts: RankOptions, out: &mut dyn Write) -> anyhow::Result<()> {
    if opts.engine.sources.is_empty() && opts.engine.inventories.is_empty() {
        return Err(Failure::usage(
            "rank: nothing to rank: give --source PATH (a file or folder of records), --source URL, --source demo or --inventory FILE",
        ));
    }
    let live = opts.engine.sources.iter().any(|s| !s.is_finite());
    let mut engine_opts = opts.engine;
    engine_opts.data_clock = !live;
    let engine = Engine::start(engine_opts).await?;
    if live {
        tokio::time::sleep(opts.live_for).await;
    }
    engine.finished().await;
    let stats = engine.stats();
    for p in engine.problems() {
        eprintln!("blastdoor: skipped: {p}");
    }
    let ranked = engine.write(|c| c.top(opts.top, opts.by));
    if stats.ingested == 0 && ranked.is_empty() && stats.rejected > 0 {
        return Err(anyhow::anyhow!(
            "rank: nothing could be read ({} records rejected, see above)",
            stats.rejected
        ));
    }
    if stats.rejected > 0 {
        eprintln!(
            "blastdoor: {} events ingested, {} records skipped",
            stats.ingested, stats.rejected
        );
    }
    print_ranking(&ranked, opts.format, out)
}

pub fn print_ranking(
    ranked: &[RankedIdentity],
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, ranked)?;
            writeln!(out)?;
        }
        Format::Ndjson => {
            for r in ranked {
                serde_json::to_writer(&mut *out, r)?;
                writeln!(out)?;
            }
        }
        Format::Table => {
            writeln!(
                out,
                "{:>4}  {}  {}  {:>5}  {:>5}  {:>6}  {:>6}  TOP REASON",
                "RANK",
                cell("IDENTITY", 34),
                cell("KIND", 15),
                "RISK",
                "BLAST",
                "THREAT",
                "EVENTS"
            )?;
            for r in ranked {
                let top = r
                    .why
                    .iter()
                    .find(|w| w.factor != "risk")
                    .map(|w| w.detail.as_str())
                    .unwrap_or("");
                writeln!(
                    out,
                    "{:>4}  {}  {}  {:>5.1}  {:>5.1}  {:>6.1}  {:>6}  {}",
                    r.rank,
                    cell(&r.display, 34),
                    cell(&r.kind, 15),
                    r.risk,
                    r.blast_radius,
                    r.threat,
                    r.events,
                    cell(top, 60).trim_end()
                )?;
            }
        }
    }
    Ok(())
}
