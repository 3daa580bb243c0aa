//! Passwords: argon2id hashes in PHC string form, and credential checks that run on the
//! blocking pool (a hash takes tens of milliseconds and ~19 MiB) behind a semaphore, so a
//! burst of logins can neither stall an arbiter nor exhaust memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use blake2::digest::{KeyInit, Mac};
use blake2::Blake2bMac512;
use rand::RngCore;
use tokio::sync::oneshot;

use crate::directory::Directory;

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The argon2 library refused the input.
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// The outcome of a credential check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: the canonical account address.
    Ok(String),
    /// Unknown account or wrong password (deliberately not told apart).
    Invalid,
    /// The check itself failed; the client may retry.
    TempFail,
}

impl Verdict {
    /// The `result` label of `hermod_auth_attempts_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Ok(_) => "ok",
            Verdict::Invalid => "invalid",
            Verdict::TempFail => "tempfail",
        }
    }
}

/// Hashes `password` with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// True when `password` matches the PHC `hash`; false for a malformed hash too.
pub fn verify_password(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash checked when the account does not exist, so that the answer takes as long as
/// for a real account and does not reveal which accounts exist.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password").unwrap_or_default())
}

/// How long a verified login is remembered.
const CACHE_TTL: Duration = Duration::from_secs(300);
/// Most logins remembered; the cache is emptied when full.
const CACHE_ENTRIES: usize = 10_000;

/// Recently verified logins, so that a client logging in again (mail clients do, often)
/// costs a keyed hash instead of an argon2 run, as Dovecot's auth cache does. An entry
/// holds a keyed BLAKE2b MAC of the password under a random per-process key, never the
/// password, and the account's hash at the time: a password change invalidates it.
struct AuthCache {
    key: [u8; 32],
    entries: Mutex<HashMap<String, CacheEntry>>,
}

struct CacheEntry {
    account_hash: String,
    mac: Vec<u8>,
    at: Instant,
}

impl AuthCache {
    fn new() -> Self {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        AuthCache {
            key,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn mac(&self, login: &str, password: &str) -> Option<Blake2bMac512> {
        let mut mac = <Blake2bMac512 as KeyInit>::new_from_slice(&self.key).ok()?;
        mac.update(login.as_bytes());
        mac.update(&[0]);
        mac.update(password.as_bytes());
        Some(mac)
    }

    /// True when `login` verified with this password and account hash recently.
    fn hit(&self, login: &str, account_hash: &str, password: &str) -> bool {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let Some(entry) = entries.get(login) else {
            return false;
        };
        if entry.account_hash != account_hash || entry.at.elapsed() > CACHE_TTL {
            return false;
        }
        // verify_slice compares in constant time.
        self.mac(login, password)
            .is_some_and(|mac| mac.verify_slice(&entry.mac).is_ok())
    }

    fn remember(&self, login: &str, account_hash: &str, password: &str) {
        let Some(mac) = self.mac(login, password) else {
            return;
        };
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CACHE_ENTRIES {
            entries.clear();
        }
        entries.insert(
            login.to_string(),
            CacheEntry {
                account_hash: account_hash.to_string(),
                mac: mac.finalize().into_bytes().to_vec(),
                at: Instant::now(),
            },
        );
    }
}

/// A password check waiting for a hashing thread.
struct HashJob {
    hash: String,
    password: String,
    reply: oneshot::Sender<bool>,
}

/// A few dedicated threads for argon2. Each check allocates ~19 MiB, and the allocator keeps
/// what a thread freed for that thread: spread over the general blocking pool (hundreds of
/// threads) a burst of logins would pin gigabytes; on a handful of threads it pins a
/// handful of buffers. The queue is bounded: beyond it a login is told to retry.
struct HashPool {
    jobs: std::sync::mpsc::SyncSender<HashJob>,
}

impl HashPool {
    fn new(threads: usize) -> Self {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<HashJob>(1024);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("hermod-argon2-{i}"))
                .spawn(move || loop {
                    let job = {
                        let queue = queue.lock().unwrap_or_else(|p| p.into_inner());
                        queue.recv()
                    };
                    let Ok(job) = job else { return };
                    let _ = job.reply.send(verify_password(&job.hash, &job.password));
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        HashPool { jobs }
    }

    /// None when the queue is full or the threads are gone.
    async fn verify(&self, hash: String, password: String) -> Option<bool> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .try_send(HashJob {
                hash,
                password,
                reply,
            })
            .ok()?;
        answer.await.ok()
    }
}

/// Checks credentials against the directory.
pub struct Authenticator {
    directory: Arc<Directory>,
    pool: HashPool,
    cache: AuthCache,
}

impl Authenticator {
    /// At most `concurrency` hashes run at once; the rest wait their turn.
    pub fn new(directory: Arc<Directory>, concurrency: usize) -> Self {
        Authenticator {
            directory,
            pool: HashPool::new(concurrency),
            cache: AuthCache::new(),
        }
    }

    /// Checks `login`/`password`. `authzid`, if given, must name the same account
    /// (no proxy authorization).
    pub async fn verify(&self, authzid: Option<&str>, login: &str, password: &str) -> Verdict {
        if let Some(authzid) = authzid.filter(|a| !a.is_empty()) {
            if !authzid.eq_ignore_ascii_case(login) {
                return Verdict::Invalid;
            }
        }
        let account = self.directory.user(login);
        let login_key = login.to_lowercase();
        if let Some(user) = &account {
            if self.cache.hit(&login_key, &user.password_hash, password) {
                return Verdict::Ok(user.address.to_lowercase());
            }
        }
        let hash = account
            .as_ref()
            .map_or_else(|| decoy_hash().to_string(), |u| u.password_hash.clone());
        let matched = self.pool.verify(hash, password.to_string()).await;
        match (matched, account) {
            (Some(true), Some(user)) => {
                self.cache
                    .remember(&login_key, &user.password_hash, password);
                Verdict::Ok(user.address.to_lowercase())
            }
            (Some(_), _) => Verdict::Invalid,
            (None, _) => {
                crate::metrics::backpressure("auth_queue_full");
                Verdict::TempFail
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::UserRecord;

    #[test]
    fn hash_round_trip() {
        let hash = hash_password("s3cret").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "s3cret"));
        assert!(!verify_password(&hash, "S3cret"));
        assert!(!verify_password("not a hash", "s3cret"));
    }

    #[tokio::test]
    async fn verifies_against_directory() {
        let domains = vec!["example.test".to_string()];
        let none: Vec<(&String, &Vec<String>)> = Vec::new();
        let no_catch: Vec<(&String, &String)> = Vec::new();
        let directory = Arc::new(Directory::new(&domains, none, no_catch));
        directory.put_user(UserRecord {
            address: "alice@example.test".into(),
            password_hash: hash_password("pw").unwrap(),
            created_at: 0,
        });
        let auth = Authenticator::new(directory, 2);
        let ok = Verdict::Ok("alice@example.test".into());
        assert_eq!(auth.verify(None, "Alice@example.test", "pw").await, ok);
        assert_eq!(
            auth.verify(None, "alice@example.test", "no").await,
            Verdict::Invalid
        );
        assert_eq!(
            auth.verify(None, "eve@example.test", "pw").await,
            Verdict::Invalid
        );
        let other = Some("bob@example.test");
        assert_eq!(
            auth.verify(other, "alice@example.test", "pw").await,
            Verdict::Invalid
        );
    }

    #[tokio::test]
    async fn cache_remembers_success_only_until_the_password_changes() {
        let domains = vec!["example.test".to_string()];
        let none: Vec<(&String, &Vec<String>)> = Vec::new();
        let no_catch: Vec<(&String, &String)> = Vec::new();
        let directory = Arc::new(Directory::new(&domains, none, no_catch));
        let user = |hash: String| UserRecord {
            address: "alice@example.test".into(),
            password_hash: hash,
            created_at: 0,
        };
        directory.put_user(user(hash_password("old").unwrap()));
        let auth = Authenticator::new(Arc::clone(&directory), 1);
        let ok = Verdict::Ok("alice@example.test".into());
        assert_eq!(auth.verify(None, "alice@example.test", "old").await, ok);
        // Served from the cache now, and a wrong password is still wrong.
        assert_eq!(auth.verify(None, "alice@example.test", "old").await, ok);
        assert_eq!(
            auth.verify(None, "alice@example.test", "olD").await,
            Verdict::Invalid
        );
        directory.put_user(user(hash_password("new").unwrap()));
        assert_eq!(
            auth.verify(None, "alice@example.test", "old").await,
            Verdict::Invalid
        );
        assert_eq!(auth.verify(None, "alice@example.test", "new").await, ok);
    }
}
