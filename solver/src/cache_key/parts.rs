//! An op's share of a cache key, as labelled text for `--explain`: one
//! entry per thing a user can change (the command, each environment
//! variable, the working directory, each mount, each file action), so a
//! comparison with the last build can name what changed.
//!
//! Every op type is destructured without `..`, as in the digest encoding,
//! so a new field cannot be forgotten here either.

use crate::op::{
    Copy, Exec, ExecMount, FileAction, FileOp, GitSource, HttpSource, ImageSource, LocalSource,
    NetworkMode, Op,
};
use kiln_oci::Digest;
use std::collections::BTreeMap;
use std::fmt;

/// What one labelled part of a key is: the label `--explain` shows and a
/// trail stores (as its text, [`KeyPart`]'s `Display`; read back with
/// `parse`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyPart {
    /// `op`: what kind of op (only `scratch` has this).
    Op,
    /// `image`: a base image's reference.
    Image,
    /// `image digest`: the manifest digest a base image resolved to.
    ImageDigest,
    /// `platform`: the platform a base image was resolved for, or a RUN
    /// runs as.
    Platform,
    /// `local`: which local directory.
    Local,
    /// `include`: a local source's include patterns.
    Include,
    /// `exclude`: a local source's exclude patterns.
    Exclude,
    /// `url`: an HTTP source.
    Url,
    /// `filename`: the fetched file's name.
    Filename,
    /// `checksum`: `ADD --checksum`.
    Checksum,
    /// `git remote`.
    GitRemote,
    /// `git reference`.
    GitReference,
    /// `git subdir`.
    GitSubdir,
    /// `keep git dir`.
    KeepGitDir,
    /// `command`: a RUN's argv.
    Command,
    /// `env NAME`: one environment variable of a RUN.
    Env(String),
    /// `workdir`.
    Workdir,
    /// `user`.
    User,
    /// `network`.
    Network,
    /// `security`: sandbox or insecure.
    Security,
    /// `mount N`: a RUN's mount.
    Mount(usize),
    /// `device N`: a RUN's device.
    Device(usize),
    /// `action N`: a file op's action.
    Action(usize),
    /// `input N`: the result an input contributes.
    Input(usize),
    /// `files of use N (input M)`: the content a selection reads.
    Files {
        /// The action's or mount's index.
        use_index: usize,
        /// The input it reads.
        input: usize,
    },
}

impl fmt::Display for KeyPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fixed = match self {
            KeyPart::Op => "op",
            KeyPart::Image => "image",
            KeyPart::ImageDigest => "image digest",
            KeyPart::Platform => "platform",
            KeyPart::Local => "local",
            KeyPart::Include => "include",
            KeyPart::Exclude => "exclude",
            KeyPart::Url => "url",
            KeyPart::Filename => "filename",
            KeyPart::Checksum => "checksum",
            KeyPart::GitRemote => "git remote",
            KeyPart::GitReference => "git reference",
            KeyPart::GitSubdir => "git subdir",
            KeyPart::KeepGitDir => "keep git dir",
            KeyPart::Command => "command",
            KeyPart::Workdir => "workdir",
            KeyPart::User => "user",
            KeyPart::Network => "network",
            KeyPart::Security => "security",
            KeyPart::Env(name) => return write!(f, "env {name}"),
            KeyPart::Mount(i) => return write!(f, "mount {i}"),
            KeyPart::Device(i) => return write!(f, "device {i}"),
            KeyPart::Action(i) => return write!(f, "action {i}"),
            KeyPart::Input(i) => return write!(f, "input {i}"),
            KeyPart::Files { use_index, input } => {
                return write!(f, "files of use {use_index} (input {input})");
            }
        };
        f.write_str(fixed)
    }
}

impl KeyPart {
    /// The part a label names (as `Display` writes it); `None` for a label
    /// this kiln does not know (a trail written by another version).
    pub fn parse(label: &str) -> Option<KeyPart> {
        let number = |s: &str| s.parse::<usize>().ok();
        if let Some(name) = label.strip_prefix("env ") {
            return Some(KeyPart::Env(name.to_string()));
        }
        if let Some(i) = label.strip_prefix("mount ") {
            return number(i).map(KeyPart::Mount);
        }
        if let Some(i) = label.strip_prefix("device ") {
            return number(i).map(KeyPart::Device);
        }
        if let Some(i) = label.strip_prefix("action ") {
            return number(i).map(KeyPart::Action);
        }
        if let Some(i) = label.strip_prefix("input ") {
            return number(i).map(KeyPart::Input);
        }
        if let Some(rest) = label.strip_prefix("files of use ") {
            let (use_index, input) = rest.split_once(" (input ")?;
            return Some(KeyPart::Files {
                use_index: number(use_index)?,
                input: number(input.strip_suffix(')')?)?,
            });
        }
        Some(match label {
            "op" => KeyPart::Op,
            "image" => KeyPart::Image,
            "image digest" => KeyPart::ImageDigest,
            "platform" => KeyPart::Platform,
            "local" => KeyPart::Local,
            "include" => KeyPart::Include,
            "exclude" => KeyPart::Exclude,
            "url" => KeyPart::Url,
            "filename" => KeyPart::Filename,
            "checksum" => KeyPart::Checksum,
            "git remote" => KeyPart::GitRemote,
            "git reference" => KeyPart::GitReference,
            "git subdir" => KeyPart::GitSubdir,
            "keep git dir" => KeyPart::KeepGitDir,
            "command" => KeyPart::Command,
            "workdir" => KeyPart::Workdir,
            "user" => KeyPart::User,
            "network" => KeyPart::Network,
            "security" => KeyPart::Security,
            _ => return None,
        })
    }
}

/// The labelled parts of `op`.
pub(crate) fn parts_of_op(op: &Op) -> BTreeMap<KeyPart, String> {
    let mut parts = BTreeMap::new();
    let mut put = |part: KeyPart, value: String| {
        parts.insert(part, value);
    };
    match op {
        Op::Scratch => put(KeyPart::Op, "scratch".into()),
        Op::Merge => put(KeyPart::Op, "merge".into()),
        Op::Image(ImageSource {
            reference,
            digest,
            platform,
        }) => {
            put(KeyPart::Image, reference.clone());
            put(KeyPart::ImageDigest, digest.to_string());
            put(KeyPart::Platform, platform.clone());
        }
        Op::Local(LocalSource {
            name,
            include,
            exclude,
        }) => {
            put(KeyPart::Local, name.clone());
            put(KeyPart::Include, include.join(" "));
            put(KeyPart::Exclude, exclude.join(" "));
        }
        Op::Http(HttpSource {
            url,
            filename,
            checksum,
        }) => {
            put(KeyPart::Url, url.clone());
            put(KeyPart::Filename, filename.clone());
            put(
                KeyPart::Checksum,
                checksum.as_ref().map(Digest::to_string).unwrap_or_default(),
            );
        }
        Op::Git(GitSource {
            remote,
            reference,
            subdir,
            keep_git_dir,
            checksum,
        }) => {
            put(KeyPart::GitRemote, remote.clone());
            put(KeyPart::GitReference, reference.clone());
            put(KeyPart::GitSubdir, subdir.clone());
            put(KeyPart::KeepGitDir, keep_git_dir.to_string());
            put(KeyPart::Checksum, checksum.clone().unwrap_or_default());
        }
        Op::Exec(Exec {
            args,
            env,
            cwd,
            user,
            network,
            insecure,
            mounts,
            // Not part of the key (see `Exec::proxy_env`).
            proxy_env: _,
            devices,
            platform,
        }) => {
            put(KeyPart::Command, format!("{args:?}"));
            put(KeyPart::Platform, platform.clone());
            for entry in env {
                let (name, value) = entry.split_once('=').unwrap_or((entry, ""));
                put(KeyPart::Env(name.to_string()), value.to_string());
            }
            put(KeyPart::Workdir, cwd.clone());
            put(KeyPart::User, user.clone());
            put(
                KeyPart::Network,
                match network {
                    NetworkMode::Default => "default",
                    NetworkMode::None => "none",
                    NetworkMode::Host => "host",
                }
                .into(),
            );
            put(
                KeyPart::Security,
                if *insecure { "insecure" } else { "sandbox" }.into(),
            );
            for (i, mount) in mounts.iter().enumerate() {
                put(KeyPart::Mount(i), describe_mount(mount));
            }
            for (i, device) in devices.iter().enumerate() {
                put(
                    KeyPart::Device(i),
                    format!("{} required={}", device.path, device.required),
                );
            }
        }
        Op::File(FileOp { actions }) => {
            for (i, action) in actions.iter().enumerate() {
                put(KeyPart::Action(i), describe_action(action));
            }
        }
    }
    parts
}

fn describe_mount(mount: &ExecMount) -> String {
    match mount {
        ExecMount::Secret {
            id,
            target,
            env,
            required,
            uid,
            gid,
            mode,
        } => format!(
            "secret id={id} target={target:?} env={env:?} required={required} uid={uid} gid={gid} mode={mode:o}"
        ),
        other => format!("{other:?}"),
    }
}

fn describe_action(action: &FileAction) -> String {
    match action {
        FileAction::Copy(Copy {
            input,
            sources,
            dest,
            owner,
            mode,
            allow_wildcard: _,
            allow_empty_wildcard: _,
            follow_symlinks: _,
            dir_contents_only: _,
            create_dest_path: _,
            unpack_archives,
            exclude,
            parents,
        }) => {
            let verb = if *unpack_archives { "add" } else { "copy" };
            format!(
                "{verb} {sources:?} from input {input} to {dest} owner={owner:?} mode={mode:?} exclude={exclude:?} parents={parents}"
            )
        }
        FileAction::Mkfile {
            path,
            data,
            mode,
            owner,
        } => format!(
            "mkfile {path} mode={mode:o} owner={owner:?} content={}",
            Digest::of(data)
        ),
        FileAction::Mkdir {
            path,
            mode,
            parents,
            owner,
        } => format!("mkdir {path} mode={mode:o} parents={parents} owner={owner:?}"),
    }
}
