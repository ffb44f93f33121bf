//! Request times: the ISO 8601 basic form SigV4 signs (`20150830T123600Z`) and the HTTP
//! `Date` header forms clients fall back to (IMF-fixdate, and botocore's RFC 2822 `-0000`).

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// `YYYYMMDDTHHMMSSZ`, the form used in `X-Amz-Date` and the string to sign.
pub(crate) fn format_amz_date(t: OffsetDateTime) -> String {
    let t = t.checked_to_offset(UtcOffset::UTC).unwrap_or(t);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn build(
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> Option<PrimitiveDateTime> {
    let year = i32::try_from(year).ok()?;
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()?;
    let time = Time::from_hms(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time))
}

/// Parses exactly `YYYYMMDDTHHMMSSZ`.
pub(crate) fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    if s.len() != 16 || !s.is_ascii() {
        return None;
    }
    let (date, rest) = s.split_at(8);
    let (t, rest) = rest.split_at(1);
    let (clock, z) = rest.split_at(6);
    if t != "T" || z != "Z" {
        return None;
    }
    let (year, md) = date.split_at(4);
    let (month, day) = md.split_at(2);
    let (hour, ms) = clock.split_at(2);
    let (minute, second) = ms.split_at(2);
    build(
        digits(year)?,
        digits(month)?,
        digits(day)?,
        digits(hour)?,
        digits(minute)?,
        digits(second)?,
    )
    .map(PrimitiveDateTime::assume_utc)
}

fn month_from_name(name: &str) -> Option<u32> {
    const NAMES: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = name.to_ascii_lowercase();
    NAMES
        .iter()
        .position(|m| *m == lower)
        .and_then(|i| u32::try_from(i + 1).ok())
}

fn zone_offset(zone: &str) -> Option<UtcOffset> {
    match zone {
        "GMT" | "UT" | "UTC" | "Z" => return Some(UtcOffset::UTC),
        _ => {}
    }
    let (sign, hhmm) = match zone.split_at_checked(1)? {
        ("+", rest) => (1i8, rest),
        ("-", rest) => (-1i8, rest),
        _ => return None,
    };
    if hhmm.len() != 4 {
        return None;
    }
    let (hh, mm) = hhmm.split_at_checked(2)?;
    let hours = i8::try_from(digits(hh)?).ok()?;
    let minutes = i8::try_from(digits(mm)?).ok()?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()
}

/// Parses an HTTP `Date` header: `Sun, 06 Nov 1994 08:49:37 GMT`, or the RFC 2822 form
/// botocore writes (`Sun, 30 Aug 2015 12:36:00 -0000`). The weekday is optional and unchecked.
pub(crate) fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    let s = match s.split_once(',') {
        Some((_weekday, rest)) => rest,
        None => s,
    };
    let mut fields = s.split_ascii_whitespace();
    let day = digits(fields.next()?)?;
    let month = month_from_name(fields.next()?)?;
    let year = digits(fields.next()?)?;
    let mut clock = fields.next()?.split(':');
    let hour = digits(clock.next()?)?;
    let minute = digits(clock.next()?)?;
    let second = digits(clock.next()?)?;
    let offset = zone_offset(fields.next()?)?;
    if clock.next().is_some() || fields.next().is_some() || !(1000..=9999).contains(&year) {
        return None;
    }
    build(year, month, day, hour, minute, second)?
        .assume_offset(offset)
        .checked_to_offset(UtcOffset::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn amz_date_round_trips() {
        let t = datetime!(2015-08-30 12:36:00 UTC);
        assert_eq!(format_amz_date(t), "20150830T123600Z");
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(t));
    }

    #[test]
    fn amz_date_rejects_near_misses() {
        for bad in [
            "",
            "20150830T123600",
            "20150830T123600z",
            "2015-08-30T12:36:00Z",
            "20151330T123600Z",
            "20150230T123600Z",
            "20150830T253600Z",
            "2015083OT123600Z",
            "+0150830T123600Z",
            "20150830T12360ሴZ",
            "ሴሴሴሴሴT12Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn http_dates() {
        let t = datetime!(2015-08-30 12:36:00 UTC);
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"), Some(t));
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 -0000"), Some(t));
        assert_eq!(parse_http_date("30 Aug 2015 14:36:00 +0200"), Some(t));
        for bad in [
            "",
            "Sun, 30 Aug 2015",
            "Sun, 30 Foo 2015 12:36:00 GMT",
            "Sun, 30 Aug 2015 12:36 GMT",
            "Sun, 30 Aug 2015 12:36:00 PST",
            "Sun, 30 Aug 2015 12:36:00 +2400",
            "Sun, 30 Aug 15 12:36:00 GMT",
            "Sun, 30 Aug 2015 12:36:00:00 GMT",
            "Sun, 30 Aug 2015 12:36:00 GMT extra",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }
}
