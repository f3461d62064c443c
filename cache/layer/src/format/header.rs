//! Encoding one entry: an optional pax `x` header carrying what ustar cannot
//! (long names and link names, large sizes and ids, pre-1970 or post-2242
//! times, xattrs), then the ustar header.
//!
//! Everything that could vary between runs or hosts is fixed: no user or
//! group names, no atime/ctime, device fields written as 0 when unused, a
//! constant name for the extended header, records in a fixed order with
//! xattrs sorted by name. The numeric fields take the exact values, so that
//! readers without pax support but with GNU base-256 numbers (GNU tar)
//! still see them.

use tar::{EntryType, Header};

use super::pax::{XATTR_PREFIX, push_record};
use super::{BLOCK, Entry, Kind, padding};

/// Length of the ustar `name` and `linkname` fields.
const NAME_LEN: usize = 100;
/// Largest value of an 8-byte octal field (uid, gid).
const MAX_OCTAL_8: u64 = 0o7777777;
/// Largest value of a 12-byte octal field (size, mtime).
const MAX_OCTAL_12: u64 = 0o77777777777;
/// Name of every extended header (as GNU tar's `--format=posix` default
/// for unknown names, but constant: the output must not depend on pids).
const PAX_HEADER_NAME: &[u8] = b"././@PaxHeader";

/// Appends the header block(s) for `entry` to `out`. For a regular file the
/// caller then writes `size` bytes of data and [`padding`] zero bytes.
pub(crate) fn encode(entry: &Entry, out: &mut Vec<u8>) {
    let mut name = entry.path.clone();
    if entry.kind == Kind::Directory {
        name.push(b'/');
    }
    let link: &[u8] = match &entry.kind {
        Kind::Symlink { target } | Kind::Hardlink { target } => target,
        _ => &[],
    };
    let size = match entry.kind {
        Kind::Regular { size } => size,
        _ => 0,
    };

    let mut records = Vec::new();
    if name.len() > NAME_LEN {
        push_record(&mut records, b"path", &name);
    }
    if link.len() > NAME_LEN {
        push_record(&mut records, b"linkpath", link);
    }
    if size > MAX_OCTAL_12 {
        push_record(&mut records, b"size", size.to_string().as_bytes());
    }
    if entry.uid > MAX_OCTAL_8 {
        push_record(&mut records, b"uid", entry.uid.to_string().as_bytes());
    }
    if entry.gid > MAX_OCTAL_8 {
        push_record(&mut records, b"gid", entry.gid.to_string().as_bytes());
    }
    let mtime = u64::try_from(entry.mtime).ok();
    if mtime.is_none_or(|t| t > MAX_OCTAL_12) {
        push_record(&mut records, b"mtime", entry.mtime.to_string().as_bytes());
    }
    let mut key = Vec::new();
    for (xname, value) in &entry.xattrs {
        key.clear();
        key.extend_from_slice(XATTR_PREFIX);
        key.extend_from_slice(xname);
        push_record(&mut records, &key, value);
    }

    if !records.is_empty() {
        let mut h = Header::new_ustar();
        fill(&mut h.as_old_mut().name, PAX_HEADER_NAME);
        h.set_entry_type(EntryType::XHeader);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(records.len() as u64);
        set_device(&mut h, 0, 0);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&records);
        out.resize(out.len() + padding(records.len() as u64), 0);
    }

    let mut h = Header::new_ustar();
    // Too-long names are cut here and given whole by the pax record.
    fill(&mut h.as_old_mut().name, &name);
    fill(&mut h.as_old_mut().linkname, link);
    h.set_mode(entry.mode & 0o7777);
    h.set_uid(entry.uid);
    h.set_gid(entry.gid);
    h.set_mtime(mtime.unwrap_or(0));
    h.set_size(size);
    let (typeflag, major, minor) = match entry.kind {
        Kind::Regular { .. } => (EntryType::Regular, 0, 0),
        Kind::Directory => (EntryType::Directory, 0, 0),
        Kind::Symlink { .. } => (EntryType::Symlink, 0, 0),
        Kind::Hardlink { .. } => (EntryType::Link, 0, 0),
        Kind::Char { major, minor } => (EntryType::Char, major, minor),
        Kind::Block { major, minor } => (EntryType::Block, major, minor),
        Kind::Fifo => (EntryType::Fifo, 0, 0),
    };
    h.set_entry_type(typeflag);
    set_device(&mut h, major, minor);
    h.set_cksum();
    debug_assert_eq!(h.as_bytes().len(), BLOCK);
    out.extend_from_slice(h.as_bytes());
}

/// Copies `value` into a NUL-padded field, cutting it to the field's size.
fn fill(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
    field[n..].fill(0);
}

fn set_device(h: &mut Header, major: u32, minor: u32) {
    if let Some(ustar) = h.as_ustar_mut() {
        ustar.set_device_major(major);
        ustar.set_device_minor(minor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &[u8], kind: Kind) -> Entry {
        Entry {
            path: path.to_vec(),
            kind,
            mode: 0o4755,
            uid: 1000,
            gid: 1000,
            mtime: 1_700_000_000,
            xattrs: Vec::new(),
        }
    }

    #[test]
    fn short_entry_is_one_ustar_block() {
        let mut out = Vec::new();
        encode(&entry(b"usr/bin", Kind::Directory), &mut out);
        assert_eq!(out.len(), BLOCK);
        let h = Header::from_byte_slice(&out);
        assert_eq!(&*h.path_bytes(), b"usr/bin/");
        assert_eq!(h.mode().unwrap(), 0o4755);
        assert_eq!(h.entry_type(), EntryType::Directory);
        assert!(h.as_ustar().is_some());
        assert_eq!(h.username_bytes(), Some(&b""[..]));
        assert_eq!(h.device_major().unwrap(), Some(0));
    }

    #[test]
    fn long_names_and_xattrs_go_to_pax() {
        let long = vec![b'a'; 150];
        let mut e = entry(
            &long,
            Kind::Symlink {
                target: vec![b'b'; 120],
            },
        );
        e.xattrs = vec![(b"user.x".to_vec(), b"1\n2".to_vec())];
        e.uid = 1 << 40;
        e.mtime = -5;
        let mut out = Vec::new();
        encode(&e, &mut out);
        let pax = Header::from_byte_slice(&out[..BLOCK]);
        assert_eq!(pax.entry_type(), EntryType::XHeader);
        let size = pax.entry_size().unwrap() as usize;
        let records = super::super::pax::parse_records(&out[BLOCK..BLOCK + size]).unwrap();
        let keys: Vec<&[u8]> = records.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            vec![
                &b"path"[..],
                b"linkpath",
                b"uid",
                b"mtime",
                b"SCHILY.xattr.user.x"
            ]
        );
        assert_eq!(records[0].1, &long[..]);
        assert_eq!(records[3].1, b"-5");
        assert_eq!(out.len() % BLOCK, 0);
        let h = Header::from_byte_slice(&out[out.len() - BLOCK..]);
        assert_eq!(h.uid().unwrap(), 1 << 40);
        assert_eq!(h.entry_type(), EntryType::Symlink);
    }

    #[test]
    fn devices_carry_numbers() {
        let mut out = Vec::new();
        encode(
            &entry(b"dev/null", Kind::Char { major: 1, minor: 3 }),
            &mut out,
        );
        let h = Header::from_byte_slice(&out);
        assert_eq!(h.device_major().unwrap(), Some(1));
        assert_eq!(h.device_minor().unwrap(), Some(3));
    }
}
