//! `-t`: a pseudo-terminal made inside the container's own devpts
//! instance, so the program's `ttyname` is a real `/dev/pts/N` of its
//! namespace. The init opens it and passes the primary (master) side to
//! kiln over a Unix socket with SCM_RIGHTS (the OCI runtime spec's
//! "console socket"); the process makes the secondary side its
//! controlling terminal and stdio.

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// In the init, after pivot_root: opens a pty, sends its primary side over
/// `socket`, returns the secondary side's path.
pub(crate) fn open_in_container(
    socket: OwnedFd,
    size: Option<(u16, u16)>,
) -> Result<PathBuf, String> {
    use rustix::pty::{OpenptFlags, openpt, ptsname, unlockpt};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
        .map_err(|e| format!("cannot open /dev/ptmx: {e}"))?;
    unlockpt(&master).map_err(|e| format!("cannot unlock the pseudo-terminal: {e}"))?;
    let name = ptsname(&master, Vec::new())
        .map_err(|e| format!("cannot name the pseudo-terminal: {e}"))?;
    if let Some((rows, cols)) = size {
        let ws = rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&master, ws)
            .map_err(|e| format!("cannot size the pseudo-terminal: {e}"))?;
    }
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[IoSlice::new(b"t")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| format!("cannot hand the pseudo-terminal to kiln: {e}"))?;
    Ok(PathBuf::from(name.to_string_lossy().into_owned()))
}

/// In the process, after setsid: opens `path`, makes it the controlling
/// terminal and stdin/stdout/stderr.
pub(crate) fn become_controlling(path: &Path) -> Result<(), String> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    rustix::process::ioctl_tiocsctty(&tty).map_err(|e| {
        format!(
            "cannot make {} the controlling terminal: {e}",
            path.display()
        )
    })?;
    let stdio = [
        nix::unistd::dup2_stdin(&tty),
        nix::unistd::dup2_stdout(&tty),
        nix::unistd::dup2_stderr(&tty),
    ];
    for result in stdio {
        result.map_err(|e| format!("cannot use {} as stdio: {e}", path.display()))?;
    }
    Ok(())
}

/// In kiln: receives the primary side the init sent; `None` when the init
/// closed the socket without sending (it failed; the status pipe says why).
pub(crate) fn receive(socket: RawFd) -> std::io::Result<Option<OwnedFd>> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        socket,
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg
            && let Some(fd) = fds.first()
        {
            #[allow(unsafe_code)]
            // SAFETY: the kernel just installed this descriptor for us.
            return Ok(Some(unsafe { OwnedFd::from_raw_fd(*fd) }));
        }
    }
    Ok(None)
}
