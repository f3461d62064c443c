//! Credentials, where docker keeps them: `$DOCKER_CONFIG/config.json`
//! (default `~/.docker/config.json`) with `auths` entries, a `credsStore`
//! for every registry or a `credHelpers` entry per registry, both served by
//! `docker-credential-NAME` programs (docker-credential-helpers' protocol:
//! `get`/`store`/`erase` with the server on stdin).
//!
//! Reading goes through the docker_credential crate; writing (`kiln
//! login`/`logout`) is here, as that crate only reads. The file is edited
//! as JSON so keys kiln does not know (`proxies`, `plugins`…) survive, and
//! it is written atomically with mode 0600, as docker writes it.

use super::error::RegistryError;
use base64::Engine as _;
use docker_credential::{CredentialRetrievalError, DockerCredential};
use serde_json::{Map, Value};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// What to authenticate with.
#[derive(Clone)]
pub enum Credential {
    /// A username and password (or a personal access token as password).
    Basic {
        /// The username.
        username: String,
        /// The password; never printed.
        password: String,
    },
    /// An OAuth2 refresh token from an earlier login (`identitytoken`).
    IdentityToken(String),
}

impl std::fmt::Debug for Credential {
    // Never shows a secret, even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Credential::IdentityToken(_) => write!(f, "IdentityToken(***)"),
        }
    }
}

/// The credentials configured for registry `key` (see
/// [`super::endpoint::auth_key`]), if any.
pub fn lookup(key: &str) -> Result<Option<Credential>, RegistryError> {
    // docker_credential reports an unreadable config like a missing one;
    // a config.json that exists but is broken must not silently mean
    // "anonymous", so it is read here first.
    read_config().map_err(|e| match e {
        RegistryError::Credentials { message, .. } => RegistryError::Credentials {
            host: key.to_string(),
            message,
        },
        other => other,
    })?;
    let found = docker_credential::get_credential(key).or_else(|e| match e {
        // docker looks the key up with and without a scheme.
        CredentialRetrievalError::NoCredentialConfigured if !key.contains("://") => {
            docker_credential::get_credential(&format!("https://{key}"))
        }
        other => Err(other),
    });
    match found {
        Ok(DockerCredential::UsernamePassword(username, password)) => {
            Ok(Some(Credential::Basic { username, password }))
        }
        Ok(DockerCredential::IdentityToken(token)) => Ok(Some(Credential::IdentityToken(token))),
        Err(
            CredentialRetrievalError::NoCredentialConfigured
            | CredentialRetrievalError::ConfigNotFound
            | CredentialRetrievalError::ConfigReadError,
        ) => Ok(None),
        // A helper that has nothing for this server says so and exits 1.
        Err(CredentialRetrievalError::HelperFailure { stdout, .. })
            if stdout.contains("credentials not found") =>
        {
            Ok(None)
        }
        Err(CredentialRetrievalError::HelperFailure { helper, stderr, .. }) => {
            Err(RegistryError::Credentials {
                host: key.to_string(),
                message: format!("{helper} failed: {}", stderr.trim()),
            })
        }
        Err(other) => Err(RegistryError::Credentials {
            host: key.to_string(),
            message: other.to_string().to_lowercase(),
        }),
    }
}

/// docker's config directory: `$DOCKER_CONFIG`, else `~/.docker`.
fn config_path() -> Result<PathBuf, RegistryError> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
    dir.map(|d| d.join("config.json"))
        .ok_or_else(|| RegistryError::Credentials {
            host: String::new(),
            message: "cannot find docker's config directory: set DOCKER_CONFIG or HOME".into(),
        })
}

fn read_config() -> Result<(PathBuf, Map<String, Value>), RegistryError> {
    let path = config_path()?;
    let config = match std::fs::read(&path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(RegistryError::Credentials {
                    host: String::new(),
                    message: format!("{} is not a JSON object", path.display()),
                });
            }
            Err(e) => {
                return Err(RegistryError::Credentials {
                    host: String::new(),
                    message: format!("{} is not valid JSON: {e}", path.display()),
                });
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
        Err(e) => {
            return Err(RegistryError::io(
                format!("cannot read {}", path.display()),
                e,
            ));
        }
    };
    Ok((path, config))
}

fn write_config(path: &std::path::Path, config: Map<String, Value>) -> Result<(), RegistryError> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let fail = |e: std::io::Error| RegistryError::io(format!("cannot write {}", path.display()), e);
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    file.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(fail)?;
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(config)).unwrap_or_default();
    bytes.push(b'\n');
    file.write_all(&bytes).map_err(fail)?;
    file.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// The credential helper responsible for `key`, if any.
fn helper_for(config: &Map<String, Value>, key: &str) -> Option<String> {
    config
        .get("credHelpers")
        .and_then(|h| h.get(key))
        .or_else(|| config.get("credsStore"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Saves credentials for `key` where docker would: its helper, else an
/// `auths` entry. Returns where they went, for the user.
pub fn store(key: &str, username: &str, password: &str) -> Result<String, RegistryError> {
    let (path, mut config) = read_config()?;
    if let Some(helper) = helper_for(&config, key) {
        let input = serde_json::json!({"ServerURL": key, "Username": username, "Secret": password});
        run_helper(&helper, "store", key, &input.to_string())?;
        return Ok(format!("docker-credential-{helper}"));
    }
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    let auths = config
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    if let Value::Object(auths) = auths {
        auths.insert(key.to_string(), serde_json::json!({ "auth": auth }));
    }
    write_config(&path, config)?;
    Ok(path.display().to_string())
}

/// Forgets the credentials for `key`; false when there were none.
pub fn erase(key: &str) -> Result<bool, RegistryError> {
    let (path, mut config) = read_config()?;
    if let Some(helper) = helper_for(&config, key) {
        run_helper(&helper, "erase", key, key)?;
        return Ok(true);
    }
    let removed = config
        .get_mut("auths")
        .and_then(Value::as_object_mut)
        .is_some_and(|auths| auths.remove(key).is_some());
    if removed {
        write_config(&path, config)?;
    }
    Ok(removed)
}

fn run_helper(helper: &str, verb: &str, key: &str, input: &str) -> Result<(), RegistryError> {
    let program = format!("docker-credential-{helper}");
    let fail = |message: String| RegistryError::Credentials {
        host: key.to_string(),
        message,
    };
    let mut child = Command::new(&program)
        .arg(verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| fail(format!("cannot talk to {program}: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("cannot run {program}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        // The helper's own words; it never echoes the secret back.
        let said = String::from_utf8_lossy(if out.stderr.is_empty() {
            &out.stdout
        } else {
            &out.stderr
        })
        .trim()
        .to_string();
        Err(fail(format!("{program} {verb} failed: {said}")))
    }
}
