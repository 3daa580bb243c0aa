//! MX resolution for outbound delivery: which hosts to try for a recipient domain, in which
//! order, with which addresses (RFC 5321 §5.1, RFC 7505), behind a bounded TTL-honouring cache.
//!
//! - [`MxResolver`]: the resolver (hickory-resolver underneath) and its [`Destination`] cache.
//! - [`Destination`] / [`MxHost`]: the answer, and [`Destination::site_key`] to share one
//!   outbound queue between domains hosted on the same MX set.
//! - [`DnsError`]: failures, each permanent (bounce) or temporary (retry) with its RFC 3463 code.
//! - [`testing`]: a loopback DNS responder answering from a table, for tests.

mod cache;
mod name;
mod resolver;
pub mod testing;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub use resolver::MxResolver;

/// How the resolver reaches DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// Recursive name servers (UDP, falling back to TCP); empty means the system resolver
    /// (`/etc/resolv.conf`).
    pub servers: Vec<SocketAddr>,
    /// Timeout of one query to one server; each query is tried twice.
    pub timeout: Duration,
    /// Upper bound on cached [`Destination`]s (and negative answers); 0 disables the cache.
    pub cache_entries: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            servers: Vec::new(),
            timeout: Duration::from_secs(5),
            cache_entries: 10_000,
        }
    }
}

/// Where mail for one domain goes: the hosts to try, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The domain that was resolved, lower case, without a trailing dot (or the literal as given).
    pub domain: String,
    /// Hosts in the order to try them; never empty, every host has at least one address.
    pub hosts: Vec<MxHost>,
    /// True when the domain has no MX record and its own address is used (RFC 5321 §5.1).
    pub implicit: bool,
}

/// One mail exchanger and its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHost {
    /// Host name, lower case, without a trailing dot (the literal for a domain literal).
    pub name: String,
    /// MX preference (0 for an implicit MX or a literal); lower is tried first.
    pub preference: u16,
    /// Addresses of the host: IPv4 (A) first, since IPv6 outbound is the likelier to be
    /// unroutable, then IPv6 (AAAA), each in the order the server listed them.
    pub addrs: Vec<IpAddr>,
}

impl Destination {
    /// Stable key of the MX *set* (sorted lower-case host names, or the literal), so domains
    /// hosted on the same MX share one outbound queue.
    pub fn site_key(&self) -> String {
        let mut names: Vec<&str> = self.hosts.iter().map(|h| h.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names.join(",")
    }
}

/// Why a domain cannot be resolved to mail hosts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// RFC 7505: the domain publishes "MX 0 ." and accepts no mail; bounce with 5.1.10.
    #[error("the domain accepts no mail (null MX, RFC 7505)")]
    NullMx,
    /// NXDOMAIN, or a name that is not a valid domain; bounce with 5.1.2.
    #[error("the domain does not exist")]
    NoSuchDomain,
    /// MX hosts (or the implicit MX) exist but none has an address. Temporary: RFC 5321 §5.1
    /// only asks for "an error", and the hosts often live in another zone that can be briefly
    /// inconsistent; the queue's `max_age` still ends in a final DSN.
    #[error("no mail host of the domain has an address")]
    NoAddresses,
    /// SERVFAIL, REFUSED, timeout or network failure: retry later.
    #[error("temporary DNS failure: {0}")]
    Temporary(String),
    /// The resolver could not be set up (unreadable system configuration).
    #[error("DNS resolver configuration: {0}")]
    Config(String),
}

impl DnsError {
    /// True when retrying cannot help and the message must bounce.
    pub fn is_permanent(&self) -> bool {
        matches!(self, DnsError::NullMx | DnsError::NoSuchDomain)
    }

    /// RFC 3463 enhanced status code for the DSN or the log.
    pub fn enhanced_status(&self) -> &'static str {
        match self {
            // RFC 7505 §4.2
            DnsError::NullMx => "5.1.10",
            // RFC 3463 §3.2: X.1.2 bad destination system address
            DnsError::NoSuchDomain => "5.1.2",
            // RFC 3463 §3.5: X.4.4 unable to route
            DnsError::NoAddresses => "4.4.4",
            // RFC 3463 §3.5: X.4.3 directory server failure
            DnsError::Temporary(_) => "4.4.3",
            // RFC 3463 §3.4: X.3.5 system incorrectly configured
            DnsError::Config(_) => "4.3.5",
        }
    }
}
