//! [`MxResolver`]: MX lookup, implicit MX, null MX and address resolution over hickory-resolver,
//! with our own cache of whole [`Destination`]s.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as HickoryDnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;
use rand::seq::SliceRandom;
use tokio::task::JoinSet;

use super::cache::TtlCache;
use super::name::{parse_target, Target};
use super::{Destination, DnsConfig, DnsError, MxHost};

/// RFC 2308 §5: a negative answer is cached for the SOA minimum; never longer than this.
const MAX_NEGATIVE_TTL: Duration = Duration::from_secs(300);
/// Negative answers without an SOA carry no TTL: cache them this long.
const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(60);
/// Re-resolve at least daily whatever the records claim.
const MAX_POSITIVE_TTL: Duration = Duration::from_secs(86_400);
/// Bound on the MX hosts resolved per domain, so a hostile zone cannot fan out unboundedly.
const MAX_MX_HOSTS: usize = 16;
/// RFC 5321 §5.1 asks for retries; two tries per server, as the issue specifies.
const ATTEMPTS: usize = 2;

/// What the cache holds for a domain: a destination or a cacheable failure.
type Answer = Result<Destination, DnsError>;

/// Resolves recipient domains to the mail hosts to try. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct MxResolver {
    inner: Arc<Inner>,
}

struct Inner {
    resolver: TokioResolver,
    cache: Mutex<TtlCache<Answer>>,
}

/// Addresses found for one host name, and how long they may be cached.
struct HostAddrs {
    addrs: Vec<IpAddr>,
    ttl: Duration,
    /// Set when a lookup failed temporarily (as opposed to "no such record").
    temporary: Option<String>,
}

impl MxResolver {
    /// Builds a resolver using `config.servers`, or the system resolver when that is empty.
    pub fn new(config: &DnsConfig) -> Result<MxResolver, DnsError> {
        let mut builder = if config.servers.is_empty() {
            TokioResolver::builder_tokio().map_err(|e| DnsError::Config(e.to_string()))?
        } else {
            let servers = config
                .servers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect();
            let resolver_config = ResolverConfig::from_parts(None, Vec::new(), servers);
            TokioResolver::builder_with_config(resolver_config, TokioRuntimeProvider::default())
                .with_options(ResolverOpts::default())
        };
        let options = builder.options_mut();
        options.timeout = config.timeout;
        options.attempts = ATTEMPTS;
        // Whole destinations are cached here, with the TTLs of every record they came from.
        options.cache_size = 0;
        // Mail routing follows DNS only, never /etc/hosts.
        options.use_hosts_file = ResolveHosts::Never;
        // A truncated or failed UDP answer is retried over TCP (RFC 7766).
        options.try_tcp_on_error = true;
        let resolver = builder
            .build()
            .map_err(|e| DnsError::Config(e.to_string()))?;
        Ok(MxResolver {
            inner: Arc::new(Inner {
                resolver,
                cache: Mutex::new(TtlCache::new(config.cache_entries)),
            }),
        })
    }

    /// The hosts to try for `domain`, in order: MX by preference, random order among equal
    /// preference (RFC 5321 §5.1); each with its A/AAAA addresses. No MX record → implicit MX:
    /// the domain itself (A/AAAA). Domain literal "[1.2.3.4]" / "[IPv6:..]" → that address.
    pub async fn resolve(&self, domain: &str) -> Result<Destination, DnsError> {
        let name = match parse_target(domain)? {
            Target::Literal(ip, text) => return Ok(literal_destination(ip, text)),
            Target::Name(name) => name,
        };
        let cached = self.cache().get(&name, Instant::now());
        if let Some(answer) = cached {
            metrics::counter!("hermod_dns_cache_total", "result" => "hit").increment(1);
            return answer.map(shuffled);
        }
        metrics::counter!("hermod_dns_cache_total", "result" => "miss").increment(1);
        let (answer, ttl) = self.lookup_destination(&name).await;
        // Temporary failures are not cached: the queue's retry schedule already paces them.
        if !matches!(
            answer,
            Err(DnsError::Temporary(_)) | Err(DnsError::Config(_))
        ) {
            self.cache()
                .insert(&name, answer.clone(), Instant::now() + ttl);
        }
        answer.map(shuffled)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, TtlCache<Answer>> {
        // The cache holds no invariant a panicking holder could break half-way.
        self.inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Resolves `name` (lower case, no trailing dot) without the cache; returns the answer
    /// and how long it may be cached.
    async fn lookup_destination(&self, name: &str) -> (Answer, Duration) {
        // A trailing dot makes the name absolute: no search list, no ndots games.
        let fqdn = format!("{name}.");
        let started = Instant::now();
        let result = self.inner.resolver.lookup(fqdn, RecordType::MX).await;
        metrics::histogram!("hermod_dns_lookup_duration_seconds", "type" => "mx")
            .record(started.elapsed().as_secs_f64());
        let lookup = match result {
            Ok(lookup) => lookup,
            Err(NetError::Dns(HickoryDnsError::NoRecordsFound(no))) => {
                if no.response_code == ResponseCode::NXDomain {
                    return (Err(DnsError::NoSuchDomain), negative_ttl(no.negative_ttl));
                }
                // hickory 0.26 reports "no MX" as an error: RFC 5321 §5.1 implicit MX, to be
                // looked at again when the "no MX" answer expires.
                return self.implicit(name, negative_ttl(no.negative_ttl)).await;
            }
            Err(e) => {
                return (
                    Err(DnsError::Temporary(format!("MX {name}: {e}"))),
                    Duration::ZERO,
                )
            }
        };
        let mut ttl = MAX_POSITIVE_TTL;
        let mut exchanges: Vec<(u16, String, bool)> = Vec::new();
        for record in lookup.answers() {
            if let RData::MX(mx) = &record.data {
                ttl = ttl.min(Duration::from_secs(u64::from(record.ttl)));
                let host = mx.exchange.to_lowercase().to_ascii();
                let host = host.strip_suffix('.').unwrap_or(&host).to_string();
                exchanges.push((mx.preference, host, mx.exchange.is_root()));
            }
        }
        if exchanges.is_empty() {
            // Only a CNAME chain without MX at its end: same as no MX.
            return self.implicit(name, ttl).await;
        }
        // RFC 7505 §3: "MX 0 ." means no mail. A null MX mixed with real ones is a
        // misconfiguration (§4.3 forbids it); the real ones are used.
        if exchanges.iter().all(|(_, _, null)| *null) {
            return (Err(DnsError::NullMx), ttl.min(MAX_NEGATIVE_TTL));
        }
        exchanges.retain(|(_, _, null)| !null);
        exchanges.sort();
        // Keep the best preference of a host listed twice.
        let mut seen = std::collections::HashSet::new();
        exchanges.retain(|(_, host, _)| seen.insert(host.clone()));
        exchanges.truncate(MAX_MX_HOSTS);

        let mut lookups = JoinSet::new();
        for (index, (_, host, _)) in exchanges.iter().enumerate() {
            let resolver = self.clone();
            let host = host.clone();
            lookups.spawn(async move { (index, resolver.host_addrs(&host).await) });
        }
        let mut found: Vec<Option<HostAddrs>> = exchanges.iter().map(|_| None).collect();
        while let Some(joined) = lookups.join_next().await {
            match joined {
                Ok((index, addrs)) => found[index] = Some(addrs),
                Err(e) => {
                    return (
                        Err(DnsError::Temporary(format!("address lookup task: {e}"))),
                        Duration::ZERO,
                    )
                }
            }
        }
        let hosts = exchanges
            .into_iter()
            .zip(found)
            .map(|((preference, name, _), addrs)| (name, preference, addrs))
            .filter_map(|(name, preference, addrs)| addrs.map(|a| (name, preference, a)));
        assemble(name, hosts, false, ttl)
    }

    /// RFC 5321 §5.1: without MX records the domain itself is the only host, preference 0.
    async fn implicit(&self, name: &str, mx_ttl: Duration) -> (Answer, Duration) {
        let addrs = self.host_addrs(name).await;
        assemble(
            name,
            std::iter::once((name.to_string(), 0, addrs)),
            true,
            mx_ttl,
        )
    }

    /// A and AAAA of `host`, looked up concurrently.
    async fn host_addrs(&self, host: &str) -> HostAddrs {
        let fqdn = format!("{host}.");
        let (v4, v6) = tokio::join!(
            self.addr_lookup(&fqdn, RecordType::A),
            self.addr_lookup(&fqdn, RecordType::AAAA)
        );
        let mut out = HostAddrs {
            addrs: Vec::new(),
            ttl: MAX_POSITIVE_TTL,
            temporary: None,
        };
        for part in [v4, v6] {
            out.addrs.extend(part.addrs);
            out.ttl = out.ttl.min(part.ttl);
            out.temporary = out.temporary.or(part.temporary);
        }
        out
    }

    /// One A or AAAA lookup; "no such record" is an empty, negatively cacheable answer.
    async fn addr_lookup(&self, fqdn: &str, record_type: RecordType) -> HostAddrs {
        let label = if record_type == RecordType::A {
            "a"
        } else {
            "aaaa"
        };
        let started = Instant::now();
        let result = self.inner.resolver.lookup(fqdn, record_type).await;
        metrics::histogram!("hermod_dns_lookup_duration_seconds", "type" => label)
            .record(started.elapsed().as_secs_f64());
        let mut out = HostAddrs {
            addrs: Vec::new(),
            ttl: MAX_POSITIVE_TTL,
            temporary: None,
        };
        match result {
            Ok(lookup) => {
                for record in lookup.answers() {
                    let ip = match &record.data {
                        RData::A(a) => IpAddr::V4(a.0),
                        RData::AAAA(aaaa) => IpAddr::V6(aaaa.0),
                        _ => continue,
                    };
                    out.ttl = out.ttl.min(Duration::from_secs(u64::from(record.ttl)));
                    out.addrs.push(ip);
                }
            }
            Err(NetError::Dns(HickoryDnsError::NoRecordsFound(no))) => {
                out.ttl = negative_ttl(no.negative_ttl);
            }
            Err(e) => out.temporary = Some(format!("{record_type} {fqdn}: {e}")),
        }
        out
    }
}

/// Builds the destination from hosts and their addresses, or the failure when none has one.
fn assemble(
    domain: &str,
    hosts: impl IntoIterator<Item = (String, u16, HostAddrs)>,
    implicit: bool,
    mx_ttl: Duration,
) -> (Answer, Duration) {
    let mut usable = Vec::new();
    let mut ttl = mx_ttl;
    let mut negative = MAX_NEGATIVE_TTL;
    let mut temporary = None;
    for (name, preference, found) in hosts {
        if found.addrs.is_empty() {
            negative = negative.min(found.ttl);
            temporary = temporary.or(found.temporary);
            continue;
        }
        ttl = ttl.min(found.ttl);
        usable.push(MxHost {
            name,
            preference,
            addrs: found.addrs,
        });
    }
    if usable.is_empty() {
        // RFC 5321 §5.1: "MX records are present, but none of them are usable ... MUST be
        // reported as an error"; a DNS failure on the way is retried like any other.
        return match temporary {
            Some(reason) => (Err(DnsError::Temporary(reason)), Duration::ZERO),
            None => (Err(DnsError::NoAddresses), negative.min(ttl)),
        };
    }
    let destination = Destination {
        domain: domain.to_string(),
        hosts: usable,
        implicit,
    };
    (Ok(destination), ttl)
}

/// RFC 2308 §5: the SOA-derived negative TTL, bounded.
fn negative_ttl(seconds: Option<u32>) -> Duration {
    seconds
        .map(|s| Duration::from_secs(u64::from(s)))
        .unwrap_or(DEFAULT_NEGATIVE_TTL)
        .min(MAX_NEGATIVE_TTL)
}

/// RFC 5321 §4.1.3: a domain literal is delivered to that address, no DNS involved.
fn literal_destination(ip: IpAddr, text: String) -> Destination {
    Destination {
        domain: text.clone(),
        hosts: vec![MxHost {
            name: text,
            preference: 0,
            addrs: vec![ip],
        }],
        implicit: false,
    }
}

/// RFC 5321 §5.1: hosts of equal preference are tried in random order, afresh per lookup so
/// cached answers spread load too. Hosts arrive sorted by preference.
fn shuffled(mut destination: Destination) -> Destination {
    let mut rng = rand::thread_rng();
    for group in destination
        .hosts
        .chunk_by_mut(|a, b| a.preference == b.preference)
    {
        group.shuffle(&mut rng);
    }
    destination
}
