//! A COPY that runs again takes the files that did not change from its
//! last result (hard links into the new layer) and still makes the layer a
//! fresh copy would: same entries, modes, owners, contents and times.

use super::support::{TestContext, text};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The snapshot directories of the store that hold `rel`.
fn snapshots_with(f: &TestContext, rel: &str) -> Vec<PathBuf> {
    std::fs::read_dir(f.root.join("snapshots"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join(rel).exists())
        .collect()
}

/// The top layer of `image` as (name → type, mode, owner, size, mtime,
/// content), read from the store's uncompressed blob; directory times are
/// left out (a created destination directory gets the time of the copy).
fn top_layer(f: &TestContext, image: &str) -> BTreeMap<String, String> {
    let out = f.kiln(&["inspect", image]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let inspect: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let diff_ids = inspect[0]["RootFS"]["Layers"].as_array().unwrap();
    let top = diff_ids.last().unwrap().as_str().unwrap();
    let blob = f
        .root
        .join("blobs/sha256")
        .join(top.trim_start_matches("sha256:"));
    let mut archive = tar::Archive::new(std::fs::File::open(&blob).unwrap());
    let mut entries = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        let name = entry.path().unwrap().display().to_string();
        let kind = header.entry_type();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        let mtime = match kind.is_dir() {
            true => "-".to_string(),
            false => header.mtime().unwrap().to_string(),
        };
        let xattrs: Vec<String> = entry
            .pax_extensions()
            .unwrap()
            .into_iter()
            .flatten()
            .map(|x| x.unwrap().key().unwrap().to_string())
            .collect();
        entries.insert(
            name,
            format!(
                "{kind:?} {:o} {}:{} {} {mtime} {:?} {xattrs:?}",
                header.mode().unwrap(),
                header.uid().unwrap(),
                header.gid().unwrap(),
                header.size().unwrap(),
                String::from_utf8_lossy(&content),
            ),
        );
    }
    entries
}

fn inode(path: &Path) -> u64 {
    std::fs::symlink_metadata(path).unwrap().ino()
}

#[test]
fn a_rerun_copy_links_unchanged_files_and_makes_the_layer_a_fresh_copy_makes() {
    rerun_copy_reuses("FROM busybox:local\nCOPY app/ /app/\n");
}

/// `/app` exists below (WORKDIR made it) but not yet in the step's upper
/// directory when the first file is linked into it.
#[test]
fn a_rerun_copy_into_an_existing_directory_links_too() {
    rerun_copy_reuses("FROM busybox:local\nWORKDIR /app\nCOPY app/ ./\n");
}

/// Builds `dockerfile` (which copies the context's `app/` to `/app/`),
/// changes some files, builds again, and compares with a fresh copy.
fn rerun_copy_reuses(dockerfile: &str) {
    let Some(f) = TestContext::for_build(dockerfile) else {
        return;
    };
    let big: String = (0..20_000).map(|i| format!("{i:05} ")).collect();
    f.file("app/same", "same\n")
        .file("app/sub/deep", "deep\n")
        .file("app/big", &big)
        .file("app/edited", "v1\n")
        .file("app/chmodded", "mode\n")
        .file("app/tagged", "xattr\n");
    let ctx = |rel: &str| f.context.join("app").join(rel);
    rustix::fs::setxattr(
        ctx("tagged"),
        "user.kiln",
        b"1",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    f.build_ok(&["-t", "reuse:1"]);
    let first = match &snapshots_with(&f, "app/same")[..] {
        [one] => one.clone(),
        other => panic!("one snapshot expected: {other:?}"),
    };

    // Same size and the same mtime to the nanosecond, other bytes: only
    // the contents tell.
    let mtime = std::fs::metadata(ctx("edited"))
        .unwrap()
        .modified()
        .unwrap();
    std::fs::write(ctx("edited"), "v2\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(ctx("edited"))
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    std::fs::set_permissions(ctx("chmodded"), std::fs::Permissions::from_mode(0o600)).unwrap();
    f.build_ok(&["-t", "reuse:1"]);
    let second: Vec<PathBuf> = snapshots_with(&f, "app/same")
        .into_iter()
        .filter(|s| *s != first)
        .collect();
    let [second] = &second[..] else {
        panic!("one new snapshot expected: {second:?}");
    };

    for rel in ["app/same", "app/sub/deep", "app/big"] {
        assert_eq!(inode(&first.join(rel)), inode(&second.join(rel)), "{rel}");
    }
    for rel in ["app/edited", "app/chmodded", "app/tagged"] {
        assert_ne!(inode(&first.join(rel)), inode(&second.join(rel)), "{rel}");
    }
    assert_eq!(f.run("reuse:1", &["cat", "/app/edited"]), "v2\n");

    // The same context copied afresh: no earlier build of this name.
    f.build_ok(&["--no-cache", "-t", "fresh:1"]);
    let (reused, fresh) = (top_layer(&f, "reuse:1"), top_layer(&f, "fresh:1"));
    assert_eq!(reused, fresh);
    assert!(reused["app/edited"].contains("\"v2\\n\""), "{reused:?}");
    assert!(reused["app/chmodded"].contains(" 600 "), "{reused:?}");
    assert!(reused["app/tagged"].contains("user.kiln"), "{reused:?}");
    assert!(reused["app/big"].contains(&big), "the big file's content");
}

/// The earlier result had a FIFO where the copy now writes a regular
/// file: it is never opened (that would block), and the file is copied.
#[test]
fn an_earlier_fifo_at_the_path_is_not_opened() {
    let Some(f) = TestContext::for_build(
        "FROM busybox:local AS s\n\
         ARG KIND\n\
         RUN mkdir /out && if [ \"$KIND\" = fifo ]; then mkfifo /out/x; else echo file > /out/x; fi\n\
         FROM busybox:local\n\
         COPY --from=s /out/ /app/\n",
    ) else {
        return;
    };
    f.build_ok(&["--build-arg", "KIND=fifo", "-t", "fifo:1"]);
    assert_eq!(f.run("fifo:1", &["stat", "-c", "%F", "/app/x"]), "fifo\n");
    f.build_ok(&["--build-arg", "KIND=file", "-t", "fifo:1"]);
    assert_eq!(f.run("fifo:1", &["cat", "/app/x"]), "file\n");
}
