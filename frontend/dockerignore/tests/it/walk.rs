//! The walker API: directory states handed down, and skipping whole subtrees only when
//! nothing below can be re-included.

use kiln_dockerignore::{DirState, Matcher};

use crate::walk_to;

fn matcher(patterns: &[&str]) -> Matcher {
    match Matcher::new(patterns) {
        Ok(m) => m,
        Err(err) => panic!("{patterns:?}: {err}"),
    }
}

/// (excluded, skip) for directory `dir` reached from the root.
fn dir_verdict(m: &Matcher, dir: &str) -> (bool, bool) {
    let mut state = m.root();
    for (i, _) in dir.match_indices('/') {
        if let Some(ancestor) = dir.get(..i) {
            state = m.enter_dir(ancestor, &state).state;
        }
    }
    let v = m.enter_dir(dir, &state);
    (v.excluded, v.skip)
}

#[test]
fn skip_decisions() {
    // (patterns, directory, excluded, skip)
    let table: &[(&[&str], &str, bool, bool)] = &[
        // No exceptions: an excluded directory is always skipped.
        (&["node_modules"], "node_modules", true, true),
        (&["node_modules"], "src", false, false),
        (&["**/node_modules"], "web/node_modules", true, true),
        // A literal exception below keeps its ancestors open, and only them.
        (
            &["node_modules", "!node_modules/keep"],
            "node_modules",
            true,
            false,
        ),
        (
            &["node_modules", "!node_modules/keep"],
            "node_modules/other",
            true,
            true,
        ),
        (
            &["node_modules", "!node_modules/keep/x"],
            "node_modules/keep",
            true,
            false,
        ),
        // An exception matching the directory itself includes it.
        (
            &["node_modules", "!node_modules/keep"],
            "node_modules/keep",
            false,
            false,
        ),
        // `*` then `!src`: other top-level directories can go whole.
        (&["*", "!src"], "docs", true, true),
        (&["*", "!src"], "src", false, false),
        // `*.go` only matches at the root, so it cannot rescue anything in vendor/.
        (&["vendor", "!*.go"], "vendor", true, true),
        // But `**/*.go` can, at any depth.
        (&["vendor", "!**/*.go"], "vendor", true, false),
        (&["vendor", "!**/*.go"], "vendor/a/b", true, false),
        // A wildcard in the middle: only directories on its way stay open.
        (&["pkg", "!pkg/*/keep"], "pkg", true, false),
        (&["pkg", "!pkg/*/keep"], "pkg/a", true, false),
        (&["pkg", "!pkg/*/keep"], "pkg/a/b", true, true),
        (&["pkg", "!pkg/**/keep"], "pkg/a/b", true, false),
        (&["pkg", "!other/**"], "pkg", true, true),
        // A prefix exception below, or one the directory extends.
        (&["data", "!data/in**"], "data", true, false),
        (&["data", "!data/in**"], "data/out", true, true),
        (&["data", "!data/in**"], "data/input", false, false),
        // Re-excluded after the exception: nothing below can come back.
        (&["*", "!keep", "keep/secret"], "keep/secret", true, true),
    ];
    for (patterns, dir, excluded, skip) in table {
        let m = matcher(patterns);
        assert_eq!(
            dir_verdict(&m, dir),
            (*excluded, *skip),
            "patterns {patterns:?}, dir {dir:?}"
        );
    }
}

#[test]
fn root_is_never_excluded() {
    let m = matcher(&["**", "*"]);
    for root in ["", "."] {
        let v = m.enter_dir(root, &DirState::default());
        assert!(!v.excluded && !v.skip);
        assert_eq!(v.state, m.root());
        assert!(!m.is_excluded(root, &m.root()));
        assert!(!m.matches(root));
    }
}

#[test]
fn default_state_matches_ancestors_from_the_path() {
    let m = matcher(&["a/b", "!a/b/keep"]);
    assert!(m.is_excluded("a/b/c/d", &DirState::default()));
    assert!(!m.is_excluded("a/b/keep/d", &DirState::default()));
    // A state from a different matcher is ignored rather than misread.
    let other = matcher(&["x"]);
    assert!(m.is_excluded("a/b/c", &other.root()));
}

/// Exhaustive cross-check over a small tree: the walk agrees with `matches` for every
/// path, and a skipped directory never hides an included path.
#[test]
fn walk_agrees_with_matches_and_skip_is_sound() {
    let tree = [
        "README.md",
        "main.go",
        "a",
        "a/README.md",
        "a/x.go",
        "a/b",
        "a/b/keep",
        "a/b/keep/f",
        "a/b/x.go",
        "a/b/c/d/e.go",
        "node_modules",
        "node_modules/keep",
        "node_modules/keep/index.js",
        "node_modules/pkg/index.js",
        "vendor/lib/x.go",
        "vendor/lib/x.c",
        "docs/private.md",
        "docs/public/a.md",
        "d/f",
    ];
    let pattern_sets: &[&[&str]] = &[
        &["*"],
        &["**"],
        &["*", "!a"],
        &["*", "!**/*.go"],
        &["**", "!**/keep"],
        &["**/*.md", "!docs/**", "docs/private.md"],
        &["node_modules", "!node_modules/keep"],
        &["**/node_modules", "!**/node_modules/keep/*.js"],
        &["vendor", "!vendor/*/x.go"],
        &["a", "!a/b", "a/b/c"],
        &["a/**", "!a/b/**", "a/b/keep"],
        &["d", "!d/f", "d"],
        &["*", "!*/keep", "!a/b/keep"],
        &["[a-c]", "![b]/**", "!a/?/keep/[e-g]"],
        &["**/x.*", "!**/*.go", "vendor"],
    ];
    for patterns in pattern_sets {
        let m = matcher(patterns);
        for path in tree {
            let (walked, skipped) = walk_to(&m, path);
            assert_eq!(
                walked,
                m.matches(path),
                "walk vs matches: patterns {patterns:?}, path {path:?}"
            );
            assert!(
                !skipped || walked,
                "skipped an ancestor of included {path:?} ({patterns:?})"
            );
        }
    }
}
