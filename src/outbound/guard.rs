//! The SSRF guard: which addresses user-supplied URLs may reach, checked when the URL is
//! saved and again, in the resolver of the client that sends, at every connection.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ipnet::IpNet;
use reqwest::Url;

use super::OutboundSettings;

/// Why an address may not be reached, or `None` when it is a public unicast address.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], bits: u8) -> bool {
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u8, &str)] = &[
        ([0, 0, 0, 0], 8, "an unspecified (\"this network\") address"),
        ([10, 0, 0, 0], 8, "a private address"),
        ([100, 64, 0, 0], 10, "a carrier-grade NAT address"),
        ([127, 0, 0, 0], 8, "a loopback address"),
        ([169, 254, 0, 0], 16, "a link-local address"),
        ([172, 16, 0, 0], 12, "a private address"),
        ([192, 0, 0, 0], 24, "an IETF protocol assignment"),
        ([192, 0, 2, 0], 24, "a documentation address"),
        ([192, 88, 99, 0], 24, "a reserved (6to4 relay) address"),
        ([192, 168, 0, 0], 16, "a private address"),
        ([198, 18, 0, 0], 15, "a benchmarking address"),
        ([198, 51, 100, 0], 24, "a documentation address"),
        ([203, 0, 113, 0], 24, "a documentation address"),
        ([224, 0, 0, 0], 4, "a multicast address"),
        ([240, 0, 0, 0], 4, "a reserved or broadcast address"),
    ];
    RANGES
        .iter()
        .find(|(net, bits, _)| in_v4(ip, *net, *bits))
        .map(|(_, _, why)| *why)
}

fn embedded_v4(seg: &[u16; 8], at: usize) -> Ipv4Addr {
    let hi = seg[at];
    let lo = seg[at + 1];
    Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    // IPv4 inside IPv6: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64
    // (64:ff9b::a.b.c.d), 6to4 (2002:AABB:CCDD::): judged by the IPv4 address they carry.
    if s[..5] == [0, 0, 0, 0, 0] && (s[5] == 0xffff || s[5] == 0) {
        return forbidden_v4(embedded_v4(&s, 6)).or(if s[5] == 0 {
            Some("an IPv4-compatible address (deprecated)")
        } else {
            None
        });
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return forbidden_v4(embedded_v4(&s, 6));
    }
    if s[0] == 0x2002 {
        return forbidden_v4(embedded_v4(&s, 1));
    }
    let prefixes: &[(u16, u16, &str)] = &[
        (0xffc0, 0xfe80, "a link-local address"),   // fe80::/10
        (0xffc0, 0xfec0, "a site-local address"),   // fec0::/10
        (0xfe00, 0xfc00, "a unique-local address"), // fc00::/7
        (0xff00, 0xff00, "a multicast address"),    // ff00::/8
    ];
    if let Some((_, _, why)) = prefixes.iter().find(|(m, n, _)| s[0] & m == *n) {
        return Some(why);
    }
    match (s[0], s[1]) {
        (0x2001, 0x0db8) => Some("a documentation address"),
        (0x2001, 0x0000) => Some("a Teredo address"),
        (0x2001, x) if x & 0xfff0 == 0x0010 || x & 0xfff0 == 0x0020 => {
            Some("a reserved (ORCHID) address")
        }
        (0x2001, 0x0002) if s[2] == 0 => Some("a benchmarking address"),
        (0x0064, 0xff9b) if s[2] == 1 => Some("a local-use NAT64 address"),
        (0x0100, 0) if s[2] == 0 && s[3] == 0 => Some("a discard-only address"),
        (0x3fff, x) if x & 0xf000 == 0 => Some("a documentation address"),
        _ if s[0] & 0xe000 != 0x2000 => Some("a reserved address (outside global unicast)"),
        _ => None,
    }
}

/// Looks up the addresses of a host name (the system resolver in production; tests inject
/// their own to make a name point where they want).
#[async_trait]
pub trait Resolve: Send + Sync + 'static {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver.
pub struct SystemResolver;

#[async_trait]
impl Resolve for SystemResolver {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        Ok(tokio::net::lookup_host((host, 0))
            .await?
            .map(|a| a.ip())
            .collect())
    }
}

/// Why a URL was refused; `code` is the API error code.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GuardError {
    #[error("the URL is not valid: {0}")]
    InvalidUrl(String),
    #[error("only https:// URLs are allowed on this server")]
    HttpsRequired,
    #[error("{host} is or resolves to {addr}, {why}, which this server does not connect to (an operator may allow it with outbound.allowed_networks)")]
    Forbidden {
        host: String,
        addr: IpAddr,
        why: &'static str,
    },
    #[error("{0} does not resolve to any address")]
    Unresolvable(String),
}

impl GuardError {
    pub fn code(&self) -> &'static str {
        match self {
            GuardError::InvalidUrl(_) => "url_invalid",
            GuardError::HttpsRequired => "url_https_required",
            GuardError::Forbidden { .. } => "url_forbidden_address",
            GuardError::Unresolvable(_) => "url_unresolvable",
        }
    }
}

/// The guard: the operator's exceptions, https-only, and the resolver.
#[derive(Clone)]
pub struct Guard {
    allowed: Arc<Vec<IpNet>>,
    https_only: bool,
    resolver: Arc<dyn Resolve>,
}

const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

impl Guard {
    pub fn new(s: &OutboundSettings, resolver: Option<Arc<dyn Resolve>>) -> anyhow::Result<Self> {
        let allowed = s
            .networks()
            .map_err(|e| anyhow::anyhow!("invalid setting `outbound.allowed_networks`: {e}"))?;
        Ok(Self {
            allowed: Arc::new(allowed),
            https_only: s.https_only,
            resolver: resolver.unwrap_or_else(|| Arc::new(SystemResolver)),
        })
    }

    /// `Err` with the reason when `ip` may not be reached.
    pub fn vet_ip(&self, host: &str, ip: IpAddr) -> Result<(), GuardError> {
        let unmapped = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        if self
            .allowed
            .iter()
            .any(|n| n.contains(&ip) || n.contains(&unmapped))
        {
            return Ok(());
        }
        match forbidden_reason(ip) {
            None => Ok(()),
            Some(why) => Err(GuardError::Forbidden {
                host: host.to_string(),
                addr: ip,
                why,
            }),
        }
    }

    /// Resolves `host` and vets every address (one forbidden address refuses the host: a
    /// name must not be half-internal).
    pub async fn vet_host(&self, host: &str) -> Result<Vec<IpAddr>, GuardError> {
        let addrs = tokio::time::timeout(LOOKUP_TIMEOUT, self.resolver.lookup(host))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        if addrs.is_empty() {
            return Err(GuardError::Unresolvable(host.to_string()));
        }
        for ip in &addrs {
            self.vet_ip(host, *ip)?;
        }
        Ok(addrs)
    }

    /// Checks a URL's form and where it leads; answers it parsed.
    pub async fn check_url(&self, raw: &str) -> Result<Url, GuardError> {
        let url = Url::parse(raw.trim()).map_err(|e| GuardError::InvalidUrl(e.to_string()))?;
        match url.scheme() {
            "https" => {}
            "http" if self.https_only => return Err(GuardError::HttpsRequired),
            "http" => {}
            s => return Err(GuardError::InvalidUrl(format!("{s}: is not http or https"))),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(GuardError::InvalidUrl(
                "credentials in the URL are not allowed; use a custom header".into(),
            ));
        }
        match url.host() {
            Some(url::Host::Ipv4(v4)) => self.vet_ip(&v4.to_string(), IpAddr::V4(v4))?,
            Some(url::Host::Ipv6(v6)) => self.vet_ip(&v6.to_string(), IpAddr::V6(v6))?,
            Some(url::Host::Domain(d)) => {
                self.vet_host(d).await?;
            }
            None => return Err(GuardError::InvalidUrl("the URL has no host".into())),
        }
        Ok(url)
    }

    /// Whether every address `url`'s host has is in `outbound.allowed_networks` (an
    /// operator's exception; Web Push allows plain `http` only there).
    pub async fn in_allowed_network(&self, url: &Url) -> bool {
        let addrs = match url.host() {
            Some(url::Host::Ipv4(v4)) => vec![IpAddr::V4(v4)],
            Some(url::Host::Ipv6(v6)) => vec![IpAddr::V6(v6)],
            Some(url::Host::Domain(d)) => {
                tokio::time::timeout(LOOKUP_TIMEOUT, self.resolver.lookup(d))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default()
            }
            None => Vec::new(),
        };
        !addrs.is_empty()
            && addrs
                .iter()
                .all(|ip| self.allowed.iter().any(|n| n.contains(ip)))
    }

    /// An HTTP client for user-supplied URLs: it resolves through this guard (connecting
    /// only to vetted addresses), follows no redirects, uses no proxy, and gives up after
    /// `timeout`. IP-literal hosts skip resolution: call [`Guard::check_url`] before each send.
    pub fn client(&self, timeout: Duration) -> reqwest::Client {
        reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver(self.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("Copydesk-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the outbound HTTP client builds")
    }
}

struct GuardedResolver(Guard);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = guard.vet_host(&host).await?;
            let it: reqwest::dns::Addrs =
                Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(it)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(s: &str) -> bool {
        forbidden_reason(s.parse().unwrap()).is_some()
    }

    #[test]
    fn forbidden_ranges() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.31.255.1",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.5",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "192.0.0.8",
            "::",
            "::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "::8.8.8.8",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "2002:a00:1::",
            "2002:7f00:1::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "100::1",
            "3fff::1",
        ] {
            assert!(bad(a), "{a} should be forbidden");
        }
        for a in [
            "8.8.8.8",
            "1.1.1.1",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(!bad(a), "{a} should be allowed");
        }
    }

    struct Fixed(Vec<IpAddr>);

    #[async_trait]
    impl Resolve for Fixed {
        async fn lookup(&self, _: &str) -> std::io::Result<Vec<IpAddr>> {
            Ok(self.0.clone())
        }
    }

    fn guard(allowed: &[&str], https_only: bool, answer: &[&str]) -> Guard {
        let s = OutboundSettings {
            allowed_networks: allowed.iter().map(|s| s.to_string()).collect(),
            https_only,
        };
        let answer = answer.iter().map(|a| a.parse().unwrap()).collect();
        Guard::new(&s, Some(Arc::new(Fixed(answer)))).unwrap()
    }

    #[tokio::test]
    async fn urls_in_every_disguise_are_refused() {
        let g = guard(&[], false, &["10.0.0.7"]);
        for u in [
            "http://127.0.0.1/",
            "http://0x7f.1/",
            "http://2130706433/",
            "http://017700000001/",
            "http://127.1/",
            "http://[::1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://0/",
            "http://169.254.169.254/latest/meta-data/",
            "http://internal.example/",
        ] {
            let e = g.check_url(u).await.unwrap_err();
            assert_eq!(e.code(), "url_forbidden_address", "{u}: {e}");
        }
        assert_eq!(
            g.check_url("ftp://x.example/").await.unwrap_err().code(),
            "url_invalid"
        );
        assert_eq!(
            g.check_url("http://u:p@8.8.8.8/").await.unwrap_err().code(),
            "url_invalid"
        );
        assert_eq!(
            g.check_url("not a url").await.unwrap_err().code(),
            "url_invalid"
        );
        let g = guard(&[], true, &["8.8.8.8"]);
        assert_eq!(
            g.check_url("http://x.example/").await.unwrap_err().code(),
            "url_https_required"
        );
        assert!(g.check_url("https://x.example/hook").await.is_ok());
        let none = guard(&[], false, &[]);
        assert_eq!(
            none.check_url("https://nowhere.example/")
                .await
                .unwrap_err()
                .code(),
            "url_unresolvable"
        );
    }

    #[tokio::test]
    async fn allowed_networks_open_exactly_what_they_list() {
        let g = guard(&["127.0.0.0/8", "10.1.0.0/16"], false, &["10.1.2.3"]);
        assert!(g.check_url("http://127.0.0.1:9000/").await.is_ok());
        assert!(g.check_url("http://[::ffff:127.0.0.1]/").await.is_ok());
        assert!(g.check_url("http://internal.example/").await.is_ok());
        assert!(g.check_url("http://10.2.0.1/").await.is_err());
        assert!(g.check_url("http://[::1]/").await.is_err());
        let bad = OutboundSettings {
            allowed_networks: vec!["10.0.0.0/33".into()],
            https_only: false,
        };
        assert!(Guard::new(&bad, None).is_err());
    }
}
