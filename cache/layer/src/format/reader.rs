//! Reading a layer tar as a stream of entries, without seeking and with
//! bounded memory.
//!
//! Field parsing follows Go's `archive/tar` (what containerd, BuildKit,
//! docker and the registries' scanners use) wherever tar readers disagree,
//! so that no layer can mean one thing to them and another to kiln:
//! - numbers: octal with leading/trailing spaces and NULs trimmed, an empty
//!   field is 0, or GNU base-256 when the top bit is set;
//! - the ustar `prefix` joins the name whenever the magic is `ustar\0`,
//!   whatever the version bytes;
//! - the checksum may be the unsigned or the signed byte sum;
//! - links, devices, directories and fifos never have data, whatever their
//!   size field says (`isHeaderOnlyType`): a crafted size cannot hide
//!   entries from one reader and show them to another;
//! - pax `path`/`linkpath`/`size`/`uid`/`gid`/`mtime` override the header,
//!   a pax `path` beats a GNU long name, and NUL bytes in names are errors;
//! - typeflag NUL with a trailing `/` is a directory (pre-POSIX tar);
//! - sparse members (old GNU `S`, pax 0.0, 0.1, 1.0) read as the whole
//!   file, holes as zeros (`sparse.rs`).
//!
//! Extension payloads are capped (pax records 8 MiB, GNU long names 1 MiB)
//! and pax global headers are skipped unread, so a hostile layer cannot
//! make unpack buffer gigabytes.

use std::io::{self, Read};

use super::pax::{XATTR_PREFIX, parse_records};
use super::sparse::{self, Sparse, SparseHeader, Step};
use super::{BLOCK, Entry, Kind, padding};

/// Largest pax extended header accepted (xattrs included).
const MAX_PAX: u64 = 8 << 20;
/// Largest GNU long name or long link name accepted.
const MAX_LONG_NAME: u64 = 1 << 20;

/// Why the stream could not be read; `offset` is the position in the
/// uncompressed tar.
#[derive(Debug)]
pub enum ReadError {
    /// Reading the stream failed.
    Io {
        /// Where in the tar.
        offset: u64,
        /// The error.
        source: io::Error,
    },
    /// The bytes are not a tar as Go's reader reads one.
    Malformed {
        /// Where in the tar.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io { offset, source } => write!(f, "read failed at byte {offset}: {source}"),
            ReadError::Malformed { offset, reason } => {
                write!(f, "malformed tar at byte {offset}: {reason}")
            }
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io { source, .. } => Some(source),
            ReadError::Malformed { .. } => None,
        }
    }
}

impl From<ReadError> for io::Error {
    fn from(e: ReadError) -> io::Error {
        match e {
            ReadError::Io { source, .. } => source,
            malformed => io::Error::new(io::ErrorKind::InvalidData, malformed.to_string()),
        }
    }
}

/// A time as a pax record gives it: seconds since the epoch (floored for
/// times before it) and nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Time {
    /// Whole seconds, floored.
    pub secs: i64,
    /// Nanoseconds after `secs`, below 1e9.
    pub nanos: u32,
}

/// One member read from the archive.
#[derive(Debug)]
pub struct Member {
    /// The entry (its `mtime` in whole seconds).
    pub entry: Entry,
    /// A typeflag kiln does not apply (volume labels, multi-volume
    /// continuations, …). The entry is then a `Regular` whose data is
    /// skipped.
    pub unsupported: Option<u8>,
    /// The modification time with the fraction a pax `mtime` may carry.
    pub mtime: Time,
    /// A pax `atime`, when the archive records one.
    pub atime: Option<Time>,
}

/// Streams members out of a tar: kiln's one tar reader, for layers, ADD's
/// archives, `kiln import` and `kiln load` alike.
pub struct TarReader<R> {
    inner: R,
    offset: u64,
    /// Data bytes of the current member not yet read.
    remaining: u64,
    /// Padding after the current member's data.
    pad: u64,
    /// The current member's sparse map, when it is sparse.
    sparse: Option<Sparse>,
    ended: bool,
}

impl<R: Read> TarReader<R> {
    /// A reader of the tar stream `inner` (decompressed already).
    pub fn new(inner: R) -> Self {
        TarReader {
            inner,
            offset: 0,
            remaining: 0,
            pad: 0,
            sparse: None,
            ended: false,
        }
    }

    /// The reader, positioned after the end-of-archive block.
    pub(crate) fn into_inner(self) -> R {
        self.inner
    }

    /// The next member, or `None` at the end of the archive.
    pub fn next_member(&mut self) -> Result<Option<Member>, ReadError> {
        if self.ended {
            return Ok(None);
        }
        // Both were checked not to overflow when the member was read.
        self.skip(self.remaining + self.pad)?;
        self.remaining = 0;
        self.pad = 0;
        self.sparse = None;

        let mut pax: Option<Vec<u8>> = None;
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        loop {
            let start = self.offset;
            let mut block = [0u8; BLOCK];
            let pending = pax.is_some() || long_name.is_some() || long_link.is_some();
            if !self.read_block(&mut block)? || block.iter().all(|b| *b == 0) {
                if pending {
                    return Err(malformed(
                        start,
                        "extended header without a following entry",
                    ));
                }
                self.ended = true;
                return Ok(None);
            }
            check_checksum(&block).map_err(|reason| malformed(start, reason))?;
            let typeflag = block[156];
            let size =
                numeric(&block[124..136]).map_err(|_| malformed(start, "invalid size field"))?;
            match typeflag {
                b'x' => {
                    if pax.is_some() {
                        return Err(malformed(start, "two pax headers for one entry"));
                    }
                    pax = Some(self.read_extension(size, MAX_PAX, "pax header")?);
                }
                b'g' => {
                    // Global pax headers set defaults that no layer tool
                    // writes and containerd ignores: skipped, unbuffered.
                    let padded = padded(size).ok_or_else(|| malformed(start, "size overflow"))?;
                    self.skip(padded)?;
                }
                b'L' => {
                    let mut name = self.read_extension(size, MAX_LONG_NAME, "gnu long name")?;
                    cut_at_nul(&mut name);
                    long_name = Some(name);
                }
                b'K' => {
                    let mut name = self.read_extension(size, MAX_LONG_NAME, "gnu long link")?;
                    cut_at_nul(&mut name);
                    long_link = Some(name);
                }
                _ => {
                    let parsed = parse_member(&block, start, size, pax, long_name, long_link)?;
                    padded(parsed.data).ok_or_else(|| malformed(start, "size overflow"))?;
                    self.remaining = parsed.data;
                    self.pad = padding(parsed.data) as u64;
                    if let Some((header, size)) = parsed.sparse {
                        self.start_sparse(header, size, start)?;
                    }
                    return Ok(Some(parsed.member));
                }
            }
        }
    }

    /// The current member's data as a reader.
    pub fn data(&mut self) -> Data<'_, R> {
        Data(self)
    }

    /// Reads data of the current member; 0 at its end. A sparse member's
    /// holes read as zeros.
    pub fn read_data(&mut self, buf: &mut [u8]) -> Result<usize, ReadError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let Some(sparse) = &mut self.sparse else {
            return self.read_stored(buf);
        };
        match sparse.step(buf.len()) {
            Step::End if self.remaining > 0 => Err(malformed(
                self.offset,
                "sparse member has data no region of its map refers to",
            )),
            Step::End => Ok(0),
            Step::Zeros(n) => {
                buf[..n].fill(0);
                sparse.advance(n);
                Ok(n)
            }
            Step::Data(n) => {
                let got = self.read_stored(&mut buf[..n])?;
                if got == 0 {
                    return Err(malformed(
                        self.offset,
                        "sparse member has less data than its map says",
                    ));
                }
                if let Some(sparse) = &mut self.sparse {
                    sparse.advance(got);
                }
                Ok(got)
            }
        }
    }

    /// Reads the member's data as stored in the archive; 0 at its end.
    fn read_stored(&mut self, buf: &mut [u8]) -> Result<usize, ReadError> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = loop {
            match self.inner.read(&mut buf[..want]) {
                Ok(0) => return Err(truncated(self.offset)),
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(self.offset, e)),
            }
        };
        self.remaining -= n as u64;
        self.offset += n as u64;
        Ok(n)
    }

    /// Reads the rest of a sparse member's map (old GNU extension blocks
    /// after the header, or pax 1.0's text at the start of the data),
    /// checks it against the file's `size`, and reads the data through it
    /// from now on.
    fn start_sparse(
        &mut self,
        header: SparseHeader,
        size: u64,
        start: u64,
    ) -> Result<(), ReadError> {
        let regions = match header {
            SparseHeader::Regions {
                mut regions,
                mut extended,
            } => {
                while extended {
                    let at = self.offset;
                    let mut block = [0u8; BLOCK];
                    if !self.read_block(&mut block)? {
                        return Err(truncated(at));
                    }
                    let (more, again) =
                        sparse::old_gnu_extension(&block, numeric).map_err(|r| malformed(at, r))?;
                    regions.extend(more);
                    extended = again;
                }
                regions
            }
            SparseHeader::MapInData => {
                let mut text = Vec::new();
                loop {
                    let at = self.offset;
                    if self.remaining < BLOCK as u64 || text.len() as u64 >= MAX_PAX {
                        return Err(malformed(at, "sparse map cut short"));
                    }
                    let mut block = [0u8; BLOCK];
                    let mut filled = 0;
                    while filled < BLOCK {
                        filled += self.read_stored(&mut block[filled..])?;
                    }
                    text.extend_from_slice(&block);
                    if let Some(map) = sparse::map_in_data(&text) {
                        break map.map_err(|r| malformed(at, r))?;
                    }
                }
            }
        };
        sparse::validate(&regions, size).map_err(|r| malformed(start, r))?;
        let sparse = Sparse::new(regions, size);
        if sparse.data_len() != self.remaining {
            return Err(malformed(
                start,
                "sparse member's data does not match its map",
            ));
        }
        self.sparse = Some(sparse);
        Ok(())
    }

    fn read_block(&mut self, block: &mut [u8; BLOCK]) -> Result<bool, ReadError> {
        match read_full(&mut self.inner, block).map_err(|e| io_error(self.offset, e))? {
            0 => return Ok(false),
            BLOCK => {}
            _ => return Err(malformed(self.offset, "truncated header block")),
        }
        self.offset += BLOCK as u64;
        Ok(true)
    }

    fn read_extension(&mut self, size: u64, limit: u64, what: &str) -> Result<Vec<u8>, ReadError> {
        if size > limit {
            return Err(malformed(
                self.offset,
                &format!("{what} of {size} bytes exceeds the {limit}-byte limit"),
            ));
        }
        let mut data = Vec::with_capacity(size as usize);
        let got = (&mut self.inner)
            .take(size)
            .read_to_end(&mut data)
            .map_err(|e| io_error(self.offset, e))?;
        if got as u64 != size {
            return Err(truncated(self.offset + got as u64));
        }
        self.offset += size;
        self.skip(padding(size) as u64)?;
        Ok(data)
    }

    fn skip(&mut self, n: u64) -> Result<(), ReadError> {
        if n == 0 {
            return Ok(());
        }
        let got = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())
            .map_err(|e| io_error(self.offset, e))?;
        self.offset += got;
        if got != n {
            return Err(truncated(self.offset));
        }
        Ok(())
    }
}

/// The current member's data ([`TarReader::data`]).
pub struct Data<'a, R>(&'a mut TarReader<R>);

impl<R: Read> Read for Data<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.0.read_data(buf)?)
    }
}

/// Whether a 512-byte block is a tar header as Go's reader takes one: not
/// all zeros (the end of an archive), and the checksum field holding the
/// unsigned or the signed sum of the block. What ADD's detection asks of an
/// archive's first block (BuildKit's `isArchive`).
pub fn is_header(block: &[u8; BLOCK]) -> bool {
    !block.iter().all(|b| *b == 0) && check_checksum(block).is_ok()
}

/// `size` rounded up to whole blocks, if that fits.
/// Reads until `buf` is full or the input ends (retrying interrupted
/// reads); how much it read.
pub fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn padded(size: u64) -> Option<u64> {
    size.checked_add(padding(size) as u64)
}

fn malformed(offset: u64, reason: &str) -> ReadError {
    ReadError::Malformed {
        offset,
        reason: reason.to_string(),
    }
}

fn io_error(offset: u64, source: io::Error) -> ReadError {
    ReadError::Io { offset, source }
}

fn truncated(offset: u64) -> ReadError {
    malformed(offset, "archive ends in the middle of an entry")
}

fn cut_at_nul(bytes: &mut Vec<u8>) {
    if let Some(i) = bytes.iter().position(|b| *b == 0) {
        bytes.truncate(i);
    }
}

/// A NUL-terminated string field.
fn string(field: &[u8]) -> Vec<u8> {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    field[..end].to_vec()
}

/// A numeric field: GNU base-256 when the top bit is set, else octal with
/// spaces and NULs trimmed (empty = 0).
fn numeric(field: &[u8]) -> Result<u64, ()> {
    match field.first() {
        Some(first) if first & 0x80 != 0 => {
            if first & 0x40 != 0 {
                return Err(()); // negative
            }
            let mut value: u64 = u64::from(first & 0x7f);
            for b in &field[1..] {
                if value > (u64::MAX >> 8) {
                    return Err(());
                }
                value = (value << 8) | u64::from(*b);
            }
            Ok(value)
        }
        _ => {
            let trimmed = trim(field);
            if trimmed.is_empty() {
                return Ok(0);
            }
            let mut value: u64 = 0;
            for b in trimmed {
                if !(b'0'..=b'7').contains(b) || value > (u64::MAX >> 3) {
                    return Err(());
                }
                value = (value << 3) | u64::from(b - b'0');
            }
            Ok(value)
        }
    }
}

fn trim(field: &[u8]) -> &[u8] {
    let is_pad = |b: &u8| *b == b' ' || *b == 0;
    let start = field.iter().position(|b| !is_pad(b)).unwrap_or(field.len());
    let end = field
        .iter()
        .rposition(|b| !is_pad(b))
        .map_or(start, |i| i + 1);
    &field[start..end]
}

fn check_checksum(block: &[u8; BLOCK]) -> Result<(), &'static str> {
    let stored = numeric(&block[148..156]).map_err(|_| "invalid checksum field")?;
    let (mut unsigned, mut signed) = (0u64, 0i64);
    for (i, b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { *b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    if stored == unsigned || i64::try_from(stored) == Ok(signed) {
        Ok(())
    } else {
        Err("header checksum mismatch")
    }
}

/// A member's headers, read.
struct Parsed {
    member: Member,
    /// Bytes of data stored in the archive after the headers.
    data: u64,
    /// For a sparse member: what its headers say of the map, and the
    /// file's size.
    sparse: Option<(SparseHeader, u64)>,
}

/// The pax records of the GNU sparse formats (Go's `paxGNUSparse*`).
#[derive(Default)]
struct SparseRecords {
    major: Option<String>,
    minor: Option<String>,
    map: Option<String>,
    numblocks: Option<String>,
    /// 0.0's `GNU.sparse.offset` and `GNU.sparse.numbytes`, in order.
    pairs: Vec<String>,
    size: Option<String>,
    realsize: Option<String>,
    name: Option<Vec<u8>>,
}

impl SparseRecords {
    /// Takes one record if it is a sparse one.
    fn take(&mut self, key: &[u8], value: &[u8]) -> Result<bool, &'static str> {
        let text = || String::from_utf8_lossy(value).into_owned();
        match key {
            b"GNU.sparse.major" => self.major = Some(text()),
            b"GNU.sparse.minor" => self.minor = Some(text()),
            b"GNU.sparse.map" => self.map = Some(text()),
            b"GNU.sparse.numblocks" => self.numblocks = Some(text()),
            b"GNU.sparse.size" => self.size = Some(text()),
            b"GNU.sparse.realsize" => self.realsize = Some(text()),
            b"GNU.sparse.name" => self.name = Some(value.to_vec()),
            b"GNU.sparse.offset" | b"GNU.sparse.numbytes" => {
                // Offsets and lengths alternate, as Go's parsePAX checks.
                let offset_turn = self.pairs.len().is_multiple_of(2);
                if offset_turn != (key == b"GNU.sparse.offset") || value.contains(&b',') {
                    return Err("GNU.sparse.offset and numbytes records out of order");
                }
                self.pairs.push(text());
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// What the records make of the member (Go's
    /// `readGNUSparsePAXHeaders`): nothing when it is not sparse (or of an
    /// unknown sparse version), else the map so far and the file's size.
    fn header(mut self) -> Result<Option<(SparseHeader, Option<u64>)>, &'static str> {
        if !self.pairs.is_empty() {
            self.map = Some(self.pairs.join(","));
        }
        let map_in_data = match (self.major.as_deref(), self.minor.as_deref()) {
            (Some("0"), Some("0" | "1")) => false,
            (Some("1"), Some("0")) => true,
            (None, None) if self.map.as_deref().is_some_and(|m| !m.is_empty()) => false,
            _ => return Ok(None),
        };
        let size = match self.size.or(self.realsize) {
            Some(size) => Some(size.parse::<u64>().map_err(|_| "invalid GNU.sparse.size")?),
            None => None,
        };
        let header = match map_in_data {
            true => SparseHeader::MapInData,
            false => SparseHeader::Regions {
                regions: sparse::pax_map(
                    self.map.as_deref().unwrap_or(""),
                    self.numblocks.as_deref().unwrap_or(""),
                )?,
                extended: false,
            },
        };
        Ok(Some((header, size)))
    }
}

fn parse_member(
    block: &[u8; BLOCK],
    offset: u64,
    header_size: u64,
    pax: Option<Vec<u8>>,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
) -> Result<Parsed, ReadError> {
    let bad = |reason: &str| malformed(offset, reason);
    let field = |range: std::ops::Range<usize>, what: &str| {
        numeric(&block[range]).map_err(|_| malformed(offset, &format!("invalid {what} field")))
    };

    // Kept as written (a directory's trailing `/` included), so errors show
    // the name the layer used.
    let mut path = match long_name {
        Some(name) => name,
        None => {
            let name = string(&block[0..100]);
            if &block[257..263] == b"ustar\0" && block[345] != 0 {
                let mut joined = string(&block[345..500]);
                joined.push(b'/');
                joined.extend_from_slice(&name);
                joined
            } else {
                name
            }
        }
    };
    let mut link = long_link.unwrap_or_else(|| string(&block[157..257]));
    let mut size = header_size;
    let mut uid = field(108..116, "uid")?;
    let mut gid = field(116..124, "gid")?;
    let mut mtime = Time {
        secs: i64::try_from(field(136..148, "mtime")?).map_err(|_| bad("mtime out of range"))?,
        nanos: 0,
    };
    let mut atime = None;
    // Old tars put the file type bits in the mode field too.
    let mode = u32::try_from(field(100..108, "mode")? & 0o7777).unwrap_or(0);
    let mut xattrs = Vec::new();
    let mut sparse_records = SparseRecords::default();

    if let Some(pax) = &pax {
        let records = parse_records(pax).map_err(bad)?;
        for (key, value) in records {
            if sparse_records.take(key, value).map_err(bad)? {
                continue;
            }
            let number = || -> Result<u64, ReadError> {
                std::str::from_utf8(value)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or_else(|| bad("invalid number in pax header"))
            };
            match key {
                b"path" | b"linkpath" if value.contains(&0) => {
                    return Err(bad("NUL byte in a pax name"));
                }
                b"path" => path = value.to_vec(),
                b"linkpath" => link = value.to_vec(),
                b"size" => size = number()?,
                b"uid" => uid = number()?,
                b"gid" => gid = number()?,
                b"mtime" => mtime = pax_time(value).ok_or_else(|| bad("invalid pax mtime"))?,
                b"atime" => atime = Some(pax_time(value).ok_or_else(|| bad("invalid pax atime"))?),
                _ => {
                    if let Some(name) = key.strip_prefix(XATTR_PREFIX) {
                        if name.is_empty() || name.contains(&0) {
                            return Err(bad("invalid xattr name in pax header"));
                        }
                        xattrs.push((name.to_vec(), value.to_vec()));
                    }
                }
            }
        }
    }
    // Later records win, as in Go's map; then sorted by name.
    xattrs.reverse();
    xattrs.sort_by(|a, b| a.0.cmp(&b.0));
    xattrs.dedup_by(|later, earlier| later.0 == earlier.0);

    let typeflag = block[156];
    // A sparse member: the old GNU `S` entry, or pax records on a regular
    // one. `size` then is the file's; the archive stores less.
    let mut sparse = None;
    let sparse_name = sparse_records.name.take().filter(|n| !n.is_empty());
    if typeflag == b'S' {
        if &block[257..265] != b"ustar  \0" {
            return Err(bad("sparse entry not in the GNU format"));
        }
        let real = field(483..495, "sparse real size")?;
        let header = sparse::old_gnu_header(block, numeric).map_err(bad)?;
        sparse = Some((header, real));
    } else if let Some((header, real)) = sparse_records.header().map_err(bad)? {
        if !matches!(typeflag, b'0' | 0 | b'7') || path.ends_with(b"/") {
            return Err(bad("sparse records on an entry that has no data"));
        }
        sparse = Some((header, real.unwrap_or(size)));
        if let Some(name) = sparse_name {
            path = name;
        }
    }
    let data = size;
    if let Some((_, real)) = &sparse {
        size = *real;
    }
    let device = |what: &str, range: std::ops::Range<usize>| -> Result<u32, ReadError> {
        u32::try_from(field(range, what)?).map_err(|_| bad("device number out of range"))
    };
    let mut unsupported = None;
    let kind = match typeflag {
        0 if path.ends_with(b"/") => Kind::Directory,
        b'0' | 0 | b'7' => Kind::Regular { size },
        b'1' => Kind::Hardlink { target: link },
        b'2' => Kind::Symlink { target: link },
        b'3' => Kind::Char {
            major: device("devmajor", 329..337)?,
            minor: device("devminor", 337..345)?,
        },
        b'4' => Kind::Block {
            major: device("devmajor", 329..337)?,
            minor: device("devminor", 337..345)?,
        },
        b'5' => Kind::Directory,
        b'6' => Kind::Fifo,
        b'S' => Kind::Regular { size },
        other => {
            unsupported = Some(other);
            Kind::Regular { size }
        }
    };
    // Links, devices, directories and fifos store no data, whatever the
    // size field says (Go's `isHeaderOnlyType`).
    let data = match kind {
        Kind::Regular { .. } => data,
        _ => 0,
    };
    Ok(Parsed {
        member: Member {
            entry: Entry {
                path,
                kind,
                mode,
                uid,
                gid,
                mtime: mtime.secs,
                xattrs,
            },
            unsupported,
            mtime,
            atime,
        },
        data,
        sparse,
    })
}

/// A pax time (`[-]seconds[.fraction]`, Go's `parsePAXTime`): whole
/// seconds floored, the fraction to nanoseconds (digits past the ninth
/// dropped).
fn pax_time(value: &[u8]) -> Option<Time> {
    let text = std::str::from_utf8(value).ok()?;
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = int.parse().ok()?;
    let mut nanos: u32 = 0;
    for digit in frac.bytes().chain(std::iter::repeat(b'0')).take(9) {
        nanos = nanos * 10 + u32::from(digit - b'0');
    }
    if int.starts_with('-') && nanos > 0 {
        // -1.5 is 1.5 s before the epoch: -2 s and 0.5 s.
        return Some(Time {
            secs: secs.checked_sub(1)?,
            nanos: 1_000_000_000 - nanos,
        });
    }
    Some(Time { secs, nanos })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::header::encode;

    fn entry(path: &[u8], kind: Kind) -> Entry {
        Entry {
            path: path.to_vec(),
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            xattrs: Vec::new(),
        }
    }

    fn read_all(tar: &[u8]) -> Result<Vec<(Entry, Vec<u8>)>, ReadError> {
        let mut r = TarReader::new(tar);
        let mut out = Vec::new();
        while let Some(m) = r.next_member()? {
            let mut data = Vec::new();
            let mut buf = [0u8; 7];
            loop {
                let n = r.read_data(&mut buf)?;
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buf[..n]);
            }
            out.push((m.entry, data));
        }
        Ok(out)
    }

    #[test]
    fn numbers_parse_like_go() {
        assert_eq!(numeric(b"0000644\0"), Ok(0o644));
        assert_eq!(numeric(b"  644 \0"), Ok(0o644));
        assert_eq!(numeric(b"\0\0\0\0"), Ok(0));
        assert_eq!(numeric(b"\0 12\0"), Ok(0o12));
        assert_eq!(numeric(&[0x80, 0, 0, 0, 0, 0, 1, 0]), Ok(256));
        assert!(numeric(b"0009\0").is_err());
        assert!(numeric(&[0xff; 8]).is_err());
        let t = |secs, nanos| Some(Time { secs, nanos });
        assert_eq!(pax_time(b"12.5"), t(12, 500_000_000));
        assert_eq!(pax_time(b"1700000000.25"), t(1_700_000_000, 250_000_000));
        assert_eq!(pax_time(b"1.1234567891"), t(1, 123_456_789));
        assert_eq!(pax_time(b"-1.5"), t(-2, 500_000_000));
        assert_eq!(pax_time(b"-1.0"), t(-1, 0));
        assert_eq!(pax_time(b"-3"), t(-3, 0));
        assert_eq!(pax_time(b"42"), t(42, 0));
        assert_eq!(pax_time(b"x"), None);
        assert_eq!(pax_time(b"1.x"), None);
    }

    #[test]
    fn round_trips_what_the_writer_encodes() {
        let mut tar = Vec::new();
        let mut file = entry(&[b'f'; 300], Kind::Regular { size: 10 });
        file.xattrs = vec![
            (b"security.capability".to_vec(), b"\x01\n\x02".to_vec()),
            (b"user.a".to_vec(), b"b".to_vec()),
        ];
        file.mtime = -7;
        encode(&file, &mut tar);
        tar.extend_from_slice(b"0123456789");
        tar.resize(tar.len() + padding(10), 0);
        let dir = entry(b"d", Kind::Directory);
        encode(&dir, &mut tar);
        let dev = entry(b"d/null", Kind::Char { major: 1, minor: 3 });
        encode(&dev, &mut tar);
        tar.resize(tar.len() + 2 * BLOCK, 0);
        let got = read_all(&tar).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], (file, b"0123456789".to_vec()));
        assert_eq!(
            got[1].0,
            Entry {
                path: b"d/".to_vec(),
                ..dir
            }
        );
        assert_eq!(got[2].0, dev);
    }

    #[test]
    fn header_only_types_have_no_data() {
        // A directory claiming 512 bytes of data: Go reads the next block
        // as a header, and so must we.
        let mut tar = Vec::new();
        let mut h = tar::Header::new_ustar();
        h.as_old_mut().name[..2].copy_from_slice(b"d/");
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(512);
        h.set_mode(0o755);
        h.set_cksum();
        tar.extend_from_slice(h.as_bytes());
        encode(&entry(b"hidden", Kind::Regular { size: 0 }), &mut tar);
        tar.resize(tar.len() + 2 * BLOCK, 0);
        let got = read_all(&tar).unwrap();
        let names: Vec<&[u8]> = got.iter().map(|(e, _)| e.path.as_slice()).collect();
        assert_eq!(names, vec![&b"d/"[..], b"hidden"]);
    }

    #[test]
    fn rejects_oversized_and_dangling_extensions() {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::XHeader);
        h.set_size(1 << 30);
        h.set_cksum();
        let err = read_all(h.as_bytes()).unwrap_err();
        assert!(matches!(err, ReadError::Malformed { ref reason, .. } if reason.contains("limit")));

        let mut tar = Vec::new();
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::XHeader);
        h.set_size(0);
        h.set_cksum();
        tar.extend_from_slice(h.as_bytes());
        tar.resize(tar.len() + 2 * BLOCK, 0);
        assert!(read_all(&tar).is_err());
    }

    #[test]
    fn huge_sizes_are_errors_not_overflows() {
        let mut h = tar::Header::new_ustar();
        h.as_old_mut().name[..1].copy_from_slice(b"f");
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(u64::MAX);
        h.set_cksum();
        let mut tar = h.as_bytes().to_vec();
        tar.resize(4 * BLOCK, 0);
        assert!(matches!(read_all(&tar), Err(ReadError::Malformed { .. })));
    }

    #[test]
    fn checksum_and_truncation_are_errors() {
        let mut tar = Vec::new();
        encode(&entry(b"f", Kind::Regular { size: 1000 }), &mut tar);
        tar.extend_from_slice(&[1; 10]);
        assert!(read_all(&tar).is_err());
        let mut tar = Vec::new();
        encode(&entry(b"f", Kind::Fifo), &mut tar);
        tar[0] = b'g';
        assert!(matches!(read_all(&tar), Err(ReadError::Malformed { .. })));
    }

    #[test]
    fn gnu_long_names_and_ustar_prefix() {
        let mut tar = Vec::new();
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        h.set_entry_type(tar::EntryType::GNULongName);
        h.set_size(201);
        h.set_cksum();
        tar.extend_from_slice(h.as_bytes());
        let mut long = vec![b'n'; 200];
        long.push(0);
        tar.extend_from_slice(&long);
        tar.resize(tar.len() + padding(201), 0);
        encode(&entry(b"short", Kind::Fifo), &mut tar);
        let mut h = tar::Header::new_ustar();
        h.as_old_mut().name[..4].copy_from_slice(b"name");
        h.as_ustar_mut().unwrap().prefix[..6].copy_from_slice(b"prefix");
        h.as_ustar_mut().unwrap().version = *b"  ";
        h.set_entry_type(tar::EntryType::Fifo);
        h.set_cksum();
        tar.extend_from_slice(h.as_bytes());
        let got = read_all(&tar).unwrap();
        assert_eq!(got[0].0.path, vec![b'n'; 200]);
        assert_eq!(got[1].0.path, b"prefix/name");
    }
}
