//! `--chmod`: the permission bits a copied entry gets.
//!
//! Without `--chmod` an entry keeps its source's bits, set-user-ID,
//! set-group-ID and sticky included (fsutil `copyFileInfo` chmods to the
//! source's `os.FileMode`). An octal `--chmod` replaces all twelve bits of
//! every copied file and directory: fsutil builds the new mode from the
//! value's permission bits plus its own `S_ISUID`/`S_ISGID`/`S_ISVTX`, so
//! `--chmod=755` on a setuid source drops the setuid bit and `--chmod=4755`
//! sets it. A symbolic `--chmod` (Dockerfile 1.14) is applied per entry to
//! the source's bits, `X` counting directories as executable, as chmod(1)
//! does. Symlinks are never chmodded (Linux has no mode for them).
//!
//! Directories that only exist because a copy needs a parent (the
//! destination and its missing ancestors) are not copied entries: they get
//! an octal `--chmod`'s permission bits (no special bit), 0755 otherwise
//! (fsutil's `Copy` with a mode since BuildKit v0.21; docker 20.10 made
//! them 0755 always). See `Run::made_dir_mode`.
//!
//! Boundary: computing bits. Setting them is [`super::meta`].

use kiln_solver::{Mode, SymbolicMode};

/// How the permission bits of copied entries are chosen.
#[derive(Debug, Clone)]
pub(super) enum Chmod {
    /// Keep the source's bits.
    Keep,
    /// Replace them with these (at most `0o7777`).
    Octal(u32),
    /// Apply a symbolic mode to each entry's own bits.
    Symbolic(SymbolicMode),
}

impl Chmod {
    /// The action's `--chmod` (parsed once, by the frontend).
    pub fn new(mode: Option<&Mode>) -> Chmod {
        match mode {
            None => Chmod::Keep,
            Some(Mode::Octal(bits)) => Chmod::Octal(bits & 0o7777),
            Some(Mode::Symbolic(symbolic)) => Chmod::Symbolic(symbolic.clone()),
        }
    }

    /// The bits for an entry whose source bits are `source` (`0o7777` at
    /// most) and which is a directory when `is_dir`.
    pub fn apply(&self, source: u32, is_dir: bool) -> u32 {
        match self {
            Chmod::Keep => source & 0o7777,
            Chmod::Octal(bits) => *bits,
            Chmod::Symbolic(mode) => mode.apply(source & 0o7777, is_dir),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chmod(mode: Mode) -> Chmod {
        Chmod::new(Some(&mode))
    }

    #[test]
    fn keep_preserves_special_bits() {
        let keep = Chmod::new(None);
        assert_eq!(keep.apply(0o4755, false), 0o4755);
        assert_eq!(keep.apply(0o1777, true), 0o1777);
        assert_eq!(keep.apply(0o100644, false), 0o644, "type bits never leak");
    }

    #[test]
    fn octal_replaces_all_twelve_bits() {
        let octal = chmod(Mode::Octal(0o755));
        assert_eq!(octal.apply(0o4700, false), 0o755, "setuid is dropped");
        assert_eq!(octal.apply(0o600, true), 0o755);
        assert_eq!(chmod(Mode::Octal(0o4755)).apply(0o644, false), 0o4755);
    }

    #[test]
    fn symbolic_applies_per_entry() {
        let m = chmod(Mode::Symbolic("u=rwX,go=rX".parse().unwrap()));
        assert_eq!(m.apply(0o600, false), 0o644);
        assert_eq!(m.apply(0o700, false), 0o755);
        assert_eq!(m.apply(0o700, true), 0o755);
        assert_eq!(
            chmod(Mode::Symbolic("+x".parse().unwrap())).apply(0o4644, false),
            0o4755
        );
    }
}
