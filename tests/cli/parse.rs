//! `kiln parse --dump`: BuildKit's AST dump on the shared parser cases.

use super::support::{kiln, kiln_in, root, shared, text};

#[test]
fn dump_matches_buildkit_for_every_positive_case() {
    let cases = shared().join("conformance/buildkit/parser/testfiles");
    let mut checked = 0;
    for entry in std::fs::read_dir(&cases).unwrap() {
        let dir = entry.unwrap().path();
        let dockerfile = dir.join("Dockerfile");
        let out = kiln(&["parse", "--dump", "-f", dockerfile.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}: {}",
            dir.display(),
            text(&out.stderr)
        );
        let expected = std::fs::read(dir.join("result")).unwrap();
        assert_eq!(text(&out.stdout), text(&expected), "{}", dir.display());
        checked += 1;
    }
    assert_eq!(checked, 33);
}

#[test]
fn reads_standard_input_and_reports_parse_errors_with_a_place() {
    let out = kiln_in(&root(), &["parse", "--dump", "-f", "-"], b"FROM a\nRUN b\n");
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "(from \"a\")\n(run \"b\")\n");

    let out = kiln_in(
        &root(),
        &["parse", "--dump", "-f", "-"],
        b"FROM a\nENV PATH\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(
        err.contains("<stdin>:2:5: dockerfile parse error: ENV must have two arguments"),
        "{err}"
    );
}

#[test]
fn a_missing_file_names_the_path() {
    let out = kiln(&["parse", "-f", "/nonexistent/Dockerfile"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/nonexistent/Dockerfile"));
}
