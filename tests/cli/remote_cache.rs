//! Issue 23: a build cache that travels. One store builds and exports its
//! cache (`--cache-to type=local,dest=DIR`); another store, at another
//! path, with the context written again (new mtimes) and kiln started
//! under another umask, imports it (`--cache-from type=local,src=DIR`) and
//! every step is a hit.
//! A cache that cannot be read is a warning and a cold build.

use super::support::{TestContext, text};

const DOCKERFILE: &str = "FROM busybox:local AS build\n\
     WORKDIR /src\n\
     COPY app.txt conf/ ./\n\
     RUN cat app.txt > /built && echo made >> /built\n\
     FROM busybox:local\n\
     COPY --from=build /built /built\n\
     RUN cp /built /final\n";

/// The names of the steps a plain-progress build reported CACHED, and of
/// those that ran.
fn cached_and_ran(stderr: &str) -> (Vec<String>, Vec<String>) {
    let mut names = std::collections::BTreeMap::new();
    let (mut cached, mut ran) = (Vec::new(), Vec::new());
    for line in stderr.lines() {
        let Some((id, rest)) = line.split_once(' ') else {
            continue;
        };
        if rest.starts_with('[') && !rest.starts_with("[internal]") && !rest.contains(" FROM ") {
            names.insert(id.to_string(), rest.to_string());
        } else if let Some(name) = names.get(id) {
            if rest == "CACHED" {
                cached.push(name.clone());
            } else if rest.starts_with("DONE") {
                ran.push(name.clone());
            }
        }
    }
    (cached, ran)
}

/// A first runner: the Dockerfile built with its cache exported to a
/// layout directory; the context, the cache directory and the build's
/// output. `None` after a loud skip.
fn first_runner() -> Option<(TestContext, std::path::PathBuf, std::process::Output)> {
    let first = TestContext::for_build(DOCKERFILE)?;
    first.file("app.txt", "app\n").file("conf/a.conf", "a=1\n");
    let cache = first.dir().join("cache");
    let spec = format!("type=local,dest={},mode=max", cache.display());
    let out = first.build(&["-t", "app", "--cache-to", &spec]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    Some((first, cache, out))
}

/// The next runner: a fresh store elsewhere with the same base image
/// (loaded from the first's save, as a registry would give it), the
/// context written anew (new mtimes).
fn next_runner(first: &TestContext) -> TestContext {
    let base = first.dir().join("base.tar");
    first.ok(&["save", "-o", base.to_str().unwrap(), "busybox:local"]);
    let second = TestContext::new();
    second.ok(&["load", "-i", base.to_str().unwrap()]);
    second.dockerfile(DOCKERFILE);
    second.file("app.txt", "app\n").file("conf/a.conf", "a=1\n");
    second
}

#[test]
fn a_cache_exported_from_one_store_serves_another() {
    let Some((first, cache, out)) = first_runner() else {
        return;
    };
    let stderr = text(&out.stderr);
    assert!(stderr.contains("exported the build cache to"), "{stderr}");
    assert!(cache.join("index.json").is_file());
    let id = text(&out.stdout);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = next_runner(&first);
    let from = format!("type=local,src={}", cache.display());
    // kiln's own umask enters no key (the files it makes get set modes).
    let out = second.build_under_umask("077", &["-t", "app", "--cache-from", &from, "--explain"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let (cached, ran) = cached_and_ran(&stderr);
    assert!(ran.is_empty(), "steps ran: {ran:?}\n{stderr}");
    assert_eq!(cached.len(), 5, "{stderr}");
    // `--explain` names the cache each step came from.
    let named = stderr
        .lines()
        .filter(|l| l.ends_with(&format!(": CACHED from the imported cache {from}")))
        .count();
    assert_eq!(named, 5, "{stderr}");
    assert_eq!(text(&out.stdout), id, "the same image");
    assert_eq!(second.run("app", &["cat", "/final"]), "app\nmade\n");
}

#[test]
fn an_unreadable_cache_is_a_warning_and_a_cold_build() {
    let Some(f) = TestContext::for_build("FROM busybox:local\nRUN echo cold > /c\n") else {
        return;
    };
    let cache = f.dir().join("broken-cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join("index.json"), "not json").unwrap();
    let from = format!("type=local,src={}", cache.display());
    let missing = format!("type=local,src={}", f.dir().join("nothing-here").display());
    let out = f.build(&[
        "-t",
        "cold",
        "--cache-from",
        &from,
        "--cache-from",
        &missing,
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("is no OCI index"), "{stderr}");
    assert!(stderr.contains("nothing-here"), "{stderr}");
    let (_, ran) = cached_and_ran(&stderr);
    assert_eq!(ran.len(), 1, "{stderr}");
    // A bad spec is refused before anything runs.
    let out = f.build(&["-t", "cold", "--cache-to", "type=inline,mode=max"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("type=inline has only mode=min"),
        "{}",
        text(&out.stderr)
    );
}

/// A cache whose layer blob was cut short: the step that needs it says
/// so and runs; the build succeeds with the right files. An export to a
/// registry that does not answer is a warning, or the build's failure
/// under `ignore-error=false`.
#[test]
fn a_damaged_cache_costs_a_rerun_and_a_failed_export_what_was_asked() {
    let Some((first, cache, _)) = first_runner() else {
        return;
    };
    // Cut every layer blob short (the manifest and config stay whole).
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cache.join("index.json")).unwrap()).unwrap();
    let manifest_hex = index["manifests"][0]["digest"].as_str().unwrap()[7..].to_string();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(cache.join("blobs/sha256").join(&manifest_hex)).unwrap(),
    )
    .unwrap();
    for layer in manifest["layers"].as_array().unwrap() {
        let path = cache
            .join("blobs/sha256")
            .join(&layer["digest"].as_str().unwrap()[7..]);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    }
    let second = next_runner(&first);
    let from = format!("type=local,src={}", cache.display());
    let out = second.build(&["-t", "app", "--cache-from", &from]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("has this step, but not usably"), "{stderr}");
    let (_, ran) = cached_and_ran(&stderr);
    assert!(!ran.is_empty(), "{stderr}");
    assert_eq!(second.run("app", &["cat", "/final"]), "app\nmade\n");

    // Nothing listens on port 1 of loopback.
    let nowhere = "type=registry,ref=127.0.0.1:1/app:cache";
    let out = second.build(&["-t", "app", "--cache-to", nowhere]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("cannot export the build cache to type=registry,ref=127.0.0.1:1/app:cache (ignore-error=true)"), "{stderr}");
    let strict = format!("{nowhere},ignore-error=false");
    let out = second.build(&["-t", "app", "--cache-to", &strict]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: cannot export the build cache to type=registry"),
        "{stderr}"
    );
}

/// `mounts=true`: a cache mount warmed by one store's build starts with
/// that content in a fresh store that imports the cache (what no peer
/// exports); past `mounts-max-size` it stays behind, with a warning.
#[test]
fn a_cache_mount_travels_with_mounts_true() {
    let warm = "FROM busybox:local\n\
         RUN --mount=type=cache,id=warm,target=/cache echo warm > /cache/stamp\n";
    let Some(first) = TestContext::for_build(warm) else {
        return;
    };
    let cache = first.dir().join("cache");
    let too_small = format!(
        "type=local,dest={},mounts=true,mounts-max-size=100",
        cache.display()
    );
    let stderr = text(
        &first
            .build(&["-t", "warm", "--cache-to", &too_small])
            .stderr,
    );
    assert!(
        stderr.contains("cache mount \"warm\" not exported"),
        "{stderr}"
    );
    let spec = format!("type=local,dest={},mounts=true", cache.display());
    let out = first.build(&["-t", "warm", "--cache-to", &spec]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(", 1 cache mounts,"), "{stderr}");

    let base = first.dir().join("base.tar");
    first.ok(&["save", "-o", base.to_str().unwrap(), "busybox:local"]);
    let second = TestContext::new();
    second.ok(&["load", "-i", base.to_str().unwrap()]);
    second.dockerfile(
        "FROM busybox:local\n\
         RUN --mount=type=cache,id=warm,target=/cache cat /cache/stamp > /seen\n",
    );
    let from = format!("type=local,src={}", cache.display());
    let out = second.build(&["-t", "seen", "--cache-from", &from]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(second.run("seen", &["cat", "/seen"]), "warm\n");
}
