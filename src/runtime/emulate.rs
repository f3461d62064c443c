//! Running programs built for another CPU: a QEMU user-mode emulator
//! registered with binfmt_misc for the sandbox alone.
//!
//! binfmt_misc (Documentation/admin-guide/binfmt-misc.rst) makes the kernel
//! start an interpreter for executables whose first bytes match a pattern.
//! Since Linux 6.7 each user namespace may mount its own binfmt_misc
//! instance, and `execve` uses the instance of the nearest user namespace
//! that has one. So a sandbox that runs a foreign step makes a user
//! namespace of its own (mapping every id to itself: files keep their
//! owners), mounts binfmt_misc in it, registers the emulator and makes the
//! mount read-only; the host's `/proc/sys/fs/binfmt_misc` is never read
//! for this, let alone written (docker needs a privileged container,
//! `tonistiigi/binfmt`, to register handlers on the host).
//!
//! The handler is registered with flags `F` (the kernel opens the
//! interpreter at registration: it is passed as `/proc/self/fd/N`, a
//! sealed in-memory copy of the host's file made before the pivot, so the
//! image needs no copy of it and no step can reach the host's; see
//! [`open_interpreter`]), `C`
//! (credentials and setuid bits come from the program, not the
//! interpreter; implies `O`) and `P` (argv[0] is preserved: busybox-style
//! programs choose their applet by it) — the flags docker's binfmt image
//! uses.
//!
//! Where the kernel is older than 6.7, handlers the host registered (as
//! Debian's `qemu-user-binfmt` does) are used as they are: the sandbox
//! adds none. Otherwise the step fails, saying how to fix it.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// An emulator a sandbox registers for its processes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Emulator {
    /// The handler's name in binfmt_misc (`kiln-aarch64`).
    pub name: String,
    /// The interpreter on the host, statically linked
    /// (`/usr/bin/qemu-aarch64-static`).
    pub interpreter: PathBuf,
    /// The bytes an executable starts with (an ELF header's first 20).
    pub magic: Vec<u8>,
    /// Which bits of them count.
    pub mask: Vec<u8>,
}

impl Emulator {
    /// The line written to binfmt_misc's `register`, with the interpreter
    /// given as the descriptor `fd` of the registering process.
    pub fn register_line(&self, fd: i32) -> Vec<u8> {
        let escape = |bytes: &[u8]| -> Vec<u8> {
            bytes
                .iter()
                .flat_map(|b| format!("\\x{b:02x}").into_bytes())
                .collect()
        };
        let mut line = format!(":{}:M::", self.name).into_bytes();
        line.extend(escape(&self.magic));
        line.push(b':');
        line.extend(escape(&self.mask));
        line.extend(format!(":/proc/self/fd/{fd}:POCF").into_bytes());
        line
    }
}

/// An ELF machine: QEMU's name for it and the header fields that identify
/// its executables (ELF gABI: `EI_CLASS`, `EI_DATA`, `e_machine`).
struct Machine {
    qemu: &'static str,
    /// `EI_CLASS`: 1 for 32-bit, 2 for 64-bit.
    class: u8,
    /// `EI_DATA`: 1 for little-endian, 2 for big-endian.
    data: u8,
    /// `e_machine`.
    machine: u16,
}

/// The machine of a Go architecture name (the platform's `architecture`).
fn machine(architecture: &str) -> Option<Machine> {
    let (qemu, class, data, machine) = match architecture {
        "amd64" => ("x86_64", 2, 1, 62),
        "386" => ("i386", 1, 1, 3),
        "arm64" => ("aarch64", 2, 1, 183),
        "arm" => ("arm", 1, 1, 40),
        "riscv64" => ("riscv64", 2, 1, 243),
        "ppc64le" => ("ppc64le", 2, 1, 21),
        "s390x" => ("s390x", 2, 2, 22),
        "mips64le" => ("mips64el", 2, 1, 8),
        "loong64" => ("loongarch64", 2, 1, 258),
        _ => return None,
    };
    Some(Machine {
        qemu,
        class,
        data,
        machine,
    })
}

impl Machine {
    /// The first 20 bytes of its executables and the mask over them:
    /// `\x7fELF`, class, data, version 1, any OS ABI and ABI version,
    /// padding, `e_type` 2 or 3 (executable or position-independent), and
    /// `e_machine` in the file's byte order.
    fn pattern(&self) -> (Vec<u8>, Vec<u8>) {
        let machine = match self.data {
            2 => self.machine.to_be_bytes(),
            _ => self.machine.to_le_bytes(),
        };
        let e_type: [u8; 2] = match self.data {
            2 => [0, 2],
            _ => [2, 0],
        };
        let mut magic = vec![0x7f, b'E', b'L', b'F', self.class, self.data, 1];
        magic.extend([0u8; 9]);
        magic.extend(e_type);
        magic.extend(machine);
        let type_mask: [u8; 2] = match self.data {
            2 => [0xff, 0xfe],
            _ => [0xfe, 0xff],
        };
        let mut mask = vec![0xff; 7];
        mask.extend([0u8; 2]);
        mask.extend([0xff; 7]);
        mask.extend(type_mask);
        mask.extend([0xff, 0xff]);
        (magic, mask)
    }
}

/// How a step for `platform` (`linux/arm64`) runs on a machine whose CPU
/// is `host` (a Go architecture name, as `kiln_oci::Platform::host`
/// gives it): natively (`None`), under handlers the host registered
/// (`None`), or under the emulator returned; why not, naming the platform
/// and the two ways to fix it.
///
/// Only the host's own architecture runs natively: an amd64 CPU runs 386
/// programs, but the sandbox's seccomp filter knows the native system-call
/// ABI alone (docs/differences.md), so they are emulated too. kiln
/// registers its own emulator where it can (Linux 6.7 or later, namespace
/// isolation) and one is installed: `qemu-ARCH-static`, or a statically
/// linked `qemu-ARCH`, in `$KILN_QEMU_DIR` when it is set (and only
/// there), otherwise on `$PATH` or in `/usr/bin` (Debian's
/// `qemu-user-static` installs `/usr/bin/qemu-aarch64-static`). Otherwise
/// an enabled host handler (`/proc/sys/fs/binfmt_misc/qemu-ARCH`, as
/// Debian and docker's binfmt image name them) is left to do it.
pub fn plan(platform: &str, host: &str) -> Result<Option<Emulator>, String> {
    let architecture = platform.split('/').nth(1).unwrap_or("");
    if architecture.is_empty() || architecture == host {
        return Ok(None);
    }
    let Some(machine) = machine(architecture) else {
        return Err(format!(
            "cannot run {platform} steps on this {host} machine: kiln knows no emulator for {architecture:?}"
        ));
    };
    let can_register =
        kernel_has_private_binfmt() && crate::isolation::current() != crate::Isolation::Chroot;
    if can_register && let Some(interpreter) = find_interpreter(machine.qemu) {
        let (magic, mask) = machine.pattern();
        return Ok(Some(Emulator {
            name: format!("kiln-{}", machine.qemu),
            interpreter,
            magic,
            mask,
        }));
    }
    if host_handler(machine.qemu) {
        return Ok(None);
    }
    let why = match (kernel_has_private_binfmt(), can_register) {
        (false, _) => format!("Linux 6.7 or later; this kernel is {}", kernel_release()),
        (true, false) => "not under chroot isolation".to_string(),
        (true, true) => "Linux 6.7 or later".to_string(),
    };
    Err(format!(
        "cannot run {platform} steps on this {host} machine: no emulator for {platform}. Either \
         install QEMU's user-mode emulators (Debian: apt-get install --no-install-recommends \
         qemu-user-static, or set KILN_QEMU_DIR to a folder with qemu-{}-static) so that kiln \
         registers one for its sandboxes ({why}), or register binfmt_misc handlers on the host \
         (Debian: apt-get install qemu-user-binfmt)",
        machine.qemu,
    ))
}

/// The init's part, after the pivot: enters a user namespace mapping its
/// ids to themselves and a mount namespace of its own, mounts binfmt_misc
/// on `/proc/sys/fs/binfmt_misc` (its own instance), registers `emulator`
/// with the interpreter open as `interpreter`, and makes the mount
/// read-only so the program cannot register more. The process must have
/// one thread.
pub(crate) fn register(
    emulator: &Emulator,
    interpreter: std::os::fd::OwnedFd,
) -> Result<(), String> {
    use nix::mount::{MsFlags, mount};
    use std::os::fd::AsRawFd;
    const MOUNTPOINT: &str = "/proc/sys/fs/binfmt_misc";
    crate::userns::enter_same_ids()
        .map_err(|e| format!("cannot make the emulator's user namespace: {e}"))?;
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .map_err(|e| format!("cannot make the emulator's mount namespace: {e}"))?;
    mount(
        Some("binfmt_misc"),
        MOUNTPOINT,
        Some("binfmt_misc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| {
        format!(
            "cannot mount binfmt_misc in the sandbox's user namespace: {e} (Linux 6.7 or later              is needed, this kernel is {})",
            kernel_release()
        )
    })?;
    let line = emulator.register_line(interpreter.as_raw_fd());
    std::fs::write(format!("{MOUNTPOINT}/register"), &line).map_err(|e| {
        format!(
            "cannot register {} for {}: {e}",
            emulator.interpreter.display(),
            emulator.name
        )
    })?;
    drop(interpreter);
    mount(
        None::<&str>,
        MOUNTPOINT,
        None::<&str>,
        MsFlags::MS_REMOUNT
            | MsFlags::MS_BIND
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| format!("cannot make binfmt_misc read-only: {e}"))
}

/// A sealed in-memory copy of the interpreter of `emulator`, made before
/// the pivot (where host paths resolve): what the handler is registered
/// with. Registered with `F`, the file is what every emulated process's
/// `/proc/PID/exe` names; were it the host's file, a process of the step
/// could open it there and pass the descriptor on (through a shared cache
/// mount's socket, say) to a process that reopens it for writing once
/// the step ends and the kernel's write-deny with it: the host's QEMU
/// overwritten (CVE-2019-5736's pattern, closed by runc with a sealed
/// memfd copy of itself too). A sealed memfd can be neither written nor
/// resized by anyone.
pub(crate) fn open_interpreter(emulator: &Emulator) -> Result<std::os::fd::OwnedFd, String> {
    use rustix::fs::{MemfdFlags, SealFlags};
    let shown = emulator.interpreter.display();
    let mut source = std::fs::File::open(&emulator.interpreter)
        .map_err(|e| format!("cannot open the emulator {shown}: {e}"))?;
    let memfd = rustix::fs::memfd_create(
        "kiln-emulator",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )
    .map_err(|e| format!("cannot copy the emulator {shown}: memfd_create: {e}"))?;
    let mut copy = std::fs::File::from(memfd);
    std::io::copy(&mut source, &mut copy)
        .map_err(|e| format!("cannot copy the emulator {shown}: {e}"))?;
    rustix::fs::fcntl_add_seals(
        &copy,
        SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE,
    )
    .map_err(|e| format!("cannot seal the copy of the emulator {shown}: {e}"))?;
    Ok(copy.into())
}

/// The interpreter for QEMU's `qemu` target, if installed: it must be
/// statically linked, since it starts inside the step's root, where the
/// host's dynamic loader and libraries are not (Debian's `qemu-user`
/// installs dynamic `qemu-ARCH` programs).
fn find_interpreter(qemu: &str) -> Option<PathBuf> {
    let names = [format!("qemu-{qemu}-static"), format!("qemu-{qemu}")];
    let dirs: Vec<PathBuf> = match std::env::var_os("KILN_QEMU_DIR") {
        Some(dir) => vec![PathBuf::from(dir)],
        None => {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
            dirs.push(PathBuf::from("/usr/bin"));
            dirs
        }
    };
    dirs.iter()
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| is_executable(candidate) && is_static(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether the ELF file at `path` names no program interpreter (no
/// `PT_INTERP` segment: statically linked). ELF gABI: the program header
/// table's offset, entry size and count sit at fixed places of the file
/// header, which differ between 32- and 64-bit files.
fn is_static(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    const PT_INTERP: u32 = 3;
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut header = [0u8; 64];
    if file.read_exact(&mut header).is_err() || &header[..4] != b"\x7fELF" {
        return false;
    }
    let big = header[5] == 2;
    let u16_at = |b: &[u8]| match big {
        true => u16::from_be_bytes([b[0], b[1]]),
        false => u16::from_le_bytes([b[0], b[1]]),
    };
    let u32_at = |b: &[u8]| match big {
        true => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        false => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
    };
    let u64_at = |b: &[u8]| {
        let bytes: [u8; 8] = b[..8].try_into().unwrap_or_default();
        match big {
            true => u64::from_be_bytes(bytes),
            false => u64::from_le_bytes(bytes),
        }
    };
    let (offset, size, count) = match header[4] {
        2 => (
            u64_at(&header[32..]),
            u16_at(&header[54..]),
            u16_at(&header[56..]),
        ),
        1 => (
            u64::from(u32_at(&header[28..])),
            u16_at(&header[42..]),
            u16_at(&header[44..]),
        ),
        _ => return false,
    };
    if size < 4 || count > 4096 || file.seek(SeekFrom::Start(offset)).is_err() {
        return false;
    }
    let mut table = vec![0u8; usize::from(size) * usize::from(count)];
    if file.read_exact(&mut table).is_err() {
        return false;
    }
    table
        .chunks(usize::from(size))
        .all(|entry| u32_at(entry) != PT_INTERP)
}

/// Whether the host's binfmt_misc has an enabled handler for QEMU's
/// `qemu` target (Debian names them `qemu-aarch64`). Only read.
fn host_handler(qemu: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/fs/binfmt_misc/qemu-{qemu}"))
        .is_ok_and(|entry| entry.lines().next() == Some("enabled"))
}

/// The running kernel's release (`6.18.44`).
fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Linux 6.7 made binfmt_misc mountable in a user namespace.
fn kernel_has_private_binfmt() -> bool {
    let release = kernel_release();
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let major = numbers.next().unwrap_or(0);
    let minor = numbers.next().unwrap_or(0);
    (major, minor) >= (6, 7)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The patterns are the ones QEMU's `qemu-binfmt-conf.sh` (and
    /// Debian's `/usr/lib/binfmt.d/qemu-*.conf`) use, except that any ABI
    /// version is accepted.
    #[test]
    fn aarch64_pattern_matches_qemus() {
        let (magic, mask) = machine("arm64").unwrap().pattern();
        assert_eq!(
            magic,
            b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00"
        );
        assert_eq!(
            mask,
            b"\xff\xff\xff\xff\xff\xff\xff\x00\x00\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"
        );
        let (magic, _) = machine("s390x").unwrap().pattern();
        assert_eq!(&magic[16..], b"\x00\x02\x00\x16");
        let (magic, _) = machine("arm").unwrap().pattern();
        assert_eq!(&magic[4..6], &[1, 1]);
        assert_eq!(&magic[18..], b"\x28\x00");
    }

    #[test]
    fn the_register_line_escapes_every_byte() {
        let emulator = Emulator {
            name: "kiln-aarch64".into(),
            interpreter: "/usr/bin/qemu-aarch64-static".into(),
            magic: vec![0x7f, b'E'],
            mask: vec![0xff, 0xfe],
        };
        assert_eq!(
            String::from_utf8(emulator.register_line(7)).unwrap(),
            ":kiln-aarch64:M::\\x7f\\x45:\\xff\\xfe:/proc/self/fd/7:POCF"
        );
    }

    #[test]
    fn the_host_needs_no_emulator() {
        assert_eq!(plan("linux/arm64", "arm64"), Ok(None));
        assert_eq!(plan("linux/amd64", "amd64"), Ok(None));
        assert!(
            plan("linux/sparc-nonsense", "amd64")
                .unwrap_err()
                .contains("no emulator")
        );
    }

    /// A dynamically linked program names its loader (`PT_INTERP`); the
    /// emulator must not.
    #[test]
    fn only_static_programs_can_be_the_interpreter() {
        assert!(!is_static(Path::new("/bin/sh")), "/bin/sh is dynamic");
        if Path::new("/bin/busybox").exists() {
            assert!(
                is_static(Path::new("/bin/busybox")),
                "busybox-static is static"
            );
        }
        assert!(!is_static(Path::new("/etc/passwd")));
        assert!(!is_static(Path::new("/nonexistent")));
    }
}
