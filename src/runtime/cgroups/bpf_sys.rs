//! The bpf(2) calls behind the cgroup v2 device allow-list.
//!
//! `BPF_PROG_LOAD` hands the kernel's verifier a program and returns a file
//! descriptor for it; `BPF_PROG_ATTACH` attaches that program to a cgroup
//! given as an open directory. The syscall takes a `union bpf_attr` and its
//! size; the kernel zero-fills what a shorter caller leaves out, so each
//! command here passes only the leading fields it uses, as `#[repr(C)]`
//! structs without padding (a padding byte would be garbage the kernel reads
//! as a field it does not expect to be set). Layouts and numbers are those of
//! include/uapi/linux/bpf.h.
//!
//! This file is the only unsafe code of the cgroup module: the raw syscall
//! and adopting the descriptor it returns.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::bpf_prog::Insn;

// enum bpf_cmd
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
#[cfg(test)]
const BPF_PROG_QUERY: libc::c_long = 16;
// enum bpf_prog_type
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
// enum bpf_attach_type
const BPF_CGROUP_DEVICE: u32 = 6;
/// Attach flag: programs of ancestors and descendants all run; see
/// `devices::restrict_v2`.
pub(crate) const BPF_F_ALLOW_MULTI: u32 = 1 << 1;

/// kiln's license. The kernel only asks whether it is GPL-compatible to
/// decide if the program may call GPL-only helpers (include/linux/license.h,
/// kernel/bpf/syscall.c); the device program calls no helper at all, so
/// Apache-2.0 is accepted.
const LICENSE: &std::ffi::CStr = c"Apache-2.0";

/// Shown by `bpftool prog` (at most 15 bytes: BPF_OBJ_NAME_LEN is 16 with
/// the NUL; the kernel allows letters, digits, `_` and `.`).
const PROG_NAME: &str = "kiln_devices";

/// Verifier log size for the retry after a refusal: the log of a program
/// this small is a few KiB even at log level 1.
const LOG_SIZE: usize = 64 * 1024;
/// How much of the verifier log an error keeps: its end, where the reason is.
const LOG_TAIL: usize = 1024;
/// `EAGAIN` means the verifier was interrupted (a pending signal); libbpf
/// retries a few times, and so does kiln.
const LOAD_ATTEMPTS: usize = 5;

/// The `BPF_PROG_LOAD` fields of `union bpf_attr`, up to `prog_name`.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

/// The `BPF_PROG_ATTACH` fields of `union bpf_attr`, up to `attach_flags`.
#[repr(C)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// The `BPF_PROG_QUERY` fields of `union bpf_attr`, up to `prog_cnt`.
#[cfg(test)]
#[repr(C)]
#[derive(Default)]
struct ProgQueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    /// Explicit, so no byte of the struct is padding.
    reserved: u32,
}

/// A struct that is a valid prefix of `union bpf_attr` for a command.
///
/// # Safety
/// `#[repr(C)]`, no padding bytes, fields exactly as in the kernel's
/// union for the commands it is used with, and every pointer field either 0
/// or pointing to memory that the caller keeps alive and large enough for
/// the sizes given alongside it.
unsafe trait BpfAttr {}
// SAFETY: repr(C); u32/u64 fields at their natural offsets (0, 4, 8, 16,
// 24, 28, 32, 40, 44, 48..64): no padding; the layout of the BPF_PROG_LOAD
// struct of include/uapi/linux/bpf.h up to prog_name.
unsafe impl BpfAttr for ProgLoadAttr {}
// SAFETY: repr(C), four u32: no padding; BPF_PROG_ATTACH up to attach_flags.
unsafe impl BpfAttr for ProgAttachAttr {}
// SAFETY: repr(C); u32 at 0..16, u64 at 16, u32 at 24 and 28: no padding;
// BPF_PROG_QUERY up to prog_cnt plus the zero the kernel also has there.
#[cfg(test)]
unsafe impl BpfAttr for ProgQueryAttr {}

const _: () = assert!(std::mem::size_of::<ProgLoadAttr>() == 64);
const _: () = assert!(std::mem::size_of::<ProgAttachAttr>() == 16);
#[cfg(test)]
const _: () = assert!(std::mem::size_of::<ProgQueryAttr>() == 32);

/// bpf(2): `cmd` with `attr`; the kernel may write results into `attr`.
fn bpf<A: BpfAttr>(cmd: libc::c_long, attr: &mut A) -> io::Result<libc::c_long> {
    let size = std::mem::size_of::<A>() as libc::c_long;
    let attr: *mut A = attr;
    // SAFETY: `attr` is a live, exclusively borrowed struct of `size` bytes
    // laid out as the kernel's `union bpf_attr` prefix for `cmd` (BpfAttr's
    // contract, including the pointers inside it), so the kernel reads and
    // writes only memory we own for the duration of the call.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr, size) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Why `BPF_PROG_LOAD` failed: the kernel's answer and, when the verifier
/// refused the program, the end of its log.
#[derive(Debug)]
pub(crate) struct LoadError {
    pub(crate) source: io::Error,
    pub(crate) verifier_log: String,
}

/// Loads `insns` as a `BPF_PROG_TYPE_CGROUP_DEVICE` program. The returned
/// descriptor is close-on-exec (the kernel always sets `O_CLOEXEC` on bpf
/// descriptors), so no sandbox process inherits it.
///
/// The first attempt passes no log buffer, which is cheaper and cannot fail
/// for want of log space; only when the verifier refuses (`EACCES`,
/// `EINVAL`) is the program loaded again with a log, to tell why.
pub(crate) fn load_device_program(insns: &[Insn]) -> Result<OwnedFd, LoadError> {
    let no_log = |source| LoadError {
        source,
        verifier_log: String::new(),
    };
    let source = match load(insns, &mut []) {
        Ok(fd) => return Ok(fd),
        Err(e) => e,
    };
    if !matches!(source.raw_os_error(), Some(libc::EACCES | libc::EINVAL)) {
        return Err(no_log(source));
    }
    let mut log = vec![0u8; LOG_SIZE];
    match load(insns, &mut log) {
        Ok(fd) => Ok(fd),
        Err(source) => Err(LoadError {
            source,
            verifier_log: log_tail(&log),
        }),
    }
}

/// One `BPF_PROG_LOAD` (retried on `EAGAIN`), with `log` as the verifier log
/// buffer when it is not empty.
fn load(insns: &[Insn], log: &mut [u8]) -> io::Result<OwnedFd> {
    let too_big = || io::Error::from_raw_os_error(libc::E2BIG);
    let mut prog_name = [0u8; 16];
    prog_name[..PROG_NAME.len()].copy_from_slice(PROG_NAME.as_bytes());
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(insns.len()).map_err(|_| too_big())?,
        insns: insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        prog_name,
        ..ProgLoadAttr::default()
    };
    if !log.is_empty() {
        attr.log_level = 1;
        attr.log_size = u32::try_from(log.len()).map_err(|_| too_big())?;
        attr.log_buf = log.as_mut_ptr() as u64;
    }
    let mut attempts = LOAD_ATTEMPTS;
    loop {
        match bpf(BPF_PROG_LOAD, &mut attr) {
            Ok(fd) => {
                let fd = RawFd::try_from(fd).map_err(|_| io::Error::other("bpf(2) fd"))?;
                // SAFETY: a successful BPF_PROG_LOAD returns a new
                // descriptor that nothing else in this process owns.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) && attempts > 1 => attempts -= 1,
            Err(e) => return Err(e),
        }
    }
}

/// The end of a NUL-terminated verifier log, on one line: the lines are
/// joined with " | " and only the last [`LOG_TAIL`] bytes kept (the
/// verifier states the reason last).
pub(crate) fn log_tail(raw: &[u8]) -> String {
    let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
    let text = String::from_utf8_lossy(&raw[..end]);
    let joined = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ");
    if joined.len() <= LOG_TAIL {
        return joined;
    }
    let mut start = joined.len() - LOG_TAIL;
    while !joined.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &joined[start..])
}

/// Attaches the device program `prog` to the cgroup open as `cgroup` (an
/// `O_DIRECTORY` descriptor of a cgroup2 directory), with
/// [`BPF_F_ALLOW_MULTI`].
pub(crate) fn attach_device_program(
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
) -> io::Result<()> {
    let fd = |fd: BorrowedFd<'_>| {
        u32::try_from(fd.as_raw_fd()).map_err(|_| io::Error::other("negative fd"))
    };
    let mut attr = ProgAttachAttr {
        target_fd: fd(cgroup)?,
        attach_bpf_fd: fd(prog)?,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

/// The ids of the device programs attached directly to `cgroup`, and the
/// flags they were attached with.
#[cfg(test)]
pub(crate) fn query_device_programs(cgroup: BorrowedFd<'_>) -> io::Result<(Vec<u32>, u32)> {
    let mut ids = vec![0u32; 64];
    let mut attr = ProgQueryAttr {
        target_fd: u32::try_from(cgroup.as_raw_fd())
            .map_err(|_| io::Error::other("negative fd"))?,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: 64,
        ..ProgQueryAttr::default()
    };
    bpf(BPF_PROG_QUERY, &mut attr)?;
    ids.truncate(attr.prog_cnt as usize);
    Ok((ids, attr.attach_flags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_tail_keeps_the_end_on_one_line() {
        assert_eq!(
            log_tail(b"0: (95) exit\nR0 !read_ok\n\0garbage"),
            "0: (95) exit | R0 !read_ok"
        );
        assert_eq!(log_tail(b"\0"), "");
        let mut long = "x\n".repeat(2000);
        long.push_str("the reason\n");
        let tail = log_tail(long.as_bytes());
        assert!(
            tail.starts_with("...") && tail.ends_with("x | the reason"),
            "{tail}"
        );
        assert!(tail.len() <= LOG_TAIL + 3);
    }

    #[test]
    fn the_name_fits_bpf_obj_name_len() {
        assert!(PROG_NAME.len() < 16);
        assert!(
            PROG_NAME
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        );
    }
}
