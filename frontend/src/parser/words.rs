//! BuildKit's quote-aware word split (`parseWords`), used by ARG, ENV and
//! LABEL: whitespace separates words, quotes group them and are kept, the
//! escape character is kept together with the character it escapes.

use super::lines::is_space;

/// A word and its byte range in the text it was cut from.
pub(crate) struct RawWord {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

#[derive(PartialEq)]
enum Phase {
    Spaces,
    Word,
    Quote(char),
}

/// Splits `text` into words. Quotes stay in the words; an escape character
/// outside single quotes keeps itself and the next character together (so
/// `a\ b` is one word and `\"` does not open or close a quote); an escape at
/// the very end is dropped; an unterminated quote runs to the end.
pub(crate) fn split_words(text: &str, escape: char) -> Vec<RawWord> {
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut start = 0;
    let mut blank_ok = false;
    let mut chars = text.char_indices().peekable();
    loop {
        let Some((pos, ch)) = chars.next() else {
            if phase != Phase::Spaces && (blank_ok || !word.is_empty()) {
                words.push(RawWord {
                    text: word,
                    start,
                    end: text.len(),
                });
            }
            return words;
        };
        if phase == Phase::Spaces {
            if is_space(ch) {
                continue;
            }
            phase = Phase::Word;
            start = pos;
        }
        match phase {
            Phase::Spaces => {}
            Phase::Word => {
                if is_space(ch) {
                    if blank_ok || !word.is_empty() {
                        words.push(RawWord {
                            text: std::mem::take(&mut word),
                            start,
                            end: pos,
                        });
                    }
                    blank_ok = false;
                    phase = Phase::Spaces;
                    continue;
                }
                if ch == '\'' || ch == '"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                }
                if ch == escape {
                    let Some((_, next)) = chars.next() else {
                        continue;
                    };
                    word.push(ch);
                    word.push(next);
                    continue;
                }
                word.push(ch);
            }
            Phase::Quote(quote) => {
                if ch == quote {
                    phase = Phase::Word;
                }
                // Nothing can be escaped inside single quotes.
                if ch == escape && quote != '\'' {
                    let Some((_, next)) = chars.next() else {
                        phase = Phase::Word;
                        continue;
                    };
                    word.push(ch);
                    word.push(next);
                    continue;
                }
                word.push(ch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        split_words(text, '\\')
            .into_iter()
            .map(|w| w.text)
            .collect()
    }

    #[test]
    fn quotes_stay_and_group() {
        assert_eq!(words("foo bar=baz"), ["foo", "bar=baz"]);
        assert_eq!(words(r#"abc="123 456" def"#), [r#"abc="123 456""#, "def"]);
        assert_eq!(words(r"value\ value2"), [r"value\ value2"]);
        assert_eq!(words(r#"a="x\" y" b"#), [r#"a="x\" y""#, "b"]);
        assert_eq!(words(r"a='x\' b"), [r"a='x\'", "b"]);
        assert_eq!(words("a\\"), ["a"]);
        assert_eq!(words("a 'b c"), ["a", "'b c"]);
        assert_eq!(words("  "), Vec::<String>::new());
        assert_eq!(words("''"), ["''"]);
    }

    #[test]
    fn ranges_cover_each_word() {
        let text = "  a=\"1 2\"  b ";
        let spans: Vec<_> = split_words(text, '\\')
            .into_iter()
            .map(|w| &text[w.start..w.end])
            .collect();
        assert_eq!(spans, ["a=\"1 2\"", "b"]);
    }
}
