//! Cache keys (docs/architecture.md, "Cache keys"): what a step's result
//! depends on, hashed. A key is sha256 over a versioned encoding of
//!
//! - the op, encoded exactly as for its vertex digest ([`crate::digest`]),
//!   but with each input's *result* in place of the input vertex's digest:
//!   the content identity of the file system it produced (a chain ID).
//!   Keys are therefore content-based: a step whose inputs came out
//!   byte-identical stays cached even when an earlier step re-ran;
//! - for inputs that are only read through selections (a `COPY` source,
//!   the build context under a bind mount), no result at all, but the
//!   content digest of exactly the selected files, one per use. A `COPY
//!   src/ …` therefore does not miss when `docs/` changes, and a
//!   `COPY --from=build /out/app …` stays cached when `build` re-ran and
//!   made the same `/out/app`.
//!
//! What is never in a key: step names and lines, host paths, timestamps,
//! secrets' values, proxy variables ([`crate::Exec::proxy_env`], as
//! BuildKit keeps them out of its keys), `Debug` output, map order.
//!
//! [`key_parts`] gives the same inputs labelled, for `--explain`.
//!
//! Boundary: turning results and selection digests into a key. Computing
//! selection digests (reading files) is the worker's.

use crate::digest::encode_op;
use crate::encode::Encoder;
use crate::op::Op;
use kiln_oci::Digest;
use parts::parts_of_op;
use std::collections::BTreeMap;

/// The first bytes of every key encoding; bumped whenever what goes into
/// a key, or how, changes, so an old key can never match a new meaning.
pub const VERSION: &str = "kiln-cachekey-v3";

/// What one input of a vertex contributes to its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputKey {
    /// The input's whole result, by content identity (a chain ID).
    Result(Digest),
    /// The input is read only through [`Selection`]s, which carry its
    /// content.
    Selected,
}

/// The content of what one use of an input reads: a `COPY`'s sources, a
/// bind mount's source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// Which use: the file action's or the mount's index in the op.
    pub use_index: usize,
    /// The input it reads.
    pub input: usize,
    /// Digest over the selected paths: names, types, modes, owners, link
    /// targets and content (not timestamps, as BuildKit's content hashes).
    pub digest: Digest,
}

/// The cache key of `op` run on `inputs` (in the vertex's input order)
/// reading `selections`.
pub fn cache_key(op: &Op, inputs: &[InputKey], selections: &[Selection]) -> Digest {
    let mut e = Encoder::new(VERSION);
    encode_op(&mut e, op);
    e.list(inputs, |e, input| match input {
        InputKey::Result(digest) => {
            e.tag(0);
            e.str(digest.as_str());
        }
        InputKey::Selected => e.tag(1),
    });
    let mut sorted: Vec<&Selection> = selections.iter().collect();
    sorted.sort_by_key(|s| (s.use_index, s.input));
    e.list(&sorted, |e, s| {
        e.usize(s.use_index);
        e.usize(s.input);
        e.str(s.digest.as_str());
    });
    Digest::of(&e.into_bytes())
}

/// The key's inputs, labelled for people: `command`, `env PATH`,
/// `workdir`, `mount 0`, `input 0`, `selection 1`… Two keys differ exactly
/// when some labelled part differs (or a part exists in one only).
pub fn key_parts(
    op: &Op,
    inputs: &[InputKey],
    selections: &[Selection],
) -> BTreeMap<KeyPart, String> {
    let mut parts = parts_of_op(op);
    for (i, input) in inputs.iter().enumerate() {
        if let InputKey::Result(digest) = input {
            parts.insert(KeyPart::Input(i), digest.to_string());
        }
    }
    for s in selections {
        parts.insert(
            KeyPart::Files {
                use_index: s.use_index,
                input: s.input,
            },
            s.digest.to_string(),
        );
    }
    parts
}

mod parts;
pub use parts::KeyPart;
#[cfg(test)]
mod tests;
