//! Loading the committed ML-100K splits and reference answers.
#![allow(dead_code)]
use std::path::PathBuf;

use reel_ml::data::{Dataset, Ratings, Scale};

/// `testdata/ml-100k-splits/<name>`.
pub fn split_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/ml-100k-splits").join(name)
}

/// Rows of a headed CSV of plain numbers, as strings.
pub fn csv_rows(name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(split_path(name)).expect("split file is committed");
    text.lines().skip(1).filter(|l| !l.is_empty()).map(|l| l.split(',').map(str::to_string).collect()).collect()
}

/// `user_id,movie_id,rating,timestamp[,fold]` files as ratings (and folds when present).
pub fn ratings(name: &str) -> (Ratings, Vec<u8>) {
    let mut r = Ratings::default();
    let mut folds = Vec::new();
    for row in csv_rows(name) {
        r.push(
            row[0].parse().expect("user"),
            row[1].parse().expect("movie"),
            row[2].parse().expect("rating"),
            row[3].parse().expect("timestamp"),
        );
        if let Some(f) = row.get(4) {
            folds.push(f.parse().expect("fold"));
        }
    }
    (r, folds)
}

/// The peers' train.csv as a dataset.
pub fn train() -> Dataset {
    Dataset::try_new(&ratings("train.csv").0, Scale::ONE_TO_FIVE).expect("valid train split")
}

/// The peers' test.csv.
pub fn test() -> Ratings {
    ratings("test.csv").0
}

/// A reference prediction file: `(user, movie, rating, est_clipped)`.
pub fn reference(name: &str) -> Vec<(i64, i64, f32, f64)> {
    csv_rows(name)
        .into_iter()
        .map(|r| (r[0].parse().expect("u"), r[1].parse().expect("i"), r[2].parse().expect("r"), r[3].parse().expect("est")))
        .collect()
}

/// RMSE of clipped predictions against the truth (kept here so model tests do not depend
/// on the eval module).
pub fn rmse(model: &dyn reel_ml::model::Model, test: &Ratings) -> f64 {
    let mut se = 0f64;
    for k in 0..test.len() {
        let p = reel_ml::model::predict(model, test.user[k], test.item[k]).value as f64;
        se += (p - test.rating[k] as f64).powi(2);
    }
    (se / test.len() as f64).sqrt()
}
