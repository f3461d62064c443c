//! kiln's sandbox: one core behind `RUN` steps and `kiln run`.
//!
//! A [`RunSpec`] (never a graph type) becomes a process in fresh mount, PID,
//! UTS, IPC, cgroup and (optionally) network namespaces, on an overlay of
//! read-only snapshot directories plus a fresh upper directory, with docker's
//! default capabilities, seccomp profile, masked paths and a built-in init as
//! PID 1.

pub mod caps;
mod chroot;
pub mod device;
pub mod emulate;
pub mod rootfs;
pub mod spec;
pub mod syscall;
pub mod user;
pub mod userns;

pub use device::Device;
pub use emulate::Emulator;
pub use spec::{Mount, Network, Resources, Rootfs, RunSpec, env_key};
pub mod bundle;
pub mod cgroups;
mod fds;
pub mod init;
pub mod isolation;
mod network;
mod process;
pub mod sandbox;
pub mod seccomp;
mod spawn;
mod status;
mod stubs;
mod tty;
pub mod view;

pub use isolation::Isolation;
pub use sandbox::{Exit, RuntimeError, Sandbox, Stdio, Stubs, remove_stale};
