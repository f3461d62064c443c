//! Build trails: what each step of the last build of a name (a tag, or a
//! Dockerfile and target) was keyed on, in `cache-v1/trails/`. The next
//! build of the same name compares its steps with these to say why a
//! step missed the cache (`kiln build --explain`), and a file step that
//! runs again learns from it what its earlier result's files hold.
//!
//! Boundary: a trail is plain data (step names, keys, labelled key parts
//! and file digests) written and read whole; what they mean is the
//! caller's.

use crate::error::{IoContext as _, StoreError};
use crate::fsutil::write_atomic;
use crate::layout::Store;
use kiln_oci::Digest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where trails live, below the store root.
pub const TRAILS_DIR: &str = "cache-v1/trails";

/// The steps of one build.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trail {
    /// What was built (tags, or the Dockerfile and target).
    pub name: String,
    /// Its steps, in graph order.
    pub steps: Vec<TrailStep>,
}

/// One step and what its cache key was made of.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailStep {
    /// The step as progress names it (`[build 2/5] RUN make`).
    pub name: String,
    /// Its cache key.
    pub key: Option<Digest>,
    /// Labelled parts of the key other than files: the instruction,
    /// environment entries, the base's result, mounts.
    pub parts: BTreeMap<String, String>,
    /// Files the step read from its sources: path → content digest. Like
    /// `written`, a function of the key; a step that was cached has none of
    /// its own and takes them from the replaced trail.
    pub files: BTreeMap<String, String>,
    /// Regular files the step wrote whose content its key fixes: path in
    /// the step's file system → content digest. Like the key's parts, a
    /// function of the key: every result recorded under it holds these
    /// files. Empty when unknown (the step was cached, or its copy did not
    /// read the build context).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub written: BTreeMap<String, String>,
}

impl Store {
    fn trail_path(&self, name: &str) -> PathBuf {
        self.root()
            .join(TRAILS_DIR)
            .join(format!("{}.json", Digest::of(name.as_bytes()).encoded()))
    }

    /// The last trail saved under `name`, if any (an unreadable one counts
    /// as none: it only feeds explanations).
    pub fn trail(&self, name: &str) -> Option<Trail> {
        let bytes = std::fs::read(self.trail_path(name)).ok()?;
        serde_json::from_slice::<Trail>(&bytes)
            .ok()
            .filter(|t| t.name == name)
    }

    /// Saves `trail`, replacing the previous one of its name.
    ///
    /// A trail is a function of its steps' names and keys (a key covers
    /// every part and file of its step, and fixes what it wrote), so their
    /// digest, kept beside it, tells an unchanged rebuild that there is
    /// nothing to write: it then neither serializes nor syncs the
    /// (possibly large) trail. The one thing this forgoes: written files
    /// learnt by a step that ran again with an unchanged key (`--no-cache`)
    /// are not added to a saved trail that lacks them.
    ///
    /// A step without `files` or `written` files (one that was cached:
    /// nothing was listed or written) takes those of the replaced trail's
    /// step with the same key, as they depend on the key alone.
    pub fn save_trail(&self, trail: &mut Trail) -> Result<(), StoreError> {
        let path = self.trail_path(&trail.name);
        let sidecar = path.with_extension("keys");
        let mut fingerprint = kiln_oci::Hasher::new();
        for step in &trail.steps {
            for text in [
                step.name.as_str(),
                step.key.as_ref().map_or("", |k| k.as_str()),
            ] {
                fingerprint.update(&(text.len() as u64).to_be_bytes());
                fingerprint.update(text.as_bytes());
            }
        }
        let fingerprint = fingerprint.finish().to_string();
        if path.is_file() && std::fs::read_to_string(&sidecar).ok() == Some(fingerprint.clone()) {
            return Ok(());
        }
        carry_by_key(self.trail(&trail.name).unwrap_or_default(), trail);
        let dir = self.root().join(TRAILS_DIR);
        std::fs::create_dir_all(&dir).at("cannot create", &dir)?;
        let bytes = serde_json::to_vec(trail).map_err(|e| StoreError::Format {
            what: "build trail",
            path: path.clone(),
            message: e.to_string(),
        })?;
        let tmp = self.root().join("tmp");
        write_atomic(&tmp, &path, &bytes).at("cannot write", &path)?;
        write_atomic(&tmp, &sidecar, fingerprint.as_bytes()).at("cannot write", &sidecar)
    }
}

/// Gives each step of `trail` without files or written files those of a
/// step with the same key: another step of `trail` (two stages can make
/// the same step; one runs, the other waits and is cached), else the
/// step of `replaced`.
fn carry_by_key(replaced: Trail, trail: &mut Trail) {
    // Per key, the lists known: `files` and `written` of a step.
    let mut by_key: BTreeMap<Digest, TrailStep> = BTreeMap::new();
    for step in replaced
        .steps
        .into_iter()
        .chain(trail.steps.iter().cloned())
    {
        let Some(key) = step.key.clone() else {
            continue;
        };
        let known = by_key.entry(key).or_default();
        if !step.files.is_empty() {
            known.files = step.files;
        }
        if !step.written.is_empty() {
            known.written = step.written;
        }
    }
    for step in &mut trail.steps {
        let Some(known) = step.key.as_ref().and_then(|k| by_key.get(k)) else {
            continue;
        };
        if step.files.is_empty() {
            step.files = known.files.clone();
        }
        if step.written.is_empty() {
            step.written = known.written.clone();
        }
    }
}
