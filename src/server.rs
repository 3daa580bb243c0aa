//! Starting and stopping the whole server: storage, directory, TLS, listeners, the actor
//! system, the admin socket and the metrics endpoint; then the shutdown sequence (stop
//! accepting, sessions say goodbye at a safe point, drain the spool, sync storage, exit).

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Supervisor;
use tokio::sync::watch;

use crate::actors::queue_manager::{QueueSettings, Quiesce, SetSpool};
use crate::actors::session::{Connected, Session};
use crate::actors::spool_writer::Drain;
use crate::actors::{ActorSystem, MailboxRegistry, QueueManager, Services, SpoolWriter};
use crate::config::Config;
use crate::directory::Directory;
use crate::dns::{DnsConfig, MxResolver};
use crate::net::listener::Accepted;
use crate::net::{self, ConnectionLimits, ListenerRole};
use crate::storage::{SledStore, Store, StoreError};
use crate::{admin, metrics};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A file, directory or socket could not be set up.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The store could not be opened.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// TLS could not be set up.
    #[error("{0}")]
    Tls(#[from] net::TlsError),
}

/// Name of the file, in the data directory, listing the bound addresses (for tools and
/// tests that configure port 0).
pub const LISTEN_FILE: &str = "listen.json";
/// Name of the admin socket in the data directory.
pub const ADMIN_SOCKET: &str = "admin.sock";
/// Name of the store directory in the data directory.
pub const STORE_DIR: &str = "store";

/// Where the store of a data directory lives.
pub fn store_path(data_dir: &Path) -> PathBuf {
    data_dir.join(STORE_DIR)
}

/// Runs the server until SIGINT or SIGTERM, then shuts it down in order.
pub async fn run(config: Config) -> Result<(), ServerError> {
    let config = Arc::new(config);
    std::fs::create_dir_all(&config.data_dir)?;
    let prometheus = metrics::install().ok();

    let store_dir = store_path(&config.data_dir);
    let cache = config.storage.cache_capacity;
    let store: Arc<dyn Store> = Arc::new(
        tokio::task::spawn_blocking(move || SledStore::open(&store_dir, cache))
            .await
            .map_err(io::Error::other)??,
    );
    // After the store's lock: no other server uses this data directory.
    crate::actors::literal_file::prepare(&config.data_dir)?;

    let directory = Arc::new(Directory::new(
        &config.domains,
        &config.aliases,
        &config.catch_all,
    ));
    let loader = Arc::clone(&store);
    let users = tokio::task::spawn_blocking(move || loader.users())
        .await
        .map_err(io::Error::other)??;
    directory.load_users(users);

    let tls_files = config
        .tls
        .as_ref()
        .map(|t| (t.cert.as_path(), t.key.as_path()));
    let tls = net::load_or_create_tls(tls_files, &config.data_dir, &config.hostname)?;

    let listen = &config.listen;
    let wanted: Vec<(ListenerRole, SocketAddr)> = [
        (ListenerRole::Smtp, listen.smtp),
        (ListenerRole::Submission, listen.submission),
        (ListenerRole::Submissions, listen.submissions),
        (ListenerRole::Pop3, listen.pop3),
        (ListenerRole::Pop3s, listen.pop3s),
        (ListenerRole::Imap, listen.imap),
        (ListenerRole::Imaps, listen.imaps),
    ]
    .into_iter()
    .filter_map(|(role, addr)| addr.map(|a| (role, a)))
    .collect();
    let listeners = net::bind_all(&wanted).await?;
    let http = match listen.http {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| io::Error::new(e.kind(), format!("http listener on {addr}: {e}")))?,
        ),
        None => None,
    };
    let admin_path = config.data_dir.join(ADMIN_SOCKET);
    let _ = std::fs::remove_file(&admin_path); // stale: the store lock proves no other server
    let admin_listener = tokio::net::UnixListener::bind(&admin_path)?;
    restrict_socket(&admin_path)?;

    let mut bound: Vec<(String, String)> = listeners
        .0
        .iter()
        .map(|l| (l.role.name().to_string(), l.local_addr.to_string()))
        .collect();
    if let Some(http) = &http {
        bound.push(("http".into(), http.local_addr()?.to_string()));
    }
    write_listen_file(&config.data_dir, &bound)?;

    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let actors = ActorSystem::start(workers)?;
    let mailboxes = MailboxRegistry::new(Arc::clone(&store), actors.arbiters().to_vec());
    let resolver = MxResolver::new(&DnsConfig {
        servers: config.delivery.dns_servers.clone(),
        timeout: config.delivery.dns_timeout,
        ..DnsConfig::default()
    })
    .map_err(|e| io::Error::other(format!("DNS resolver: {e}")))?;
    let queue_settings = Arc::new(QueueSettings {
        config: Arc::clone(&config),
        directory: Arc::clone(&directory),
        resolver,
        runtime: tokio::runtime::Handle::current(),
        arbiters: actors.arbiters().to_vec(),
    });
    let queue = {
        let (store, mailboxes) = (Arc::clone(&store), mailboxes.clone());
        Supervisor::start_in_arbiter(&actors.arbiters()[0], move |_| {
            QueueManager::new(store, mailboxes, queue_settings)
        })
    };
    let spool = {
        let (store, queue) = (Arc::clone(&store), queue.clone());
        Supervisor::start_in_arbiter(&actors.arbiters()[0], move |_| {
            SpoolWriter::new(store, queue)
        })
    };
    queue.do_send(SetSpool(spool.clone()));

    let (stop_tx, stop_rx) = watch::channel(false);
    let services = Arc::new(Services::new(
        Arc::clone(&config),
        Arc::clone(&store),
        Arc::clone(&directory),
        tls,
        spool.clone(),
        mailboxes,
        stop_rx.clone(),
    ));
    let actors = Arc::new(actors);

    let mut tasks = Vec::new();
    let mut all_limits = Vec::new();
    for listener in listeners.0 {
        let limits = ConnectionLimits::new(
            config.limits.max_connections,
            config.limits.max_connections_per_ip,
        );
        all_limits.push(Arc::clone(&limits));
        let dispatch = dispatcher(Arc::clone(&services), Arc::clone(&actors));
        tracing::info!(listener = listener.role.name(), addr = %listener.local_addr, "listening");
        tasks.push(tokio::spawn(listener.run(
            limits,
            dispatch,
            stop_rx.clone(),
        )));
    }
    if let (Some(http), Some(handle)) = (http, prometheus) {
        tracing::info!(addr = %http.local_addr()?, "metrics on /metrics");
        let render: net::http::Render = Arc::new(move || handle.render());
        tasks.push(tokio::spawn(net::http::serve(
            http,
            render,
            stop_rx.clone(),
        )));
    }
    let admin_ctx = admin::ServerContext {
        store: Arc::clone(&store),
        directory: Arc::clone(&directory),
        config: Arc::clone(&config),
        queue: queue.clone(),
    };
    tasks.push(tokio::spawn(admin::serve(
        admin_listener,
        admin_ctx,
        stop_rx.clone(),
    )));
    tasks.push(tokio::spawn(report_storage(
        Arc::clone(&store),
        stop_rx.clone(),
    )));
    tracing::info!(hostname = %config.hostname, "hermod is ready");

    wait_for_signal().await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
    // Sessions answer 421 / -ERR at their next safe point; give them the grace period.
    let deadline = Instant::now() + config.timeouts.shutdown_grace;
    while all_limits.iter().any(|l| l.active() > 0) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = spool.send(Drain).await;
    // Let outbound attempts under way finish and their outcomes be recorded, so that a
    // confirmed delivery is never repeated after the restart; bounded by the grace period.
    let _ = tokio::time::timeout(config.timeouts.shutdown_grace, queue.send(Quiesce)).await;
    let syncer = Arc::clone(&store);
    let _ = tokio::task::spawn_blocking(move || syncer.sync()).await;
    drop(services);
    if let Ok(actors) = Arc::try_unwrap(actors) {
        tokio::task::spawn_blocking(move || actors.stop())
            .await
            .map_err(io::Error::other)?;
    }
    let _ = std::fs::remove_file(&admin_path);
    tracing::info!("stopped");
    Ok(())
}

/// Hands accepted connections to session actors, round-robin over the arbiters.
fn dispatcher(
    services: Arc<Services>,
    actors: Arc<ActorSystem>,
) -> Arc<dyn Fn(Accepted) + Send + Sync> {
    Arc::new(move |accepted: Accepted| {
        let services = Arc::clone(&services);
        actors.next_arbiter().spawn_fn(move || {
            // from_std registers the socket with this arbiter's reactor.
            let Ok(tcp) = tokio::net::TcpStream::from_std(accepted.socket) else {
                return;
            };
            let Accepted {
                role, peer, guard, ..
            } = accepted;
            Session::start_for(Connected {
                services,
                role,
                tcp,
                peer,
                guard,
            });
        });
    })
}

/// Resolves on SIGINT or SIGTERM.
pub async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn write_listen_file(data_dir: &Path, bound: &[(String, String)]) -> io::Result<()> {
    let map: serde_json::Map<String, serde_json::Value> = bound
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let text = serde_json::to_string_pretty(&map).map_err(io::Error::other)?;
    // Written whole then renamed, so a reader never sees half a file.
    let tmp = data_dir.join(format!("{LISTEN_FILE}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, data_dir.join(LISTEN_FILE))
}

fn restrict_socket(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Publishes storage size every 15 s.
async fn report_storage(store: Arc<dyn Store>, mut stop: watch::Receiver<bool>) {
    loop {
        let reader = Arc::clone(&store);
        if let Ok(Ok(usage)) = tokio::task::spawn_blocking(move || reader.disk_usage()).await {
            for (kind, bytes) in usage {
                metrics::storage_bytes(kind, bytes);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(15)) => {}
            _ = crate::shutdown::requested(&mut stop) => return,
        }
    }
}
