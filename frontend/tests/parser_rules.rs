//! Parser rules beyond BuildKit's data files: BOM, CRLF, keyword case,
//! directives only at the top, ONBUILD nesting, JSON errors, spans.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use kiln_frontend::ast::Args;
use kiln_frontend::dump::dump;
use kiln_frontend::{ParseErrorKind, parse};

fn dumped(text: &[u8]) -> String {
    dump(&parse(text).unwrap())
}

#[test]
fn bom_crlf_and_keyword_case() {
    assert_eq!(
        dumped(b"\xEF\xBB\xBFfRoM a\r\nrun b \\\r\n  c\r\n"),
        "(from \"a\")\n(run \"b   c\")\n"
    );
}

#[test]
fn directives_only_in_the_leading_comment_block() {
    let file = parse(b"# syntax=docker/dockerfile:1\n# escape=`\nFROM a\nRUN b `\n c\n").unwrap();
    assert_eq!(file.escape, '`');
    assert_eq!(
        file.directive("syntax").unwrap().value,
        "docker/dockerfile:1"
    );
    assert_eq!(dump(&file), "(from \"a\")\n(run \"b  c\")\n");

    let late = parse(b"FROM a\n# escape=`\nRUN b `\n").unwrap();
    assert_eq!(late.escape, '\\');
    let after_blank = parse(b"\n# escape=`\nFROM a\n").unwrap();
    assert_eq!(after_blank.escape, '\\');
    let check = parse(b"# check=skip=all\nFROM a\n").unwrap();
    assert_eq!(check.directive("check").unwrap().value, "skip=all");
}

#[test]
fn bad_directives_fail_with_their_line() {
    let err = parse(b"# escape=x\nFROM a\n").unwrap_err();
    assert!(matches!(err.kind, ParseErrorKind::InvalidEscape(_)));
    assert_eq!((err.span.line, err.span.column), (1, 1));
    let err = parse(b"# escape=`\n# escape=`\nFROM a\n").unwrap_err();
    assert!(matches!(err.kind, ParseErrorKind::RepeatedDirective(_)));
    assert_eq!(err.span.line, 2);
}

#[test]
fn onbuild_nests_an_instruction_with_flags() {
    let file = parse(b"FROM a\nONBUILD COPY --from=b x y\nONBUILD\n").unwrap();
    assert_eq!(
        dump(&file),
        "(from \"a\")\n(onbuild (copy [\"--from=b\"] \"x\" \"y\"))\n(onbuild)\n"
    );
    let Args::Nested(inner) = &file.instructions[1].args else {
        panic!("not nested")
    };
    assert_eq!(inner.flags[0].name(), "from");
    assert_eq!(inner.flags[0].value(), Some("b"));
    assert_eq!(inner.keyword.span.column, 9);
}

#[test]
fn json_with_non_strings_is_an_error_and_invalid_json_falls_back() {
    let err = parse(b"FROM a\nCMD [\"a\", 1]\n").unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::JsonNotStrings);
    assert_eq!(err.span.line, 2);
    assert_eq!(
        dumped(b"FROM a\nCMD ['a']\n"),
        "(from \"a\")\n(cmd \"['a']\")\n"
    );
    assert_eq!(
        dumped(b"FROM a\nCOPY [\"a b\", \"c\"]\nVOLUME [\"/v\"]\n"),
        "(from \"a\")\n(copy \"a b\" \"c\")\n(volume \"/v\")\n"
    );
}

#[test]
fn spans_point_at_words_through_continuations() {
    let text = "FROM a\nCOPY --chmod=755 \\\n    src \\\n  dst\n";
    let file = parse(text.as_bytes()).unwrap();
    let copy = &file.instructions[1];
    let flag = &copy.flags[0];
    assert_eq!((flag.span.line, flag.span.column), (2, 6));
    assert_eq!(&text[flag.span.range()], "--chmod=755");
    let Args::List(words) = &copy.args else {
        panic!("not a list")
    };
    assert_eq!((words[0].span.line, words[0].span.column), (3, 5));
    assert_eq!((words[1].span.line, words[1].span.column), (4, 3));
    assert_eq!(&text[words[1].span.range()], "dst");
    assert_eq!((copy.span.line, copy.span.end_line), (2, 4));
}

#[test]
fn env_pair_spans() {
    let text = "FROM a\nENV A=1 B=\"x y\"\n";
    let file = parse(text.as_bytes()).unwrap();
    let Args::Pairs { pairs, legacy } = &file.instructions[1].args else {
        panic!("not pairs")
    };
    assert!(!legacy);
    assert_eq!(&text[pairs[1].key.span.range()], "B");
    assert_eq!(&text[pairs[1].value.span.range()], "\"x y\"");
}

#[test]
fn env_without_equals_in_a_later_word_fails() {
    let err = parse(b"FROM a\nENV A=1 B\n").unwrap_err();
    assert!(matches!(err.kind, ParseErrorKind::MissingEquals { .. }));
    assert_eq!((err.span.line, err.span.column), (2, 9));
}

#[test]
fn invalid_utf8_inside_an_instruction_is_an_error_but_not_in_a_comment() {
    assert!(parse(b"# caf\xe9\nFROM a\n").is_ok());
    let err = parse(b"FROM a\nRUN echo caf\xe9\n").unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::InvalidUtf8);
    assert_eq!(err.span.line, 2);
}

#[test]
fn unknown_instructions_parse_and_keep_their_keyword() {
    let file = parse(b"FROM a\nFOO bar\n").unwrap();
    assert_eq!(dump(&file), "(from \"a\")\n(foo \"\")\n");
    assert_eq!(file.instructions[1].keyword.value, "FOO");
}

#[test]
fn deep_nesting_fails_cleanly_instead_of_overflowing_the_stack() {
    let onbuild = format!("FROM a\n{}RUN x\n", "ONBUILD ".repeat(5000));
    let err = parse(onbuild.as_bytes()).unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::OnbuildTooDeep);
    let nested = format!(
        "FROM a\nRUN echo {}x{} <<EOF\nbody\nEOF\n",
        "${a:-".repeat(3000),
        "}".repeat(3000)
    );
    // The lexer gives up on the line, so no heredoc is found; no crash.
    let file = parse(nested.as_bytes()).unwrap();
    assert!(file.instructions[1].heredocs.is_empty());
    let two = parse(b"FROM a\nONBUILD ONBUILD RUN x\n").unwrap();
    assert_eq!(
        dump(&two),
        "(from \"a\")\n(onbuild (onbuild (run \"x\")))\n"
    );
}

#[test]
fn invalid_utf8_in_a_comment_inside_a_continuation_is_fine() {
    let file = parse(b"FROM a\nRUN a \\\n# caf\xe9\n  b\n").unwrap();
    assert_eq!(dump(&file), "(from \"a\")\n(run \"a   b\")\n");
}

#[test]
fn an_empty_instruction_points_at_its_own_line() {
    let file = parse(b"FROM a\n\\\n\n").unwrap();
    assert_eq!(dump(&file), "(from \"a\")\n(\"\")\n");
    assert_eq!(file.instructions[1].keyword.span.line, 2);
}

#[test]
fn flags_always_escape_with_backslash() {
    let file = parse(b"# escape=`\nFROM a\nCOPY --chown=a\\b --chmod=1`2 x y\n").unwrap();
    let copy = &file.instructions[1];
    assert_eq!(copy.flags[0].text, "--chown=ab");
    assert_eq!(copy.flags[1].text, "--chmod=1`2");
}
