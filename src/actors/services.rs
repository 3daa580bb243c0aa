//! What every session needs, shared behind one `Arc`: configuration, storage, the
//! directory, the authenticator, TLS, and the addresses of the long-lived actors.

use std::net::IpAddr;
use std::sync::Arc;

use actix::Addr;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use super::{MailboxRegistry, SpoolWriter};
use crate::auth::Authenticator;
use crate::config::Config;
use crate::directory::Directory;
use crate::net::ListenerRole;
use crate::protocol::imap::session as imap;
use crate::protocol::{pop3, smtp};
use crate::storage::Store;

/// Shared state and handles for sessions.
pub struct Services {
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// Message, mailbox and account storage.
    pub store: Arc<dyn Store>,
    /// Local domains and accounts.
    pub directory: Arc<Directory>,
    /// Credential checks.
    pub auth: Authenticator,
    /// TLS for implicit-TLS listeners, STARTTLS and STLS.
    pub tls: TlsAcceptor,
    /// The single spool committer.
    pub spool: Addr<SpoolWriter>,
    /// Mailbox actors by account.
    pub mailboxes: MailboxRegistry,
    /// Turns true when the server begins shutting down.
    pub shutdown: watch::Receiver<bool>,
    /// IMAP APPENDs of streamed literals take turns: each reads its whole message into
    /// memory for its summary, and a message may be as large as the size limit.
    pub large_appends: Arc<Semaphore>,
    smtp_mx: Arc<smtp::SessionConfig>,
    smtp_submission: Arc<smtp::SessionConfig>,
    smtp_submissions: Arc<smtp::SessionConfig>,
    pop3: Arc<pop3::SessionConfig>,
    imap: Arc<imap::SessionConfig>,
}

impl Services {
    /// Bundles the handles and derives each protocol's session settings from `config`.
    pub fn new(
        config: Arc<Config>,
        store: Arc<dyn Store>,
        directory: Arc<Directory>,
        tls: TlsAcceptor,
        spool: Addr<SpoolWriter>,
        mailboxes: MailboxRegistry,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let smtp_config = |listener| {
            Arc::new(smtp::SessionConfig {
                hostname: config.hostname.clone(),
                listener,
                max_message_size: usize::try_from(config.limits.max_message_size)
                    .unwrap_or(usize::MAX),
                max_recipients: config.limits.max_recipients,
                max_errors: config.limits.max_errors,
                max_auth_failures: config.limits.max_auth_failures,
            })
        };
        let pop3 = Arc::new(pop3::SessionConfig {
            hostname: config.hostname.clone(),
            max_auth_failures: config.limits.max_auth_failures,
            max_errors: config.limits.max_errors,
        });
        let imap = Arc::new(imap::SessionConfig {
            hostname: config.hostname.clone(),
            max_literal: u32::try_from(config.limits.max_message_size).unwrap_or(u32::MAX),
            max_auth_failures: config.limits.max_auth_failures,
            max_errors: config.limits.max_errors,
            ..imap::SessionConfig::default()
        });
        // One hashing thread per core: argon2 is CPU- and memory-bound.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Services {
            smtp_mx: smtp_config(smtp::ListenerKind::Mx),
            smtp_submission: smtp_config(smtp::ListenerKind::Submission),
            smtp_submissions: smtp_config(smtp::ListenerKind::Submissions),
            pop3,
            imap,
            auth: Authenticator::new(Arc::clone(&directory), cores),
            config,
            store,
            directory,
            tls,
            spool,
            mailboxes,
            shutdown,
            large_appends: Arc::new(Semaphore::new(1)),
        }
    }

    /// SMTP session settings for one listener.
    pub fn smtp_config(&self, role: ListenerRole) -> Arc<smtp::SessionConfig> {
        Arc::clone(match role {
            ListenerRole::Submission => &self.smtp_submission,
            ListenerRole::Submissions => &self.smtp_submissions,
            _ => &self.smtp_mx,
        })
    }

    /// POP3 session settings.
    pub fn pop3_config(&self) -> Arc<pop3::SessionConfig> {
        Arc::clone(&self.pop3)
    }

    /// IMAP session settings.
    pub fn imap_config(&self) -> Arc<imap::SessionConfig> {
        Arc::clone(&self.imap)
    }

    /// True when `ip` may relay without authenticating.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.config
            .relay
            .trusted_networks
            .iter()
            .any(|net| net.contains(&ip))
    }
}
