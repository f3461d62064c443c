//! Where a registry name leads: docker.io's API host, the key its
//! credentials are filed under, and whether it is "insecure" (TLS not
//! verified, plain HTTP allowed).
//!
//! docker treats a registry as insecure when it is configured so or when
//! every address its name resolves to is in 127.0.0.0/8 (or ::1): a
//! registry on loopback needs no certificate. kiln does the same, so a
//! `localhost:5000` registry just works, and `--tls-verify=false` extends
//! it to every registry.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// The name Docker Hub images carry.
const DOCKER_HUB: &str = "docker.io";
/// The host that serves Docker Hub's registry API.
const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// The key docker files Docker Hub credentials under in config.json.
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// The `host[:port]` the API of registry `domain` is served from.
pub fn api_host(domain: &str) -> &str {
    if domain == DOCKER_HUB || domain == "index.docker.io" {
        DOCKER_HUB_API
    } else {
        domain
    }
}

/// The key credentials for `domain` are filed under in config.json.
pub fn auth_key(domain: &str) -> &str {
    if domain == DOCKER_HUB || domain == "index.docker.io" || domain == DOCKER_HUB_API {
        DOCKER_HUB_AUTH_KEY
    } else {
        domain
    }
}

/// For a host on this machine's loopback only: the addresses a name
/// resolved to (empty for `localhost` and address literals), which the
/// client must then connect to — resolving again could give another
/// answer, and the loopback verdict turned certificate checks off.
/// None for any other host.
pub fn loopback(host: &str) -> Option<Vec<SocketAddr>> {
    let (name, port) = split_port(host);
    if name.eq_ignore_ascii_case("localhost") {
        return Some(Vec::new());
    }
    if let Ok(ip) = name
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return ip.is_loopback().then(Vec::new);
    }
    // A name: loopback only if it resolves, and only to loopback.
    let addrs: Vec<SocketAddr> = (name, port.unwrap_or(443))
        .to_socket_addrs()
        .ok()?
        .collect();
    (!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())).then_some(addrs)
}

/// The name part of `host[:port]` (an IPv6 literal without brackets).
pub fn host_name(host: &str) -> &str {
    split_port(host).0
}

/// `host` and its port, if it has one (`[::1]:5000`, `reg:5000`, `reg`).
fn split_port(host: &str) -> (&str, Option<u16>) {
    if let Some(rest) = host.strip_prefix('[') {
        if let Some((ip, after)) = rest.split_once(']') {
            return (ip, after.strip_prefix(':').and_then(|p| p.parse().ok()));
        }
        return (host, None);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => (name, port.parse().ok()),
        _ => (host, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_maps_to_its_api_host_and_auth_key() {
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("quay.io"), "quay.io");
        assert_eq!(auth_key("docker.io"), DOCKER_HUB_AUTH_KEY);
        assert_eq!(auth_key("127.0.0.1:5000"), "127.0.0.1:5000");
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        assert_eq!(loopback("localhost:5000"), Some(Vec::new()));
        assert_eq!(loopback("127.0.0.1:5000"), Some(Vec::new()));
        assert!(loopback("127.1.2.3").is_some());
        assert!(loopback("[::1]:5000").is_some());
        assert_eq!(loopback("10.1.2.3:5000"), None);
        assert_eq!(loopback("[2001:db8::1]:443"), None);
    }

    #[test]
    fn ports_split_off_names_and_addresses() {
        assert_eq!(split_port("reg:5000"), ("reg", Some(5000)));
        assert_eq!(split_port("reg"), ("reg", None));
        assert_eq!(split_port("[::1]:80"), ("::1", Some(80)));
    }
}
