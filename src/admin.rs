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

use crate::config::Config;
use crate::directory::Directory;
use crate::protocol::mail::Address;
use crate::storage::{Store, StoreError, UserRecord};

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
            users: Vec::new(),
        }
    }
}

/// Carries out `request` on `store`, keeping `directory` (the running server's) in step.
pub fn execute(
    store: &dyn Store,
    directory: Option<&Directory>,
    config: &Config,
    request: Request,
) -> Response {
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
                error: None,
                users: users.into_iter().map(|u| u.address).collect(),
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
    match store.create_mailbox(&address, "INBOX") {
        Ok(_) | Err(StoreError::AlreadyExists) => {}
        Err(e) => return Err(e.to_string()),
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
                    execute(
                        ctx.store.as_ref(),
                        Some(&ctx.directory),
                        &ctx.config,
                        request,
                    )
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
        let add = |address: &str| Request::UserAdd {
            address: address.into(),
            password_hash: "h".into(),
        };
        assert!(execute(&store, Some(&directory), &cfg, add("Alice@Example.TEST")).ok);
        assert!(directory.user("alice@example.test").is_some());
        assert!(store
            .mailbox("alice@example.test", "INBOX")
            .unwrap()
            .is_some());
        let again = execute(&store, Some(&directory), &cfg, add("alice@example.test"));
        assert!(!again.ok && again.error.unwrap().contains("already exists"));
        let foreign = execute(&store, Some(&directory), &cfg, add("bob@elsewhere.test"));
        assert!(!foreign.ok && foreign.error.unwrap().contains("not a local domain"));
        let bad = execute(&store, Some(&directory), &cfg, add("not an address"));
        assert!(!bad.ok);
        let list = execute(&store, None, &cfg, Request::UserList);
        assert_eq!(list.users, vec!["alice@example.test".to_string()]);
        let passwd = Request::UserPasswd {
            address: "alice@example.test".into(),
            password_hash: "h2".into(),
        };
        assert!(execute(&store, Some(&directory), &cfg, passwd).ok);
        assert_eq!(
            directory.user("alice@example.test").unwrap().password_hash,
            "h2"
        );
        let del = Request::UserDel {
            address: "alice@example.test".into(),
        };
        assert!(execute(&store, Some(&directory), &cfg, del.clone()).ok);
        assert!(directory.user("alice@example.test").is_none());
        assert!(!execute(&store, Some(&directory), &cfg, del).ok);
    }
}
