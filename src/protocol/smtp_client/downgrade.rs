//! The 7-bit downgrade of RFC 6152 §3: a message with 8-bit content may only go to a server
//! that offers 8BITMIME. For one that does not, every MIME leaf part whose body has 8-bit
//! octets is re-encoded (quoted-printable for text, base64 otherwise, RFC 2045 §6) and
//! labelled with the new Content-Transfer-Encoding; nested messages are converted in turn.
//! 8-bit header fields cannot be converted without changing what they say, so such a
//! message is refused and the caller bounces it (RFC 6531 §3.5 for SMTPUTF8 content).

use std::borrow::Cow;

use base64::Engine;
use mail_parser::{MessageParser, MessagePart, MimeHeaders, PartType};
use thiserror::Error;

/// Why a message cannot be sent as 7 bit.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DowngradeError {
    /// A header field (of the message or of a part) has 8-bit octets.
    #[error("5.6.3 8-bit header fields cannot be sent to a server without 8BITMIME")]
    EightBitHeaders,
    /// 8-bit octets outside any part, or inside a body that claims an encoding already.
    #[error("5.6.3 8-bit content that cannot be converted for a server without 8BITMIME")]
    Unconvertible,
}

/// Line length of base64 output (RFC 2045 §6.8).
const BASE64_LINE: usize = 76;
/// Nested messages deeper than this are not converted (hostile input).
const MAX_DEPTH: usize = 16;

/// `raw` as it may go to a server without 8BITMIME: unchanged when it is all ASCII.
pub fn seven_bit(raw: &[u8]) -> Result<Cow<'_, [u8]>, DowngradeError> {
    if raw.is_ascii() {
        return Ok(Cow::Borrowed(raw));
    }
    convert(raw, 0).map(Cow::Owned)
}

fn convert(raw: &[u8], depth: usize) -> Result<Vec<u8>, DowngradeError> {
    if depth > MAX_DEPTH {
        return Err(DowngradeError::Unconvertible);
    }
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(DowngradeError::Unconvertible)?;
    let mut edits: Vec<(usize, usize, Vec<u8>)> = Vec::new();
    for (index, part) in message.parts.iter().enumerate() {
        let (head_start, body_start, end) = span(part, raw.len());
        if !raw[head_start..body_start].is_ascii() {
            return Err(DowngradeError::EightBitHeaders);
        }
        let body = &raw[body_start..end];
        if body.is_ascii() {
            continue;
        }
        match &part.body {
            // The boundaries and sub-parts are handled part by part.
            PartType::Multipart(_) => continue,
            PartType::Message(_) => {
                let inner = convert(body, depth + 1)?;
                let head = relabel(raw, part, head_start, body_start, "7bit", false);
                edits.push((head_start, end, [head, inner].concat()));
            }
            _ => {
                // Raw 8-bit octets under an encoding label: re-encoding would change what
                // the part decodes to.
                let labelled = part.content_transfer_encoding().is_some_and(|cte| {
                    cte.eq_ignore_ascii_case("base64")
                        || cte.eq_ignore_ascii_case("quoted-printable")
                });
                if labelled {
                    return Err(DowngradeError::Unconvertible);
                }
                let text = part
                    .content_type()
                    .is_none_or(|c| c.c_type.eq_ignore_ascii_case("text"));
                let (cte, encoded) = if text {
                    ("quoted-printable", quoted_printable::encode(body))
                } else {
                    ("base64", base64_lines(body))
                };
                let head = relabel(raw, part, head_start, body_start, cte, index == 0);
                edits.push((head_start, end, [head, encoded].concat()));
            }
        }
    }
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 2);
    let mut at = 0;
    edits.sort_by_key(|e| e.0);
    for (start, end, replacement) in edits {
        if start < at {
            // Overlapping parts: the parser's view is not one we can splice.
            return Err(DowngradeError::Unconvertible);
        }
        out.extend_from_slice(&raw[at..start]);
        out.extend_from_slice(&replacement);
        at = end;
    }
    out.extend_from_slice(&raw[at..]);
    if out.is_ascii() {
        Ok(out)
    } else {
        Err(DowngradeError::Unconvertible)
    }
}

/// The part's header start, body start and end, clamped to the message.
fn span(part: &MessagePart<'_>, len: usize) -> (usize, usize, usize) {
    let clamp = |o: u32| (o as usize).min(len);
    let end = clamp(part.offset_end);
    let body = clamp(part.offset_body).min(end);
    (clamp(part.offset_header).min(body), body, end)
}

/// The part's header block with Content-Transfer-Encoding set to `cte` (and, for the
/// top-level part, MIME-Version added when missing: RFC 2045 §4).
fn relabel(
    raw: &[u8],
    part: &MessagePart<'_>,
    head_start: usize,
    body_start: usize,
    cte: &str,
    top: bool,
) -> Vec<u8> {
    let mut head = Vec::with_capacity(body_start - head_start + 64);
    let mut has_version = false;
    for header in &part.headers {
        let name = header.name.as_str();
        if name.eq_ignore_ascii_case("Content-Transfer-Encoding") {
            continue;
        }
        has_version |= name.eq_ignore_ascii_case("MIME-Version");
        let start = (header.offset_field as usize).clamp(head_start, body_start);
        let end = (header.offset_end as usize).clamp(start, body_start);
        head.extend_from_slice(&raw[start..end]);
    }
    if top && !has_version {
        head.extend_from_slice(b"MIME-Version: 1.0\r\n");
    }
    head.extend_from_slice(format!("Content-Transfer-Encoding: {cte}\r\n\r\n").as_bytes());
    head
}

fn base64_lines(body: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(body);
    let mut out = Vec::with_capacity(encoded.len() + encoded.len() / BASE64_LINE * 2 + 2);
    for line in encoded.as_bytes().chunks(BASE64_LINE) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
#[path = "downgrade_tests.rs"]
mod tests;
