//! Robustness of the store under concurrent builds and SIGKILL: two builds
//! of overlapping Dockerfiles at once both succeed and run their common
//! step once; kiln killed at random points during builds never damages
//! the store (`kiln doctor` stays clean) and the next build reuses the
//! steps that finished.

use super::support::{TestContext, text};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn concurrent_builds_share_their_common_step() {
    let Some(f) = TestContext::for_build(
        "FROM busybox:local\n\
         RUN sleep 1 && date +%s%N > /shared\n\
         ARG WHICH\n\
         RUN echo $WHICH > /which\n",
    ) else {
        return;
    };
    let context = f.context.to_str().unwrap().to_string();
    let spawn = |which: &str| {
        f.command(&[
            "build",
            "--progress",
            "plain",
            "-t",
            which,
            "--build-arg",
            &format!("WHICH={which}"),
            &context,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
    };
    let (a, b) = (spawn("a"), spawn("b"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", text(&a.stderr));
    assert!(b.status.success(), "{}", text(&b.stderr));
    // The slow step ran once: one build ran it, the other was cached.
    let ran = [&a, &b]
        .iter()
        .filter(|o| {
            let err = text(&o.stderr);
            let id = err
                .lines()
                .find(|l| l.contains("RUN sleep 1"))
                .and_then(|l| l.split(' ').next())
                .unwrap()
                .to_string();
            !err.contains(&format!("{id} CACHED"))
        })
        .count();
    assert_eq!(ran, 1, "{}\n----\n{}", text(&a.stderr), text(&b.stderr));
    assert_eq!(f.run("a", &["cat", "/which"]), "a\n");
    assert_eq!(f.run("b", &["cat", "/which"]), "b\n");
    assert_eq!(
        f.run("a", &["cat", "/shared"]),
        f.run("b", &["cat", "/shared"])
    );
}

/// A small deterministic generator, so a failing iteration can be rerun.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

#[test]
fn sigkill_at_random_points_never_damages_the_store() {
    let Some(f) = TestContext::for_build(
        "FROM busybox:local\n\
         COPY data/ /data/\n\
         RUN for i in 1 2 3 4 5 6 7 8; do head -c 200000 /dev/urandom > /r$i; done\n\
         ARG N=0\n\
         RUN echo $N > /n && cp -r /data /copy$N && sleep 0.2\n\
         RUN --mount=type=cache,target=/cache echo $N >> /cache/log && sleep 0.05\n\
         COPY --chmod=0600 data/a /a$N\n",
    ) else {
        return;
    };
    for i in 0..40 {
        f.file(&format!("data/f{i}"), &format!("file {i}\n"));
    }
    f.file("data/a", "a\n");
    let context = f.context.to_str().unwrap().to_string();
    let doctor = || {
        let out = f.kiln(&["doctor"]);
        assert!(
            out.status.success(),
            "doctor: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    };
    let mut rng = Lcg(0x6b69_6c6e);
    let iterations = 60;
    let mut killed_mid_build = 0;
    for i in 0..iterations {
        // A new N every time: the later steps have work to do again, the
        // earlier ones stay cached once one build finished them.
        let n = format!("N={i}");
        let mut child = f
            .command(&["build", "-q", "-t", "crash", "--build-arg", &n, &context])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = Duration::from_millis(rng.next(400));
        let started = Instant::now();
        while started.elapsed() < delay {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if child.try_wait().unwrap().is_none() {
            killed_mid_build += 1;
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        doctor();
    }
    assert!(
        killed_mid_build >= iterations / 3,
        "only {killed_mid_build} of {iterations} kills hit a running build"
    );
    // The store still builds, and what finished before is reused.
    let first = f.build_leaving_leftovers(&["-t", "crash", "--build-arg", "N=final"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let again = f.build_leaving_leftovers(&["-t", "crash", "--build-arg", "N=final"]);
    let err = text(&again.stderr);
    assert!(again.status.success(), "{err}");
    assert!(err.matches("CACHED").count() >= 5, "{err}");
    assert_eq!(f.run("crash", &["cat", "/n"]), "final\n");
    // Leftovers of the killed builds go with a prune; the cache stays.
    let out = f.kiln(&["prune"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = f.kiln(&["doctor"]);
    let report = text(&out.stdout);
    assert!(
        out.status.success() && !report.contains("leftover"),
        "{report}"
    );
    let after = f.build(&["-t", "crash", "--build-arg", "N=final"]);
    assert!(text(&after.stderr).matches("CACHED").count() >= 5);
}

#[test]
fn prune_during_a_build_waits_and_collects_nothing_it_uses() {
    let Some(f) = TestContext::for_build(
        "FROM busybox:local\n\
         RUN echo first > /first\n\
         RUN sleep 1.5 && echo second > /second\n",
    ) else {
        return;
    };
    let context = f.context.to_str().unwrap().to_string();
    let build = f
        .command(&["build", "-q", "-t", "leased", &context])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-build: the first step's layer exists, untagged, recorded.
    std::thread::sleep(Duration::from_millis(700));
    let started = Instant::now();
    let prune = f.kiln(&["prune", "--all"]);
    assert!(prune.status.success(), "{}", text(&prune.stderr));
    let built = build.wait_with_output().unwrap();
    assert!(built.status.success(), "{}", text(&built.stderr));
    // prune waited for the build's lease instead of racing it.
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "prune returned after {:?}",
        started.elapsed()
    );
    assert_eq!(
        f.run("leased", &["cat", "/first", "/second"]),
        "first\nsecond\n"
    );
    let doctor = f.kiln(&["doctor"]);
    assert!(doctor.status.success(), "{}", text(&doctor.stdout));
}
