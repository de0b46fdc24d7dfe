//! A permission's window: `startsAt` (any RFC 3339 timestamp) and `duration` in seconds.

use chrono::DateTime;

use super::Invalid;

/// Ten years of 365.25 days.
pub const MAX_DURATION_SECS: i64 = 315_576_000;

pub fn parse_duration(raw: &str) -> Result<i64, Invalid> {
    let raw = raw.trim();
    let invalid = || {
        Invalid::new(
            "duration",
            format!("duration must be a whole number of seconds from 1 to {MAX_DURATION_SECS} (10 years), e.g. 3600 for one hour"),
        )
    };
    let secs: i64 = raw.parse().map_err(|_| invalid())?;
    if !(1..=MAX_DURATION_SECS).contains(&secs) {
        return Err(invalid());
    }
    Ok(secs)
}

/// Milliseconds since the epoch of an RFC 3339 timestamp in any offset.
pub fn parse_starts_at(raw: &str) -> Result<i64, Invalid> {
    let raw = raw.trim();
    // `curl -d startsAt=2030-01-01T10:00:00+01:00` sends a bare '+', which form decoding turns
    // into a space. No RFC 3339 form has a space before its offset, so " HH:MM" at the end can
    // only be that lost '+'.
    let restored;
    let raw = match raw.len().checked_sub(6).map(|i| raw.split_at(i)) {
        Some((time, offset))
            if offset.starts_with(' ')
                && offset[1..].bytes().enumerate().all(|(i, b)| {
                    if i == 2 {
                        b == b':'
                    } else {
                        b.is_ascii_digit()
                    }
                }) =>
        {
            restored = format!("{time}+{}", &offset[1..]);
            restored.as_str()
        }
        _ => raw,
    };
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            Invalid::new(
                "startsAt",
                "startsAt must be an RFC 3339 timestamp, e.g. 2030-01-01T09:00:00Z or 2030-01-01T10:00:00+01:00",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_whole_seconds_up_to_ten_years() {
        assert_eq!(parse_duration("3600").unwrap(), 3600);
        assert_eq!(parse_duration("315576000").unwrap(), MAX_DURATION_SECS);
        for bad in [
            "0",
            "-5",
            "1.5",
            "abc",
            "",
            "315576001",
            "99999999999999999999",
        ] {
            assert_eq!(
                parse_duration(bad).unwrap_err().argument,
                "duration",
                "{bad}"
            );
        }
    }

    #[test]
    fn starts_at_accepts_any_offset() {
        assert_eq!(
            parse_starts_at("2030-01-01T02:00:00+02:00").unwrap(),
            parse_starts_at("2030-01-01T00:00:00Z").unwrap()
        );
        assert_eq!(
            parse_starts_at("2030-01-01T02:00:00 02:00").unwrap(),
            parse_starts_at("2030-01-01T00:00:00Z").unwrap(),
            "a '+' lost to form decoding"
        );
        assert!(parse_starts_at("2030-01-01").is_err());
        assert!(parse_starts_at("2030-01-01T02:00:00 0200").is_err());
        assert!(parse_starts_at("tomorrow").is_err());
    }
}
