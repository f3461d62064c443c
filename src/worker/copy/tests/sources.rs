//! Which paths a source names: cleaning, wildcards, symlinks, missing
//! paths (fsutil copy/copy.go `ResolveWildcards`, `rootPath`; BuildKit
//! backend.go `docopy`).

use std::fs;
use std::os::unix::fs::MetadataExt;

use super::fixture::*;
use kiln_solver::Copy;

#[test]
fn a_missing_source_is_an_error_naming_it() {
    let fx = Fx::new();
    let err = fx.run(&copy_action(&["nope/file.txt"], "/x")).unwrap_err();
    assert_eq!(err.to_string(), "/nope/file.txt: no such file or directory");
    assert!(!fx.exists("x"));
}

#[test]
fn leading_slash_and_dot_dot_stay_in_the_source_root() {
    let fx = Fx::new();
    fx.file("a.txt", "A");
    fs::write(fx.outside.join("secret"), "S").unwrap();
    fx.run(&copy_action(&["../../../a.txt"], "/one")).unwrap();
    fx.run(&copy_action(&["/a.txt"], "/two")).unwrap();
    assert_eq!(fx.read("one"), "A");
    assert_eq!(fx.read("two"), "A");
    // `../outside/secret` is `outside/secret` inside the source root.
    let err = fx
        .run(&copy_action(&["../outside/secret"], "/s"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "/outside/secret: no such file or directory"
    );
}

#[test]
fn a_trailing_slash_on_a_source_is_disregarded() {
    let fx = Fx::new();
    fx.file("f.txt", "F");
    fx.file("dir/x", "X");
    fx.run(&copy_action(&["f.txt/"], "/f")).unwrap();
    fx.run(&copy_action(&["dir/"], "/d")).unwrap();
    assert_eq!(fx.read("f"), "F");
    assert_eq!(fx.read("d/x"), "X");
}

#[test]
fn wildcards_match_per_segment_in_lexical_order() {
    let fx = Fx::new();
    fx.file("a2.txt", "2");
    fx.file("a1.txt", "1");
    fx.file("b.txt", "b");
    fx.file("sub/a3.txt", "3");
    fx.file("sub/deeper/a4.txt", "4");
    fx.run(&copy_action(&["a*.txt"], "/d/")).unwrap();
    assert_eq!(fx.listing(), ["d/", "d/a1.txt", "d/a2.txt"]);
    fx.run(&copy_action(&["*/a?.txt"], "/e/")).unwrap();
    assert!(fx.exists("e/a3.txt"));
    assert!(!fx.exists("e/a4.txt"), "`*` never crosses a `/`");
    // Two matches onto a path without a slash: each replaces the last, as
    // in BuildKit (moby/moby#47064); the frontend rejects the syntax.
    fx.run(&copy_action(&["a*.txt"], "/single")).unwrap();
    assert_eq!(fx.read("single"), "2");
}

#[test]
fn a_matching_directory_contributes_its_contents() {
    let fx = Fx::new();
    fx.file("dir1/x", "x");
    fx.file("dir2/y", "y");
    fx.file("dir2/sub/z", "z");
    fx.run(&copy_action(&["dir*"], "/d/")).unwrap();
    assert_eq!(fx.listing(), ["d/", "d/sub/", "d/sub/z", "d/x", "d/y"]);
}

#[test]
fn brackets_escape_special_characters() {
    let fx = Fx::new();
    fx.file("arr[0].txt", "zero");
    fx.run(&copy_action(&["arr[[]0].txt"], "/d/")).unwrap();
    assert_eq!(fx.read("d/arr[0].txt"), "zero");
}

#[test]
fn empty_matches_do_nothing_when_allowed() {
    let fx = Fx::new();
    fx.file("a.txt", "A");
    let stats = fx.run(&copy_action(&["nomatch*", "a.txt"], "/d/")).unwrap();
    assert_eq!(stats.files, 1);
    // Alone, an empty match does not even create the destination
    // (BuildKit returns before fsutil's Copy).
    fx.run(&copy_action(&["nothing*"], "/empty/")).unwrap();
    assert!(!fx.exists("empty"));
}

#[test]
fn empty_matches_fail_when_not_allowed() {
    let fx = Fx::new();
    let action = Copy {
        allow_empty_wildcard: false,
        ..copy_action(&["nomatch*"], "/d/")
    };
    let err = fx.run(&action).unwrap_err();
    assert_eq!(err.to_string(), "no source files match /nomatch*");
}

#[test]
fn a_wildcard_under_a_missing_directory_fails_even_when_empty_is_allowed() {
    // moby/buildkit#2933: the walk starts with an lstat of the base.
    let fx = Fx::new();
    let err = fx.run(&copy_action(&["missing/*.txt"], "/d/")).unwrap_err();
    assert_eq!(err.to_string(), "/missing: no such file or directory");
}

#[test]
fn without_wildcards_allowed_a_star_is_a_name() {
    let fx = Fx::new();
    fx.file("a*b", "literal");
    fx.file("axb", "other");
    let action = Copy {
        allow_wildcard: false,
        ..copy_action(&["a*b"], "/d/")
    };
    fx.run(&action).unwrap();
    assert_eq!(fx.listing(), ["d/", "d/a*b"]);
}

#[test]
fn a_named_symlink_is_followed_and_keeps_its_name() {
    let fx = Fx::new();
    fx.file("real.txt", "R");
    fx.link("link.txt", "real.txt");
    fx.file("realdir/inner", "I");
    fx.link("linkdir", "realdir");
    fx.run(&copy_action(&["link.txt", "linkdir"], "/d/"))
        .unwrap();
    assert!(fx.meta("d/link.txt").is_file());
    assert_eq!(fx.read("d/link.txt"), "R");
    assert_eq!(
        fx.read("d/inner"),
        "I",
        "a link to a directory copies its contents"
    );
}

#[test]
fn a_wildcard_match_that_is_a_symlink_is_followed() {
    let fx = Fx::new();
    fx.file("real.txt", "R");
    fx.link("l.txt", "real.txt");
    fx.run(&copy_action(&["l*"], "/d/")).unwrap();
    assert!(fx.meta("d/l.txt").is_file());
}

#[test]
fn without_following_a_named_symlink_is_copied_as_one() {
    let fx = Fx::new();
    fx.file("real.txt", "R");
    fx.link("link.txt", "real.txt");
    let action = Copy {
        follow_symlinks: false,
        ..copy_action(&["link.txt"], "/d/")
    };
    fx.run(&action).unwrap();
    assert_eq!(
        fs::read_link(fx.dest.join("d/link.txt")).unwrap(),
        std::path::Path::new("real.txt")
    );
}

#[test]
fn source_symlinks_resolve_inside_the_source_root() {
    let fx = Fx::new();
    fs::write(fx.outside.join("secret"), "S").unwrap();
    // Absolute: means the same path inside the context, which is missing.
    fx.link("abs", fx.outside.join("secret"));
    // Relative, climbing: stops at the root, where `outside` is missing.
    fx.link("up", "../../../../outside/secret");
    // Relative, climbing, to something that exists inside.
    fx.file("inside.txt", "in");
    fx.link("clamped", "../../../inside.txt");
    for name in ["abs", "up"] {
        let err = fx.run(&copy_action(&[name], "/d/")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("/{name}: no such file or directory")
        );
    }
    fx.run(&copy_action(&["clamped"], "/d/")).unwrap();
    assert_eq!(fx.read("d/clamped"), "in");
    // Symlinked parents are followed inside the root too.
    fx.file("real/dir/f", "F");
    fx.link("via", "/real/dir");
    fx.run(&copy_action(&["via/f"], "/v")).unwrap();
    assert_eq!(fx.read("v"), "F");
    assert_eq!(
        fs::read_dir(&fx.outside).unwrap().count(),
        1,
        "only the secret"
    );
}

#[test]
fn a_dangling_symlink_source_is_missing() {
    let fx = Fx::new();
    fx.link("dangling", "nowhere");
    let err = fx.run(&copy_action(&["dangling"], "/d/")).unwrap_err();
    assert_eq!(err.to_string(), "/dangling: no such file or directory");
}

#[test]
fn a_symlink_loop_is_reported() {
    let fx = Fx::new();
    fx.link("a", "b");
    fx.link("b", "a");
    let err = fx.run(&copy_action(&["a"], "/d/")).unwrap_err();
    assert_eq!(err.to_string(), "/a: too many levels of symbolic links");
}

#[test]
fn wildcard_walks_do_not_enter_symlinked_directories() {
    // filepath.Walk does not follow symlinks.
    let fx = Fx::new();
    fx.file("real/f.txt", "F");
    fx.link("lnk", "real");
    let stats = fx.run(&copy_action(&["*/f.txt"], "/d/")).unwrap();
    assert_eq!(stats.files, 1);
}

#[test]
fn the_whole_root_can_be_copied() {
    let fx = Fx::new();
    fx.file("a", "A");
    fx.file("b/c", "C");
    fx.run(&copy_action(&["."], "/app")).unwrap();
    assert_eq!(fx.listing(), ["app/", "app/a", "app/b/", "app/b/c"]);
    assert_eq!(fx.mode("app"), 0o755);
    assert!(fx.meta("app").uid() == rustix::process::geteuid().as_raw());
}

#[test]
fn names_that_are_not_utf8_are_copied() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let fx = Fx::new();
    let name = OsStr::from_bytes(b"caf\xe9");
    fs::write(fx.dir("d").join(name), "latin1").unwrap();
    fx.run(&copy_action(&["d"], "/out/")).unwrap();
    assert_eq!(fs::read(fx.dest.join("out").join(name)).unwrap(), b"latin1");
}
