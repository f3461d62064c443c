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

/// The labelled parts of `op`.
pub(crate) fn parts_of_op(op: &Op) -> BTreeMap<String, String> {
    let mut parts = BTreeMap::new();
    let mut put = |label: String, value: String| {
        parts.insert(label, value);
    };
    match op {
        Op::Scratch => put("op".into(), "scratch".into()),
        Op::Image(ImageSource {
            reference,
            digest,
            platform,
        }) => {
            put("image".into(), reference.clone());
            put("image digest".into(), digest.clone());
            put("platform".into(), platform.clone());
        }
        Op::Local(LocalSource {
            name,
            include,
            exclude,
        }) => {
            put("local".into(), name.clone());
            put("include".into(), include.join(" "));
            put("exclude".into(), exclude.join(" "));
        }
        Op::Http(HttpSource {
            url,
            filename,
            checksum,
        }) => {
            put("url".into(), url.clone());
            put("filename".into(), filename.clone());
            put("checksum".into(), checksum.clone().unwrap_or_default());
        }
        Op::Git(GitSource {
            remote,
            reference,
            subdir,
            keep_git_dir,
            checksum,
        }) => {
            put("git remote".into(), remote.clone());
            put("git reference".into(), reference.clone());
            put("git subdir".into(), subdir.clone());
            put("keep git dir".into(), keep_git_dir.to_string());
            put("checksum".into(), checksum.clone().unwrap_or_default());
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
        }) => {
            put("command".into(), format!("{args:?}"));
            for entry in env {
                let (name, value) = entry.split_once('=').unwrap_or((entry, ""));
                put(format!("env {name}"), value.to_string());
            }
            put("workdir".into(), cwd.clone());
            put("user".into(), user.clone());
            put(
                "network".into(),
                match network {
                    NetworkMode::Default => "default",
                    NetworkMode::None => "none",
                    NetworkMode::Host => "host",
                }
                .into(),
            );
            put(
                "security".into(),
                if *insecure { "insecure" } else { "sandbox" }.into(),
            );
            for (i, mount) in mounts.iter().enumerate() {
                put(format!("mount {i}"), describe_mount(mount));
            }
        }
        Op::File(FileOp { actions }) => {
            for (i, action) in actions.iter().enumerate() {
                put(format!("action {i}"), describe_action(action));
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
