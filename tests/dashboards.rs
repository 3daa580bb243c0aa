//! The dashboards and alert rules in `dashboards/` only name metrics that a real Hermod
//! exports: every `hermod_*` name they use appears in a scrape of a running server.
//! (`promtool check rules` runs in `.ci/run`, which installs Prometheus.)

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{message, send_raw, Server};

/// `hermod_*` metric names in `text`, histogram suffixes folded into the base name.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find("hermod_") {
        let start = i + pos;
        let mut end = start;
        while end < bytes.len()
            && (bytes[end].is_ascii_lowercase()
                || bytes[end].is_ascii_digit()
                || bytes[end] == b'_')
        {
            end += 1;
        }
        let name = &text[start..end];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        names.insert(base.to_string());
        i = end;
    }
    names
}

#[test]
fn every_metric_in_dashboards_and_rules_is_exported() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards");
    let mut used = BTreeSet::new();
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        if ext == "json" || ext == "yml" {
            let text = std::fs::read_to_string(&path).unwrap();
            if ext == "json" {
                // Importable as is: valid JSON with the datasource as a variable.
                let json: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert!(text.contains("${datasource}"), "{}", path.display());
                assert!(json["panels"].as_array().is_some_and(|p| !p.is_empty()));
            }
            used.extend(metric_names(&text));
            files += 1;
        }
    }
    assert!(
        files >= 2,
        "dashboards and rules expected in {}",
        dir.display()
    );

    let server = Server::start();
    let reply = send_raw(
        &server,
        "s@client.test",
        &["alice@example.test"],
        &message("m", "x"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(server.wait_for_messages("alice@example.test", 1), 1);
    let scrape = server.metrics();
    let exported = metric_names(&scrape);
    let missing: Vec<_> = used.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "named in dashboards/ but not exported: {missing:?}"
    );
}
