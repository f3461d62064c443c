//! BuildKit's parser test data (`../shared/conformance/buildkit/parser`):
//! every positive case dumps byte for byte as its `result`, every negative
//! case fails to parse, and `testfile-line` has BuildKit's line ranges.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use kiln_frontend::{dump::dump, parse};
use std::path::PathBuf;

/// The shared conformance folder: `KILN_SHARED_DIR` or `../shared` beside
/// the workspace. Missing data is a failure, never a skip.
fn parser_data() -> PathBuf {
    let shared = std::env::var_os("KILN_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    );
    let dir = shared.join("conformance/buildkit/parser");
    assert!(
        dir.is_dir(),
        "conformance data missing at {}",
        dir.display()
    );
    dir
}

fn cases(dir: &str) -> Vec<(String, PathBuf)> {
    let mut cases: Vec<_> = std::fs::read_dir(parser_data().join(dir))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), e.path())
        })
        .collect();
    cases.sort();
    cases
}

#[test]
fn positive_cases_dump_byte_for_byte() {
    let cases = cases("testfiles");
    assert_eq!(cases.len(), 33, "expected BuildKit's 33 positive cases");
    let mut failures = Vec::new();
    let mut instructions = 0;
    for (name, dir) in &cases {
        let input = std::fs::read(dir.join("Dockerfile")).unwrap();
        let expected = std::fs::read_to_string(dir.join("result")).unwrap();
        match parse(&input) {
            Ok(file) => {
                instructions += file.instructions.len();
                let got = dump(&file);
                if got != expected {
                    failures.push(format!("{name}:\n--- expected\n{expected}--- got\n{got}"));
                }
            }
            Err(e) => failures.push(format!("{name}: parse failed: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(instructions, 285, "FORMAT.md counts 285 instructions");
}

#[test]
fn negative_cases_are_rejected() {
    let cases = cases("testfiles-negative");
    assert_eq!(cases.len(), 4);
    for (name, dir) in cases {
        let input = std::fs::read(dir.join("Dockerfile")).unwrap();
        assert!(parse(&input).is_err(), "{name} parsed but must not");
    }
}

#[test]
fn line_ranges_match_buildkit() {
    let input = std::fs::read(parser_data().join("testfile-line/Dockerfile")).unwrap();
    let file = parse(&input).unwrap();
    let ranges: Vec<_> = file
        .instructions
        .iter()
        .map(|i| (i.span.line, i.span.end_line))
        .collect();
    assert_eq!(ranges, [(5, 5), (11, 12), (17, 31)]);
}
