//! SASL PLAIN (RFC 4616) response decoding for POP3 AUTH (RFC 5034).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use thiserror::Error;

/// Credentials carried by a PLAIN response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainCredentials {
    /// Authorization identity; `None` when empty (act as the authcid).
    pub authzid: Option<String>,
    /// Authentication identity.
    pub user: String,
    /// Password.
    pub password: String,
}

/// Why a PLAIN response was refused; the `Display` text is the reply after `-ERR `.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SaslError {
    /// The response is not valid base64.
    #[error("Invalid base64 in SASL response")]
    Base64,
    /// The decoded response is not `authzid NUL authcid NUL passwd` in UTF-8.
    #[error("Malformed PLAIN response")]
    Malformed,
}

/// Decodes a base64 PLAIN response; `=` is the empty response (RFC 5034 §4).
pub fn decode_plain(response: &[u8]) -> Result<PlainCredentials, SaslError> {
    let decoded = if response == b"=" {
        Vec::new()
    } else {
        STANDARD.decode(response).map_err(|_| SaslError::Base64)?
    };
    let mut parts = decoded.split(|&b| b == 0);
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed);
    };
    let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).map_err(|_| SaslError::Malformed);
    // RFC 4616 §2: authcid and passwd are non-empty.
    if user.is_empty() || password.is_empty() {
        return Err(SaslError::Malformed);
    }
    Ok(PlainCredentials {
        authzid: if authzid.is_empty() {
            None
        } else {
            Some(text(authzid)?)
        },
        user: text(user)?,
        password: text(password)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(raw: &[u8]) -> Vec<u8> {
        STANDARD.encode(raw).into_bytes()
    }

    #[test]
    fn decodes_with_and_without_authzid() {
        assert_eq!(
            decode_plain(&encode(b"\0alice\0pw d")),
            Ok(PlainCredentials {
                authzid: None,
                user: "alice".into(),
                password: "pw d".into()
            })
        );
        assert_eq!(
            decode_plain(&encode("admin\0b\u{f6}b\0p\u{e4}ss".as_bytes())),
            Ok(PlainCredentials {
                authzid: Some("admin".into()),
                user: "b\u{f6}b".into(),
                password: "p\u{e4}ss".into()
            })
        );
    }

    #[test]
    fn rejects_malformed_responses() {
        assert_eq!(decode_plain(b"="), Err(SaslError::Malformed));
        assert_eq!(decode_plain(b"not base64!"), Err(SaslError::Base64));
        assert_eq!(
            decode_plain(&encode(b"alice\0pw")),
            Err(SaslError::Malformed)
        );
        assert_eq!(decode_plain(&encode(b"\0\0pw")), Err(SaslError::Malformed));
        assert_eq!(
            decode_plain(&encode(b"\0alice\0")),
            Err(SaslError::Malformed)
        );
        assert_eq!(
            decode_plain(&encode(b"\0alice\0pw\0extra")),
            Err(SaslError::Malformed)
        );
        assert_eq!(
            decode_plain(&encode(b"\0al\xffice\0pw")),
            Err(SaslError::Malformed)
        );
    }
}
