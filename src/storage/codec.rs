//! On-disk encodings of the sled backend: keys (big-endian integers so range scans come
//! back in id and UID order, NUL-separated names) and record values.
//!
//! Small fixed records (blob, mailbox, counters) use a fixed-width big-endian layout; the
//! variable ones (queue envelope, message metadata, accounts) use postcard; expunge
//! records are packed UID ranges.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::types::{
    BlobId, MailboxInfo, MessageMeta, QueueId, QueuedMessage, QueuedRecipient, RecipientStatus, Ret,
};
use super::StoreError;

/// Where a body lives in the spool and how many references it has.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct BlobRecord {
    /// Segment file id.
    pub segment: u64,
    /// Offset of the body (after its entry header) in the segment.
    pub offset: u64,
    /// Body length in octets.
    pub len: u64,
    /// Queue record (0 or 1) plus mailbox copies; the record is deleted at 0.
    pub refs: u32,
}

const BLOB_RECORD_LEN: usize = 28;
const MAILBOX_RECORD_LEN: usize = 20;

impl BlobRecord {
    /// Fixed 28-byte encoding.
    pub fn encode(&self) -> [u8; BLOB_RECORD_LEN] {
        let mut out = [0u8; BLOB_RECORD_LEN];
        out[..8].copy_from_slice(&self.segment.to_be_bytes());
        out[8..16].copy_from_slice(&self.offset.to_be_bytes());
        out[16..24].copy_from_slice(&self.len.to_be_bytes());
        out[24..].copy_from_slice(&self.refs.to_be_bytes());
        out
    }

    /// Inverse of [`BlobRecord::encode`].
    pub fn decode(raw: &[u8]) -> Result<Self, StoreError> {
        if raw.len() != BLOB_RECORD_LEN {
            return Err(corrupt("blob record", raw.len()));
        }
        Ok(BlobRecord {
            segment: be_u64(&raw[..8])?,
            offset: be_u64(&raw[8..16])?,
            len: be_u64(&raw[16..24])?,
            refs: be_u32(&raw[24..])?,
        })
    }
}

/// Fixed 20-byte encoding of mailbox counters.
pub(crate) fn encode_mailbox(info: &MailboxInfo) -> [u8; MAILBOX_RECORD_LEN] {
    let mut out = [0u8; MAILBOX_RECORD_LEN];
    out[..4].copy_from_slice(&info.uidvalidity.to_be_bytes());
    out[4..8].copy_from_slice(&info.uidnext.to_be_bytes());
    out[8..16].copy_from_slice(&info.highest_modseq.to_be_bytes());
    out[16..].copy_from_slice(&info.exists.to_be_bytes());
    out
}

/// Inverse of [`encode_mailbox`].
pub(crate) fn decode_mailbox(raw: &[u8]) -> Result<MailboxInfo, StoreError> {
    if raw.len() != MAILBOX_RECORD_LEN {
        return Err(corrupt("mailbox record", raw.len()));
    }
    Ok(MailboxInfo {
        uidvalidity: be_u32(&raw[..4])?,
        uidnext: be_u32(&raw[4..8])?,
        highest_modseq: be_u64(&raw[8..16])?,
        exists: be_u32(&raw[16..])?,
    })
}

/// The queue value: a [`QueuedMessage`] without its id (the id is the key).
#[derive(Serialize, Deserialize)]
struct QueueRecord {
    sender: String,
    received_at: i64,
    size: u64,
    blob: BlobId,
    recipients: Vec<(QueuedRecipient, RecipientStatus)>,
    #[serde(default)]
    ret: Option<Ret>,
    #[serde(default)]
    envid: Option<String>,
    #[serde(default)]
    summary: Option<Vec<u8>>,
}

/// Encode a queued message's value (its id is the key).
pub(crate) fn encode_queued(msg: &QueuedMessage) -> Result<Vec<u8>, StoreError> {
    let record = QueueRecord {
        sender: msg.sender.clone(),
        received_at: msg.received_at,
        size: msg.size,
        blob: msg.blob,
        recipients: msg.recipients.clone(),
        ret: msg.ret,
        envid: msg.envid.clone(),
        summary: msg.summary.clone(),
    };
    encode_record(&record)
}

/// Decode a queue entry.
pub(crate) fn decode_queued(id: QueueId, raw: &[u8]) -> Result<QueuedMessage, StoreError> {
    let r: QueueRecord = decode_record(raw)?;
    Ok(QueuedMessage {
        id,
        sender: r.sender,
        received_at: r.received_at,
        size: r.size,
        blob: r.blob,
        recipients: r.recipients,
        ret: r.ret,
        envid: r.envid,
        summary: r.summary,
    })
}

/// Compact binary encoding (postcard) of a stored record: several times smaller and faster
/// to decode than JSON, which matters when a mailbox of 10^5 messages is listed.
pub(crate) fn encode_record<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(value).map_err(|e| StoreError::Corrupt(format!("encode: {e}")))
}

/// Decodes a record; a failure means the stored bytes are damaged.
pub(crate) fn decode_record<T: DeserializeOwned>(raw: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(raw).map_err(|e| StoreError::Corrupt(format!("decode: {e}")))
}

/// Decode a message record. Records written while the summary was kept inline end with
/// it; postcard ignores trailing bytes, so they decode too (their summary is dropped and
/// FETCH falls back to the raw message).
pub(crate) fn decode_message(raw: &[u8]) -> Result<MessageMeta, StoreError> {
    decode_record(raw)
}

/// Expunge record key: mailbox prefix then the expunge's modseq big-endian, so a range scan
/// from a modseq lists later expunges in order (RFC 7162 §3.2.5.1 VANISHED).
pub(crate) fn expunged_key(prefix: &[u8], modseq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + 8);
    key.extend_from_slice(prefix);
    key.extend_from_slice(&modseq.to_be_bytes());
    key
}

/// Expunge record value: inclusive UID ranges, 8 bytes each.
pub(crate) fn encode_ranges(ranges: &[(u32, u32)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ranges.len() * 8);
    for (start, end) in ranges {
        out.extend_from_slice(&start.to_be_bytes());
        out.extend_from_slice(&end.to_be_bytes());
    }
    out
}

/// Inverse of [`encode_ranges`], expanded to UIDs.
pub(crate) fn decode_ranges(raw: &[u8]) -> Result<Vec<u32>, StoreError> {
    if raw.len() % 8 != 0 {
        return Err(corrupt("expunge record", raw.len()));
    }
    let mut uids = Vec::new();
    for pair in raw.chunks_exact(8) {
        let (start, end) = (be_u32(&pair[..4])?, be_u32(&pair[4..])?);
        if start > end {
            return Err(StoreError::Corrupt(format!(
                "expunge range {start}:{end} is reversed"
            )));
        }
        uids.extend(start..=end);
    }
    Ok(uids)
}

/// `user NUL name`: the key of a mailbox.
pub(crate) fn mailbox_key(user: &str, name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(user.len() + name.len() + 1);
    key.extend_from_slice(user.as_bytes());
    key.push(0);
    key.extend_from_slice(name.as_bytes());
    key
}

/// `user NUL`: prefix of every mailbox and message key of one user (names hold no NUL).
pub(crate) fn user_prefix(user: &str) -> Vec<u8> {
    let mut key = user.as_bytes().to_vec();
    key.push(0);
    key
}

/// `user NUL name NUL`: prefix of the message keys of one mailbox.
pub(crate) fn messages_prefix(user: &str, name: &str) -> Vec<u8> {
    let mut key = mailbox_key(user, name);
    key.push(0);
    key
}

/// Message key: mailbox prefix then the UID big-endian, so a prefix scan is in UID order.
pub(crate) fn message_key(prefix: &[u8], uid: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + 4);
    key.extend_from_slice(prefix);
    key.extend_from_slice(&uid.to_be_bytes());
    key
}

/// Big-endian u64 from exactly 8 bytes.
pub(crate) fn be_u64(raw: &[u8]) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = raw.try_into().map_err(|_| corrupt("u64", raw.len()))?;
    Ok(u64::from_be_bytes(bytes))
}

/// Big-endian u32 from exactly 4 bytes.
pub(crate) fn be_u32(raw: &[u8]) -> Result<u32, StoreError> {
    let bytes: [u8; 4] = raw.try_into().map_err(|_| corrupt("u32", raw.len()))?;
    Ok(u32::from_be_bytes(bytes))
}

fn corrupt(what: &str, len: usize) -> StoreError {
    StoreError::Corrupt(format!("{what} has a bad length ({len} bytes)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::types::{DeliveryTarget, Notify, RecipientState};

    #[test]
    fn blob_record_round_trips_and_rejects_bad_length() {
        let r = BlobRecord {
            segment: 7,
            offset: 1 << 40,
            len: 12345,
            refs: 3,
        };
        assert_eq!(BlobRecord::decode(&r.encode()).unwrap(), r);
        assert!(matches!(
            BlobRecord::decode(&[0; 27]),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn mailbox_round_trips() {
        let m = MailboxInfo {
            uidvalidity: 1,
            uidnext: 2,
            highest_modseq: 3,
            exists: 4,
        };
        assert_eq!(decode_mailbox(&encode_mailbox(&m)).unwrap(), m);
        assert!(decode_mailbox(b"short").is_err());
    }

    #[test]
    fn queue_record_round_trips() {
        let m = QueuedMessage {
            id: 9,
            sender: String::new(),
            received_at: 1_700_000_000,
            size: 10,
            blob: BlobId(9),
            recipients: vec![(
                QueuedRecipient {
                    address: "a@example.org".into(),
                    target: DeliveryTarget::Remote {
                        domain: "example.org".into(),
                    },
                    notify: Some(Notify {
                        success: true,
                        failure: false,
                        delay: true,
                    }),
                    orcpt: Some("rfc822;a@example.org".into()),
                },
                RecipientStatus {
                    state: RecipientState::Failed,
                    attempts: 3,
                    next_attempt: 1_700_000_600,
                    last_reply: Some("550 5.1.1 no such user".into()),
                    delay_notified: true,
                },
            )],
            ret: Some(Ret::Headers),
            envid: Some("env-1".into()),
            summary: Some(vec![1, 2, 3]),
        };
        assert_eq!(decode_queued(9, &encode_queued(&m).unwrap()).unwrap(), m);
        assert!(matches!(
            decode_queued(9, b"\xff{"),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn message_records_round_trip_and_inline_summaries_are_skipped() {
        let m = MessageMeta {
            uid: 3,
            size: 10,
            internal_date: 5,
            flags: vec!["\\Seen".into()],
            modseq: 7,
            blob: BlobId(9),
        };
        assert_eq!(decode_message(&encode_record(&m).unwrap()).unwrap(), m);
        #[derive(Serialize)]
        struct Inline {
            meta: MessageMeta,
            summary: Option<Vec<u8>>,
        }
        let inline = Inline {
            meta: m.clone(),
            summary: Some(b"env".to_vec()),
        };
        assert_eq!(decode_message(&encode_record(&inline).unwrap()).unwrap(), m);
        assert!(decode_message(b"\xff").is_err());
    }

    #[test]
    fn expunge_ranges_round_trip() {
        let raw = encode_ranges(&[(1, 3), (7, 7)]);
        assert_eq!(decode_ranges(&raw).unwrap(), vec![1, 2, 3, 7]);
        assert!(decode_ranges(&raw[..5]).is_err());
        assert!(decode_ranges(&encode_ranges(&[(4, 2)])).is_err());
        let p = messages_prefix("u", "INBOX");
        assert!(expunged_key(&p, 255) < expunged_key(&p, 256));
    }

    #[test]
    fn message_keys_sort_by_uid_within_a_mailbox() {
        let p = messages_prefix("u", "INBOX");
        assert!(message_key(&p, 2) < message_key(&p, 256));
        assert!(message_key(&p, 256) < message_key(&p, 65536));
        // A mailbox whose name extends another's never shares its message prefix.
        assert!(!messages_prefix("u", "INBOX2").starts_with(&p));
        assert!(messages_prefix("u", "INBOX").starts_with(&user_prefix("u")));
        assert!(!mailbox_key("ux", "INBOX").starts_with(&user_prefix("u")));
    }
}
