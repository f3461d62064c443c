//! Any text through word and words expansion, with both escape characters
//! and every lexer option: errors are fine, panics are not.
#![no_main]

use kiln_frontend::shell::Lexer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&options, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let escape = if options & 1 == 0 { '\\' } else { '`' };
    let lexer = Lexer::new(escape)
        .with_raw_quotes(options & 2 != 0)
        .with_raw_escapes(options & 4 != 0)
        .with_skip_unset_env(options & 8 != 0)
        .with_skip_process_quotes(options & 16 != 0);
    let env = [("A", "a b"), ("EMPTY", ""), ("K", "한국어")];
    let _ = lexer.process_word(text, &env[..]);
    let _ = lexer.process_words(text, &env[..]);
});
