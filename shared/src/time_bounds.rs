//! Plausible event times: the window an `event_time` (or a tombstone's removal time) must fall in to be
//! stored. An event dated far ahead would win newest-wins forever; one older than retention would create a
//! history partition that retention drops anyway. Both are refused as `event_time_out_of_range`.

use chrono::{DateTime, Datelike, Months, TimeDelta, TimeZone, Utc};

use crate::codec::{RejectReason, Rejection};

/// Default of `INGEST_MAX_FUTURE_SKEW_SECONDS`: how far ahead of the clock an event may be dated.
pub const DEFAULT_MAX_FUTURE_SKEW_SECONDS: u64 = 900;

/// The first instant retention keeps: the start of the month `months` before the current one (whole months
/// only, so retention drops whole partitions).
pub fn retention_cutoff(now: DateTime<Utc>, months: u32) -> Option<DateTime<Utc>> {
    let month_start = Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single()?;
    month_start.checked_sub_months(Months::new(months))
}

/// The configured limits (`INGEST_MAX_FUTURE_SKEW_SECONDS`, `HISTORY_RETENTION_MONTHS`), independent of
/// the clock; [`TimeLimits::bounds_at`] turns them into the window of one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeLimits {
    pub max_future_skew_seconds: u64,
    /// 0: no retention, hence no lower bound (historical replays keep working).
    pub retention_months: u32,
}

impl Default for TimeLimits {
    fn default() -> Self {
        Self { max_future_skew_seconds: DEFAULT_MAX_FUTURE_SKEW_SECONDS, retention_months: 0 }
    }
}

impl TimeLimits {
    /// The window at `now`: up to `now` plus the skew, from the retention horizon when retention is set.
    pub fn bounds_at(&self, now: DateTime<Utc>) -> TimeBounds {
        let skew = TimeDelta::try_seconds(i64::try_from(self.max_future_skew_seconds).unwrap_or(i64::MAX));
        let latest = skew.and_then(|s| now.checked_add_signed(s)).map(|t| (t, self.max_future_skew_seconds));
        let earliest = (self.retention_months > 0)
            .then(|| retention_cutoff(now, self.retention_months))
            .flatten()
            .map(|t| (t, self.retention_months));
        TimeBounds { latest, earliest }
    }
}

/// The window of accepted times for one invocation. Both ends are inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeBounds {
    /// The latest accepted time and the skew (seconds) it came from.
    latest: Option<(DateTime<Utc>, u64)>,
    /// The retention horizon and the months it came from.
    earliest: Option<(DateTime<Utc>, u32)>,
}

impl TimeBounds {
    /// No bounds at all (a replay that must store what it is given).
    pub const UNBOUNDED: TimeBounds = TimeBounds { latest: None, earliest: None };

    /// The latest accepted time, if bounded.
    pub fn latest(&self) -> Option<DateTime<Utc>> {
        self.latest.map(|(t, _)| t)
    }

    /// The earliest accepted time (the retention horizon), if bounded.
    pub fn earliest(&self) -> Option<DateTime<Utc>> {
        self.earliest.map(|(t, _)| t)
    }

    /// Refuses `time` (read from `field`) outside the window, saying which bound and by how much.
    pub fn check(&self, field: &str, time: DateTime<Utc>) -> Result<(), Rejection> {
        if let Some((latest, skew)) = self.latest
            && time > latest
        {
            return Err(Rejection::new(
                RejectReason::EventTimeOutOfRange,
                Some(field),
                format!(
                    "{field} {} is {} after the latest accepted time {} (the clock plus \
                     INGEST_MAX_FUTURE_SKEW_SECONDS={skew})",
                    crate::storage::rfc3339::format(&time),
                    span(time - latest),
                    crate::storage::rfc3339::format(&latest),
                ),
            ));
        }
        if let Some((earliest, months)) = self.earliest
            && time < earliest
        {
            return Err(Rejection::new(
                RejectReason::EventTimeOutOfRange,
                Some(field),
                format!(
                    "{field} {} is {} before the retention horizon {} (HISTORY_RETENTION_MONTHS={months})",
                    crate::storage::rfc3339::format(&time),
                    span(earliest - time),
                    crate::storage::rfc3339::format(&earliest),
                ),
            ));
        }
        Ok(())
    }
}

/// A positive span for a message: seconds, with days when it is long.
fn span(d: TimeDelta) -> String {
    let micros = d.num_microseconds();
    let secs = d.num_seconds();
    match micros {
        Some(us) if secs == 0 => format!("{us} µs"),
        _ if secs < 86_400 => format!("{secs} s"),
        _ => format!("{secs} s ({} days)", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn retention_keeps_whole_months() {
        let now = Utc.with_ymd_and_hms(2026, 3, 17, 9, 30, 0).unwrap();
        assert_eq!(retention_cutoff(now, 1), Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).single());
        assert_eq!(retention_cutoff(now, 12), Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).single());
        assert_eq!(retention_cutoff(now, 0), Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).single());
    }

    #[test]
    fn the_upper_bound_is_the_clock_plus_the_skew_inclusive() {
        let now = utc("2026-12-01T12:00:00Z");
        let bounds = TimeLimits::default().bounds_at(now);
        assert_eq!(bounds.latest(), Some(utc("2026-12-01T12:15:00Z")));
        assert_eq!(bounds.earliest(), None, "no retention, no lower bound");
        assert!(bounds.check("event_time", utc("2026-12-01T12:15:00Z")).is_ok());
        assert!(bounds.check("event_time", utc("1013-01-01T00:00:00Z")).is_ok());
        let r = bounds.check("event_time", utc("2026-12-01T12:15:01Z")).unwrap_err();
        assert_eq!((r.reason, r.field.as_deref()), (RejectReason::EventTimeOutOfRange, Some("event_time")));
        assert!(r.detail.contains("1 s after the latest accepted time 2026-12-01T12:15:00Z"), "{}", r.detail);
        assert!(r.detail.contains("INGEST_MAX_FUTURE_SKEW_SECONDS=900"), "{}", r.detail);
        let r = bounds.check("event_time", utc("9999-12-31T00:00:00Z")).unwrap_err();
        assert!(r.detail.contains("days)"), "{}", r.detail);
    }

    #[test]
    fn retention_sets_the_lower_bound_at_its_horizon() {
        let now = utc("2026-12-01T12:00:00Z");
        let bounds = TimeLimits { max_future_skew_seconds: 0, retention_months: 6 }.bounds_at(now);
        assert_eq!(bounds.earliest(), Some(utc("2026-06-01T00:00:00Z")));
        assert_eq!(bounds.latest(), Some(now));
        assert!(bounds.check("timestamp", utc("2026-06-01T00:00:00Z")).is_ok());
        let r = bounds.check("timestamp", utc("2026-05-31T23:00:00Z")).unwrap_err();
        assert_eq!((r.reason, r.field.as_deref()), (RejectReason::EventTimeOutOfRange, Some("timestamp")));
        assert!(r.detail.contains("3600 s before the retention horizon 2026-06-01T00:00:00Z"), "{}", r.detail);
        assert!(r.detail.contains("HISTORY_RETENTION_MONTHS=6"), "{}", r.detail);
    }

    #[test]
    fn an_unrepresentable_skew_means_no_upper_bound_and_unbounded_accepts_anything() {
        let bounds = TimeLimits { max_future_skew_seconds: u64::MAX, retention_months: 0 }.bounds_at(Utc::now());
        assert_eq!(bounds.latest(), None);
        assert!(TimeBounds::UNBOUNDED.check("event_time", utc("9999-12-31T00:00:00Z")).is_ok());
    }
}
