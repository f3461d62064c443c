//! The build context as a RUN bind mount sees it: without the paths
//! `.dockerignore` excludes, as BuildKit (which only ever receives the
//! included files) shows it. The context directory is used in place as an
//! overlay lower, under a layer of whiteouts — one character device 0:0
//! per excluded path (a whole excluded directory is one whiteout unless an
//! exception re-includes something below it) — so nothing is copied.

use kiln_dockerignore::{DirState, Matcher};
use rustix::fs::{FileType, Mode};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Fills the empty directory `whiteouts` with a whiteout for every path of
/// `context` that `ignore` excludes.
pub(crate) fn hide_ignored(context: &Path, ignore: &Matcher, whiteouts: &Path) -> io::Result<()> {
    let meta = std::fs::metadata(context)?;
    super::dirs::set_owner_and_mode(whiteouts, meta.uid(), meta.gid(), meta.mode())?;
    walk(context, "", ignore, &ignore.root(), whiteouts)
}

fn walk(
    context: &Path,
    rel: &str,
    ignore: &Matcher,
    state: &DirState,
    whiteouts: &Path,
) -> io::Result<()> {
    for entry in std::fs::read_dir(context.join(rel))? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            // Patterns are text; a name that is not cannot match one.
            continue;
        };
        let path = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        if entry.file_type()?.is_dir() {
            let verdict = ignore.enter_dir(&path, state);
            if verdict.skip {
                whiteout(&whiteouts.join(&path))?;
            } else {
                // The directory must show up in the whiteout layer with the
                // context's own metadata: the topmost layer holding a
                // directory decides what the merged one looks like.
                let dir = whiteouts.join(&path);
                std::fs::create_dir(&dir)?;
                let meta = entry.metadata()?;
                super::dirs::set_owner_and_mode(&dir, meta.uid(), meta.gid(), meta.mode())?;
                walk(context, &path, ignore, &verdict.state, whiteouts)?;
            }
        } else if ignore.is_excluded(&path, state) {
            whiteout(&whiteouts.join(&path))?;
        }
    }
    Ok(())
}

/// An overlay whiteout: a character device with device number 0:0.
fn whiteout(path: &Path) -> io::Result<()> {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        FileType::CharacterDevice,
        Mode::empty(),
        0,
    )?;
    Ok(())
}
