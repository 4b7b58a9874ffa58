//! The byte formats of the share's text files: Windows-1252, count.txt, hits.log / crash.log
//! lines and their timestamps (MS-CER 2.2.1, 2.2.2; cer-share.md rules 4, 5, 10, 12).
//!
//! Writers produce exactly one form; readers accept damage and say where it is, because a share
//! is also written by Windows clients, people and editors.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// A line of a share file that is damaged or not honoured, with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineIssue {
    /// 1-based line number in the file.
    pub line: usize,
    /// The line as read (decoded from Windows-1252), without its terminator.
    pub text: String,
    /// What is wrong or what was done about it.
    pub reason: String,
}

/// `line 3: <reason> ("<text>")`, the text cut to 60 characters: a damaged line can be
/// megabytes long, and the message names it, it does not reprint it.
impl std::fmt::Display for LineIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 60;
        let mut shown: String = self.text.chars().take(SHOWN).collect();
        if self.text.chars().nth(SHOWN).is_some() {
            shown.push('…');
        }
        write!(f, "line {}: {} (\"{shown}\")", self.line, self.reason)
    }
}

/// Characters of a damaged line kept in a [`LineIssue`].
pub const MAX_ISSUE_CHARS: usize = 200;

impl LineIssue {
    pub(crate) fn new(line: usize, text: &str, reason: impl Into<String>) -> LineIssue {
        // A damaged line can be huge; its start says what it is.
        let text = match text.char_indices().nth(MAX_ISSUE_CHARS) {
            Some((end, _)) => format!("{}...", text.get(..end).unwrap_or_default()),
            None => text.to_owned(),
        };
        LineIssue {
            line,
            text,
            reason: reason.into(),
        }
    }
}

/// Windows-1252 code points for the bytes 0x80..=0x9F (`None` where the code page has none).
const CP1252_HIGH: [Option<char>; 32] = [
    Some('\u{20AC}'),
    None,
    Some('\u{201A}'),
    Some('\u{0192}'),
    Some('\u{201E}'),
    Some('\u{2026}'),
    Some('\u{2020}'),
    Some('\u{2021}'),
    Some('\u{02C6}'),
    Some('\u{2030}'),
    Some('\u{0160}'),
    Some('\u{2039}'),
    Some('\u{0152}'),
    None,
    Some('\u{017D}'),
    None,
    None,
    Some('\u{2018}'),
    Some('\u{2019}'),
    Some('\u{201C}'),
    Some('\u{201D}'),
    Some('\u{2022}'),
    Some('\u{2013}'),
    Some('\u{2014}'),
    Some('\u{02DC}'),
    Some('\u{2122}'),
    Some('\u{0161}'),
    Some('\u{203A}'),
    Some('\u{0153}'),
    None,
    Some('\u{017E}'),
    Some('\u{0178}'),
];

/// Encodes text as Windows-1252 ("ANSI", rule 10); characters it cannot encode become `?`.
pub fn encode_ansi(text: &str) -> Vec<u8> {
    text.chars().map(ansi_byte).collect()
}

fn ansi_byte(c: char) -> u8 {
    let code = u32::from(c);
    if code < 0x80 || (0xA0..=0xFF).contains(&code) {
        return u8::try_from(code).unwrap_or(b'?');
    }
    // The five bytes the code page leaves undefined round-trip as the same C1 code points.
    if matches!(code, 0x81 | 0x8D | 0x8F | 0x90 | 0x9D) {
        return u8::try_from(code).unwrap_or(b'?');
    }
    CP1252_HIGH
        .iter()
        .zip(0x80u8..)
        .find_map(|(mapped, byte)| (*mapped == Some(c)).then_some(byte))
        .unwrap_or(b'?')
}

/// Decodes Windows-1252 bytes; the five undefined bytes map to the same C1 code points.
pub fn decode_ansi(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => CP1252_HIGH
                .get(usize::from(b - 0x80))
                .copied()
                .flatten()
                .unwrap_or(char::from(b)),
            _ => char::from(b),
        })
        .collect()
}

/// A calendar instant (UTC) written in the logs' `HH:MM:SS  MM-DD-YYYY` form (rule 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct CrashTime {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

fn days_in_month(year: u16, month: u8) -> u8 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl CrashTime {
    /// 1970-01-01 00:00:00, the last resort when no clock is readable.
    pub const EPOCH: CrashTime = CrashTime {
        year: 1970,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
    };

    /// A validated instant; `None` unless it is a real date in years 0..=9999 and a time of day.
    pub fn new(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Option<Self> {
        let valid = year <= 9999
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour < 24
            && minute < 60
            && second < 60;
        valid.then_some(CrashTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }

    /// The UTC instant `seconds` after the Unix epoch; `None` outside years 1970..=9999.
    pub fn from_unix_seconds(seconds: u64) -> Option<Self> {
        let days = i64::try_from(seconds / 86_400).ok()?;
        let secs = seconds % 86_400;
        let (year, month, day) = signatures::time::civil_from_days(days);
        CrashTime::new(
            u16::try_from(year).ok()?,
            u8::try_from(month).ok()?,
            u8::try_from(day).ok()?,
            u8::try_from(secs / 3600).ok()?,
            u8::try_from(secs % 3600 / 60).ok()?,
            u8::try_from(secs % 60).ok()?,
        )
    }

    /// The UTC instant of a file time (for example a dump's modification time).
    pub fn from_system_time(time: SystemTime) -> Option<Self> {
        let seconds = time.duration_since(UNIX_EPOCH).ok()?.as_secs();
        CrashTime::from_unix_seconds(seconds)
    }

    /// `HH:MM:SS  MM-DD-YYYY`, the first 20 bytes of a log line.
    pub fn log_stamp(&self) -> String {
        format!(
            "{:02}:{:02}:{:02}  {:02}-{:02}-{:04}",
            self.hour, self.minute, self.second, self.month, self.day, self.year
        )
    }

    fn parse_log_stamp(stamp: &str) -> Option<Self> {
        let b = stamp.as_bytes();
        let shape_ok = b.len() == 20
            && b.iter().enumerate().all(|(i, &c)| match i {
                2 | 5 => c == b':',
                8 | 9 => c == b' ',
                12 | 15 => c == b'-',
                _ => c.is_ascii_digit(),
            });
        if !shape_ok {
            return None;
        }
        let num = |range: std::ops::Range<usize>| stamp.get(range)?.parse::<u16>().ok();
        let small = |range| u8::try_from(num(range)?).ok();
        CrashTime::new(
            num(16..20)?,
            small(10..12)?,
            small(13..15)?,
            small(0..2)?,
            small(3..5)?,
            small(6..8)?,
        )
    }
}

/// Longest Machine item (MS-CER 2.2.2).
pub const MAX_MACHINE: usize = 15;
/// Longest User item (MS-CER 2.2.2).
pub const MAX_USER: usize = 256;
/// Longest hits.log FileName item (MS-CER 2.2.2.1).
pub const MAX_FILE_NAME: usize = 260;
/// Machine item when the machine name is unknown.
pub const UNKNOWN_MACHINE: &str = "UNKNOWN";
/// User item when the user is unknown.
pub const UNKNOWN_USER: &str = "unknown user";
/// hits.log FileName item when no report file was copied.
pub const NO_CAB: &str = "No CAB";

/// A log item: CR, LF and TAB removed, cut to `max` characters, `fallback` when empty.
pub(crate) fn log_item(value: Option<&str>, max: usize, fallback: &str) -> String {
    let cleaned: String = value
        .unwrap_or("")
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n' | '\t'))
        .take(max)
        .collect();
    if cleaned.is_empty() {
        fallback.to_owned()
    } else {
        cleaned
    }
}

/// One hits.log or crash.log line in ANSI, CRLF included. Items must already be clean.
pub(crate) fn log_line(time: &CrashTime, machine: &str, user: &str, last: &str) -> Vec<u8> {
    let text = format!("{}\t{machine}\t{user}\t{last}\r\n", time.log_stamp());
    encode_ansi(&text)
}

/// Which log a line comes from: the last item differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    /// `cabs\<subpath>\hits.log`: the last item is a report file name or `No CAB`.
    Hits,
    /// `crash.log`: the last item is a BucketID or an error subpath.
    Crash,
}

/// One well-formed log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// When the report was generated.
    pub time: CrashTime,
    /// Machine item.
    pub machine: String,
    /// User item.
    pub user: String,
    /// FileName (hits.log) or BucketID / error subpath (crash.log).
    pub item: String,
}

/// Parses one log line (without CRLF); `Err` says why it does not conform to MS-CER 2.2.2.
pub fn parse_log_line(line: &str, kind: LogKind) -> Result<LogEntry, &'static str> {
    let (stamp, rest) = match (line.get(..20), line.get(20..)) {
        (Some(s), Some(r)) => (s, r),
        _ => return Err("too short for `HH:MM:SS  MM-DD-YYYY`"),
    };
    let time = CrashTime::parse_log_stamp(stamp).ok_or("bad time or date")?;
    let rest = rest.strip_prefix('\t').ok_or("no TAB after the date")?;
    let items: Vec<&str> = rest.split('\t').collect();
    let [machine, user, item] = items.as_slice() else {
        return Err("not exactly three TAB-separated items after the date");
    };
    if machine.is_empty() || machine.chars().count() > MAX_MACHINE {
        return Err("Machine is not 1..15 characters");
    }
    if user.is_empty() || user.chars().count() > MAX_USER {
        return Err("User is not 1..256 characters");
    }
    if item.is_empty() {
        return Err("last item is empty");
    }
    if kind == LogKind::Hits && item.chars().count() > MAX_FILE_NAME {
        return Err("FileName is longer than 260 characters");
    }
    if [machine, user, item]
        .iter()
        .any(|s| s.contains(['\r', '\n']))
    {
        return Err("CR or LF inside an item");
    }
    Ok(LogEntry {
        time,
        machine: (*machine).to_owned(),
        user: (*user).to_owned(),
        item: (*item).to_owned(),
    })
}

/// Splits a CRLF log into lines; returns `(line number, text)` pairs and framing damage.
#[cfg(test)]
pub(crate) fn split_crlf(bytes: &[u8]) -> (Vec<(usize, String)>, Vec<LineIssue>) {
    split_crlf_text(&decode_ansi(bytes))
}

/// [`split_crlf`] for text already decoded.
#[cfg(test)]
pub(crate) fn split_crlf_text(text: &str) -> (Vec<(usize, String)>, Vec<LineIssue>) {
    let mut lines = Vec::new();
    let mut issues = Vec::new();
    let mut rest = text;
    let mut number = 0;
    while !rest.is_empty() {
        number += 1;
        match rest.find("\r\n") {
            Some(end) => {
                let line = rest.get(..end).unwrap_or("");
                if line.contains('\n') {
                    issues.push(LineIssue::new(
                        number,
                        line,
                        "LF without CR inside the line",
                    ));
                } else {
                    lines.push((number, line.to_owned()));
                }
                rest = rest.get(end + 2..).unwrap_or("");
            }
            None => {
                issues.push(LineIssue::new(
                    number,
                    rest,
                    "last line has no CRLF (an interrupted write?)",
                ));
                rest = "";
            }
        }
    }
    (lines, issues)
}

/// The two counters of a count.txt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// `Cabs Gathered=`: report files copied for the bucket.
    pub cabs_gathered: u64,
    /// `Total Hits=`: reports counted for the bucket.
    pub total_hits: u64,
}

impl Counts {
    /// The exact bytes of count.txt (rule 4).
    pub fn to_file_bytes(self) -> Vec<u8> {
        format!(
            "Cabs Gathered={}\r\nTotal Hits={}\r\n",
            self.cabs_gathered, self.total_hits
        )
        .into_bytes()
    }
}

/// count.txt as read: the counters it yields and every deviation from the strict form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountRead {
    /// `Cabs Gathered` if a value could be read.
    pub cabs_gathered: Option<u64>,
    /// `Total Hits` if a value could be read.
    pub total_hits: Option<u64>,
    /// Deviations, each with its line number (line 1 for a file-level problem).
    pub issues: Vec<LineIssue>,
}

impl CountRead {
    /// A count.txt that could not be read at all, for the one reason given.
    pub(crate) fn unreadable(issue: LineIssue) -> CountRead {
        CountRead {
            cabs_gathered: None,
            total_hits: None,
            issues: vec![issue],
        }
    }

    /// Both counters, if both could be read.
    pub fn counts(&self) -> Option<Counts> {
        Some(Counts {
            cabs_gathered: self.cabs_gathered?,
            total_hits: self.total_hits?,
        })
    }
}

/// Strict `1DIGIT / %x31-39 1*DIGIT`; `Some(n, canonical)` when it is digits at all.
fn parse_counter(value: &str) -> Option<(u64, bool)> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = value.parse::<u64>().ok()?;
    Some((n, value == n.to_string()))
}

/// Reads count.txt tolerantly: LF-only lines, a missing final CRLF, leading zeros and extra
/// lines are reported but the values are still taken.
pub fn parse_count(bytes: &[u8]) -> CountRead {
    let text = decode_ansi(bytes);
    let mut read = CountRead {
        cabs_gathered: None,
        total_hits: None,
        issues: Vec::new(),
    };
    if text.is_empty() {
        read.issues
            .push(LineIssue::new(1, "", "count.txt is empty"));
        return read;
    }
    let segments: Vec<&str> = text.split('\n').collect();
    let last = segments.len();
    for (index, segment) in segments.into_iter().enumerate() {
        let number = index + 1;
        if number == last {
            if !segment.is_empty() {
                read.issues
                    .push(LineIssue::new(number, segment, "last line has no CRLF"));
            } else {
                continue;
            }
        }
        let line = match segment.strip_suffix('\r') {
            Some(line) => line,
            None if number == last => segment,
            None => {
                read.issues
                    .push(LineIssue::new(number, segment, "LF without CR accepted"));
                segment
            }
        };
        let (slot, name, expected_line) = if let Some(v) = line.strip_prefix("Cabs Gathered=") {
            (&mut read.cabs_gathered, v, 1)
        } else if let Some(v) = line.strip_prefix("Total Hits=") {
            (&mut read.total_hits, v, 2)
        } else {
            read.issues
                .push(LineIssue::new(number, line, "not a count.txt entry"));
            continue;
        };
        if slot.is_some() {
            read.issues
                .push(LineIssue::new(number, line, "duplicate entry ignored"));
            continue;
        }
        match parse_counter(name) {
            Some((n, canonical)) => {
                *slot = Some(n);
                if !canonical {
                    read.issues
                        .push(LineIssue::new(number, line, "leading zeros accepted"));
                }
                if number != expected_line {
                    read.issues
                        .push(LineIssue::new(number, line, "entry out of place"));
                }
            }
            None => read.issues.push(LineIssue::new(
                number,
                line,
                "value is not a decimal integer",
            )),
        }
    }
    if read.total_hits == Some(0) {
        read.issues.push(LineIssue::new(
            2,
            "Total Hits=0",
            "Total Hits must not be 0",
        ));
    }
    for (value, name) in [
        (read.cabs_gathered.is_none(), "Cabs Gathered"),
        (read.total_hits.is_none(), "Total Hits"),
    ] {
        if value {
            read.issues.push(LineIssue::new(
                1,
                "",
                format!("no readable `{name}=` entry"),
            ));
        }
    }
    read
}
