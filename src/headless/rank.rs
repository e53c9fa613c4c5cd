//! `blastdoor rank`: read finite sources and inventories to their end (live sources for a
//! fixed time), then print the ranking as a table, a JSON array or NDJSON. With a state, the
//! done actions in its queue mark what they contained, as in `watch` and the console.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use crate::core::{RankedIdentity, SortKey};
use crate::engine::{Engine, EngineOptions};
use crate::exit::Failure;
use crate::headless::{Format, cell};
use crate::store::Store;

pub struct RankOptions {
    pub engine: EngineOptions,
    pub top: usize,
    pub by: SortKey,
    pub format: Format,
    /// How long live sources (agents, demo) are read before ranking.
    pub live_for: Duration,
    /// The shared state whose done actions mark what they contained (`containment`).
    pub store: Option<Arc<Store>>,
}

pub async fn run(opts: RankOptions, out: &mut dyn Write) -> anyhow::Result<()> {
    if opts.engine.sources.is_empty() && opts.engine.inventories.is_empty() {
        return Err(Failure::usage(
            "rank: nothing to rank: give --source PATH (a file or folder of records), --source URL, --source demo or --inventory FILE",
        ));
    }
    let engine = read_sources(opts.engine, opts.live_for, opts.store.as_deref()).await?;
    let stats = engine.stats();
    for p in engine.problems() {
        super::say(&format!("blastdoor: skipped: {p}"));
    }
    let unread = unread_sources(&stats);
    for u in &unread {
        super::say(&format!("blastdoor: {u}"));
    }
    let ranked = engine.write(|c| c.top(opts.top, opts.by));
    if !unread.is_empty() && stats.ingested == 0 && ranked.is_empty() {
        return Err(anyhow::anyhow!(
            "rank: nothing could be read ({} source(s) could not be read, see above)",
            unread.len()
        ));
    }
    if stats.ingested == 0 && ranked.is_empty() && stats.rejected > 0 {
        return Err(anyhow::anyhow!(
            "rank: nothing could be read ({} records rejected, see above)",
            stats.rejected
        ));
    }
    if stats.rejected > 0 {
        super::say(&format!(
            "blastdoor: {} events ingested, {} records skipped",
            stats.ingested, stats.rejected
        ));
    }
    print_ranking(&ranked, opts.format, out)?;
    if !unread.is_empty() {
        // What could be read is printed, but a ranking missing a source must not pass for a
        // whole one.
        out.flush()?;
        return Err(anyhow::anyhow!(
            "rank: the ranking above is without {} source(s) that could not be read",
            unread.len()
        ));
    }
    Ok(())
}

/// The sources that gave nothing and are not healthy (refused, unreachable, erroring, or still
/// connecting when reading stopped), each said in words with its last problem.
pub fn unread_sources(stats: &crate::engine::Stats) -> Vec<String> {
    use crate::engine::Health;
    stats
        .sources
        .iter()
        .filter(|s| {
            s.events == 0
                && matches!(
                    s.health,
                    Health::Connecting | Health::Retrying | Health::Error
                )
        })
        .map(|s| {
            let why = match (&s.detail, s.health) {
                (Some(d), _) => d.clone(),
                (None, Health::Connecting) => "still connecting when reading stopped".into(),
                (None, _) => "no events".into(),
            };
            format!("source {} could not be read: {why}", s.name)
        })
        .collect()
}

/// An engine that has read the finite sources to their end and the live ones for `live_for`
/// (with a progress bar on a terminal), the done actions of `store` applied: what `rank` ranks,
/// and what `action suggest` knows of an identity.
pub async fn read_sources(
    opts: EngineOptions,
    live_for: Duration,
    store: Option<&Store>,
) -> anyhow::Result<Engine> {
    let live = opts.sources.iter().any(|s| !s.is_finite());
    let engine = Engine::start(opts).await?;
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| tokio::spawn(progress_bar(engine.clone())));
    if live {
        tokio::time::sleep(live_for).await;
    }
    engine.finished().await;
    if let Some(bar) = bar {
        bar.abort();
        let _ = bar.await;
        eprint!("\r\x1b[2K");
    }
    if let Some(store) = store {
        let actions = store.read(|tx| tx.actions())?;
        crate::engine::containment::sync(&engine, store, &actions, &mut Default::default()).await;
        engine.applied().await;
    }
    Ok(engine)
}

/// Bytes read of the finite sources' total, summed.
pub fn backfill_progress(stats: &crate::engine::Stats) -> Option<(u64, u64)> {
    let mut done = 0;
    let mut total = 0;
    let mut any = false;
    for s in &stats.sources {
        if let Some((d, t)) = s.progress {
            done += d;
            total += t;
            any = true;
        }
    }
    any.then_some((done, total))
}

/// One line of the progress bar: `[#####-----]  45%  12.3/27.0 MB  3120 events`.
pub fn progress_line(done: u64, total: u64, events: u64, width: usize) -> String {
    let frac = if total == 0 {
        1.0
    } else {
        (done as f64 / total as f64).min(1.0)
    };
    let filled = (frac * width as f64).round() as usize;
    format!(
        "[{}{}] {:>3.0}%  {:.1}/{:.1} MB  {events} events",
        "#".repeat(filled),
        "-".repeat(width - filled),
        frac * 100.0,
        done as f64 / 1e6,
        total as f64 / 1e6
    )
}

/// Draw a progress bar on stderr (a terminal) until aborted; shown only once a backfill takes
/// more than a moment, so small inputs print nothing extra.
async fn progress_bar(engine: Engine) {
    let start = std::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(120));
    loop {
        tick.tick().await;
        if start.elapsed() < Duration::from_millis(300) {
            continue;
        }
        let stats = engine.stats();
        if let Some((done, total)) = backfill_progress(&stats) {
            let line = progress_line(done, total, stats.ingested, 30);
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2Kblastdoor: reading {line}");
            let _ = err.flush();
        }
    }
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
        Format::Table => print_table(ranked, super::table_width(), out)?,
    }
    Ok(())
}

/// The identity as a table row names it (`core::label`): its display name, and, when another
/// row shares it, what tells them apart (`ci-bot@111122223333`).
pub fn row_labels(ranked: &[RankedIdentity]) -> Vec<String> {
    crate::core::label::labels(
        ranked
            .iter()
            .map(|r| (r.display.as_str(), r.identity.as_str())),
    )
}

/// The ranking as a table of at most `width` columns, choosing columns for the width as the
/// console does: rank, identity and the scores always; the kind from 110 columns; the top
/// reason with what room is left. The identity keeps its end (its last path segment).
pub fn print_table(
    ranked: &[RankedIdentity],
    width: usize,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    const SCORES: usize = 2 + 5 + 2 + 5 + 2 + 6 + 2 + 6; // RISK BLAST THREAT EVENTS
    const RANK: usize = 4;
    const KIND: usize = 15;
    const MIN_REASON: usize = 20;
    let labels = row_labels(ranked);
    let show_kind = width >= 110;
    let fixed = RANK + SCORES + if show_kind { 2 + KIND } else { 0 };
    let room = width.saturating_sub(fixed + 2).max(12);
    let longest = labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(8)
        .max("IDENTITY".len());
    // The identity gives up its beginning (the cell keeps its end) before the reason goes:
    // at 80 columns a responder wants both the name and why it is ranked.
    const MIN_ID: usize = 16;
    let id_w = longest.min(40);
    let (id_w, reason_w) = if room >= id_w + 2 + MIN_REASON {
        (id_w, Some(room - id_w - 2))
    } else if room >= MIN_ID + 2 + MIN_REASON {
        let id_w = room - 2 - MIN_REASON;
        (id_w, Some(MIN_REASON))
    } else {
        (room, None)
    };
    let mut head = format!("{:>4}  {}", "RANK", cell("IDENTITY", id_w));
    if show_kind {
        head.push_str(&format!("  {}", cell("KIND", KIND)));
    }
    head.push_str(&format!(
        "  {:>5}  {:>5}  {:>6}  {:>6}",
        "RISK", "BLAST", "THREAT", "EVENTS"
    ));
    if reason_w.is_some() {
        head.push_str("  TOP REASON");
    }
    writeln!(out, "{}", head.trim_end())?;
    for (r, label) in ranked.iter().zip(&labels) {
        let mut line = format!("{:>4}  {}", r.rank, super::cell_tail(label, id_w));
        if show_kind {
            line.push_str(&format!("  {}", cell(&r.kind, KIND)));
        }
        line.push_str(&format!(
            "  {:>5.1}  {:>5.1}  {:>6.1}  {:>6}",
            r.risk, r.blast_radius, r.threat, r.events
        ));
        if let Some(w) = reason_w {
            let top = r
                .why
                .iter()
                .find(|w| w.factor != "risk")
                .map(|w| w.detail.as_str())
                .unwrap_or("");
            line.push_str(&format!("  {}", cell(top, w)));
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_line_fills_with_the_bytes_read() {
        let l = progress_line(50, 100, 7, 10);
        assert!(l.starts_with("[#####-----]  50%"), "{l}");
        assert!(progress_line(0, 0, 0, 4).starts_with("[####] 100%"));
    }
}
