//! `WHEA_TIMESTAMP` / the CPER timestamp: Seconds, Minutes, Hours, Flags (bit 0 precise), Day,
//! Month, Year, Century, one byte each. UEFI says BCD, Windows writes binary: both readings are
//! tried and the one that gives a valid date wins (binary first, as the dumps are Windows').

use serde::Serialize;

/// Which reading of the timestamp bytes gave a valid date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampEncoding {
    /// Plain binary bytes (what Windows writes).
    Binary,
    /// Binary-coded decimal (what the UEFI specification says).
    Bcd,
    /// Neither reading is a date.
    Invalid,
}

/// A decoded record timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WheaTimestamp {
    /// The 8 raw bytes as a little-endian u64.
    pub raw: u64,
    /// Flags bit 0: the time is precise (the time of the error, not of the report).
    pub precise: bool,
    /// Which reading was used.
    pub encoding: TimestampEncoding,
    /// `YYYY-MM-DDTHH:MM:SSZ` (no time zone is recorded; Windows writes UTC).
    pub iso8601: Option<String>,
    /// Seconds since 1970-01-01.
    pub unix_seconds: Option<i64>,
    /// The same instant as a FILETIME (100 ns units since 1601-01-01), as Windows event logs use.
    pub filetime: Option<u64>,
}

struct Fields {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

fn from_bcd(b: u8) -> Option<u32> {
    let (hi, lo) = (u32::from(b >> 4), u32::from(b & 0xF));
    (hi < 10 && lo < 10).then_some(hi * 10 + lo)
}

fn read(bytes: [u8; 8], bcd: bool) -> Option<Fields> {
    let conv = |b: u8| if bcd { from_bcd(b) } else { Some(u32::from(b)) };
    let [s, mi, h, _flags, d, mo, y, c] = bytes;
    let f = Fields {
        second: conv(s)?,
        minute: conv(mi)?,
        hour: conv(h)?,
        day: conv(d)?,
        month: conv(mo)?,
        year: i64::from(conv(c)?) * 100 + i64::from(conv(y)?),
    };
    let valid = (1970..2200).contains(&f.year)
        && (1..=12).contains(&f.month)
        && f.day >= 1
        && f.day <= days_in_month(f.year, f.month)
        && f.hour < 24
        && f.minute < 60
        && f.second < 61;
    valid.then_some(f)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl WheaTimestamp {
    /// Decodes the 8 timestamp bytes (given as the little-endian u64 at record offset 24).
    pub fn decode(raw: u64) -> WheaTimestamp {
        let bytes = raw.to_le_bytes();
        let precise = bytes.get(3).is_some_and(|f| f & 1 == 1);
        let (encoding, fields) = match (read(bytes, false), read(bytes, true)) {
            (Some(f), _) => (TimestampEncoding::Binary, Some(f)),
            (None, Some(f)) => (TimestampEncoding::Bcd, Some(f)),
            (None, None) => (TimestampEncoding::Invalid, None),
        };
        let unix_seconds = fields.as_ref().map(|f| {
            days_from_civil(f.year, f.month, f.day) * 86_400
                + i64::from(f.hour * 3600 + f.minute * 60 + f.second)
        });
        WheaTimestamp {
            raw,
            precise,
            encoding,
            iso8601: fields.map(|f| {
                format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                    f.year, f.month, f.day, f.hour, f.minute, f.second
                )
            }),
            unix_seconds,
            filetime: unix_seconds
                .and_then(|s| u64::try_from(s + 11_644_473_600).ok())
                .map(|s| s * 10_000_000),
        }
    }
}
