//! The status pipe: how the init and the container process tell kiln what
//! happened before the user's program took over. One JSON object per line;
//! the pipe is close-on-exec, so end-of-file with no error line means the
//! program is running.

use serde::{Deserialize, Serialize};
use std::io::Write;

/// One line on the status pipe.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct StatusLine {
    /// Mountpoints the init created in the root (relative paths).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stubs: Option<Vec<String>>,
    /// Why the sandbox could not start the program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// docker's exit code for that failure: 125 set-up, 126 cannot
    /// execute, 127 not found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

/// Writes `line` to `out`; a failure is ignored because the reader is kiln
/// and if it is gone there is nobody left to tell.
pub(crate) fn send(out: &mut impl Write, line: &StatusLine) {
    if let Ok(mut bytes) = serde_json::to_vec(line) {
        bytes.push(b'\n');
        let _ = out.write_all(&bytes);
    }
}

/// Sends an error line.
pub(crate) fn send_error(out: &mut impl Write, error: impl std::fmt::Display, exit_code: i32) {
    send(
        out,
        &StatusLine {
            error: Some(error.to_string()),
            exit_code: Some(exit_code),
            ..StatusLine::default()
        },
    );
}
