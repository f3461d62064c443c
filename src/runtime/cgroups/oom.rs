//! How often the kernel's OOM killer struck inside a sandbox.
//!
//! When a cgroup reaches its memory limit and reclaim fails, the kernel kills
//! a process of that cgroup and counts it: v2 in `memory.events`
//! (`oom_kill N`, which includes descendant cgroups; cgroup-v2.rst), v1 in
//! `memory.oom_control` (`oom_kill N`, since Linux 4.13). A step that died of
//! SIGKILL with this count raised was killed for memory, which is worth
//! telling the user instead of "exit 137".

use std::path::Path;

use super::CgroupError;
use super::fs::{self, CgroupFs};
use super::tree::{Leaf, LeafKind};

/// The OOM-kill count of the sandbox whose cgroups are `leaves`.
pub(crate) fn oom_kills(fs: &dyn CgroupFs, leaves: &[Leaf]) -> Result<u64, CgroupError> {
    let file = leaves.iter().find_map(|leaf| match &leaf.kind {
        LeafKind::V2 => Some(leaf.dir.join("memory.events")),
        LeafKind::V1(_) if leaf.has_v1("memory") => Some(leaf.dir.join("memory.oom_control")),
        _ => None,
    });
    let Some(file) = file else {
        return Err(CgroupError::MissingController {
            controller: "memory",
            path: fs.root().to_path_buf(),
            purpose: "counting OOM kills",
        });
    };
    parse_oom_kill(&fs::read(fs, &file)?, &file)
}

/// The value of the `oom_kill` line of a flat-keyed file ("key value"
/// lines). `oom_kill_disable` (v1) is a different key.
fn parse_oom_kill(text: &str, path: &Path) -> Result<u64, CgroupError> {
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        if fields.next() != Some("oom_kill") {
            continue;
        }
        return match (fields.next().map(str::parse::<u64>), fields.next()) {
            (Some(Ok(n)), None) => Ok(n),
            _ => Err(CgroupError::Parse {
                path: path.to_path_buf(),
                content: line.to_owned(),
            }),
        };
    }
    Err(CgroupError::NoOomKillCount {
        path: path.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "/x/memory.events";

    #[test]
    fn v2_memory_events() {
        let text = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(parse_oom_kill(text, Path::new(P)).unwrap(), 2);
    }

    #[test]
    fn v1_oom_control_skips_oom_kill_disable() {
        let text = "oom_kill_disable 1\nunder_oom 0\noom_kill 7\n";
        assert_eq!(parse_oom_kill(text, Path::new(P)).unwrap(), 7);
    }

    #[test]
    fn old_kernels_have_no_count() {
        let err = parse_oom_kill("oom_kill_disable 0\nunder_oom 0\n", Path::new(P)).unwrap_err();
        assert!(matches!(err, CgroupError::NoOomKillCount { .. }));
        assert!(err.to_string().contains(P), "{err}");
    }

    #[test]
    fn garbled_counts_are_errors() {
        for text in [
            "oom_kill\n",
            "oom_kill x\n",
            "oom_kill 1 2\n",
            "oom_kill -1\n",
        ] {
            let err = parse_oom_kill(text, Path::new(P)).unwrap_err();
            assert!(matches!(err, CgroupError::Parse { .. }), "{text:?}");
        }
    }
}
