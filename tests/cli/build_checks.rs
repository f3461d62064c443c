//! BuildKit's build checks as `kiln build` applies them (issue 21): the
//! warnings listed after the build in docker's short form, the `# check=`
//! directive and the `BUILDKIT_DOCKERFILE_CHECK` build argument choosing
//! them, `error=true` stopping the build before anything runs, and
//! `--check` reporting every finding, lowering's included, without
//! building.

use super::support::{TestContext, text};

const DOCKERFILE: &str = "FROM busybox:local\n\
     MAINTAINER me\n\
     ENV GREETING=$GRETING\n\
     RUN echo ran-$((20+1))\n";

/// The rule names in a build's closing warning list.
fn listed(stderr: &str) -> Vec<String> {
    let list = stderr.rsplit_once("found:\n").map_or("", |(_, l)| l);
    list.lines()
        .filter_map(|l| l.strip_prefix(" - "))
        .filter_map(|l| l.split_once(':').map(|(rule, _)| rule.to_string()))
        .collect()
}

#[test]
fn warnings_come_after_the_build_and_error_true_stops_it() {
    let Some(f) = TestContext::for_build(DOCKERFILE) else {
        return;
    };
    let out = f.build(&["-t", "checked"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("\n2 warnings found:\n"), "{stderr}");
    assert_eq!(listed(&stderr), ["MaintainerDeprecated", "UndefinedVar"]);
    assert!(
        stderr.contains(" - UndefinedVar: Usage of undefined variable '$GRETING' (line 3)"),
        "{stderr}"
    );
    // After the build: the list follows the step's output.
    assert!(
        stderr.find("ran-21").unwrap() < stderr.find("warnings found").unwrap(),
        "{stderr}"
    );

    // The directive skips a rule; the build argument replaces the
    // directive.
    f.dockerfile(&format!("# check=skip=MaintainerDeprecated\n{DOCKERFILE}"));
    let stderr = text(&f.build(&["-t", "checked"]).stderr);
    assert_eq!(listed(&stderr), ["UndefinedVar"], "{stderr}");
    let stderr = text(
        &f.build(&[
            "-t",
            "checked",
            "--build-arg",
            "BUILDKIT_DOCKERFILE_CHECK=skip=UndefinedVar",
        ])
        .stderr,
    );
    assert_eq!(listed(&stderr), ["MaintainerDeprecated"], "{stderr}");

    // error=true: the build stops before any step, lowering's findings
    // included.
    f.dockerfile(&format!("# check=error=true\n{DOCKERFILE}"));
    let out = f.build(&["-t", "stopped"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("lint violation found for rules: MaintainerDeprecated"),
        "{stderr}"
    );
    assert!(!stderr.contains("ran-21"), "{stderr}");
    f.dockerfile(&format!(
        "# check=error=true;skip=MaintainerDeprecated\n{DOCKERFILE}"
    ));
    let stderr = text(&f.build(&["-t", "stopped"]).stderr);
    assert!(
        stderr.contains("lint violation found for rules: UndefinedVar"),
        "{stderr}"
    );
    assert!(!stderr.contains("ran-21"), "{stderr}");
    let images = f.ok(&["images"]);
    assert!(!images.contains("stopped"), "{images}");
}

#[test]
fn check_only_reports_every_finding_and_builds_nothing() {
    let Some(f) = TestContext::for_build(&format!(
        "{DOCKERFILE}FROM --platform=linux/arm64 busybox:local AS other\nCOPY Dockerfile /d\n"
    )) else {
        return;
    };
    let out = f.build(&["-t", "only-checked", "--check", "--target", "other"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("ran-21"), "{stderr}");
    for rule in [
        "MaintainerDeprecated",
        "FromPlatformFlagConstDisallowed",
        "InvalidBaseImagePlatform",
    ] {
        assert!(stderr.contains(rule), "{rule}: {stderr}");
    }
    assert!(
        stderr.contains(
            "Base image busybox:local was pulled with platform \"linux/amd64\", expected \"linux/arm64\" for current build"
        ),
        "{stderr}"
    );
    let images = f.ok(&["images"]);
    assert!(!images.contains("only-checked"), "{images}");

    // The same image, built: the base for another platform is used, with
    // the warning (BuildKit's InvalidBaseImagePlatform), not refused.
    let out = f.build(&["-t", "other", "--target", "other"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        listed(&stderr).contains(&"InvalidBaseImagePlatform".to_string()),
        "{stderr}"
    );
}
