//! Who the client is, and which host it asked for, when proxies stand in front of Teamdeck.
//!
//! Anyone can send `X-Forwarded-For`, `Forwarded` or `X-Forwarded-Host`, so they are believed
//! only from a socket peer inside one of the trusted proxies (`--trusted-proxies`); from any
//! other peer the peer is the client and the `Host` header is the host. The client is the
//! right-most address of `X-Forwarded-For` that is not itself a trusted proxy (each proxy
//! appends the address it was called from), or, on a request without that header, the same
//! walk over the `for=` of `Forwarded` (RFC 7239). A header that does not parse, or names an
//! unknown or hidden node where the client would be, is ignored as a whole: the answer is the
//! peer, never an error.

use actix_web::http::header::{self, HeaderMap};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl std::str::FromStr for TrustedProxies {
    type Err = String;

    /// Comma-separated addresses or CIDR ranges (`10.0.0.0/8, 127.0.0.1`); empty for none.
    /// A bare address is a range of one.
    fn from_str(text: &str) -> Result<Self, String> {
        let range = |item: &str| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{item:?} is neither an address nor a CIDR range like 10.0.0.0/8"))
        };
        text.split(',').map(str::trim).filter(|item| !item.is_empty()).map(range).collect::<Result<_, _>>().map(Self)
    }
}

impl TrustedProxies {
    pub fn new(ranges: Vec<IpNet>) -> Self {
        Self(ranges)
    }

    fn trust(&self, addr: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// The client of a request that came from `peer` with `headers` (see the module doc).
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trust(peer) {
            return peer;
        }
        let chain = if headers.contains_key("x-forwarded-for") {
            forwarded_for(headers)
        } else if headers.contains_key(header::FORWARDED) {
            forwarded_nodes(headers)
        } else {
            return peer;
        };
        let Some(chain) = chain else { return peer };
        // Every hop a trusted proxy: the first is as far as anyone can tell.
        chain.iter().rev().find(|addr| !self.trust(**addr)).or(chain.first()).copied().unwrap_or(peer)
    }

    /// The host a request that came from `peer` with `headers` was sent to, as the browser
    /// named it: a trusted proxy's `Forwarded: host=` or `X-Forwarded-Host`, else `Host`.
    pub fn host(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<String> {
        let forwarded = peer.is_some_and(|peer| self.trust(peer.to_canonical()));
        let value = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let first = |text: &str| text.split(',').next().map(str::trim).filter(|h| !h.is_empty()).map(str::to_owned);
        if forwarded {
            let from_forwarded = headers
                .get_all(header::FORWARDED)
                .filter_map(|v| v.to_str().ok())
                .flat_map(elements)
                .find_map(|element| pairs(&element).into_iter().find(|(k, _)| k == "host").map(|(_, v)| v));
            if let Some(host) = from_forwarded.filter(|h| !h.is_empty()) {
                return Some(host);
            }
            if let Some(host) = value("x-forwarded-host").and_then(first) {
                return Some(host);
            }
        }
        value("host").map(str::to_owned)
    }
}

/// The addresses of `X-Forwarded-For` (every line, left to right); `None` when one of them is
/// not an address.
fn forwarded_for(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let mut chain = Vec::new();
    for line in headers.get_all("x-forwarded-for") {
        for item in line.to_str().ok()?.split(',') {
            chain.push(address(item.trim())?);
        }
    }
    Some(chain)
}

/// The `for=` nodes of `Forwarded` (every line, left to right); `None` when one of them is not
/// an address (`unknown`, a hidden `_name`, or garbage). Elements without `for=` are skipped.
fn forwarded_nodes(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let mut chain = Vec::new();
    for line in headers.get_all(header::FORWARDED) {
        for element in elements(line.to_str().ok()?) {
            if let Some((_, node)) = pairs(&element).into_iter().find(|(k, _)| k == "for") {
                chain.push(address(&node)?);
            }
        }
    }
    Some(chain)
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn address(text: &str) -> Option<IpAddr> {
    let addr = text
        .parse::<IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|s| s.ip()))
        .or_else(|_| text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(text).parse::<IpAddr>())
        .ok()?;
    Some(addr.to_canonical())
}

/// The comma-separated elements of a `Forwarded` line, commas inside quotes kept.
fn elements(line: &str) -> Vec<String> {
    let (mut out, mut current, mut quoted) = (Vec::new(), String::new(), false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    out.push(current);
    out
}

/// The `name=value` pairs of one `Forwarded` element: names lower-cased, quotes taken off.
fn pairs(element: &str) -> Vec<(String, String)> {
    element
        .split(';')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let value = value.trim();
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            Some((name.trim().to_ascii_lowercase(), value.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn proxies(ranges: &[&str]) -> TrustedProxies {
        TrustedProxies::new(ranges.iter().map(|r| r.parse().unwrap()).collect())
    }

    fn headers(lines: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in lines {
            map.append(HeaderName::from_static(name), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_setting_lists_ranges_and_single_addresses() {
        let trusted: TrustedProxies = " 10.0.0.0/8, 127.0.0.1 ,2001:db8::/32".parse().unwrap();
        assert!(trusted.trust(ip("10.20.30.40")) && trusted.trust(ip("127.0.0.1")) && trusted.trust(ip("2001:db8::9")));
        assert!(!trusted.trust(ip("127.0.0.2")) && !trusted.trust(ip("11.0.0.1")));
        assert!("".parse::<TrustedProxies>().unwrap().0.is_empty(), "an empty setting trusts no one");
        assert!("10.0.0.0/8,nonsense".parse::<TrustedProxies>().unwrap_err().contains("\"nonsense\""));
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
    }

    #[test]
    fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let sent = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8;host=evil.example")]);
        assert_eq!(trusted.client(ip("192.0.2.9"), &sent), ip("192.0.2.9"));
        assert_eq!(proxies(&[]).client(ip("10.0.0.1"), &sent), ip("10.0.0.1"));
        let with_host = headers(&[("host", "teams.example.com"), ("x-forwarded-host", "evil.example")]);
        assert_eq!(trusted.host(Some(ip("192.0.2.9")), &with_host).as_deref(), Some("teams.example.com"));
    }

    #[test]
    fn the_client_is_the_right_most_address_that_is_not_a_trusted_proxy() {
        let trusted = proxies(&["10.0.0.0/8", "127.0.0.1/32"]);
        let sent = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7"), ("x-forwarded-for", "10.1.2.3")]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &sent), ip("203.0.113.7"), "a forged left part is skipped");
        let all_proxies = headers(&[("x-forwarded-for", "10.0.0.5, 10.0.0.6")]);
        assert_eq!(trusted.client(ip("10.0.0.7"), &all_proxies), ip("10.0.0.5"));
        let mapped = headers(&[("x-forwarded-for", "::ffff:198.51.100.4")]);
        assert_eq!(trusted.client(ip("::ffff:127.0.0.1"), &mapped), ip("198.51.100.4"));
    }

    #[test]
    fn forwarded_for_nodes_are_read_when_there_is_no_x_forwarded_for() {
        let trusted = proxies(&["127.0.0.1/32"]);
        let sent = headers(&[("forwarded", r#"for=192.0.2.60;proto=https, For="[2001:db8:cafe::17]:4711""#)]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &sent), ip("2001:db8:cafe::17"));
        let host = headers(&[("forwarded", "for=192.0.2.60;host=teams.example.com"), ("host", "10.0.0.2")]);
        assert_eq!(trusted.host(Some(ip("127.0.0.1")), &host).as_deref(), Some("teams.example.com"));
        let xfh = headers(&[("x-forwarded-host", "teams.example.com, inner"), ("host", "10.0.0.2")]);
        assert_eq!(trusted.host(Some(ip("127.0.0.1")), &xfh).as_deref(), Some("teams.example.com"));
    }

    #[test]
    fn malformed_forwarding_headers_leave_the_peer() {
        let trusted = proxies(&["127.0.0.1/32"]);
        let peer = ip("127.0.0.1");
        for (name, value) in [
            ("x-forwarded-for", "not an address"),
            ("x-forwarded-for", "1.2.3.4, , 5.6.7.8"),
            ("x-forwarded-for", "300.1.1.1"),
            ("forwarded", "for=unknown"),
            ("forwarded", "for=_hidden"),
            ("forwarded", "for=\"[::1"),
            ("forwarded", ";;=,=;"),
        ] {
            assert_eq!(trusted.client(peer, &headers(&[(name, value)])), peer, "{name}: {value}");
        }
        let mut binary = HeaderMap::new();
        binary.insert(HeaderName::from_static("x-forwarded-for"), HeaderValue::from_bytes(b"\xff\xfe").unwrap());
        assert_eq!(trusted.client(peer, &binary), peer);
    }
}
