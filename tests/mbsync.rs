//! mbsync (isync), a real two-way sync client, against the IMAP server: messages down,
//! a local flag and a local deletion up, a local folder created on the server, and a
//! server-side flag back down.

mod common;

use std::path::Path;
use std::process::Command;

use common::{deliver_numbered, Server, PASSWORD};

fn mbsync(config: &Path) {
    let out = Command::new("mbsync")
        .arg("-c")
        .arg(config)
        .arg("-a")
        .output()
        .expect("mbsync (Debian package isync; .ci/run installs it)");
    assert!(
        out.status.success(),
        "mbsync failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = ["cur", "new"]
        .iter()
        .flat_map(|sub| std::fs::read_dir(dir.join(sub)).into_iter().flatten())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn mbsync_two_way() {
    let server = Server::start();
    deliver_numbered(&server, "alice@example.test", 3);
    let local = server.dir.path().join("maildir");
    let config = server.dir.path().join("mbsyncrc");
    let cert = server.data_dir().join("tls/cert.pem");
    std::fs::write(
        &config,
        format!(
            "IMAPAccount hermod\nHost 127.0.0.1\nPort {}\nUser alice@example.test\nPass \"{PASSWORD}\"\nSSLType STARTTLS\nCertificateFile {}\n\n\
             IMAPStore remote\nAccount hermod\n\n\
             MaildirStore local\nPath {}/\nInbox {}/INBOX\nSubFolders Verbatim\n\n\
             Channel hermod\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\nSyncState *\n",
            server.port("imap"),
            cert.display(),
            local.display(),
            local.display()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(&local).unwrap();
    mbsync(&config);
    let inbox = local.join("INBOX");
    let names = files(&inbox);
    assert_eq!(names.len(), 3, "{names:?}");

    // Locally: mark the first seen, delete the second, write a note in a new folder.
    let first = names.iter().find(|n| n.contains("U=1:")).unwrap().clone();
    let second = names.iter().find(|n| n.contains("U=2:")).unwrap().clone();
    let locate = |name: &str| {
        ["cur", "new"]
            .iter()
            .map(|d| inbox.join(d).join(name))
            .find(|p| p.exists())
            .unwrap()
    };
    std::fs::rename(
        locate(&first),
        inbox
            .join("cur")
            .join(format!("{}S", first.trim_end_matches('S'))),
    )
    .unwrap();
    std::fs::remove_file(locate(&second)).unwrap();
    let notes = local.join("Notes");
    for d in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(notes.join(d)).unwrap();
    }
    std::fs::write(
        notes.join("new/1.local"),
        "Subject: note\r\n\r\nwritten offline\r\n",
    )
    .unwrap();
    // mbsync refuses to trust a Maildir changed within the last second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    mbsync(&config);

    // The server now has 2 messages (one \Seen) and the Notes folder.
    let check = server.python(
        "imap_state.py",
        &[server.port("imap").to_string(), PASSWORD.to_string()],
    );
    assert!(check.contains("INBOX 2"), "{check}");
    assert!(check.contains("\\Seen"), "{check}");
    assert!(check.contains("Notes 1"), "{check}");
}
