//! Tests of the public behaviour that BuildKit checks only in Go code
//! (`frontend/dockerfile/shell/lex_test.go`): glob operators, `?` messages,
//! variable tracking, and the lexer options. The shared tables run in
//! `tests/conformance.rs`.

use std::collections::{BTreeMap, BTreeSet};

use crate::{ExpandError, Expansion, Lexer, PatternError};

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn word(input: &str, pairs: &[(&str, &str)]) -> Result<Expansion<String>, ExpandError> {
    Lexer::default().process_word(input, &env(pairs))
}

fn value(input: &str, pairs: &[(&str, &str)]) -> Result<String, ExpandError> {
    word(input, pairs).map(|e| e.value)
}

/// The cases of BuildKit's `TestProcessWithMatches`: result, used names and
/// unset names.
#[test]
fn results_and_tracked_names_match_buildkit() {
    struct Case {
        input: &'static str,
        env: &'static [(&'static str, &'static str)],
        want: &'static str,
        used: &'static [&'static str],
        unset: &'static [&'static str],
    }
    const FOO_BAR: &[(&str, &str)] = &[("FOO", "xxx"), ("BAR", "")];
    const XXYY: &[(&str, &str)] = &[("FOO", "xxyy")];
    #[rustfmt::skip]
    let cases = [
        Case { input: "x", env: &[("DUMMY", "dummy")], want: "x", used: &[], unset: &[] },
        Case { input: "x ${UNUSED}", env: &[("DUMMY", "dummy")], want: "x ", used: &[], unset: &["UNUSED"] },
        Case { input: "x ${FOO}", env: &[("FOO", "y")], want: "x y", used: &["FOO"], unset: &[] },
        Case { input: "${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", env: FOO_BAR, want: "xxx  ccc", used: &["FOO", "BAR"], unset: &["BAZ"] },
        Case { input: "${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", env: FOO_BAR, want: "xxx bbb ccc", used: &["FOO", "BAR"], unset: &["BAZ"] },
        Case { input: "${FOO:-}", env: FOO_BAR, want: "xxx", used: &["FOO"], unset: &[] },
        Case { input: "${FOO:-}", env: &[], want: "", used: &[], unset: &["FOO"] },
        Case { input: "${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", env: FOO_BAR, want: "aaa bbb ", used: &["FOO", "BAR"], unset: &["BAZ"] },
        Case { input: "${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", env: FOO_BAR, want: "aaa  ", used: &["FOO", "BAR"], unset: &["BAZ"] },
        Case { input: "${FOO?aaa}", env: FOO_BAR, want: "xxx", used: &["FOO"], unset: &[] },
        Case { input: "${BAR?bbb}", env: FOO_BAR, want: "", used: &["BAR"], unset: &[] },
        Case { input: "${FOO:?aaa}", env: FOO_BAR, want: "xxx", used: &["FOO"], unset: &[] },
        // Regex metacharacters are literal; `\}` gets a `}` into the pattern.
        Case { input: r"${FOO#()[]{\}^$.\*\?|\\}", env: &[("FOO", r"()[]{}^$.*?|\x")], want: "x", used: &["FOO"], unset: &[] },
        Case { input: r"${FOO%%\**}", env: &[("FOO", "xx**")], want: "xx", used: &["FOO"], unset: &[] },
        Case { input: "${FOO#*x*y}", env: XXYY, want: "y", used: &["FOO"], unset: &[] },
        Case { input: "${FOO#*}", env: XXYY, want: "xxyy", used: &["FOO"], unset: &[] },
        Case { input: "${FOO#$BAR}", env: &[("FOO", "xxyy"), ("BAR", "x")], want: "xyy", used: &["FOO", "BAR"], unset: &[] },
        Case { input: "${FOO#$BAR}", env: &[("FOO", "xxyy"), ("BAR", "")], want: "xxyy", used: &["FOO", "BAR"], unset: &[] },
        Case { input: "${FOO#}", env: XXYY, want: "xxyy", used: &["FOO"], unset: &[] },
        Case { input: "${FOO##*x}", env: XXYY, want: "yy", used: &["FOO"], unset: &[] },
        Case { input: "${FOO##}", env: XXYY, want: "xxyy", used: &["FOO"], unset: &[] },
        Case { input: r"${FOO#?\?}", env: &[("FOO", "???y")], want: "?y", used: &["FOO"], unset: &[] },
        Case { input: "${ABC:-.}${FOO%x}${ABC:-.}", env: XXYY, want: ".xxyy.", used: &["FOO"], unset: &["ABC"] },
        Case { input: r"${FOO%%\**\*}", env: &[("FOO", "a***yy*")], want: "a", used: &["FOO"], unset: &[] },
        Case { input: "${FOO%}", env: XXYY, want: "xxyy", used: &["FOO"], unset: &[] },
        Case { input: "${FOO%%$BAR}", env: &[("FOO", "xxyy"), ("BAR", "")], want: "xxyy", used: &["FOO", "BAR"], unset: &[] },
        Case { input: "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}", env: &[("FOO", "/foo*/*/*.txt"), ("NEEDLE", r"\*/")], want: "/foo.*/*.txt - /foo..*.txt", used: &["FOO", "NEEDLE"], unset: &[] },
        Case { input: "${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}", env: &[("FOO", "/tmp/tmp/bar.txt"), ("NEEDLE", "/tmp")], want: "/tmp/bar.txt - /bar.txt", used: &["FOO", "NEEDLE"], unset: &[] },
        Case { input: "${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}", env: &[("FOO", "/a/foo/b/c.txt"), ("NEEDLE", "/?/"), ("REPLACEMENT", "/")], want: "/foo/b/c.txt - /foo/c.txt", used: &["FOO", "NEEDLE", "REPLACEMENT"], unset: &[] },
        Case { input: "${FOO/$NEEDLE/$REPLACEMENT}", env: &[("FOO", "http://google.de"), ("NEEDLE", "http://"), ("REPLACEMENT", "https://")], want: "https://google.de", used: &["FOO", "NEEDLE", "REPLACEMENT"], unset: &[] },
        // The escapes of the replacement are kept.
        Case { input: r"${FOO//\//\/}", env: &[("FOO", "/tmp/foo.txt")], want: r"\/tmp\/foo.txt", used: &["FOO"], unset: &[] },
        Case { input: "${FOO/$BAR/ww}", env: &[("FOO", "xxyy"), ("BAR", "")], want: "wwxxyy", used: &["FOO", "BAR"], unset: &[] },
        Case { input: "${FOO///}", env: XXYY, want: "xxyy", used: &["FOO"], unset: &[] },
        Case { input: "${FOO///}", env: &[], want: "", used: &[], unset: &["FOO"] },
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let want = Expansion {
            value: case.want.to_owned(),
            used: names(case.used),
            unset: names(case.unset),
        };
        let got = word(case.input, case.env);
        if got.as_ref() != Ok(&want) {
            failures.push(format!("{:?}: want {want:?}, got {got:?}", case.input));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unsupported_and_incomplete_forms_are_errors() {
    let pairs = [("FOO", "xxyy"), ("BAR", "")];
    for input in [
        "${FOO=aaa}",
        "${FOO=:aaa}",
        "${FOO=}",
        "${FOO:=x}",
        "${FOO//ww}",
        "${FOO//}",
        "${BAZ?ccc}",
        "${BAR:?bbb}",
        "${BAZ:?ccc}",
        "${BAZ:?}",
        "${#FOO}",
        "${FOO:1:2}",
        "${FOO bar}",
    ] {
        assert!(value(input, &pairs).is_err(), "{input:?} should fail");
    }
    // `?` on an unset name is its own kind of error.
    let err = word("${BAZ?ccc}", &pairs);
    assert!(matches!(err, Err(ExpandError::Required { .. })));
}

#[test]
fn error_messages_name_the_offending_text() {
    let message = |input: &str| match value(input, &[("FOO", "x")]) {
        Err(err) => err.to_string(),
        Ok(v) => format!("no error, got {v:?}"),
    };
    assert_eq!(message("a${}b"), "bad substitution: ${}");
    assert_eq!(message("${{aaa}x"), "bad substitution: ${{aaa}");
    assert_eq!(message("${:-x}"), "bad substitution: ${:-x}");
    assert_eq!(message("he${FOO"), "missing '}' in ${FOO");
    assert_eq!(message("${FOO:-a ${b}"), "missing '}' in ${FOO:-a ${b}");
    assert_eq!(message("${FOO:"), "missing '}' in ${FOO:");
    assert_eq!(message("${"), "missing '}' in ${");
    assert_eq!(message("${FOO/x"), "missing '/' in ${FOO/x");
    assert_eq!(message(r#"x"abc"#), r#"unterminated double quote in "abc"#);
    assert_eq!(message("x'abc"), "unterminated single quote in 'abc");
    assert_eq!(
        message("${FOO:=1}z"),
        "unsupported modifier ':=' in ${FOO:=1}"
    );
    assert_eq!(message("${FOO:x}"), "unsupported modifier ':x' in ${FOO:x}");
    assert_eq!(message("${.}"), "unsupported modifier '.' in ${.}");
    assert_eq!(
        message(r"${FOO#\x}"),
        r"invalid pattern '\x' in ${FOO#\x}: invalid escape '\x'"
    );
    assert_eq!(
        message(r"${FOO/\a/b}"),
        r"invalid pattern '\a' in ${FOO/\a/b}: invalid escape '\a'"
    );
}

/// `${V?msg}` and `${V:?msg}`, as BuildKit's `TestShellParserMandatoryEnvVars`
/// and its default messages.
#[test]
fn required_variables_report_buildkit_messages() {
    let set = [("VAR", "plain"), ("ARG", "x")];
    let empty = [("VAR", ""), ("ARG", "x")];
    let unset = [("ARG", "x")];
    let no_empty = "${VAR:?message here$ARG}";
    let no_unset = "${VAR?message here$ARG}";
    let required = |message: &str| {
        Err(ExpandError::Required {
            name: "VAR".to_owned(),
            message: message.to_owned(),
        })
    };

    assert_eq!(value(no_empty, &set), Ok("plain".to_owned()));
    assert_eq!(value(no_empty, &empty), required("message herex"));
    assert_eq!(value(no_empty, &unset), required("message herex"));
    assert_eq!(value(no_unset, &set), Ok("plain".to_owned()));
    assert_eq!(value(no_unset, &empty), Ok(String::new()));
    assert_eq!(value(no_unset, &unset), required("message herex"));

    assert_eq!(
        value("${VAR?}", &unset),
        required("is not allowed to be unset")
    );
    assert_eq!(
        value("${VAR:?}", &unset),
        required("is not allowed to be unset")
    );
    assert_eq!(
        value("${VAR:?}", &empty),
        required("is not allowed to be empty")
    );
    assert_eq!(
        value("${VAR:?}", &empty).map_err(|e| e.to_string()),
        Err("VAR: is not allowed to be empty".to_owned())
    );
}

/// BuildKit's `TestProcessWithMatchesPlatform`: the release-file idiom.
#[test]
fn optional_suffix_idiom() {
    let release =
        "something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz";
    let base = [("VERSION", "v1.2.3"), ("TARGETOS", "linux")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let pairs: Vec<_> = base.iter().chain(extra).copied().collect();
        value(release, &pairs)
    };
    assert_eq!(
        with(&[("TARGETARCH", "arm"), ("TARGETVARIANT", "v7")]),
        Ok("something-v1.2.3.linux-arm-v7.tar.gz".to_owned())
    );
    assert_eq!(
        with(&[("TARGETARCH", "arm64"), ("TARGETVARIANT", "")]),
        Ok("something-v1.2.3.linux-arm64.tar.gz".to_owned())
    );
    assert_eq!(
        with(&[("TARGETARCH", "arm64")]),
        Ok("something-v1.2.3.linux-arm64.tar.gz".to_owned())
    );
}

#[test]
fn names_inside_unused_words_are_still_tracked() {
    // The word of `:-` is expanded even when the value is set, so the
    // result depends on nothing else, but BuildKit still reports the name.
    let got = word("${A:-$B}", &[("A", "1"), ("B", "2")]);
    assert_eq!(
        got,
        Ok(Expansion {
            value: "1".to_owned(),
            used: names(&["A", "B"]),
            unset: names(&[]),
        })
    );
    // Positional and special parameters are looked up like any name.
    let got = word("$1$@${#}$HOME'$NOT'", &[]);
    assert_eq!(got.map(|e| e.unset), Ok(names(&["1", "@", "#", "HOME"])));
    // Quoted `$` inside `"…"` expands and is tracked; escaped `$` is not.
    let got = word(r#""$A" \$B"#, &[("A", "")]);
    assert_eq!(
        got.map(|e| (e.value, e.used, e.unset)),
        Ok((" $B".to_owned(), names(&["A"]), names(&[])))
    );
}

#[test]
fn names_are_case_sensitive_and_unicode_aware() {
    let pairs = [("PWD", "/home"), ("이름", "값"), ("_x1", "y")];
    assert_eq!(value("$pwd|$PWD", &pairs), Ok("|/home".to_owned()));
    assert_eq!(value("$이름.$_x1-", &pairs), Ok("값.y-".to_owned()));
    // A name cannot start with a digit: `$1x` is `$1` then `x`.
    assert_eq!(value("$1x", &pairs), Ok("x".to_owned()));
    // Arabic-Indic digits are digits to Go's unicode.IsDigit.
    assert_eq!(value("$٣x", &pairs), Ok("x".to_owned()));
    // A combining mark is not a letter to Go, so it ends the name.
    assert_eq!(
        word("$A\u{301}", &[("A", "a")]).map(|e| (e.value, e.used)),
        Ok(("a\u{301}".to_owned(), names(&["A"])))
    );
}

#[test]
fn raw_quotes_keep_quote_characters() {
    let lexer = Lexer::default().with_raw_quotes(true);
    let pairs = env(&[("A", "a b")]);
    let got = lexer
        .process_word(r#"'$A' "$A" x"#, &pairs)
        .map(|e| e.value);
    assert_eq!(got, Ok(r#"'$A' "a b" x"#.to_owned()));
    let got = lexer
        .process_words(r#"'$A' "$A"x $A"#, &pairs)
        .map(|e| e.value);
    assert_eq!(
        got,
        Ok(vec![
            "'$A'".to_owned(),
            "\"a b\"x".to_owned(),
            "a".to_owned(),
            "b".to_owned()
        ])
    );
}

#[test]
fn raw_escapes_keep_escape_characters() {
    let lexer = Lexer::default().with_raw_escapes(true);
    let pairs = env(&[("A", "1")]);
    let got = lexer
        .process_word(r#"\$A \\ "\$A" \x"#, &pairs)
        .map(|e| e.value);
    assert_eq!(got, Ok(r#"\$A \\ \$A \x"#.to_owned()));
    // A trailing escape is kept, not dropped.
    assert_eq!(
        lexer.process_word("a\\", &pairs).map(|e| e.value),
        Ok("a\\".to_owned())
    );
    // The words of `-`, `+` and `?` are processed without raw escapes, as in
    // BuildKit.
    assert_eq!(
        lexer.process_word(r"${B:-\$A}", &pairs).map(|e| e.value),
        Ok("$A".to_owned())
    );
}

#[test]
fn skip_unset_env_leaves_references_as_written() {
    let lexer = Lexer::default().with_skip_unset_env(true);
    let pairs = env(&[("SET", "v"), ("EMPTY", "")]);
    let cases = [
        ("$SET-$UNSET", "v-$UNSET"),
        ("${SET}-${UNSET}", "v-${UNSET}"),
        ("${UNSET:-$SET}", "${UNSET:-v}"),
        ("${UNSET-x}", "${UNSET-x}"),
        ("${UNSET:+x}", "${UNSET:+x}"),
        ("${UNSET?must be set}", "${UNSET?must be set}"),
        ("${EMPTY:-d}", "d"),
        ("${UNSET##*/}", "${UNSET##*/}"),
        ("${UNSET/a/b}", "${UNSET/a/b}"),
        // BuildKit drops the second `/` here; kiln keeps it.
        ("${UNSET//a/b}", "${UNSET//a/b}"),
        ("${SET//v/w}", "w"),
        ("$1", "$1"),
    ];
    for (input, want) in cases {
        let got = lexer.process_word(input, &pairs).map(|e| e.value);
        assert_eq!(got, Ok(want.to_owned()), "input {input:?}");
    }
    // The raw-quotes + skip-unset pass that BuildKit's wordsTest loop means
    // to run.
    let lexer = lexer.with_raw_quotes(true);
    let got = lexer
        .process_words(r#"hel"lo${UNSET}" $SET"#, &pairs)
        .map(|e| e.value);
    assert_eq!(
        got,
        Ok(vec![r#"hel"lo${UNSET}""#.to_owned(), "v".to_owned()])
    );
}

#[test]
fn skip_process_quotes_makes_quotes_ordinary() {
    let lexer = Lexer::default().with_skip_process_quotes(true);
    let pairs = env(&[("A", "1")]);
    let got = lexer
        .process_word(r#"echo "$A" '$A' \$A"#, &pairs)
        .map(|e| e.value);
    assert_eq!(got, Ok(r#"echo "1" '1' $A"#.to_owned()));
    // An unbalanced quote is just a character.
    assert_eq!(
        lexer.process_word("it's", &pairs).map(|e| e.value),
        Ok("it's".to_owned())
    );
}

#[test]
fn glob_operators() {
    let pairs = [("P", "/usr/local/lib/file.tar.gz"), ("K", "한국어한국어")];
    let cases = [
        ("${P#*/}", "usr/local/lib/file.tar.gz"),
        ("${P##*/}", "file.tar.gz"),
        ("${P%.*}", "/usr/local/lib/file.tar"),
        ("${P%%.*}", "/usr/local/lib/file"),
        ("${P/l/L}", "/usr/Local/lib/file.tar.gz"),
        ("${P//l/L}", "/usr/LocaL/Lib/fiLe.tar.gz"),
        ("${P/#/x}", "/usr/local/lib/file.tar.gz"),
        ("${P#\"/usr\"}", "/local/lib/file.tar.gz"),
        ("${P//\\//:}", ":usr:local:lib:file.tar.gz"),
        ("${K#?}", "국어한국어"),
        ("${K%%국*}", "한"),
        ("${K//국/-}", "한-어한-어"),
        ("${MISSING##*}", ""),
        ("${P:#/usr}", "/local/lib/file.tar.gz"),
    ];
    for (input, want) in cases {
        assert_eq!(value(input, &pairs), Ok(want.to_owned()), "input {input:?}");
    }
    assert!(matches!(
        value(r"${P#a\}", &pairs),
        Err(ExpandError::MissingBrace { .. })
    ));
    assert_eq!(
        value("${P%$BAD}", &[("P", "x"), ("BAD", "ab\\")]),
        Err(ExpandError::InvalidPattern {
            pattern: "ab\\".to_owned(),
            text: "${P%$BAD}".to_owned(),
            reason: PatternError::TrailingEscape,
        })
    );
}

#[test]
fn words_split_on_unquoted_expansions() {
    let pairs = env(&[("S", " a \t b "), ("E", "")]);
    let words = |input: &str| {
        Lexer::default()
            .process_words(input, &pairs)
            .map(|e| e.value)
    };
    assert_eq!(
        words("x${S}y"),
        Ok(vec!["x".into(), "a".into(), "b".into(), "y".into()])
    );
    assert_eq!(words("x\"${S}\"y"), Ok(vec!["x a \t b y".to_owned()]));
    assert_eq!(words(r"a\ b c"), Ok(vec!["a b".to_owned(), "c".to_owned()]));
    assert_eq!(words(r#""" $E ''"#), Ok(vec![]));
    assert_eq!(words("  "), Ok(vec![]));
    assert_eq!(
        words("한 국\u{3000}어"),
        Ok(vec!["한".into(), "국".into(), "어".into()])
    );
}

/// Odd inputs must give a result or an error, never a panic. Every string of
/// up to three characters from an alphabet of the interesting characters is
/// tried under several option sets.
#[test]
fn no_input_panics() {
    let alphabet = [
        '$', '{', '}', ':', '-', '+', '?', '#', '%', '/', '\\', '`', '\'', '"', '*', 'A', '1', ' ',
        '한', '\n',
    ];
    let lexers = [
        Lexer::default(),
        Lexer::new('`'),
        Lexer::default()
            .with_raw_quotes(true)
            .with_raw_escapes(true)
            .with_skip_unset_env(true),
        Lexer::default().with_skip_process_quotes(true),
    ];
    let pairs = env(&[("A", "a*b/c"), ("B", "")]);
    let mut inputs = vec![String::new()];
    let mut frontier = vec![String::new()];
    for _ in 0..3 {
        frontier = frontier
            .iter()
            .flat_map(|prefix| {
                alphabet.iter().map(move |c| {
                    let mut s = prefix.clone();
                    s.push(*c);
                    s
                })
            })
            .collect();
        inputs.extend(frontier.iter().cloned());
    }
    let fixed = [
        "$",
        "${",
        "${A",
        "${A:",
        "${A:-",
        "${A/",
        "${A//",
        "${A/x",
        "${A/x/",
        "\\",
        "a\\",
        "\"\\",
        "'",
        "${A#\\",
        "${A%\\}",
        "${A/\\/\\/}",
        "$\u{10FFFF}",
        "${\u{0}}",
        "\u{FEFF}$A",
        "${A:-${A:-${A:-${A:-",
        "${A##*****************************}",
    ];
    for lexer in lexers {
        for input in inputs.iter().map(String::as_str).chain(fixed) {
            let _ = lexer.process_word(input, &pairs);
            let _ = lexer.process_words(input, &pairs);
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let depth = 5000;
    let word = format!("{}x{}", "${a:-".repeat(depth), "}".repeat(depth));
    let env: [(&str, &str); 0] = [];
    let err = Lexer::default().process_word(&word, &env[..]).unwrap_err();
    assert!(matches!(err, ExpandError::TooDeep { .. }), "{err}");
    let ok = format!("{}x{}", "${a:-".repeat(60), "}".repeat(60));
    assert_eq!(
        Lexer::default().process_word(&ok, &env[..]).unwrap().value,
        "x"
    );
}

/// A variable pasted into itself doubles with every line; no expansion may
/// grow past `MAX_WORD`, whichever way it grows (concatenation, quotes, a
/// global replacement).
#[test]
fn expansions_stop_at_the_word_limit() {
    let half = "x".repeat(crate::MAX_WORD / 2 + 1);
    let env = vec![format!("A={half}")];
    let lexer = Lexer::new('\\');
    for word in ["$A$A", "\"$A$A\"", "${A//x/yy}", "$A\"$A\""] {
        let err = lexer.process_word(word, &env).unwrap_err();
        assert!(matches!(err, ExpandError::TooLong { .. }), "{word}: {err}");
        assert!(
            err.to_string().contains("longer than 1048576 bytes"),
            "{err}"
        );
    }
    // Right at the limit is fine.
    let ok = lexer.process_word("$A", &env).unwrap();
    assert_eq!(ok.value.len(), half.len());
}
