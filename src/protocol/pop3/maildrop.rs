//! The TRANSACTION-state view of a maildrop: its messages, which are marked deleted, and the
//! STAT / LIST / UIDL replies computed from them (RFC 1939 §5).

use std::fmt::Write as _;

use thiserror::Error;

use super::MaildropEntry;

/// Why a message number cannot be used; the `Display` text is the reply after `-ERR `.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MessageError {
    /// The number is beyond the maildrop.
    #[error("No such message")]
    NoSuchMessage,
    /// RFC 1939 §5: a message marked deleted may not be referred to.
    #[error("Message is deleted")]
    Deleted,
}

/// The locked maildrop of a session in TRANSACTION state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maildrop {
    entries: Vec<MaildropEntry>,
    deleted: Vec<bool>,
}

impl Maildrop {
    /// Wraps the entries listed when the maildrop was opened; none is deleted.
    pub fn new(entries: Vec<MaildropEntry>) -> Maildrop {
        let deleted = vec![false; entries.len()];
        Maildrop { entries, deleted }
    }

    /// Resolves a 1-based message number to its 0-based index and entry.
    pub fn get(&self, msg: usize) -> Result<(usize, &MaildropEntry), MessageError> {
        let index = msg.checked_sub(1).ok_or(MessageError::NoSuchMessage)?;
        let entry = self.entries.get(index).ok_or(MessageError::NoSuchMessage)?;
        if self.deleted[index] {
            return Err(MessageError::Deleted);
        }
        Ok((index, entry))
    }

    /// Marks a message deleted.
    pub fn delete(&mut self, msg: usize) -> Result<(), MessageError> {
        let (index, _) = self.get(msg)?;
        self.deleted[index] = true;
        Ok(())
    }

    /// RSET: unmarks every message.
    pub fn reset(&mut self) {
        self.deleted.fill(false);
    }

    /// 0-based indexes of the messages marked deleted, ascending.
    pub fn deleted_indexes(&self) -> Vec<usize> {
        (0..self.deleted.len())
            .filter(|&i| self.deleted[i])
            .collect()
    }

    /// Count and total size of the messages not marked deleted.
    pub fn stat(&self) -> (usize, u64) {
        self.live().fold((0, 0u64), |(count, size), (_, entry)| {
            (count + 1, size.saturating_add(entry.size))
        })
    }

    /// The full multi-line LIST reply.
    pub fn list_reply(&self) -> String {
        let (count, size) = self.stat();
        let mut reply = format!("+OK {count} messages ({size} octets)\r\n");
        for (msg, entry) in self.live() {
            let _ = write!(reply, "{msg} {}\r\n", entry.size);
        }
        reply.push_str(".\r\n");
        reply
    }

    /// The full multi-line UIDL reply.
    pub fn uidl_reply(&self) -> String {
        let mut reply = String::from("+OK Unique-ID listing follows\r\n");
        for (msg, entry) in self.live() {
            let _ = write!(reply, "{msg} {}\r\n", entry.uidl);
        }
        reply.push_str(".\r\n");
        reply
    }

    /// Messages not marked deleted, with their 1-based numbers.
    fn live(&self) -> impl Iterator<Item = (usize, &MaildropEntry)> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.deleted[*i])
            .map(|(i, entry)| (i + 1, entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maildrop() -> Maildrop {
        Maildrop::new(vec![
            MaildropEntry {
                uidl: "a1".into(),
                size: 100,
            },
            MaildropEntry {
                uidl: "b2".into(),
                size: 200,
            },
            MaildropEntry {
                uidl: "c3".into(),
                size: u64::MAX,
            },
        ])
    }

    #[test]
    fn deleted_messages_vanish_until_reset() {
        let mut drop = maildrop();
        assert_eq!(drop.delete(2), Ok(()));
        assert_eq!(drop.delete(2), Err(MessageError::Deleted));
        assert_eq!(drop.get(2), Err(MessageError::Deleted));
        assert_eq!(drop.get(4), Err(MessageError::NoSuchMessage));
        assert_eq!(drop.get(0), Err(MessageError::NoSuchMessage));
        assert_eq!(drop.deleted_indexes(), vec![1]);
        assert_eq!(
            drop.list_reply(),
            format!(
                "+OK 2 messages ({} octets)\r\n1 100\r\n3 {}\r\n.\r\n",
                u64::MAX,
                u64::MAX
            )
        );
        assert_eq!(
            drop.uidl_reply(),
            "+OK Unique-ID listing follows\r\n1 a1\r\n3 c3\r\n.\r\n"
        );
        drop.reset();
        assert_eq!(drop.deleted_indexes(), Vec::<usize>::new());
        assert_eq!(drop.stat(), (3, u64::MAX));
        assert_eq!(drop.get(2).map(|(i, e)| (i, e.size)), Ok((1, 200)));
    }

    #[test]
    fn empty_maildrop() {
        let drop = Maildrop::new(Vec::new());
        assert_eq!(drop.stat(), (0, 0));
        assert_eq!(drop.list_reply(), "+OK 0 messages (0 octets)\r\n.\r\n");
        assert_eq!(drop.get(1), Err(MessageError::NoSuchMessage));
    }
}
