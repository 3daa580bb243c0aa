//! Semantic checks of a [`Config`]: the problems no single value shows on its own.
//!
//! [`static_problems`] looks only at the config itself and runs on every load;
//! [`file_problems`] looks at the filesystem and runs only from [`Config::check`].

use std::net::SocketAddr;
use std::path::Path;

use super::Config;

/// Smallest sensible `max_message_size`: below this not even headers fit.
const MIN_MESSAGE_SIZE: u64 = 1024;

/// Lower-cases the domain part of `address` (everything after the last `@`).
pub(super) fn lower_domain(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_ascii_lowercase()),
        None => address.to_owned(),
    }
}

/// Checks a domain name against RFC 1035 §2.3.1 as relaxed by RFC 1123 §2.1.
pub fn validate_domain(name: &str) -> Result<(), String> {
    let shown = name.escape_debug();
    if name.is_empty() {
        return Err("empty domain name".to_owned());
    }
    if !name.is_ascii() {
        return Err(format!(
            "'{shown}' is not ASCII (write internationalized names in their xn-- A-label form)"
        ));
    }
    // RFC 1035 §3.1: 255 octets on the wire, i.e. 253 in dotted text.
    if name.len() > 253 {
        return Err(format!(
            "domain name '{shown}' is longer than 253 characters"
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(format!("domain name '{shown}' has an empty label"));
        }
        if label.len() > 63 {
            return Err(format!(
                "domain name '{shown}' has a label longer than 63 characters"
            ));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(format!(
                "domain name '{shown}' may hold only letters, digits, '-' and '.'"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "domain name '{shown}' has a label that starts or ends with '-'"
            ));
        }
    }
    // RFC 1123 §2.1: the top-level label is alphabetic, so a name never reads as an IP.
    if name
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "'{shown}' looks like an IP address, not a domain name"
        ));
    }
    Ok(())
}

/// Checks `local@domain`: a dot-atom local part (RFC 5321 §4.1.2) and a valid domain.
/// Returns the domain part.
pub fn validate_address(address: &str) -> Result<&str, String> {
    let shown = address.escape_debug();
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(format!(
            "'{shown}' is not an address (expected user@domain)"
        ));
    };
    // RFC 5321 §4.5.3.1.1: local part at most 64 octets.
    if local.is_empty() || local.len() > 64 {
        return Err(format!(
            "'{shown}' needs a local part of 1 to 64 characters"
        ));
    }
    // RFC 5322 §3.2.3 atext; quoted local parts are legal but never needed for mailboxes
    // we configure, and refusing them keeps lookups byte-exact.
    let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
    let dot_atom = local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.bytes().all(atext));
    if !dot_atom {
        return Err(format!(
            "'{shown}' has an invalid local part (letters, digits, !#$%&'*+-/=?^_`{{|}}~ and \
             single inner dots only)"
        ));
    }
    validate_domain(domain).map_err(|e| format!("'{shown}': {e}"))?;
    Ok(domain)
}

fn is_local(config: &Config, domain: &str) -> bool {
    config
        .domains
        .iter()
        .any(|d| d.eq_ignore_ascii_case(domain))
}

/// Every problem that can be seen without touching the filesystem.
pub(super) fn static_problems(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    if let Err(e) = validate_domain(&config.hostname) {
        problems.push(format!("hostname: {e}"));
    }
    if config.data_dir.as_os_str().is_empty() {
        problems.push("data_dir: must not be empty".to_owned());
    }
    domain_problems(config, &mut problems);
    alias_problems(config, &mut problems);
    listener_problems(config, &mut problems);
    limit_problems(config, &mut problems);
    super::outbound::problems(&config.delivery, &config.queue, &mut problems);
    problems
}

fn domain_problems(config: &Config, problems: &mut Vec<String>) {
    if config.domains.is_empty() {
        problems.push("domains: at least one local domain is required".to_owned());
    }
    for (i, domain) in config.domains.iter().enumerate() {
        if let Err(e) = validate_domain(domain) {
            problems.push(format!("domains[{i}]: {e}"));
        } else if config.domains[..i]
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
        {
            problems.push(format!("domains[{i}]: '{domain}' is listed twice"));
        }
    }
}

fn alias_problems(config: &Config, problems: &mut Vec<String>) {
    for (alias, targets) in &config.aliases {
        let here = format!("aliases.\"{}\"", alias.escape_debug());
        match validate_address(alias) {
            Err(e) => problems.push(format!("{here}: {e}")),
            Ok(domain) if !is_local(config, domain) => problems.push(format!(
                "{here}: domain '{domain}' is not one of the local domains"
            )),
            Ok(_) => {}
        }
        if targets.is_empty() {
            problems.push(format!("{here}: needs at least one target address"));
        }
        for target in targets {
            if let Err(e) = validate_address(target) {
                problems.push(format!("{here}: target {e}"));
            }
        }
    }
    for (domain, target) in &config.catch_all {
        let here = format!("catch_all.\"{}\"", domain.escape_debug());
        match validate_domain(domain) {
            Err(e) => problems.push(format!("{here}: {e}")),
            Ok(()) if !is_local(config, domain) => problems.push(format!(
                "{here}: '{domain}' is not one of the local domains"
            )),
            Ok(()) => {}
        }
        match validate_address(target) {
            Err(e) => problems.push(format!("{here}: target {e}")),
            Ok(target_domain) if !is_local(config, target_domain) => problems.push(format!(
                "{here}: target '{target}' is not in a local domain"
            )),
            Ok(_) => {}
        }
    }
}

/// Two listeners clash on the same port if their IPs are equal or either is a wildcard
/// (Linux refuses 127.0.0.1:25 while 0.0.0.0:25 is bound, and `[::]` covers IPv4 too).
fn clash(a: SocketAddr, b: SocketAddr) -> bool {
    // Port 0 asks the OS for a free port, so any number of listeners may use it.
    a.port() != 0
        && a.port() == b.port()
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

fn listener_problems(config: &Config, problems: &mut Vec<String>) {
    let listeners: Vec<(&str, SocketAddr)> = config
        .listen
        .all()
        .into_iter()
        .filter_map(|(name, addr)| addr.map(|a| (name, a)))
        .collect();
    for (i, (name, addr)) in listeners.iter().enumerate() {
        for (other, other_addr) in &listeners[..i] {
            if clash(*addr, *other_addr) {
                problems.push(format!(
                    "listen.{name}: {addr} clashes with listen.{other} ({other_addr})"
                ));
            }
        }
    }
}

fn limit_problems(config: &Config, problems: &mut Vec<String>) {
    let limits = &config.limits;
    if limits.max_message_size < MIN_MESSAGE_SIZE {
        problems.push(format!(
            "limits.max_message_size: {} bytes is below the minimum of 1KiB",
            limits.max_message_size
        ));
    }
    let counts = [
        ("max_recipients", limits.max_recipients),
        ("max_errors", limits.max_errors),
        ("max_auth_failures", limits.max_auth_failures),
        ("max_connections", limits.max_connections),
        ("max_connections_per_ip", limits.max_connections_per_ip),
    ];
    for (name, value) in counts {
        if value == 0 {
            problems.push(format!("limits.{name}: must be greater than 0"));
        }
    }
    let t = &config.timeouts;
    let timeouts = [
        ("smtp_idle", t.smtp_idle),
        ("pop3_idle", t.pop3_idle),
        ("imap_idle", t.imap_idle),
        ("tls_handshake", t.tls_handshake),
        ("shutdown_grace", t.shutdown_grace),
    ];
    for (name, value) in timeouts {
        if value.is_zero() {
            problems.push(format!("timeouts.{name}: must be greater than 0"));
        }
    }
    if config.storage.cache_capacity == 0 {
        problems.push("storage.cache_capacity: must be greater than 0".to_owned());
    }
}

/// Problems only the filesystem shows: TLS files missing or unreadable, `data_dir` a file.
pub(super) fn file_problems(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(tls) = &config.tls {
        for (name, path) in [("tls.cert", &tls.cert), ("tls.key", &tls.key)] {
            if let Err(e) = readable_file(path) {
                problems.push(format!("{name}: {}: {e}", path.display()));
            }
        }
    }
    if config.data_dir.exists() && !config.data_dir.is_dir() {
        problems.push(format!(
            "data_dir: {} exists and is not a directory",
            config.data_dir.display()
        ));
    }
    problems
}

fn readable_file(path: &Path) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if meta.is_file() {
        Ok(())
    } else {
        Err("not a regular file".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        for good in [
            "localhost",
            "example.test",
            "mail.EXAMPLE.test",
            "xn--bcher-kva.example",
            "3com.com",
            "a-b.c",
        ] {
            assert_eq!(validate_domain(good), Ok(()), "{good}");
        }
        let long_label = format!("{}.test", "a".repeat(64));
        let long_name = ["abcdefghi"; 26].join(".");
        for (bad, why) in [
            ("", "empty domain name"),
            ("example..test", "empty label"),
            (".example.test", "empty label"),
            ("example.test.", "empty label"),
            ("-a.test", "starts or ends with '-'"),
            ("a_b.test", "may hold only"),
            ("a b.test", "may hold only"),
            ("1.2.3.4", "looks like an IP"),
            ("bücher.example", "xn-- A-label"),
            (&long_label, "longer than 63"),
            (&long_name, "longer than 253"),
        ] {
            let e = validate_domain(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn addresses() {
        assert_eq!(validate_address("user@example.test"), Ok("example.test"));
        assert_eq!(validate_address("first.last+tag@a.test"), Ok("a.test"));
        for bad in [
            "user",
            "@example.test",
            "user@",
            ".user@a.test",
            "us..er@a.test",
            "user.@a.test",
            "\"quoted\"@a.test",
            "us er@a.test",
            "user@a..test",
            "user@[127.0.0.1]",
            "üser@a.test",
            "user\0@a.test",
        ] {
            assert!(validate_address(bad).is_err(), "{bad}");
        }
        let long = format!("{}@a.test", "a".repeat(65));
        assert!(validate_address(&long).unwrap_err().contains("1 to 64"));
    }

    #[test]
    fn listener_clashes() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(clash(a("127.0.0.1:25"), a("127.0.0.1:25")));
        assert!(clash(a("0.0.0.0:25"), a("127.0.0.1:25")));
        assert!(clash(a("[::]:25"), a("127.0.0.1:25")));
        assert!(!clash(a("127.0.0.1:25"), a("127.0.0.2:25")));
        assert!(!clash(a("127.0.0.1:25"), a("127.0.0.1:26")));
        assert!(!clash(a("127.0.0.1:0"), a("127.0.0.1:0")));
    }

    #[test]
    fn lower_domain_keeps_the_local_part() {
        assert_eq!(lower_domain("John@Example.TEST"), "John@example.test");
        assert_eq!(lower_domain("a@b@C.test"), "a@b@c.test");
        assert_eq!(lower_domain("NoAt"), "NoAt");
    }
}
