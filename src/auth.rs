//! Passwords: argon2id hashes in PHC string form, and credential checks that run on the
//! blocking pool (a hash takes tens of milliseconds and ~19 MiB) behind a semaphore, so a
//! burst of logins can neither stall an arbiter nor exhaust memory.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::Semaphore;

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

/// Checks credentials against the directory.
pub struct Authenticator {
    directory: Arc<Directory>,
    permits: Semaphore,
}

impl Authenticator {
    /// At most `concurrency` hashes run at once; the rest wait their turn.
    pub fn new(directory: Arc<Directory>, concurrency: usize) -> Self {
        Authenticator {
            directory,
            permits: Semaphore::new(concurrency.max(1)),
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
        let hash = account
            .as_ref()
            .map_or_else(|| decoy_hash().to_string(), |u| u.password_hash.clone());
        let Ok(_permit) = self.permits.acquire().await else {
            return Verdict::TempFail;
        };
        let password = password.to_string();
        let matched = tokio::task::spawn_blocking(move || verify_password(&hash, &password)).await;
        match (matched, account) {
            (Ok(true), Some(user)) => Verdict::Ok(user.address.to_lowercase()),
            (Ok(_), _) => Verdict::Invalid,
            (Err(_), _) => Verdict::TempFail,
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
}
