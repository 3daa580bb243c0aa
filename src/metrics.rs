//! Every metric Hermod exports, declared once with its help text, plus typed helpers to
//! record them. Labels are bounded: protocol, listener, command, result, kind — never a
//! user, an address, an IP or a message id.

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

/// Seconds buckets for fsync-bound commits: 100 µs to 10 s.
const COMMIT_SECONDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
/// Seconds buckets for IMAP commands: 100 µs (NOOP) to 60 s (FETCH of a large mailbox).
const IMAP_COMMAND_SECONDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
];
/// The `command` labels of `hermod_imap_command_duration_seconds`; any other name is
/// recorded as `other` so the series stay bounded. IDLE is not timed (its length is the
/// client's choice).
pub const IMAP_TIMED_COMMANDS: &[&str] = &[
    "CAPABILITY",
    "NOOP",
    "LOGOUT",
    "STARTTLS",
    "AUTHENTICATE",
    "LOGIN",
    "SELECT",
    "EXAMINE",
    "CREATE",
    "DELETE",
    "RENAME",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "LIST",
    "LSUB",
    "STATUS",
    "APPEND",
    "CHECK",
    "CLOSE",
    "UNSELECT",
    "EXPUNGE",
    "SEARCH",
    "FETCH",
    "STORE",
    "COPY",
    "MOVE",
    "ENABLE",
    "ID",
    "NAMESPACE",
    "INVALID",
    "other",
];
/// Messages per group commit.
const BATCH_SIZES: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// Installs the Prometheus recorder and describes every metric; call once, early.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("hermod_spool_commit_duration_seconds".into()),
            COMMIT_SECONDS,
        )?
        .set_buckets_for_metric(
            Matcher::Full("hermod_delivery_duration_seconds".into()),
            COMMIT_SECONDS,
        )?
        .set_buckets_for_metric(
            Matcher::Full("hermod_dns_lookup_duration_seconds".into()),
            COMMIT_SECONDS,
        )?
        .set_buckets_for_metric(
            Matcher::Full("hermod_spool_commit_batch_size".into()),
            BATCH_SIZES,
        )?
        .set_buckets_for_metric(
            Matcher::Full("hermod_imap_command_duration_seconds".into()),
            IMAP_COMMAND_SECONDS,
        )?
        .set_buckets_for_metric(
            Matcher::Full("hermod_smtp_command_duration_seconds".into()),
            IMAP_COMMAND_SECONDS,
        )?
        .set_buckets_for_metric(
            Matcher::Full("hermod_pop3_command_duration_seconds".into()),
            IMAP_COMMAND_SECONDS,
        )?
        .install_recorder()?;
    describe_all();
    gauge!("hermod_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    register_zeros();
    Ok(handle)
}

/// Publishes the fixed label sets at zero, so that dashboards and alert rules see 0 rather
/// than no series before the first event (an absent series alerts on nothing).
fn register_zeros() {
    for protocol in ["smtp", "pop3", "imap"] {
        gauge!("hermod_sessions", "protocol" => protocol).set(0.0);
    }
    for reason in ["spool_full", "destination_full", "auth_queue_full"] {
        counter!("hermod_backpressure_total", "reason" => reason).absolute(0);
    }
    for transport in ["local", "smtp"] {
        for result in ["delivered", "deferred", "failed"] {
            counter!("hermod_delivery_attempts_total", "transport" => transport, "result" => result)
                .absolute(0);
        }
    }
    for state in ["local", "scheduled", "deferred", "ready", "in-flight"] {
        gauge!("hermod_queue_messages", "state" => state).set(0.0);
    }
    for kind in [
        "spool_writer",
        "queue_manager",
        "domain_queue",
        "mailbox",
        "imap_session",
    ] {
        gauge!("hermod_actor_mailbox_depth", "kind" => kind).set(0.0);
    }
    gauge!("hermod_queue_oldest_age_seconds").set(0.0);
    gauge!("hermod_imap_idle_sessions").set(0.0);
    for command in IMAP_TIMED_COMMANDS {
        // Registering the handle is enough for the exporter to show empty buckets.
        let _ = histogram!("hermod_imap_command_duration_seconds", "command" => *command);
    }
    for command in crate::protocol::smtp::COMMAND_LABELS {
        let _ = histogram!("hermod_smtp_command_duration_seconds", "command" => command);
    }
    for command in crate::protocol::pop3::command::COMMAND_LABELS {
        let _ = histogram!("hermod_pop3_command_duration_seconds", "command" => command);
    }
    for kind in [
        "spool_writer",
        "queue_manager",
        "mailbox",
        "delivery_worker",
    ] {
        counter!("hermod_actor_restarts_total", "kind" => kind).absolute(0);
    }
    gauge!("hermod_outbound_connections").set(0.0);
    counter!("hermod_outbound_connection_reuse_total").absolute(0);
}

fn describe_all() {
    describe_gauge!(
        "hermod_build_info",
        "Always 1; the version label says which build runs."
    );
    describe_gauge!(
        "hermod_sessions",
        "Client sessions currently open, by protocol."
    );
    describe_counter!(
        "hermod_smtp_connections_total",
        "SMTP connections accepted, by listener."
    );
    describe_counter!(
        "hermod_connections_total",
        "Connections accepted, by protocol and listener."
    );
    describe_counter!(
        "hermod_connections_refused_total",
        "Connections refused by a connection limit, by protocol."
    );
    describe_counter!(
        "hermod_smtp_messages_total",
        "Messages at the end of DATA/BDAT, by listener and result (accepted, rejected, tempfail)."
    );
    describe_counter!(
        "hermod_smtp_commands_total",
        "SMTP commands handled, by command and result (ok, error)."
    );
    describe_histogram!(
        "hermod_spool_commit_duration_seconds",
        "Time of one spool group commit, fsync included."
    );
    describe_histogram!(
        "hermod_spool_commit_batch_size",
        "Messages made durable by one spool group commit."
    );
    describe_counter!(
        "hermod_spool_commit_bytes_total",
        "Message bytes made durable by spool commits."
    );
    describe_counter!(
        "hermod_delivery_attempts_total",
        "Delivery attempts, by transport (local, smtp) and result (delivered, deferred, failed)."
    );
    describe_histogram!(
        "hermod_delivery_duration_seconds",
        "Time of one delivery: a local batch, or one outbound attempt."
    );
    describe_gauge!(
        "hermod_queue_messages",
        "Queue entries by state: local deliveries waiting, and outbound jobs scheduled, deferred, ready or in-flight."
    );
    describe_gauge!(
        "hermod_queue_oldest_age_seconds",
        "Age of the oldest message waiting for remote delivery."
    );
    describe_gauge!(
        "hermod_outbound_connections",
        "Outbound SMTP connections open."
    );
    describe_counter!(
        "hermod_outbound_connection_reuse_total",
        "Messages sent over an already open outbound connection."
    );
    describe_histogram!(
        "hermod_dns_lookup_duration_seconds",
        "DNS query time, by record type (mx, a, aaaa)."
    );
    describe_counter!(
        "hermod_dns_cache_total",
        "Destination lookups answered from the cache (hit) or by DNS (miss)."
    );
    describe_counter!(
        "hermod_pop3_commands_total",
        "POP3 commands handled, by command and result (ok, error)."
    );
    describe_counter!(
        "hermod_imap_commands_total",
        "IMAP commands completed, by command and result (ok, error)."
    );
    describe_histogram!(
        "hermod_imap_command_duration_seconds",
        "Time of one IMAP command, from its dispatch to its tagged reply (storage work included, socket writes not), by command; IDLE is not timed."
    );
    describe_histogram!(
        "hermod_smtp_command_duration_seconds",
        "Time of one SMTP command, from the read that completed it to its reply (DATA includes the spool commit), by command."
    );
    describe_histogram!(
        "hermod_pop3_command_duration_seconds",
        "Time of one POP3 command, from the read that completed it to its reply, by command."
    );
    describe_gauge!(
        "hermod_imap_idle_sessions",
        "IMAP sessions currently in IDLE."
    );
    describe_counter!(
        "hermod_actor_restarts_total",
        "Supervised actors restarted after stopping, by kind."
    );
    describe_gauge!(
        "hermod_actor_mailbox_depth",
        "Requests waiting for an actor, by actor kind."
    );
    describe_counter!(
        "hermod_auth_attempts_total",
        "Authentication attempts, by protocol and result (ok, invalid, tempfail)."
    );
    describe_counter!(
        "hermod_tls_handshakes_total",
        "TLS handshakes, by protocol and result (ok, error)."
    );
    describe_counter!(
        "hermod_backpressure_total",
        "Requests refused or delayed because a bound was reached, by reason."
    );
    describe_counter!(
        "hermod_sink_connections_total",
        "Sink mode: connections accepted."
    );
    describe_counter!(
        "hermod_sink_recipients_total",
        "Sink mode: recipients by scripted result (accepted, deferred, rejected, delayed, disconnected)."
    );
    describe_counter!(
        "hermod_sink_messages_total",
        "Sink mode: messages received."
    );
    describe_counter!(
        "hermod_sink_bytes_total",
        "Sink mode: message bytes received."
    );
    describe_gauge!(
        "hermod_storage_bytes",
        "Bytes on disk, by kind (metadata, spool)."
    );
}

/// A connection was accepted on `listener`.
pub fn connection_opened(protocol: &'static str, listener: &'static str) {
    counter!("hermod_connections_total", "protocol" => protocol, "listener" => listener)
        .increment(1);
    if protocol == "smtp" {
        counter!("hermod_smtp_connections_total", "listener" => listener).increment(1);
    }
}

/// A connection was refused by a limit.
pub fn connection_refused(protocol: &'static str) {
    counter!("hermod_connections_refused_total", "protocol" => protocol).increment(1);
}

/// Counts an open session for as long as it lives.
pub struct SessionGauge(&'static str);

impl SessionGauge {
    /// Starts counting a session of `protocol`.
    pub fn new(protocol: &'static str) -> Self {
        gauge!("hermod_sessions", "protocol" => protocol).increment(1.0);
        SessionGauge(protocol)
    }
}

impl Drop for SessionGauge {
    fn drop(&mut self) {
        gauge!("hermod_sessions", "protocol" => self.0).decrement(1.0);
    }
}

/// One protocol command and whether it succeeded.
pub fn command(protocol: &'static str, command: &'static str, ok: bool) {
    let result = if ok { "ok" } else { "error" };
    match protocol {
        "pop3" => counter!("hermod_pop3_commands_total", "command" => command, "result" => result)
            .increment(1),
        "imap" => counter!("hermod_imap_commands_total", "command" => command, "result" => result)
            .increment(1),
        _ => counter!("hermod_smtp_commands_total", "command" => command, "result" => result)
            .increment(1),
    }
}

/// One SMTP or POP3 command's time from the read that completed it to its reply (the
/// client's view: pipelined commands include the wait behind earlier ones; DATA includes
/// the spool commit). `command` comes from the protocol's fixed label set.
pub fn command_duration(protocol: &'static str, command: &'static str, seconds: f64) {
    match protocol {
        "pop3" => {
            histogram!("hermod_pop3_command_duration_seconds", "command" => command).record(seconds)
        }
        _ => {
            histogram!("hermod_smtp_command_duration_seconds", "command" => command).record(seconds)
        }
    }
}

/// One IMAP command's time from dispatch to tagged reply (IDLE is skipped).
pub fn imap_command_duration(command: &str, seconds: f64) {
    if command == "IDLE" {
        return;
    }
    let label = IMAP_TIMED_COMMANDS
        .iter()
        .find(|c| **c == command)
        .copied()
        .unwrap_or("other");
    histogram!("hermod_imap_command_duration_seconds", "command" => label).record(seconds);
}

/// A message reached the end of DATA/BDAT.
pub fn smtp_message(listener: &'static str, result: &'static str) {
    counter!("hermod_smtp_messages_total", "listener" => listener, "result" => result).increment(1);
}

/// One spool group commit.
pub fn spool_commit(seconds: f64, messages: usize, bytes: u64) {
    histogram!("hermod_spool_commit_duration_seconds").record(seconds);
    histogram!("hermod_spool_commit_batch_size").record(messages as f64);
    counter!("hermod_spool_commit_bytes_total").increment(bytes);
}

/// Delivery attempts of one transport and result.
pub fn delivery(transport: &'static str, result: &'static str, count: u64) {
    counter!("hermod_delivery_attempts_total", "transport" => transport, "result" => result)
        .increment(count);
}

/// Duration of one local delivery batch.
pub fn delivery_duration(seconds: f64) {
    histogram!("hermod_delivery_duration_seconds").record(seconds);
}

/// Queue entries by state (change): local deliveries, ready outbound jobs.
pub fn queue_state(state: &'static str, delta: f64) {
    gauge!("hermod_queue_messages", "state" => state).increment(delta);
}

/// Queue entries by state (absolute): scheduled, deferred, in-flight.
pub fn queue_state_set(state: &'static str, value: f64) {
    gauge!("hermod_queue_messages", "state" => state).set(value);
}

/// Age of the oldest message still queued for remote delivery.
pub fn queue_oldest_age(seconds: i64) {
    gauge!("hermod_queue_oldest_age_seconds").set(seconds as f64);
}

/// Open outbound SMTP connections (change).
pub fn outbound_connections(delta: f64) {
    gauge!("hermod_outbound_connections").increment(delta);
}

/// A message sent over an already open outbound connection.
pub fn outbound_reuse() {
    counter!("hermod_outbound_connection_reuse_total").increment(1);
}

/// Requests waiting for actors of one kind (absolute value).
pub fn mailbox_depth(kind: &'static str, depth: usize) {
    gauge!("hermod_actor_mailbox_depth", "kind" => kind).set(depth as f64);
}

/// Requests waiting for actors of one kind (change).
pub fn mailbox_depth_add(kind: &'static str, delta: f64) {
    gauge!("hermod_actor_mailbox_depth", "kind" => kind).increment(delta);
}

/// One authentication attempt.
pub fn auth(protocol: &'static str, result: &'static str) {
    counter!("hermod_auth_attempts_total", "protocol" => protocol, "result" => result).increment(1);
}

/// One TLS handshake.
pub fn tls_handshake(protocol: &'static str, ok: bool) {
    let result = if ok { "ok" } else { "error" };
    counter!("hermod_tls_handshakes_total", "protocol" => protocol, "result" => result)
        .increment(1);
}

/// Storage size of one kind.
pub fn storage_bytes(kind: &'static str, bytes: u64) {
    gauge!("hermod_storage_bytes", "kind" => kind).set(bytes as f64);
}

/// IMAP sessions in IDLE (change).
pub fn imap_idle(delta: f64) {
    gauge!("hermod_imap_idle_sessions").increment(delta);
}

/// A supervised actor of `kind` was restarted.
pub fn actor_restart(kind: &'static str) {
    counter!("hermod_actor_restarts_total", "kind" => kind).increment(1);
}

/// A bound was hit and a client was told to wait or retry.
pub fn backpressure(reason: &'static str) {
    counter!("hermod_backpressure_total", "reason" => reason).increment(1);
}
