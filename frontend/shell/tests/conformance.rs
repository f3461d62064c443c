//! BuildKit's shell-expansion tables (`envVarTest`, `wordsTest`), read from
//! the shared conformance folder and parsed as its `FORMAT.md` §4 and §5
//! describe.
//!
//! The folder is `$KILN_SHARED_DIR`, or `../../../shared` from this crate.
//! A missing folder is a failure, never a skip: these tables are the
//! definition of correct for this crate.

use std::path::PathBuf;

use kiln_shell::{ExpandError, Lexer};

/// Lines of `envVarTest` that a Linux harness runs (`A` and `U`).
const ENV_VAR_CASES: usize = 228;
/// Windows-only lines of `envVarTest`, skipped on Linux.
const ENV_VAR_WINDOWS_CASES: usize = 2;
/// Test lines of `wordsTest`.
const WORDS_CASES: usize = 24;
/// `ENV` lines of `wordsTest`.
const WORDS_ENV_LINES: usize = 4;

/// The environment every `envVarTest` line runs with.
fn env_var_test_env() -> Vec<(String, String)> {
    [
        ("PWD", "/home"),
        ("SHELL", "bash"),
        ("KOREAN", "한국어"),
        ("NULL", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn shared_dir() -> PathBuf {
    match std::env::var_os("KILN_SHARED_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
}

/// Reads a table as text. Panics with the path if it is missing: the test
/// must not pass by running nothing.
fn read_table(name: &str) -> String {
    let path = shared_dir().join("conformance/buildkit/shell").join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|err| {
        panic!(
            "cannot read conformance table {} ({err}); set KILN_SHARED_DIR to the shared folder",
            path.display()
        )
    });
    String::from_utf8(bytes).unwrap_or_else(|err| panic!("{} is not UTF-8: {err}", path.display()))
}

/// Splits text into lines like Go's `bufio.ScanLines`, which upstream's tests
/// use: split at LF, drop one CR before it, and no empty last line after a
/// final LF. Returns 1-based line numbers with the lines.
fn scan_lines(text: &str) -> Vec<(usize, &str)> {
    if text.is_empty() {
        return Vec::new();
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    body.split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .enumerate()
        .map(|(i, line)| (i + 1, line))
        .collect()
}

/// One runnable line of `envVarTest`.
struct EnvVarCase {
    line: usize,
    input: String,
    /// `None` means the line expects an error.
    expected: Option<String>,
}

/// Parses `envVarTest` per FORMAT.md §4 and returns the `A` and `U` lines
/// and the number of `W` lines.
fn env_var_cases() -> (Vec<EnvVarCase>, usize) {
    let text = read_table("envVarTest");
    let mut cases = Vec::new();
    let mut windows = 0;
    for (line_no, line) in scan_lines(&text) {
        // Comments are recognised before trimming, in column 1 only.
        if line.starts_with('#') {
            continue;
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('|').collect();
        let [tag, input, expected] = fields.as_slice() else {
            panic!("envVarTest:{line_no}: expected 3 fields separated by '|' in {line:?}");
        };
        let (tag, input, expected) = (tag.trim(), input.trim(), expected.trim());
        match tag {
            "A" | "U" => cases.push(EnvVarCase {
                line: line_no,
                input: input.to_owned(),
                expected: (expected != "error").then(|| expected.to_owned()),
            }),
            "W" => windows += 1,
            other => panic!("envVarTest:{line_no}: unknown tag {other:?}"),
        }
    }
    (cases, windows)
}

/// Runs every case through `lexer`, with each input and expectation passed
/// through `transform`, and returns one message per failing line.
fn run_env_var_cases(
    lexer: Lexer,
    cases: &[EnvVarCase],
    transform: impl Fn(&str) -> String,
) -> Vec<String> {
    let env = env_var_test_env();
    let mut failures = Vec::new();
    for case in cases {
        let input = transform(&case.input);
        let expected = case.expected.as_deref().map(&transform);
        let got = lexer.process_word(&input, &env).map(|e| e.value);
        let ok = match (&expected, &got) {
            (None, Err(_)) => true,
            (Some(want), Ok(have)) => want == have,
            _ => false,
        };
        if !ok {
            let want = expected.map_or_else(|| "an error".to_owned(), |w| format!("{w:?}"));
            failures.push(format!(
                "envVarTest:{}: {input:?}: want {want}, got {got:?}",
                case.line
            ));
        }
    }
    failures
}

fn assert_no_failures(failures: &[String], total: usize) {
    assert!(
        failures.is_empty(),
        "{} failure(s) among {total} cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn env_var_table() {
    let (cases, windows) = env_var_cases();
    assert_eq!(cases.len(), ENV_VAR_CASES, "number of A and U lines");
    assert_eq!(windows, ENV_VAR_WINDOWS_CASES, "number of W lines");

    let failures = run_env_var_cases(Lexer::default(), &cases, str::to_owned);
    assert_no_failures(&failures, cases.len());
}

/// The same table with `` ` `` as the escape character.
///
/// The table contains no backticks, so swapping every `\` for `` ` `` in
/// both the input and the expected result is exact: with `` ` `` as the
/// escape character, `` ` `` plays the role `\` played in every context
/// (escape outside quotes; escapes only `"`, `$` and itself inside `"…"`;
/// literal inside `'…'`), and every literal `\` in an expected result came
/// from one in the input. None of the lines uses a glob pattern, the one
/// place where `\` is fixed whatever the escape character.
#[test]
fn env_var_table_with_backtick_escape() {
    let (cases, _) = env_var_cases();
    assert!(
        cases
            .iter()
            .all(|c| !c.input.contains('`') && !c.expected.as_deref().unwrap_or("").contains('`')),
        "the swap below assumes the table has no backticks"
    );
    assert_eq!(cases.len(), ENV_VAR_CASES);

    let failures = run_env_var_cases(Lexer::new('`'), &cases, |s| s.replace('\\', "`"));
    assert_no_failures(&failures, cases.len());
}

/// Backtick-escape cases that the swapped table cannot show: `\` is then an
/// ordinary character, as in Windows paths.
#[test]
fn backtick_escape_leaves_backslashes_alone() {
    let env = env_var_test_env();
    let lexer = Lexer::new('`');
    let cases: &[(&str, Result<&str, ()>)] = &[
        ("`$PWD", Ok("$PWD")),
        ("$PWD`", Ok("/home")),
        (r"c:\windows\system32", Ok(r"c:\windows\system32")),
        (r"c:\$PWD", Ok(r"c:\/home")),
        (r"\${PWD}", Ok(r"\/home")),
        (r#""c:\$PWD""#, Ok(r"c:\/home")),
        (r#""a`"b""#, Ok("a\"b")),
        // `\` does not escape, so the quote ends at the second `"`.
        (r#""a\"b"#, Ok(r"a\b")),
        (r#""a`"b"#, Err(())),
        ("'a`b'", Ok("a`b")),
        ("a``b", Ok("a`b")),
        ("a` b", Ok("a b")),
        ("${XXX:-`}}", Ok("}")),
        (r"${XXX:-\}}", Ok(r"\}")),
    ];
    let mut failures = Vec::new();
    for (input, expected) in cases {
        let got = lexer.process_word(input, &env).map(|e| e.value);
        let ok = match (expected, &got) {
            (Ok(want), Ok(have)) => want == have,
            (Err(()), Err(_)) => true,
            _ => false,
        };
        if !ok {
            failures.push(format!("{input:?}: want {expected:?}, got {got:?}"));
        }
    }
    assert_no_failures(&failures, cases.len());

    let words = lexer
        .process_words(r"C:\Program` Files\app c:\tmp", &env)
        .map(|e| e.value);
    assert_eq!(
        words,
        Ok(vec![
            r"C:\Program Files\app".to_owned(),
            r"c:\tmp".to_owned()
        ])
    );
}

#[test]
fn words_table() {
    let text = read_table("wordsTest");
    // The ENV lines so far, as `K=V` strings (upstream's form) and as pairs;
    // both must give the same results.
    let mut assignments: Vec<String> = Vec::new();
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut env_lines = 0;
    let mut cases = 0;
    let mut failures = Vec::new();
    let lexer = Lexer::default();

    for (line_no, line) in scan_lines(&text) {
        if line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("ENV ") {
            // The value runs verbatim to the end of the line, trailing
            // spaces included.
            let assignment = rest.trim_start_matches(' ');
            let (name, value) = assignment
                .split_once('=')
                .unwrap_or_else(|| panic!("wordsTest:{line_no}: ENV line without '='"));
            assignments.push(assignment.to_owned());
            pairs.push((name.to_owned(), value.to_owned()));
            env_lines += 1;
            continue;
        }
        let fields: Vec<&str> = line.split('|').collect();
        let [input, expected] = fields.as_slice() else {
            panic!("wordsTest:{line_no}: expected exactly one '|' in {line:?}");
        };
        cases += 1;
        let input = input.trim();
        // Only leading spaces go; trailing ones are part of the last word.
        let expected: Vec<&str> = expected.trim_start_matches(' ').split(',').collect();

        // As upstream does, an error reads as the single word "error".
        let as_words = |result: Result<kiln_shell::Expansion<Vec<String>>, ExpandError>| {
            result.map_or_else(|_| vec!["error".to_owned()], |e| e.value)
        };
        let from_assignments = as_words(lexer.process_words(input, &assignments));
        let from_pairs = as_words(lexer.process_words(input, &pairs));
        for (env_kind, got) in [("K=V list", from_assignments), ("pair list", from_pairs)] {
            if got != expected {
                failures.push(format!(
                    "wordsTest:{line_no} ({env_kind}): {input:?}: want {expected:?}, got {got:?}"
                ));
            }
        }
    }

    assert_eq!(env_lines, WORDS_ENV_LINES, "number of ENV lines");
    assert_eq!(cases, WORDS_CASES, "number of test lines");
    assert_no_failures(&failures, cases);
}
