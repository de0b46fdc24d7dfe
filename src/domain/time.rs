//! Timestamps: stored as milliseconds since the Unix epoch, rendered as the contract's
//! `YYYY-MM-DDTHH:MM:SS.mmmZ`.

use chrono::{DateTime, SecondsFormat, Utc};

pub fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

pub fn render_millis(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_exactly_three_fractional_digits_in_utc() {
        assert_eq!(render_millis(1_426_191_900_760), "2015-03-12T20:25:00.760Z");
        assert_eq!(render_millis(1_426_191_900_000), "2015-03-12T20:25:00.000Z");
    }
}
