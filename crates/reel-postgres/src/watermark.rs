//! Watermark values: the highest value of the watermark column loaded so far, as stored in
//! the catalog (text plus a kind) and as written back into the next extract's `WHERE`.
use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};

use crate::types::PgKind;
use crate::{Error, Result};

/// A watermark: a value of an orderable column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WatermarkValue {
    /// An integer column (`smallint`, `integer`, `bigint`).
    Int(i64),
    /// A `numeric` column: the unscaled value and its scale.
    Numeric {
        /// The value times 10^scale.
        unscaled: i128,
        /// Digits after the point.
        scale: i8,
    },
    /// A `date`: days since 1970-01-01.
    Date(i32),
    /// A `timestamp`: microseconds since 1970-01-01 00:00, no zone.
    Timestamp(i64),
    /// A `timestamptz`: microseconds since 1970-01-01 00:00 UTC.
    Timestamptz(i64),
}

impl WatermarkValue {
    /// The kind as stored: `int`, `numeric`, `date`, `timestamp` or `timestamptz`.
    pub fn kind(&self) -> &'static str {
        match self {
            WatermarkValue::Int(_) => "int",
            WatermarkValue::Numeric { .. } => "numeric",
            WatermarkValue::Date(_) => "date",
            WatermarkValue::Timestamp(_) => "timestamp",
            WatermarkValue::Timestamptz(_) => "timestamptz",
        }
    }

    /// The kind a column of `kind` keeps its watermark as, if it can have one.
    pub fn kind_of(kind: PgKind) -> Option<&'static str> {
        Some(match kind {
            PgKind::Int2 | PgKind::Int4 | PgKind::Int8 => "int",
            PgKind::Numeric { .. } => "numeric",
            PgKind::Date => "date",
            PgKind::Timestamp => "timestamp",
            PgKind::Timestamptz => "timestamptz",
            _ => return None,
        })
    }

    /// Parses the stored text of a watermark of `kind` (what [`fmt::Display`] writes).
    pub fn parse(kind: &str, text: &str) -> Result<Self> {
        let bad = || Error::BadWatermarkValue {
            kind: kind.to_string(),
            value: text.to_string(),
        };
        let t = text.trim();
        Ok(match kind {
            "int" => WatermarkValue::Int(t.parse().map_err(|_| bad())?),
            "numeric" => {
                let (neg, digits) = match t.strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, t),
                };
                let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
                if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 38 {
                    return Err(bad());
                }
                let unscaled: i128 = format!("{int}{frac}").parse().map_err(|_| bad())?;
                WatermarkValue::Numeric {
                    unscaled: if neg { -unscaled } else { unscaled },
                    scale: frac.len() as i8,
                }
            }
            "date" => {
                let d = NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| bad())?;
                WatermarkValue::Date(reel_gen::rental::date_days(d))
            }
            "timestamp" | "timestamptz" => {
                let body = if kind == "timestamptz" { t.strip_suffix("+00").ok_or_else(bad)? } else { t };
                let ts = NaiveDateTime::parse_from_str(body, "%Y-%m-%d %H:%M:%S%.f").map_err(|_| bad())?;
                let micros = ts.and_utc().timestamp_micros();
                if kind == "timestamp" {
                    WatermarkValue::Timestamp(micros)
                } else {
                    WatermarkValue::Timestamptz(micros)
                }
            }
            _ => return Err(bad()),
        })
    }

    /// The value as a typed SQL literal, for the extract's `WHERE column > literal`.
    pub fn sql_literal(&self) -> String {
        match self {
            WatermarkValue::Int(v) => v.to_string(),
            other => format!("'{other}'::{}", other.kind()),
        }
    }
}

impl serde::Serialize for WatermarkValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for WatermarkValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WatermarkValue::Int(v) => write!(f, "{v}"),
            WatermarkValue::Numeric { unscaled, scale } => f.write_str(&decimal_text(unscaled, scale)),
            WatermarkValue::Date(d) => {
                let mut b = Vec::new();
                reel_gen::rental::push_date(&mut b, d);
                f.write_str(&String::from_utf8_lossy(&b))
            }
            WatermarkValue::Timestamp(us) | WatermarkValue::Timestamptz(us) => {
                let mut b = Vec::new();
                reel_gen::rental::push_timestamp(&mut b, us);
                f.write_str(&String::from_utf8_lossy(&b))?;
                if matches!(self, WatermarkValue::Timestamptz(_)) {
                    f.write_str("+00")?;
                }
                Ok(())
            }
        }
    }
}

/// `unscaled / 10^scale` in plain decimal notation (`-12.50`).
pub(crate) fn decimal_text(unscaled: i128, scale: i8) -> String {
    let neg = unscaled < 0;
    let digits = unscaled.unsigned_abs().to_string();
    let s = scale.max(0) as usize;
    let body = if s == 0 {
        digits
    } else if digits.len() > s {
        format!("{}.{}", &digits[..digits.len() - s], &digits[digits.len() - s..])
    } else {
        format!("0.{}{}", "0".repeat(s - digits.len()), digits)
    };
    if neg { format!("-{body}") } else { body }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_their_text() {
        let cases = [
            WatermarkValue::Int(-42),
            WatermarkValue::Numeric { unscaled: -1250, scale: 2 },
            WatermarkValue::Numeric { unscaled: 5, scale: 3 },
            WatermarkValue::Date(20_089),
            WatermarkValue::Timestamp(1_735_725_600_123_456),
            WatermarkValue::Timestamptz(1_735_725_600_000_000),
        ];
        for v in cases {
            let text = v.to_string();
            assert_eq!(WatermarkValue::parse(v.kind(), &text).unwrap(), v, "{text}");
        }
        assert_eq!(WatermarkValue::Numeric { unscaled: 5, scale: 3 }.to_string(), "0.005");
        assert_eq!(WatermarkValue::Timestamp(1_735_725_600_123_456).to_string(), "2025-01-01 10:00:00.123456");
        assert_eq!(WatermarkValue::Timestamptz(1_735_725_600_000_000).sql_literal(), "'2025-01-01 10:00:00+00'::timestamptz");
        assert_eq!(WatermarkValue::Int(7).sql_literal(), "7");
    }

    #[test]
    fn bad_stored_values_are_refused() {
        for (kind, text) in [("int", "x"), ("numeric", "1.2.3"), ("numeric", "--1"), ("date", "2025-13-01"), ("timestamptz", "2025-01-01 00:00:00"), ("color", "red")] {
            let err = WatermarkValue::parse(kind, text).unwrap_err().to_string();
            assert!(err.contains("--full-refresh"), "{kind} {text}: {err}");
        }
    }
}
