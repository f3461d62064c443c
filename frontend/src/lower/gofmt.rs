//! Go's formatting as BuildKit's history texts use it (`fmt.Sprintf` with
//! `%q` and `%v`): quoted strings and string lists, quoted runes,
//! `time.Duration`, and the `%q` of a health check.
//!
//! Boundary: text formatting only. Go's notion of a printable character
//! (`unicode.IsPrint`) is approximated with the categories std knows
//! (controls, separators other than the space, the common format and
//! private-use characters); unassigned code points print as themselves.

use kiln_oci::Healthcheck;

/// Go's `strconv.Quote`: `"a\tb"`.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        escape(c, '"', &mut out);
    }
    out.push('"');
    out
}

/// Go's `%q` of a string slice: `["a" "b"]`.
pub(crate) fn quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", quoted.join(" "))
}

/// Go's `%q` of an integer: the rune it is, quoted (`'\x03'`, `'A'`).
pub(crate) fn quote_rune(value: i64) -> String {
    // Not a rune: Go prints the replacement character.
    let c = u32::try_from(value)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or('\u{fffd}');
    let mut out = String::from("'");
    escape(c, '\'', &mut out);
    out.push('\'');
    out
}

/// One character inside quotes `quote`, escaped as Go escapes it.
fn escape(c: char, quote: char, out: &mut String) {
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if printable(c) => out.push(c),
        c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// Go's `unicode.IsPrint`, approximately (see the module docs).
fn printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    let format_or_private = matches!(
        c as u32,
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e | 0x200b..=0x200f
            | 0x202a..=0x202e | 0x2060..=0x206f | 0xfeff | 0xfff9..=0xfffb
            | 0xe000..=0xf8ff | 0xf0000..=0x10ffff
    );
    !c.is_control() && !c.is_whitespace() && !format_or_private
}

/// Go's `time.Duration.String`: `0s`, `1.5s`, `1m30s`, `2h0m0s`, and
/// below a second `ms`, `µs` or `ns` with a decimal fraction.
pub(crate) fn duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".to_string();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let ns = ns.unsigned_abs();
    // `whole.fraction` of `value` in units of `unit`, trailing zeros dropped.
    let decimal = |value: u64, unit: u64| {
        let (whole, rest) = (value / unit, value % unit);
        if rest == 0 {
            return whole.to_string();
        }
        let digits = unit.ilog10() as usize;
        let fraction = format!("{rest:0digits$}");
        format!("{whole}.{}", fraction.trim_end_matches('0'))
    };
    if ns < 1_000 {
        return format!("{sign}{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{sign}{}µs", decimal(ns, 1_000));
    }
    if ns < 1_000_000_000 {
        return format!("{sign}{}ms", decimal(ns, 1_000_000));
    }
    let (hours, rest) = (ns / 3_600_000_000_000, ns % 3_600_000_000_000);
    let (minutes, rest) = (rest / 60_000_000_000, rest % 60_000_000_000);
    let seconds = format!("{}s", decimal(rest, 1_000_000_000));
    match (hours, minutes) {
        (0, 0) => format!("{sign}{seconds}"),
        (0, m) => format!("{sign}{m}m{seconds}"),
        (h, m) => format!("{sign}{h}h{m}m{seconds}"),
    }
}

/// Go's `%q` of a `*HealthConfig`, as BuildKit writes HEALTHCHECK's
/// history: `&{["CMD-SHELL" "x"] "30s" "0s" "0s" '\x03'}` (the test, the
/// interval, timeout and start period, the retries as a rune). The start
/// interval, which docker 20.10 lacks, shows only when set.
pub(crate) fn healthcheck(check: &Healthcheck) -> String {
    let mut durations = vec![check.interval, check.timeout, check.start_period];
    if check.start_interval != 0 {
        durations.push(check.start_interval);
    }
    let durations: Vec<String> = durations
        .into_iter()
        .map(|ns| quote(&duration(ns)))
        .collect();
    format!(
        "&{{{} {} {}}}",
        quote_list(&check.test),
        durations.join(" "),
        quote_rune(check.retries)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_quote_as_go_quotes_them() {
        assert_eq!(quote("a b"), r#""a b""#);
        assert_eq!(quote("tab\there \"q\" \\"), r#""tab\there \"q\" \\""#);
        assert_eq!(quote("\x07\x0b\x01\x7f"), r#""\a\v\x01\x7f""#);
        assert_eq!(quote("é ü 日本"), "\"é ü 日本\"");
        assert_eq!(quote("nb\u{a0}sp zw\u{200b}"), r#""nb\u00a0sp zw\u200b""#);
        assert_eq!(quote("'"), r#""'""#);
        assert_eq!(
            quote_list(&["CMD".into(), "x y".into()]),
            r#"["CMD" "x y"]"#
        );
    }

    #[test]
    fn durations_print_as_go_prints_them() {
        let cases = [
            (0, "0s"),
            (999, "999ns"),
            (1_500, "1.5µs"),
            (100_000_000, "100ms"),
            (1_500_000_000, "1.5s"),
            (90_000_000_000, "1m30s"),
            (60_500_000_000, "1m0.5s"),
            (3_600_000_000_000, "1h0m0s"),
        ];
        for (ns, text) in cases {
            assert_eq!(duration(ns), text, "{ns}");
        }
    }

    #[test]
    fn retries_print_as_a_go_rune() {
        assert_eq!(quote_rune(0), r"'\x00'");
        assert_eq!(quote_rune(3), r"'\x03'");
        assert_eq!(quote_rune(10), r"'\n'");
        assert_eq!(quote_rune(65), "'A'");
        assert_eq!(quote_rune(39), r"'\''");
        assert_eq!(quote_rune(34), r#"'"'"#);
        assert_eq!(quote_rune(160), r"'\u00a0'");
        assert_eq!(quote_rune(-1), "'\u{fffd}'");
    }

    #[test]
    fn a_healthcheck_prints_as_docker_20_10_history_shows_it() {
        let check = Healthcheck {
            test: vec![
                "CMD-SHELL".into(),
                "curl -f http://localhost/ || exit 1".into(),
            ],
            interval: 90_000_000_000,
            timeout: 10_000_000_000,
            retries: 2,
            ..Default::default()
        };
        assert_eq!(
            healthcheck(&check),
            r#"&{["CMD-SHELL" "curl -f http://localhost/ || exit 1"] "1m30s" "10s" "0s" '\x02'}"#
        );
    }
}
