//! `RUN --security=insecure` (with `kiln build --allow security.insecure`)
//! and `kiln run --privileged`: every capability, no seccomp filter, no
//! masked paths and a writable /sys, while ordinary steps keep docker's
//! sandbox. Without the entitlement the step is refused at its line.

use super::support::{TestContext, text};

/// The value of `field` in this process's /proc/self/status.
fn host_status(field: &str) -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .unwrap()
        .trim()
        .to_string()
}

const PROBE: &str = "grep -E '^(CapEff|Seccomp):' /proc/self/status; \
    mkdir -p /m && mount -t tmpfs none /m && echo mounted; umount /m; \
    grep -q ' /sys sysfs rw' /proc/mounts && echo sys-rw; \
    grep -q ' /proc/sys ' /proc/mounts || echo unmasked; true";

#[test]
fn insecure_steps_are_privileged_only_when_allowed() {
    let Some(f) = TestContext::for_build(&format!(
        "FROM busybox:local\n\
         RUN --security=insecure sh -c \"{PROBE}\" > /insecure 2>&1\n\
         RUN sh -c \"{PROBE}\" > /sandboxed 2>&1\n"
    )) else {
        return;
    };
    let out = f.build(&["-t", "privileged"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("security.insecure"), "{stderr}");
    assert!(stderr.contains("--allow security.insecure"), "{stderr}");
    assert!(stderr.contains("Dockerfile:2"), "{stderr}");

    f.build_ok(&["-t", "privileged", "--allow", "security.insecure"]);
    // Every capability root has on the host.
    let all = host_status("CapBnd:");
    let insecure = f.run("privileged", &["cat", "/insecure"]);
    assert!(
        insecure.starts_with(&format!(
            "CapEff:\t{all}\nSeccomp:\t0\nmounted\nsys-rw\nunmasked\n"
        )),
        "{insecure}"
    );
    let sandboxed = f.run("privileged", &["cat", "/sandboxed"]);
    assert!(
        sandboxed.starts_with("CapEff:\t00000000a80425fb\nSeccomp:\t2\n"),
        "{sandboxed}"
    );
    assert!(!sandboxed.contains("mounted\n"), "{sandboxed}");
    assert!(!sandboxed.contains("sys-rw"), "{sandboxed}");
    assert!(!sandboxed.contains("unmasked"), "{sandboxed}");

    // `kiln run --privileged`, as docker's.
    let out = f.kiln(&[
        "run",
        "--rm",
        "--privileged",
        "privileged",
        "sh",
        "-c",
        PROBE,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = text(&out.stdout);
    assert!(
        run.starts_with(&format!(
            "CapEff:\t{all}\nSeccomp:\t0\nmounted\nsys-rw\nunmasked\n"
        )),
        "{run}"
    );
}
