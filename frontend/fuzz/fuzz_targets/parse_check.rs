//! Any bytes through parse, dump and check: nothing may panic, and every
//! span a finding carries must lie inside the source it points into.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = kiln_frontend::parse(data) else {
        return;
    };
    let _ = kiln_frontend::dump::dump(&file);
    for finding in kiln_frontend::check::check(&file) {
        assert!(finding.span.start <= finding.span.end);
        assert!(finding.span.end <= file.source.len());
        assert!(file.source.is_char_boundary(finding.span.start));
        assert!(file.source.is_char_boundary(finding.span.end));
    }
    for instruction in &file.instructions {
        assert!(instruction.span.end <= file.source.len());
    }
});
