//! Whose request it is. Behind a reverse proxy every connection comes from the proxy, so the
//! client's address is the one the proxy appends to `X-Forwarded-For`. Only the proxies listed
//! in `api.trusted_proxies` are believed: anybody else can write that header themselves.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The addresses whose `X-Forwarded-For` is believed (`api.trusted_proxies`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses addresses (`10.0.0.5`) and networks (`10.0.0.0/8`, `fd00::/8`).
    pub fn parse(list: &[String]) -> Result<TrustedProxies, String> {
        list.iter()
            .map(|s| {
                let s = s.trim();
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!(
                            "api.trusted_proxies: {s:?} is neither an address nor a network (like 10.0.0.0/8)"
                        )
                    })
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client of a request that came from `peer`. From a trusted proxy, it is the last
    /// address of `X-Forwarded-For` (all of its headers, in order) that is not a trusted proxy
    /// itself: the nearest hop the trusted proxies vouch for. Entries further left were written
    /// by the client and prove nothing. In every other case, and when that entry is not an
    /// address, it is `peer`.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let own = peer.ip().to_canonical();
        if !self.trusts(own) {
            return own;
        }
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim);
        for hop in hops.rev() {
            match parse_hop(hop) {
                Some(ip) if self.trusts(ip) => continue,
                Some(ip) => return ip,
                None => return own,
            }
        }
        own
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let ip = hop
        .parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse().ok())
        })?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn only_trusted_proxies_are_believed() {
        let p = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        let from = |peer: &str, xff: &[&str]| p.client(peer.parse().unwrap(), &headers(xff));
        // Not a proxy: its header is its own invention.
        assert_eq!(from("192.0.2.7:4000", &["198.51.100.1"]), ip("192.0.2.7"));
        // A proxy: the address it appended.
        assert_eq!(
            from("127.0.0.1:4000", &["198.51.100.1"]),
            ip("198.51.100.1")
        );
        // What the client wrote itself (left of the proxy's entry) is not believed.
        assert_eq!(
            from("127.0.0.1:4000", &["6.6.6.6, 198.51.100.1"]),
            ip("198.51.100.1")
        );
        // Two trusted proxies in a row, over two headers, with ports and IPv6.
        assert_eq!(
            from(
                "10.0.0.2:80",
                &["6.6.6.6", "[2001:db8::5]:443, 10.1.1.1:8080"]
            ),
            ip("2001:db8::5")
        );
        // No header, or a last entry that is not an address: the proxy itself.
        assert_eq!(from("127.0.0.1:4000", &[]), ip("127.0.0.1"));
        assert_eq!(from("127.0.0.1:4000", &["unknown"]), ip("127.0.0.1"));
        // IPv4-mapped IPv6 peers match IPv4 entries.
        assert_eq!(
            from("[::ffff:127.0.0.1]:4000", &["198.51.100.1"]),
            ip("198.51.100.1")
        );
        // Nothing trusted (the default): the peer, always.
        assert_eq!(
            proxies(&[]).client("127.0.0.1:1".parse().unwrap(), &headers(&["198.51.100.1"])),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn a_list_entry_that_is_not_an_address_is_refused() {
        assert_eq!(
            TrustedProxies::parse(&["10.0.0.0/8".into(), "proxy.local".into()]),
            Err("api.trusted_proxies: \"proxy.local\" is neither an address nor a network (like 10.0.0.0/8)".into())
        );
    }
}
