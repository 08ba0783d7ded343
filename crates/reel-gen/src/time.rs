//! Calendar constants and conversions (UTC, Unix seconds) for rating timestamps.

/// First year with ratings.
pub(crate) const FIRST_YEAR: u16 = 1996;
/// Last year with ratings (and latest release year).
pub(crate) const LAST_YEAR: u16 = 2023;
/// 1996-01-01T00:00:00Z: the earliest rating.
pub(crate) const T_FIRST: i64 = 820_454_400;
/// 2023-12-31T23:59:59Z: the latest rating.
pub(crate) const T_LAST: i64 = 1_704_067_199;
/// 2003-02-18T00:00:00Z: MovieLens allowed half stars from then on; earlier ratings are
/// whole stars only.
pub(crate) const HALF_STARS_FROM: i64 = 1_045_526_400;

/// Unix seconds of January 1st, 00:00 UTC, of `year` (proleptic Gregorian; Hinnant's
/// days-from-civil).
pub(crate) fn year_start(year: u16) -> i64 {
    let y = i64::from(year) - 1; // January and February count with the previous year
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    // Day of the (March-based) year of January 1st is 306.
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + 306;
    (era * 146_097 + doe - 719_468) * 86_400
}

/// The calendar year of `ts`, for `ts` in `T_FIRST..=T_LAST` (clamped outside).
pub(crate) fn year_of(ts: i64) -> u16 {
    let mut y = FIRST_YEAR;
    while y < LAST_YEAR && ts >= year_start(y + 1) {
        y += 1;
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Utc};

    #[test]
    fn year_start_matches_chrono() {
        for y in [1902u16, 1970, 1996, 2000, 2003, 2023, 2024] {
            let want = Utc
                .with_ymd_and_hms(i32::from(y), 1, 1, 0, 0, 0)
                .single()
                .expect("valid date")
                .timestamp();
            assert_eq!(year_start(y), want, "{y}");
        }
    }

    #[test]
    fn constants_are_the_dates_they_name() {
        assert_eq!(T_FIRST, year_start(1996));
        assert_eq!(T_LAST, year_start(2024) - 1);
        let half = Utc.timestamp_opt(HALF_STARS_FROM, 0).single().expect("valid");
        assert_eq!((half.year(), half.month(), half.day()), (2003, 2, 18));
    }

    #[test]
    fn year_of_edges() {
        assert_eq!(year_of(T_FIRST), 1996);
        assert_eq!(year_of(year_start(2003) - 1), 2002);
        assert_eq!(year_of(year_start(2003)), 2003);
        assert_eq!(year_of(T_LAST), 2023);
    }
}
