//! Answering a registry's challenge: Basic credentials on every request,
//! or Bearer tokens from the registry's token service (distribution's
//! docs/spec/auth/token.md: `GET realm?service=…&scope=…`, with the
//! credentials as Basic auth when there are any, anonymously otherwise;
//! an identity token is traded through the OAuth2 refresh-token grant,
//! docs/spec/auth/oauth.md). Tokens are cached per scope set until shortly
//! before they expire, and dropped when the registry refuses one.

use super::challenge::Challenge;
use super::credentials::Credential;
use super::error::RegistryError;
use super::retry;
use base64::Engine as _;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The lifetime of a token whose answer gives none (the spec's default).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// Longest a token is trusted, whatever its answer claims.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Tokens are renewed this long before they expire.
const RENEW_EARLY: Duration = Duration::from_secs(10);

/// One registry's authentication state.
pub(crate) struct Auth {
    host: String,
    credential: Option<Credential>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    challenge: Option<Challenge>,
    tokens: HashMap<String, (String, Instant)>,
}

/// A token service's answer.
#[derive(serde::Deserialize)]
struct TokenAnswer {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

impl Auth {
    pub(crate) fn new(host: &str, credential: Option<Credential>) -> Auth {
        Auth {
            host: host.to_string(),
            credential,
            state: Mutex::new(State::default()),
        }
    }

    /// Whether credentials are configured.
    pub(crate) fn has_credential(&self) -> bool {
        self.credential.is_some()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records the challenge from a 401; drops the tokens for `scopes`, which
    /// the registry just refused.
    pub(crate) fn challenged(&self, challenge: Option<Challenge>, scopes: &[String]) {
        let mut state = self.state();
        if challenge.is_some() {
            state.challenge = challenge;
        }
        state.tokens.remove(&scopes.join(" "));
    }

    /// The `Authorization` header for a request needing `scopes`, fetching
    /// a token when the registry uses them and none is cached.
    pub(crate) fn header(
        &self,
        client_for: &dyn Fn(&str) -> reqwest::blocking::Client,
        scopes: &[String],
        retries: u32,
    ) -> Result<Option<String>, RegistryError> {
        let challenge = self.state().challenge.clone();
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(match &self.credential {
                Some(Credential::Basic { username, password }) => {
                    Some(format!("Basic {}", basic(username, password)))
                }
                _ => None,
            }),
            Some(Challenge::Bearer { realm, service, .. }) => {
                let key = scopes.join(" ");
                if let Some((token, until)) = self.state().tokens.get(&key)
                    && Instant::now() < *until
                {
                    return Ok(Some(format!("Bearer {token}")));
                }
                let (token, lifetime) = self.fetch_token(
                    &client_for(&realm),
                    &realm,
                    service.as_deref(),
                    scopes,
                    retries,
                )?;
                let until = Instant::now()
                    .checked_add(lifetime.min(MAX_TOKEN_LIFETIME).saturating_sub(RENEW_EARLY))
                    .unwrap_or_else(Instant::now);
                self.state().tokens.insert(key, (token.clone(), until));
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    fn fetch_token(
        &self,
        http: &reqwest::blocking::Client,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
        retries: u32,
    ) -> Result<(String, Duration), RegistryError> {
        let mut attempt = 0;
        loop {
            let request = self.token_request(http, realm, service, scopes);
            let failure = match request.send() {
                Ok(answer) if retry::retryable_status(answer.status().as_u16()) => {
                    format!("token service answered {}", answer.status())
                }
                Ok(answer) => return self.read_token(answer),
                Err(e) => match retry::classify(&e) {
                    retry::Failure::Transient(text) => text,
                    retry::Failure::Certificate(text) | retry::Failure::Permanent(text) => {
                        return Err(RegistryError::Unreachable {
                            host: self.host.clone(),
                            message: format!("token service {realm}: {text}"),
                        });
                    }
                },
            };
            attempt += 1;
            tracing::info!(%realm, attempt, reason = %failure, "token request failed");
            if attempt > retries {
                return Err(RegistryError::GaveUp {
                    what: format!("getting a token from {realm}"),
                    host: self.host.clone(),
                    attempts: attempt,
                    message: failure,
                });
            }
            std::thread::sleep(retry::delay(attempt, None));
        }
    }

    fn token_request(
        &self,
        http: &reqwest::blocking::Client,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> reqwest::blocking::RequestBuilder {
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(service) = service {
            query.push(("service", service));
        }
        for scope in scopes {
            query.push(("scope", scope));
        }
        match &self.credential {
            Some(Credential::IdentityToken(token)) => {
                let mut form = vec![
                    ("grant_type", "refresh_token"),
                    ("refresh_token", token.as_str()),
                    ("client_id", "kiln"),
                ];
                form.extend(query);
                let body = form
                    .iter()
                    .map(|(k, v)| format!("{k}={}", form_escape(v)))
                    .collect::<Vec<_>>()
                    .join("&");
                http.post(realm)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(body)
            }
            Some(Credential::Basic { username, password }) => {
                http.get(with_query(realm, &query)).header(
                    "Authorization",
                    format!("Basic {}", basic(username, password)),
                )
            }
            None => http.get(with_query(realm, &query)),
        }
    }

    fn read_token(
        &self,
        answer: reqwest::blocking::Response,
    ) -> Result<(String, Duration), RegistryError> {
        let status = answer.status().as_u16();
        if status == 401 || status == 403 {
            return Err(RegistryError::Unauthorized {
                host: self.host.clone(),
                detail: if self.credential.is_some() {
                    ": the token service refused the username or password".into()
                } else {
                    ": the token service refused anonymous access".into()
                },
            });
        }
        let invalid = |message: String| RegistryError::Invalid {
            what: "token answer".into(),
            host: self.host.clone(),
            message,
        };
        if !answer.status().is_success() {
            return Err(invalid(format!("status {status}")));
        }
        let bytes = answer.bytes().map_err(|e| invalid(retry::describe(&e)))?;
        let parsed: TokenAnswer =
            serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
        let token = parsed
            .token
            .filter(|t| !t.is_empty())
            .or(parsed.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid("no token in the answer".into()))?;
        let lifetime = parsed
            .expires_in
            .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs);
        Ok((token, lifetime))
    }
}

/// `base64(user:password)` for a Basic `Authorization` header (RFC 7617).
pub(crate) fn basic(username: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
}

/// `url` with `pairs` added to its query string.
fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return url.to_string();
    }
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", form_escape(v)))
        .collect::<Vec<_>>()
        .join("&");
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{query}")
}

/// `application/x-www-form-urlencoded` escaping of one value.
fn form_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_escaped() {
        assert_eq!(
            form_escape("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
        assert_eq!(form_escape("a b"), "a+b");
    }

    #[test]
    fn credentials_never_show_in_debug_output() {
        let c = Credential::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
