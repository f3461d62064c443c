//! `--chmod` values: an octal mode (`0755`) or, since Dockerfile syntax
//! 1.14, a symbolic one as chmod(1) writes it (`u=rwX,go=rX`, `+x`), which is
//! applied to each copied entry against its own mode (the solver's
//! [`SymbolicMode`], parsed here once and carried in the graph).

pub use kiln_solver::SymbolicMode;

/// A parsed `--chmod`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chmod {
    /// An absolute mode, at most `0o7777`.
    Octal(u32),
    /// A symbolic mode, applied per entry.
    Symbolic(SymbolicMode),
    /// A value holding a variable, parsed after expansion.
    Deferred(String),
}

impl Chmod {
    /// Parses a `--chmod` value; `None` when it is neither form.
    pub fn parse(value: &str) -> Option<Chmod> {
        if value.contains('$') {
            return Some(Chmod::Deferred(value.to_string()));
        }
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            return u32::from_str_radix(value, 8)
                .ok()
                .filter(|&mode| mode <= 0o7777)
                .map(Chmod::Octal);
        }
        SymbolicMode::parse(value).map(Chmod::Symbolic)
    }

    /// The mode of an entry whose current mode is `mode` (permission and
    /// special bits) and which is a directory when `is_dir`. `None` for a
    /// deferred value.
    pub fn apply(&self, mode: u32, is_dir: bool) -> Option<u32> {
        match self {
            Chmod::Octal(m) => Some(*m),
            Chmod::Symbolic(s) => Some(s.apply(mode, is_dir)),
            Chmod::Deferred(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Chmod;

    #[test]
    fn octal_and_symbolic_values() {
        assert_eq!(Chmod::parse("755"), Some(Chmod::Octal(0o755)));
        assert_eq!(Chmod::parse("04755"), Some(Chmod::Octal(0o4755)));
        assert_eq!(Chmod::parse("$MODE"), Some(Chmod::Deferred("$MODE".into())));
        for bad in [
            "", "8", "999", "77777", "0o755", "rwx", "u+q", "u", "u+x,", "-1x",
        ] {
            assert_eq!(Chmod::parse(bad), None, "{bad}");
        }
        // Applying a symbolic mode is the solver's (`SymbolicMode`).
        let symbolic = Chmod::parse("u=rwX,go=rX").unwrap();
        assert_eq!(symbolic.apply(0o700, true), Some(0o755));
    }
}
