//! The platform an image runs on (image-spec `image-index.md`, "platform"),
//! and containerd's platform specifiers (`linux/arm64/v8`) with its
//! normalization rules (containerd/platforms `platforms.go`, `database.go`).
//!
//! Normalization is what makes `aarch64`, `arm64` and `arm64/v8` one
//! platform when kiln picks a manifest out of an index, so it follows
//! containerd exactly: `x86_64`→`amd64`, `aarch64`→`arm64` (variant `v8`
//! is arm64's default and normalizes away), `armhf`→`arm/v7`,
//! `armel`→`arm/v6`, `i386`→`386`, `macos`→`darwin`.

mod names;
mod specifier;
#[cfg(test)]
mod tests;

use names::{is_known_arch, is_known_os, normalize_arch, normalize_os};
use serde::{Deserialize, Serialize};
use specifier::{encode_os_option, is_specifier_byte, percent_decode, split_os_options};
use std::fmt;
use std::str::FromStr;

/// A platform: OS, CPU architecture and optional details. Empty strings mean
/// "not set", as in the Go types, so JSON omits them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture in GOARCH terms (`amd64`, `arm64`, …).
    #[serde(default)]
    pub architecture: String,
    /// Operating system in GOOS terms (`linux`, `windows`, …).
    #[serde(default)]
    pub os: String,
    /// OS version, used by Windows images (`10.0.17763.1234`).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub os_version: String,
    /// Required OS features (e.g. `win32k`).
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::json::null_default"
    )]
    pub os_features: Vec<String>,
    /// CPU variant (`v7` for arm, `v8` for arm64, `v2`… for amd64).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
}

/// Why a platform specifier could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    /// containerd reserves `*` and does not implement it.
    #[error("invalid platform {0:?}: wildcards are not supported")]
    Wildcard(String),
    /// The first component is not `os[(version[+feature]...)]`.
    #[error("invalid platform {specifier:?}: {part:?} is not a valid os component")]
    Os {
        /// The whole specifier.
        specifier: String,
        /// The offending component.
        part: String,
    },
    /// A later component has characters outside `[A-Za-z0-9_.-]` or is empty.
    #[error("invalid platform {specifier:?}: {part:?} is not a valid component")]
    Component {
        /// The whole specifier.
        specifier: String,
        /// The offending component.
        part: String,
    },
    /// A `%` escape in the OS version or a feature is malformed.
    #[error("invalid platform {specifier:?}: bad percent-encoding in {part:?}")]
    Escape {
        /// The whole specifier.
        specifier: String,
        /// The offending option.
        part: String,
    },
    /// A single component that is neither a known OS nor a known architecture.
    #[error("invalid platform {0:?}: unknown operating system or architecture")]
    Unknown(String),
    /// More than `os/arch/variant`.
    #[error("invalid platform {0:?}: expected os/arch[/variant]")]
    TooManyComponents(String),
}

impl Platform {
    /// `os`/`architecture` with nothing else set.
    pub fn new(os: &str, architecture: &str) -> Platform {
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            ..Platform::default()
        }
    }

    /// The platform kiln itself was compiled for, normalized, which is what
    /// BuildKit uses as the default build platform
    /// (`platforms.Normalize(platforms.DefaultSpec())`).
    ///
    /// containerd reads `/proc/cpuinfo` for the ARM variant; this crate does
    /// no I/O, so 32-bit ARM is taken to be v7, the normalized default.
    pub fn host() -> Platform {
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            other => other,
        };
        let little = cfg!(target_endian = "little");
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "powerpc64" if little => "ppc64le",
            "powerpc64" => "ppc64",
            "powerpc" => "ppc",
            "loongarch64" => "loong64",
            "mips" if little => "mipsle",
            "mips64" if little => "mips64le",
            "wasm32" => "wasm",
            other => other,
        };
        Platform::new(os, arch).normalize()
    }

    /// Parses a containerd platform specifier:
    /// `<os>[(<version>[+<feature>]...)]`, `<arch>`, or
    /// `<os>[(…)]/<arch>[/<variant>]`. A lone OS takes the host's
    /// architecture and a lone architecture the host's OS. The result is
    /// normalized as containerd's `Parse` does, which keeps an explicit
    /// arm64 variant (`linux/arm64/v8` stays `v8`; `linux/arm64` has none).
    pub fn parse(specifier: &str) -> Result<Platform, PlatformError> {
        if specifier.contains('*') {
            return Err(PlatformError::Wildcard(specifier.to_string()));
        }
        let parts: Vec<&str> = specifier.splitn(4, '/').collect();
        let mut p = Platform::default();
        let (os, version, features) =
            split_os_options(parts[0]).ok_or_else(|| PlatformError::Os {
                specifier: specifier.to_string(),
                part: parts[0].to_string(),
            })?;
        let decode = |option: &str| {
            percent_decode(option).ok_or_else(|| PlatformError::Escape {
                specifier: specifier.to_string(),
                part: option.to_string(),
            })
        };
        p.os = normalize_os(os);
        p.os_version = decode(version)?;
        for feature in features {
            p.os_features.push(decode(feature)?);
        }
        for part in &parts[1..] {
            if part.is_empty() || !part.bytes().all(is_specifier_byte) {
                return Err(PlatformError::Component {
                    specifier: specifier.to_string(),
                    part: part.to_string(),
                });
            }
        }

        match parts.len() {
            1 => {
                if is_known_os(&p.os) {
                    let host = Platform::host();
                    p.architecture = host.architecture;
                    // containerd only keeps a non-default ARM variant here.
                    if p.architecture == "arm" && host.variant != "v7" {
                        p.variant = host.variant;
                    }
                    return Ok(p);
                }
                let (arch, variant) = normalize_arch(parts[0], "");
                p.architecture = arch;
                p.variant = if p.architecture == "arm" && variant == "v7" {
                    String::new()
                } else {
                    variant
                };
                if is_known_arch(&p.architecture) {
                    p.os = Platform::host().os;
                    return Ok(p);
                }
                Err(PlatformError::Unknown(specifier.to_string()))
            }
            2 => {
                let (arch, variant) = normalize_arch(parts[1], "");
                p.variant = if arch == "arm" && variant == "v7" {
                    String::new()
                } else {
                    variant
                };
                p.architecture = arch;
                Ok(p)
            }
            3 => {
                let (arch, variant) = normalize_arch(parts[1], parts[2]);
                p.variant = if arch == "arm64" && variant.is_empty() {
                    "v8".to_string()
                } else {
                    variant
                };
                p.architecture = arch;
                Ok(p)
            }
            _ => Err(PlatformError::TooManyComponents(specifier.to_string())),
        }
    }

    /// containerd's `Normalize`: canonical OS and architecture names, the
    /// default variant dropped (arm64 `v8`, amd64 `v1`) or filled in (arm
    /// `v7`), OS features sorted and de-duplicated. An empty OS becomes the
    /// host's.
    pub fn normalize(&self) -> Platform {
        let (architecture, variant) = normalize_arch(&self.architecture, &self.variant);
        let mut os_features = self.os_features.clone();
        os_features.sort();
        os_features.dedup();
        Platform {
            architecture,
            os: normalize_os(&self.os),
            os_version: self.os_version.clone(),
            os_features,
            variant,
        }
    }

    /// Whether an image for `other` runs here, by containerd's default
    /// matcher: same normalized OS, architecture and variant, and `other`'s
    /// OS features a subset of ours. The OS version is not compared (only
    /// containerd's Windows matcher looks at it).
    pub fn matches(&self, other: &Platform) -> bool {
        let (me, them) = (self.normalize(), other.normalize());
        me.os == them.os
            && me.architecture == them.architecture
            && me.variant == them.variant
            && them.os_features.iter().all(|f| me.os_features.contains(f))
    }
}

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(s: &str) -> Result<Platform, PlatformError> {
        Platform::parse(s)
    }
}

/// containerd's `FormatAll`: `os[(version+features)]/arch[/variant]`, or
/// `unknown` without an OS. Parsing the output gives the platform back.
impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.os.is_empty() {
            return f.write_str("unknown");
        }
        let mut options = encode_os_option(&self.os_version);
        let mut features = self.os_features.clone();
        features.sort();
        for feature in &features {
            options.push('+');
            options.push_str(&encode_os_option(feature));
        }
        f.write_str(&self.os)?;
        if !options.is_empty() {
            write!(f, "({options})")?;
        }
        for part in [&self.architecture, &self.variant] {
            if !part.is_empty() {
                write!(f, "/{part}")?;
            }
        }
        Ok(())
    }
}
