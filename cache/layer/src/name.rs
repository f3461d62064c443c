//! Entry names as they appear in error messages: tar names are bytes, not
//! necessarily UTF-8, and may be hostile (control characters, escapes), so
//! they are shown quoted and escaped, never raw.

use std::fmt;

/// The path of a layer entry (as written in the tar, or relative to the
/// layer root), for error messages.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EntryName(Vec<u8>);

impl EntryName {
    /// Wraps raw name bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        EntryName(bytes.into())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for EntryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Quoted with control characters escaped; invalid UTF-8 as \xNN.
        match std::str::from_utf8(&self.0) {
            Ok(s) => write!(f, "{s:?}"),
            Err(_) => write!(f, "\"{}\"", self.0.escape_ascii()),
        }
    }
}

impl fmt::Debug for EntryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_quoted_and_escaped() {
        assert_eq!(EntryName::new("a/b").to_string(), "\"a/b\"");
        assert_eq!(EntryName::new("a\nb").to_string(), "\"a\\nb\"");
        assert_eq!(EntryName::new(&b"a\xffb"[..]).to_string(), "\"a\\xffb\"");
    }
}
