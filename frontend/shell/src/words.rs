//! Word splitting for [`Lexer::process_words`](crate::Lexer::process_words).
//!
//! The expander feeds every piece of output here as well as into the single
//! result string, saying whether the piece is *splittable* (a literal
//! character outside quotes, or the value of an unquoted `$VAR`) or *raw* (an
//! escaped character, or the text of a quoted run). Splittable whitespace ends
//! the current word; raw text never does. This mirrors BuildKit's
//! `wordsStruct` (`frontend/dockerfile/shell/lex.go`), including its quirk
//! that an empty quoted run (`""`) does not make an empty word.

/// Collects words as the expander produces output.
#[derive(Debug, Default)]
pub(crate) struct WordSplitter {
    words: Vec<String>,
    current: String,
    /// Whether anything, even an empty quoted run, was added since the last
    /// word ended.
    in_word: bool,
}

impl WordSplitter {
    /// Adds a character that splits words if it is whitespace.
    pub(crate) fn push_char(&mut self, c: char) {
        if !c.is_whitespace() {
            self.push_raw_char(c);
        } else if self.in_word && !self.current.is_empty() {
            self.words.push(std::mem::take(&mut self.current));
            self.in_word = false;
        }
    }

    /// Adds a character that is kept as it is, whitespace included.
    pub(crate) fn push_raw_char(&mut self, c: char) {
        self.current.push(c);
        self.in_word = true;
    }

    /// Adds text whose whitespace splits words (an unquoted expansion).
    pub(crate) fn push_str(&mut self, text: &str) {
        text.chars().for_each(|c| self.push_char(c));
    }

    /// Adds text that is kept as it is (a quoted run).
    pub(crate) fn push_raw_str(&mut self, text: &str) {
        self.current.push_str(text);
        self.in_word = true;
    }

    /// The words, ending the last one. Empty words are dropped.
    pub(crate) fn finish(mut self) -> Vec<String> {
        if !self.current.is_empty() {
            self.words.push(self.current);
        }
        self.words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_only_splittable_whitespace() {
        let mut words = WordSplitter::default();
        words.push_str("  a b ");
        words.push_raw_str(" c ");
        words.push_char('d');
        words.push_char('\t');
        words.push_raw_char(' ');
        assert_eq!(words.finish(), vec!["a", "b", " c d", " "]);
    }

    #[test]
    fn empty_quoted_runs_make_no_word() {
        let mut words = WordSplitter::default();
        words.push_raw_str("");
        words.push_char(' ');
        words.push_raw_str("");
        assert_eq!(words.finish(), Vec::<String>::new());
    }
}
