//! Turns one command line (terminator already stripped) into a typed [`Command`].

use thiserror::Error;

use super::path::{parse_mail, parse_rcpt, MailFrom, PathError, RcptTo};

/// One SMTP command with its parsed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command<'a> {
    /// EHLO with the client's domain or address literal.
    Ehlo(&'a str),
    /// HELO with the client's domain.
    Helo(&'a str),
    /// MAIL FROM.
    Mail(MailFrom),
    /// RCPT TO.
    Rcpt(RcptTo),
    /// DATA.
    Data,
    /// BDAT (RFC 3030).
    Bdat {
        /// Octets that follow the command line.
        size: usize,
        /// LAST was given.
        last: bool,
    },
    /// AUTH (RFC 4954).
    Auth {
        /// The mechanism name, upper-cased.
        mechanism: String,
        /// The initial response, if sent on the command line.
        initial: Option<&'a str>,
    },
    /// STARTTLS (RFC 3207).
    StartTls,
    /// RSET.
    Rset,
    /// NOOP.
    Noop,
    /// VRFY.
    Vrfy,
    /// EXPN.
    Expn,
    /// HELP.
    Help,
    /// QUIT.
    Quit,
}

/// Why a command line could not become a [`Command`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum CommandError {
    /// The verb is not one we know.
    #[error("unrecognized command")]
    Unknown,
    /// Arguments are missing, extra, or malformed.
    #[error("syntax error in arguments")]
    Syntax,
    /// BDAT size is not a number we can count to.
    #[error("bad BDAT chunk size")]
    BadChunkSize,
    /// MAIL or RCPT argument error.
    #[error(transparent)]
    Path(#[from] PathError),
}

/// Every `command` label SMTP metrics use.
pub const COMMAND_LABELS: [&str; 15] = [
    "EHLO", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "AUTH", "STARTTLS", "RSET", "NOOP", "VRFY",
    "EXPN", "HELP", "QUIT", "UNKNOWN",
];

/// The verb of a line, as a metrics label from a fixed set ("UNKNOWN" otherwise).
pub(crate) fn verb_label(line: &str) -> &'static str {
    let verb = line.split(' ').next().unwrap_or("");
    COMMAND_LABELS[..COMMAND_LABELS.len() - 1]
        .iter()
        .copied()
        .find(|v| v.eq_ignore_ascii_case(verb))
        .unwrap_or("UNKNOWN")
}

/// Parses one command line.
pub(crate) fn parse(line: &str) -> Result<Command<'_>, CommandError> {
    let (verb, args) = match line.split_once(' ') {
        Some((verb, args)) => (verb, args),
        None => (line, ""),
    };
    let label = verb_label(verb);
    let words: Vec<&str> = args.split(' ').filter(|w| !w.is_empty()).collect();
    match label {
        "EHLO" | "HELO" => {
            // RFC 5321 §4.1.1.1: one domain or address literal; trailing words are tolerated
            // because some clients send them, but an empty argument is not.
            let host = *words.first().ok_or(CommandError::Syntax)?;
            Ok(if label == "EHLO" {
                Command::Ehlo(host)
            } else {
                Command::Helo(host)
            })
        }
        "MAIL" => Ok(Command::Mail(parse_mail(args)?)),
        "RCPT" => Ok(Command::Rcpt(parse_rcpt(args)?)),
        "BDAT" => parse_bdat(&words),
        "AUTH" => match words.as_slice() {
            [mechanism] => Ok(Command::Auth {
                mechanism: mechanism.to_ascii_uppercase(),
                initial: None,
            }),
            [mechanism, initial] => Ok(Command::Auth {
                mechanism: mechanism.to_ascii_uppercase(),
                initial: Some(initial),
            }),
            _ => Err(CommandError::Syntax),
        },
        // RFC 3207 §4: STARTTLS takes no parameters; nor do DATA (§4.1.1.4) and RSET.
        "DATA" | "STARTTLS" | "RSET" if !words.is_empty() => Err(CommandError::Syntax),
        "DATA" => Ok(Command::Data),
        "STARTTLS" => Ok(Command::StartTls),
        "RSET" => Ok(Command::Rset),
        "VRFY" | "EXPN" if words.is_empty() => Err(CommandError::Syntax),
        "VRFY" => Ok(Command::Vrfy),
        "EXPN" => Ok(Command::Expn),
        // RFC 5321 §4.1.1.9-10: NOOP and QUIT arguments are ignored.
        "NOOP" => Ok(Command::Noop),
        "HELP" => Ok(Command::Help),
        "QUIT" => Ok(Command::Quit),
        _ => Err(CommandError::Unknown),
    }
}

/// `BDAT <size> [LAST]` (RFC 3030 §2).
fn parse_bdat<'a>(words: &[&str]) -> Result<Command<'a>, CommandError> {
    let (size, last) = match words {
        [size] => (*size, false),
        [size, last] if last.eq_ignore_ascii_case("LAST") => (*size, true),
        _ => return Err(CommandError::BadChunkSize),
    };
    if !size.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CommandError::BadChunkSize);
    }
    let size = size.parse().map_err(|_| CommandError::BadChunkSize)?;
    Ok(Command::Bdat { size, last })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_case_insensitive() {
        assert_eq!(
            parse("ehlo client.example"),
            Ok(Command::Ehlo("client.example"))
        );
        assert_eq!(parse("Helo x"), Ok(Command::Helo("x")));
        assert_eq!(parse("QUIT"), Ok(Command::Quit));
        assert_eq!(parse("noop whatever"), Ok(Command::Noop));
        assert_eq!(parse("StartTLS"), Ok(Command::StartTls));
    }

    #[test]
    fn argument_rules() {
        assert_eq!(parse("EHLO"), Err(CommandError::Syntax));
        assert_eq!(parse("EHLO "), Err(CommandError::Syntax));
        assert_eq!(parse("DATA now"), Err(CommandError::Syntax));
        assert_eq!(parse("STARTTLS x"), Err(CommandError::Syntax));
        assert_eq!(parse("VRFY"), Err(CommandError::Syntax));
        assert_eq!(parse("VRFY bob"), Ok(Command::Vrfy));
        assert_eq!(parse("AUTH"), Err(CommandError::Syntax));
        assert_eq!(parse("AUTH a b c"), Err(CommandError::Syntax));
        assert_eq!(
            parse("AUTH plain dGVzdA=="),
            Ok(Command::Auth {
                mechanism: "PLAIN".into(),
                initial: Some("dGVzdA==")
            })
        );
    }

    #[test]
    fn bdat_sizes() {
        assert_eq!(
            parse("BDAT 10"),
            Ok(Command::Bdat {
                size: 10,
                last: false
            })
        );
        assert_eq!(
            parse("BDAT 0 last"),
            Ok(Command::Bdat {
                size: 0,
                last: true
            })
        );
        for bad in [
            "BDAT",
            "BDAT x",
            "BDAT -1",
            "BDAT +1",
            "BDAT 1 FIRST",
            "BDAT 1 LAST x",
        ] {
            assert_eq!(parse(bad), Err(CommandError::BadChunkSize), "{bad}");
        }
        assert_eq!(
            parse("BDAT 99999999999999999999999999999"),
            Err(CommandError::BadChunkSize)
        );
    }

    #[test]
    fn unknown_verbs() {
        assert_eq!(parse(""), Err(CommandError::Unknown));
        assert_eq!(parse("LHLO x"), Err(CommandError::Unknown));
        assert_eq!(parse("EHLOX y"), Err(CommandError::Unknown));
        assert_eq!(verb_label("ETRN x"), "UNKNOWN");
        assert_eq!(verb_label("mail FROM:<>"), "MAIL");
    }
}
