//! The `hermod` command: run the server, check a configuration, manage accounts.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};

use hermod::admin::{self, Request};
use hermod::config::Config;
use hermod::server;
use hermod::storage::SledStore;

/// Hermod: SMTP, a durable queue, local delivery and POP3 in one server.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (built-in defaults when no config file is given).
    Serve(ConfigArg),
    /// Check a configuration file and print every problem found.
    CheckConfig(ConfigArg),
    /// Print an example configuration with every key, its default and what it does.
    ExampleConfig,
    /// Manage accounts (works whether or not the server is running).
    #[command(subcommand)]
    User(UserCommand),
    /// Inspect and manage the outbound queue (works whether or not the server is running).
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Run an SMTP sink for load tests: accepts, defers, refuses, delays or drops mail by
    /// script and counts it (local parts starting with reject/defer/delay/disconnect get
    /// that treatment; the rest by the percentages).
    Sink(SinkArgs),
}

#[derive(Args)]
struct SinkArgs {
    /// Where to listen ("ip:port"; port 0 picks one, printed on start).
    #[arg(long, default_value = "127.0.0.1:2727")]
    listen: std::net::SocketAddr,
    /// Serve metrics on this address (GET /metrics).
    #[arg(long)]
    http: Option<std::net::SocketAddr>,
    /// Percentage of recipients deferred with 451.
    #[arg(long, default_value_t = 0.0)]
    defer_percent: f64,
    /// Percentage of recipients refused with 550.
    #[arg(long, default_value_t = 0.0)]
    reject_percent: f64,
    /// Percentage of recipients answered by closing the connection.
    #[arg(long, default_value_t = 0.0)]
    disconnect_percent: f64,
    /// Percentage of recipients accepted after --delay.
    #[arg(long, default_value_t = 0.0)]
    delay_percent: f64,
    /// The pause of a delayed answer, e.g. "2s".
    #[arg(long, default_value = "1s")]
    delay: hermod::config::HumanDuration,
}

#[derive(Subcommand)]
enum QueueCommand {
    /// Every recipient of every queued message: id, sender, recipient, state, attempts,
    /// next attempt, last reply.
    List {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// One message: its recipients and its header.
    Show {
        /// The queue id (as `queue list` shows it).
        id: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Try a message's pending recipients now.
    Retry {
        /// The queue id.
        id: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Delete a message from the queue.
    Delete {
        /// The queue id.
        id: String,
        /// Return it to its sender with a failure notice (DSN) first.
        #[arg(long)]
        bounce: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Pending recipients per destination.
    Summary {
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Args)]
struct ConfigArg {
    /// The TOML configuration file.
    #[arg(long, short)]
    config: Option<PathBuf>,
}

#[derive(Args)]
struct PasswordArg {
    /// The password (visible to other local users in the process list; prefer --password-stdin).
    #[arg(
        long,
        conflicts_with = "password_stdin",
        required_unless_present = "password_stdin"
    )]
    password: Option<String>,
    /// Read the password from standard input (first line).
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account and its INBOX.
    Add {
        /// The account's address, in a local domain; also its login.
        address: String,
        #[command(flatten)]
        password: PasswordArg,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List the accounts.
    List {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Delete an account and its mail.
    Del {
        /// The account's address.
        address: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Change an account's password.
    Passwd {
        /// The account's address.
        address: String,
        #[command(flatten)]
        password: PasswordArg,
        #[command(flatten)]
        config: ConfigArg,
    },
}

fn main() -> ExitCode {
    // One crypto provider for the whole process (see DEPENDENCIES: ring only).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    // Servers log their life; one-shot commands speak only when something is wrong.
    let default_level = match cli.command {
        Command::Serve(_) | Command::Sink(_) => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hermod: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(arg) => {
            let config = load(arg.config.as_deref())?;
            let problems = config.check();
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("hermod: config: {p}");
                }
                bail!("{} configuration problem(s)", problems.len());
            }
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("hermod-io")
                .build()
                .context("starting the runtime")?;
            runtime.block_on(server::run(config))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig(arg) => {
            let problems = match arg.config.as_deref() {
                Some(path) => match Config::load(path) {
                    Ok(config) => config.check(),
                    Err(errors) => errors.0,
                },
                None => Config::default().check(),
            };
            if problems.is_empty() {
                println!("configuration ok");
                Ok(ExitCode::SUCCESS)
            } else {
                for p in &problems {
                    println!("{p}");
                }
                Ok(ExitCode::FAILURE)
            }
        }
        Command::ExampleConfig => {
            print!("{}", hermod::config::example_toml());
            Ok(ExitCode::SUCCESS)
        }
        Command::User(command) => user(command),
        Command::Queue(command) => queue(command),
        Command::Sink(args) => sink(args),
    }
}

fn sink(args: SinkArgs) -> anyhow::Result<ExitCode> {
    let percents = [
        args.defer_percent,
        args.reject_percent,
        args.disconnect_percent,
        args.delay_percent,
    ];
    if percents.iter().any(|p| !(0.0..=100.0).contains(p)) || percents.iter().sum::<f64>() > 100.0 {
        bail!("percentages must each be within 0-100 and add up to at most 100");
    }
    let script = std::sync::Arc::new(hermod::sink::Script {
        defer_percent: args.defer_percent,
        reject_percent: args.reject_percent,
        disconnect_percent: args.disconnect_percent,
        delay_percent: args.delay_percent,
        delay: args.delay.0,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let listener = hermod::sink::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        println!("sink listening on {}", listener.local_addr()?);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        if let Some(http) = args.http {
            let handle = hermod::metrics::install().context("metrics")?;
            let http = tokio::net::TcpListener::bind(http).await?;
            println!("metrics on http://{}/metrics", http.local_addr()?);
            let render: hermod::net::http::Render = std::sync::Arc::new(move || handle.render());
            tokio::spawn(hermod::net::http::serve(http, render, stop_rx.clone()));
        }
        use std::io::Write as _;
        std::io::stdout().flush()?;
        // STARTTLS works, with a throw-away self-signed certificate.
        let tls = hermod::net::ephemeral_tls("sink.hermod").ok();
        let serving = tokio::spawn(hermod::sink::serve(listener, script, tls, stop_rx));
        hermod::server::wait_for_signal().await;
        let _ = stop_tx.send(true);
        let _ = serving.await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn load(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        Some(path) => Config::load(path).map_err(|e| anyhow::anyhow!("{}:\n{e}", path.display())),
        None => Ok(Config::default()),
    }
}

fn user(command: UserCommand) -> anyhow::Result<ExitCode> {
    let (config_path, request) = match command {
        UserCommand::Add {
            address,
            password,
            config,
        } => {
            let password_hash = hash(&password)?;
            let request = Request::UserAdd {
                address,
                password_hash,
            };
            (config.config, request)
        }
        UserCommand::Passwd {
            address,
            password,
            config,
        } => {
            let password_hash = hash(&password)?;
            let request = Request::UserPasswd {
                address,
                password_hash,
            };
            (config.config, request)
        }
        UserCommand::Del { address, config } => (config.config, Request::UserDel { address }),
        UserCommand::List { config } => (config.config, Request::UserList),
    };
    let response = admin_request(config_path.as_deref(), request)?;
    for user in response.users {
        println!("{user}");
    }
    Ok(ExitCode::SUCCESS)
}

fn queue(command: QueueCommand) -> anyhow::Result<ExitCode> {
    let (config, request) = match command {
        QueueCommand::List { config } => (config, Request::QueueList),
        QueueCommand::Show { id, config } => (config, Request::QueueShow { id }),
        QueueCommand::Retry { id, config } => (config, Request::QueueRetry { id }),
        QueueCommand::Delete { id, bounce, config } => {
            (config, Request::QueueDelete { id, bounce })
        }
        QueueCommand::Summary { config } => (config, Request::QueueSummary),
    };
    let summary = matches!(request, Request::QueueSummary);
    let response = admin_request(config.config.as_deref(), request)?;
    if summary {
        println!(
            "{:<32} {:>10} {:>9}  OLDEST",
            "DESTINATION", "RECIPIENTS", "DEFERRED"
        );
        for row in &response.summary {
            println!(
                "{:<32} {:>10} {:>9}  {}",
                row.destination,
                row.recipients,
                row.deferred,
                time(row.oldest)
            );
        }
    } else if !response.queue.is_empty() {
        println!(
            "{:<16}  {:<24} {:<28} {:<9} {:>8}  {:<20}  LAST REPLY",
            "ID", "SENDER", "RECIPIENT", "STATE", "ATTEMPTS", "NEXT ATTEMPT"
        );
        for e in &response.queue {
            let next = match e.state.as_str() {
                "scheduled" | "deferred" if e.next_attempt == 0 => "now".to_string(),
                "scheduled" | "deferred" => time(e.next_attempt),
                _ => "-".to_string(),
            };
            println!(
                "{:<16}  {:<24} {:<28} {:<9} {:>8}  {:<20}  {}",
                e.id,
                e.sender,
                e.recipient,
                e.state,
                e.attempts,
                next,
                e.last_reply.as_deref().unwrap_or("-")
            );
        }
    }
    if let Some(header) = response.header {
        println!();
        print!("{header}");
    }
    Ok(ExitCode::SUCCESS)
}

fn time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).map_or_else(
        || unix.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string(),
    )
}

/// Sends `request` to the running server, or carries it out on the store when none runs.
fn admin_request(config_path: Option<&Path>, request: Request) -> anyhow::Result<admin::Response> {
    let config = load(config_path)?;
    let socket = config.data_dir.join(server::ADMIN_SOCKET);
    let response = match admin::request(&socket, &request)
        .with_context(|| format!("talking to the server at {}", socket.display()))?
    {
        Some(response) => response,
        None => {
            // No server running: the store is ours to open.
            let path = server::store_path(&config.data_dir);
            let store = SledStore::open(&path, 16 * 1024 * 1024).with_context(|| {
                format!(
                    "opening {} (no server answered on {})",
                    path.display(),
                    socket.display()
                )
            })?;
            let directory = admin::offline_directory(&store, &config)?;
            let context = admin::Context {
                store: &store,
                directory: &directory,
                live: false,
                config: &config,
                queue: None,
            };
            admin::execute(&context, request)
        }
    };
    if !response.ok {
        bail!("{}", response.error.unwrap_or_else(|| "failed".into()));
    }
    Ok(response)
}

fn hash(password: &PasswordArg) -> anyhow::Result<String> {
    let password = match (&password.password, password.password_stdin) {
        (Some(p), _) => p.clone(),
        (None, _) => {
            let mut text = String::new();
            std::io::stdin()
                .take(64 * 1024)
                .read_to_string(&mut text)
                .context("reading the password from standard input")?;
            text.lines().next().unwrap_or_default().to_string()
        }
    };
    if password.is_empty() {
        bail!("the password is empty");
    }
    Ok(hermod::auth::hash_password(&password)?)
}
