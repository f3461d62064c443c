//! `WWW-Authenticate` challenges (RFC 7235) as registries send them: `Basic`
//! (htpasswd-style registries) or `Bearer` with the token service's
//! `realm`, `service` and `scope` (distribution's token authentication
//! spec, docs/spec/auth/token.md).

/// What a registry asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// Username and password on every request.
    Basic,
    /// A token from `realm`.
    Bearer {
        /// The token endpoint.
        realm: String,
        /// The `service` to ask a token for.
        service: Option<String>,
        /// The scope the registry wanted for the refused request.
        scope: Option<String>,
    },
}

/// The first challenge kiln can answer in a `WWW-Authenticate` value;
/// Bearer is preferred over Basic when both are offered.
pub(crate) fn parse(header: &str) -> Option<Challenge> {
    let challenges = http_auth::parse_challenges(header).ok()?;
    let param = |c: &http_auth::ChallengeRef<'_>, name: &str| {
        c.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_unescaped())
    };
    let bearer = challenges
        .iter()
        .filter(|c| c.scheme.eq_ignore_ascii_case("bearer"))
        .find_map(|c| {
            Some(Challenge::Bearer {
                realm: param(c, "realm")?,
                service: param(c, "service"),
                scope: param(c, "scope"),
            })
        });
    bearer.or_else(|| {
        challenges
            .iter()
            .any(|c| c.scheme.eq_ignore_ascii_case("basic"))
            .then_some(Challenge::Basic)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_carry_realm_service_and_scope() {
        let found = parse(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(
            found,
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
    }

    #[test]
    fn basic_and_unknown_schemes() {
        assert_eq!(
            parse(r#"Basic realm="basic-realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse(r#"Negotiate abc"#), None);
        assert_eq!(
            parse("Bearer service=\"x\""),
            None,
            "a bearer challenge needs a realm"
        );
    }
}
