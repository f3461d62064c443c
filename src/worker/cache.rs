//! The build cache, worker side: before a RUN or file step runs, its cache
//! key is derived ([`kiln_solver::cache_key`]) from the op, the content
//! identity of its inputs' results, and the digests of exactly the files
//! it reads from the build context or another stage; a usable record under
//! that key is the step's result. After a step runs, its new layer is
//! filed under the key.
//!
//! - A layer stack's identity is its top chain ID: the same file system
//!   content, however it was reached.
//! - The context's files are hashed through the store's stat cache, so an
//!   unchanged context costs one `statx` per selected file.
//! - Selections from another stage are memoized per (chain ID, action):
//!   snapshots never change, so neither does what a copy reads from them.
//! - A step whose context files changed *while it ran* gets no record: the
//!   key it was looked up under would no longer describe its result.
//!
//! Every key's labelled parts are kept for the build's trail, which
//! `--explain` compares with the last build's.

use super::copy::{self, CopySource, Selected, SourceOwnership};
use super::error::{GraphError, WorkerError};
use super::file::Recall;
use super::layers::{ContextDir, Output};
use super::previous::PreviousTrail;
use super::vertex::Worker;
use crate::export::Layer;
use kiln_cache::{CacheRecord, RecordLayer, StatCache, TrailStep};
use kiln_oci::Digest;
use kiln_solver::{
    Copy, ExecMount, FileAction, FileOp, InputKey, Job, KeyPart, Op, Selection, Solved, cache_key,
    key_parts,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// What the cache may be used for in this build.
#[derive(Debug, Default)]
pub(crate) struct CachePolicy {
    /// `--no-cache`: run every step (results are still recorded).
    pub disabled: bool,
    /// `--no-cache-filter`: run every step of these stages.
    pub no_cache_stages: BTreeSet<String>,
    /// The stage of each vertex (by id), as the frontend lowered it.
    pub stage_of: Vec<Option<String>>,
}

/// The cache state of one build.
#[derive(Debug)]
pub(crate) struct BuildCache {
    pub policy: CachePolicy,
    /// The context's stat cache, saved when the build ends.
    pub stat_cache: Mutex<StatCache>,
    /// Each keyed step (by vertex id), and whether it ran.
    pub trail: Mutex<BTreeMap<usize, (TrailStep, bool)>>,
    /// The trail of the last build of the same name.
    pub previous: PreviousTrail,
    /// `--cache-from` caches, in order: the first that has a key's record
    /// gives it, brought into the store when a step looks the key up.
    pub imported: Vec<crate::remotecache::Imported>,
    /// The steps (by vertex id) whose result came from an imported cache,
    /// and which one (for `--explain`).
    pub imported_hits: Mutex<BTreeMap<usize, String>>,
    /// What this build's `COPY --from` steps selected from stages (memo
    /// key → digest), for `--cache-to`.
    pub selections: Mutex<BTreeMap<Digest, Digest>>,
}

/// The record of a step that added `added` (none: an empty step).
fn record_of(added: Option<&Layer>, description: &str) -> CacheRecord {
    CacheRecord {
        layers: added
            .iter()
            .map(|l| RecordLayer {
                empty: l.empty,
                chain_id: l.chain_id.clone(),
                diff_id: l.diff_id.clone(),
                descriptor: l.descriptor.clone(),
            })
            .collect(),
        created: added
            .and_then(|l| l.created.clone())
            .unwrap_or_else(kiln_oci::now_rfc3339_nano),
        description: description.to_string(),
    }
}

/// A step's key, what it is made of, and what it read from the context.
struct Keyed {
    key: Digest,
    parts: BTreeMap<KeyPart, String>,
    /// The context files it reads (path → digest), listed only when the
    /// step runs ([`Worker::list_files`]): a cached step's are in the last
    /// trail already.
    files: BTreeMap<String, String>,
    /// The context selections (the copy action, real or made for a bind
    /// mount, and the digest it gave), re-checked after the step ran.
    context_reads: Vec<(Copy, Digest)>,
    /// `files` are what a file step's last action reads from the context
    /// (its one read of the context), so they give each copied file's
    /// content by its path there.
    files_of_last_copy: bool,
}

impl BuildCache {
    /// Whether vertex `vertex` may use a cached result (not under
    /// `--no-cache`, nor in a stage `--no-cache-filter` names).
    pub(crate) fn reuse(&self, vertex: usize) -> bool {
        if self.policy.disabled {
            return false;
        }
        match self.policy.stage_of.get(vertex) {
            Some(Some(stage)) => !self.policy.no_cache_stages.contains(stage),
            _ => true,
        }
    }
}

impl Worker {
    /// Solves a RUN or file step through the cache.
    pub(crate) fn cached(&self, job: &Job<'_, Output>) -> Result<Solved<Output>, WorkerError> {
        let mut keyed = self.key(job)?;
        let base = job.inputs[0].layers()?;
        // Another build running the same step: wait for it, then use its
        // record. Held until the record is written.
        let Some(_step_lock) = self
            .store
            .lock_step(&keyed.key, &|| job.cancel.is_canceled())?
        else {
            return Err(WorkerError::Canceled);
        };
        let step = &job.vertex.name;
        for (part, value) in &keyed.parts {
            tracing::trace!(%step, %part, %value, "cache key part");
        }
        let reuse = self.cache.reuse(job.id.0);
        if !reuse {
            tracing::info!(%step, key = %keyed.key, "cache not used (--no-cache or --no-cache-filter)");
        }
        let record = match reuse {
            true => self
                .store
                .lookup_record(&keyed.key)
                .or_else(|| self.imported_record(job, &keyed.key)),
            false => None,
        };
        if let Some(record) = record {
            tracing::info!(%step, key = %keyed.key, "cache hit");
            self.note(job, &mut keyed, false);
            return Ok(Solved::Cached(Output::Layers(Arc::new(
                self.stack(base, &record),
            ))));
        }
        // The step runs: its files go to the trail, and tell a copy which
        // content each source has. Only when they are what the key hashed
        // (the context did not change meanwhile), and not with
        // `--no-cache`: a rebuild without the cache compares what it
        // reuses byte for byte, trusting no digest the cache remembers.
        if reuse {
            tracing::info!(%step, key = %keyed.key, "cache miss: no record of this key (--explain names what changed)");
        }
        let as_keyed = self.list_files(job, &mut keyed)?;
        let sources = match keyed.files_of_last_copy && as_keyed && self.cache.reuse(job.id.0) {
            true => keyed.files.clone(),
            false => BTreeMap::new(),
        };
        self.note(job, &mut keyed, true);
        let output = match &job.vertex.op {
            Op::Exec(exec) => self.exec(job, exec)?,
            Op::File(file) => {
                let recall = Recall {
                    earlier: self.earlier_result(job),
                    sources: &sources,
                };
                let (output, written) = self.file(job, file, recall)?;
                if let Ok(mut trail) = self.cache.trail.lock()
                    && let Some((step, _)) = trail.get_mut(&job.id.0)
                {
                    step.written = written;
                }
                output
            }
            _ => return Err(GraphError::NotAStep.into()),
        };
        if self.context_unchanged(job, &keyed.context_reads)? {
            let record = record_of(output.layers()?.last(), &job.vertex.name);
            self.store.put_record(&keyed.key, &record)?;
            tracing::debug!(%step, key = %keyed.key, "result recorded");
        } else {
            tracing::info!(%step, key = %keyed.key, "result not recorded: context files it read changed while it ran");
        }
        Ok(Solved::Done(output))
    }

    /// Solves a fetched source whose content is known before the fetch
    /// (a git commit, a URL with `--checksum`) through the cache: `key`
    /// names that content, and `fetch` makes its one layer when no record
    /// has it.
    pub(super) fn cached_source(
        &self,
        job: &Job<'_, Output>,
        key: &Digest,
        fetch: impl FnOnce() -> Result<Layer, WorkerError>,
    ) -> Result<Output, WorkerError> {
        if self.cache.reuse(job.id.0)
            && let Some(record) = self.store.lookup_record(key)
        {
            return Ok(Output::Layers(Arc::new(self.stack(&[], &record))));
        }
        let layer = fetch()?;
        self.store
            .put_record(key, &record_of(Some(&layer), &job.vertex.name))?;
        Ok(Output::Layers(Arc::new(vec![layer])))
    }

    /// The record under `key` in a `--cache-from` cache, brought into the
    /// store (blobs checked, snapshots unpacked, the record filed) so it is
    /// a local hit from now on. A cache that fails here is passed over.
    fn imported_record(&self, job: &Job<'_, Output>, key: &Digest) -> Option<CacheRecord> {
        let (id, step) = (job.id.0, &job.vertex.name);
        for cache in &self.cache.imported {
            let Some(record) = cache.record(key) else {
                continue;
            };
            let brought = cache.bring(&self.store, record).and_then(|record| {
                self.store
                    .put_record(key, &record)
                    .map_err(|e| e.to_string())
            });
            match brought {
                Ok(()) => {
                    tracing::info!(%step, %key, source = %cache.source(), "cache hit in an imported cache");
                    if let Ok(mut hits) = self.cache.imported_hits.lock() {
                        hits.insert(id, cache.source().to_string());
                    }
                    return self.store.lookup_record(key);
                }
                Err(e) => {
                    tracing::warn!(%step, %key, source = %cache.source(), error = %e, "imported cache record not usable");
                    job.log(
                        kiln_solver::Stream::Stderr,
                        format!(
                            "kiln: the imported cache {} has this step, but not usably: {e}\n",
                            cache.source()
                        ),
                    );
                }
            }
        }
        None
    }

    /// `base` plus the layers of a record.
    fn stack(&self, base: &[Layer], record: &CacheRecord) -> Vec<Layer> {
        let mut layers = base.to_vec();
        layers.extend(record.layers.iter().map(|l| Layer {
            created: Some(record.created.clone()),
            empty: l.empty,
            snapshot: match l.empty {
                true => PathBuf::new(),
                false => self.store.snapshot_path(&l.chain_id),
            },
            chain_id: l.chain_id.clone(),
            diff_id: l.diff_id.clone(),
            descriptor: l.descriptor.clone(),
        }));
        layers
    }

    /// Adds a source vertex (a base image) to the trail: it has no key,
    /// but its parts say which digest it was.
    pub(crate) fn note_source(&self, job: &Job<'_, Output>) {
        let step = TrailStep {
            name: job.vertex.name.clone(),
            key: None,
            parts: labelled(key_parts(&job.vertex.op, &[], &[])),
            files: BTreeMap::new(),
            written: BTreeMap::new(),
        };
        if let Ok(mut trail) = self.cache.trail.lock() {
            trail.insert(job.id.0, (step, false));
        }
    }

    /// Adds a keyed step to the trail (taking its parts and files, which
    /// can be large).
    fn note(&self, job: &Job<'_, Output>, keyed: &mut Keyed, ran: bool) {
        let step = TrailStep {
            name: job.vertex.name.clone(),
            key: Some(keyed.key.clone()),
            parts: labelled(std::mem::take(&mut keyed.parts)),
            files: std::mem::take(&mut keyed.files),
            written: BTreeMap::new(),
        };
        if let Ok(mut trail) = self.cache.trail.lock() {
            trail.insert(job.id.0, (step, ran));
        }
    }

    /// Derives the step's cache key.
    fn key(&self, job: &Job<'_, Output>) -> Result<Keyed, WorkerError> {
        let mut inputs: Vec<InputKey> = job
            .inputs
            .iter()
            .map(|input| match input {
                Output::Layers(layers) => InputKey::Result(identity(layers)),
                Output::Context(_) => InputKey::Selected,
            })
            .collect();
        let mut selections = Vec::new();
        let mut context_reads = Vec::new();
        let mut select = |use_index: usize, input: usize, action: &Copy| {
            let digest = match job.inputs.get(input) {
                Some(Output::Context(context)) => {
                    let selected = self.select_context(context, action, false)?;
                    context_reads.push((action.clone(), selected.digest.clone()));
                    selected.digest
                }
                Some(Output::Layers(layers)) => self.select_layers(layers, action)?,
                None => {
                    return Err(WorkerError::Graph(GraphError::MissingInput {
                        what: "input",
                        input,
                    }));
                }
            };
            selections.push(Selection {
                use_index,
                input,
                digest,
            });
            Ok(())
        };
        match &job.vertex.op {
            Op::File(FileOp { actions }) => {
                for (i, action) in actions.iter().enumerate() {
                    if let FileAction::Copy(c) = action {
                        select(i, c.input, c)?;
                        if c.input != 0 {
                            inputs[c.input] = InputKey::Selected;
                        }
                    }
                }
            }
            Op::Exec(exec) => {
                for (i, mount) in exec.mounts.iter().enumerate() {
                    if let ExecMount::Bind { input, source, .. } = mount
                        && matches!(job.inputs.get(*input), Some(Output::Context(_)))
                    {
                        select(i, *input, &copy_of_path(*input, source))?;
                    }
                }
            }
            _ => {}
        }
        Ok(Keyed {
            key: cache_key(&job.vertex.op, &inputs, &selections),
            parts: key_parts(&job.vertex.op, &inputs, &selections),
            files_of_last_copy: match &job.vertex.op {
                Op::File(FileOp { actions }) => {
                    context_reads.len() == 1
                        && matches!(actions.last(), Some(FileAction::Copy(c)) if c == &context_reads[0].0)
                }
                _ => false,
            },
            files: BTreeMap::new(),
            context_reads,
        })
    }

    /// Lists the context files the step reads into `keyed.files`; whether
    /// they are what its key hashed. When they are not (the context
    /// changed since), the list stays empty: no list beats a wrong one.
    fn list_files(&self, job: &Job<'_, Output>, keyed: &mut Keyed) -> Result<bool, WorkerError> {
        // Collected in order, made a map at once: a map built from sorted
        // entries costs no comparisons, one filled entry by entry does.
        let mut files = Vec::new();
        let mut as_keyed = true;
        for (action, digest) in &keyed.context_reads {
            let Some(Output::Context(context)) = job.inputs.get(action.input) else {
                continue;
            };
            let selected = self.select_context(context, action, true)?;
            as_keyed &= &selected.digest == digest;
            files.extend(
                selected
                    .files
                    .into_iter()
                    .map(|(path, digest)| (path, digest.into_string())),
            );
        }
        if as_keyed {
            keyed.files = files.into_iter().collect();
        }
        Ok(as_keyed)
    }

    /// What `action` reads from the build context (with the files listed
    /// when `list`).
    fn select_context(
        &self,
        context: &ContextDir,
        action: &Copy,
        list: bool,
    ) -> Result<Selected, WorkerError> {
        let mut stat_cache = self
            .cache
            .stat_cache
            .lock()
            .map_err(|_| GraphError::StatCachePoisoned)?;
        Ok(copy::select(
            &CopySource {
                root: &context.root,
                ignore: context.ignore.as_ref(),
                ownership: SourceOwnership::Root,
            },
            action,
            Some(&mut stat_cache),
            list,
        )?)
    }

    /// What `action` reads from a stage: memoized, computed on a
    /// read-only view of its layers.
    fn select_layers(&self, layers: &[Layer], action: &Copy) -> Result<Digest, WorkerError> {
        const MEMO: &str = "copy-selection-v1";
        let memo_key = cache_key(
            &Op::File(FileOp {
                actions: vec![FileAction::Copy(action.clone())],
            }),
            &[InputKey::Result(identity(layers))],
            &[],
        );
        // Remembered here, else given by an imported cache (so a stage
        // that came from it need not be fetched to key the copy), else
        // read from the stage's files.
        if let Some(digest) = self
            .store
            .memo(MEMO, &memo_key)
            .and_then(|text| text.parse::<Digest>().ok())
        {
            return self.note_selection(memo_key, digest);
        }
        // An imported cache's word is taken only for a stage whose files
        // are not here (an imported hit, not fetched), and not remembered:
        // once the files are here, kiln reads them itself.
        let remote = !self.cache.imported.is_empty()
            && layers
                .iter()
                .any(|l| !l.empty && !self.store.snapshot_ready(&l.chain_id));
        let imported = remote
            .then(|| {
                self.cache
                    .imported
                    .iter()
                    .find_map(|c| c.selection(&memo_key))
            })
            .flatten();
        let digest = match imported {
            Some(digest) => digest.clone(),
            None => {
                let digest = self
                    .on_layers(layers, "the copy source", |root| {
                        let source = CopySource {
                            root,
                            ignore: None,
                            ownership: SourceOwnership::Preserve,
                        };
                        copy::select(&source, action, None, false)
                    })??
                    .digest;
                self.store.put_memo(MEMO, &memo_key, digest.as_str())?;
                digest
            }
        };
        self.note_selection(memo_key, digest)
    }

    /// Keeps selection `memo_key`'s digest for `--cache-to`; the digest.
    fn note_selection(&self, memo_key: Digest, digest: Digest) -> Result<Digest, WorkerError> {
        if let Ok(mut selections) = self.cache.selections.lock() {
            selections.insert(memo_key, digest.clone());
        }
        Ok(digest)
    }

    /// Whether the context files a step read still hash as they did when
    /// its key was derived (cheap: the stat cache answers for files that
    /// did not change).
    fn context_unchanged(
        &self,
        job: &Job<'_, Output>,
        reads: &[(Copy, Digest)],
    ) -> Result<bool, WorkerError> {
        for (action, before) in reads {
            let Some(Output::Context(context)) = job.inputs.get(action.input) else {
                continue;
            };
            if &self.select_context(context, action, false)?.digest != before {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The content identity of a layer stack: its top chain ID (empty layers
/// change nothing), or the digest of nothing for an empty file system.
pub(crate) fn identity(layers: &[Layer]) -> Digest {
    layers
        .iter()
        .rev()
        .find(|l| !l.empty)
        .map_or_else(|| Digest::of(b""), |l| l.chain_id.clone())
}

/// A copy of the contents of one path of input `input` (symlinks to it
/// followed) to `/`: how a bind mount's source is selected for its key
/// (with COPY's rules, `.dockerignore` included), and how a cache mount
/// is seeded from its `from=` stage.
pub(crate) fn copy_of_path(input: usize, source: &str) -> Copy {
    Copy::one_path(input, source, "/")
}

/// Key parts as a trail stores them: by their labels (read back with
/// [`KeyPart::parse`]).
fn labelled(parts: BTreeMap<KeyPart, String>) -> BTreeMap<String, String> {
    parts
        .into_iter()
        .map(|(part, value)| (part.to_string(), value))
        .collect()
}
