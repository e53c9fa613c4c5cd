//! `SafeText`: untrusted text made inert, and the one rule that decides what is inert.
//!
//! Control characters (C0 and C1), escapes, bidirectional overrides and invisible format
//! characters (zero-width marks, tag characters U+E0000–U+E007F, variation selectors) become
//! visible escapes (`\u{1b}`), so a hostile identity name can never move the cursor, recolour
//! the terminal, reorder what a responder reads or hide text between columns.
//!
//! The same rule serves both ways: on the way in, `SafeText` (escaped and capped, where a source,
//! the CLI, MCP or the shared state hands us text); on the way out, [`escape`] for text and
//! [`Inert`] for everything a face writes (tables, JSON, logs), so that even text that slipped past
//! the way in never leaves raw. JSON stays valid: there the escape is JSON's own `\uXXXX`.
//!
//! The type lives in the core so the model can require it; `ingest::sanitize` is where sources
//! call it. Deserialising a `SafeText` sanitises too, so no serde path lets raw text in.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};

use compact_str::CompactString;
use serde::{Deserialize, Deserializer, Serialize};

/// Longest text kept, in characters; longer text is cut and ends with `…`.
pub const MAX_CHARS: usize = 512;

/// Text of up to 24 bytes (most actions, key ids, names, networks) is kept inline, with no
/// allocation of its own: a million identities hold several each.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SafeText(CompactString);

impl SafeText {
    /// Sanitise untrusted text.
    pub fn new(raw: &str) -> SafeText {
        if SafeText::is_clean(raw) {
            return SafeText(CompactString::from(raw));
        }
        SafeText::escaped(raw)
    }

    /// `raw` with what is not inert escaped, and cut at `MAX_CHARS`.
    fn escaped(raw: &str) -> SafeText {
        let mut out = String::with_capacity(raw.len().min(MAX_CHARS * 2));
        for (count, c) in raw.chars().enumerate() {
            if count >= MAX_CHARS {
                out.push('…');
                break;
            }
            push_visible(&mut out, c, &|_| false);
        }
        SafeText(CompactString::from(out))
    }

    /// Text that needs no change: short enough, nothing to escape. Printable ASCII (most of
    /// what arrives) is checked a byte at a time.
    fn is_clean(raw: &str) -> bool {
        raw.len() <= MAX_CHARS
            && (raw.bytes().all(|b| matches!(b, 0x20..=0x7e)) || raw.chars().all(is_inert))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A character that cannot change how a terminal shows what follows it, nor hide itself: the
/// one rule every way in and out applies.
pub fn is_inert(c: char) -> bool {
    !(c.is_control() // C0, DEL and C1 (U+0080–U+009F: U+009B is CSI on some terminals)
        || matches!(c,
            '\u{00AD}'                  // soft hyphen
            | '\u{034F}'                // combining grapheme joiner
            | '\u{0600}'..='\u{0605}'   // Arabic number signs (format characters)
            | '\u{061C}'                // Arabic letter mark
            | '\u{06DD}' | '\u{070F}' | '\u{0890}' | '\u{0891}' | '\u{08E2}'
            | '\u{115F}' | '\u{1160}'   // Hangul fillers: blank, used to spoof names
            | '\u{17B4}' | '\u{17B5}'   // Khmer inherent vowels: invisible
            | '\u{180B}'..='\u{180F}'   // Mongolian variation selectors and vowel separator
            | '\u{200B}'..='\u{200F}'   // zero-width and LRM/RLM marks
            | '\u{2028}'..='\u{202E}'   // separators, embeddings and overrides
            | '\u{2060}'..='\u{206F}'   // word joiner, invisible operators, isolates
            | '\u{3164}' | '\u{FFA0}'   // Hangul fillers
            | '\u{FE00}'..='\u{FE0F}'   // variation selectors: invisible, carry hidden bytes
            | '\u{FEFF}'                // zero-width no-break space
            | '\u{FFF9}'..='\u{FFFB}'   // interlinear annotation
            | '\u{110BD}' | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}' // Egyptian hieroglyph format controls
            | '\u{1BCA0}'..='\u{1BCA3}' // shorthand format controls
            | '\u{1D173}'..='\u{1D17A}' // musical symbol format controls
            | '\u{E0000}'..='\u{E007F}' // tag characters: invisible text
            | '\u{E0100}'..='\u{E01EF}')) // variation selectors supplement
}

/// `s` as it may be shown: every character that is not inert written as a visible escape
/// (`\u{1b}`), newlines included. Borrowed when nothing needs escaping. No length cap: for
/// what leaves (table cells, messages); what enters is capped by `SafeText`.
pub fn escape(s: &str) -> Cow<'_, str> {
    escape_keeping(s, |_| false)
}

/// [`escape`], keeping newlines: for messages of several lines (stderr, logs).
pub fn escape_lines(s: &str) -> Cow<'_, str> {
    escape_keeping(s, |c| c == '\n')
}

fn escape_keeping(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if s.bytes().all(|b| matches!(b, 0x20..=0x7e)) {
        return Cow::Borrowed(s);
    }
    let Some(first) = s.find(|c: char| !is_inert(c) && !keep(c)) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        push_visible(&mut out, c, &keep);
    }
    Cow::Owned(out)
}

fn push_visible(out: &mut String, c: char, keep: &impl Fn(char) -> bool) {
    if is_inert(c) || keep(c) {
        out.push(c);
    } else {
        use fmt::Write;
        let _ = write!(out, "\\u{{{:x}}}", c as u32);
    }
}

/// Every string (and object key) in `v` escaped in place as [`escape`] does: for display copies
/// of data read back from the shared state or a provider. Newlines inside strings are kept (JSON
/// writes them as `\n`, and a `jq -r` of one only starts a line): an approval's armoured SSHSIG
/// must still verify when copied from `action show --format json`.
pub fn escape_value(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            if let Cow::Owned(e) = escape_lines(s) {
                *s = e;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(escape_value),
        Value::Object(m) => {
            if m.keys().any(|k| matches!(escape(k), Cow::Owned(_))) {
                let old = std::mem::take(m);
                for (k, mut x) in old {
                    escape_value(&mut x);
                    m.insert(escape(&k).into_owned(), x);
                }
            } else {
                m.values_mut().for_each(escape_value);
            }
        }
        _ => {}
    }
}

/// Whether every string and key in `v` is inert already (nothing for [`escape_value`] to do).
pub fn is_inert_value(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    let clean = |s: &str| matches!(escape(s), Cow::Borrowed(_));
    match v {
        Value::String(s) => matches!(escape_lines(s), Cow::Borrowed(_)),
        Value::Array(a) => a.iter().all(is_inert_value),
        Value::Object(m) => m.iter().all(|(k, x)| clean(k) && is_inert_value(x)),
        _ => true,
    }
}

/// `t` as JSON with every string escaped ([`escape_value`]): what a face prints of data it does
/// not trust (actions and audit records read back from the shared state), so that a `jq -r` of
/// the output prints nothing raw either.
pub fn escaped_json<T: serde::Serialize + ?Sized>(t: &T) -> serde_json::Result<serde_json::Value> {
    let mut v = serde_json::to_value(t)?;
    escape_value(&mut v);
    Ok(v)
}

/// How [`Inert`] escapes what it passes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// Text for a terminal: `\u{1b}`; newlines pass.
    Text,
    /// JSON text: `\u001b` (surrogate pairs above U+FFFF); JSON's own whitespace passes. Inside
    /// a JSON string the value is unchanged, and valid JSON stays valid (what is escaped can only
    /// appear inside strings).
    Json,
}

/// A writer that passes on only inert bytes: every face's output (stdout, stderr, the log file)
/// goes through one, so no control, bidi or invisible character ever leaves raw, whichever code
/// wrote it. Assumes UTF-8 (a character split across writes is joined); an invalid byte is
/// written as U+FFFD.
pub struct Inert<W: Write> {
    inner: W,
    how: Escape,
    /// The start of a character whose remaining bytes come with the next write.
    partial: Vec<u8>,
    out: Vec<u8>,
}

impl<W: Write> Inert<W> {
    pub fn new(inner: W, how: Escape) -> Inert<W> {
        Inert {
            inner,
            how,
            partial: Vec::new(),
            out: Vec::new(),
        }
    }

    pub fn into_inner(self) -> W {
        self.inner
    }

    fn passes(&self, b: u8) -> bool {
        match self.how {
            Escape::Text => matches!(b, 0x20..=0x7e | b'\n'),
            Escape::Json => matches!(b, 0x20..=0x7e | b'\n' | b'\r' | b'\t'),
        }
    }

    fn push_escaped(&mut self, c: char) {
        use std::io::Write as _;
        match self.how {
            Escape::Text => {
                let _ = write!(self.out, "\\u{{{:x}}}", c as u32);
            }
            Escape::Json => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(self.out, "\\u{:04x}", u);
                }
            }
        }
    }

    /// Escape `bytes` (the partial character from the last write first) into `self.out`.
    fn escape_into_out(&mut self, bytes: &[u8]) {
        let joined;
        let bytes = if self.partial.is_empty() {
            bytes
        } else {
            let mut p = std::mem::take(&mut self.partial);
            p.extend_from_slice(bytes);
            joined = p;
            &joined[..]
        };
        let mut i = 0;
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && self.passes(bytes[i]) {
                i += 1;
            }
            self.out.extend_from_slice(&bytes[start..i]);
            if i == bytes.len() {
                break;
            }
            let b = bytes[i];
            if b < 0x80 {
                self.push_escaped(b as char);
                i += 1;
                continue;
            }
            let len = match b {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF7 => 4,
                _ => 1,
            };
            if i + len > bytes.len() && len > 1 {
                self.partial.extend_from_slice(&bytes[i..]);
                break;
            }
            match std::str::from_utf8(&bytes[i..i + len]) {
                Ok(s) => {
                    let c = s.chars().next().unwrap_or('\u{FFFD}');
                    if is_inert(c) {
                        self.out.extend_from_slice(s.as_bytes());
                    } else {
                        self.push_escaped(c);
                    }
                    i += len;
                }
                Err(_) => {
                    self.out.extend_from_slice("\u{FFFD}".as_bytes());
                    i += 1;
                }
            }
        }
    }
}

impl<W: Write> Write for Inert<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.partial.is_empty() && buf.iter().all(|&b| self.passes(b)) {
            // Nearly everything: written through as it is.
            self.inner.write_all(buf)?;
            return Ok(buf.len());
        }
        self.out.clear();
        self.escape_into_out(buf);
        let out = std::mem::take(&mut self.out);
        let r = self.inner.write_all(&out);
        self.out = out;
        r.map(|()| buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.partial.is_empty() {
            self.partial.clear();
            self.inner.write_all("\u{FFFD}".as_bytes())?;
        }
        self.inner.flush()
    }
}

impl fmt::Display for SafeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SafeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&str> for SafeText {
    fn from(s: &str) -> Self {
        SafeText::new(s)
    }
}

impl From<String> for SafeText {
    /// Like [`SafeText::new`], keeping the string's own buffer when it needs no change.
    fn from(s: String) -> Self {
        if SafeText::is_clean(&s) {
            return SafeText(CompactString::from(s));
        }
        SafeText::escaped(&s)
    }
}

impl AsRef<str> for SafeText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for SafeText {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Serialize for SafeText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SafeText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s: std::borrow::Cow<'de, str> = Deserialize::deserialize(d)?;
        Ok(SafeText::new(&s))
    }
}

/// The ASCII stand-in of a symbol the product draws itself (box lines, arrows, `×`, `…`), or
/// `None` for any other character. The console in an ASCII locale shows `?` for the rest (a name
/// in another script cannot be shown there and must not arrive as raw bytes); headless tables
/// keep it, since their stdout is UTF-8 whenever the data is.
pub fn ascii_stand_in(c: char) -> Option<char> {
    Some(match c {
        '─' | '━' | '═' | '╌' | '┄' => '-',
        '│' | '┃' | '║' | '╎' | '┆' => '|',
        '┌' | '┐' | '└' | '┘' | '┏' | '┓' | '┗' | '┛' | '╔' | '╗' | '╚' | '╝' | '├' | '┤' | '┬'
        | '┴' | '┼' | '╭' | '╮' | '╯' | '╰' | '┣' | '┫' | '┳' | '┻' | '╋' => {
            '+'
        }
        '▶' | '►' | '→' | '›' => '>',
        '◀' | '←' | '‹' => '<',
        '▼' | '↓' => 'v',
        '▲' | '↑' => '^',
        '★' | '✱' | '✓' => '*',
        '✗' | '×' => 'x',
        '…' => '~',
        '·' | '•' | '▁' => '.',
        '▂' | '▃' => ':',
        '▄' | '▅' => '=',
        '▆' | '▇' => '#',
        '█' => '@',
        '—' | '–' => '-',
        '⚠' => '!',
        ' ' => ' ',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_become_visible_text() {
        let t = SafeText::new("ci-bot\x1b[2J\x1b]0;pwned\x07");
        assert!(!t.as_str().chars().any(|c| c.is_control()));
        assert!(t.as_str().starts_with("ci-bot\\u{1b}[2J"));
    }

    #[test]
    fn bidi_overrides_are_made_visible() {
        let t = SafeText::new("user\u{202E}nimda");
        assert_eq!(t.as_str(), "user\\u{202e}nimda");
    }

    #[test]
    fn long_text_is_capped() {
        let t = SafeText::new(&"a".repeat(10_000));
        assert_eq!(t.as_str().chars().count(), MAX_CHARS + 1);
        assert!(t.as_str().ends_with('…'));
    }

    #[test]
    fn deserialising_sanitises() {
        let t: SafeText = serde_json::from_str("\"a\\u001b[31mb\"").unwrap();
        assert_eq!(t.as_str(), "a\\u{1b}[31mb");
    }

    #[test]
    fn short_text_is_kept_inline() {
        // The memory budget per identity counts on it.
        let t = SafeText::new("AKIA0000000000000123");
        assert!(!t.0.is_heap_allocated());
        assert_eq!(std::mem::size_of::<Option<SafeText>>(), 24);
    }

    #[test]
    fn an_owned_string_is_sanitised_as_a_borrowed_one_is() {
        for raw in [
            "assumed_from=arn:aws:iam::1:role/x\x1b[2J",
            "user\u{202E}nimda",
            "plain ascii that is longer than twenty-four bytes",
            "café — naïve",
            &"b".repeat(2_000),
        ] {
            assert_eq!(SafeText::from(raw.to_string()), SafeText::new(raw), "{raw}");
        }
    }

    /// Characters that reach a terminal raw through naive output: C1 CSI, bidi override, tag
    /// characters (invisible, they misalign columns), a variation selector, a soft hyphen.
    const HOSTILE: &str =
        "a\u{9b}31m\u{202e}b\u{e0041}\u{e007f}c\u{fe0f}d\u{ad}e\x1b]52;c;eA==\x07";

    fn all_inert(s: &str) -> bool {
        s.chars().all(|c| is_inert(c) || c == '\n')
    }

    #[test]
    fn c1_tags_and_invisible_format_characters_are_made_visible() {
        let t = SafeText::new(HOSTILE);
        assert!(all_inert(t.as_str()), "{t:?}");
        assert_eq!(
            t.as_str(),
            "a\\u{9b}31m\\u{202e}b\\u{e0041}\\u{e007f}c\\u{fe0f}d\\u{ad}e\\u{1b}]52;c;eA==\\u{7}"
        );
        assert_eq!(escape(HOSTILE), t.as_str(), "one rule in and out");
    }

    #[test]
    fn escaping_borrows_clean_text_and_keeps_newlines_only_when_asked() {
        assert!(matches!(escape("naïve café"), Cow::Borrowed(_)));
        assert_eq!(escape("a\nb"), "a\\u{a}b");
        assert_eq!(escape_lines("a\nb\x1b"), "a\nb\\u{1b}");
    }

    fn through(how: Escape, bytes: &[u8], one_at_a_time: bool) -> String {
        let mut w = Inert::new(Vec::new(), how);
        if one_at_a_time {
            for b in bytes {
                w.write_all(std::slice::from_ref(b)).unwrap();
            }
        } else {
            w.write_all(bytes).unwrap();
        }
        w.flush().unwrap();
        String::from_utf8(w.into_inner()).unwrap()
    }

    #[test]
    fn json_written_through_inert_stays_valid_and_equal_and_holds_nothing_raw() {
        let v = serde_json::json!({"reason": HOSTILE, "naïve": ["ok", 1.5, null]});
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        for split in [false, true] {
            let out = through(Escape::Json, pretty.as_bytes(), split);
            assert!(all_inert(&out), "{out}");
            assert!(
                out.contains("\\u009b") && out.contains("\\udb40\\udc41"),
                "{out}"
            );
            let back: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(back, v);
        }
    }

    #[test]
    fn text_written_through_inert_is_escaped_as_safetext_escapes() {
        let out = through(Escape::Text, format!("{HOSTILE}\n").as_bytes(), true);
        assert_eq!(out, format!("{}\n", SafeText::new(HOSTILE)));
    }

    #[test]
    fn display_copies_of_json_values_are_escaped_keys_and_all() {
        let mut v = serde_json::json!({"k\u{202e}": {"x": [HOSTILE]}});
        escape_value(&mut v);
        let text = v.to_string();
        assert!(all_inert(&text) && text.contains("k\\\\u{202e}"), "{text}");
    }

    #[test]
    fn plain_text_is_unchanged() {
        assert_eq!(
            SafeText::new("arn:aws:iam::1:user/ci-bot").as_str(),
            "arn:aws:iam::1:user/ci-bot"
        );
    }
}
