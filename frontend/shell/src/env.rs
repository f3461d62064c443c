//! Where variable values come from.
//!
//! Expansion only ever asks one question: "what is the value of this name, if
//! it is set?". The [`Env`] trait is that question, so callers can hand in
//! whatever they already hold: a map, or the ordered `K=V` list that a
//! Dockerfile's `ARG`/`ENV` instructions build up.
//!
//! Names are compared exactly (case-sensitive), as on Linux. BuildKit folds case
//! only for Windows targets (`EqualEnvKeys` in `frontend/dockerfile/shell`),
//! which kiln does not build for.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

/// A read-only set of variables.
///
/// "Set but empty" (`Some("")`) and "unset" (`None`) are different answers:
/// `${VAR-word}` and `${VAR?}` tell them apart.
pub trait Env {
    /// The value of `name`, or `None` if it is not set.
    fn lookup(&self, name: &str) -> Option<&str>;
}

impl<E: Env + ?Sized> Env for &E {
    fn lookup(&self, name: &str) -> Option<&str> {
        (**self).lookup(name)
    }
}

impl<K, V, S> Env for HashMap<K, V, S>
where
    K: Borrow<str> + Hash + Eq,
    V: AsRef<str>,
    S: BuildHasher,
{
    fn lookup(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(AsRef::as_ref)
    }
}

impl<K, V> Env for BTreeMap<K, V>
where
    K: Borrow<str> + Ord,
    V: AsRef<str>,
{
    fn lookup(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(AsRef::as_ref)
    }
}

/// An ordered list of pairs. A name may appear more than once, as when a
/// Dockerfile redefines an `ARG`; the **last** entry wins.
impl<K: AsRef<str>, V: AsRef<str>> Env for [(K, V)] {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find(|(key, _)| key.as_ref() == name)
            .map(|(_, value)| value.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Env for Vec<(K, V)> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.as_slice().lookup(name)
    }
}

/// Looks `name` up in a list of `K=V` strings, the last match winning.
///
/// An entry is cut at its first `=`. An entry without `=` sets its whole text
/// to the empty string, as BuildKit's `BuildEnvs` does.
fn get_from_assignments<'a, S: AsRef<str>>(list: &'a [S], name: &str) -> Option<&'a str> {
    list.iter().rev().find_map(|entry| {
        let entry = entry.as_ref();
        match entry.split_once('=') {
            Some((key, value)) => (key == name).then_some(value),
            None => (entry == name).then_some(""),
        }
    })
}

/// An ordered list of `K=V` strings (the form of a process environment and of
/// BuildKit's `[]string` envs); the last entry for a name wins.
impl Env for [String] {
    fn lookup(&self, name: &str) -> Option<&str> {
        get_from_assignments(self, name)
    }
}

impl Env for Vec<String> {
    fn lookup(&self, name: &str) -> Option<&str> {
        get_from_assignments(self, name)
    }
}

/// Same as for `[String]`.
impl Env for [&str] {
    fn lookup(&self, name: &str) -> Option<&str> {
        get_from_assignments(self, name)
    }
}

impl Env for Vec<&str> {
    fn lookup(&self, name: &str) -> Option<&str> {
        get_from_assignments(self, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_distinguish_unset_from_empty() {
        let map: HashMap<String, String> = [("A".to_owned(), String::new())].into();
        assert_eq!(map.lookup("A"), Some(""));
        assert_eq!(map.lookup("B"), None);

        let map: BTreeMap<&str, &str> = [("A", "1")].into();
        assert_eq!(map.lookup("A"), Some("1"));
        assert_eq!(map.lookup("a"), None, "names are case-sensitive");
    }

    #[test]
    fn pair_lists_take_the_last_entry() {
        let list = vec![("car", "hat"), ("foo", "bar"), ("car", "bike")];
        assert_eq!(list.lookup("car"), Some("bike"));
        assert_eq!(list.lookup("foo"), Some("bar"));
        assert_eq!(list.lookup("CAR"), None);
    }

    #[test]
    fn assignment_lists_follow_buildkit_build_envs() {
        // The cases of BuildKit's TestGetEnv.
        let list: Vec<String> = vec![];
        assert_eq!(list.lookup("foo"), None);
        assert_eq!(vec!["foo"].lookup("foo"), Some(""));
        assert_eq!(vec!["foo="].lookup("foo"), Some(""));
        assert_eq!(vec!["foo=bar"].lookup("foo"), Some("bar"));
        let list = vec!["foo=bar", "car=hat", "car=bike"];
        assert_eq!(list.lookup("foo"), Some("bar"));
        assert_eq!(list.lookup("car"), Some("bike"));
        // Only the first `=` separates.
        assert_eq!(vec!["a=b=c"].lookup("a"), Some("b=c"));
        assert_eq!(vec!["a=b=c"].lookup("a=b"), None);
    }
}
