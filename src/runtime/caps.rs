//! Linux capabilities of the container process: docker's default set, kept
//! in the bounding, permitted and effective sets, every other capability
//! dropped from all of them.
//!
//! The inheritable and ambient sets are left empty: docker stopped putting
//! the default set in the inheritable set after CVE-2022-24769 (a process
//! could regain capabilities through an executable with inheritable file
//! capabilities). A non-root user therefore ends with no effective
//! capabilities once it execs, exactly as under docker: execve computes the
//! new permitted set from file capabilities, which images do not carry.

use caps::{CapSet, Capability, CapsHashSet};
use thiserror::Error;

/// docker's default capabilities (moby `oci/caps.DefaultCapabilities`).
pub const DOCKER_DEFAULT: [Capability; 14] = [
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FSETID,
    Capability::CAP_FOWNER,
    Capability::CAP_MKNOD,
    Capability::CAP_NET_RAW,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETPCAP,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SYS_CHROOT,
    Capability::CAP_KILL,
    Capability::CAP_AUDIT_WRITE,
];

/// Every capability this process holds (docker's `--privileged` gives all
/// the host allows, which may be fewer than the kernel knows).
pub fn all() -> Result<Vec<Capability>, CapsError> {
    caps::read(None, CapSet::Permitted)
        .map(|set| set.into_iter().collect())
        .map_err(|source| CapsError {
            set: "permitted",
            source,
        })
}

/// Whether this thread's effective set holds `CAP_SYS_ADMIN` (in its user
/// namespace): what mounting, and so kiln's own sandbox, needs.
pub fn has_sys_admin() -> bool {
    caps::has_cap(None, CapSet::Effective, Capability::CAP_SYS_ADMIN).unwrap_or(false)
}

/// A capability set could not be changed.
#[derive(Debug, Error)]
#[error("cannot set the {set} capability set: {source}")]
pub struct CapsError {
    set: &'static str,
    #[source]
    source: caps::errors::CapsError,
}

/// The bitmask of `caps` (bit n = capability n of linux/capability.h), the
/// form the seccomp profile takes.
pub fn mask(caps: &[Capability]) -> u64 {
    caps.iter().fold(0, |m, c| m | c.bitmask())
}

/// Step 1, while still uid 0 with every capability: drop everything outside
/// `keep` from the bounding set, so no later execve (setuid binaries, file
/// capabilities) can bring it back.
pub fn drop_bounding(keep: &[Capability]) -> Result<(), CapsError> {
    let wrap = |source| CapsError {
        set: "bounding",
        source,
    };
    for cap in caps::runtime::thread_all_supported() {
        if !keep.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap).map_err(wrap)?;
        }
    }
    Ok(())
}

/// Step 2, after the uid/gid switch (made with `PR_SET_KEEPCAPS` so the
/// permitted set survives it): effective and permitted become exactly
/// `keep`, inheritable and ambient become empty.
pub fn set_process(keep: &[Capability]) -> Result<(), CapsError> {
    let keep: CapsHashSet = keep.iter().copied().collect();
    let empty = CapsHashSet::new();
    // The order matters: the kernel requires effective ⊆ permitted at every
    // capset, so the effective set is set (raised again after the uid
    // switch, which clears it for a non-root user even with KEEPCAPS)
    // before the permitted one shrinks.
    let steps = [
        (CapSet::Ambient, "ambient", &empty),
        (CapSet::Inheritable, "inheritable", &empty),
        (CapSet::Effective, "effective", &keep),
        (CapSet::Permitted, "permitted", &keep),
    ];
    for (which, set, caps) in steps {
        caps::set(None, which, caps).map_err(|source| CapsError { set, source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_mask_matches_docker() {
        // CapEff docker shows for a root container: 00000000a80425fb.
        assert_eq!(mask(&DOCKER_DEFAULT), 0xa80425fb);
    }
}
