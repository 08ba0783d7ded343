//! Users: who rates how much, when, and how generously.
//!
//! A user's profile is a pure function of `(seed, user id)`, so any thread can rebuild it.
//! The number of ratings per user is drawn in one sequential pass (it must add up to exactly
//! the requested total), which is the only per-user state kept in memory: 4 bytes a user,
//! 0.6 MB at 25M ratings.
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::rng::{Stream, Xoshiro};
use crate::time::{T_FIRST, T_LAST, year_of};

/// Every MovieLens user has at least this many ratings.
pub(crate) const MIN_RATINGS_PER_USER: u32 = 20;

/// A user may rate at most this share of the movies released before their activity ends
/// (the heaviest ML-25M user rated about half of the catalogue).
const MAX_SHARE_OF_CATALOGUE: f64 = 0.55;

/// Ratings per user are 20 + lognormal(ln 51, 1.39): median ~71, mean ~150, a long tail into
/// the thousands, as in ML-25M (162K users, 25M ratings).
const COUNT_MU: f64 = 3.93;
const COUNT_SIGMA: f64 = 1.39;

/// What a user is like. Rebuilt from `(seed, user id)` wherever it is needed.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    /// First second of activity.
    pub(crate) start: i64,
    /// Last session start; every movie this user rates was released by then.
    pub(crate) end: i64,
    /// Calendar year of `end`.
    pub(crate) end_year: u16,
    /// Added to every rating: generous or harsh raters.
    pub(crate) bias: f64,
    /// Scale of this user's noise: some rate everything 3-4, some use the whole scale.
    pub(crate) spread: f64,
    /// Chance of keeping a half star when the rounded rating lands on one (0 for users who
    /// never use half stars).
    pub(crate) halves: f64,
    /// Whether this user writes tags at all (about 12% of users do).
    pub(crate) tagger: bool,
}

impl Profile {
    /// The profile of user `uid`.
    pub(crate) fn of(seed: u64, uid: u32) -> Profile {
        let mut rng = Xoshiro::for_stream(seed, Stream::Profile, u64::from(uid));
        let span = (T_LAST - T_FIRST) as f64;
        // Window length: a third of users do everything in one day; the rest stay weeks to
        // years (lognormal around three months).
        let len = if rng.chance(0.33) {
            rng.unit() * 86_400.0
        } else {
            (86_400.0 * 90.0 * (1.6 * rng.normal()).exp()).min(span)
        };
        let start = T_FIRST + (rng.unit() * (span - len)) as i64;
        let end = (start + len as i64).min(T_LAST);
        let bias = 0.38 * rng.normal();
        let spread = 0.95 * (0.25 * rng.normal()).exp();
        let halves = if rng.chance(0.15) {
            0.0
        } else {
            0.8 + 0.2 * rng.unit()
        };
        let tagger = rng.chance(0.12);
        Profile {
            start,
            end,
            end_year: year_of(end),
            bias,
            spread,
            halves,
            tagger,
        }
    }
}

/// The most ratings user `uid` can have: a share of the movies out by the end of its window.
pub(crate) fn cap(catalog: &Catalog, profile: &Profile) -> u32 {
    let eligible = catalog.eligible_until(profile.end_year);
    ((f64::from(eligible) * MAX_SHARE_OF_CATALOGUE) as u32).max(MIN_RATINGS_PER_USER)
}

/// Ratings per user (index 0 is user 1), summing to exactly `total`, each at least
/// [`MIN_RATINGS_PER_USER`] and at most the user's [`cap`].
pub(crate) fn plan_counts(seed: u64, total: u64, catalog: &Catalog) -> Result<Vec<u32>> {
    let mut rng = Xoshiro::for_stream(seed, Stream::Counts, 0);
    let mut counts: Vec<u32> = Vec::with_capacity((total / 140) as usize + 16);
    let mut caps: Vec<u32> = Vec::new();
    let mut sum: u64 = 0;
    while sum < total {
        let uid = u32::try_from(counts.len() + 1).map_err(|_| Error::Internal {
            message: format!("more than {} users for {total} ratings", u32::MAX),
        })?;
        let profile = Profile::of(seed, uid);
        let cap = cap(catalog, &profile);
        if cap > catalog.eligible_until(profile.end_year) {
            return Err(Error::Internal {
                message: format!(
                    "user {uid} may rate {cap} movies but only {} are out by {}",
                    catalog.eligible_until(profile.end_year),
                    profile.end_year
                ),
            });
        }
        let draw = f64::from(MIN_RATINGS_PER_USER) + (COUNT_MU + COUNT_SIGMA * rng.normal()).exp();
        let mut c = (draw as u64).min(u64::from(cap));
        let left = total - sum;
        if c >= left {
            c = left;
        } else if left - c < u64::from(MIN_RATINGS_PER_USER) {
            // The next user could not reach the minimum: this one takes the rest if it can.
            c = left.min(u64::from(cap));
        }
        if c < u64::from(MIN_RATINGS_PER_USER) {
            // Only reachable when `left` < 20 after a capped user: spread the rest over
            // earlier users that have room.
            let mut rest = c;
            for (n, cap) in counts.iter_mut().zip(&caps).rev() {
                let room = u64::from(*cap - *n).min(rest);
                *n += room as u32;
                rest -= room;
                if rest == 0 {
                    break;
                }
            }
            if rest > 0 {
                return Err(Error::Internal {
                    message: format!("{rest} ratings left over with every user at its cap"),
                });
            }
            break;
        }
        counts.push(c as u32);
        caps.push(cap);
        sum += c;
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::movie_count;

    #[test]
    fn profiles_are_pure_and_in_range() {
        for uid in 1..2_000 {
            let a = Profile::of(9, uid);
            let b = Profile::of(9, uid);
            assert_eq!((a.start, a.end, a.tagger), (b.start, b.end, b.tagger));
            assert!(T_FIRST <= a.start && a.start <= a.end && a.end <= T_LAST);
            assert!((0.0..=1.0).contains(&a.halves));
        }
    }

    #[test]
    fn counts_sum_exactly_and_respect_bounds() {
        for total in [1_000u64, 1_019, 20_021, 123_457] {
            let catalog = Catalog::generate(5, movie_count(total)).expect("movies");
            let counts = plan_counts(5, total, &catalog).expect("plan");
            assert_eq!(counts.iter().map(|&c| u64::from(c)).sum::<u64>(), total);
            for (i, &c) in counts.iter().enumerate() {
                let p = Profile::of(5, i as u32 + 1);
                assert!(c >= MIN_RATINGS_PER_USER, "user {} has {c}", i + 1);
                assert!(c <= cap(&catalog, &p), "user {} over cap", i + 1);
            }
        }
    }

    #[test]
    fn activity_is_heavy_tailed() {
        let total = 2_000_000;
        let catalog = Catalog::generate(1, movie_count(total)).expect("movies");
        let mut counts = plan_counts(1, total, &catalog).expect("plan");
        counts.sort_unstable();
        let median = counts[counts.len() / 2];
        let mean = total as f64 / counts.len() as f64;
        let max = counts[counts.len() - 1];
        assert!((50..=100).contains(&median), "median {median}");
        assert!(mean > 1.5 * f64::from(median), "mean {mean} vs median {median}");
        assert!(max > 20 * median, "max {max}");
    }
}
