//! The worker: kiln's implementation of the solver's [`kiln_solver::Worker`]
//! with the runtime and the store. It turns each vertex into a result:
//! images into their unpacked layers, the context into a filtered view,
//! RUN into a sandbox whose upper directory becomes a layer, COPY/ADD/
//! WORKDIR into file operations on an overlay whose upper directory
//! becomes a layer. Steps go through the build cache first
//! ([`cache`]).

mod cache;
mod cache_mounts;
mod context_view;
pub(crate) mod copy;
mod dirs;
mod error;
mod exec;
mod file;
pub(crate) mod git;
pub(crate) mod http;
mod layers;
mod network;
pub(crate) mod previous;
mod secrets;
mod sources;
mod ssh_agent;
mod vertex;

pub(crate) use cache::{BuildCache, CachePolicy};
pub(crate) use cache_mounts::cache_mount_key;
pub(crate) use error::WorkerError;
pub(crate) use layers::{Output, archive};
pub use network::BuildNetwork;
pub(crate) use network::Networks;
pub(crate) use secrets::{Secret, Secrets};
pub(crate) use ssh_agent::SshAgents;
pub(crate) use vertex::Worker;
