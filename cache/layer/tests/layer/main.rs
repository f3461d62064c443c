//! Integration tests of the layer codec on real file systems, as root:
//! round trips, determinism, overlay upper dirs through real overlay
//! mounts, interop with GNU tar, and a suite of malicious layers.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod common;
mod determinism;
mod interop;
mod overlay;
mod roundtrip;
mod slip;
