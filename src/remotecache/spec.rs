//! `--cache-to` and `--cache-from` as buildx spells them:
//! comma-separated `key=value` fields, `type=` first or anywhere.

/// Which records an export writes (buildx's `mode=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The steps of the final image's layers (the target stage's chain).
    Min,
    /// Every step of every stage the build ran or found cached.
    Max,
}

/// `mounts=true`: the `RUN --mount=type=cache` directories go too, each
/// at most `max_size` bytes (`mounts-max-size=`, default 1 GB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mounts {
    /// Export them.
    pub export: bool,
    /// A larger one stays behind, with a warning.
    pub max_size: u64,
}

impl Default for Mounts {
    fn default() -> Mounts {
        Mounts {
            export: false,
            max_size: 1_000_000_000,
        }
    }
}

/// An export destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CacheTo {
    /// `type=local,dest=DIR`: an OCI image layout directory.
    Local {
        /// The directory.
        dest: std::path::PathBuf,
        /// Which records.
        mode: Mode,
        /// `ignore-error=true` (the default, as buildx's): a failed export
        /// is a warning.
        ignore_error: bool,
        /// `mounts=`, `mounts-max-size=`.
        mounts: Mounts,
    },
    /// `type=registry,ref=REG/REPO:TAG`: a manifest under that tag.
    Registry {
        /// Where.
        reference: kiln_oci::Reference,
        /// Which records.
        mode: Mode,
        /// As for `Local`.
        ignore_error: bool,
        /// How layers are compressed (`compression=gzip|zstd`, gzip).
        compression: kiln_layer::Compression,
        /// As for `Local`.
        mounts: Mounts,
    },
    /// `type=inline`: the records of the image's own layers embedded in
    /// its config (under [`super::format::INLINE_KEY`]), so that the
    /// image, pushed, is also a cache `--cache-from type=registry,ref=`
    /// reads. Only `mode=min`: the image holds no other step's layers.
    Inline,
}

/// An import source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CacheFrom {
    /// `type=local,src=DIR`.
    Local {
        /// The directory.
        src: std::path::PathBuf,
    },
    /// `type=registry,ref=REG/REPO:TAG`.
    Registry {
        /// Where.
        reference: kiln_oci::Reference,
    },
}

/// The `key=value` fields of a spec; `what` names the flag in errors.
fn fields<'s>(spec: &'s str, what: &str) -> Result<Vec<(&'s str, &'s str)>, String> {
    spec.split(',')
        .map(|field| {
            field
                .split_once('=')
                .ok_or_else(|| format!("{what} {spec:?}: {field:?} is not a key=value field"))
        })
        .collect()
}

fn bool_field(value: &str, key: &str, what: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("{what}: {key}={value:?} is not true or false")),
    }
}

/// `ref=`, parsed; a cache ref names a tag, never a digest.
fn reference(value: Option<&str>, spec: &str, what: &str) -> Result<kiln_oci::Reference, String> {
    let value = value.ok_or_else(|| {
        format!("{what} {spec:?}: type=registry needs ref=REGISTRY/REPOSITORY:TAG")
    })?;
    let reference = kiln_oci::Reference::parse(value)
        .map_err(|e| format!("{what}: invalid ref {value:?}: {e}"))?;
    if reference.digest().is_some() {
        return Err(format!("{what}: ref={value} names a digest; give a tag"));
    }
    Ok(reference)
}

/// `compression=`.
fn compression(value: &str, what: &str) -> Result<kiln_layer::Compression, String> {
    match value {
        "gzip" => Ok(kiln_layer::Compression::Gzip { level: 6 }),
        "zstd" => Ok(kiln_layer::Compression::Zstd { level: 3 }),
        "uncompressed" => Ok(kiln_layer::Compression::None),
        other => Err(format!(
            "{what}: compression={other:?} is not gzip, zstd or uncompressed"
        )),
    }
}

/// The type's name, and an error for the ones kiln does not have yet.
fn cache_type<'s>(fields: &[(&'s str, &'s str)], what: &str) -> Result<&'s str, String> {
    let kind = fields
        .iter()
        .find(|(k, _)| *k == "type")
        .map(|(_, v)| *v)
        .unwrap_or("local");
    match kind {
        "local" | "registry" => Ok(kind),
        "inline" if what == "--cache-to" => Ok(kind),
        "inline" => Err(format!(
            "{what}: an inline cache is read from its image: type=registry,ref=IMAGE"
        )),
        other => Err(format!(
            "{what}: unknown cache type {other:?} (kiln has type=local, type=registry and type=inline)"
        )),
    }
}

impl CacheTo {
    /// Its `mode=` and `ignore-error=`.
    pub(crate) fn mode_and_ignore_error(&self) -> (Mode, bool) {
        match self {
            CacheTo::Local {
                mode, ignore_error, ..
            }
            | CacheTo::Registry {
                mode, ignore_error, ..
            } => (*mode, *ignore_error),
            CacheTo::Inline => (Mode::Min, true),
        }
    }

    /// Its `mounts=` settings.
    pub(crate) fn mounts(&self) -> Mounts {
        match self {
            CacheTo::Local { mounts, .. } | CacheTo::Registry { mounts, .. } => *mounts,
            CacheTo::Inline => Mounts::default(),
        }
    }

    /// Parses one `--cache-to` value: `key=value` fields, or, as buildx
    /// takes it, a bare reference (`type=registry,ref=` that).
    pub(crate) fn parse(spec: &str) -> Result<CacheTo, String> {
        let what = "--cache-to";
        if !spec.contains('=') {
            return CacheTo::parse(&format!("type=registry,ref={spec}"));
        }
        let fields = fields(spec, what)?;
        let kind = cache_type(&fields, what)?;
        if kind == "inline" {
            return inline(&fields);
        }
        let (mut dest, mut reference_text) = (None, None);
        let (mut mode, mut ignore_error) = (Mode::Min, true);
        let mut codec = kiln_layer::Compression::Gzip { level: 6 };
        let mut mounts = Mounts::default();
        for (key, value) in &fields {
            match (*key, kind) {
                ("type", _) => {}
                ("mounts", _) => mounts.export = bool_field(value, key, what)?,
                ("mounts-max-size", _) => {
                    mounts.max_size = crate::cli::prune::parse_size(value)
                        .map_err(|e| format!("{what}: mounts-max-size: {e}"))?;
                }
                ("dest", "local") => dest = Some(std::path::PathBuf::from(value)),
                ("ref", "registry") => reference_text = Some(*value),
                ("compression", "registry") => codec = compression(value, what)?,
                ("mode", _) => {
                    mode = match *value {
                        "min" => Mode::Min,
                        "max" => Mode::Max,
                        other => return Err(format!("{what}: mode={other:?} is not min or max")),
                    }
                }
                ("ignore-error", _) => ignore_error = bool_field(value, key, what)?,
                (other, _) => {
                    return Err(format!("{what}: unknown field {other:?} for type={kind}"));
                }
            }
        }
        if kind == "registry" {
            return Ok(CacheTo::Registry {
                reference: reference(reference_text, spec, what)?,
                mode,
                ignore_error,
                compression: codec,
                mounts,
            });
        }
        let dest = dest.ok_or_else(|| format!("{what} {spec:?}: type=local needs dest=DIR"))?;
        Ok(CacheTo::Local {
            dest,
            mode,
            ignore_error,
            mounts,
        })
    }
}

/// `type=inline`'s fields: only `mode=min` (BuildKit's inline cache has
/// no other mode either).
fn inline(fields: &[(&str, &str)]) -> Result<CacheTo, String> {
    for (key, value) in fields {
        match (*key, *value) {
            ("type", _) | ("mode", "min") => {}
            ("mode", other) => {
                return Err(format!(
                    "--cache-to: type=inline has only mode=min (not {other:?}): the image holds only its own layers; use type=registry for mode=max"
                ));
            }
            (other, _) => {
                return Err(format!(
                    "--cache-to: unknown field {other:?} for type=inline"
                ));
            }
        }
    }
    Ok(CacheTo::Inline)
}

impl CacheFrom {
    /// Parses one `--cache-from` value: `key=value` fields, or, as buildx
    /// takes it, a bare image reference (`type=registry,ref=` that).
    pub(crate) fn parse(spec: &str) -> Result<CacheFrom, String> {
        let what = "--cache-from";
        if !spec.contains('=') {
            return CacheFrom::parse(&format!("type=registry,ref={spec}"));
        }
        let fields = fields(spec, what)?;
        let kind = cache_type(&fields, what)?;
        let (mut src, mut reference_text) = (None, None);
        for (key, value) in &fields {
            match (*key, kind) {
                ("type", _) => {}
                ("src", "local") => src = Some(std::path::PathBuf::from(value)),
                ("ref", "registry") => reference_text = Some(*value),
                (other, _) => {
                    return Err(format!("{what}: unknown field {other:?} for type={kind}"));
                }
            }
        }
        if kind == "registry" {
            return Ok(CacheFrom::Registry {
                reference: reference(reference_text, spec, what)?,
            });
        }
        let src = src.ok_or_else(|| format!("{what} {spec:?}: type=local needs src=DIR"))?;
        Ok(CacheFrom::Local { src })
    }
}

/// The destination as a spec names it (`type=local,dest=DIR`).
impl std::fmt::Display for CacheTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheTo::Local { dest, .. } => write!(f, "type=local,dest={}", dest.display()),
            CacheTo::Registry { reference, .. } => write!(f, "type=registry,ref={reference}"),
            CacheTo::Inline => write!(f, "type=inline"),
        }
    }
}

/// The source as a spec names it (`type=local,src=DIR`).
impl std::fmt::Display for CacheFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheFrom::Local { src } => write!(f, "type=local,src={}", src.display()),
            CacheFrom::Registry { reference } => write!(f, "type=registry,ref={reference}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buildx_spellings() {
        assert_eq!(
            CacheTo::parse("type=local,dest=/c,mode=max").unwrap(),
            CacheTo::Local {
                dest: "/c".into(),
                mode: Mode::Max,
                ignore_error: true,
                mounts: Mounts::default(),
            }
        );
        assert_eq!(
            CacheTo::parse("dest=/c,ignore-error=false").unwrap(),
            CacheTo::Local {
                dest: "/c".into(),
                mode: Mode::Min,
                ignore_error: false,
                mounts: Mounts::default(),
            }
        );
        assert_eq!(
            CacheFrom::parse("type=local,src=/c").unwrap(),
            CacheFrom::Local { src: "/c".into() }
        );
        for (bad, says) in [
            ("type=local", "needs dest=DIR"),
            ("type=local,dest=/c,mode=all", "mode=\"all\""),
            ("type=inline,mode=max", "only mode=min"),
            (
                "type=inline,ref=r/x:c",
                "unknown field \"ref\" for type=inline",
            ),
            ("type=registry", "needs ref="),
            (
                "type=registry,ref=r/x@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                "names a digest",
            ),
            (
                "type=registry,ref=r/x:c,dest=/d",
                "unknown field \"dest\" for type=registry",
            ),
            ("type=s3,bucket=b", "unknown cache type"),
            ("type=local,dest", "not a key=value field"),
            (
                "type=local,dest=/c,compression=zstd",
                "unknown field \"compression\"",
            ),
        ] {
            let err = CacheTo::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        assert!(
            CacheFrom::parse("type=local")
                .unwrap_err()
                .contains("needs src=DIR")
        );
        assert!(
            CacheFrom::parse("type=inline")
                .unwrap_err()
                .contains("type=registry,ref=IMAGE")
        );
        assert_eq!(CacheTo::parse("type=inline").unwrap(), CacheTo::Inline);
        assert_eq!(
            CacheFrom::parse("r.example:5000/app:latest").unwrap(),
            CacheFrom::Registry {
                reference: kiln_oci::Reference::parse("r.example:5000/app:latest").unwrap()
            }
        );
    }
}
