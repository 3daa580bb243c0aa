//! The SMTP client side, pure: reply parsing, EHLO capabilities, MAIL/RCPT parameters,
//! dot-stuffing and the transaction state machine. The async driver is
//! [`crate::outbound`].

mod body;
mod capabilities;
mod downgrade;
mod envelope;
mod reply;
mod transaction;

pub use body::dot_stuff;
pub use capabilities::Capabilities;
pub use downgrade::{seven_bit, DowngradeError};
pub use envelope::{EnvelopeError, OutboundEnvelope, OutboundRecipient, RcptResult};
pub use reply::{Reply, ReplyError, ReplyParser, MAX_REPLY_LINE, MAX_REPLY_LINES};
pub use transaction::{After, Outcome, Step, Transaction};
