//! Where sources land and what is created for them (Dockerfile reference,
//! COPY "Destination"; fsutil copy/copy.go `Copy`, `prepareTargetDir`,
//! copy/mkdir.go `MkdirAll`).

use std::fs;
use std::os::unix::fs::MetadataExt;

use super::fixture::*;
use kiln_solver::{Copy, IdOrName};

#[test]
fn a_trailing_slash_decides_file_or_directory() {
    let fx = Fx::new();
    fx.file("test.txt", "T");
    fx.run(&copy_action(&["test.txt"], "/abs")).unwrap();
    fx.run(&copy_action(&["test.txt"], "/dir/")).unwrap();
    fx.run(&copy_action(&["test.txt"], "/dot/.")).unwrap();
    assert!(fx.meta("abs").is_file());
    assert_eq!(fx.read("dir/test.txt"), "T");
    assert_eq!(fx.read("dot/test.txt"), "T");
}

#[test]
fn a_file_goes_into_an_existing_directory() {
    let fx = Fx::new();
    fx.file("test.txt", "T");
    fx.dest_dir("existing");
    fx.run(&copy_action(&["test.txt"], "/existing")).unwrap();
    assert_eq!(fx.read("existing/test.txt"), "T");
}

#[test]
fn missing_parents_are_created_0755_or_with_the_chmod() {
    let fx = Fx::new();
    fx.file("f", "F");
    chmod(&fx.src, 0o700);
    fx.run(&copy_action(&["f"], "/a/b/c/f")).unwrap();
    for dir in ["a", "a/b", "a/b/c"] {
        assert_eq!(fx.mode(dir), 0o755, "{dir}");
    }
    // A directory source's missing destination is created the same way,
    // not with the source directory's mode (moby/buildkit#1941).
    fx.dir("tight");
    chmod(&fx.src.join("tight"), 0o700);
    fx.file("tight/x", "X");
    fx.run(&copy_action(&["tight"], "/t")).unwrap();
    assert_eq!(fx.mode("t"), 0o755);
    // An octal --chmod gives them its permission bits (BuildKit v0.21+,
    // testCopyChmod: `COPY --chmod=777 foo /parent/foo` makes /parent
    // 0777), never a special bit; existing ones keep theirs.
    let action = with_mode(
        copy_action(&["f"], "/m/n/"),
        kiln_solver::Mode::Octal(0o600),
    );
    fx.run(&action).unwrap();
    assert_eq!(fx.mode("m"), 0o600);
    assert_eq!(fx.mode("m/n"), 0o600);
    assert_eq!(fx.mode("m/n/f"), 0o600);
    let action = with_mode(
        copy_action(&["f"], "/m/sub/f"),
        kiln_solver::Mode::Octal(0o4770),
    );
    fx.run(&action).unwrap();
    assert_eq!(fx.mode("m"), 0o600, "an existing parent keeps its mode");
    assert_eq!(fx.mode("m/sub"), 0o770);
    assert_eq!(fx.mode("m/sub/f"), 0o4770);
}

#[test]
fn an_existing_destination_directory_keeps_its_mode() {
    let fx = Fx::new();
    fx.file("dir/x", "X");
    chmod(&fx.src.join("dir"), 0o700);
    let existing = fx.dest_dir("target");
    chmod(&existing, 0o1777);
    fx.run(&copy_action(&["dir"], "/target")).unwrap();
    assert_eq!(fx.mode("target"), 0o1777);
    assert_eq!(fx.read("target/x"), "X");
}

#[test]
fn destination_symlinks_are_followed_inside_the_root() {
    let fx = Fx::new();
    fx.file("a.txt", "A");
    fx.dest_dir("run");
    fx.dest_link("var/run", "/run");
    fx.run(&copy_action(&["a.txt"], "/var/run/")).unwrap();
    assert_eq!(fx.read("run/a.txt"), "A");
    assert!(fx.meta("var/run").is_symlink());

    // An absolute link to a host path means that path inside the root.
    fx.dest_link("evil", &fx.outside);
    fx.run(&copy_action(&["a.txt"], "/evil/")).unwrap();
    let inside = fx.outside.strip_prefix("/").unwrap().join("a.txt");
    assert_eq!(fx.read(inside.to_str().unwrap()), "A");
    // A relative one that climbs stops at the root.
    fx.dest_link("up", "../../../../outside");
    fx.run(&copy_action(&["a.txt"], "/up/x")).unwrap();
    assert_eq!(fx.read("outside/x"), "A");
    fx.assert_outside_untouched();
}

#[test]
fn a_destination_that_is_a_symlink_to_a_file_writes_its_target() {
    // fs.RootPath resolves the final element too.
    let fx = Fx::new();
    fx.file("a.txt", "new");
    fx.dest_file("etc/real.conf", "old");
    fx.dest_link("cfg", "/etc/real.conf");
    fx.run(&copy_action(&["a.txt"], "/cfg")).unwrap();
    assert_eq!(fx.read("etc/real.conf"), "new");
    assert!(fx.meta("cfg").is_symlink());
}

#[test]
fn a_directory_cannot_be_copied_onto_a_file() {
    let fx = Fx::new();
    fx.file("dir/x", "X");
    fx.dest_file("file", "F");
    let err = fx.run(&copy_action(&["dir"], "/file")).unwrap_err();
    assert_eq!(err.to_string(), "cannot copy to non-directory: /file");
}

#[test]
fn a_file_cannot_replace_a_directory_named_like_it() {
    let fx = Fx::new();
    fx.file("a.txt", "A");
    fx.dest_dir("d/a.txt");
    // Into /d/ it would be /d/a.txt, which is a directory: fsutil's
    // ensureEmptyFileTarget refuses.
    let err = fx.run(&copy_action(&["a.txt"], "/d/")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot replace directory /d/a.txt with a file"
    );
    // Named as the destination itself, the directory takes the file in.
    fx.run(&copy_action(&["a.txt"], "/d/a.txt")).unwrap();
    assert_eq!(fx.read("d/a.txt/a.txt"), "A");
}

#[test]
fn a_destination_parent_that_is_a_file_fails() {
    let fx = Fx::new();
    fx.file("a.txt", "A");
    fx.dest_file("blocker", "B");
    let err = fx.run(&copy_action(&["a.txt"], "/blocker/x/")).unwrap_err();
    assert_eq!(err.to_string(), "lstat /blocker/x: not a directory");
}

#[test]
fn without_create_dest_path_the_parent_must_exist() {
    let fx = Fx::new();
    fx.file("a.txt", "A");
    let action = Copy {
        create_dest_path: false,
        ..copy_action(&["a.txt"], "/missing/a.txt")
    };
    let err = fx.run(&action).unwrap_err();
    assert_eq!(
        err.to_string(),
        "destination /missing/a.txt: parent directory does not exist"
    );
    fx.dest_dir("present");
    let action = Copy {
        create_dest_path: false,
        ..copy_action(&["a.txt"], "/present/a.txt")
    };
    fx.run(&action).unwrap();
    assert_eq!(fx.read("present/a.txt"), "A");
}

#[test]
fn a_directory_without_contents_only_goes_into_an_existing_destination() {
    let fx = Fx::new();
    fx.file("dir/x", "X");
    fx.dest_dir("out");
    let action = Copy {
        dir_contents_only: false,
        ..copy_action(&["dir"], "/out")
    };
    fx.run(&action).unwrap();
    assert_eq!(fx.read("out/dir/x"), "X");
    let action = Copy {
        dir_contents_only: false,
        ..copy_action(&["dir"], "/fresh")
    };
    fx.run(&action).unwrap();
    assert_eq!(fx.read("fresh/x"), "X");
}

#[test]
fn created_parents_take_the_chown_owner() {
    if !root_or_skip("created_parents_take_the_chown_owner") {
        return;
    }
    let fx = Fx::new();
    fx.file("f", "F");
    let existing = fx.dest_dir("keep");
    std::os::unix::fs::chown(&existing, Some(7), Some(8)).unwrap();
    let action = with_chown(
        copy_action(&["f"], "/keep/new/deeper/"),
        IdOrName::Id(1500),
        None,
    );
    fx.run(&action).unwrap();
    for dir in ["keep/new", "keep/new/deeper"] {
        let meta = fx.meta(dir);
        assert_eq!((meta.uid(), meta.gid()), (1500, 1500), "{dir}");
    }
    let meta = fx.meta("keep");
    assert_eq!(
        (meta.uid(), meta.gid()),
        (7, 8),
        "existing directories keep their owner"
    );
    let meta = fx.meta("keep/new/deeper/f");
    assert_eq!((meta.uid(), meta.gid()), (1500, 1500));
    // Without --chown they are root's.
    fx.run(&copy_action(&["f"], "/plain/sub/")).unwrap();
    assert_eq!(fx.meta("plain/sub").uid(), 0);
    assert!(fs::symlink_metadata(fx.dest.join("plain/sub/f")).is_ok());
}
