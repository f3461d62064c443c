//! A tiny eBPF interpreter for the tests of `bpf_prog.rs`.
//!
//! It runs exactly the opcodes the device-program compiler emits, with the
//! semantics of the kernel's instruction set document
//! (Documentation/bpf/standardization/instruction-set.rst): 32-bit ALU
//! results are zero-extended, `BPF_JMP` compares 64-bit registers with a
//! sign-extended immediate, a jump lands on `pc + 1 + off`. Where the
//! kernel's verifier would reject a program (reading a register never
//! written, a context access outside `struct bpf_cgroup_dev_ctx`, a jump
//! out of the program, an unreachable instruction, a return value other
//! than 0 or 1), it panics, so the tests catch what only a root test could
//! otherwise.

use super::bpf_prog::{Insn, op};

/// The context a cgroup device program reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    pub(crate) access_type: u32,
    pub(crate) major: u32,
    pub(crate) minor: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Reg {
    Unset,
    CtxPtr,
    Value(u64),
}

/// Runs `prog` on `ctx` and returns `r0` at exit.
pub(crate) fn run(prog: &[Insn], ctx: &Ctx) -> u64 {
    let mut regs = [Reg::Unset; 11];
    regs[1] = Reg::CtxPtr;
    let value = |regs: &[Reg; 11], r: u8, pc: usize| match regs[usize::from(r)] {
        Reg::Value(v) => v,
        other => panic!("insn {pc}: r{r} is {other:?}, not a number"),
    };
    let mut pc = 0;
    // Forward jumps only, so at most prog.len() steps.
    for _ in 0..=prog.len() {
        let insn = prog
            .get(pc)
            .unwrap_or_else(|| panic!("fell off the program at {pc}"));
        let (dst, imm) = (insn.dst(), insn.imm);
        assert!(dst <= 10, "insn {pc}: r{dst}");
        let mut next = pc + 1;
        match insn.code {
            op::LDX_W => {
                assert_eq!(
                    regs[usize::from(insn.src())],
                    Reg::CtxPtr,
                    "insn {pc}: load not from the context"
                );
                let field = match insn.off {
                    0 => ctx.access_type,
                    4 => ctx.major,
                    8 => ctx.minor,
                    off => panic!("insn {pc}: context offset {off}"),
                };
                regs[usize::from(dst)] = Reg::Value(u64::from(field));
            }
            op::AND32_K => {
                let v = value(&regs, dst, pc) as u32 & imm as u32;
                regs[usize::from(dst)] = Reg::Value(u64::from(v));
            }
            op::RSH32_K => {
                assert!((0..32).contains(&imm), "insn {pc}: shift {imm}");
                let v = (value(&regs, dst, pc) as u32) >> imm;
                regs[usize::from(dst)] = Reg::Value(u64::from(v));
            }
            op::MOV32_K => regs[usize::from(dst)] = Reg::Value(u64::from(imm as u32)),
            op::JNE_K | op::JSET_K => {
                let v = value(&regs, dst, pc);
                let k = i64::from(imm) as u64;
                let taken = if insn.code == op::JNE_K {
                    v != k
                } else {
                    v & k != 0
                };
                if taken {
                    next = jump_target(prog, pc, insn);
                }
            }
            op::EXIT => {
                let r0 = value(&regs, 0, pc);
                assert!(r0 <= 1, "a device program returns 0 or 1, not {r0}");
                return r0;
            }
            code => panic!("insn {pc}: opcode {code:#04x} not modelled"),
        }
        pc = next;
    }
    panic!("no exit reached");
}

fn jump_target(prog: &[Insn], pc: usize, insn: &Insn) -> usize {
    let target = pc as i64 + 1 + i64::from(insn.off);
    assert!(
        insn.off >= 0 && (target as usize) < prog.len(),
        "insn {pc}: jump to {target}"
    );
    target as usize
}

/// The verifier's structural checks (kernel/bpf/verifier.c `check_cfg`):
/// jumps stay inside, nothing is unreachable, the last instruction does not
/// fall through.
pub(crate) fn check_cfg(prog: &[Insn]) {
    assert!(!prog.is_empty());
    let mut reached = vec![false; prog.len()];
    reached[0] = true;
    for pc in 0..prog.len() {
        if !reached[pc] {
            panic!("insn {pc} is unreachable");
        }
        let insn = &prog[pc];
        match insn.code {
            op::EXIT => {}
            op::JNE_K | op::JSET_K => {
                reached[jump_target(prog, pc, insn)] = true;
                reached[pc + 1] = true;
            }
            _ => {
                assert!(pc + 1 < prog.len(), "the program falls off its end");
                reached[pc + 1] = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::bpf_prog::{exit, load_u32, mov};
    use super::*;

    const CTX: Ctx = Ctx {
        access_type: 0x0002_0001,
        major: 8,
        minor: 0,
    };

    #[test]
    fn runs_loads_and_moves() {
        assert_eq!(run(&[mov(0, 1), exit()], &CTX), 1);
        assert_eq!(run(&[load_u32(0, 1, 8), exit()], &CTX), 0);
    }

    #[test]
    #[should_panic(expected = "r0 is Unset")]
    fn unset_return_value_is_rejected_like_the_verifier_does() {
        run(&[exit()], &CTX);
    }

    #[test]
    #[should_panic(expected = "context offset 12")]
    fn context_reads_stay_inside_the_struct() {
        run(&[load_u32(0, 1, 12), exit()], &CTX);
    }

    #[test]
    #[should_panic(expected = "unreachable")]
    fn dead_code_is_rejected_like_the_verifier_does() {
        check_cfg(&[mov(0, 0), exit(), exit()]);
    }
}
