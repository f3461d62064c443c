//! Reading an ignore file into pattern lines, as moby/patternmatcher's
//! `ignorefile.ReadAll` does.
//!
//! Only the line rules live here; whether a pattern is valid is `pattern`'s business,
//! exactly as upstream splits `ReadAll` from `patternmatcher.New`.

use crate::error::ParseError;
use kiln_rootpath::clean;

/// The UTF-8 byte order mark; editors on Windows like to start files with it.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One pattern line of an ignore file, normalised the way `ReadAll` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreLine {
    /// 1-based line number in the file, counting comments and blank lines.
    pub number: usize,
    /// The pattern: trimmed, cleaned, leading `/` removed, with a leading `!` kept for
    /// an exception (`!` alone when nothing follows it; compiling that is an error).
    pub pattern: String,
}

/// Splits an ignore file into its pattern lines, following ignorefile.ReadAll:
///
/// - a UTF-8 BOM at the start of the file is dropped;
/// - lines end at `\n`, and one `\r` before it is dropped (CRLF files);
/// - a line whose first byte is `#` is a comment; a `#` after leading whitespace is not
///   (upstream checks for comments before trimming);
/// - surrounding whitespace is trimmed and blank lines are skipped;
/// - a leading `!` marks an exception, and the rest is trimmed again;
/// - the pattern is cleaned like Go's `filepath.Clean` and a leading `/` is removed,
///   since every pattern is relative to the context root.
///
/// Comment lines may hold any bytes; a pattern line that is not UTF-8 is an error,
/// because paths are matched as UTF-8 text here.
pub fn read_all(content: &[u8]) -> Result<Vec<IgnoreLine>, ParseError> {
    let content = content.strip_prefix(UTF8_BOM).unwrap_or(content);
    let mut lines = Vec::new();
    for (index, raw) in content.split(|b| *b == b'\n').enumerate() {
        let number = index + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.starts_with(b"#") {
            continue;
        }
        let text = std::str::from_utf8(raw).map_err(|_| ParseError::NotUtf8 { line: number })?;
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        lines.push(IgnoreLine {
            number,
            pattern: normalize(text),
        });
    }
    Ok(lines)
}

/// Applies ReadAll's per-line normalisation to an already trimmed, non-empty line.
/// Idempotent, so patterns that went through it once may go through it again.
pub(crate) fn normalize(trimmed: &str) -> String {
    match trimmed.strip_prefix('!') {
        Some(rest) => format!("!{}", normalize_body(rest.trim())),
        None => normalize_body(trimmed),
    }
}

fn normalize_body(body: &str) -> String {
    if body.is_empty() {
        return String::new();
    }
    let cleaned = clean(body);
    // `/foo` and `foo` are the same pattern: the context root is the only root there is.
    // A lone `/` stays, as upstream leaves it (it then matches nothing).
    match cleaned.strip_prefix('/') {
        Some(rest) if !rest.is_empty() => rest.to_owned(),
        _ => cleaned,
    }
}
