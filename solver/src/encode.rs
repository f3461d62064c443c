//! The primitives of the canonical encoding vertex digests are computed
//! over: a byte layout where no two different values can produce the same
//! bytes.
//!
//! The rules that make it unambiguous: integers are fixed-width big-endian;
//! every string, byte string and list carries its length first; every enum
//! variant and every `Option` carries a tag byte. Callers write fields in a
//! fixed order. Nothing here looks at `Debug`, std `Hash` or map order, whose
//! output may change between Rust versions or runs.
//!
//! This module knows no ops; [`crate::digest`] decides what is written.

/// Canonical bytes being built.
#[derive(Default)]
pub(crate) struct Encoder {
    bytes: Vec<u8>,
}

impl Encoder {
    /// An encoder whose output starts with `version`, so that bytes from
    /// two encoding versions can never collide.
    pub(crate) fn new(version: &str) -> Encoder {
        let mut encoder = Encoder::default();
        encoder.str(version);
        encoder
    }

    /// An enum variant's (or `Option`'s) tag.
    pub(crate) fn tag(&mut self, tag: u8) {
        self.bytes.push(tag);
    }

    pub(crate) fn bool(&mut self, value: bool) {
        self.bytes.push(u8::from(value));
    }

    pub(crate) fn u32(&mut self, value: u32) {
        self.bytes.extend_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn u64(&mut self, value: u64) {
        self.bytes.extend_from_slice(&value.to_be_bytes());
    }

    /// A length or index, as 8 bytes whatever the host's pointer width, so
    /// a 32-bit and a 64-bit host agree.
    pub(crate) fn usize(&mut self, value: usize) {
        // usize is at most 64 bits on every target Rust supports.
        self.u64(value as u64);
    }

    /// Length-prefixed bytes.
    pub(crate) fn bytes(&mut self, value: &[u8]) {
        self.usize(value.len());
        self.bytes.extend_from_slice(value);
    }

    /// A length-prefixed UTF-8 string.
    pub(crate) fn str(&mut self, value: &str) {
        self.bytes(value.as_bytes());
    }

    /// A count-prefixed list, each item written by `item`.
    pub(crate) fn list<T>(&mut self, items: &[T], mut item: impl FnMut(&mut Encoder, &T)) {
        self.usize(items.len());
        for value in items {
            item(self, value);
        }
    }

    /// A count-prefixed list of strings.
    pub(crate) fn strs(&mut self, items: &[String]) {
        self.list(items, |e, s| e.str(s));
    }

    /// Tag 0 for `None`; tag 1 then the value for `Some`.
    pub(crate) fn option<T>(&mut self, value: Option<&T>, some: impl FnOnce(&mut Encoder, &T)) {
        match value {
            None => self.tag(0),
            Some(value) => {
                self.tag(1);
                some(self, value);
            }
        }
    }

    /// The bytes written.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::Encoder;

    #[test]
    fn layout_is_length_prefixed_big_endian() {
        let mut e = Encoder::new("v");
        e.tag(7);
        e.bool(true);
        e.u32(0x0102_0304);
        e.strs(&["ab".to_string()]);
        e.option(None::<&u32>, |e, v| e.u32(*v));
        e.option(Some(&5u32), |e, v| e.u32(*v));
        let expected: Vec<u8> = [
            &[0, 0, 0, 0, 0, 0, 0, 1, b'v'][..],
            &[7, 1, 1, 2, 3, 4],
            &[0, 0, 0, 0, 0, 0, 0, 1],
            &[0, 0, 0, 0, 0, 0, 0, 2, b'a', b'b'],
            &[0],
            &[1, 0, 0, 0, 5],
        ]
        .concat();
        assert_eq!(e.into_bytes(), expected);
    }

    #[test]
    fn list_boundaries_are_unambiguous() {
        let encode = |items: &[&str]| {
            let mut e = Encoder::new("v");
            let items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
            e.strs(&items);
            e.into_bytes()
        };
        assert_ne!(encode(&["ab"]), encode(&["a", "b"]));
        assert_ne!(encode(&["", "a"]), encode(&["a", ""]));
        assert_ne!(encode(&[]), encode(&[""]));
    }
}
