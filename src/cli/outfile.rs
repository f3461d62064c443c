//! Files the user names for output (`kiln save -o`, `kiln build --iidfile`,
//! `-o type=oci|docker,dest=`), written as docker writes them: what is at
//! the path is never swapped for something else behind the user's back.
//!
//! - nothing there, or a regular file: the content goes to a temporary
//!   file beside it, is synced, and is renamed over the path, so a reader
//!   sees the old file or the whole new one, never half of it;
//! - a device, a FIFO, a socket or a symlink: written through (opened for
//!   writing, never replaced): `-o /dev/stdout` writes to standard output,
//!   `-o /dev/full` fails with ENOSPC instead of turning the host's device
//!   node into a regular file (the red team's finding, issue 20);
//! - a directory: an error naming it.

use anyhow::{Context as _, bail};
use std::io::{BufWriter, Write};
use std::path::Path;

/// Writes what `write` produces to `path` (see the module docs).
pub(crate) fn write_file(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let shown = path.display();
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => bail!("cannot write {shown}: it is a directory"),
        Ok(meta) if !meta.is_file() => {
            // Through a symlink whose target is missing, the target is made.
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)
                .with_context(|| format!("cannot write {shown}"))?;
            let mut out = BufWriter::new(file);
            write(&mut out)?;
            out.flush()
                .with_context(|| format!("cannot write {shown}"))?;
            Ok(())
        }
        Ok(_) => replace(path, write),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => replace(path, write),
        Err(e) => Err(e).with_context(|| format!("cannot write {shown}")),
    }
}

/// A new or regular file: written beside it, synced, renamed over it.
fn replace(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".kiln-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    {
        let mut out = BufWriter::new(tmp.as_file_mut());
        write(&mut out)?;
        out.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt as _;

    fn hello(out: &mut dyn Write) -> anyhow::Result<()> {
        out.write_all(b"hello")?;
        Ok(())
    }

    #[test]
    fn new_and_regular_files_are_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        write_file(&path, hello).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        std::fs::write(&path, b"an older and longer content").unwrap();
        write_file(&path, hello).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        // A failed write leaves the old file as it was, and no temp file.
        let failed = write_file(&path, |_| anyhow::bail!("no"));
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn symlinks_devices_and_fifos_are_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_file(&link, hello).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"hello");

        write_file(Path::new("/dev/null"), hello).unwrap();
        assert!(
            std::fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
        let full = write_file(Path::new("/dev/full"), hello).unwrap_err();
        assert!(format!("{full:#}").contains("/dev/full"), "{full:#}");
        assert!(
            std::fs::metadata("/dev/full")
                .unwrap()
                .file_type()
                .is_char_device()
        );

        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_file(&fifo, hello).unwrap();
        assert_eq!(reader.join().unwrap(), b"hello");
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    }

    #[test]
    fn a_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_file(dir.path(), hello).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
        assert!(err.to_string().contains(&dir.path().display().to_string()));
    }
}
