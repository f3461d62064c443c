//! Running the binary and reading shared and golden data.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

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
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG"),
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
    busybox_rootfs_with(dir, Path::new("/bin/busybox"))
}

/// [`busybox_rootfs`] with `busybox` as `/bin/busybox` (a build for
/// another CPU: the applet links are the host busybox's list, the same
/// Debian version).
pub fn busybox_rootfs_with(dir: &Path, busybox: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    for d in ["bin", "etc", "tmp", "root"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
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
    let root = dir.join("store");
    import_busybox(dir, &root, Path::new("/bin/busybox"), None, name);
    root
}

/// Imports a busybox root file system made in `dir` from the binary
/// `busybox` into the store `root` as image `name`, for `platform` (`None`:
/// this machine's).
pub fn import_busybox(dir: &Path, root: &Path, busybox: &Path, platform: Option<&str>, name: &str) {
    let tarball = busybox_tarball(dir, busybox);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
    cmd.args(["--root", root.to_str().unwrap(), "import"]);
    if let Some(platform) = platform {
        cmd.args(["--platform", platform]);
    }
    let out = cmd
        .args([tarball.to_str().unwrap(), name])
        .output()
        .unwrap();
    assert!(out.status.success(), "import: {}", text(&out.stderr));
}

/// A busybox root file system made in `dir` from the binary `busybox`,
/// as the tarball `dir/rootfs.tar` (what `kiln import` takes).
pub fn busybox_tarball(dir: &Path, busybox: &Path) -> PathBuf {
    let rootfs = busybox_rootfs_with(dir, busybox);
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    tar.append_dir_all(".", &rootfs).unwrap();
    let tarball = dir.join("rootfs.tar");
    std::fs::write(&tarball, tar.into_inner().unwrap()).unwrap();
    std::fs::remove_dir_all(&rootfs).unwrap();
    tarball
}

/// Foreign busybox builds and QEMU's emulators for the multi-platform
/// tests, unpacked (not installed) by `testdata/platforms/fetch.sh` into
/// `/var/cache/kiln-platforms`: `busybox-arm64/bin/busybox`,
/// `busybox-armhf/bin/busybox`, `qemu/usr/bin/`. `None` after a loud skip
/// where it cannot be had (not root).
pub fn platforms_kit(what: &str) -> Option<PathBuf> {
    if !privileged(what, &["/bin/busybox", "/usr/bin/dpkg-deb"]) {
        return None;
    }
    let dir = PathBuf::from("/var/cache/kiln-platforms");
    let out = Command::new("bash")
        .arg(root().join("testdata/platforms/fetch.sh"))
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "testdata/platforms/fetch.sh: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    Some(dir)
}

/// Compiles the C program `source` into the static executable `out`
/// (gcc and libc6-dev; a static binary runs in any test image).
pub fn static_binary(source: &Path, out: &Path) {
    let gcc = Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(out)
        .arg(source)
        .output()
        .expect("gcc is needed to build test programs (apt-get install gcc libc6-dev)");
    assert!(
        gcc.status.success(),
        "gcc {}: {}",
        source.display(),
        text(&gcc.stderr)
    );
}

/// Whether this test may use root-only features and the programs in
/// `needs` (kiln-testkit's one rule: a loud skip, a failure under
/// `CI=true`).
pub fn privileged(what: &str, needs: &[&str]) -> bool {
    kiln_testkit::require_root(what, "runs kiln as root", needs)
}

/// The docker client.
pub const DOCKER: &str = "/usr/bin/docker";

/// A running dockerd for the tests that compare with docker or use it as
/// a peer: the machine's, or one started here (left running for later
/// tests; it lives in its own data root, and `.ci/run` stops it).
pub fn docker() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        if Command::new(DOCKER)
            .arg("info")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return;
        }
        let log = std::fs::File::create("/var/tmp/kiln-test-dockerd.log").unwrap();
        // Left running for later tests; .ci/run stops it at the end.
        #[allow(clippy::zombie_processes)]
        Command::new("/usr/sbin/dockerd")
            .args([
                "--data-root",
                "/var/lib/kiln-test-docker",
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
            ])
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        for _ in 0..60 {
            if Command::new(DOCKER)
                .arg("info")
                .output()
                .is_ok_and(|o| o.status.success())
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        panic!("dockerd did not start; see /var/tmp/kiln-test-dockerd.log");
    });
}

/// Held by each test that adds images to dockerd and removes them: both
/// interop tests import the same busybox layer, and dockerd 20.10 can
/// lose a layer one test's `rmi` shares with another's `load` or `run`
/// in flight ("stat /bin/echo: no such file or directory" in a CI run).
pub fn docker_images_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Proxy variables are dropped from every command a test runs: a proxy
/// would see (or refuse) traffic meant for the fixtures on loopback.
pub fn no_proxy(cmd: &mut Command) -> &mut Command {
    for var in ["http_proxy", "https_proxy", "all_proxy", "no_proxy"] {
        cmd.env_remove(var).env_remove(var.to_uppercase());
    }
    cmd
}

/// The one fixture of the integration tests: a temporary directory holding
/// a store (`root`), a build context (`context`), a docker config directory
/// (`DOCKER_CONFIG`) and a certs.d base (`KILN_CERTS_D`), and the `kiln`
/// binary run against them with nothing of the host's leaking in (no
/// `~/.docker`, no `/etc/docker/certs.d`, no proxy, no `RUST_LOG`). A base
/// image ([`TestContext::with_busybox`]), a registry
/// (`registry::fixture::Registry`) and dockerd ([`docker`]) are added by
/// the tests that need them.
pub struct TestContext {
    dir: tempfile::TempDir,
    /// The store.
    pub root: PathBuf,
    /// The build context directory (made by [`TestContext::dockerfile`] or
    /// [`TestContext::file`]).
    pub context: PathBuf,
    docker_config: PathBuf,
    certs_d: PathBuf,
    path: Option<OsString>,
    stall_timeout: Option<u64>,
    env: Vec<(String, OsString)>,
}

impl TestContext {
    /// An empty store (made by kiln on first use); needs no privileges.
    pub fn new() -> TestContext {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        TestContext::in_dir(dir, root)
    }

    /// A store holding busybox as image `name` (imported with `kiln
    /// import`); the caller has checked [`privileged`] for `/bin/busybox`.
    pub fn with_busybox(name: &str) -> TestContext {
        let dir = tempfile::tempdir().unwrap();
        let root = busybox_store(dir.path(), name);
        TestContext::in_dir(dir, root)
    }

    /// A build test's context: root and busybox as `busybox:local`, and
    /// `dockerfile` in the context; `None` after a loud skip.
    pub fn for_build(dockerfile: &str) -> Option<TestContext> {
        if !privileged("kiln build test", &["/bin/busybox"]) {
            return None;
        }
        let cx = TestContext::with_busybox("busybox:local");
        cx.dockerfile(dockerfile);
        Some(cx)
    }

    fn in_dir(dir: tempfile::TempDir, root: PathBuf) -> TestContext {
        let docker_config = dir.path().join("docker");
        let certs_d = dir.path().join("certs.d");
        let context = dir.path().join("context");
        for d in [&docker_config, &certs_d, &context] {
            std::fs::create_dir_all(d).unwrap();
        }
        TestContext {
            dir,
            root,
            context,
            docker_config,
            certs_d,
            path: None,
            stall_timeout: None,
            env: Vec::new(),
        }
    }

    /// The temporary directory, for files a test makes.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The docker config directory kiln is given (`DOCKER_CONFIG`).
    pub fn docker_config(&self) -> &Path {
        &self.docker_config
    }

    /// Gives up on a silent registry transfer after `seconds` (kiln's
    /// `KILN_REGISTRY_STALL_TIMEOUT`) instead of a minute.
    pub fn stall_timeout(&mut self, seconds: u64) {
        self.stall_timeout = Some(seconds);
    }

    /// Uses `certs_d` as the certs.d base from now on.
    pub fn trust(&mut self, certs_d: PathBuf) {
        self.certs_d = certs_d;
    }

    /// Sets `name` to `value` in kiln's environment.
    pub fn set_env(&mut self, name: &str, value: impl Into<OsString>) {
        self.env.push((name.to_string(), value.into()));
    }

    /// Puts `dir` first on kiln's `PATH` (for credential helpers).
    pub fn path_first(&mut self, dir: &Path) {
        let mut path = OsString::from(dir);
        if let Some(rest) = std::env::var_os("PATH") {
            path.push(":");
            path.push(rest);
        }
        self.path = Some(path);
    }

    /// `program` with this context's environment (stdin closed).
    pub fn environment(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("NO_COLOR", "1")
            .env("DOCKER_CONFIG", &self.docker_config)
            .env("KILN_CERTS_D", &self.certs_d)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        if let Some(path) = &self.path {
            cmd.env("PATH", path);
        }
        if let Some(seconds) = self.stall_timeout {
            cmd.env("KILN_REGISTRY_STALL_TIMEOUT", seconds.to_string());
        }
        for (name, value) in &self.env {
            cmd.env(name, value);
        }
        no_proxy(&mut cmd);
        cmd
    }

    /// `kiln --root STORE ARGS` with this context's environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.environment(env!("CARGO_BIN_EXE_kiln"));
        cmd.arg("--root").arg(&self.root).args(args);
        cmd
    }

    /// `kiln ARGS`; its output.
    pub fn kiln(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `kiln ARGS` with `stdin` as standard input.
    pub fn kiln_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        output_with_stdin(&mut self.command(args), stdin)
    }

    /// `kiln ARGS`, which must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_with_stdin(args, b"")
    }

    /// `kiln ARGS` with `stdin` as standard input, which must succeed; its
    /// stdout.
    pub fn ok_with_stdin(&self, args: &[&str], stdin: &[u8]) -> String {
        let out = self.kiln_with_stdin(args, stdin);
        assert!(
            out.status.success(),
            "kiln {args:?} failed ({}): {}{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Writes the context's Dockerfile; the context directory.
    pub fn dockerfile(&self, content: &str) -> PathBuf {
        self.file("Dockerfile", content);
        self.context.clone()
    }

    /// Writes `path` (relative to the context), with missing parents.
    pub fn file(&self, path: &str, content: &str) -> &Self {
        let path = self.context.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        self
    }

    /// Builds the context with `args` (plain progress); returns the output
    /// after checking that no sandbox or scratch directory was left behind.
    pub fn build(&self, args: &[&str]) -> Output {
        let out = self.build_leaving_leftovers(args);
        self.assert_clean();
        out
    }

    /// Builds as [`TestContext::build`] does, kiln started under `umask`
    /// (an octal text, `077`).
    pub fn build_under_umask(&self, umask: &str, args: &[&str]) -> Output {
        let mut cmd = self.environment("sh");
        cmd.args(["-c", &format!("umask {umask}; exec \"$0\" \"$@\"")])
            .arg(env!("CARGO_BIN_EXE_kiln"))
            .arg("--root")
            .arg(&self.root)
            .args(["build", "--progress", "plain"])
            .args(args)
            .arg(&self.context);
        let out = cmd.output().unwrap();
        self.assert_clean();
        out
    }

    /// Builds without checking the store's tmp/ afterwards (it may hold
    /// what killed builds left).
    pub fn build_leaving_leftovers(&self, args: &[&str]) -> Output {
        let mut all = vec!["build", "--progress", "plain"];
        all.extend_from_slice(args);
        let context = self.context.to_str().unwrap();
        all.push(context);
        self.kiln(&all)
    }

    /// Builds, which must succeed; the image ID, after checking that
    /// stdout carries it and nothing else.
    pub fn build_ok(&self, args: &[&str]) -> String {
        let out = self.build(args);
        assert!(out.status.success(), "build failed: {}", text(&out.stderr));
        let id = text(&out.stdout);
        assert!(
            id.starts_with("sha256:") && id.trim_end().len() == 71 && id.lines().count() == 1,
            "stdout: {id:?}"
        );
        id.trim_end().to_string()
    }

    /// `kiln run --rm IMAGE ARGS`: stdout, after checking it exited 0.
    pub fn run(&self, image: &str, args: &[&str]) -> String {
        let mut all = vec!["run", "--rm", image];
        all.extend_from_slice(args);
        let out = self.kiln(&all);
        assert!(out.status.success(), "run {args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// The image's config (`Config` of `kiln inspect`).
    pub fn config(&self, image: &str) -> serde_json::Value {
        let out = self.kiln(&["inspect", image]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        value[0]["Config"].clone()
    }

    /// Nothing left in the store's `sandboxes/` and `tmp/` (but the
    /// shared dot-directories).
    pub fn assert_clean(&self) {
        for dir in ["sandboxes", "tmp"] {
            let path = self.root.join(dir);
            let left: Vec<_> = std::fs::read_dir(&path)
                .map(|d| d.flatten().map(|e| e.file_name()).collect())
                .unwrap_or_default();
            let left: Vec<_> = left
                .into_iter()
                .filter(|n| !n.to_string_lossy().starts_with('.'))
                .collect();
            assert!(left.is_empty(), "left in {}: {left:?}", path.display());
        }
    }
}

/// `kiln images --format json`'s output: one JSON object a line, as
/// docker prints them.
pub fn image_rows(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// Runs the shell command `shell` under script(1), which gives it a real
/// terminal (`stty rows R cols C` in it sets the size); whether it
/// succeeded, and its output with the terminal's CRs removed.
pub fn in_terminal(shell: &str) -> (bool, String) {
    let out = Command::new("script")
        .args(["-qec", shell, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (out.status.success(), text(&out.stdout).replace('\r', ""))
}

/// An ordinary user made for a test (`useradd`), its home in a temporary
/// directory, removed (`userdel`, which also drops its subordinate
/// ranges) when dropped. The caller has checked [`privileged`] for
/// `/usr/sbin/useradd`.
pub struct OrdinaryUser {
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its home directory.
    pub home: PathBuf,
    _dir: tempfile::TempDir,
}

/// useradd and userdel lock /etc/passwd and give up when another holds
/// it: the tests of one binary take turns.
static USERS: std::sync::Mutex<u32> = std::sync::Mutex::new(0);

impl OrdinaryUser {
    /// A new user, with a subordinate id range (useradd's default
    /// allocation, login.defs' SUB_UID_COUNT) when `ranges`, else none.
    pub fn create(ranges: bool) -> OrdinaryUser {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let home = dir.path().join("home");
        let mut count = USERS.lock().unwrap_or_else(|e| e.into_inner());
        *count += 1;
        let name = format!("kt{}x{}", std::process::id(), *count);
        let mut useradd = Command::new("useradd");
        useradd.args(["-M", "-s", "/bin/sh", "-d"]).arg(&home);
        if !ranges {
            useradd.args(["-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0"]);
        }
        let out = useradd.arg(&name).output().unwrap();
        assert!(out.status.success(), "useradd: {}", text(&out.stderr));
        drop(count);
        let user = nix::unistd::User::from_name(&name).unwrap().unwrap();
        std::fs::create_dir(&home).unwrap();
        nix::unistd::chown(&home, Some(user.uid), Some(user.gid)).unwrap();
        OrdinaryUser {
            name,
            uid: user.uid.as_raw(),
            home,
            _dir: dir,
        }
    }

    /// The first id of its subordinate uid range.
    pub fn subuid_start(&self) -> Option<u32> {
        let text = std::fs::read_to_string("/etc/subuid").ok()?;
        text.lines().find_map(|l| {
            let mut fields = l.split(':');
            (fields.next()? == self.name).then(|| fields.next()?.parse().ok())?
        })
    }

    /// `kiln ARGS` run as this user (runuser), in its home, with its own
    /// default store and docker config; its output.
    pub fn kiln(&self, args: &[&str]) -> Output {
        self.kiln_with_env(&[], args)
    }

    /// `kiln build -q --network none -t TAG CONTEXT` as this user, which
    /// must succeed (`--network none`: the default network needs
    /// `/dev/net/tun` open to the user, which CI machines may not grant).
    pub fn build_ok(&self, tag: &str, context: &Path) {
        let context = context.to_str().unwrap();
        let out = self.kiln(&["build", "-q", "--network", "none", "-t", tag, context]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    /// [`OrdinaryUser::kiln`] with `env` set as well.
    pub fn kiln_with_env(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = self.command(env!("CARGO_BIN_EXE_kiln"), env);
        cmd.args(args).output().unwrap()
    }

    /// `program` to be run as this user (runuser), in its home, with
    /// `env` and its own default store, docker config and runtime
    /// directory (`~/run`); the caller adds the arguments.
    pub fn command(&self, program: &str, env: &[(&str, &str)]) -> Command {
        let run = self.home.join("run");
        if !run.exists() {
            std::fs::create_dir(&run).unwrap();
            std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .unwrap();
            nix::unistd::chown(&run, Some(nix::unistd::Uid::from_raw(self.uid)), None).unwrap();
        }
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", &self.name, "--", "/usr/bin/env"])
            .args(env.iter().map(|(k, v)| format!("{k}={v}")))
            .arg(format!("XDG_RUNTIME_DIR={}", run.display()))
            .arg(program)
            .current_dir(&self.home)
            .env("HOME", &self.home)
            .env("NO_COLOR", "1")
            .env_remove("XDG_DATA_HOME")
            .env_remove("KILN_ROOT")
            .env_remove("DOCKER_CONFIG")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        no_proxy(&mut cmd);
        cmd
    }
}

impl Drop for OrdinaryUser {
    fn drop(&mut self) {
        let _turn = USERS.lock().unwrap_or_else(|e| e.into_inner());
        // userdel refuses a user with processes (podman's pause process).
        let _ = Command::new("pkill")
            .args(["-KILL", "-u", &self.name])
            .output();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let _ = Command::new("userdel").arg(&self.name).output();
    }
}
