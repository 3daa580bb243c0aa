//! QRESYNC (RFC 7162 §3.2): the parameters of `SELECT/EXAMINE mbox (QRESYNC (...))`, the
//! resynchronization it answers with (`* VANISHED (EARLIER)` and FETCH of changed
//! messages), and the VANISHED lines that replace EXPUNGE once the client enabled it.
//!
//! imap-codec parses this syntax; what it leaves unchecked (`*` in the known sets, seq-match
//! sets of different sizes) is rejected here, and the session answers BAD.

use imap_codec::imap_types::command::SelectParameter;
use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet as WireSet};
use thiserror::Error;

use super::convert::sequence_set;
use super::esearch::compress;
use super::fetch::flag_list;
use super::view::Selected;
use crate::protocol::imap::sequence::SequenceSet;

/// The QRESYNC parameter of SELECT/EXAMINE: what the client knew when it last synced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resync {
    /// UIDVALIDITY the client's cache belongs to; nothing is resynchronized if it differs.
    pub uidvalidity: u32,
    /// The HIGHESTMODSEQ the client has seen.
    pub modseq: u64,
    /// UIDs the client knows (no `*`); `None`: every UID.
    pub known_uids: Option<SequenceSet>,
}

/// The SELECT/EXAMINE parameters (RFC 7162 §3.1.8, §3.2.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectParams {
    /// CONDSTORE given (or implied by QRESYNC).
    pub condstore: bool,
    /// QRESYNC given.
    pub resync: Option<Resync>,
}

/// Why SELECT/EXAMINE parameters were refused (answered with BAD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ParamError {
    /// QRESYNC appeared more than once.
    #[error("QRESYNC given twice")]
    Duplicate,
    /// `*` in known-uids or seq-match-data, which RFC 7162 §3.2.5 forbids.
    #[error("* is not allowed in QRESYNC sets")]
    Star,
    /// The two sets of seq-match-data name different numbers of messages.
    #[error("QRESYNC seq-match-data sets differ in size")]
    Mismatch,
}

/// Reads the parameter list of SELECT/EXAMINE.
pub fn select_params(params: &[SelectParameter]) -> Result<SelectParams, ParamError> {
    let mut out = SelectParams::default();
    for p in params {
        match p {
            SelectParameter::CondStore => out.condstore = true,
            SelectParameter::QResync {
                uid_validity,
                mod_sequence_value,
                known_uids,
                seq_match_data,
            } => {
                if out.resync.is_some() {
                    return Err(ParamError::Duplicate);
                }
                if let Some((seqs, uids)) = seq_match_data {
                    // The server keeps every expunge, so the match data is never needed
                    // to narrow VANISHED; it is only checked (RFC 7162 §3.2.5.2).
                    if count(seqs)? != count(uids)? {
                        return Err(ParamError::Mismatch);
                    }
                }
                let known_uids = match known_uids {
                    Some(set) => {
                        count(set)?;
                        Some(sequence_set(set))
                    }
                    None => None,
                };
                out.condstore = true;
                out.resync = Some(Resync {
                    uidvalidity: uid_validity.get(),
                    modseq: mod_sequence_value.get(),
                    known_uids,
                });
            }
        }
    }
    Ok(out)
}

/// The number of members of a set without `*`.
fn count(set: &WireSet) -> Result<u64, ParamError> {
    let num = |b: &SeqOrUid| match b {
        SeqOrUid::Value(n) => Ok(n.get()),
        SeqOrUid::Asterisk => Err(ParamError::Star),
    };
    let mut total = 0u64;
    for s in set.0.as_ref() {
        let (a, b) = match s {
            Sequence::Single(a) => (num(a)?, num(a)?),
            Sequence::Range(a, b) => (num(a)?, num(b)?),
        };
        total += u64::from(a.abs_diff(b)) + 1;
    }
    Ok(total)
}

/// `* VANISHED [(EARLIER) ]uids` for ascending `uids`, or nothing when empty
/// (RFC 7162 §3.2.10).
pub fn vanished_line(earlier: bool, uids: &[u32]) -> String {
    if uids.is_empty() {
        return String::new();
    }
    let tag = if earlier { "(EARLIER) " } else { "" };
    format!("* VANISHED {tag}{}\r\n", compress(uids))
}

/// The resynchronization data of a QRESYNC SELECT (RFC 7162 §3.2.5.1): the expunged UIDs
/// the client knows, then a FETCH (UID FLAGS MODSEQ) for each known message changed since
/// its mod-sequence. `expunged` comes from the store, ascending; UIDs still in the view
/// (expunged since the SELECT read the mailbox) are left for the plain VANISHED to come.
pub fn resync_lines(sel: &Selected, r: &Resync, expunged: &[u32]) -> String {
    let known = |uid: u32| r.known_uids.as_ref().is_none_or(|k| k.contains(uid, 0));
    let gone: Vec<u32> = expunged
        .iter()
        .copied()
        .filter(|u| known(*u) && sel.seq_of(*u).is_none())
        .collect();
    let mut out = vanished_line(true, &gone);
    for (i, m) in sel.msgs.iter().enumerate() {
        if m.modseq > r.modseq && known(m.uid) {
            out.push_str(&format!(
                "* {} FETCH (UID {} FLAGS {} MODSEQ ({}))\r\n",
                i + 1,
                m.uid,
                flag_list(m),
                m.modseq
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use imap_codec::decode::Decoder;
    use imap_codec::imap_types::command::CommandBody;
    use imap_codec::CommandCodec;

    fn params(line: &str) -> Result<SelectParams, ParamError> {
        let (_, cmd) = CommandCodec::default().decode(line.as_bytes()).unwrap();
        match cmd.body {
            CommandBody::Select { parameters, .. } | CommandBody::Examine { parameters, .. } => {
                select_params(&parameters)
            }
            other => panic!("not a SELECT: {other:?}"),
        }
    }

    #[test]
    fn reads_qresync_parameters() {
        assert_eq!(params("a SELECT INBOX\r\n"), Ok(SelectParams::default()));
        let p = params("a SELECT INBOX (CONDSTORE)\r\n").unwrap();
        assert!(p.condstore && p.resync.is_none());
        let p = params("a EXAMINE x (QRESYNC (67890007 20050715194045000 41,43:211))\r\n").unwrap();
        assert!(p.condstore);
        let r = p.resync.unwrap();
        assert_eq!((r.uidvalidity, r.modseq), (67890007, 20050715194045000));
        let known = r.known_uids.unwrap();
        assert!(known.contains(41, 0) && known.contains(211, 0) && !known.contains(42, 0));
        let p = params("a SELECT x (QRESYNC (1 2 1:10 (1:3,5 1,4:6)))\r\n").unwrap();
        assert!(p.resync.is_some());
    }

    #[test]
    fn refuses_bad_qresync_parameters() {
        assert_eq!(
            params("a SELECT x (QRESYNC (1 2) QRESYNC (1 2))\r\n"),
            Err(ParamError::Duplicate)
        );
        assert_eq!(
            params("a SELECT x (QRESYNC (1 2 1:*))\r\n"),
            Err(ParamError::Star)
        );
        assert_eq!(
            params("a SELECT x (QRESYNC (1 2 1:5 (1:* 1:3)))\r\n"),
            Err(ParamError::Star)
        );
        assert_eq!(
            params("a SELECT x (QRESYNC (1 2 1:5 (1:2 1:3)))\r\n"),
            Err(ParamError::Mismatch)
        );
    }

    #[test]
    fn renders_vanished() {
        assert_eq!(vanished_line(true, &[]), "");
        assert_eq!(
            vanished_line(true, &[1, 2, 3, 7]),
            "* VANISHED (EARLIER) 1:3,7\r\n"
        );
        assert_eq!(vanished_line(false, &[9]), "* VANISHED 9\r\n");
    }
}
