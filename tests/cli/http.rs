//! Just enough HTTP/1.1 (RFC 9112) for the test servers: read a message
//! head, tell how its body is framed, and copy that body through — whole,
//! or cut after a number of bytes so the fault proxy can break an upload in
//! the middle. No pipelining: clients send the next request only after the
//! answer to the previous one, which is all reqwest, Go and curl do.

use std::io::{self, BufRead, Read, Write};

/// Longest head accepted; a runaway peer must not grow a buffer forever.
const MAX_HEAD: usize = 64 * 1024;

/// A request or response head: the start line and the header fields.
#[derive(Debug, Clone)]
pub(super) struct Head {
    /// `GET /v2/ HTTP/1.1` or `HTTP/1.1 200 OK`, without the line end.
    pub start: String,
    /// Header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
}

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body at all.
    Empty,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// A response that ends when the server closes the connection.
    UntilClose,
}

/// What [`copy_body`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Copied {
    /// The whole body went through; this many payload bytes.
    Whole(u64),
    /// The limit was reached with more body to come; the peer was sent
    /// exactly the limit's worth of payload.
    Cut,
}

impl Head {
    /// Reads a head; `None` when the peer closed the connection cleanly
    /// before sending one (the end of a keep-alive connection).
    pub(super) fn read(from: &mut impl BufRead) -> io::Result<Option<Head>> {
        let mut start = String::new();
        if from.read_line(&mut start)? == 0 {
            return Ok(None);
        }
        let mut size = start.len();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            size += from.read_line(&mut line)?;
            if size > MAX_HEAD || !line.ends_with('\n') {
                return Err(invalid("truncated or oversized message head"));
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| invalid("header line without a colon"))?;
            headers.push((name.to_string(), value.trim().to_string()));
        }
        let start = start.trim_end_matches(['\r', '\n']).to_string();
        Ok(Some(Head { start, headers }))
    }

    /// The first value of header `name` (names are case-insensitive).
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Drops every header `name` (case-insensitive).
    pub(super) fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The head as sent on the wire.
    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.start);
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out.into_bytes()
    }

    /// A request's method and path (query cut off).
    pub(super) fn method_and_path(&self) -> (&str, &str) {
        let mut parts = self.start.split(' ');
        let method = parts.next().unwrap_or("");
        let target = parts.next().unwrap_or("");
        let path = target.split_once('?').map_or(target, |(p, _)| p);
        (method, path)
    }

    /// A response's status code; 0 when the status line is malformed.
    pub(super) fn status(&self) -> u16 {
        self.start
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// Whether either side asked to close the connection after this
    /// message.
    pub(super) fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }

    /// How a request's body is framed (RFC 9112 §6.3: chunked wins over a
    /// length; no length means no body).
    pub(super) fn request_framing(&self) -> io::Result<Framing> {
        if self.is_chunked() {
            return Ok(Framing::Chunked);
        }
        self.content_length()
            .map(|n| n.map_or(Framing::Empty, Framing::Length))
    }

    /// How a response to a `method` request is framed: answers to HEAD and
    /// 1xx/204/304 answers never have a body, whatever their headers say.
    pub(super) fn response_framing(&self, method: &str) -> io::Result<Framing> {
        let status = self.status();
        if method == "HEAD" || (100..200).contains(&status) || status == 204 || status == 304 {
            return Ok(Framing::Empty);
        }
        if self.is_chunked() {
            return Ok(Framing::Chunked);
        }
        self.content_length()
            .map(|n| n.map_or(Framing::UntilClose, Framing::Length))
    }

    fn is_chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    fn content_length(&self) -> io::Result<Option<u64>> {
        self.header("content-length")
            .map(|v| v.parse().map_err(|_| invalid("bad Content-Length")))
            .transpose()
    }
}

/// Copies a body framed as `framing` from `from` to `to`, raw (chunk
/// framing included), counting payload bytes. With `limit`, stops once
/// that many payload bytes went through if the body has more.
pub(super) fn copy_body(
    from: &mut impl BufRead,
    to: &mut impl Write,
    framing: Framing,
    limit: Option<u64>,
) -> io::Result<Copied> {
    let limit = limit.unwrap_or(u64::MAX);
    let copied = match framing {
        Framing::Empty => Copied::Whole(0),
        Framing::Length(n) => copy_exact(from, to, n, limit)?,
        Framing::Chunked => copy_chunked(from, to, limit)?,
        Framing::UntilClose => copy_exact(from, to, u64::MAX, limit)?,
    };
    to.flush()?;
    Ok(copied)
}

/// Copies `n` bytes (or until end of stream when `n` is `u64::MAX`),
/// cutting at `limit` if the body is longer.
fn copy_exact(
    from: &mut impl BufRead,
    to: &mut impl Write,
    n: u64,
    limit: u64,
) -> io::Result<Copied> {
    let take = n.min(limit);
    let copied = io::copy(&mut Read::take(&mut *from, take), to)?;
    if copied < take && n != u64::MAX {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "body shorter than its Content-Length",
        ));
    }
    if copied == limit && n > limit {
        // More is announced (or, until close, may come): look before
        // calling it a cut, so a body of exactly `limit` bytes is whole.
        if n != u64::MAX || !from.fill_buf()?.is_empty() {
            return Ok(Copied::Cut);
        }
    }
    Ok(Copied::Whole(copied))
}

/// Copies a chunked body (chunks, the last chunk, trailers) as is. A cut
/// falls inside a chunk, or before the next chunk once `limit` payload
/// bytes went through.
fn copy_chunked(from: &mut impl BufRead, to: &mut impl Write, limit: u64) -> io::Result<Copied> {
    let mut total = 0u64;
    loop {
        let mut line = String::new();
        from.read_line(&mut line)?;
        let size_text = line.trim_end().split(';').next().unwrap_or("");
        let size = u64::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            to.write_all(line.as_bytes())?;
            copy_trailers(from, to)?;
            return Ok(Copied::Whole(total));
        }
        if total == limit {
            return Ok(Copied::Cut);
        }
        to.write_all(line.as_bytes())?;
        if let Copied::Cut = copy_exact(from, to, size, limit - total)? {
            return Ok(Copied::Cut);
        }
        total += size;
        let mut end = String::new();
        from.read_line(&mut end)?;
        to.write_all(end.as_bytes())?;
    }
}

/// Copies the trailer section up to and including its empty line.
fn copy_trailers(from: &mut impl BufRead, to: &mut impl Write) -> io::Result<()> {
    loop {
        let mut line = String::new();
        if from.read_line(&mut line)? == 0 {
            return Err(invalid("chunked body ends without its last line"));
        }
        to.write_all(line.as_bytes())?;
        if line.trim_end().is_empty() {
            return Ok(());
        }
    }
}

/// A complete response with a small body; `Connection: close` when
/// `close`, so the peer knows not to send another request.
pub(super) fn response(
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    close: bool,
) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if close {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

#[test]
fn chunked_bodies_are_copied_raw_and_cut_at_the_limit() {
    let body = b"4\r\nabcd\r\n3;ext=1\r\nefg\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
    let mut out = Vec::new();
    let copied = copy_body(&mut &body[..], &mut out, Framing::Chunked, None).unwrap();
    assert_eq!(copied, Copied::Whole(7));
    assert_eq!(out, &body[..body.len() - 4]);

    let mut out = Vec::new();
    let copied = copy_body(&mut &body[..], &mut out, Framing::Chunked, Some(5)).unwrap();
    assert_eq!(copied, Copied::Cut);
    assert_eq!(out, b"4\r\nabcd\r\n3;ext=1\r\ne");
}

#[test]
fn a_body_as_long_as_the_limit_is_whole() {
    let mut out = Vec::new();
    let copied = copy_body(&mut &b"abcd"[..], &mut out, Framing::Length(4), Some(4)).unwrap();
    assert_eq!(copied, Copied::Whole(4));
    let copied = copy_body(&mut &b"abcde"[..], &mut out, Framing::Length(5), Some(4)).unwrap();
    assert_eq!(copied, Copied::Cut);
    let copied = copy_body(&mut &b"abcd"[..], &mut out, Framing::UntilClose, Some(4)).unwrap();
    assert_eq!(copied, Copied::Whole(4));
}
