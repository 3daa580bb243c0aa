//! Carries out an IMAP session's storage requests for its logged-in user, and says which
//! changes other sessions watching the same mailbox must hear about.

use std::path::Path;

use bytes::Bytes;

use crate::protocol::imap::encoded_summary;
use crate::protocol::imap::session::{MailboxEvent, Reply, Request, StoreErrorKind};
use crate::storage::{is_inbox, AppendMessage, Store, StoreError};

/// The canonical name of a mailbox: INBOX in any case is "INBOX" (RFC 3501 §5.1).
pub fn canonical(name: &str) -> String {
    if is_inbox(name) {
        "INBOX".to_owned()
    } else {
        name.to_owned()
    }
}

/// Runs `request` for `user`; blocking. `literal` is the file holding the literal of a
/// [`Request::AppendSpooled`] (read, not removed); `now` is used for an APPEND without a
/// date. Returns the reply and the changes to publish (mailbox, event).
pub fn execute(
    store: &dyn Store,
    user: &str,
    request: Request,
    literal: Option<&Path>,
    now: i64,
) -> (Result<Reply, StoreErrorKind>, Vec<(String, MailboxEvent)>) {
    let mut events = Vec::new();
    let result =
        run(store, user, request, literal, now, &mut events).map_err(|e| StoreErrorKind::from(&e));
    (result, events)
}

fn run(
    store: &dyn Store,
    user: &str,
    request: Request,
    literal: Option<&Path>,
    now: i64,
    events: &mut Vec<(String, MailboxEvent)>,
) -> Result<Reply, StoreError> {
    Ok(match request {
        Request::ListMailboxes => Reply::Mailboxes(store.list_mailboxes(user)?),
        Request::Subscriptions => Reply::Names(store.subscriptions(user)?),
        Request::Open { mailbox, .. } => {
            let name = canonical(&mailbox);
            let info = store.mailbox(user, &name)?.ok_or(StoreError::NotFound)?;
            let messages = store.messages(user, &name)?;
            // \Recent is not tracked across sessions: no message is recent.
            Reply::Mailbox {
                info,
                messages,
                first_recent_uid: info.uidnext,
            }
        }
        Request::Create { mailbox } => {
            let name = canonical(&mailbox);
            // RFC 3501 §6.3.3: superior names that are needed SHOULD be created too.
            for (end, _) in name.match_indices('/').filter(|(i, _)| *i > 0) {
                match store.create_mailbox(user, &name[..end]) {
                    Ok(_) | Err(StoreError::AlreadyExists) => {}
                    Err(e) => return Err(e),
                }
            }
            store.create_mailbox(user, &name)?;
            Reply::Done
        }
        Request::Delete { mailbox } => {
            store.delete_mailbox(user, &canonical(&mailbox))?;
            Reply::Done
        }
        Request::Rename { from, to } => {
            store.rename_mailbox(user, &canonical(&from), &canonical(&to))?;
            Reply::Done
        }
        Request::Subscribe { mailbox } => {
            store.subscribe(user, &canonical(&mailbox))?;
            Reply::Done
        }
        Request::Unsubscribe { mailbox } => {
            store.unsubscribe(user, &canonical(&mailbox))?;
            Reply::Done
        }
        Request::Append {
            mailbox,
            mut message,
            date_given,
        } => {
            if !date_given {
                message.internal_date = now;
            }
            let name = canonical(&mailbox);
            let (validity, uid) = store.append(user, &name, message)?;
            appended(store, user, name, validity, uid, events)?
        }
        Request::AppendSpooled {
            mailbox,
            flags,
            internal_date,
            date_given,
        } => {
            let file =
                literal.ok_or_else(|| StoreError::Io(std::io::Error::other("no literal")))?;
            let name = canonical(&mailbox);
            // Before parsing many MiB: the APPEND may fail on its mailbox.
            store.mailbox(user, &name)?.ok_or(StoreError::NotFound)?;
            // mail-parser needs the whole message; the copy lives only for the summary
            // (the caller bounds how many do at once), the store copies the file itself.
            let summary = encoded_summary(&std::fs::read(file)?);
            let message = AppendMessage {
                body: Bytes::new(),
                flags,
                internal_date: if date_given { internal_date } else { now },
                summary,
            };
            let (validity, uid) = store.append_file(user, &name, file, message)?;
            appended(store, user, name, validity, uid, events)?
        }
        Request::StoreFlags {
            mailbox,
            uids,
            op,
            flags,
            unchanged_since,
        } => {
            let name = canonical(&mailbox);
            let update = store.store_flags(user, &name, &uids, op, &flags, unchanged_since)?;
            let changed: Vec<_> = update
                .updated
                .iter()
                .filter(|c| c.changed)
                .cloned()
                .collect();
            if !changed.is_empty() {
                events.push((name, MailboxEvent::Flags(changed)));
            }
            Reply::Flags(update)
        }
        Request::Copy { from, uids, to } => {
            Reply::Copied(store.copy(user, &canonical(&from), &uids, &canonical(&to))?)
        }
        Request::Move { from, uids, to } => {
            let from = canonical(&from);
            let moved = store.move_messages(user, &from, &uids, &canonical(&to))?;
            let gone: Vec<u32> = moved.pairs.iter().map(|(src, _)| *src).collect();
            events.push((from, MailboxEvent::Expunged(gone)));
            Reply::Copied(moved)
        }
        Request::Expunge { mailbox, uids } => {
            let name = canonical(&mailbox);
            let gone = store.expunge_deleted(user, &name, uids.as_deref())?;
            let highest_modseq = store
                .mailbox(user, &name)?
                .map_or(0, |info| info.highest_modseq);
            if !gone.is_empty() {
                events.push((name, MailboxEvent::Expunged(gone.clone())));
            }
            Reply::ExpungeDone {
                uids: gone,
                highest_modseq,
            }
        }
        Request::Vanished { mailbox, since } => {
            Reply::Expunged(store.expunged_since(user, &canonical(&mailbox), since)?)
        }
        Request::ReadBlobs(ids) => {
            Reply::Blobs(ids.into_iter().map(|b| store.read_blob(b).ok()).collect())
        }
        Request::Summaries { mailbox, uids } => {
            match store.summaries(user, &canonical(&mailbox), &uids) {
                Ok(found) => Reply::Summaries(found),
                // The selected mailbox was deleted or renamed by another session: its
                // messages' bodies may still be readable, and FETCH falls back to them.
                Err(StoreError::NotFound) => Reply::Summaries(vec![None; uids.len()]),
                Err(e) => return Err(e),
            }
        }
    })
}

/// An APPEND's reply, with the new message announced to the mailbox's other sessions.
fn appended(
    store: &dyn Store,
    user: &str,
    name: String,
    validity: u32,
    uid: u32,
    events: &mut Vec<(String, MailboxEvent)>,
) -> Result<Reply, StoreError> {
    let appended = store.messages_by_uid(user, &name, &[uid])?;
    events.push((name, MailboxEvent::Appended(appended)));
    Ok(Reply::Appended(validity, uid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStore;

    fn names(store: &MemoryStore) -> Vec<String> {
        let mut names: Vec<String> = store
            .list_mailboxes("u")
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_spooled_append_reads_the_literal_file() {
        let store = MemoryStore::new();
        let info = store.create_mailbox("u", "INBOX").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let literal = dir.path().join("1.literal");
        let raw = b"From: a@example.org\r\nSubject: spooled\r\n\r\nhello\r\n";
        std::fs::write(&literal, raw).unwrap();
        let request = |mailbox: &str| Request::AppendSpooled {
            mailbox: mailbox.to_owned(),
            flags: vec!["\\Flagged".into()],
            internal_date: 5,
            date_given: false,
        };
        let (result, events) = execute(&store, "u", request("inbox"), Some(&literal), 77);
        assert_eq!(result, Ok(Reply::Appended(info.uidvalidity, 1)));
        let meta = store.messages("u", "INBOX").unwrap();
        assert_eq!(
            events,
            [("INBOX".to_owned(), MailboxEvent::Appended(meta.clone()))]
        );
        assert_eq!(
            (meta[0].internal_date, meta[0].size),
            (77, raw.len() as u64)
        );
        assert_eq!(meta[0].flags, ["\\Flagged"]);
        assert_eq!(store.read_blob(meta[0].blob).unwrap(), &raw[..]);
        let summary = store.summaries("u", "INBOX", &[1]).unwrap()[0].clone();
        assert_eq!(summary, encoded_summary(raw));
        assert!(literal.exists(), "removing it is the caller's business");

        let (result, events) = execute(&store, "u", request("Nope"), Some(&literal), 77);
        assert_eq!(result, Err(StoreErrorKind::NotFound));
        assert!(events.is_empty());
        let (result, _) = execute(&store, "u", request("INBOX"), None, 77);
        assert_eq!(result, Err(StoreErrorKind::Failed));
        assert_eq!(store.mailbox("u", "INBOX").unwrap().unwrap().exists, 1);
    }

    #[test]
    fn create_makes_the_superior_names_it_needs() {
        let store = MemoryStore::new();
        store.create_mailbox("u", "INBOX").unwrap();
        store.create_mailbox("u", "Notes").unwrap();
        let create = |name: &str| {
            let request = Request::Create {
                mailbox: name.to_owned(),
            };
            execute(&store, "u", request, None, 0).0
        };
        assert_eq!(create("Notes/2026/Old"), Ok(Reply::Done));
        assert_eq!(
            names(&store),
            ["INBOX", "Notes", "Notes/2026", "Notes/2026/Old"]
        );
        // The name itself must be new; its superiors may exist.
        assert!(create("Notes/2026").is_err());
        assert_eq!(create("Work/Clients"), Ok(Reply::Done));
        assert!(names(&store).contains(&"Work".to_owned()));
    }
}
