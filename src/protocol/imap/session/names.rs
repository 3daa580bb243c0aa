//! Mailbox names on the wire. Stored names are UTF-8; an IMAP4rev1 session sends and
//! receives them in modified UTF-7 (RFC 3501 §5.1.3), a session that has enabled
//! IMAP4rev2 in UTF-8 (RFC 9051 §5.1). Every name from a client goes through
//! [`NameCodec::decode`] before use, every name to it through [`NameCodec::push`].

use thiserror::Error;

use crate::protocol::imap::mutf7::{self, Mutf7Error};
use crate::protocol::imap::wire::{is_quotable, push_string};

/// How this session spells mailbox names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameCodec {
    /// IMAP4rev1: modified UTF-7.
    Mutf7,
    /// IMAP4rev2: UTF-8.
    Utf8,
}

/// Why a name from the client is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum NameError {
    /// Not modified UTF-7 (IMAP4rev1 session).
    #[error("Mailbox name is not valid modified UTF-7: {0}")]
    Mutf7(#[from] Mutf7Error),
    /// Not UTF-8 (IMAP4rev2 session).
    #[error("Mailbox name is not valid UTF-8")]
    NotUtf8,
    /// A control character: RFC 9051 §5.1 asks for Net-Unicode (RFC 5198) names.
    #[error("Mailbox name holds a control character")]
    Control,
}

impl NameCodec {
    /// The codec of a session: UTF-8 once IMAP4rev2 is enabled.
    pub fn for_session(rev2: bool) -> NameCodec {
        if rev2 {
            NameCodec::Utf8
        } else {
            NameCodec::Mutf7
        }
    }

    /// The stored (UTF-8) form of a name or LIST pattern as the client sent it.
    pub fn decode(self, raw: &[u8]) -> Result<String, NameError> {
        let name = match self {
            NameCodec::Mutf7 => mutf7::decode(raw)?,
            NameCodec::Utf8 => String::from_utf8(raw.to_vec()).map_err(|_| NameError::NotUtf8)?,
        };
        if name.chars().any(char::is_control) {
            return Err(NameError::Control);
        }
        Ok(name)
    }

    /// Appends a stored name as the client reads it: a quoted string, or a literal when
    /// quoting cannot carry it.
    pub fn push(self, out: &mut String, name: &str) {
        match self {
            NameCodec::Mutf7 => push_string(out, &mutf7::encode(name)),
            // RFC 9051 §4.3: a quoted string may carry UTF-8 in IMAP4rev2.
            NameCodec::Utf8 if quotable_utf8(name) => {
                out.push('"');
                out.push_str(name);
                out.push('"');
            }
            NameCodec::Utf8 => push_string(out, name),
        }
    }

    /// A stored name as the client reads it, alone.
    pub fn render(self, name: &str) -> String {
        let mut out = String::new();
        self.push(&mut out, name);
        out
    }
}

fn quotable_utf8(name: &str) -> bool {
    name.chars()
        .all(|c| !c.is_ascii() || is_quotable(c.encode_utf8(&mut [0; 4])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rev1_names_are_modified_utf7() {
        let c = NameCodec::Mutf7;
        assert_eq!(c.decode(b"Entw&APw-rfe").as_deref(), Ok("Entwürfe"));
        assert_eq!(c.decode(b"INBOX").as_deref(), Ok("INBOX"));
        assert_eq!(c.render("Entwürfe"), "\"Entw&APw-rfe\"");
        assert_eq!(c.render("Tom & Jerry"), "\"Tom &- Jerry\"");
        assert_eq!(c.render("a\"b"), "{3}\r\na\"b");
        assert!(matches!(
            c.decode(b"Entw\xc3\xbcrfe"),
            Err(NameError::Mutf7(_))
        ));
        assert_eq!(c.decode(b"a&AAk-b"), Err(NameError::Control));
    }

    #[test]
    fn rev2_names_are_utf8() {
        let c = NameCodec::Utf8;
        assert_eq!(c.decode("Entwürfe".as_bytes()).as_deref(), Ok("Entwürfe"));
        assert_eq!(c.decode(b"Entw&APw-rfe").as_deref(), Ok("Entw&APw-rfe"));
        assert_eq!(c.render("Entwürfe"), "\"Entwürfe\"");
        assert_eq!(c.render("日本\\語"), "{10}\r\n日本\\語");
        assert_eq!(c.decode(b"\xff"), Err(NameError::NotUtf8));
        assert_eq!(c.decode(b"a\x7fb"), Err(NameError::Control));
        assert_eq!(c.decode("a\u{85}".as_bytes()), Err(NameError::Control));
    }
}
