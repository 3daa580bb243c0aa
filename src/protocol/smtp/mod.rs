//! The SMTP server side (RFC 5321 with ESMTP extensions), as a pure state machine.
//!
//! A [`Session`] is fed the bytes a client sent ([`Session::receive`]) and asked what to do
//! next ([`Session::next_action`]): write replies, read more, ask the directory about a
//! recipient, check credentials, spool a message, start TLS or close. The actor that owns the
//! socket carries these out and reports back with the `*_verdict` methods.
//!
//! Layers, bottom up: `line` frames command lines under RFC 5321 §4.5.3.1 limits;
//! `command` and `path` parse them into typed commands; `data` and `chunk` receive
//! message bodies (DATA and BDAT); `sasl` decodes AUTH PLAIN/LOGIN; `reply` formats
//! replies; `session` decides what each command may do in the current state.
//!
//! The `smtp-proto` crate is not used for parsing: it drops the quotes of quoted local
//! parts, rejects address literals, cannot tell `<postmaster>` from `<>`, and accepts many
//! parameters Hermod does not advertise. Our grammar here is small and exactly what we offer.

mod chunk;
mod command;
mod data;
mod line;
mod path;
mod received;
mod reply;
mod sasl;
mod session;
mod types;

#[cfg(test)]
mod tests;

pub use command::COMMAND_LABELS;
pub use received::received_header;
pub use session::Session;
pub use types::{
    Action, AuthVerdict, CommandEvent, DsnNotify, DsnRet, ListenerKind, RcptVerdict, Recipient,
    Route, SessionConfig, SpoolVerdict, Transaction,
};
