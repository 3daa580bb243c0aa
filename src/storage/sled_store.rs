//! The default backend: sled for metadata and indexes (`dir/meta/`), append-only spool
//! segment files for message bodies (`dir/spool/`), and the group commit.
//!
//! Group commit ([`Store::spool`](super::Store::spool), and IMAP APPEND through
//! [`SledStore::spool_bodies`]): append every body of the batch to the current segment,
//! fdatasync the segment, write all blob and queue (or message) records in one sled
//! transaction, flush sled, then fdatasync sled's log file ourselves: sled's flush ends in
//! `sync_file_range`, which is no durability barrier (spacejam/sled#1452). Two fsyncs per
//! batch.
//!
//! Space (counts kept by `sled_refs`): a segment whose live-blob count reaches zero is
//! deleted once it is no longer the one being appended to, and only after the commit that
//! emptied it is durable.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use sled::Transactional;

use super::codec::{be_u64, encode_queued, BlobRecord};
use super::sled_refs::tx_abort;
use super::spool::{self, EntryBody, SegmentWriter};
use super::types::{BlobId, QueueId, QueuedMessage};
use super::{lock, NewMessage, StoreError};

/// Meta key: the next queue (and blob) id.
pub(super) const META_NEXT_ID: &[u8] = b"next_id";
/// Meta key: the next segment id.
const META_NEXT_SEGMENT: &[u8] = b"next_segment";

/// Tuning of [`SledStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SledOptions {
    /// sled's page cache size (sled's own default is 1 GiB).
    pub cache_capacity_bytes: u64,
    /// A batch that starts past this size goes to a new spool segment.
    pub segment_max_bytes: u64,
}

impl Default for SledOptions {
    fn default() -> Self {
        SledOptions {
            cache_capacity_bytes: 64 << 20,
            segment_max_bytes: spool::DEFAULT_SEGMENT_MAX,
        }
    }
}

/// sled + spool-segment [`Store`](super::Store) backend (see the module docs).
pub struct SledStore {
    pub(super) db: sled::Db,
    pub(super) queue: sled::Tree,
    pub(super) blobs: sled::Tree,
    pub(super) segments: sled::Tree,
    pub(super) mailboxes: sled::Tree,
    pub(super) messages: sled::Tree,
    /// `user NUL name NUL uid` (the message's key) → its IMAP summary, kept out of the
    /// message record so that listing a mailbox (SELECT) reads small records only.
    pub(super) summaries: sled::Tree,
    /// `user NUL name` → empty: IMAP subscriptions.
    pub(super) subscriptions: sled::Tree,
    /// `user NUL name` → SPECIAL-USE attribute (RFC 6154), for mailboxes that have one.
    pub(super) special_use: sled::Tree,
    /// `user NUL name NUL modseq` → UID ranges expunged by that change (QRESYNC).
    pub(super) expunged: sled::Tree,
    pub(super) users: sled::Tree,
    pub(super) meta: sled::Tree,
    spool_dir: PathBuf,
    segment_max: u64,
    /// The single committer's state: one batch is appended at a time.
    spool: Mutex<SpoolState>,
    /// Id of the segment being appended to; also orders reclaim checks against rotation.
    current_segment: Mutex<u64>,
    /// Serialises flush + fsync (concurrent sled flushes can deadlock, sled#1308).
    durability: Mutex<MetaSync>,
    /// Tickets taken by [`SledStore::durable_commit`] callers, in order.
    sync_tickets: AtomicU64,
    /// The last ticket a completed flush covers, published for callers that wait for
    /// someone else's flush ([`SledStore::durable_commit_lingering`]) without queueing on
    /// `durability`.
    flushed: Mutex<u64>,
    flushed_cv: Condvar,
    /// APPENDs waiting to be committed together.
    pub(super) appends: super::sled_append::AppendCombiner,
}

/// Bodies written and fsynced by [`SledStore::spool_bodies`], awaiting their records.
pub(super) struct SpooledBodies {
    /// Id (queue and blob) of the first body.
    pub first_id: u64,
    /// One past the last body's id.
    pub next_id: u64,
    /// The segment they were appended to.
    pub segment: u64,
    /// The next segment id to hand out.
    next_segment: u64,
    /// Offset of each body in the segment, in order.
    pub offsets: Vec<u64>,
}

impl SpooledBodies {
    /// Inside the records' transaction: count the new blobs live in their segment and
    /// persist the id counters.
    pub(super) fn commit_counters(
        &self,
        segments: &TransactionalTree,
        meta: &TransactionalTree,
    ) -> ConflictableTransactionResult<(), StoreError> {
        let seg_key = self.segment.to_be_bytes();
        let live = match segments.get(seg_key)? {
            Some(raw) => be_u64(&raw).map_err(tx_abort)?,
            None => 0,
        };
        let added = self.next_id - self.first_id;
        segments.insert(&seg_key[..], &(live + added).to_be_bytes()[..])?;
        meta.insert(META_NEXT_ID, &self.next_id.to_be_bytes()[..])?;
        meta.insert(META_NEXT_SEGMENT, &self.next_segment.to_be_bytes()[..])?;
        Ok(())
    }
}

struct SpoolState {
    writer: SegmentWriter,
    next_id: u64,
    next_segment: u64,
}

/// Handles for the explicit fsync of sled's files (fsync works per inode, any handle).
struct MetaSync {
    /// sled 0.34 keeps its whole log in `meta/db` (`Config::db_path`).
    db_file: File,
    /// sled 0.34 writes values too big for a log segment to `meta/blobs/<lsn>`, unsynced.
    blobs_dir: PathBuf,
    synced_blobs: HashSet<OsString>,
    /// Every ticket up to this one is covered by a completed flush + fsync.
    covered: u64,
}

impl MetaSync {
    /// fsync sled's log and any large-value file not synced yet.
    fn sync(&mut self) -> io::Result<()> {
        self.db_file.sync_data()?;
        let entries = match fs::read_dir(&self.blobs_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut seen = HashSet::new();
        let mut created = false;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            if !self.synced_blobs.contains(&name) {
                match File::open(entry.path()) {
                    Ok(f) => f.sync_all()?,
                    // sled garbage-collected it meanwhile.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
                created = true;
            }
            seen.insert(name);
        }
        if created {
            spool::sync_dir(&self.blobs_dir)?;
        }
        self.synced_blobs = seen;
        Ok(())
    }
}

impl SledStore {
    /// Open (or create) a store in `dir` with a sled cache of `cache_capacity_bytes`.
    ///
    /// Removes spool segments no record references (bodies of batches a crash interrupted)
    /// and starts a fresh segment. May block; one process per directory (sled locks it).
    pub fn open(dir: &Path, cache_capacity_bytes: u64) -> Result<SledStore, StoreError> {
        Self::open_with(
            dir,
            SledOptions {
                cache_capacity_bytes,
                ..SledOptions::default()
            },
        )
    }

    /// [`SledStore::open`] with every tuning knob.
    pub fn open_with(dir: &Path, options: SledOptions) -> Result<SledStore, StoreError> {
        let meta_dir = dir.join("meta");
        let spool_dir = dir.join("spool");
        fs::create_dir_all(&meta_dir)?;
        fs::create_dir_all(&spool_dir)?;
        let db = sled::Config::new()
            .path(&meta_dir)
            .cache_capacity(options.cache_capacity_bytes)
            .open()?;
        let db_file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(meta_dir.join("db"))?;
        // sled does not fsync its directory: make its files' names durable once.
        for entry in fs::read_dir(&meta_dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                File::open(entry.path())?.sync_all()?;
            }
        }
        spool::sync_dir(&meta_dir)?;
        spool::sync_dir(&spool_dir)?;
        spool::sync_dir(dir)?;

        let segments = db.open_tree("segments")?;
        let meta = db.open_tree("meta")?;
        let queue = db.open_tree("queue")?;
        let blobs = db.open_tree("blobs")?;
        let files = spool::list_segments(&spool_dir)?;
        remove_unreferenced_segments(&segments, &spool_dir, &files)?;

        let next_id = match meta.get(META_NEXT_ID)? {
            Some(raw) => be_u64(&raw)?,
            None => 1,
        };
        let stored_next_segment = match meta.get(META_NEXT_SEGMENT)? {
            Some(raw) => be_u64(&raw)?,
            None => 1,
        };
        let after_files = files.last().map_or(1, |(id, _)| id + 1);
        let segment_id = stored_next_segment.max(after_files);
        meta.insert(META_NEXT_SEGMENT, &(segment_id + 1).to_be_bytes()[..])?;
        let mut meta_sync = MetaSync {
            db_file,
            blobs_dir: meta_dir.join("blobs"),
            synced_blobs: HashSet::new(),
            covered: 0,
        };
        db.flush()?;
        meta_sync.sync()?;
        let writer = SegmentWriter::create(&spool_dir, segment_id)?;

        Ok(SledStore {
            mailboxes: db.open_tree("mailboxes")?,
            messages: db.open_tree("messages")?,
            summaries: db.open_tree("summaries")?,
            subscriptions: db.open_tree("subscriptions")?,
            special_use: db.open_tree("special_use")?,
            expunged: db.open_tree("expunged")?,
            users: db.open_tree("users")?,
            db,
            queue,
            blobs,
            segments,
            meta,
            spool_dir,
            segment_max: options.segment_max_bytes,
            spool: Mutex::new(SpoolState {
                writer,
                next_id,
                next_segment: segment_id + 1,
            }),
            current_segment: Mutex::new(segment_id),
            durability: Mutex::new(meta_sync),
            sync_tickets: AtomicU64::new(0),
            flushed: Mutex::new(0),
            flushed_cv: Condvar::new(),
            appends: Default::default(),
        })
    }

    /// Group commit of one batch (see the module docs).
    pub(super) fn spool_batch(&self, batch: Vec<NewMessage>) -> Result<Vec<QueueId>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        if batch.iter().any(|m| m.recipients.is_empty()) {
            // It could never leave the queue: nothing would ever mark it done.
            return Err(StoreError::Invalid("message without recipients".into()));
        }
        // Cheap clones (reference counted) so the closure can consume the batch.
        let bodies: Vec<bytes::Bytes> = batch.iter().map(|m| m.body.clone()).collect();
        let slices: Vec<EntryBody<'_>> = bodies.iter().map(|b| EntryBody::Bytes(b)).collect();
        self.spool_bodies(&slices, |spooled| {
            // Encoded before the transaction: its closure may run more than once.
            let mut records = Vec::with_capacity(batch.len());
            for ((id, msg), offset) in (spooled.first_id..spooled.next_id)
                .zip(batch)
                .zip(&spooled.offsets)
            {
                let size = msg.body.len() as u64;
                let queued = QueuedMessage::from_new(id, msg);
                let blob = BlobRecord {
                    segment: spooled.segment,
                    offset: *offset,
                    len: size,
                    refs: 1,
                };
                records.push((id.to_be_bytes(), encode_queued(&queued)?, blob.encode()));
            }
            (&self.queue, &self.blobs, &self.segments, &self.meta).transaction(
                |(queue, blobs, segments, meta)| {
                    for (key, queued, blob) in &records {
                        queue.insert(&key[..], queued.as_slice())?;
                        blobs.insert(&key[..], &blob[..])?;
                    }
                    spooled.commit_counters(segments, meta)
                },
            )?;
            Ok((spooled.first_id..spooled.next_id).collect())
        })
    }

    /// Append `bodies` to the current segment and fsync it, then run `commit` (which must
    /// write the blob records and [`SpooledBodies::commit_counters`] in one transaction)
    /// with the spool lock held, then make everything durable. Ids are only consumed if
    /// `commit` succeeds; otherwise the appended bytes are dead space in the segment.
    pub(super) fn spool_bodies<R>(
        &self,
        bodies: &[EntryBody<'_>],
        commit: impl FnOnce(&SpooledBodies) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut reclaim = Vec::new();
        let mut st = match self.spool.lock() {
            Ok(guard) => guard,
            Err(poisoned) => {
                // A panic mid-append leaves the segment tail unknown: start a new one.
                self.spool.clear_poison();
                let mut guard = poisoned.into_inner();
                guard.writer.mark_broken();
                guard
            }
        };
        if st.writer.needs_rotation(self.segment_max) {
            reclaim.extend(self.rotate(&mut st)?);
        }
        let first_id = st.next_id;
        let next_id = first_id + bodies.len() as u64;
        let entries: Vec<(u64, EntryBody<'_>)> =
            (first_id..next_id).zip(bodies.iter().copied()).collect();
        let offsets = st.writer.append(&entries)?;
        drop(entries);
        st.writer.sync()?;
        let spooled = SpooledBodies {
            first_id,
            next_id,
            segment: st.writer.id(),
            next_segment: st.next_segment,
            offsets,
        };
        let result = commit(&spooled)?;
        st.next_id = next_id;
        // The next batch may append while this one's metadata is being synced.
        drop(st);
        self.durable_commit(reclaim)?;
        Ok(result)
    }

    /// Switch to a new segment; returns the old one if nothing in it is live.
    fn rotate(&self, st: &mut SpoolState) -> Result<Vec<u64>, StoreError> {
        let new_id = st.next_segment;
        // Bumped first: a failed create may still leave the file behind.
        st.next_segment += 1;
        let writer = SegmentWriter::create(&self.spool_dir, new_id)?;
        let old = std::mem::replace(&mut st.writer, writer).id();
        let mut current = lock(&self.current_segment);
        *current = new_id;
        // Read before the flush in durable_commit, so every decrement seen here is durable
        // before the file goes.
        let live = self.segment_live(old)?;
        drop(current);
        Ok(if live == 0 { vec![old] } else { Vec::new() })
    }

    fn segment_live(&self, segment: u64) -> Result<u64, StoreError> {
        match self.segments.get(segment.to_be_bytes())? {
            Some(raw) => be_u64(&raw),
            None => Ok(0),
        }
    }

    /// The emptied segments that may be deleted (all but the one being appended to).
    pub(super) fn reclaimable(&self, emptied: Vec<u64>) -> Vec<u64> {
        let current = lock(&self.current_segment);
        emptied.into_iter().filter(|s| *s != *current).collect()
    }

    /// Make every write so far durable, then delete the `reclaim` segments.
    ///
    /// Callers that queue up behind one flush share the next: the spool writer, outcome
    /// records, mailbox deliveries and IMAP changes each commit on their own, and under
    /// load one flush + fsync covers all who were waiting (a group commit across them).
    pub(super) fn durable_commit(&self, reclaim: Vec<u64>) -> Result<(), StoreError> {
        let ticket = self.sync_ticket();
        self.commit_ticket(ticket, reclaim)
    }

    /// As [`SledStore::durable_commit`], but first waits up to `linger` for a flush that
    /// someone else makes anyway. Under load the spool writer flushes every millisecond
    /// or two, and work that no client waits on (delivery outcomes) rides along instead
    /// of adding a flush and two fsyncs of its own.
    pub(super) fn durable_commit_lingering(
        &self,
        reclaim: Vec<u64>,
        linger: Duration,
    ) -> Result<(), StoreError> {
        let ticket = self.sync_ticket();
        {
            let flushed = lock(&self.flushed);
            let _covered = self
                .flushed_cv
                .wait_timeout_while(flushed, linger, |covered| *covered < ticket)
                .unwrap_or_else(PoisonError::into_inner);
        }
        // Finds itself covered (no flush of its own), or flushes when nobody did.
        self.commit_ticket(ticket, reclaim)
    }

    /// The last ticket covered by a flush, and the last ticket taken.
    #[cfg(test)]
    pub(super) fn sync_state(&self) -> (u64, u64) {
        let covered = lock(&self.durability).covered;
        (covered, self.sync_tickets.load(Ordering::Acquire))
    }

    /// This caller's writes precede its ticket, so any flush that starts after the ticket
    /// is taken covers them.
    fn sync_ticket(&self) -> u64 {
        self.sync_tickets.fetch_add(1, Ordering::AcqRel) + 1
    }

    fn commit_ticket(&self, ticket: u64, reclaim: Vec<u64>) -> Result<(), StoreError> {
        {
            let mut sync = lock(&self.durability);
            if sync.covered < ticket {
                let target = self.sync_tickets.load(Ordering::Acquire);
                self.db.flush()?;
                sync.sync()?;
                sync.covered = target;
                *lock(&self.flushed) = target;
                self.flushed_cv.notify_all();
            }
        }
        if reclaim.is_empty() {
            return Ok(());
        }
        for segment in &reclaim {
            match fs::remove_file(spool::segment_path(&self.spool_dir, *segment)) {
                Ok(()) => tracing::debug!(segment, "spool segment reclaimed"),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                // Reclaimed at the next start instead.
                Err(e) => tracing::warn!(segment, error = %e, "cannot remove spool segment"),
            }
            if let Err(e) = self.segments.remove(segment.to_be_bytes()) {
                tracing::warn!(segment, error = %e, "cannot remove segment record");
            }
        }
        Ok(())
    }

    /// A body, checked against its segment entry header.
    pub(super) fn read_blob_impl(&self, blob: BlobId) -> Result<bytes::Bytes, StoreError> {
        let key = blob.0.to_be_bytes();
        let raw = self.blobs.get(key)?.ok_or(StoreError::NotFound)?;
        let record = BlobRecord::decode(&raw)?;
        match spool::read_entry(
            &self.spool_dir,
            record.segment,
            blob.0,
            record.offset,
            record.len,
        ) {
            Err(StoreError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
                // The last reference may have gone (and the segment with it) meanwhile.
                if self.blobs.get(key)?.is_none() {
                    Err(StoreError::NotFound)
                } else {
                    Err(StoreError::Corrupt(format!(
                        "blob {}: segment {:016x} is missing",
                        blob.0, record.segment
                    )))
                }
            }
            other => other,
        }
    }

    /// fsync the current segment and sled's files.
    pub(super) fn sync_impl(&self) -> Result<(), StoreError> {
        lock(&self.spool).writer.sync()?;
        self.durable_commit(Vec::new())
    }

    /// sled's size and the spool files' total size.
    pub(super) fn disk_usage_impl(&self) -> Result<Vec<(&'static str, u64)>, StoreError> {
        let spool: u64 = spool::list_segments(&self.spool_dir)?
            .iter()
            .map(|(_, len)| len)
            .sum();
        Ok(vec![
            ("metadata", self.db.size_on_disk()?),
            ("spool", spool),
        ])
    }
}

/// At open: delete segment files no live record references (the bodies of batches whose
/// metadata a crash lost) and drop records of empty segments.
fn remove_unreferenced_segments(
    segments: &sled::Tree,
    spool_dir: &Path,
    files: &[(u64, u64)],
) -> Result<(), StoreError> {
    let mut live = HashSet::new();
    for item in segments.iter() {
        let (key, raw) = item?;
        if be_u64(&raw)? > 0 {
            live.insert(be_u64(&key)?);
        } else {
            segments.remove(key)?;
        }
    }
    let mut removed = 0;
    for (id, _) in files {
        if !live.contains(id) {
            fs::remove_file(spool::segment_path(spool_dir, *id))?;
            removed += 1;
        }
    }
    for id in &live {
        if !files.iter().any(|(f, _)| f == id) {
            tracing::error!(segment = id, "spool segment referenced but missing");
        }
    }
    if removed > 0 {
        tracing::info!(removed, "removed unreferenced spool segments");
        spool::sync_dir(spool_dir)?;
    }
    Ok(())
}
