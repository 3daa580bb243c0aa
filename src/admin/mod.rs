//! Account administration shared by the CLI and the server. While the server runs it owns
//! the store (sled allows one process), so the CLI sends requests over a Unix socket in the
//! data directory (mode 0600: whoever may read the data may administer it); when no server
//! answers, the CLI opens the store itself. Both paths run the same [`execute`].
//! Passwords are hashed by the CLI: they never cross the socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::sync::watch;

use crate::actors::QueueManager;
use crate::config::Config;
use crate::directory::Directory;
use crate::protocol::mail::Address;
use crate::storage::{Store, StoreError, UserRecord};

pub mod queue;

pub use queue::{DestinationSummary, QueueEntry};

/// Mailboxes every new account gets, with their SPECIAL-USE attribute.
const DEFAULT_MAILBOXES: [(&str, Option<&str>); 5] = [
    ("INBOX", None),
    ("Sent", Some("\\Sent")),
    ("Drafts", Some("\\Drafts")),
    ("Trash", Some("\\Trash")),
    ("Junk", Some("\\Junk")),
];

/// Longest request line accepted on the socket.
const MAX_REQUEST: usize = 64 * 1024;

/// One administrative request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Create an account (with its INBOX).
    UserAdd {
        /// The login and mailbox address.
        address: String,
        /// An argon2id PHC hash.
        password_hash: String,
    },
    /// Change an account's password.
    UserPasswd {
        /// The account.
        address: String,
        /// The new argon2id PHC hash.
        password_hash: String,
    },
    /// Delete an account and its mailboxes.
    UserDel {
        /// The account.
        address: String,
    },
    /// List the accounts.
    UserList,
    /// Every recipient of every queued message.
    QueueList,
    /// One queued message.
    QueueShow {
        /// Queue id (hex).
        id: String,
    },
    /// Retry a queued message now.
    QueueRetry {
        /// Queue id (hex).
        id: String,
    },
    /// Delete a queued message, optionally returning it to its sender.
    QueueDelete {
        /// Queue id (hex).
        id: String,
        /// Send the sender a failure DSN first.
        bounce: bool,
    },
    /// Pending recipients per destination.
    QueueSummary,
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Response {
    /// Whether the request was carried out.
    pub ok: bool,
    /// Why not, when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Accounts, for `UserList`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Queue entries, for `QueueList` and `QueueShow`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queue: Vec<QueueEntry>,
    /// Per-destination rows, for `QueueSummary`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub summary: Vec<DestinationSummary>,
    /// The message header, for `QueueShow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
}

impl Response {
    fn done() -> Self {
        Response {
            ok: true,
            ..Response::default()
        }
    }

    fn failed(error: impl Into<String>) -> Self {
        Response {
            ok: false,
            error: Some(error.into()),
            ..Response::default()
        }
    }
}

/// What a request works on.
pub struct Context<'a> {
    /// The store.
    pub store: &'a dyn Store,
    /// The directory: the running server's, or one built from the store.
    pub directory: &'a Directory,
    /// Whether `directory` is the running server's (kept in step with account changes).
    pub live: bool,
    /// The configuration.
    pub config: &'a Config,
    /// The running server's queue manager, told about retries and deletions.
    pub queue: Option<&'a actix::Addr<QueueManager>>,
}

/// A directory for a store no server is running on (accounts loaded from it).
pub fn offline_directory(store: &dyn Store, config: &Config) -> Result<Directory, StoreError> {
    let directory = Directory::new(&config.domains, &config.aliases, &config.catch_all);
    directory.load_users(store.users()?);
    Ok(directory)
}

/// Carries out `request`.
pub fn execute(ctx: &Context<'_>, request: Request) -> Response {
    let directory = ctx.live.then_some(ctx.directory);
    let (store, config) = (ctx.store, ctx.config);
    let result = match request {
        Request::UserAdd {
            address,
            password_hash,
        } => add_user(store, directory, config, &address, password_hash),
        Request::UserPasswd {
            address,
            password_hash,
        } => change_password(store, directory, &address, password_hash),
        Request::UserDel { address } => delete_user(store, directory, &address),
        Request::UserList => store
            .users()
            .map_err(|e| e.to_string())
            .map(|users| Response {
                ok: true,
                users: users.into_iter().map(|u| u.address).collect(),
                ..Response::default()
            }),
        Request::QueueList => queue::list(ctx).map(|queue| Response {
            ok: true,
            queue,
            ..Response::default()
        }),
        Request::QueueShow { id } => queue::parse_id(&id)
            .and_then(|id| queue::show(ctx, id))
            .map(|(queue, header)| Response {
                ok: true,
                queue,
                header: Some(header),
                ..Response::default()
            }),
        Request::QueueRetry { id } => queue::parse_id(&id)
            .and_then(|id| queue::retry(ctx, id))
            .map(|()| Response::done()),
        Request::QueueDelete { id, bounce } => queue::parse_id(&id)
            .and_then(|id| queue::delete(ctx, id, bounce))
            .map(|()| Response::done()),
        Request::QueueSummary => queue::summary(ctx).map(|summary| Response {
            ok: true,
            summary,
            ..Response::default()
        }),
    };
    result.unwrap_or_else(Response::failed)
}

fn canonical(address: &str, config: &Config) -> Result<String, String> {
    let parsed = Address::parse(address).map_err(|e| format!("{address}: {e}"))?;
    let domain = parsed.domain().to_ascii_lowercase();
    if !config
        .domains
        .iter()
        .any(|d| d.eq_ignore_ascii_case(&domain))
    {
        return Err(format!(
            "{address}: {domain} is not a local domain (domains = {:?})",
            config.domains
        ));
    }
    Ok(format!("{}@{domain}", parsed.local().to_lowercase()))
}

fn add_user(
    store: &dyn Store,
    directory: Option<&Directory>,
    config: &Config,
    address: &str,
    password_hash: String,
) -> Result<Response, String> {
    let address = canonical(address, config)?;
    if store.user(&address).map_err(|e| e.to_string())?.is_some() {
        return Err(format!("{address} already exists"));
    }
    let record = UserRecord {
        address: address.clone(),
        password_hash,
        created_at: chrono::Utc::now().timestamp(),
    };
    store.put_user(record.clone()).map_err(|e| e.to_string())?;
    // INBOX, and the RFC 6154 special-use mailboxes clients look for to file sent mail,
    // drafts, deleted mail and spam.
    for (name, special_use) in DEFAULT_MAILBOXES {
        match store.create_mailbox_with(&address, name, special_use.map(str::to_string)) {
            Ok(_) | Err(StoreError::AlreadyExists) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    if let Some(directory) = directory {
        directory.put_user(record);
    }
    Ok(Response::done())
}

fn change_password(
    store: &dyn Store,
    directory: Option<&Directory>,
    address: &str,
    password_hash: String,
) -> Result<Response, String> {
    let address = address.to_lowercase();
    let Some(mut record) = store.user(&address).map_err(|e| e.to_string())? else {
        return Err(format!("{address}: no such user"));
    };
    record.password_hash = password_hash;
    store.put_user(record.clone()).map_err(|e| e.to_string())?;
    if let Some(directory) = directory {
        directory.put_user(record);
    }
    Ok(Response::done())
}

fn delete_user(
    store: &dyn Store,
    directory: Option<&Directory>,
    address: &str,
) -> Result<Response, String> {
    let address = address.to_lowercase();
    if !store.delete_user(&address).map_err(|e| e.to_string())? {
        return Err(format!("{address}: no such user"));
    }
    if let Some(directory) = directory {
        directory.remove_user(&address);
    }
    Ok(Response::done())
}

/// What the server's admin socket works on.
pub struct ServerContext {
    /// The server's store.
    pub store: Arc<dyn Store>,
    /// The server's directory, updated with every change.
    pub directory: Arc<Directory>,
    /// The server's configuration.
    pub config: Arc<Config>,
    /// The server's queue manager.
    pub queue: actix::Addr<QueueManager>,
}

/// Serves the admin socket until `stop` turns true.
pub async fn serve(listener: UnixListener, ctx: ServerContext, mut stop: watch::Receiver<bool>) {
    let ctx = Arc::new(ctx);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = crate::shutdown::requested(&mut stop) => return,
        };
        tokio::spawn(answer(stream, Arc::clone(&ctx)));
    }
}

async fn answer(stream: tokio::net::UnixStream, ctx: Arc<ServerContext>) {
    let (read, mut write) = stream.into_split();
    // A request is one line; `take` bounds what a client can make us buffer.
    let mut lines = tokio::io::BufReader::new(read.take(MAX_REQUEST as u64));
    let mut line = String::new();
    let read = tokio::time::timeout(Duration::from_secs(30), lines.read_line(&mut line)).await;
    let response = match read {
        Ok(Ok(n)) if n > 0 && n < MAX_REQUEST => match serde_json::from_str::<Request>(&line) {
            Ok(request) => {
                let ctx = Arc::clone(&ctx);
                tokio::task::spawn_blocking(move || {
                    let context = Context {
                        store: ctx.store.as_ref(),
                        directory: &ctx.directory,
                        live: true,
                        config: &ctx.config,
                        queue: Some(&ctx.queue),
                    };
                    execute(&context, request)
                })
                .await
                .unwrap_or_else(|e| Response::failed(e.to_string()))
            }
            Err(e) => Response::failed(format!("bad request: {e}")),
        },
        _ => Response::failed("no request, or a request too long"),
    };
    if let Ok(mut text) = serde_json::to_string(&response) {
        text.push('\n');
        let _ = write.write_all(text.as_bytes()).await;
    }
}

/// Sends `request` to the server listening on `socket`. `Ok(None)` when no server answers
/// there (not running), so the caller may open the store itself.
pub fn request(socket: &Path, request: &Request) -> std::io::Result<Option<Response>> {
    let mut stream = match UnixStream::connect(socket) {
        Ok(stream) => stream,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut text = serde_json::to_string(request).map_err(std::io::Error::other)?;
    text.push('\n');
    stream.write_all(text.as_bytes())?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    serde_json::from_str(&line)
        .map(Some)
        .map_err(|e| std::io::Error::other(format!("bad answer from the server: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStore;

    fn config() -> Config {
        Config {
            domains: vec!["example.test".into()],
            ..Config::default()
        }
    }

    #[test]
    fn user_lifecycle() {
        let store = MemoryStore::new();
        let directory = Directory::new(&config().domains, Vec::new(), Vec::new());
        let cfg = config();
        let ctx = Context {
            store: &store,
            directory: &directory,
            live: true,
            config: &cfg,
            queue: None,
        };
        let run = |request| execute(&ctx, request);
        let add = |address: &str| Request::UserAdd {
            address: address.into(),
            password_hash: "h".into(),
        };
        assert!(run(add("Alice@Example.TEST")).ok);
        assert!(directory.user("alice@example.test").is_some());
        assert!(store
            .mailbox("alice@example.test", "INBOX")
            .unwrap()
            .is_some());
        let names: Vec<(String, Option<String>)> = store
            .list_mailboxes("alice@example.test")
            .unwrap()
            .into_iter()
            .map(|m| (m.name, m.special_use))
            .collect();
        assert!(
            names.contains(&("Sent".to_string(), Some("\\Sent".to_string()))),
            "{names:?}"
        );
        assert!(
            names.contains(&("Junk".to_string(), Some("\\Junk".to_string()))),
            "{names:?}"
        );
        let again = run(add("alice@example.test"));
        assert!(!again.ok && again.error.unwrap().contains("already exists"));
        let foreign = run(add("bob@elsewhere.test"));
        assert!(!foreign.ok && foreign.error.unwrap().contains("not a local domain"));
        let bad = run(add("not an address"));
        assert!(!bad.ok);
        let list = run(Request::UserList);
        assert_eq!(list.users, vec!["alice@example.test".to_string()]);
        let passwd = Request::UserPasswd {
            address: "alice@example.test".into(),
            password_hash: "h2".into(),
        };
        assert!(run(passwd).ok);
        assert_eq!(
            directory.user("alice@example.test").unwrap().password_hash,
            "h2"
        );
        let del = Request::UserDel {
            address: "alice@example.test".into(),
        };
        assert!(run(del.clone()).ok);
        assert!(directory.user("alice@example.test").is_none());
        assert!(!run(del).ok);
    }
}
