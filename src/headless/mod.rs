//! The headless face: `rank` and `watch` print what the console shows, for scripts. They hold
//! an `Engine` like the TUI does and read the same core queries.

pub mod action;
pub mod agent;
pub mod audit;
pub mod explain;
pub mod rank;
pub mod respond;
pub mod script;
pub mod watch;

use std::io::{IsTerminal, Write};

use crate::core::text::{Escape, Inert, escape_lines};

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

impl Format {
    /// How output in this format is escaped on its way out.
    pub fn escape(self) -> Escape {
        match self {
            Format::Table => Escape::Text,
            Format::Json | Format::Ndjson => Escape::Json,
        }
    }
}

/// `w` behind the one output sanitiser, escaping as `format` needs: what a face prints to
/// stdout goes through it, so no field it prints can drive the terminal or a `jq -r`.
pub fn sanitised<W: Write>(w: W, format: Format) -> Inert<W> {
    Inert::new(w, format.escape())
}

/// A message on stderr through the same sanitiser (newlines kept). Never panics: stderr may be
/// a terminal that has gone away.
pub fn say(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{}", escape_lines(message));
}

/// The width tables are laid out for: the terminal's when stdout is one, else `COLUMNS`, else
/// 80 (what an SSH session in tmux has at 3 a.m.).
pub fn table_width() -> usize {
    let from_env = || {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|c| *c > 0)
    };
    let tty = std::io::stdout()
        .is_terminal()
        .then(|| crossterm::terminal::size().ok())
        .flatten()
        .map(|(w, _)| w as usize)
        .filter(|w| *w > 0);
    tty.or_else(from_env).unwrap_or(80).max(40)
}

/// The product's own symbols in a table cell as ASCII (`×27` as `x27`, `…` as `...`), so that a
/// column is as many bytes as characters and `awk`, `cut -c` and a byte-counting terminal keep the
/// table's width; text from the data in another script is kept as it is.
fn table_ascii(s: &str) -> std::borrow::Cow<'_, str> {
    if s.is_ascii() {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '…' => out.push_str("..."),
            '→' => out.push_str("->"),
            '←' => out.push_str("<-"),
            c if !c.is_ascii() => out.push(crate::core::text::ascii_stand_in(c).unwrap_or(c)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Shorten text to `width` characters from the left (`.../role/name`), keeping its end: where
/// the last path segment of an identity is what tells it apart.
pub fn cell_tail(s: &str, width: usize) -> String {
    // ASCII dots, not `…`: tools that count bytes (mawk, cut -c) still see the column width.
    let s = &table_ascii(s);
    let n = s.chars().count();
    if n <= width {
        format!("{s:<width$}")
    } else if width <= 3 {
        s.chars().skip(n - width).collect()
    } else {
        let mut out = String::from("...");
        out.extend(s.chars().skip(n - (width - 3)));
        out
    }
}

/// Words of `text` on lines of at most `width` characters, each after `indent`; a word longer
/// than a line is cut.
pub fn wrap(text: &str, indent: &str, width: usize) -> Vec<String> {
    let room = width.saturating_sub(indent.chars().count()).max(10);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let word = if word.chars().count() > room {
            cell(word, room)
        } else {
            word.to_string()
        };
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > room {
            lines.push(format!("{indent}{line}"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(format!("{indent}{line}"));
    }
    lines
}

/// `text` wrapped to `width`, its first line as it starts, the others after `indent`.
pub fn wrap_hanging(text: &str, indent: &str, width: usize) -> Vec<String> {
    let first = wrap(text, "", width);
    let Some(head) = first.first() else {
        return first;
    };
    let mut lines = vec![head.clone()];
    let rest = text
        .split_whitespace()
        .skip(head.split_whitespace().count())
        .collect::<Vec<_>>()
        .join(" ");
    lines.extend(wrap(&rest, indent, width));
    lines
}

/// Shorten text to `width` characters for a table cell.
pub fn cell(s: &str, width: usize) -> String {
    // ASCII dots, as `cell_tail`: a table read by mawk or `cut -c` keeps its width.
    let s = &table_ascii(s);
    if s.chars().count() <= width {
        format!("{s:<width$}")
    } else if width <= 3 {
        s.chars().take(width).collect()
    } else {
        let mut out: String = s.chars().take(width - 3).collect();
        out.push_str("...");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_is_as_many_bytes_as_columns_when_it_holds_the_products_symbols() {
        let reason = "denied calls (×27 recent) → iam:PassRole…";
        for w in [10, 20, 40, 60] {
            let c = cell(reason, w);
            assert_eq!(c.len(), w, "{c:?} at {w}");
            let t = cell_tail(reason, w);
            assert_eq!(t.len(), w, "{t:?} at {w}");
        }
        assert!(cell(reason, 60).starts_with("denied calls (x27 recent) -> iam:PassRole..."));
    }

    #[test]
    fn a_name_in_another_script_is_kept_not_replaced() {
        assert_eq!(cell("сервис", 8), "сервис  ");
    }
}
