//! Issue 23: the README's CI recipe, run. The commands of its GitHub
//! Actions and GitLab snippets (read from the README, not copied here) run
//! against a loopback registry with Basic auth, two fresh stores standing
//! for two runners: the first builds and pushes the image and the cache,
//! the second (the next pipeline) hits every step.

use super::super::support::root;
use super::fixture::Registry;
use super::{TestContext, ready, text};
use std::path::Path;

/// The shell commands of the README's YAML snippet that follows `title`:
/// each `run:` or `- ` line that runs kiln, with the runner's install
/// path and GitHub's secret syntax turned into plain shell.
fn snippet_commands(readme: &str, title: &str) -> Vec<String> {
    let after = readme.split_once(title).map_or("", |(_, rest)| rest);
    let yaml = after
        .split_once("```yaml\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map_or("", |(yaml, _)| yaml);
    yaml.lines()
        .map(|l| {
            l.trim()
                .trim_start_matches("- ")
                .trim_start_matches("run: ")
        })
        .filter(|l| l.contains("kiln ") && !l.starts_with("cargo "))
        .map(|l| {
            l.replace("sudo ~/.cargo/bin/kiln", "kiln")
                .replace("${{ secrets.REGISTRY_TOKEN }}", "$REGISTRY_TOKEN")
        })
        .collect()
}

/// Runs `commands` with bash in `context` as a runner whose store is
/// `runner`'s, `kiln` on `PATH`; the last command's stderr.
fn run_job(
    runner: &TestContext,
    commands: &[String],
    context: &Path,
    env: &[(&str, &str)],
) -> String {
    let bin = runner.dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let _ = std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kiln"), bin.join("kiln"));
    let mut stderr = String::new();
    for command in commands {
        let mut cmd = runner.environment("/bin/bash");
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.args(["-c", command])
            .current_dir(context)
            .env("PATH", path)
            .env("KILN_ROOT", &runner.root)
            .envs(env.iter().copied());
        let out = cmd.output().unwrap();
        stderr = text(&out.stderr);
        assert!(out.status.success(), "{command}: {stderr}");
    }
    stderr
}

#[test]
fn the_readme_ci_recipe_shares_the_cache_between_runners() {
    if !ready("the README CI recipe test") {
        return;
    }
    let registry = Registry::basic("ci", "s3cret");
    let addr = registry.addr().to_string();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let github = snippet_commands(&readme, "GitHub Actions:");
    let gitlab = snippet_commands(&readme, "GitLab CI");
    assert_eq!(
        (github.len(), gitlab.len()),
        (2, 2),
        "{github:?} {gitlab:?}"
    );

    // The base image the Dockerfile names, in the registry.
    let base = TestContext::with_busybox(super::BUSYBOX);
    let login = base.kiln_with_stdin(
        &["login", "-u", "ci", "--password-stdin", &addr],
        b"s3cret\n",
    );
    assert!(login.status.success(), "{}", text(&login.stderr));
    base.push(&[super::BUSYBOX, &format!("{addr}/team/busybox:1")]);
    let context = base.dir().join("app");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        format!("FROM {addr}/team/busybox:1\nCOPY app.txt /app.txt\nRUN cat /app.txt > /copy\n"),
    )
    .unwrap();
    std::fs::write(context.join("app.txt"), "app\n").unwrap();

    let first = TestContext::new();
    let stderr = run_job(
        &first,
        &github,
        &context,
        &[
            ("REGISTRY", &addr),
            ("GITHUB_SHA", "c0ffee1"),
            ("REGISTRY_TOKEN", "s3cret"),
        ],
    );
    assert!(
        stderr.contains("exported the build cache to type=registry"),
        "{stderr}"
    );
    let image = format!("{addr}/team/app");
    let second = TestContext::new();
    let stderr = run_job(
        &second,
        &gitlab,
        &context,
        &[
            ("CI_REGISTRY", &addr),
            ("CI_REGISTRY_USER", "ci"),
            ("CI_REGISTRY_PASSWORD", "s3cret"),
            ("CI_REGISTRY_IMAGE", &image),
            ("CI_COMMIT_SHA", "c0ffee2"),
        ],
    );
    let cached = stderr.lines().filter(|l| l.ends_with(" CACHED")).count();
    assert_eq!(cached, 2, "the next pipeline hits every step: {stderr}");
    // Both tags name the same image.
    let one = second.pull(&[&format!("{image}:c0ffee1")]);
    let two = second.pull(&[&format!("{image}:c0ffee2")]);
    assert_eq!(one, two);
}
