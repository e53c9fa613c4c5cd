//! Canonical JSON text for hashing audit records.
//!
//! A record's hash must not depend on how a JSON writer happened to lay it out, yet it must be
//! recomputable from an exported file without loss. Going through `serde_json::Value` is lossy:
//! without serde_json's `float_roundtrip` feature a float such as `0.30000000000000004` may parse
//! back one ULP off, and a log with a score in it would then fail its own verification. So this
//! module rewrites JSON text directly: whitespace dropped, object keys sorted by their decoded
//! bytes (as `serde_json::Value` sorts them), strings re-escaped the way serde_json writes them,
//! numbers kept exactly as written. For text serde_json produced from a `Value`, the output is
//! byte-identical to the input; for anything else it is the same document in one fixed layout.

use std::borrow::Cow;
use std::fmt;

/// Why text is not acceptable JSON for an audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonError {
    pub offset: usize,
    pub what: &'static str,
}

impl fmt::Display for CanonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.offset)
    }
}

impl std::error::Error for CanonError {}

/// Nesting limit: input may be hostile, and the parser is recursive.
const MAX_DEPTH: usize = 128;

/// Canonical form of one JSON document.
pub fn canonical(text: &str) -> Result<String, CanonError> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let mut out = String::with_capacity(text.len());
    p.ws();
    p.value(&mut out, 0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.err("trailing characters"));
    }
    Ok(out)
}

/// The canonical form of `text`, borrowed when `text` already is canonical: verifying an export
/// meets text that this crate wrote almost always, and checking is cheaper than rebuilding.
pub fn canonical_cow(text: &str) -> Result<Cow<'_, str>, CanonError> {
    if is_canonical(text) {
        Ok(Cow::Borrowed(text))
    } else {
        canonical(text).map(Cow::Owned)
    }
}

/// Whether `text` is already canonical. Conservative: `false` for anything it is unsure of
/// (escaped object keys), which then takes the full path. Never allocates.
pub fn is_canonical(text: &str) -> bool {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.is_canonical_value(0) && p.i == p.s.len()
}

/// Append `s` as a JSON string literal, escaped exactly as serde_json escapes it.
pub fn push_str(out: &mut String, s: &str) {
    // Writing a &str to a String cannot fail; serde_json only errors on I/O or non-string keys.
    if let Ok(q) = serde_json::to_string(s) {
        out.push_str(&q);
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, what: &'static str) -> CanonError {
        CanonError {
            offset: self.i,
            what,
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn value(&mut self, out: &mut String, depth: usize) -> Result<(), CanonError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        match self.s.get(self.i) {
            Some(b'{') => self.object(out, depth),
            Some(b'[') => self.array(out, depth),
            Some(b'"') => {
                let s = self.string()?;
                push_str(out, &s);
                Ok(())
            }
            Some(b't') => self.literal(out, "true"),
            Some(b'f') => self.literal(out, "false"),
            Some(b'n') => self.literal(out, "null"),
            Some(b'-' | b'0'..=b'9') => self.number(out),
            Some(_) => Err(self.err("expected a JSON value")),
            None => Err(self.err("unexpected end of JSON")),
        }
    }

    fn literal(&mut self, out: &mut String, word: &str) -> Result<(), CanonError> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            out.push_str(word);
            Ok(())
        } else {
            Err(self.err("expected a JSON value"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.s.get(self.i) {
            self.i += 1;
        }
        self.i - start
    }

    /// RFC 8259 number grammar, copied through verbatim (see the module doc for why).
    fn number(&mut self, out: &mut String) -> Result<(), CanonError> {
        let start = self.i;
        self.number_span()?;
        // The slice holds only ASCII digits and signs, so it is valid UTF-8.
        out.push_str(std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default());
        Ok(())
    }

    fn number_span(&mut self) -> Result<(), CanonError> {
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.s.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("malformed number")),
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("malformed number"));
            }
        }
        if let Some(b'e' | b'E') = self.s.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.s.get(self.i) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("malformed number"));
            }
        }
        Ok(())
    }

    /// A string literal exactly as serde_json writes it: raw characters except `"`, `\\` and
    /// control characters, which take `\\"`, `\\\\`, `\\b \\f \\n \\r \\t` or `\\u00xx`.
    fn is_canonical_string(&mut self) -> bool {
        self.i += 1;
        loop {
            match self.s.get(self.i) {
                None => return false,
                Some(b'"') => {
                    self.i += 1;
                    return true;
                }
                Some(c) if *c < 0x20 => return false,
                Some(b'\\') => match self.s.get(self.i + 1) {
                    Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 2,
                    Some(b'u') => {
                        let hex = self.s.get(self.i + 2..self.i + 6);
                        let Some([b'0', b'0', h, l]) = hex else {
                            return false;
                        };
                        let lower = |c: &u8| matches!(c, b'0'..=b'9' | b'a'..=b'f');
                        // \u0008 and friends have short forms, which serde_json uses.
                        if !matches!(h, b'0' | b'1')
                            || !lower(l)
                            || matches!((h, l), (b'0', b'8' | b'9' | b'a' | b'c' | b'd'))
                        {
                            return false;
                        }
                        self.i += 6;
                    }
                    _ => return false,
                },
                Some(_) => self.i += 1,
            }
        }
    }

    fn is_canonical_value(&mut self, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return true;
                }
                let mut prev: Option<&[u8]> = None;
                loop {
                    let start = self.i;
                    if self.s.get(self.i) != Some(&b'"') || !self.is_canonical_string() {
                        return false;
                    }
                    let key = &self.s[start + 1..self.i - 1];
                    // Keys must be strictly increasing by their decoded bytes, which are the
                    // raw bytes only when nothing is escaped.
                    if key.contains(&b'\\') || prev.is_some_and(|p| p >= key) {
                        return false;
                    }
                    prev = Some(key);
                    if self.s.get(self.i) != Some(&b':') {
                        return false;
                    }
                    self.i += 1;
                    if !self.is_canonical_value(depth + 1) {
                        return false;
                    }
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return true;
                        }
                        _ => return false,
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return true;
                }
                loop {
                    if !self.is_canonical_value(depth + 1) {
                        return false;
                    }
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return true;
                        }
                        _ => return false,
                    }
                }
            }
            Some(b'"') => self.is_canonical_string(),
            Some(b't') => self.is_word("true"),
            Some(b'f') => self.is_word("false"),
            Some(b'n') => self.is_word("null"),
            Some(b'-' | b'0'..=b'9') => self.number_span().is_ok(),
            _ => false,
        }
    }

    fn is_word(&mut self, word: &str) -> bool {
        let ok = self.s[self.i..].starts_with(word.as_bytes());
        if ok {
            self.i += word.len();
        }
        ok
    }

    /// A string literal, decoded. serde_json does the decoding (escapes, surrogate pairs,
    /// control characters); this only finds where the literal ends.
    fn string(&mut self) -> Result<String, CanonError> {
        let start = self.i;
        self.i += 1;
        loop {
            match self.s.get(self.i) {
                Some(b'"') => break,
                Some(b'\\') => self.i += 2,
                Some(_) => self.i += 1,
                None => return Err(self.err("unterminated string")),
            }
        }
        self.i += 1;
        let lit = self.s.get(start..self.i).ok_or(CanonError {
            offset: start,
            what: "unterminated string",
        })?;
        let lit = std::str::from_utf8(lit).map_err(|_| CanonError {
            offset: start,
            what: "invalid UTF-8 in string",
        })?;
        serde_json::from_str::<String>(lit).map_err(|_| CanonError {
            offset: start,
            what: "malformed string",
        })
    }

    fn array(&mut self, out: &mut String, depth: usize) -> Result<(), CanonError> {
        self.i += 1;
        out.push('[');
        self.ws();
        if self.s.get(self.i) == Some(&b']') {
            self.i += 1;
            out.push(']');
            return Ok(());
        }
        loop {
            self.ws();
            self.value(out, depth + 1)?;
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => {
                    self.i += 1;
                    out.push(',');
                }
                Some(b']') => {
                    self.i += 1;
                    out.push(']');
                    return Ok(());
                }
                _ => return Err(self.err("expected ',' or ']'")),
            }
        }
    }

    fn object(&mut self, out: &mut String, depth: usize) -> Result<(), CanonError> {
        self.i += 1;
        let mut members: Vec<(String, String)> = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b'}') {
            self.i += 1;
        } else {
            loop {
                self.ws();
                if self.s.get(self.i) != Some(&b'"') {
                    return Err(self.err("expected an object key"));
                }
                let key = self.string()?;
                self.ws();
                if self.s.get(self.i) != Some(&b':') {
                    return Err(self.err("expected ':'"));
                }
                self.i += 1;
                self.ws();
                let mut v = String::new();
                self.value(&mut v, depth + 1)?;
                members.push((key, v));
                self.ws();
                match self.s.get(self.i) {
                    Some(b',') => self.i += 1,
                    Some(b'}') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(self.err("expected ',' or '}'")),
                }
            }
        }
        members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        // A duplicate key is ambiguous (parsers keep the first or the last): refuse it rather
        // than let two readers see two different records behind one hash.
        if members.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(self.err("duplicate object key"));
        }
        out.push('{');
        for (n, (k, v)) in members.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            push_str(out, k);
            out.push(':');
            out.push_str(v);
        }
        out.push('}');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_json_output_is_already_canonical() {
        let v = serde_json::json!({"z": [1, 2.5, 0.30000000000000004, -1e-7], "a": {"y": null, "b": true},
            "s": "tab\t quote\" esc\u{1b} bidi\u{202e} é"});
        let s = serde_json::to_string(&v).unwrap();
        assert_eq!(canonical(&s).unwrap(), s);
    }

    #[test]
    fn the_fast_check_agrees_with_the_full_canonicaliser() {
        let samples = [
            r#"{"a":1,"b":[true,false,null,"x\n\u001b\"\\"],"c":{}}"#,
            r#"{"b":1,"a":2}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"a" :1}"#,
            r#""\u0041""#,
            r#""\u000a""#,
            r#""\u001B""#,
            r#""\/""#,
            "\"\u{7f} é\"",
            r#"{"\u0061":1}"#,
            "[1.0,-0,2e+5]",
            "01",
            "[1,]",
            "",
        ];
        for s in samples {
            if is_canonical(s) {
                assert_eq!(canonical(s).as_deref(), Ok(s), "{s:?}");
            }
            match canonical(s) {
                Ok(c) => {
                    assert!(is_canonical(&c), "{c:?} from {s:?}");
                    assert_eq!(canonical_cow(s).unwrap(), c);
                }
                Err(_) => assert!(canonical_cow(s).is_err()),
            }
        }
    }

    #[test]
    fn layout_key_order_and_escapes_do_not_matter() {
        let a = canonical(r#"{ "b" : 1 , "a" : [ "\u0041\n" , {} , [] ] }"#).unwrap();
        assert_eq!(a, r#"{"a":["A\n",{},[]],"b":1}"#);
    }

    #[test]
    fn numbers_keep_their_text_and_bad_input_is_refused() {
        assert_eq!(canonical("[1.0,1,1e3,-0]").unwrap(), "[1.0,1,1e3,-0]");
        for bad in [
            "",
            "{",
            "[1,]",
            "01",
            "1.",
            "-",
            "{\"a\":1,\"a\":2}",
            "\"\\x\"",
            "nul",
            "[1] x",
            "{1:2}",
            "\"\u{1}\"",
        ] {
            assert!(canonical(bad).is_err(), "{bad:?} accepted");
        }
        assert!(canonical(&"[".repeat(500)).is_err());
    }
}
