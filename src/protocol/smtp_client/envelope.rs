//! The envelope of one outbound transaction and the MAIL/RCPT command lines made from it.

use thiserror::Error;

use super::capabilities::Capabilities;
use super::reply::Reply;

/// Sender, recipients and the facts about the message that choose MAIL parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundEnvelope {
    /// The reverse-path without brackets; `""` is the null sender `<>`.
    pub sender: String,
    /// The recipients to try in this transaction, in order.
    pub recipients: Vec<OutboundRecipient>,
    /// The sender, a recipient or the headers are non-ASCII: needs SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// The body has 8-bit octets: sent with `BODY=8BITMIME` when offered.
    pub eight_bit: bool,
    /// RFC 3461 `RET` (`FULL` or `HDRS`), sent only to DSN servers.
    pub ret: Option<String>,
    /// RFC 3461 `ENVID` in xtext, sent only to DSN servers.
    pub envid: Option<String>,
}

/// One forward-path with its RFC 3461 parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundRecipient {
    /// The address without brackets.
    pub address: String,
    /// RFC 3461 `NOTIFY`, e.g. `FAILURE,DELAY` or `NEVER`.
    pub notify: Option<String>,
    /// RFC 3461 `ORCPT`, e.g. `rfc822;user@example.org` (xtext already).
    pub orcpt: Option<String>,
}

impl OutboundRecipient {
    /// A recipient without DSN parameters.
    pub fn new(address: impl Into<String>) -> OutboundRecipient {
        OutboundRecipient {
            address: address.into(),
            notify: None,
            orcpt: None,
        }
    }
}

/// What became of one recipient, in the envelope's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptResult {
    /// The server took responsibility for the message (2xx after the final dot).
    Delivered(Reply),
    /// Try again later (4xx, or a reply that makes no sense at that point).
    Temporary(Reply),
    /// Do not try again: bounce (5xx).
    Permanent(Reply),
}

impl RcptResult {
    /// Classifies a reply that decides a recipient's fate.
    pub fn from_reply(reply: Reply) -> RcptResult {
        if reply.is_positive() {
            RcptResult::Delivered(reply)
        } else if reply.is_permanent() {
            RcptResult::Permanent(reply)
        } else {
            RcptResult::Temporary(reply)
        }
    }

    /// The reply behind the result.
    pub fn reply(&self) -> &Reply {
        match self {
            RcptResult::Delivered(r) | RcptResult::Temporary(r) | RcptResult::Permanent(r) => r,
        }
    }
}

/// Why a transaction is not attempted at all with this server; all are permanent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EnvelopeError {
    /// RFC 1870 §6.1: larger than the server's fixed limit.
    #[error("5.3.4 message size {size} exceeds the remote limit of {limit} octets")]
    TooBig {
        /// The message size.
        size: usize,
        /// The server's SIZE limit.
        limit: u64,
    },
    /// RFC 6531 §3.5: the message needs SMTPUTF8 and the server lacks it.
    #[error("5.6.7 the message needs SMTPUTF8, which the remote server does not offer")]
    Utf8NotOffered,
    /// The sender cannot be written into a MAIL command safely.
    #[error("5.1.7 invalid sender address {0:?}")]
    BadSender(String),
    /// No recipient to send to.
    #[error("5.1.3 no recipients")]
    NoRecipients,
}

/// True when `address` can go between `<` and `>` without breaking the command line.
pub(crate) fn address_is_safe(address: &str) -> bool {
    address.len() <= 320 // RFC 5321 §4.5.3.1.3 path limit (256) plus room for UTF-8.
        && !address
            .chars()
            .any(|c| c.is_control() || c == '<' || c == '>' || c == ' ')
}

/// RFC 3461 §4: xtext is printable ASCII without `=` (and `+XX` escapes, which pass).
fn is_xtext(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'=')
}

/// RFC 3461 §4.1: `NEVER`, or a list of `SUCCESS`, `FAILURE`, `DELAY`.
fn is_notify(value: &str) -> bool {
    value.eq_ignore_ascii_case("NEVER")
        || value.split(',').all(|v| {
            ["SUCCESS", "FAILURE", "DELAY"]
                .iter()
                .any(|k| v.eq_ignore_ascii_case(k))
        })
}

/// Whether the transaction needs SMTPUTF8: the caller says so, or an address is non-ASCII.
pub(crate) fn needs_smtputf8(envelope: &OutboundEnvelope) -> bool {
    envelope.smtputf8
        || !envelope.sender.is_ascii()
        || envelope.recipients.iter().any(|r| !r.address.is_ascii())
}

/// Checks that the server can take the message at all.
pub(crate) fn check(
    envelope: &OutboundEnvelope,
    caps: &Capabilities,
    size: usize,
) -> Result<(), EnvelopeError> {
    if envelope.recipients.is_empty() {
        return Err(EnvelopeError::NoRecipients);
    }
    if !address_is_safe(&envelope.sender) {
        return Err(EnvelopeError::BadSender(envelope.sender.clone()));
    }
    if caps.exceeds_size(size) {
        let limit = caps.size.unwrap_or(0);
        return Err(EnvelopeError::TooBig { size, limit });
    }
    if needs_smtputf8(envelope) && !caps.smtputf8 {
        return Err(EnvelopeError::Utf8NotOffered);
    }
    Ok(())
}

/// The MAIL command line (CRLF included) with the parameters this server understands.
pub(crate) fn mail_command(
    envelope: &OutboundEnvelope,
    caps: &Capabilities,
    size: usize,
) -> String {
    let mut line = format!("MAIL FROM:<{}>", envelope.sender);
    if caps.size.is_some() {
        line.push_str(&format!(" SIZE={size}"));
    }
    // Without 8BITMIME the caller sends the 7-bit downgrade (`seven_bit`) instead.
    if envelope.eight_bit && caps.eightbitmime {
        line.push_str(" BODY=8BITMIME");
    }
    if needs_smtputf8(envelope) && caps.smtputf8 {
        line.push_str(" SMTPUTF8");
    }
    if caps.dsn {
        // Invalid values are dropped rather than sent: the server would refuse the MAIL.
        if let Some(ret) = envelope
            .ret
            .as_deref()
            .filter(|r| r.eq_ignore_ascii_case("FULL") || r.eq_ignore_ascii_case("HDRS"))
        {
            line.push_str(&format!(" RET={}", ret.to_ascii_uppercase()));
        }
        // RFC 3461 §4.4: at most 100 characters.
        if let Some(envid) = envelope
            .envid
            .as_deref()
            .filter(|e| is_xtext(e) && e.len() <= 100)
        {
            line.push_str(&format!(" ENVID={envid}"));
        }
    }
    line.push_str("\r\n");
    line
}

/// The RCPT command line (CRLF included) for one recipient.
pub(crate) fn rcpt_command(recipient: &OutboundRecipient, caps: &Capabilities) -> String {
    let mut line = format!("RCPT TO:<{}>", recipient.address);
    if caps.dsn {
        if let Some(notify) = recipient.notify.as_deref().filter(|n| is_notify(n)) {
            line.push_str(&format!(" NOTIFY={}", notify.to_ascii_uppercase()));
        }
        // RFC 3461 §4.2: `addr-type ";" xtext`.
        if let Some(orcpt) = recipient
            .orcpt
            .as_deref()
            .filter(|o| is_xtext(o) && o.contains(';') && o.len() <= 500)
        {
            line.push_str(&format!(" ORCPT={orcpt}"));
        }
    }
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> OutboundEnvelope {
        OutboundEnvelope {
            sender: "a@example.org".into(),
            recipients: vec![OutboundRecipient {
                address: "b@example.net".into(),
                notify: Some("failure,DELAY".into()),
                orcpt: Some("rfc822;b+2Bx@example.net".into()),
            }],
            smtputf8: false,
            eight_bit: true,
            ret: Some("hdrs".into()),
            envid: Some("QQ314159".into()),
        }
    }

    fn full_caps() -> Capabilities {
        Capabilities {
            size: Some(1000),
            eightbitmime: true,
            smtputf8: true,
            dsn: true,
            ..Capabilities::default()
        }
    }

    #[test]
    fn parameters_follow_the_capabilities() {
        let env = envelope();
        assert_eq!(
            mail_command(&env, &full_caps(), 42),
            "MAIL FROM:<a@example.org> SIZE=42 BODY=8BITMIME RET=HDRS ENVID=QQ314159\r\n"
        );
        assert_eq!(
            rcpt_command(&env.recipients[0], &full_caps()),
            "RCPT TO:<b@example.net> NOTIFY=FAILURE,DELAY ORCPT=rfc822;b+2Bx@example.net\r\n"
        );
        let bare = Capabilities::default();
        assert_eq!(
            mail_command(&env, &bare, 42),
            "MAIL FROM:<a@example.org>\r\n"
        );
        assert_eq!(
            rcpt_command(&env.recipients[0], &bare),
            "RCPT TO:<b@example.net>\r\n"
        );
    }

    #[test]
    fn invalid_dsn_values_are_dropped() {
        let mut env = envelope();
        env.ret = Some("ALL".into());
        env.envid = Some("a=b".into());
        env.recipients[0].notify = Some("SOMETIMES".into());
        env.recipients[0].orcpt = Some("no-type".into());
        assert_eq!(
            mail_command(&env, &full_caps(), 1),
            "MAIL FROM:<a@example.org> SIZE=1 BODY=8BITMIME\r\n"
        );
        assert_eq!(
            rcpt_command(&env.recipients[0], &full_caps()),
            "RCPT TO:<b@example.net>\r\n"
        );
    }

    #[test]
    fn null_sender_and_utf8() {
        let mut env = envelope();
        env.sender = String::new();
        env.recipients[0].address = "jöran@exämple.net".into();
        let caps = full_caps();
        assert!(
            mail_command(&env, &caps, 5).starts_with("MAIL FROM:<> SIZE=5 BODY=8BITMIME SMTPUTF8")
        );
        assert_eq!(check(&env, &caps, 5), Ok(()));
        let no_utf8 = Capabilities {
            smtputf8: false,
            ..caps
        };
        assert_eq!(check(&env, &no_utf8, 5), Err(EnvelopeError::Utf8NotOffered));
    }

    #[test]
    fn checks_refuse_before_sending() {
        let env = envelope();
        assert_eq!(
            check(&env, &full_caps(), 1001),
            Err(EnvelopeError::TooBig {
                size: 1001,
                limit: 1000
            })
        );
        assert!(EnvelopeError::TooBig {
            size: 1001,
            limit: 1000
        }
        .to_string()
        .starts_with("5.3.4 "));
        let mut bad = env.clone();
        bad.sender = "a@b>\r\nRCPT TO:<c@d".into();
        assert!(matches!(
            check(&bad, &full_caps(), 1),
            Err(EnvelopeError::BadSender(_))
        ));
        bad.recipients.clear();
        assert_eq!(
            check(&bad, &full_caps(), 1),
            Err(EnvelopeError::NoRecipients)
        );
        assert!(!address_is_safe("x@y\0"));
        assert!(address_is_safe("\"quoted\"@example.org"));
    }

    #[test]
    fn results_follow_reply_classes() {
        let r = |code| Reply::local(code, "x.0.0", "t");
        assert!(matches!(
            RcptResult::from_reply(r(250)),
            RcptResult::Delivered(_)
        ));
        assert!(matches!(
            RcptResult::from_reply(r(451)),
            RcptResult::Temporary(_)
        ));
        assert!(matches!(
            RcptResult::from_reply(r(354)),
            RcptResult::Temporary(_)
        ));
        assert!(matches!(
            RcptResult::from_reply(r(550)),
            RcptResult::Permanent(_)
        ));
        assert_eq!(RcptResult::from_reply(r(550)).reply().code, 550);
    }
}
