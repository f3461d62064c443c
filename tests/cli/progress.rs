//! Issue 22: build progress as BuildKit shows it. Plain: the build context
//! is one step however many COPYs read it, a step's output keeps the order
//! the program wrote it (stdout and stderr alike), and interleaved steps
//! repeat their header. Tty (under script(1)): the header comes first and
//! the closing one says how the build ended.

use super::support::{TestContext, privileged, text};

#[test]
fn plain_progress_shows_one_context_and_output_in_order() {
    let Some(f) = TestContext::for_build(
        "FROM busybox:local\n\
         COPY a /a\n\
         COPY b /b\n\
         COPY a b /both/\n\
         RUN sh -c 'for i in 1 2 3 4 5; do echo out-$i; echo err-$i >&2; done'\n",
    ) else {
        return;
    };
    f.file("a", "a\n").file("b", "b\n");
    let out = f.build(&["-t", "progress"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // One step (its header repeats when another step's lines came
    // between, as BuildKit's plain output does).
    let steps: std::collections::BTreeSet<&str> = stderr
        .lines()
        .filter(|l| l.starts_with('#') && l.ends_with(" [internal] load build context"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(steps.len(), 1, "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter(|w| w.starts_with("out-") || w.starts_with("err-"))
        .collect();
    assert_eq!(
        lines,
        [
            "out-1", "err-1", "out-2", "err-2", "out-3", "err-3", "out-4", "err-4", "out-5",
            "err-5"
        ],
        "{stderr}"
    );
}

#[test]
fn plain_progress_repeats_a_header_when_steps_interleave() {
    let Some(f) = TestContext::for_build(
        "FROM busybox:local AS a\n\
         RUN for i in 1 2 3; do echo a-$i; sleep 0.3; done; touch /done\n\
         FROM busybox:local AS b\n\
         RUN for i in 1 2 3; do echo b-$i; sleep 0.3; done; touch /done\n\
         FROM busybox:local\n\
         COPY --from=a /done /a\n\
         COPY --from=b /done /b\n",
    ) else {
        return;
    };
    let out = f.build(&["-t", "interleaved"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Every output line follows its own step's header (or another of its
    // own lines): a line of one step never sits under the other's header.
    let mut current = String::new();
    for line in stderr.lines() {
        let mut words = line.split_whitespace();
        let (Some(id), Some(second)) = (words.next(), words.next()) else {
            current.clear();
            continue;
        };
        if second.starts_with('[') {
            current = id.to_string();
        } else if second.parse::<f64>().is_ok() {
            assert_eq!(
                id, current,
                "a line of {id} under {current}'s header: {stderr}"
            );
        }
    }
}

/// Runs `kiln build ARGS` under script(1), a real terminal of 40 rows and
/// 120 columns; its output with CRs removed.
fn build_in_terminal(f: &TestContext, args: &str) -> String {
    let script = format!(
        "stty rows 40 cols 120; {} --root {} build --progress tty {args} {}",
        env!("CARGO_BIN_EXE_kiln"),
        f.root.display(),
        f.context.display()
    );
    super::support::in_terminal(&script).1
}

#[test]
fn tty_progress_ends_with_how_the_build_ended() {
    let Some(f) = TestContext::for_build("FROM busybox:local\nRUN echo ok\n") else {
        return;
    };
    if !privileged("the tty progress test", &["/usr/bin/script"]) {
        return;
    }
    let shown = build_in_terminal(&f, "-t fine");
    // The last header, after the last erase, is the closing one.
    let last = shown.rsplit("\x1b[J").next().unwrap_or_default();
    let first = last.lines().next().unwrap_or_default();
    assert!(first.starts_with("[+] Building "), "{last}");
    assert!(first.ends_with(" FINISHED"), "{last}");
    assert!(last.contains(" => #2 [2/2] RUN echo ok  "), "{last}");

    f.dockerfile("FROM busybox:local\nRUN exit 3\n");
    let shown = build_in_terminal(&f, "-t broken");
    let last = shown.rsplit("\x1b[J").next().unwrap_or_default();
    let first = last.lines().next().unwrap_or_default();
    assert!(first.ends_with(" FAILED"), "{last}");
    assert!(!shown.contains("Built in"), "{shown}");
}
