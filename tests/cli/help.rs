//! `kiln --help` and usage errors.

use super::support::{kiln, text};

#[test]
fn help_lists_the_commands() {
    let out = kiln(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for command in ["check", "parse"] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(command)),
            "{command} missing from:\n{help}"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let out = kiln(&["check", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    let out = kiln(&["no-such-command"]);
    assert_eq!(out.status.code(), Some(2));
}
