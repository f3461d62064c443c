//! Why a JSON document (manifest, index, config, docker-archive manifest)
//! could not be read.

/// A document that is not valid JSON of the expected shape.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Not JSON, or a field of the wrong type.
    #[error("invalid {kind} json: {error}")]
    Json {
        /// What was being read (`image manifest`, `image index`, …).
        kind: &'static str,
        /// serde_json's description, with line and column.
        error: serde_json::Error,
    },
    /// `schemaVersion` other than 2 (e.g. docker's retired schema 1).
    #[error("unsupported {kind} schemaVersion {found}: expected 2")]
    SchemaVersion {
        /// What was being read.
        kind: &'static str,
        /// The version in the document.
        found: u32,
    },
    /// The document's own `mediaType` names another kind of document.
    #[error("{kind} declares media type {found:?}")]
    MediaType {
        /// What was being read.
        kind: &'static str,
        /// The media type in the document.
        found: String,
    },
}

/// Parses `bytes` as `T`, naming `kind` on failure.
pub(crate) fn parse<'a, T: serde::Deserialize<'a>>(
    kind: &'static str,
    bytes: &'a [u8],
) -> Result<T, FormatError> {
    serde_json::from_slice(bytes).map_err(|error| FormatError::Json { kind, error })
}

/// The checks every image manifest and index passes on read: schema
/// version 2 (image-spec manifest.md / image-index.md), and a `mediaType`,
/// when the document states one, of the expected kind (so an index served
/// as a manifest is never mistaken for one, or the other way round).
pub(crate) fn check_document(
    kind: &'static str,
    schema_version: u32,
    media_type: &str,
    is_kind: fn(&str) -> bool,
) -> Result<(), FormatError> {
    if schema_version != 2 {
        return Err(FormatError::SchemaVersion {
            kind,
            found: schema_version,
        });
    }
    if !media_type.is_empty() && !is_kind(media_type) {
        return Err(FormatError::MediaType {
            kind,
            found: media_type.to_string(),
        });
    }
    Ok(())
}

/// A document's own media type, or `default` when it states none.
pub(crate) fn media_type_or<'a>(media_type: &'a str, default: &'a str) -> &'a str {
    if media_type.is_empty() {
        default
    } else {
        media_type
    }
}
