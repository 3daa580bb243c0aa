//! Modified UTF-7 (RFC 3501 §5.1.3), the mailbox-name encoding of IMAP4rev1 clients.
//!
//! Hermod stores mailbox names in UTF-8; sessions that have not enabled IMAP4rev2 see them
//! through this codec. Printable US-ASCII stands for itself, `&` is `&-`, and every other
//! run of characters is UTF-16BE in BASE64 with `,` for `/` and no padding, between `&`
//! and `-`. [`decode`] accepts only the one spelling [`encode`] produces, so a name has a
//! single wire form and two spellings can never reach the same mailbox.

use base64::alphabet::Alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use thiserror::Error;

/// Why octets are not modified UTF-7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Mutf7Error {
    /// An octet outside printable US-ASCII (8-bit, control) where a character stands for
    /// itself.
    #[error("octet {byte:#04x} at {at} is not printable US-ASCII")]
    NotAscii {
        /// The octet.
        byte: u8,
        /// Its offset.
        at: usize,
    },
    /// `&` without the `-` that ends the shift.
    #[error("shift at {at} is not ended by '-'")]
    Unterminated {
        /// Offset of the `&`.
        at: usize,
    },
    /// A character outside the modified BASE64 alphabet inside a shift.
    #[error("octet at {at} is not modified BASE64")]
    BadBase64 {
        /// Offset of the octet.
        at: usize,
    },
    /// The BASE64 is not the shortest for whole UTF-16 units, or its padding bits are
    /// not zero.
    #[error("shift at {at} does not hold whole UTF-16 units with zero padding")]
    BadPadding {
        /// Offset of the `&`.
        at: usize,
    },
    /// An unpaired UTF-16 surrogate.
    #[error("shift at {at} holds an unpaired UTF-16 surrogate")]
    BadUtf16 {
        /// Offset of the `&`.
        at: usize,
    },
    /// A printable US-ASCII character in BASE64 (RFC 3501 §5.1.3: it must stand for itself).
    #[error("shift at {at} encodes printable US-ASCII")]
    ShiftedAscii {
        /// Offset of the `&`.
        at: usize,
    },
    /// A shift right after another: the two should have been one.
    #[error("shift at {at} follows another shift")]
    AdjacentShifts {
        /// Offset of the second `&`.
        at: usize,
    },
}

/// RFC 3501 §5.1.3 "modified BASE64": `,` in place of `/`.
const SYMBOLS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Unpadded, and strict: a shift has one spelling, so stray trailing bits are refused.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &match Alphabet::new(SYMBOLS) {
        Ok(alphabet) => alphabet,
        Err(_) => panic!("the modified BASE64 alphabet is 64 distinct printable symbols"),
    },
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

fn is_direct(c: u32) -> bool {
    (0x20..=0x7e).contains(&c)
}

/// Encodes a UTF-8 name in modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut units: Vec<u16> = Vec::new();
    for c in name.chars() {
        if is_direct(u32::from(c)) {
            flush_shift(&mut out, &mut units);
            out.push(c);
            if c == '&' {
                out.push('-');
            }
        } else {
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush_shift(&mut out, &mut units);
    out
}

fn flush_shift(out: &mut String, units: &mut Vec<u16>) {
    if units.is_empty() {
        return;
    }
    let octets: Vec<u8> = units.drain(..).flat_map(u16::to_be_bytes).collect();
    out.push('&');
    BASE64.encode_string(octets, out);
    out.push('-');
}

/// Decodes modified UTF-7 to UTF-8, refusing anything [`encode`] would not produce.
pub fn decode(input: &[u8]) -> Result<String, Mutf7Error> {
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    // Where the last BASE64 shift ended, to refuse `&..-&..-`.
    let mut shift_end = None;
    while let Some(&b) = input.get(i) {
        if !is_direct(u32::from(b)) {
            return Err(Mutf7Error::NotAscii { byte: b, at: i });
        }
        if b != b'&' {
            out.push(char::from(b));
            i += 1;
            continue;
        }
        let start = i;
        let body = start + 1;
        let end = input[body..]
            .iter()
            .position(|c| *c == b'-')
            .map(|p| body + p)
            .ok_or(Mutf7Error::Unterminated { at: start })?;
        if end == body {
            out.push('&');
        } else {
            if shift_end == Some(start) {
                return Err(Mutf7Error::AdjacentShifts { at: start });
            }
            decode_shift(&input[body..end], start, &mut out)?;
            shift_end = Some(end + 1);
        }
        i = end + 1;
    }
    Ok(out)
}

/// Decodes the BASE64 between `&` (at `start`) and `-`.
fn decode_shift(b64: &[u8], start: usize, out: &mut String) -> Result<(), Mutf7Error> {
    // Checked first so that a foreign octet is named as such, whatever else is wrong.
    if let Some(k) = b64.iter().position(|b| !SYMBOLS.as_bytes().contains(b)) {
        return Err(Mutf7Error::BadBase64 { at: start + 1 + k });
    }
    // Shortest form: whole UTF-16 units, padding bits zero.
    let octets = match BASE64.decode(b64) {
        Ok(octets) if !octets.is_empty() && octets.len() % 2 == 0 => octets,
        _ => return Err(Mutf7Error::BadPadding { at: start }),
    };
    let units = octets
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
    for c in char::decode_utf16(units) {
        let c = c.map_err(|_| Mutf7Error::BadUtf16 { at: start })?;
        if is_direct(u32::from(c)) {
            return Err(Mutf7Error::ShiftedAscii { at: start });
        }
        out.push(c);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn rfc_examples() {
        // RFC 3501 §5.1.3 and the usual client spellings.
        let cases = [
            ("~peter/mail/日本語/台北", "~peter/mail/&ZeVnLIqe-/&U,BTFw-"),
            ("日本語", "&ZeVnLIqe-"),
            ("&", "&-"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"),
            ("Tom & Jerry", "Tom &- Jerry"),
            ("😀", "&2D3eAA-"),
            ("a\tb", "a&AAk-b"),
            ("INBOX", "INBOX"),
            ("", ""),
        ];
        for (utf8, utf7) in cases {
            assert_eq!(encode(utf8), utf7, "{utf8}");
            assert_eq!(decode(utf7.as_bytes()).as_deref(), Ok(utf8), "{utf7}");
        }
    }

    #[test]
    fn refuses_invalid_input() {
        use Mutf7Error as E;
        let cases: [(&[u8], Mutf7Error); 14] = [
            (b"a&ZeVnLIqe", E::Unterminated { at: 1 }),
            (b"&", E::Unterminated { at: 0 }),
            (b"&Ze/-", E::BadBase64 { at: 3 }),
            (b"&ZeV=-", E::BadBase64 { at: 4 }),
            (b"Entw\xc3\xbcrfe", E::NotAscii { byte: 0xc3, at: 4 }),
            (b"a\tb", E::NotAscii { byte: b'\t', at: 1 }),
            (b"a\0", E::NotAscii { byte: 0, at: 1 }),
            // "a" (U+0061) and "&" in BASE64.
            (b"&AGE-", E::ShiftedAscii { at: 0 }),
            (b"&ACY-", E::ShiftedAscii { at: 0 }),
            // Non-zero padding bits, a needless extra sextet, a partial unit.
            (b"&APx-", E::BadPadding { at: 0 }),
            (b"&APwA-", E::BadPadding { at: 0 }),
            (b"&AA-", E::BadPadding { at: 0 }),
            // A lone high surrogate.
            (b"&2D0-", E::BadUtf16 { at: 0 }),
            (b"&APw-&APw-", E::AdjacentShifts { at: 5 }),
        ];
        for (input, err) in cases {
            assert_eq!(
                decode(input),
                Err(err),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn split_shifts_and_hostile_input_never_panic() {
        let valid = b"~peter/mail/&ZeVnLIqe-/&U,BTFw-";
        // Every prefix is either valid or refused, never a panic, and a prefix cut inside
        // a shift is always refused.
        for n in 0..=valid.len() {
            let prefix = &valid[..n];
            let open = prefix.iter().filter(|b| **b == b'&').count()
                > prefix.iter().filter(|b| **b == b'-').count();
            assert_eq!(decode(prefix).is_err(), open, "{n}");
        }
        for hostile in [
            &b"&&&&-"[..],
            b"&-&-&",
            b"-&--",
            b"&,,,,-",
            b"\xff\xfe",
            b"&\xff-",
        ] {
            let _ = decode(hostile);
        }
        assert_eq!(decode(b"-&--").as_deref(), Ok("-&-"));
    }

    proptest! {
        #[test]
        fn round_trips(s in "\\PC*") {
            let wire = encode(&s);
            prop_assert!(wire.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            prop_assert_eq!(decode(wire.as_bytes()), Ok(s));
        }

        #[test]
        fn round_trips_any_chars(s in any::<String>()) {
            prop_assert_eq!(decode(encode(&s).as_bytes()), Ok(s));
        }

        #[test]
        fn decoding_is_canonical(input in "[&\\-A-Za-z0-9+,/ü]{0,24}") {
            // Whatever decodes has exactly one spelling: the one `encode` gives.
            if let Ok(name) = decode(input.as_bytes()) {
                prop_assert_eq!(encode(&name), input);
            }
        }

        #[test]
        fn arbitrary_octets_never_panic(input in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&input);
        }
    }
}
