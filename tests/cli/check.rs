//! `kiln check`: exit codes and the rendered diagnostics, as golden files
//! under `testdata/check/` (regenerate with `KILN_BLESS=1`).

use super::support::{golden, kiln_in, root, text};

/// Every `testdata/check/<case>.Dockerfile` checked; stderr compared with
/// `<case>.stderr`, exit code with `<case>.exit`.
#[test]
fn golden_diagnostics() {
    let dir = root().join("testdata/check");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "Dockerfile"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 4,
        "golden cases missing in {}",
        dir.display()
    );
    for case in cases {
        let name = case.file_name().unwrap().to_str().unwrap();
        let out = kiln_in(&dir, &["check", "-f", name], b"");
        let stem = case.with_extension("");
        golden(&stem.with_extension("stderr"), &text(&out.stderr));
        golden(
            &stem.with_extension("exit"),
            &format!("{}\n", out.status.code().unwrap_or(-1)),
        );
        assert!(out.stdout.is_empty(), "{name}: check printed to stdout");
    }
}

#[test]
fn clean_file_exits_0_and_errors_exit_1() {
    let out = kiln_in(&root(), &["check", "-f", "-"], b"FROM busybox\nRUN true\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no problems found"));

    let out = kiln_in(&root(), &["check", "-f", "-"], b"FROM busybox\nCOPPY a b\n");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("<stdin>:2:1: unknown instruction: COPPY"),
        "{err}"
    );
    assert!(err.contains("COPPY a b"), "the source line is shown: {err}");
    assert!(err.contains("did you mean `COPY`?"), "{err}");
}

#[test]
fn defaults_to_dockerfile_in_the_current_directory() {
    let dir = std::env::temp_dir().join(format!("kiln-check-default-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), "FROM a\nCOPY x\n").unwrap();
    let out = kiln_in(&dir, &["check"], b"");
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("Dockerfile:2:1: COPY requires at least two arguments"));
}

/// Issue 20: `kiln check` reports what a build would stop on, a variable
/// pasted into itself until its expansion passes 1 MiB, at that line.
#[test]
fn check_reports_expansions_past_the_bounds() {
    let mut dockerfile = String::from("FROM busybox\nENV A0=xxxxxxxxxxxxxxxx\n");
    for i in 1..40 {
        dockerfile.push_str(&format!("ENV A{i}=${{A{}}}${{A{}}}\n", i - 1, i - 1));
    }
    let out = kiln_in(&root(), &["check", "-f", "-"], dockerfile.as_bytes());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("<stdin>:19:"), "{stderr}");
    assert!(stderr.contains("longer than 1048576 bytes"), "{stderr}");
}

/// Issue 22: what `kiln build` would stop on from the Dockerfile alone,
/// `kiln check` reports too, in every stage a `--target` can build; a FROM
/// that takes a build argument is left to InvalidDefaultArgInFrom.
#[test]
fn check_reports_what_a_build_would_stop_on() {
    let cases: [(&[u8], &str); 2] = [
        (
            b"FROM busybox\nEXPOSE 80/tcpp\n",
            "<stdin>:2:8: invalid proto: tcpp",
        ),
        (
            b"FROM busybox AS tools\nCOPY --link --chown=app f /f\nFROM busybox\nRUN true\n",
            "<stdin>:2:13: COPY --link cannot resolve the --chown names",
        ),
    ];
    for (dockerfile, want) in cases {
        let out = kiln_in(&root(), &["check", "-f", "-"], dockerfile);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(want), "{want}: {stderr}");
    }
    let out = kiln_in(
        &root(),
        &["check", "-f", "-"],
        b"ARG BASE\nFROM $BASE\nRUN true\n",
    );
    let stderr = text(&out.stderr);
    assert!(!stderr.contains(" × "), "{stderr}");
    assert!(stderr.contains("InvalidDefaultArgInFrom"), "{stderr}");
}
