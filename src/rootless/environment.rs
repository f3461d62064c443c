//! `kiln doctor --environment`: what this machine allows kiln, probed the
//! way kiln uses it, and for each missing piece the command or file that
//! provides it (issue 24, point 6). Every probe is read-only but the
//! overlay one, which mounts a two-layer overlay of empty directories in
//! a mount namespace of its own, as a build's views do.

use super::{Mapping, Rootless};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Available.
    Ok,
    /// Missing, and kiln needs it for what the check names.
    Missing,
    /// A fact, not a requirement.
    Info,
}

/// One line of the report.
#[derive(Debug)]
pub(crate) struct Check {
    /// Ok, missing or a fact.
    pub state: State,
    /// What is checked.
    pub what: &'static str,
    /// What was found.
    pub found: String,
    /// What provides it, when it is missing.
    pub fix: Option<String>,
}

impl Check {
    fn new(state: State, what: &'static str, found: impl Into<String>) -> Check {
        Check {
            state,
            what,
            found: found.into(),
            fix: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }
}

/// Every check, for the rootless state `rootless` (`None`: kiln runs as
/// root) and the scratch directory `scratch` (on the store's file
/// system, where snapshots live).
pub(crate) fn checks(rootless: Option<&Rootless>, scratch: &Path) -> Vec<Check> {
    let mut checks = vec![
        user_namespaces(rootless),
        sysctl(
            "max_user_namespaces",
            "/proc/sys/user/max_user_namespaces",
            |v| v != "0",
            "as root: sysctl -w user.max_user_namespaces=15000 (and in /etc/sysctl.d/)",
        ),
        sysctl(
            "AppArmor's user namespace restriction",
            "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
            |v| v == "0",
            "as root: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile allowing userns for kiln (Ubuntu 24.04)",
        ),
        sysctl(
            "Debian's unprivileged_userns_clone",
            "/proc/sys/kernel/unprivileged_userns_clone",
            |v| v != "0",
            "as root: sysctl -w kernel.unprivileged_userns_clone=1",
        ),
    ];
    checks.extend(id_maps(rootless));
    checks.push(overlay(rootless, scratch));
    checks.push(program(
        "fuse-overlayfs",
        "fuse-overlayfs",
        State::Info,
        "not used by kiln yet (apt-get install fuse-overlayfs); without overlayfs kiln's chroot isolation copies each root",
    ));
    checks.push(cgroup_delegation(rootless));
    checks.push(tun(rootless));
    checks.push(program(
        kiln_network::PROGRAM,
        "slirp4netns (RUN steps' network)",
        State::Missing,
        "apt-get install slirp4netns",
    ));
    checks.push(seccomp());
    checks.push(isolation());
    checks
}

/// How sandboxes are isolated here: kiln's namespaces, or chroot
/// isolation where none can be made.
fn isolation() -> Check {
    match (kiln_runtime::isolation::current(), super::chroot_reason()) {
        (kiln_runtime::Isolation::Namespaces, _) => {
            let root = match kiln_runtime::isolation::snapshotter() {
                kiln_runtime::isolation::Snapshotter::Overlay => "over an overlay",
                kiln_runtime::isolation::Snapshotter::Copy => {
                    "over a copy of the layers (overlayfs does not mount here, or KILN_SNAPSHOTTER=copy)"
                }
            };
            Check::new(State::Ok, "sandbox isolation", format!("namespaces, {root}"))
        }
        (kiln_runtime::Isolation::Chroot, None) => {
            Check::new(State::Info, "sandbox isolation", "chroot (--isolation chroot)")
        }
        (kiln_runtime::Isolation::Chroot, Some(why)) => Check::new(
            State::Missing,
            "sandbox isolation",
            format!("chroot: {why}"),
        )
        .fix("run kiln's container with a seccomp profile that allows user namespaces (podman's default does; docker: --security-opt seccomp=unconfined), or with CAP_SYS_ADMIN"),
    }
}

fn user_namespaces(rootless: Option<&Rootless>) -> Check {
    let what = "user namespace";
    match rootless.map(|r| &r.mapping) {
        None => Check::new(
            State::Info,
            what,
            "kiln runs as root: sandboxes get namespaces of their own, no user namespace",
        ),
        Some(Ok(Mapping::Ranges { uids, gids })) => Check::new(
            State::Ok,
            what,
            format!("kiln runs in its own: root is you, ids 1..={uids} (gids 1..={gids}) your subordinate ranges"),
        ),
        Some(Ok(Mapping::OwnIds)) => Check::new(
            State::Ok,
            what,
            "kiln runs in its own, mapping only your id (as root)",
        ),
        Some(Err(e)) => Check::new(State::Missing, what, format!("none: {e}")).fix(
            "allow user namespaces (the sysctls below); in a container, a runtime that lets it create them",
        ),
    }
}

/// A sysctl kiln needs to have a given value; absent is fine (the kernel
/// has no such restriction).
fn sysctl(what: &'static str, path: &str, good: impl Fn(&str) -> bool, fix: &str) -> Check {
    match std::fs::read_to_string(path) {
        Err(_) => Check::new(
            State::Info,
            what,
            format!("{path}: absent (no such restriction)"),
        ),
        Ok(value) if good(value.trim()) => {
            Check::new(State::Ok, what, format!("{path} = {}", value.trim()))
        }
        Ok(value) => {
            Check::new(State::Missing, what, format!("{path} = {}", value.trim())).fix(fix)
        }
    }
}

/// The subordinate ranges and the setuid helpers that map them.
fn id_maps(rootless: Option<&Rootless>) -> Vec<Check> {
    let Some(rootless) = rootless else {
        return vec![Check::new(
            State::Info,
            "subordinate ids",
            "not needed as root; run `kiln doctor --environment` as the user who builds rootless",
        )];
    };
    let user = &rootless.user;
    let mut checks = Vec::new();
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let check = match super::subid::range_of(&text, user, rootless.uid) {
            Some(range) => Check::new(
                State::Ok,
                "subordinate ids",
                format!(
                    "{file}: {user} has {}..{}",
                    range.start,
                    range.start as u64 + range.count as u64 - 1
                ),
            ),
            None => Check::new(
                State::Missing,
                "subordinate ids",
                format!("{file}: no range for {user}"),
            )
            .fix(format!("as root: {}", super::add_range_command(user))),
        };
        checks.push(check);
    }
    for helper in ["/usr/bin/newuidmap", "/usr/bin/newgidmap"] {
        let check = match std::fs::metadata(helper) {
            Ok(m) if m.permissions().mode() & 0o4000 != 0 || has_file_caps(helper) => Check::new(
                State::Ok,
                "id map helper",
                format!("{helper} (setuid or with capabilities)"),
            ),
            Ok(_) => Check::new(
                State::Missing,
                "id map helper",
                format!("{helper} is neither setuid nor capable"),
            )
            .fix(format!("as root: chmod u+s {helper}")),
            Err(_) => Check::new(
                State::Missing,
                "id map helper",
                format!("{helper}: not installed"),
            )
            .fix("as root: apt-get install uidmap"),
        };
        checks.push(check);
    }
    checks
}

/// Whether `path` carries file capabilities (`security.capability`).
fn has_file_caps(path: &str) -> bool {
    std::process::Command::new("getcap")
        .arg(path)
        .output()
        .is_ok_and(|o| !o.stdout.is_empty())
}

/// Mounts a two-layer overlay as a build's views are mounted (with
/// `userxattr` in a user namespace).
fn overlay(rootless: Option<&Rootless>, scratch: &Path) -> Check {
    let what = "overlayfs";
    let kind = match rootless {
        Some(_) => "with userxattr (kernel 5.11 or later)",
        None => "as root",
    };
    match kiln_runtime::isolation::probe_overlay(scratch) {
        Ok(()) => Check::new(State::Ok, what, format!("an overlay mounts {kind}")),
        Err(e) => Check::new(State::Missing, what, format!("an overlay does not mount {kind}: {e}"))
            .fix("a kernel with overlayfs (5.11 or later for rootless use), and the store on a file system overlayfs accepts as upper (ext4, xfs, btrfs; not overlayfs itself); until then kiln copies each sandbox's root (slower; KILN_SNAPSHOTTER=copy asks for it)"),
    }
}

/// Where the user's cgroup is, and whether it is theirs to write (systemd
/// delegation), for `--memory`, `--cpus` and `--pids-limit`.
fn cgroup_delegation(rootless: Option<&Rootless>) -> Check {
    let what = "cgroup limits";
    let Some(rootless) = rootless else {
        return Check::new(State::Ok, what, "as root, kiln makes a cgroup per sandbox");
    };
    let relative = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        });
    let Some(relative) = relative else {
        return Check::new(
            State::Missing,
            what,
            "no cgroup v2 hierarchy (cgroup v1 cannot be delegated)",
        )
        .fix("boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1)");
    };
    let dir = Path::new("/sys/fs/cgroup").join(relative.trim_start_matches('/'));
    let owner = std::fs::metadata(dir.join("cgroup.procs")).map(|m| m.uid());
    // Inside kiln's namespace the user is root: the host owner shows as 0.
    match owner {
        Ok(0) => Check::new(
            State::Ok,
            what,
            format!("{} is delegated to {}", dir.display(), rootless.user),
        ),
        _ => Check::new(
            State::Missing,
            what,
            format!(
                "{} is not {}'s to write: --memory, --cpus and --pids-limit are refused",
                dir.display(),
                rootless.user
            ),
        )
        .fix("run kiln in a delegated scope: systemd-run --user --scope -p Delegate=yes kiln ..."),
    }
}

/// The tun device slirp4netns opens inside RUN steps' network namespace.
fn tun(rootless: Option<&Rootless>) -> Check {
    let what = "/dev/net/tun";
    let open = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun");
    let mode = std::fs::metadata("/dev/net/tun")
        .map(|m| format!("mode {:o}", m.permissions().mode() & 0o7777))
        .unwrap_or_else(|_| "absent".to_string());
    match (open, rootless) {
        (Ok(_), _) => Check::new(State::Ok, what, format!("opens ({mode}): RUN steps get their own network")),
        (Err(e), Some(r)) => Check::new(
            State::Missing,
            what,
            format!("{} cannot open it ({mode}): {e}; RUN steps' default network fails, --network none works", r.user),
        )
        .fix("as root: chmod 0666 /dev/net/tun (udev's mode for it)"),
        (Err(e), None) => Check::new(State::Missing, what, format!("cannot open it ({mode}): {e}"))
            .fix("as root: modprobe tun"),
    }
}

/// Whether program `name` is on `PATH`; `absent` says how much that
/// matters.
fn program(name: &str, what: &'static str, absent: State, fix: &str) -> Check {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    match found {
        Some(path) => Check::new(State::Ok, what, path.display().to_string()),
        None => Check::new(absent, what, "not installed").fix(fix.to_string()),
    }
}

fn seccomp() -> Check {
    let what = "seccomp";
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    match status.lines().any(|l| l.starts_with("Seccomp:")) {
        true => Check::new(
            State::Ok,
            what,
            "the kernel filters system calls (docker's profile applies)",
        ),
        false => Check::new(State::Missing, what, "the kernel has no seccomp")
            .fix("a kernel built with CONFIG_SECCOMP_FILTER"),
    }
}
