//! Large IMAP APPEND literals on their way to storage: one temporary file per literal in
//! `<data_dir>/tmp/`, written as the octets arrive. Each write is awaited before the
//! session reads more, so a client that sends faster than the disk takes it is held back
//! by TCP instead of buffered in memory.
//!
//! A file is removed once its APPEND has run (by whoever holds it then, the blocking task
//! included), when its command fails, and when the connection ends mid-literal (the client
//! lied about the count and went quiet until the idle timeout, disconnected, or the server
//! shut down). What a crash leaves is swept by [`prepare`] at the next start.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncWriteExt;

/// Name of the directory, in the data directory, holding literals in transit.
pub const TMP_DIR: &str = "tmp";

/// Names files uniquely within the process; [`prepare`] empties the directory at each
/// start, and the store's lock keeps a second process off the data directory.
static NEXT_FILE: AtomicU64 = AtomicU64::new(1);

/// The directory holding literals in transit.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join(TMP_DIR)
}

/// Creates the directory and removes what a previous run left in it. Call at start,
/// before any session runs.
pub fn prepare(data_dir: &Path) -> io::Result<()> {
    let dir = dir(data_dir);
    std::fs::create_dir_all(&dir)?;
    let mut removed = 0;
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(removed, "removed literal files left by an earlier run");
    }
    Ok(())
}

/// One literal's file. Dropping it removes the file (synchronously: prefer
/// [`LiteralFile::remove`] on an async task).
#[derive(Debug)]
pub struct LiteralFile {
    path: PathBuf,
    /// `None` once closed, or after a failure.
    file: Option<tokio::fs::File>,
    /// The first failure: later octets are dropped and the APPEND fails with it.
    error: Option<io::Error>,
    /// The file is gone (or was never made): nothing to remove on drop.
    removed: bool,
}

impl LiteralFile {
    /// A new, empty file in `dir`. A failure is kept for [`LiteralFile::finish`].
    pub async fn create(dir: &Path) -> LiteralFile {
        let id = NEXT_FILE.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{id}.literal"));
        let opened = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await;
        match opened {
            Ok(file) => LiteralFile {
                path,
                file: Some(file),
                error: None,
                removed: false,
            },
            Err(e) => {
                tracing::warn!(error = %e, path = %path.display(), "cannot create literal file");
                LiteralFile {
                    path,
                    file: None,
                    error: Some(e),
                    removed: true,
                }
            }
        }
    }

    /// Appends octets; returns once the previous write is done (tokio keeps one write in
    /// flight), which is what holds a fast client back.
    pub async fn write(&mut self, bytes: &[u8]) {
        let Some(file) = &mut self.file else {
            return;
        };
        if let Err(e) = file.write_all(bytes).await {
            self.fail(e).await;
        }
    }

    /// Waits for every write and closes the file; the failure that lost part of the
    /// literal, if any. The literal is then read from [`LiteralFile::path`].
    pub async fn finish(&mut self) -> io::Result<()> {
        if let Some(mut file) = self.file.take() {
            if let Err(e) = file.flush().await {
                self.fail(e).await;
            }
        }
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Where the literal is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the file without blocking the caller's thread.
    pub async fn remove(mut self) {
        self.file = None;
        if !self.removed {
            self.removed = true;
            if let Err(e) = tokio::fs::remove_file(&self.path).await {
                tracing::warn!(error = %e, path = %self.path.display(), "cannot remove literal file");
            }
        }
    }

    /// Keeps the first failure and frees the disk at once (a full disk, most likely).
    async fn fail(&mut self, e: io::Error) {
        tracing::warn!(error = %e, "cannot write literal file");
        self.file = None;
        if self.error.is_none() {
            self.error = Some(e);
        }
        if !self.removed {
            self.removed = true;
            let _ = tokio::fs::remove_file(&self.path).await;
        }
    }
}

impl Drop for LiteralFile {
    fn drop(&mut self) {
        if !self.removed {
            if let Err(e) = std::fs::remove_file(&self.path) {
                tracing::warn!(error = %e, path = %self.path.display(), "cannot remove literal file");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_in(dir: &Path) -> usize {
        std::fs::read_dir(dir).unwrap().count()
    }

    #[tokio::test]
    async fn written_finished_and_removed() {
        let data = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir(data.path()).join("sub")).unwrap();
        std::fs::write(dir(data.path()).join("1.literal"), b"left over").unwrap();
        prepare(data.path()).unwrap();
        let tmp = dir(data.path());
        assert_eq!(files_in(&tmp), 1, "leftover files go, directories stay");

        let mut file = LiteralFile::create(&tmp).await;
        file.write(b"Subject: x\r\n\r\n").await;
        file.write(b"body\r\n").await;
        file.finish().await.unwrap();
        let path = file.path().to_owned();
        assert_eq!(std::fs::read(&path).unwrap(), b"Subject: x\r\n\r\nbody\r\n");
        file.remove().await;
        assert!(!path.exists());

        // Dropped mid-literal (the connection ended): removed all the same.
        let mut file = LiteralFile::create(&tmp).await;
        file.write(b"partial").await;
        drop(file);
        assert_eq!(files_in(&tmp), 1);
    }

    #[tokio::test]
    async fn a_failure_is_kept_for_the_append() {
        let data = tempfile::tempdir().unwrap();
        let mut file = LiteralFile::create(&dir(data.path())).await;
        file.write(b"dropped").await;
        assert!(file.finish().await.is_err(), "no directory: no file");
        drop(file);
    }
}
