//! Training data: ratings with external ids, and the indexed [`Dataset`] models fit on.
//!
//! ```text
//!  Ratings (user_id: i64, movie_id: i64, rating: f32, timestamp: i64), columns
//!     | Dataset::try_new: ids -> dense u32 indices (IdMap), in order of first appearance
//!     v
//!  Dataset: the same rows as (u, i, r) + CSR by user + CSR by item + global mean
//! ```
//!
//! Models keep the two [`IdMap`]s so that they answer in external ids and know which users
//! and items they have never seen (the fallback cases).
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Ratings as columns, in external ids. Row `k` is `(user[k], item[k], rating[k], timestamp[k])`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ratings {
    /// User ids.
    pub user: Vec<i64>,
    /// Item (movie) ids.
    pub item: Vec<i64>,
    /// Ratings.
    pub rating: Vec<f32>,
    /// Seconds since the epoch (0 when unknown).
    pub timestamp: Vec<i64>,
}

impl Ratings {
    /// Number of ratings.
    pub fn len(&self) -> usize {
        self.user.len()
    }

    /// True when there are no ratings.
    pub fn is_empty(&self) -> bool {
        self.user.is_empty()
    }

    /// Appends one rating.
    pub fn push(&mut self, user: i64, item: i64, rating: f32, timestamp: i64) {
        self.user.push(user);
        self.item.push(item);
        self.rating.push(rating);
        self.timestamp.push(timestamp);
    }

    /// The rows at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Ratings {
        Ratings {
            user: rows.iter().map(|&k| self.user[k]).collect(),
            item: rows.iter().map(|&k| self.item[k]).collect(),
            rating: rows.iter().map(|&k| self.rating[k]).collect(),
            timestamp: rows.iter().map(|&k| self.timestamp[k]).collect(),
        }
    }

    /// Checks that the columns have one length.
    pub fn check(&self) -> Result<()> {
        let n = self.user.len();
        if self.item.len() != n || self.rating.len() != n || self.timestamp.len() != n {
            return Err(Error::Internal(format!(
                "rating columns of different lengths: {} users, {} items, {} ratings, {} timestamps",
                n,
                self.item.len(),
                self.rating.len(),
                self.timestamp.len()
            )));
        }
        Ok(())
    }
}

/// The rating scale, e.g. 1 to 5. Predictions are clipped to it; ratings outside it are refused.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scale {
    /// Lowest rating.
    pub min: f32,
    /// Highest rating.
    pub max: f32,
}

impl Scale {
    /// MovieLens 100K / 1M: 1 to 5 stars.
    pub const ONE_TO_FIVE: Scale = Scale { min: 1.0, max: 5.0 };
    /// MovieLens 10M and later: 0.5 to 5 in half stars.
    pub const HALF_TO_FIVE: Scale = Scale { min: 0.5, max: 5.0 };

    /// Clips a score to the scale.
    pub fn clip(&self, x: f32) -> f32 {
        x.clamp(self.min, self.max)
    }

    /// The smallest scale of the two standard ones that holds every rating.
    pub fn infer(ratings: &[f32]) -> Scale {
        let lo = ratings.iter().copied().fold(f32::INFINITY, f32::min);
        if lo >= 1.0 { Scale::ONE_TO_FIVE } else { Scale::HALF_TO_FIVE }
    }
}

/// Dense indices for external ids, in order of first appearance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdMap {
    ids: Vec<i64>,
    index: HashMap<i64, u32>,
}

impl IdMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// A map over `ids` in that order; duplicates are an error.
    pub fn try_from_ids(ids: Vec<i64>) -> Result<Self> {
        let mut index = HashMap::with_capacity(ids.len());
        for (k, &id) in ids.iter().enumerate() {
            if index.insert(id, k as u32).is_some() {
                return Err(Error::artifact(format!("id {id} appears twice in an id map")));
            }
        }
        Ok(IdMap { ids, index })
    }

    /// The index of `id`, adding it if new.
    pub fn insert(&mut self, id: i64) -> u32 {
        let next = self.ids.len() as u32;
        *self.index.entry(id).or_insert_with(|| {
            self.ids.push(id);
            next
        })
    }

    /// The index of `id`, if known.
    pub fn get(&self, id: i64) -> Option<u32> {
        self.index.get(&id).copied()
    }

    /// The external id of index `ix`.
    ///
    /// # Panics
    /// When `ix` is out of range: indices only come from this map.
    pub fn id(&self, ix: u32) -> i64 {
        self.ids[ix as usize]
    }

    /// All external ids, by index.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Compressed sparse rows: for row `r`, columns `idx[offsets[r]..offsets[r+1]]` (ascending)
/// with values `val[..]` at the same positions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Csr {
    /// Row starts, `rows + 1` entries.
    pub offsets: Vec<usize>,
    /// Column indices.
    pub idx: Vec<u32>,
    /// Values.
    pub val: Vec<f32>,
}

impl Csr {
    /// Builds rows from `(row, col, value)` triples. Columns within a row come out ascending.
    pub fn from_triples(rows: usize, row: &[u32], col: &[u32], val: &[f32]) -> Csr {
        let mut counts = vec![0usize; rows + 1];
        for &r in row {
            counts[r as usize + 1] += 1;
        }
        for k in 0..rows {
            counts[k + 1] += counts[k];
        }
        let offsets = counts.clone();
        let mut next = counts;
        let mut idx = vec![0u32; row.len()];
        let mut vals = vec![0f32; row.len()];
        for k in 0..row.len() {
            let r = row[k] as usize;
            idx[next[r]] = col[k];
            vals[next[r]] = val[k];
            next[r] += 1;
        }
        let mut csr = Csr { offsets, idx, val: vals };
        csr.sort_rows();
        csr
    }

    fn sort_rows(&mut self) {
        for r in 0..self.rows() {
            let (a, b) = (self.offsets[r], self.offsets[r + 1]);
            let idx = &self.idx[a..b];
            if idx.windows(2).all(|w| w[0] <= w[1]) {
                continue;
            }
            let mut pairs: Vec<(u32, f32)> = idx.iter().copied().zip(self.val[a..b].iter().copied()).collect();
            pairs.sort_unstable_by_key(|p| p.0);
            for (k, (c, v)) in pairs.into_iter().enumerate() {
                self.idx[a + k] = c;
                self.val[a + k] = v;
            }
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Columns and values of row `r`.
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.offsets[r], self.offsets[r + 1]);
        (&self.idx[a..b], &self.val[a..b])
    }

    /// Number of entries in row `r`.
    pub fn row_len(&self, r: usize) -> usize {
        self.offsets[r + 1] - self.offsets[r]
    }
}

/// Text features of items (genres, tags), for content-based models. Items without an entry
/// have no features.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemText {
    /// External item id -> tokens (e.g. `genre:Comedy`, `tag:dark comedy`), repeats allowed.
    pub tokens: HashMap<i64, Vec<String>>,
}

/// Indexed training data. Build it once and fit any number of models on it.
#[derive(Debug, Clone)]
pub struct Dataset {
    users: IdMap,
    items: IdMap,
    /// Row `k`: user index.
    pub u: Vec<u32>,
    /// Row `k`: item index.
    pub i: Vec<u32>,
    /// Row `k`: rating.
    pub r: Vec<f32>,
    /// Row `k`: timestamp (seconds).
    pub ts: Vec<i64>,
    by_user: Csr,
    by_item: Csr,
    mean: f64,
    scale: Scale,
    /// Optional item features for content-based models.
    pub item_text: Option<ItemText>,
    /// Extra catalogue items (e.g. every movie of `clean.movies`) that have no rating in
    /// this data; popularity and content models may still rank them.
    extra_items: usize,
}

impl Dataset {
    /// Indexes `ratings`. Refuses an empty set and ratings outside `scale` or not finite.
    pub fn try_new(ratings: &Ratings, scale: Scale) -> Result<Dataset> {
        ratings.check()?;
        if ratings.is_empty() {
            return Err(Error::Data("no ratings to train on; load ratings first (reelhouse ingest movielens)".into()));
        }
        let n = ratings.len();
        let mut users = IdMap::new();
        let mut items = IdMap::new();
        let mut u = Vec::with_capacity(n);
        let mut i = Vec::with_capacity(n);
        let mut sum = 0f64;
        for k in 0..n {
            let r = ratings.rating[k];
            if !r.is_finite() || r < scale.min || r > scale.max {
                return Err(Error::Data(format!(
                    "rating {r} of user {} for item {} is outside the scale {} to {}",
                    ratings.user[k], ratings.item[k], scale.min, scale.max
                )));
            }
            sum += r as f64;
            u.push(users.insert(ratings.user[k]));
            i.push(items.insert(ratings.item[k]));
        }
        let by_user = Csr::from_triples(users.len(), &u, &i, &ratings.rating);
        let by_item = Csr::from_triples(items.len(), &i, &u, &ratings.rating);
        Ok(Dataset {
            users,
            items,
            u,
            i,
            r: ratings.rating.clone(),
            ts: ratings.timestamp.clone(),
            by_user,
            by_item,
            mean: sum / n as f64,
            scale,
            item_text: None,
            extra_items: 0,
        })
    }

    /// Adds item features for content-based models.
    pub fn with_item_text(mut self, text: ItemText) -> Self {
        self.item_text = Some(text);
        self
    }

    /// Adds catalogue items that have no ratings (they get indices after the rated ones and
    /// empty rows in [`Dataset::by_item`]).
    pub fn with_catalogue(mut self, item_ids: &[i64]) -> Self {
        let before = self.items.len();
        for &id in item_ids {
            self.items.insert(id);
        }
        let added = self.items.len() - before;
        if added > 0 {
            let last = *self.by_item.offsets.last().unwrap_or(&0);
            self.by_item.offsets.extend(std::iter::repeat_n(last, added));
            self.extra_items += added;
        }
        self
    }

    /// Users, by index.
    pub fn users(&self) -> &IdMap {
        &self.users
    }

    /// Items, by index (rated ones first, then catalogue-only ones).
    pub fn items(&self) -> &IdMap {
        &self.items
    }

    /// Number of users.
    pub fn n_users(&self) -> usize {
        self.users.len()
    }

    /// Number of items (including catalogue-only items).
    pub fn n_items(&self) -> usize {
        self.items.len()
    }

    /// Number of ratings.
    pub fn len(&self) -> usize {
        self.r.len()
    }

    /// Never true: a dataset holds at least one rating.
    pub fn is_empty(&self) -> bool {
        self.r.is_empty()
    }

    /// Ratings by user: row = user index, columns = item indices.
    pub fn by_user(&self) -> &Csr {
        &self.by_user
    }

    /// Ratings by item: row = item index, columns = user indices.
    pub fn by_item(&self) -> &Csr {
        &self.by_item
    }

    /// Mean rating.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// The rating scale.
    pub fn scale(&self) -> Scale {
        self.scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Ratings {
        let mut r = Ratings::default();
        r.push(10, 100, 4.0, 1);
        r.push(10, 101, 2.0, 2);
        r.push(11, 100, 5.0, 3);
        r
    }

    #[test]
    fn dataset_indexes_in_order_of_appearance() {
        let d = Dataset::try_new(&tiny(), Scale::ONE_TO_FIVE).expect("valid");
        assert_eq!(d.users().ids(), &[10, 11]);
        assert_eq!(d.items().ids(), &[100, 101]);
        assert_eq!(d.by_user().row(0), (&[0u32, 1][..], &[4.0f32, 2.0][..]));
        assert_eq!(d.by_item().row(0), (&[0u32, 1][..], &[4.0f32, 5.0][..]));
        assert!((d.mean() - 11.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn ratings_outside_the_scale_are_refused() {
        let mut r = tiny();
        r.push(12, 100, 7.0, 4);
        let e = Dataset::try_new(&r, Scale::ONE_TO_FIVE).expect_err("7 is off the scale");
        assert!(e.to_string().contains("outside the scale"), "{e}");
        assert!(Dataset::try_new(&Ratings::default(), Scale::ONE_TO_FIVE).is_err());
    }

    #[test]
    fn catalogue_items_get_empty_rows() {
        let d = Dataset::try_new(&tiny(), Scale::ONE_TO_FIVE).expect("valid").with_catalogue(&[100, 102]);
        assert_eq!(d.n_items(), 3);
        assert_eq!(d.by_item().rows(), 3);
        assert_eq!(d.by_item().row_len(2), 0);
    }

    #[test]
    fn csr_sorts_columns() {
        let c = Csr::from_triples(2, &[0, 0, 1, 0], &[5, 1, 2, 3], &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(c.row(0), (&[1u32, 3, 5][..], &[2.0f32, 4.0, 1.0][..]));
        assert_eq!(c.row(1), (&[2u32][..], &[3.0f32][..]));
    }
}
