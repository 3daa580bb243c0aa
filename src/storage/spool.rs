//! Append-only spool segment files holding message bodies (sled keeps only their
//! locations: it never returns freed space to the filesystem, a deleted file does).
//!
//! A segment is a sequence of entries `blob id (u64 BE) | body length (u64 BE) | body`.
//! Entries are only appended; a segment file is deleted whole once no blob in it is
//! referenced. A process writes to a fresh segment after every start, so it never appends
//! after a tail torn by a crash.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::codec::be_u64;
use super::StoreError;

/// Bytes before each body: blob id and body length, both u64 big-endian.
pub(crate) const ENTRY_HEADER_LEN: u64 = 16;

/// Default size after which the next batch starts a new segment.
pub(crate) const DEFAULT_SEGMENT_MAX: u64 = 64 << 20;

/// Extension of segment files; the stem is the segment id in 16 hex digits.
const SEGMENT_EXT: &str = "seg";

/// Path of segment `id` in `dir`.
pub(crate) fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:016x}.{SEGMENT_EXT}"))
}

/// Every segment file in `dir` as (id, size in bytes); other files are ignored.
pub(crate) fn list_segments(dir: &Path) -> io::Result<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some(SEGMENT_EXT) {
            continue;
        }
        let Some(id) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| s.len() == 16)
            .and_then(|s| u64::from_str_radix(s, 16).ok())
        else {
            continue;
        };
        out.push((id, entry.metadata()?.len()));
    }
    out.sort_unstable();
    Ok(out)
}

/// fsync a directory so that file creations and deletions in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The body of a new segment entry.
#[derive(Clone, Copy, Debug)]
pub(crate) enum EntryBody<'a> {
    /// Octets in memory.
    Bytes(&'a [u8]),
    /// The first `len` octets of a file (a large IMAP APPEND), copied through the write
    /// buffer: memory stays bounded whatever the size.
    File(&'a Path, u64),
}

impl EntryBody<'_> {
    /// Octets the entry's body holds.
    pub fn len(&self) -> u64 {
        match self {
            EntryBody::Bytes(bytes) => bytes.len() as u64,
            EntryBody::File(_, len) => *len,
        }
    }
}

/// The segment currently appended to.
#[derive(Debug)]
pub(crate) struct SegmentWriter {
    id: u64,
    file: File,
    len: u64,
    /// Set after a failed write or fsync: the file's tail is then unknown (a failed fsync
    /// may have dropped dirty pages), so the next batch goes to a new segment.
    broken: bool,
}

impl SegmentWriter {
    /// Create segment `id` in `dir` (it must not exist) and make its name durable.
    pub fn create(dir: &Path, id: u64) -> io::Result<SegmentWriter> {
        let file = OpenOptions::new()
            .create_new(true)
            .read(true)
            .write(true)
            .open(segment_path(dir, id))?;
        sync_dir(dir)?;
        Ok(SegmentWriter {
            id,
            file,
            len: 0,
            broken: false,
        })
    }

    /// The segment id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Whether the next batch must go to a new segment.
    pub fn needs_rotation(&self, max_len: u64) -> bool {
        self.broken || self.len >= max_len
    }

    /// Force the next batch into a new segment (after a panic while appending).
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// Append `(blob id, body)` entries; returns each body's offset. Not durable until
    /// [`SegmentWriter::sync`]. A file body shorter than announced is an error.
    pub fn append(&mut self, entries: &[(u64, EntryBody<'_>)]) -> io::Result<Vec<u64>> {
        let result = self.append_inner(entries);
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    fn append_inner(&mut self, entries: &[(u64, EntryBody<'_>)]) -> io::Result<Vec<u64>> {
        let mut offsets = Vec::with_capacity(entries.len());
        let mut pos = self.len;
        // Small bodies are coalesced into few write(2) calls; big ones bypass the buffer.
        let mut out = BufWriter::with_capacity(256 * 1024, &self.file);
        for (blob, body) in entries {
            let body_len = body.len();
            // Opened before the header is written: a missing file leaves no half entry.
            let mut file = match body {
                EntryBody::File(path, len) => Some(File::open(path)?.take(*len)),
                EntryBody::Bytes(_) => None,
            };
            out.write_all(&blob.to_be_bytes())?;
            out.write_all(&body_len.to_be_bytes())?;
            if let EntryBody::Bytes(bytes) = body {
                out.write_all(bytes)?;
            }
            if let Some(file) = &mut file {
                let copied = io::copy(file, &mut out)?;
                if copied != body_len {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("body file holds {copied} of {body_len} octets"),
                    ));
                }
            }
            pos += ENTRY_HEADER_LEN;
            offsets.push(pos);
            pos += body_len;
        }
        out.flush()?;
        self.len = pos;
        Ok(offsets)
    }

    /// fdatasync the segment: the appended bodies are durable on return.
    pub fn sync(&mut self) -> io::Result<()> {
        let result = self.file.sync_data();
        if result.is_err() {
            self.broken = true;
        }
        result
    }
}

/// Read the body of `blob` at `offset` in segment `segment`, checking its entry header.
///
/// `Err(Io(NotFound))` if the segment file is gone; `Corrupt` if the header disagrees.
pub(crate) fn read_entry(
    dir: &Path,
    segment: u64,
    blob: u64,
    offset: u64,
    len: u64,
) -> Result<Bytes, StoreError> {
    let file = File::open(segment_path(dir, segment)).map_err(StoreError::Io)?;
    let start = offset
        .checked_sub(ENTRY_HEADER_LEN)
        .ok_or_else(|| StoreError::Corrupt(format!("blob {blob}: offset {offset}")))?;
    let total = usize::try_from(len + ENTRY_HEADER_LEN)
        .map_err(|_| StoreError::Corrupt(format!("blob {blob}: length {len}")))?;
    let mut buf = vec![0u8; total];
    file.read_exact_at(&mut buf, start).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            StoreError::Corrupt(format!("blob {blob}: segment {segment:016x} is truncated"))
        } else {
            StoreError::from(e)
        }
    })?;
    let header_blob = be_u64(&buf[..8])?;
    let header_len = be_u64(&buf[8..16])?;
    if header_blob != blob || header_len != len {
        return Err(StoreError::Corrupt(format!(
            "blob {blob}: segment {segment:016x} holds blob {header_blob} ({header_len} bytes) at {start}"
        )));
    }
    Ok(Bytes::from(buf).slice(ENTRY_HEADER_LEN as usize..))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_then_read_back_and_detect_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::create(dir.path(), 3).unwrap();
        let offsets = w
            .append(&[
                (10, EntryBody::Bytes(b"hello")),
                (11, EntryBody::Bytes(b"")),
                (12, EntryBody::Bytes(b"world!")),
            ])
            .unwrap();
        w.sync().unwrap();
        assert_eq!(offsets, vec![16, 16 + 5 + 16, 16 + 5 + 16 + 16]);
        assert_eq!(
            read_entry(dir.path(), 3, 10, 16, 5).unwrap(),
            Bytes::from_static(b"hello")
        );
        assert_eq!(
            read_entry(dir.path(), 3, 11, offsets[1], 0).unwrap().len(),
            0
        );
        assert_eq!(
            read_entry(dir.path(), 3, 12, offsets[2], 6).unwrap(),
            Bytes::from_static(b"world!")
        );
        // Wrong blob id or length: the header check refuses it.
        assert!(matches!(
            read_entry(dir.path(), 3, 99, 16, 5),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            read_entry(dir.path(), 3, 12, offsets[2], 60),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            read_entry(dir.path(), 4, 10, 16, 5),
            Err(StoreError::Io(_))
        ));
    }

    #[test]
    fn file_bodies_are_copied_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
        let path = dir.path().join("literal");
        fs::write(&path, &big).unwrap();
        let mut w = SegmentWriter::create(dir.path(), 1).unwrap();
        let len = big.len() as u64;
        let offsets = w
            .append(&[
                (1, EntryBody::Bytes(b"small")),
                (2, EntryBody::File(&path, len)),
                (3, EntryBody::File(&path, 10)),
            ])
            .unwrap();
        w.sync().unwrap();
        assert_eq!(read_entry(dir.path(), 1, 2, offsets[1], len).unwrap(), big);
        assert_eq!(
            read_entry(dir.path(), 1, 3, offsets[2], 10).unwrap(),
            big[..10]
        );
        // A file shorter than announced, or gone, fails the append.
        assert!(w.append(&[(4, EntryBody::File(&path, len + 1))]).is_err());
        assert!(w.needs_rotation(u64::MAX));
        let mut w = SegmentWriter::create(dir.path(), 2).unwrap();
        let gone = dir.path().join("gone");
        assert!(w.append(&[(5, EntryBody::File(&gone, 1))]).is_err());
    }

    #[test]
    fn list_ignores_foreign_files_and_create_refuses_existing() {
        let dir = tempfile::tempdir().unwrap();
        SegmentWriter::create(dir.path(), 0xab).unwrap();
        SegmentWriter::create(dir.path(), 2).unwrap();
        fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        fs::write(dir.path().join("zz.seg"), b"x").unwrap();
        let ids: Vec<u64> = list_segments(dir.path())
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, vec![2, 0xab]);
        assert!(SegmentWriter::create(dir.path(), 2).is_err());
    }

    #[test]
    fn rotation_needed_past_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::create(dir.path(), 1).unwrap();
        assert!(!w.needs_rotation(100));
        w.append(&[(1, EntryBody::Bytes(&[0u8; 100]))]).unwrap();
        assert!(w.needs_rotation(100));
        assert!(!w.needs_rotation(1000));
        w.mark_broken();
        assert!(w.needs_rotation(1000));
    }
}
