//! The vertex digests, cache keys and `--explain` key parts of every
//! fidelity case (kiln's own in `testdata/fidelity/cases`, the shared
//! samples in `$KILN_SHARED_DIR/fidelity/cases`), lowered against fixed
//! base images and keyed on fixed inputs, compared with
//! `testdata/keys/fidelity.txt`. A change to the graph's types that moves
//! any of them would invalidate every store's cache (or make `--explain`
//! misread an old trail): such a change must bump the encoding's version
//! and be blessed on purpose (`KILN_BLESS=1`), never slip in.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use kiln_frontend::lower::{ImageResolver, LowerOptions, ResolvedImage, lower};
use kiln_oci::{Digest, ImageConfig, Platform};
use kiln_solver::{InputKey, Op, VertexId, cache_key, key_parts};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Every base image exists, with a config and a digest that depend on the
/// reference only.
struct Fixed;

impl ImageResolver for Fixed {
    fn resolve(&self, reference: &str, platform: &Platform) -> Result<ResolvedImage, String> {
        let mut config = ImageConfig::new(platform);
        config.config.env = vec!["PATH=/usr/local/bin:/usr/bin:/bin".into()];
        config.config.cmd = vec!["sh".into()];
        Ok(ResolvedImage {
            reference: reference.to_string(),
            digest: Digest::of(reference.as_bytes())
                .to_string()
                .parse()
                .unwrap(),
            config,
        })
    }
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn case_dirs() -> Vec<(String, PathBuf)> {
    let shared = std::env::var_os("KILN_SHARED_DIR")
        .map_or_else(|| workspace().join("../shared"), PathBuf::from);
    let mut cases = Vec::new();
    for base in [
        shared.join("fidelity/cases"),
        workspace().join("testdata/fidelity/cases"),
    ] {
        assert!(
            base.is_dir(),
            "fidelity cases missing at {}",
            base.display()
        );
        for entry in std::fs::read_dir(&base).unwrap() {
            let path = entry.unwrap().path();
            if path.join("Dockerfile").is_file() {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                cases.push((name, path));
            }
        }
    }
    cases.sort();
    cases
}

fn options(case: &Path) -> LowerOptions {
    let read = |name: &str| std::fs::read_to_string(case.join(name)).ok();
    let build_args: BTreeMap<String, String> = read("args")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let ignore_patterns = read(".dockerignore")
        .map(|text| {
            kiln_frontend::dockerignore::read_all(text.as_bytes())
                .unwrap()
                .into_iter()
                .map(|line| line.pattern)
                .collect()
        })
        .unwrap_or_default();
    LowerOptions {
        build_args,
        target: read("target").map(|t| t.trim().to_string()),
        platform: Platform::new("linux", "amd64"),
        build_platform: Platform::new("linux", "amd64"),
        platform_in_names: false,
        explicit_platform: false,
        labels: BTreeMap::new(),
        ignore_patterns,
        created: "2020-01-01T00:00:00Z".into(),
        allow_insecure: true,
        allow_network_host: true,
        allow_device: kiln_frontend::lower::DeviceGrant::All,
    }
}

/// One case's lines: every vertex's digest, and for steps the key on
/// fixed inputs and its labelled parts.
fn describe(case: &Path) -> String {
    let text = std::fs::read(case.join("Dockerfile")).unwrap();
    let dockerfile = match kiln_frontend::parse(&text) {
        Ok(d) => d,
        Err(e) => return format!("  parse error: {e}\n"),
    };
    let lowered = match lower(&dockerfile, &options(case), &Fixed) {
        Ok(l) => l,
        Err(d) => return format!("  lowering error: {}\n", d.message),
    };
    let digests = lowered.graph.digests();
    let mut out = String::new();
    for (i, digest) in digests.iter().enumerate() {
        let vertex = lowered.graph.vertex(VertexId(i));
        writeln!(out, "  v{i} {digest} {}", vertex.name).unwrap();
        let inputs: Vec<InputKey> = (0..vertex.inputs.len())
            .map(|n| InputKey::Result(Digest::of(format!("input {n}").as_bytes())))
            .collect();
        if matches!(vertex.op, Op::Exec(_) | Op::File(_)) {
            writeln!(out, "    key {}", cache_key(&vertex.op, &inputs, &[])).unwrap();
        }
        // By label, as a build's trail stores them.
        let parts: BTreeMap<String, String> = key_parts(&vertex.op, &inputs, &[])
            .into_iter()
            .map(|(part, value)| (part.to_string(), value))
            .collect();
        for (label, value) in parts {
            writeln!(out, "    {label}: {value:?}").unwrap();
        }
    }
    out
}

#[test]
fn keys_of_every_fidelity_case_are_unchanged() {
    let mut all = String::new();
    let cases = case_dirs();
    assert!(cases.len() > 80, "only {} cases found", cases.len());
    for (name, path) in &cases {
        writeln!(all, "{name}").unwrap();
        all.push_str(&describe(path));
    }
    let golden = workspace().join("testdata/keys/fidelity.txt");
    if std::env::var_os("KILN_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &all).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&golden)
        .unwrap_or_else(|e| panic!("{}: {e} (run with KILN_BLESS=1)", golden.display()));
    if expected != all {
        let first = expected
            .lines()
            .zip(all.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(all.lines().count()));
        panic!(
            "keys differ from {} at line {}:\n  expected: {:?}\n  actual:   {:?}",
            golden.display(),
            first + 1,
            expected.lines().nth(first),
            all.lines().nth(first)
        );
    }
}
