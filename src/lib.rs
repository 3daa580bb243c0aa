//! Hermod: an actor-based, high-throughput mail engine (SMTP, queue, local and remote
//! delivery, POP3, IMAP).
//!
//! # Layout
//! - [`config`]: the typed, strict TOML configuration and its checks.
//! - [`protocol`]: pure protocol code, no I/O: the SMTP, POP3 and IMAP server sessions,
//!   the outbound SMTP client state machine, IMAP message rendering, and mail types.
//! - [`storage`]: the [`storage::Store`] trait, the sled + spool-segment backend and an
//!   in-memory backend, with one contract test suite for both.
//! - [`queue`]: pure queue logic: the retry schedule and DSN construction (RFC 3464).
//! - [`net`]: listeners, TLS (rustls) and the stream type sessions run on.
//! - [`outbound`]: the SMTP client that delivers to remote servers (connect, STARTTLS,
//!   pipelined transactions with per-recipient results, connection reuse).
//! - [`actors`]: the supervised actix actor tree: sessions, spool writer, queue manager,
//!   destination queues and delivery workers, mailboxes.
//! - [`directory`]: local domains, accounts, aliases and catch-alls, in memory.
//! - [`auth`]: password hashing (argon2id) and credential checks.
//! - [`dns`]: MX resolution for outbound delivery (hickory-resolver) and its TTL cache.
//! - [`admin`]: the local admin socket the CLI talks to while the server runs.
//! - [`server`]: start-up and the shutdown sequence.
//! - [`sink`]: `hermod sink`, a scripted SMTP sink for load tests.
//! - [`shutdown`]: the signal that starts the shutdown sequence.
//! - [`metrics`]: every metric Hermod exports, declared once.

pub mod actors;
pub mod admin;
pub mod auth;
pub mod config;
pub mod directory;
pub mod dns;
pub mod metrics;
pub mod net;
pub mod outbound;
pub mod protocol;
pub mod queue;
pub mod server;
pub mod shutdown;
pub mod sink;
pub mod storage;
