//! The selected mailbox as this session sees it: sequence numbers, UIDs, flags,
//! `\Recent`, and the changes from other sessions not yet announced (RFC 3501 §7.4.1:
//! sequence numbers may only shift when the client is told).

use std::collections::HashMap;

use super::qresync::vanished_line;
use crate::protocol::imap::sequence::SequenceSet;
use crate::storage::{BlobId, FlagChange, MailboxInfo, MessageMeta};

/// One message of the view: metadata only, so that SELECT of a large mailbox stays cheap
/// (FETCH reads the stored summaries of the messages it renders, [`super::Request::Summaries`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// UID.
    pub uid: u32,
    /// Stored flags.
    pub flags: Vec<String>,
    /// CONDSTORE mod-sequence.
    pub modseq: u64,
    /// RFC822.SIZE.
    pub size: u64,
    /// Internal date, unix seconds.
    pub internal_date: i64,
    /// Body reference.
    pub blob: BlobId,
    /// `\Recent` in this session.
    pub recent: bool,
}

impl Msg {
    /// A view entry from stored metadata.
    pub fn from_meta(m: MessageMeta, recent: bool) -> Msg {
        Msg {
            uid: m.uid,
            flags: m.flags,
            modseq: m.modseq,
            size: m.size,
            internal_date: m.internal_date,
            blob: m.blob,
            recent,
        }
    }

    /// Whether a flag is set (case-insensitive).
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
    }
}

/// Summaries this view has read from the store, so that a client fetching the same
/// messages' ENVELOPE again (scrolling back, re-syncing) needs no storage round trip.
/// Filled only by FETCH, never by SELECT, and bounded: past [`SummaryCache::MAX_BYTES`]
/// nothing more is kept (UIDs are never reused, so entries never go stale).
#[derive(Debug, Default)]
pub struct SummaryCache {
    by_uid: HashMap<u32, Vec<u8>>,
    bytes: usize,
}

impl SummaryCache {
    /// Octets of summaries kept per session at most: a mailbox of ~2·10^4 messages whole.
    pub const MAX_BYTES: usize = 16 << 20;

    /// The summary read earlier for `uid`, if kept.
    pub fn get(&self, uid: u32) -> Option<&[u8]> {
        self.by_uid.get(&uid).map(Vec::as_slice)
    }

    /// Keeps a summary read from the store while the budget allows; gives it back when
    /// it is not kept.
    pub fn keep(&mut self, uid: u32, summary: Vec<u8>) -> Option<Vec<u8>> {
        if self.bytes + summary.len() > Self::MAX_BYTES || self.by_uid.contains_key(&uid) {
            return Some(summary);
        }
        self.bytes += summary.len();
        self.by_uid.insert(uid, summary);
        None
    }
}

/// The selected mailbox.
#[derive(Debug)]
pub struct Selected {
    /// Mailbox name.
    pub name: String,
    /// EXAMINE: no flag changes, no expunge.
    pub read_only: bool,
    /// Counters at SELECT, kept current.
    pub info: MailboxInfo,
    /// Announced messages in UID order; index + 1 is the sequence number.
    pub msgs: Vec<Msg>,
    /// Arrived but not yet announced with EXISTS.
    pending_new: Vec<Msg>,
    /// Expunged but not yet announced with EXPUNGE.
    pending_gone: Vec<u32>,
    /// UIDs whose flags changed and are not yet announced with FETCH.
    pending_flags: Vec<u32>,
    /// Summaries FETCH has read (boxed: most views never fetch one, and the state enum
    /// stays small).
    pub summaries: Box<SummaryCache>,
}

impl Selected {
    /// A view from an OPEN reply.
    pub fn new(
        name: String,
        read_only: bool,
        info: MailboxInfo,
        messages: Vec<MessageMeta>,
        first_recent_uid: u32,
    ) -> Selected {
        let msgs = messages
            .into_iter()
            .map(|m| {
                let recent = m.uid >= first_recent_uid;
                Msg::from_meta(m, recent)
            })
            .collect();
        Selected {
            name,
            read_only,
            info,
            msgs,
            pending_new: Vec::new(),
            pending_gone: Vec::new(),
            pending_flags: Vec::new(),
            summaries: Box::default(),
        }
    }

    /// Number of announced messages.
    pub fn exists(&self) -> u32 {
        u32::try_from(self.msgs.len()).unwrap_or(u32::MAX)
    }

    /// Highest announced UID (for `*` in UID sets).
    pub fn max_uid(&self) -> u32 {
        self.msgs.last().map_or(0, |m| m.uid)
    }

    /// Sequence numbers (1-based) of the messages a set names, ascending.
    pub fn resolve(&self, set: &SequenceSet, uid: bool) -> Vec<u32> {
        if uid {
            let max = self.max_uid();
            // Messages are in UID order and the ranges sorted and disjoint: each range is a
            // slice found by binary search, so many ranges over a large mailbox cost
            // r·log n, not r·n.
            let mut seqs = Vec::new();
            for (lo, hi) in set.to_ranges(max) {
                let start = self.msgs.partition_point(|m| m.uid < lo);
                let end = self.msgs.partition_point(|m| m.uid <= hi);
                seqs.extend((start..end).map(|i| i as u32 + 1));
            }
            seqs
        } else {
            set.iter(self.exists()).collect()
        }
    }

    /// The message with sequence number `seq`.
    pub fn get(&self, seq: u32) -> Option<&Msg> {
        self.msgs.get((seq as usize).checked_sub(1)?)
    }

    /// The sequence number of `uid`, if announced.
    pub fn seq_of(&self, uid: u32) -> Option<u32> {
        self.msgs
            .binary_search_by_key(&uid, |m| m.uid)
            .ok()
            .map(|i| i as u32 + 1)
    }

    /// Applies a flag change; true when it differs from what the view had.
    pub fn apply_flags(&mut self, c: &FlagChange) -> bool {
        // Both lists are in UID order: a STORE over 10^4 messages stays n·log n.
        let found = match self.msgs.binary_search_by_key(&c.uid, |m| m.uid) {
            Ok(i) => self.msgs.get_mut(i),
            Err(_) => self
                .pending_new
                .binary_search_by_key(&c.uid, |m| m.uid)
                .ok()
                .and_then(|i| self.pending_new.get_mut(i)),
        };
        match found {
            Some(m) if m.modseq < c.modseq || m.flags != c.flags => {
                m.flags = c.flags.clone();
                m.modseq = m.modseq.max(c.modseq);
                self.info.highest_modseq = self.info.highest_modseq.max(c.modseq);
                true
            }
            _ => false,
        }
    }

    /// Records another session's flag changes for announcement.
    pub fn flags_changed(&mut self, changes: &[FlagChange]) {
        for c in changes {
            if self.apply_flags(c) && !self.pending_flags.contains(&c.uid) {
                self.pending_flags.push(c.uid);
            }
        }
    }

    /// Records new messages for announcement (duplicates and old UIDs ignored).
    pub fn appended(&mut self, metas: Vec<MessageMeta>) {
        for m in metas {
            let last = self
                .pending_new
                .last()
                .map_or(self.max_uid(), |p| p.uid)
                .max(self.max_uid());
            if m.uid > last {
                self.info.uidnext = self.info.uidnext.max(m.uid.saturating_add(1));
                self.info.highest_modseq = self.info.highest_modseq.max(m.modseq);
                self.pending_new.push(Msg::from_meta(m, true));
            }
        }
    }

    /// Records expunged UIDs for announcement.
    pub fn expunged(&mut self, uids: &[u32]) {
        for uid in uids {
            if let Some(i) = self.pending_new.iter().position(|m| m.uid == *uid) {
                self.pending_new.remove(i);
            } else if self.seq_of(*uid).is_some() && !self.pending_gone.contains(uid) {
                self.pending_gone.push(*uid);
            }
        }
    }

    /// Removes `uids` now and returns the `* n EXPUNGE` lines (RFC 3501 §7.4.1: each
    /// number is relative to the state after the previous EXPUNGE), or with `vanished`
    /// (QRESYNC enabled, RFC 7162 §3.2.10) one `* VANISHED uids` line, which shrinks the
    /// client's message count by as many without EXPUNGE or EXISTS.
    pub fn remove_now(&mut self, uids: &[u32], vanished: bool) -> String {
        if uids.windows(2).all(|w| w[0] < w[1]) {
            return self.remove_ascending(uids, vanished);
        }
        let mut out = String::new();
        let mut gone = Vec::new();
        for uid in uids {
            if let Some(seq) = self.seq_of(*uid) {
                self.msgs.remove(seq as usize - 1);
                self.pending_gone.retain(|u| u != uid);
                self.pending_flags.retain(|u| u != uid);
                if vanished {
                    gone.push(*uid);
                } else {
                    out.push_str(&format!("* {seq} EXPUNGE\r\n"));
                }
            }
        }
        gone.sort_unstable();
        out.push_str(&vanished_line(false, &gone));
        out
    }

    /// [`Selected::remove_now`] for strictly ascending UIDs (what the store reports) in one
    /// pass, where one removal at a time costs n per UID: expunging 10^4 of 10^5 messages
    /// stays linear. Each message's number is its position less the ones removed before.
    fn remove_ascending(&mut self, uids: &[u32], vanished: bool) -> String {
        let mut out = String::new();
        let mut found = Vec::new();
        for uid in uids {
            if let Ok(i) = self.msgs.binary_search_by_key(uid, |m| m.uid) {
                if !vanished {
                    out.push_str(&format!("* {} EXPUNGE\r\n", i + 1 - found.len()));
                }
                found.push(*uid);
            }
        }
        if !found.is_empty() {
            let listed = |uid: &u32| found.binary_search(uid).is_ok();
            self.msgs.retain(|m| !listed(&m.uid));
            self.pending_gone.retain(|u| !listed(u));
            self.pending_flags.retain(|u| !listed(u));
        }
        if vanished {
            out.push_str(&vanished_line(false, &found));
        }
        out
    }

    /// Untagged updates to send now; expunges only when `expunge_ok` (not during FETCH,
    /// STORE, SEARCH: RFC 3501 §7.4.1). `flags_line` renders a FETCH FLAGS update.
    /// `vanished`: expunges as VANISHED (QRESYNC enabled).
    pub fn updates(
        &mut self,
        expunge_ok: bool,
        vanished: bool,
        flags_line: impl Fn(u32, &Msg) -> String,
    ) -> String {
        let mut out = String::new();
        if expunge_ok && !self.pending_gone.is_empty() {
            let gone = std::mem::take(&mut self.pending_gone);
            out.push_str(&self.remove_now(&gone, vanished));
        }
        for uid in std::mem::take(&mut self.pending_flags) {
            if let Some(seq) = self.seq_of(uid) {
                if let Some(m) = self.get(seq) {
                    out.push_str(&flags_line(seq, m));
                }
            }
        }
        // EXISTS may be sent at any time (RFC 3501 §7.3.1), and must follow any EXPUNGE
        // so the count is the count after them.
        if !self.pending_new.is_empty() {
            let recent_before = self.recent();
            self.msgs.append(&mut self.pending_new);
            out.push_str(&format!("* {} EXISTS\r\n", self.exists()));
            if self.recent() != recent_before {
                out.push_str(&format!("* {} RECENT\r\n", self.recent()));
            }
        }
        self.info.exists = self.exists();
        out
    }

    /// Number of `\Recent` messages.
    pub fn recent(&self) -> u32 {
        self.msgs.iter().filter(|m| m.recent).count() as u32
    }
}
