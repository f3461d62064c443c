//! `ADD <git reference>` against repositories the test makes and serves
//! with `git daemon` on loopback: the default branch, a tag, a subdirectory,
//! `--keep-git-dir`, a submodule with a relative URL, modes and symlinks as
//! a checkout makes them, the cache keyed by commit, `--checksum`, and
//! errors that name the reference and the Dockerfile line.

use super::support::{TestContext, text};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// `git` with a fixed identity, in `dir`.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=kiln", "-c", "user.email=kiln@test"])
        .args([
            "-c",
            "protocol.file.allow=always",
            "-c",
            "init.defaultBranch=main",
        ])
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// Bare repositories under `base` served by `git daemon` until dropped.
struct GitServer {
    base: PathBuf,
    url: String,
    daemon: Child,
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

impl GitServer {
    /// Serves `lib.git` (one file) and `main.git`: a first commit tagged
    /// `v1` (annotated), then a second on `main` with `lib` as a submodule
    /// by a relative URL.
    fn start(dir: &Path) -> GitServer {
        let base = dir.join("served");
        std::fs::create_dir_all(&base).unwrap();
        let lib = dir.join("lib");
        std::fs::create_dir_all(&lib).unwrap();
        git(&lib, &["init", "-q"]);
        std::fs::write(lib.join("lib.txt"), "from the submodule\n").unwrap();
        git(&lib, &["add", "."]);
        git(&lib, &["commit", "-q", "-m", "lib"]);
        git(dir, &["clone", "-q", "--bare", "lib", "served/lib.git"]);

        let work = dir.join("main");
        std::fs::create_dir_all(work.join("bin")).unwrap();
        std::fs::create_dir_all(work.join("sub/dir")).unwrap();
        git(&work, &["init", "-q"]);
        // The submodule's relative URL is resolved against origin, here
        // and in every clone of the served repository.
        let origin = base.join("main.git");
        git(
            &work,
            &["remote", "add", "origin", origin.to_str().unwrap()],
        );
        std::fs::write(work.join("README"), "first\n").unwrap();
        std::fs::write(work.join("bin/tool.sh"), "#!/bin/sh\necho tool\n").unwrap();
        std::fs::write(work.join("sub/dir/f.txt"), "deep\n").unwrap();
        std::os::unix::fs::symlink("README", work.join("link")).unwrap();
        std::fs::set_permissions(
            work.join("bin/tool.sh"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        git(&work, &["add", "."]);
        git(&work, &["commit", "-q", "-m", "first"]);
        git(&work, &["tag", "-a", "v1", "-m", "v1"]);
        std::fs::write(work.join("README"), "second\n").unwrap();
        git(&work, &["submodule", "add", "-q", "../lib.git", "lib"]);
        git(&work, &["add", "."]);
        git(&work, &["commit", "-q", "-m", "second"]);
        git(dir, &["clone", "-q", "--bare", "main", "served/main.git"]);

        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // git-daemon itself, not `git daemon`, which would leave it running
        // when killed.
        let exec_path = git(dir, &["--exec-path"]);
        let daemon = Command::new(Path::new(exec_path.trim()).join("git-daemon"))
            .args(["--reuseaddr", "--export-all", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(&base)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("git://127.0.0.1:{port}");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        GitServer { base, url, daemon }
    }

    /// Serves a new repository `NAME.git` with one commit, which `make`
    /// fills in.
    fn serve(&self, name: &str, make: impl FnOnce(&Path)) {
        let dir = self.base.parent().unwrap();
        let work = dir.join(name);
        std::fs::create_dir_all(&work).unwrap();
        git(&work, &["init", "-q"]);
        make(&work);
        git(&work, &["add", "."]);
        git(&work, &["commit", "-q", "-m", name]);
        let bare = format!("served/{name}.git");
        git(dir, &["clone", "-q", "--bare", name, &bare]);
    }

    /// Commits a new README on `main` of the served repository.
    fn push_readme(&self, content: &str) {
        let dir = self.base.parent().unwrap();
        let work = dir.join("push");
        if !work.exists() {
            git(dir, &["clone", "-q", "served/main.git", "push"]);
        }
        std::fs::write(work.join("README"), content).unwrap();
        git(&work, &["commit", "-q", "-am", "update"]);
        git(&work, &["push", "-q", "origin", "HEAD:main"]);
    }
}

fn served(dockerfile: impl Fn(&str) -> String) -> Option<(TestContext, GitServer)> {
    let placeholder = TestContext::for_build("")?;
    let server = GitServer::start(&placeholder.context.join("../git"));
    std::fs::write(
        placeholder.context.join("Dockerfile"),
        dockerfile(&server.url),
    )
    .unwrap();
    Some((placeholder, server))
}

#[test]
fn add_git_checks_out_branches_tags_and_subdirectories() {
    let Some((f, _server)) = served(|url| {
        format!(
            "FROM busybox:local\n\
             ADD {url}/main.git /src\n\
             ADD {url}/main.git#v1 /v1/\n\
             ADD {url}/main.git#main:sub /sub\n\
             ADD --keep-git-dir=true {url}/main.git#v1 /kept\n\
             ADD --chown=5:6 {url}/main.git#v1:sub/dir /owned\n"
        )
    }) else {
        return;
    };
    f.build_ok(&["-t", "git"]);
    let listing = f.run(
        "git",
        &[
            "sh",
            "-c",
            "cat /src/README /v1/README /src/lib/lib.txt /sub/dir/f.txt; \
             cd / && stat -c '%n %a %u:%g' src/README src/bin/tool.sh src owned/f.txt; \
             readlink /src/link; ls -a /src; ls /v1; test -d /kept/.git && echo kept",
        ],
    );
    assert_eq!(
        listing,
        "second\nfirst\nfrom the submodule\ndeep\n\
         src/README 644 0:0\n\
         src/bin/tool.sh 755 0:0\n\
         src 755 0:0\n\
         owned/f.txt 644 5:6\n\
         README\n\
         .\n..\n.gitmodules\nREADME\nbin\nlib\nlink\nsub\n\
         README\nbin\nlink\nsub\n\
         kept\n"
    );
    // No .git in the submodule either.
    let out = f.kiln(&["run", "--rm", "git", "test", "-e", "/src/lib/.git"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn add_git_reuses_a_commit_and_follows_a_moved_branch() {
    let Some((f, server)) = served(|url| {
        format!("FROM busybox:local\nADD {url}/main.git#main /src\nRUN cat /src/README > /copy\n")
    }) else {
        return;
    };
    let first = f.build_ok(&["-t", "g"]);
    // The checkout's files have fresh times: only a reused layer gives
    // the same image.
    assert_eq!(f.build_ok(&["-t", "g"]), first);
    server.push_readme("third\n");
    let moved = f.build_ok(&["-t", "g"]);
    assert_ne!(moved, first);
    assert_eq!(f.run("g", &["cat", "/copy"]), "third\n");
}

#[test]
fn add_git_checksums_and_errors_name_the_reference_and_line() {
    let Some((f, server)) = served(|url| format!("FROM busybox:local\nADD {url}/main.git#v1 /v\n"))
    else {
        return;
    };
    let tagged = git(&server.base.join("main.git"), &["rev-parse", "v1^{commit}"]);
    let tagged = tagged.trim();
    let url = &server.url;
    let build = |dockerfile: String| {
        std::fs::write(f.context.join("Dockerfile"), dockerfile).unwrap();
        f.build(&["-t", "checked"])
    };
    let out = build(format!(
        "FROM busybox:local\nADD --checksum={} {url}/main.git#v1 /v\n",
        &tagged[..12]
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));

    for (dockerfile, message) in [
        (
            format!("FROM busybox:local\nADD --checksum=0123abcd {url}/main.git#v1 /v\n"),
            format!("checksum mismatch: reference \"v1\" is commit {tagged}"),
        ),
        (
            format!("FROM busybox:local\nRUN true\nADD {url}/main.git#nosuch /v\n"),
            "reference \"nosuch\" was not found".to_string(),
        ),
        (
            format!("FROM busybox:local\nADD {url}/main.git#v1:nodir /v\n"),
            "nodir is not a directory".to_string(),
        ),
        (
            format!("FROM busybox:local\nCOPY {url}/main.git /v\n"),
            "source can't be a git ref for COPY".to_string(),
        ),
    ] {
        let line = dockerfile.lines().count();
        let out = build(dockerfile.clone());
        assert_eq!(out.status.code(), Some(1), "{dockerfile}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(&message), "{dockerfile}: {stderr}");
        assert!(
            stderr.contains(&format!("Dockerfile:{line}")),
            "{dockerfile}: {stderr}"
        );
    }
}

#[test]
fn add_git_never_reads_the_hosts_files() {
    let Some((f, server)) = served(|_| String::new()) else {
        return;
    };
    // A symlink out of the checkout, named as the subdirectory's parent.
    server.serve("escape", |work| {
        std::fs::write(work.join("README"), "escape\n").unwrap();
        std::os::unix::fs::symlink("/", work.join("root")).unwrap();
    });
    // A submodule at a path of the host that serves the repository.
    let host_repo = server.base.parent().unwrap().join("lib");
    server.serve("local", |work| {
        git(
            work,
            &["submodule", "add", "-q", host_repo.to_str().unwrap(), "lib"],
        );
    });
    let url = &server.url;
    for (dockerfile, message) in [
        (
            format!("FROM busybox:local\nADD {url}/escape.git#main:root/etc /x\n"),
            "root/etc is not a directory",
        ),
        (
            format!("FROM busybox:local\nADD {url}/local.git /x\n"),
            "transport 'file' not allowed",
        ),
    ] {
        std::fs::write(f.context.join("Dockerfile"), &dockerfile).unwrap();
        let out = f.build(&["-t", "host"]);
        assert_eq!(out.status.code(), Some(1), "{dockerfile}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(message), "{dockerfile}: {stderr}");
        assert!(stderr.contains("Dockerfile:2"), "{stderr}");
    }
    assert!(!f.kiln(&["inspect", "host"]).status.success());
}
