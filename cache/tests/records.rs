//! Cache records, the stat cache and trails: what is trusted and what is
//! not.

#![allow(clippy::unwrap_used)]

use kiln_cache::{CacheRecord, FileStamp, RecordLayer, Store, Trail, TrailStep};
use kiln_oci::{Descriptor, Digest, media_type};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn ns(t: SystemTime) -> i128 {
    t.duration_since(UNIX_EPOCH).unwrap().as_nanos() as i128
}

fn stamp(mtime_ns: i128) -> FileStamp {
    FileStamp {
        size: 3,
        mtime_ns,
        ctime_ns: mtime_ns,
        ino: 7,
        mode: 0o100644,
    }
}

#[test]
fn a_saved_entry_is_trusted_only_for_the_same_stamp() {
    let (_dir, store) = store();
    let context = std::path::Path::new("/some/context");
    let old = ns(SystemTime::now() - Duration::from_secs(60));
    let mut cache = store.stat_cache(context);
    assert!(cache.lookup("a", &stamp(old)).is_none());
    cache.insert("a", stamp(old), Digest::of(b"a"));
    store.save_stat_cache(&mut cache).unwrap();
    let cache = store.stat_cache(context);
    assert_eq!(cache.lookup("a", &stamp(old)), Some(Digest::of(b"a")));
    let mut changed = stamp(old);
    changed.size = 4;
    assert!(cache.lookup("a", &changed).is_none());
    changed = stamp(old);
    changed.ctime_ns += 1;
    assert!(cache.lookup("a", &changed).is_none());
    changed = stamp(old);
    changed.ino += 1;
    assert!(cache.lookup("a", &changed).is_none());
    // Another context never sees it.
    assert!(
        store
            .stat_cache(std::path::Path::new("/other"))
            .lookup("a", &stamp(old))
            .is_none()
    );
}

#[test]
fn entries_are_found_among_many_across_saves_and_replaced_by_new_hashes() {
    let (_dir, store) = store();
    let context = std::path::Path::new("/many");
    let old = ns(SystemTime::now() - Duration::from_secs(60));
    // Names that sort around one another byte-wise ('.' < '/' < 'b').
    let mut paths: Vec<String> = ["a", "a.b", "a/b", "ab", "a/b/c", "é", "Z"]
        .map(String::from)
        .to_vec();
    paths.extend((0..500).map(|i| format!("d{}/f{i}", i % 7)));
    let mut cache = store.stat_cache(context);
    for path in &paths[..300] {
        cache.insert(path, stamp(old), Digest::of(path.as_bytes()));
    }
    store.save_stat_cache(&mut cache).unwrap();
    let mut cache = store.stat_cache(context);
    for path in &paths[300..] {
        cache.insert(path, stamp(old), Digest::of(path.as_bytes()));
    }
    // A new hash of a saved path wins over the saved one.
    cache.insert("a/b", stamp(old), Digest::of(b"new"));
    store.save_stat_cache(&mut cache).unwrap();
    let cache = store.stat_cache(context);
    assert_eq!(cache.len(), paths.len());
    for path in &paths {
        let expected = if path == "a/b" {
            Digest::of(b"new")
        } else {
            Digest::of(path.as_bytes())
        };
        assert_eq!(cache.lookup(path, &stamp(old)), Some(expected), "{path}");
    }
    for missing in ["", "a/", "a/b/c/d", "d1", "d0/f99999", "zz"] {
        assert!(cache.lookup(missing, &stamp(old)).is_none(), "{missing}");
    }
}

#[test]
fn a_racy_entry_is_hashed_again_and_then_dropped() {
    let (_dir, store) = store();
    let context = std::path::Path::new("/ctx");
    // Stamped in the future of the cache file's own mtime: the file could
    // have changed after it was hashed, in the same tick.
    let future = ns(SystemTime::now() + Duration::from_secs(3600));
    let old = ns(SystemTime::now() - Duration::from_secs(60));
    let mut cache = store.stat_cache(context);
    cache.insert("racy", stamp(future), Digest::of(b"r"));
    cache.insert("settled", stamp(old), Digest::of(b"s"));
    store.save_stat_cache(&mut cache).unwrap();
    let mut cache = store.stat_cache(context);
    assert!(cache.lookup("racy", &stamp(future)).is_none());
    assert!(cache.lookup("settled", &stamp(old)).is_some());
    // Saved again without hashing it: the racy entry must not come back
    // looking settled against the newer file.
    cache.insert("other", stamp(old), Digest::of(b"o"));
    store.save_stat_cache(&mut cache).unwrap();
    let cache = store.stat_cache(context);
    assert_eq!(cache.len(), 2);
    assert!(cache.lookup("racy", &stamp(future)).is_none());
}

#[test]
fn a_corrupt_stat_cache_is_empty() {
    let (dir, store) = store();
    let context = std::path::Path::new("/ctx");
    let mut cache = store.stat_cache(context);
    cache.insert("a", stamp(1), Digest::of(b"a"));
    store.save_stat_cache(&mut cache).unwrap();
    for entry in std::fs::read_dir(dir.path().join(kiln_cache::STAT_DIR)).unwrap() {
        std::fs::write(entry.unwrap().path(), b"{not json").unwrap();
    }
    assert!(store.stat_cache(context).is_empty());
}

fn record(store: &Store, with_snapshot: bool) -> (Digest, CacheRecord) {
    named_record(store, "layer", with_snapshot)
}

/// A record of one layer (blob and, optionally, a snapshot holding a
/// 1000-byte file) made from `name`, and its key.
fn named_record(store: &Store, name: &str, with_snapshot: bool) -> (Digest, CacheRecord) {
    let (blob, size) = store.blobs().put(name.as_bytes(), None).unwrap();
    let chain_id = Digest::of(format!("chain-{name}").as_bytes());
    if with_snapshot {
        let snapshot = store.snapshot_path(&chain_id);
        std::fs::create_dir_all(&snapshot).unwrap();
        std::fs::write(snapshot.join("f"), vec![0u8; 1000]).unwrap();
    }
    let record = CacheRecord {
        layers: vec![RecordLayer {
            empty: false,
            chain_id,
            diff_id: blob.clone(),
            descriptor: Descriptor::new(media_type::OCI_LAYER_TAR, blob, size),
        }],
        created: "2026-01-01T00:00:00Z".into(),
        description: format!("[1/2] RUN {name}"),
    };
    (Digest::of(format!("key-{name}").as_bytes()), record)
}

#[test]
fn a_record_is_a_hit_only_while_its_layers_exist() {
    let (_dir, store) = store();
    let (key, rec) = record(&store, true);
    assert!(store.lookup_record(&key).is_none());
    store.put_record(&key, &rec).unwrap();
    assert_eq!(store.lookup_record(&key), Some(rec.clone()));
    // The snapshot is made again from the blob when a step needs it.
    std::fs::remove_dir_all(store.snapshot_path(&rec.layers[0].chain_id)).unwrap();
    assert_eq!(
        store.lookup_record(&key),
        Some(rec.clone()),
        "snapshot gone"
    );
    let descriptor = &rec.layers[0].descriptor;
    std::fs::remove_file(store.blobs().path(&descriptor.digest)).unwrap();
    assert!(store.lookup_record(&key).is_none(), "blob gone");
    // A blob a registry has, marked remote: a hit again, fetched when read.
    store
        .mark_remote(descriptor, "registry.example/repo")
        .unwrap();
    assert_eq!(store.lookup_record(&key), Some(rec.clone()), "remote blob");
    let listed = store.records().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key.as_ref(), Some(&key));
}

#[test]
fn a_hit_counts_as_a_use() {
    let (_dir, store) = store();
    let (key, rec) = record(&store, true);
    store.put_record(&key, &rec).unwrap();
    let path = &store.records().unwrap()[0].path;
    let file = std::fs::File::options().write(true).open(path).unwrap();
    let long_ago = SystemTime::now() - Duration::from_secs(86_400);
    file.set_modified(long_ago).unwrap();
    assert!(store.lookup_record(&key).is_some());
    let used = store.records().unwrap()[0].last_used;
    assert!(used > long_ago + Duration::from_secs(3600));
}

#[test]
fn trails_round_trip_by_name() {
    let (_dir, store) = store();
    assert!(store.trail("app:1").is_none());
    let trail = Trail {
        name: "app:1".into(),
        steps: vec![TrailStep {
            name: "[1/1] RUN x".into(),
            key: Some(Digest::of(b"k")),
            ..TrailStep::default()
        }],
    };
    store.save_trail(&mut trail.clone()).unwrap();
    assert_eq!(store.trail("app:1"), Some(trail));
    assert!(store.trail("app:2").is_none());
}

#[test]
fn a_cached_step_takes_the_files_of_the_replaced_step_with_its_key() {
    let (_dir, store) = store();
    let map = |entries: &[(&str, &str)]| {
        entries
            .iter()
            .map(|(p, d)| (p.to_string(), d.to_string()))
            .collect()
    };
    // Read and written files alike: the test gives a step the same list
    // for both.
    let step = |name: &str, key: &[u8], files: &[(&str, &str)]| TrailStep {
        name: name.into(),
        key: Some(Digest::of(key)),
        files: map(files),
        written: map(files),
        ..TrailStep::default()
    };
    let trail = |steps| Trail {
        name: "app".into(),
        steps,
    };
    store
        .save_trail(&mut trail(vec![
            step("[1/2] COPY . /a", b"a", &[("a/f", "x")]),
            step("[2/2] COPY . /b", b"b", &[("b/f", "y")]),
        ]))
        .unwrap();
    // The first step was cached (nothing listed or written), the second
    // ran with a new key and read and wrote nothing of the context.
    store
        .save_trail(&mut trail(vec![
            step("[1/2] COPY . /a", b"a", &[]),
            step("[2/2] COPY . /b", b"c", &[]),
        ]))
        .unwrap();
    assert_eq!(
        store.trail("app").unwrap(),
        trail(vec![
            step("[1/2] COPY . /a", b"a", &[("a/f", "x")]),
            step("[2/2] COPY . /b", b"c", &[]),
        ])
    );
}

#[test]
fn doctor_finds_a_corrupt_blob_and_an_unreadable_record() {
    let (_dir, store) = store();
    let (key, rec) = record(&store, true);
    store.put_record(&key, &rec).unwrap();
    let clean = store.doctor(true).unwrap();
    assert!(clean.problems.is_empty(), "{:?}", clean.problems);
    assert_eq!((clean.blobs, clean.records, clean.snapshots), (1, 1, 1));
    let blob = &rec.layers[0].descriptor.digest;
    std::fs::write(store.blobs().path(blob), b"tampered").unwrap();
    let found = store.doctor(true).unwrap();
    assert!(
        found.problems.iter().any(|p| p.contains(&blob.to_string())),
        "{:?}",
        found.problems
    );
    // --quick only checks presence.
    assert!(store.doctor(false).unwrap().problems.is_empty());
    let path = store.records().unwrap()[0].path.clone();
    std::fs::write(&path, b"{").unwrap();
    let found = store.doctor(false).unwrap();
    assert!(found.problems.iter().any(|p| p.contains("unreadable")));
}

#[test]
fn prune_keeps_records_unless_told_and_drops_the_least_recently_used_first() {
    use kiln_cache::PruneOptions;
    let (_dir, store) = store();
    // Two records, each holding its own layer, one used long ago.
    let mut keys = Vec::new();
    for (name, age) in [("old", 86_400 * 3), ("new", 0)] {
        let (key, rec) = named_record(&store, name, true);
        store.put_record(&key, &rec).unwrap();
        let path = store
            .records()
            .unwrap()
            .into_iter()
            .find(|r| r.key.as_ref() == Some(&key))
            .unwrap()
            .path;
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(age))
            .unwrap();
        keys.push(key);
    }
    // A plain prune keeps both (and their layers).
    let pruned = store.prune().unwrap();
    assert_eq!(pruned.records, 0);
    assert!(pruned.snapshots.is_empty());
    let usage = store.usage().unwrap();
    assert_eq!(usage.records, 2);
    assert!(usage.cache_bytes >= 2000, "{usage:?}");
    // until=1d: the old one goes, with its layer.
    let pruned = store
        .prune_with(&PruneOptions {
            until: Some(SystemTime::now() - Duration::from_secs(86_400)),
            ..PruneOptions::default()
        })
        .unwrap();
    assert_eq!(pruned.records, 1);
    assert_eq!(pruned.snapshots.len(), 1);
    assert!(store.lookup_record(&keys[0]).is_none());
    assert!(store.lookup_record(&keys[1]).is_some());
    // keep-storage below one record's size: it goes too.
    let pruned = store
        .prune_with(&PruneOptions {
            keep_storage: Some(500),
            ..PruneOptions::default()
        })
        .unwrap();
    assert_eq!(pruned.records, 1);
    assert_eq!(store.usage().unwrap().records, 0);
}

#[test]
fn prune_all_removes_the_whole_build_cache() {
    let (dir, store) = store();
    let (key, rec) = record(&store, true);
    store.put_record(&key, &rec).unwrap();
    std::fs::create_dir_all(dir.path().join(kiln_cache::CACHE_MOUNTS_DIR).join("m")).unwrap();
    store.put_memo("kind", &key, "value").unwrap();
    let pruned = store
        .prune_with(&kiln_cache::PruneOptions {
            all: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(pruned.records, 1);
    assert!(store.lookup_record(&key).is_none());
    assert!(store.memo("kind", &key).is_none());
    assert!(!dir.path().join(kiln_cache::CACHE_MOUNTS_DIR).exists());
    assert!(store.doctor(true).unwrap().problems.is_empty());
}

#[test]
fn a_cached_twin_of_a_step_that_ran_takes_its_files_in_a_first_trail() {
    let (_dir, store) = store();
    let files: std::collections::BTreeMap<String, String> =
        [("a".to_string(), "sha256:1".to_string())].into();
    let ran = TrailStep {
        name: "[one 2/2] COPY a /".into(),
        key: Some(Digest::of(b"same")),
        files: files.clone(),
        ..TrailStep::default()
    };
    // Two stages made the same step: one ran, the other waited and was
    // cached, with no list of its own and no earlier trail to take one from.
    let cached = TrailStep {
        name: "[two 2/2] COPY a /".into(),
        ..ran.clone()
    };
    let cached = TrailStep {
        files: Default::default(),
        ..cached
    };
    let mut trail = Trail {
        name: "first".into(),
        steps: vec![ran, cached],
    };
    store.save_trail(&mut trail).unwrap();
    let saved = store.trail("first").unwrap();
    assert_eq!(saved.steps[1].files, files);
}

/// Puts the bytes of the blob it is asked for into the store, as a
/// registry download would, and counts the calls.
struct FakeRegistry {
    bytes: Vec<u8>,
    calls: std::sync::atomic::AtomicUsize,
}

impl kiln_cache::Fetch for FakeRegistry {
    fn fetch(&self, root: &std::path::Path, descriptor: &Descriptor) -> Result<(), String> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let store = Store::open(root).map_err(|e| e.to_string())?;
        store
            .blobs()
            .put(&self.bytes, Some(&descriptor.digest))
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn fetch_unpacking(
        &self,
        root: &std::path::Path,
        descriptor: &Descriptor,
        _chain_id: &Digest,
        _diff_id: &Digest,
    ) -> Result<(), String> {
        self.fetch(root, descriptor)
    }
}

#[test]
fn a_remote_blob_is_fetched_when_read_and_only_then() {
    let (_dir, mut store) = store();
    let bytes = b"remote layer bytes".to_vec();
    let descriptor = Descriptor::new(media_type::OCI_LAYER_TAR, Digest::of(&bytes), 18);
    let fake = std::sync::Arc::new(FakeRegistry {
        bytes: bytes.clone(),
        calls: Default::default(),
    });
    // Not marked: not found, nothing asked.
    store.set_fetcher(fake.clone());
    assert!(matches!(
        store.blobs().open(&descriptor.digest),
        Err(kiln_cache::StoreError::BlobNotFound(_))
    ));
    store
        .mark_remote(&descriptor, "registry.example/repo")
        .unwrap();
    assert!(store.available(&descriptor.digest));
    assert_eq!(store.remote(&descriptor.digest), Some(descriptor.clone()));
    assert_eq!(
        store.remote_sources(&descriptor.digest),
        ["registry.example/repo"]
    );
    assert_eq!(fake.calls.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert_eq!(store.blobs().read(&descriptor.digest).unwrap(), bytes);
    assert_eq!(store.blobs().read(&descriptor.digest).unwrap(), bytes);
    assert_eq!(
        fake.calls.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "fetched once"
    );
    assert_eq!(store.remote(&descriptor.digest), None, "held now");
}
