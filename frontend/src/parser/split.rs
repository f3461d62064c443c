//! Splitting a logical line into keyword, builder flags and argument text
//! (BuildKit's `splitCommand` and `extractBuilderFlags`).

use super::lines::{is_blank, is_space};

/// A flag word found before the arguments: its processed text and the
/// byte range of its raw word in the line.
pub(crate) struct RawFlag {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

/// The parts of an instruction line, as slices of it (flags aside).
pub(crate) struct Split<'a> {
    pub keyword: &'a str,
    pub flags: Vec<RawFlag>,
    /// The argument text, trimmed.
    pub args: &'a str,
}

/// Splits `line`: the keyword is the text before the first run of blanks,
/// then leading `--` words are flags, the rest is the argument text.
pub(crate) fn split_command(line: &str) -> Split<'_> {
    let trimmed = line.trim_matches(is_space);
    let (keyword, rest) = match trimmed.find(is_blank) {
        Some(i) => (&trimmed[..i], trimmed[i..].trim_start_matches(is_blank)),
        None => (trimmed, ""),
    };
    let base = super::logical::offset_in(line, rest);
    let (flags, args) = extract_flags(rest);
    let flags = flags
        .into_iter()
        .map(|f| RawFlag {
            start: f.start + base,
            end: f.end + base,
            text: f.text,
        })
        .collect();
    Split {
        keyword,
        flags,
        args: args.trim_matches(is_space),
    }
}

#[derive(PartialEq)]
enum Phase {
    Spaces,
    Word,
    Quote(char),
}

/// Pulls leading `--flag` words off `line`. Inside a flag word quotes group
/// blanks and are removed, and `\` takes the next character literally —
/// always `\`, whatever the escape directive says, as in BuildKit's
/// `extractBuilderFlags`. A bare `--` ends the flags and is dropped.
/// Returns the flags and the text after them.
fn extract_flags(line: &str) -> (Vec<RawFlag>, &str) {
    const ESCAPE: char = '\\';
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut flags = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut word_start = 0;
    // A quoted empty string (`--x=""` aside) still makes a word.
    let mut blank_ok = false;
    let mut i = 0;
    loop {
        let Some(&(pos, mut ch)) = chars.get(i) else {
            if phase != Phase::Spaces && word != "--" && (blank_ok || !word.is_empty()) {
                flags.push(RawFlag {
                    text: word,
                    start: word_start,
                    end: line.len(),
                });
            }
            return (flags, "");
        };
        i += 1;
        match phase {
            Phase::Spaces => {
                if is_space(ch) {
                    continue;
                }
                let next = chars.get(i).map(|&(_, c)| c);
                if ch != '-' || next != Some('-') {
                    return (flags, &line[pos..]);
                }
                phase = Phase::Word;
                word_start = pos;
                word.push(ch);
            }
            Phase::Word | Phase::Quote(_) => {
                if let Phase::Quote(quote) = phase {
                    if ch == quote {
                        phase = Phase::Word;
                        continue;
                    }
                } else if is_space(ch) {
                    if word == "--" {
                        return (flags, &line[pos..]);
                    }
                    if blank_ok || !word.is_empty() {
                        flags.push(RawFlag {
                            text: std::mem::take(&mut word),
                            start: word_start,
                            end: pos,
                        });
                    }
                    blank_ok = false;
                    phase = Phase::Spaces;
                    continue;
                } else if ch == '\'' || ch == '"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                    continue;
                }
                // Inside or outside quotes, `\` takes the next character
                // literally; at the very end it is dropped.
                if ch == ESCAPE {
                    let Some(&(_, next)) = chars.get(i) else {
                        continue;
                    };
                    ch = next;
                    i += 1;
                }
                word.push(ch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags_of(line: &str) -> (Vec<String>, String) {
        let split = split_command(line);
        (
            split.flags.into_iter().map(|f| f.text).collect(),
            split.args.to_string(),
        )
    }

    #[test]
    fn flags_end_at_the_first_plain_word() {
        assert_eq!(
            flags_of("COPY --from=a --chown=1:2 src dst"),
            (
                vec!["--from=a".into(), "--chown=1:2".into()],
                "src dst".into()
            )
        );
        assert_eq!(
            flags_of("COPY --doit=true -- foo /tmp/"),
            (vec!["--doit=true".into()], "foo /tmp/".into())
        );
        assert_eq!(flags_of("COPY -- foo"), (vec![], "foo".into()));
        assert_eq!(
            flags_of("CMD --doit -- [ ]"),
            (vec!["--doit".into()], "[ ]".into())
        );
        assert_eq!(flags_of("RUN -x y"), (vec![], "-x y".into()));
    }

    #[test]
    fn quotes_and_escapes_inside_flags() {
        assert_eq!(
            flags_of(r#"RUN --mount="type=bind,source=a b" --x=\" ls"#),
            (
                vec!["--mount=type=bind,source=a b".into(), "--x=\"".into()],
                "ls".into()
            )
        );
        assert_eq!(flags_of("RUN --a"), (vec!["--a".into()], "".into()));
        assert_eq!(flags_of("RUN --"), (vec![], "".into()));
    }

    #[test]
    fn flag_ranges_cover_the_raw_word() {
        let line = "COPY  --from=\"x y\" a b";
        let split = split_command(line);
        let flag = &split.flags[0];
        assert_eq!(&line[flag.start..flag.end], "--from=\"x y\"");
    }

    #[test]
    fn keyword_alone_or_with_odd_blanks() {
        let split = split_command("  HEALTHCHECK\u{b} CMD a ");
        assert_eq!((split.keyword, split.args), ("HEALTHCHECK", "CMD a"));
        let split = split_command("CMD");
        assert_eq!((split.keyword, split.args), ("CMD", ""));
    }
}
