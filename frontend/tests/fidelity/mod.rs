//! What the golden tests over the fidelity cases share: the cases (kiln's
//! own in `testdata/fidelity/cases`, the shared samples in
//! `$KILN_SHARED_DIR/fidelity/cases`), the options each is built with, a
//! resolver that gives every base image a fixed config and digest, and
//! the comparison with a golden file (`KILN_BLESS=1` rewrites it).

#![allow(dead_code)] // each test binary uses its part

use kiln_frontend::lower::{ImageResolver, LowerOptions, ResolvedImage};
use kiln_oci::{Digest, ImageConfig, Platform};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every base image exists, with a config and a digest that depend on the
/// reference only.
pub struct Fixed;

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

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn case_dirs() -> Vec<(String, PathBuf)> {
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

pub fn options(case: &Path) -> LowerOptions {
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

/// The case's Dockerfile parsed and lowered with [`options`] against
/// [`Fixed`]; the golden line that says why not.
pub fn lowered(case: &Path) -> Result<kiln_frontend::lower::Lowered, String> {
    let text = std::fs::read(case.join("Dockerfile")).unwrap();
    let dockerfile = kiln_frontend::parse(&text).map_err(|e| format!("  parse error: {e}\n"))?;
    kiln_frontend::lower::lower(&dockerfile, &options(case), &Fixed)
        .map_err(|d| format!("  lowering error: {}\n", d.message))
}

/// `describe` of every case, each after its name, compared with the
/// golden file `testdata/GOLDEN`.
pub fn assert_cases(golden: &str, describe: fn(&Path) -> String) {
    let mut all = String::new();
    let cases = case_dirs();
    assert!(cases.len() > 80, "only {} cases found", cases.len());
    for (name, path) in &cases {
        all.push_str(name);
        all.push('\n');
        all.push_str(&describe(path));
    }
    assert_golden(&workspace().join("testdata").join(golden), &all);
}

/// Compares `actual` with the golden file at `golden`, or rewrites it
/// under `KILN_BLESS=1`; a difference names its first line.
pub fn assert_golden(golden: &Path, actual: &str) {
    if std::env::var_os("KILN_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(golden, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(golden)
        .unwrap_or_else(|e| panic!("{}: {e} (run with KILN_BLESS=1)", golden.display()));
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "output differs from {} at line {}:\n  expected: {:?}\n  actual:   {:?}",
            golden.display(),
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}
