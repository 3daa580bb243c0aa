//! What each SMTP command does, given the session state (RFC 5321 §4.1, with the
//! ESMTP extensions Hermod offers).

use super::{ChunkSink, Envelope, Helo, PendingRcpt, Phase, SaslStep, Session, Step};
use crate::protocol::mail::Address;
use crate::protocol::smtp::chunk::ChunkedBody;
use crate::protocol::smtp::command::{self, verb_label, Command, CommandError};
use crate::protocol::smtp::data::DataReceiver;
use crate::protocol::smtp::path::{ForwardPath, MailFrom, PathError, RcptTo};
use crate::protocol::smtp::reply;
use crate::protocol::smtp::sasl::{self, Credentials, SaslError};
use crate::protocol::smtp::types::{Action, ListenerKind};

impl Session {
    pub(super) fn handle_command(&mut self, text: &str) -> Step {
        let label = verb_label(text);
        let command = match command::parse(text) {
            Ok(command) => command,
            Err(e) => {
                self.command_error(label, e);
                return Step::Continue;
            }
        };
        match command {
            Command::Ehlo(host) => self.handle_ehlo(host, true),
            Command::Helo(host) => self.handle_ehlo(host, false),
            Command::Mail(mail) => self.handle_mail(mail),
            Command::Rcpt(rcpt) => return self.handle_rcpt(rcpt),
            Command::Data => self.handle_data(),
            Command::Bdat { size, last } => self.handle_bdat(size, last),
            Command::Auth { mechanism, initial } => return self.handle_auth(&mechanism, initial),
            Command::StartTls => self.handle_starttls(),
            Command::Rset => {
                self.envelope = None;
                self.reply("RSET", 250, "2.0.0", "Ok");
            }
            Command::Noop => self.reply("NOOP", 250, "2.0.0", "Ok"),
            // RFC 5321 §3.5.3: 252 when we will not verify but will try delivery.
            Command::Vrfy => self.reply(
                "VRFY",
                252,
                "2.5.0",
                "Cannot VRFY user, but will accept message and attempt delivery",
            ),
            // RFC 5321 §3.5.2 lets EXPN be disabled; lists are not disclosed.
            Command::Expn => self.error("EXPN", 502, "5.5.1", "EXPN not available"),
            Command::Help => self.reply(
                "HELP",
                214,
                "2.0.0",
                "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT STARTTLS AUTH",
            ),
            Command::Quit => {
                let text = format!("{} closing connection", self.config.hostname);
                self.reply("QUIT", 221, "2.0.0", &text);
                self.phase = Phase::Closing;
            }
        }
        Step::Continue
    }

    fn command_error(&mut self, label: &'static str, error: CommandError) {
        match error {
            CommandError::Unknown => self.error(label, 500, "5.5.1", "Command unrecognized"),
            CommandError::Syntax => self.error(label, 501, "5.5.4", "Syntax error in arguments"),
            CommandError::BadChunkSize => self.error(label, 501, "5.5.4", "Bad BDAT chunk size"),
            CommandError::Path(PathError::Syntax) => self.error(
                label,
                501,
                "5.5.4",
                "Syntax: MAIL FROM:<address> or RCPT TO:<address>",
            ),
            CommandError::Path(PathError::BadPath(_)) if label == "MAIL" => {
                self.error(label, 501, "5.1.7", "Bad sender address syntax")
            }
            CommandError::Path(PathError::BadPath(_)) => {
                self.error(label, 501, "5.1.3", "Bad recipient address syntax")
            }
            CommandError::Path(PathError::InvalidParam(param)) => {
                self.error(label, 501, "5.5.4", &format!("Invalid {param} parameter"))
            }
            CommandError::Path(PathError::Unsupported(_)) => {
                self.error(label, 555, "5.5.4", "Unsupported parameter")
            }
        }
    }

    fn handle_ehlo(&mut self, host: &str, esmtp: bool) {
        // RFC 5321 §4.1.4: EHLO/HELO resets any transaction in progress.
        self.envelope = None;
        self.helo = Some(Helo {
            name: host.to_owned(),
            esmtp,
        });
        // RFC 2034 §3: replies to HELO and EHLO carry no enhanced status code.
        let hostname = self.config.hostname.clone();
        if !esmtp {
            reply::push(&mut self.out, 250, "", &hostname);
            self.event("HELO", true);
            return;
        }
        let mut lines = vec![
            hostname,
            "PIPELINING".to_owned(),
            "8BITMIME".to_owned(),
            "SMTPUTF8".to_owned(),
            format!("SIZE {}", self.config.max_message_size),
            "ENHANCEDSTATUSCODES".to_owned(),
            "CHUNKING".to_owned(),
            "DSN".to_owned(),
        ];
        if !self.tls {
            lines.push("STARTTLS".to_owned());
        }
        if self.auth_offered() {
            lines.push("AUTH PLAIN LOGIN".to_owned());
        }
        reply::push_lines(&mut self.out, 250, &lines);
        self.event("EHLO", true);
    }

    fn is_submission(&self) -> bool {
        self.config.listener != ListenerKind::Mx
    }

    /// RFC 8314 §3 / RFC 4954 §4: passwords only over TLS, and only on submission ports.
    fn auth_offered(&self) -> bool {
        self.is_submission() && self.tls
    }

    fn handle_mail(&mut self, mail: MailFrom) {
        if self.helo.is_none() {
            return self.error("MAIL", 503, "5.5.1", "Send HELO/EHLO first");
        }
        if self.envelope.is_some() {
            return self.error("MAIL", 503, "5.5.1", "Nested MAIL command");
        }
        if self.is_submission() && self.authenticated.is_none() {
            return self.error("MAIL", 530, "5.7.0", "Authentication required");
        }
        let max = self.config.max_message_size as u64;
        if mail.size.is_some_and(|size| size > max) {
            return self.error("MAIL", 552, "5.3.4", "Message size exceeds fixed limit");
        }
        // RFC 6531 §3.5: a UTF-8 address needs the SMTPUTF8 parameter.
        if !mail.smtputf8 && mail.sender.as_ref().is_some_and(Address::is_utf8) {
            return self.error("MAIL", 553, "5.6.7", "SMTPUTF8 required for this address");
        }
        self.envelope = Some(Envelope {
            mail,
            recipients: Vec::new(),
            chunks: None,
        });
        self.reply("MAIL", 250, "2.1.0", "Ok");
    }

    fn handle_rcpt(&mut self, rcpt: RcptTo) -> Step {
        let Some(envelope) = self.envelope.as_ref() else {
            self.error("RCPT", 503, "5.5.1", "Need MAIL before RCPT");
            return Step::Continue;
        };
        if envelope.chunks.is_some() {
            self.error("RCPT", 503, "5.5.1", "RCPT not allowed during BDAT");
            return Step::Continue;
        }
        let smtputf8 = envelope.mail.smtputf8;
        if envelope.recipients.len() >= self.config.max_recipients {
            // RFC 5321 §4.5.3.1.10: 452 tells the client to send the rest later; it is a
            // limit, not misbehaviour, so it does not count toward max_errors.
            self.reply("RCPT", 452, "4.5.3", "Too many recipients");
            return Step::Continue;
        }
        let address = match rcpt.path {
            ForwardPath::Mailbox(address) => address,
            // RFC 5321 §4.5.1: <Postmaster> without a domain is our own postmaster.
            ForwardPath::Postmaster => {
                match Address::parse(&format!("postmaster@{}", self.config.hostname)) {
                    Ok(address) => address,
                    Err(_) => {
                        self.error("RCPT", 501, "5.1.3", "Bad recipient address syntax");
                        return Step::Continue;
                    }
                }
            }
        };
        if address.is_utf8() && !smtputf8 {
            self.error("RCPT", 553, "5.6.7", "SMTPUTF8 required for this address");
            return Step::Continue;
        }
        self.phase = Phase::AwaitRcpt(PendingRcpt {
            address: address.clone(),
            notify: rcpt.notify,
            orcpt: rcpt.orcpt,
        });
        Step::Act(Action::CheckRecipient(address))
    }

    fn handle_data(&mut self) {
        let Some(envelope) = self.envelope.as_ref() else {
            return self.error("DATA", 503, "5.5.1", "Need MAIL command");
        };
        if envelope.chunks.is_some() {
            return self.error("DATA", 503, "5.5.1", "DATA not allowed after BDAT");
        }
        if envelope.recipients.is_empty() {
            return self.error("DATA", 503, "5.5.1", "No valid recipients");
        }
        reply::push(&mut self.out, 354, "", "End data with <CR><LF>.<CR><LF>");
        self.event("DATA", true);
        self.framer.reset();
        self.phase = Phase::Data(DataReceiver::new(self.config.max_message_size));
    }

    fn handle_bdat(&mut self, size: usize, last: bool) {
        let max = self.config.max_message_size;
        let sink = match self.envelope.as_mut() {
            Some(envelope) if !envelope.recipients.is_empty() => {
                let chunks = envelope.chunks.get_or_insert_with(|| ChunkedBody::new(max));
                if chunks.would_exceed(size) {
                    ChunkSink::DiscardTooBig
                } else {
                    ChunkSink::Keep
                }
            }
            _ => ChunkSink::DiscardNoTransaction,
        };
        self.framer.reset();
        self.phase = Phase::Chunk {
            remaining: size,
            size,
            last,
            sink,
        };
    }

    fn handle_auth(&mut self, mechanism: &str, initial: Option<&str>) -> Step {
        if !self.is_submission() {
            self.error("AUTH", 503, "5.5.1", "AUTH not available");
        } else if !self.tls {
            self.error(
                "AUTH",
                538,
                "5.7.11",
                "Encryption required for authentication",
            );
        } else if self.helo.is_none() {
            self.error("AUTH", 503, "5.5.1", "Send EHLO first");
        } else if self.authenticated.is_some() {
            self.error("AUTH", 503, "5.5.1", "Already authenticated");
        } else if self.envelope.is_some() {
            // RFC 4954 §4: AUTH is not permitted during a mail transaction.
            self.error(
                "AUTH",
                503,
                "5.5.1",
                "AUTH not allowed during a transaction",
            );
        } else {
            let step = match mechanism {
                "PLAIN" => SaslStep::Plain,
                "LOGIN" => SaslStep::LoginUser,
                _ => {
                    self.error("AUTH", 504, "5.5.4", "Unrecognized authentication type");
                    return Step::Continue;
                }
            };
            return match initial {
                Some(response) => self.handle_sasl(step, response),
                None => {
                    let challenge = match step {
                        SaslStep::LoginUser => sasl::USERNAME_CHALLENGE,
                        _ => "",
                    };
                    reply::push(&mut self.out, 334, "", challenge);
                    self.phase = Phase::Sasl(step);
                    Step::Continue
                }
            };
        }
        Step::Continue
    }

    pub(super) fn handle_sasl(&mut self, step: SaslStep, response: &str) -> Step {
        let result = sasl::decode_response(response).and_then(|decoded| match step {
            SaslStep::Plain => sasl::parse_plain(&decoded).map(Some),
            SaslStep::LoginUser => {
                let user = sasl::login_text(decoded)?;
                reply::push(&mut self.out, 334, "", sasl::PASSWORD_CHALLENGE);
                self.phase = Phase::Sasl(SaslStep::LoginPassword { user });
                Ok(None)
            }
            SaslStep::LoginPassword { user } => Ok(Some(Credentials {
                authzid: None,
                authcid: user,
                password: sasl::login_text(decoded)?,
            })),
        });
        match result {
            Ok(Some(credentials)) => {
                self.phase = Phase::AwaitAuth;
                Step::Act(Action::Authenticate {
                    authzid: credentials.authzid,
                    authcid: credentials.authcid,
                    password: credentials.password,
                })
            }
            Ok(None) => Step::Continue,
            Err(SaslError::Cancelled) => {
                self.error("AUTH", 501, "5.0.0", "Authentication cancelled");
                Step::Continue
            }
            Err(SaslError::Malformed) => {
                self.error("AUTH", 501, "5.5.2", "Invalid SASL response");
                Step::Continue
            }
        }
    }

    fn handle_starttls(&mut self) {
        if self.tls {
            return self.error("STARTTLS", 503, "5.5.1", "TLS already active");
        }
        self.reply("STARTTLS", 220, "2.0.0", "Ready to start TLS");
        // RFC 3207 §5: anything pipelined after STARTTLS is plaintext injection; drop it.
        self.pos = self.input.len();
        self.framer.reset();
        self.phase = Phase::StartTls;
    }
}
