//! Delivery status notifications (RFC 3464) built with mail-builder: a
//! `multipart/report; report-type=delivery-status` with a human-readable part, the
//! `message/delivery-status` fields, and the original message or its headers.
//!
//! [`build_dsn`] also applies the rules of when NOT to send one: never to the null sender
//! (RFC 3461 §6.2, RFC 5321 §4.5.5: no bounce for a bounce) and never for an event the
//! recipient's NOTIFY did not ask for (RFC 3461 §4.1).

use std::fmt::Write as _;

use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;
use mail_builder::MessageBuilder;

use crate::storage::{Notify, Ret};

/// RFC 3464 §2.3.3 Action: what happened to one recipient.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Permanently undeliverable (or expired).
    Failed,
    /// Still being retried.
    Delayed,
    /// Delivered to the recipient's mailbox or accepted by the final MTA.
    Delivered,
    /// Relayed to an MTA that does not do DSNs: no further notices will come.
    Relayed,
    /// Delivered and forwarded to several addresses (an alias).
    Expanded,
}

impl Action {
    /// The RFC 3464 keyword.
    fn keyword(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Delivered => "delivered",
            Action::Relayed => "relayed",
            Action::Expanded => "expanded",
        }
    }

    /// Whether NOTIFY asks for this event. RFC 3461 §4.1: without NOTIFY the MTA reports
    /// FAILURE, and DELAY at its discretion; Hermod reports both.
    fn requested_by(self, notify: Option<Notify>) -> bool {
        let notify = notify.unwrap_or(Notify {
            success: false,
            failure: true,
            delay: true,
        });
        match self {
            Action::Failed => notify.failure,
            Action::Delayed => notify.delay,
            Action::Delivered | Action::Relayed | Action::Expanded => notify.success,
        }
    }
}

/// Everything a DSN says about one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DsnRecipient<'a> {
    /// The recipient address as we received it (Final-Recipient).
    pub address: &'a str,
    /// ORCPT from RCPT TO (`addr-type;xtext`), for Original-Recipient.
    pub orcpt: Option<&'a str>,
    /// NOTIFY from RCPT TO; `None` = absent (failure and delay are reported).
    pub notify: Option<Notify>,
    /// What happened.
    pub action: Action,
    /// Enhanced status code (RFC 3463), e.g. `"5.1.1"`.
    pub status: &'a str,
    /// The remote host that answered, e.g. `"mx.example.org"`.
    pub remote_mta: Option<&'a str>,
    /// The diagnostic, e.g. `"smtp; 550 5.1.1 no such user"`.
    pub diagnostic: Option<&'a str>,
    /// Time of the last attempt, unix seconds.
    pub last_attempt: Option<i64>,
    /// For `Delayed`: when the queue gives up, unix seconds.
    pub will_retry_until: Option<i64>,
}

/// The input of [`build_dsn`]: the message's envelope and the recipients to report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DsnRequest<'a> {
    /// Our host name (Reporting-MTA, the MAILER-DAEMON address, the Message-ID).
    pub reporting_mta: &'a str,
    /// The original envelope sender: the DSN goes to it; `""` is the null sender.
    pub sender: &'a str,
    /// ENVID from MAIL FROM.
    pub envid: Option<&'a str>,
    /// RET from MAIL FROM; `None` returns the full message.
    pub ret: Option<Ret>,
    /// When the original arrived, unix seconds.
    pub arrival_date: i64,
    /// The recipients to report on (those whose NOTIFY excludes their action are left out).
    pub recipients: Vec<DsnRecipient<'a>>,
    /// The original message (headers and body).
    pub original: &'a [u8],
    /// The current time, unix seconds (the Date header).
    pub now: i64,
    /// Makes the Message-ID unique (e.g. the queue id and a counter mixed, or random).
    pub message_id_seed: u64,
}

/// Build the DSN message, or `None` when none may be sent: null sender, or no recipient
/// whose NOTIFY asks for its action. The result is a complete RFC 5322 message with CRLF
/// line ends, to be queued with the null sender `<>` to `req.sender`.
pub fn build_dsn(req: &DsnRequest) -> Option<Vec<u8>> {
    if req.sender.is_empty() || req.sender == "<>" {
        return None;
    }
    let reported: Vec<&DsnRecipient> = req
        .recipients
        .iter()
        .filter(|r| r.action.requested_by(r.notify))
        .collect();
    if reported.is_empty() {
        return None;
    }
    let host = clean(req.reporting_mta);
    let has = |action| reported.iter().any(|r| r.action == action);
    let subject = if has(Action::Failed) {
        "Undelivered Mail Returned to Sender"
    } else if has(Action::Delayed) {
        "Delayed Mail (still being retried)"
    } else {
        "Successful Mail Delivery Report"
    };

    let original = match req.ret {
        // RFC 3462: text/rfc822-headers carries the header section only.
        Some(Ret::Headers) => MimePart::new(
            ContentType::new("text/rfc822-headers"),
            header_section(req.original),
        )
        .transfer_encoding(identity_encoding(header_section(req.original))),
        // RFC 3461 §4.3: without RET the MTA may return the full message.
        Some(Ret::Full) | None => MimePart::new(ContentType::new("message/rfc822"), req.original)
            .transfer_encoding(identity_encoding(req.original)),
    };
    let status = delivery_status(req, &host, &reported);
    // RFC 2046 §5.2.1 and RFC 3464 §2.1: message/* parts use an identity encoding.
    let status_encoding = identity_encoding(status.as_bytes());
    let report = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "delivery-status"),
        vec![
            MimePart::new(ContentType::new("text/plain"), human_text(&host, &reported)),
            // As bytes: a text body would get a charset parameter, which this type lacks.
            MimePart::new(
                ContentType::new("message/delivery-status"),
                status.into_bytes(),
            )
            .transfer_encoding(status_encoding),
            original,
        ],
    );
    let message = MessageBuilder::new()
        .from((
            "Mail Delivery System".to_owned(),
            format!("MAILER-DAEMON@{host}"),
        ))
        .to(clean(req.sender))
        .subject(subject)
        .date(req.now)
        .message_id(format!(
            "{:016x}.{:x}.dsn@{host}",
            req.message_id_seed, req.now
        ))
        // RFC 3834 §5: an automatic reply; auto-responders must not answer it.
        .header("Auto-Submitted", Raw::new("auto-replied"))
        .body(report);
    message.write_to_vec().ok()
}

/// The `message/delivery-status` body (RFC 3464 §2.2 and §2.3).
fn delivery_status(req: &DsnRequest, host: &str, recipients: &[&DsnRecipient]) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write!(out, "Reporting-MTA: dns; {host}\r\n");
    if let Some(envid) = req.envid {
        let _ = write!(out, "Original-Envelope-Id: {}\r\n", clean(envid));
    }
    let _ = write!(out, "Arrival-Date: {}\r\n", rfc5322_date(req.arrival_date));
    for r in recipients {
        out.push_str("\r\n");
        let _ = write!(out, "Final-Recipient: rfc822; {}\r\n", clean(r.address));
        if let Some(orcpt) = r.orcpt {
            let _ = write!(out, "Original-Recipient: {}\r\n", original_recipient(orcpt));
        }
        let _ = write!(out, "Action: {}\r\n", r.action.keyword());
        let _ = write!(out, "Status: {}\r\n", clean(r.status));
        if let Some(mta) = r.remote_mta {
            let _ = write!(out, "Remote-MTA: dns; {}\r\n", clean(mta));
        }
        if let Some(diagnostic) = r.diagnostic {
            let _ = write!(out, "Diagnostic-Code: {}\r\n", clean(diagnostic));
        }
        if let Some(at) = r.last_attempt {
            let _ = write!(out, "Last-Attempt-Date: {}\r\n", rfc5322_date(at));
        }
        if let (Action::Delayed, Some(until)) = (r.action, r.will_retry_until) {
            let _ = write!(out, "Will-Retry-Until: {}\r\n", rfc5322_date(until));
        }
    }
    out
}

/// The human-readable first part (RFC 3464 §2.1: first part of the report).
fn human_text(host: &str, recipients: &[&DsnRecipient]) -> String {
    let mut out = format!("This is the mail system at host {host}.\r\n\r\n");
    let sections = [
        (
            Action::Failed,
            "Your message could not be delivered to the following recipients. This is a \
             permanent error; the mail system has given up:",
        ),
        (
            Action::Delayed,
            "Your message has not been delivered yet to the following recipients. The mail \
             system will keep trying; you do not need to send it again:",
        ),
        (
            Action::Delivered,
            "Your message was delivered to the following recipients:",
        ),
        (
            Action::Relayed,
            "Your message was relayed to a system that sends no further notifications, for \
             the following recipients:",
        ),
        (
            Action::Expanded,
            "Your message was delivered and forwarded for the following recipients:",
        ),
    ];
    for (action, intro) in sections {
        let mut group = recipients.iter().filter(|r| r.action == action).peekable();
        if group.peek().is_none() {
            continue;
        }
        out.push_str(intro);
        out.push_str("\r\n\r\n");
        for r in group {
            let _ = write!(out, "<{}>", clean(r.address));
            if let Some(d) = r.diagnostic {
                let _ = write!(out, ": {}", clean(d));
            }
            if let Some(until) = r.will_retry_until.filter(|_| action == Action::Delayed) {
                let _ = write!(out, " (retried until {})", rfc5322_date(until));
            }
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
    }
    out.push_str("The delivery report and the original message are attached.\r\n");
    out
}

/// RFC 3464 §2.3.1: `Original-Recipient: addr-type; address` with the ORCPT xtext
/// (RFC 3461 §4) decoded; a value that does not decode is shown as received.
fn original_recipient(orcpt: &str) -> String {
    match orcpt.split_once(';') {
        Some((kind, xtext)) => {
            let address = xtext_decode(xtext.trim()).unwrap_or_else(|| xtext.trim().to_owned());
            format!("{}; {}", clean(kind.trim()), clean(&address))
        }
        None => clean(orcpt),
    }
}

/// Decode RFC 3461 §4 xtext (`+XX` hex escapes); `None` if malformed.
fn xtext_decode(xtext: &str) -> Option<String> {
    let mut out = Vec::with_capacity(xtext.len());
    let mut bytes = xtext.bytes();
    while let Some(b) = bytes.next() {
        if b == b'+' {
            let hex = [bytes.next()?, bytes.next()?];
            let hex = std::str::from_utf8(&hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

/// A header-field value with control characters (CR, LF, NUL, ...) turned into spaces:
/// remote replies and envelope values must not inject fields or lines.
fn clean(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The header section of a message, through the blank line that ends it (the whole
/// input if there is no body).
fn header_section(message: &[u8]) -> &[u8] {
    let crlf = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    let lf = message.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let end = match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(message.len()),
    };
    &message[..end]
}

/// `7bit` for pure ASCII, else `8bit` (RFC 2045 §6.2; the content is passed through).
fn identity_encoding(content: &[u8]) -> &'static str {
    if content.is_ascii() {
        "7bit"
    } else {
        "8bit"
    }
}

/// RFC 5322 §3.3 date-time in UTC; the epoch for an out-of-range time.
fn rfc5322_date(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .to_rfc2822()
}

#[cfg(test)]
mod tests;
