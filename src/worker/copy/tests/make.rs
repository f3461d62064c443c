//! `Mkdir` and `Mkfile` (BuildKit backend.go `mkdir`, `mkfile`).

use std::fs;
use std::os::unix::fs::MetadataExt;

use super::super::{mkdir, mkfile};
use super::fixture::*;
use kiln_solver::{IdOrName, Owner};

#[test]
fn mkdir_with_parents_creates_every_missing_directory() {
    let fx = Fx::new();
    let existing = fx.dest_dir("a");
    chmod(&existing, 0o700);
    mkdir(&fx.dest, "/a/b/c", 0o750, true, None).unwrap();
    assert_eq!(fx.mode("a"), 0o700, "existing directories are left alone");
    assert_eq!(fx.mode("a/b"), 0o750);
    assert_eq!(fx.mode("a/b/c"), 0o750);
    // Again: nothing to do.
    mkdir(&fx.dest, "/a/b/c", 0o755, true, None).unwrap();
    assert_eq!(fx.mode("a/b/c"), 0o750);
    fx.dest_file("file", "F");
    let err = mkdir(&fx.dest, "/file/sub", 0o755, true, None).unwrap_err();
    assert_eq!(err.to_string(), "lstat /file/sub: not a directory");
}

#[test]
fn mkdir_without_parents_needs_the_parent_and_accepts_anything_existing() {
    let fx = Fx::new();
    let err = mkdir(&fx.dest, "/missing/x", 0o755, false, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "mkdir /missing/x: no such file or directory"
    );
    mkdir(&fx.dest, "/x", 0o711, false, None).unwrap();
    assert_eq!(fx.mode("x"), 0o711);
    fx.dest_file("f", "F");
    mkdir(&fx.dest, "/f", 0o755, false, None).unwrap();
    assert!(fx.meta("f").is_file(), "Go's os.Mkdir ErrExist is success");
}

#[test]
fn mkdir_follows_symlinks_inside_the_root() {
    let fx = Fx::new();
    fx.dest_dir("run");
    fx.dest_link("var/run", "/run");
    mkdir(&fx.dest, "/var/run/app", 0o755, true, None).unwrap();
    assert!(fx.meta("run/app").is_dir());
    fx.dest_link("escape", &fx.outside);
    mkdir(&fx.dest, "/escape/x", 0o755, true, None).unwrap();
    fx.assert_outside_untouched();
}

#[test]
fn mkfile_writes_and_replaces() {
    let fx = Fx::new();
    fx.dest_dir("etc");
    mkfile(&fx.dest, "/etc/motd", b"hello\n", 0o640, None).unwrap();
    assert_eq!(fx.read("etc/motd"), "hello\n");
    assert_eq!(fx.mode("etc/motd"), 0o640);
    mkfile(&fx.dest, "/etc/motd", b"again\n", 0o644, None).unwrap();
    assert_eq!(fx.read("etc/motd"), "again\n");
    assert_eq!(fx.listing(), ["etc/", "etc/motd"], "no temporary file left");
    // A FIFO in the way is replaced, never opened (that would block).
    rustix::fs::mknodat(
        rustix::fs::CWD,
        fx.dest.join("etc/pipe"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    mkfile(&fx.dest, "/etc/pipe", b"file", 0o644, None).unwrap();
    assert!(fx.meta("etc/pipe").is_file());
    let err = mkfile(&fx.dest, "/nodir/f", b"", 0o644, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "mkfile /nodir/f: no such file or directory"
    );
    let err = mkfile(&fx.dest, "/", b"", 0o644, None).unwrap_err();
    assert_eq!(err.to_string(), "mkfile /: is a directory");
}

#[test]
fn mkfile_and_mkdir_take_an_owner() {
    if !root_or_skip("mkfile_and_mkdir_take_an_owner") {
        return;
    }
    let fx = Fx::new();
    fx.dest_file("etc/passwd", "app:x:1000:1000::/:/bin/sh\n");
    let app = Owner {
        user: IdOrName::Name("app".into()),
        group: None,
    };
    mkdir(&fx.dest, "/home/app/work", 0o755, true, Some(&app)).unwrap();
    mkfile(&fx.dest, "/home/app/work/f", b"x", 0o600, Some(&app)).unwrap();
    for rel in ["home", "home/app", "home/app/work", "home/app/work/f"] {
        let meta = fx.meta(rel);
        assert_eq!((meta.uid(), meta.gid()), (1000, 1000), "{rel}");
    }
    assert!(fs::metadata(fx.dest.join("home/app/work/f")).is_ok());
}
