//! Running the binary and reading shared and golden data.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared folder beside the workspace (`KILN_SHARED_DIR` overrides).
pub fn shared() -> PathBuf {
    let dir =
        std::env::var_os("KILN_SHARED_DIR").map_or_else(|| root().join("../shared"), PathBuf::from);
    assert!(dir.is_dir(), "shared data missing at {}", dir.display());
    dir
}

/// Runs `kiln ARGS` in `dir` with `stdin` as standard input; colours off so
/// output is comparable.
pub fn kiln_in(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Runs `kiln ARGS` in the workspace root.
pub fn kiln(args: &[&str]) -> Output {
    kiln_in(&root(), args, b"")
}

/// Text of a stream.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Compares `actual` with the golden file `path`, or rewrites the file when
/// `KILN_BLESS=1` (never edit golden files by hand to make a test pass).
pub fn golden(path: &Path, actual: &str) {
    if std::env::var_os("KILN_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "golden file {}: {e} (run with KILN_BLESS=1)",
            path.display()
        )
    });
    assert_eq!(actual, expected, "output differs from {}", path.display());
}
