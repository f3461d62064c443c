//! The build cache as a user meets it: an unchanged rebuild runs nothing
//! and writes no layer; a change reruns exactly the steps that depend on
//! it; `--no-cache`, `--no-cache-filter` and `--explain`.

use super::support::{TestContext, text};
use std::collections::BTreeSet;
use std::path::Path;

/// Which steps ran and which were cached, from plain progress.
struct Steps {
    ran: BTreeSet<String>,
    cached: BTreeSet<String>,
    stderr: String,
}

impl Steps {
    fn parse(stderr: &str) -> Steps {
        let mut names = std::collections::BTreeMap::new();
        let (mut ran, mut cached) = (BTreeSet::new(), BTreeSet::new());
        for line in stderr.lines() {
            let Some((id, rest)) = line.split_once(' ') else {
                continue;
            };
            if rest.starts_with('[') {
                names.insert(id.to_string(), rest.to_string());
            } else if let Some(name) = names.get(id) {
                // Steps only: sources (FROM, the context) always "run".
                if name.contains("FROM ") || name.starts_with("[internal]") {
                    continue;
                }
                match rest {
                    "CACHED" => cached.insert(name.clone()),
                    r if r.starts_with("DONE") => ran.insert(name.clone()),
                    _ => false,
                };
            }
        }
        Steps {
            ran,
            cached,
            stderr: stderr.to_string(),
        }
    }

    fn ran_matching(&self, needle: &str) -> bool {
        self.ran.iter().any(|n| n.contains(needle))
    }

    fn cached_matching(&self, needle: &str) -> bool {
        self.cached.iter().any(|n| n.contains(needle))
    }
}

fn build(f: &TestContext, args: &[&str]) -> Steps {
    let out = f.build(args);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "build failed: {stderr}");
    Steps::parse(&stderr)
}

/// Every file below `dir` (names only), to show nothing new was written.
fn files_below(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            out.insert(e.path().display().to_string());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(e.path());
            }
        }
    }
    out
}

#[test]
fn an_unchanged_rebuild_runs_nothing_and_writes_no_layer() {
    let Some(f) = TestContext::for_build(
        "FROM busybox:local\n\
         COPY app/ /app/\n\
         RUN echo ran >> /log && cat /app/main > /copy\n\
         COPY --chmod=0600 app/main /second\n",
    ) else {
        return;
    };
    f.file("app/main", "v1\n").file("app/lib", "lib\n");
    let first = build(&f, &["-t", "app:1"]);
    assert_eq!(first.ran.len(), 3, "{}", first.stderr);
    let snapshots = files_below(&f.root.join("snapshots"));
    let blobs = files_below(&f.root.join("blobs"));
    let again = build(&f, &["-t", "app:1"]);
    assert!(again.ran.is_empty(), "{}", again.stderr);
    assert_eq!(again.cached.len(), 3, "{}", again.stderr);
    assert_eq!(files_below(&f.root.join("snapshots")), snapshots);
    // The config and manifest may be rewritten (same or new), never a layer.
    let new_blobs: Vec<String> = files_below(&f.root.join("blobs"))
        .difference(&blobs)
        .cloned()
        .collect();
    for blob in &new_blobs {
        let size = std::fs::metadata(blob).unwrap().len();
        assert!(size < 4096, "a new blob of {size} bytes: {blob}");
    }
    assert_eq!(f.run("app:1", &["cat", "/log", "/copy"]), "ran\nv1\n");
    // As with BuildKit, the image ID does not change either: cached steps
    // keep their first build's dates.
    assert_eq!(f.build_ok(&["-t", "app:1"]), f.build_ok(&["-t", "app:1"]));
}

#[test]
fn a_changed_file_reruns_exactly_what_reads_it() {
    let Some(f) = TestContext::for_build(
        "FROM busybox:local\n\
         COPY src/ /src/\n\
         RUN cat /src/* > /all\n\
         COPY docs/ /docs/\n\
         RUN ls /docs > /index\n",
    ) else {
        return;
    };
    f.file("src/a", "a1\n")
        .file("docs/d", "d1\n")
        .file("notes/ignored", "x\n")
        .file(".dockerignore", "notes\n");
    build(&f, &["-t", "t"]);
    // Unselected and ignored files never matter.
    f.file("notes/ignored", "y\n").file("README", "new\n");
    let steps = build(&f, &["-t", "t"]);
    assert!(steps.ran.is_empty(), "{}", steps.stderr);
    // docs/ changes: the steps from COPY docs/ on rerun, not COPY src/.
    f.file("docs/d", "d2\n");
    let steps = build(&f, &["-t", "t"]);
    assert!(steps.cached_matching("COPY src/"), "{}", steps.stderr);
    assert!(steps.cached_matching("RUN cat"), "{}", steps.stderr);
    assert!(steps.ran_matching("COPY docs/"), "{}", steps.stderr);
    assert!(steps.ran_matching("RUN ls"), "{}", steps.stderr);
    // A touched file with the same content changes no key.
    let path = f.context.join("src/a");
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    drop(file);
    let steps = build(&f, &["-t", "t"]);
    assert!(steps.ran.is_empty(), "{}", steps.stderr);
    // Same size, new content, within the same second: still seen.
    f.file("src/a", "a2\n");
    let steps = build(&f, &["-t", "t"]);
    assert!(steps.ran_matching("COPY src/"), "{}", steps.stderr);
    assert_eq!(f.run("t", &["cat", "/all"]), "a2\n");
}

#[test]
fn args_invalidate_from_their_first_use_and_proxies_never() {
    let Some(f) = TestContext::for_build(
        "FROM busybox:local\n\
         RUN echo before > /before\n\
         ARG V=1\n\
         COPY f /f\n\
         RUN echo $V > /v\n",
    ) else {
        return;
    };
    f.file("f", "f\n");
    build(&f, &["-t", "t", "--build-arg", "V=1"]);
    let steps = build(
        &f,
        &[
            "-t",
            "t",
            "--build-arg",
            "V=1",
            "--build-arg",
            "HTTP_PROXY=http://p:1",
        ],
    );
    assert!(
        steps.ran.is_empty(),
        "a proxy invalidated: {}",
        steps.stderr
    );
    let steps = build(&f, &["-t", "t", "--build-arg", "V=2"]);
    assert!(steps.cached_matching("RUN echo before"), "{}", steps.stderr);
    assert!(steps.cached_matching("COPY f"), "{}", steps.stderr);
    assert!(steps.ran_matching("RUN echo $V"), "{}", steps.stderr);
    assert_eq!(f.run("t", &["cat", "/v"]), "2\n");
}

#[test]
fn identical_results_keep_later_steps_cached() {
    let Some(f) = TestContext::for_build(
        "FROM busybox:local AS build\n\
         ARG REV=1\n\
         RUN echo $REV > /rev && echo artifact > /artifact\n\
         FROM busybox:local\n\
         COPY --from=build /artifact /artifact\n\
         RUN cat /artifact > /seen\n",
    ) else {
        return;
    };
    build(&f, &["-t", "t"]);
    let steps = build(&f, &["-t", "t", "--build-arg", "REV=2"]);
    assert!(steps.ran_matching("RUN echo $REV"), "{}", steps.stderr);
    assert!(
        steps.cached_matching("COPY --from=build"),
        "{}",
        steps.stderr
    );
    assert!(steps.cached_matching("RUN cat"), "{}", steps.stderr);
}

/// `COPY --link` is made apart from the stage, so a change before it
/// leaves it cached (BuildKit's point of the flag); the merged result is
/// what later steps and `kiln run` see.
#[test]
fn a_linked_copy_stays_cached_when_the_stage_below_changes() {
    let Some(f) = TestContext::for_build(
        "FROM busybox:local\n\
         ARG REV=1\n\
         RUN echo $REV > /rev && mkdir -m 700 /app\n\
         COPY --link app.txt /app/\n\
         RUN cat /rev /app/app.txt > /seen && stat -c %a /app >> /seen\n",
    ) else {
        return;
    };
    f.file("app.txt", "linked\n");
    build(&f, &["-t", "t"]);
    let steps = build(&f, &["-t", "t", "--build-arg", "REV=2"]);
    assert!(steps.ran_matching("RUN echo $REV"), "{}", steps.stderr);
    assert!(
        steps.cached_matching("] COPY --link app.txt"),
        "{}",
        steps.stderr
    );
    assert!(steps.ran_matching("RUN cat"), "{}", steps.stderr);
    // The copy's /app (0755) replaces the stage's (0700) in the result.
    assert_eq!(f.run("t", &["cat", "/seen"]), "2\nlinked\n755\n");
}

#[test]
fn no_cache_and_no_cache_filter_run_what_they_name() {
    let Some(f) = TestContext::for_build(
        "FROM busybox:local AS base\n\
         RUN echo base > /base\n\
         FROM base AS app\n\
         RUN echo app > /app\n",
    ) else {
        return;
    };
    build(&f, &["-t", "t"]);
    let steps = build(&f, &["-t", "t", "--no-cache"]);
    assert!(steps.cached.is_empty(), "{}", steps.stderr);
    assert_eq!(steps.ran.len(), 2, "{}", steps.stderr);
    let steps = build(&f, &["-t", "t", "--no-cache-filter", "app"]);
    assert!(steps.cached_matching("echo base"), "{}", steps.stderr);
    assert!(steps.ran_matching("echo app"), "{}", steps.stderr);
}

#[test]
fn a_new_base_image_invalidates_its_stage() {
    let Some(f) = TestContext::for_build("FROM busybox:local\nRUN echo x > /x\n") else {
        return;
    };
    build(&f, &["-t", "t"]);
    // A different busybox:local: one more layer on top of it.
    std::fs::write(
        f.context.join("Dockerfile.base"),
        "FROM busybox:local\nRUN echo changed > /base-changed\n",
    )
    .unwrap();
    let out = f.build(&[
        "-t",
        "busybox:local",
        "-f",
        f.context.join("Dockerfile.base").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let steps = build(&f, &["-t", "t", "--explain"]);
    assert!(steps.ran_matching("RUN echo x"), "{}", steps.stderr);
    let line = steps
        .stderr
        .lines()
        .find(|l| l.contains("RUN echo x > /x: "))
        .unwrap_or_else(|| panic!("{}", steps.stderr));
    assert!(
        line.contains("the base image docker.io/library/busybox:local changed from sha256:"),
        "{line}"
    );
}

#[test]
fn explain_names_the_file_and_the_arg_that_changed() {
    let Some(f) = TestContext::for_build(
        "FROM busybox:local\n\
         ARG MODE=debug\n\
         COPY conf/ /conf/\n\
         RUN echo $MODE > /mode\n",
    ) else {
        return;
    };
    f.file("conf/app.ini", "a=1\n")
        .file("conf/other.ini", "b=1\n");
    let first = f.build(&["-t", "t", "--explain"]);
    assert!(
        text(&first.stderr).contains("no earlier build of this name"),
        "{}",
        text(&first.stderr)
    );
    // A build in between where the COPY is cached and the RUN is not: the
    // trail is saved again, the COPY's files carried over from the first.
    let between = f.build(&["-t", "t", "--build-arg", "MODE=test"]);
    assert!(between.status.success(), "{}", text(&between.stderr));
    f.file("conf/app.ini", "a=2\n");
    let out = f.build(&["-t", "t", "--explain", "--build-arg", "MODE=release"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let copy = stderr
        .lines()
        .find(|l| l.contains("COPY conf/") && l.contains(": "))
        .unwrap_or_else(|| panic!("no explanation for COPY: {stderr}"));
    assert!(copy.contains("conf/app.ini (modified)"), "{copy}");
    assert!(!copy.contains("other.ini"), "{copy}");
    let run = stderr
        .lines()
        .find(|l| l.contains("RUN echo $MODE > /mode: "))
        .unwrap_or_else(|| panic!("no explanation for RUN: {stderr}"));
    assert!(
        run.contains("MODE changed from \"test\" to \"release\""),
        "{run}"
    );
}

/// Issue 22: under `--no-cache` every step that ran says so, not only the
/// first (the later ones run on new layers, which is not why they ran).
#[test]
fn explain_says_every_bypassed_step_was_bypassed() {
    let Some(f) = TestContext::for_build(
        "FROM busybox:local AS base\n\
         RUN echo one > /one\n\
         RUN echo two > /two\n\
         FROM base\n\
         RUN echo three > /three\n",
    ) else {
        return;
    };
    build(&f, &["-t", "t"]);
    let explained = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["-t", "t", "--explain"];
        all.extend_from_slice(args);
        let stderr = build(&f, &all).stderr;
        stderr
            .lines()
            .filter(|l| l.contains("] RUN echo") && l.contains(": "))
            .map(str::to_string)
            .collect()
    };
    let lines = explained(&["--no-cache"]);
    assert_eq!(lines.len(), 3, "{lines:?}");
    for line in &lines {
        assert!(
            line.ends_with(": the cache was bypassed (--no-cache)"),
            "{lines:?}"
        );
    }
    // Only the filtered stage is bypassed: the step of the other stage is
    // not said to be (it runs on new layers, or is cached when the rerun
    // made the same bytes).
    let lines = explained(&["--no-cache-filter", "base"]);
    let (base, other): (Vec<&String>, Vec<&String>) = lines
        .iter()
        .partition(|l| l.trim_start().starts_with("[base "));
    assert_eq!(base.len(), 2, "{lines:?}");
    for line in base {
        assert!(
            line.ends_with(": the cache was bypassed (--no-cache-filter base)"),
            "{lines:?}"
        );
    }
    assert!(other.iter().all(|l| !l.contains("bypassed")), "{lines:?}");
}

#[test]
fn prune_keeps_the_build_cache_until_told_and_df_shows_it() {
    let Some(f) = TestContext::for_build("FROM busybox:local\nRUN echo x > /x\nRUN echo y > /y\n")
    else {
        return;
    };
    build(&f, &["-t", "t"]);
    // Untag the result: its layers are then held by cache records only.
    let out = f.kiln(&["rmi", "t"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let df = text(&f.kiln(&["df"]).stdout);
    let cache_line = df.lines().find(|l| l.starts_with("Build cache")).unwrap();
    assert!(cache_line.split_whitespace().nth(2) == Some("2"), "{df}");
    let out = f.kiln(&["prune"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let steps = build(&f, &["-t", "t"]);
    assert!(steps.ran.is_empty(), "{}", steps.stderr);
    let out = f.kiln(&["prune", "--filter", "until=1h"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(build(&f, &["-t", "t"]).ran.is_empty());
    let out = f.kiln(&["prune", "--all"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("2 cache records"),
        "{}",
        text(&out.stdout)
    );
    let steps = build(&f, &["-t", "t"]);
    assert_eq!(steps.ran.len(), 2, "{}", steps.stderr);
    let out = f.kiln(&["doctor"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).starts_with("clean: "),
        "{}",
        text(&out.stdout)
    );
    let out = f.kiln(&["prune", "--filter", "since=1h"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("until=DURATION"),
        "{}",
        text(&out.stderr)
    );
}

/// Log lines: `   0.123s  INFO kiln::worker::cache: ...` (uptime, level,
/// module).
fn log_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            l.split_once("s ").is_some_and(|(t, rest)| {
                t.parse::<f64>().is_ok()
                    && ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"]
                        .iter()
                        .any(|level| rest.trim_start().starts_with(level))
            })
        })
        .collect()
}

#[test]
fn logs_are_off_by_default_and_say_each_cache_decision_when_asked() {
    let Some(f) = TestContext::for_build("FROM busybox:local\nRUN echo one > /one\n") else {
        return;
    };
    let first = f.build(&["-t", "logs"]);
    let stderr = text(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    assert_eq!(log_lines(&stderr), Vec::<&str>::new(), "{stderr}");

    // Cached now: the hit, the scheduler's view and the key's parts.
    let out = f.build(&["-t", "logs", "--log-level", "trace"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let logs = log_lines(&stderr);
    let has = |level: &str, needle: &str| {
        logs.iter()
            .any(|l| l.contains(level) && l.contains(needle) && l.contains("RUN echo one"))
    };
    assert!(has("INFO", "cache hit"), "{stderr}");
    assert!(has("DEBUG", "step cached"), "{stderr}");
    assert!(has("TRACE", "cache key part"), "{stderr}");
    // Progress is still there, apart from the logs.
    assert!(stderr.lines().any(|l| l.ends_with(" CACHED")), "{stderr}");

    // RUST_LOG's filter: a miss, why, and the sandbox's mounts.
    std::fs::write(
        f.context.join("Dockerfile"),
        "FROM busybox:local\nRUN echo two > /two\n",
    )
    .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kiln"));
    let out = cmd
        .arg("--root")
        .arg(&f.root)
        .args(["build", "--progress", "plain", "-t", "logs"])
        .arg(&f.context)
        .env("RUST_LOG", "kiln::worker=info,kiln_runtime=debug")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let logs = log_lines(&stderr);
    assert!(
        logs.iter()
            .any(|l| l.contains("INFO") && l.contains("cache miss") && l.contains("RUN echo two")),
        "{stderr}"
    );
    assert!(
        logs.iter().any(|l| l.contains("starting a sandbox")),
        "{stderr}"
    );
    assert!(
        !logs
            .iter()
            .any(|l| l.contains("kiln_solver") || l.contains("layer written")),
        "RUST_LOG left the solver and the worker's debug events out: {stderr}"
    );

    // A filter that does not parse (meant for another program, say) is
    // named in a warning; the command runs, without logs.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiln"))
        .arg("--root")
        .arg(&f.root)
        .arg("images")
        .env("RUST_LOG", "kiln=loud")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("ignoring RUST_LOG \"kiln=loud\""),
        "{}",
        text(&out.stderr)
    );
}
