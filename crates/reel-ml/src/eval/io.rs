//! Saved splits: ratings CSV files such as the peers' `train.csv`, `test.csv` and
//! `folds5.csv`.
//!
//! The first line is a header. Columns are found by name, in any order:
//! - user: `user_id`, `userId`, `user`;
//! - item: `movie_id`, `movieId`, `item_id`, `itemId`, `item`;
//! - `rating`;
//! - `timestamp` (optional; 0 when absent);
//! - `fold` (optional; the k-fold assignment, 0..k).
//!
//! Other columns are ignored. Fields are plain numbers separated by commas (no quoting:
//! these files hold no text); blank lines are skipped and `\r\n` endings are accepted.
use std::path::Path;

use super::split::Folds;
use crate::data::Ratings;
use crate::{Error, Result};

/// Ratings read from a saved split file, with the folds when the file has a `fold` column.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedRatings {
    /// The ratings, in file order.
    pub ratings: Ratings,
    /// The `fold` column, when present.
    pub folds: Option<Folds>,
}

const USER: &[&str] = &["user_id", "userid", "user"];
const ITEM: &[&str] = &["movie_id", "movieid", "item_id", "itemid", "item"];

impl SavedRatings {
    /// Reads a file (see the module docs for the format).
    pub fn read(path: &Path) -> Result<SavedRatings> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            action: format!("reading the saved split {}", path.display()),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses CSV text; `source` names it in error messages (a path, or "<stdin>").
    pub fn parse(text: &str, source: &str) -> Result<SavedRatings> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let Some((_, header)) = lines.next() else {
            return Err(Error::Data(format!("{source}: the file is empty; expected a header like user_id,movie_id,rating,timestamp")));
        };
        let names: Vec<String> = header.split(',').map(|h| h.trim().trim_matches('"').to_ascii_lowercase()).collect();
        let find = |wanted: &[&str]| names.iter().position(|n| wanted.contains(&n.as_str()));
        let missing = |what: &str| {
            Error::Data(format!(
                "{source}: the header {header:?} has no {what} column; expected user_id (or userId), movie_id (or movieId), rating[, timestamp][, fold]"
            ))
        };
        let cu = find(USER).ok_or_else(|| missing("user"))?;
        let ci = find(ITEM).ok_or_else(|| missing("item"))?;
        let cr = find(&["rating"]).ok_or_else(|| missing("rating"))?;
        let ct = find(&["timestamp"]);
        let cf = find(&["fold"]);

        let mut ratings = Ratings::default();
        let mut folds = Vec::new();
        for (ln, line) in lines {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let field = |c: usize, what: &str| -> Result<&str> {
                fields.get(c).copied().ok_or_else(|| {
                    Error::Data(format!("{source}: line {}: no {what} field (the line has {} fields)", ln + 1, fields.len()))
                })
            };
            let bad = |what: &str, v: &str| Error::Data(format!("{source}: line {}: {what} {v:?} is not a valid number", ln + 1));
            let u = field(cu, "user")?;
            let i = field(ci, "item")?;
            let r = field(cr, "rating")?;
            let user: i64 = u.parse().map_err(|_| bad("user id", u))?;
            let item: i64 = i.parse().map_err(|_| bad("item id", i))?;
            let rating: f32 = r.parse().ok().filter(|x: &f32| x.is_finite()).ok_or_else(|| bad("rating", r))?;
            let ts = match ct {
                Some(c) => {
                    let t = field(c, "timestamp")?;
                    t.parse().map_err(|_| bad("timestamp", t))?
                }
                None => 0,
            };
            if let Some(c) = cf {
                let f = field(c, "fold")?;
                folds.push(f.parse::<u32>().map_err(|_| bad("fold", f))?);
            }
            ratings.push(user, item, rating, ts);
        }
        let folds = match cf {
            Some(_) => Some(Folds::try_new(folds).map_err(|e| Error::Data(format!("{source}: {e}")))?),
            None => None,
        };
        Ok(SavedRatings { ratings, folds })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_header_and_movielens_headers() {
        let a = SavedRatings::parse("user_id,movie_id,rating,timestamp\n1,10,4,100\r\n2,11,3.5,200\n\n", "a").expect("ok");
        assert_eq!(a.ratings.user, vec![1, 2]);
        assert_eq!(a.ratings.rating, vec![4.0, 3.5]);
        assert_eq!(a.ratings.timestamp, vec![100, 200]);
        assert!(a.folds.is_none());
        let b = SavedRatings::parse("\u{feff}movieId,userId,rating\n10,1,4\n", "b").expect("ok");
        assert_eq!((b.ratings.user[0], b.ratings.item[0], b.ratings.timestamp[0]), (1, 10, 0));
    }

    #[test]
    fn reads_folds() {
        let s = SavedRatings::parse("user_id,movie_id,rating,timestamp,fold\n1,1,1,0,0\n1,2,1,0,1\n2,1,1,0,1\n", "f").expect("ok");
        let f = s.folds.expect("fold column");
        assert_eq!(f.k(), 2);
        assert_eq!(f.split(1).test, vec![1, 2]);
    }

    #[test]
    fn bad_files_are_refused_with_the_line() {
        let cases = [
            ("", "empty"),
            ("user,rating\n1,2\n", "no item column"),
            ("user_id,movie_id,rating\n1,x,4\n", "line 2: item id \"x\""),
            ("user_id,movie_id,rating\n1,2\n", "line 2: no rating field"),
            ("user_id,movie_id,rating\n1,2,nan\n", "rating \"nan\""),
            ("user_id,movie_id,rating,fold\n1,2,3,-1\n", "fold \"-1\""),
            ("user_id,movie_id,rating,fold\n1,2,3,0\n", "at least 2 folds"),
        ];
        for (text, want) in cases {
            let e = SavedRatings::parse(text, "t.csv").expect_err(want).to_string();
            assert!(e.contains(want) && e.starts_with("t.csv"), "{want}: {e}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,200}") {
            let _ = SavedRatings::parse(&text, "p");
        }

        #[test]
        fn written_rows_read_back(rows in proptest::collection::vec((0i64..1000, 0i64..5000, 1u8..=10, 0i64..2_000_000_000), 0..50)) {
            let mut text = String::from("user_id,movie_id,rating,timestamp\n");
            for (u, i, r, t) in &rows {
                text.push_str(&format!("{u},{i},{},{t}\n", *r as f32 / 2.0));
            }
            let s = SavedRatings::parse(&text, "p").expect("valid");
            proptest::prop_assert_eq!(s.ratings.len(), rows.len());
            for (k, (u, i, r, t)) in rows.iter().enumerate() {
                proptest::prop_assert_eq!((s.ratings.user[k], s.ratings.item[k], s.ratings.rating[k], s.ratings.timestamp[k]), (*u, *i, *r as f32 / 2.0, *t));
            }
        }
    }
}
