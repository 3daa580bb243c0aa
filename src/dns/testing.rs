//! A loopback DNS responder for tests: answers MX, A and AAAA queries over UDP from a table,
//! and can be told to fail (NXDOMAIN, SERVFAIL, silence) per name.
//!
//! It binds 127.0.0.1 only and runs on its own thread, so it works from any test: plain,
//! `#[tokio::test]` (paused time or not) or an actix `System`. Not for production use.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, MX, SOA};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};

/// How often the server thread looks at its stop flag.
const POLL: Duration = Duration::from_millis(20);

/// A failure the responder simulates for one name, whatever the query type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestFault {
    /// Answer NXDOMAIN (with an SOA, so the answer is negatively cacheable).
    NxDomain,
    /// Answer SERVFAIL.
    ServFail,
    /// Never answer: the client times out.
    NoAnswer,
}

/// The table the responder answers from. Names are case-insensitive, without trailing dot.
///
/// A name with no record of the queried type but some other record (or an MX) gets an empty
/// NOERROR answer; a name absent from the table gets NXDOMAIN. Both carry an SOA whose minimum
/// is the table's TTL.
#[derive(Debug, Clone)]
pub struct TestRecords {
    ttl: u32,
    mx: HashMap<String, Vec<(u16, String)>>,
    a: HashMap<String, Vec<Ipv4Addr>>,
    aaaa: HashMap<String, Vec<Ipv6Addr>>,
    faults: HashMap<String, TestFault>,
}

impl Default for TestRecords {
    fn default() -> Self {
        TestRecords {
            ttl: 300,
            mx: HashMap::new(),
            a: HashMap::new(),
            aaaa: HashMap::new(),
            faults: HashMap::new(),
        }
    }
}

fn key(name: &str) -> String {
    let name = name.trim_end_matches('.');
    name.to_ascii_lowercase()
}

impl TestRecords {
    /// An empty table with a TTL of 300 s.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the TTL of every answer, and the negative TTL (SOA minimum).
    pub fn ttl(mut self, seconds: u32) -> Self {
        self.ttl = seconds;
        self
    }

    /// Adds `domain MX preference host`.
    pub fn mx(mut self, domain: &str, preference: u16, host: &str) -> Self {
        self.mx
            .entry(key(domain))
            .or_default()
            .push((preference, key(host)));
        self
    }

    /// Adds the RFC 7505 null MX `domain MX 0 .`.
    pub fn null_mx(self, domain: &str) -> Self {
        self.mx(domain, 0, ".")
    }

    /// Adds `name A addr`.
    pub fn a(mut self, name: &str, addr: Ipv4Addr) -> Self {
        self.a.entry(key(name)).or_default().push(addr);
        self
    }

    /// Adds `name AAAA addr`.
    pub fn aaaa(mut self, name: &str, addr: Ipv6Addr) -> Self {
        self.aaaa.entry(key(name)).or_default().push(addr);
        self
    }

    /// Makes every query for `name` fail as `fault`.
    pub fn fault(mut self, name: &str, fault: TestFault) -> Self {
        self.faults.insert(key(name), fault);
        self
    }

    fn knows(&self, name: &str) -> bool {
        self.mx.contains_key(name) || self.a.contains_key(name) || self.aaaa.contains_key(name)
    }

    /// The response to `request`, or `None` to stay silent.
    fn respond(&self, request: &Message) -> Option<Message> {
        let query = request.queries.first()?;
        let mut response = Message::response(request.metadata.id, request.metadata.op_code);
        response.metadata.recursion_desired = request.metadata.recursion_desired;
        response.metadata.recursion_available = true;
        response.metadata.authoritative = true;
        response.add_query(query.clone());
        let name = key(&query.name.to_ascii());
        match self.faults.get(&name) {
            Some(TestFault::NoAnswer) => return None,
            Some(TestFault::ServFail) => {
                response.metadata.response_code = ResponseCode::ServFail;
                return Some(response);
            }
            Some(TestFault::NxDomain) => {
                response.metadata.response_code = ResponseCode::NXDomain;
                response.add_authority(self.soa(&query.name));
                return Some(response);
            }
            None => {}
        }
        let owner = query.name.clone();
        let data: Vec<RData> = match query.query_type {
            RecordType::MX => self
                .mx
                .get(&name)
                .into_iter()
                .flatten()
                .filter_map(|(preference, host)| {
                    let exchange = if host.is_empty() {
                        Name::root()
                    } else {
                        Name::from_ascii(format!("{host}.")).ok()?
                    };
                    Some(RData::MX(MX::new(*preference, exchange)))
                })
                .collect(),
            RecordType::A => self
                .a
                .get(&name)
                .into_iter()
                .flatten()
                .map(|ip| RData::A(A(*ip)))
                .collect(),
            RecordType::AAAA => self
                .aaaa
                .get(&name)
                .into_iter()
                .flatten()
                .map(|ip| RData::AAAA(AAAA(*ip)))
                .collect(),
            _ => Vec::new(),
        };
        if data.is_empty() {
            if !self.knows(&name) {
                response.metadata.response_code = ResponseCode::NXDomain;
            }
            response.add_authority(self.soa(&owner));
        }
        for rdata in data {
            response.add_answer(Record::from_rdata(owner.clone(), self.ttl, rdata));
        }
        Some(response)
    }

    /// RFC 2308 §3: the SOA that makes a negative answer cacheable for its minimum.
    fn soa(&self, owner: &Name) -> Record {
        let soa = SOA::new(Name::root(), Name::root(), 1, 3600, 600, 86_400, self.ttl);
        Record::from_rdata(owner.clone(), self.ttl, RData::SOA(soa))
    }
}

/// A running loopback responder; stops when dropped.
pub struct TestDnsServer {
    records: Arc<Mutex<TestRecords>>,
    queries: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    addr: SocketAddr,
}

impl TestDnsServer {
    /// Binds UDP on 127.0.0.1 port 0 and answers from `records` on a background thread.
    pub fn start(records: TestRecords) -> io::Result<(TestDnsServer, SocketAddr)> {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        socket.set_read_timeout(Some(POLL))?;
        let addr = socket.local_addr()?;
        let records = Arc::new(Mutex::new(records));
        let queries = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (records, queries, stop) = (records.clone(), queries.clone(), stop.clone());
            std::thread::Builder::new()
                .name("test-dns".into())
                .spawn(move || serve(&socket, &records, &queries, &stop))?
        };
        let server = TestDnsServer {
            records,
            queries,
            stop,
            thread: Some(thread),
            addr,
        };
        Ok((server, addr))
    }

    /// Replaces the table; later queries see the new records.
    pub fn set_records(&self, records: TestRecords) {
        *self.records.lock().unwrap_or_else(PoisonError::into_inner) = records;
    }

    /// Number of well-formed queries received so far (answered or not).
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }

    /// The UDP address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for TestDnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            // The thread only ends by seeing the flag; a panic in it already failed the test.
            let _ = thread.join();
        }
    }
}

fn serve(
    socket: &UdpSocket,
    records: &Mutex<TestRecords>,
    queries: &AtomicUsize,
    stop: &AtomicBool,
) {
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        let Ok((len, peer)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let Ok(request) = Message::from_vec(&buf[..len]) else {
            continue;
        };
        queries.fetch_add(1, Ordering::SeqCst);
        let response = records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .respond(&request);
        if let Some(bytes) = response.and_then(|r| r.to_vec().ok()) {
            // A lost UDP answer is what the client's retry is for.
            let _ = socket.send_to(&bytes, peer);
        }
    }
}
