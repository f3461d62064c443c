//! Running the binary and reading shared and golden data.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared folder beside the workspace (`KILN_SHARED_DIR` overrides).
pub fn shared() -> PathBuf {
    let dir =
        std::env::var_os("KILN_SHARED_DIR").map_or_else(|| root().join("../shared"), PathBuf::from);
    assert!(dir.is_dir(), "shared data missing at {}", dir.display());
    dir
}

/// Runs `kiln ARGS` in `dir` with `stdin` as standard input; colours off so
/// output is comparable.
pub fn kiln_in(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    output_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_kiln"))
            .args(args)
            .current_dir(dir)
            .env("NO_COLOR", "1"),
        stdin,
    )
}

/// Runs `cmd` with `stdin` as its standard input; its output.
pub fn output_with_stdin(cmd: &mut Command, stdin: &[u8]) -> Output {
    use std::io::Write as _;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that exits without reading all of its input closes the
    // pipe: its output and status are still what the test checks.
    match child.stdin.take().unwrap().write_all(stdin) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        written => written.unwrap(),
    }
    child.wait_with_output().unwrap()
}

/// Runs `kiln ARGS` in the workspace root.
pub fn kiln(args: &[&str]) -> Output {
    kiln_in(&root(), args, b"")
}

/// Text of a stream.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Compares `actual` with the golden file `path`, or rewrites the file when
/// `KILN_BLESS=1` (never edit golden files by hand to make a test pass).
pub fn golden(path: &Path, actual: &str) {
    if std::env::var_os("KILN_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "golden file {}: {e} (run with KILN_BLESS=1)",
            path.display()
        )
    });
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

/// A busybox root file system made on the spot from Debian's
/// busybox-static: /bin/busybox, its applet links, and passwd/group files
/// with root, an `app` user (1000) in two extra groups, and `nobody`.
pub fn busybox_rootfs(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    for d in ["bin", "etc", "tmp", "root"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    let list = Command::new("/bin/busybox")
        .arg("--list-full")
        .output()
        .unwrap();
    assert!(list.status.success(), "busybox --list-full failed");
    for applet in text(&list.stdout).lines().filter(|a| *a != "bin/busybox") {
        let path = root.join(applet);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let _ = std::os::unix::fs::symlink("/bin/busybox", &path);
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\n\
         app:x:1000:1000:app:/home/app:/bin/sh\n\
         nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/group"),
        "root:x:0:\nwheel:x:10:app\naudio:x:29:app\napp:x:1000:\nnogroup:x:65534:\n",
    )
    .unwrap();
    root
}

/// A store under `dir` holding the busybox root file system as image
/// `name` (imported with `kiln import`); returns the store's root.
pub fn busybox_store(dir: &Path, name: &str) -> PathBuf {
    let rootfs = busybox_rootfs(dir);
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    tar.append_dir_all(".", &rootfs).unwrap();
    let tarball = dir.join("rootfs.tar");
    std::fs::write(&tarball, tar.into_inner().unwrap()).unwrap();
    let root = dir.join("store");
    let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["--root", root.to_str().unwrap(), "import"])
        .args([tarball.to_str().unwrap(), name])
        .output()
        .unwrap();
    assert!(out.status.success(), "import: {}", text(&out.stderr));
    root
}

/// Whether this test may use root-only features; panics under `CI=true`
/// when it may not (a skip there is a failure), else prints a loud skip.
pub fn privileged(what: &str, needs: &[&str]) -> bool {
    let missing: Vec<&&str> = needs.iter().filter(|p| !Path::new(p).exists()).collect();
    let root = rustix::process::geteuid().is_root();
    if root && missing.is_empty() {
        return true;
    }
    let why = format!(
        "{what} skipped: needs root (euid {}) and {missing:?}",
        rustix::process::geteuid().as_raw()
    );
    assert!(
        std::env::var_os("CI").is_none_or(|v| v != "true"),
        "{why}; a skip is a failure under CI=true"
    );
    #[allow(clippy::print_stderr)] // the loud skip the brief asks for
    {
        eprintln!("\n!!!!!!!! {why} !!!!!!!!\n");
    }
    false
}
