//! The device allow-list compiled to an eBPF program for cgroup v2.
//!
//! Cgroup v2 has no devices controller. Instead the kernel runs the
//! `BPF_PROG_TYPE_CGROUP_DEVICE` programs attached to a task's cgroup (and,
//! with `BPF_F_ALLOW_MULTI`, to its ancestors) whenever the task opens or
//! creates a device node; a program returning 0 makes the access fail with
//! `EPERM`, 1 lets it through (kernel Documentation/bpf/ and
//! include/uapi/linux/bpf.h). The program's only input is a pointer, in
//! `R1`, to
//!
//! ```text
//! struct bpf_cgroup_dev_ctx {
//!     __u32 access_type; /* (BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_* */
//!     __u32 major;
//!     __u32 minor;
//! };
//! ```
//!
//! with the device type in the low half of `access_type` (block 1, char 2)
//! and the requested accesses in the high half (mknod 1, read 2, write 4;
//! an `O_RDWR` open asks for read and write at once).
//!
//! [`compile`] turns the allow rules into straight-line code with the same
//! meaning as the v1 controller after `devices.deny a`: an access is allowed
//! when one rule has its type (or `a`), its major and minor (or `*`) and
//! every requested access bit (security/device_cgroup.c, `match_exception`).
//!
//! ```text
//!     r2 = *(u32 *)(r1 + 0)      access_type
//!     r2 >>= 16                  requested accesses
//!     r3 = *(u32 *)(r1 + 0)
//!     r3 &= 0xffff               device type
//!     r4 = *(u32 *)(r1 + 4)      major
//!     r5 = *(u32 *)(r1 + 8)      minor
//!   rule i:                      one block per rule, in list order
//!     if r3 != TYPE goto rule i+1          unless the rule is `a`
//!     if r2 & ~ACCESS goto rule i+1        an access the rule lacks
//!     if r4 != MAJOR goto rule i+1         unless `*`
//!     if r5 != MINOR goto rule i+1         unless `*`
//!     r0 = 1; exit                         allow
//!   after the last rule:
//!     r0 = 0; exit                         deny
//! ```
//!
//! Only forward jumps, no helpers, no maps, no stack: the verifier accepts
//! it on every kernel since 4.15, where this program type appeared. All
//! comparisons are 64-bit (`BPF_JMP`, not the 5.1+ `BPF_JMP32`) on values
//! loaded as zero-extended 32-bit words, against immediates that the
//! kernel sign-extends; a rule number above `i32::MAX` would never compare
//! equal, and cannot match a real device either (a kernel major has 12
//! bits, a minor 20; include/linux/kdev_t.h), so such a rule is left out.

use super::devices::{Kind, Rule};

/// One eBPF instruction, laid out as the kernel's `struct bpf_insn`
/// (include/uapi/linux/bpf.h): opcode, destination and source register in
/// one byte (4-bit bitfields: `dst_reg` first, which is the low nibble on
/// little-endian targets), a signed 16-bit offset (jump distance in
/// instructions, or memory offset), a signed 32-bit immediate.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    pub(crate) code: u8,
    regs: u8,
    pub(crate) off: i16,
    pub(crate) imm: i32,
}

const _: () = assert!(std::mem::size_of::<Insn>() == 8);

impl Insn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        let regs = if cfg!(target_endian = "little") {
            (src << 4) | (dst & 0x0f)
        } else {
            (dst << 4) | (src & 0x0f)
        };
        Insn {
            code,
            regs,
            off,
            imm,
        }
    }

    /// The destination register.
    #[cfg(test)]
    pub(crate) const fn dst(&self) -> u8 {
        if cfg!(target_endian = "little") {
            self.regs & 0x0f
        } else {
            self.regs >> 4
        }
    }

    /// The source register.
    #[cfg(test)]
    pub(crate) const fn src(&self) -> u8 {
        if cfg!(target_endian = "little") {
            self.regs >> 4
        } else {
            self.regs & 0x0f
        }
    }
}

// Opcode parts, include/uapi/linux/bpf_common.h and bpf.h.
const BPF_LDX: u8 = 0x01;
const BPF_ALU: u8 = 0x04; // 32-bit ALU: results are zero-extended to 64 bits
const BPF_JMP: u8 = 0x05;
const BPF_W: u8 = 0x00;
const BPF_MEM: u8 = 0x60;
const BPF_K: u8 = 0x00;
const BPF_AND: u8 = 0x50;
const BPF_RSH: u8 = 0x70;
const BPF_MOV: u8 = 0xb0;
const BPF_JSET: u8 = 0x40;
const BPF_JNE: u8 = 0x50;
const BPF_EXIT: u8 = 0x90;

/// The opcodes [`compile`] emits (and the test interpreter runs).
pub(crate) mod op {
    use super::*;
    /// `dst = *(u32 *)(src + off)`
    pub(crate) const LDX_W: u8 = BPF_LDX | BPF_MEM | BPF_W;
    /// `dst = (u32)dst & imm`
    pub(crate) const AND32_K: u8 = BPF_ALU | BPF_AND | BPF_K;
    /// `dst = (u32)dst >> imm`
    pub(crate) const RSH32_K: u8 = BPF_ALU | BPF_RSH | BPF_K;
    /// `dst = (u32)imm`
    pub(crate) const MOV32_K: u8 = BPF_ALU | BPF_MOV | BPF_K;
    /// `if dst != (s64)imm goto pc + 1 + off`
    pub(crate) const JNE_K: u8 = BPF_JMP | BPF_JNE | BPF_K;
    /// `if dst & (s64)imm goto pc + 1 + off`
    pub(crate) const JSET_K: u8 = BPF_JMP | BPF_JSET | BPF_K;
    /// return `r0`
    pub(crate) const EXIT: u8 = BPF_JMP | BPF_EXIT;
}

// Registers: r0 is the return value, r1 the context pointer on entry.
const R0: u8 = 0;
const R1: u8 = 1;
const ACCESS: u8 = 2;
const TYPE: u8 = 3;
const MAJOR: u8 = 4;
const MINOR: u8 = 5;

// Offsets in struct bpf_cgroup_dev_ctx.
const CTX_ACCESS_TYPE: i16 = 0;
const CTX_MAJOR: i16 = 4;
const CTX_MINOR: i16 = 8;

// BPF_DEVCG_DEV_* (include/uapi/linux/bpf.h).
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

/// `dst = *(u32 *)(src + off)`
pub(crate) const fn load_u32(dst: u8, src: u8, off: i16) -> Insn {
    Insn::new(op::LDX_W, dst, src, off, 0)
}

/// `dst = imm` (32-bit move)
pub(crate) const fn mov(dst: u8, imm: i32) -> Insn {
    Insn::new(op::MOV32_K, dst, 0, 0, imm)
}

/// Return `r0`.
pub(crate) const fn exit() -> Insn {
    Insn::new(op::EXIT, 0, 0, 0, 0)
}

/// The program allowing exactly what `allow` allows, denying the rest.
pub(crate) fn compile(allow: &[Rule]) -> Vec<Insn> {
    let mut prog = vec![
        load_u32(ACCESS, R1, CTX_ACCESS_TYPE),
        Insn::new(op::RSH32_K, ACCESS, 0, 0, 16),
        load_u32(TYPE, R1, CTX_ACCESS_TYPE),
        Insn::new(op::AND32_K, TYPE, 0, 0, 0xffff),
        load_u32(MAJOR, R1, CTX_MAJOR),
        load_u32(MINOR, R1, CTX_MINOR),
    ];
    for rule in allow {
        if let Some(block) = rule_block(rule) {
            prog.extend(block);
        }
    }
    prog.extend([mov(R0, 0), exit()]);
    prog
}

/// The instructions of one rule: tests that jump past the block when the
/// access does not match, then "allow". `None` for a rule that can match
/// no device.
fn rule_block(rule: &Rule) -> Option<Vec<Insn>> {
    // Each test is (opcode, register, immediate); the jump distance is
    // known once the block's length is.
    let mut tests: Vec<(u8, u8, i32)> = Vec::with_capacity(4);
    match rule.kind {
        Kind::All => {}
        Kind::Block => tests.push((op::JNE_K, TYPE, DEV_BLOCK)),
        Kind::Char => tests.push((op::JNE_K, TYPE, DEV_CHAR)),
    }
    // Every access bit the rule does not grant, including bits a future
    // kernel might add: asking for any of them skips the rule. Always
    // emitted, so every block starts with a conditional jump and the code
    // after it stays reachable (the verifier rejects unreachable code).
    let refused = 0xffff & !i32::from(rule.access.bits());
    tests.push((op::JSET_K, ACCESS, refused));
    for (number, reg) in [(rule.major, MAJOR), (rule.minor, MINOR)] {
        if let Some(n) = number {
            tests.push((op::JNE_K, reg, i32::try_from(n).ok()?));
        }
    }
    let len = tests.len() + 2;
    let mut block: Vec<Insn> = tests
        .into_iter()
        .enumerate()
        .map(|(i, (code, reg, imm))| {
            // Lands on the instruction after the block: pc + 1 + off.
            let off = i16::try_from(len - i - 1).unwrap_or(i16::MAX);
            Insn::new(code, reg, 0, off, imm)
        })
        .collect();
    block.extend([mov(R0, 1), exit()]);
    Some(block)
}

#[cfg(test)]
mod tests {
    use super::super::bpf_interp::{self, Ctx};
    use super::super::devices::{Access, DEFAULT_ALLOW};
    use super::*;

    /// `access` as the high half of `access_type`.
    fn access_type(device_type: u32, access: Access) -> u32 {
        (u32::from(access.bits()) << 16) | device_type
    }

    #[test]
    fn insns_have_the_kernel_layout() {
        fn bytes(insn: Insn) -> [u8; 8] {
            let mut out = [0; 8];
            out[0] = insn.code;
            out[1] = insn.regs;
            out[2..4].copy_from_slice(&insn.off.to_ne_bytes());
            out[4..].copy_from_slice(&insn.imm.to_ne_bytes());
            out
        }
        // Encodings as `bpftool prog dump xlated` / llvm-objdump show them
        // (x86-64): `r0 = 1` is b4 00 00 00 01 00 00 00.
        if cfg!(target_endian = "little") {
            assert_eq!(bytes(mov(R0, 1)), [0xb4, 0, 0, 0, 1, 0, 0, 0]);
            assert_eq!(bytes(exit()), [0x95, 0, 0, 0, 0, 0, 0, 0]);
            assert_eq!(bytes(load_u32(4, 1, 4)), [0x61, 0x14, 4, 0, 0, 0, 0, 0]);
        }
        let insn = Insn::new(op::JNE_K, 5, 0, 3, -1);
        assert_eq!((insn.dst(), insn.src(), insn.off, insn.imm), (5, 0, 3, -1));
        assert_eq!(load_u32(4, 1, 8).src(), 1);
    }

    /// The v1 controller's decision, from the rule as written to
    /// `devices.allow` (security/device_cgroup.c: `match_exception` over the
    /// exceptions of a cgroup whose default is deny).
    fn v1_allows(rules: &[Rule], device_type: u32, major: u32, minor: u32, access: u32) -> bool {
        rules.iter().any(|rule| {
            let text = rule.to_string();
            let mut parts = text.split(' ');
            let kind = parts.next().unwrap();
            let (maj, min) = parts.next().unwrap().split_once(':').unwrap();
            let acc = parts.next().unwrap();
            let type_ok = match kind {
                "a" => true,
                "b" => device_type == 1,
                "c" => device_type == 2,
                other => panic!("rule type {other}"),
            };
            let number_ok = |field: &str, n: u32| field == "*" || field.parse::<u32>() == Ok(n);
            let granted = acc.chars().fold(0, |bits, c| {
                bits | match c {
                    'm' => 1,
                    'r' => 2,
                    'w' => 4,
                    other => panic!("access {other}"),
                }
            });
            type_ok && number_ok(maj, major) && number_ok(min, minor) && access & !granted == 0
        })
    }

    /// Runs the program and the v1 model over a grid of requests that
    /// covers every rule's numbers, their neighbours, wildcards' edges and
    /// every access combination.
    fn agree(rules: &[Rule]) -> usize {
        let prog = compile(rules);
        bpf_interp::check_cfg(&prog);
        let majors = [
            0, 1, 2, 4, 5, 6, 7, 8, 10, 11, 135, 136, 137, 253, 254, 4095,
        ];
        let minors = [0, 1, 2, 3, 5, 7, 8, 9, 10, 199, 200, 201, 229, 1_048_575];
        let mut allowed = 0;
        for device_type in [1, 2, 3, 0] {
            for major in majors {
                for minor in minors {
                    for access in 0..8 {
                        let ctx = Ctx {
                            access_type: (access << 16) | device_type,
                            major,
                            minor,
                        };
                        let got = bpf_interp::run(&prog, &ctx);
                        let want = v1_allows(rules, device_type, major, minor, access);
                        assert_eq!(
                            got,
                            u64::from(want),
                            "type {device_type} {major}:{minor} access {access:03b}"
                        );
                        allowed += usize::from(want);
                    }
                }
            }
        }
        allowed
    }

    #[test]
    fn docker_list_means_the_same_as_on_v1() {
        let allowed = agree(DEFAULT_ALLOW);
        assert!(allowed > 0);
    }

    #[test]
    fn the_cases_that_matter() {
        let prog = compile(DEFAULT_ALLOW);
        let run = |device_type, major, minor, access| {
            bpf_interp::run(
                &prog,
                &Ctx {
                    access_type: access_type(device_type, access),
                    major,
                    minor,
                },
            )
        };
        let rw = Access::READ.and(Access::WRITE);
        // The root disk of this machine (virtio 254:0) and sda (8:0).
        for (major, minor) in [(254, 0), (8, 0), (8, 1)] {
            assert_eq!(run(1, major, minor, Access::READ), 0);
            assert_eq!(run(1, major, minor, Access::WRITE), 0);
            assert_eq!(run(1, major, minor, Access::MKNOD), 1);
        }
        assert_eq!(run(2, 1, 3, rw), 1, "/dev/null O_RDWR");
        assert_eq!(run(2, 136, 7, rw), 1, "/dev/pts/7");
        assert_eq!(run(2, 10, 229, Access::READ), 0, "/dev/fuse");
        assert_eq!(
            run(1, 1, 3, Access::READ),
            0,
            "a block device 1:3 is not /dev/null"
        );
        assert_eq!(run(2, 4, 0, Access::MKNOD), 1, "mknod of any char device");
        assert_eq!(run(2, 4, 0, rw), 0, "/dev/tty0 stays closed");
    }

    #[test]
    fn other_lists_mean_the_same_as_on_v1() {
        let rule = |kind, major, minor, access| Rule {
            kind,
            major,
            minor,
            access,
        };
        assert_eq!(agree(&[]), 0, "no rule: everything denied");
        agree(&[rule(Kind::All, None, None, Access::RWM)]);
        agree(&[
            rule(Kind::All, Some(7), None, Access::READ),
            rule(Kind::Block, None, Some(0), Access::WRITE),
            rule(
                Kind::Char,
                Some(10),
                Some(200),
                Access::READ.and(Access::WRITE),
            ),
            rule(Kind::Char, Some(4095), Some(1_048_575), Access::MKNOD),
        ]);
    }

    #[test]
    fn a_rule_no_device_can_match_is_left_out() {
        let huge = Rule {
            kind: Kind::Char,
            major: Some(u32::MAX),
            minor: None,
            access: Access::RWM,
        };
        assert_eq!(compile(&[huge]), compile(&[]));
        agree(&[huge]);
    }

    #[test]
    fn docker_list_stays_small() {
        // 6 loads, at most 6 per rule, 2 to deny; far below BPF_MAXINSNS.
        let prog = compile(DEFAULT_ALLOW);
        assert!(
            prog.len() <= 6 + 6 * DEFAULT_ALLOW.len() + 2,
            "{}",
            prog.len()
        );
        assert_eq!(prog.last(), Some(&exit()));
    }
}
