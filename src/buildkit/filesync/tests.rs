use super::*;
use std::os::unix::fs::PermissionsExt as _;

fn paths(entries: &[Entry]) -> Vec<&str> {
    entries.iter().map(|e| e.stat.path.as_str()).collect()
}

fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for d in ["a", "a/x", "a-b", "logs", "keep", "keep/sub"] {
        std::fs::create_dir(root.join(d)).unwrap();
    }
    for f in [
        "a/x/f",
        "a-b/g",
        "logs/1.log",
        "keep/sub/k.txt",
        "keep/o.txt",
        "top",
    ] {
        std::fs::write(root.join(f), f.as_bytes()).unwrap();
    }
    std::fs::hard_link(root.join("top"), root.join("zlink")).unwrap();
    std::os::unix::fs::symlink("keep/sub", root.join("via")).unwrap();
    std::fs::set_permissions(root.join("top"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    dir
}

#[test]
fn everything_in_fsutil_order_with_go_modes_and_hardlinks() {
    let dir = tree();
    let entries = list(dir.path(), &Selection::default()).unwrap();
    // Depth first, names in byte order: `a/x` before `a-b` ('/' is not
    // compared: the walk finishes `a` first, as fsutil's ComparePath).
    assert_eq!(
        paths(&entries),
        [
            "a",
            "a/x",
            "a/x/f",
            "a-b",
            "a-b/g",
            "keep",
            "keep/o.txt",
            "keep/sub",
            "keep/sub/k.txt",
            "logs",
            "logs/1.log",
            "top",
            "via",
            "zlink"
        ]
    );
    let by = |p: &str| entries.iter().find(|e| e.stat.path == p).unwrap();
    assert_eq!(by("a").stat.mode, (1 << 31) | 0o755 & by("a").stat.mode);
    assert_ne!(by("a").stat.mode & (1 << 31), 0);
    assert_eq!(
        by("top").stat.mode,
        (1 << 23) | 0o755,
        "setuid as Go's ModeSetuid"
    );
    assert_eq!(by("top").stat.size, 3);
    assert!(by("top").source.is_some());
    assert_eq!(by("via").stat.mode & (1 << 27), 1 << 27);
    assert_eq!(by("via").stat.linkname, "keep/sub");
    assert!(by("via").source.is_none());
    // The second name of a hard link points at the first, with no data.
    assert_eq!(by("zlink").stat.linkname, "top");
    assert_eq!(by("zlink").stat.size, 0);
    assert!(by("zlink").source.is_none());
    // Owners as the docker client sends them.
    assert!(entries.iter().all(|e| e.stat.uid == 0 && e.stat.gid == 0));
}

#[test]
fn excludes_are_dockerignore_patterns() {
    let dir = tree();
    let selection = Selection {
        exclude: vec![
            "logs".into(),
            "keep".into(),
            "!keep/sub/k.txt".into(),
            "*-b".into(),
        ],
        ..Selection::default()
    };
    let entries = list(dir.path(), &selection).unwrap();
    // `keep` is excluded but an exception re-includes below it: the
    // directory is sent, its other files are not.
    assert_eq!(
        paths(&entries),
        [
            "a",
            "a/x",
            "a/x/f",
            "keep",
            "keep/sub",
            "keep/sub/k.txt",
            "top",
            "via",
            "zlink"
        ]
    );
}

#[test]
fn follow_paths_select_and_follow_symlinks() {
    let dir = tree();
    let selection = Selection {
        follow: vec!["via/k.txt".into(), "a/x".into()],
        ..Selection::default()
    };
    let entries = list(dir.path(), &selection).unwrap();
    // The symlink and its target's file; `a/x` whole; the directories on
    // the way.
    assert_eq!(
        paths(&entries),
        [
            "a",
            "a/x",
            "a/x/f",
            "keep",
            "keep/sub",
            "keep/sub/k.txt",
            "via"
        ]
    );
    let whole = Selection {
        follow: vec!["a".into(), ".".into()],
        ..Selection::default()
    };
    assert_eq!(list(dir.path(), &whole).unwrap().len(), 14);
}

#[test]
fn include_patterns_with_wildcards() {
    let dir = tree();
    let selection = Selection {
        include: vec!["keep/*.txt".into(), "**/*.log".into()],
        ..Selection::default()
    };
    let entries = list(dir.path(), &selection).unwrap();
    assert_eq!(
        paths(&entries),
        [
            "a",
            "a/x",
            "a-b",
            "keep",
            "keep/o.txt",
            "keep/sub",
            "logs",
            "logs/1.log"
        ]
    );
}

#[test]
fn query_unescape_as_go() {
    assert_eq!(query_unescape("a%2Fb+c%zz%"), "a/b c%zz%");
    assert_eq!(query_unescape("%C3%A9"), "é");
}

#[test]
fn clean_as_go() {
    assert_eq!(clean("./a//b/../c/"), "a/c");
    assert_eq!(clean("/"), ".");
}
