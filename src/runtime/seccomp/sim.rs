//! A classic-BPF interpreter for the handful of instructions the filter
//! uses, so tests can ask the compiled program what it would answer for a
//! call without installing it.

use seccompiler::sock_filter;

/// `struct seccomp_data` as the kernel hands it to the filter.
pub struct Data {
    /// System call number.
    pub nr: i64,
    /// `AUDIT_ARCH_*` of the ABI the call came through.
    pub arch: u32,
    /// The six raw arguments.
    pub args: [u64; 6],
}

/// Runs `program` on `data` and returns the action it ends with.
pub fn run(program: &[sock_filter], data: &Data) -> u32 {
    let mut acc: u32 = 0;
    let mut pc = 0usize;
    loop {
        let ins = program
            .get(pc)
            .unwrap_or_else(|| panic!("the program runs off its end at {pc}"));
        pc += 1;
        let jump = |taken: bool| usize::from(if taken { ins.jt } else { ins.jf });
        match ins.code {
            // BPF_LD | BPF_W | BPF_ABS
            0x20 => acc = load(data, ins.k),
            // BPF_ALU | BPF_AND | BPF_K
            0x54 => acc &= ins.k,
            // BPF_JMP | BPF_JA
            0x05 => pc += usize::try_from(ins.k).expect("jump offset"),
            // BPF_JMP | BPF_JEQ / BPF_JGT / BPF_JGE | BPF_K
            0x15 => pc += jump(acc == ins.k),
            0x25 => pc += jump(acc > ins.k),
            0x35 => pc += jump(acc >= ins.k),
            // BPF_RET | BPF_K
            0x06 => return ins.k,
            code => panic!("unexpected BPF opcode {code:#x} at {}", pc - 1),
        }
    }
}

/// A 32-bit load from `struct seccomp_data` (little endian).
fn load(data: &Data, offset: u32) -> u32 {
    match offset {
        // The kernel stores nr as an int; the filter sees its bits.
        0 => data.nr as u32,
        4 => data.arch,
        16..=63 => {
            let index = usize::try_from((offset - 16) / 8).expect("argument index");
            let arg = data.args[index];
            if offset.is_multiple_of(8) {
                arg as u32
            } else {
                (arg >> 32) as u32
            }
        }
        _ => panic!("unexpected seccomp_data offset {offset}"),
    }
}
