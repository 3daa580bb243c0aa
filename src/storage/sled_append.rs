//! APPEND for the sled backend, group-committed across sessions. Each APPEND must be
//! durable before its `OK`, and alone it pays a segment fdatasync and a sled flush + fsync.
//! Callers that arrive while another APPEND commits queue their message; whoever takes
//! the commit next (the leader) writes every queued body with one segment sync, records
//! them all in one sled transaction and makes them durable with one flush, then hands each
//! caller its result (flat combining: no extra thread, no added latency when idle).
//!
//! A body may be a file (a large IMAP APPEND literal): the job holds only its path, and
//! the leader copies it into the segment through the write buffer when the batch is
//! written, so a batch of large messages never sits in memory.

use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;

use sled::Transactional;

use super::codec::BlobRecord;
use super::codec::{encode_mailbox, encode_record, mailbox_key, message_key, messages_prefix};
use super::mailbox_ops::{apply_flags, AppendMessage};
use super::sled_imap::tx_mailbox;
use super::sled_refs::tx_abort;
use super::sled_store::SledStore;
use super::spool::EntryBody;
use super::types::{BlobId, MessageMeta};
use super::{lock, FlagOp, StoreError};

/// Most messages one leader commits at once (bounds its transaction).
const MAX_BATCH: usize = 256;

type AppendResult = Result<(u32, u32), StoreError>;

/// One queued APPEND and where its result goes.
struct Job {
    user: String,
    mailbox: String,
    message: AppendMessage,
    /// The body is this file of this many octets, not `message.body`.
    file: Option<(PathBuf, u64)>,
    reply: SyncSender<AppendResult>,
}

impl Job {
    fn body(&self) -> EntryBody<'_> {
        match &self.file {
            Some((path, len)) => EntryBody::File(path, *len),
            None => EntryBody::Bytes(&self.message.body),
        }
    }
}

/// The queue of APPENDs waiting for a commit, and the right to commit.
#[derive(Default)]
pub(super) struct AppendCombiner {
    queue: Mutex<Vec<Job>>,
    leader: Mutex<()>,
}

impl SledStore {
    /// See [`Store::append`](super::Store::append); with `file` (path, size), see
    /// [`Store::append_file`](super::Store::append_file).
    pub(super) fn append_impl(
        &self,
        user: &str,
        name: &str,
        message: AppendMessage,
        file: Option<(PathBuf, u64)>,
    ) -> AppendResult {
        // Fail before writing the body when we can; the transaction checks again.
        if self.mailboxes.get(mailbox_key(user, name))?.is_none() {
            return Err(StoreError::NotFound);
        }
        let (reply, result) = sync_channel(1);
        lock(&self.appends.queue).push(Job {
            user: user.to_owned(),
            mailbox: name.to_owned(),
            message,
            file,
            reply,
        });
        loop {
            let _leader = lock(&self.appends.leader);
            if let Some(done) = received(&result) {
                return done;
            }
            // Our job is queued and nobody took it: commit it with everyone else's.
            let jobs = {
                let mut queue = lock(&self.appends.queue);
                let take = queue.len().min(MAX_BATCH);
                queue.drain(..take).collect::<Vec<_>>()
            };
            self.commit_jobs(jobs);
            if let Some(done) = received(&result) {
                return done;
            }
            // More than MAX_BATCH were queued before ours: lead again.
        }
    }

    /// Commits `jobs` together and answers each; if the batch fails (a mailbox deleted
    /// meanwhile, say), each job is retried alone so one bad job fails only itself.
    fn commit_jobs(&self, jobs: Vec<Job>) {
        if jobs.is_empty() {
            return;
        }
        match self.append_batch(&jobs) {
            Ok(ids) => {
                for (job, id) in jobs.into_iter().zip(ids) {
                    let _ = job.reply.send(Ok(id));
                }
            }
            Err(e) if jobs.len() == 1 => {
                let _ = jobs[0].reply.send(Err(e));
            }
            Err(_) => {
                for job in jobs {
                    let alone = self
                        .append_batch(std::slice::from_ref(&job))
                        .and_then(|ids| ids.into_iter().next().ok_or(StoreError::NotFound));
                    let _ = job.reply.send(alone);
                }
            }
        }
    }

    /// Writes the bodies with one segment sync and their records in one transaction,
    /// durable on return; (UIDVALIDITY, UID) per job, in order.
    fn append_batch(&self, jobs: &[Job]) -> Result<Vec<(u32, u32)>, StoreError> {
        let bodies: Vec<EntryBody<'_>> = jobs.iter().map(Job::body).collect();
        let flags: Vec<Vec<String>> = jobs
            .iter()
            .map(|j| apply_flags(&[], FlagOp::Set, &j.message.flags).unwrap_or_default())
            .collect();
        self.spool_bodies(&bodies, |spooled| {
            if spooled.offsets.len() != jobs.len() {
                return Err(StoreError::Corrupt("spool append lost an offset".into()));
            }
            let trees = (
                &self.blobs,
                &self.segments,
                &self.meta,
                &self.mailboxes,
                &self.messages,
                &self.summaries,
            );
            let ids = trees.transaction(|trees| {
                let (blobs, segments, meta, mailboxes, messages, summaries) = trees;
                let mut ids = Vec::with_capacity(jobs.len());
                for (i, job) in jobs.iter().enumerate() {
                    let key = mailbox_key(&job.user, &job.mailbox);
                    // Reads see this transaction's writes: two jobs for one mailbox get
                    // consecutive UIDs.
                    let mut info = tx_mailbox(mailboxes, &key)?;
                    let uid = info.uidnext;
                    // RFC 9051 §2.3.1.1: UIDs are never reused.
                    info.uidnext = uid
                        .checked_add(1)
                        .ok_or_else(|| tx_abort(StoreError::Full))?;
                    info.highest_modseq += 1;
                    info.exists += 1;
                    let blob_id = spooled.first_id + i as u64;
                    let size = bodies[i].len();
                    let record = MessageMeta {
                        uid,
                        size,
                        internal_date: job.message.internal_date,
                        flags: flags[i].clone(),
                        modseq: info.highest_modseq,
                        blob: BlobId(blob_id),
                    };
                    let blob = BlobRecord {
                        segment: spooled.segment,
                        offset: spooled.offsets[i],
                        len: size,
                        refs: 1,
                    };
                    let msg_key = message_key(&messages_prefix(&job.user, &job.mailbox), uid);
                    if let Some(summary) = &job.message.summary {
                        summaries.insert(msg_key.as_slice(), summary.as_slice())?;
                    }
                    messages.insert(msg_key, encode_record(&record).map_err(tx_abort)?)?;
                    mailboxes.insert(key.as_slice(), &encode_mailbox(&info)[..])?;
                    blobs.insert(&blob_id.to_be_bytes()[..], &blob.encode()[..])?;
                    ids.push((info.uidvalidity, uid));
                }
                spooled.commit_counters(segments, meta)?;
                Ok(ids)
            })?;
            Ok(ids)
        })
    }
}

/// The result a leader left for us, if any. A leader that died mid-commit dropped our
/// sender: the APPEND failed (its body may be in the segment, without a record).
fn received(result: &Receiver<AppendResult>) -> Option<AppendResult> {
    match result.try_recv() {
        Ok(done) => Some(done),
        Err(std::sync::mpsc::TryRecvError::Empty) => None,
        Err(std::sync::mpsc::TryRecvError::Disconnected) => Some(Err(StoreError::Io(
            std::io::Error::other("append abandoned by a failed commit"),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use bytes::Bytes;

    use super::*;
    use crate::storage::Store;

    fn job(mailbox: &str, body: &'static str) -> (Job, Receiver<AppendResult>) {
        let (reply, result) = sync_channel(1);
        let job = Job {
            user: "u".into(),
            mailbox: mailbox.into(),
            message: AppendMessage {
                body: Bytes::from_static(body.as_bytes()),
                ..AppendMessage::default()
            },
            file: None,
            reply,
        };
        (job, result)
    }

    #[test]
    fn a_bad_job_fails_alone_and_the_rest_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), 8 << 20).unwrap();
        store.create_mailbox("u", "INBOX").unwrap();
        let (a, ra) = job("INBOX", "Subject: a\r\n\r\na\r\n");
        let (gone, rgone) = job("Deleted meanwhile", "Subject: x\r\n\r\nx\r\n");
        let (b, rb) = job("INBOX", "Subject: b\r\n\r\nb\r\n");
        store.commit_jobs(vec![a, gone, b]);
        let (va, ua) = ra.recv().unwrap().unwrap();
        assert!(matches!(rgone.recv().unwrap(), Err(StoreError::NotFound)));
        let (vb, ub) = rb.recv().unwrap().unwrap();
        assert_eq!(va, vb);
        assert_eq!((ua, ub), (1, 2));
        let bodies: Vec<Bytes> = store
            .messages("u", "INBOX")
            .unwrap()
            .iter()
            .map(|m| store.read_blob(m.blob).unwrap())
            .collect();
        assert_eq!(
            bodies,
            ["Subject: a\r\n\r\na\r\n", "Subject: b\r\n\r\nb\r\n"]
        );
    }

    /// A job whose body is the file `name` in `dir` holding `body` (`None`: no such file).
    fn file_job(dir: &Path, name: &str, body: Option<&[u8]>) -> (Job, Receiver<AppendResult>) {
        let (reply, result) = sync_channel(1);
        let path = dir.join(name);
        if let Some(body) = body {
            std::fs::write(&path, body).unwrap();
        }
        let len = body.map_or(5, |b| b.len() as u64);
        let job = Job {
            user: "u".into(),
            mailbox: "INBOX".into(),
            message: AppendMessage::default(),
            file: Some((path, len)),
            reply,
        };
        (job, result)
    }

    #[test]
    fn file_bodies_commit_with_the_others_and_a_missing_file_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let files = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), 8 << 20).unwrap();
        store.create_mailbox("u", "INBOX").unwrap();
        let big: Vec<u8> = b"Subject: big\r\n\r\n"
            .iter()
            .chain(std::iter::repeat_n(&b'z', 600_000))
            .copied()
            .collect();
        let (a, ra) = job("INBOX", "Subject: a\r\n\r\na\r\n");
        let (f, rf) = file_job(files.path(), "big", Some(&big));
        let (gone, rgone) = file_job(files.path(), "gone", None);
        let (b, rb) = job("INBOX", "Subject: b\r\n\r\nb\r\n");
        store.commit_jobs(vec![a, f, gone, b]);
        assert!(matches!(rgone.recv().unwrap(), Err(StoreError::Io(_))));
        let uids: Vec<u32> = [ra, rf, rb]
            .iter()
            .map(|r| r.recv().unwrap().unwrap().1)
            .collect();
        assert_eq!(uids, [1, 2, 3]);
        let messages = store.messages("u", "INBOX").unwrap();
        assert_eq!(messages[1].size, big.len() as u64);
        assert_eq!(store.read_blob(messages[1].blob).unwrap(), big);
        assert_eq!(
            store.read_blob(messages[2].blob).unwrap(),
            "Subject: b\r\n\r\nb\r\n"
        );
        assert!(files.path().join("big").exists(), "the caller's file stays");
    }

    #[test]
    fn a_batch_is_one_transaction_with_consecutive_uids() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), 8 << 20).unwrap();
        store.create_mailbox("u", "INBOX").unwrap();
        let (jobs, results): (Vec<Job>, Vec<_>) = (0..5)
            .map(|_| job("INBOX", "Subject: s\r\n\r\nx\r\n"))
            .unzip();
        store.commit_jobs(jobs);
        let uids: Vec<u32> = results
            .iter()
            .map(|r| r.recv().unwrap().unwrap().1)
            .collect();
        assert_eq!(uids, [1, 2, 3, 4, 5]);
        assert_eq!(store.mailbox("u", "INBOX").unwrap().unwrap().exists, 5);
    }
}
