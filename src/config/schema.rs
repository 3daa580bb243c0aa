//! The pruning pass: walks the raw TOML table against the known keys and value types.
//!
//! serde stops at the first unknown key or bad value; this pass instead reports each one
//! (by its dotted path) and removes it, so the deserialization that follows sees only
//! valid entries and every problem in the file is reported at once. Each value is checked
//! with the same `Deserialize` impl the real pass uses, so the two cannot disagree.

use serde::de::DeserializeOwned;
use toml::{Table, Value};

use super::addr::{ListenAddr, TrustedNet};
use super::units::{ByteSize, HumanDuration};

/// Checks one value; the error is the reason it was rejected.
type Check = fn(&Value) -> Result<(), String>;

/// What a key is expected to hold.
enum Node {
    /// A single value.
    Value(Check),
    /// An array whose elements are each checked; bad elements are dropped.
    List(Check),
    /// A table with free-form keys whose values are each checked; bad entries are dropped.
    Map(Check),
    /// A table with a fixed set of keys.
    Table(&'static Section),
}

/// A table with a fixed key set; `required` keys have no default.
struct Section {
    keys: &'static [(&'static str, Node)],
    required: &'static [&'static str],
}

fn is<T: DeserializeOwned>(value: &Value) -> Result<(), String> {
    T::deserialize(value.clone())
        .map(drop)
        .map_err(|e| e.message().to_owned())
}

const LISTENER: Node = Node::Value(is::<ListenAddr>);
const COUNT: Node = Node::Value(is::<usize>);
const SIZE: Node = Node::Value(is::<ByteSize>);
const DURATION: Node = Node::Value(is::<HumanDuration>);
const TEXT: Node = Node::Value(is::<String>);

static LISTEN: Section = Section {
    keys: &[
        ("smtp", LISTENER),
        ("submission", LISTENER),
        ("submissions", LISTENER),
        ("pop3", LISTENER),
        ("pop3s", LISTENER),
        ("imap", LISTENER),
        ("imaps", LISTENER),
        ("http", LISTENER),
    ],
    required: &[],
};

static TLS: Section = Section {
    keys: &[("cert", TEXT), ("key", TEXT)],
    required: &["cert", "key"],
};

static LIMITS: Section = Section {
    keys: &[
        ("max_message_size", SIZE),
        ("max_recipients", COUNT),
        ("max_errors", COUNT),
        ("max_auth_failures", COUNT),
        ("max_connections", COUNT),
        ("max_connections_per_ip", COUNT),
    ],
    required: &[],
};

static RELAY: Section = Section {
    keys: &[("trusted_networks", Node::List(is::<TrustedNet>))],
    required: &[],
};

static TIMEOUTS: Section = Section {
    keys: &[
        ("smtp_idle", DURATION),
        ("pop3_idle", DURATION),
        ("imap_idle", DURATION),
        ("tls_handshake", DURATION),
        ("shutdown_grace", DURATION),
    ],
    required: &[],
};

static STORAGE: Section = Section {
    keys: &[("cache_capacity", SIZE)],
    required: &[],
};

static DELIVERY: Section = Section {
    keys: &[
        ("dns_servers", Node::List(is::<std::net::SocketAddr>)),
        ("mx_port", Node::Value(is::<u16>)),
        ("smarthost", TEXT),
        ("smarthost_user", TEXT),
        ("smarthost_password", TEXT),
        ("require_tls_domains", Node::List(is::<String>)),
        ("verify_tls_domains", Node::List(is::<String>)),
        ("connections_per_destination", COUNT),
        ("messages_per_connection", COUNT),
        ("connect_timeout", DURATION),
        ("command_timeout", DURATION),
        ("dns_timeout", DURATION),
    ],
    required: &[],
};

static QUEUE: Section = Section {
    keys: &[
        ("retry_intervals", Node::List(is::<HumanDuration>)),
        ("max_age", DURATION),
        ("delay_notice", DURATION),
    ],
    required: &[],
};

static ROOT: Section = Section {
    keys: &[
        ("hostname", TEXT),
        ("data_dir", TEXT),
        ("domains", Node::List(is::<String>)),
        ("listen", Node::Table(&LISTEN)),
        ("tls", Node::Table(&TLS)),
        ("limits", Node::Table(&LIMITS)),
        ("relay", Node::Table(&RELAY)),
        ("timeouts", Node::Table(&TIMEOUTS)),
        ("aliases", Node::Map(is::<Vec<String>>)),
        ("catch_all", Node::Map(is::<String>)),
        ("storage", Node::Table(&STORAGE)),
        ("delivery", Node::Table(&DELIVERY)),
        ("queue", Node::Table(&QUEUE)),
    ],
    required: &[],
};

/// Reports and removes every unknown key and invalid value in `root`.
pub(super) fn prune(root: &mut Table) -> Vec<String> {
    let mut problems = Vec::new();
    prune_section(root, &ROOT, "", &mut problems);
    problems
}

/// `parent.key`, quoting `key` when it is not a bare TOML key (e.g. an address).
fn join(parent: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let key = if bare {
        key.to_owned()
    } else {
        format!("\"{}\"", key.escape_debug())
    };
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

fn prune_section(table: &mut Table, section: &Section, path: &str, problems: &mut Vec<String>) {
    let keys: Vec<String> = table.keys().cloned().collect();
    for key in keys {
        let here = join(path, &key);
        let Some((_, node)) = section.keys.iter().find(|(name, _)| *name == key) else {
            problems.push(unknown_key(&here, &key, section, path.is_empty()));
            table.remove(&key);
            continue;
        };
        let keep = match (node, table.get_mut(&key)) {
            (_, None) => continue,
            (Node::Value(check), Some(value)) => match check(value) {
                Ok(()) => true,
                Err(e) => {
                    problems.push(format!("{here}: {e}"));
                    false
                }
            },
            (Node::List(check), Some(Value::Array(items))) => {
                let mut index = 0;
                items.retain(|item| {
                    let result = check(item);
                    if let Err(e) = &result {
                        problems.push(format!("{here}[{index}]: {e}"));
                    }
                    index += 1;
                    result.is_ok()
                });
                true
            }
            (Node::Map(check), Some(Value::Table(entries))) => {
                entries.retain(|name, value| {
                    let result = check(value);
                    if let Err(e) = &result {
                        problems.push(format!("{}: {e}", join(&here, name)));
                    }
                    result.is_ok()
                });
                true
            }
            (Node::Table(inner), Some(Value::Table(sub))) => {
                for name in inner
                    .required
                    .iter()
                    .filter(|name| !sub.contains_key(**name))
                {
                    problems.push(format!(
                        "{}: missing (required in [{here}])",
                        join(&here, name)
                    ));
                }
                prune_section(sub, inner, &here, problems);
                // A required key that was present but invalid is already reported; the table
                // goes either way, as serde could not build it.
                inner.required.iter().all(|name| sub.contains_key(*name))
            }
            (Node::List(_), Some(other)) => {
                problems.push(format!(
                    "{here}: expected an array, found {}",
                    type_name(other)
                ));
                false
            }
            (Node::Map(_) | Node::Table(_), Some(other)) => {
                problems.push(format!(
                    "{here}: expected a table, found {}",
                    type_name(other)
                ));
                false
            }
        };
        if !keep {
            table.remove(&key);
        }
    }
}

fn unknown_key(here: &str, key: &str, section: &Section, top_level: bool) -> String {
    let known: Vec<&str> = section.keys.iter().map(|(name, _)| *name).collect();
    let place = if top_level { " at the top level" } else { "" };
    let closest = known
        .iter()
        .map(|name| (edit_distance(key, name), *name))
        .min()
        .filter(|(distance, _)| *distance <= 2);
    match closest {
        Some((_, name)) => format!("unknown key '{here}'{place} (did you mean '{name}'?)"),
        None => format!(
            "unknown key '{here}'{place} (known keys: {})",
            known.join(", ")
        ),
    }
}

/// Levenshtein distance, for "did you mean" hints; inputs are short key names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("smpt", "smtp"), 2);
        assert_eq!(edit_distance("smtp", "smtp"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("hostnam", "hostname"), 1);
    }

    #[test]
    fn paths_quote_non_bare_keys() {
        assert_eq!(join("", "listen"), "listen");
        assert_eq!(join("listen", "smtp"), "listen.smtp");
        assert_eq!(join("aliases", "a@b.test"), "aliases.\"a@b.test\"");
        assert_eq!(join("x", "a\"b"), "x.\"a\\\"b\"");
    }

    #[test]
    fn unknown_keys_are_removed_and_named() {
        let mut table: Table = "bogus = 1\n[listen]\nsmpt = \"1.2.3.4:25\"\n[limits]\nwhatever = 3"
            .parse()
            .unwrap();
        let problems = prune(&mut table);
        assert_eq!(
            problems,
            [
                "unknown key 'bogus' at the top level (known keys: hostname, data_dir, domains, \
                 listen, tls, limits, relay, timeouts, aliases, catch_all, storage, delivery, queue)",
                "unknown key 'limits.whatever' (known keys: max_message_size, max_recipients, \
                 max_errors, max_auth_failures, max_connections, max_connections_per_ip)",
                "unknown key 'listen.smpt' (did you mean 'smtp'?)",
            ]
        );
        assert_eq!(table.to_string(), "[limits]\n\n[listen]\n");
    }

    #[test]
    fn bad_list_elements_and_map_entries_are_dropped_alone() {
        let mut table: Table = "domains = [\"a.test\", 5, \"b.test\"]\n\
             [aliases]\n\"x@a.test\" = [\"y@a.test\"]\n\"z@a.test\" = \"y@a.test\""
            .parse()
            .unwrap();
        let problems = prune(&mut table);
        assert_eq!(
            problems,
            [
                "aliases.\"z@a.test\": invalid type: string \"y@a.test\", expected a sequence",
                "domains[1]: invalid type: integer `5`, expected a string",
            ]
        );
        assert_eq!(table["domains"].as_array().unwrap().len(), 2);
        assert_eq!(table["aliases"].as_table().unwrap().len(), 1);
    }

    #[test]
    fn a_tls_table_without_its_keys_is_dropped() {
        let mut table: Table = "[tls]\ncert = \"c.pem\"".parse().unwrap();
        assert_eq!(prune(&mut table), ["tls.key: missing (required in [tls])"]);
        assert!(table.is_empty());
    }

    #[test]
    fn sections_of_the_wrong_type() {
        let mut table: Table = "listen = 5\naliases = []\ndomains = \"a.test\""
            .parse()
            .unwrap();
        assert_eq!(
            prune(&mut table),
            [
                "aliases: expected a table, found an array",
                "domains: expected an array, found a string",
                "listen: expected a table, found an integer",
            ]
        );
        assert!(table.is_empty());
    }
}
