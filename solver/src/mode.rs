//! `--chmod`'s symbolic form (Dockerfile syntax 1.14) as data: chmod(1)'s
//! grammar (`u=rwX,go=rX`, `+x`), parsed once and applied to each copied
//! entry against its own bits, `X` counting directories as executable.

use std::fmt;
use std::str::FromStr;

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

/// A symbolic mode: comma-separated clauses `[ugoa]*([-+=]([rwxXst]*|[ugo]))+`,
/// parsed once (by the frontend, from `--chmod`) and kept with the text
/// it was written as, which is what the graph's encodings and `--explain`
/// show: the same bytes as when the graph held the text.
#[derive(Clone, PartialEq, Eq)]
pub struct SymbolicMode {
    text: String,
    clauses: Vec<Clause>,
}

const USER: u32 = 0o4700;
const GROUP: u32 = 0o2070;
const OTHER: u32 = 0o1007;

impl SymbolicMode {
    /// Parses chmod(1)'s symbolic grammar.
    pub fn parse(text: &str) -> Option<SymbolicMode> {
        if text.is_empty() {
            return None;
        }
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
        Some(SymbolicMode {
            text: text.to_string(),
            clauses,
        })
    }

    /// The mode as written.
    pub fn as_str(&self) -> &str {
        &self.text
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

impl fmt::Debug for SymbolicMode {
    /// As the text it was written as, quoted: what `--explain`'s parts
    /// showed when the graph held the text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl fmt::Display for SymbolicMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `text` is not chmod(1)'s symbolic grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotSymbolic(pub String);

impl fmt::Display for NotSymbolic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid symbolic mode {:?}", self.0)
    }
}

impl std::error::Error for NotSymbolic {}

impl FromStr for SymbolicMode {
    type Err = NotSymbolic;

    fn from_str(text: &str) -> Result<SymbolicMode, NotSymbolic> {
        SymbolicMode::parse(text).ok_or_else(|| NotSymbolic(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::SymbolicMode;

    fn apply(text: &str, mode: u32, is_dir: bool) -> u32 {
        SymbolicMode::parse(text).unwrap().apply(mode, is_dir)
    }

    #[test]
    fn applies_like_chmod() {
        let cases = [
            ("u=rwX,go=rX", 0o600, false, 0o644),
            ("u=rwX,go=rX", 0o700, true, 0o755),
            ("u=rwX,go=rX", 0o744, false, 0o755),
            ("+x", 0o644, false, 0o755),
            ("+x", 0o4644, false, 0o4755),
            ("go-w", 0o666, false, 0o644),
            ("g=u", 0o740, false, 0o770),
            ("a=r,u+w", 0o777, false, 0o644),
            ("u+s,o+t", 0o755, true, 0o5755),
            ("o-rwx,+t", 0o777, true, 0o1770),
        ];
        for (text, mode, is_dir, want) in cases {
            assert_eq!(apply(text, mode, is_dir), want, "{text} on {mode:o}");
        }
        for bad in ["", "u", "u+q", "u+x,", "-1x", "rwx"] {
            assert!(SymbolicMode::parse(bad).is_none(), "{bad}");
        }
        let mode: SymbolicMode = "u+x".parse().unwrap();
        assert_eq!(
            (mode.as_str(), format!("{mode:?}")),
            ("u+x", r#""u+x""#.to_string())
        );
    }
}
