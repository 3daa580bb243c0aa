//! The supervised actor tree (actix): one actor per client session, the single
//! [`SpoolWriter`] committer, the [`QueueManager`] that routes recipients, and one
//! [`Mailbox`] actor per active mailbox that serializes its deliveries and POP3 lock.
//!
//! Sessions are pure state machines from [`crate::protocol`] driven by a connection task
//! that lives inside the session actor; everything blocking (storage, fsync, argon2) runs on
//! the blocking pool, never on an arbiter thread.

pub mod bounce;
pub mod connection;
pub mod delivery_worker;
pub mod domain_queue;
pub mod imap_session;
pub mod imap_storage;
pub mod job;
pub mod literal_file;
pub mod mailbox;
pub mod outcomes;
pub mod pop3_session;
pub mod queue_manager;
pub mod services;
pub mod session;
pub mod smtp_session;
pub mod spool_writer;
pub mod system;

pub use mailbox::{Mailbox, MailboxRegistry};
pub use queue_manager::QueueManager;
pub use services::Services;
pub use spool_writer::SpoolWriter;
pub use system::ActorSystem;
