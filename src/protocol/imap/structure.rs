//! ENVELOPE, BODY and BODYSTRUCTURE (RFC 3501 §7.4.2), computed once per message.
//!
//! Delivery and APPEND call [`summarize`] and store the [`MessageSummary`], so FETCH
//! never reparses a message. MIME structure comes from mail-parser; header values are
//! taken raw from the message bytes because IMAP sends them as they appear.

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};

use super::address::push_address_list;
use super::wire::{push_nstring, push_string};

/// What FETCH needs about a message without reading it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSummary {
    /// The ENVELOPE s-expression exactly as sent on the wire.
    pub envelope: String,
    /// The BODYSTRUCTURE s-expression (extended form).
    pub body_structure: String,
    /// The BODY s-expression (non-extended form).
    pub body: String,
    /// Octets of the top-level header, blank line included (RFC822.HEADER size).
    pub header_len: u32,
    /// RFC822.SIZE: octets of the whole message.
    pub size: u64,
}

/// The stored form of a message's summary (postcard), as IMAP FETCH reads it back.
pub fn encoded_summary(raw: &[u8]) -> Option<Vec<u8>> {
    postcard::to_allocvec(&summarize(raw)).ok()
}

/// Computes the summary of a raw message; garbage yields a text/plain summary, never a panic.
pub fn summarize(raw: &[u8]) -> MessageSummary {
    match MessageParser::default().parse(raw) {
        Some(msg) if !msg.parts.is_empty() => {
            let root = &msg.parts[0];
            MessageSummary {
                envelope: envelope(raw, root),
                body_structure: body_of_message(raw, &msg, true),
                body: body_of_message(raw, &msg, false),
                header_len: root.offset_body.min(len_u32(raw)),
                size: raw.len() as u64,
            }
        }
        _ => MessageSummary {
            envelope: EMPTY_ENVELOPE.to_string(),
            body_structure: fallback_body(raw, true),
            body: fallback_body(raw, false),
            header_len: 0,
            size: raw.len() as u64,
        },
    }
}

const EMPTY_ENVELOPE: &str = "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)";

fn len_u32(raw: &[u8]) -> u32 {
    u32::try_from(raw.len()).unwrap_or(u32::MAX)
}

/// The unfolded, trimmed raw value of the first header `name` of `part`.
pub(crate) fn raw_header(raw: &[u8], part: &MessagePart<'_>, name: &str) -> Option<String> {
    let h = part
        .headers
        .iter()
        .find(|h| h.name.as_str().eq_ignore_ascii_case(name))?;
    let bytes = raw.get(h.offset_start as usize..h.offset_end as usize)?;
    // RFC 5322 §2.2.3: unfolding removes the CRLF before folding whitespace.
    let unfolded: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| *b != b'\r' && *b != b'\n')
        .collect();
    Some(String::from_utf8_lossy(&unfolded).trim().to_string())
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

fn envelope(raw: &[u8], root: &MessagePart<'_>) -> String {
    let h = |name| nonempty(raw_header(raw, root, name));
    let from = h("From");
    // RFC 3501 §7.4.2: absent or empty Sender/Reply-To take the value of From.
    let sender = h("Sender").or_else(|| from.clone());
    let reply_to = h("Reply-To").or_else(|| from.clone());
    let mut out = String::from("(");
    push_nstring(&mut out, h("Date").as_deref());
    out.push(' ');
    push_nstring(&mut out, h("Subject").as_deref());
    for list in [from, sender, reply_to, h("To"), h("Cc"), h("Bcc")] {
        out.push(' ');
        push_address_list(&mut out, list.as_deref());
    }
    out.push(' ');
    push_nstring(&mut out, h("In-Reply-To").as_deref());
    out.push(' ');
    push_nstring(&mut out, h("Message-ID").as_deref());
    out.push(')');
    out
}

fn body_of_message(raw: &[u8], msg: &Message<'_>, extended: bool) -> String {
    let mut out = String::new();
    push_part(&mut out, raw, msg, 0, extended, 0);
    out
}

// Nesting deeper than this is hostile; mail-parser caps it too, this is belt and braces.
const MAX_DEPTH: usize = 64;

fn push_part(
    out: &mut String,
    raw: &[u8],
    msg: &Message<'_>,
    idx: usize,
    extended: bool,
    depth: usize,
) {
    let Some(part) = msg.parts.get(idx) else {
        out.push_str(&fallback_body(b"", extended));
        return;
    };
    let ct = part.content_type();
    let ctype = ct.map(|c| c.ctype().to_ascii_uppercase());
    let subtype = ct.and_then(|c| c.subtype()).map(str::to_ascii_uppercase);

    let body_bytes = raw
        .get(part.offset_body as usize..part.offset_end as usize)
        .unwrap_or_default();
    let children: Option<&[u32]> = match &part.body {
        PartType::Multipart(children) => Some(children),
        // A multipart whose boundary never appears: mail-parser keeps it as one leaf.
        _ if ctype.as_deref() == Some("MULTIPART") => Some(&[]),
        _ => None,
    };
    if let Some(children) = children {
        out.push('(');
        if children.is_empty() || depth >= MAX_DEPTH {
            // RFC 3501 body-type-mpart needs at least one body: describe the raw content
            // as text/plain, which is also what BODY[1] returns for it.
            out.push_str(&fallback_body(body_bytes, extended));
        } else {
            for child in children {
                push_part(out, raw, msg, *child as usize, extended, depth + 1);
            }
        }
        out.push(' ');
        push_string(out, subtype.as_deref().unwrap_or("MIXED"));
        if extended {
            out.push(' ');
            push_params(out, ct.and_then(|c| c.attributes()));
            out.push(' ');
            push_disposition(out, part);
            out.push(' ');
            push_language(out, raw, part);
            out.push(' ');
            push_nstring(out, raw_header(raw, part, "Content-Location").as_deref());
        }
        out.push(')');
        return;
    }

    let (ctype, subtype) = match (ctype, subtype) {
        (Some(t), Some(s)) => (t, s),
        (Some(t), None) if t == "TEXT" => (t, "PLAIN".to_string()),
        (Some(t), None) => (t, String::new()),
        // RFC 2045 §5.2: no Content-Type means text/plain; charset=us-ascii.
        (None, _) => ("TEXT".to_string(), "PLAIN".to_string()),
    };
    out.push('(');
    push_string(out, &ctype);
    out.push(' ');
    push_string(out, &subtype);
    out.push(' ');
    match ct {
        Some(c) => push_params(out, c.attributes()),
        None if ctype == "TEXT" => out.push_str("(\"CHARSET\" \"US-ASCII\")"),
        None => out.push_str("NIL"),
    }
    out.push(' ');
    push_nstring(out, raw_header(raw, part, "Content-ID").as_deref());
    out.push(' ');
    push_nstring(out, raw_header(raw, part, "Content-Description").as_deref());
    out.push(' ');
    let encoding = nonempty(raw_header(raw, part, "Content-Transfer-Encoding"))
        .map(|e| e.to_ascii_uppercase())
        .unwrap_or_else(|| "7BIT".to_string());
    push_string(out, &encoding);
    out.push(' ');
    out.push_str(&body_bytes.len().to_string());

    let is_message = ctype == "MESSAGE" && matches!(subtype.as_str(), "RFC822" | "GLOBAL");
    if is_message {
        // RFC 3501 body-type-msg: envelope, body and lines of the encapsulated message.
        out.push(' ');
        match &part.body {
            PartType::Message(inner) if !inner.parts.is_empty() && depth < MAX_DEPTH => {
                out.push_str(&envelope(raw, &inner.parts[0]));
                out.push(' ');
                push_part(out, raw, inner, 0, extended, depth + 1);
            }
            _ => {
                out.push_str(EMPTY_ENVELOPE);
                out.push(' ');
                out.push_str(&fallback_body(body_bytes, extended));
            }
        }
        out.push(' ');
        out.push_str(&count_lines(body_bytes).to_string());
    } else if ctype == "TEXT" {
        out.push(' ');
        out.push_str(&count_lines(body_bytes).to_string());
    }
    if extended {
        out.push(' ');
        push_nstring(out, raw_header(raw, part, "Content-MD5").as_deref());
        out.push(' ');
        push_disposition(out, part);
        out.push(' ');
        push_language(out, raw, part);
        out.push(' ');
        push_nstring(out, raw_header(raw, part, "Content-Location").as_deref());
    }
    out.push(')');
}

/// A text/plain structure for bytes that did not parse as a message.
fn fallback_body(body: &[u8], extended: bool) -> String {
    let mut out = format!(
        "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" {} {}",
        body.len(),
        count_lines(body)
    );
    if extended {
        out.push_str(" NIL NIL NIL NIL");
    }
    out.push(')');
    out
}

/// body-fld-lines: lines of the encoded body; a final unterminated line counts.
fn count_lines(body: &[u8]) -> usize {
    let lf = body.iter().filter(|b| **b == b'\n').count();
    match body.last() {
        Some(b'\n') | None => lf,
        Some(_) => lf + 1,
    }
}

fn push_params(out: &mut String, attrs: Option<&[mail_parser::Attribute<'_>]>) {
    match attrs {
        Some(attrs) if !attrs.is_empty() => {
            out.push('(');
            for (i, a) in attrs.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                push_string(out, &a.name.to_ascii_uppercase());
                out.push(' ');
                push_string(out, &a.value);
            }
            out.push(')');
        }
        _ => out.push_str("NIL"),
    }
}

fn push_disposition(out: &mut String, part: &MessagePart<'_>) {
    let Some(d) = part.content_disposition() else {
        out.push_str("NIL");
        return;
    };
    out.push('(');
    push_string(out, &d.ctype().to_ascii_uppercase());
    out.push(' ');
    push_params(out, d.attributes());
    out.push(')');
}

fn push_language(out: &mut String, raw: &[u8], part: &MessagePart<'_>) {
    let Some(value) = nonempty(raw_header(raw, part, "Content-Language")) else {
        out.push_str("NIL");
        return;
    };
    let tags: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    match tags.as_slice() {
        [] => out.push_str("NIL"),
        [one] => push_string(out, one),
        many => {
            out.push('(');
            for (i, t) in many.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                push_string(out, t);
            }
            out.push(')');
        }
    }
}

#[cfg(test)]
#[path = "structure_tests.rs"]
mod tests;
