//! `ADD <git reference>`: the git source, as BuildKit's (`source/git`):
//! the reference is resolved to a commit with `git ls-remote` on every
//! build, and the checkout of that commit (submodules included, `.git`
//! removed unless `--keep-git-dir`) becomes a one-layer output, which the
//! ADD copies to its destination. The layer is recorded under the commit,
//! so a rebuild whose reference still names the same commit fetches
//! nothing.
//!
//! kiln runs the host's `git`, as BuildKit does, in an environment of its
//! own: no system or user git config, no `GIT_*` variables of the caller,
//! no prompts, ssh without the user's config, keys or agent (only an
//! `--ssh default` agent is handed over, for `ssh://` and `user@host:path`
//! remotes), and local-file transports refused, so a repository cannot make
//! the build read the host's files. A subdirectory is resolved without
//! following symlinks for the same reason.
//!
//! File modes are those of a checkout under umask 022 (git records only
//! whether a file is executable), owned by root.

use super::error::WorkerError;
use super::layers::{self, Output};
use super::vertex::Worker;
use crate::export::Layer;
use kiln_oci::Digest;
use kiln_solver::{GitSource, Job};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

impl Worker {
    /// Resolves `source` to a commit and gives its checkout as one layer.
    pub(crate) fn git(
        &self,
        job: &Job<'_, Output>,
        source: &GitSource,
    ) -> Result<Output, WorkerError> {
        let home = self.scratch_dir()?;
        let git = Git {
            agent: self.ssh.get("default"),
            home: home.path(),
        };
        let commit = git.resolve(&source.remote, &source.reference)?;
        if let Some(checksum) = &source.checksum
            && !commit.starts_with(&checksum.to_ascii_lowercase())
        {
            return Err(GitError::Checksum {
                reference: shown_reference(&source.reference),
                commit,
                expected: checksum.clone(),
            }
            .into());
        }
        let key = Digest::of(
            format!(
                "kiln-git-source-v1\0{}\0{commit}\0{}\0{}",
                source.remote, source.subdir, source.keep_git_dir
            )
            .as_bytes(),
        );
        self.cached_source(job, &key, || self.checkout(&git, source, &commit))
    }

    /// Fetches and checks out `commit`; commits the tree (or its subdir).
    fn checkout(&self, git: &Git, source: &GitSource, commit: &str) -> Result<Layer, WorkerError> {
        let work = self.scratch_dir()?;
        let tree = work.path().join("tree");
        let tree_arg = tree.to_string_lossy().into_owned();
        git.run(None, &["init", "-q", &tree_arg])?;
        git.run(Some(&tree), &["remote", "add", "origin", &source.remote])?;
        // A shallow fetch of the commit, as BuildKit tries first; servers
        // that refuse fetching by commit (or shallow fetches, as the dumb
        // HTTP protocol does) get a full fetch of branches and tags.
        let shallow = git.run(
            Some(&tree),
            &["fetch", "-q", "--depth=1", "--no-tags", "origin", commit],
        );
        if shallow.is_err() {
            let mut refspecs = vec![
                "+refs/heads/*:refs/remotes/origin/*".to_string(),
                "+refs/tags/*:refs/tags/*".to_string(),
            ];
            // A reference outside branches and tags (`refs/pull/1/head`).
            if source.reference.starts_with("refs/")
                && !source.reference.starts_with("refs/heads/")
                && !source.reference.starts_with("refs/tags/")
            {
                refspecs.push(format!("+{}:refs/kiln/wanted", source.reference));
            }
            let mut args = vec!["fetch", "-q", "--no-tags", "origin"];
            args.extend(refspecs.iter().map(String::as_str));
            git.run(Some(&tree), &args)?;
        }
        git.run(Some(&tree), &["checkout", "-q", "--detach", commit])?;
        let submodules = ["submodule", "update", "-q", "--init", "--recursive"];
        if git
            .run(Some(&tree), &[&submodules[..], &["--depth=1"]].concat())
            .is_err()
        {
            git.run(Some(&tree), &submodules)?;
        }
        if !source.keep_git_dir {
            remove_git_metadata(&tree)
                .map_err(|e| WorkerError::io("cannot remove the checkout's .git", e))?;
        }
        normalize_modes(&tree, source.keep_git_dir)
            .map_err(|e| WorkerError::io("cannot set the checkout's file modes", e))?;
        let root = match source.subdir.as_str() {
            "" => tree,
            subdir => subdirectory(&tree, subdir).ok_or_else(|| GitError::NoSubdirectory {
                subdir: subdir.to_string(),
                commit: commit.to_string(),
            })?,
        };
        layers::commit(&self.store, &root, &[])
    }
}

/// `subdir` of `tree`, when every component of it is a real directory
/// (not a symlink, which could lead out of the checkout).
fn subdirectory(tree: &Path, subdir: &str) -> Option<std::path::PathBuf> {
    let mut path = tree.to_path_buf();
    for part in subdir.split('/').filter(|p| !p.is_empty()) {
        if part == "." || part == ".." {
            return None;
        }
        path.push(part);
        if !std::fs::symlink_metadata(&path).ok()?.is_dir() {
            return None;
        }
    }
    Some(path)
}

/// How kiln runs git.
struct Git<'a> {
    /// The `--ssh default` agent, for ssh remotes.
    agent: Option<&'a Path>,
    /// An empty directory for `HOME` (no user config or ssh keys).
    home: &'a Path,
}

/// The caller's variables git may keep: where programs are, and proxies.
const KEPT_ENV: [&str; 9] = [
    "PATH",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
];

impl Git<'_> {
    /// Runs git (in `dir`); the error carries what git printed.
    fn run(&self, dir: Option<&Path>, args: &[&str]) -> Result<String, WorkerError> {
        let mut command = Command::new("git");
        // Never read the host's files through a repository's URLs.
        command.args(["-c", "protocol.file.allow=never"]);
        if let Some(dir) = dir {
            command.arg("-C").arg(dir);
        }
        command.args(args).env_clear();
        for name in KEPT_ENV {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command
            .env("HOME", self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            // As BuildKit: no ssh config, no host-key prompt, no password.
            .env(
                "GIT_SSH_COMMAND",
                "ssh -F /dev/null -o StrictHostKeyChecking=no -o BatchMode=yes",
            )
            .env("LC_ALL", "C")
            .stdin(std::process::Stdio::null());
        if let Some(agent) = self.agent {
            command.env("SSH_AUTH_SOCK", agent);
        }
        let output = command.output().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => GitError::NotInstalled.into(),
            _ => WorkerError::io("cannot run git", e),
        })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(GitError::Failed {
                command: args.first().copied().unwrap_or_default().to_string(),
                stderr: stderr.trim().to_string(),
            }
            .into());
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The commit `reference` names on `remote` (a full commit hash is
    /// taken as it is; an empty reference is the remote's HEAD).
    fn resolve(&self, remote: &str, reference: &str) -> Result<String, WorkerError> {
        if is_commit_hash(reference) {
            return Ok(reference.to_ascii_lowercase());
        }
        let pattern = if reference.is_empty() {
            "HEAD"
        } else {
            reference
        };
        // A pattern does not match the peeled `^{}` line of an annotated
        // tag unless asked for.
        let peeled = format!("{pattern}^{{}}");
        let listing = self.run(None, &["ls-remote", "--", remote, pattern, &peeled])?;
        pick_ref(&listing, pattern).ok_or_else(|| {
            GitError::NoReference {
                reference: shown_reference(reference),
                remote: remote.to_string(),
            }
            .into()
        })
    }
}

/// Why `ADD` of a git reference failed (the step is named by the source).
#[derive(Debug, thiserror::Error)]
pub(crate) enum GitError {
    /// The reference resolved to another commit than `--checksum` said.
    #[error("checksum mismatch: {reference} is commit {commit}, expected {expected}")]
    Checksum {
        /// The reference as shown.
        reference: String,
        /// The commit it resolved to.
        commit: String,
        /// `--checksum`.
        expected: String,
    },
    /// `#ref:subdir` names no directory of the checkout.
    #[error("{subdir} is not a directory of commit {commit}")]
    NoSubdirectory {
        /// The subdirectory asked for.
        subdir: String,
        /// The commit checked out.
        commit: String,
    },
    /// The host has no `git`.
    #[error("git is not installed (ADD of a git repository runs it)")]
    NotInstalled,
    /// A git command failed.
    #[error("git {command} failed: {stderr}")]
    Failed {
        /// Its subcommand.
        command: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// The remote has no such branch or tag.
    #[error("{reference} was not found in {remote}")]
    NoReference {
        /// The reference as shown.
        reference: String,
        /// The remote.
        remote: String,
    },
}

/// `reference` as messages show it.
fn shown_reference(reference: &str) -> String {
    match reference {
        "" => "the default branch".to_string(),
        other => format!("reference {other:?}"),
    }
}

/// A full SHA-1 or SHA-256 commit hash.
fn is_commit_hash(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Picks the commit of `name` from `git ls-remote` output, in git's own
/// order of precedence: the exact ref, then a tag, then a branch; an
/// annotated tag gives the commit it points to (its peeled `^{}` line).
fn pick_ref(listing: &str, name: &str) -> Option<String> {
    let refs: Vec<(&str, &str)> = listing
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .collect();
    let find = |wanted: &str| {
        refs.iter()
            .find(|(_, r)| *r == wanted)
            .map(|(commit, _)| commit.to_string())
    };
    let tag = format!("refs/tags/{name}");
    find(&format!("{name}^{{}}"))
        .or_else(|| find(name))
        .or_else(|| find(&format!("{tag}^{{}}")))
        .or_else(|| find(&tag))
        .or_else(|| find(&format!("refs/heads/{name}")))
}

/// Removes the checkout's `.git` directory and the `.git` files that point
/// submodules into it.
fn remove_git_metadata(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if entry.file_name() == ".git" {
            if kind.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        } else if kind.is_dir() {
            remove_git_metadata(&path)?;
        }
    }
    Ok(())
}

/// Modes as a checkout under umask 022 makes them: directories 0755,
/// files 0755 when executable, else 0644 (`.git` left as git made it).
fn normalize_modes(dir: &Path, skip_git: bool) -> std::io::Result<()> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if skip_git && entry.file_name() == ".git" {
            continue;
        }
        if kind.is_dir() {
            normalize_modes(&path, skip_git)?;
        } else if kind.is_file() {
            let mode = entry.metadata()?.permissions().mode();
            let wanted = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
            if mode & 0o7777 != wanted {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(wanted))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{is_commit_hash, pick_ref, subdirectory};

    #[test]
    fn subdirectories_never_follow_symlinks() {
        let tree = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tree.path().join("a/b")).unwrap();
        std::os::unix::fs::symlink("/", tree.path().join("evil")).unwrap();
        std::os::unix::fs::symlink("a", tree.path().join("alias")).unwrap();
        assert_eq!(
            subdirectory(tree.path(), "a/b"),
            Some(tree.path().join("a/b"))
        );
        for bad in ["evil/etc", "evil", "alias/b", "a/../a", "missing", "a/b/f"] {
            assert_eq!(subdirectory(tree.path(), bad), None, "{bad}");
        }
    }

    #[test]
    fn references_resolve_as_git_resolves_them() {
        let listing = "\
1111111111111111111111111111111111111111\tHEAD
2222222222222222222222222222222222222222\trefs/heads/main
3333333333333333333333333333333333333333\trefs/heads/v1
4444444444444444444444444444444444444444\trefs/tags/v1
5555555555555555555555555555555555555555\trefs/tags/v1^{}
6666666666666666666666666666666666666666\trefs/tags/light
";
        let commit = |n: char| Some(n.to_string().repeat(40));
        assert_eq!(pick_ref(listing, "HEAD"), commit('1'));
        assert_eq!(pick_ref(listing, "main"), commit('2'));
        // A tag beats a branch of the same name; an annotated tag is peeled.
        assert_eq!(pick_ref(listing, "v1"), commit('5'));
        assert_eq!(pick_ref(listing, "light"), commit('6'));
        assert_eq!(pick_ref(listing, "refs/heads/v1"), commit('3'));
        assert_eq!(pick_ref(listing, "refs/tags/v1"), commit('5'));
        assert_eq!(pick_ref(listing, "missing"), None);
        assert!(is_commit_hash(&"a".repeat(40)));
        assert!(!is_commit_hash("abc123"));
    }
}
