//! BuildKit's AST dump: one `(keyword ["--flags"] "arg" ...)` line per
//! instruction, strings quoted as Go's `strconv.Quote` quotes them. This is
//! the format of BuildKit's parser test results (`FORMAT.md` §1.1–1.2), and
//! what `kiln parse --dump` prints.

use crate::ast::{Args, Dockerfile, Instruction};
use std::fmt::Write as _;
use unicode_general_category::{GeneralCategory, get_general_category};

/// The dump of a whole file: one line per instruction, each ending in LF.
pub fn dump(dockerfile: &Dockerfile) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for instruction in &dockerfile.instructions {
        line.clear();
        dump_instruction(&mut line, instruction);
        // Go's Dump trims the node's text: an empty keyword gives `("")`.
        out.push('(');
        out.push_str(line.trim());
        out.push_str(")\n");
    }
    out
}

fn dump_instruction(out: &mut String, instruction: &Instruction) {
    out.push_str(&instruction.keyword_lower());
    if !instruction.flags.is_empty() {
        out.push_str(" [");
        for (i, flag) in instruction.flags.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            go_quote_into(out, &flag.text);
        }
        out.push(']');
    }
    dump_args(out, &instruction.args);
}

fn dump_args(out: &mut String, args: &Args) {
    let arg = |out: &mut String, s: &str| {
        out.push(' ');
        go_quote_into(out, s);
    };
    match args {
        Args::None => {}
        Args::Ignored => arg(out, ""),
        Args::Text(word) => arg(out, &word.value),
        Args::Json(words) | Args::List(words) => {
            for word in words {
                arg(out, &word.value);
            }
        }
        Args::Pairs { legacy, pairs } => {
            let marker = if *legacy { "" } else { "=" };
            for pair in pairs {
                arg(out, &pair.key.value);
                arg(out, &pair.value.value);
                arg(out, marker);
            }
        }
        Args::Healthcheck { kind, command } => {
            arg(out, &kind.value);
            dump_args(out, command);
        }
        Args::Nested(inner) => {
            out.push_str(" (");
            dump_instruction(out, inner);
            out.push(')');
        }
    }
}

/// `s` quoted as Go's `strconv.Quote` does it.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    go_quote_into(&mut out, s);
    out
}

fn go_quote_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols
/// and the ASCII space; no other space, control or unassigned character.
fn is_go_printable(c: char) -> bool {
    use GeneralCategory as G;
    if c == ' ' {
        return true;
    }
    matches!(
        get_general_category(c),
        G::UppercaseLetter
            | G::LowercaseLetter
            | G::TitlecaseLetter
            | G::ModifierLetter
            | G::OtherLetter
            | G::NonspacingMark
            | G::SpacingMark
            | G::EnclosingMark
            | G::DecimalNumber
            | G::LetterNumber
            | G::OtherNumber
            | G::ConnectorPunctuation
            | G::DashPunctuation
            | G::OpenPunctuation
            | G::ClosePunctuation
            | G::InitialPunctuation
            | G::FinalPunctuation
            | G::OtherPunctuation
            | G::MathSymbol
            | G::CurrencySymbol
            | G::ModifierSymbol
            | G::OtherSymbol
    )
}

#[cfg(test)]
mod tests {
    use super::go_quote;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("a \"b\" \\"), r#""a \"b\" \\""#);
        assert_eq!(go_quote("\0\u{7f}\t\n\u{b}"), r#""\x00\x7f\t\n\v""#);
        assert_eq!(go_quote("♥☃ é"), "\"♥☃ é\"");
        assert_eq!(
            go_quote("\u{a0}\u{200b}\u{feff}"),
            r#""\u00a0\u200b\ufeff""#
        );
        assert_eq!(go_quote("\u{e0001}"), r#""\U000e0001""#);
    }
}
