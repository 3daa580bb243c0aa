//! Commands that run over many messages in steps: FETCH (set `\Seen`, then read stored
//! summaries and bodies in chunks), SEARCH (read bodies in chunks only when a key needs
//! them) and STORE.

use std::collections::VecDeque;

use chrono::{TimeZone, Utc};

use super::esearch::{self, ReturnOpts};
use super::fetch::{flag_list, render, Item};
use super::machine::{Awaiting, Session, State};
use super::view::Selected;
use super::{Reply, Request, StoreErrorKind};
use crate::protocol::imap::search::{matches, needs_raw, SearchContext, SearchKey};
use crate::protocol::imap::section::BinaryError;
use crate::storage::FlagOp;

/// Messages whose bodies are read per request, bounding memory per step.
const CHUNK: usize = 16;

/// Messages whose stored summaries (a few hundred octets each) are read per request when
/// no body is needed: large enough that `FETCH 1:* ENVELOPE` over 10^4 messages takes
/// few round trips to the store (each a range scan), small enough to bound memory per
/// step (under a MiB).
const SUMMARY_CHUNK: usize = 1024;

/// A multi-step command in progress.
#[derive(Debug)]
pub enum Job {
    /// FETCH / UID FETCH.
    Fetch(FetchJob),
    /// SEARCH / UID SEARCH.
    Search {
        /// Command tag.
        tag: String,
        /// The key.
        key: SearchKey,
        /// UID SEARCH.
        uid: bool,
        /// RFC 4731 RETURN options: answer with ESEARCH.
        ret: Option<ReturnOpts>,
        /// Sequence numbers still to test.
        seqs: Vec<u32>,
        /// Matches so far (sequence numbers or UIDs).
        hits: Vec<u32>,
        /// Sequence numbers whose bodies were requested.
        chunk: Vec<u32>,
    },
    /// STORE / UID STORE waiting for the store's answer.
    Store {
        /// Command tag.
        tag: String,
        /// UID STORE.
        uid: bool,
        /// `.SILENT`.
        silent: bool,
    },
}

/// A FETCH / UID FETCH in progress: handed to the store and back as a whole.
#[derive(Debug)]
pub struct FetchJob {
    /// Command tag.
    tag: String,
    /// Items asked for.
    items: Vec<Item>,
    /// UID FETCH.
    uid: bool,
    /// Sequence numbers still to answer, ascending.
    seqs: VecDeque<u32>,
    /// Read-only (EXAMINE): no `\Seen`.
    read_only: bool,
    /// The `\Seen` update was done (or not needed).
    seen_done: bool,
    /// Sequence numbers whose summaries or bodies were requested.
    chunk: Vec<u32>,
    /// The chunk's stored summaries, one per entry, once read (`None`: use those the view
    /// kept).
    summaries: Option<Vec<Option<Vec<u8>>>>,
}

impl Job {
    /// A FETCH job.
    pub fn fetch(tag: String, items: Vec<Item>, uid: bool, seqs: Vec<u32>, read_only: bool) -> Job {
        Job::Fetch(FetchJob {
            tag,
            items,
            uid,
            seqs: seqs.into(),
            read_only,
            seen_done: false,
            chunk: Vec::new(),
            summaries: None,
        })
    }

    /// A SEARCH job over `seqs`; `ret` (RFC 4731 RETURN options) asks for ESEARCH.
    pub fn search(
        tag: String,
        key: SearchKey,
        uid: bool,
        ret: Option<ReturnOpts>,
        seqs: Vec<u32>,
    ) -> Job {
        Job::Search {
            tag,
            key,
            uid,
            ret,
            seqs,
            hits: Vec::new(),
            chunk: Vec::new(),
        }
    }

    /// A STORE job.
    pub fn store(tag: String, uid: bool, silent: bool) -> Job {
        Job::Store { tag, uid, silent }
    }

    /// The command tag.
    pub fn tag(&self) -> &str {
        match self {
            Job::Fetch(FetchJob { tag, .. }) | Job::Search { tag, .. } | Job::Store { tag, .. } => {
                tag
            }
        }
    }
}

impl Session {
    /// Starts (or resumes) a job.
    pub(super) fn start_job(&mut self, job: Job) {
        self.continue_job(job, Ok(Reply::Done));
    }

    /// Advances a job with the answer to its last request.
    pub(super) fn continue_job(&mut self, job: Job, result: Result<Reply, StoreErrorKind>) {
        let reply = match result {
            Ok(r) => r,
            Err(_) => {
                if matches!(&job, Job::Search { ret: Some(r), .. } if r.save) {
                    // RFC 5182 §2.1: a SEARCH (SAVE) that fails empties `$`.
                    self.saved.clear();
                }
                self.complete(job.tag(), "NO [SERVERBUG] Storage failure", false);
                return;
            }
        };
        match job {
            Job::Store { tag, uid, silent } => self.finish_store(&tag, uid, silent, reply),
            Job::Fetch(fetch) => self.fetch_step(fetch, reply),
            Job::Search { .. } => self.search_step(job, reply),
        }
    }

    fn finish_store(&mut self, tag: &str, uid: bool, silent: bool, reply: Reply) {
        let Reply::Flags(update) = reply else {
            self.complete(tag, "NO [SERVERBUG] Unexpected storage reply", false);
            return;
        };
        let condstore = self.condstore;
        // QRESYNC clients track messages by UID (RFC 7162 §3.2.10): every FETCH carries it.
        let with_uid = uid || self.qresync;
        if let State::Selected(sel) = &mut self.state {
            for c in &update.updated {
                sel.apply_flags(c);
                let Some(seq) = sel.seq_of(c.uid) else {
                    continue;
                };
                if silent && !(condstore && c.changed) {
                    continue;
                }
                let Some(m) = sel.get(seq) else { continue };
                let mut t = format!("* {seq} FETCH (");
                if with_uid {
                    t.push_str(&format!("UID {} ", m.uid));
                }
                if silent {
                    // RFC 7162 §3.2: with .SILENT only the new MODSEQ is reported.
                    t.push_str(&format!("MODSEQ ({}))\r\n", m.modseq));
                } else if condstore {
                    t.push_str(&format!(
                        "FLAGS {} MODSEQ ({}))\r\n",
                        flag_list(m),
                        m.modseq
                    ));
                } else {
                    t.push_str(&format!("FLAGS {})\r\n", flag_list(m)));
                }
                self.out.extend_from_slice(t.as_bytes());
            }
        }
        if update.modified.is_empty() {
            self.complete(tag, "OK STORE completed", uid);
        } else {
            let list: Vec<String> = match &self.state {
                State::Selected(sel) if !uid => update
                    .modified
                    .iter()
                    .filter_map(|u| sel.seq_of(*u))
                    .map(|s| s.to_string())
                    .collect(),
                _ => update.modified.iter().map(u32::to_string).collect(),
            };
            let text = format!("OK [MODIFIED {}] Conditional STORE failed", list.join(","));
            self.complete(tag, &text, uid);
        }
    }

    fn fetch_step(&mut self, mut f: FetchJob, reply: Reply) {
        // QRESYNC clients track messages by UID (RFC 7162 §3.2.10): every FETCH carries it.
        let with_uid = f.uid || self.qresync;
        let State::Selected(sel) = &mut self.state else {
            return;
        };
        if let Reply::Flags(update) = &reply {
            for c in &update.updated {
                sel.apply_flags(c);
            }
        }
        if !f.seen_done {
            f.seen_done = true;
            if !f.read_only && f.items.iter().any(Item::sets_seen) {
                let uids: Vec<u32> = f
                    .seqs
                    .iter()
                    .filter_map(|s| sel.get(*s))
                    .filter(|m| !m.has("\\Seen"))
                    .map(|m| m.uid)
                    .collect();
                if !uids.is_empty() {
                    // RFC 3501 §6.4.5: the changed flags are returned with the data.
                    if !f.items.contains(&Item::Flags) {
                        f.items.push(Item::Flags);
                    }
                    let request = Request::StoreFlags {
                        mailbox: sel.name.clone(),
                        uids,
                        op: FlagOp::Add,
                        flags: vec!["\\Seen".to_owned()],
                        unchanged_since: None,
                    };
                    self.storage(request, Awaiting::Job(Job::Fetch(f)));
                    return;
                }
            }
        }
        // QRESYNC clients keep per-message mod-sequences, so once it is enabled every FETCH
        // response carries MODSEQ (as with UID), not only those that ask for it.
        let with_modseq = self.condstore && (self.qresync || f.items.contains(&Item::ModSeq));
        let wants_raw = f.items.iter().any(Item::needs_raw);
        let wants_summary = f.items.iter().any(Item::needs_summary);
        let mut blobs = VecDeque::new();
        match reply {
            Reply::Summaries(mut found) => {
                // What the view keeps is rendered from there (no copy); the rest from here.
                for (seq, summary) in f.chunk.iter().zip(found.iter_mut()) {
                    if let (Some(m), Some(s)) = (sel.get(*seq), summary.take()) {
                        *summary = sel.summaries.keep(m.uid, s);
                    }
                }
                f.summaries = Some(found);
                let needs = bodies_needed(sel, &f.chunk, f.summaries.as_deref(), wants_raw);
                // Bodies are read at most CHUNK at a time: the rest of the chunk goes back.
                if let Some((cut, _)) = needs.iter().filter(|(_, n)| *n).nth(CHUNK) {
                    let cut = *cut;
                    for seq in f.chunk.drain(cut..).rev() {
                        f.seqs.push_front(seq);
                    }
                    if let Some(s) = f.summaries.as_mut() {
                        s.truncate(cut);
                    }
                }
                let ids: Vec<_> = f
                    .chunk
                    .iter()
                    .zip(&needs)
                    .filter(|(_, (_, n))| *n)
                    .filter_map(|(seq, _)| sel.get(*seq))
                    .map(|m| m.blob)
                    .collect();
                if !ids.is_empty() {
                    self.storage(Request::ReadBlobs(ids), Awaiting::Job(Job::Fetch(f)));
                    return;
                }
            }
            Reply::Blobs(read) => blobs = read.into(),
            _ => {}
        }
        let render_to = Rendering {
            items: &f.items,
            with_uid,
            with_modseq,
            wants_raw,
        };
        let mut out = Vec::new();
        loop {
            if render_to
                .chunk(sel, &f.chunk, f.summaries.as_deref(), &mut blobs, &mut out)
                .is_err()
            {
                // RFC 3516 §4.3: the FETCH fails; what was sent stands. The encoding's
                // name is the sender's text: not echoed.
                self.out.extend(out);
                let text = "NO [UNKNOWN-CTE] Cannot decode the part's encoding";
                self.complete(&f.tag, text, f.uid);
                return;
            }
            f.summaries = None;
            if !wants_raw && !wants_summary {
                for seq in f.seqs.drain(..) {
                    if let Some(m) = sel.get(seq) {
                        // Without the raw message no BINARY item is decoded: cannot fail.
                        let bytes = render(seq, m, &f.items, None, None, with_uid, with_modseq);
                        out.extend(bytes.unwrap_or_default());
                    }
                }
                break;
            }
            // The next chunk of the messages still to answer that exist.
            let size = if wants_raw { CHUNK } else { SUMMARY_CHUNK };
            f.chunk = Vec::with_capacity(size.min(f.seqs.len()));
            while f.chunk.len() < size {
                let Some(seq) = f.seqs.pop_front() else { break };
                if sel.get(seq).is_some() {
                    f.chunk.push(seq);
                }
            }
            if f.chunk.is_empty() {
                break;
            }
            let uids: Vec<u32> = f
                .chunk
                .iter()
                .filter_map(|s| sel.get(*s))
                .map(|m| m.uid)
                .collect();
            // Summaries this view read before need no round trip to the store.
            let cached = uids.iter().all(|u| sel.summaries.get(*u).is_some());
            let request = if wants_summary && !cached {
                Request::Summaries {
                    mailbox: sel.name.clone(),
                    uids,
                }
            } else if wants_raw {
                let ids = f.chunk.iter().filter_map(|s| sel.get(*s)).map(|m| m.blob);
                Request::ReadBlobs(ids.collect())
            } else {
                continue;
            };
            self.out.extend(out);
            f.summaries = None;
            self.storage(request, Awaiting::Job(Job::Fetch(f)));
            return;
        }
        self.out.extend(out);
        self.complete(&f.tag, "OK FETCH completed", f.uid);
    }

    fn search_step(&mut self, job: Job, reply: Reply) {
        let Job::Search {
            tag,
            key,
            uid,
            ret,
            mut seqs,
            mut hits,
            chunk,
        } = job
        else {
            return;
        };
        let State::Selected(sel) = &self.state else {
            return;
        };
        let max_seq = sel.exists();
        let max_uid = sel.max_uid();
        let test = |seq: u32, raw: Option<&[u8]>| -> Option<u32> {
            let m = sel.get(seq)?;
            let date = Utc
                .timestamp_opt(m.internal_date, 0)
                .single()
                .unwrap_or_default()
                .fixed_offset();
            let ctx = SearchContext {
                seq,
                max_seq,
                uid: m.uid,
                max_uid,
                flags: &m.flags,
                recent: m.recent,
                internal_date: date,
                size: m.size,
                modseq: m.modseq,
                raw,
            };
            matches(&key, &ctx).then_some(if uid { m.uid } else { seq })
        };
        if let Reply::Blobs(blobs) = reply {
            for (seq, raw) in chunk.iter().zip(blobs) {
                hits.extend(test(*seq, raw.as_deref()));
            }
        }
        if needs_raw(&key) {
            if !seqs.is_empty() {
                let n = seqs.len().min(CHUNK * 4);
                let chunk: Vec<u32> = seqs.drain(..n).collect();
                let blobs = chunk
                    .iter()
                    .filter_map(|s| sel.get(*s))
                    .map(|m| m.blob)
                    .collect();
                let job = Job::Search {
                    tag,
                    key,
                    uid,
                    ret,
                    seqs,
                    hits,
                    chunk,
                };
                self.storage(Request::ReadBlobs(blobs), Awaiting::Job(job));
                return;
            }
        } else {
            for seq in seqs.drain(..) {
                hits.extend(test(seq, None));
            }
        }
        if let Some(opts) = ret.filter(|r| r.save) {
            let kept = opts.saved(&hits);
            self.saved = if uid {
                kept
            } else {
                kept.iter()
                    .filter_map(|s| sel.get(*s))
                    .map(|m| m.uid)
                    .collect()
            };
        }
        let line = match ret {
            Some(opts) => esearch::render(&tag, uid, opts, &hits),
            None => {
                let mut line = "* SEARCH".to_owned();
                for h in &hits {
                    line.push_str(&format!(" {h}"));
                }
                line.push_str("\r\n");
                line
            }
        };
        self.out.extend_from_slice(line.as_bytes());
        self.complete(&tag, "OK SEARCH completed", uid);
    }
}

/// For each message of a FETCH chunk (by position), whether its body must be read: always
/// for sections, else when no summary is at hand (it is then computed from the body, as
/// before summaries were stored).
fn bodies_needed(
    sel: &Selected,
    chunk: &[u32],
    summaries: Option<&[Option<Vec<u8>>]>,
    wants_raw: bool,
) -> Vec<(usize, bool)> {
    chunk
        .iter()
        .enumerate()
        .map(|(i, seq)| {
            (
                i,
                wants_raw || summary_at(sel, *seq, summaries, i).is_none(),
            )
        })
        .collect()
}

/// The summary of the chunk's `i`th message (sequence number `seq`): read for this chunk,
/// or kept by the view from an earlier FETCH.
fn summary_at<'a>(
    sel: &'a Selected,
    seq: u32,
    summaries: Option<&'a [Option<Vec<u8>>]>,
    i: usize,
) -> Option<&'a [u8]> {
    summaries
        .and_then(|s| s.get(i))
        .and_then(Option::as_deref)
        .or_else(|| sel.get(seq).and_then(|m| sel.summaries.get(m.uid)))
}

/// How FETCH responses are rendered: the items and the data every response carries.
struct Rendering<'a> {
    items: &'a [Item],
    with_uid: bool,
    with_modseq: bool,
    wants_raw: bool,
}

impl Rendering<'_> {
    /// Renders a chunk into `out`, taking the bodies read (in order) for the messages that
    /// need one; a message whose body is gone (expunged elsewhere) is left out. Fails as
    /// [`render`] does.
    fn chunk(
        &self,
        sel: &Selected,
        chunk: &[u32],
        summaries: Option<&[Option<Vec<u8>>]>,
        blobs: &mut VecDeque<Option<bytes::Bytes>>,
        out: &mut Vec<u8>,
    ) -> Result<(), BinaryError> {
        for (i, needs_body) in bodies_needed(sel, chunk, summaries, self.wants_raw) {
            let Some(seq) = chunk.get(i) else { continue };
            let Some(m) = sel.get(*seq) else { continue };
            let raw = if needs_body {
                let Some(raw) = blobs.pop_front().flatten() else {
                    continue;
                };
                Some(raw)
            } else {
                None
            };
            let summary = summary_at(sel, *seq, summaries, i);
            let items = self.items;
            out.extend(render(
                *seq,
                m,
                items,
                summary,
                raw.as_deref(),
                self.with_uid,
                self.with_modseq,
            )?);
        }
        Ok(())
    }
}
