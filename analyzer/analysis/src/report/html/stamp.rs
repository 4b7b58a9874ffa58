//! Crash times as the report shows and bins them: RFC 3339 text to seconds and back, without a
//! date library.

/// A crash time: seconds since the Unix epoch (UTC), nanoseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(super) struct Stamp(pub(super) i64, pub(super) u32);

impl Stamp {
    pub(super) fn day(self) -> i64 {
        self.0.div_euclid(86_400)
    }
    pub(super) fn date(self) -> String {
        let (y, m, d) = civil_from_days(self.day());
        format!("{y:04}-{m:02}-{d:02}")
    }
    pub(super) fn display(self) -> String {
        let s = self.0.rem_euclid(86_400);
        format!(
            "{} {:02}:{:02}:{:02}",
            self.date(),
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    }
}

/// Parses the schema's RFC 3339 UTC times (`2011-01-10T03:12:45.0000000Z`); `None` otherwise.
pub(super) fn parse_time(s: &str) -> Option<Stamp> {
    let pattern = b"dddd-dd-ddTdd:dd:dd";
    let digit_or = |(p, c): (&u8, &u8)| {
        if *p == b'd' {
            c.is_ascii_digit()
        } else {
            p == c
        }
    };
    if s.len() <= pattern.len() || !pattern.iter().zip(s.as_bytes()).all(digit_or) {
        return None;
    }
    let num = |at: usize, len: usize| s.get(at..at + len)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, sec) = (
        num(0, 4)?,
        num(5, 2)?,
        num(8, 2)?,
        num(11, 2)?,
        num(14, 2)?,
        num(17, 2)?,
    );
    let frac = s.get(19..)?.strip_suffix(['Z', 'z'])?;
    let digits = if frac.is_empty() {
        ""
    } else {
        frac.strip_prefix('.')?
    };
    if digits.is_empty() != frac.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let nanos = format!("{:0<9}", digits.get(..9).unwrap_or(digits))
        .parse()
        .ok()?;
    let day = days_from_civil(y, mo, d);
    let valid = (1..=12).contains(&mo)
        && civil_from_days(day) == (y, mo, d)
        && h < 24
        && mi < 60
        && sec <= 60;
    valid.then_some(Stamp(day * 86_400 + h * 3600 + mi * 60 + sec, nanos))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (400-year eras, years starting in March).
pub(super) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day).
pub(super) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        yoe + era * 400 + i64::from(m <= 2),
        m,
        doy - (153 * mp + 2) / 5 + 1,
    )
}
