//! Pure protocol code: bytes in, typed commands and actions out.
//!
//! Nothing here is async or touches a socket, a file or a clock; sessions return
//! actions that the actors in [`crate::actors`] carry out.

pub mod imap;
pub mod mail;
pub mod pop3;
pub mod smtp;
pub mod smtp_client;
