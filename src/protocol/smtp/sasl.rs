//! SASL PLAIN (RFC 4616) and LOGIN decoding for SMTP AUTH (RFC 4954).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use thiserror::Error;

/// LOGIN's first challenge: base64 of "Username:".
pub(crate) const USERNAME_CHALLENGE: &str = "VXNlcm5hbWU6";
/// LOGIN's second challenge: base64 of "Password:".
pub(crate) const PASSWORD_CHALLENGE: &str = "UGFzc3dvcmQ6";

/// Why a client's SASL response is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub(crate) enum SaslError {
    /// The client sent `*` (RFC 4954 §4): 501 5.0.0.
    #[error("authentication cancelled")]
    Cancelled,
    /// Not base64, or the decoded credentials are malformed: 501 5.5.2.
    #[error("malformed SASL response")]
    Malformed,
}

/// Credentials extracted from a SASL exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    /// Authorization identity, if different from the authentication identity.
    pub authzid: Option<String>,
    /// Authentication identity.
    pub authcid: String,
    /// Password.
    pub password: String,
}

/// Decodes one client response line: `*` cancels, `=` is empty (RFC 4954 §4).
pub(crate) fn decode_response(line: &str) -> Result<Vec<u8>, SaslError> {
    match line {
        "*" => Err(SaslError::Cancelled),
        "=" => Ok(Vec::new()),
        _ => STANDARD.decode(line).map_err(|_| SaslError::Malformed),
    }
}

/// RFC 4616 §2: `[authzid] NUL authcid NUL passwd`, all UTF-8.
pub(crate) fn parse_plain(message: &[u8]) -> Result<Credentials, SaslError> {
    let mut parts = message.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed);
    };
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| SaslError::Malformed);
    let authcid = text(authcid)?;
    if authcid.is_empty() {
        return Err(SaslError::Malformed);
    }
    Ok(Credentials {
        authzid: Some(text(authzid)?).filter(|z| !z.is_empty()),
        authcid,
        password: text(password)?,
    })
}

/// One LOGIN response (user name or password) as text.
pub(crate) fn login_text(decoded: Vec<u8>) -> Result<String, SaslError> {
    let text = String::from_utf8(decoded).map_err(|_| SaslError::Malformed)?;
    if text.contains('\0') {
        return Err(SaslError::Malformed);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_with_and_without_authzid() {
        let c = parse_plain(b"\0alice\0secret").unwrap();
        assert_eq!(c.authzid, None);
        assert_eq!(c.authcid, "alice");
        assert_eq!(c.password, "secret");
        let c = parse_plain(b"admin\0alice\0secret").unwrap();
        assert_eq!(c.authzid.as_deref(), Some("admin"));
    }

    #[test]
    fn plain_malformed() {
        for m in [
            &b""[..],
            b"alice",
            b"\0alice",
            b"\0\0pw",
            b"a\0b\0c\0d",
            b"\0\xff\0pw",
        ] {
            assert_eq!(parse_plain(m), Err(SaslError::Malformed), "{m:?}");
        }
    }

    #[test]
    fn responses() {
        assert_eq!(decode_response("*"), Err(SaslError::Cancelled));
        assert_eq!(decode_response("="), Ok(Vec::new()));
        assert_eq!(decode_response("YWxpY2U="), Ok(b"alice".to_vec()));
        for bad in ["!!!", "YWxpY2U", "YW=xp", "\u{e9}\u{e9}\u{e9}\u{e9}"] {
            assert_eq!(decode_response(bad), Err(SaslError::Malformed), "{bad}");
        }
        assert_eq!(login_text(b"al\0ice".to_vec()), Err(SaslError::Malformed));
        assert_eq!(login_text(vec![0xff]), Err(SaslError::Malformed));
    }

    #[test]
    fn challenges_decode_to_prompts() {
        assert_eq!(STANDARD.decode(USERNAME_CHALLENGE).unwrap(), b"Username:");
        assert_eq!(STANDARD.decode(PASSWORD_CHALLENGE).unwrap(), b"Password:");
    }
}
