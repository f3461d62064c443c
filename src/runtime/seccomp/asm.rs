//! An assembler for classic BPF with jumps by label, including jumps too
//! long for a conditional jump's 8-bit offset.
//!
//! A conditional jump reaches at most [`MAX_JUMP`] instructions past the
//! next one; only `BPF_JA`, with its 32-bit `k`, goes further (see
//! [`super::bpf`]). Where a conditional jump's target is out of reach, the
//! assembler puts a `BPF_JA` to it right behind the jump (a trampoline) and
//! points the short offset there, which costs one instruction on that path
//! only. A trampoline moves everything behind it by one, which can put
//! another jump out of reach, so the layout is redone until no jump needs a
//! new one. That ends: a jump gets at most one trampoline per target, and a
//! trampoline can reach any instruction of a program the kernel accepts.

use super::SeccompError;
use super::bpf::{BPF_MAXINSNS, JMP_JA, MAX_JUMP};
use seccompiler::sock_filter;

/// A place in the program, named before it is placed so that jumps to it
/// can be written first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label(usize);

/// One instruction, with labels where the program will have offsets.
enum Item {
    /// A load, an ALU operation or a return.
    Plain { code: u16, k: u32 },
    /// A conditional jump: to `yes` if the test holds, else to `no`.
    Branch {
        code: u16,
        k: u32,
        yes: Label,
        no: Label,
    },
    /// `BPF_JA`.
    Goto(Label),
}

/// A program being written; [`Asm::finish`] turns it into instructions.
#[derive(Default)]
pub struct Asm {
    items: Vec<Item>,
    /// For each label, the index of the item it stands before, once placed.
    labels: Vec<Option<usize>>,
    /// Where a label was placed a second time, a bug the layout reports.
    replaced: Option<usize>,
}

/// Where one item lands, with the trampolines of its far targets.
#[derive(Clone, Copy, Default)]
struct Slot {
    /// Address of the item's own instruction.
    at: usize,
    /// Whether `yes` is reached through a trampoline.
    far_yes: bool,
    /// Whether `no` is reached through a trampoline.
    far_no: bool,
}

impl Slot {
    /// Instructions the item takes: itself and its trampolines.
    fn len(self) -> usize {
        1 + usize::from(self.far_yes) + usize::from(self.far_no)
    }
}

impl Asm {
    /// A new label, to be placed later with [`Asm::place`].
    pub fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    /// Puts `label` before the next instruction written.
    pub fn place(&mut self, label: Label) {
        if let Some(slot) = self.labels.get_mut(label.0) {
            if slot.is_some() {
                self.replaced = self.replaced.or(Some(self.items.len()));
            }
            *slot = Some(self.items.len());
        }
    }

    /// An instruction that does not jump.
    pub fn stmt(&mut self, code: u16, k: u32) {
        self.items.push(Item::Plain { code, k });
    }

    /// A conditional jump (`BPF_JMP | op | BPF_K`).
    pub fn branch(&mut self, code: u16, k: u32, yes: Label, no: Label) {
        self.items.push(Item::Branch { code, k, yes, no });
    }

    /// An unconditional jump.
    pub fn goto(&mut self, target: Label) {
        self.items.push(Item::Goto(target));
    }

    /// The finished program, every label turned into an offset.
    pub fn finish(self) -> Result<Vec<sock_filter>, SeccompError> {
        if let Some(item) = self.replaced {
            return Err(layout(item, "a label is placed twice"));
        }
        let mut slots = vec![Slot::default(); self.items.len()];
        loop {
            let mut at = 0;
            for slot in &mut slots {
                slot.at = at;
                at += slot.len();
            }
            let mut grown = false;
            for (index, item) in self.items.iter().enumerate() {
                let Item::Branch { yes, no, .. } = *item else {
                    continue;
                };
                let from = slots[index].at + 1;
                if !slots[index].far_yes && self.distance(&slots, index, from, yes)? > MAX_JUMP {
                    slots[index].far_yes = true;
                    grown = true;
                }
                if !slots[index].far_no && self.distance(&slots, index, from, no)? > MAX_JUMP {
                    slots[index].far_no = true;
                    grown = true;
                }
            }
            if !grown {
                break;
            }
        }
        let len = slots.last().map_or(0, |slot| slot.at + slot.len());
        if len > BPF_MAXINSNS {
            return Err(SeccompError::TooLarge { len });
        }
        let mut program = Vec::with_capacity(len);
        for (index, item) in self.items.iter().enumerate() {
            let slot = slots[index];
            let from = slot.at + 1;
            match *item {
                Item::Plain { code, k } => program.push(insn(code, 0, 0, k)),
                Item::Goto(target) => {
                    let k = self.distance(&slots, index, from, target)?;
                    program.push(insn(JMP_JA, 0, 0, offset32(index, k)?));
                }
                Item::Branch { code, k, yes, no } => {
                    // Trampolines, if any, follow the jump: yes's first.
                    let yes_at = from;
                    let no_at = from + usize::from(slot.far_yes);
                    let jt = if slot.far_yes {
                        yes_at - from
                    } else {
                        self.distance(&slots, index, from, yes)?
                    };
                    let jf = if slot.far_no {
                        no_at - from
                    } else {
                        self.distance(&slots, index, from, no)?
                    };
                    program.push(insn(code, offset8(index, jt)?, offset8(index, jf)?, k));
                    if slot.far_yes {
                        let k = self.distance(&slots, index, yes_at + 1, yes)?;
                        program.push(insn(JMP_JA, 0, 0, offset32(index, k)?));
                    }
                    if slot.far_no {
                        let k = self.distance(&slots, index, no_at + 1, no)?;
                        program.push(insn(JMP_JA, 0, 0, offset32(index, k)?));
                    }
                }
            }
        }
        Ok(program)
    }

    /// How far forward `target` is from address `from` (the instruction
    /// after the jump), in the layout `slots`.
    fn distance(
        &self,
        slots: &[Slot],
        index: usize,
        from: usize,
        target: Label,
    ) -> Result<usize, SeccompError> {
        let item = self
            .labels
            .get(target.0)
            .copied()
            .flatten()
            .ok_or_else(|| layout(index, "a jump goes to a label that is never placed"))?;
        // A label after the last item would send the program off its end,
        // which the kernel refuses.
        let to = slots
            .get(item)
            .ok_or_else(|| layout(index, "a jump goes past the last instruction"))?
            .at;
        to.checked_sub(from)
            .ok_or_else(|| layout(index, "a jump goes backwards"))
    }
}

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

fn offset8(index: usize, offset: usize) -> Result<u8, SeccompError> {
    u8::try_from(offset).map_err(|_| layout(index, "a conditional jump is out of reach"))
}

fn offset32(index: usize, offset: usize) -> Result<u32, SeccompError> {
    u32::try_from(offset).map_err(|_| layout(index, "a jump is out of reach"))
}

fn layout(item: usize, reason: &'static str) -> SeccompError {
    SeccompError::Layout { item, reason }
}

#[cfg(test)]
mod tests {
    use super::super::bpf::{JMP_JEQ_K, JMP_JGE_K, LD_W_ABS, RET_K};
    use super::super::sim::{Data, trace, validate};
    use super::*;

    fn nr(program: &[sock_filter], nr: i64) -> (u32, usize) {
        validate(program);
        let outcome = trace(
            program,
            &Data {
                nr,
                arch: 0,
                args: [0; 6],
            },
        );
        (outcome.action, outcome.steps)
    }

    /// `JEQ 1` whose `yes` is behind `gap` returns: near or far.
    fn over_a_gap(gap: u32) -> Vec<sock_filter> {
        let mut asm = Asm::default();
        let (one, other) = (asm.label(), asm.label());
        asm.stmt(LD_W_ABS, 0);
        asm.branch(JMP_JEQ_K, 1, one, other);
        asm.place(other);
        for k in 0..gap {
            asm.stmt(RET_K, 1000 + k);
        }
        asm.place(one);
        asm.stmt(RET_K, 1);
        asm.finish().expect("lays out")
    }

    #[test]
    fn a_jump_of_255_is_direct_and_256_takes_a_trampoline() {
        let near = over_a_gap(255);
        assert_eq!(near.len(), 258);
        assert_eq!((near[1].jt, near[1].jf), (255, 0));
        assert_eq!(nr(&near, 1), (1, 3));
        assert_eq!(nr(&near, 2), (1000, 3));

        let far = over_a_gap(256);
        assert_eq!(far.len(), 260);
        assert_eq!((far[1].jt, far[1].jf), (0, 1));
        assert_eq!((far[2].code, far[2].k), (JMP_JA, 256));
        assert_eq!(nr(&far, 1), (1, 4));
        assert_eq!(nr(&far, 2), (1000, 3));
    }

    #[test]
    fn both_targets_far_get_a_trampoline_each() {
        let mut asm = Asm::default();
        let (yes, no) = (asm.label(), asm.label());
        asm.stmt(LD_W_ABS, 0);
        asm.branch(JMP_JGE_K, 10, yes, no);
        for k in 0..300 {
            asm.stmt(RET_K, 1000 + k);
        }
        asm.place(no);
        asm.stmt(RET_K, 2);
        for k in 0..300 {
            asm.stmt(RET_K, 2000 + k);
        }
        asm.place(yes);
        asm.stmt(RET_K, 3);
        let program = asm.finish().expect("lays out");
        assert_eq!(program.len(), 1 + 3 + 300 + 1 + 300 + 1);
        assert_eq!((program[1].jt, program[1].jf), (0, 1));
        assert_eq!(nr(&program, 9), (2, 4));
        assert_eq!(nr(&program, 10), (3, 4));
    }

    #[test]
    fn a_trampoline_that_pushes_another_jump_out_of_reach_gets_one_too() {
        // The first jump lands exactly 255 away until the second one's
        // trampoline, which sits between them, moves its target by one.
        let mut asm = Asm::default();
        let (a, b, next) = (asm.label(), asm.label(), asm.label());
        asm.stmt(LD_W_ABS, 0);
        asm.branch(JMP_JEQ_K, 1, a, next);
        asm.place(next);
        let next = asm.label();
        asm.branch(JMP_JEQ_K, 2, b, next);
        asm.place(next);
        for k in 0..254 {
            asm.stmt(RET_K, 1000 + k);
        }
        asm.place(a);
        asm.stmt(RET_K, 1);
        for k in 0..10 {
            asm.stmt(RET_K, 2000 + k);
        }
        asm.place(b);
        asm.stmt(RET_K, 2);
        let program = asm.finish().expect("lays out");
        assert_eq!(nr(&program, 1).0, 1);
        assert_eq!(nr(&program, 2).0, 2);
        assert_eq!(nr(&program, 3).0, 1000);
        let jumps = program.iter().filter(|i| i.code == JMP_JA).count();
        assert_eq!(jumps, 2, "both jumps need a trampoline");
    }

    #[test]
    fn layout_bugs_are_errors() {
        let mut asm = Asm::default();
        let nowhere = asm.label();
        asm.goto(nowhere);
        asm.stmt(RET_K, 0);
        assert!(matches!(asm.finish(), Err(SeccompError::Layout { .. })));

        let mut asm = Asm::default();
        let back = asm.label();
        asm.place(back);
        asm.stmt(RET_K, 0);
        asm.goto(back);
        asm.stmt(RET_K, 0);
        let err = asm.finish().expect_err("backwards");
        assert_eq!(
            err.to_string(),
            "cannot lay out the seccomp filter: a jump goes backwards (item 1)"
        );

        let mut asm = Asm::default();
        let end = asm.label();
        asm.goto(end);
        asm.place(end);
        assert!(matches!(asm.finish(), Err(SeccompError::Layout { .. })));

        let mut asm = Asm::default();
        let twice = asm.label();
        asm.place(twice);
        asm.stmt(RET_K, 0);
        asm.place(twice);
        asm.stmt(RET_K, 0);
        assert!(matches!(
            asm.finish(),
            Err(SeccompError::Layout { item: 1, .. })
        ));
    }

    #[test]
    fn refuses_a_program_longer_than_the_kernel_takes() {
        let mut asm = Asm::default();
        for _ in 0..=BPF_MAXINSNS {
            asm.stmt(RET_K, 0);
        }
        assert!(matches!(
            asm.finish(),
            Err(SeccompError::TooLarge { len }) if len == BPF_MAXINSNS + 1
        ));
    }
}
