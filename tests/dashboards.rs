//! The dashboards and alert rules in `dashboards/` only name metrics that a real Hermod
//! exports: every `hermod_*` name they use appears in a scrape of a running server that has
//! seen traffic on every path. Each dashboard is importable as is: valid JSON, a unique
//! uid, the data source as a variable used by every panel and query.
//! (`promtool check rules` runs in `.ci/run`; `tests/prometheus_e2e.rs` runs every query
//! against a real Prometheus.)

mod common;
mod dashboards_support;

use std::collections::{BTreeSet, HashSet};

use dashboards_support::{
    dashboards, dashboards_dir, metric_names, panel_queries, Traffic, ADDED_IN_PARALLEL,
};

#[test]
fn dashboards_are_importable_as_is() {
    let all = dashboards();
    assert!(
        all.len() >= 5,
        "dashboards expected in {}",
        dashboards_dir().display()
    );
    let mut uids = HashSet::new();
    for (path, json) in &all {
        let name = path.display();
        let uid = json["uid"].as_str().unwrap_or_default();
        assert!(!uid.is_empty() && uid.len() <= 40, "{name}: uid {uid:?}");
        assert!(uids.insert(uid.to_string()), "{name}: uid {uid} used twice");
        assert!(
            json["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{name}"
        );
        assert!(
            json["schemaVersion"].as_u64().is_some_and(|v| v >= 36),
            "{name}"
        );
        let vars = json["templating"]["list"].as_array().unwrap();
        assert!(
            vars.iter()
                .any(|v| v["name"] == "datasource" && v["type"] == "datasource"),
            "{name}: no datasource variable"
        );
        let panels = json["panels"].as_array().unwrap();
        assert!(!panels.is_empty(), "{name}: no panels");
        let mut ids = HashSet::new();
        for panel in panels {
            let title = panel["title"].as_str().unwrap_or("?");
            assert!(
                ids.insert(panel["id"].as_u64().unwrap()),
                "{name}: {title}: id used twice"
            );
            let pos = &panel["gridPos"];
            assert!(
                pos["x"].as_u64().unwrap() + pos["w"].as_u64().unwrap() <= 24,
                "{name}: {title} is wider than the grid"
            );
            if panel["type"] == "row" {
                continue;
            }
            assert_eq!(
                panel["datasource"]["uid"], "${datasource}",
                "{name}: {title}"
            );
            let targets = panel["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{name}: {title} has no query");
            let mut refs = HashSet::new();
            for target in targets {
                assert_eq!(
                    target["datasource"]["uid"], "${datasource}",
                    "{name}: {title}"
                );
                assert!(
                    target["expr"].as_str().is_some_and(|e| !e.is_empty()),
                    "{name}: {title}"
                );
                assert!(
                    target["legendFormat"].is_string(),
                    "{name}: {title}: no legend"
                );
                assert!(
                    refs.insert(target["refId"].as_str().unwrap()),
                    "{name}: {title}"
                );
            }
            assert!(
                panel["fieldConfig"]["defaults"]["unit"].is_string(),
                "{name}: {title}: no unit"
            );
        }
    }
}

#[test]
fn every_metric_in_dashboards_and_rules_is_exported() {
    let mut used: BTreeSet<String> = panel_queries()
        .iter()
        .flat_map(|q| metric_names(&q.expr))
        .collect();
    let rules = std::fs::read_to_string(dashboards_dir().join("hermod.rules.yml")).unwrap();
    used.extend(metric_names(&rules));
    assert!(
        used.len() >= 20,
        "only {} metrics named: {used:?}",
        used.len()
    );

    let mut traffic = Traffic::start();
    traffic.round();
    let exported = metric_names(&traffic.server.metrics());
    let missing: Vec<_> = used
        .difference(&exported)
        .filter(|m| !ADDED_IN_PARALLEL.contains(&m.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "named in dashboards/ but not exported: {missing:?}"
    );
}
