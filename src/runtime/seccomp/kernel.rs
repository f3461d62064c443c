//! The running kernel's release, for docker's `minKernel` rules.
//!
//! docker decides when it generates the profile, from `uname -r`; so do we,
//! from `/proc/sys/kernel/osrelease` (the same string, and no `unsafe`
//! uname call). A release we cannot read or parse counts as too old: the
//! only rule that depends on it widens the filter.

/// A kernel release, major and minor number (`6.8.0-45-generic` → 6.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    major: u32,
    minor: u32,
}

impl Release {
    /// Parses the start of a release string; distribution suffixes after
    /// the minor number are ignored.
    pub fn parse(release: &str) -> Option<Self> {
        let mut parts = release.trim().splitn(3, '.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?;
        let digits = minor
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(minor.len());
        let minor = minor.get(..digits)?.parse().ok()?;
        Some(Self { major, minor })
    }

    /// The release of the kernel we run on, if it can be read.
    pub fn running() -> Option<Self> {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
        Self::parse(&release)
    }

    /// Whether this release is `(major, minor)` or newer.
    pub fn at_least(self, (major, minor): (u32, u32)) -> bool {
        (self.major, self.minor) >= (major, minor)
    }
}

#[cfg(test)]
mod tests {
    use super::Release;

    #[test]
    fn parses_distribution_releases() {
        let r = |s| Release::parse(s).map(|r| (r.major, r.minor));
        assert_eq!(r("6.8.0-45-generic\n"), Some((6, 8)));
        assert_eq!(r("4.8"), Some((4, 8)));
        assert_eq!(r("5.15.153.1-microsoft-standard-WSL2"), Some((5, 15)));
        assert_eq!(r("6.10-rc1"), Some((6, 10)));
        assert_eq!(r("3.10.0-1160.el7.x86_64"), Some((3, 10)));
        assert_eq!(r("6"), None);
        assert_eq!(r("linux"), None);
        assert_eq!(r(""), None);
    }

    #[test]
    fn compares_major_before_minor() {
        let at_least = |s, v| Release::parse(s).is_some_and(|r| r.at_least(v));
        assert!(at_least("4.8.0", (4, 8)));
        assert!(at_least("5.0.0", (4, 8)));
        assert!(at_least("4.10.0", (4, 8)));
        assert!(!at_least("4.7.10", (4, 8)));
        assert!(!at_least("3.19.0", (4, 8)));
    }
}
