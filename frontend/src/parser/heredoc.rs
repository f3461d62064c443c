//! Heredocs: finding `<<EOF` markers in an instruction's text and reading
//! their bodies from the lines that follow it.
//!
//! Markers are found as BuildKit finds them: the logical line is split into
//! shell words (quotes and escapes kept raw, nothing expanded, always with
//! `\` as the escape), and each word matching `^(\d*)<<(-?)\s*([^<]*)$`
//! whose remainder is a single shell word is a marker. The delimiter is
//! that word with its quotes removed; if quoting removed anything, the body
//! is not expanded later.

use super::error::ParseErrorKind;
use super::lines::{Lines, PhysicalLine};
use crate::ast::Heredoc;
use crate::source::LineIndex;

/// A heredoc marker found in an instruction line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Marker {
    pub name: String,
    pub fd: u32,
    pub expand: bool,
    pub chomp: bool,
}

/// Splits `text` into shell words with BuildKit's lexer settings for
/// heredoc detection.
fn lex_words(text: &str, raw_quotes: bool, raw_escapes: bool) -> Result<Vec<String>, String> {
    let lexer = kiln_shell::Lexer::new('\\')
        .with_raw_quotes(raw_quotes)
        .with_raw_escapes(raw_escapes)
        .with_skip_unset_env(true);
    let no_variables: [(&str, &str); 0] = [];
    lexer
        .process_words(text, &no_variables[..])
        .map(|words| words.value)
        .map_err(|e| e.to_string())
}

/// The heredoc markers of an instruction's text, in order. A line the lexer
/// cannot split (an unbalanced quote) has none, as in BuildKit.
pub(crate) fn markers(line: &str) -> Result<Vec<Marker>, ParseErrorKind> {
    if !line.contains("<<") {
        return Ok(Vec::new());
    }
    let glue = Glue::for_line(line);
    let Ok(words) = lex_words(&glue.apply(line), true, true) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for word in words {
        let word = glue.undo(&word);
        if let Some(marker) = marker(&word)? {
            found.push(marker);
        }
    }
    Ok(found)
}

/// Stand-ins for the blanks right after `<<` or `<<-`: BuildKit keeps
/// `<<  EOF` and `<< -EOF` as one word (delimiters `EOF` and `-EOF`), so
/// those blanks must not split words while the line is lexed. The stand-ins
/// are private-use characters chosen so that they do not occur in the line.
struct Glue {
    space: char,
    tab: char,
}

impl Glue {
    fn for_line(line: &str) -> Glue {
        let mut free = ('\u{e000}'..='\u{f8ff}').filter(|c| !line.contains(*c));
        // A line cannot hold all 6,400 private-use characters and still be
        // short enough to matter; fall back to ones that only risk a
        // heredoc marker being missed.
        let space = free.next().unwrap_or('\u{f8f0}');
        let tab = free.next().unwrap_or('\u{f8f1}');
        Glue { space, tab }
    }

    /// `line` with the blanks after each `<<`/`<<-` replaced by stand-ins.
    fn apply(&self, line: &str) -> String {
        let mut out = String::with_capacity(line.len());
        let mut rest = line;
        while let Some(at) = rest.find("<<") {
            let (before, after) = rest.split_at(at + 2);
            out.push_str(before);
            let after = match after.strip_prefix('-') {
                Some(tail) => {
                    out.push('-');
                    tail
                }
                None => after,
            };
            let blanks = after.len() - after.trim_start_matches([' ', '\t']).len();
            out.extend(
                after[..blanks]
                    .chars()
                    .map(|c| if c == ' ' { self.space } else { self.tab }),
            );
            rest = &after[blanks..];
        }
        out.push_str(rest);
        out
    }

    /// `word` with the stand-ins turned back into blanks.
    fn undo(&self, word: &str) -> String {
        word.chars()
            .map(|c| match c {
                c if c == self.space => ' ',
                c if c == self.tab => '\t',
                c => c,
            })
            .collect()
    }
}

/// Reads one word as a heredoc marker (BuildKit's `ParseHeredoc`).
pub(crate) fn marker(word: &str) -> Result<Option<Marker>, ParseErrorKind> {
    let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let Some(rest) = word[digits..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    // Go's `\s`: ASCII blanks without the vertical tab.
    let rest = rest.trim_start_matches([' ', '\t', '\n', '\u{c}', '\r']);
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let invalid = |reason: String| ParseErrorKind::InvalidHeredoc {
        word: word.to_string(),
        reason,
    };
    let words = lex_words(rest, false, false).map_err(invalid)?;
    let [name] = words.as_slice() else {
        return Ok(None);
    };
    let raw = lex_words(rest, true, false).map_err(invalid)?;
    let [raw] = raw.as_slice() else {
        return Err(invalid(
            "lexing with and without quotes disagrees".to_string(),
        ));
    };
    let quotes = |s: &str| s.chars().filter(|&c| c == '\'' || c == '"').count();
    Ok(Some(Marker {
        name: name.clone(),
        // Digits beyond u32 cannot name a descriptor; BuildKit ignores
        // the parse error and uses 0.
        fd: word[..digits].parse().unwrap_or(0),
        expand: quotes(name) == quotes(raw),
        chomp,
    }))
}

/// Reads the body of `marker` from the next lines, up to its terminator.
/// Returns the heredoc and the terminator line.
pub(crate) fn read_body(
    lines: &mut Lines<'_>,
    source: &str,
    index: &LineIndex,
    marker: Marker,
) -> Result<(Heredoc, PhysicalLine), ParseErrorKind> {
    let mut content = String::new();
    let mut body_start = None;
    for line in lines.by_ref() {
        let start = *body_start.get_or_insert(line.start);
        let text = &source[line.start..line.content_end];
        let candidate = if marker.chomp {
            text.trim_start_matches('\t')
        } else {
            text
        };
        if candidate == marker.name {
            let heredoc = Heredoc {
                name: marker.name,
                fd: marker.fd,
                expand: marker.expand,
                chomp: marker.chomp,
                content,
                span: index.span(source, start, line.content_end),
            };
            return Ok((heredoc, line));
        }
        content.push_str(&source[line.start..line.end]);
    }
    Err(ParseErrorKind::UnterminatedHeredoc(marker.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(word: &str) -> Option<String> {
        marker(word).unwrap().map(|m| m.name)
    }

    #[test]
    fn marker_words() {
        for valid in [
            "<<EOF",
            "<<'EOF'",
            "<<\"EOF\"",
            "<<-EOF",
            "<<-'EOF'",
            "<<-\"EOF\"",
            "<<EO\"F\"",
            "<< EOF",
            "<<- EOF",
        ] {
            assert_eq!(name(valid).as_deref(), Some("EOF"), "{valid}");
        }
        for invalid in ["<<'EOF", "<<\"EOF", "<<EOF'", "<<EOF\""] {
            assert!(marker(invalid).is_err(), "{invalid}");
        }
        for not in ["", "EOF", "<<", "<<-", "<EOF", "<<<EOF", "<<EOF sh"] {
            assert_eq!(name(not), None, "{not}");
        }
    }

    #[test]
    fn marker_flags() {
        let m = marker("3<<-'E'O").unwrap().unwrap();
        assert_eq!(
            (m.name.as_str(), m.fd, m.chomp, m.expand),
            ("EO", 3, true, false)
        );
        let m = marker("<<eo\\'f").unwrap().unwrap();
        assert_eq!((m.name.as_str(), m.expand), ("eo'f", true));
    }

    #[test]
    fn markers_in_lines() {
        let names = |line: &str| -> Vec<String> {
            markers(line).unwrap().into_iter().map(|m| m.name).collect()
        };
        assert_eq!(names("RUN <<EOF"), ["EOF"]);
        assert_eq!(names("RUN <<- EOF"), ["EOF"]);
        assert_eq!(names("RUN << -EOF"), ["-EOF"]);
        assert_eq!(names("RUN 4<<EOF"), ["EOF"]);
        assert_eq!(names("RUN <<EOF <<EOF2"), ["EOF", "EOF2"]);
        assert_eq!(names("RUN cat <<'EOF' > f"), ["EOF"]);
        assert!(names("RUN '<<EOF'").is_empty());
        assert!(names("RUN \"<<EOF\"").is_empty());
        assert!(names("RUN <<'EOF").is_empty());
    }
}
