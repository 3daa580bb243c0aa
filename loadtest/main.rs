//! `hermod-load`: a load generator for mail servers, Hermod or any other. The `smtp`
//! mode sends a fixed number of messages over concurrent sessions; the `pop3` and `imap`
//! modes run concurrent mailbox sessions (or, `imap --mode idle`, many idling ones) for
//! a duration. All print a summary table, or one JSON object with `--json`, and exit
//! non-zero when nothing succeeded.

mod imap;
mod pop3;
mod scenario;
mod smtp;
mod stats;
mod tls;
mod units;
mod wire;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::units::{parse_duration, parse_size};

/// Load generator for mail servers (SMTP, POP3 and IMAP).
#[derive(Debug, Parser)]
#[command(name = "hermod-load", version)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Send N messages over C concurrent SMTP sessions.
    #[command(args_override_self = true)]
    Smtp(SmtpArgs),
    /// Run C POP3 clients in a loop for a duration.
    #[command(args_override_self = true)]
    Pop3(Pop3Args),
    /// Run C IMAP clients in a loop, or N sessions in IDLE, for a duration.
    #[command(args_override_self = true)]
    Imap(ImapArgs),
}

/// Options every mode takes.
#[derive(Debug, Args)]
struct CommonArgs {
    /// Server to load, as HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    target: String,
    /// TOML file of preset options (see loadtest/README.md); the command line wins.
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Print one JSON object instead of the table, and no progress line.
    #[arg(long)]
    json: bool,
    /// Longest wait for any single operation.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
    /// Hard limit on the whole run, whatever else is asked.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    max_time: Duration,
}

impl CommonArgs {
    /// A progress line only makes sense for a human watching both streams.
    fn progress(&self) -> bool {
        !self.json && std::io::stdout().is_terminal() && std::io::stderr().is_terminal()
    }
}

#[derive(Debug, Args)]
struct SmtpArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Envelope recipient of every message.
    #[arg(long, value_name = "ADDR")]
    to: String,
    /// Envelope sender of every message.
    #[arg(long, value_name = "ADDR", default_value = "hermod-load@localhost")]
    from: String,
    /// Messages to send in total.
    #[arg(long, default_value_t = 100)]
    messages: u64,
    /// Concurrent sessions.
    #[arg(long, default_value_t = 10)]
    concurrency: usize,
    /// Approximate message size (e.g. 2048, 10KiB, 1MiB).
    #[arg(long, default_value = "2KiB", value_parser = parse_size)]
    size: usize,
    /// Send many messages per connection instead of one each.
    #[arg(long)]
    reuse: bool,
    /// Pace the total to R messages per second.
    #[arg(long, value_name = "R")]
    rate: Option<f64>,
    /// Upgrade with STARTTLS after EHLO (certificates are not verified).
    #[arg(long)]
    starttls: bool,
    /// AUTH PLAIN with these credentials.
    #[arg(long, value_name = "USER:PASS")]
    auth: Option<String>,
    /// Send MAIL, RCPT and DATA together when the server offers PIPELINING.
    #[arg(long)]
    pipelining: bool,
}

#[derive(Debug, Args)]
struct Pop3Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Account name, or a pattern like u%05d@example.test expanded over --user-count.
    #[arg(long, value_name = "PATTERN")]
    users: String,
    /// Number of accounts the pattern expands to (1..=U).
    #[arg(long, value_name = "U", default_value_t = 1)]
    user_count: u64,
    /// Password of every account.
    #[arg(long)]
    password: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// How long clients keep starting sessions.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Probability of deleting the retrieved message (0.0-1.0).
    #[arg(long, default_value_t = 0.0)]
    delete_ratio: f64,
}

#[derive(Debug, Args)]
struct ImapArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Account name, or a pattern like u%05d@example.test expanded over --user-count.
    #[arg(long, value_name = "PATTERN")]
    users: String,
    /// Number of accounts the pattern expands to (1..=U).
    #[arg(long, value_name = "U", default_value_t = 1)]
    user_count: u64,
    /// Password of every account.
    #[arg(long)]
    password: String,
    /// Concurrent clients (mix).
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// How long clients keep starting sessions (mix) or sessions idle (idle).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Workload: full sessions in a loop (mix), LOGIN+LOGOUT only (login), one logged-in
    /// session per client looping over FETCH (fetch) or APPEND (append), or sessions
    /// sitting in IDLE (idle).
    #[arg(long = "mode", alias = "imap-mode", value_enum, default_value = "mix")]
    session_mode: imap::SessionMode,
    /// Sessions opened in idle mode.
    #[arg(long, value_name = "N", default_value_t = 100)]
    idle_sessions: usize,
    /// Upgrade with STARTTLS before LOGIN (certificates are not verified).
    #[arg(long)]
    starttls: bool,
}

fn smtp_config(args: SmtpArgs) -> anyhow::Result<smtp::SmtpConfig> {
    let auth = match args.auth {
        Some(pair) => {
            let (user, pass) = pair.split_once(':').context("--auth wants USER:PASS")?;
            Some((user.to_string(), pass.to_string()))
        }
        None => None,
    };
    if let Some(rate) = args.rate {
        anyhow::ensure!(rate > 0.0 && rate.is_finite(), "--rate must be positive");
    }
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    Ok(smtp::SmtpConfig {
        progress: args.common.progress(),
        target: args.common.target,
        to: args.to,
        from: args.from,
        messages: args.messages,
        concurrency: args.concurrency,
        size: args.size,
        reuse: args.reuse,
        rate: args.rate,
        starttls: args.starttls,
        auth,
        pipelining: args.pipelining,
        timeout: args.common.timeout,
        max_time: args.common.max_time,
    })
}

fn pop3_config(args: Pop3Args) -> anyhow::Result<pop3::Pop3Config> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.delete_ratio),
        "--delete-ratio must be between 0 and 1"
    );
    anyhow::ensure!(args.clients > 0, "--clients must be at least 1");
    let users = pop3::expand_users(&args.users, args.user_count).map_err(anyhow::Error::msg)?;
    Ok(pop3::Pop3Config {
        progress: args.common.progress(),
        target: args.common.target,
        users,
        password: args.password,
        clients: args.clients,
        duration: args.duration,
        delete_ratio: args.delete_ratio,
        timeout: args.common.timeout,
        max_time: args.common.max_time,
    })
}

fn imap_config(args: ImapArgs) -> anyhow::Result<imap::ImapConfig> {
    anyhow::ensure!(args.clients > 0, "--clients must be at least 1");
    anyhow::ensure!(args.idle_sessions > 0, "--idle-sessions must be at least 1");
    let users = pop3::expand_users(&args.users, args.user_count).map_err(anyhow::Error::msg)?;
    Ok(imap::ImapConfig {
        progress: args.common.progress(),
        target: args.common.target,
        users,
        password: args.password,
        clients: args.clients,
        duration: args.duration,
        mode: args.session_mode,
        idle_sessions: args.idle_sessions,
        starttls: args.starttls,
        timeout: args.common.timeout,
        max_time: args.common.max_time,
    })
}

/// Prints the report and says whether anything succeeded.
fn emit<R: serde::Serialize>(
    report: &R,
    json: bool,
    table: String,
    ok: bool,
) -> anyhow::Result<bool> {
    if json {
        println!("{}", serde_json::to_string(report)?);
    } else {
        print!("{table}");
    }
    Ok(ok)
}

async fn run(cli: Cli) -> anyhow::Result<bool> {
    match cli.mode {
        Mode::Smtp(args) => {
            let json = args.common.json;
            let report = smtp::run(smtp_config(args)?).await?;
            emit(&report, json, report.table(), report.succeeded())
        }
        Mode::Pop3(args) => {
            let json = args.common.json;
            let report = pop3::run(pop3_config(args)?).await?;
            emit(&report, json, report.table(), report.succeeded())
        }
        Mode::Imap(args) => {
            let json = args.common.json;
            let report = imap::run(imap_config(args)?).await?;
            emit(&report, json, report.table(), report.succeeded())
        }
    }
}

fn main() -> ExitCode {
    let args = match scenario::expand(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("hermod-load: {e:#}");
            return ExitCode::from(2);
        }
    };
    let cli = Cli::parse_from(args);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hermod-load: starting the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("hermod-load: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn later_options_override_earlier_ones() {
        let cli = Cli::try_parse_from([
            "hermod-load",
            "smtp",
            "--concurrency",
            "8",
            "--reuse",
            "--target",
            "h:25",
            "--to",
            "a@b",
            "--concurrency",
            "2",
            "--reuse",
            "--max-time",
            "5s",
        ])
        .unwrap();
        let Mode::Smtp(args) = cli.mode else {
            panic!("smtp expected")
        };
        assert_eq!(args.concurrency, 2);
        assert!(args.reuse);
        assert_eq!(args.common.max_time, Duration::from_secs(5));
        let cfg = smtp_config(args).unwrap();
        assert_eq!(cfg.size, 2048);
    }

    #[test]
    fn bad_values_are_refused() {
        let parse = |extra: &[&str]| {
            let mut argv = vec!["hermod-load", "smtp", "--target", "h:25", "--to", "a@b"];
            argv.extend_from_slice(extra);
            Cli::try_parse_from(argv)
                .map_err(|e| e.to_string())
                .and_then(|cli| match cli.mode {
                    Mode::Smtp(a) => smtp_config(a).map(|_| ()).map_err(|e| e.to_string()),
                    _ => Err("not smtp".into()),
                })
        };
        assert!(parse(&[]).is_ok());
        assert!(parse(&["--auth", "nocolon"]).is_err());
        assert!(parse(&["--rate", "0"]).is_err());
        assert!(parse(&["--concurrency", "0"]).is_err());
        assert!(parse(&["--size", "lots"]).is_err());
        assert!(parse(&["--timeout", "forever"]).is_err());
    }

    #[test]
    fn imap_options() {
        let parse = |extra: &[&str]| {
            let mut argv = vec!["hermod-load", "imap", "--target", "h:143"];
            argv.extend_from_slice(&["--users", "u%d", "--user-count", "3", "--password", "p"]);
            argv.extend_from_slice(extra);
            Cli::try_parse_from(argv)
                .map_err(|e| e.to_string())
                .and_then(|cli| match cli.mode {
                    Mode::Imap(a) => imap_config(a).map_err(|e| e.to_string()),
                    _ => Err("not imap".into()),
                })
        };
        let cfg = parse(&[]).unwrap();
        assert_eq!(cfg.mode, imap::SessionMode::Mix);
        assert_eq!(cfg.users, vec!["u1", "u2", "u3"]);
        let cfg = parse(&["--mode", "idle", "--idle-sessions", "7", "--starttls"]).unwrap();
        assert_eq!(cfg.mode, imap::SessionMode::Idle);
        assert_eq!(cfg.idle_sessions, 7);
        assert!(cfg.starttls);
        assert!(parse(&["--mode", "sleep"]).is_err());
        assert!(parse(&["--clients", "0"]).is_err());
        assert!(parse(&["--idle-sessions", "0"]).is_err());
    }
}
