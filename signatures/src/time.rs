//! Times as values: [`UtcTime`], the one calendar conversion of the workspace, and the RFC 3339
//! forms reports print. No date crate: the conversion is Howard Hinnant's, a dozen lines.

use std::fmt;

/// Seconds between 1601-01-01 (FILETIME's epoch) and 1970-01-01.
const FILETIME_UNIX_OFFSET: i64 = 11_644_473_600;
/// FILETIME ticks (100 ns) per second.
const TICKS_PER_SECOND: u64 = 10_000_000;

/// An instant in UTC as a dump records it: Unix seconds (minidump headers, to the second) or a
/// FILETIME (kernel dump headers, to 100 ns). Printed in RFC 3339 with the precision it came
/// with; its calendar parts are [`UtcTime::parts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTime {
    seconds: i64,
    /// 100 ns ticks within the second, when the source has them.
    ticks: Option<u32>,
}

impl UtcTime {
    /// Seconds since the Unix epoch.
    pub fn from_unix(seconds: i64) -> UtcTime {
        UtcTime {
            seconds,
            ticks: None,
        }
    }

    /// A FILETIME (100 ns ticks since 1601); `None` for 0 and values past the calendar.
    pub fn from_filetime(filetime: u64) -> Option<UtcTime> {
        if filetime == 0 {
            return None;
        }
        let seconds = i64::try_from(filetime / TICKS_PER_SECOND).ok()? - FILETIME_UNIX_OFFSET;
        let ticks = u32::try_from(filetime % TICKS_PER_SECOND).ok()?;
        Some(UtcTime {
            seconds,
            ticks: Some(ticks),
        })
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(self) -> i64 {
        self.seconds
    }

    /// `(year, month, day, hour, minute, second)`.
    pub fn parts(self) -> (i64, u32, u32, u32, u32, u32) {
        let (y, m, d) = civil_from_days(self.seconds.div_euclid(86_400));
        let secs = self.seconds.rem_euclid(86_400);
        // rem_euclid keeps it in 0..86400: the casts cannot truncate.
        let (h, mi, s) = (
            (secs / 3600) as u32,
            (secs % 3600 / 60) as u32,
            (secs % 60) as u32,
        );
        (y, m, d, h, mi, s)
    }
}

impl fmt::Display for UtcTime {
    /// `2020-08-17T06:28:28Z`, or `2011-01-10T03:12:45.0000000Z` for FILETIME precision.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d, h, mi, s) = self.parts();
        write!(f, "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}")?;
        if let Some(ticks) = self.ticks {
            write!(f, ".{ticks:07}")?;
        }
        f.write_str("Z")
    }
}

/// Written in its RFC 3339 form.
impl serde::Serialize for UtcTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC (`2020-08-17T06:28:28Z`).
pub fn rfc3339_from_unix(seconds: i64) -> String {
    UtcTime::from_unix(seconds).to_string()
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm). The one calendar conversion of the crate.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_from_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_from_unix(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn filetimes() {
        let t = UtcTime::from_filetime(116_444_736_000_000_000).unwrap();
        assert_eq!(t.to_string(), "1970-01-01T00:00:00.0000000Z");
        let t = UtcTime::from_filetime(125_963_876_965_000_001).unwrap();
        assert_eq!(t.to_string(), "2000-03-01T12:34:56.5000001Z");
        assert_eq!(t.parts(), (2000, 3, 1, 12, 34, 56));
        assert_eq!(UtcTime::from_filetime(0), None);
    }
}
