//! Issue 23: `--cache-to type=registry` and `--cache-from type=registry`:
//! one store builds and pushes its cache under a tag of a loopback
//! registry; a fresh store (the base loaded from the first's save) builds
//! with the cache imported and every step is a hit, the layers fetched
//! from the registry as the steps need them.

use super::fixture::Registry;
use super::{TestContext, ready, text};

const DOCKERFILE: &str = "FROM busybox:local\n\
     COPY app.txt /app.txt\n\
     RUN cat /app.txt > /built && echo made >> /built\n";

#[test]
fn a_cache_pushed_by_one_store_serves_another() {
    if !ready("kiln registry cache test") {
        return;
    }
    let Some(first) = TestContext::for_build(DOCKERFILE) else {
        return;
    };
    let registry = Registry::plain();
    first.file("app.txt", "app\n");
    let reference = format!("{}/test/app:buildcache", registry.addr());
    let to = format!("type=registry,ref={reference},mode=max,ignore-error=false");
    let out = first.build(&["-t", "app", "--cache-to", &to]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "exported the build cache to type=registry,ref={reference}"
        )),
        "{stderr}"
    );
    let id = text(&out.stdout);

    let base = first.dir().join("base.tar");
    first.ok(&["save", "-o", base.to_str().unwrap(), "busybox:local"]);
    let second = TestContext::new();
    second.ok(&["load", "-i", base.to_str().unwrap()]);
    second.dockerfile(DOCKERFILE);
    second.file("app.txt", "app\n");
    let from = format!("type=registry,ref={reference}");
    let out = second.build(&["-t", "app", "--cache-from", &from, "--explain"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let cached = stderr.lines().filter(|l| l.ends_with(" CACHED")).count();
    assert_eq!(cached, 2, "{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.ends_with(&format!("CACHED from the imported cache {from}")))
            .count(),
        2,
        "{stderr}"
    );
    assert_eq!(text(&out.stdout), id, "the same image");
    assert_eq!(second.run("app", &["cat", "/built"]), "app\nmade\n");

    // A tag that holds no kiln cache: a warning, a cold build.
    let out = second.build(&[
        "-t",
        "app2",
        "--no-cache",
        "--cache-from",
        &format!("type=registry,ref={}/test/nothing:here", registry.addr()),
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("not used"), "{stderr}");
}
