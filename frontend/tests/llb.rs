//! The LLB (BuildKit's `pb.Definition`, `kiln-llb`) that every fidelity
//! case lowers to, against fixed base images, compared with
//! `testdata/llb/fidelity.txt`: one line per op in definition order, its
//! digest and its protobuf message, after the BuildKit capabilities it
//! needs, so a change in what kiln would send a BuildKit shows as a diff
//! (`KILN_BLESS=1` rewrites it, on purpose).
//! A case that LLB cannot carry says why in its line.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod fidelity;

use prost::Message as _;
use std::fmt::Write as _;
use std::path::Path;

fn describe(case: &Path) -> String {
    let lowered = match fidelity::lowered(case) {
        Ok(l) => l,
        Err(line) => return line,
    };
    let options = kiln_llb::Options {
        session: "kiln-test-session".into(),
        ..kiln_llb::Options::default()
    };
    let llb = match kiln_llb::lower(&lowered.graph, lowered.target, &options) {
        Ok(llb) => llb,
        Err(e) => return format!("  no LLB: {e}\n"),
    };
    let needs: Vec<&str> = kiln_llb::caps::needed(&llb.definition)
        .iter()
        .map(|n| n.cap)
        .collect();
    let mut out = format!("  needs {}\n", needs.join(" "));
    for bytes in &llb.definition.def {
        let digest = kiln_oci::Digest::of(bytes);
        let op = bollard_buildkit_proto::pb::Op::decode(bytes.as_slice()).unwrap();
        let name = llb
            .definition
            .metadata
            .get(&digest.to_string())
            .and_then(|m| m.description.get("llb.customname").cloned())
            .unwrap_or_default();
        writeln!(out, "  {digest} {name:?}").unwrap();
        writeln!(out, "    {op:?}").unwrap();
    }
    out
}

#[test]
fn llb_of_every_fidelity_case_is_unchanged() {
    fidelity::assert_cases("llb/fidelity.txt", describe);
}
