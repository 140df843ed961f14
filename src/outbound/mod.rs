//! Outgoing requests to URLs that users supply (webhook targets now; Web Push endpoints,
//! Mastodon instances and media imports later) all go through one SSRF guard:
//!
//! - [`guard::Guard::check_url`] refuses a URL whose host is, or resolves to, an address a
//!   server should never be made to reach (loopback, private, link-local, CGNAT, multicast,
//!   broadcast, unspecified, documentation and other reserved ranges, unique-local IPv6, and
//!   IPv4 addresses embedded in IPv6: mapped, compatible, 6to4, NAT64), unless
//!   `outbound.allowed_networks` lists it; and plain `http` when `outbound.https_only`.
//! - [`guard::Guard::client`] builds the HTTP client for such requests: its DNS resolver is
//!   the guard, so a connection only ever goes to an address vetted in that same lookup (a
//!   DNS answer that changes between the check and the send cannot steer it elsewhere); no
//!   proxies, no redirects.

pub mod guard;

use serde::Deserialize;

pub use guard::{Guard, GuardError, Resolve, SystemResolver};

/// `outbound.*` settings.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundSettings {
    /// CIDRs (or single addresses) that user-supplied URLs may reach although they are
    /// otherwise forbidden, e.g. `10.20.0.0/16` for an internal receiver. Tests list
    /// `127.0.0.0/8`.
    pub allowed_networks: Vec<String>,
    /// Refuse plain `http://` URLs.
    pub https_only: bool,
}

impl OutboundSettings {
    /// The allowed networks, parsed (`Err` names the bad entry).
    pub fn networks(&self) -> Result<Vec<ipnet::IpNet>, String> {
        self.allowed_networks
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("{s:?} is not a CIDR such as 10.0.0.0/8"))
            })
            .collect()
    }
}
