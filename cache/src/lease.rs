//! Leases: a process that is adding content (a load, an import, a build)
//! holds a shared lock on `leases.lock` for as long as its new blobs are
//! not yet reachable from a tag; `prune` takes the lock exclusively, so it
//! never collects a blob that a running writer is about to tag. std's
//! `File::lock_shared`/`lock` are `flock(2)` locks: released when the
//! process dies, so a killed kiln never blocks pruning for ever.

use crate::error::{IoContext as _, StoreError};
use crate::layout::Store;
use std::fs::File;

/// A held lease; dropping it releases the lock.
#[derive(Debug)]
pub struct Lease {
    _file: File,
}

impl Store {
    fn lease_file(&self) -> Result<File, StoreError> {
        let path = self.root().join("leases.lock");
        crate::fsutil::open_lock_file(&path).at("cannot open", &path)
    }

    /// Takes a shared lease: prune waits until it is dropped.
    pub fn lease(&self) -> Result<Lease, StoreError> {
        let file = self.lease_file()?;
        file.lock_shared()
            .at("cannot lock", self.root().join("leases.lock"))?;
        Ok(Lease { _file: file })
    }

    /// Takes the exclusive lease that garbage collection needs: waits for
    /// every writer to finish.
    pub(crate) fn exclusive_lease(&self) -> Result<Lease, StoreError> {
        let file = self.lease_file()?;
        file.lock()
            .at("cannot lock", self.root().join("leases.lock"))?;
        Ok(Lease { _file: file })
    }
}
