//! Integration tests for kiln-dockerignore: one binary, one module per concern.

mod cases;
mod file;
mod read;
mod walk;

use kiln_dockerignore::Matcher;

/// Checks `path` the way a top-down walker does: enter each ancestor directory from the
/// root, then ask about the path. Returns (excluded, some ancestor said `skip`).
pub fn walk_to(matcher: &Matcher, path: &str) -> (bool, bool) {
    let mut state = matcher.root();
    let mut skipped = false;
    for (i, _) in path.match_indices('/') {
        let Some(ancestor) = path.get(..i) else {
            continue;
        };
        if ancestor.is_empty() {
            continue;
        }
        let verdict = matcher.enter_dir(ancestor, &state);
        skipped |= verdict.skip;
        state = verdict.state;
    }
    (matcher.is_excluded(path, &state), skipped)
}
