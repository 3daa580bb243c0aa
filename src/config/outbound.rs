//! The outbound side of the configuration: how remote mail is delivered (`[delivery]`) and
//! how long it is retried (`[queue]`).

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::units::{self, HumanDuration};

/// How mail for remote domains is delivered.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Delivery {
    /// DNS servers for MX lookups ("ip:port"); empty means the system resolver.
    pub dns_servers: Vec<SocketAddr>,
    /// The port used to reach MX hosts (25; tests point it elsewhere).
    pub mx_port: u16,
    /// Relay everything through this "host:port" instead of looking up MX records.
    #[serde(deserialize_with = "de_optional_text")]
    pub smarthost: Option<String>,
    /// Login for the smarthost (AUTH PLAIN, only over TLS).
    #[serde(deserialize_with = "de_optional_text")]
    pub smarthost_user: Option<String>,
    /// Password for the smarthost.
    #[serde(deserialize_with = "de_optional_text")]
    pub smarthost_password: Option<String>,
    /// Destinations (lower-case domains) whose servers must offer STARTTLS.
    pub require_tls_domains: Vec<String>,
    /// Destinations whose servers must offer STARTTLS with a certificate that verifies
    /// (Mozilla roots, the MX host name); implies `require_tls_domains`.
    pub verify_tls_domains: Vec<String>,
    /// Concurrent connections to one destination (one MX site).
    pub connections_per_destination: usize,
    /// Messages sent over one connection before it is closed and a new one opened.
    pub messages_per_connection: usize,
    /// Time allowed to connect and read the greeting.
    #[serde(deserialize_with = "units::de_duration")]
    pub connect_timeout: Duration,
    /// Time allowed for each command's reply (RFC 5321 §4.5.3.2: minutes).
    #[serde(deserialize_with = "units::de_duration")]
    pub command_timeout: Duration,
    /// Time allowed for one DNS query.
    #[serde(deserialize_with = "units::de_duration")]
    pub dns_timeout: Duration,
}

/// The retry schedule of the outbound queue.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Queue {
    /// Waits between attempts; the last one repeats.
    #[serde(deserialize_with = "de_durations")]
    pub retry_intervals: Vec<Duration>,
    /// A message not delivered after this long is returned to its sender.
    #[serde(deserialize_with = "units::de_duration")]
    pub max_age: Duration,
    /// After this long undelivered, the sender gets a "delayed" notice (once).
    #[serde(deserialize_with = "units::de_duration")]
    pub delay_notice: Duration,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            dns_servers: Vec::new(),
            mx_port: 25,
            smarthost: None,
            smarthost_user: None,
            smarthost_password: None,
            require_tls_domains: Vec::new(),
            verify_tls_domains: Vec::new(),
            connections_per_destination: 8,
            messages_per_connection: 100,
            connect_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(5 * 60),
            dns_timeout: Duration::from_secs(5),
        }
    }
}

impl Default for Queue {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        Queue {
            retry_intervals: vec![
                minutes(5),
                minutes(10),
                minutes(30),
                minutes(60),
                minutes(120),
                minutes(240),
            ],
            max_age: Duration::from_secs(5 * 24 * 3600),
            delay_notice: minutes(240),
        }
    }
}

/// An empty string is the same as leaving the key out.
fn de_optional_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(d)?;
    Ok(Some(text).filter(|t| !t.is_empty()))
}

fn de_durations<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    let list = Vec::<HumanDuration>::deserialize(d)?;
    Ok(list.into_iter().map(|h| h.0).collect())
}

/// Problems a parsed file can still have: values each fine alone but unusable.
pub(super) fn problems(delivery: &Delivery, queue: &Queue, out: &mut Vec<String>) {
    if delivery.mx_port == 0 {
        out.push("delivery.mx_port: must not be 0".into());
    }
    if delivery.connections_per_destination == 0 {
        out.push("delivery.connections_per_destination: must be at least 1".into());
    }
    if delivery.messages_per_connection == 0 {
        out.push("delivery.messages_per_connection: must be at least 1".into());
    }
    if let Some(host) = &delivery.smarthost {
        match host.rsplit_once(':') {
            Some((name, port)) if !name.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {}
            _ => out.push(format!(
                "delivery.smarthost: '{}' is not \"host:port\"",
                host.escape_debug()
            )),
        }
    }
    if delivery.smarthost_user.is_some() != delivery.smarthost_password.is_some() {
        out.push("delivery.smarthost_user and smarthost_password go together".into());
    }
    for (name, value) in [
        ("delivery.connect_timeout", delivery.connect_timeout),
        ("delivery.command_timeout", delivery.command_timeout),
        ("delivery.dns_timeout", delivery.dns_timeout),
        ("queue.max_age", queue.max_age),
    ] {
        if value.is_zero() {
            out.push(format!("{name}: must be longer than 0"));
        }
    }
    if queue.retry_intervals.is_empty() {
        out.push("queue.retry_intervals: at least one interval is required".into());
    }
    if queue.retry_intervals.iter().any(Duration::is_zero) {
        out.push("queue.retry_intervals: intervals must be longer than 0".into());
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::time::Duration;

    #[test]
    fn contract_keys_parse() {
        let config = Config::from_toml(
            r#"
[delivery]
dns_servers = ["127.0.0.1:5353"]
mx_port = 2526
smarthost = "relay.example.net:587"
smarthost_user = "u"
smarthost_password = "p"
[queue]
retry_intervals = ["1s", "2s"]
max_age = "1h"
delay_notice = "10m"
"#,
        )
        .unwrap();
        assert_eq!(
            config.delivery.dns_servers,
            vec!["127.0.0.1:5353".parse().unwrap()]
        );
        assert_eq!(config.delivery.mx_port, 2526);
        assert_eq!(
            config.delivery.smarthost.as_deref(),
            Some("relay.example.net:587")
        );
        assert_eq!(
            config.queue.retry_intervals,
            vec![Duration::from_secs(1), Duration::from_secs(2)]
        );
        assert_eq!(config.queue.max_age, Duration::from_secs(3600));
    }

    #[test]
    fn bad_outbound_values_are_each_reported() {
        let errors = Config::from_toml(
            r#"
[delivery]
mx_port = 0
smarthost = "no-port"
smarthost_user = "only-user"
dns_servers = ["not an address"]
[queue]
retry_intervals = []
max_age = "forever"
"#,
        )
        .unwrap_err()
        .0;
        let all = errors.join("\n");
        for needle in [
            "delivery.mx_port",
            "delivery.smarthost:",
            "smarthost_user and smarthost_password",
            "delivery.dns_servers",
            "queue.retry_intervals",
            "queue.max_age",
        ] {
            assert!(all.contains(needle), "{needle} not in:\n{all}");
        }
    }

    #[test]
    fn empty_smarthost_means_none() {
        let config = Config::from_toml("[delivery]\nsmarthost = \"\"\n").unwrap();
        assert_eq!(config.delivery.smarthost, None);
    }
}
