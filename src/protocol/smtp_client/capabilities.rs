//! What a server offers, read from its EHLO reply (RFC 5321 §4.1.1.1).

use super::reply::Reply;

/// The service extensions of one server that change what the client sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// RFC 2920: commands may be sent in groups.
    pub pipelining: bool,
    /// RFC 3207: the session can be upgraded to TLS.
    pub starttls: bool,
    /// RFC 6531: UTF-8 addresses and headers.
    pub smtputf8: bool,
    /// RFC 6152: `BODY=8BITMIME`.
    pub eightbitmime: bool,
    /// RFC 1870: `None` when not offered; `Some(0)` when offered without a fixed limit.
    pub size: Option<u64>,
    /// RFC 3461: NOTIFY/ORCPT on RCPT, RET/ENVID on MAIL.
    pub dsn: bool,
    /// RFC 3030: BDAT (recorded only: this client always uses DATA).
    pub chunking: bool,
    /// RFC 2034: replies carry enhanced status codes.
    pub enhanced_status_codes: bool,
    /// RFC 4954: the SASL mechanisms offered, upper-cased.
    pub auth: Vec<String>,
}

impl Capabilities {
    /// Reads the extensions from a positive EHLO reply; the first line is the greeting.
    pub fn from_ehlo(reply: &Reply) -> Capabilities {
        let mut caps = Capabilities::default();
        for line in reply.lines().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            match keyword.to_ascii_uppercase().as_str() {
                "PIPELINING" => caps.pipelining = true,
                "STARTTLS" => caps.starttls = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "8BITMIME" => caps.eightbitmime = true,
                // RFC 1870 §4: a missing or unparsable limit means "no fixed limit".
                "SIZE" => caps.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0)),
                "DSN" => caps.dsn = true,
                "CHUNKING" => caps.chunking = true,
                "ENHANCEDSTATUSCODES" => caps.enhanced_status_codes = true,
                "AUTH" => caps
                    .auth
                    .extend(words.map(|mechanism| mechanism.to_ascii_uppercase())),
                _ => {}
            }
        }
        caps
    }

    /// The message is larger than the server's announced limit (RFC 1870 §6.1).
    pub fn exceeds_size(&self, len: usize) -> bool {
        matches!(self.size, Some(limit) if limit > 0 && len as u64 > limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ehlo(text: &str) -> Reply {
        Reply {
            code: 250,
            enhanced: None,
            text: text.to_string(),
        }
    }

    #[test]
    fn reads_the_extensions_we_use() {
        let caps = Capabilities::from_ehlo(&ehlo(
            "mx.example hi\npipelining\nSTARTTLS\nSMTPUTF8\n8BITMIME\nSIZE 35882577\nDSN\n\
             CHUNKING\nENHANCEDSTATUSCODES\nAUTH plain LOGIN\nX-UNKNOWN 1\n",
        ));
        assert_eq!(
            caps,
            Capabilities {
                pipelining: true,
                starttls: true,
                smtputf8: true,
                eightbitmime: true,
                size: Some(35882577),
                dsn: true,
                chunking: true,
                enhanced_status_codes: true,
                auth: vec!["PLAIN".into(), "LOGIN".into()],
            }
        );
        assert!(caps.exceeds_size(35882578));
        assert!(!caps.exceeds_size(35882577));
    }

    #[test]
    fn greeting_line_is_not_a_keyword_and_size_may_be_open() {
        let caps = Capabilities::from_ehlo(&ehlo("PIPELINING is my name\nSIZE\n"));
        assert!(!caps.pipelining);
        assert_eq!(caps.size, Some(0));
        assert!(!caps.exceeds_size(usize::MAX));
        let caps = Capabilities::from_ehlo(&ehlo("x\nSIZE lots"));
        assert_eq!(caps.size, Some(0));
        assert_eq!(Capabilities::from_ehlo(&ehlo("x")), Capabilities::default());
    }
}
