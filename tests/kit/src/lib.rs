//! The one home of the rule every privileged kiln test follows: it runs
//! where the machine gives what it needs (root, the programs it drives);
//! elsewhere it says so loudly and skips — except under `CI=true`, where a
//! skip would hide a regression, so it fails instead.
//!
//! Used by the integration tests (`tests/cli/support.rs`), the runtime's
//! tests (cgroups, the sandbox test binary) and the copy engine's.
//!
//! A skipped test still passes as far as libtest is concerned, so every
//! skip is also appended to the file [`SKIP_LOG`] names, when set:
//! `tests/run.sh` (the README's test command) lists them at the end.

use std::io::Write as _;
use std::path::Path;

/// The environment variable naming the file skips are appended to.
pub const SKIP_LOG: &str = "KILN_SKIP_LOG";

/// Whether the test `test` may run: this process is root and every path in
/// `needs` exists. Otherwise it panics under `CI=true`, or prints a loud
/// skip naming `why` (and what is missing) and returns false.
pub fn require_root(test: &str, why: &str, needs: &[&str]) -> bool {
    let missing: Vec<&str> = needs
        .iter()
        .copied()
        .filter(|p| !Path::new(p).exists())
        .collect();
    let euid = rustix::process::geteuid();
    if euid.is_root() && missing.is_empty() {
        return true;
    }
    let mut reason = format!("{why}; needs root (euid {})", euid.as_raw());
    if !missing.is_empty() {
        reason.push_str(&format!(" and {}", missing.join(", ")));
    }
    if std::env::var_os("CI").is_some_and(|v| v == "true") {
        panic!("{test} skipped: {reason}; a skip is a failure under CI=true");
    }
    // Straight to the stderr handle: libtest captures `eprintln!` of
    // passing tests, and a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED {test}: {reason} !!!!!!!!\n"
    );
    if let Some(log) = std::env::var_os(SKIP_LOG) {
        // libtest names a test's thread after the test.
        let name = std::thread::current()
            .name()
            .filter(|n| *n != "main")
            .unwrap_or(test)
            .to_string();
        let line = format!("{name}: {reason}\n");
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut f| f.write_all(line.as_bytes()));
    }
    false
}
