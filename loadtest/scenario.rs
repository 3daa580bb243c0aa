//! Scenario files: TOML presets of command-line options. Their keys are the long option
//! names (`concurrency = 50`, `reuse = true`, `max-time = "2m"`; `_` works for `-`) plus
//! an optional `mode`; they are spliced in right after the mode, so any option also given
//! on the command line wins.

use std::ffi::OsString;

use anyhow::{bail, Context};

/// Returns `args` with the options of the `--scenario FILE` they name (if any) inserted
/// after the mode; a scenario's `mode` supplies the mode when none is given.
pub fn expand(args: Vec<OsString>) -> anyhow::Result<Vec<OsString>> {
    let Some(path) = scenario_path(&args) else {
        return Ok(args);
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading scenario {}", path.to_string_lossy()))?;
    let table: toml::Table = toml::from_str(&text)
        .with_context(|| format!("parsing scenario {}", path.to_string_lossy()))?;
    let mut mode = None;
    let mut options = Vec::new();
    for (key, value) in table {
        if key == "mode" {
            mode = Some(
                value
                    .as_str()
                    .context("scenario `mode` must be a string")?
                    .to_string(),
            );
            continue;
        }
        let flag = OsString::from(format!("--{}", key.replace('_', "-")));
        match value {
            toml::Value::Boolean(true) => options.push(flag),
            toml::Value::Boolean(false) => {}
            toml::Value::String(s) => options.extend([flag, s.into()]),
            toml::Value::Integer(n) => options.extend([flag, n.to_string().into()]),
            toml::Value::Float(x) => options.extend([flag, x.to_string().into()]),
            other => bail!("scenario key `{key}`: unsupported value {other}"),
        }
    }
    let given = args
        .get(1)
        .and_then(|a| a.to_str())
        .filter(|a| !a.starts_with('-'));
    let mut out = Vec::with_capacity(args.len() + options.len() + 1);
    out.extend(args.first().cloned());
    match (given, mode) {
        (Some(given), Some(mode)) if given != mode => {
            bail!("scenario is for `{mode}`, not `{given}`")
        }
        (Some(_), _) => {
            out.push(args[1].clone());
            out.extend(options);
            out.extend(args.into_iter().skip(2));
        }
        (None, Some(mode)) => {
            out.push(mode.into());
            out.extend(options);
            out.extend(args.into_iter().skip(1));
        }
        (None, None) => bail!("scenario has no `mode`: name the mode on the command line"),
    }
    Ok(out)
}

fn scenario_path(args: &[OsString]) -> Option<OsString> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let text = arg.to_string_lossy();
        if text == "--scenario" {
            return iter.next().cloned();
        }
        if let Some(path) = text.strip_prefix("--scenario=") {
            return Some(path.into());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn scenario(text: &str) -> (tempfile::NamedTempFile, String) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        let path = file.path().to_string_lossy().into_owned();
        (file, path)
    }

    #[test]
    fn options_go_after_the_mode() {
        let (_f, path) = scenario("mode = \"smtp\"\nconcurrency = 8\nreuse = true\npipelining = false\nmax_time = \"1m\"\nrate = 2.5\n");
        let out = expand(os(&[
            "hl",
            "smtp",
            "--scenario",
            &path,
            "--concurrency",
            "2",
        ]))
        .unwrap();
        assert_eq!(
            out,
            os(&[
                "hl",
                "smtp",
                "--concurrency",
                "8",
                "--max-time",
                "1m",
                "--rate",
                "2.5",
                "--reuse",
                "--scenario",
                &path,
                "--concurrency",
                "2"
            ])
        );
        let flag = format!("--scenario={path}");
        let out = expand(os(&["hl", &flag])).unwrap();
        assert_eq!(out[1], "smtp");
        assert_eq!(out.last().unwrap(), flag.as_str());
    }

    #[test]
    fn bad_scenarios_are_errors() {
        let (_f, path) = scenario("mode = \"pop3\"\n");
        assert!(expand(os(&["hl", "smtp", "--scenario", &path])).is_err());
        let (_g, path) = scenario("clients = [1, 2]\n");
        assert!(expand(os(&["hl", "pop3", "--scenario", &path])).is_err());
        let (_h, path) = scenario("concurrency = 3\n");
        assert!(expand(os(&["hl", "--scenario", &path])).is_err());
        assert!(expand(os(&["hl", "smtp", "--scenario", "/nonexistent.toml"])).is_err());
        let (_i, path) = scenario("not toml at all [");
        assert!(expand(os(&["hl", "smtp", "--scenario", &path])).is_err());
        assert_eq!(expand(os(&["hl", "smtp"])).unwrap(), os(&["hl", "smtp"]));
    }
}
