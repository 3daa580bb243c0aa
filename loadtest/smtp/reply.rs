//! SMTP replies as a client reads them: the reply-line grammar of RFC 5321 §4.2, whole
//! multi-line replies read under limits, and the check of a reply's class.

use crate::wire::{excerpt, Conn, Failure};

/// RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; some servers send more.
const MAX_REPLY_LINE: usize = 4096;

/// Continuation lines accepted in one reply before it counts as garbage.
const MAX_REPLY_LINES: usize = 200;

/// One parsed reply: its code and the text of each line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// Line texts after the code and separator.
    pub lines: Vec<String>,
}

/// Parses one reply line: `code`, whether more lines follow, and the text. RFC 5321
/// §4.2: three digits, the first 2-5, then SP, `-` or the end of the line.
pub fn parse_reply_line(line: &[u8]) -> Result<(u16, bool, String), String> {
    let digits = line.get(..3).filter(|d| d.iter().all(u8::is_ascii_digit));
    let Some(digits) = digits else {
        return Err(format!("not a reply: {}", excerpt(line)));
    };
    let code = digits
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    if !(200..600).contains(&code) {
        return Err(format!("reply code {code} out of range"));
    }
    let more = match line.get(3) {
        None | Some(b' ') => false,
        Some(b'-') => true,
        Some(_) => return Err(format!("not a reply: {}", excerpt(line))),
    };
    let text = String::from_utf8_lossy(line.get(4..).unwrap_or_default()).into_owned();
    Ok((code, more, text))
}

/// Reads a whole (possibly multi-line) reply.
pub(super) async fn read_reply(conn: &mut Conn, step: &'static str) -> Result<Reply, Failure> {
    let mut lines = Vec::new();
    let mut first = None;
    loop {
        let line = conn.read_line(step, MAX_REPLY_LINE).await?;
        let (code, more, text) =
            parse_reply_line(&line).map_err(|detail| Failure::Violation { step, detail })?;
        if *first.get_or_insert(code) != code {
            // RFC 5321 §4.2.1: every line of a multiline reply carries the same code.
            return Err(Failure::Violation {
                step,
                detail: format!("multiline reply mixes codes {} and {code}", lines.len()),
            });
        }
        lines.push(text);
        if !more {
            return Ok(Reply { code, lines });
        }
        if lines.len() >= MAX_REPLY_LINES {
            return Err(Failure::Violation {
                step,
                detail: format!("reply longer than {MAX_REPLY_LINES} lines"),
            });
        }
    }
}

/// Checks `reply` is in class `want` (2 or 3): 4yz/5yz are refusals, anything else a
/// violation (e.g. 354 to MAIL).
pub(super) fn expect(reply: &Reply, step: &'static str, want: u16) -> Result<(), Failure> {
    match reply.code / 100 {
        c if c == want => Ok(()),
        4 => Err(Failure::Rejected { step, class: "4xx" }),
        5 => Err(Failure::Rejected { step, class: "5xx" }),
        _ => Err(Failure::Violation {
            step,
            detail: format!("unexpected reply {} (wanted {want}xx)", reply.code),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncWriteExt;
    use tokio::time::Instant;

    use super::*;
    use crate::wire::tests::CHUNKS;
    use crate::wire::Limits;

    /// Feeds `script` through a pipe that passes `chunk` bytes at a time.
    async fn replies(script: &'static [u8], chunk: usize) -> Vec<Result<Reply, String>> {
        let (client, mut server) = tokio::io::duplex(chunk);
        tokio::spawn(async move {
            let _ = server.write_all(script).await;
        });
        let limits = Limits {
            timeout: Duration::from_secs(5),
            stop_at: Instant::now() + Duration::from_secs(5),
        };
        let mut conn = Conn::from_stream(Box::new(client), limits);
        let mut out = Vec::new();
        loop {
            match read_reply(&mut conn, "test").await {
                Ok(r) => out.push(Ok(r)),
                Err(Failure::Connection { .. }) => return out,
                Err(e) => {
                    out.push(Err(e.to_string()));
                    return out;
                }
            }
        }
    }

    fn reply(code: u16, lines: &[&str]) -> Result<Reply, String> {
        Ok(Reply {
            code,
            lines: lines.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[tokio::test]
    async fn replies_split_at_any_chunk_size() {
        let script = b"220 mx ESMTP\r\n250-mx\r\n250-PIPELINING\r\n250 SIZE 100\r\n354\r\n";
        for chunk in CHUNKS {
            assert_eq!(
                replies(script, chunk).await,
                vec![
                    reply(220, &["mx ESMTP"]),
                    reply(250, &["mx", "PIPELINING", "SIZE 100"]),
                    reply(354, &[""]),
                ],
                "chunk {chunk}"
            );
        }
    }

    #[tokio::test]
    async fn hostile_replies_are_violations() {
        let cases: [(&'static [u8], &str); 6] = [
            (
                b"hello\r\n",
                "test: protocol violation: not a reply: \"hello\"",
            ),
            (
                b"999 no\r\n",
                "test: protocol violation: reply code 999 out of range",
            ),
            (b"25\r\n", "test: protocol violation: not a reply: \"25\""),
            (
                b"250x\r\n",
                "test: protocol violation: not a reply: \"250x\"",
            ),
            (
                b"250-a\r\n251 b\r\n",
                "test: protocol violation: multiline reply mixes codes 1 and 251",
            ),
            (
                b"220 bare\n",
                "test: protocol violation: bare LF in \"220 bare\"",
            ),
        ];
        for chunk in [1, 3, 512] {
            for (script, want) in cases {
                assert_eq!(replies(script, chunk).await, vec![Err(want.to_string())]);
            }
        }
        let long: &'static [u8] = Box::leak(vec![b'2'; 10_000].into_boxed_slice());
        assert_eq!(
            replies(long, 512).await,
            vec![Err(
                "test: protocol violation: line longer than 4096 octets".to_string()
            )]
        );
        let endless: &'static [u8] =
            Box::leak("250-x\r\n".repeat(300).into_bytes().into_boxed_slice());
        assert_eq!(
            replies(endless, 512).await,
            vec![Err(
                "test: protocol violation: reply longer than 200 lines".to_string()
            )]
        );
    }

    #[test]
    fn reply_classes() {
        let r = |code| Reply {
            code,
            lines: vec![],
        };
        assert!(expect(&r(250), "mail", 2).is_ok());
        assert!(matches!(
            expect(&r(451), "mail", 2),
            Err(Failure::Rejected { class: "4xx", .. })
        ));
        assert!(matches!(
            expect(&r(550), "rcpt", 2),
            Err(Failure::Rejected { class: "5xx", .. })
        ));
        assert!(matches!(
            expect(&r(354), "mail", 2),
            Err(Failure::Violation { .. })
        ));
        assert!(matches!(
            expect(&r(250), "data", 3),
            Err(Failure::Violation { .. })
        ));
    }
}
