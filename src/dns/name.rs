//! What a recipient domain names: a DNS name to look up, or an address literal to use as is.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::DnsError;

/// RFC 1035 §2.3.4: 255 octets for a whole name.
const MAX_NAME_LEN: usize = 255;
/// RFC 1035 §2.3.4: 63 octets per label.
const MAX_LABEL_LEN: usize = 63;

/// A parsed recipient domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A DNS name: lower case, no trailing dot.
    Name(String),
    /// An address literal (RFC 5321 §4.1.3) and its text as written.
    Literal(IpAddr, String),
}

/// Parses the domain part of a recipient address.
///
/// Anything that cannot be a domain is [`DnsError::NoSuchDomain`]: no DNS query could ever
/// succeed for it, so the message bounces with 5.1.2.
pub(crate) fn parse_target(domain: &str) -> Result<Target, DnsError> {
    let domain = domain.trim();
    if let Some(inner) = domain.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or(DnsError::NoSuchDomain)?;
        return parse_literal(inner).map(|ip| Target::Literal(ip, domain.to_string()));
    }
    let name = domain.strip_suffix('.').unwrap_or(domain);
    if name.is_empty() || name.len() > MAX_NAME_LEN - 1 {
        return Err(DnsError::NoSuchDomain);
    }
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= MAX_LABEL_LEN
            // RFC 5321 §4.1.2 sub-domain: letters, digits, hyphens (A-labels for IDNs); '_' is
            // tolerated because real zones use it and it cannot harm the query.
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !name.split('.').all(valid_label) {
        return Err(DnsError::NoSuchDomain);
    }
    Ok(Target::Name(name.to_ascii_lowercase()))
}

/// RFC 5321 §4.1.3: `IPv4-address-literal` or `"IPv6:" IPv6-addr` (the tag is case-insensitive).
fn parse_literal(inner: &str) -> Result<IpAddr, DnsError> {
    if let Some(tag) = inner.get(..5) {
        if tag.eq_ignore_ascii_case("IPv6:") {
            return inner[5..]
                .parse::<Ipv6Addr>()
                .map(IpAddr::V6)
                .map_err(|_| DnsError::NoSuchDomain);
        }
    }
    inner
        .parse::<Ipv4Addr>()
        .map(IpAddr::V4)
        .map_err(|_| DnsError::NoSuchDomain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_cased_without_trailing_dot() {
        assert_eq!(
            parse_target(" Example.COM. "),
            Ok(Target::Name("example.com".into()))
        );
        assert_eq!(
            parse_target("_dmarc.x-y.example"),
            Ok(Target::Name("_dmarc.x-y.example".into()))
        );
    }

    #[test]
    fn literals() {
        assert_eq!(
            parse_target("[192.0.2.7]"),
            Ok(Target::Literal(
                "192.0.2.7".parse().unwrap(),
                "[192.0.2.7]".into()
            ))
        );
        assert_eq!(
            parse_target("[ipv6:2001:db8::1]"),
            Ok(Target::Literal(
                "2001:db8::1".parse().unwrap(),
                "[ipv6:2001:db8::1]".into()
            ))
        );
    }

    #[test]
    fn hostile_input_is_no_such_domain() {
        let long_label = format!("{}.example", "a".repeat(64));
        let long_name = format!("{}example", "abcdefgh.".repeat(29));
        for bad in [
            "",
            ".",
            "[1.2.3.4",
            "[]",
            "[IPv6:1.2.3.4]",
            "[2001:db8::1]",
            "[999.1.1.1]",
            "[IPv6:]",
            "a..b",
            ".example",
            "exa mple.com",
            "exam\0ple.com",
            "exämple.com",
            "exa\r\nmple.com",
            "a\nb",
            long_label.as_str(),
            long_name.as_str(),
        ] {
            assert_eq!(parse_target(bad), Err(DnsError::NoSuchDomain), "{bad:?}");
        }
    }
}
