//! Any .dockerignore contents and any path: reading, compiling and matching
//! may fail but never panic.
#![no_main]

use kiln_frontend::dockerignore::Matcher;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (patterns, path) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(matcher) = Matcher::parse(patterns) else {
        return;
    };
    let Ok(path) = std::str::from_utf8(path) else {
        return;
    };
    let _ = matcher.matches(path);
    let _ = matcher.matches_exact(path);
    let root = matcher.root();
    let verdict = matcher.enter_dir(path, &root);
    let _ = matcher.is_excluded(path, &verdict.state);
});
