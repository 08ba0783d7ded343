//! Cron schedules in UTC: the five classic fields (`minute hour day-of-month month
//! day-of-week`), with `*`, lists, ranges, steps, month and day names, and the `@daily`
//! family.
//!
//! When both day fields are restricted, a day matches if either does (as in Vixie cron and
//! Airflow's croniter). Times are minutes in UTC; there is no time-zone support, which keeps
//! "the day" of a run unambiguous.
//!
//! ```
//! use reel_pipeline::cron::Cron;
//! let weekly: Cron = "0 3 * * sun".parse().unwrap();
//! let t = "2025-04-09T12:00:00Z".parse().unwrap();
//! assert_eq!(weekly.next_after(t).unwrap().to_rfc3339(), "2025-04-13T03:00:00+00:00");
//! assert_eq!(weekly.prev_before(t).unwrap().to_rfc3339(), "2025-04-06T03:00:00+00:00");
//! assert!("0 25 * * *".parse::<Cron>().unwrap_err().contains("hour"));
//! ```
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    text: String,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_star: bool,
    weekdays_star: bool,
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn field(text: &str, what: &str, lo: u32, hi: u32, names: &[&str], name_base: u32) -> Result<(u64, bool), String> {
    let bad = |why: String| format!("cron {what} field {text:?}: {why}");
    let value = |s: &str| -> Result<u32, String> {
        let l = s.to_ascii_lowercase();
        if let Some(k) = names.iter().position(|n| *n == l) {
            return Ok(k as u32 + name_base);
        }
        s.parse::<u32>().map_err(|_| bad(format!("{s:?} is not a number{}", if names.is_empty() { "" } else { " or a name" })))
    };
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().map_err(|_| bad(format!("step {s:?} is not a number")))?;
                if step == 0 {
                    return Err(bad("a step of 0".into()));
                }
                (r, step)
            }
            None => (part, 1),
        };
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let a = value(range)?;
            (a, if step > 1 { hi } else { a })
        };
        // Day of week 7 is Sunday too.
        let (a, b) = if what == "day-of-week" { (a, b.min(7)) } else { (a, b) };
        let top = if what == "day-of-week" { 7 } else { hi };
        if a < lo || b > top || a > b {
            return Err(bad(format!("{range} is outside {lo}-{hi}")));
        }
        let mut v = a;
        while v <= b {
            let v7 = if what == "day-of-week" && v == 7 { 0 } else { v };
            bits |= 1 << v7;
            v += step;
        }
    }
    Ok((bits, text == "*"))
}

impl FromStr for Cron {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let expanded = match t {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            other if other.starts_with('@') => {
                return Err(format!("unknown cron macro {other:?}; use @hourly, @daily, @weekly, @monthly or @yearly"));
            }
            other => other,
        };
        let parts: Vec<&str> = expanded.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(format!(
                "cron {t:?} has {} fields; write five: minute hour day-of-month month day-of-week, e.g. \"0 6 * * *\"",
                parts.len()
            ));
        }
        let (minutes, _) = field(parts[0], "minute", 0, 59, &[], 0)?;
        let (hours, _) = field(parts[1], "hour", 0, 23, &[], 0)?;
        let (days, days_star) = field(parts[2], "day-of-month", 1, 31, &[], 0)?;
        let (months, _) = field(parts[3], "month", 1, 12, &MONTHS, 1)?;
        let (weekdays, weekdays_star) = field(parts[4], "day-of-week", 0, 6, &DAYS, 0)?;
        Ok(Cron { text: t.to_string(), minutes, hours, days, months, weekdays, days_star, weekdays_star })
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl serde::Serialize for Cron {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

fn has(bits: u64, v: u32) -> bool {
    bits & (1 << v) != 0
}

fn floor_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(t)
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
}

impl Cron {
    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn day_matches(&self, d: NaiveDate) -> bool {
        let dom = has(self.days, d.day());
        let dow = has(self.weekdays, d.weekday().num_days_from_sunday());
        match (self.days_star, self.weekdays_star) {
            (true, true) => true,
            (false, true) => dom,
            (true, false) => dow,
            (false, false) => dom || dow,
        }
    }

    /// Whether the schedule fires at minute `t` (seconds ignored).
    pub fn matches(&self, t: DateTime<Utc>) -> bool {
        has(self.months, t.month()) && self.day_matches(t.date_naive()) && has(self.hours, t.hour()) && has(self.minutes, t.minute())
    }

    /// The first firing strictly after `t` (within the next 8 years; `None` for a schedule
    /// that never fires, like `0 0 30 2 *`).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut c = floor_minute(t) + Duration::minutes(1);
        let limit = t + Duration::days(366 * 8);
        while c <= limit {
            let d = c.date_naive();
            if !has(self.months, c.month()) {
                let (y, m) = if c.month() == 12 { (c.year() + 1, 1) } else { (c.year(), c.month() + 1) };
                c = midnight(NaiveDate::from_ymd_opt(y, m, 1)?);
            } else if !self.day_matches(d) {
                c = midnight(d.succ_opt()?);
            } else if !has(self.hours, c.hour()) {
                c = floor_minute(c.with_minute(0)?) + Duration::hours(1);
            } else if !has(self.minutes, c.minute()) {
                c += Duration::minutes(1);
            } else {
                return Some(c);
            }
        }
        None
    }

    /// The last firing strictly before `t` (within the previous 8 years).
    pub fn prev_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let f = floor_minute(t);
        let mut c = if f == t { f - Duration::minutes(1) } else { f };
        let limit = t - Duration::days(366 * 8);
        while c >= limit {
            let d = c.date_naive();
            if !has(self.months, c.month()) {
                c = midnight(NaiveDate::from_ymd_opt(c.year(), c.month(), 1)?) - Duration::minutes(1);
            } else if !self.day_matches(d) {
                c = midnight(d) - Duration::minutes(1);
            } else if !has(self.hours, c.hour()) {
                c = floor_minute(c.with_minute(0)?) - Duration::minutes(1);
            } else if !has(self.minutes, c.minute()) {
                c -= Duration::minutes(1);
            } else {
                return Some(c);
            }
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn common_schedules() {
        let daily: Cron = "0 6 * * *".parse().unwrap();
        assert_eq!(daily.next_after(t("2025-04-09T06:00:00Z")), Some(t("2025-04-10T06:00:00Z")));
        assert_eq!(daily.next_after(t("2025-04-09T05:59:59Z")), Some(t("2025-04-09T06:00:00Z")));
        assert_eq!(daily.prev_before(t("2025-04-09T06:00:00Z")), Some(t("2025-04-08T06:00:00Z")));
        assert_eq!(daily.prev_before(t("2025-04-09T06:00:01Z")), Some(t("2025-04-09T06:00:00Z")));
        let every15: Cron = "*/15 9-17 * * mon-fri".parse().unwrap();
        assert_eq!(every15.next_after(t("2025-04-11T17:50:00Z")), Some(t("2025-04-14T09:00:00Z")), "friday evening to monday");
        let monthly: Cron = "@monthly".parse().unwrap();
        assert_eq!(monthly.next_after(t("2025-12-15T00:00:00Z")), Some(t("2026-01-01T00:00:00Z")));
        let sunday7: Cron = "0 0 * * 7".parse().unwrap();
        assert!(sunday7.matches(t("2025-04-13T00:00:00Z")));
        let either: Cron = "0 0 13 * fri".parse().unwrap();
        assert!(either.matches(t("2025-04-11T00:00:00Z")), "a friday");
        assert!(either.matches(t("2025-04-13T00:00:00Z")), "the 13th");
        let never: Cron = "0 0 30 2 *".parse().unwrap();
        assert_eq!(never.next_after(t("2025-01-01T00:00:00Z")), None);
        let leap: Cron = "0 0 29 2 *".parse().unwrap();
        assert_eq!(leap.next_after(t("2025-01-01T00:00:00Z")), Some(t("2028-02-29T00:00:00Z")));
    }

    #[test]
    fn bad_expressions_name_the_field() {
        for (e, needle) in [
            ("0 6 * *", "five"),
            ("60 * * * *", "minute"),
            ("0 24 * * *", "hour"),
            ("0 0 0 * *", "day-of-month"),
            ("0 0 * 13 *", "month"),
            ("0 0 * * 8", "day-of-week"),
            ("*/0 * * * *", "step of 0"),
            ("a * * * *", "not a number"),
            ("5-1 * * * *", "outside"),
            ("@often", "macro"),
        ] {
            let err = e.parse::<Cron>().unwrap_err();
            assert!(err.contains(needle), "{e}: {err}");
        }
        assert!("0 0 * jan,jul sat,sun".parse::<Cron>().is_ok());
    }

    fn expr() -> impl Strategy<Value = String> {
        let f = |lo: u32, hi: u32| {
            prop_oneof![
                Just("*".to_string()),
                (lo..=hi).prop_map(|v| v.to_string()),
                (lo..=hi, 1u32..5).prop_map(|(a, s)| format!("{a}/{s}")),
                (lo..=hi, lo..=hi).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
                (lo..=hi, lo..=hi).prop_map(|(a, b)| format!("{a},{b}")),
            ]
        };
        (f(0, 59), f(0, 23), f(1, 28), f(1, 12), f(0, 6)).prop_map(|(a, b, c, d, e)| format!("{a} {b} {c} {d} {e}"))
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<Cron>();
        }

        #[test]
        fn next_and_prev_are_neighbours(e in expr(), secs in 1_600_000_000i64..1_900_000_000) {
            let c: Cron = e.parse().unwrap();
            let at = Utc.timestamp_opt(secs, 0).unwrap();
            if let Some(n) = c.next_after(at) {
                prop_assert!(n > at && c.matches(n));
                // Nothing fires in between: the last firing before n is at or before `at`.
                prop_assert!(c.prev_before(n).is_none_or(|p| p <= at), "{e}: prev of {n} after {at}");
            }
            if let Some(p) = c.prev_before(at) {
                prop_assert!(p < at && c.matches(p));
                prop_assert!(c.next_after(p).is_none_or(|n| n >= at), "{e}: next of {p} before {at}");
            }
        }
    }
}
