//! IMAP server responses for the load modes: one response read whole (its lines and the
//! literals `{n}` they announce, RFC 3501 §4.3), then classified as a continuation
//! request, an untagged response or a tagged completion (RFC 3501 §7).

use tokio::io::{AsyncBufRead, AsyncReadExt};

use crate::wire::{excerpt, read_crlf_line, LineError};

/// One response: its lines joined (each literal left as its `{n}` announcement), and
/// the octets of the literals, which are read and dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The response's lines, without CRLFs and literal contents.
    pub line: Vec<u8>,
    /// Octets of literal data the response carried.
    pub literal_octets: u64,
}

/// The literal a line ends with: `{n}` or `{n+}` (RFC 7888) before the CRLF.
pub fn literal_size(line: &[u8]) -> Option<u64> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let digits = &body[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Reads one whole response: a line, and while it ends with a literal announcement,
/// exactly that many octets and the line continuing after them. The lines together
/// may not exceed `max_line` octets, nor a single literal `max_literal`.
pub async fn read_response<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max_line: usize,
    max_literal: u64,
) -> Result<Response, LineError> {
    let mut response = Response {
        line: Vec::new(),
        literal_octets: 0,
    };
    loop {
        let part = read_crlf_line(reader, max_line).await?;
        response.line.extend_from_slice(&part);
        if response.line.len() > max_line {
            return Err(LineError::TooLong(max_line));
        }
        let Some(n) = literal_size(&part) else {
            return Ok(response);
        };
        if n > max_literal {
            return Err(LineError::TooLong(
                usize::try_from(max_literal).unwrap_or(usize::MAX),
            ));
        }
        let got = tokio::io::copy(&mut (&mut *reader).take(n), &mut tokio::io::sink()).await?;
        if got < n {
            return Err(LineError::Eof);
        }
        response.literal_octets += n;
    }
}

/// A tagged completion's status (RFC 3501 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The command succeeded.
    Ok,
    /// The command failed.
    No,
    /// The command was not understood.
    Bad,
}

/// What a response is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `+ ...`: the server waits for a literal or IDLE's DONE (RFC 3501 §7.5).
    Continuation,
    /// `* N EXISTS` (RFC 3501 §7.3.1).
    Exists(u32),
    /// `* N EXPUNGE` (RFC 3501 §7.4.1).
    Expunge,
    /// `* BYE ...`: the server is closing (RFC 3501 §7.1.5).
    Bye,
    /// `* OK ...` (greetings and response codes).
    UntaggedOk,
    /// `* PREAUTH ...`: a greeting that logs the client in (RFC 3501 §7.1.4).
    Preauth,
    /// Any other well-formed untagged response (FLAGS, FETCH, CAPABILITY, ...).
    Untagged,
    /// A tagged completion.
    Tagged {
        /// The tag it answers.
        tag: String,
        /// OK, NO or BAD.
        status: Status,
    },
}

/// Untagged keywords of RFC 3501 §7 and the common extensions (RFC 5161 ENABLED,
/// RFC 4731 ESEARCH, RFC 2971 ID, RFC 2342 NAMESPACE, RFC 2087 QUOTA).
const UNTAGGED: [&str; 13] = [
    "NO",
    "BAD",
    "CAPABILITY",
    "LIST",
    "LSUB",
    "STATUS",
    "SEARCH",
    "FLAGS",
    "ENABLED",
    "ESEARCH",
    "ID",
    "NAMESPACE",
    "QUOTA",
];

/// Untagged keywords that follow a message number (RFC 3501 §7.3, §7.4).
const NUMBERED: [&str; 3] = ["RECENT", "FETCH", "EXPUNGE"];

/// The first space-separated word of `text` and the rest.
fn word(text: &[u8]) -> (&[u8], &[u8]) {
    match text.iter().position(|&b| b == b' ') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, &[]),
    }
}

fn keyword(w: &[u8]) -> String {
    String::from_utf8_lossy(w).to_ascii_uppercase()
}

/// Classifies a response line; anything the grammar does not allow is an error text.
pub fn classify(line: &[u8]) -> Result<Kind, String> {
    if line == b"+" || line.starts_with(b"+ ") {
        return Ok(Kind::Continuation);
    }
    let junk = || format!("not an IMAP response: {}", excerpt(line));
    if let Some(rest) = line.strip_prefix(b"* ") {
        let (first, rest) = word(rest);
        if !first.is_empty() && first.iter().all(u8::is_ascii_digit) {
            let n: u32 = std::str::from_utf8(first)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(junk)?;
            let what = keyword(word(rest).0);
            return match what.as_str() {
                "EXISTS" => Ok(Kind::Exists(n)),
                "EXPUNGE" => Ok(Kind::Expunge),
                w if NUMBERED.contains(&w) => Ok(Kind::Untagged),
                _ => Err(junk()),
            };
        }
        return match keyword(first).as_str() {
            "OK" => Ok(Kind::UntaggedOk),
            "BYE" => Ok(Kind::Bye),
            "PREAUTH" => Ok(Kind::Preauth),
            w if UNTAGGED.contains(&w) => Ok(Kind::Untagged),
            _ => Err(junk()),
        };
    }
    // RFC 3501 §9: a tag is one or more ASTRING-CHARs other than "+".
    let (tag, rest) = word(line);
    let tag_ok = !tag.is_empty()
        && tag
            .iter()
            .all(|&b| b.is_ascii_graphic() && !b"(){%*\"\\+".contains(&b));
    if !tag_ok {
        return Err(junk());
    }
    let status = match keyword(word(rest).0).as_str() {
        "OK" => Status::Ok,
        "NO" => Status::No,
        "BAD" => Status::Bad,
        _ => return Err(junk()),
    };
    Ok(Kind::Tagged {
        tag: String::from_utf8_lossy(tag).into_owned(),
        status,
    })
}

/// `s` as an IMAP quoted string (RFC 3501 §4.3), for LOGIN's user and password.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::tests::{Chunked, CHUNKS};

    async fn responses(data: &[u8], chunk: usize) -> Vec<Result<Response, String>> {
        let mut r = Chunked::reader(data, chunk);
        let mut out = Vec::new();
        loop {
            match read_response(&mut r, 256, 64).await {
                Ok(resp) => out.push(Ok(resp)),
                Err(LineError::Eof) => return out,
                Err(e) => {
                    out.push(Err(e.to_string()));
                    return out;
                }
            }
        }
    }

    fn resp(line: &[u8], literal_octets: u64) -> Result<Response, String> {
        Ok(Response {
            line: line.to_vec(),
            literal_octets,
        })
    }

    #[tokio::test]
    async fn literals_are_read_exactly_at_any_chunk_size() {
        let data = b"* 1 FETCH (BODY[] {12}\r\nline1\r\n{}\r\nx)\r\n\
                     * 2 FETCH (ENVELOPE (NIL {3}\r\n\r\n\r NIL))\r\na1 OK done\r\n";
        for chunk in CHUNKS {
            assert_eq!(
                responses(data, chunk).await,
                vec![
                    resp(b"* 1 FETCH (BODY[] {12})", 12),
                    resp(b"* 2 FETCH (ENVELOPE (NIL {3} NIL))", 3),
                    resp(b"a1 OK done", 0),
                ],
                "chunk {chunk}"
            );
        }
    }

    #[tokio::test]
    async fn hostile_responses_are_errors() {
        for chunk in CHUNKS {
            assert_eq!(
                responses(b"* 1 FETCH (BODY[] {65}\r\n", chunk).await,
                vec![Err("line longer than 64 octets".to_string())]
            );
            // A literal cut short by the server closing is a closed connection.
            assert!(responses(b"* 1 FETCH (BODY[] {10}\r\nabc", chunk)
                .await
                .is_empty());
            assert_eq!(
                responses(b"* OK hi\n", chunk).await,
                vec![Err("bare LF in \"* OK hi\"".to_string())]
            );
            let long = [&[b'*'; 300][..], b"\r\n"].concat();
            assert_eq!(
                responses(&long, chunk).await,
                vec![Err("line longer than 256 octets".to_string())]
            );
            // Literal lines add up: many small literals cannot grow a response unbounded.
            let many = b"* 1 FETCH ({1}\r\nx{1}\r\nx".repeat(40);
            assert_eq!(
                responses(&many, chunk).await,
                vec![Err("line longer than 256 octets".to_string())]
            );
        }
    }

    #[test]
    fn literal_announcements() {
        assert_eq!(literal_size(b"a APPEND INBOX {310}"), Some(310));
        assert_eq!(literal_size(b"x {5+}"), Some(5));
        assert_eq!(literal_size(b"x {0}"), Some(0));
        for no in [
            &b"x {}"[..],
            b"x {a}",
            b"x 5}",
            b"x {5} ",
            b"{99999999999999999999}",
        ] {
            assert_eq!(literal_size(no), None, "{no:?}");
        }
    }

    #[test]
    fn classification() {
        assert_eq!(classify(b"+ idling"), Ok(Kind::Continuation));
        assert_eq!(classify(b"+"), Ok(Kind::Continuation));
        assert_eq!(classify(b"* 23 EXISTS"), Ok(Kind::Exists(23)));
        assert_eq!(classify(b"* 3 expunge"), Ok(Kind::Expunge));
        assert_eq!(classify(b"* 1 FETCH (FLAGS ())"), Ok(Kind::Untagged));
        assert_eq!(classify(b"* OK [UIDVALIDITY 1] x"), Ok(Kind::UntaggedOk));
        assert_eq!(classify(b"* BYE bye"), Ok(Kind::Bye));
        assert_eq!(classify(b"* PREAUTH hi"), Ok(Kind::Preauth));
        assert_eq!(classify(b"* FLAGS (\\Seen)"), Ok(Kind::Untagged));
        assert_eq!(
            classify(b"a12 NO [TRYCREATE] no"),
            Ok(Kind::Tagged {
                tag: "a12".into(),
                status: Status::No
            })
        );
        assert_eq!(
            classify(b"a1 bad what"),
            Ok(Kind::Tagged {
                tag: "a1".into(),
                status: Status::Bad
            })
        );
        for junk in [
            &b"hello"[..],
            b"",
            b"* ",
            b"* hello world",
            b"* 1 WHAT",
            b"* 99999999999 EXISTS",
            b"+OK pop3",
            b"a1 YES",
            b"\x00\xff OK",
            b"a{1 OK",
            b"220 mail ESMTP",
        ] {
            assert!(classify(junk).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(quoted("alice@example.test"), "\"alice@example.test\"");
        assert_eq!(quoted("p\"w\\"), "\"p\\\"w\\\\\"");
    }
}
