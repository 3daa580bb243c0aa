//! Who is local: the local domains, the accounts (kept in memory, persisted by the store),
//! aliases, `user+tag` sub-addressing and per-domain catch-alls. Lookups are in memory so
//! that RCPT and AUTH never wait on storage.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use crate::storage::UserRecord;

/// Where an address leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Delivered to these targets: local account names and/or remote addresses.
    Local(Vec<Target>),
    /// A local domain without such an account, alias or catch-all.
    NoSuchUser,
    /// Not one of our domains.
    NotLocal,
}

/// One final destination of an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A local account (its canonical, lower-case address).
    User(String),
    /// An address elsewhere (an alias pointing out).
    Remote(String),
}

/// Local domains, accounts and the rules that map addresses onto them.
#[derive(Debug, Default)]
pub struct Directory {
    domains: HashSet<String>,
    primary: Option<String>,
    aliases: HashMap<String, Vec<String>>,
    catch_all: HashMap<String, String>,
    users: RwLock<HashMap<String, UserRecord>>,
}

/// Alias chains longer than this are configuration loops.
const MAX_ALIAS_DEPTH: usize = 8;

impl Directory {
    /// A directory of `domains` with the given aliases and catch-alls (keys lower-cased).
    pub fn new<'a>(
        domains: impl IntoIterator<Item = &'a String>,
        aliases: impl IntoIterator<Item = (&'a String, &'a Vec<String>)>,
        catch_all: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Self {
        let domains: Vec<String> = domains
            .into_iter()
            .map(|d| d.to_ascii_lowercase())
            .collect();
        Directory {
            primary: domains.first().cloned(),
            domains: domains.into_iter().collect(),
            aliases: aliases
                .into_iter()
                .map(|(k, v)| {
                    (
                        k.to_lowercase(),
                        v.iter().map(|t| t.to_lowercase()).collect(),
                    )
                })
                .collect(),
            catch_all: catch_all
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_lowercase()))
                .collect(),
            users: RwLock::new(HashMap::new()),
        }
    }

    /// True when `domain` is one of ours (case-insensitive).
    pub fn is_local_domain(&self, domain: &str) -> bool {
        self.domains.contains(&domain.to_ascii_lowercase())
    }

    /// The first configured domain, for addresses without one (`RCPT TO:<postmaster>`).
    pub fn primary_domain(&self) -> Option<&str> {
        self.primary.as_deref()
    }

    /// Replaces every account (at start, from the store).
    pub fn load_users(&self, users: impl IntoIterator<Item = UserRecord>) {
        let mut map = self.users.write().unwrap_or_else(|p| p.into_inner());
        map.clear();
        map.extend(users.into_iter().map(|u| (u.address.to_lowercase(), u)));
    }

    /// Adds or replaces one account.
    pub fn put_user(&self, user: UserRecord) {
        let mut map = self.users.write().unwrap_or_else(|p| p.into_inner());
        map.insert(user.address.to_lowercase(), user);
    }

    /// Removes one account; true if it existed.
    pub fn remove_user(&self, address: &str) -> bool {
        let mut map = self.users.write().unwrap_or_else(|p| p.into_inner());
        map.remove(&address.to_lowercase()).is_some()
    }

    /// The account `address` logs in as, if any.
    pub fn user(&self, address: &str) -> Option<UserRecord> {
        let map = self.users.read().unwrap_or_else(|p| p.into_inner());
        map.get(&address.to_lowercase()).cloned()
    }

    /// Number of accounts.
    pub fn user_count(&self) -> usize {
        self.users.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Resolves `local@domain` to its final targets, deduplicated, in a stable order.
    pub fn resolve(&self, local: &str, domain: &str) -> Resolution {
        if !self.is_local_domain(domain) {
            return Resolution::NotLocal;
        }
        let mut targets = Vec::new();
        if !self.expand(local, &domain.to_ascii_lowercase(), 0, &mut targets) {
            return Resolution::NoSuchUser;
        }
        let mut seen = HashSet::new();
        targets.retain(|t| seen.insert(t.clone()));
        Resolution::Local(targets)
    }

    /// Adds the targets of one local address; false if it leads nowhere.
    fn expand(&self, local: &str, domain: &str, depth: usize, out: &mut Vec<Target>) -> bool {
        if depth > MAX_ALIAS_DEPTH {
            return false;
        }
        // RFC 5321 §2.4 lets local parts be case-sensitive; like most servers we treat them
        // case-insensitively, since mailboxes differing only in case confuse people.
        let local = local.to_lowercase();
        let full = format!("{local}@{domain}");
        if self.user(&full).is_some() {
            out.push(Target::User(full));
            return true;
        }
        if let Some(list) = self.aliases.get(&full) {
            let mut any = false;
            for target in list {
                any |= self.expand_address(target, depth + 1, out);
            }
            return any;
        }
        // Sub-addressing: user+tag@domain reaches user@domain.
        if let Some((base, _tag)) = local.split_once('+') {
            if !base.is_empty() && self.expand(base, domain, depth + 1, out) {
                return true;
            }
        }
        match self.catch_all.get(domain) {
            Some(target) if depth == 0 => self.expand_address(target, depth + 1, out),
            _ => false,
        }
    }

    fn expand_address(&self, address: &str, depth: usize, out: &mut Vec<Target>) -> bool {
        let Some((local, domain)) = address.rsplit_once('@') else {
            return false;
        };
        if self.is_local_domain(domain) {
            self.expand(local, &domain.to_ascii_lowercase(), depth, out)
        } else {
            out.push(Target::Remote(address.to_string()));
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(address: &str) -> UserRecord {
        UserRecord {
            address: address.into(),
            password_hash: String::new(),
            created_at: 0,
        }
    }

    fn directory() -> Directory {
        let domains = vec!["example.test".to_string(), "other.test".to_string()];
        let aliases: HashMap<String, Vec<String>> = [
            (
                "team@example.test",
                vec!["alice@example.test", "bob@example.test"],
            ),
            ("fwd@example.test", vec!["someone@remote.test"]),
            ("loop@example.test", vec!["loop@example.test"]),
            (
                "dup@example.test",
                vec!["alice@example.test", "alice+x@example.test"],
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
        .collect();
        let catch_all: HashMap<String, String> =
            [("other.test".to_string(), "bob@example.test".to_string())].into();
        let d = Directory::new(&domains, &aliases, &catch_all);
        d.load_users([user("alice@example.test"), user("Bob@Example.test")]);
        d
    }

    fn users(names: &[&str]) -> Resolution {
        Resolution::Local(names.iter().map(|n| Target::User(n.to_string())).collect())
    }

    #[test]
    fn resolves_users_case_insensitively() {
        let d = directory();
        assert_eq!(
            d.resolve("alice", "example.test"),
            users(&["alice@example.test"])
        );
        assert_eq!(
            d.resolve("ALICE", "EXAMPLE.TEST"),
            users(&["alice@example.test"])
        );
        assert_eq!(
            d.resolve("bob", "example.test"),
            users(&["bob@example.test"])
        );
    }

    #[test]
    fn unknown_and_foreign() {
        let d = directory();
        assert_eq!(d.resolve("carol", "example.test"), Resolution::NoSuchUser);
        assert_eq!(d.resolve("alice", "elsewhere.test"), Resolution::NotLocal);
    }

    #[test]
    fn plus_tags_aliases_and_catch_all() {
        let d = directory();
        assert_eq!(
            d.resolve("alice+news", "example.test"),
            users(&["alice@example.test"])
        );
        assert_eq!(d.resolve("+news", "example.test"), Resolution::NoSuchUser);
        assert_eq!(
            d.resolve("team", "example.test"),
            users(&["alice@example.test", "bob@example.test"])
        );
        assert_eq!(
            d.resolve("fwd", "example.test"),
            Resolution::Local(vec![Target::Remote("someone@remote.test".into())])
        );
        assert_eq!(
            d.resolve("anything", "other.test"),
            users(&["bob@example.test"])
        );
        assert_eq!(
            d.resolve("dup", "example.test"),
            users(&["alice@example.test"])
        );
    }

    #[test]
    fn alias_loops_end() {
        let d = directory();
        assert_eq!(d.resolve("loop", "example.test"), Resolution::NoSuchUser);
    }
}
