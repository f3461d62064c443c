//! A token server for the registry's `auth: token` mode, after
//! distribution's token specification (docs/spec/auth/token.md and
//! jwt.md): the registry answers 401 with
//! `WWW-Authenticate: Bearer realm=…,service=…,scope=…`; the client asks
//! `GET REALM?service=S&scope=TYPE:NAME:ACTIONS` (Basic credentials
//! optional) and gets a JWT the registry verifies against its
//! `rootcertbundle`.
//!
//! Policy, Docker Hub's for a public repository: the configured user gets
//! every action asked for; an anonymous client gets `pull` only; wrong
//! credentials get 401 and no token. Every request is recorded, so tests
//! can check the scopes asked for and that a client caches its tokens.
//!
//! The JWT is RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3) made
//! by `openssl dgst -sha256 -sign`, with the signer's certificate in the
//! `x5c` header: registry 2.8 finds the key there and checks that the
//! certificate chains to `rootcertbundle`.

use super::super::http::{Head, response};
use super::base64;
use std::io::{self, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Who may have tokens, and how they are made.
pub(super) struct Issuer {
    pub user: String,
    pub password: String,
    /// The registry's `auth.token.service`: the token's audience.
    pub service: String,
    /// The registry's `auth.token.issuer`.
    pub issuer: String,
    /// The signer's private key (PEM, RSA).
    pub key: PathBuf,
    /// The signer's certificate chain for `x5c`: base64 DER, leaf first.
    pub x5c: Vec<String>,
    /// Lifetime of a token, in seconds (`expires_in` and the JWT's `exp`).
    pub lifetime: u64,
    /// How many of the first tokens are issued already expired (the JWT's
    /// `exp` long past, beyond the registry's minute of leeway) while
    /// `expires_in` still promises `lifetime`: a token the client believes
    /// valid and the registry refuses.
    pub stale: AtomicU64,
}

/// One request the server answered.
#[derive(Debug, Clone)]
pub(super) struct TokenRequest {
    /// The user of the Basic credentials; `None` when anonymous.
    pub user: Option<String>,
    /// The `scope` parameters, as sent (one per space-separated item).
    pub scopes: Vec<String>,
    /// Whether a token was issued (false: wrong credentials, 401).
    pub granted: bool,
}

/// A running token server on loopback; stops when dropped.
pub(super) struct TokenServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<TokenRequest>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl TokenServer {
    /// Starts serving tokens made by `issuer`.
    pub(super) fn start(issuer: Issuer) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (seen, stop) = (Arc::clone(&seen), Arc::clone(&stop));
            let issuer = Arc::new(issuer);
            std::thread::spawn(move || accept_loop(&listener, &issuer, &seen, &stop))
        };
        TokenServer {
            addr,
            seen,
            stop,
            accept: Some(accept),
        }
    }

    /// The URL for the registry's `auth.token.realm`.
    pub(super) fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// Every request answered so far, oldest first.
    pub(super) fn requests(&self) -> Vec<TokenRequest> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // accept() blocks; one connection wakes it to see the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    issuer: &Arc<Issuer>,
    seen: &Arc<Mutex<Vec<TokenRequest>>>,
    stop: &AtomicBool,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let (issuer, seen) = (Arc::clone(issuer), Arc::clone(seen));
        // A connection error only ends that connection; the client sees it.
        std::thread::spawn(move || serve(&stream, &issuer, &seen));
    }
}

/// Answers one request and closes: token clients open a connection per
/// token, and `Connection: close` says not to reuse it.
fn serve(stream: &TcpStream, issuer: &Issuer, seen: &Mutex<Vec<TokenRequest>>) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream);
    let Some(head) = Head::read(&mut reader)? else {
        return Ok(());
    };
    let answer = answer(&head, issuer, seen)?;
    let mut stream = stream;
    stream.write_all(&answer)?;
    stream.flush()
}

fn answer(head: &Head, issuer: &Issuer, seen: &Mutex<Vec<TokenRequest>>) -> io::Result<Vec<u8>> {
    let (method, path) = head.method_and_path();
    if path != "/token" {
        return Ok(response("404 Not Found", &[], b"", true));
    }
    if method != "GET" {
        return Ok(response(
            "405 Method Not Allowed",
            &[("Allow", "GET")],
            b"",
            true,
        ));
    }
    let params = query(&head.start);
    let wrong_service = params
        .iter()
        .any(|(k, v)| k == "service" && *v != issuer.service);
    if wrong_service {
        return Ok(response("400 Bad Request", &[], b"unknown service", true));
    }
    let scopes: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' '))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let (user, granted) = match credentials(head, issuer) {
        Credentials::Anonymous => (None, true),
        Credentials::Valid => (Some(issuer.user.clone()), true),
        Credentials::Invalid(user) => (user, false),
    };
    seen.lock().unwrap().push(TokenRequest {
        user: user.clone(),
        scopes: scopes.clone(),
        granted,
    });
    if !granted {
        let body = br#"{"details":"incorrect username or password"}"#;
        let challenge = (
            "WWW-Authenticate",
            r#"Basic realm="kiln test token server""#,
        );
        return Ok(response("401 Unauthorized", &[challenge, JSON], body, true));
    }
    let token = issuer.token(user.as_deref(), &scopes)?;
    let body = serde_json::json!({
        "token": token,
        "access_token": token,
        "expires_in": issuer.lifetime,
        "issued_at": rfc3339(now()),
    });
    Ok(response(
        "200 OK",
        &[JSON],
        body.to_string().as_bytes(),
        true,
    ))
}

const JSON: (&str, &str) = ("Content-Type", "application/json");

enum Credentials {
    Anonymous,
    Valid,
    /// Wrong password, unknown user, or not Basic; the user if one was named.
    Invalid(Option<String>),
}

fn credentials(head: &Head, issuer: &Issuer) -> Credentials {
    let Some(value) = head.header("authorization") else {
        return Credentials::Anonymous;
    };
    let decoded = value
        .strip_prefix("Basic ")
        .and_then(|b| base64::decode(b.trim()))
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
        return Credentials::Invalid(None);
    };
    if user == issuer.user && password == issuer.password {
        Credentials::Valid
    } else {
        Credentials::Invalid(Some(user.to_string()))
    }
}

impl Issuer {
    /// A signed JWT for `user` (`None`: anonymous) granting `scopes`.
    fn token(&self, user: Option<&str>, scopes: &[String]) -> io::Result<String> {
        static JTI: AtomicU64 = AtomicU64::new(0);
        let stale = self
            .stale
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        // Issued ten minutes ago, for five.
        let now = if stale { now() - 600 } else { now() };
        let lifetime = if stale { 300 } else { self.lifetime };
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5c": self.x5c});
        let claims = serde_json::json!({
            "iss": self.issuer,
            "sub": user.unwrap_or(""),
            "aud": self.service,
            "exp": now + lifetime,
            // A little slack for clocks; the registry allows a minute too.
            "nbf": now - 10,
            "iat": now,
            "jti": format!("{}-{}", std::process::id(), JTI.fetch_add(1, Ordering::Relaxed)),
            "access": access(user.is_some(), scopes),
        });
        let signing_input = format!(
            "{}.{}",
            base64::encode_url(header.to_string().as_bytes()),
            base64::encode_url(claims.to_string().as_bytes())
        );
        let signature = sign(&self.key, signing_input.as_bytes())?;
        Ok(format!(
            "{signing_input}.{}",
            base64::encode_url(&signature)
        ))
    }
}

/// The `access` claim: one entry per well-formed scope; anonymous clients
/// keep only `pull`.
fn access(authenticated: bool, scopes: &[String]) -> serde_json::Value {
    let entries: Vec<serde_json::Value> = scopes
        .iter()
        .filter_map(|scope| {
            // TYPE:NAME:ACTIONS; a name may hold a colon (host:port/repo).
            let (kind, rest) = scope.split_once(':')?;
            let (name, actions) = rest.rsplit_once(':')?;
            let actions: Vec<&str> = actions
                .split(',')
                .filter(|a| authenticated || *a == "pull")
                .collect();
            Some(serde_json::json!({"type": kind, "name": name, "actions": actions}))
        })
        .collect();
    serde_json::Value::Array(entries)
}

/// A PKCS#1 v1.5 SHA-256 signature of `data` with the PEM key at `key`.
fn sign(key: &std::path::Path, data: &[u8]) -> io::Result<Vec<u8>> {
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or_else(|| io::Error::other("openssl has no stdin"))?
        .write_all(data)?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(io::Error::other(format!(
            "openssl dgst -sign failed: {why}"
        )));
    }
    Ok(out.stdout)
}

/// The decoded query parameters of a request line, in order.
fn query(start: &str) -> Vec<(String, String)> {
    let target = start.split(' ').nth(1).unwrap_or("");
    let query = target.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (url_decode(k), url_decode(v))
        })
        .collect()
}

/// Form decoding: `+` is a space, `%XX` a byte; a stray `%` stays.
fn url_decode(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let byte = text.as_bytes()[i];
        let escaped = text
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (byte, escaped) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `secs` since the epoch as an RFC 3339 UTC timestamp.
fn rfc3339(secs: u64) -> String {
    let (year, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of a day number counted from 1970-01-01
/// (Howard Hinnant's `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift to an era starting on 0000-03-01: leap days then fall last.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[test]
fn timestamps_and_query_strings() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    let params =
        query("GET /token?service=reg&scope=repository%3Atest%2Fa%3Apull%2Cpush&x=a+b%ZZ HTTP/1.1");
    assert_eq!(params[1].1, "repository:test/a:pull,push");
    assert_eq!(params[2].1, "a b%ZZ");
}

#[test]
fn anonymous_access_is_pull_only() {
    let scopes = ["repository:test/a:pull,push".to_string(), "bad".to_string()];
    let granted = access(false, &scopes);
    assert_eq!(
        granted,
        serde_json::json!([{"type": "repository", "name": "test/a", "actions": ["pull"]}])
    );
    let granted = access(true, &["repository:host:5000/a:push".to_string()]);
    assert_eq!(granted[0]["name"], "host:5000/a");
}
