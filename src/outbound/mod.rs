//! Outbound SMTP: the async driver that carries the pure client in
//! [`crate::protocol::smtp_client`] over TCP and STARTTLS to a remote server.
//!
//! A [`Connection`] is one open session after greeting, EHLO and (when offered) STARTTLS;
//! it carries any number of transactions, each answered per recipient.

mod config;
mod connection;
mod tls;

pub use tls::connector;

pub use crate::protocol::smtp_client::{
    Capabilities, OutboundEnvelope, OutboundRecipient, RcptResult, Reply,
};
pub use config::{ClientConfig, ClientError};
pub use connection::Connection;

#[cfg(test)]
mod tests;
