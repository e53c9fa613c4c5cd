//! Lenient typed views of a JSON record, for decoders on the hot path: a field reads as what the
//! record holds when it has the expected shape and as nothing otherwise, never as an error,
//! just as the `Value`-walking helpers (`s`, `get`) read it. Strings are borrowed from the text
//! when they hold no escape. The same types read a parsed `Value` (borrowing from it), so one
//! decoder serves a record's text and a record that arrived inside an envelope.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::core::Millis;

/// A scalar field: a string, a number, or something else (`null`, a boolean, an object, an
/// array). `Absent` when the record has no such key.
#[derive(Debug, Default, Clone, PartialEq)]
pub enum J<'a> {
    #[default]
    Absent,
    Str(Cow<'a, str>),
    Num(f64),
    Other,
}

impl J<'_> {
    /// Whether the record has the key (even as `null`).
    pub fn present(&self) -> bool {
        !matches!(self, J::Absent)
    }
    pub fn is_str(&self) -> bool {
        matches!(self, J::Str(_))
    }
    /// The string when it is a non-empty string (what `s()` reads).
    pub fn str(&self) -> Option<&str> {
        match self {
            J::Str(s) if !s.is_empty() => Some(s),
            _ => None,
        }
    }
    /// A time, as `parse_time` reads it from a string or a number.
    pub fn time(&self) -> Option<Millis> {
        match self {
            J::Str(s) => super::parse_time_str(s),
            J::Num(x) => Some(super::epoch_to_ms(*x)),
            _ => None,
        }
    }
}

/// Skip the rest of a map or sequence the visitor was given.
fn drain_map<'de, A: MapAccess<'de>>(mut m: A) -> Result<(), A::Error> {
    while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut s: A) -> Result<(), A::Error> {
    while s.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

impl<'de: 'a, 'a> Deserialize<'de> for J<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<J<'a>, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = J<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<J<'a>, E> {
                Ok(J::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<J<'a>, E> {
                Ok(J::Str(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<J<'a>, E> {
                Ok(J::Str(Cow::Owned(s)))
            }
            fn visit_u64<E>(self, x: u64) -> Result<J<'a>, E> {
                Ok(J::Num(x as f64))
            }
            fn visit_i64<E>(self, x: i64) -> Result<J<'a>, E> {
                Ok(J::Num(x as f64))
            }
            fn visit_f64<E>(self, x: f64) -> Result<J<'a>, E> {
                Ok(J::Num(x))
            }
            fn visit_bool<E>(self, _: bool) -> Result<J<'a>, E> {
                Ok(J::Other)
            }
            fn visit_unit<E>(self) -> Result<J<'a>, E> {
                Ok(J::Other)
            }
            fn visit_none<E>(self) -> Result<J<'a>, E> {
                Ok(J::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<J<'a>, A::Error> {
                drain_map(m).map(|_| J::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<J<'a>, A::Error> {
                drain_seq(s).map(|_| J::Other)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// The visits of every JSON scalar (a string, a number, a boolean, `null`), each answering
/// `$other`: a field of another shape than the one wanted reads as absent.
macro_rules! scalars_answer {
    ($t:ty, $other:expr) => {
        fn visit_str<E>(self, _: &str) -> Result<$t, E> {
            Ok($other)
        }
        fn visit_u64<E>(self, _: u64) -> Result<$t, E> {
            Ok($other)
        }
        fn visit_i64<E>(self, _: i64) -> Result<$t, E> {
            Ok($other)
        }
        fn visit_f64<E>(self, _: f64) -> Result<$t, E> {
            Ok($other)
        }
        fn visit_bool<E>(self, _: bool) -> Result<$t, E> {
            Ok($other)
        }
        fn visit_unit<E>(self) -> Result<$t, E> {
            Ok($other)
        }
        fn visit_none<E>(self) -> Result<$t, E> {
            Ok($other)
        }
    };
}

/// A field read as `T` when it is an object; `Absent` or `NotObject` otherwise.
#[derive(Debug, Default, Clone, PartialEq)]
pub enum Obj<T> {
    #[default]
    Absent,
    NotObject,
    Object(T),
}

impl<T> Obj<T> {
    pub fn present(&self) -> bool {
        !matches!(self, Obj::Absent)
    }
    pub fn get(&self) -> Option<&T> {
        match self {
            Obj::Object(t) => Some(t),
            _ => None,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Obj<T>, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(m)).map(Obj::Object)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<Obj<T>, A::Error> {
                drain_seq(s).map(|_| Obj::NotObject)
            }
            scalars_answer!(Obj<T>, Obj::NotObject);
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A field read as a list of `T` when it is an array; empty otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct Arr<T>(pub Vec<T>);

impl<T> Default for Arr<T> {
    fn default() -> Self {
        Arr(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Arr<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Arr<T>, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Arr<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Arr<T>, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = s.next_element()? {
                    out.push(x);
                }
                Ok(Arr(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Arr<T>, A::Error> {
                drain_map(m).map(|_| Arr::default())
            }
            scalars_answer!(Arr<T>, Arr::default());
        }
        d.deserialize_any(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Default, Debug, PartialEq)]
    #[serde(default)]
    struct Probe<'a> {
        #[serde(borrow)]
        a: J<'a>,
        #[serde(borrow)]
        b: Obj<Inner<'a>>,
        #[serde(borrow)]
        c: Arr<Obj<Inner<'a>>>,
    }

    #[derive(Deserialize, Default, Debug, PartialEq)]
    #[serde(default)]
    struct Inner<'a> {
        #[serde(borrow)]
        x: J<'a>,
    }

    const SHAPES: [&str; 8] = [
        r#""text""#,
        r#""""#,
        "17",
        "-2.5",
        "null",
        "true",
        r#"{"x": "in", "y": [1, {"z": 2}]}"#,
        r#"[{"x": "a"}, 3, {"x": 4}]"#,
    ];

    #[test]
    fn any_shape_of_any_field_reads_without_error_from_text_and_from_a_value() {
        for a in SHAPES {
            for b in SHAPES {
                let text = format!(r#"{{"a": {a}, "b": {b}, "c": {b}, "extra": {a}}}"#);
                let from_text: Probe = serde_json::from_str(&text).unwrap();
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                let from_value = Probe::deserialize(&v).unwrap();
                assert_eq!(from_text, from_value, "{text}");
                // What the Value helpers read, the typed view reads.
                assert_eq!(from_text.a.str(), super::super::s(&v, "a"), "{text}");
                assert_eq!(
                    from_text.b.get().and_then(|i| i.x.str()),
                    super::super::s(&v, "b.x"),
                    "{text}"
                );
                assert_eq!(from_text.b.get().is_some(), v["b"].is_object());
                assert_eq!(
                    from_text.c.0.len(),
                    v["c"].as_array().map_or(0, |a| a.len())
                );
            }
        }
    }

    #[test]
    fn strings_without_escapes_are_borrowed_and_absent_keys_are_absent() {
        let p: Probe = serde_json::from_str(r#"{"a": "plain", "b": {"x": "tab\tbed"}}"#).unwrap();
        assert!(matches!(p.a, J::Str(Cow::Borrowed("plain"))));
        assert_eq!(p.b.get().unwrap().x, J::Str(Cow::Owned("tab\tbed".into())));
        let q: Probe = serde_json::from_str(r#"{"a": null}"#).unwrap();
        assert!(q.a.present() && q.a.str().is_none());
        assert!(!q.b.present() && q.c.0.is_empty());
    }
}
