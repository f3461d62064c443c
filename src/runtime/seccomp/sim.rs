//! A classic-BPF interpreter for the handful of instructions the filter
//! uses, so tests can ask the compiled program what it would answer for a
//! call, and how many instructions it took, without installing it; and the
//! kernel's install-time checks, so they can tell a program it would
//! refuse.

use super::bpf::{ALU_AND_K, BPF_MAXINSNS, JMP_JA, JMP_JEQ_K, JMP_JGE_K, LD_W_ABS, RET_K};
use seccompiler::sock_filter;

/// `BPF_JMP | BPF_JGT | BPF_K`, which kiln does not emit but a program may
/// use.
const JMP_JGT_K: u16 = 0x25;

/// `struct seccomp_data` as the kernel hands it to the filter.
pub struct Data {
    /// System call number.
    pub nr: i64,
    /// `AUDIT_ARCH_*` of the ABI the call came through.
    pub arch: u32,
    /// The six raw arguments.
    pub args: [u64; 6],
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The action returned.
    pub action: u32,
    /// Instructions executed, the return included.
    pub steps: usize,
    /// Whether the path loaded an argument. The kernel's constant-action
    /// cache (`seccomp_is_const_allow`) can only remember an answer that
    /// never does.
    pub reads_args: bool,
}

/// Runs `program` on `data` and returns the action it ends with.
pub fn run(program: &[sock_filter], data: &Data) -> u32 {
    trace(program, data).action
}

/// Runs `program` on `data`: the action and the path's length.
pub fn trace(program: &[sock_filter], data: &Data) -> Outcome {
    let mut acc: u32 = 0;
    let mut pc = 0usize;
    let mut steps = 0;
    let mut reads_args = false;
    loop {
        let ins = program
            .get(pc)
            .unwrap_or_else(|| panic!("the program runs off its end at {pc}"));
        pc += 1;
        steps += 1;
        let jump = |taken: bool| usize::from(if taken { ins.jt } else { ins.jf });
        match ins.code {
            LD_W_ABS => {
                reads_args |= ins.k >= 16;
                acc = load(data, ins.k);
            }
            ALU_AND_K => acc &= ins.k,
            JMP_JA => pc += usize::try_from(ins.k).expect("jump offset"),
            JMP_JEQ_K => pc += jump(acc == ins.k),
            JMP_JGT_K => pc += jump(acc > ins.k),
            JMP_JGE_K => pc += jump(acc >= ins.k),
            RET_K => {
                return Outcome {
                    action: ins.k,
                    steps,
                    reads_args,
                };
            }
            code => panic!("unexpected BPF opcode {code:#x} at {}", pc - 1),
        }
    }
}

/// Panics unless the kernel would accept `program`: the length, jumps that
/// land inside it, a return at the end (`bpf_check_classic`), and aligned
/// loads inside `struct seccomp_data` (`seccomp_check_filter`).
pub fn validate(program: &[sock_filter]) {
    let len = program.len();
    assert!((1..=BPF_MAXINSNS).contains(&len), "{len} instructions");
    for (pc, ins) in program.iter().enumerate() {
        let lands = |offset: usize| pc + 1 + offset < len;
        match ins.code {
            LD_W_ABS => assert!(
                ins.k % 4 == 0 && ins.k < 64,
                "load of offset {} at {pc}",
                ins.k
            ),
            ALU_AND_K | RET_K => {}
            JMP_JA => {
                let k = usize::try_from(ins.k).expect("jump offset");
                assert!(lands(k), "BPF_JA {k} at {pc} leaves the program");
            }
            JMP_JEQ_K | JMP_JGT_K | JMP_JGE_K => assert!(
                lands(usize::from(ins.jt)) && lands(usize::from(ins.jf)),
                "jump ({}, {}) at {pc} leaves the program",
                ins.jt,
                ins.jf
            ),
            code => panic!("unexpected BPF opcode {code:#x} at {pc}"),
        }
    }
    let last = program[len - 1].code;
    assert_eq!(
        last, RET_K,
        "the last instruction is {last:#x}, not a return"
    );
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
