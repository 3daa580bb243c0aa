//! MAIL FROM and RCPT TO arguments: the path (RFC 5321 §4.1.2) and ESMTP parameters
//! (SIZE, BODY, SMTPUTF8, AUTH, and the DSN parameters of RFC 3461).

use thiserror::Error;

use super::types::{DsnNotify, DsnRet};
use crate::protocol::mail::{Address, AddressError};

// RFC 3461 §4.4: ENVID is at most 100 characters.
const MAX_ENVID: usize = 100;

/// Parsed `MAIL FROM:<path> [params]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MailFrom {
    /// `None` is the null reverse-path `<>`.
    pub sender: Option<Address>,
    /// RFC 1870 SIZE declaration (saturated on overflow).
    pub size: Option<u64>,
    /// BODY=8BITMIME (RFC 6152).
    pub body_8bitmime: bool,
    /// SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// RET= (RFC 3461 §4.3).
    pub ret: Option<DsnRet>,
    /// ENVID=, xtext-decoded (RFC 3461 §4.4).
    pub envid: Option<String>,
}

/// A forward-path: a mailbox, or the domain-less `<Postmaster>` of RFC 5321 §4.5.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ForwardPath {
    /// `<Postmaster>` with no domain.
    Postmaster,
    /// Any other mailbox.
    Mailbox(Address),
}

/// Parsed `RCPT TO:<path> [params]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RcptTo {
    /// The recipient.
    pub path: ForwardPath,
    /// NOTIFY= (RFC 3461 §4.1).
    pub notify: Option<DsnNotify>,
    /// ORCPT= as received (RFC 3461 §4.2).
    pub orcpt: Option<String>,
}

/// Why a MAIL or RCPT argument was refused; the session maps each to one reply.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum PathError {
    /// `FROM:` / `TO:` missing.
    #[error("syntax error")]
    Syntax,
    /// The path is not `<...>` or the mailbox in it is invalid.
    #[error("bad address syntax")]
    BadPath(Option<AddressError>),
    /// A known parameter with a bad value.
    #[error("invalid value for {0}")]
    InvalidParam(&'static str),
    /// A parameter we do not offer.
    #[error("unsupported parameter {0}")]
    Unsupported(String),
}

/// Parses the arguments of MAIL (everything after `MAIL `).
pub(crate) fn parse_mail(args: &str) -> Result<MailFrom, PathError> {
    let (path, params) = split_path(args, "FROM:")?;
    let sender = if path.is_empty() {
        None
    } else {
        Some(Address::parse(path).map_err(|e| PathError::BadPath(Some(e)))?)
    };
    let mut mail = MailFrom {
        sender,
        size: None,
        body_8bitmime: false,
        smtputf8: false,
        ret: None,
        envid: None,
    };
    for (key, value) in params {
        match (key.to_ascii_uppercase().as_str(), value) {
            ("SIZE", Some(v)) => {
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(PathError::InvalidParam("SIZE"));
                }
                mail.size = Some(v.parse().unwrap_or(u64::MAX));
            }
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => mail.body_8bitmime = true,
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => mail.body_8bitmime = false,
            ("SMTPUTF8", None) => mail.smtputf8 = true,
            // RFC 4954 §5: a server may ignore AUTH= from a client it does not trust; we
            // record only the authenticated identity of the session itself.
            ("AUTH", Some(v)) => {
                xtext(v).ok_or(PathError::InvalidParam("AUTH"))?;
            }
            ("RET", Some(v)) if v.eq_ignore_ascii_case("FULL") => mail.ret = Some(DsnRet::Full),
            ("RET", Some(v)) if v.eq_ignore_ascii_case("HDRS") => mail.ret = Some(DsnRet::Headers),
            ("RET", _) => return Err(PathError::InvalidParam("RET")),
            ("ENVID", Some(v)) => {
                let id = xtext(v)
                    .filter(|id| id.len() <= MAX_ENVID)
                    .ok_or(PathError::InvalidParam("ENVID"))?;
                mail.envid = Some(id);
            }
            _ => return Err(PathError::Unsupported(key.to_ascii_uppercase())),
        }
    }
    Ok(mail)
}

/// Parses the arguments of RCPT (everything after `RCPT `).
pub(crate) fn parse_rcpt(args: &str) -> Result<RcptTo, PathError> {
    let (path, params) = split_path(args, "TO:")?;
    let path = if path.eq_ignore_ascii_case("postmaster") {
        ForwardPath::Postmaster
    } else if path.is_empty() {
        return Err(PathError::BadPath(Some(AddressError::Empty)));
    } else {
        ForwardPath::Mailbox(Address::parse(path).map_err(|e| PathError::BadPath(Some(e)))?)
    };
    let mut rcpt = RcptTo {
        path,
        notify: None,
        orcpt: None,
    };
    for (key, value) in params {
        match (key.to_ascii_uppercase().as_str(), value) {
            ("NOTIFY", Some(v)) => {
                rcpt.notify = Some(parse_notify(v).ok_or(PathError::InvalidParam("NOTIFY"))?)
            }
            ("ORCPT", Some(v)) => {
                // RFC 3461 §4.2: addr-type ";" xtext
                let valid = v.split_once(';').is_some_and(|(kind, addr)| {
                    !kind.is_empty()
                        && kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && xtext(addr).is_some_and(|a| !a.is_empty())
                });
                if !valid {
                    return Err(PathError::InvalidParam("ORCPT"));
                }
                rcpt.orcpt = Some(v.to_owned());
            }
            _ => return Err(PathError::Unsupported(key.to_ascii_uppercase())),
        }
    }
    Ok(rcpt)
}

type Params<'a> = Vec<(&'a str, Option<&'a str>)>;

/// Splits `KEYWORD:<path> params` into the path's inner text and the parameter list.
fn split_path<'a>(args: &'a str, keyword: &str) -> Result<(&'a str, Params<'a>), PathError> {
    let rest = args
        .get(..keyword.len())
        .filter(|k| k.eq_ignore_ascii_case(keyword))
        .map(|_| &args[keyword.len()..])
        .ok_or(PathError::Syntax)?;
    // RFC 5321 §4.1.1.2 has no space after the colon, but many clients send one.
    let rest = rest.trim_start_matches(' ');
    let inner = rest.strip_prefix('<').ok_or(PathError::BadPath(None))?;
    let end = closing_bracket(inner).ok_or(PathError::BadPath(None))?;
    let (path, after) = (&inner[..end], &inner[end + 1..]);
    if !after.is_empty() && !after.starts_with(' ') {
        return Err(PathError::BadPath(None));
    }
    // RFC 5321 §4.1.2 / C: a source route `@a,@b:` must be accepted and ignored.
    let path = match path.strip_prefix('@') {
        Some(route) => route
            .split_once(':')
            .map(|(_, mailbox)| mailbox)
            .ok_or(PathError::BadPath(None))?,
        None => path,
    };
    let params = after
        .split(' ')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (p, None),
        })
        .collect();
    Ok((path, params))
}

/// Index of the `>` closing a path, skipping quoted strings and quoted pairs.
fn closing_bracket(s: &str) -> Option<usize> {
    let mut in_quote = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quote => escaped = true,
            '"' => in_quote = !in_quote,
            '>' if !in_quote => return Some(i),
            _ => {}
        }
    }
    None
}

/// NOTIFY=NEVER or a comma list of SUCCESS, FAILURE, DELAY (RFC 3461 §4.1).
fn parse_notify(v: &str) -> Option<DsnNotify> {
    if v.eq_ignore_ascii_case("NEVER") {
        return Some(DsnNotify::default());
    }
    let mut notify = DsnNotify::default();
    for item in v.split(',') {
        match item.to_ascii_uppercase().as_str() {
            "SUCCESS" => notify.success = true,
            "FAILURE" => notify.failure = true,
            "DELAY" => notify.delay = true,
            _ => return None,
        }
    }
    Some(notify)
}

/// Decodes RFC 3461 §4 xtext; `None` if malformed or not UTF-8.
fn xtext(v: &str) -> Option<String> {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                let hex = v.get(i + 1..i + 3)?;
                if !hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
                {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'!'..=b'~' if bytes[i] != b'=' => {
                out.push(bytes[i]);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    #[test]
    fn mail_null_path_and_params() {
        let m =
            parse_mail("FROM:<> SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=a+2Bb").unwrap();
        assert_eq!(m.sender, None);
        assert_eq!(m.size, Some(1000));
        assert!(m.body_8bitmime && m.smtputf8);
        assert_eq!(m.ret, Some(DsnRet::Headers));
        assert_eq!(m.envid.as_deref(), Some("a+b"));
    }

    #[test]
    fn mail_lenient_space_and_case() {
        let m = parse_mail("from: <A@B.C> body=7bit auth=<>").unwrap();
        assert_eq!(m.sender, Some(addr("A@b.c")));
        assert!(!m.body_8bitmime);
    }

    #[test]
    fn mail_quoted_and_literal_and_route() {
        assert_eq!(
            parse_mail("FROM:<\"a>b\"@x.org>").unwrap().sender,
            Some(addr("\"a>b\"@x.org"))
        );
        assert_eq!(
            parse_mail("FROM:<u@[10.0.0.1]>").unwrap().sender,
            Some(addr("u@[10.0.0.1]"))
        );
        assert_eq!(
            parse_mail("FROM:<@relay.a,@relay.b:u@x.org>")
                .unwrap()
                .sender,
            Some(addr("u@x.org"))
        );
    }

    #[test]
    fn mail_errors() {
        assert_eq!(parse_mail("<a@b>"), Err(PathError::Syntax));
        assert_eq!(parse_mail("FROM:a@b"), Err(PathError::BadPath(None)));
        assert_eq!(parse_mail("FROM:<a@b"), Err(PathError::BadPath(None)));
        assert_eq!(parse_mail("FROM:<a@b>x"), Err(PathError::BadPath(None)));
        assert!(matches!(
            parse_mail("FROM:<a b@c>"),
            Err(PathError::BadPath(Some(_)))
        ));
        assert_eq!(
            parse_mail("FROM:<> SIZE=x"),
            Err(PathError::InvalidParam("SIZE"))
        );
        assert_eq!(
            parse_mail("FROM:<> SIZE="),
            Err(PathError::InvalidParam("SIZE"))
        );
        assert_eq!(
            parse_mail("FROM:<> RET=ALL"),
            Err(PathError::InvalidParam("RET"))
        );
        assert_eq!(
            parse_mail("FROM:<> ENVID=a=b"),
            Err(PathError::InvalidParam("ENVID"))
        );
        assert_eq!(
            parse_mail("FROM:<> BODY=BINARYMIME"),
            Err(PathError::Unsupported("BODY".into()))
        );
        assert_eq!(
            parse_mail("FROM:<> REQUIRETLS"),
            Err(PathError::Unsupported("REQUIRETLS".into()))
        );
        assert_eq!(
            parse_mail("FROM:<> SMTPUTF8=yes"),
            Err(PathError::Unsupported("SMTPUTF8".into()))
        );
    }

    #[test]
    fn huge_size_saturates() {
        let m = parse_mail("FROM:<> SIZE=999999999999999999999999999").unwrap();
        assert_eq!(m.size, Some(u64::MAX));
    }

    #[test]
    fn rcpt_postmaster_and_dsn() {
        let r = parse_rcpt("TO:<PostMaster>").unwrap();
        assert_eq!(r.path, ForwardPath::Postmaster);
        let r = parse_rcpt("TO:<u@x.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;u+40x.org").unwrap();
        assert_eq!(r.path, ForwardPath::Mailbox(addr("u@x.org")));
        assert_eq!(
            r.notify,
            Some(DsnNotify {
                success: true,
                failure: false,
                delay: true
            })
        );
        assert_eq!(r.orcpt.as_deref(), Some("rfc822;u+40x.org"));
        let r = parse_rcpt("TO:<u@x.org> NOTIFY=NEVER").unwrap();
        assert_eq!(r.notify, Some(DsnNotify::default()));
    }

    #[test]
    fn rcpt_errors() {
        assert_eq!(parse_rcpt("TO:u@x.org"), Err(PathError::BadPath(None)));
        assert!(matches!(
            parse_rcpt("TO:<>"),
            Err(PathError::BadPath(Some(_)))
        ));
        assert_eq!(parse_rcpt("FROM:<u@x>"), Err(PathError::Syntax));
        assert_eq!(
            parse_rcpt("TO:<u@x> NOTIFY=NEVER,SUCCESS"),
            Err(PathError::InvalidParam("NOTIFY"))
        );
        assert_eq!(
            parse_rcpt("TO:<u@x> ORCPT=u@x"),
            Err(PathError::InvalidParam("ORCPT"))
        );
        assert_eq!(
            parse_rcpt("TO:<u@x> CONNEG"),
            Err(PathError::Unsupported("CONNEG".into()))
        );
    }

    #[test]
    fn xtext_rules() {
        assert_eq!(xtext("abc+2B+3D").as_deref(), Some("abc+="));
        assert_eq!(xtext("a+2"), None);
        assert_eq!(xtext("a+zz"), None);
        assert_eq!(xtext("a+2b"), None);
        assert_eq!(xtext("a b"), None);
        assert_eq!(xtext("é"), None);
        assert_eq!(xtext("+FF"), None);
    }
}
