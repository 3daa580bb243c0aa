//! POP3 command parsing: one framed line in, a typed [`Command`] or a [`CommandError`] out.
//! Which commands a session may run in which state is decided by the session, not here.

use thiserror::Error;

/// A syntactically valid POP3 command. Message numbers are 1-based and never 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `USER name` (RFC 1939 §7).
    User(String),
    /// `PASS string`; the whole rest of the line, spaces included (RFC 1939 §7).
    Pass(String),
    /// `AUTH [mechanism [initial-response]]` (RFC 5034 §4); no mechanism lists them.
    Auth {
        /// The SASL mechanism name as sent.
        mechanism: Option<String>,
        /// Base64 initial response (`=` stands for an empty one).
        initial_response: Option<String>,
    },
    /// `CAPA` (RFC 2449 §5).
    Capa,
    /// `STLS` (RFC 2595 §4).
    Stls,
    /// `QUIT`.
    Quit,
    /// `STAT`.
    Stat,
    /// `LIST [msg]`.
    List(Option<usize>),
    /// `UIDL [msg]`.
    Uidl(Option<usize>),
    /// `RETR msg`.
    Retr(usize),
    /// `TOP msg n`.
    Top {
        /// Message number.
        msg: usize,
        /// Number of body lines to send.
        lines: usize,
    },
    /// `DELE msg`.
    Dele(usize),
    /// `NOOP`.
    Noop,
    /// `RSET`.
    Rset,
}

/// Why a line is not a valid command; the `Display` text is the reply after `-ERR `.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CommandError {
    /// The line was longer than the framing cap.
    #[error("Line too long")]
    LineTooLong,
    /// NUL, a stray CR or another control character.
    #[error("Control characters are not allowed")]
    ControlCharacter,
    /// The line is not UTF-8.
    #[error("Line is not valid UTF-8")]
    NotUtf8,
    /// The keyword is not a POP3 command Hermod knows.
    #[error("Unknown command")]
    Unknown,
    /// A required argument is absent.
    #[error("Missing argument")]
    MissingArgument(&'static str),
    /// More arguments than the command takes.
    #[error("Too many arguments")]
    TooManyArguments(&'static str),
    /// A number that is not 1..=usize::MAX digits (or 0.. for a TOP line count).
    #[error("Invalid number")]
    InvalidNumber(&'static str),
}

impl CommandError {
    /// The command keyword for metrics: the known keyword, `"UNKNOWN"` or `"INVALID"`.
    pub fn command(&self) -> &'static str {
        match self {
            CommandError::LineTooLong | CommandError::ControlCharacter | CommandError::NotUtf8 => {
                "INVALID"
            }
            CommandError::Unknown => "UNKNOWN",
            CommandError::MissingArgument(name)
            | CommandError::TooManyArguments(name)
            | CommandError::InvalidNumber(name) => name,
        }
    }
}

const KEYWORDS: [&str; 14] = [
    "USER", "PASS", "AUTH", "CAPA", "STLS", "QUIT", "STAT", "LIST", "UIDL", "RETR", "TOP", "DELE",
    "NOOP", "RSET",
];

/// Every `command` label POP3 metrics use: the keywords, `UNKNOWN` and `INVALID`.
pub const COMMAND_LABELS: [&str; 16] = [
    "USER", "PASS", "AUTH", "CAPA", "STLS", "QUIT", "STAT", "LIST", "UIDL", "RETR", "TOP", "DELE",
    "NOOP", "RSET", "UNKNOWN", "INVALID",
];

impl Command {
    /// The upper-case keyword, for metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Auth { .. } => "AUTH",
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
            Command::Quit => "QUIT",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Uidl(_) => "UIDL",
            Command::Retr(_) => "RETR",
            Command::Top { .. } => "TOP",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
        }
    }

    /// Parses one line (terminator already removed). Keywords are case-insensitive
    /// (RFC 1939 §3).
    pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
        if line.iter().any(|&b| b < 0x20 || b == 0x7f) {
            return Err(CommandError::ControlCharacter);
        }
        let text = std::str::from_utf8(line).map_err(|_| CommandError::NotUtf8)?;
        let (keyword, rest) = match text.split_once(' ') {
            Some((keyword, rest)) => (keyword, rest),
            None => (text, ""),
        };
        let name = KEYWORDS
            .iter()
            .copied()
            .find(|k| k.eq_ignore_ascii_case(keyword))
            .ok_or(CommandError::Unknown)?;
        if name == "PASS" {
            // RFC 1939 §7: PASS has one argument, so spaces in it belong to the password.
            if rest.is_empty() {
                return Err(CommandError::MissingArgument(name));
            }
            return Ok(Command::Pass(rest.to_owned()));
        }
        // Be lenient about repeated spaces between arguments.
        let args: Vec<&str> = rest.split(' ').filter(|a| !a.is_empty()).collect();
        let arity = |min: usize, max: usize| {
            if args.len() < min {
                Err(CommandError::MissingArgument(name))
            } else if args.len() > max {
                Err(CommandError::TooManyArguments(name))
            } else {
                Ok(())
            }
        };
        let msg = |i: usize| message_number(args[i], name);
        let optional_msg = || args.first().map(|a| message_number(a, name)).transpose();
        match name {
            "USER" => {
                arity(1, 1)?;
                Ok(Command::User(args[0].to_owned()))
            }
            "AUTH" => {
                arity(0, 2)?;
                Ok(Command::Auth {
                    mechanism: args.first().map(|m| (*m).to_owned()),
                    initial_response: args.get(1).map(|r| (*r).to_owned()),
                })
            }
            "LIST" => arity(0, 1).and_then(|()| Ok(Command::List(optional_msg()?))),
            "UIDL" => arity(0, 1).and_then(|()| Ok(Command::Uidl(optional_msg()?))),
            "RETR" => arity(1, 1).and_then(|()| Ok(Command::Retr(msg(0)?))),
            "DELE" => arity(1, 1).and_then(|()| Ok(Command::Dele(msg(0)?))),
            "TOP" => {
                arity(2, 2)?;
                Ok(Command::Top {
                    msg: msg(0)?,
                    lines: number(args[1], name)?,
                })
            }
            _ => {
                arity(0, 0)?;
                Ok(match name {
                    "CAPA" => Command::Capa,
                    "STLS" => Command::Stls,
                    "QUIT" => Command::Quit,
                    "STAT" => Command::Stat,
                    "NOOP" => Command::Noop,
                    _ => Command::Rset,
                })
            }
        }
    }
}

/// Digits only: `str::parse` alone would also take a leading `+`.
fn number(arg: &str, name: &'static str) -> Result<usize, CommandError> {
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CommandError::InvalidNumber(name));
    }
    arg.parse().map_err(|_| CommandError::InvalidNumber(name))
}

/// RFC 1939 §3: message numbers start at 1.
fn message_number(arg: &str, name: &'static str) -> Result<usize, CommandError> {
    match number(arg, name)? {
        0 => Err(CommandError::InvalidNumber(name)),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Command, CommandError> {
        Command::parse(s.as_bytes())
    }

    #[test]
    fn parses_every_command_case_insensitively() {
        assert_eq!(parse("user alice"), Ok(Command::User("alice".into())));
        assert_eq!(
            parse("PaSs  s3cret word "),
            Ok(Command::Pass(" s3cret word ".into()))
        );
        assert_eq!(
            parse("auth plain AGEAYg=="),
            Ok(Command::Auth {
                mechanism: Some("plain".into()),
                initial_response: Some("AGEAYg==".into())
            })
        );
        assert_eq!(
            parse("AUTH"),
            Ok(Command::Auth {
                mechanism: None,
                initial_response: None
            })
        );
        assert_eq!(parse("capa"), Ok(Command::Capa));
        assert_eq!(parse("Stls"), Ok(Command::Stls));
        assert_eq!(parse("quit"), Ok(Command::Quit));
        assert_eq!(parse("stat"), Ok(Command::Stat));
        assert_eq!(parse("list"), Ok(Command::List(None)));
        assert_eq!(parse("LIST 2"), Ok(Command::List(Some(2))));
        assert_eq!(parse("uidl"), Ok(Command::Uidl(None)));
        assert_eq!(parse("UIDL  7"), Ok(Command::Uidl(Some(7))));
        assert_eq!(parse("retr 1"), Ok(Command::Retr(1)));
        assert_eq!(parse("TOP 3 0"), Ok(Command::Top { msg: 3, lines: 0 }));
        assert_eq!(parse("dele 4"), Ok(Command::Dele(4)));
        assert_eq!(parse("noop"), Ok(Command::Noop));
        assert_eq!(parse("rset"), Ok(Command::Rset));
    }

    #[test]
    fn rejects_bad_arguments() {
        use CommandError::*;
        assert_eq!(parse("RETR"), Err(MissingArgument("RETR")));
        assert_eq!(parse("PASS"), Err(MissingArgument("PASS")));
        assert_eq!(parse("PASS "), Err(MissingArgument("PASS")));
        assert_eq!(parse("USER a b"), Err(TooManyArguments("USER")));
        assert_eq!(parse("STAT 1"), Err(TooManyArguments("STAT")));
        assert_eq!(parse("TOP 1"), Err(MissingArgument("TOP")));
        assert_eq!(parse("RETR 0"), Err(InvalidNumber("RETR")));
        assert_eq!(parse("RETR -1"), Err(InvalidNumber("RETR")));
        assert_eq!(parse("RETR +1"), Err(InvalidNumber("RETR")));
        assert_eq!(parse("DELE x"), Err(InvalidNumber("DELE")));
        assert_eq!(
            parse("LIST 99999999999999999999999999"),
            Err(InvalidNumber("LIST"))
        );
        assert_eq!(parse("TOP 1 -5"), Err(InvalidNumber("TOP")));
        assert_eq!(parse("TOP 1 1e3"), Err(InvalidNumber("TOP")));
    }

    #[test]
    fn rejects_hostile_lines() {
        use CommandError::*;
        assert_eq!(Command::parse(b"NOOP\0"), Err(ControlCharacter));
        assert_eq!(Command::parse(b"NO\rOP"), Err(ControlCharacter));
        assert_eq!(Command::parse(b"USER \x1b[2J"), Err(ControlCharacter));
        assert_eq!(Command::parse(b"USER \xff\xfe"), Err(NotUtf8));
        assert_eq!(Command::parse(b"\x80\x81"), Err(NotUtf8));
        assert_eq!(parse(""), Err(Unknown));
        assert_eq!(parse("APOP a b"), Err(Unknown));
        assert_eq!(parse(" NOOP"), Err(Unknown));
        assert_eq!(parse("NOOPX"), Err(Unknown));
    }

    #[test]
    fn error_labels_are_bounded() {
        assert_eq!(CommandError::Unknown.command(), "UNKNOWN");
        assert_eq!(CommandError::NotUtf8.command(), "INVALID");
        assert_eq!(CommandError::InvalidNumber("TOP").command(), "TOP");
        assert_eq!(Command::Top { msg: 1, lines: 1 }.name(), "TOP");
    }
}
