//! Large APPEND literals (the framer's [`Frame::LiteralStart`] and what follows): their
//! octets go to the actor as they arrive ([`Action::Literal`]), and the APPEND takes its
//! body from what the actor kept ([`Request::AppendSpooled`]). The command around the
//! literal is parsed as it always is, by imap-codec, with the literal announced empty:
//! errors are the same tagged BAD and NO as for a literal gathered in memory.
//!
//! [`Frame::LiteralStart`]: super::framer::Frame::LiteralStart
//! [`Action::Literal`]: super::Action::Literal
//! [`Request::AppendSpooled`]: super::Request::AppendSpooled

use imap_codec::decode::Decoder;
use imap_codec::imap_types::command::CommandBody;
use imap_codec::CommandCodec;

use super::framer::{emptied_literal, tag_of};
use super::machine::{Session, State};
use super::LiteralStep;

/// A streamed literal being received.
#[derive(Debug)]
pub(super) struct Streaming {
    /// The command up to the literal, announced empty (`{0}`): the rest is added at the
    /// end and the whole parsed.
    command: Vec<u8>,
    /// The actor keeps the octets (an authenticated, well-formed APPEND); otherwise they
    /// are dropped as they come and the command fails at its end as it would have.
    kept: bool,
    /// A literal8 (RFC 3516 `~{n}`), where NUL is allowed.
    binary: bool,
    /// A NUL arrived in a plain literal: RFC 3501 §9 `CHAR8` excludes it.
    nul: bool,
}

impl Session {
    /// A streamed literal starts (its `+`, if any, is written).
    pub(super) fn literal_start(&mut self, prefix: &[u8]) {
        let (command, binary) = emptied_literal(prefix).unwrap_or_default();
        // Nothing is written for a command that must fail: an unauthenticated client
        // cannot fill the disk, and a malformed APPEND costs only its reading.
        let kept = !matches!(self.state, State::NotAuthenticated) && is_append(&command);
        if kept {
            self.literal_step = Some(LiteralStep::Begin);
        }
        self.streaming = Some(Streaming {
            command,
            kept,
            binary,
            nul: false,
        });
    }

    /// The next octets of the streamed literal.
    pub(super) fn literal_chunk(&mut self, bytes: Vec<u8>) {
        let Some(s) = &mut self.streaming else {
            return;
        };
        if !s.binary && !s.nul && bytes.contains(&0) {
            s.nul = true;
            if s.kept {
                // The command will fail: stop writing now.
                s.kept = false;
                self.literal_step = Some(LiteralStep::Discard);
                return;
            }
        }
        if s.kept {
            self.literal_step = Some(LiteralStep::Chunk(bytes));
        }
    }

    /// The streamed literal's command is complete: `rest` follows the literal.
    pub(super) fn literal_end(&mut self, rest: &[u8]) {
        let Some(s) = self.streaming.take() else {
            return;
        };
        // The message is APPEND's last argument (MULTIAPPEND, RFC 3502, is not offered):
        // anything after it, or a NUL in a plain literal, is what imap-codec refuses in a
        // gathered command.
        if s.nul || rest != b"\r\n" {
            if s.kept {
                self.literal_step = Some(LiteralStep::Discard);
            }
            let tag = tag_of(&s.command);
            self.bad(tag.as_deref(), "Unknown command or invalid arguments");
            return;
        }
        let mut command = s.command;
        command.extend_from_slice(rest);
        // A kept literal is an authenticated, well-formed APPEND: it reaches the APPEND
        // arm of dispatch, which takes the literal. A literal not kept belongs to a
        // command that fails whole, before any storage request.
        self.literal_kept = s.kept;
        self.command(&command);
        if std::mem::take(&mut self.literal_kept) {
            self.literal_step = Some(LiteralStep::Discard);
        }
    }

    /// The command of a streamed literal failed on a limit: drop what was kept.
    pub(super) fn drop_literal(&mut self) {
        if self.streaming.take().is_some_and(|s| s.kept) {
            self.literal_step = Some(LiteralStep::Discard);
        }
    }
}

/// Whether `command` (up to its literal, announced empty) parses as an APPEND when the
/// literal ends it.
fn is_append(command: &[u8]) -> bool {
    let mut whole = command.to_vec();
    whole.extend_from_slice(b"\r\n");
    matches!(
        CommandCodec::default().decode(&whole),
        Ok((b"", cmd)) if matches!(cmd.body, CommandBody::Append { .. })
    )
}
