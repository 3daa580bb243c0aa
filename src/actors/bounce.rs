//! Delivery status notifications: which recipients a DSN reports, and where the DSN goes.
//! A DSN is an ordinary message from the null sender, spooled like any other, so that it is
//! durable and delivered (locally or over SMTP) by the same machinery.

use crate::directory::{Directory, Resolution, Target};
use crate::queue::{build_dsn, Action, DsnRecipient, DsnRequest};
use crate::storage::{DeliveryTarget, NewMessage, Notify, QueuedRecipient, Ret};

/// One recipient to report.
#[derive(Debug, Clone)]
pub struct Notice {
    /// The forward-path it concerns.
    pub address: String,
    /// Its DSN ORCPT.
    pub orcpt: Option<String>,
    /// Its DSN NOTIFY.
    pub notify: Option<Notify>,
    /// Failed or Delayed.
    pub action: Action,
    /// RFC 3463 status.
    pub status: String,
    /// The server that answered, if any.
    pub remote_mta: Option<String>,
    /// The reply or error, as "smtp; 550 5.1.1 ...".
    pub diagnostic: Option<String>,
    /// When the attempt was made.
    pub last_attempt: Option<i64>,
    /// For Delayed: when the queue gives up.
    pub will_retry_until: Option<i64>,
}

/// The message a DSN needs: envelope fields of the original.
pub struct Original<'a> {
    /// The original reverse-path: the DSN's recipient.
    pub sender: &'a str,
    /// DSN ENVID.
    pub envid: Option<&'a str>,
    /// DSN RET.
    pub ret: Option<Ret>,
    /// Arrival, unix seconds.
    pub received_at: i64,
    /// The original message.
    pub body: &'a [u8],
    /// A number that makes the DSN's Message-ID unique (the queue id).
    pub seed: u64,
}

/// The DSN message to spool, or None when none is due: a null sender (never a bounce for
/// a bounce), NOTIFY excluding these actions, or a sender that leads nowhere.
pub fn dsn_message(
    hostname: &str,
    directory: &Directory,
    original: &Original<'_>,
    notices: &[Notice],
    now: i64,
) -> Option<NewMessage> {
    if original.sender.is_empty() || notices.is_empty() {
        return None;
    }
    let recipients = notices
        .iter()
        .map(|n| DsnRecipient {
            address: &n.address,
            orcpt: n.orcpt.as_deref(),
            notify: n.notify,
            action: n.action,
            status: &n.status,
            remote_mta: n.remote_mta.as_deref(),
            diagnostic: n.diagnostic.as_deref(),
            last_attempt: n.last_attempt,
            will_retry_until: n.will_retry_until,
        })
        .collect();
    let request = DsnRequest {
        reporting_mta: hostname,
        sender: original.sender,
        envid: original.envid,
        ret: original.ret,
        arrival_date: original.received_at,
        recipients,
        original: original.body,
        now,
        message_id_seed: original.seed,
    };
    let body = build_dsn(&request)?;
    let target = target_of(directory, original.sender)?;
    let summary = crate::protocol::imap::encoded_summary(&body);
    Some(NewMessage {
        sender: String::new(),
        recipients: target,
        body: body.into(),
        received_at: now,
        ret: None,
        envid: None,
        summary,
    })
}

/// Where mail to `address` goes, as queue recipients.
fn target_of(directory: &Directory, address: &str) -> Option<Vec<QueuedRecipient>> {
    let (local, domain) = address.rsplit_once('@')?;
    let targets = match directory.resolve(local, domain) {
        Resolution::Local(targets) => targets
            .into_iter()
            .map(|t| match t {
                Target::User(user) => QueuedRecipient::new(address, DeliveryTarget::Local { user }),
                Target::Remote(remote) => {
                    let domain = remote.rsplit('@').next().unwrap_or_default().to_string();
                    QueuedRecipient::new(remote, DeliveryTarget::Remote { domain })
                }
            })
            .collect(),
        Resolution::NoSuchUser => return None,
        Resolution::NotLocal => vec![QueuedRecipient::new(
            address,
            DeliveryTarget::Remote {
                domain: domain.to_ascii_lowercase(),
            },
        )],
    };
    Some(targets).filter(|t: &Vec<QueuedRecipient>| !t.is_empty())
}
