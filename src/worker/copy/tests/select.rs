//! The selection digest behind a copy's cache key: it changes exactly when
//! what the copy would read changes, and it trusts the stat cache.

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime};

use super::fixture::*;
use crate::worker::copy::{CopySource, SourceOwnership, select};
use kiln_cache::FileStamp;
use kiln_dockerignore::Matcher;
use kiln_oci::Digest;

fn digest(fx: &Fx, action: &kiln_solver::Copy, ignore: Option<&Matcher>) -> Digest {
    let source = CopySource {
        root: &fx.src,
        ignore,
        ownership: SourceOwnership::Root,
    };
    select(&source, action, None, false).unwrap().digest
}

#[test]
fn only_selected_content_counts() {
    let fx = Fx::new();
    fx.file("src/a.rs", "fn a() {}");
    fx.file("src/skip.tmp", "x");
    fx.file("docs/guide", "g");
    let ignore = Matcher::new(["src/*.tmp"]).unwrap();
    let action = copy_action(&["src/"], "/app/");
    let first = digest(&fx, &action, Some(&ignore));
    // Unselected and ignored files, and times, do not count.
    fx.file("docs/guide", "changed");
    fx.file("src/skip.tmp", "changed");
    set_mtime(&fx.src.join("src/a.rs"), 1_000_000, 0);
    assert_eq!(digest(&fx, &action, Some(&ignore)), first);
    // Content, a new file, a mode and a symlink target do.
    fx.file("src/a.rs", "fn b() {}");
    let content = digest(&fx, &action, Some(&ignore));
    assert_ne!(content, first);
    fx.file("src/new.rs", "");
    let added = digest(&fx, &action, Some(&ignore));
    assert_ne!(added, content);
    chmod(&fx.src.join("src/new.rs"), 0o755);
    let moded = digest(&fx, &action, Some(&ignore));
    assert_ne!(moded, added);
    fx.link("src/l", "a.rs");
    let linked = digest(&fx, &action, Some(&ignore));
    fx.link("src/l2", "new.rs");
    assert_ne!(digest(&fx, &action, Some(&ignore)), linked);
}

#[test]
fn exclude_patterns_and_wildcards_select_like_the_copy() {
    let fx = Fx::new();
    fx.file("a.txt", "a");
    fx.file("b.log", "b");
    let mut action = copy_action(&["*.txt"], "/");
    let first = digest(&fx, &action, None);
    fx.file("b.log", "changed");
    assert_eq!(digest(&fx, &action, None), first);
    fx.file("c.txt", "c");
    assert_ne!(digest(&fx, &action, None), first);
    action = copy_action(&["."], "/");
    action.exclude = vec!["*.log".into()];
    let excluded = digest(&fx, &action, None);
    fx.file("b.log", "again");
    assert_eq!(digest(&fx, &action, None), excluded);
}

#[test]
fn a_missing_source_fails_as_the_copy_would() {
    let fx = Fx::new();
    let source = CopySource {
        root: &fx.src,
        ignore: None,
        ownership: SourceOwnership::Root,
    };
    let err = select(&source, &copy_action(&["nope"], "/"), None, false).unwrap_err();
    assert_eq!(err.to_string(), "/nope: no such file or directory");
}

#[test]
fn a_settled_stat_cache_entry_is_used_without_reading_the_file() {
    let fx = Fx::new();
    let path = fx.file("data", "real content");
    // Old enough that the entry is settled against the cache file.
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(600))
        .unwrap();
    drop(file);
    let meta = std::fs::metadata(&path).unwrap();
    let stamp = FileStamp {
        size: meta.size(),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        ino: meta.ino(),
        mode: meta.mode(),
    };
    let store_dir = tempfile::tempdir().unwrap();
    let store = kiln_cache::Store::open(store_dir.path()).unwrap();
    // The ctime is now, so the cache file must be written after it.
    std::thread::sleep(Duration::from_millis(20));
    let mut cache = store.stat_cache(&fx.src);
    let planted = Digest::of(b"not the real content");
    cache.insert("data", stamp, planted.clone());
    store.save_stat_cache(&mut cache).unwrap();

    let mut cache = store.stat_cache(&fx.src);
    let source = CopySource {
        root: &fx.src,
        ignore: None,
        ownership: SourceOwnership::Root,
    };
    let action = copy_action(&["data"], "/");
    let selected = select(&source, &action, Some(&mut cache), true).unwrap();
    assert_eq!(selected.files, [("data".to_string(), planted)]);
    // A changed file is hashed for real, and remembered.
    fx.file("data", "new content!");
    let selected = select(&source, &action, Some(&mut cache), true).unwrap();
    assert_eq!(
        selected.files,
        [("data".to_string(), Digest::of(b"new content!"))]
    );
    // Without the list, the same digest.
    let unlisted = select(&source, &action, Some(&mut cache), false).unwrap();
    assert!(unlisted.files.is_empty());
    assert_eq!(unlisted.digest, selected.digest);
}
