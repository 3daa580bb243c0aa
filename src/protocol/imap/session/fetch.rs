//! FETCH items and their rendering (RFC 3501 §6.4.5, §7.4.2; RFC 7162 MODSEQ; RFC 3516
//! BINARY, BINARY.PEEK and BINARY.SIZE).

use chrono::{TimeZone, Utc};
use imap_codec::imap_types::fetch::{Macro, MacroOrMessageDataItemNames, MessageDataItemName};

use super::convert::{section, section_text};
use super::view::Msg;
use crate::protocol::imap::section::{extract, extract_binary, BinaryError, Section, SectionKind};
use crate::protocol::imap::structure::{summarize, MessageSummary};

/// One FETCH data item asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// FLAGS.
    Flags,
    /// INTERNALDATE.
    InternalDate,
    /// RFC822.SIZE.
    Size,
    /// ENVELOPE.
    Envelope,
    /// BODYSTRUCTURE.
    BodyStructure,
    /// BODY (non-extended structure).
    Body,
    /// UID.
    Uid,
    /// MODSEQ (RFC 7162).
    ModSeq,
    /// A body section; `label` is the response item name.
    Section {
        /// What to extract.
        section: Section,
        /// `<origin.count>`.
        partial: Option<(u32, u32)>,
        /// Leaves `\Seen` alone.
        peek: bool,
        /// Name in the response (`BODY[HEADER]`, `RFC822`, `BODY[]<10>`).
        label: String,
    },
    /// RFC 3516 `BINARY[part]<partial>` / `BINARY.PEEK`: the part decoded.
    Binary {
        /// Part numbers; empty for the whole message.
        path: Vec<u32>,
        /// `<origin.count>`, applied to the decoded octets.
        partial: Option<(u32, u32)>,
        /// Leaves `\Seen` alone.
        peek: bool,
        /// Name in the response (`BINARY[1]`, `BINARY[1]<0>`).
        label: String,
    },
    /// RFC 3516 `BINARY.SIZE[part]`: the decoded size.
    BinarySize {
        /// Part numbers; empty for the whole message.
        path: Vec<u32>,
    },
}

impl Item {
    /// Whether the raw message is needed (sections always; structure only without a
    /// stored summary, decided by the caller once it has read the summaries).
    pub fn needs_raw(&self) -> bool {
        matches!(
            self,
            Item::Section { .. } | Item::Binary { .. } | Item::BinarySize { .. }
        )
    }

    /// Whether this item needs the summary (read from the store per FETCH chunk).
    pub fn needs_summary(&self) -> bool {
        matches!(self, Item::Envelope | Item::BodyStructure | Item::Body)
    }

    /// Whether fetching it sets `\Seen` (RFC 3501 §6.4.5: BODY[...] and RFC822(.TEXT);
    /// RFC 3516 §4.1: BINARY[...]).
    pub fn sets_seen(&self) -> bool {
        matches!(
            self,
            Item::Section { peek: false, .. } | Item::Binary { peek: false, .. }
        )
    }
}

/// Our item list for a FETCH command (macros expanded).
pub fn items(m: &MacroOrMessageDataItemNames<'_>) -> Vec<Item> {
    let names: Vec<MessageDataItemName<'_>> = match m {
        MacroOrMessageDataItemNames::Macro(Macro::Fast) => vec![
            MessageDataItemName::Flags,
            MessageDataItemName::InternalDate,
            MessageDataItemName::Rfc822Size,
        ],
        MacroOrMessageDataItemNames::Macro(Macro::All) => vec![
            MessageDataItemName::Flags,
            MessageDataItemName::InternalDate,
            MessageDataItemName::Rfc822Size,
            MessageDataItemName::Envelope,
        ],
        MacroOrMessageDataItemNames::Macro(_) => vec![
            MessageDataItemName::Flags,
            MessageDataItemName::InternalDate,
            MessageDataItemName::Rfc822Size,
            MessageDataItemName::Envelope,
            MessageDataItemName::Body,
        ],
        MacroOrMessageDataItemNames::MessageDataItemNames(v) => v.clone(),
    };
    names.iter().filter_map(item).collect()
}

fn item(n: &MessageDataItemName<'_>) -> Option<Item> {
    Some(match n {
        MessageDataItemName::Flags => Item::Flags,
        MessageDataItemName::InternalDate => Item::InternalDate,
        MessageDataItemName::Rfc822Size => Item::Size,
        MessageDataItemName::Envelope => Item::Envelope,
        MessageDataItemName::BodyStructure => Item::BodyStructure,
        MessageDataItemName::Body => Item::Body,
        MessageDataItemName::Uid => Item::Uid,
        MessageDataItemName::ModSeq => Item::ModSeq,
        MessageDataItemName::Rfc822 => Item::Section {
            section: Section::full(),
            partial: None,
            peek: false,
            label: "RFC822".into(),
        },
        MessageDataItemName::Rfc822Header => Item::Section {
            section: Section::top(SectionKind::Header),
            partial: None,
            peek: true,
            label: "RFC822.HEADER".into(),
        },
        MessageDataItemName::Rfc822Text => Item::Section {
            section: Section::top(SectionKind::Text),
            partial: None,
            peek: false,
            label: "RFC822.TEXT".into(),
        },
        MessageDataItemName::BodyExt {
            section: s,
            partial,
            peek,
        } => {
            let sec = section(s);
            let mut label = format!("BODY[{}]", section_text(&sec));
            if let Some((origin, _)) = partial {
                label.push_str(&format!("<{origin}>"));
            }
            Item::Section {
                section: sec,
                partial: partial.map(|(o, c)| (o, c.get())),
                peek: *peek,
                label,
            }
        }
        MessageDataItemName::Binary {
            section,
            partial,
            peek,
        } => {
            let path: Vec<u32> = section.iter().map(|n| n.get()).collect();
            let mut label = format!("BINARY[{}]", dotted(&path));
            if let Some((origin, _)) = partial {
                label.push_str(&format!("<{origin}>"));
            }
            Item::Binary {
                path,
                partial: partial.map(|(o, c)| (o, c.get())),
                peek: *peek,
                label,
            }
        }
        MessageDataItemName::BinarySize { section } => Item::BinarySize {
            path: section.iter().map(|n| n.get()).collect(),
        },
    })
}

fn dotted(path: &[u32]) -> String {
    path.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// INTERNALDATE text, e.g. `17-Jul-1996 02:44:25 +0000`.
pub fn internal_date(secs: i64) -> String {
    match Utc.timestamp_opt(secs, 0).single() {
        Some(t) => t.format("%d-%b-%Y %H:%M:%S +0000").to_string(),
        None => "01-Jan-1970 00:00:00 +0000".to_owned(),
    }
}

/// The FLAGS list of a message, `\Recent` included when it applies.
pub fn flag_list(m: &Msg) -> String {
    let mut flags: Vec<&str> = m.flags.iter().map(String::as_str).collect();
    if m.recent {
        flags.push("\\Recent");
    }
    format!("({})", flags.join(" "))
}

/// Decodes a stored summary (postcard `MessageSummary`), or computes it from the raw
/// message when there is none or it does not decode.
pub fn summary_of(stored: Option<&[u8]>, raw: Option<&[u8]>) -> Option<MessageSummary> {
    stored
        .and_then(|s| postcard::from_bytes(s).ok())
        .or_else(|| raw.map(summarize))
}

/// One `* seq FETCH (...)` response from the message's metadata, its stored summary and
/// its raw form, when read; fails when a BINARY item meets a transfer encoding it cannot
/// undo (RFC 3516 §4.3 `UNKNOWN-CTE`).
pub fn render(
    seq: u32,
    m: &Msg,
    items: &[Item],
    summary: Option<&[u8]>,
    raw: Option<&[u8]>,
    with_uid: bool,
    with_modseq: bool,
) -> Result<Vec<u8>, BinaryError> {
    let mut out = format!("* {seq} FETCH (").into_bytes();
    let mut first = true;
    let mut sep = |out: &mut Vec<u8>| {
        if !std::mem::take(&mut first) {
            out.push(b' ');
        }
    };
    let summary = if items.iter().any(Item::needs_summary) {
        summary_of(summary, raw)
    } else {
        None
    };
    let want_uid = with_uid || items.contains(&Item::Uid);
    if want_uid {
        sep(&mut out);
        out.extend_from_slice(format!("UID {}", m.uid).as_bytes());
    }
    for it in items {
        let text = match it {
            Item::Uid => continue,
            Item::ModSeq if with_modseq => continue,
            Item::Flags => format!("FLAGS {}", flag_list(m)),
            Item::InternalDate => format!("INTERNALDATE \"{}\"", internal_date(m.internal_date)),
            Item::Size => format!("RFC822.SIZE {}", m.size),
            Item::ModSeq => format!("MODSEQ ({})", m.modseq),
            Item::Envelope | Item::BodyStructure | Item::Body => {
                let Some(s) = &summary else { continue };
                match it {
                    Item::Envelope => format!("ENVELOPE {}", s.envelope),
                    Item::BodyStructure => format!("BODYSTRUCTURE {}", s.body_structure),
                    _ => format!("BODY {}", s.body),
                }
            }
            Item::Section {
                section,
                partial,
                label,
                ..
            } => {
                sep(&mut out);
                let data = raw
                    .map(|r| extract(r, section, *partial))
                    .unwrap_or_default();
                out.extend_from_slice(format!("{label} {{{}}}\r\n", data.len()).as_bytes());
                out.extend_from_slice(&data);
                continue;
            }
            Item::Binary {
                path,
                partial,
                label,
                ..
            } => {
                sep(&mut out);
                let data = match raw {
                    Some(r) => extract_binary(r, path, *partial)?,
                    None => Vec::new(),
                };
                // RFC 3516 §4.2: decoded data holding NUL must go as a literal8.
                let tilde = if data.contains(&0) { "~" } else { "" };
                out.extend_from_slice(format!("{label} {tilde}{{{}}}\r\n", data.len()).as_bytes());
                out.extend_from_slice(&data);
                continue;
            }
            Item::BinarySize { path } => {
                let size = match raw {
                    Some(r) => extract_binary(r, path, None)?.len(),
                    None => 0,
                };
                format!("BINARY.SIZE[{}] {size}", dotted(path))
            }
        };
        sep(&mut out);
        out.extend_from_slice(text.as_bytes());
    }
    if with_modseq {
        sep(&mut out);
        out.extend_from_slice(format!("MODSEQ ({})", m.modseq).as_bytes());
    }
    out.extend_from_slice(b")\r\n");
    Ok(out)
}
