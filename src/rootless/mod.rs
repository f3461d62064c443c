//! Rootless kiln (issue 24): run by an ordinary user, kiln enters a user
//! namespace of its own first thing, where it is root — root mapped to
//! the user, ids from 1 on to the user's subordinate range
//! (`/etc/subuid`, `/etc/subgid`), as podman and rootless BuildKit map
//! them. Files kiln writes are then the user's on the host, and files of
//! other owners in layers get the subordinate ids on disk while every
//! reader inside the namespace (layer export included) sees the image's
//! own ids: a store filled by an ordinary user holds the same images as
//! root's. Without a range only the user's own id is mapped (root), and
//! a layer with files of other owners cannot be unpacked; kiln says so
//! and how to add a range.
//!
//! Boundary: entering the namespace, while the process has one thread
//! (`enter`, called from `cli::run` before anything else), and what the
//! rest asks about it ([`state`]). Where the store lives and which
//! commands need what are the CLI's.

pub(crate) mod environment;
mod subid;

use std::sync::OnceLock;

/// How this kiln runs, when an ordinary user started it.
#[derive(Debug)]
pub(crate) struct Rootless {
    /// The user's name (for messages and the subordinate-id files).
    pub user: String,
    /// The user's uid on the host.
    pub uid: u32,
    /// The namespace kiln entered, or why it could not.
    pub mapping: Result<Mapping, String>,
}

/// The ids kiln's namespace maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mapping {
    /// Root and 1..=count of the subordinate ranges.
    Ranges {
        /// How many subordinate uids (ids 1..=uids are mapped).
        uids: u32,
        /// How many subordinate gids.
        gids: u32,
    },
    /// Root alone: the user's own ids.
    OwnIds,
}

static STATE: OnceLock<Option<Rootless>> = OnceLock::new();

/// How this process runs: `None` as root (kiln's own namespaces are then
/// made per sandbox, as always), else the rootless state. Before
/// [`enter`], `None`.
pub(crate) fn state() -> Option<&'static Rootless> {
    STATE.get().and_then(Option::as_ref)
}

/// Why this kiln runs its sandboxes with chroot isolation, when it does.
static CHROOT: OnceLock<String> = OnceLock::new();

/// What root in a container could not do when it made its user namespace.
static PARTIAL: OnceLock<String> = OnceLock::new();

/// Why sandboxes are chroot-isolated when kiln chose it by itself (a
/// container that allows no namespace; not `--isolation chroot`).
pub(crate) fn chroot_reason() -> Option<&'static str> {
    CHROOT.get().map(String::as_str)
}

/// What `build` and `run` warn about before they start: the isolation
/// kiln fell back to, or a user namespace it made with its own ids only.
pub(crate) fn notices() -> Vec<String> {
    let chroot = chroot_reason().map(|why| format!(
        "no namespace can be made here ({why}): RUN steps and containers run with chroot isolation, which is weaker and copies each step's root (docs/differences.md, \"Containers and chroot isolation\"; `kiln doctor --environment`)"
    ));
    let partial = PARTIAL.get().map(|why| format!(
        "kiln's user namespace in this container maps only its own ids ({why}): files of other owners cannot be written"
    ));
    chroot.into_iter().chain(partial).collect()
}

/// The user namespace this process is in (`/proc/self/ns/user`'s link).
fn user_namespace() -> Option<std::path::PathBuf> {
    std::fs::read_link("/proc/self/ns/user").ok()
}

/// Enters kiln's user namespace when an ordinary user runs kiln, or root
/// in a container without `CAP_SYS_ADMIN` (where a user namespace of its
/// own gives kiln what its sandboxes need; when even that is refused and
/// `asked` is not `Namespaces`, sandboxes are chroot-isolated). `asked`
/// is `--isolation`. Must be called while the process has one thread; a
/// failure is recorded (the commands that need the namespace report it),
/// never fatal here.
pub(crate) fn enter(asked: Option<kiln_runtime::Isolation>) {
    use kiln_runtime::isolation::{Isolation, choose};
    let chroot = |why: Option<String>| {
        choose(Isolation::Chroot);
        if let Some(why) = why {
            let _ = CHROOT.set(why);
        }
        // A chroot-isolated step shares kiln's PID namespace and uid: it
        // must not read kiln's memory or descriptors through /proc.
        let _ = nix::sys::prctl::set_dumpable(false);
    };
    if asked == Some(Isolation::Chroot) {
        chroot(None);
    }
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    if rustix::process::geteuid().is_root() {
        if asked != Some(Isolation::Chroot) && !kiln_runtime::caps::has_sys_admin() {
            let before = user_namespace();
            if let Err(why) = kiln_runtime::userns::enter_same_ids() {
                tracing::debug!(error = %why, "root without CAP_SYS_ADMIN");
                if user_namespace() != before {
                    let _ = PARTIAL.set(why);
                } else if asked.is_none() {
                    chroot(Some(format!(
                        "kiln runs as root without CAP_SYS_ADMIN (a container's) and {why}"
                    )));
                }
            }
        }
        let _ = STATE.set(None);
        return;
    }
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string());
    let read = |file: &str| std::fs::read_to_string(file).unwrap_or_default();
    let ranges = (
        subid::range_of(&read("/etc/subuid"), &user, uid),
        subid::range_of(&read("/etc/subgid"), &user, uid),
    );
    let mapping = match ranges {
        (Some(uids), Some(gids)) => kiln_runtime::userns::enter_with_ranges(uid, gid, uids, gids)
            .map(|()| Mapping::Ranges {
                uids: uids.count,
                gids: gids.count,
            })
            .map_err(|e| format!("cannot map the subordinate ids of {user}: {e}")),
        _ => kiln_runtime::userns::enter_own_ids(uid, gid).map(|()| Mapping::OwnIds),
    };
    if let Err(e) = &mapping {
        tracing::debug!(error = %e, "no user namespace");
    }
    let _ = STATE.set(Some(Rootless { user, uid, mapping }));
}

/// The highest gid this process's user namespace maps (the kernel
/// refuses a `ping_group_range` past it): docker's 2147483647 on the
/// host.
pub(crate) fn highest_gid() -> u32 {
    let map = std::fs::read_to_string("/proc/self/gid_map").unwrap_or_default();
    map.lines()
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            let inside: u64 = fields.next()?.parse().ok()?;
            let _outside = fields.next()?;
            let count: u64 = fields.next()?.parse().ok()?;
            (inside + count).checked_sub(1)
        })
        .max()
        .map_or(0, |top| u32::try_from(top.min(2_147_483_647)).unwrap_or(0))
}

/// The command that gives `user` a subordinate id range (run as root).
pub(crate) fn add_range_command(user: &str) -> String {
    format!("usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}")
}

impl Rootless {
    /// What `command` cannot do with the user's own ids alone, and how to
    /// add a range.
    pub(crate) fn without_ranges(&self, command: &str) -> String {
        format!(
            "{command}: user {user} has no subordinate id range in /etc/subuid and /etc/subgid, so kiln maps only {user}'s own id (as root) and cannot write files of other owners (a layer with such files fails to unpack); add a range as root: {add}",
            user = self.user,
            add = add_range_command(&self.user)
        )
    }
}
