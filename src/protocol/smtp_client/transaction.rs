//! One mail transaction (MAIL, RCPT..., DATA, message) as a pure state machine, pipelined
//! (RFC 2920) or in lock-step, yielding one result per recipient.
//!
//! The driver writes what [`Step::Send`] asks, reads a reply when asked, writes the
//! dot-stuffed message on [`Step::SendMessage`], and stops at [`Step::Done`].

use super::capabilities::Capabilities;
use super::envelope::{self, EnvelopeError, OutboundEnvelope, RcptResult};
use super::reply::Reply;

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write these bytes, then read the next reply.
    Send(Vec<u8>),
    /// Read the next reply: pipelined replies are still due.
    Read,
    /// Write the dot-stuffed message, then read the reply to the final dot.
    SendMessage,
    /// The transaction is over.
    Done(Outcome),
}

/// The end of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// One result per envelope recipient, in envelope order.
    pub results: Vec<RcptResult>,
    /// The state the connection is left in.
    pub after: After,
}

/// What the connection needs before it can carry another transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Nothing: the server is back in its initial state.
    Ready,
    /// A transaction may still be open on the server: send RSET first.
    Reset,
    /// The server said something impossible: close the connection.
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Mail,
    // Waiting for the reply to the n-th RCPT actually sent.
    Rcpt(usize),
    Data,
    Body,
    Done,
}

/// The state of one transaction in flight.
#[derive(Debug)]
pub struct Transaction {
    pipelining: bool,
    // RCPT lines actually sent, with the envelope index each belongs to.
    rcpts: Vec<(usize, String)>,
    results: Vec<Option<RcptResult>>,
    // Envelope indices whose RCPT got 2xx: they share the DATA / final-dot reply.
    accepted: Vec<usize>,
    mail_refusal: Option<Reply>,
    stage: Stage,
}

impl Transaction {
    /// Checks the envelope against the server and returns the transaction with the first
    /// bytes to write: MAIL alone, or MAIL + every RCPT + DATA when pipelining.
    ///
    /// A recipient whose address cannot be written safely gets a local `553 5.1.3` and is
    /// never sent.
    pub fn start(
        envelope: &OutboundEnvelope,
        caps: &Capabilities,
        message_len: usize,
    ) -> Result<(Transaction, Vec<u8>), EnvelopeError> {
        envelope::check(envelope, caps, message_len)?;
        let mut results = vec![None; envelope.recipients.len()];
        let mut rcpts = Vec::new();
        for (i, recipient) in envelope.recipients.iter().enumerate() {
            if envelope::address_is_safe(&recipient.address) {
                rcpts.push((i, envelope::rcpt_command(recipient, caps)));
            } else {
                let reply = Reply::local(553, "5.1.3", "invalid recipient address syntax");
                results[i] = Some(RcptResult::Permanent(reply));
            }
        }
        if rcpts.is_empty() {
            return Err(EnvelopeError::NoRecipients);
        }
        let mut first = envelope::mail_command(envelope, caps, message_len).into_bytes();
        if caps.pipelining {
            for (_, line) in &rcpts {
                first.extend_from_slice(line.as_bytes());
            }
            // RFC 2920 §3.1: DATA may end a group; its reply tells us whether to send.
            first.extend_from_slice(b"DATA\r\n");
        }
        let transaction = Transaction {
            pipelining: caps.pipelining,
            rcpts,
            results,
            accepted: Vec::new(),
            mail_refusal: None,
            stage: Stage::Mail,
        };
        Ok((transaction, first))
    }

    /// The command whose reply is awaited, for timeouts and error messages.
    pub fn waiting_for(&self) -> &'static str {
        match self.stage {
            Stage::Mail => "MAIL",
            Stage::Rcpt(_) => "RCPT",
            Stage::Data => "DATA",
            Stage::Body => "end of data",
            Stage::Done => "nothing",
        }
    }

    /// True while the reply to the final dot is awaited (RFC 5321 §4.5.3.2.6: 10 minutes).
    pub fn awaiting_data_end(&self) -> bool {
        self.stage == Stage::Body
    }

    /// Takes the next reply from the server.
    pub fn on_reply(&mut self, reply: Reply) -> Step {
        match self.stage {
            Stage::Mail => self.on_mail(reply),
            Stage::Rcpt(n) => self.on_rcpt(n, reply),
            Stage::Data => self.on_data(reply),
            Stage::Body => {
                // RFC 5321 §4.1.1.4: after the final reply the transaction is over either way;
                // a 3xx here is nonsense and ends the connection.
                let after = match reply.code / 100 {
                    2 => After::Ready,
                    4 | 5 => After::Reset,
                    _ => After::Close,
                };
                self.finish_accepted(&reply);
                self.done(after)
            }
            Stage::Done => self.done(After::Close),
        }
    }

    fn on_mail(&mut self, reply: Reply) -> Step {
        if !reply.is_positive() {
            if !reply.is_transient() && !reply.is_permanent() {
                return self.fail_all(&reply, After::Close);
            }
            if !self.pipelining {
                return self.fail_all(&reply, After::Ready);
            }
            // The pipelined RCPT and DATA replies still have to be read, then ignored.
            self.mail_refusal = Some(reply);
        }
        self.stage = Stage::Rcpt(0);
        if self.pipelining {
            Step::Read
        } else {
            Step::Send(self.rcpts[0].1.clone().into_bytes())
        }
    }

    fn on_rcpt(&mut self, n: usize, reply: Reply) -> Step {
        let index = self.rcpts[n].0;
        if let Some(refusal) = &self.mail_refusal {
            self.results[index] = Some(RcptResult::from_reply(refusal.clone()));
        } else if reply.is_positive() {
            self.accepted.push(index);
        } else {
            self.results[index] = Some(RcptResult::from_reply(reply));
        }
        if n + 1 < self.rcpts.len() {
            self.stage = Stage::Rcpt(n + 1);
            return if self.pipelining {
                Step::Read
            } else {
                Step::Send(self.rcpts[n + 1].1.clone().into_bytes())
            };
        }
        if self.pipelining {
            self.stage = Stage::Data;
            Step::Read
        } else if self.accepted.is_empty() {
            // RFC 5321 §3.3: with no accepted recipient, DATA must not be sent.
            self.done(After::Reset)
        } else {
            self.stage = Stage::Data;
            Step::Send(b"DATA\r\n".to_vec())
        }
    }

    fn on_data(&mut self, reply: Reply) -> Step {
        let can_send = self.mail_refusal.is_none() && !self.accepted.is_empty();
        match (reply.code, can_send) {
            (354, true) => {
                self.stage = Stage::Body;
                Step::SendMessage
            }
            // RFC 2920 §3.1: the server must refuse a pipelined DATA with no valid recipient;
            // a 354 anyway leaves it waiting for a message we will not send.
            (354, false) => self.done(After::Close),
            // Every recipient already has its result (or the MAIL refusal).
            (_, false) => self.done(After::Reset),
            (_, true) => {
                let after = if reply.is_positive() {
                    After::Close
                } else {
                    After::Reset
                };
                let reply = if reply.is_positive() {
                    Reply::local(451, "4.5.0", &format!("unexpected reply to DATA: {reply}"))
                } else {
                    reply
                };
                self.finish_accepted(&reply);
                self.done(after)
            }
        }
    }

    fn finish_accepted(&mut self, reply: &Reply) {
        for &index in &self.accepted {
            self.results[index] = Some(RcptResult::from_reply(reply.clone()));
        }
    }

    fn fail_all(&mut self, reply: &Reply, after: After) -> Step {
        for (index, _) in &self.rcpts {
            self.results[*index] = Some(RcptResult::from_reply(reply.clone()));
        }
        self.done(after)
    }

    fn done(&mut self, after: After) -> Step {
        self.stage = Stage::Done;
        let results = self
            .results
            .iter()
            .map(|r| {
                r.clone().unwrap_or_else(|| {
                    // Only reachable when the connection ended the transaction early.
                    RcptResult::Temporary(Reply::local(451, "4.4.2", "transaction not finished"))
                })
            })
            .collect();
        Step::Done(Outcome { results, after })
    }
}

#[cfg(test)]
#[path = "transaction_tests.rs"]
mod tests;
