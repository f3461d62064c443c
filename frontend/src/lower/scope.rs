//! Variable scopes with BuildKit's rules: the global scope (ARGs before the
//! first FROM plus the predefined platform args), and a stage's scope where
//! ENV beats an ARG of the same name and ARG values never reach the image
//! config (Dockerfile reference, "ARG" → "Using ARG variables" and
//! "Predefined ARGs").

use kiln_shell::Env;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// Args BuildKit passes to RUN without an ARG declaration and leaves out
/// of the history and the cache key (Dockerfile reference, "Predefined
/// ARGs").
pub(crate) const PROXY_ARGS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// `--build-arg` values and which of them something consumed.
pub(crate) struct BuildArgs {
    values: BTreeMap<String, String>,
    used: RefCell<BTreeSet<String>>,
}

impl BuildArgs {
    pub(crate) fn new(values: BTreeMap<String, String>) -> BuildArgs {
        BuildArgs {
            values,
            used: RefCell::default(),
        }
    }

    /// The value given for `name`, marking it consumed.
    pub(crate) fn take(&self, name: &str) -> Option<String> {
        let value = self.values.get(name)?;
        self.used.borrow_mut().insert(name.to_string());
        Some(value.clone())
    }

    /// Proxy args given on the command line, for RUN's environment. Like
    /// docker 20.10's BuildKit, either spelling (`HTTP_PROXY` or
    /// `http_proxy`) sets both; when both are given, the upper-case one
    /// wins.
    pub(crate) fn proxies(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for pair in PROXY_ARGS.chunks(2) {
            let [upper, lower] = pair else { continue };
            let value = self.take(upper).or_else(|| self.take(lower));
            if let Some(value) = value {
                out.push((upper.to_string(), value.clone()));
                out.push((lower.to_string(), value));
            }
        }
        out
    }

    /// Names given but never consumed (BuildKit warns about them).
    pub(crate) fn unused(&self) -> Vec<String> {
        let used = self.used.borrow();
        self.values
            .keys()
            .filter(|k| !used.contains(*k) && !PROXY_ARGS.contains(&k.as_str()))
            .cloned()
            .collect()
    }
}

/// ARG names and values in declaration order; `None` is declared but
/// unset. The last declaration of a name wins.
#[derive(Clone, Debug, Default)]
pub(crate) struct Args(pub Vec<(String, Option<String>)>);

impl Args {
    pub(crate) fn get(&self, name: &str) -> Option<&Option<String>> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    pub(crate) fn declare(&mut self, name: String, value: Option<String>) {
        self.0.retain(|(k, _)| *k != name);
        self.0.push((name, value));
    }
}

impl Env for Args {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.get(name)?.as_deref()
    }
}

/// A stage's variables: its step environment, where ENV and every ARG
/// with a value were set in order (an unset ARG expands to nothing).
pub(crate) struct StageEnv<'a> {
    pub env: &'a [String],
}

impl Env for StageEnv<'_> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find_map(|entry| match entry.split_once('=') {
                Some((k, v)) if k == name => Some(v),
                None if entry == name => Some(""),
                _ => None,
            })
    }
}

/// Sets `name=value` in an env list, replacing an earlier entry in place
/// (docker keeps the original position).
pub(crate) fn set_env(env: &mut Vec<String>, name: &str, value: &str) {
    let entry = format!("{name}={value}");
    match env
        .iter_mut()
        .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == name)
    {
        Some(slot) => *slot = entry,
        None => env.push(entry),
    }
}

/// The value `env` gives `name`.
pub(crate) fn env_value<'e>(env: &'e [String], name: &str) -> Option<&'e str> {
    env.iter()
        .filter_map(|e| e.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether `env` has an entry for `name`.
pub(crate) fn has_env(env: &[String], name: &str) -> bool {
    env.iter()
        .any(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == name)
}
