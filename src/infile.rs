//! Files kiln reads as input that the user names but whose content it does
//! not trust to be a sane file: the Dockerfile and the ignore file (from an
//! untrusted context), `--env-file`, `--secret src=`. Only a regular file is
//! read, opened without blocking (a FIFO would hang kiln, a device such as
//! `/dev/zero` would never end), and at most a bound's worth of it; a path
//! inside a build context resolves through the context's own confinement
//! (kiln-rootpath: a symlink resolves inside the context, never to a host
//! file). The red team's findings behind this are issue 20's points 2
//! and 8.

use rustix::fs::OFlags;
use std::io::{self, Read as _};
use std::path::Path;

/// What reading an input file gave.
pub(crate) enum Found {
    /// Its bytes.
    Bytes(Vec<u8>),
    /// Nothing there (or, in a context, a symlink that resolves to nothing
    /// inside it).
    Missing,
    /// Something other than a regular file.
    NotRegular,
}

/// Reads `path` (absolute, or relative to the working directory): through
/// `context`'s confinement when it lies inside that directory (which must
/// be canonical), else as the host resolves it. More than `limit` bytes is
/// an `InvalidData` error.
pub(crate) fn read(path: &Path, context: Option<&Path>, limit: u64) -> io::Result<Found> {
    let absolute = std::path::absolute(path)?;
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let inside = context.and_then(|c| Some((c, absolute.strip_prefix(c).ok()?)));
    let opened = match inside {
        Some((context, rel)) => kiln_rootpath::Root::open(context)
            .and_then(|root| root.open_in_root(rel, flags))
            .map(std::fs::File::from),
        None => rustix::fs::open(&absolute, flags, rustix::fs::Mode::empty())
            .map(std::fs::File::from)
            .map_err(io::Error::from),
    };
    let file = match opened {
        Ok(file) => file,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(Found::Missing);
        }
        Err(e) => return Err(e),
    };
    if !file.metadata()?.is_file() {
        return Ok(Found::NotRegular);
    }
    bounded(file, limit).map(Found::Bytes)
}

/// Whether `path` (absolute, or relative to the working directory) lies
/// in the directory `context`, lexically: what [`read`] resolves through
/// the context's confinement.
pub(crate) fn in_context(path: &Path, context: &Path) -> bool {
    std::path::absolute(path).is_ok_and(|p| p.starts_with(context))
}

/// Reads at most `limit` bytes of `input`; more is an `InvalidData` error.
pub(crate) fn bounded(input: impl io::Read, limit: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    input
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {limit} bytes"),
        ));
    }
    Ok(bytes)
}

/// A regular file read whole (at most `limit` bytes), or an error saying
/// what it is instead: for inputs that must exist.
pub(crate) fn read_required(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    match read(path, None, limit)? {
        Found::Bytes(bytes) => Ok(bytes),
        Found::Missing => Err(io::Error::from(io::ErrorKind::NotFound)),
        Found::NotRegular => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bounded_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"12345").unwrap();
        assert!(matches!(read(&file, None, 5).unwrap(), Found::Bytes(b) if b == b"12345"));
        let err = read(&file, None, 4).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(matches!(
            read(Path::new("/dev/zero"), None, 5).unwrap(),
            Found::NotRegular
        ));
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(matches!(read(&fifo, None, 5).unwrap(), Found::NotRegular));
        assert!(matches!(
            read(&dir.path().join("none"), None, 5).unwrap(),
            Found::Missing
        ));
        let err = read_required(&fifo, 5).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn a_context_path_resolves_inside_the_context() {
        let dir = tempfile::tempdir().unwrap();
        let context = dir.path().join("ctx");
        std::fs::create_dir(&context).unwrap();
        std::fs::write(dir.path().join("host"), b"secret").unwrap();
        std::fs::write(context.join("real"), b"inside").unwrap();
        std::os::unix::fs::symlink(dir.path().join("host"), context.join("out")).unwrap();
        std::os::unix::fs::symlink("real", context.join("in")).unwrap();
        let got = |name: &str| read(&context.join(name), Some(&context), 100).unwrap();
        assert!(matches!(got("out"), Found::Missing));
        assert!(matches!(got("in"), Found::Bytes(b) if b == b"inside"));
        // Outside the context, the host's resolution applies.
        let host = read(&context.join("out"), None, 100).unwrap();
        assert!(matches!(host, Found::Bytes(b) if b == b"secret"));
    }
}
