//! JSON (exec) form detection: an argument text that starts with `[` and is,
//! as a whole, a JSON array of strings.

/// What an argument text turned out to be.
pub(crate) enum JsonForm {
    /// Not JSON (no `[`, or invalid JSON): the instruction's other form.
    NotJson,
    /// A valid array of strings.
    Strings(Vec<String>),
    /// A valid JSON array with an element that is not a string: an error.
    NotStrings,
}

/// Classifies `text` (already trimmed) as BuildKit's `parseJSON` does.
pub(crate) fn parse_json_array(text: &str) -> JsonForm {
    if !text.trim_start().starts_with('[') {
        return JsonForm::NotJson;
    }
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(text) else {
        return JsonForm::NotJson;
    };
    let mut strings = Vec::with_capacity(values.len());
    for value in values {
        match value {
            serde_json::Value::String(s) => strings.push(s),
            _ => return JsonForm::NotStrings,
        }
    }
    JsonForm::Strings(strings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(text: &str) -> Option<Vec<String>> {
        match parse_json_array(text) {
            JsonForm::Strings(s) => Some(s),
            _ => None,
        }
    }

    #[test]
    fn arrays_of_strings() {
        assert_eq!(strings(r#"["a", "b"]"#), Some(vec!["a".into(), "b".into()]));
        assert_eq!(strings("[\t]"), Some(vec![]));
        assert_eq!(strings(r#"["\u0000\n"]"#), Some(vec!["\0\n".into()]));
    }

    #[test]
    fn invalid_json_falls_back_and_non_strings_fail() {
        assert!(matches!(parse_json_array("['a']"), JsonForm::NotJson));
        assert!(matches!(parse_json_array(r#"["a"] x"#), JsonForm::NotJson));
        assert!(matches!(parse_json_array(r#"["a""#), JsonForm::NotJson));
        assert!(matches!(parse_json_array("echo [x]"), JsonForm::NotJson));
        assert!(matches!(
            parse_json_array(r#"["a", 1]"#),
            JsonForm::NotStrings
        ));
        assert!(matches!(
            parse_json_array(r#"["a", ["b"]]"#),
            JsonForm::NotStrings
        ));
    }
}
