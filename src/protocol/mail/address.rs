//! The RFC 5321 mailbox (`local@domain`) used in SMTP envelopes, with RFC 6531 UTF-8.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use thiserror::Error;

// RFC 5321 §4.5.3.1.1-3: size limits of the parts and of a whole path.
const MAX_LOCAL_PART: usize = 64;
const MAX_DOMAIN: usize = 255;
const MAX_LABEL: usize = 63;
// RFC 5321 §4.5.3.1.3: a path is at most 256 octets including the angle brackets.
const MAX_ADDRESS: usize = 254;

/// Why a string is not an acceptable mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddressError {
    /// The input was empty.
    #[error("empty address")]
    Empty,
    /// No `@` separates a local part from a domain.
    #[error("missing '@' between local part and domain")]
    MissingAt,
    /// Nothing before the `@`.
    #[error("empty local part")]
    EmptyLocalPart,
    /// Nothing after the `@`.
    #[error("empty domain")]
    EmptyDomain,
    /// The local part exceeds 64 octets.
    #[error("local part longer than 64 octets")]
    LocalPartTooLong,
    /// The domain exceeds 255 octets.
    #[error("domain longer than 255 octets")]
    DomainTooLong,
    /// The whole address exceeds 254 octets.
    #[error("address longer than 254 octets")]
    TooLong,
    /// A control character (including NUL) appeared anywhere.
    #[error("control character in address")]
    ControlCharacter,
    /// The local part is neither a dot-atom nor a quoted string.
    #[error("invalid local part")]
    InvalidLocalPart,
    /// The domain is neither a host name nor an address literal.
    #[error("invalid domain")]
    InvalidDomain,
}

/// An RFC 5321 mailbox: the local part as given, the domain lower-cased.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Address {
    local: String,
    domain: String,
}

impl Address {
    /// Parses a mailbox such as `user@example.org`, `"a b"@example.org` or `u@[192.0.2.1]`.
    pub fn parse(input: &str) -> Result<Address, AddressError> {
        if input.is_empty() {
            return Err(AddressError::Empty);
        }
        if input.chars().any(char::is_control) {
            return Err(AddressError::ControlCharacter);
        }
        if input.len() > MAX_ADDRESS {
            return Err(AddressError::TooLong);
        }
        let local_len = local_part_len(input)?;
        let local = &input[..local_len];
        let domain = input[local_len..]
            .strip_prefix('@')
            .ok_or(AddressError::MissingAt)?;
        if local.is_empty() {
            return Err(AddressError::EmptyLocalPart);
        }
        if local.len() > MAX_LOCAL_PART {
            return Err(AddressError::LocalPartTooLong);
        }
        if domain.is_empty() {
            return Err(AddressError::EmptyDomain);
        }
        if domain.len() > MAX_DOMAIN {
            return Err(AddressError::DomainTooLong);
        }
        let domain = parse_domain(domain)?;
        Ok(Address {
            local: local.to_owned(),
            domain,
        })
    }

    /// The local part exactly as the client wrote it (quotes included, if any).
    pub fn local(&self) -> &str {
        &self.local
    }

    /// The domain, lower-cased; address literals in canonical form (`[192.0.2.1]`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// True when either part holds non-ASCII characters (needs SMTPUTF8, RFC 6531).
    pub fn is_utf8(&self) -> bool {
        !self.local.is_ascii() || !self.domain.is_ascii()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

/// RFC 5322 §3.2.3 atext, widened by RFC 6531 §3.3 to any non-ASCII character.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// Length in octets of the local part at the start of `input` (dot-atom or quoted string).
fn local_part_len(input: &str) -> Result<usize, AddressError> {
    if let Some(quoted) = input.strip_prefix('"') {
        let mut escaped = false;
        for (i, c) in quoted.char_indices() {
            if escaped {
                // RFC 5321 §4.1.2: quoted-pairSMTP is a backslash and any printable ASCII.
                if !(' '..='~').contains(&c) {
                    return Err(AddressError::InvalidLocalPart);
                }
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                if i == 0 {
                    // RFC 5321 §4.1.2 allows `""`, but an empty mailbox name cannot be routed.
                    return Err(AddressError::EmptyLocalPart);
                }
                return Ok(i + 2);
            }
        }
        return Err(AddressError::InvalidLocalPart);
    }
    let end = input.find('@').ok_or(AddressError::MissingAt)?;
    let local = &input[..end];
    if local.is_empty() {
        return Err(AddressError::EmptyLocalPart);
    }
    let valid = local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(is_atext));
    if valid {
        Ok(end)
    } else {
        Err(AddressError::InvalidLocalPart)
    }
}

/// Validates a domain or address literal and returns its stored form.
fn parse_domain(domain: &str) -> Result<String, AddressError> {
    if let Some(literal) = domain.strip_prefix('[') {
        let literal = literal
            .strip_suffix(']')
            .ok_or(AddressError::InvalidDomain)?;
        // RFC 5321 §4.1.3: IPv4 dotted quad or "IPv6:" tag; general literals are not routable.
        if let Ok(v4) = literal.parse::<Ipv4Addr>() {
            return Ok(format!("[{v4}]"));
        }
        let v6 = literal
            .get(..5)
            .filter(|tag| tag.eq_ignore_ascii_case("IPv6:"))
            .and_then(|_| literal[5..].parse::<Ipv6Addr>().ok())
            .ok_or(AddressError::InvalidDomain)?;
        return Ok(format!("[IPv6:{v6}]"));
    }
    let valid = domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= MAX_LABEL
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || !c.is_ascii())
    });
    if valid {
        Ok(domain.to_lowercase())
    } else {
        Err(AddressError::InvalidDomain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Address {
        Address::parse(s).unwrap_or_else(|e| panic!("{s:?} rejected: {e}"))
    }

    #[test]
    fn plain_address_keeps_local_case_and_lowercases_domain() {
        let a = ok("John.Doe@Example.ORG");
        assert_eq!(a.local(), "John.Doe");
        assert_eq!(a.domain(), "example.org");
        assert_eq!(a.to_string(), "John.Doe@example.org");
        assert!(!a.is_utf8());
    }

    #[test]
    fn atext_specials_are_accepted() {
        let a = ok("a!#$%&'*+-/=?^_`{|}~b@x.y");
        assert_eq!(a.local(), "a!#$%&'*+-/=?^_`{|}~b");
    }

    #[test]
    fn quoted_local_part_is_kept_as_given() {
        let a = ok("\"john doe\"@example.org");
        assert_eq!(a.local(), "\"john doe\"");
        let b = ok(r#""a\"b@c"@example.org"#);
        assert_eq!(b.local(), r#""a\"b@c""#);
        assert_eq!(b.domain(), "example.org");
    }

    #[test]
    fn address_literals_are_canonical() {
        assert_eq!(ok("u@[192.0.2.1]").domain(), "[192.0.2.1]");
        assert_eq!(ok("u@[ipv6:2001:DB8::1]").domain(), "[IPv6:2001:db8::1]");
        assert_eq!(
            Address::parse("u@[999.1.1.1]"),
            Err(AddressError::InvalidDomain)
        );
        assert_eq!(
            Address::parse("u@[tag:stuff]"),
            Err(AddressError::InvalidDomain)
        );
        assert_eq!(
            Address::parse("u@[1.2.3.4"),
            Err(AddressError::InvalidDomain)
        );
    }

    #[test]
    fn utf8_addresses_are_accepted() {
        let a = ok("用户@例子.广告");
        assert!(a.is_utf8());
        let b = ok("Ünïcode@BÜCHER.de");
        assert_eq!(b.domain(), "bücher.de");
        assert_eq!(b.local(), "Ünïcode");
    }

    #[test]
    fn empty_parts_are_rejected() {
        assert_eq!(Address::parse(""), Err(AddressError::Empty));
        assert_eq!(Address::parse("@x.org"), Err(AddressError::EmptyLocalPart));
        assert_eq!(Address::parse("u@"), Err(AddressError::EmptyDomain));
        assert_eq!(Address::parse("user"), Err(AddressError::MissingAt));
        assert_eq!(
            Address::parse("\"\"@x.org"),
            Err(AddressError::EmptyLocalPart)
        );
    }

    #[test]
    fn bad_dot_atoms_are_rejected() {
        for s in ["a..b@x", ".a@x", "a.@x", "a b@x", "a(b)@x", "a\"b@x"] {
            assert_eq!(
                Address::parse(s),
                Err(AddressError::InvalidLocalPart),
                "{s}"
            );
        }
    }

    #[test]
    fn bad_domains_are_rejected() {
        for s in [
            "a@x..y", "a@.x", "a@x.", "a@-x.y", "a@x-.y", "a@x y", "a@x_y", "a@x@y",
        ] {
            assert_eq!(Address::parse(s), Err(AddressError::InvalidDomain), "{s}");
        }
        let long_label = format!("a@{}.org", "x".repeat(64));
        assert_eq!(
            Address::parse(&long_label),
            Err(AddressError::InvalidDomain)
        );
    }

    #[test]
    fn control_characters_and_nul_are_rejected() {
        for s in [
            "a\0b@x",
            "a@x\0",
            "a\r\n@x",
            "a@x\ty",
            "\"a\x07\"@x",
            "a\u{85}@x",
        ] {
            assert_eq!(
                Address::parse(s),
                Err(AddressError::ControlCharacter),
                "{s:?}"
            );
        }
    }

    #[test]
    fn quoted_string_edge_cases() {
        assert_eq!(
            Address::parse("\"unterminated@x"),
            Err(AddressError::InvalidLocalPart)
        );
        assert_eq!(Address::parse("\"a\"b@x"), Err(AddressError::MissingAt));
        assert_eq!(
            Address::parse("\"a\\é\"@x"),
            Err(AddressError::InvalidLocalPart)
        );
    }

    #[test]
    fn length_limits_are_enforced() {
        let local64 = "l".repeat(64);
        ok(&format!("{local64}@x.org"));
        assert_eq!(
            Address::parse(&format!("{local64}l@x.org")),
            Err(AddressError::LocalPartTooLong)
        );
        let domain = vec!["d".repeat(60); 4].join(".");
        assert_eq!(domain.len(), 243);
        ok(&format!("abcdefghij@{domain}"));
        assert_eq!(
            Address::parse(&format!("abcdefghijk@{domain}")),
            Err(AddressError::TooLong)
        );
        assert_eq!(
            Address::parse(&"x".repeat(100_000)),
            Err(AddressError::TooLong)
        );
    }

    #[test]
    fn multibyte_lengths_are_octets() {
        // 22 three-octet characters = 66 octets, over the 64-octet local part limit.
        let local = "用".repeat(22);
        assert_eq!(
            Address::parse(&format!("{local}@x.org")),
            Err(AddressError::LocalPartTooLong)
        );
    }
}
