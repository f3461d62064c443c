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

/// The first runner's store, its context written, and a registry; `None`
/// after a loud skip of test `what`.
fn first_store(what: &str) -> Option<(TestContext, Registry)> {
    if !ready(what) {
        return None;
    }
    let first = TestContext::for_build(DOCKERFILE)?;
    first.file("app.txt", "app\n");
    Some((first, Registry::plain()))
}

/// A fresh store with the first's base image (loaded from its save) and
/// the same context, written anew.
fn next_store(first: &TestContext) -> TestContext {
    let base = first.dir().join("base.tar");
    first.ok(&["save", "-o", base.to_str().unwrap(), "busybox:local"]);
    let second = TestContext::new();
    second.ok(&["load", "-i", base.to_str().unwrap()]);
    second.dockerfile(DOCKERFILE);
    second.file("app.txt", "app\n");
    second
}

/// How many steps `--explain` says came from the imported cache `from`.
fn imported_hits(stderr: &str, from: &str) -> usize {
    let said = format!("CACHED from the imported cache {from}");
    stderr.lines().filter(|l| l.ends_with(&said)).count()
}

/// A `--no-cache` build of `context` importing `from`, which must
/// succeed; its stderr.
fn cold_build(context: &TestContext, from: &str) -> String {
    let out = context.build(&["-t", "cold", "--no-cache", "--cache-from", from]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    stderr
}

#[test]
fn a_cache_pushed_by_one_store_serves_another() {
    let Some((first, registry)) = first_store("kiln registry cache test") else {
        return;
    };
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

    let second = next_store(&first);
    let from = format!("type=registry,ref={reference}");
    let out = second.build(&["-t", "app", "--cache-from", &from, "--explain"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let cached = stderr.lines().filter(|l| l.ends_with(" CACHED")).count();
    assert_eq!(cached, 2, "{stderr}");
    assert_eq!(imported_hits(&stderr, &from), 2, "{stderr}");
    assert_eq!(text(&out.stdout), id, "the same image");
    assert_eq!(second.run("app", &["cat", "/built"]), "app\nmade\n");

    // A tag that holds no kiln cache: a warning, a cold build.
    let from = format!("type=registry,ref={}/test/nothing:here", registry.addr());
    let stderr = cold_build(&second, &from);
    assert!(stderr.contains("not used"), "{stderr}");
}

#[test]
fn an_image_pushed_with_an_inline_cache_is_a_cache() {
    let Some((first, registry)) = first_store("kiln inline cache test") else {
        return;
    };
    let out = first.build(&["-t", "app", "--cache-to", "type=inline"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("exported the build cache inline in the image: 2 steps"),
        "{stderr}"
    );
    let id = text(&out.stdout);
    let reference = format!("{}/test/inline:1", registry.addr());
    first.ok(&["push", "app", &reference]);
    // The pushed config is the image's, cache included.
    let config: serde_json::Value = serde_json::from_slice(&registry.blob(id.trim_end())).unwrap();
    let inline = &config["kiln.cache.v1"];
    assert_eq!(inline["layers"], config["rootfs"]["diff_ids"]);
    assert_eq!(inline["records"].as_array().map(Vec::len), Some(2));

    let second = next_store(&first);
    // buildx's short form: a bare reference is type=registry,ref=.
    let out = second.build(&[
        "-t",
        "app",
        "--cache-from",
        &reference,
        "--cache-to",
        "type=inline",
        "--explain",
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let from = format!("type=registry,ref={reference}");
    assert_eq!(imported_hits(&stderr, &from), 2, "{stderr}");
    assert_eq!(
        text(&out.stdout),
        id,
        "the same image, inline cache included"
    );
    assert_eq!(second.run("app", &["cat", "/built"]), "app\nmade\n");

    // An image built on it does not carry its base's cache; an image
    // without one is a warning and a cold build.
    second.dockerfile(&format!("FROM {reference}\nRUN echo more > /more\n"));
    let out = second.build(&["-t", "derived", "--pull"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let derived = text(&out.stdout);
    let out = second.kiln(&[
        "push",
        "derived",
        &format!("{}/test/derived:1", registry.addr()),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config: serde_json::Value =
        serde_json::from_slice(&registry.blob(derived.trim_end())).unwrap();
    assert!(config.get("kiln.cache.v1").is_none(), "{config}");
    let stderr = cold_build(&second, &format!("{}/test/derived:1", registry.addr()));
    assert!(stderr.contains("carries no inline kiln cache"), "{stderr}");
}

/// Whether the store of `context` holds blob `digest`.
fn holds(context: &TestContext, digest: &str) -> bool {
    let hex = digest.trim_start_matches("sha256:");
    context.root.join("blobs/sha256").join(hex).exists()
}

/// Point 4: a cache hit is not a download. A fresh store imports the
/// cache and pushes the unchanged image to another repository of the same
/// registry: the hits' layers are mounted there, never fetched. They are
/// fetched when something needs their files: a step on top, `kiln run`.
#[test]
fn a_hit_that_is_only_pushed_is_never_downloaded() {
    let Some((first, registry)) = first_store("kiln lazy cache test") else {
        return;
    };
    let cache = format!("{}/test/app:buildcache", registry.addr());
    let to = format!("type=registry,ref={cache},ignore-error=false");
    let out = first.build(&["-t", "app", "--cache-to", &to]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let second = next_store(&first);
    let target = format!("{}/test/other:2", registry.addr());
    let from = format!("type=registry,ref={cache}");
    let out = second.build(&["-t", &target, "--push", "--cache-from", &from, "--explain"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(imported_hits(&stderr, &from), 2, "{stderr}");
    let layers = registry.layers_of("test/other", "2");
    assert_eq!(layers.len(), 3, "busybox, COPY, RUN");
    let held = |digest: &str| holds(&second, digest);
    for layer in &layers[1..] {
        assert!(!held(layer), "layer {layer} was downloaded\n{stderr}");
    }

    // A step on top needs the files below it: they are fetched then.
    second.dockerfile(&format!("{DOCKERFILE}RUN cat /built /app.txt > /again\n"));
    let out = second.build(&["-t", "more", "--cache-from", &from]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(layers[1..].iter().all(|l| held(l)));
    assert_eq!(second.run("more", &["cat", "/again"]), "app\nmade\napp\n");

    // An image of remote layers runs: `kiln run` fetches them.
    let third = next_store(&first);
    let out = third.build(&["-t", "lazy", "--cache-from", &from]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(third.run("lazy", &["cat", "/built"]), "app\nmade\n");

    // A base image is pulled as lazily: a build that reads none of its
    // files, pushed to the same registry, downloads none of its layers.
    let fourth = TestContext::new();
    fourth.dockerfile(&format!("FROM {target}\nLABEL lazy=yes\n"));
    let labeled = format!("{}/test/labeled:1", registry.addr());
    let out = fourth.build(&["-t", &labeled, "--push"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(registry.layers_of("test/labeled", "1"), layers);
    for layer in &layers {
        assert!(!holds(&fourth, layer), "{layer} downloaded\n{stderr}");
    }
    assert_eq!(fourth.run(&labeled, &["cat", "/built"]), "app\nmade\n");
}

/// Point 5 through a registry: a cache mount warmed by one store, exported
/// with `mounts=true` under a tag, is seen by a fresh store's build.
#[test]
fn a_cache_mount_travels_through_a_registry() {
    let Some((first, registry)) = first_store("kiln registry cache mount test") else {
        return;
    };
    first.dockerfile(
        "FROM busybox:local\n\
         RUN --mount=type=cache,id=warm,target=/cache echo warm > /cache/stamp\n",
    );
    let cache = format!("{}/test/mounts:buildcache", registry.addr());
    let to = format!("type=registry,ref={cache},mounts=true,ignore-error=false");
    let out = first.build(&["-t", "warm", "--cache-to", &to]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(", 1 cache mounts,"), "{stderr}");

    let second = next_store(&first);
    second.dockerfile(
        "FROM busybox:local\n\
         RUN --mount=type=cache,id=warm,target=/cache cat /cache/stamp > /seen\n",
    );
    let from = format!("type=registry,ref={cache}");
    let out = second.build(&["-t", "seen", "--cache-from", &from]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(second.run("seen", &["cat", "/seen"]), "warm\n");
}

/// Point 4 across stages: the `COPY --from` step of a fresh store is keyed
/// with the selection digest the cache carries, so no stage's layers are
/// fetched when every step is a hit and the image is pushed.
#[test]
fn a_multi_stage_hit_fetches_no_stage() {
    let Some((first, registry)) = first_store("kiln lazy multi-stage cache test") else {
        return;
    };
    let stages = "FROM busybox:local AS build\n\
         COPY app.txt /app.txt\n\
         RUN cat /app.txt > /built\n\
         FROM busybox:local\n\
         COPY --from=build /built /built\n\
         RUN cp /built /final\n";
    first.dockerfile(stages);
    let cache = format!("{}/test/stages:buildcache", registry.addr());
    let to = format!("type=registry,ref={cache},mode=max,ignore-error=false");
    let out = first.build(&["-t", "stages", "--cache-to", &to]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let second = next_store(&first);
    second.dockerfile(stages);
    let from = format!("type=registry,ref={cache}");
    let target = format!("{}/test/stages:1", registry.addr());
    let out = second.build(&["-t", &target, "--push", "--cache-from", &from, "--explain"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(imported_hits(&stderr, &from), 4, "{stderr}");
    for layer in registry.layers_of("test/stages", "buildcache") {
        assert!(!holds(&second, &layer), "{layer} downloaded\n{stderr}");
    }
    assert_eq!(second.run(&target, &["cat", "/final"]), "app\n");
}
