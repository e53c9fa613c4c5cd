//! A problem in a file the user edits (config, theme, keymap, policy): which file, which entry,
//! what. At the bottom of the crate, so the parsers that find problems (`tui::theme`,
//! `tui::keymap`) and the config that gathers them (`config`) both import it, not each other.

use std::fmt;

/// One thing wrong in a config, theme or keymap file: which file, which entry, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub file: String,
    /// The entry within the file (`[keys] "x"`, `[styles] "risk.high".fg`, `theme`), if any.
    pub entry: Option<String>,
    pub message: String,
}

impl ConfigProblem {
    pub fn new(
        file: impl AsRef<str>,
        entry: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigProblem {
        ConfigProblem {
            file: file.as_ref().to_string(),
            entry: Some(entry.into()),
            message: message.into(),
        }
    }

    /// A problem with the file as a whole (it cannot be read or parsed).
    pub fn file(file: impl AsRef<str>, message: impl Into<String>) -> ConfigProblem {
        ConfigProblem {
            file: file.as_ref().to_string(),
            entry: None,
            message: message.into(),
        }
    }

    /// A TOML syntax or type error, with its line and column.
    pub fn toml(file: &str, text: &str, e: &toml::de::Error) -> ConfigProblem {
        let msg = e.message().trim_end();
        match e.span() {
            Some(span) => {
                let (line, col) = line_col(text, span.start);
                ConfigProblem::file(file, format!("line {line}, column {col}: {msg}"))
            }
            None => ConfigProblem::file(file, msg),
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.entry {
            Some(entry) => write!(f, "{}: {}: {}", self.file, entry, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ConfigProblem {}

pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_from_one() {
        assert_eq!(line_col("a\nbc\n", 3), (2, 2));
        assert_eq!(line_col("abc", 0), (1, 1));
    }
}
