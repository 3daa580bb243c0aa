//! ENVELOPE and BODYSTRUCTURE are computed once, at delivery, and stored with every copy
//! (issue 3): after mail arrives over SMTP, each mailbox copy in the store on disk carries
//! the summary IMAP FETCH answers from, without parsing the message again.

mod common;

use common::{send_raw, Server};
use hermod::protocol::imap::MessageSummary;
use hermod::storage::{SledStore, Store};

#[test]
fn smtp_deliveries_store_their_imap_summary() {
    let mut server = Server::start_with(&["alice@example.test", "bob@example.test"], "", "");
    let data = "From: Carol <carol@client.test>\r\n\
                To: alice@example.test, bob@example.test\r\n\
                Subject: summarized once\r\n\
                Content-Type: multipart/mixed; boundary=b\r\n\
                \r\n\
                --b\r\n\
                Content-Type: text/plain\r\n\
                \r\n\
                hello\r\n\
                --b--\r\n";
    let to = ["alice@example.test", "bob@example.test"];
    let reply = send_raw(&server, "carol@client.test", &to, data);
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(server.wait_for_messages("alice@example.test", 1), 1);
    assert_eq!(server.wait_for_messages("bob@example.test", 1), 1);
    assert!(server.stop(), "{}", server.log());

    let store_dir = hermod::server::store_path(&server.data_dir());
    let store = open_when_released(&store_dir);
    for user in ["alice@example.test", "bob@example.test"] {
        let messages = store.messages(user, "INBOX").unwrap();
        assert_eq!(messages.len(), 1, "{user}");
        let stored = store.summaries(user, "INBOX", &[messages[0].uid]).unwrap();
        let stored = stored[0].as_deref().expect("summary stored");
        let summary: MessageSummary = postcard::from_bytes(stored).unwrap();
        assert!(
            summary.envelope.contains("\"summarized once\""),
            "{summary:?}"
        );
        assert!(summary.body_structure.contains("\"MIXED\""), "{summary:?}");
        assert_eq!(summary.size, messages[0].size);
    }
}

/// sled's flusher may hold the lock for a moment after the server exits.
fn open_when_released(dir: &std::path::Path) -> SledStore {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match SledStore::open(dir, 8 << 20) {
            Ok(store) => return store,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("store did not open: {e}"),
        }
    }
}
