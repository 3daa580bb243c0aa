//! MxResolver against the loopback responder: ordering, implicit and null MX, failures, cache.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::testing::{TestDnsServer, TestFault, TestRecords};
use super::{DnsConfig, DnsError, MxResolver};

const IP1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const IP2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const IP3: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);

fn resolver(addr: SocketAddr, cache_entries: usize) -> MxResolver {
    MxResolver::new(&DnsConfig {
        servers: vec![addr],
        timeout: Duration::from_millis(500),
        cache_entries,
    })
    .unwrap()
}

fn names(hosts: &[super::MxHost]) -> Vec<&str> {
    hosts.iter().map(|h| h.name.as_str()).collect()
}

#[tokio::test]
async fn mx_hosts_come_in_preference_order_with_addresses() {
    let records = TestRecords::new()
        .mx("example.org", 20, "mx2.example.org")
        .mx("example.org", 10, "MX1.example.org")
        .mx("example.org", 30, "mx3.example.net")
        .a("mx1.example.org", IP1)
        .aaaa("mx1.example.org", Ipv6Addr::LOCALHOST)
        .a("mx2.example.org", IP2)
        .a("mx3.example.net", IP3);
    let (_server, addr) = TestDnsServer::start(records).unwrap();
    let dest = resolver(addr, 100).resolve("Example.ORG.").await.unwrap();
    assert_eq!(dest.domain, "example.org");
    assert!(!dest.implicit);
    assert_eq!(
        names(&dest.hosts),
        ["mx1.example.org", "mx2.example.org", "mx3.example.net"]
    );
    assert_eq!(
        dest.hosts.iter().map(|h| h.preference).collect::<Vec<_>>(),
        [10, 20, 30]
    );
    assert_eq!(
        dest.hosts[0].addrs,
        [IpAddr::V4(IP1), IpAddr::V6(Ipv6Addr::LOCALHOST)]
    );
    assert_eq!(dest.hosts[2].addrs, [IpAddr::V4(IP3)]);
}

#[tokio::test]
async fn equal_preference_hosts_are_shuffled() {
    let records = TestRecords::new()
        .mx("example.org", 10, "a.example.org")
        .mx("example.org", 10, "b.example.org")
        .mx("example.org", 5, "first.example.org")
        .a("a.example.org", IP1)
        .a("b.example.org", IP2)
        .a("first.example.org", IP3);
    let (server, addr) = TestDnsServer::start(records).unwrap();
    // Both uncached and cached answers are reshuffled per lookup.
    for cache_entries in [0, 100] {
        let resolver = resolver(addr, cache_entries);
        let before = server.queries();
        let mut orders = HashSet::new();
        for _ in 0..50 {
            let dest = resolver.resolve("example.org").await.unwrap();
            assert_eq!(dest.hosts[0].name, "first.example.org");
            orders.insert(names(&dest.hosts[1..]).join(" "));
        }
        // Each order has probability 2^-50 of never showing up.
        assert_eq!(orders.len(), 2, "cache_entries {cache_entries}: {orders:?}");
        // Without our cache every lookup reaches the server: hickory's own cache is off.
        let queried = server.queries() - before;
        if cache_entries == 0 {
            assert!(queried >= 50 * 4, "{queried}");
        } else {
            assert!(queried <= 7, "{queried}");
        }
    }
}

#[tokio::test]
async fn no_mx_means_the_domain_itself() {
    let records = TestRecords::new()
        .a("plain.example", IP1)
        .aaaa("plain.example", Ipv6Addr::LOCALHOST);
    let (_server, addr) = TestDnsServer::start(records).unwrap();
    let dest = resolver(addr, 100).resolve("plain.example").await.unwrap();
    assert!(dest.implicit);
    assert_eq!(names(&dest.hosts), ["plain.example"]);
    assert_eq!(dest.hosts[0].preference, 0);
    assert_eq!(
        dest.hosts[0].addrs,
        [IpAddr::V4(IP1), IpAddr::V6(Ipv6Addr::LOCALHOST)]
    );
}

#[tokio::test]
async fn null_mx_is_a_permanent_5_1_10() {
    let records = TestRecords::new()
        .null_mx("nomail.example")
        .a("nomail.example", IP1);
    let (_server, addr) = TestDnsServer::start(records).unwrap();
    let err = resolver(addr, 100)
        .resolve("nomail.example")
        .await
        .unwrap_err();
    assert_eq!(err, DnsError::NullMx);
    assert!(err.is_permanent());
    assert_eq!(err.enhanced_status(), "5.1.10");
}

#[tokio::test]
async fn null_mx_beside_real_mx_is_ignored() {
    let records = TestRecords::new()
        .null_mx("mixed.example")
        .mx("mixed.example", 10, "mx.mixed.example")
        .a("mx.mixed.example", IP1);
    let (_server, addr) = TestDnsServer::start(records).unwrap();
    let dest = resolver(addr, 100).resolve("mixed.example").await.unwrap();
    assert_eq!(names(&dest.hosts), ["mx.mixed.example"]);
}

#[tokio::test]
async fn nxdomain_is_a_permanent_5_1_2() {
    let (_server, addr) = TestDnsServer::start(TestRecords::new()).unwrap();
    let resolver = resolver(addr, 100);
    let err = resolver.resolve("missing.example").await.unwrap_err();
    assert_eq!(err, DnsError::NoSuchDomain);
    assert!(err.is_permanent());
    assert_eq!(err.enhanced_status(), "5.1.2");
    for bad in ["", "bad domain.example", "[1.2.3]"] {
        assert_eq!(resolver.resolve(bad).await, Err(DnsError::NoSuchDomain));
    }
}

#[tokio::test]
async fn servfail_is_temporary_and_not_cached() {
    let records = TestRecords::new().fault("broken.example", TestFault::ServFail);
    let (server, addr) = TestDnsServer::start(records).unwrap();
    let resolver = resolver(addr, 100);
    let err = resolver.resolve("broken.example").await.unwrap_err();
    assert!(matches!(err, DnsError::Temporary(_)), "{err:?}");
    assert!(!err.is_permanent());
    assert_eq!(err.enhanced_status(), "4.4.3");
    let before = server.queries();
    let _ = resolver.resolve("broken.example").await;
    assert!(server.queries() > before);
}

#[tokio::test]
async fn silent_server_times_out_as_temporary() {
    let records = TestRecords::new().fault("slow.example", TestFault::NoAnswer);
    let (_server, addr) = TestDnsServer::start(records).unwrap();
    let resolver = MxResolver::new(&DnsConfig {
        servers: vec![addr],
        timeout: Duration::from_millis(100),
        cache_entries: 100,
    })
    .unwrap();
    let started = std::time::Instant::now();
    let err = resolver.resolve("slow.example").await.unwrap_err();
    assert!(matches!(err, DnsError::Temporary(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn mx_hosts_without_addresses() {
    let records = TestRecords::new()
        .mx("dangling.example", 10, "gone.example")
        .mx("half.example", 10, "gone.example")
        .mx("half.example", 20, "mx.half.example")
        .a("mx.half.example", IP2)
        .mx("flaky.example", 10, "flaky-mx.example")
        .fault("flaky-mx.example", TestFault::ServFail);
    let (_server, addr) = TestDnsServer::start(records).unwrap();
    let resolver = resolver(addr, 100);
    let err = resolver.resolve("dangling.example").await.unwrap_err();
    assert_eq!(err, DnsError::NoAddresses);
    assert!(!err.is_permanent());
    assert_eq!(err.enhanced_status(), "4.4.4");
    // Unusable hosts are left out; the usable one remains.
    let dest = resolver.resolve("half.example").await.unwrap();
    assert_eq!(names(&dest.hosts), ["mx.half.example"]);
    let err = resolver.resolve("flaky.example").await.unwrap_err();
    assert!(matches!(err, DnsError::Temporary(_)), "{err:?}");
}

#[tokio::test]
async fn a_cached_answer_does_not_reach_the_server() {
    let records = TestRecords::new()
        .mx("example.org", 10, "mx.example.org")
        .a("mx.example.org", IP1);
    let (server, addr) = TestDnsServer::start(records).unwrap();
    let resolver = resolver(addr, 100);
    let first = resolver.resolve("example.org").await.unwrap();
    let after_first = server.queries();
    assert!(after_first >= 3, "MX, A and AAAA: {after_first}");
    let second = resolver.clone().resolve("EXAMPLE.org").await.unwrap();
    assert_eq!(first, second);
    assert_eq!(server.queries(), after_first);
    // Negative answers are cached too.
    let _ = resolver.resolve("missing.example").await;
    let after_negative = server.queries();
    assert_eq!(
        resolver.resolve("missing.example").await,
        Err(DnsError::NoSuchDomain)
    );
    assert_eq!(server.queries(), after_negative);
}

#[tokio::test]
async fn cached_answers_expire_with_their_ttl() {
    let records = TestRecords::new()
        .ttl(1)
        .mx("example.org", 10, "mx.example.org")
        .a("mx.example.org", IP1);
    let (server, addr) = TestDnsServer::start(records.clone()).unwrap();
    let resolver = resolver(addr, 100);
    resolver.resolve("example.org").await.unwrap();
    let after_first = server.queries();
    server.set_records(records.a("mx.example.org", IP2));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let dest = resolver.resolve("example.org").await.unwrap();
    assert!(server.queries() > after_first);
    assert_eq!(dest.hosts[0].addrs, [IpAddr::V4(IP1), IpAddr::V4(IP2)]);
}

#[tokio::test]
async fn domain_literals_skip_dns() {
    let (server, addr) = TestDnsServer::start(TestRecords::new()).unwrap();
    let resolver = resolver(addr, 100);
    let dest = resolver.resolve("[192.0.2.9]").await.unwrap();
    assert_eq!(dest.hosts.len(), 1);
    assert_eq!(
        dest.hosts[0].addrs,
        ["192.0.2.9".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(dest.site_key(), "[192.0.2.9]");
    let dest = resolver.resolve("[IPv6:2001:db8::25]").await.unwrap();
    assert_eq!(
        dest.hosts[0].addrs,
        ["2001:db8::25".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(server.queries(), 0);
}

#[tokio::test]
async fn domains_on_the_same_mx_set_share_a_site_key() {
    let records = TestRecords::new()
        .mx("one.example", 10, "mx1.host.example")
        .mx("one.example", 20, "mx2.host.example")
        .mx("two.example", 5, "MX2.host.example")
        .mx("two.example", 5, "mx1.host.example")
        .mx("three.example", 10, "mx1.host.example")
        .a("mx1.host.example", IP1)
        .a("mx2.host.example", IP2);
    let (_server, addr) = TestDnsServer::start(records).unwrap();
    let resolver = resolver(addr, 100);
    let one = resolver.resolve("one.example").await.unwrap();
    let two = resolver.resolve("two.example").await.unwrap();
    let three = resolver.resolve("three.example").await.unwrap();
    assert_eq!(one.site_key(), "mx1.host.example,mx2.host.example");
    assert_eq!(one.site_key(), two.site_key());
    assert_ne!(one.site_key(), three.site_key());
}

#[tokio::test]
async fn cache_stays_within_its_bound() {
    let mut records = TestRecords::new().a("mx.example", IP1);
    for i in 0..8 {
        records = records.mx(&format!("d{i}.example"), 10, "mx.example");
    }
    let (server, addr) = TestDnsServer::start(records).unwrap();
    let resolver = resolver(addr, 4);
    for i in 0..8 {
        resolver.resolve(&format!("d{i}.example")).await.unwrap();
    }
    let before = server.queries();
    // The four most recent are cached; the oldest was evicted.
    resolver.resolve("d7.example").await.unwrap();
    assert_eq!(server.queries(), before);
    resolver.resolve("d0.example").await.unwrap();
    assert!(server.queries() > before);
}

#[test]
fn resolver_is_built_outside_a_runtime_and_shared_across_threads() {
    fn shareable<T: Clone + Send + Sync + 'static>(_: &T) {}
    let (_server, addr) = TestDnsServer::start(TestRecords::new().a("h.example", IP1)).unwrap();
    let resolver = resolver(addr, 10);
    shareable(&resolver);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dest = runtime.block_on(resolver.resolve("h.example")).unwrap();
    assert!(dest.implicit);
    assert_eq!(dest.hosts[0].addrs, [IpAddr::V4(IP1)]);
}
