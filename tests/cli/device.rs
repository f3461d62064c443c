//! `RUN --device` (with `kiln build --allow device`) and `kiln run
//! --device`: the host's node appears in the sandbox's /dev and the
//! device cgroup lets the program open it, which an ordinary step cannot
//! do even with a node of the same numbers. `/dev/fuse` (10:229) is the
//! device: every Linux host with FUSE has it, and docker's default device
//! list leaves it closed.

use super::support::{TestContext, text};

const OPEN: &str = "exec 3<>/dev/fuse && echo opened";

#[test]
fn run_device_opens_the_host_node_only_when_allowed() {
    assert!(
        std::path::Path::new("/dev/fuse").exists(),
        "this test needs the host's /dev/fuse (modprobe fuse)"
    );
    let Some(f) = TestContext::for_build(&format!(
        "FROM busybox:local\n\
         RUN --device=/dev/fuse sh -c '{OPEN}; ls -ln /dev/fuse' > /with 2>&1\n\
         RUN mknod /fuse c 10 229 && sh -c 'exec 3<>/fuse && echo opened' > /without 2>&1; rm -f /fuse\n\
         RUN --device=name=/dev/kiln-no-such-device,required=false ls /dev/kiln-no-such-device > /optional 2>&1 || true\n"
    )) else {
        return;
    };
    let out = f.build(&["-t", "devices"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("RUN --device=/dev/fuse needs the device entitlement"),
        "{stderr}"
    );
    assert!(stderr.contains("--allow device=/dev/fuse"), "{stderr}");
    assert!(stderr.contains("Dockerfile:2:5"), "{stderr}");
    // A grant names the devices it allows: another one is still refused.
    let out = f.build(&["-t", "devices", "--allow", "device=/dev/net/tun"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("RUN --device=/dev/fuse needs the device entitlement"),
        "{}",
        text(&out.stderr)
    );
    // `--check` runs nothing, so it needs no grant.
    let out = f.build(&["-t", "devices", "--check"]);
    assert!(
        !text(&out.stderr).contains("entitlement"),
        "{}",
        text(&out.stderr)
    );

    let out = f.build(&[
        "-t",
        "devices",
        "--allow",
        "device=/dev/fuse,device=/dev/kiln-no-such-device",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let with = f.run("devices", &["cat", "/with"]);
    assert!(with.starts_with("opened\ncrw-------"), "{with}");
    assert!(with.contains(" 0        0          10, 229 "), "{with}");
    let without = f.run("devices", &["cat", "/without"]);
    assert!(!without.contains("opened"), "{without}");
    assert!(without.contains("Operation not permitted"), "{without}");
    // An optional device the host lacks: the step runs without it, and
    // the build says so.
    let optional = f.run("devices", &["cat", "/optional"]);
    assert!(optional.contains("No such file"), "{optional}");
    assert!(
        text(&out.stderr).contains("optional device /dev/kiln-no-such-device is not on this host"),
        "{}",
        text(&out.stderr)
    );
    // The node is in the /dev tmpfs only, never in a layer.
    let ls = f.run("devices", &["ls", "/dev"]);
    assert!(!ls.contains("fuse"), "{ls}");

    // A required device the host lacks fails the step, naming it.
    f.dockerfile("FROM busybox:local\nRUN --device=/dev/kiln-no-such-device,required true\n");
    let out = f.build(&["-t", "devices2", "--allow", "device"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("device /dev/kiln-no-such-device"),
        "{stderr}"
    );
    assert!(stderr.contains("Dockerfile:2"), "{stderr}");

    // `kiln run --device`, as docker's.
    let out = f.kiln(&[
        "run",
        "--rm",
        "--device",
        "/dev/fuse",
        "devices",
        "sh",
        "-c",
        OPEN,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "opened\n");
    let out = f.kiln(&[
        "run",
        "--rm",
        "--device",
        "/etc/passwd:/dev/x",
        "devices",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("/etc/passwd is not a device node"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn device_specs_are_checked_at_their_line() {
    let Some(f) =
        TestContext::for_build("FROM busybox:local\nRUN --device=vendor.com/gpu=0 true\n")
    else {
        return;
    };
    let out = f.build(&["-t", "cdi", "--allow", "device"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("Dockerfile:2:5"), "{stderr}");
    assert!(stderr.contains("is not a device path"), "{stderr}");
    assert!(stderr.contains("CDI device names"), "{stderr}");
    f.dockerfile("FROM busybox:local\nRUN --device=/dev/fuse,requird true\n");
    let stderr = text(&f.build(&["-t", "cdi", "--allow", "device"]).stderr);
    assert!(stderr.contains("unexpected field 'requird'"), "{stderr}");
    assert!(stderr.contains("required"), "{stderr}");
}
