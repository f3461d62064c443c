//! Layer chain IDs (image-spec `config.md`, "Layer ChainID"): the identity
//! of a stack of layers, used to key unpacked snapshots.
//!
//! ChainID(L₀) = DiffID(L₀); ChainID(Lₙ) = sha256(ChainID(Lₙ₋₁) + " " +
//! DiffID(Lₙ)), over the digests' text forms.

use crate::digest::{Digest, Hasher};

/// The chain ID of every prefix of `diff_ids`: element `i` names the stack
/// of layers `0..=i`.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for diff_id in diff_ids {
        let next = match out.last() {
            None => diff_id.clone(),
            Some(parent) => child_chain_id(parent, diff_id),
        };
        out.push(next);
    }
    out
}

/// The chain ID of the whole stack, or `None` for no layers.
pub fn chain_id(diff_ids: &[Digest]) -> Option<Digest> {
    chain_ids(diff_ids).pop()
}

/// The chain ID of `diff_id` stacked on the chain `parent`.
pub fn child_chain_id(parent: &Digest, diff_id: &Digest) -> Digest {
    let mut hasher = Hasher::new();
    hasher.update(parent.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(diff_id.as_str().as_bytes());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_by_hand() {
        let l0 = Digest::of(b"layer 0");
        let l1 = Digest::of(b"layer 1");
        let l2 = Digest::of(b"layer 2");
        let c1 = Digest::of(format!("{l0} {l1}").as_bytes());
        let c2 = Digest::of(format!("{c1} {l2}").as_bytes());
        assert_eq!(
            chain_ids(&[l0.clone(), l1.clone(), l2.clone()]),
            [l0.clone(), c1, c2.clone()]
        );
        assert_eq!(chain_id(&[l0.clone(), l1, l2]), Some(c2));
        assert_eq!(chain_id(std::slice::from_ref(&l0)), Some(l0));
        assert_eq!(chain_id(&[]), None);
    }

    #[test]
    fn chain_id_against_a_fixed_value() {
        // sha256 of "" and of "a" stand in for two DiffIDs; the expected
        // value was computed outside Rust with
        // `printf 'sha256:e3b0… sha256:ca97…' | sha256sum`.
        let empty: Digest =
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                .parse()
                .unwrap();
        let a: Digest = "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
            .parse()
            .unwrap();
        assert_eq!(chain_id(&[empty, a]).unwrap().as_str(), EXPECTED);
    }

    const EXPECTED: &str =
        "sha256:54310b28337ccdbb5477f2808753d5b0e7c87d84187cee28a330a3e71f6c16fc";
}
