//! `blastdoor run --script FILE`: a scripted session of the action verbs, one per line.
//!
//! ```text
//! # comments and blank lines are skipped
//! action stage --identity aws:arn:aws:iam::1:user/ci --kind aws.deny_all --param user=ci --reason "stolen key"
//! action approve $LAST        # $LAST: the id of the action staged (or shown) last
//! action execute $LAST
//! action show $LAST
//! ```
//!
//! Words split like a shell's (single and double quotes, backslash escapes); the leading
//! `action` is optional. The session stops at the first line that fails, with that line's exit
//! code (4 for a refusal, 2 for a usage error) and a message naming the line.

use std::io::Write;
use std::path::Path;

use clap::Parser;

use crate::exit::{Code, Failure, code_of};
use crate::headless::Format;
use crate::headless::action::{self, ActionCmd};
use crate::respond::Desk;

#[derive(Parser, Debug)]
#[command(name = "action", no_binary_name = true)]
struct Line {
    #[command(subcommand)]
    cmd: ActionCmd,
}

/// Split a line into words like a POSIX shell (no expansion but `$LAST`).
pub fn words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut has = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' if !has => break,
            c if c.is_whitespace() => {
                if has {
                    out.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            '\'' => {
                has = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unclosed single quote".into()),
                    }
                }
            }
            '"' => {
                has = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => cur.push(c),
                            None => return Err("a backslash at the end".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unclosed double quote".into()),
                    }
                }
            }
            '\\' => {
                has = true;
                match chars.next() {
                    Some(c) => cur.push(c),
                    None => return Err("a backslash at the end".into()),
                }
            }
            c => {
                has = true;
                cur.push(c);
            }
        }
    }
    if has {
        out.push(cur);
    }
    Ok(out)
}

/// Run the script at `path` on `desk`.
pub async fn run(
    desk: &Desk,
    path: &Path,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("--script {name}: cannot read: {e}")))?;
    let mut last: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let at = format!("{name}:{}", i + 1);
        let mut w = words(raw).map_err(|e| Failure::usage(format!("{at}: {e}")))?;
        if w.is_empty() {
            continue;
        }
        if w[0] == "action" {
            w.remove(0);
        }
        for x in &mut w {
            if x.contains("$LAST") {
                let id = last.as_deref().ok_or_else(|| {
                    Failure::usage(format!("{at}: $LAST before any action was staged"))
                })?;
                *x = x.replace("$LAST", id);
            }
        }
        let line = Line::try_parse_from(&w)
            .map_err(|e| Failure::usage(format!("{at}: {}", e.to_string().trim())))?;
        match action::run(desk, &line.cmd, format, out).await {
            Ok(Some(a)) => last = Some(a.id),
            Ok(None) => {}
            Err(e) => {
                let code = match code_of(&e) {
                    4 => Code::Refused,
                    2 => Code::Usage,
                    3 => Code::Verify,
                    _ => Code::Runtime,
                };
                return Err(Failure {
                    code,
                    message: format!("{at}: {e:#}"),
                }
                .into());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(
            words(r#"action stage --reason "stolen key" --param 'a=b c' x\ y # note"#).unwrap(),
            vec![
                "action",
                "stage",
                "--reason",
                "stolen key",
                "--param",
                "a=b c",
                "x y"
            ]
        );
        assert!(words("# only a comment").unwrap().is_empty());
        assert!(words("'open").is_err());
        assert_eq!(words(r#"a "" b"#).unwrap(), vec!["a", "", "b"]);
    }
}
