//! What is left out: `--exclude` (BuildKit's testExcludedFilesOnCopy),
//! `--parents` (Dockerfile reference, COPY --parents) and `.dockerignore`.

use std::fs;
use std::os::unix::fs::MetadataExt;

use super::super::SourceOwnership;
use super::fixture::*;
use kiln_dockerignore::Matcher;
use kiln_solver::Copy;

fn excluding(sources: &[&str], dest: &str, patterns: &[&str]) -> Copy {
    Copy {
        exclude: patterns.iter().map(|p| (*p).to_owned()).collect(),
        ..copy_action(sources, dest)
    }
}

/// The context of moby/buildkit's testExcludedFilesOnCopy.
fn buildkit_context() -> Fx {
    let fx = Fx::new();
    for (path, content) in [
        ("dir1/file-101.png", "2"),
        ("dir1/file-102.txt", "3"),
        ("dir1/file-103.jpeg", "4"),
        ("dir2/file-201.pdf", "6"),
        ("dir2/file-202.jpeg", "7"),
        ("dir2/file-203.png", "8"),
        ("dir3/file-301.mp3", "9"),
        ("dir3/file-302.mpeg", "10"),
    ] {
        fx.file(path, content);
    }
    fx
}

#[test]
fn exclude_matches_paths_below_each_copied_source() {
    let fx = buildkit_context();
    fx.run(&excluding(&["."], "/1", &["*/*.png", "*/*.jpeg"]))
        .unwrap();
    fx.run(&excluding(&["."], "/2", &["*/*.pdf", "*/*.txt"]))
        .unwrap();
    let mut add = excluding(&["dir3/"], "/3/", &["*.mp3"]);
    add.unpack_archives = true;
    fx.run(&add).unwrap();
    fx.run(&excluding(
        &["dir*"],
        "/4/",
        &["*.mp3", "*.jpeg", "*.png", "*.pdf", "*.txt"],
    ))
    .unwrap();
    fx.run(&excluding(
        &["dir*"],
        "/5",
        &["*.mp*", "*.jpeg", "*.png", "*.pdf"],
    ))
    .unwrap();
    fx.run(&excluding(&["dir*"], "/6", &["*"])).unwrap();
    let listing = fx.listing();
    let files: Vec<&str> = listing
        .iter()
        .filter(|p| !p.ends_with('/'))
        .map(String::as_str)
        .collect();
    assert_eq!(
        files,
        [
            "1/dir1/file-102.txt",
            "1/dir2/file-201.pdf",
            "1/dir3/file-301.mp3",
            "1/dir3/file-302.mpeg",
            "2/dir1/file-101.png",
            "2/dir1/file-103.jpeg",
            "2/dir2/file-202.jpeg",
            "2/dir2/file-203.png",
            "2/dir3/file-301.mp3",
            "2/dir3/file-302.mpeg",
            "3/file-302.mpeg",
            "4/file-302.mpeg",
            "5/file-102.txt",
        ]
    );
    assert!(
        fx.exists("6"),
        "everything excluded leaves an empty directory"
    );
    assert_eq!(fs::read_dir(fx.dest.join("6")).unwrap().count(), 0);
}

#[test]
fn an_excluded_directory_is_skipped_unless_an_exception_reaches_inside() {
    let fx = Fx::new();
    fx.file("app/node_modules/pkg/index.js", "x");
    fx.file("app/node_modules/keep/keep.js", "k");
    fx.file("app/src/main.js", "m");
    fx.run(&excluding(&["app"], "/a", &["node_modules"]))
        .unwrap();
    assert_eq!(fx.listing(), ["a/", "a/src/", "a/src/main.js"]);
    fx.run(&excluding(
        &["app"],
        "/b",
        &["node_modules", "!node_modules/keep"],
    ))
    .unwrap();
    assert!(fx.exists("b/node_modules/keep/keep.js"));
    assert!(!fx.exists("b/node_modules/pkg"));
}

#[test]
fn invalid_exclude_patterns_are_errors() {
    let fx = Fx::new();
    fx.file("a", "A");
    let err = fx.run(&excluding(&["a"], "/x", &["[z-a]"])).unwrap_err();
    assert!(
        err.to_string().starts_with("invalid --exclude pattern:"),
        "{err}"
    );
}

fn parents(sources: &[&str], dest: &str) -> Copy {
    Copy {
        parents: true,
        ..copy_action(sources, dest)
    }
}

#[test]
fn parents_keep_the_path_from_the_root() {
    // Dockerfile reference, COPY --parents.
    let fx = Fx::new();
    fx.file("x/a.txt", "xa");
    fx.file("y/a.txt", "ya");
    fx.file("x/other.txt", "no");
    fx.run(&copy_action(&["./x/a.txt", "./y/a.txt"], "/no_parents/"))
        .unwrap();
    fx.run(&parents(&["./x/a.txt", "./y/a.txt"], "/parents/"))
        .unwrap();
    assert_eq!(
        fx.listing(),
        [
            "no_parents/",
            "no_parents/a.txt",
            "parents/",
            "parents/x/",
            "parents/x/a.txt",
            "parents/y/",
            "parents/y/a.txt",
        ]
    );
    assert_eq!(fx.read("no_parents/a.txt"), "ya");
}

#[test]
fn parents_start_at_the_pivot() {
    let fx = Fx::new();
    fx.file("x/y/a.txt", "a");
    fx.file("x/y/b.txt", "b");
    fx.file("x/y/c.md", "c");
    fx.run(&parents(&["./x/./y/*.txt"], "/parents/")).unwrap();
    assert_eq!(
        fx.listing(),
        [
            "parents/",
            "parents/y/",
            "parents/y/a.txt",
            "parents/y/b.txt"
        ]
    );
}

#[test]
fn parents_double_star_spans_directories() {
    let fx = Fx::new();
    fx.file("src/a.txt", "a");
    fx.file("src/x/b.txt", "b");
    fx.file("src/x/y/c.txt", "c");
    fx.file("src/x/y/d.go", "d");
    fx.file("other/e.txt", "e");
    fx.run(&parents(&["./src/**/*.txt"], "/parents/")).unwrap();
    assert_eq!(
        fx.listing(),
        [
            "parents/",
            "parents/src/",
            "parents/src/a.txt",
            "parents/src/x/",
            "parents/src/x/b.txt",
            "parents/src/x/y/",
            "parents/src/x/y/c.txt",
        ]
    );
}

#[test]
fn parents_of_a_missing_path_copy_nothing() {
    // moby/buildkit#4900: every source is a pattern under --parents.
    let fx = Fx::new();
    fx.file("present", "p");
    fx.run(&parents(&["./nonexistent-file"], "/out/")).unwrap();
    assert_eq!(fx.listing(), ["out/"]);
}

#[test]
fn parents_keep_source_metadata() {
    let fx = Fx::new();
    let dir = fx.dir("deep/er");
    fx.file("deep/er/f", "F");
    chmod(&dir, 0o710);
    set_mtime(&dir, 1_234_567_890, 0);
    fx.run(&parents(&["deep/er/f"], "/p/")).unwrap();
    assert_eq!(fx.mode("p/deep/er"), 0o710);
    // fsutil would leave the time of the last write here; kiln restores
    // the source's so layers do not change from run to run.
    assert_eq!(mtime(&fx.meta("p/deep/er")), (1_234_567_890, 0));
}

#[test]
fn dockerignore_hides_named_sources() {
    let fx = Fx::new();
    fx.file("secret.env", "S");
    fx.file("app.txt", "A");
    fx.link("alias", "secret.env");
    let ignore = Matcher::new(["*.env"]).unwrap();
    let run = |sources: &[&str], dest: &str| {
        fx.run_with(
            &copy_action(sources, dest),
            Some(&ignore),
            SourceOwnership::Preserve,
        )
    };
    let err = run(&["secret.env"], "/x").unwrap_err();
    assert_eq!(err.to_string(), "/secret.env: no such file or directory");
    // A symlink to an ignored file dangles, as it would in the context.
    let err = run(&["alias"], "/x").unwrap_err();
    assert_eq!(err.to_string(), "/alias: no such file or directory");
    // A wildcard matches the link, which then dangles: the copy fails as
    // it does in BuildKit.
    let err = run(&["*"], "/all/").unwrap_err();
    assert_eq!(err.to_string(), "/alias: no such file or directory");
    // Wildcards do not see the ignored file itself.
    fs::remove_file(fx.src.join("alias")).unwrap();
    run(&["*"], "/all/").unwrap();
    assert_eq!(fx.listing(), ["all/", "all/app.txt"]);
}

#[test]
fn dockerignore_skips_entries_in_copied_directories() {
    let fx = Fx::new();
    fx.file("src/main.rs", "m");
    fx.file("src/main.rs.bak", "b");
    fx.file("target/debug/kiln", "bin");
    fx.file("logs/a.log", "a");
    fx.file("logs/keep.log", "k");
    let ignore = Matcher::new(["**/*.bak", "target", "logs", "!logs/keep.log"]).unwrap();
    fx.run_with(
        &copy_action(&["."], "/ctx"),
        Some(&ignore),
        SourceOwnership::Preserve,
    )
    .unwrap();
    assert_eq!(
        fx.listing(),
        [
            "ctx/",
            "ctx/logs/",
            "ctx/logs/keep.log",
            "ctx/src/",
            "ctx/src/main.rs"
        ]
    );
    // An excluded directory with a re-included child exists, with only it.
    fx.run_with(
        &copy_action(&["logs"], "/logs"),
        Some(&ignore),
        SourceOwnership::Preserve,
    )
    .unwrap();
    assert!(fx.exists("logs/keep.log"));
    assert!(!fx.exists("logs/a.log"));
    // Named, a wholly excluded directory is missing.
    let err = fx
        .run_with(
            &copy_action(&["target"], "/t"),
            Some(&ignore),
            SourceOwnership::Preserve,
        )
        .unwrap_err();
    assert_eq!(err.to_string(), "/target: no such file or directory");
}

#[test]
fn dockerignore_applies_to_real_paths_behind_symlinked_sources() {
    let fx = Fx::new();
    fx.file("real/visible", "v");
    fx.file("real/hidden.tmp", "h");
    fx.link("link", "real");
    let ignore = Matcher::new(["real/*.tmp"]).unwrap();
    fx.run_with(
        &copy_action(&["link"], "/out"),
        Some(&ignore),
        SourceOwnership::Preserve,
    )
    .unwrap();
    assert_eq!(fx.listing(), ["out/", "out/visible"]);
    assert_eq!(fx.meta("out/visible").nlink(), 1);
}

#[test]
fn exclude_does_not_apply_to_a_matched_source_itself() {
    // fsutil matches exclude patterns against the path below each copied
    // source ("srcComponents"), which is empty for the source itself: a
    // file named (or matched) as a source is copied whatever --exclude
    // says, and only what a matched directory holds is filtered. The
    // reference's `COPY --exclude=*.txt hom* /mydir/` example therefore
    // filters inside `hom*` directories, not a top-level `home.txt`.
    let fx = Fx::new();
    fx.file("home.txt", "top");
    fx.file("homework/notes.txt", "n");
    fx.file("homework/plan.md", "p");
    fx.run(&excluding(&["hom*"], "/mydir/", &["*.txt"]))
        .unwrap();
    assert_eq!(fx.listing(), ["mydir/", "mydir/home.txt", "mydir/plan.md"]);
}
