//! Reading ignore files: ignorefile.ReadAll's rules (and its test), plus errors with
//! line numbers.

use kiln_dockerignore::{IgnoreLine, Matcher, ParseError, PatternError, read_all};

fn patterns(content: &[u8]) -> Vec<String> {
    match read_all(content) {
        Ok(lines) => lines.into_iter().map(|l| l.pattern).collect(),
        Err(err) => panic!("read_all failed: {err}"),
    }
}

/// ignorefile_test.go TestReadAll.
#[test]
fn upstream_read_all() {
    let content =
        "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! ";
    assert_eq!(
        patterns(content.as_bytes()),
        [
            "test1",
            "test2",
            "a/file/here",
            "lastfile",
            "!inverted/abs/path",
            "!",
            "!"
        ]
    );
    assert_eq!(patterns(b""), Vec::<String>::new());
}

#[test]
fn line_numbers_count_every_line() {
    let lines = read_all(b"# header\n\nfirst\n  \nsecond\n").ok();
    assert_eq!(
        lines,
        Some(vec![
            IgnoreLine {
                number: 3,
                pattern: "first".to_owned()
            },
            IgnoreLine {
                number: 5,
                pattern: "second".to_owned()
            },
        ])
    );
}

#[test]
fn comments_only_in_column_one() {
    assert_eq!(
        patterns(b"#comment\n  # not a comment\n#!also comment\n\t#x"),
        ["# not a comment", "#x"]
    );
}

#[test]
fn bom_is_dropped_only_at_the_start() {
    assert_eq!(patterns(b"\xEF\xBB\xBFfoo\nbar"), ["foo", "bar"]);
    // With the BOM gone the first line can be a comment.
    assert_eq!(patterns(b"\xEF\xBB\xBF# comment\nbar"), ["bar"]);
    // A BOM later in the file is not whitespace: it stays part of the pattern.
    assert_eq!(patterns("a\n\u{FEFF}b".as_bytes()), ["a", "\u{FEFF}b"]);
}

#[test]
fn crlf_and_trimming() {
    assert_eq!(
        patterns(b"foo\r\n  bar  \r\n\tbaz\t\r\n#c\r\n\r\nqux"),
        ["foo", "bar", "baz", "qux"]
    );
    // Unicode whitespace is trimmed as Go's strings.TrimSpace does.
    assert_eq!(patterns("\u{A0}foo\u{3000}".as_bytes()), ["foo"]);
}

#[test]
fn exceptions_are_trimmed_and_cleaned() {
    assert_eq!(
        patterns(b"!  /a/../b/\n!./c//d\n  !e\n!!f\n!/\n"),
        ["!b", "!c/d", "!e", "!!f", "!/"]
    );
}

#[test]
fn paths_are_cleaned_and_unrooted() {
    assert_eq!(
        patterns(b"/foo/bar/\n./a/./b\nx//y\na/b/..\n/\n.\n..\n/../z\n../up\n**/\n"),
        [
            "foo/bar", "a/b", "x/y", "a", "/", ".", "..", "z", "../up", "**"
        ]
    );
}

#[test]
fn non_utf8_comment_is_fine_but_pattern_is_not() {
    assert_eq!(patterns(b"# caf\xE9\nok"), ["ok"]);
    assert_eq!(
        read_all(b"ok\nbad\xFF\n"),
        Err(ParseError::NotUtf8 { line: 2 })
    );
}

#[test]
fn parse_errors_name_line_and_pattern() {
    let cases: [(&[u8], usize, &str, PatternError); 5] = [
        (b"ok\n# c\n!\n", 3, "!", PatternError::EmptyException),
        (b"!   \n", 1, "!", PatternError::EmptyException),
        (b"a\n!/\n", 2, "!/", PatternError::EmptyException),
        (b"\n\nsrc/[a-\n", 3, "src/[a-", PatternError::UnclosedClass),
        (b"x\\\n", 1, "x\\", PatternError::TrailingBackslash),
    ];
    for (content, line, pattern, source) in cases {
        assert_eq!(
            Matcher::parse(content).err(),
            Some(ParseError::InvalidPattern {
                line,
                pattern: pattern.to_owned(),
                source,
            }),
            "{:?}",
            String::from_utf8_lossy(content)
        );
    }
    let shown = Matcher::parse(b"a\n[z-a]\n").err().map(|e| e.to_string());
    assert_eq!(
        shown.as_deref(),
        Some("line 2: invalid pattern `[z-a]`: character range `z-a` is out of order")
    );
}

#[test]
fn parsed_file_matches() {
    let file = b"\xEF\xBB\xBF# build outputs\r\ntarget/\r\n*.log\r\n!keep.log\r\n  /docs/**  \r\n";
    let m = match Matcher::parse(file) {
        Ok(m) => m,
        Err(err) => panic!("{err}"),
    };
    let shown: Vec<String> = m.patterns().iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["target", "*.log", "!keep.log", "docs/**"]);
    assert!(m.has_exceptions());
    assert!(m.matches("target/debug/kiln"));
    assert!(m.matches("build.log"));
    assert!(!m.matches("keep.log"));
    assert!(!m.matches("sub/build.log"));
    assert!(m.matches("docs/index.md"));
    assert!(!m.matches("docs"));
    assert!(!m.matches("src/main.rs"));
}

#[test]
fn empty_file_excludes_nothing() {
    for content in [&b""[..], b"\n\n", b"# only comments\n", b"\xEF\xBB\xBF"] {
        let m = Matcher::parse(content).ok();
        assert_eq!(m.as_ref().map(Matcher::is_empty), Some(true));
        assert_eq!(m.map(|m| m.matches("anything")), Some(false));
    }
}
