//! Integration tests of the `kiln` binary: one test binary, one module per
//! command. Tests drive the real executable and read what a user reads.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod add_git;
mod add_url;
mod build;
mod build_checks;
mod builder;
mod cache;
mod check;
mod copy_reuse;
mod crash;
mod day_one;
mod device;
mod help;
mod http;
mod insecure;
mod interop;
mod isolation;
mod network;
mod parse;
mod progress;
mod registry;
mod remote_cache;
mod rootless;
mod run;
mod ssh;
mod store;
mod support;
