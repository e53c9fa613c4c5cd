//! The headless face: `rank` and `watch` print what the console shows, for scripts. They hold
//! an `Engine` like the TUI does and read the same core queries.

pub mod action;
pub mod agent;
pub mod audit;
pub mod rank;
pub mod script;
pub mod watch;

use std::io::IsTerminal;

/// How headless output is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Ndjson,
}

impl Format {
    /// `table` on a terminal, `json` otherwise (INTERFACE.md).
    pub fn resolve(f: Option<Format>) -> Format {
        f.unwrap_or_else(|| {
            if std::io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Json
            }
        })
    }
}

/// Shorten text to `width` characters for a table cell.
pub fn cell(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        format!("{s:<width$}")
    } else {
        let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}
