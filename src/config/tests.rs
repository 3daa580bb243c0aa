//! Tests of the whole loading pipeline: text in, `Config` or every problem out.

use std::net::SocketAddr;
use std::time::Duration;

use super::*;

const CONTRACT: &str = r#"
hostname = "mail.example.test"
data_dir = "./hermod-data"
domains = ["example.test"]
[listen]
smtp = "127.0.0.1:2525"
submission = "127.0.0.1:2587"
submissions = "127.0.0.1:2465"
pop3 = "127.0.0.1:1110"
pop3s = "127.0.0.1:1995"
imap = "127.0.0.1:1143"
imaps = "127.0.0.1:1993"
http = "127.0.0.1:9725"
[tls]
cert = "/path/cert.pem"
key = "/path/key.pem"
[limits]
max_message_size = "25MiB"
[relay]
trusted_networks = []
"#;

fn problems(text: &str) -> Vec<String> {
    match Config::from_toml(text) {
        Ok(config) => panic!("expected problems, parsed {config:?}"),
        Err(ConfigErrors(problems)) => problems,
    }
}

fn addr(text: &str) -> Option<SocketAddr> {
    Some(text.parse().unwrap())
}

#[test]
fn defaults() {
    let config = Config::default();
    assert_eq!(config.hostname, "localhost");
    assert_eq!(config.data_dir, PathBuf::from("./hermod-data"));
    assert_eq!(config.domains, ["example.test"]);
    assert_eq!(config.listen.smtp, addr("127.0.0.1:2525"));
    assert_eq!(config.listen.submission, addr("127.0.0.1:2587"));
    assert_eq!(config.listen.submissions, addr("127.0.0.1:2465"));
    assert_eq!(config.listen.pop3, addr("127.0.0.1:1110"));
    assert_eq!(config.listen.pop3s, addr("127.0.0.1:1995"));
    assert_eq!(config.listen.imap, addr("127.0.0.1:1143"));
    assert_eq!(config.listen.imaps, addr("127.0.0.1:1993"));
    assert_eq!(config.listen.http, addr("127.0.0.1:9725"));
    assert_eq!(config.tls, None);
    assert_eq!(config.limits.max_message_size, 25 * 1024 * 1024);
    assert_eq!(config.limits.max_recipients, 100);
    assert_eq!(config.limits.max_errors, 10);
    assert_eq!(config.limits.max_auth_failures, 3);
    assert_eq!(config.limits.max_connections, 1000);
    assert_eq!(config.limits.max_connections_per_ip, 100);
    assert!(config.relay.trusted_networks.is_empty());
    assert_eq!(config.timeouts.smtp_idle, Duration::from_secs(300));
    assert_eq!(config.timeouts.pop3_idle, Duration::from_secs(600));
    assert_eq!(config.timeouts.imap_idle, Duration::from_secs(1800));
    assert_eq!(config.timeouts.tls_handshake, Duration::from_secs(30));
    assert_eq!(config.timeouts.shutdown_grace, Duration::from_secs(10));
    assert!(config.aliases.is_empty());
    assert!(config.catch_all.is_empty());
    assert_eq!(config.storage.cache_capacity, 64 * 1024 * 1024);
    assert_eq!(config.check(), Vec::<String>::new());
}

#[test]
fn empty_and_partial_files_take_defaults() {
    assert_eq!(Config::from_toml(""), Ok(Config::default()));
    assert_eq!(Config::from_toml("# nothing\n\n"), Ok(Config::default()));
    let config = Config::from_toml("[limits]\nmax_recipients = 7").unwrap();
    assert_eq!(
        config,
        Config {
            limits: Limits {
                max_recipients: 7,
                ..Limits::default()
            },
            ..Config::default()
        }
    );
}

#[test]
fn example_parses_to_the_defaults() {
    assert_eq!(Config::from_toml(example_toml()), Ok(Config::default()));
}

#[test]
fn example_names_every_key() {
    let example = example_toml();
    let keys = [
        "hostname",
        "data_dir",
        "domains",
        "smtp",
        "submission",
        "submissions",
        "pop3",
        "pop3s",
        "imap",
        "imaps",
        "http",
        "[tls]",
        "cert",
        "key",
        "max_message_size",
        "max_recipients",
        "max_errors",
        "max_auth_failures",
        "max_connections",
        "max_connections_per_ip",
        "trusted_networks",
        "smtp_idle",
        "pop3_idle",
        "imap_idle",
        "tls_handshake",
        "shutdown_grace",
        "[aliases]",
        "[catch_all]",
        "cache_capacity",
    ];
    for key in keys {
        assert!(example.contains(key), "example.toml lacks {key}");
    }
}

#[test]
fn contract_example_parses_and_check_reports_missing_tls_files() {
    let config = Config::from_toml(CONTRACT).unwrap();
    assert_eq!(config.hostname, "mail.example.test");
    assert_eq!(config.listen, Listen::default());
    assert_eq!(
        config.tls,
        Some(Tls {
            cert: "/path/cert.pem".into(),
            key: "/path/key.pem".into()
        })
    );
    let problems = config.check();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("tls.cert: /path/cert.pem: "),
        "{problems:?}"
    );
    assert!(
        problems[1].starts_with("tls.key: /path/key.pem: "),
        "{problems:?}"
    );
}

#[test]
fn readable_tls_files_pass_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, "cert").unwrap();
    std::fs::write(&key, "key").unwrap();
    let config = Config {
        tls: Some(Tls {
            cert: cert.clone(),
            key: dir.path().to_owned(),
        }),
        ..Config::default()
    };
    let problems = config.check();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("tls.key: "), "{problems:?}");
    let config = Config {
        tls: Some(Tls { cert, key }),
        ..Config::default()
    };
    assert_eq!(config.check(), Vec::<String>::new());
}

#[test]
fn each_unknown_key_is_named_with_its_table() {
    let cases = [
        (
            "hostnam = \"x\"",
            "unknown key 'hostnam' at the top level (did you mean 'hostname'?)",
        ),
        (
            "[listen]\nsmpt = \"127.0.0.1:25\"",
            "unknown key 'listen.smpt' (did you mean 'smtp'?)",
        ),
        (
            "[tls]\ncert = \"c\"\nkey = \"k\"\npass = \"p\"",
            "unknown key 'tls.pass'",
        ),
        ("[limits]\nmax_size = 1", "unknown key 'limits.max_size'"),
        ("[relay]\nnetworks = []", "unknown key 'relay.networks'"),
        ("[timeouts]\nidle = \"5m\"", "unknown key 'timeouts.idle'"),
        ("[storage]\ncache = \"1MiB\"", "unknown key 'storage.cache'"),
        ("[listen.smtp]\nport = 25", "listen.smtp: invalid type: map"),
        ("[limits.deep]\nx = 1", "unknown key 'limits.deep'"),
    ];
    for (text, expected) in cases {
        let found = problems(text);
        assert_eq!(found.len(), 1, "{text}: {found:?}");
        assert!(found[0].starts_with(expected), "{text}: {found:?}");
    }
}

#[test]
fn several_problems_are_reported_at_once() {
    let text = "\
colour = \"blue\"
[limits]
max_message_size = \"25 parsecs\"
[listen]
smtp = \"127.0.0.1\"
";
    assert_eq!(
        problems(text),
        [
            "unknown key 'colour' at the top level (known keys: hostname, data_dir, domains, \
             listen, tls, limits, relay, timeouts, aliases, catch_all, storage, delivery, queue)",
            "limits.max_message_size: unknown unit 'parsecs' in '25 parsecs' (expected one of \
             B, KB, KiB, MB, MiB, GB, GiB)",
            "listen.smtp: invalid listen address '127.0.0.1' (expected IP:port such as \
             \"127.0.0.1:2525\" or \"[::1]:2525\", or \"\" to disable)",
        ]
    );
}

#[test]
fn value_and_semantic_problems_together() {
    let text = "\
domains = [\"Example.TEST\"]
[limits]
max_recipients = 0
[aliases]
\"a@elsewhere.test\" = [\"b@example.test\"]
[timeouts]
smtp_idle = \"5\"
";
    assert_eq!(
        problems(text),
        [
            "timeouts.smtp_idle: '5' has no unit (expected one of ms, s, m, h, d)",
            "aliases.\"a@elsewhere.test\": domain 'elsewhere.test' is not one of the local domains",
            "limits.max_recipients: must be greater than 0",
        ]
    );
}

#[test]
fn sizes_and_durations_in_context() {
    let config = Config::from_toml(
        "[limits]\nmax_message_size = \"10MB\"\n[storage]\ncache_capacity = 1048576\n\
         [timeouts]\nsmtp_idle = \"2h\"\npop3_idle = \"5d\"\ntls_handshake = \"250ms\"",
    )
    .unwrap();
    assert_eq!(config.limits.max_message_size, 10_000_000);
    assert_eq!(config.storage.cache_capacity, 1 << 20);
    assert_eq!(config.timeouts.smtp_idle, Duration::from_secs(7_200));
    assert_eq!(config.timeouts.pop3_idle, Duration::from_secs(5 * 86_400));
    assert_eq!(config.timeouts.tls_handshake, Duration::from_millis(250));
    assert_eq!(
        problems("[limits]\nmax_message_size = \"512B\""),
        ["limits.max_message_size: 512 bytes is below the minimum of 1KiB"]
    );
    assert_eq!(
        problems("[timeouts]\nshutdown_grace = \"0s\""),
        ["timeouts.shutdown_grace: must be greater than 0"]
    );
}

#[test]
fn trusted_networks() {
    let config = Config::from_toml(
        "[relay]\ntrusted_networks = [\"127.0.0.0/8\", \"192.0.2.7\", \"::1\", \"2001:db8::/32\"]",
    )
    .unwrap();
    let nets: Vec<String> = config
        .relay
        .trusted_networks
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        nets,
        ["127.0.0.0/8", "192.0.2.7/32", "::1/128", "2001:db8::/32"]
    );
    assert_eq!(
        problems("[relay]\ntrusted_networks = [\"10.0.0.0/8\", \"everyone\", 5, \"10.1.1.1/16\"]"),
        [
            "relay.trusted_networks[1]: invalid network 'everyone' (expected CIDR such as \
             \"127.0.0.0/8\" or an IP)",
            "relay.trusted_networks[2]: invalid type: integer `5`, expected a string",
            "relay.trusted_networks[3]: network '10.1.1.1/16' has host bits set (did you mean \
             '10.1.0.0/16'?)",
        ]
    );
}

#[test]
fn empty_string_disables_a_listener() {
    let config =
        Config::from_toml("[listen]\npop3 = \"\"\nimap = \"\"\nsmtp = \"[::1]:25\"").unwrap();
    assert_eq!(config.listen.pop3, None);
    assert_eq!(config.listen.imap, None);
    assert_eq!(config.listen.smtp, addr("[::1]:25"));
    assert_eq!(config.listen.pop3s, addr("127.0.0.1:1995"));
}

#[test]
fn clashing_listeners_are_reported() {
    assert_eq!(
        problems("[listen]\nsmtp = \"0.0.0.0:2525\"\nhttp = \"127.0.0.1:2525\""),
        ["listen.http: 127.0.0.1:2525 clashes with listen.smtp (0.0.0.0:2525)"]
    );
    let all_on_port_zero: String = Listen::default()
        .all()
        .iter()
        .map(|(name, _)| format!("{name} = \"127.0.0.1:0\"\n"))
        .collect();
    assert!(Config::from_toml(&format!("[listen]\n{all_on_port_zero}")).is_ok());
}

#[test]
fn names_are_normalized_to_lower_case() {
    let config = Config::from_toml(
        "hostname = \"MX.Example.Test\"\ndomains = [\"Example.TEST\"]\n\
         [aliases]\n\"Boss@EXAMPLE.test\" = [\"Ann@Example.Test\"]\n\
         [catch_all]\n\"EXAMPLE.test\" = \"Ann@EXAMPLE.TEST\"",
    )
    .unwrap();
    assert_eq!(config.hostname, "mx.example.test");
    assert_eq!(config.domains, ["example.test"]);
    assert_eq!(config.aliases["Boss@example.test"], ["Ann@example.test"]);
    assert_eq!(config.catch_all["example.test"], "Ann@example.test");
    assert_eq!(
        problems(
            "[aliases]\n\"a@example.test\" = [\"b@x.test\"]\n\"a@EXAMPLE.test\" = [\"c@x.test\"]"
        ),
        ["aliases: 'a@example.test' duplicates 'a@example.test' (domains ignore case)"]
    );
}

#[test]
fn alias_and_catch_all_checks() {
    assert_eq!(
        problems(
            "domains = [\"a.test\", \"b.test\"]\n\
             [aliases]\n\"x@a.test\" = []\n\"y@b.test\" = [\"nobody\"]\n\"z\" = [\"q@a.test\"]\n\
             [catch_all]\n\"a.test\" = \"u@remote.test\"\n\"c.test\" = \"u@a.test\""
        ),
        [
            "aliases.\"x@a.test\": needs at least one target address",
            "aliases.\"y@b.test\": target 'nobody' is not an address (expected user@domain)",
            "aliases.\"z\": 'z' is not an address (expected user@domain)",
            "catch_all.\"a.test\": target 'u@remote.test' is not in a local domain",
            "catch_all.\"c.test\": 'c.test' is not one of the local domains",
        ]
    );
    let config = Config::from_toml(
        "[aliases]\n\"postmaster@example.test\" = [\"admin@example.test\", \"ops@remote.test\"]",
    )
    .unwrap();
    assert_eq!(config.aliases.len(), 1);
}

#[test]
fn hostname_and_domains_are_checked() {
    assert_eq!(
        problems("hostname = \"\"\ndomains = []"),
        [
            "hostname: empty domain name",
            "domains: at least one local domain is required",
        ]
    );
    assert_eq!(
        problems("domains = [\"a.test\", \"bad domain\", \"A.test\"]"),
        [
            "domains[1]: domain name 'bad domain' may hold only letters, digits, '-' and '.'",
            "domains[2]: 'a.test' is listed twice",
        ]
    );
}

#[test]
fn hostile_input() {
    // Past i64: the TOML parser itself refuses it, with a position.
    let found = problems("[limits]\nmax_recipients = 99999999999999999999");
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with("TOML syntax error at line 2, column 18"),
        "{found:?}"
    );

    let found = problems(
        "hostname = 5\ndata_dir = []\n[limits]\nmax_recipients = -1\nmax_errors = 1e9\n\
         max_connections = \"many\"\nmax_message_size = -5\n[storage]\ncache_capacity = \
         \"99999999999GiB\"\n[timeouts]\nsmtp_idle = true\n[tls]\ncert = 1\nkey = \"k\"",
    );
    assert_eq!(
        found,
        [
            "data_dir: invalid type: sequence, expected a string",
            "hostname: invalid type: integer `5`, expected a string",
            "limits.max_connections: invalid type: string \"many\", expected usize",
            "limits.max_errors: invalid type: floating point `1000000000.0`, expected usize",
            "limits.max_message_size: size must not be negative (got -5)",
            "limits.max_recipients: invalid value: integer `-1`, expected usize",
            "storage.cache_capacity: '99999999999GiB' is too large",
            "timeouts.smtp_idle: invalid type: boolean `true`, expected a duration string such \
             as \"30s\" (units ms, s, m, h, d)",
            "tls.cert: invalid type: integer `1`, expected a string",
        ]
    );
}

#[test]
fn hostile_bytes_never_panic() {
    for text in [
        "\0",
        "hostname = \"\0\"",
        "hostname = \"a\u{7f}b\"",
        "[[listen]]\nsmtp = \"\"",
        "domains = [[[[[[[[[[]]]]]]]]]]",
        "[aliases]\n\"\" = [\"\"]",
        "é = 1",
        "[listen]\nsmtp = \"127.0.0.1:25\"\n[listen]\nsmtp = \"127.0.0.1:26\"",
    ] {
        let result = Config::from_toml(text);
        assert!(result.is_err(), "{text:?} parsed");
        let errors = result.unwrap_err();
        assert!(!errors.0.is_empty());
        assert!(errors.0.iter().all(|p| !p.contains('\n')), "{errors:?}");
    }
    let deep = format!("x = {}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(Config::from_toml(&deep).is_err());
}

#[test]
fn syntax_errors_name_their_position() {
    let found = problems("hostname = \"a\"\n[limits\nmax_errors = 3");
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with("TOML syntax error at line 2, column"),
        "{found:?}"
    );
}

#[test]
fn display_puts_one_problem_per_line() {
    let errors = ConfigErrors(vec!["one".into(), "two".into()]);
    assert_eq!(errors.to_string(), "one\ntwo");
    let boxed: Box<dyn std::error::Error> = Box::new(errors);
    assert_eq!(boxed.to_string(), "one\ntwo");
}

#[test]
fn load_reads_a_file_and_reports_read_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hermod.toml");
    std::fs::write(&path, CONTRACT).unwrap();
    assert_eq!(Config::load(&path), Config::from_toml(CONTRACT));

    std::fs::write(&path, "[listen]\nsmpt = \"\"").unwrap();
    let ConfigErrors(found) = Config::load(&path).unwrap_err();
    assert_eq!(
        found,
        [format!(
            "{}: unknown key 'listen.smpt' (did you mean 'smtp'?)",
            path.display()
        )]
    );

    let missing = dir.path().join("absent.toml");
    let ConfigErrors(found) = Config::load(&missing).unwrap_err();
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with(&format!("cannot read config file {}: ", missing.display())),
        "{found:?}"
    );
}
