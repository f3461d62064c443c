//! The vertex digests, cache keys and `--explain` key parts of every
//! fidelity case (kiln's own in `testdata/fidelity/cases`, the shared
//! samples in `$KILN_SHARED_DIR/fidelity/cases`), lowered against fixed
//! base images and keyed on fixed inputs, compared with
//! `testdata/keys/fidelity.txt`. A change to the graph's types that moves
//! any of them would invalidate every store's cache (or make `--explain`
//! misread an old trail): such a change must bump the encoding's version
//! and be blessed on purpose (`KILN_BLESS=1`), never slip in.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod fidelity;

use kiln_oci::Digest;
use kiln_solver::{InputKey, Op, VertexId, cache_key, key_parts};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One case's lines: every vertex's digest, and for steps the key on
/// fixed inputs and its labelled parts.
fn describe(case: &Path) -> String {
    let lowered = match fidelity::lowered(case) {
        Ok(l) => l,
        Err(line) => return line,
    };
    let digests = lowered.graph.digests();
    let mut out = String::new();
    for (i, digest) in digests.iter().enumerate() {
        let vertex = lowered.graph.vertex(VertexId(i));
        writeln!(out, "  v{i} {digest} {}", vertex.name).unwrap();
        let inputs: Vec<InputKey> = (0..vertex.inputs.len())
            .map(|n| InputKey::Result(Digest::of(format!("input {n}").as_bytes())))
            .collect();
        if matches!(vertex.op, Op::Exec(_) | Op::File(_)) {
            writeln!(out, "    key {}", cache_key(&vertex.op, &inputs, &[])).unwrap();
        }
        // By label, as a build's trail stores them.
        let parts: BTreeMap<String, String> = key_parts(&vertex.op, &inputs, &[])
            .into_iter()
            .map(|(part, value)| (part.to_string(), value))
            .collect();
        for (label, value) in parts {
            writeln!(out, "    {label}: {value:?}").unwrap();
        }
    }
    out
}

#[test]
fn keys_of_every_fidelity_case_are_unchanged() {
    fidelity::assert_cases("keys/fidelity.txt", describe);
}
