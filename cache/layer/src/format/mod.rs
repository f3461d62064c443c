//! The tar format as OCI layers use it: POSIX.1-2001 pax (ustar headers plus
//! `x` extended-header records), read with the GNU extensions other tools
//! emit (`L`/`K` long names, base-256 numbers).
//!
//! The tar crate encodes and decodes single 512-byte headers; the framing
//! around them (extended records, padding, the end-of-archive blocks) is
//! here, so that both directions are under our control: the writer must be
//! byte-for-byte deterministic, and the reader must not buffer unbounded
//! input or disagree with Go's `archive/tar` (what containerd, BuildKit and
//! docker use) about where an entry's data ends.

pub(crate) mod header;
pub(crate) mod pax;
pub(crate) mod reader;
pub(crate) mod sparse;

/// Size of a tar block.
pub const BLOCK: usize = 512;

/// Bytes of padding after `len` bytes of data, up to the next block.
pub(crate) fn padding(len: u64) -> usize {
    let rem = (len % BLOCK as u64) as usize;
    if rem == 0 { 0 } else { BLOCK - rem }
}

/// What an entry is, with what its header carries besides common metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file with `size` bytes of data following the header.
    Regular {
        /// Bytes of data.
        size: u64,
    },
    /// A directory.
    Directory,
    /// A symbolic link to `target` (not interpreted).
    Symlink {
        /// The link's text.
        target: Vec<u8>,
    },
    /// Another name for the earlier entry `target`.
    Hardlink {
        /// The earlier entry's name, as written.
        target: Vec<u8>,
    },
    /// A character device.
    Char {
        /// Device major number.
        major: u32,
        /// Device minor number.
        minor: u32,
    },
    /// A block device.
    Block {
        /// Device major number.
        major: u32,
        /// Device minor number.
        minor: u32,
    },
    /// A named pipe.
    Fifo,
}

/// One archive member, as written or read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The name. Written without a trailing `/` (the encoder adds it for
    /// directories); read as it is in the archive.
    pub path: Vec<u8>,
    /// What it is.
    pub kind: Kind,
    /// Permission bits with setuid, setgid and sticky (`07777`).
    pub mode: u32,
    /// Owner id.
    pub uid: u64,
    /// Group id.
    pub gid: u64,
    /// Seconds since the epoch (whole seconds: sub-second times are not
    /// archived, which keeps the output independent of file system
    /// timestamp granularity).
    pub mtime: i64,
    /// Sorted `(name, value)` pairs, as PAX `SCHILY.xattr.` records.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_to_blocks() {
        assert_eq!(padding(0), 0);
        assert_eq!(padding(1), 511);
        assert_eq!(padding(512), 0);
        assert_eq!(padding(513), 511);
    }
}
