//! Where untrusted text enters: every string a source hands us becomes `SafeText` here (or via
//! `SafeText`'s `Deserialize`, which sanitises the same way).

pub use crate::core::text::{MAX_CHARS, SafeText};

/// Sanitise one untrusted string.
pub fn safe(s: &str) -> SafeText {
    SafeText::new(s)
}

/// Sanitise an optional JSON string field.
pub fn safe_field(v: &serde_json::Value, key: &str) -> Option<SafeText> {
    v.get(key).and_then(|x| x.as_str()).map(SafeText::new)
}
