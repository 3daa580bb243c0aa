//! QRESYNC (RFC 7162) against a client we did not write: `Net::IMAP::InterIMAP`, the IMAP
//! library of Debian's `interimap` package (the engine of `interimap` and `pullimap`). It
//! enables QRESYNC, resynchronizes a mailbox from a saved state with the QRESYNC SELECT
//! parameter, follows VANISHED while selected, and relies on the CLOSED boundary when it
//! switches mailboxes; it aborts on any `* n EXPUNGE` once QRESYNC is enabled.
//!
//! The `interimap` program itself also needs LIST-EXTENDED and LIST-STATUS to pick the
//! mailboxes to sync; this test drives its library directly, the way `interimap` does for
//! one side of a sync (`select`, `pull_updates`, `pull_new_messages`,
//! `push_flag_updates`). Set `QRESYNC_DEBUG=1` to see the conversation when it fails.

mod common;

use std::process::Command;

use common::{message, send_raw, Server, PASSWORD};

/// The client: `perl script PORT USER PASSWORD`, prints `ok` when every check held.
const SCRIPT: &str = r#"
use strict;
use warnings;
use Net::IMAP::InterIMAP;

my ($port, $user, $pass) = @ARGV;
sub connect_as($) {
    my $name = shift;
    return Net::IMAP::InterIMAP::->new(
        type => 'imap', host => '127.0.0.1', port => $port, STARTTLS => 0,
        auth => 'PLAIN', username => $user, password => $pass,
        enable => 'QRESYNC', compress => 0, name => $name, quiet => 1, debug => $ENV{QRESYNC_DEBUG},
    );
}
sub check($$$) {
    my ($what, $got, $want) = @_;
    die "$what: got '$got', want '$want'\n" unless $got eq $want;
}
sub uids($) { join(',', sort { $a <=> $b } @{$_[0]}) }
sub flags($) {
    my $m = shift;
    join(' ', map { "$_=$m->{$_}" } sort { $a <=> $b } keys %$m);
}
# Another session's changes reach this one through the server's mailbox actor, a moment
# later: NOOP until they are all announced (or give up after about five seconds).
sub wait_updates($$$) {
    my ($imap, $want_v, $want_m) = @_;
    my (%v, %m);
    for (1 .. 100) {
        $imap->noop();
        my ($vanished, $modified) = $imap->pull_updates();
        $v{$_} = 1 foreach @$vanished;
        $m{$_} = $modified->{$_} foreach keys %$modified;
        delete @m{keys %v}; # a flag change may be announced before its message vanishes
        return if uids([keys %v]) eq $want_v and flags(\%m) eq $want_m;
        select(undef, undef, undef, 0.05);
    }
    check('live updates', uids([keys %v]) . ' / ' . flags(\%m), "$want_v / $want_m");
}

# 1. First sync: every message is new.
my $a = connect_as('sync');
$a->select('INBOX');
my @got;
$a->pull_new_messages('FLAGS', sub($) { push @got, $_[0]->{UID} });
$a->pull_updates();
check('first sync', uids(\@got), '1,2,3');
$a->set_cache('INBOX', UIDVALIDITY => $a->uidvalidity('INBOX'));
my %state = $a->get_cache();
$a->logout();

# 2. Meanwhile another client flags UID 2 and expunges UID 1.
my $b = connect_as('other');
$b->select('INBOX');
$b->silent_store('2', '+', '\\Flagged');
$b->silent_store('1', '+', '\\Deleted');
$b->expunge('1');

# 3. Resync from the saved state: SELECT INBOX (QRESYNC (v modseq 1:3)).
$a = connect_as('sync');
$a->set_cache('INBOX', %state);
$a->select('INBOX');
my ($vanished, $modified) = $a->pull_updates();
check('vanished on select', uids($vanished), '1');
check('changed on select', flags($modified), '2=\\Flagged');
$a->pull_new_messages('FLAGS', sub($) { die "no new mail expected\n" });

# 4. While selected: the other client expunges UID 3 and flags UID 2 again.
$b->silent_store('3', '+', '\\Deleted');
$b->expunge('3');
$b->silent_store('2', '+', '\\Answered');
wait_updates($a, '3', '2=\\Answered \\Flagged');

# 5. A conditional flag push, then a new message and an expunge of our own.
my @failed = $a->push_flag_updates('\\Seen', 2);
check('push_flag_updates', scalar(@failed), 0);
my $late = "Subject: late\r\n\r\nlate\r\n";
$b->append('INBOX', { RFC822 => \$late, FLAGS => [] });
for (1 .. 100) {
    $a->noop();
    last if $a->has_new_mails('INBOX');
    select(undef, undef, undef, 0.05);
}
@got = ();
$a->pull_new_messages('FLAGS', sub($) { push @got, $_[0]->{UID} });
check('new mail', uids(\@got), '4');
$a->silent_store('2', '+', '\\Deleted');
$a->expunge('2');
($vanished, $modified) = $a->pull_updates();
check('own expunge', uids($vanished), '2');

# 6. SELECT of another mailbox while INBOX is selected: responses after [CLOSED] belong
#    to the new mailbox, so its UIDVALIDITY lands in its own cache.
$b->create('Archive');
$a->select('Archive');
my $archive = $a->uidvalidity('Archive') // die "no UIDVALIDITY for Archive: no [CLOSED]?\n";
$b->select('Archive');
check('Archive UIDVALIDITY', $archive, $b->uidvalidity('Archive'));
$a->logout();
$b->logout();
print "ok\n";
"#;

#[test]
fn interimap_library_resyncs_with_qresync() {
    let server = Server::start();
    for i in 1..=3 {
        let reply = send_raw(
            &server,
            "s@client.test",
            &["alice@example.test"],
            &message(&format!("m{i}"), "x"),
        );
        assert!(reply.starts_with("250"), "{reply}");
    }
    assert_eq!(server.wait_for_messages("alice@example.test", 3), 3);
    let script = server.dir.path().join("qresync.pl");
    std::fs::write(&script, SCRIPT).unwrap();
    let out = Command::new("perl")
        .arg(&script)
        .arg(server.port("imap").to_string())
        .arg("alice@example.test")
        .arg(PASSWORD)
        .output()
        .expect("perl");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "Net::IMAP::InterIMAP (Debian package libinterimap; .ci/run installs interimap) failed:\n{}{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
}
