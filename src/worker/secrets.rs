//! Build secrets (`--secret id=X,src=FILE|env=VAR`): read when a step
//! mounts them, written to a 0700 scratch directory that is removed with
//! the step, bind-mounted read-only. The sandbox removes the mountpoint
//! stub from its upper directory, so a secret never reaches a layer, and a
//! secret's value is never part of a vertex digest or cache record.

use super::error::WorkerError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where a secret's value comes from.
#[derive(Clone, Debug)]
pub(crate) enum Secret {
    /// A file on the host.
    File(PathBuf),
    /// An environment variable of kiln's.
    Env(String),
}

/// The largest secret read from a file: BuildKit's `MaxSecretSize`
/// (500 KiB). The file must be regular: a FIFO would hang the step.
const MAX_SECRET: u64 = 500 * 1024;

impl Secret {
    /// Parses one `--secret` value: `id=ID[,src=PATH|source=PATH|env=VAR]`
    /// (docker's syntax; `src` defaults to an env var named like the id
    /// when that is set, else a file named like the id, as buildx does).
    pub(crate) fn parse(text: &str) -> Result<(String, Secret), String> {
        let mut id = None;
        let mut source = None;
        for field in text.split(',') {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| format!("invalid --secret field {field:?}: expected key=value"))?;
            match key {
                "id" => id = Some(value.to_string()),
                "src" | "source" => source = Some(Secret::File(PathBuf::from(value))),
                "env" => source = Some(Secret::Env(value.to_string())),
                "type" if value == "file" || value == "env" => {}
                other => return Err(format!("unknown --secret field {other:?}")),
            }
        }
        let id = id
            .filter(|i| !i.is_empty())
            .ok_or_else(|| format!("--secret {text:?} has no id"))?;
        let source = source.unwrap_or_else(|| {
            if std::env::var_os(&id).is_some() {
                Secret::Env(id.clone())
            } else {
                Secret::File(PathBuf::from(&id))
            }
        });
        Ok((id, source))
    }

    /// The secret's value.
    pub(crate) fn read(&self) -> Result<Vec<u8>, WorkerError> {
        match self {
            Secret::File(path) => crate::infile::read_required(path, MAX_SECRET).map_err(|e| {
                WorkerError::io(format!("cannot read secret file {}", path.display()), e)
            }),
            Secret::Env(name) => std::env::var_os(name)
                .map(|v| v.into_encoded_bytes())
                .ok_or_else(|| WorkerError::SecretEnvUnset { name: name.clone() }),
        }
    }

    /// Writes `value` for mount `index` under `scratch` with the mount's
    /// owner and mode; returns the file.
    pub(crate) fn write_file(
        scratch: &Path,
        index: usize,
        value: &[u8],
        uid: u32,
        gid: u32,
        mode: u32,
    ) -> Result<PathBuf, WorkerError> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let io = |e| WorkerError::io("cannot write a secret to the scratch directory", e);
        let path = scratch.join(format!("secret-{index}"));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        std::io::Write::write_all(&mut file, value).map_err(io)?;
        std::os::unix::fs::fchown(&file, Some(uid), Some(gid)).map_err(io)?;
        file.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))
            .map_err(io)?;
        Ok(path)
    }
}

/// The build's secrets by id.
pub(crate) type Secrets = HashMap<String, Secret>;
