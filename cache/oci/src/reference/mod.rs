//! Image references (`busybox`, `ghcr.io/org/app:1.2`, `repo@sha256:…`)
//! normalized with docker's rules: distribution/reference's
//! `ParseNormalizedNamed` followed by `TagNameOnly`.
//!
//! Normalization (distribution `normalize.go`, `splitDockerDomain`): the
//! first path element is a registry domain when it contains `.` or `:`, is
//! `localhost`, or has upper-case letters; otherwise the reference is on
//! Docker Hub (`docker.io`), and a one-element Hub path gets the `library/`
//! prefix. `index.docker.io` is the same registry as `docker.io`. A
//! reference without tag or digest gets the tag `latest`; one with a digest
//! keeps exactly what it was given.

mod grammar;
#[cfg(test)]
mod tests;

use crate::digest::{Digest, DigestError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Docker Hub's canonical domain.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// Docker Hub's legacy domain, normalized to [`DEFAULT_DOMAIN`].
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The Hub namespace of official images.
const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag of a reference given without tag or digest.
pub const DEFAULT_TAG: &str = "latest";
/// Longest repository path distribution accepts.
const MAX_PATH_LEN: usize = 255;

/// A normalized image reference: `domain/path[:tag][@digest]`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// Registry host and optional port. Empty only in a corner of the
    /// grammar docker also accepts: a domain-like first element that is not
    /// a valid host (`foo_bar.com/x`) becomes part of the path.
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// Why a string is not a valid reference. Messages are docker's, followed
/// by the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// Does not match the reference grammar (includes the empty string).
    #[error("invalid reference format: {0:?}")]
    InvalidFormat(String),
    /// The repository path has upper-case letters.
    #[error("invalid reference format: repository name must be lowercase: {0:?}")]
    Uppercase(String),
    /// The repository path is longer than 255 bytes.
    #[error("repository name must not be more than 255 characters: {0:?}")]
    NameTooLong(String),
    /// A bare 64-hex-digit string, which names an image ID, not a repository.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    Identifier(String),
    /// The digest's algorithm is not one kiln can verify.
    #[error("unsupported digest algorithm: {0:?}")]
    DigestAlgorithm(String),
    /// The digest's hex part has the wrong length for its algorithm.
    #[error("invalid checksum digest length: {0:?}")]
    DigestLength(String),
    /// The digest is otherwise malformed (e.g. upper-case hex).
    #[error("invalid checksum digest format: {0:?}")]
    DigestFormat(String),
}

impl Reference {
    /// Parses and normalizes `input` as `docker pull` does.
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        if grammar::is_identifier(input) {
            return Err(ReferenceError::Identifier(input.to_string()));
        }
        let (domain, remainder) = split_docker_domain(input);
        // docker checks case on the path alone (up to the first `:`) so the
        // message is about the name, whatever else is wrong.
        let remote = remainder.split(':').next().unwrap_or_default();
        if remote.to_lowercase() != remote {
            return Err(ReferenceError::Uppercase(input.to_string()));
        }
        let full = format!("{domain}/{remainder}");
        let Some(parts) = grammar::match_reference(&full) else {
            let lower = full.to_lowercase();
            if lower != full && grammar::match_reference(&lower).is_some() {
                return Err(ReferenceError::Uppercase(input.to_string()));
            }
            return Err(ReferenceError::InvalidFormat(input.to_string()));
        };
        if parts.path.len() > MAX_PATH_LEN {
            return Err(ReferenceError::NameTooLong(input.to_string()));
        }
        let digest = parts.digest.map(|d| parse_digest(d, input)).transpose()?;
        let tag = match (parts.tag, &digest) {
            (Some(tag), _) => Some(tag.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_TAG.to_string()),
        };
        Ok(Reference {
            domain: parts.domain.to_string(),
            path: parts.path.to_string(),
            tag,
            digest,
        })
    }

    /// The registry: `docker.io`, `ghcr.io`, `localhost:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path on the registry: `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `domain/path`, the repository's full name.
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The tag; `None` only for a digest reference given without one.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, when the reference pins one.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The name as docker displays it: `docker.io/` dropped, and `library/`
    /// too when nothing else is nested under it (`busybox`, `user/repo`).
    pub fn familiar_name(&self) -> String {
        if self.domain != DEFAULT_DOMAIN {
            return self.name();
        }
        match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
            Some(rest) if !rest.contains('/') => rest.to_string(),
            _ => self.path.clone(),
        }
    }

    /// The whole reference as docker displays it: `busybox:latest`,
    /// `user/repo:tag`, `ghcr.io/o/r@sha256:…`.
    pub fn familiar(&self) -> String {
        let mut out = self.familiar_name();
        self.push_suffix(&mut out);
        out
    }

    /// This reference with `tag` instead of its tag (the digest is kept).
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        if !grammar::is_tag(tag) {
            return Err(ReferenceError::InvalidFormat(format!(
                "{}:{tag}",
                self.name()
            )));
        }
        Ok(Reference {
            tag: Some(tag.to_string()),
            ..self.clone()
        })
    }

    /// This reference pinned to `digest` (the tag is kept).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    fn push_suffix(&self, out: &mut String) {
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest.as_str());
        }
    }
}

/// distribution's `splitDockerDomain`: decides the registry and applies the
/// Docker Hub defaults.
fn split_docker_domain(name: &str) -> (&str, String) {
    let Some((maybe_domain, maybe_remote)) = name.split_once('/') else {
        return (DEFAULT_DOMAIN, format!("{OFFICIAL_REPO_PREFIX}{name}"));
    };
    let (domain, remote) = if maybe_domain == "localhost" {
        (maybe_domain, maybe_remote)
    } else if maybe_domain == LEGACY_DEFAULT_DOMAIN {
        (DEFAULT_DOMAIN, maybe_remote)
    } else if maybe_domain.contains(['.', ':']) {
        (maybe_domain, maybe_remote)
    } else if maybe_domain.to_lowercase() != maybe_domain {
        // Hub namespaces are lower-case, so an upper-case first element can
        // only be meant as a host.
        (maybe_domain, maybe_remote)
    } else {
        (DEFAULT_DOMAIN, name)
    };
    if domain == DEFAULT_DOMAIN && !remote.contains('/') {
        return (domain, format!("{OFFICIAL_REPO_PREFIX}{remote}"));
    }
    (domain, remote.to_string())
}

/// Validates the digest part as go-digest's `Parse` does, mapped onto the
/// algorithms kiln supports.
fn parse_digest(text: &str, input: &str) -> Result<Digest, ReferenceError> {
    text.parse::<Digest>().map_err(|e| match e {
        DigestError::Algorithm(_) => {
            let (algorithm, _) = text.split_once(':').unwrap_or((text, ""));
            // go-digest calls an algorithm it cannot name "invalid format".
            if algorithm.bytes().any(|b| b.is_ascii_uppercase()) {
                ReferenceError::DigestFormat(input.to_string())
            } else {
                ReferenceError::DigestAlgorithm(input.to_string())
            }
        }
        DigestError::Encoded(_) => {
            let hex_len = text.split_once(':').map_or(0, |(_, hex)| hex.len());
            let want = if text.starts_with("sha512:") { 128 } else { 64 };
            if hex_len == want {
                ReferenceError::DigestFormat(input.to_string())
            } else {
                ReferenceError::DigestLength(input.to_string())
            }
        }
        DigestError::Shape(_) => ReferenceError::DigestFormat(input.to_string()),
    })
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Reference, ReferenceError> {
        Reference::parse(s)
    }
}

/// The full normalized form: `docker.io/library/busybox:latest`.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = self.name();
        self.push_suffix(&mut out);
        f.write_str(&out)
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

impl Serialize for Reference {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Reference, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
