//! `/etc/subuid` and `/etc/subgid` (subuid(5)): `NAME_OR_ID:START:COUNT`
//! lines granting a user a range of subordinate ids, which newuidmap(1)
//! and newgidmap(1) map into the user's namespaces.

pub(crate) use kiln_runtime::userns::Range;

/// The first range `text` grants the user `name` (or uid `id`); ranges
/// too small to be useful (fewer than 1 id) and malformed lines are
/// skipped, as shadow's own readers do.
pub(crate) fn range_of(text: &str, name: &str, id: u32) -> Option<Range> {
    let id = id.to_string();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let mut fields = l.trim().split(':');
            let (who, start, count) = (fields.next()?, fields.next()?, fields.next()?);
            if fields.next().is_some() || (who != name && who != id) {
                return None;
            }
            let range = Range {
                start: start.parse().ok()?,
                count: count.parse().ok()?,
            };
            (range.count > 0 && range.start.checked_add(range.count).is_some()).then_some(range)
        })
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_found_by_name_or_id_and_bad_lines_are_skipped() {
        let text = "# comment\n\
                    alice:100000:65536\n\
                    bob:x:65536\n\
                    1001:165536:65536\n\
                    bob:4294967295:2\n\
                    bob:231072:0\n\
                    bob:231072:65536:extra\n\
                    bob:296608:65536\n";
        assert_eq!(
            range_of(text, "alice", 1000),
            Some(Range {
                start: 100000,
                count: 65536
            })
        );
        assert_eq!(
            range_of(text, "carol", 1001),
            Some(Range {
                start: 165536,
                count: 65536
            })
        );
        assert_eq!(
            range_of(text, "bob", 1002),
            Some(Range {
                start: 296608,
                count: 65536
            })
        );
        assert_eq!(range_of(text, "dave", 1003), None);
        assert_eq!(range_of("", "alice", 1000), None);
    }
}
