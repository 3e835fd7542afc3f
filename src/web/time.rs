//! Times are stored in UTC and shown in Tucumán's time zone.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::America::Argentina::Tucuman;

/// Current time, truncated to microseconds so it round-trips identically on both backends.
pub fn now() -> DateTime<Utc> {
    let t = Utc::now();
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// "26/11/2026 08:31" in Tucumán time.
pub fn local(t: &DateTime<Utc>) -> String {
    t.with_timezone(&Tucuman)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

/// "26/11/2026".
pub fn date(d: &NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// Value for an `<input type="datetime-local">` in Tucumán time.
pub fn local_input(t: &DateTime<Utc>) -> String {
    t.with_timezone(&Tucuman)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// Parses an `<input type="datetime-local">` value given in Tucumán time.
pub fn parse_local_input(s: &str) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    Tucuman
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// Parses a `YYYY-MM-DD` date (what `<input type="date">` sends).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_input_round_trips_in_tucuman_time() {
        let t = parse_local_input("2026-03-01T09:30").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-01T12:30:00+00:00");
        assert_eq!(local_input(&t), "2026-03-01T09:30");
    }
}
