//! `blastdoor audit verify [--file EXPORT] | export | tail`: check, export and read the audit
//! chain in the shared state. Verification failures are `Failure::verify` (exit 3) and name the
//! first bad record; everything else a script needs goes to stdout.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::core::text::escaped_json;
use crate::exit::Failure;
use crate::headless::{Format, cell};
use crate::store::audit::{self, AuditRecord, now_ms};
use crate::store::{self, Store, witness};

/// Which audit command to run (`blastdoor audit …`).
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AuditCmd {
    /// Check the chain and signed checkpoints of the log in the state, or of an export; exit 3
    /// naming the first bad record
    Verify {
        /// An export (`blastdoor audit export`) to verify on its own, instead of the state
        #[arg(long, value_name = "EXPORT")]
        file: Option<PathBuf>,
        /// Also prove the log consistent with this checkpoint (`blastdoor audit checkpoint`),
        /// kept elsewhere: a log cut back or forked since is exit 3
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
    /// Print the newest signed checkpoint (signing one over any newer records first), to keep
    /// outside the state: `audit verify --checkpoint FILE` proves the log consistent with it
    Checkpoint,
    /// Print the log as self-verifying JSONL (header, records, signed checkpoints)
    Export,
    /// Print the newest records
    Tail {
        /// How many records
        #[arg(long, short = 'n', default_value_t = 20)]
        lines: usize,
        /// Keep printing records as they are appended, until interrupted
        #[arg(long)]
        follow: bool,
    },
}

/// Run one audit command against the state in `state` (`--state`, or the default).
pub fn run(
    state: Option<&str>,
    cmd: AuditCmd,
    format: Format,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    match cmd {
        AuditCmd::Verify {
            file: Some(file),
            checkpoint,
        } => {
            // An export may come from anywhere: a FIFO would block, /dev/zero never ends.
            if let Some(kind) = crate::engine::sources::special_file(&file) {
                return Err(Failure::usage(format!(
                    "--file {}: {kind}, not a regular file: give the export file",
                    file.display()
                )));
            }
            let bytes = std::fs::read(&file).map_err(|e| {
                Failure::usage(format!("--file {}: cannot read: {e}", file.display()))
            })?;
            let known = given_checkpoint(checkpoint.as_deref())?;
            let report =
                audit::verify_export_against(&bytes, &known).map_err(|e| prefix_file(e, &file))?;
            writeln!(out, "{report}")?;
            Ok(())
        }
        AuditCmd::Verify {
            file: None,
            checkpoint,
        } => {
            let loc = store::resolve_state(state)?;
            let store = Store::open_existing_at(&loc).map_err(|e| unreadable(e, &loc))?;
            let mut known = given_checkpoint(checkpoint.as_deref())?;
            // The newest checkpoint this user verified before, kept in their own data dir.
            let remembered = witness::remembered(&loc).map_err(|e| {
                Failure::verify(format!(
                    "audit verify: the checkpoint remembered for this state cannot be read: {e:#}"
                ))
            })?;
            if let Some((path, cp)) = &remembered {
                known.push((
                    format!(
                        "remembered in {}; if this state was recreated on purpose, delete that file",
                        path.display()
                    ),
                    cp.clone(),
                ));
            }
            let report = store
                .audit_verify_against(&known)
                .map_err(|e| unreadable(e, &loc))?;
            if let Some(newest) = &report.newest
                && remembered
                    .as_ref()
                    .is_none_or(|(_, cp)| newest.tree_size > cp.tree_size || newest.n > cp.n)
                && let Err(e) = witness::remember(&loc, newest)
            {
                eprintln!("blastdoor: the newest checkpoint was not remembered: {e:#}");
            }
            writeln!(out, "{report}")?;
            Ok(())
        }
        AuditCmd::Checkpoint => {
            let store = Store::open_existing_at(&store::resolve_state(state)?)?;
            store.audit_checkpoint(now_ms())?;
            let report = store.audit_verify()?;
            let cp = report
                .newest
                .ok_or_else(|| Failure::usage("the audit log is empty: no checkpoint yet"))?;
            writeln!(out, "{}", serde_json::to_string(&cp)?)?;
            Ok(())
        }
        AuditCmd::Export => {
            let store = Store::open_at(&store::resolve_state(state)?)?;
            store.audit_export(out, now_ms())?;
            Ok(())
        }
        AuditCmd::Tail { lines, follow } => {
            let store = Store::open_existing_at(&store::resolve_state(state)?)?;
            tail(&store, lines, follow, format, out)
        }
    }
}

/// `--checkpoint FILE`, as the list of checkpoints to prove the log consistent with.
fn given_checkpoint(
    path: Option<&Path>,
) -> anyhow::Result<Vec<(String, witness::SignedCheckpoint)>> {
    match path {
        None => Ok(Vec::new()),
        Some(p) => {
            let cp = witness::SignedCheckpoint::load(p)
                .map_err(|e| Failure::usage(format!("--checkpoint {e:#}")))?;
            Ok(vec![(format!("--checkpoint {}", p.display()), cp)])
        }
    }
}

/// A state whose database cannot be read to its end (truncated, overwritten, not a database)
/// fails verification (exit 3), as a damaged log does; other failures keep their own code.
fn unreadable(e: anyhow::Error, loc: &store::Location) -> anyhow::Error {
    if e.downcast_ref::<Failure>().is_some() {
        return e;
    }
    let damaged = e.chain().any(|c| {
        c.downcast_ref::<rusqlite::Error>().is_some_and(|r| {
            matches!(
                r.sqlite_error_code(),
                Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
            )
        })
    });
    if damaged {
        Failure::verify(format!(
            "audit verify: {}: the database cannot be read whole ({e:#}): it is truncated or damaged",
            loc.label()
        ))
    } else {
        e
    }
}

/// Name the file in a verification failure, keeping its exit code.
fn prefix_file(e: anyhow::Error, file: &Path) -> anyhow::Error {
    match e.downcast::<Failure>() {
        Ok(f) => Failure::verify(format!("{}: {}", file.display(), f.message)),
        Err(e) => e,
    }
}

fn tail(
    store: &Store,
    lines: usize,
    follow: bool,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let len = store.audit_len()?;
    let from = (len + 1).saturating_sub(lines as u64).max(1);
    let records = store.audit_records(from, lines)?;
    let mut next = records.last().map_or(from, |r| r.seq + 1);
    match format {
        // A JSON array cannot grow while following; stream NDJSON then, as `watch` does.
        Format::Json if !follow => {
            serde_json::to_writer_pretty(&mut *out, &escaped_json(&records)?)?;
            writeln!(out)?;
        }
        Format::Json | Format::Ndjson => print_ndjson(&records, out)?,
        Format::Table => {
            writeln!(
                out,
                "{:>6}  {:<20}  {:<14}  actor (via)  action / detail",
                "seq", "at", "kind"
            )?;
            print_table(&records, out)?;
        }
    }
    out.flush()?;
    if !follow {
        return Ok(());
    }
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let records = store.audit_records(next, 1000)?;
        if let Some(last) = records.last() {
            next = last.seq + 1;
        }
        match format {
            Format::Table => print_table(&records, out)?,
            _ => print_ndjson(&records, out)?,
        }
        out.flush()?;
    }
}

fn print_ndjson(records: &[AuditRecord], out: &mut dyn Write) -> anyhow::Result<()> {
    for r in records {
        serde_json::to_writer(&mut *out, &escaped_json(r)?)?;
        writeln!(out)?;
    }
    Ok(())
}

fn print_table(records: &[AuditRecord], out: &mut dyn Write) -> anyhow::Result<()> {
    let width = super::table_width();
    for r in records {
        let at = chrono::DateTime::from_timestamp_millis(r.at)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_else(|| r.at.to_string());
        // Record fields come from other people's input (reasons, agent names): escape them so
        // nothing in the log can drive the terminal or break the columns.
        let safe = |s: &str| crate::core::text::escape(s).into_owned();
        let head = format!(
            "{:>6}  {}  {}  ",
            r.seq,
            cell(&at, 20),
            cell(&safe(&r.event.kind), 14)
        );
        let who = format!(
            "{} ({}){}",
            safe(&r.event.actor),
            safe(&r.event.via),
            r.event
                .action_id
                .as_deref()
                .map(|a| format!("  {}", safe(a)))
                .unwrap_or_default()
        );
        let room = width.saturating_sub(head.chars().count()).max(10);
        writeln!(out, "{head}{}", cell(&who, room).trim_end())?;
        // The detail in words (`reason: suspected theft; hash: sha256:…`), not as escaped JSON,
        // on up to three lines under the record.
        let detail = safe(&readable(&r.event.detail));
        let lines = super::wrap(&detail, "        ", width);
        let shown = lines.len().min(3);
        for l in lines.iter().take(shown) {
            writeln!(out, "{l}")?;
        }
        if lines.len() > shown {
            writeln!(out, "        … (--format json has it all)")?;
        }
    }
    Ok(())
}

/// A record's detail for a person: an object's fields as `key: value`, strings without quotes.
fn readable(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::Object(_) | Value::Array(_) => format!("{k}: {}", v),
                v => format!("{k}: {}", readable(v)),
            })
            .collect::<Vec<_>>()
            .join("; "),
        Value::Array(a) => a.iter().map(readable).collect::<Vec<_>>().join(", "),
        v => v.to_string(),
    }
}
