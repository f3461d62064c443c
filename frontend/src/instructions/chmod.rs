//! `--chmod` values: an octal mode (`0755`) or, since Dockerfile syntax
//! 1.14, a symbolic one as chmod(1) writes it (`u=rwX,go=rX`, `+x`), which is
//! applied to each copied entry against its own mode.

/// A parsed `--chmod`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chmod {
    /// An absolute mode, at most `0o7777`.
    Octal(u32),
    /// A symbolic mode, applied per entry.
    Symbolic(SymbolicMode),
    /// A value holding a variable, parsed after expansion.
    Deferred(String),
}

impl Chmod {
    /// Parses a `--chmod` value; `None` when it is neither form.
    pub fn parse(value: &str) -> Option<Chmod> {
        if value.contains('$') {
            return Some(Chmod::Deferred(value.to_string()));
        }
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            return u32::from_str_radix(value, 8)
                .ok()
                .filter(|&mode| mode <= 0o7777)
                .map(Chmod::Octal);
        }
        SymbolicMode::parse(value).map(Chmod::Symbolic)
    }

    /// The mode of an entry whose current mode is `mode` (permission and
    /// special bits) and which is a directory when `is_dir`. `None` for a
    /// deferred value.
    pub fn apply(&self, mode: u32, is_dir: bool) -> Option<u32> {
        match self {
            Chmod::Octal(m) => Some(*m),
            Chmod::Symbolic(s) => Some(s.apply(mode, is_dir)),
            Chmod::Deferred(_) => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Add,
    Remove,
    Set,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Perms {
    /// Letters from `rwxXst`.
    Letters {
        r: bool,
        w: bool,
        x: bool,
        big_x: bool,
        s: bool,
        t: bool,
    },
    /// Copy the bits of class `u`, `g` or `o`.
    CopyOf(char),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Clause {
    /// Mask of the classes the clause touches; `None` when no class was
    /// written (then every class, as with `a`).
    who: Option<u32>,
    actions: Vec<(Op, Perms)>,
}

/// A symbolic mode: comma-separated clauses `[ugoa]*([-+=]([rwxXst]*|[ugo]))+`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolicMode {
    clauses: Vec<Clause>,
}

const USER: u32 = 0o4700;
const GROUP: u32 = 0o2070;
const OTHER: u32 = 0o1007;

impl SymbolicMode {
    /// Parses chmod(1)'s symbolic grammar.
    pub fn parse(text: &str) -> Option<SymbolicMode> {
        let mut clauses = Vec::new();
        for clause in text.split(',') {
            let mut chars = clause.chars().peekable();
            let mut who = None;
            while let Some(&c) = chars.peek() {
                let bits = match c {
                    'u' => USER,
                    'g' => GROUP,
                    'o' => OTHER,
                    'a' => USER | GROUP | OTHER,
                    _ => break,
                };
                who = Some(who.unwrap_or(0) | bits);
                chars.next();
            }
            let mut actions = Vec::new();
            while let Some(c) = chars.next() {
                let op = match c {
                    '+' => Op::Add,
                    '-' => Op::Remove,
                    '=' => Op::Set,
                    _ => return None,
                };
                let perms = match chars.peek() {
                    Some(&class @ ('u' | 'g' | 'o')) => {
                        chars.next();
                        Perms::CopyOf(class)
                    }
                    _ => {
                        let (mut r, mut w, mut x, mut big_x, mut s, mut t) =
                            (false, false, false, false, false, false);
                        while let Some(&c) = chars.peek() {
                            match c {
                                'r' => r = true,
                                'w' => w = true,
                                'x' => x = true,
                                'X' => big_x = true,
                                's' => s = true,
                                't' => t = true,
                                _ => break,
                            }
                            chars.next();
                        }
                        Perms::Letters {
                            r,
                            w,
                            x,
                            big_x,
                            s,
                            t,
                        }
                    }
                };
                actions.push((op, perms));
            }
            if actions.is_empty() {
                return None;
            }
            clauses.push(Clause { who, actions });
        }
        Some(SymbolicMode { clauses })
    }

    /// Applies the clauses, in order, to `mode`.
    pub fn apply(&self, mut mode: u32, is_dir: bool) -> u32 {
        for clause in &self.clauses {
            let who = clause.who.unwrap_or(USER | GROUP | OTHER);
            for &(op, perms) in &clause.actions {
                let bits = match perms {
                    Perms::Letters {
                        r,
                        w,
                        x,
                        big_x,
                        s,
                        t,
                    } => {
                        let executable = is_dir || mode & 0o111 != 0;
                        let mut bits = 0;
                        if r {
                            bits |= 0o444;
                        }
                        if w {
                            bits |= 0o222;
                        }
                        if x || (big_x && executable) {
                            bits |= 0o111;
                        }
                        if s {
                            bits |= 0o6000;
                        }
                        if t {
                            bits |= 0o1000;
                        }
                        bits
                    }
                    Perms::CopyOf(class) => {
                        let shift = match class {
                            'u' => 6,
                            'g' => 3,
                            _ => 0,
                        };
                        let rwx = (mode >> shift) & 0o7;
                        rwx << 6 | rwx << 3 | rwx
                    }
                } & who;
                mode = match op {
                    Op::Add => mode | bits,
                    Op::Remove => mode & !bits,
                    Op::Set => (mode & !who) | bits,
                };
            }
        }
        mode & 0o7777
    }
}

#[cfg(test)]
mod tests {
    use super::Chmod;

    fn apply(value: &str, mode: u32, is_dir: bool) -> u32 {
        Chmod::parse(value).unwrap().apply(mode, is_dir).unwrap()
    }

    #[test]
    fn octal_and_symbolic_values() {
        assert_eq!(Chmod::parse("755"), Some(Chmod::Octal(0o755)));
        assert_eq!(Chmod::parse("04755"), Some(Chmod::Octal(0o4755)));
        assert_eq!(Chmod::parse("$MODE"), Some(Chmod::Deferred("$MODE".into())));
        for bad in [
            "", "8", "999", "77777", "0o755", "rwx", "u+q", "u", "u+x,", "-1x",
        ] {
            assert_eq!(Chmod::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn symbolic_modes_apply_like_chmod() {
        assert_eq!(apply("u=rwX,go=rX", 0o600, false), 0o644);
        assert_eq!(apply("u=rwX,go=rX", 0o700, true), 0o755);
        assert_eq!(apply("u=rwX,go=rX", 0o744, false), 0o755);
        assert_eq!(apply("+x", 0o644, false), 0o755);
        assert_eq!(apply("go-w", 0o666, false), 0o644);
        assert_eq!(apply("g=u", 0o740, false), 0o770);
        assert_eq!(apply("a=r,u+w", 0o777, false), 0o644);
        assert_eq!(apply("u+s,o+t", 0o755, true), 0o5755);
    }
}
