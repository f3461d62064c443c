//! A loopback HTTP/1.1 proxy in front of a plain-HTTP registry that counts
//! requests by kind and injects faults: a `503 Service Unavailable` in
//! place of the registry's answer, or a connection reset (RST, by closing
//! with `SO_LINGER` 0) after part of a request or response body went
//! through, or silence with the connection held open — what a flaky
//! network or an overloaded registry does to a push or pull. Without rules it passes everything through, and its counts
//! show what a client sent ("the second push uploaded no blob").
//!
//! The client sees the proxy as the registry: it sends `Host: PROXY`, and
//! the registry builds its upload `Location` URLs from that host, so the
//! whole upload stays on the proxy. Keep-alive connections work; each
//! client connection has its own upstream connection.

use super::super::http::{Copied, Framing, Head, copy_body, response};
use std::collections::HashMap;
use std::io::{self, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What a request does, by method and path (distribution's API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Kind {
    /// `GET /v2/`: the version check and auth probe.
    Ping,
    /// `POST …/blobs/uploads/`: starts an upload (or mounts a blob).
    UploadStart,
    /// `PATCH …/blobs/uploads/ID`: a chunk of an upload.
    UploadChunk,
    /// `PUT …/blobs/uploads/ID?digest=…`: completes an upload, with or
    /// without the last data.
    UploadFinish,
    /// `HEAD …/blobs/DIGEST`: does the registry have this blob?
    BlobHead,
    /// `GET …/blobs/DIGEST`.
    BlobGet,
    /// `PUT …/manifests/REF`: what makes a tag.
    ManifestPut,
    /// `GET` or `HEAD …/manifests/REF`.
    ManifestGet,
    /// Anything else.
    Other,
}

/// Every request of a blob upload.
pub(super) const UPLOADS: &[Kind] = &[Kind::UploadStart, Kind::UploadChunk, Kind::UploadFinish];

/// What to do to a request a rule picked.
#[derive(Debug, Clone, Copy)]
pub(super) enum Fault {
    /// Answer 503 instead of the registry. The request's body is read and
    /// dropped, so the connection stays usable, as with a real 503.
    Unavailable,
    /// Pass on the head and this many bytes of the request body, then
    /// reset the connection. Only counts as injected if the body is
    /// longer; otherwise the rule stays armed.
    ResetRequestAfter(u64),
    /// Pass the request on and this many bytes of the response body, then
    /// reset the connection (same proviso).
    ResetResponseAfter(u64),
    /// Pass the request on and this many bytes of the response body, then
    /// send nothing more while keeping the connection open, until the
    /// client gives up on it (same proviso).
    StallResponseAfter(u64),
}

/// When to inject a fault: on requests of some kinds, after letting some
/// through, a number of times.
#[derive(Debug, Clone)]
pub(super) struct Rule {
    kinds: Vec<Kind>,
    fault: Fault,
    min_body: u64,
    skip: usize,
    times: usize,
}

impl Rule {
    /// `fault` on the first request of one of `kinds`, once.
    pub(super) fn new(fault: Fault, kinds: &[Kind]) -> Rule {
        Rule {
            kinds: kinds.to_vec(),
            fault,
            min_body: 0,
            skip: 0,
            times: 1,
        }
    }

    /// Lets the first `n` matching requests through untouched.
    pub(super) fn skip(mut self, n: usize) -> Rule {
        self.skip = n;
        self
    }

    /// Injects on every matching request, for ever.
    pub(super) fn always(mut self) -> Rule {
        self.times = usize::MAX;
        self
    }

    /// Matches only requests whose body is at least `bytes` long (a
    /// chunked body, length unknown, counts as long enough).
    pub(super) fn min_body(mut self, bytes: u64) -> Rule {
        self.min_body = bytes;
        self
    }
}

/// Counts and rules, shared by all connections.
#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    counts: HashMap<Kind, usize>,
    injected: usize,
    /// Stalled connections the client closed (rather than the proxy's
    /// idle limit ending them).
    stalls_abandoned: usize,
    /// Drop `Range` headers, as a registry (or a proxy in front of one)
    /// that serves only whole blobs.
    ignore_ranges: bool,
}

impl State {
    /// Counts a request and picks its fault: the first armed rule it
    /// matches. Each rule counts the matching requests it skips.
    fn admit(&mut self, kind: Kind, body: Framing) -> Option<(usize, Fault)> {
        *self.counts.entry(kind).or_default() += 1;
        let length = match body {
            Framing::Empty => 0,
            Framing::Length(n) => n,
            Framing::Chunked | Framing::UntilClose => u64::MAX,
        };
        for (i, rule) in self.rules.iter_mut().enumerate() {
            if rule.times == 0 || !rule.kinds.contains(&kind) || length < rule.min_body {
                continue;
            }
            if rule.skip > 0 {
                rule.skip -= 1;
                continue;
            }
            return Some((i, rule.fault));
        }
        None
    }

    fn injected(&mut self, rule: usize) {
        self.rules[rule].times = self.rules[rule].times.saturating_sub(1);
        self.injected += 1;
    }
}

/// A running proxy; stops accepting when dropped.
pub(super) struct FaultProxy {
    addr: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// A pass-through proxy on 127.0.0.1 in front of `upstream`
    /// (`HOST:PORT` of a plain-HTTP registry).
    pub(super) fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (state, stop) = (Arc::clone(&state), Arc::clone(&stop));
            let upstream = upstream.to_string();
            std::thread::spawn(move || accept_loop(&listener, &upstream, &state, &stop))
        };
        FaultProxy {
            addr,
            state,
            stop,
            accept: Some(accept),
        }
    }

    /// `HOST:PORT` to use in image references instead of the registry's.
    pub(super) fn addr(&self) -> &str {
        &self.addr
    }

    /// Arms `rule` (rules are tried in the order added).
    pub(super) fn add(&self, rule: Rule) {
        self.state.lock().unwrap().rules.push(rule);
    }

    /// Requests of `kind` seen (faulted ones included).
    pub(super) fn count(&self, kind: Kind) -> usize {
        self.state
            .lock()
            .unwrap()
            .counts
            .get(&kind)
            .copied()
            .unwrap_or(0)
    }

    /// Blob-upload requests seen (any of [`UPLOADS`]).
    pub(super) fn uploads(&self) -> usize {
        UPLOADS.iter().map(|&k| self.count(k)).sum()
    }

    /// All requests seen.
    pub(super) fn total(&self) -> usize {
        self.state.lock().unwrap().counts.values().sum()
    }

    /// Faults injected so far.
    pub(super) fn injected(&self) -> usize {
        self.state.lock().unwrap().injected
    }

    /// From now on, requests reach the registry without their `Range`
    /// header: every blob `GET` answers 200 with the whole blob.
    pub(super) fn ignore_ranges(&self) {
        self.state.lock().unwrap().ignore_ranges = true;
    }

    /// Stalled connections the client gave up on and closed.
    pub(super) fn stalls_abandoned(&self) -> usize {
        self.state.lock().unwrap().stalls_abandoned
    }

    /// Forgets the counts (rules and injected faults stay).
    pub(super) fn reset_counts(&self) {
        self.state.lock().unwrap().counts.clear();
    }

    /// Counts and faults, for failure messages.
    pub(super) fn summary(&self) -> String {
        let state = self.state.lock().unwrap();
        let mut counts: Vec<String> = state
            .counts
            .iter()
            .map(|(k, n)| format!("{k:?}={n}"))
            .collect();
        counts.sort();
        format!(
            "requests {}; faults injected {}",
            counts.join(" "),
            state.injected
        )
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // accept() blocks; one connection wakes it to see the flag.
        let _ = TcpStream::connect(&self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    upstream: &str,
    state: &Arc<Mutex<State>>,
    stop: &AtomicBool,
) {
    for client in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let (upstream, state) = (upstream.to_string(), Arc::clone(state));
        // An error ends that connection only; the client sees it closed.
        std::thread::spawn(move || serve(client, &upstream, &state));
    }
}

/// The registry end of one client connection.
struct Upstream {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Upstream {
    fn connect(addr: &str) -> io::Result<Upstream> {
        let writer = TcpStream::connect(addr)?;
        writer.set_read_timeout(Some(IDLE))?;
        Ok(Upstream {
            reader: BufReader::new(writer.try_clone()?),
            writer,
        })
    }
}

/// How long a connection may sit silent; only a stuck peer reaches it.
const IDLE: Duration = Duration::from_secs(120);

/// Serves a client connection's requests in turn until either side
/// closes, or a fault resets it.
fn serve(client: TcpStream, upstream_addr: &str, state: &Mutex<State>) -> io::Result<()> {
    client.set_read_timeout(Some(IDLE))?;
    let mut from_client = BufReader::new(&client);
    let mut up = Upstream::connect(upstream_addr)?;
    while let Some(mut request) = Head::read(&mut from_client)? {
        if state.lock().unwrap().ignore_ranges {
            request.remove_header("Range");
        }
        let (method, path) = request.method_and_path();
        let method = method.to_string();
        let kind = classify(&method, path);
        let framing = request.request_framing()?;
        let fault = state.lock().unwrap().admit(kind, framing);
        if let Some((rule, Fault::Unavailable)) = fault {
            copy_body(&mut from_client, &mut io::sink(), framing, None)?;
            state.lock().unwrap().injected(rule);
            let answer = unavailable(request.closes());
            (&client).write_all(&answer)?;
            if request.closes() {
                return Ok(());
            }
            continue;
        }
        let (request_limit, response_limit) = match fault {
            Some((_, Fault::ResetRequestAfter(n))) => (Some(n), None),
            Some((_, Fault::ResetResponseAfter(n) | Fault::StallResponseAfter(n))) => {
                (None, Some(n))
            }
            _ => (None, None),
        };
        up.writer.write_all(&request.to_bytes())?;
        let sent = copy_body(&mut from_client, &mut up.writer, framing, request_limit)?;
        if sent == Copied::Cut {
            return reset(&client, fault, state);
        }
        let answer = Head::read(&mut up.reader)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "registry closed the connection",
            )
        })?;
        (&client).write_all(&answer.to_bytes())?;
        let answer_framing = answer.response_framing(&method)?;
        let got = copy_body(&mut up.reader, &mut &client, answer_framing, response_limit)?;
        if got == Copied::Cut {
            if let Some((rule, Fault::StallResponseAfter(_))) = fault {
                return stall(&client, rule, state);
            }
            return reset(&client, fault, state);
        }
        if request.closes() || answer.closes() || answer_framing == Framing::UntilClose {
            return Ok(());
        }
    }
    Ok(())
}

/// Counts the fault and resets `client`: with `SO_LINGER` 0, closing
/// sends RST instead of FIN, so the client sees "connection reset" rather
/// than a clean end. The caller returns, which drops (closes) the socket
/// and the upstream connection with it.
fn reset(
    client: &TcpStream,
    fault: Option<(usize, Fault)>,
    state: &Mutex<State>,
) -> io::Result<()> {
    if let Some((rule, _)) = fault {
        state.lock().unwrap().injected(rule);
    }
    rustix::net::sockopt::set_socket_linger(client, Some(Duration::ZERO))?;
    Ok(())
}

/// Counts the fault and holds `client` open in silence until it closes
/// (or [`IDLE`] passes, which a client without a stall timeout of its own
/// would wait for): a peer that is still there but sends nothing.
fn stall(client: &TcpStream, rule: usize, state: &Mutex<State>) -> io::Result<()> {
    state.lock().unwrap().injected(rule);
    let mut rest = Vec::new();
    // The end of the stream is the client closing; an error is a reset
    // or the idle limit.
    if io::Read::read_to_end(&mut &*client, &mut rest).is_ok() {
        state.lock().unwrap().stalls_abandoned += 1;
    }
    Ok(())
}

/// A 503 in distribution's error format.
fn unavailable(close: bool) -> Vec<u8> {
    let body = br#"{"errors":[{"code":"UNAVAILABLE","message":"service unavailable (injected by the test proxy)"}]}"#;
    response(
        "503 Service Unavailable",
        &[("Content-Type", "application/json")],
        body,
        close,
    )
}

/// The kind of a request, from its method and path.
fn classify(method: &str, path: &str) -> Kind {
    if path == "/v2/" || path == "/v2" {
        return Kind::Ping;
    }
    if let Some((_, rest)) = path.split_once("/blobs/uploads") {
        let started = !rest.trim_start_matches('/').is_empty();
        return match (method, started) {
            ("POST", false) => Kind::UploadStart,
            ("PATCH", true) => Kind::UploadChunk,
            ("PUT", true) => Kind::UploadFinish,
            _ => Kind::Other,
        };
    }
    match (
        method,
        path.contains("/blobs/"),
        path.contains("/manifests/"),
    ) {
        ("HEAD", true, _) => Kind::BlobHead,
        ("GET", true, _) => Kind::BlobGet,
        ("PUT", _, true) => Kind::ManifestPut,
        ("GET" | "HEAD", _, true) => Kind::ManifestGet,
        _ => Kind::Other,
    }
}

#[test]
fn requests_are_classified_by_method_and_path() {
    let cases = [
        ("GET", "/v2/", Kind::Ping),
        ("POST", "/v2/a/b/blobs/uploads/", Kind::UploadStart),
        ("PATCH", "/v2/a/blobs/uploads/1f2e", Kind::UploadChunk),
        ("PUT", "/v2/a/blobs/uploads/1f2e", Kind::UploadFinish),
        ("HEAD", "/v2/a/blobs/sha256:00", Kind::BlobHead),
        ("GET", "/v2/a/blobs/sha256:00", Kind::BlobGet),
        ("PUT", "/v2/a/manifests/1", Kind::ManifestPut),
        ("HEAD", "/v2/a/manifests/1", Kind::ManifestGet),
        ("GET", "/v2/_catalog", Kind::Other),
    ];
    for (method, path, kind) in cases {
        assert_eq!(classify(method, path), kind, "{method} {path}");
    }
}

#[test]
fn rules_skip_then_fire_the_given_number_of_times() {
    let mut state = State::default();
    state
        .rules
        .push(Rule::new(Fault::Unavailable, UPLOADS).skip(1));
    state
        .rules
        .push(Rule::new(Fault::ResetRequestAfter(8), &[Kind::UploadChunk]).min_body(100));
    assert!(state.admit(Kind::UploadStart, Framing::Empty).is_none());
    let (rule, _) = state.admit(Kind::UploadStart, Framing::Empty).unwrap();
    state.injected(rule);
    assert!(state.admit(Kind::UploadStart, Framing::Empty).is_none());
    assert!(
        state
            .admit(Kind::UploadChunk, Framing::Length(10))
            .is_none()
    );
    let (rule, _) = state.admit(Kind::UploadChunk, Framing::Chunked).unwrap();
    assert_eq!(rule, 1);
    assert_eq!(state.counts[&Kind::UploadStart], 3);
    assert_eq!(state.injected, 1);
}
