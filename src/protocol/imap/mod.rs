//! Pure IMAP message rendering: ENVELOPE/BODYSTRUCTURE summaries, BODY[section]
//! extraction and SEARCH evaluation over one stored message; the modified UTF-7 codec
//! for IMAP4rev1 mailbox names.
//!
//! Nothing here does I/O: callers hand in the raw RFC 5322 bytes (CRLF line ends, as
//! stored by delivery and APPEND) and get wire-ready strings or byte slices back.

pub mod address;
pub mod mutf7;
pub mod search;
pub mod section;
pub mod sequence;
pub mod session;
pub mod structure;
pub mod wire;

pub use search::{matches, needs_raw, SearchContext, SearchKey};
pub use section::{extract, Section, SectionKind};
pub use sequence::{SequenceSet, SequenceSetError};
pub use structure::{encoded_summary, summarize, MessageSummary};
