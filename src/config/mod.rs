//! Hermod's typed, strict TOML configuration.
//!
//! Loading runs in passes so that `hermod check-config` can report every problem at once:
//! 1. the text is parsed into a TOML table (a syntax error stops here);
//! 2. the `schema` pass walks that table against the known keys, naming each unknown key by its
//!    dotted path and checking each value on its own; bad entries are reported and dropped;
//! 3. what is left is deserialized into [`Config`] (missing keys take their defaults);
//! 4. the semantic checks (`check`) that need no filesystem run on the result.
//!
//! [`Config::check`] runs every semantic check, including the ones that look at files
//! (TLS certificate and key). Sizes (`"25MiB"`) and durations (`"30s"`) are parsed at this
//! edge by [`units`]; the rest of Hermod sees plain `u64` and [`Duration`].

mod addr;
mod check;
mod outbound;
mod schema;
#[cfg(test)]
mod tests;
pub mod units;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

pub use addr::{ListenAddr, TrustedNet};
pub use check::{validate_address, validate_domain};
pub use outbound::{Delivery, Queue};
pub use units::{ByteSize, HumanDuration, UnitError};

/// The whole server configuration; `Config::default()` is a runnable server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The name this server announces (SMTP greeting, EHLO, Received: headers).
    pub hostname: String,
    /// Where the spool, mailboxes and the self-signed certificate live.
    pub data_dir: PathBuf,
    /// The domains delivered locally, lower-cased.
    pub domains: Vec<String>,
    /// The address of each listener; `None` when disabled.
    pub listen: Listen,
    /// Certificate and key; `None` means a self-signed certificate made in `data_dir`.
    pub tls: Option<Tls>,
    /// Per-message and per-connection limits.
    pub limits: Limits,
    /// Who may relay through this server.
    pub relay: Relay,
    /// Idle and handshake timeouts.
    pub timeouts: Timeouts,
    /// `"alias@domain"` to its target addresses; domain parts lower-cased.
    pub aliases: BTreeMap<String, Vec<String>>,
    /// `"domain"` to the address that receives mail for unknown users there.
    pub catch_all: BTreeMap<String, String>,
    /// Storage engine tuning.
    pub storage: Storage,
    /// Outbound delivery: DNS, MX port, smarthost, per-destination limits.
    pub delivery: Delivery,
    /// Outbound retry schedule and expiry.
    pub queue: Queue,
}

/// Listener addresses; in TOML, `""` disables a listener.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Listen {
    /// SMTP relay/MX (RFC 5321).
    #[serde(deserialize_with = "addr::de_listen")]
    pub smtp: Option<SocketAddr>,
    /// Message submission with STARTTLS (RFC 6409).
    #[serde(deserialize_with = "addr::de_listen")]
    pub submission: Option<SocketAddr>,
    /// Message submission over implicit TLS (RFC 8314 §3.3).
    #[serde(deserialize_with = "addr::de_listen")]
    pub submissions: Option<SocketAddr>,
    /// POP3 with STLS (RFC 1939, RFC 2595).
    #[serde(deserialize_with = "addr::de_listen")]
    pub pop3: Option<SocketAddr>,
    /// POP3 over implicit TLS (RFC 8314).
    #[serde(deserialize_with = "addr::de_listen")]
    pub pop3s: Option<SocketAddr>,
    /// IMAP with STARTTLS (RFC 9051).
    #[serde(deserialize_with = "addr::de_listen")]
    pub imap: Option<SocketAddr>,
    /// IMAP over implicit TLS (RFC 8314).
    #[serde(deserialize_with = "addr::de_listen")]
    pub imaps: Option<SocketAddr>,
    /// Metrics and health over HTTP.
    #[serde(deserialize_with = "addr::de_listen")]
    pub http: Option<SocketAddr>,
}

/// PEM certificate chain and private key files.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// The PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// The PEM private key.
    pub key: PathBuf,
}

/// Limits that protect the server from large or abusive clients.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest accepted message in bytes, advertised as SIZE (RFC 1870).
    #[serde(deserialize_with = "units::de_bytes")]
    pub max_message_size: u64,
    /// RCPT TO commands accepted per transaction (RFC 5321 §4.5.3.1.8: at least 100).
    pub max_recipients: usize,
    /// Protocol errors tolerated before a session is dropped.
    pub max_errors: usize,
    /// Failed AUTH/PASS attempts tolerated before a session is dropped.
    pub max_auth_failures: usize,
    /// Concurrent connections per listener.
    pub max_connections: usize,
    /// Concurrent connections per client IP, per listener.
    pub max_connections_per_ip: usize,
}

/// Relay policy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Relay {
    /// Clients in these networks may relay without authenticating.
    #[serde(deserialize_with = "addr::de_networks")]
    pub trusted_networks: Vec<IpNet>,
}

/// Timeouts, each written as a human duration (`"5m"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// SMTP idle timeout between commands (RFC 5321 §4.5.3.2.7: at least 5 minutes).
    #[serde(deserialize_with = "units::de_duration")]
    pub smtp_idle: Duration,
    /// POP3 autologout timer (RFC 1939 §3: at least 10 minutes).
    #[serde(deserialize_with = "units::de_duration")]
    pub pop3_idle: Duration,
    /// IMAP autologout timer (RFC 9051 §5.4: at least 30 minutes).
    #[serde(deserialize_with = "units::de_duration")]
    pub imap_idle: Duration,
    /// Time allowed for a TLS handshake to finish.
    #[serde(deserialize_with = "units::de_duration")]
    pub tls_handshake: Duration,
    /// Time sessions get to finish after shutdown starts, before they are cut.
    #[serde(deserialize_with = "units::de_duration")]
    pub shutdown_grace: Duration,
}

/// Storage engine tuning.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Storage {
    /// Page cache size of the index database, in bytes.
    #[serde(deserialize_with = "units::de_bytes")]
    pub cache_capacity: u64,
}

/// Every problem found in a configuration; displayed one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<String>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(problem)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

fn local(port: u16) -> Option<SocketAddr> {
    Some(SocketAddr::from(([127, 0, 0, 1], port)))
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hostname: "localhost".to_owned(),
            data_dir: PathBuf::from("./hermod-data"),
            domains: vec!["example.test".to_owned()],
            listen: Listen::default(),
            tls: None,
            limits: Limits::default(),
            relay: Relay::default(),
            timeouts: Timeouts::default(),
            aliases: BTreeMap::new(),
            catch_all: BTreeMap::new(),
            storage: Storage::default(),
            delivery: Delivery::default(),
            queue: Queue::default(),
        }
    }
}

impl Default for Listen {
    fn default() -> Self {
        // Unprivileged loopback ports (the standard port + 2000-ish) so a default server runs
        // without root and is not reachable from the network until configured.
        Listen {
            smtp: local(2525),
            submission: local(2587),
            submissions: local(2465),
            pop3: local(1110),
            pop3s: local(1995),
            imap: local(1143),
            imaps: local(1993),
            http: local(9725),
        }
    }
}

impl Listen {
    /// Every listener by its config key, enabled or not.
    pub fn all(&self) -> [(&'static str, Option<SocketAddr>); 8] {
        [
            ("smtp", self.smtp),
            ("submission", self.submission),
            ("submissions", self.submissions),
            ("pop3", self.pop3),
            ("pop3s", self.pop3s),
            ("imap", self.imap),
            ("imaps", self.imaps),
            ("http", self.http),
        ]
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 25 << 20,
            max_recipients: 100,
            max_errors: 10,
            max_auth_failures: 3,
            max_connections: 1000,
            max_connections_per_ip: 100,
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            smtp_idle: Duration::from_secs(5 * 60),
            pop3_idle: Duration::from_secs(10 * 60),
            imap_idle: Duration::from_secs(30 * 60),
            tls_handshake: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            cache_capacity: 64 << 20,
        }
    }
}

/// A fully commented example configuration: every key, its default and what it does.
pub fn example_toml() -> &'static str {
    include_str!("example.toml")
}

impl Config {
    /// Parse TOML text; returns ALL problems found (syntax error, unknown keys, bad values,
    /// semantic checks that need no filesystem), not just the first.
    pub fn from_toml(text: &str) -> Result<Config, ConfigErrors> {
        let mut table = match text.parse::<toml::Table>() {
            Ok(table) => table,
            Err(e) => return Err(ConfigErrors(vec![syntax_error(text, &e)])),
        };
        let mut problems = schema::prune(&mut table);
        let mut config = match Config::deserialize(table) {
            Ok(config) => config,
            Err(e) => {
                // The pruning pass removes everything serde would reject, so this is a
                // mismatch between `schema` and the structs; still report, never panic.
                problems.push(format!("invalid configuration: {}", e.message()));
                return Err(ConfigErrors(problems));
            }
        };
        problems.extend(config.normalize());
        problems.extend(check::static_problems(&config));
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(problems))
        }
    }

    /// Read and parse the file at `path`; a read error is reported as one of the problems.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![format!(
                "cannot read config file {}: {e}",
                path.display()
            )])
        })?;
        Config::from_toml(&text).map_err(|ConfigErrors(problems)| {
            ConfigErrors(
                problems
                    .into_iter()
                    .map(|p| format!("{}: {p}", path.display()))
                    .collect(),
            )
        })
    }

    /// Semantic checks: names and addresses, local domains, listener clashes, limits, and
    /// that the TLS certificate and key (when given) are readable files.
    pub fn check(&self) -> Vec<String> {
        let mut problems = check::static_problems(self);
        problems.extend(check::file_problems(self));
        problems
    }

    /// Lower-cases domains (RFC 5321 §2.4: domain names are case-insensitive); reports keys
    /// that collide once lower-cased.
    fn normalize(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        self.hostname = self.hostname.to_ascii_lowercase();
        for domain in &mut self.domains {
            *domain = domain.to_ascii_lowercase();
        }
        let mut aliases = BTreeMap::new();
        for (alias, targets) in std::mem::take(&mut self.aliases) {
            let key = check::lower_domain(&alias);
            let targets = targets.iter().map(|t| check::lower_domain(t)).collect();
            if aliases.insert(key.clone(), targets).is_some() {
                problems.push(format!(
                    "aliases: '{alias}' duplicates '{key}' (domains ignore case)"
                ));
            }
        }
        self.aliases = aliases;
        let mut catch_all = BTreeMap::new();
        for (domain, target) in std::mem::take(&mut self.catch_all) {
            let key = domain.to_ascii_lowercase();
            if catch_all
                .insert(key.clone(), check::lower_domain(&target))
                .is_some()
            {
                problems.push(format!(
                    "catch_all: '{domain}' duplicates '{key}' (domains ignore case)"
                ));
            }
        }
        self.catch_all = catch_all;
        problems
    }
}

/// A TOML syntax error on one line, with its 1-based line and column.
fn syntax_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let mut start = span.start.min(text.len());
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            let before = &text[..start];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("TOML syntax error at line {line}, column {column}: {message}")
        }
        None => format!("TOML syntax error: {message}"),
    }
}
