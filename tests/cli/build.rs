//! `kiln build` as root on a busybox base made on the spot: real RUN steps
//! in the sandbox, COPY/ADD from the context, stages, args, secrets, cache
//! mounts, outputs, failures and interrupts; each image is then run with
//! `kiln run` or read back from the store.

use super::support::{TestContext, privileged, text};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn run_steps_copy_and_config_make_a_runnable_image() {
    let Some(f) = TestContext::for_build(
        "FROM busybox:local\n\
         ENV APP=/srv/app GREETING=\"hello world\"\n\
         WORKDIR $APP\n\
         RUN echo \"$GREETING\" > greeting.txt && mkdir -p logs\n\
         RUN [\"/bin/sh\", \"-c\", \"echo exec form > /srv/app/exec.txt\"]\n\
         COPY hello.txt conf/ ./\n\
         COPY --chown=1000:1000 --chmod=0640 hello.txt /home/app/\n\
         RUN rm /bin/vi && echo removed\n\
         RUN grep -e NoNewPrivs -e '^Seccomp:' /proc/self/status > /status\n\
         EXPOSE 8080\n\
         CMD [\"cat\", \"greeting.txt\"]\n",
    ) else {
        return;
    };
    f.file("hello.txt", "hi\n")
        .file("conf/app.ini", "[app]\n")
        .file("secret.key", "do not copy\n")
        .file(".dockerignore", "secret.key\n");
    let id = f.build_ok(&["-t", "app:1"]);
    assert_eq!(f.run("app:1", &[]), "hello world\n");
    assert_eq!(
        f.run("app:1", &["sh", "-c", "cat exec.txt hello.txt app.ini; test -e /bin/vi || echo vi gone; test -e secret.key || echo ignored"]),
        "exec form\nhi\n[app]\nvi gone\nignored\n"
    );
    // As in docker's RUN: seccomp on, but no_new_privs off (setuid
    // programs such as sudo work for a non-root USER).
    assert_eq!(
        f.run("app:1", &["cat", "/status"]),
        "NoNewPrivs:\t0\nSeccomp:\t2\n"
    );
    let listing = f.run("app:1", &["ls", "-ln", "/home/app/hello.txt"]);
    let fields: Vec<&str> = listing.split_whitespace().collect();
    assert_eq!(
        &fields[..4],
        ["-rw-r-----", "1", "1000", "1000"],
        "{listing}"
    );
    let config = f.config("app:1");
    assert_eq!(config["WorkingDir"], "/srv/app");
    assert_eq!(config["Cmd"], serde_json::json!(["cat", "greeting.txt"]));
    assert!(config["ExposedPorts"]["8080/tcp"].is_object());
    let env = config["Env"].to_string();
    assert!(
        env.contains("GREETING=hello world") && env.contains("PATH="),
        "{env}"
    );
    // The image ID printed is the one the store holds.
    let out = f.kiln(&["images", "--format", "json"]);
    assert!(text(&out.stdout).contains(id.trim_start_matches("sha256:").get(..12).unwrap()));
}

#[test]
fn stages_target_args_and_heredocs() {
    let Some(f) = TestContext::for_build(
        "ARG BASE=busybox:local\n\
         FROM $BASE AS builder\n\
         ARG NAME=world\n\
         RUN mkdir /out && echo \"hi $NAME\" > /out/msg\n\
         FROM $BASE AS broken\n\
         RUN exit 1\n\
         FROM $BASE AS final\n\
         COPY --from=builder /out/msg /msg\n\
         COPY <<EOF /etc/motd\n\
         welcome\n\
         EOF\n\
         RUN <<EOF\n\
         echo one > /one\n\
         echo two >> /one\n\
         EOF\n",
    ) else {
        return;
    };
    // The broken stage is not needed by `final`, so it never runs.
    f.build_ok(&[
        "-t",
        "multi",
        "--target",
        "final",
        "--build-arg",
        "NAME=kiln",
    ]);
    assert_eq!(
        f.run("multi", &["cat", "/msg", "/etc/motd", "/one"]),
        "hi kiln\nwelcome\none\ntwo\n"
    );
    // ARG values never reach the image config.
    assert!(!f.config("multi")["Env"].to_string().contains("NAME"));
}

#[test]
fn a_failed_run_names_the_line_shows_output_and_keeps_the_tag() {
    let Some(f) = TestContext::for_build("FROM busybox:local\nRUN echo first > /f\n") else {
        return;
    };
    let first = f.build_ok(&["-t", "keep"]);
    std::fs::write(
        f.context.join("Dockerfile"),
        "FROM busybox:local\nRUN echo ok\nRUN echo about to fail && exit 3\n",
    )
    .unwrap();
    let out = f.build(&["-t", "keep"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("Dockerfile:3"), "{err}");
    assert!(err.contains("exit code: 3"), "{err}");
    assert!(err.contains("about to fail"), "{err}");
    assert!(out.stdout.is_empty());
    let out = f.kiln(&["inspect", "keep"]);
    let inspected: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspected[0]["Id"], first.as_str());
}

#[test]
fn secrets_never_reach_a_layer_and_cache_mounts_persist() {
    let Some(f) = TestContext::for_build(
        "FROM busybox:local\n\
         RUN --mount=type=secret,id=tok test \"$(wc -c < /run/secrets/tok)\" -eq 12 && test \"$(cut -c1-3 /run/secrets/tok)\" = s3c && echo used > /used\n\
         RUN --mount=type=secret,id=tok,env=TOKEN test \"${#TOKEN}\" -eq 12\n\
         RUN --mount=type=cache,target=/cache echo x >> /cache/runs && wc -l < /cache/runs > /runs\n",
    ) else {
        return;
    };
    let secret = f.context.parent().unwrap().join("tok");
    std::fs::write(&secret, "s3cret-value").unwrap();
    let spec = format!("id=tok,src={}", secret.display());
    f.build_ok(&["-t", "s", "--secret", &spec]);
    assert_eq!(f.run("s", &["cat", "/used", "/runs"]), "used\n1\n");
    // The mountpoint's directory stays (as in docker's RUN layers), empty.
    assert_eq!(
        f.run("s", &["sh", "-c", "ls -A /run/secrets | wc -l"]),
        "0\n"
    );
    // The layers hold no trace of the value.
    let archive = f.context.parent().unwrap().join("s.tar");
    let out = f.kiln(&["save", "-o", archive.to_str().unwrap(), "s"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bytes = std::fs::read(&archive).unwrap();
    assert!(!bytes.windows(12).any(|w| w == b"s3cret-value"));
    // A second build (that runs its steps) sees the cache mount's earlier
    // content.
    f.build_ok(&["-t", "s", "--secret", &spec, "--no-cache"]);
    assert_eq!(f.run("s", &["cat", "/runs"]), "2\n");
    // A required secret that is missing fails the build.
    std::fs::write(
        f.context.join("Dockerfile"),
        "FROM busybox:local\nRUN --mount=type=secret,id=other,required=true true\n",
    )
    .unwrap();
    let out = f.build(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("secret other is required"));
}

#[test]
fn outputs_and_add_archives() {
    let Some(f) = TestContext::for_build(
        "FROM busybox:local\nADD bundle.tar.gz /opt/\nRUN cat /opt/inner/file > /copied\n",
    ) else {
        return;
    };
    let staging = f.context.parent().unwrap().join("bundle");
    std::fs::create_dir_all(staging.join("inner")).unwrap();
    std::fs::write(staging.join("inner/file"), "packed\n").unwrap();
    let status = Command::new("tar")
        .arg("-czf")
        .arg(f.context.join("bundle.tar.gz"))
        .arg("-C")
        .arg(&staging)
        .arg("inner")
        .status()
        .unwrap();
    assert!(status.success());
    let dir = f.context.parent().unwrap();
    let oci = dir.join("out.tar");
    let spec = format!("type=oci,dest={}", oci.display());
    f.build_ok(&["-t", "arch", "--output", &spec]);
    assert_eq!(f.run("arch", &["cat", "/copied"]), "packed\n");
    let listing = Command::new("tar").arg("-tf").arg(&oci).output().unwrap();
    assert!(text(&listing.stdout).contains("index.json"));
    let local = dir.join("rootfs-out");
    let spec = format!("type=local,dest={}", local.display());
    f.build_ok(&["--output", &spec]);
    assert_eq!(
        std::fs::read_to_string(local.join("copied")).unwrap(),
        "packed\n"
    );
    assert!(local.join("bin/busybox").is_file());
}

#[test]
fn an_interrupted_build_tags_nothing_and_leaves_nothing() {
    let Some(f) = TestContext::for_build("FROM busybox:local\nRUN sleep 60\n") else {
        return;
    };
    let child = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .arg("--root")
        .arg(&f.root)
        .args(["build", "--progress", "plain", "-t", "never"])
        .arg(&f.context)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the step runs, then press Ctrl-C.
    let sandboxes = f.root.join("sandboxes");
    let mut waited = 0;
    while !has_sandbox(&sandboxes) && waited < 200 {
        std::thread::sleep(Duration::from_millis(50));
        waited += 1;
    }
    assert!(has_sandbox(&sandboxes), "the RUN step never started");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::SIGINT,
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "kiln did not stop"
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let out = f.kiln(&["inspect", "never"]);
    assert!(!out.status.success());
    f.assert_clean();
}

fn has_sandbox(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .any(|e| !e.file_name().to_string_lossy().starts_with('.'))
        })
        .unwrap_or(false)
}

#[test]
fn tty_progress_timers_move_while_a_step_is_silent() {
    let Some(f) = TestContext::for_build("FROM busybox:local\nRUN sleep 1.2\n") else {
        return;
    };
    if !privileged("kiln build tty progress test", &["/usr/bin/script"]) {
        return;
    }
    let command = format!(
        "{} --root {} build --progress tty {}",
        env!("CARGO_BIN_EXE_kiln"),
        f.root.display(),
        f.context.display()
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stdout));
    // The live block is redrawn with the running step's timer although the
    // step prints nothing.
    let screen = text(&out.stdout).replace('\r', "\n");
    let timers: std::collections::BTreeSet<&str> = screen
        .lines()
        .filter(|l| l.contains("RUN sleep 1.2") && !l.contains("DONE"))
        .filter_map(|l| l.split_whitespace().last())
        .filter(|t| t.ends_with('s'))
        .collect();
    assert!(timers.len() >= 4, "timers seen: {timers:?}\n{screen}");
}

#[test]
fn a_new_cache_mount_starts_from_its_from_stage() {
    let Some(f) = TestContext::for_build(
        "FROM busybox:local AS seed\n\
         RUN mkdir -p /s/sub && echo seeded > /s/sub/file && chown 7:8 /s/sub/file\n\
         FROM busybox:local\n\
         RUN --mount=type=cache,id=c1,target=/c,from=seed,source=/s cat /c/sub/file > /out && stat -c %u:%g /c/sub/file >> /out && echo more > /c/added\n\
         RUN --mount=type=cache,id=c1,target=/c ls /c > /list\n",
    ) else {
        return;
    };
    f.build_ok(&["-t", "seeded"]);
    assert_eq!(f.run("seeded", &["cat", "/out"]), "seeded\n7:8\n");
    // The same cache, used again without from=: its content stays.
    assert_eq!(f.run("seeded", &["cat", "/list"]), "added\nsub\n");
}

#[test]
fn a_mount_target_through_a_dangling_symlink_is_made_where_it_points() {
    // BuildKit resolves a target inside the root and creates what is
    // missing, following a symlink whose target does not exist yet; the
    // directories made for the mount go when the step ends, as its
    // MountStubsCleaner removes them (the links stay).
    let Some(f) = TestContext::for_build(
        "FROM busybox:local\n\
         ADD rootfs.tar /\n\
         RUN ln -s /notyet/x /dangl && ln -s missing/deeper /rel\n\
         RUN --mount=type=cache,target=/dangl/y echo a > /dangl/y/f && cat /notyet/x/y/f > /seen\n\
         RUN --mount=type=tmpfs,target=/rel/t test -d /missing/deeper/t && echo ok > /tmpfs\n\
         RUN test -f /etc/resolv.conf && echo resolv > /resolv\n",
    ) else {
        return;
    };
    // A systemd root file system's resolv.conf: a link into /run, which
    // only exists while the system runs.
    let mut archive = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_mode(0o777);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_size(0);
    archive
        .append_link(
            &mut header,
            "etc/resolv.conf",
            "../run/systemd/resolve/stub-resolv.conf",
        )
        .unwrap();
    std::fs::write(f.context.join("rootfs.tar"), archive.into_inner().unwrap()).unwrap();
    f.build_ok(&["-t", "dangl"]);
    assert_eq!(
        f.run("dangl", &["cat", "/seen", "/tmpfs", "/resolv"]),
        "a\nok\nresolv\n"
    );
    // (`kiln run` makes /run again for its own resolv.conf: the image's
    // lack of it is fidelity case r65's to check.)
    let script = "test ! -e /notyet && test ! -e /missing && \
                  test -L /dangl && test -L /rel && test -L /etc/resolv.conf && echo gone";
    assert_eq!(f.run("dangl", &["sh", "-c", script]), "gone\n");
}

/// The Dockerfile and `.dockerignore` of a context are untrusted: a
/// symlink resolves inside the context (never to a host file, whose lines
/// would be echoed as "unknown instruction"), only a regular file is read
/// (a FIFO or `/dev/zero` would hang or grow without end), and at most
/// 16 MiB of it. `-f` outside the context is the user's choice, with the
/// same checks.
#[test]
fn dockerfile_and_dockerignore_are_read_inside_the_context_and_bounded() {
    let cx = TestContext::new();
    let secret = cx.dir().join("secret.txt");
    std::fs::write(&secret, "TOPSECRET line one\nTOPSECRET[ line two\n").unwrap();
    let dockerfile = cx.context.join("Dockerfile");
    let build = |args: &[&str]| {
        let mut all = vec!["build", "--progress", "plain"];
        all.extend_from_slice(args);
        all.push(cx.context.to_str().unwrap());
        cx.kiln(&all)
    };
    let failed = |out: &std::process::Output, needle: &str| {
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
        assert!(
            !stderr.contains("TOPSECRET"),
            "a host file leaked: {stderr}"
        );
    };

    std::os::unix::fs::symlink(&secret, &dockerfile).unwrap();
    failed(&build(&[]), "no such file in the build context");
    std::fs::remove_file(&dockerfile).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &dockerfile).unwrap();
    failed(&build(&[]), "no such file in the build context");
    std::fs::remove_file(&dockerfile).unwrap();
    nix::unistd::mkfifo(&dockerfile, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    failed(&build(&[]), "not a regular file");
    std::fs::remove_file(&dockerfile).unwrap();
    std::fs::write(&dockerfile, vec![b'#'; 17 << 20]).unwrap();
    failed(&build(&[]), "larger than");
    failed(&build(&["-f", "/dev/zero"]), "not a regular file");

    // `kiln check -f` and `kiln parse -f` read no context: the same checks.
    let out = cx.kiln(&["check", "-f", "/dev/zero"]);
    failed(&out, "not a regular file");

    // A .dockerignore symlink to a host file is passed over (it resolves to
    // nothing inside the context): its content never reaches an error.
    if let Some(f) = TestContext::for_build("FROM busybox:local\nCOPY . /ctx/\n") {
        f.file("kept.txt", "kept\n");
        std::os::unix::fs::symlink(&secret, f.context.join(".dockerignore")).unwrap();
        // A Dockerfile that is a symlink inside the context is followed.
        std::fs::rename(
            f.context.join("Dockerfile"),
            f.context.join("real.Dockerfile"),
        )
        .unwrap();
        std::os::unix::fs::symlink("real.Dockerfile", f.context.join("Dockerfile")).unwrap();
        f.build_ok(&["-t", "confined"]);
        assert_eq!(f.run("confined", &["cat", "/ctx/kept.txt"]), "kept\n");
    }
}

/// `--secret src=` of a FIFO (or a device) fails the step at once, naming
/// the file; before, the build hung on the read.
#[test]
fn a_secret_that_is_not_a_regular_file_fails_the_step() {
    let Some(f) = TestContext::for_build(
        "FROM busybox:local\nRUN --mount=type=secret,id=tok cat /run/secrets/tok\n",
    ) else {
        return;
    };
    let fifo = f.dir().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let secret = format!("id=tok,src={}", fifo.display());
    let out = f.build(&["--secret", &secret]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
    assert!(stderr.contains(&fifo.display().to_string()), "{stderr}");
}

/// Issue 20: `-o type=local` writes an untrusted image's files on the host
/// as root. Device nodes are not created and set-user/group-ID bits are
/// cleared (a warning lists them), unless `preserve=true` asks for them.
#[test]
fn local_outputs_drop_devices_and_setid_bits_unless_asked() {
    use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
    let Some(f) = TestContext::for_build(
        "FROM busybox:local\n\
         RUN mkdir /d && mknod /d/null c 1 3 && cp /bin/busybox /d/suid && chmod 4755 /d/suid \
         && echo plain > /d/plain && chmod 2644 /d/plain && chmod 1777 /d\n",
    ) else {
        return;
    };
    let out_dir = f.dir().join("out");
    let spec = format!("type=local,dest={}", out_dir.display());
    let out = f.build(&["-o", &spec]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("device nodes of the image were not written"),
        "{stderr}"
    );
    assert!(stderr.contains("d/null"), "{stderr}");
    assert!(
        stderr.contains("set-user-ID and set-group-ID bits were cleared"),
        "{stderr}"
    );
    assert!(!out_dir.join("d/null").exists());
    let mode = |p: &str| {
        std::fs::metadata(out_dir.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("d/suid"), 0o755);
    assert_eq!(mode("d/plain"), 0o644);
    assert_eq!(mode("d"), 0o1777, "the sticky bit is no set-id bit");
    assert!(out_dir.join("bin/busybox").is_file());
    let left: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".kiln-export-"))
        .collect();
    assert!(left.is_empty(), "staging left behind");

    let kept = f.dir().join("kept");
    let spec = format!("type=local,dest={},preserve=true", kept.display());
    let out = f.build(&["-o", &spec]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        std::fs::symlink_metadata(kept.join("d/null"))
            .unwrap()
            .file_type()
            .is_char_device()
    );
    let mode = std::fs::metadata(kept.join("d/suid"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o4755);
}

/// Issue 20: a sparse file keeps its holes: in the layer blob, in the
/// unpacked snapshot, and in what `kiln df` counts (before, `truncate -s
/// 2G` stored a 2.3 GB blob and `truncate -s 1T` filled the disk).
#[test]
fn sparse_files_stay_sparse_in_the_store() {
    use std::os::unix::fs::MetadataExt as _;
    let Some(f) = TestContext::for_build(
        "FROM busybox:local\nRUN truncate -s 256M /sparse && echo end >> /sparse\n",
    ) else {
        return;
    };
    f.build_ok(&["-t", "sparse"]);
    // The content is whole: 256 MiB of zeros, then the line.
    assert_eq!(
        f.run(
            "sparse",
            &["sh", "-c", "wc -c < /sparse; tail -c 4 /sparse"]
        ),
        "268435460\nend\n"
    );
    let allocated = |path: &std::path::Path| {
        let meta = std::fs::metadata(path).unwrap();
        (meta.len(), meta.blocks() * 512)
    };
    let mut biggest = (0, 0);
    for entry in std::fs::read_dir(f.root.join("blobs/sha256"))
        .unwrap()
        .flatten()
    {
        biggest = biggest.max(allocated(&entry.path()));
    }
    assert!(
        biggest.0 > 256 << 20,
        "the layer blob is {} bytes long",
        biggest.0
    );
    assert!(
        biggest.1 < 16 << 20,
        "the layer blob takes {} bytes",
        biggest.1
    );
    // `df` counts what the store takes on disk: the image's row (blobs and
    // snapshots, busybox included) stays in kB or a few MB.
    let df = f.ok(&["df"]);
    let images = df.lines().find(|l| l.starts_with("Images")).unwrap();
    let size = images.split_whitespace().nth(2).unwrap();
    let small = size.ends_with("kB")
        || size.ends_with("MB") && size.trim_end_matches("MB").parse::<f64>().unwrap() < 20.0;
    assert!(small, "{df}");
}
