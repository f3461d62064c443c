//! The root file system: one overlayfs mount of the image's snapshot
//! directories (read-only lowers) and the sandbox's fresh upper directory,
//! which collects every change the process makes — for a `RUN` step, the
//! new layer.
//!
//! Mount options travel in one page (4096 bytes) of mount data. A deep
//! image with long store paths overflows it, so when the absolute form is
//! too long the lowers are given relative to their common parent after a
//! chdir there — the same trick containerd uses.

use std::path::{Path, PathBuf};

/// The kernel copies at most one page of mount data.
const MOUNT_DATA_LIMIT: usize = 4095;

/// The overlay's directories (host paths).
#[derive(Debug, Clone)]
pub struct OverlayDirs<'a> {
    /// Read-only layers, topmost first; never empty (an empty image gets
    /// one empty directory).
    pub lowers: &'a [PathBuf],
    /// Where changes go.
    pub upper: &'a Path,
    /// overlayfs's scratch directory, on the same file system as `upper`.
    pub work: &'a Path,
    /// Mount with `userxattr` (in a user namespace: overlayfs then keeps
    /// its opaque and whiteout markers in `user.overlay.*` xattrs, which
    /// an unprivileged mounter may set; kernel 5.11 and later).
    pub userxattr: bool,
}

/// The mount data for `dirs`, and the directory to chdir into first when
/// the lowers had to be made relative.
pub fn mount_data(dirs: &OverlayDirs<'_>) -> Result<(String, Option<PathBuf>), String> {
    let absolute = data_with(dirs, dirs.lowers.iter().map(|p| p.display().to_string()));
    if absolute.len() <= MOUNT_DATA_LIMIT {
        return Ok((absolute, None));
    }
    let base = common_parent(dirs.lowers)
        .ok_or_else(|| "the layers share no parent directory".to_string())?;
    let relative = data_with(
        dirs,
        dirs.lowers
            .iter()
            .map(|p| p.strip_prefix(&base).unwrap_or(p).display().to_string()),
    );
    if relative.len() > MOUNT_DATA_LIMIT {
        return Err(format!(
            "{} layers need {} bytes of overlay options, over the kernel's {MOUNT_DATA_LIMIT}",
            dirs.lowers.len(),
            relative.len()
        ));
    }
    Ok((relative, Some(base)))
}

fn data_with(dirs: &OverlayDirs<'_>, lowers: impl Iterator<Item = String>) -> String {
    // The characters overlayfs treats specially in a lowerdir list (`:` and
    // `,`) cannot occur in store paths (hex digests under the root), but a
    // custom --root could hold them; escape `:` and `,` as the kernel's
    // option parser expects.
    let lowers: Vec<String> = lowers.map(|l| escape(&l)).collect();
    // redirect_dir, metacopy and index off: with them a rename or chmod in
    // the sandbox leaves an xattr pointing into a lower layer instead of a
    // copy, and the upper directory would no longer be a self-contained
    // layer (kernels enable them by default through config options).
    // With `userxattr` the kernel refuses redirects it would follow, and
    // `redirect_dir=off` means "follow existing ones" while the overlay
    // module's `redirect_always_follow` is on (its default): `nofollow`
    // is the same "make none" without following any.
    let (redirect, userxattr) = match dirs.userxattr {
        true => ("nofollow", ",userxattr"),
        false => ("off", ""),
    };
    format!(
        "lowerdir={},upperdir={},workdir={},redirect_dir={redirect},metacopy=off,index=off{userxattr}",
        lowers.join(":"),
        escape(&dirs.upper.display().to_string()),
        escape(&dirs.work.display().to_string()),
    )
}

fn escape(path: &str) -> String {
    path.replace('\\', "\\\\")
        .replace(':', "\\:")
        .replace(',', "\\,")
}

fn common_parent(paths: &[PathBuf]) -> Option<PathBuf> {
    let first = paths.first()?.parent()?;
    let mut base = first.to_path_buf();
    while !paths.iter().all(|p| p.starts_with(&base)) {
        base = base.parent()?.to_path_buf();
    }
    Some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lists_are_absolute() {
        let lowers = [PathBuf::from("/s/b"), PathBuf::from("/s/a")];
        let (data, chdir) = mount_data(&OverlayDirs {
            userxattr: false,
            lowers: &lowers,
            upper: Path::new("/r/upper"),
            work: Path::new("/r/work"),
        })
        .unwrap();
        assert_eq!(
            data,
            "lowerdir=/s/b:/s/a,upperdir=/r/upper,workdir=/r/work,redirect_dir=off,metacopy=off,index=off"
        );
        assert_eq!(chdir, None);
    }

    #[test]
    fn long_lists_become_relative_to_their_common_parent() {
        let base = format!("/var/lib/kiln/snapshots/{}", "x".repeat(40));
        let lowers: Vec<PathBuf> = (0..60)
            .map(|i| PathBuf::from(format!("{base}/{i:064}")))
            .collect();
        let (data, chdir) = mount_data(&OverlayDirs {
            userxattr: false,
            lowers: &lowers,
            upper: Path::new("/r/upper"),
            work: Path::new("/r/work"),
        })
        .unwrap();
        assert_eq!(chdir, Some(PathBuf::from(&base)));
        assert!(data.starts_with(&format!("lowerdir={:064}:{:064}:", 0, 1)));
        assert!(data.len() <= MOUNT_DATA_LIMIT);
    }

    #[test]
    fn too_many_layers_is_an_error_not_a_truncation() {
        let lowers: Vec<PathBuf> = (0..200)
            .map(|i| PathBuf::from(format!("/s/{i:064}")))
            .collect();
        let err = mount_data(&OverlayDirs {
            userxattr: false,
            lowers: &lowers,
            upper: Path::new("/u"),
            work: Path::new("/w"),
        })
        .unwrap_err();
        assert!(err.contains("200 layers"), "{err}");
    }

    #[test]
    fn in_a_user_namespace_the_markers_are_user_xattrs() {
        let lowers = [PathBuf::from("/s/a")];
        let (data, _) = mount_data(&OverlayDirs {
            userxattr: true,
            lowers: &lowers,
            upper: Path::new("/u"),
            work: Path::new("/w"),
        })
        .unwrap();
        assert!(
            data.ends_with(",redirect_dir=nofollow,metacopy=off,index=off,userxattr"),
            "{data}"
        );
    }

    #[test]
    fn separators_in_paths_are_escaped() {
        let lowers = [PathBuf::from("/a:b,c")];
        let (data, _) = mount_data(&OverlayDirs {
            userxattr: false,
            lowers: &lowers,
            upper: Path::new("/u"),
            work: Path::new("/w"),
        })
        .unwrap();
        assert_eq!(
            data,
            "lowerdir=/a\\:b\\,c,upperdir=/u,workdir=/w,redirect_dir=off,metacopy=off,index=off"
        );
    }
}
