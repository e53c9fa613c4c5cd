//! `SafeText`: untrusted text made inert. Control, escape and bidirectional-override characters
//! become visible escapes (`\u{1b}`), and length is capped, so a hostile identity name can never
//! move the cursor, recolour the terminal or reorder what a responder reads.
//!
//! The type lives in the core so the model can require it; `ingest::sanitize` is where sources
//! call it. Deserialising a `SafeText` sanitises too, so no serde path lets raw text in.

use std::fmt;

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
            if is_inert(c) {
                out.push(c);
            } else {
                use fmt::Write;
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
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

/// A character that cannot change how a terminal shows what follows it.
fn is_inert(c: char) -> bool {
    !(c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}'   // zero-width and LRM/RLM marks
            | '\u{2028}'..='\u{202E}' // separators, embeddings and overrides
            | '\u{2060}'..='\u{2069}' // word joiner, isolates
            | '\u{061C}'              // Arabic letter mark
            | '\u{FEFF}'))
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

    #[test]
    fn plain_text_is_unchanged() {
        assert_eq!(
            SafeText::new("arn:aws:iam::1:user/ci-bot").as_str(),
            "arn:aws:iam::1:user/ci-bot"
        );
    }
}
