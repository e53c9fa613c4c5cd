//! Lines of untrusted input, bounded. Every line-based source splits its bytes here (files,
//! `tail:`, agent and collector streams, NATS messages, webhook NDJSON), so a bad line costs
//! that line only: one longer than `[limits] max_record` or one that is not UTF-8 is reported
//! and reading resumes after the next newline. No more than `max_record` bytes of a line are
//! ever held, however long it is.

use std::fmt;
use std::io::{self, BufRead, Read};

use super::limits::show_size;

/// Why a line was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Longer than the limit: `bytes` long (without its newline).
    TooLong { bytes: u64, max: u64 },
    /// Not UTF-8 text.
    NotUtf8,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::TooLong { bytes, max } => write!(
                f,
                "{} long, over [limits] max_record = {} (config.toml raises it); skipped to the next line",
                show_size(*bytes),
                show_size(*max)
            ),
            Skip::NotUtf8 => f.write_str("not UTF-8 text; skipped to the next line"),
        }
    }
}

/// A line's text (its newline and a `\r` before it removed), or why it was skipped.
pub type Line<'a> = Result<&'a str, Skip>;

fn text(bytes: &[u8]) -> Line<'_> {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|_| Skip::NotUtf8)
}

/// Lines read from a `BufRead` (a file, a decompressor), one at a time, numbered from 1.
pub struct LineReader<R> {
    r: R,
    buf: Vec<u8>,
    max: usize,
    n: usize,
    /// The current line was over the limit (`buf` holds none of it).
    skipped: Option<Skip>,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(r: R, max: usize) -> LineReader<R> {
        LineReader {
            r,
            buf: Vec::new(),
            max,
            n: 0,
            skipped: None,
        }
    }

    /// Room for a line of `n` bytes up front (a one-line file), within the limit.
    pub fn with_capacity(mut self, n: usize) -> LineReader<R> {
        self.buf.reserve(n.min(self.max) + 1);
        self
    }

    /// The number of the line `next_line` returned last (1-based; 0 before the first).
    pub fn line_number(&self) -> usize {
        self.n
    }

    /// The next line and its number, `None` at the end. An error is the reader's (I/O, or a
    /// limit of the decompressor); lines returned before it stay valid.
    pub fn next_line(&mut self) -> io::Result<Option<(usize, Line<'_>)>> {
        self.buf.clear();
        self.skipped = None;
        let mut len = 0u64;
        let mut any = false;
        loop {
            let avail = match self.r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                break;
            }
            any = true;
            let (take, end) = match memchr::memchr(b'\n', avail) {
                Some(i) => (i + 1, Some(i)),
                None => (avail.len(), None),
            };
            let content = &avail[..end.unwrap_or(take)];
            len += content.len() as u64;
            if len > self.max as u64 {
                // Over the limit: keep counting to the newline, hold nothing of it.
                self.buf.clear();
            } else {
                self.buf.extend_from_slice(content);
            }
            self.r.consume(take);
            if end.is_some() {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.n += 1;
        if len > self.max as u64 {
            let skip = Skip::TooLong {
                bytes: len,
                max: self.max as u64,
            };
            self.skipped = Some(skip);
            return Ok(Some((self.n, Err(skip))));
        }
        Ok(Some((self.n, text(&self.buf))))
    }

    /// The longest line this reader holds.
    pub fn max(&self) -> usize {
        self.max
    }

    /// The line `next_line` returned last and everything after it, as a reader: for a file
    /// that turns out to be CSV, whose quoted fields may span lines. Nothing more is held.
    pub fn rest_with_line(&mut self) -> impl Read + '_ {
        let mut head = std::mem::take(&mut self.buf);
        if self.skipped.is_none() {
            head.push(b'\n');
        }
        io::Cursor::new(head).chain(&mut self.r)
    }

    /// The line `next_line` returned last and everything after it, as one document of at most
    /// `max` bytes: for a file that turns out to be one pretty-printed JSON value.
    pub fn rest_as_document(&mut self) -> io::Result<Line<'_>> {
        if let Some(skip) = self.skipped {
            return Ok(Err(skip));
        }
        self.buf.push(b'\n');
        let room = (self.max + 1).saturating_sub(self.buf.len()) as u64;
        let before = self.buf.len();
        (&mut self.r).take(room + 1).read_to_end(&mut self.buf)?;
        if self.buf.len() > self.max {
            let mut rest = 0u64;
            // How long it really is, for the message; nothing more is held.
            loop {
                let k = match self.r.fill_buf() {
                    Ok(b) => b.len(),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                if k == 0 {
                    break;
                }
                rest += k as u64;
                self.r.consume(k);
            }
            let bytes = self.buf.len() as u64 + rest;
            self.buf.truncate(before);
            return Ok(Err(Skip::TooLong {
                bytes,
                max: self.max as u64,
            }));
        }
        Ok(text(&self.buf))
    }
}

/// Lines of a stream that arrives in pieces (an HTTP body, a growing file): complete lines are
/// handed out as they arrive; an unfinished one is kept for the next piece, up to the limit.
#[derive(Debug)]
pub struct LineSplitter {
    buf: Vec<u8>,
    /// Bytes of an over-long line being skipped to its newline (0: none).
    skipping: u64,
    max: usize,
    n: usize,
}

impl LineSplitter {
    pub fn new(max: usize) -> LineSplitter {
        LineSplitter {
            buf: Vec::new(),
            skipping: 0,
            max,
            n: 0,
        }
    }

    /// The number of the last complete line handed out (1-based).
    pub fn line_number(&self) -> usize {
        self.n
    }

    /// Start again from line 1 with nothing pending (a truncated or rotated file).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.skipping = 0;
        self.n = 0;
    }

    /// Feed the next piece; `each` gets every line it completes, with its number.
    pub fn push(&mut self, mut piece: &[u8], mut each: impl FnMut(usize, Line<'_>)) {
        while !piece.is_empty() {
            let (content, rest, ended) = match memchr::memchr(b'\n', piece) {
                Some(i) => (&piece[..i], &piece[i + 1..], true),
                None => (piece, &[][..], false),
            };
            piece = rest;
            if self.skipping > 0 || self.buf.len() + content.len() > self.max {
                self.skipping += (self.buf.len() + content.len()) as u64;
                self.buf.clear();
            } else {
                self.buf.extend_from_slice(content);
            }
            if ended {
                self.n += 1;
                if self.skipping > 0 {
                    let bytes = std::mem::take(&mut self.skipping);
                    each(
                        self.n,
                        Err(Skip::TooLong {
                            bytes,
                            max: self.max as u64,
                        }),
                    );
                } else {
                    each(self.n, text(&self.buf));
                    self.buf.clear();
                }
            }
        }
    }

    /// The last line, when the stream ended without a newline after it.
    pub fn finish(&mut self, each: impl FnMut(usize, Line<'_>)) {
        if !self.buf.is_empty() || self.skipping > 0 {
            self.push(b"\n", each);
        }
    }
}

/// The lines of a whole message (a NATS message, a webhook body), with their numbers.
pub fn split(bytes: &[u8], max: usize, mut each: impl FnMut(usize, Line<'_>)) {
    let mut s = LineSplitter::new(max);
    s.push(bytes, &mut each);
    s.finish(each);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(l: Line<'_>) -> Result<String, Skip> {
        l.map(str::to_string)
    }

    fn read_all(bytes: &[u8], max: usize) -> Vec<(usize, Result<String, Skip>)> {
        // A tiny buffer, so lines cross reads.
        let mut r = LineReader::new(io::BufReader::with_capacity(3, bytes), max);
        let mut out = Vec::new();
        while let Some((n, l)) = r.next_line().unwrap() {
            out.push((n, owned(l)));
        }
        out
    }

    fn split_all(bytes: &[u8], max: usize, piece: usize) -> Vec<(usize, Result<String, Skip>)> {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        for p in bytes.chunks(piece) {
            s.push(p, |n, l| out.push((n, owned(l))));
        }
        s.finish(|n, l| out.push((n, owned(l))));
        out
    }

    const INPUT: &[u8] = b"one\r\ntw\xffo\n\nthis line is too long\nfive";

    fn expected() -> Vec<(usize, Result<String, Skip>)> {
        vec![
            (1, Ok("one".into())),
            (2, Err(Skip::NotUtf8)),
            (3, Ok("".into())),
            (4, Err(Skip::TooLong { bytes: 21, max: 10 })),
            (5, Ok("five".into())),
        ]
    }

    #[test]
    fn a_bad_line_costs_that_line_and_numbering_goes_on() {
        assert_eq!(read_all(INPUT, 10), expected());
        for piece in [1, 2, 5, 100] {
            assert_eq!(split_all(INPUT, 10, piece), expected(), "pieces of {piece}");
        }
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_kept() {
        assert_eq!(
            read_all(b"0123456789\n", 10),
            vec![(1, Ok("0123456789".into()))]
        );
        assert_eq!(
            split_all(b"0123456789\n", 10, 4),
            vec![(1, Ok("0123456789".into()))]
        );
    }

    #[test]
    fn an_endless_line_holds_no_more_than_the_limit() {
        let endless = io::BufReader::new(io::repeat(b'x').take(50 << 20));
        let mut r = LineReader::new(endless, 1 << 20);
        let (n, l) = r.next_line().unwrap().unwrap();
        assert_eq!(
            (n, l),
            (
                1,
                Err(Skip::TooLong {
                    bytes: 50 << 20,
                    max: 1 << 20
                })
            )
        );
        assert!(r.buf.capacity() <= 2 << 20, "{}", r.buf.capacity());
        let mut s = LineSplitter::new(1 << 20);
        for _ in 0..50 {
            s.push(&[b'x'; 1 << 20], |_, _| panic!("no line yet"));
        }
        assert!(s.buf.capacity() <= 2 << 20);
    }

    #[test]
    fn a_document_is_the_first_line_and_the_rest_within_the_limit() {
        let mut r = LineReader::new(&b"{\n  \"a\": 1\n}\n"[..], 100);
        r.next_line().unwrap();
        assert_eq!(r.rest_as_document().unwrap(), Ok("{\n  \"a\": 1\n}\n"));
        let mut r = LineReader::new(&b"[\n1,\n2,\n3]"[..], 6);
        r.next_line().unwrap();
        assert_eq!(
            r.rest_as_document().unwrap(),
            Err(Skip::TooLong { bytes: 10, max: 6 })
        );
    }

    proptest::proptest! {
        /// Streams and files cut the same lines, whatever pieces the bytes come in.
        #[test]
        fn the_splitter_cuts_the_lines_the_reader_reads(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b'\n'),
                    proptest::strategy::Just(b'\r'),
                    proptest::strategy::Just(0xffu8),
                    proptest::strategy::Just(b'a'),
                    proptest::prelude::any::<u8>(),
                ],
                0..300,
            ),
            max in 1usize..40,
            piece in 1usize..50,
        ) {
            proptest::prop_assert_eq!(read_all(&bytes, max), split_all(&bytes, max, piece));
        }
    }
}
