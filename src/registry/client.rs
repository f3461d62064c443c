//! One registry host as kiln talks to it: the HTTP client (TLS roots and
//! client certificate from certs.d, verification off for insecure
//! registries), the scheme found by pinging `/v2/` (distribution-spec
//! "determining support"), the authentication state, and `send`, which
//! attaches credentials, answers a 401 once, and retries transient
//! failures.

use super::auth::Auth;
use super::challenge;
use super::credentials;
use super::endpoint;
use super::error::RegistryError;
use super::options::RegistryOptions;
use super::retry;
use reqwest::blocking::{Client, RequestBuilder, Response};
use std::sync::Once;
use std::time::Duration;

/// A registry host, connected.
pub struct Registry {
    /// The name as images carry it (`docker.io`, `127.0.0.1:5000`).
    pub domain: String,
    /// `https://host[:port]` or `http://host[:port]`.
    base: String,
    /// The client for the registry's own host (unverified when insecure),
    /// giving up on an answer silent for the stall timeout.
    http: Client,
    /// The same without the stall timeout, for requests with a body: the
    /// blocking client's timeout covers sending the whole request, which
    /// for a large blob may rightly take any time.
    uploads: Client,
    /// A verifying client for every other host (token services).
    verified: Client,
    auth: Auth,
    options: RegistryOptions,
}

/// What every client of a registry shares; `no_proxy` for loopback
/// registries, which a proxy could not reach (docker's proxy variables are
/// honoured for the rest).
fn client_builder(no_proxy: bool) -> reqwest::blocking::ClientBuilder {
    let builder = Client::builder()
        .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .tcp_keepalive(Duration::from_secs(30))
        // A peer that stops acknowledging for a minute is gone.
        .tcp_user_timeout(Duration::from_secs(60));
    if no_proxy {
        builder.no_proxy()
    } else {
        builder
    }
}

/// Installs the crypto provider rustls needs, once per process; every
/// TLS client kiln builds calls this first.
pub(crate) fn install_crypto_provider() {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        // ring's needs no C toolchain beyond what `cc` builds. Err only
        // means a provider is set already.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The outcome of one request.
pub(crate) enum Attempt {
    /// An answer that is neither a 401 nor worth retrying.
    Answer(Response),
    /// A failure worth another attempt.
    Transient {
        /// What went wrong.
        message: String,
        /// The server's `Retry-After`, if it sent one.
        retry_after: Option<String>,
    },
}

/// `repository:NAME:ACTIONS`, a token scope (token spec "scope").
pub(crate) fn scope(repository: &str, actions: &str) -> String {
    format!("repository:{repository}:{actions}")
}

impl Registry {
    /// Connects to `domain` (an image reference's domain): builds the
    /// client, looks up credentials and pings `/v2/` to learn the scheme
    /// and the authentication challenge.
    pub fn connect(domain: &str, options: &RegistryOptions) -> Result<Registry, RegistryError> {
        let credential = credentials::lookup(endpoint::auth_key(domain))?;
        Registry::connect_as(domain, options, credential)
    }

    /// Connects to `domain` as `credential` (for `kiln login`, which checks
    /// credentials before storing them).
    pub fn connect_as(
        domain: &str,
        options: &RegistryOptions,
        credential: Option<credentials::Credential>,
    ) -> Result<Registry, RegistryError> {
        install_crypto_provider();
        let host = endpoint::api_host(domain).to_string();
        let loopback = endpoint::loopback(&host);
        let insecure = !options.tls_verify || loopback.is_some();
        let certs = super::certs::load(&options.certs_d, &host)?;
        let built = |e: reqwest::Error| RegistryError::Unreachable {
            host: host.clone(),
            message: retry::describe(&e),
        };
        let own_host = |timeout: Option<Duration>| {
            let mut builder = client_builder(loopback.is_some())
                .timeout(timeout)
                .tls_certs_merge(certs.roots.clone());
            if let Some(identity) = &certs.identity {
                builder = builder.identity(identity.clone());
            }
            if insecure {
                let name = endpoint::host_name(&host).to_string();
                builder = builder
                    .tls_danger_accept_invalid_certs(true)
                    // Trust stops at this host: a redirect elsewhere is refused.
                    .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                        if attempt.url().host_str() == Some(name.as_str()) {
                            attempt.follow()
                        } else {
                            attempt.error("an insecure registry redirected to another host")
                        }
                    }));
            }
            if let Some(addrs) = loopback.as_ref().filter(|a| !a.is_empty()) {
                builder = builder.resolve_to_addrs(endpoint::host_name(&host), addrs);
            }
            builder.build().map_err(built)
        };
        let http = own_host(Some(options.stall_timeout))?;
        let uploads = own_host(None)?;
        // Token services and other hosts are always verified.
        let verified = client_builder(false)
            .timeout(options.stall_timeout)
            .tls_certs_merge(certs.roots)
            .build()
            .map_err(built)?;
        let mut registry = Registry {
            domain: domain.to_string(),
            base: format!("https://{host}"),
            http,
            uploads,
            verified,
            auth: Auth::new(&host, credential),
            options: options.clone(),
        };
        registry.ping(insecure)?;
        Ok(registry)
    }

    /// `host[:port]` of the API.
    pub fn host(&self) -> &str {
        self.base.split_once("://").map_or(&self.base, |(_, h)| h)
    }

    /// The URL of `path` (below `/v2/`).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/v2/{path}", self.base)
    }

    /// Resolves a `Location` header against the registry's base URL.
    pub(crate) fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else {
            format!("{}/{}", self.base, location.trim_start_matches('/'))
        }
    }

    /// Whether `url` is on the registry's scheme, host and port.
    fn same_origin(&self, url: &reqwest::Url) -> bool {
        same_origin(&self.base, url)
    }

    /// An https registry that names a plain-http URL (a proxy in front of
    /// it that forgot the scheme, say) would have kiln send blobs in the
    /// clear: refused.
    fn check_downgrade(&self, url: &reqwest::Url) -> Result<(), RegistryError> {
        if is_downgrade(&self.base, url) {
            return Err(RegistryError::Invalid {
                what: "upload location".into(),
                host: self.host().to_string(),
                message: format!("{url} is plain http for an https registry"),
            });
        }
        Ok(())
    }

    /// The client for requests to `url`: the registry's own for its host,
    /// the verifying one elsewhere.
    fn client_for(&self, url: &str) -> Client {
        match reqwest::Url::parse(url) {
            Ok(parsed) if self.same_origin(&parsed) => self.http.clone(),
            _ => self.verified.clone(),
        }
    }

    /// Checks that the registry accepts this client's credentials: `GET
    /// /v2/` with them (for a token registry, a token with no scope is
    /// fetched, as `docker login` does).
    pub fn check_login(&self) -> Result<(), RegistryError> {
        let url = self.url("");
        let answer = self.send("logging in", &[], &|http| http.get(&url))?;
        if answer.status().is_success() {
            Ok(())
        } else {
            Err(self.failure("login", "", answer))
        }
    }

    /// `GET /v2/` over HTTPS, and for an insecure registry over plain HTTP
    /// when the TLS handshake fails; records the challenge of a 401.
    fn ping(&mut self, insecure: bool) -> Result<(), RegistryError> {
        let host = self.host().to_string();
        let mut attempt = 0;
        loop {
            let answered = match self.http.get(self.url("")).send() {
                Ok(answer) => Ok(answer),
                Err(e) if insecure && (retry::is_tls_failure(&e) || e.is_connect()) => {
                    let plain = format!("http://{host}");
                    let answer = self.http.get(format!("{plain}/v2/")).send();
                    if answer.is_ok() {
                        self.base = plain;
                    }
                    answer.map_err(|e| retry::describe(&e))
                }
                Err(e) => Err(match retry::classify(&e) {
                    retry::Failure::Certificate(message) => {
                        return Err(RegistryError::Certificate {
                            host,
                            certs_dir: self.options.certs_d.display().to_string(),
                            message,
                        });
                    }
                    retry::Failure::Permanent(message) => {
                        return Err(RegistryError::Unreachable { host, message });
                    }
                    retry::Failure::Transient(text) => text,
                }),
            };
            let failure = match answered {
                Ok(answer) => match self.pinged(answer) {
                    Some(result) => return result,
                    None => "the registry is unavailable".to_string(),
                },
                Err(text) => text,
            };
            attempt += 1;
            tracing::info!(host = %host, attempt, reason = %failure, "ping failed");
            if attempt > self.options.retries.min(3) {
                return Err(RegistryError::Unreachable {
                    host,
                    message: failure,
                });
            }
            std::thread::sleep(retry::delay(attempt, None));
        }
    }

    /// What a ping answer means: done (ok or an error), or None to retry.
    fn pinged(&self, answer: Response) -> Option<Result<(), RegistryError>> {
        let status = answer.status().as_u16();
        if retry::retryable_status(status) {
            return None;
        }
        if status == 401 {
            self.auth.challenged(challenge_of(&answer), &[]);
            return Some(Ok(()));
        }
        if answer.status().is_success() {
            return Some(Ok(()));
        }
        Some(Err(RegistryError::Invalid {
            what: "answer to GET /v2/".into(),
            host: self.host().to_string(),
            message: format!("status {status}: not a registry speaking the OCI distribution API"),
        }))
    }

    /// Sends the request `build` makes once, with credentials for
    /// `scopes`; a 401 is answered once with fresh credentials. A transport
    /// failure or a retryable status comes back as [`Attempt::Transient`]
    /// for the caller to decide how to go on (an upload resumes rather than
    /// repeating a request).
    pub(crate) fn send_once(
        &self,
        scopes: &[String],
        build: &dyn Fn(&Client) -> RequestBuilder,
    ) -> Result<Attempt, RegistryError> {
        let mut answered_challenge = false;
        loop {
            let mut request = build(&self.http)
                .build()
                .map_err(|e| RegistryError::Invalid {
                    what: "request".into(),
                    host: self.host().to_string(),
                    message: retry::describe(&e),
                })?;
            self.check_downgrade(request.url())?;
            // Credentials go to the registry's own origin only, never to
            // an upload URL on another host or scheme (as docker does).
            if self.same_origin(request.url())
                && let Some(header) = self.auth.header(
                    &|realm| self.client_for(realm),
                    scopes,
                    self.options.retries,
                )?
            {
                let value = reqwest::header::HeaderValue::from_str(&header).map_err(|_| {
                    RegistryError::Invalid {
                        what: "token".into(),
                        host: self.host().to_string(),
                        message: "not usable in an Authorization header".into(),
                    }
                })?;
                request
                    .headers_mut()
                    .insert(reqwest::header::AUTHORIZATION, value);
            }
            let client = if request.body().is_some() {
                &self.uploads
            } else {
                &self.http
            };
            return match client.execute(request) {
                Ok(answer) if answer.status().as_u16() == 401 => {
                    if answered_challenge {
                        return Err(self.unauthorized());
                    }
                    answered_challenge = true;
                    self.auth.challenged(challenge_of(&answer), scopes);
                    continue;
                }
                Ok(answer) if retry::retryable_status(answer.status().as_u16()) => {
                    let retry_after = answer
                        .headers()
                        .get("Retry-After")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    Ok(Attempt::Transient {
                        message: status_text(answer),
                        retry_after,
                    })
                }
                Ok(answer) => Ok(Attempt::Answer(answer)),
                Err(e) => match retry::classify(&e) {
                    retry::Failure::Certificate(message) => Err(RegistryError::Certificate {
                        host: self.host().to_string(),
                        certs_dir: self.options.certs_d.display().to_string(),
                        message,
                    }),
                    retry::Failure::Permanent(message) => Err(RegistryError::Unreachable {
                        host: self.host().to_string(),
                        message,
                    }),
                    retry::Failure::Transient(message) => Ok(Attempt::Transient {
                        message,
                        retry_after: None,
                    }),
                },
            };
        }
    }

    /// [`Registry::send_once`], repeated after transient failures until the
    /// retries are used up. For requests that can simply be sent again.
    pub(crate) fn send(
        &self,
        what: &str,
        scopes: &[String],
        build: &dyn Fn(&Client) -> RequestBuilder,
    ) -> Result<Response, RegistryError> {
        let mut attempt = 0;
        loop {
            match self.send_once(scopes, build)? {
                Attempt::Answer(answer) => return Ok(answer),
                Attempt::Transient {
                    message,
                    retry_after,
                } => {
                    attempt += 1;
                    self.give_up_after(what, attempt, &message)?;
                    std::thread::sleep(retry::delay(attempt, retry_after.as_deref()));
                }
            }
        }
    }

    /// Err once `attempt` failures used up the retries.
    pub(crate) fn give_up_after(
        &self,
        what: &str,
        attempt: u32,
        message: &str,
    ) -> Result<(), RegistryError> {
        if attempt > self.options.retries {
            tracing::info!(host = %self.host(), what, attempt, reason = message, "giving up");
            return Err(RegistryError::GaveUp {
                what: what.to_string(),
                host: self.host().to_string(),
                attempts: attempt,
                message: message.to_string(),
            });
        }
        tracing::info!(host = %self.host(), what, attempt, reason = message, "retrying");
        Ok(())
    }

    fn unauthorized(&self) -> RegistryError {
        RegistryError::Unauthorized {
            host: self.domain.clone(),
            detail: if self.auth.has_credential() {
                ": the credentials were refused or do not grant this access".into()
            } else {
                format!(
                    ": no credentials configured (run `kiln login {}`)",
                    self.domain
                )
            },
        }
    }

    /// An error for an answer that is neither success nor retryable.
    pub(crate) fn failure(&self, what: &str, repository: &str, answer: Response) -> RegistryError {
        let status = answer.status().as_u16();
        let host = self.host().to_string();
        let message = error_text(answer);
        match status {
            403 => RegistryError::Denied {
                host,
                repository: repository.to_string(),
                message,
            },
            404 => RegistryError::NotFound {
                what: what.to_string(),
                host,
                message,
            },
            _ => RegistryError::Status {
                what: what.to_string(),
                host,
                status,
                message,
            },
        }
    }
}

/// Whether `url` has the scheme, host and port of `base`.
fn same_origin(base: &str, url: &reqwest::Url) -> bool {
    reqwest::Url::parse(base).is_ok_and(|base| {
        base.scheme() == url.scheme()
            && base.host_str() == url.host_str()
            && base.port_or_known_default() == url.port_or_known_default()
    })
}

/// Whether `url` is plain http for a registry at an https `base`.
fn is_downgrade(base: &str, url: &reqwest::Url) -> bool {
    base.starts_with("https://") && url.scheme() == "http"
}

fn challenge_of(answer: &Response) -> Option<challenge::Challenge> {
    answer
        .headers()
        .get_all("WWW-Authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(challenge::parse)
}

/// An answer's status and the registry's explanation, `503 Service
/// Unavailable: …`, for failures that are retried or reported as they are.
pub(crate) fn status_text(answer: Response) -> String {
    let status = answer.status();
    format!("{status}: {}", error_text(answer))
}

/// The registry's explanation from an error answer: its error JSON
/// (distribution-spec "error codes") condensed to `CODE: message`, else
/// the start of the body.
pub(crate) fn error_text(answer: Response) -> String {
    use std::io::Read as _;
    let mut body = Vec::new();
    let _ = answer.take(64 * 1024).read_to_end(&mut body);
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ApiError>,
    }
    #[derive(serde::Deserialize)]
    struct ApiError {
        code: Option<String>,
        message: Option<String>,
    }
    if let Ok(parsed) = serde_json::from_slice::<Errors>(&body)
        && !parsed.errors.is_empty()
    {
        return parsed
            .errors
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    e.code.as_deref().unwrap_or("ERROR"),
                    e.message.as_deref().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
    }
    let text = String::from_utf8_lossy(&body);
    let text = text.trim();
    if text.is_empty() {
        "no explanation given".into()
    } else {
        text.chars().take(200).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> reqwest::Url {
        reqwest::Url::parse(text).unwrap()
    }

    #[test]
    fn credentials_stay_on_the_registrys_origin() {
        let base = "https://reg.example:5000";
        assert!(same_origin(
            base,
            &url("https://reg.example:5000/v2/a/blobs/uploads/x?_state=1")
        ));
        assert!(!same_origin(base, &url("https://storage.example/upload/x")));
        assert!(!same_origin(base, &url("https://reg.example:5001/v2/")));
        assert!(!same_origin(base, &url("http://reg.example:5000/v2/")));
        assert!(same_origin(
            "https://reg.example",
            &url("https://reg.example:443/v2/")
        ));
    }

    #[test]
    fn plain_http_locations_from_an_https_registry_are_downgrades() {
        assert!(is_downgrade(
            "https://reg",
            &url("http://reg/v2/a/blobs/uploads/x")
        ));
        assert!(!is_downgrade("https://reg", &url("https://reg/v2/")));
        assert!(!is_downgrade(
            "http://127.0.0.1:5000",
            &url("http://127.0.0.1:5000/v2/")
        ));
    }
}
