//! Split-input and hostile-input tests of the framer, streamed APPEND literals included.

use super::*;

fn frames(input: &[u8], chunk: usize) -> Vec<Frame> {
    let mut f = Framer::new(100, 50);
    let mut out = Vec::new();
    for c in input.chunks(chunk) {
        f.push(c);
        while let Some(fr) = f.next_frame() {
            out.push(fr);
        }
    }
    out
}

#[test]
fn lines_and_literals_split_anywhere() {
    let input = b"a NOOP\r\nb LOGIN {3}\r\nbob {4+}\r\npass\r\nc X\r\n";
    let want = vec![
        Frame::Command(b"a NOOP\r\n".to_vec()),
        Frame::Continue,
        Frame::Command(b"b LOGIN {3}\r\nbob {4+}\r\npass\r\n".to_vec()),
        Frame::Command(b"c X\r\n".to_vec()),
    ];
    for chunk in [1, 2, 3, 4, 8, 16, 512] {
        assert_eq!(frames(input, chunk), want, "chunk {chunk}");
    }
}

#[test]
fn oversize_line_and_literal() {
    let mut input = b"t1 ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 300));
    input.extend_from_slice(b"\r\nt2 APPEND x {51}\r\nt3 APPEND x {99999999999}\r\nt4 NOOP\r\n");
    let want = vec![
        Frame::TooLong(Some("t1".into())),
        Frame::LiteralTooBig {
            tag: Some("t2".into()),
            sync: true,
        },
        Frame::LiteralTooBig {
            tag: Some("t3".into()),
            sync: true,
        },
        Frame::Command(b"t4 NOOP\r\n".to_vec()),
    ];
    for chunk in [1, 2, 7, 512] {
        assert_eq!(frames(&input, chunk), want, "chunk {chunk}");
    }
}

/// A framer that streams APPEND literals of 1000 octets or more in chunks of 300.
fn streaming() -> Framer {
    Framer::new(100, 5000).with_streaming(1000, 300)
}

/// Frames `input` fed in pieces of `split`; chunks are checked against the chunk size
/// and joined into one `LiteralChunk` so that any split gives the same list.
fn streamed_frames(input: &[u8], split: usize) -> Vec<Frame> {
    let mut f = streaming();
    let mut out: Vec<Frame> = Vec::new();
    for piece in input.chunks(split) {
        f.push(piece);
        assert!(f.buffered() <= 300 + split, "buffered {}", f.buffered());
        while let Some(frame) = f.next_frame() {
            match (frame, out.last_mut()) {
                (Frame::LiteralChunk(bytes), Some(Frame::LiteralChunk(joined))) => {
                    assert!(bytes.len() <= 300, "chunk of {}", bytes.len());
                    joined.extend(bytes);
                }
                (Frame::LiteralChunk(bytes), _) => {
                    assert!(bytes.len() <= 300, "chunk of {}", bytes.len());
                    out.push(Frame::LiteralChunk(bytes));
                }
                (frame, _) => out.push(frame),
            }
        }
    }
    out
}

/// A literal full of what would be framing if it were read as commands.
fn literal(n: usize) -> Vec<u8> {
    b"x NOOP\r\ny APPEND {5}\r\n\n\0\xff~{9+}\r\n"
        .iter()
        .copied()
        .cycle()
        .take(n)
        .collect()
}

#[test]
fn streamed_literal_same_bytes_at_any_split() {
    let body = literal(2345);
    for (announce, sync) in [("{2345}", true), ("{2345+}", false), ("~{2345}", true)] {
        let prefix = format!("a1 APPEND INBOX (\\Seen) {announce}\r\n").into_bytes();
        let mut input = prefix.clone();
        input.extend(&body);
        input.extend_from_slice(b"\r\na2 NOOP\r\n");
        let want = vec![
            Frame::LiteralStart {
                prefix: prefix.clone(),
                sync,
            },
            Frame::LiteralChunk(body.clone()),
            Frame::LiteralEnd(b"\r\n".to_vec()),
            Frame::Command(b"a2 NOOP\r\n".to_vec()),
        ];
        for split in [1, 2, 7, 512, input.len()] {
            assert_eq!(
                streamed_frames(&input, split),
                want,
                "{announce} split {split}"
            );
        }
    }
}

#[test]
fn only_large_append_literals_stream() {
    let mut input = b"a1 APPEND INBOX {999}\r\n".to_vec();
    input.extend(literal(999));
    input.extend_from_slice(b"\r\na2 LOGIN {1000}\r\n");
    input.extend(literal(1000));
    input.extend_from_slice(b" pw\r\n");
    let frames = streamed_frames(&input, 64);
    assert_eq!(frames.len(), 4, "{frames:?}");
    assert!(matches!(&frames[..], [
        Frame::Continue,
        Frame::Command(a1),
        Frame::Continue,
        Frame::Command(a2),
    ] if a1.starts_with(b"a1 APPEND") && a2.ends_with(b" pw\r\n")));
}

#[test]
fn streamed_literal_over_the_limit_is_refused_unread() {
    let input = b"a1 APPEND INBOX {5001}\r\na2 append INBOX {99999999999+}\r\na3 NOOP\r\n";
    let want = vec![
        Frame::LiteralTooBig {
            tag: Some("a1".into()),
            sync: true,
        },
        Frame::LiteralTooBig {
            tag: Some("a2".into()),
            sync: false,
        },
        Frame::Command(b"a3 NOOP\r\n".to_vec()),
    ];
    for split in [1, 7, 512] {
        assert_eq!(streamed_frames(input, split), want, "split {split}");
    }
}

#[test]
fn the_rest_of_a_streamed_command_is_framed_and_bounded() {
    let body = literal(1200);
    let mut input = b"a1 APPEND INBOX {1200}\r\n".to_vec();
    input.extend(&body);
    // A further literal is framed as usual and ends up in the rest.
    input.extend_from_slice(b" {3}\r\nabc\r\n");
    // A rest that is too long, then one whose literal breaks the command's limit.
    input.extend_from_slice(b"a2 APPEND INBOX {1200+}\r\n");
    input.extend(&body);
    input.extend(std::iter::repeat_n(b'y', 150));
    input.extend_from_slice(b"\r\na3 APPEND INBOX {1200}\r\n");
    input.extend(&body);
    input.extend_from_slice(b" {3900}\r\na4 NOOP\r\n");
    let want = vec![
        Frame::LiteralStart {
            prefix: b"a1 APPEND INBOX {1200}\r\n".to_vec(),
            sync: true,
        },
        Frame::LiteralChunk(body.clone()),
        Frame::Continue,
        Frame::LiteralEnd(b" {3}\r\nabc\r\n".to_vec()),
        Frame::LiteralStart {
            prefix: b"a2 APPEND INBOX {1200+}\r\n".to_vec(),
            sync: false,
        },
        Frame::LiteralChunk(body.clone()),
        Frame::TooLong(Some("a2".into())),
        Frame::LiteralStart {
            prefix: b"a3 APPEND INBOX {1200}\r\n".to_vec(),
            sync: true,
        },
        Frame::LiteralChunk(body.clone()),
        Frame::LiteralTooBig {
            tag: Some("a3".into()),
            sync: true,
        },
        Frame::Command(b"a4 NOOP\r\n".to_vec()),
    ];
    for split in [1, 2, 7, 512] {
        assert_eq!(streamed_frames(&input, split), want, "split {split}");
    }
}

#[test]
fn clear_drops_a_streamed_literal() {
    let mut f = streaming();
    f.push(b"a1 APPEND INBOX {1500}\r\n");
    f.push(&literal(700));
    assert!(matches!(f.next_frame(), Some(Frame::LiteralStart { .. })));
    assert!(matches!(f.next_frame(), Some(Frame::LiteralChunk(c)) if c.len() == 300));
    f.clear();
    f.push(b"a2 NOOP\r\n");
    assert_eq!(
        f.next_frame(),
        Some(Frame::Command(b"a2 NOOP\r\n".to_vec()))
    );
}

#[test]
fn emptied_literal_keeps_the_command() {
    assert_eq!(
        emptied_literal(b"a APPEND INBOX (\\Seen) {12345+}\r\n"),
        Some((b"a APPEND INBOX (\\Seen) {0}\r\n".to_vec(), false))
    );
    assert_eq!(
        emptied_literal(b"a APPEND INBOX ~{7}\r\n"),
        Some((b"a APPEND INBOX ~{0}\r\n".to_vec(), true))
    );
    assert_eq!(emptied_literal(b"a APPEND INBOX\r\n"), None);
}

#[test]
fn hostile_tags() {
    assert_eq!(tag_of(b"a1 NOOP"), Some("a1".into()));
    assert_eq!(tag_of(b"* NOOP"), None);
    assert_eq!(tag_of(b" NOOP"), None);
    assert_eq!(tag_of(b"\xff\xfe NOOP"), None);
    assert_eq!(tag_of(b"a+b NOOP"), None);
}
