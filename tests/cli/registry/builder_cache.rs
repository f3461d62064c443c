//! `--cache-to`/`--cache-from` with `--builder docker`: passed to
//! BuildKit's own cache exporters and importers. dockerd 20.10's BuildKit
//! exports only `type=inline`; the image kiln pushes then carries the
//! cache records, and a later build's `--cache-from` makes dockerd read
//! them from the registry.

use super::fixture::Registry;
use crate::builder::{BASE, build, context, dockerd_with_base};
use crate::support::text;

#[test]
fn inline_cache_goes_to_the_registry_and_comes_back_through_dockerd() {
    if !dockerd_with_base() {
        return;
    }
    let registry = Registry::plain();
    let reference = format!("{}/builder/cached:1", registry.addr());
    let dockerfile = format!(
        "FROM {BASE}\nRUN echo cached-{} > /step\n",
        std::process::id()
    );
    let cx = context(&dockerfile);
    let out = build(
        &cx,
        &[
            "-q",
            "--cache-to",
            "type=inline",
            "--push",
            "-t",
            &reference,
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The records are in the pushed image's config (BuildKit's key).
    let saved = cx.dir().join("pushed.tar");
    let saved_arg = saved.to_str().unwrap();
    cx.ok(&["save", "-o", saved_arg, &reference]);
    let bytes = std::fs::read(&saved).unwrap();
    assert!(
        bytes.windows(22).any(|w| w == b"moby.buildkit.cache.v0"),
        "no inline cache in the image"
    );
    // Another build names the image as its cache: dockerd asks the
    // registry for it (kiln itself never does in a --builder build).
    let before = registry.log().lines().count();
    let again = context(&dockerfile);
    let out = build(
        &again,
        &[
            "-q",
            "--cache-from",
            &format!("type=registry,ref={reference}"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = registry.log();
    let asked: Vec<&str> = log
        .lines()
        .skip(before)
        .filter(|l| l.contains("/v2/builder/cached/manifests/1"))
        .collect();
    assert!(!asked.is_empty(), "dockerd did not read the cache: {log}");
    // A kind dockerd cannot export is refused before anything runs.
    let out = build(
        &again,
        &[
            "-q",
            "--cache-to",
            &format!("type=registry,ref={}/builder/cache:c", registry.addr()),
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("dockerd's BuildKit exports only type=inline caches"),
        "{stderr}"
    );
}
