//! When and how long to wait before trying a registry request again.
//!
//! Transient failures are retried: connection refused, reset or cut
//! mid-transfer, timeouts, `429 Too Many Requests` and 5xx answers other
//! than 501/505 (which will not change). The wait doubles from 200 ms up to
//! 10 s, with jitter so parallel transfers do not retry in lockstep, and a
//! `Retry-After` header (RFC 9110 §10.2.3, seconds) is honoured up to a
//! minute. A certificate that does not verify is never retried, nor is a
//! request that cannot be made at all (a `file://` token realm, a URL
//! reqwest refuses) or a redirect kiln refused: another attempt would fail
//! the same way (issue 20 saw seven attempts, about 15 s, for these).

use std::error::Error as StdError;
use std::time::Duration;

/// First wait.
const BASE: Duration = Duration::from_millis(200);
/// Longest wait between attempts.
const CAP: Duration = Duration::from_secs(10);
/// Longest `Retry-After` honoured.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(60);

/// Whether an HTTP status is worth another attempt.
pub(crate) fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429) || ((500..600).contains(&status) && !matches!(status, 501 | 505))
}

/// How long to wait before attempt `attempt + 1` (`attempt` ≥ 1 failed).
pub(crate) fn delay(attempt: u32, retry_after: Option<&str>) -> Duration {
    if let Some(seconds) = retry_after.and_then(|v| v.trim().parse::<u64>().ok()) {
        return Duration::from_secs(seconds).min(RETRY_AFTER_CAP);
    }
    let exponential = BASE
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(CAP);
    // Up to a quarter of the wait again, from the clock's low bits: enough
    // to spread parallel transfers apart, no randomness source needed.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let quarter = exponential.as_millis() as u64 / 4;
    exponential
        + Duration::from_millis(if quarter == 0 {
            0
        } else {
            u64::from(nanos) % quarter
        })
}

/// A transport error, classified.
pub(crate) enum Failure {
    /// Worth another attempt.
    Transient(String),
    /// The server's certificate was refused: no attempt will fix it.
    Certificate(String),
    /// The request cannot be made (its URL, a refused redirect): no
    /// attempt will fix it.
    Permanent(String),
}

/// Classifies a failed request.
pub(crate) fn classify(error: &reqwest::Error) -> Failure {
    let text = describe(error);
    if let Some(tls) = rustls_error(error)
        && matches!(
            tls,
            rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
        )
    {
        return Failure::Certificate(tls.to_string());
    }
    if error.is_builder() || error.is_redirect() {
        return Failure::Permanent(text);
    }
    Failure::Transient(text)
}

/// Whether `error` is a TLS handshake failure (a plain-HTTP server answers
/// a ClientHello with something that is not TLS).
pub(crate) fn is_tls_failure(error: &reqwest::Error) -> bool {
    rustls_error(error).is_some()
}

/// The rustls error somewhere in `error`'s causes. rustls errors travel
/// inside `io::Error`s (sometimes nested), whose `source()` skips the
/// wrapped error itself, so each `io::Error` is opened with `get_ref`.
fn rustls_error(error: &reqwest::Error) -> Option<&rustls::Error> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            // The wrapped error may itself be an `io::Error` wrapping
            // another (tokio-rustls inside hyper): look at it next.
            current = Some(inner);
            continue;
        }
        current = e.source();
    }
    None
}

/// An error with its causes, `outer: inner: innermost`, without repeats.
pub(crate) fn describe(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    /// A request that cannot be made (the red team's `file://` token realm)
    /// fails at once: no attempt would get further.
    #[test]
    fn requests_that_cannot_be_made_are_not_retried() {
        crate::registry::install_crypto_provider();
        let client = reqwest::blocking::Client::new();
        let error = client.get("file:///etc/passwd").send().unwrap_err();
        assert!(
            matches!(classify(&error), Failure::Permanent(_)),
            "{error:?}"
        );
    }

    use super::*;

    #[test]
    fn statuses_worth_retrying() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(retryable_status(status), "{status}");
        }
        for status in [200, 201, 400, 401, 403, 404, 416, 501, 505] {
            assert!(!retryable_status(status), "{status}");
        }
    }

    #[test]
    fn waits_grow_to_a_cap_and_honour_retry_after() {
        assert!(delay(1, None) >= BASE && delay(1, None) < BASE * 2);
        assert!(delay(3, None) >= BASE * 4);
        assert!(delay(30, None) <= CAP + CAP / 4);
        assert_eq!(delay(1, Some("3")), Duration::from_secs(3));
        assert_eq!(delay(1, Some("3600")), RETRY_AFTER_CAP);
    }
}
