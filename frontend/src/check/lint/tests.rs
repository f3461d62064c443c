//! Every rule against a Dockerfile that triggers it and one that must not
//! (`testdata/check/rules/<Rule>.bad|good.Dockerfile`), all findings pinned
//! in `testdata/check/rules/findings.golden` (`KILN_BLESS=1` rewrites it);
//! the check options as BuildKit parses them.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::check::{check, check_with};
use std::path::PathBuf;

pub(crate) fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/check/rules")
}

/// One finding of `case` (`<Rule>.bad`) as the goldens pin it.
pub(crate) fn golden_line(case: &str, d: &Diagnostic) -> String {
    format!(
        "{case}:{}:{} {} {}\n",
        d.span.line,
        d.span.column,
        d.rule.map_or("-", |r| r.name),
        d.message
    )
}

/// Compares `found` with the golden file `name` in [`rules_dir`], or
/// rewrites it under `KILN_BLESS=1`.
pub(crate) fn assert_golden(name: &str, found: &str) {
    let path = rules_dir().join(name);
    if std::env::var_os("KILN_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, found).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(found, expected, "findings differ from {}", path.display());
}

fn findings(text: &str) -> Vec<Diagnostic> {
    check(&crate::parse(text.as_bytes()).unwrap())
}

#[test]
fn every_rule_fires_on_its_bad_file_only_and_the_findings_are_pinned() {
    let mut golden = String::new();
    for rule in RULES {
        for kind in ["bad", "good"] {
            let file = rules_dir().join(format!("{}.{kind}.Dockerfile", rule.name));
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let found = findings(&text);
            let hits = found
                .iter()
                .filter(|d| d.rule.map(|r| r.name) == Some(rule.name))
                .count();
            match kind {
                "bad" => assert!(
                    hits > 0,
                    "{} does not fire on {}",
                    rule.name,
                    file.display()
                ),
                _ => assert_eq!(
                    hits,
                    0,
                    "{} fires on {}: {found:?}",
                    rule.name,
                    file.display()
                ),
            }
            for d in &found {
                golden.push_str(&golden_line(&format!("{}.{kind}", rule.name), d));
            }
        }
    }
    assert_golden("findings.golden", &golden);
}

#[test]
fn the_issue_example_finds_buildkits_rules() {
    let text = "from busybox:local as Build\nMAINTAINER me\nENV a b\nWORKDIR rel\nRUN echo $UNDEF\nCMD echo hi\nCMD echo ho\nEXPOSE 80/TCP\nARG PASSWORD=x\n";
    let mut rules: Vec<&str> = findings(text)
        .iter()
        .filter_map(|d| d.rule.map(|r| r.name))
        .collect();
    rules.sort();
    rules.dedup();
    // UndefinedVar needs the base image's environment: not checked yet.
    // FromAsCasing does not fire: `from` and `as` are both lower case
    // (BuildKit compares only the two keywords; the lone lower-case `from`
    // is ConsistentInstructionCasing's).
    assert_eq!(
        rules,
        [
            "ConsistentInstructionCasing",
            "ExposeProtoCasing",
            "JSONArgsRecommended",
            "LegacyKeyValueFormat",
            "MaintainerDeprecated",
            "MultipleInstructionsDisallowed",
            "SecretsUsedInArgOrEnv",
            "StageNameCasing",
            "WorkdirRelativePath",
        ]
    );
}

#[test]
fn options_parse_as_buildkit_parses_them() {
    let config = Config::parse("skip=FromAsCasing,StageNameCasing;error=true").unwrap();
    assert!(config.error);
    assert!(!config.enabled("FromAsCasing"));
    assert!(config.enabled("MaintainerDeprecated"));
    assert!(Config::parse("skip=all").unwrap().skip_all);
    assert!(!Config::parse("error=false").unwrap().error);
    assert!(Config::parse("experimental=all").is_ok());
    assert_eq!(
        Config::parse("bogus=1").unwrap_err(),
        "invalid check option \"bogus\""
    );
    assert!(Config::parse("error=maybe").is_err());
}

#[test]
fn the_directive_and_the_build_arg_choose_the_rules() {
    let text = "# check=skip=MaintainerDeprecated\nFROM busybox AS Build\nMAINTAINER me\n";
    let rules = |found: Vec<Diagnostic>| -> Vec<&'static str> {
        found
            .iter()
            .filter_map(|d| d.rule.map(|r| r.name))
            .collect()
    };
    let dockerfile = crate::parse(text.as_bytes()).unwrap();
    assert_eq!(rules(check(&dockerfile)), ["StageNameCasing"]);
    // The build argument replaces the directive whole.
    assert_eq!(
        rules(check_with(&dockerfile, Some("skip=StageNameCasing"))),
        ["MaintainerDeprecated"]
    );
    assert!(rules(check_with(&dockerfile, Some("skip=all"))).is_empty());
    // The directive's value ends at its first blank.
    let spaced =
        crate::parse(b"# check=skip=MaintainerDeprecated; error=true\nFROM busybox\n").unwrap();
    let found = check(&spaced);
    assert!(
        found
            .iter()
            .any(|d| d.message == "failed to parse check options: invalid check option \"\""),
        "{found:?}"
    );
    let erroring = crate::parse(b"# check=error=true\nFROM busybox\nMAINTAINER me\n").unwrap();
    assert!(config(&erroring, None).unwrap().error);
}
