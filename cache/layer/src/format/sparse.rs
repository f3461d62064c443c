//! Sparse files as Go's `archive/tar` reads them (what containerd,
//! BuildKit's ADD and docker use), so that a sparse member means the same
//! file to kiln: the archive holds only the data regions, and a map of
//! where they go; the holes read as zeros.
//!
//! Three encodings, as in Go's reader:
//! - old GNU (`S` typeflag, GNU magic): four map entries in the header,
//!   more in 512-byte extension blocks after it while `isextended` is set,
//!   the file's size in `realsize`;
//! - pax 0.0 and 0.1: `GNU.sparse.offset`/`GNU.sparse.numbytes` pairs, or
//!   `GNU.sparse.map` with `GNU.sparse.numblocks` entries;
//! - pax 1.0 (`GNU.sparse.major=1`, `minor=0`): the map is text at the
//!   start of the member's data, in whole blocks.
//!
//! The regions must be in order, not overlap and end within the size (Go's
//! `validateSparseEntries`); anything else is a malformed member.

/// A data region: where it goes in the file, and how long it is.
pub(crate) type Region = (u64, u64);

/// What a member's headers say about its sparseness; the map may still
/// have to be read from the stream.
#[derive(Debug)]
pub(crate) enum SparseHeader {
    /// The regions are known (old GNU's header entries, or pax 0.x); with
    /// `extended`, old GNU extension blocks follow the header.
    Regions {
        /// The regions read so far.
        regions: Vec<Region>,
        /// Extension blocks follow.
        extended: bool,
    },
    /// Pax 1.0: the map is at the start of the data.
    MapInData,
}

/// Entries in the old GNU header, and in each extension block.
const HEADER_ENTRIES: usize = 4;
const EXTENSION_ENTRIES: usize = 21;

/// Parses `count` map entries of 24 bytes (offset, length; octal or
/// base-256 numbers) from `bytes`; an entry whose offset starts with NUL
/// ends the list, as in GNU and BSD tar.
pub(crate) fn entries(
    bytes: &[u8],
    count: usize,
    numeric: impl Fn(&[u8]) -> Result<u64, ()>,
) -> Result<Vec<Region>, &'static str> {
    let mut out = Vec::new();
    for entry in bytes.chunks(24).take(count) {
        if entry[0] == 0 {
            break;
        }
        let offset = numeric(&entry[..12]).map_err(|_| "invalid sparse offset")?;
        let length = numeric(&entry[12..24]).map_err(|_| "invalid sparse length")?;
        out.push((offset, length));
    }
    Ok(out)
}

/// The old GNU header's map (bytes 386..482) and `isextended` (482).
pub(crate) fn old_gnu_header(
    block: &[u8],
    numeric: impl Fn(&[u8]) -> Result<u64, ()>,
) -> Result<SparseHeader, &'static str> {
    Ok(SparseHeader::Regions {
        regions: entries(&block[386..482], HEADER_ENTRIES, numeric)?,
        extended: block[482] != 0,
    })
}

/// One old GNU extension block's entries, and whether another follows.
pub(crate) fn old_gnu_extension(
    block: &[u8],
    numeric: impl Fn(&[u8]) -> Result<u64, ()>,
) -> Result<(Vec<Region>, bool), &'static str> {
    Ok((
        entries(&block[..504], EXTENSION_ENTRIES, numeric)?,
        block[504] != 0,
    ))
}

/// Pax 0.1's `GNU.sparse.map` (`offset,length,…`), which must hold
/// `numblocks` entries (0.0's offset and numbytes records are joined into
/// the same form by the caller).
pub(crate) fn pax_map(map: &str, numblocks: &str) -> Result<Vec<Region>, &'static str> {
    let count: usize = numblocks
        .parse()
        .map_err(|_| "invalid GNU.sparse.numblocks")?;
    let numbers: Vec<&str> = match map {
        "" => Vec::new(),
        map => map.split(',').collect(),
    };
    if Some(numbers.len()) != count.checked_mul(2) {
        return Err("GNU.sparse.map does not match GNU.sparse.numblocks");
    }
    numbers
        .chunks(2)
        .map(|pair| {
            let n = |s: &str| {
                s.parse::<u64>()
                    .map_err(|_| "invalid number in GNU.sparse.map")
            };
            Ok((n(pair[0])?, n(pair[1])?))
        })
        .collect()
}

/// Pax 1.0's map: decimal numbers, one a line — the count, then an offset
/// and a length per region — read from `text`, the data's first blocks.
/// `None` while `text` does not hold the whole map yet.
pub(crate) fn map_in_data(text: &[u8]) -> Option<Result<Vec<Region>, &'static str>> {
    let mut lines = text.split(|b| *b == b'\n');
    let mut number = || -> Option<Result<u64, &'static str>> {
        let line = lines.next()?;
        // The last piece has no newline yet: more text is needed.
        lines.clone().next()?;
        Some(
            std::str::from_utf8(line)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or("invalid number in the sparse map"),
        )
    };
    let count = match number()? {
        Ok(count) => count,
        Err(e) => return Some(Err(e)),
    };
    let mut regions = Vec::new();
    for _ in 0..count {
        let offset = match number()? {
            Ok(n) => n,
            Err(e) => return Some(Err(e)),
        };
        let length = match number()? {
            Ok(n) => n,
            Err(e) => return Some(Err(e)),
        };
        regions.push((offset, length));
    }
    Some(Ok(regions))
}

/// Go's `validateSparseEntries`: regions in order, not overlapping, ending
/// within `size`.
pub(crate) fn validate(regions: &[Region], size: u64) -> Result<(), &'static str> {
    let mut end_of_previous = 0;
    for &(offset, length) in regions {
        let end = offset
            .checked_add(length)
            .ok_or("sparse region overflows")?;
        if end > size {
            return Err("sparse region beyond the file's size");
        }
        if offset < end_of_previous {
            return Err("sparse regions overlap or are out of order");
        }
        end_of_previous = end;
    }
    Ok(())
}

/// Reading a sparse member: where in the file the reader is, and which
/// region comes next.
#[derive(Debug)]
pub(crate) struct Sparse {
    regions: Vec<Region>,
    /// The file's size.
    size: u64,
    /// The logical position.
    position: u64,
    /// The first region not wholly read.
    next: usize,
}

/// What the next read of a sparse member gives.
pub(crate) enum Step {
    /// This many zeros (a hole).
    Zeros(usize),
    /// This many bytes of the archive's data.
    Data(usize),
    /// The end of the file.
    End,
}

impl Sparse {
    pub(crate) fn new(regions: Vec<Region>, size: u64) -> Sparse {
        Sparse {
            regions,
            size,
            position: 0,
            next: 0,
        }
    }

    /// Bytes of data the regions hold (what the archive must carry).
    pub(crate) fn data_len(&self) -> u64 {
        self.regions.iter().map(|r| r.1).sum()
    }

    /// What the next read of at most `want` bytes gives.
    pub(crate) fn step(&mut self, want: usize) -> Step {
        while let Some(&(offset, length)) = self.regions.get(self.next) {
            if self.position >= offset + length {
                self.next += 1;
                continue;
            }
            let cap = |n: u64| usize::try_from(n).unwrap_or(usize::MAX).min(want);
            return match self.position < offset {
                true => Step::Zeros(cap(offset - self.position)),
                false => Step::Data(cap(offset + length - self.position)),
            };
        }
        match self.size - self.position {
            0 => Step::End,
            left => Step::Zeros(usize::try_from(left).unwrap_or(usize::MAX).min(want)),
        }
    }

    /// `n` bytes were read.
    pub(crate) fn advance(&mut self, n: usize) {
        self.position += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_through_holes_and_regions() {
        let mut s = Sparse::new(vec![(2, 3), (10, 2)], 14);
        let mut seen = Vec::new();
        loop {
            let step = s.step(4);
            let n = match step {
                Step::Zeros(n) => {
                    seen.push(format!("z{n}"));
                    n
                }
                Step::Data(n) => {
                    seen.push(format!("d{n}"));
                    n
                }
                Step::End => break,
            };
            s.advance(n);
        }
        assert_eq!(seen, ["z2", "d3", "z4", "z1", "d2", "z2"]);
        assert_eq!(s.data_len(), 5);
    }

    #[test]
    fn maps_parse_and_validate_as_go() {
        assert_eq!(pax_map("0,5,10,2", "2"), Ok(vec![(0, 5), (10, 2)]));
        assert_eq!(pax_map("", "0"), Ok(vec![]));
        assert!(pax_map("0,5", "2").is_err());
        assert!(pax_map("0,x", "1").is_err());
        assert_eq!(
            map_in_data(b"2\n0\n5\n10\n2\n\0\0"),
            Some(Ok(vec![(0, 5), (10, 2)]))
        );
        assert_eq!(map_in_data(b"2\n0\n5\n10\n"), None, "needs more text");
        assert!(validate(&[(0, 5), (10, 2)], 12).is_ok());
        assert!(validate(&[(0, 5), (4, 2)], 12).is_err(), "overlap");
        assert!(validate(&[(10, 2), (0, 5)], 12).is_err(), "order");
        assert!(validate(&[(10, 3)], 12).is_err(), "beyond the size");
        assert!(validate(&[(u64::MAX, 2)], u64::MAX).is_err(), "overflow");
    }
}
