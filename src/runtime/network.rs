//! `--network none`: a fresh network namespace holds only a loopback
//! interface, and it starts down. Bringing it up (SIOCSIFFLAGS with
//! IFF_UP, as `ip link set lo up` does) gives the container a working
//! 127.0.0.1 and nothing else.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::AsRawFd;

/// Sets `lo` up in the calling process's network namespace.
pub(crate) fn loopback_up() -> io::Result<()> {
    let socket = rustix::net::socket(
        rustix::net::AddressFamily::INET,
        rustix::net::SocketType::DGRAM,
        None,
    )?;
    // SAFETY: ifreq is plain old data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: the descriptor is a live socket and `req` a valid ifreq that
    // outlives both calls; the kernel writes only inside it.
    unsafe {
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) != 0 {
            return Err(io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &req) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
