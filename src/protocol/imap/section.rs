//! `BODY[section]<partial>` extraction from a stored message (RFC 3501 §6.4.5), and
//! `BINARY[part]<partial>` (RFC 3516): a part with its content-transfer-encoding undone.
//!
//! Works on the raw bytes: part boundaries come from mail-parser's offsets, and
//! HEADER.FIELDS filtering is done on the header octets themselves so what the client
//! gets is byte-for-byte what was stored. BINARY decodes base64 and quoted-printable
//! here rather than through mail-parser, which would also convert text to UTF-8.

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};

/// A section specifier: a part path (`1.2.3`, empty for the whole message) and what to
/// take from that part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Part numbers from the top, each 1-based; empty addresses the message itself.
    pub path: Vec<u32>,
    /// What of the addressed part or message to return.
    pub kind: SectionKind,
}

/// The text after the part path of a section specifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionKind {
    /// `BODY[]` for the message, `BODY[1.2]` for a part: the whole thing / the part body.
    Body,
    /// `HEADER`: the header, blank line included.
    Header,
    /// `HEADER.FIELDS (..)` or, with `not`, `HEADER.FIELDS.NOT (..)`.
    HeaderFields {
        /// Field names, compared case-insensitively.
        names: Vec<String>,
        /// True for `HEADER.FIELDS.NOT`.
        not: bool,
    },
    /// `TEXT`: the body after the header.
    Text,
    /// `MIME`: the MIME header of a part (only after a part number).
    Mime,
}

impl Section {
    /// `BODY[]`: the whole message.
    pub fn full() -> Self {
        Section {
            path: Vec::new(),
            kind: SectionKind::Body,
        }
    }

    /// A section of the top-level message.
    pub fn top(kind: SectionKind) -> Self {
        Section {
            path: Vec::new(),
            kind,
        }
    }

    /// A section of the part at `path`.
    pub fn part(path: Vec<u32>, kind: SectionKind) -> Self {
        Section { path, kind }
    }
}

/// Returns the octets `section` names, cut to `partial` (`<origin.count>`).
///
/// A part that does not exist, or a specifier that does not apply to it (HEADER of a
/// non-message part, MIME of the top level), yields an empty string, as servers answer
/// with `""` rather than an error.
pub fn extract(raw: &[u8], section: &Section, partial: Option<(u32, u32)>) -> Vec<u8> {
    let whole = select(raw, section);
    match partial {
        None => whole,
        Some((origin, count)) => {
            let start = (origin as usize).min(whole.len());
            let end = start.saturating_add(count as usize).min(whole.len());
            whole[start..end].to_vec()
        }
    }
}

/// Why a part cannot be returned decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinaryError {
    /// RFC 3516 §4.3: the part's Content-Transfer-Encoding is not one the server knows;
    /// the FETCH fails with `NO [UNKNOWN-CTE]`.
    #[error("unknown content-transfer-encoding {0:?}")]
    UnknownCte(String),
}

/// Returns `BINARY[path]`: the body of the part at `path` (the whole message when empty)
/// with its transfer encoding undone, cut to `partial` after decoding (RFC 3516 §4.2).
///
/// A part that does not exist yields an empty string, as for `BODY[]`. Multipart and
/// message parts are returned as stored (RFC 2045 §6.4: they are never encoded).
pub fn extract_binary(
    raw: &[u8],
    path: &[u32],
    partial: Option<(u32, u32)>,
) -> Result<Vec<u8>, BinaryError> {
    let whole = decoded_part(raw, path)?;
    Ok(match partial {
        None => whole,
        Some((origin, count)) => {
            let start = (origin as usize).min(whole.len());
            let end = start.saturating_add(count as usize).min(whole.len());
            whole[start..end].to_vec()
        }
    })
}

fn decoded_part(raw: &[u8], path: &[u32]) -> Result<Vec<u8>, BinaryError> {
    if path.is_empty() {
        return Ok(raw.to_vec());
    }
    let Some(msg) = MessageParser::default().parse(raw) else {
        return Ok(Vec::new());
    };
    let Some((_, part)) = resolve(&msg, path) else {
        return Ok(Vec::new());
    };
    let body = slice(raw, part.offset_body, part.offset_end);
    if matches!(part.body, PartType::Multipart(_) | PartType::Message(_)) {
        return Ok(body);
    }
    let cte = part
        .content_transfer_encoding()
        .map(|c| c.trim().to_ascii_lowercase());
    match cte.as_deref() {
        None | Some("7bit" | "8bit" | "binary" | "") => Ok(body),
        Some("base64") => Ok(decode_base64(&body)),
        Some("quoted-printable") => Ok(decode_quoted_printable(&body)),
        Some(other) => Err(BinaryError::UnknownCte(other.to_owned())),
    }
}

/// RFC 2045 §6.8 base64; characters outside the alphabet (line breaks, garbage) are
/// skipped, and decoding stops at the first `=`.
pub fn decode_base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in input {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// RFC 2045 §6.7 quoted-printable: `=XX` octets, `=` line ends are soft breaks, trailing
/// blanks of a line are transport padding; a malformed `=` is kept as it is (rule 1's
/// robustness advice).
pub fn decode_quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for line in input.split_inclusive(|b| *b == b'\n') {
        let (text, eol): (&[u8], &[u8]) = match line.strip_suffix(b"\r\n") {
            Some(t) => (t, b"\r\n"),
            None => match line.strip_suffix(b"\n") {
                Some(t) => (t, b"\n"),
                None => (line, b""),
            },
        };
        let text = text.trim_ascii_end();
        let (text, soft) = match text.strip_suffix(b"=") {
            Some(t) => (t, true),
            None => (text, false),
        };
        let mut i = 0;
        while i < text.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            match (text[i], text.get(i + 1), text.get(i + 2)) {
                (b'=', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                    let v = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                    out.push(v as u8);
                    i += 3;
                }
                (b, ..) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        if !soft {
            out.extend_from_slice(eol);
        }
    }
    out
}

fn select(raw: &[u8], section: &Section) -> Vec<u8> {
    if section.path.is_empty() && section.kind == SectionKind::Body {
        return raw.to_vec();
    }
    // Clients fetch the top-level header (fields) of every message they list: spare them
    // a MIME parse of the whole message when the header is made of plain fields.
    if section.path.is_empty() {
        if let Some(end) = plain_header_end(raw) {
            let header = &raw[..end];
            return match &section.kind {
                SectionKind::Header | SectionKind::Body => header.to_vec(),
                SectionKind::HeaderFields { names, not } => filter_fields(header, names, *not),
                SectionKind::Text => raw[end..].to_vec(),
                SectionKind::Mime => Vec::new(),
            };
        }
    }
    select_parsed(raw, section)
}

/// The end of the top-level header, just past its blank line, when every line before it
/// is a `name: value` field or a continuation; `None` leaves anything unusual to
/// mail-parser, so both paths agree on what the header is.
pub(crate) fn plain_header_end(raw: &[u8]) -> Option<usize> {
    let mut at = 0;
    for line in raw.split_inclusive(|b| *b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            return Some(at + line.len());
        }
        if !line.ends_with(b"\n") {
            return None;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if at == 0 {
                return None;
            }
        } else {
            // RFC 5322 §2.2: field names are printable ASCII other than the colon.
            let colon = line.iter().position(|b| *b == b':')?;
            if colon == 0 || !line[..colon].iter().all(u8::is_ascii_graphic) {
                return None;
            }
        }
        at += line.len();
    }
    None
}

fn select_parsed(raw: &[u8], section: &Section) -> Vec<u8> {
    let Some(msg) = MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    let Some(root) = msg.parts.first() else {
        return Vec::new();
    };
    if section.path.is_empty() {
        return from_message(raw, root, raw.len(), &section.kind);
    }
    let Some((_, part)) = resolve(&msg, &section.path) else {
        return Vec::new();
    };
    match &section.kind {
        SectionKind::Body => slice(raw, part.offset_body, part.offset_end),
        SectionKind::Mime => slice(raw, part.offset_header, part.offset_body),
        kind => match &part.body {
            // RFC 3501 §6.4.5: HEADER/TEXT after a part number need a message/rfc822 part.
            PartType::Message(inner) => match inner.parts.first() {
                Some(inner_root) => from_message(raw, inner_root, part.offset_end as usize, kind),
                None => Vec::new(),
            },
            _ => Vec::new(),
        },
    }
}

/// HEADER / HEADER.FIELDS / TEXT of a message whose root part is `root`, ending at `end`.
fn from_message(raw: &[u8], root: &MessagePart<'_>, end: usize, kind: &SectionKind) -> Vec<u8> {
    let header = slice(raw, root.offset_header, root.offset_body);
    match kind {
        SectionKind::Header => header,
        SectionKind::HeaderFields { names, not } => filter_fields(&header, names, *not),
        SectionKind::Text => raw
            .get(root.offset_body as usize..end)
            .map(<[u8]>::to_vec)
            .unwrap_or_default(),
        SectionKind::Body => raw
            .get(root.offset_header as usize..end)
            .map(<[u8]>::to_vec)
            .unwrap_or_default(),
        SectionKind::Mime => Vec::new(),
    }
}

fn slice(raw: &[u8], start: u32, end: u32) -> Vec<u8> {
    raw.get(start as usize..end as usize)
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

/// Walks a part path; returns the message owning the part and the part.
fn resolve<'m, 'x>(
    msg: &'m Message<'x>,
    path: &[u32],
) -> Option<(&'m Message<'x>, &'m MessagePart<'x>)> {
    let (first, rest) = path.split_first()?;
    let (mut owner, mut part) = step_into_message(msg, *first)?;
    for n in rest {
        (owner, part) = match &part.body {
            PartType::Multipart(children) => child(owner, children, *n)?,
            PartType::Message(inner) => step_into_message(inner, *n)?,
            _ => return None,
        };
    }
    Some((owner, part))
}

/// RFC 3501 §6.4.5: the parts of a message are those of its multipart body, or the body
/// itself as part 1 when it is not multipart.
fn step_into_message<'m, 'x>(
    msg: &'m Message<'x>,
    n: u32,
) -> Option<(&'m Message<'x>, &'m MessagePart<'x>)> {
    let root = msg.parts.first()?;
    match &root.body {
        PartType::Multipart(children) => child(msg, children, n),
        _ if n == 1 => Some((msg, root)),
        _ => None,
    }
}

fn child<'m, 'x>(
    owner: &'m Message<'x>,
    children: &[u32],
    n: u32,
) -> Option<(&'m Message<'x>, &'m MessagePart<'x>)> {
    let idx = children.get((n as usize).checked_sub(1)?)?;
    Some((owner, owner.parts.get(*idx as usize)?))
}

/// RFC 3501 §6.4.5 HEADER.FIELDS: the matching fields in order, then the blank line.
fn filter_fields(header: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    for line in header.split_inclusive(|b| *b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if !matches!(line.first(), Some(b' ' | b'\t')) {
            let name = line
                .iter()
                .position(|b| *b == b':')
                .map(|colon| line[..colon].trim_ascii());
            keep = match name {
                Some(name) => {
                    let listed = names
                        .iter()
                        .any(|n| n.as_bytes().eq_ignore_ascii_case(name));
                    listed != not
                }
                None => false,
            };
        }
        if keep {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
#[path = "section_tests.rs"]
mod tests;
