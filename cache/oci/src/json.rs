//! JSON the way Go's `encoding/json` writes it, and serde helpers for the
//! shapes docker and BuildKit use.
//!
//! Digests of configs and manifests are taken over their exact bytes, so
//! kiln writes them as BuildKit does: Go escapes `<`, `>`, `&`, U+2028 and
//! U+2029 inside strings (`json.Marshal` is HTML-safe by default), which
//! serde_json does not. Everything else (control-character escapes since
//! Go 1.22, `": "` and two-space indentation in `MarshalIndent`, `[]`/`{}`
//! for empty containers) already agrees.
//!
//! Reading is lenient in the ways Go is: `null` where a list or map is
//! expected means empty, and docker's `strslice` accepts a bare string.

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};
use std::collections::BTreeSet;
use std::fmt;
use std::io;

/// How a document is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonStyle {
    /// `json.Marshal`: no whitespace. Image configs are written this way.
    Compact,
    /// `json.MarshalIndent(v, "", "  ")`: BuildKit's layout for manifests
    /// and indexes.
    Indented,
}

/// Serializes `value` with Go's escaping and the given layout.
pub fn to_go_json<T: Serialize + ?Sized>(value: &T, style: JsonStyle) -> Vec<u8> {
    let mut out = Vec::new();
    let result = match style {
        JsonStyle::Compact => {
            let mut ser =
                serde_json::Serializer::with_formatter(&mut out, GoEscape(CompactFormatter));
            value.serialize(&mut ser)
        }
        JsonStyle::Indented => {
            let formatter = GoEscape(PrettyFormatter::with_indent(b"  "));
            let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
            value.serialize(&mut ser)
        }
    };
    // Writing to a Vec cannot fail, and every type in this crate has string
    // map keys, the only other way serde_json can refuse a value.
    result.expect("serializing an OCI document to memory cannot fail");
    out
}

/// Wraps a formatter so strings are escaped as Go's HTML-safe encoder does.
struct GoEscape<F>(F);

impl<F: Formatter> Formatter for GoEscape<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (at, c) in fragment.char_indices() {
            let escaped: &[u8] = match c {
                '<' => b"\\u003c",
                '>' => b"\\u003e",
                '&' => b"\\u0026",
                '\u{2028}' => b"\\u2028",
                '\u{2029}' => b"\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..at])?;
            writer.write_all(escaped)?;
            start = at + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    // The structural methods are delegated so the wrapped layout holds.
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// `null` or absent reads as the type's default (Go decodes `null` into a
/// nil slice or map; docker writes `"Env": null` for unset lists).
pub(crate) fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// docker's `strslice.StrSlice`: a list of strings, a single string (older
/// images), or `null`.
pub(crate) fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct StrSlice;
    impl<'de> Visitor<'de> for StrSlice {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string, a list of strings or null")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(StrSlice)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element::<String>()? {
                out.push(item);
            }
            Ok(out)
        }
    }
    d.deserialize_any(StrSlice)
}

/// A set written as an object of empty objects (`{"80/tcp":{}}`), Go's
/// `map[string]struct{}`: docker's `ExposedPorts` and `Volumes`.
pub(crate) mod set_as_object {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        set: &BTreeSet<String>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(set.len()))?;
        for key in set {
            map.serialize_entry(key, &EmptyObject)?;
        }
        map.end()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeSet<String>, D::Error> {
        struct SetVisitor;
        impl<'de> Visitor<'de> for SetVisitor {
            type Value = BTreeSet<String>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object whose keys are the set's members, or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(BTreeSet::new())
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(BTreeSet::new())
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(SetVisitor)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeSet::new();
                // The values carry nothing (Go's struct{}); accept anything.
                while let Some((key, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                    out.insert(key);
                }
                Ok(out)
            }
        }
        d.deserialize_any(SetVisitor)
    }

    struct EmptyObject;

    impl Serialize for EmptyObject {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_map(Some(0))?.end()
        }
    }
}

/// A `serde_json::Value` written with object keys in byte order at every
/// depth, as Go writes `map[string]interface{}`, whether or not serde_json's
/// `preserve_order` feature is on somewhere in the build.
pub(crate) struct SortedValue<'a>(pub(crate) &'a serde_json::Value);

impl Serialize for SortedValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        match self.0 {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                let mut out = s.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    out.serialize_entry(key, &SortedValue(value))?;
                }
                out.end()
            }
            serde_json::Value::Array(items) => {
                let mut out = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&SortedValue(item))?;
                }
                out.end()
            }
            other => other.serialize(s),
        }
    }
}

/// A map of unmodelled fields, flattened into its parent with every nested
/// object sorted (see [`SortedValue`]).
pub(crate) fn sorted_extra<S: Serializer>(
    extra: &std::collections::BTreeMap<String, serde_json::Value>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(extra.len()))?;
    for (key, value) in extra {
        map.serialize_entry(key, &SortedValue(value))?;
    }
    map.end()
}

/// An empty list written as `null`, as Go writes a nil slice without
/// `omitempty` (docker's `RepoTags` for an untagged image).
pub(crate) fn empty_as_null<S: Serializer>(list: &[String], s: S) -> Result<S::Ok, S::Error> {
    if list.is_empty() {
        s.serialize_none()
    } else {
        list.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn escapes_like_go() {
        let value = BTreeMap::from([("a<b>", "x & y\u{2028}\n\t\"\\\u{1}\u{7f}é")]);
        let out = String::from_utf8(to_go_json(&value, JsonStyle::Compact)).unwrap();
        assert_eq!(
            out,
            r#"{"a\u003cb\u003e":"x \u0026 y\u2028\n\t\"\\\u0001"#.to_string() + "\u{7f}é\"}"
        );
    }

    #[test]
    fn sorted_value_sorts_at_every_depth() {
        let value: serde_json::Value =
            serde_json::from_str(r#"{"b":[{"z":1,"y":2}],"a":{"d":1,"c":null}}"#).unwrap();
        let out = to_go_json(&SortedValue(&value), JsonStyle::Compact);
        assert_eq!(out, br#"{"a":{"c":null,"d":1},"b":[{"y":2,"z":1}]}"#);
    }

    #[test]
    fn indented_layout_matches_marshal_indent() {
        let value = serde_json::json!({"a": [1, 2], "b": {}, "c": []});
        let out = String::from_utf8(to_go_json(&value, JsonStyle::Indented)).unwrap();
        assert_eq!(
            out,
            "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {},\n  \"c\": []\n}"
        );
    }
}
