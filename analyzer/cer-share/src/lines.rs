//! Reading share text files line by line in bounded memory.
//!
//! A damaged log can be any size (a gigabyte of garbage without a line break is one "line"),
//! so lines are read from a buffered stream, only the first [`KEEP_BYTES`] of each are kept,
//! and a reader keeps at most [`MAX_EXAMPLES`] damaged lines as examples next to a count.

use std::io::{self, BufRead};

use super::text::{decode_ansi, LineIssue};

/// Bytes of one line kept; the protocol's lines are far shorter (a log line is at most about
/// 300 bytes), so a longer one is damaged anyway and only its start is worth showing.
pub(crate) const KEEP_BYTES: usize = 4096;

/// Damaged lines kept as examples per file; the rest are only counted.
pub const MAX_EXAMPLES: usize = 10;

/// One line as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    /// 1-based line number.
    pub(crate) number: usize,
    /// The line's text (its first [`KEEP_BYTES`] bytes), Windows-1252 decoded, without CRLF.
    pub(crate) text: String,
    /// What is wrong with the line's framing, if anything.
    pub(crate) framing: Option<&'static str>,
}

/// Splits a stream at CRLF, like [`super::text::split_crlf`], without holding more than one
/// line's [`KEEP_BYTES`].
pub(crate) struct CrlfLines<R> {
    reader: R,
    number: usize,
    done: bool,
    utf8: bool,
}

impl<R: BufRead> CrlfLines<R> {
    /// Lines of a CER protocol file (Windows-1252).
    pub(crate) fn new(reader: R) -> Self {
        CrlfLines {
            reader,
            number: 0,
            done: false,
            utf8: false,
        }
    }

    /// Lines of one of dumpsig's own files (UTF-8).
    pub(crate) fn utf8(reader: R) -> Self {
        CrlfLines {
            utf8: true,
            ..CrlfLines::new(reader)
        }
    }

    fn read_line(&mut self) -> io::Result<Option<Line>> {
        let mut kept: Vec<u8> = Vec::new();
        let mut total = 0usize;
        let mut last = 0u8;
        let mut bare_lf = false;
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                self.done = true;
                if total == 0 {
                    return Ok(None);
                }
                return Ok(Some(self.finish(kept, total, bare_lf, false)));
            }
            let mut used = chunk.len();
            let mut ended = false;
            for (i, &byte) in chunk.iter().enumerate() {
                if byte == b'\n' {
                    if last == b'\r' {
                        used = i + 1;
                        ended = true;
                        break;
                    }
                    bare_lf = true;
                }
                last = byte;
            }
            let take = chunk.get(..used).unwrap_or_default();
            let room = KEEP_BYTES.saturating_sub(kept.len());
            kept.extend_from_slice(take.get(..room.min(take.len())).unwrap_or_default());
            total = total.saturating_add(used);
            self.reader.consume(used);
            if ended {
                return Ok(Some(self.finish(kept, total, bare_lf, true)));
            }
        }
    }

    fn finish(&mut self, mut kept: Vec<u8>, total: usize, bare_lf: bool, ended: bool) -> Line {
        self.number += 1;
        let whole = total <= KEEP_BYTES;
        if ended && whole {
            kept.truncate(kept.len().saturating_sub(2)); // the CRLF
        }
        let framing = if !ended {
            Some("last line has no CRLF (an interrupted write?)")
        } else if bare_lf {
            Some("LF without CR inside the line")
        } else if !whole {
            Some("line far longer than any the protocol writes")
        } else {
            None
        };
        Line {
            number: self.number,
            text: if self.utf8 {
                String::from_utf8_lossy(&kept).into_owned()
            } else {
                decode_ansi(&kept)
            },
            framing,
        }
    }
}

impl<R: BufRead> Iterator for CrlfLines<R> {
    type Item = io::Result<Line>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.read_line().transpose()
    }
}

/// Damaged lines of one file: the first [`MAX_EXAMPLES`] kept, all counted.
#[derive(Debug, Default)]
pub(crate) struct Damage {
    pub(crate) examples: Vec<LineIssue>,
    pub(crate) count: usize,
    last_line: usize,
}

impl Damage {
    pub(crate) fn push(&mut self, number: usize, text: &str, reason: impl Into<String>) {
        self.count += 1;
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(LineIssue::new(number, text, reason));
        }
        self.last_line = number;
    }

    /// The examples, with one more issue saying how many were not kept.
    pub(crate) fn into_issues(mut self) -> Vec<LineIssue> {
        let more = self.count.saturating_sub(self.examples.len());
        if more > 0 {
            self.examples.push(LineIssue::new(
                self.last_line,
                "",
                format!("{more} more damaged lines not shown"),
            ));
        }
        self.examples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(bytes: &[u8]) -> Vec<(usize, String, Option<&'static str>)> {
        CrlfLines::new(io::BufReader::with_capacity(7, bytes))
            .map(|l| l.map(|l| (l.number, l.text, l.framing)))
            .collect::<io::Result<_>>()
            .unwrap()
    }

    #[test]
    fn splits_like_the_whole_file_reader() {
        for sample in [
            &b"a\r\nb\r\n"[..],
            b"a\r\nb",
            b"a\nb\r\nc\r\n",
            b"",
            b"\r\n\r\n",
            b"x\r",
            b"\r\r\n\n\r\n",
        ] {
            let (good, bad) = super::super::text::split_crlf(sample);
            let streamed = lines(sample);
            let stream_good: Vec<(usize, String)> = streamed
                .iter()
                .filter(|l| l.2.is_none())
                .map(|l| (l.0, l.1.clone()))
                .collect();
            let stream_bad: Vec<usize> = streamed
                .iter()
                .filter(|l| l.2.is_some())
                .map(|l| l.0)
                .collect();
            assert_eq!(stream_good, good, "{sample:?}");
            assert_eq!(
                stream_bad,
                bad.iter().map(|i| i.line).collect::<Vec<_>>(),
                "{sample:?}"
            );
        }
    }

    #[test]
    fn keeps_only_the_start_of_a_huge_line() {
        let mut huge = vec![b'x'; KEEP_BYTES * 5];
        huge.extend_from_slice(b"\r\nok\r\n");
        let read = lines(&huge);
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].1.len(), KEEP_BYTES);
        assert_eq!(
            read[0].2,
            Some("line far longer than any the protocol writes")
        );
        assert_eq!(read[1], (2, "ok".to_owned(), None));
    }

    #[test]
    fn damage_keeps_examples_and_counts_all() {
        let mut damage = Damage::default();
        for n in 0..1000 {
            damage.push(n, "bad", "why");
        }
        assert_eq!(damage.count, 1000);
        assert_eq!(damage.examples.len(), MAX_EXAMPLES);
    }
}
