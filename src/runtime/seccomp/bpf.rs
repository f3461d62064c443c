//! Classic BPF, the part of it a seccomp filter is made of.
//!
//! A seccomp filter is a classic BPF program: an array of `struct
//! sock_filter` (`include/uapi/linux/filter.h`), each a 16-bit opcode, two
//! 8-bit jump offsets and a 32-bit constant `k`. The machine has one 32-bit
//! accumulator `A`, and the only memory it can load from is the `struct
//! seccomp_data` of the call being filtered (`include/uapi/linux/seccomp.h`),
//! one 32-bit word at a time. Jumps only go forward and are counted from the
//! next instruction: a conditional jump goes `jt` or `jf` instructions
//! further (so at most 255), `BPF_JA` goes `k` further (32 bits). Without
//! backward jumps every program ends, which is why the kernel can run one on
//! every system call.
//!
//! The kernel checks a program once, when it is installed
//! (`bpf_check_classic` in `net/core/filter.c`, `seccomp_check_filter` in
//! `kernel/seccomp.c`): at most [`BPF_MAXINSNS`] instructions, every jump
//! lands inside the program, the last instruction is a return, and loads
//! stay inside `seccomp_data`. The generator here emits only the opcodes
//! below; seccomp's constant-action cache (Linux 5.11,
//! `seccomp_is_const_allow`) understands every one of them.

/// The kernel's limit on a program's length (`BPF_MAXINSNS`,
/// `include/uapi/linux/bpf_common.h`).
pub const BPF_MAXINSNS: usize = 4096;

/// The furthest a conditional jump reaches: `jt`/`jf` are `u8`.
pub const MAX_JUMP: usize = u8::MAX as usize;

// Opcodes: class | size | mode | operation | source, with the values of
// bpf_common.h (BPF_LD, BPF_W, BPF_K and BPF_JA are all 0).
/// `BPF_LD | BPF_W | BPF_ABS` (0x00 | 0x00 | 0x20): `A` = the 32-bit word
/// at offset `k`.
pub const LD_W_ABS: u16 = 0x20;
/// `BPF_ALU | BPF_AND | BPF_K` (0x04 | 0x50 | 0x00): `A &= k`.
pub const ALU_AND_K: u16 = 0x54;
/// `BPF_JMP | BPF_JA` (0x05 | 0x00): jump `k` instructions forward.
pub const JMP_JA: u16 = 0x05;
/// `BPF_JMP | BPF_JEQ | BPF_K` (0x05 | 0x10 | 0x00): to `jt` if `A == k`,
/// else to `jf`.
pub const JMP_JEQ_K: u16 = 0x15;
/// `BPF_JMP | BPF_JGE | BPF_K` (0x05 | 0x30 | 0x00): to `jt` if `A >= k`
/// (unsigned), else to `jf`.
pub const JMP_JGE_K: u16 = 0x35;
/// `BPF_RET | BPF_K` (0x06 | 0x00): end with action `k`.
pub const RET_K: u16 = 0x06;

/// `offsetof(struct seccomp_data, nr)`: the system call number, an `int`.
pub const DATA_NR: u32 = 0;
/// `offsetof(struct seccomp_data, arch)`: the `AUDIT_ARCH_*` of the ABI.
pub const DATA_ARCH: u32 = 4;
/// `offsetof(struct seccomp_data, args)`: six `__u64`, after `nr`, `arch`
/// and the 64-bit `instruction_pointer`.
const DATA_ARGS: u32 = 16;

/// Offset of the low 32 bits of argument `index` (0 to 5). The arguments
/// are stored in the CPU's byte order, so the low half comes first on a
/// little-endian machine and second on a big-endian one.
pub fn arg_low(index: u8) -> u32 {
    let low_half = if cfg!(target_endian = "little") { 0 } else { 4 };
    DATA_ARGS + 8 * u32::from(index) + low_half
}

/// `SECCOMP_RET_ERRNO` with `errno`: the call fails with it without
/// reaching the kernel. Only the low 16 bits (`SECCOMP_RET_DATA`) exist.
pub fn ret_errno(errno: u32) -> u32 {
    libc::SECCOMP_RET_ERRNO | (errno & libc::SECCOMP_RET_DATA)
}
