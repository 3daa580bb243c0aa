//! LIST (RFC 3501 §6.3.8, LIST-EXTENDED RFC 5258) run in steps over storage answers:
//! the mailboxes, then the subscriptions when an option names SUBSCRIBED, then for
//! LIST-STATUS (RFC 5819) each listed mailbox's counters when the items need more than
//! the listing carries. Also the `* STATUS` line shared with the STATUS command.

use std::collections::VecDeque;

use super::list::{list_extended, Listed};
use super::list_args::{ReturnOpts, SelectOpts};
use super::machine::{Awaiting, Session};
use super::names::NameCodec;
use super::{Reply, Request, StoreErrorKind};
use crate::storage::{MailboxEntry, MailboxInfo, MessageMeta};

/// A LIST command in progress.
#[derive(Debug)]
pub struct ListJob {
    tag: String,
    reference: String,
    patterns: Vec<String>,
    select: SelectOpts,
    ret: ReturnOpts,
    entries: Option<Vec<MailboxEntry>>,
    subs: Option<Vec<String>>,
    /// Lines still to write, once the names are known.
    rows: Option<VecDeque<Listed>>,
    /// The mailbox whose counters were asked for (LIST-STATUS).
    status_of: Option<String>,
}

impl ListJob {
    /// The command tag.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    fn needs_subs(&self) -> bool {
        self.select.subscribed || self.ret.subscribed
    }
}

/// The `* STATUS name (...)` line for `items`; RECENT, UNSEEN, SIZE and DELETED count
/// `messages`
/// (`None`: none known, counted as 0; callers pass them whenever those items are asked).
/// The name is spelled by `names`.
pub fn status_line(
    names: NameCodec,
    name: &str,
    items: &[&str],
    info: &MailboxInfo,
    messages: Option<(&[MessageMeta], u32)>,
) -> String {
    let (messages, first_recent_uid) = messages.unwrap_or((&[], u32::MAX));
    let values: Vec<String> = items
        .iter()
        .map(|i| {
            let v = match *i {
                "MESSAGES" => u64::from(info.exists),
                "RECENT" => messages
                    .iter()
                    .filter(|m| m.uid >= first_recent_uid)
                    .count() as u64,
                "UIDNEXT" => u64::from(info.uidnext),
                "UIDVALIDITY" => u64::from(info.uidvalidity),
                "UNSEEN" => messages
                    .iter()
                    .filter(|m| !m.flags.iter().any(|f| f.eq_ignore_ascii_case("\\Seen")))
                    .count() as u64,
                // RFC 9051 §6.3.11: the total size of the messages, and the `\Deleted` ones.
                "SIZE" => messages.iter().map(|m| m.size).sum(),
                "DELETED" => messages
                    .iter()
                    .filter(|m| m.flags.iter().any(|f| f.eq_ignore_ascii_case("\\Deleted")))
                    .count() as u64,
                _ => info.highest_modseq,
            };
            format!("{i} {v}")
        })
        .collect();
    let mut t = "* STATUS ".to_owned();
    names.push(&mut t, name);
    t.push_str(&format!(" ({})\r\n", values.join(" ")));
    t
}

/// Whether STATUS `items` need the messages, not only the counters.
fn needs_messages(items: &[&str]) -> bool {
    items
        .iter()
        .any(|i| matches!(*i, "RECENT" | "UNSEEN" | "SIZE" | "DELETED"))
}

impl Session {
    /// Starts a LIST: `patterns` (one for the RFC 3501 form) under `reference`.
    pub(super) fn start_list(
        &mut self,
        tag: String,
        reference: String,
        patterns: Vec<String>,
        select: SelectOpts,
        ret: ReturnOpts,
    ) {
        let job = ListJob {
            tag,
            reference,
            patterns,
            select,
            ret,
            entries: None,
            subs: None,
            rows: None,
            status_of: None,
        };
        self.storage(Request::ListMailboxes, Awaiting::ListExt(Box::new(job)));
    }

    /// Advances a LIST with the answer to its last request.
    pub(super) fn continue_list(
        &mut self,
        mut job: ListJob,
        result: Result<Reply, StoreErrorKind>,
    ) {
        let names = NameCodec::for_session(self.rev2);
        if let Some(name) = job.status_of.take() {
            // RFC 5819 §2: a mailbox whose status cannot be read gets no STATUS line.
            if let Ok(Reply::Mailbox {
                info,
                messages,
                first_recent_uid,
            }) = result
            {
                let line = status_line(
                    names,
                    &name,
                    &job.ret.status,
                    &info,
                    Some((&messages, first_recent_uid)),
                );
                self.out.extend_from_slice(line.as_bytes());
            }
        } else if job.entries.is_none() {
            let Ok(Reply::Mailboxes(entries)) = result else {
                self.complete(&job.tag, "NO [SERVERBUG] Storage failure", true);
                return;
            };
            job.entries = Some(entries);
            if job.needs_subs() {
                self.storage(Request::Subscriptions, Awaiting::ListExt(Box::new(job)));
                return;
            }
        } else if job.subs.is_none() {
            let Ok(Reply::Names(subs)) = result else {
                self.complete(&job.tag, "NO [SERVERBUG] Storage failure", true);
                return;
            };
            job.subs = Some(subs);
        }
        let rows = job.rows.get_or_insert_with(|| {
            list_extended(
                names,
                &job.reference,
                &job.patterns,
                job.select,
                &job.ret,
                job.entries.as_deref().unwrap_or_default(),
                job.subs.as_deref().unwrap_or_default(),
            )
            .into()
        });
        while let Some(row) = rows.pop_front() {
            self.out.extend_from_slice(row.line.as_bytes());
            let Some(info) = row.info.filter(|_| !job.ret.status.is_empty()) else {
                continue;
            };
            if needs_messages(&job.ret.status) {
                job.status_of = Some(row.name.clone());
                let request = Request::Open {
                    mailbox: row.name,
                    select: false,
                };
                self.storage(request, Awaiting::ListExt(Box::new(job)));
                return;
            }
            let line = status_line(names, &row.name, &job.ret.status, &info, None);
            self.out.extend_from_slice(line.as_bytes());
        }
        self.complete(&job.tag, "OK LIST completed", true);
    }
}
