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
    let (blob, size) = store.blobs().put(b"layer bytes", None).unwrap();
    let chain_id = Digest::of(b"chain");
    if with_snapshot {
        std::fs::create_dir_all(store.snapshot_path(&chain_id)).unwrap();
    }
    let record = CacheRecord {
        layers: vec![RecordLayer {
            empty: false,
            chain_id,
            diff_id: blob.clone(),
            descriptor: Descriptor::new(media_type::OCI_LAYER_TAR, blob, size),
        }],
        created: "2026-01-01T00:00:00Z".into(),
        description: "[1/2] RUN x".into(),
    };
    (Digest::of(b"key"), record)
}

#[test]
fn a_record_is_a_hit_only_while_its_layers_exist() {
    let (_dir, store) = store();
    let (key, rec) = record(&store, true);
    assert!(store.lookup_record(&key).is_none());
    store.put_record(&key, &rec).unwrap();
    assert_eq!(store.lookup_record(&key), Some(rec.clone()));
    std::fs::remove_dir(store.snapshot_path(&rec.layers[0].chain_id)).unwrap();
    assert!(store.lookup_record(&key).is_none(), "snapshot gone");
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
    store.save_trail(&trail).unwrap();
    assert_eq!(store.trail("app:1"), Some(trail));
    assert!(store.trail("app:2").is_none());
}
