//! Tags in index.json: set, resolve, replace, remove, concurrently.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use kiln_cache::Store;
use kiln_oci::{Descriptor, Reference, media_type};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn manifest(store: &Store, seed: &str) -> Descriptor {
    let bytes = format!("{{\"schemaVersion\":2,\"seed\":\"{seed}\"}}");
    let (digest, size) = store.blobs().put(bytes.as_bytes(), None).unwrap();
    Descriptor::new(media_type::OCI_MANIFEST, digest, size)
}

#[test]
fn tags_are_normalized_names_in_index_json() {
    let (dir, store) = store();
    let target = manifest(&store, "a");
    let name = Reference::parse("busybox").unwrap();
    assert_eq!(store.set_tag(&name, &target).unwrap(), None);
    let resolved = store.resolve_tag(&name).unwrap().unwrap();
    assert_eq!(resolved.digest, target.digest);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "docker.io/library/busybox:latest"
    );
    let tags = store.tags().unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0].name, "docker.io/library/busybox:latest");
}

#[test]
fn retagging_replaces_and_returns_the_old_target() {
    let (_dir, store) = store();
    let (a, b) = (manifest(&store, "a"), manifest(&store, "b"));
    let name = Reference::parse("localhost:5000/app:v1").unwrap();
    store.set_tag(&name, &a).unwrap();
    let previous = store.set_tag(&name, &b).unwrap().unwrap();
    assert_eq!(previous.digest, a.digest);
    assert!(previous.annotations.is_empty());
    assert_eq!(store.tags().unwrap().len(), 1);
    assert_eq!(store.resolve_tag(&name).unwrap().unwrap().digest, b.digest);
    assert_eq!(store.remove_tag(&name).unwrap().unwrap().digest, b.digest);
    assert!(store.resolve_tag(&name).unwrap().is_none());
    assert!(store.remove_tag(&name).unwrap().is_none());
}

#[test]
fn concurrent_taggers_lose_no_tag() {
    let (_dir, store) = store();
    let target = manifest(&store, "shared");
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            let target = target.clone();
            std::thread::spawn(move || {
                for i in 0..10 {
                    let name = Reference::parse(&format!("app{t}:v{i}")).unwrap();
                    store.set_tag(&name, &target).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(store.tags().unwrap().len(), 80);
}

#[test]
fn index_json_is_deterministic() {
    let (dir, store) = store();
    let (a, b) = (manifest(&store, "a"), manifest(&store, "b"));
    store
        .set_tag(&Reference::parse("zeta").unwrap(), &a)
        .unwrap();
    store
        .set_tag(&Reference::parse("alpha").unwrap(), &b)
        .unwrap();
    let first = std::fs::read(dir.path().join("index.json")).unwrap();

    let (dir2, store2) = self::store();
    let (a2, b2) = (manifest(&store2, "a"), manifest(&store2, "b"));
    store2
        .set_tag(&Reference::parse("alpha").unwrap(), &b2)
        .unwrap();
    store2
        .set_tag(&Reference::parse("zeta").unwrap(), &a2)
        .unwrap();
    let second = std::fs::read(dir2.path().join("index.json")).unwrap();
    assert_eq!(first, second);
}
