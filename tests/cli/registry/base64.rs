//! Base64 as the registry protocols use it, over the base64 crate: the
//! standard alphabet with padding for `Authorization: Basic`, docker's
//! `config.json` and JWT `x5c` certificates; URL-safe without padding for
//! the three JWT segments (RFC 7515 §2).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// Standard base64 with `=` padding.
pub(super) fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// URL-safe base64 without padding (JWT's `base64url`).
pub(super) fn encode_url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Standard base64, padded or not; None when it is not base64.
pub(super) fn decode(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text).ok().or_else(|| {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(text)
            .ok()
    })
}
