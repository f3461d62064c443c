//! Content digests (`sha256:<64 hex>`), as the OCI image spec defines them
//! (image-spec `descriptor.md`, "Digests"), and a streaming hasher.
//!
//! kiln writes only sha256; it reads `sha512` too, since the spec registers
//! it, but does not compute it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::str::FromStr;

/// A validated content digest, e.g. `sha256:e3b0c442…`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    /// The whole `algorithm:encoded` text; validated on construction.
    text: String,
    /// Where the encoded part starts (after the `:`).
    split: usize,
}

/// Why a digest string is not valid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// No `:` between algorithm and encoded part.
    #[error("invalid digest {0:?}: expected algorithm:hex")]
    Shape(String),
    /// An algorithm kiln cannot verify.
    #[error("unsupported digest algorithm in {0:?}: only sha256 and sha512 are supported")]
    Algorithm(String),
    /// Wrong length or non-lower-case-hex characters.
    #[error(
        "invalid digest {0:?}: the encoded part must be lower-case hex of the algorithm's length"
    )]
    Encoded(String),
}

impl Digest {
    /// The digest of `bytes` (sha256).
    pub fn of(bytes: &[u8]) -> Digest {
        let mut hasher = Hasher::new();
        hasher.update(bytes);
        hasher.finish()
    }

    /// A sha256 digest from its 32 raw bytes.
    pub fn from_sha256_bytes(bytes: [u8; 32]) -> Digest {
        let text = format!("sha256:{}", hex::encode(bytes));
        Digest { text, split: 7 }
    }

    /// `sha256`.
    pub fn algorithm(&self) -> &str {
        &self.text[..self.split - 1]
    }

    /// The hex part.
    pub fn encoded(&self) -> &str {
        &self.text[self.split..]
    }

    /// `algorithm:encoded`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The whole `algorithm:encoded` text, taken without a copy.
    pub fn into_string(self) -> String {
        self.text
    }

    /// The path of this blob inside an OCI layout: `blobs/<alg>/<encoded>`.
    pub fn blob_path(&self) -> String {
        format!("blobs/{}/{}", self.algorithm(), self.encoded())
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Digest, DigestError> {
        let Some((algorithm, encoded)) = s.split_once(':') else {
            return Err(DigestError::Shape(s.to_string()));
        };
        let len = match algorithm {
            "sha256" => 64,
            "sha512" => 128,
            _ => return Err(DigestError::Algorithm(s.to_string())),
        };
        let hex_ok = encoded
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if encoded.len() != len || !hex_ok {
            return Err(DigestError::Encoded(s.to_string()));
        }
        Ok(Digest {
            text: s.to_string(),
            split: algorithm.len() + 1,
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.text)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Digest, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A streaming sha256 that also counts bytes.
#[derive(Clone, Default)]
pub struct Hasher {
    inner: Sha256,
    len: u64,
}

impl Hasher {
    /// A fresh hasher.
    pub fn new() -> Hasher {
        Hasher::default()
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when nothing was fed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        Digest::from_sha256_bytes(self.inner.finalize().into())
    }
}

/// A writer that hashes what passes through it to an inner writer.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: std::io::Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Hasher::new(),
        }
    }

    /// The inner writer, the digest and the byte count.
    pub fn finish(self) -> (W, Digest, u64) {
        let len = self.hasher.len();
        (self.inner, self.hasher.finish(), len)
    }
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn digest_of_bytes_and_parsing() {
        assert_eq!(Digest::of(b"").as_str(), EMPTY);
        let d: Digest = EMPTY.parse().unwrap();
        assert_eq!(d.algorithm(), "sha256");
        assert_eq!(d.encoded().len(), 64);
        assert_eq!(d.blob_path(), format!("blobs/sha256/{}", &EMPTY[7..]));
        for bad in [
            "",
            "sha256",
            "md5:abc",
            "sha256:ABC",
            &EMPTY[..70],
            "sha256:zz",
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad}");
        }
    }

    #[test]
    fn hashing_writer_counts_and_hashes() {
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"hello").unwrap();
        let (inner, digest, len) = w.finish();
        assert_eq!((inner.as_slice(), len), (&b"hello"[..], 5));
        assert_eq!(digest, Digest::of(b"hello"));
    }

    #[test]
    fn serde_round_trip_validates() {
        let json = format!("\"{EMPTY}\"");
        let d: Digest = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), json);
        assert!(serde_json::from_str::<Digest>("\"sha256:nope\"").is_err());
    }
}
