//! Behaviour tests of the copy engine on real directories: a source tree,
//! a destination root and an "outside" directory that nothing may touch.
//!
//! Each file covers one concern and says which BuildKit behaviour it pins
//! down. Tests that change ownership or create device nodes need root and
//! skip loudly otherwise (a failure under `CI=true`).
//!
//! Deliberate differences from BuildKit, each pinned by a test here:
//! - a relative symlink in an archive's extraction directory that climbs
//!   out is clamped at that directory (chroot semantics) instead of failing
//!   (`archive::relative_symlink_escape_is_clamped`);
//! - a parent directory created for `--parents`/`--exclude` gets its
//!   source mtime back after its contents are copied, where fsutil leaves
//!   the time of the last write (`filters::parents_keep_source_metadata`).

mod archive;
mod dest;
mod filters;
mod fixture;
mod make;
mod owner;
mod select;
mod sources;
mod tree;
