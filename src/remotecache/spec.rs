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
    },
}

/// An import source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CacheFrom {
    /// `type=local,src=DIR`.
    Local {
        /// The directory.
        src: std::path::PathBuf,
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

/// The type's name, and an error for the ones kiln does not have yet.
fn cache_type<'s>(fields: &[(&'s str, &'s str)], what: &str) -> Result<&'s str, String> {
    let kind = fields
        .iter()
        .find(|(k, _)| *k == "type")
        .map(|(_, v)| *v)
        .unwrap_or("local");
    match kind {
        "local" => Ok(kind),
        "registry" | "inline" => Err(format!(
            "{what}: type={kind} is not supported yet (only type=local: an OCI layout directory)"
        )),
        other => Err(format!(
            "{what}: unknown cache type {other:?} (kiln has type=local)"
        )),
    }
}

impl CacheTo {
    /// Parses one `--cache-to` value.
    pub(crate) fn parse(spec: &str) -> Result<CacheTo, String> {
        let what = "--cache-to";
        let fields = fields(spec, what)?;
        cache_type(&fields, what)?;
        let (mut dest, mut mode, mut ignore_error) = (None, Mode::Min, true);
        for (key, value) in &fields {
            match *key {
                "type" => {}
                "dest" => dest = Some(std::path::PathBuf::from(value)),
                "mode" => {
                    mode = match *value {
                        "min" => Mode::Min,
                        "max" => Mode::Max,
                        other => return Err(format!("{what}: mode={other:?} is not min or max")),
                    }
                }
                "ignore-error" => ignore_error = bool_field(value, key, what)?,
                other => return Err(format!("{what}: unknown field {other:?} for type=local")),
            }
        }
        let dest = dest.ok_or_else(|| format!("{what} {spec:?}: type=local needs dest=DIR"))?;
        Ok(CacheTo::Local {
            dest,
            mode,
            ignore_error,
        })
    }
}

impl CacheFrom {
    /// Parses one `--cache-from` value.
    pub(crate) fn parse(spec: &str) -> Result<CacheFrom, String> {
        let what = "--cache-from";
        let fields = fields(spec, what)?;
        cache_type(&fields, what)?;
        let mut src = None;
        for (key, value) in &fields {
            match *key {
                "type" => {}
                "src" => src = Some(std::path::PathBuf::from(value)),
                other => return Err(format!("{what}: unknown field {other:?} for type=local")),
            }
        }
        let src = src.ok_or_else(|| format!("{what} {spec:?}: type=local needs src=DIR"))?;
        Ok(CacheFrom::Local { src })
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
                ignore_error: true
            }
        );
        assert_eq!(
            CacheTo::parse("dest=/c,ignore-error=false").unwrap(),
            CacheTo::Local {
                dest: "/c".into(),
                mode: Mode::Min,
                ignore_error: false
            }
        );
        assert_eq!(
            CacheFrom::parse("type=local,src=/c").unwrap(),
            CacheFrom::Local { src: "/c".into() }
        );
        for (bad, says) in [
            ("type=local", "needs dest=DIR"),
            ("type=local,dest=/c,mode=all", "mode=\"all\""),
            ("type=registry,ref=r/x:c", "not supported yet"),
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
    }
}
