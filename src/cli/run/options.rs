//! Turning `kiln run`'s flags and the image config into a
//! [`kiln_runtime::RunSpec`], with docker's rules: `--entrypoint` replaces
//! the image's entrypoint and drops its CMD; command-line arguments
//! replace CMD; `-e`/`--env-file` entries replace image variables of the
//! same name; `-e NAME` takes the value from kiln's own environment.

use anyhow::{Context as _, bail};
use kiln_oci::ContainerConfig;
use kiln_runtime::{Mount, env_key};
use std::path::PathBuf;

/// argv from the image config and the flags (docker's merge).
pub(crate) fn command(
    config: &ContainerConfig,
    entrypoint: Option<&str>,
    args: &[String],
) -> Vec<String> {
    let (entry, default_cmd): (Vec<String>, &[String]) = match entrypoint {
        // `--entrypoint ""` clears the image's entrypoint.
        Some("") => (Vec::new(), &[]),
        Some(e) => (vec![e.to_string()], &[]),
        None => (config.entrypoint.clone(), &config.cmd),
    };
    let cmd = if args.is_empty() { default_cmd } else { args };
    entry.into_iter().chain(cmd.iter().cloned()).collect()
}

/// The largest `--env-file` read (1 MiB; a regular file only: a FIFO or
/// `/dev/zero` would hang or never end).
const MAX_ENV_FILE: u64 = 1 << 20;

/// The image's environment with the flags' entries merged in, by name.
pub(crate) fn environment(
    image: &[String],
    flags: &[String],
    env_files: &[PathBuf],
) -> anyhow::Result<Vec<String>> {
    let mut extra = Vec::new();
    for file in env_files {
        let bytes = crate::infile::read_required(file, MAX_ENV_FILE)
            .with_context(|| format!("cannot read the env file {}", file.display()))?;
        let text = String::from_utf8(bytes)
            .with_context(|| format!("the env file {} is not UTF-8", file.display()))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.starts_with('=') {
                bail!(
                    "{}:{}: variable name missing in {line:?}",
                    file.display(),
                    n + 1
                );
            }
            extra.extend(from_flag(line));
        }
    }
    for flag in flags {
        if flag.is_empty() || flag.starts_with('=') {
            bail!("invalid environment variable {flag:?}: the name is missing");
        }
        extra.extend(from_flag(flag));
    }
    let mut env: Vec<String> = image.to_vec();
    for entry in extra {
        env.retain(|e| env_key(e) != env_key(&entry));
        env.push(entry);
    }
    Ok(env)
}

/// `NAME=VALUE` as is; a bare `NAME` takes kiln's own value, or is dropped
/// when kiln has none (docker's rule).
fn from_flag(entry: &str) -> Option<String> {
    if entry.contains('=') {
        return Some(entry.to_string());
    }
    std::env::var(entry).ok().map(|v| format!("{entry}={v}"))
}

/// `-v HOST:CONTAINER[:ro|rw]`. A missing host directory is created, as
/// docker creates it.
pub(crate) fn volume(spec: &str) -> anyhow::Result<Mount> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (host, target, readonly) = match parts.as_slice() {
        [host, target] => (*host, *target, false),
        [host, target, "ro"] => (*host, *target, true),
        [host, target, "rw"] => (*host, *target, false),
        [_, _, opts] => {
            bail!("invalid volume {spec:?}: unknown option {opts:?} (kiln supports ro and rw)")
        }
        _ => bail!("invalid volume {spec:?}: expected HOST:CONTAINER[:ro]"),
    };
    if !host.starts_with('/') {
        bail!(
            "invalid volume {spec:?}: named volumes are not supported; give an absolute host path"
        );
    }
    if !target.starts_with('/') {
        bail!("invalid volume {spec:?}: the container path must be absolute");
    }
    let source = PathBuf::from(host);
    if !source.exists() {
        std::fs::create_dir_all(&source)
            .with_context(|| format!("cannot create the volume directory {host}"))?;
    }
    Ok(Mount::Bind {
        source,
        target: target.to_string(),
        readonly,
    })
}

/// `--device HOST[:CONTAINER][:PERMISSIONS]` (docker's syntax; the
/// container path defaults to the host's). kiln gives a device `rwm`
/// access only, so narrower permissions are refused rather than ignored.
pub(crate) fn device(spec: &str) -> anyhow::Result<kiln_runtime::Device> {
    let parts: Vec<&str> = spec.split(':').collect();
    let is_permissions = |p: &str| !p.is_empty() && p.chars().all(|c| "rwm".contains(c));
    let (host, container, permissions) = match parts.as_slice() {
        [host] => (*host, *host, "rwm"),
        [host, p] if is_permissions(p) => (*host, *host, *p),
        [host, container] => (*host, *container, "rwm"),
        [host, container, p] => (*host, *container, *p),
        _ => bail!("invalid device {spec:?}: expected HOST[:CONTAINER][:PERMISSIONS]"),
    };
    let full = |p: &str| p.len() == 3 && ["r", "w", "m"].iter().all(|c| p.contains(c));
    if !full(permissions) {
        bail!(
            "invalid device {spec:?}: kiln gives devices rwm access only (permissions {permissions:?})"
        );
    }
    Ok(kiln_runtime::Device::from_host(
        std::path::Path::new(host),
        container,
    )?)
}

/// `--tmpfs PATH[:OPTIONS]`.
pub(crate) fn tmpfs(spec: &str) -> anyhow::Result<Mount> {
    let (target, options) = spec.split_once(':').unwrap_or((spec, ""));
    if !target.starts_with('/') {
        bail!("invalid tmpfs {spec:?}: the container path must be absolute");
    }
    Ok(Mount::Tmpfs {
        target: target.to_string(),
        options: options.to_string(),
    })
}

/// docker's memory sizes: a number with an optional `b`, `k`, `m`, `g`
/// (binary units, any case).
pub(crate) fn memory_size(text: &str) -> Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let (digits, unit) = match lower.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => lower.split_at(i),
        None => (lower.as_str(), ""),
    };
    let multiplier: u64 = match unit.trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => {
            return Err(format!(
                "invalid size {text:?}: use a number with b, k, m or g"
            ));
        }
    };
    let value: f64 = digits
        .parse()
        .map_err(|_| format!("invalid size {text:?}"))?;
    let bytes = value * multiplier as f64;
    // docker's minimum for --memory is 6 MiB; smaller values cannot even
    // start a process reliably.
    if !bytes.is_finite() || bytes < 6.0 * 1024.0 * 1024.0 {
        return Err(format!("invalid memory size {text:?}: the minimum is 6m"));
    }
    Ok(bytes as u64)
}

/// `--cpus`: a positive number of CPUs.
pub(crate) fn cpus(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "invalid --cpus {text:?}: expected a positive number such as 1.5"
        )),
    }
}

/// A random 12-hex-digit host name, the length docker's container IDs give.
pub(crate) fn random_hostname() -> String {
    let mut bytes = [0u8; 6];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .is_err()
    {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes.copy_from_slice(&nanos.to_le_bytes()[..6]);
    }
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(entrypoint: &[&str], cmd: &[&str]) -> ContainerConfig {
        ContainerConfig {
            entrypoint: entrypoint.iter().map(|s| s.to_string()).collect(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            ..ContainerConfig::default()
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn command_follows_dockers_entrypoint_and_cmd_rules() {
        let c = config(&["/entry", "-x"], &["default"]);
        assert_eq!(command(&c, None, &[]), ["/entry", "-x", "default"]);
        assert_eq!(command(&c, None, &strings(&["a"])), ["/entry", "-x", "a"]);
        assert_eq!(command(&c, Some("/other"), &[]), ["/other"]);
        assert_eq!(
            command(&c, Some("/other"), &strings(&["a"])),
            ["/other", "a"]
        );
        assert_eq!(command(&c, Some(""), &strings(&["sh"])), ["sh"]);
        assert!(command(&config(&[], &[]), None, &[]).is_empty());
    }

    #[test]
    fn flags_replace_image_variables_by_name() {
        let env = environment(
            &strings(&["PATH=/bin", "A=1"]),
            &strings(&["A=2", "B=3"]),
            &[],
        )
        .unwrap();
        assert_eq!(env, ["PATH=/bin", "A=2", "B=3"]);
        assert!(environment(&[], &strings(&["=x"]), &[]).is_err());
    }

    #[test]
    fn env_files_skip_comments_and_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("env");
        std::fs::write(
            &file,
            "# comment\n\nA=1\n  B=two words\nKILN_SURELY_UNSET_VAR\n",
        )
        .unwrap();
        let env = environment(&[], &strings(&["A=3"]), &[file]).unwrap();
        assert_eq!(env, ["B=two words", "A=3"]);
    }

    #[test]
    fn memory_sizes_use_binary_units() {
        assert_eq!(memory_size("256m"), Ok(256 << 20));
        assert_eq!(memory_size("1G"), Ok(1 << 30));
        assert_eq!(memory_size("1.5g"), Ok(3 << 29));
        assert_eq!(memory_size("10485760"), Ok(10 << 20));
        assert!(memory_size("12x").is_err());
        assert!(memory_size("1k").is_err(), "below docker's minimum");
    }

    #[test]
    fn volumes_need_absolute_paths() {
        assert!(volume("data:/data").is_err());
        assert!(volume("/tmp:data").is_err());
        assert!(volume("/tmp:/data:z").is_err());
        let Mount::Bind { readonly, .. } = volume("/tmp:/data:ro").unwrap() else {
            panic!("not a bind");
        };
        assert!(readonly);
    }

    #[test]
    fn devices_take_dockers_forms() {
        let at = |spec: &str| device(spec).map(|d| d.path).map_err(|e| e.to_string());
        assert_eq!(at("/dev/null").unwrap(), "/dev/null");
        assert_eq!(at("/dev/null:rwm").unwrap(), "/dev/null");
        assert_eq!(at("/dev/null:/dev/mynull").unwrap(), "/dev/mynull");
        assert_eq!(at("/dev/null:/dev/mynull:mrw").unwrap(), "/dev/mynull");
        let err = at("/dev/null:/dev/x:r").unwrap_err();
        assert!(err.contains("rwm access only"), "{err}");
        let err = at("/dev/null:/etc/x").unwrap_err();
        assert!(err.contains("under /dev/"), "{err}");
        let err = at("/dev/kiln-none").unwrap_err();
        assert!(err.contains("/dev/kiln-none"), "{err}");
    }
}
