//! The Received trace header (RFC 5321 §4.4) added to every accepted message.

use std::net::IpAddr;

use super::types::Transaction;

/// Builds the `Received:` header, folded, ending in CRLF.
///
/// The protocol keyword follows RFC 3848 (SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA) and
/// RFC 6531 §3.7.3 (UTF8SMTP, UTF8SMTPS, UTF8SMTPA, UTF8SMTPSA). The `for` clause is given
/// only for a single recipient, so a copy never reveals the other recipients.
pub fn received_header(
    tx: &Transaction,
    peer_ip: &str,
    hostname: &str,
    id: &str,
    date_rfc5322: &str,
) -> String {
    let mut protocol = String::from(match (tx.smtputf8, tx.esmtp) {
        (true, _) => "UTF8SMTP",
        (false, true) => "ESMTP",
        (false, false) => "SMTP",
    });
    if tx.esmtp || tx.smtputf8 {
        if tx.tls {
            protocol.push('S');
        }
        if tx.authenticated_as.is_some() {
            protocol.push('A');
        }
    }
    // RFC 5321 §4.4: TCP-info is an address literal.
    let peer = match peer_ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[IPv6:{v6}]"),
        Ok(IpAddr::V4(v4)) => format!("[{v4}]"),
        Err(_) => "[unknown]".to_owned(),
    };
    let mut header = format!(
        "Received: from {} ({peer})\r\n\tby {hostname} (Hermod) with {protocol} id {id}",
        sanitize_helo(&tx.helo)
    );
    if let [only] = tx.recipients.as_slice() {
        header.push_str(&format!("\r\n\tfor <{}>", only.address));
    }
    header.push_str(&format!(";\r\n\t{date_rfc5322}\r\n"));
    header
}

/// The client's HELO argument, reduced to characters that cannot break the header syntax.
fn sanitize_helo(helo: &str) -> String {
    if helo.is_empty() {
        return "unknown".to_owned();
    }
    helo.chars()
        .take(255)
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_:[]".contains(c) {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::mail::Address;
    use crate::protocol::smtp::types::{Recipient, Route};

    fn tx(recipients: &[&str]) -> Transaction {
        Transaction {
            helo: "client.example".into(),
            sender: None,
            recipients: recipients
                .iter()
                .map(|r| Recipient {
                    address: Address::parse(r).unwrap(),
                    route: Route::Remote,
                    notify: None,
                    orcpt: None,
                })
                .collect(),
            body: Vec::new(),
            authenticated_as: None,
            tls: false,
            smtputf8: false,
            body_8bitmime: false,
            esmtp: true,
            dsn_ret: None,
            dsn_envid: None,
        }
    }

    const DATE: &str = "Tue, 1 Jul 2025 10:00:00 +0000";

    #[test]
    fn single_recipient_esmtp() {
        let h = received_header(&tx(&["a@b.c"]), "192.0.2.7", "mx.example", "Q1", DATE);
        assert_eq!(
            h,
            "Received: from client.example ([192.0.2.7])\r\n\tby mx.example (Hermod) with ESMTP id Q1\r\n\tfor <a@b.c>;\r\n\tTue, 1 Jul 2025 10:00:00 +0000\r\n"
        );
    }

    #[test]
    fn protocol_keywords() {
        let mut t = tx(&["a@b.c", "d@e.f"]);
        t.tls = true;
        t.authenticated_as = Some("alice".into());
        let h = received_header(&t, "2001:db8::1", "mx", "Q", DATE);
        assert!(h.contains("with ESMTPSA id Q;"), "{h}");
        assert!(h.contains("([IPv6:2001:db8::1])"));
        assert!(!h.contains("for <"));
        t.smtputf8 = true;
        t.authenticated_as = None;
        assert!(received_header(&t, "::1", "mx", "Q", DATE).contains("with UTF8SMTPS id"));
        t.smtputf8 = false;
        t.esmtp = false;
        t.tls = false;
        assert!(received_header(&t, "::1", "mx", "Q", DATE).contains("with SMTP id"));
    }

    #[test]
    fn hostile_helo_is_neutralised() {
        let mut t = tx(&["a@b.c"]);
        t.helo = "evil) (by\tspoof; x\u{e9}".into();
        let h = received_header(&t, "not-an-ip", "mx", "Q", DATE);
        assert!(
            h.starts_with("Received: from evil???by?spoof??x? ([unknown])\r\n"),
            "{h}"
        );
    }
}
