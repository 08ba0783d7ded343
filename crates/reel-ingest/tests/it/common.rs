//! Helpers: fixture paths, running an ingest, reading columns back.
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Date32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use reel_ingest::movielens::{IngestOptions, IngestReport, detect, ingest};
use reel_ingest::{Target, VecSink};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn ml100k() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/movielens-100k")
}

pub fn opts(batch_rows: usize) -> IngestOptions {
    IngestOptions {
        ds: "2025-04-09".parse().unwrap(),
        batch_rows,
    }
}

/// Ingests the release in `dir` into a [`VecSink`].
pub fn run(dir: &Path, batch_rows: usize) -> (VecSink, IngestReport) {
    let found = detect(dir).unwrap();
    let mut sink = VecSink::new();
    let report = ingest(&found, &opts(batch_rows), &mut sink, &|_| {}).unwrap();
    // Every batch has its table's schema; every count adds up.
    for (t, b) in &sink.batches {
        assert_eq!(b.schema(), reel_ingest::movielens::schema(*t), "{t}");
    }
    for c in &report.tables {
        if c.table != "movie_genres" {
            assert_eq!(c.read, c.loaded + c.quarantined + c.duplicates, "{c:?}");
            assert_eq!(sink.rows(Target::Clean(name(&c.table))) as u64, c.loaded);
            assert_eq!(
                sink.rows(Target::Quarantine(name(&c.table))) as u64,
                c.quarantined
            );
        }
    }
    (sink, report)
}

fn name(table: &str) -> &'static str {
    match table {
        "ratings" => "ratings",
        "movies" => "movies",
        "users" => "users",
        "tags" => "tags",
        "links" => "links",
        _ => "movie_genres",
    }
}

pub fn table(sink: &VecSink, t: Target) -> RecordBatch {
    sink.table(t).unwrap()
}

pub fn i64s(b: &RecordBatch, col: &str) -> Vec<i64> {
    b.column_by_name(col)
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .to_vec()
}

pub fn opt_i64s(b: &RecordBatch, col: &str) -> Vec<Option<i64>> {
    b.column_by_name(col)
        .unwrap()
        .as_primitive::<Int64Type>()
        .iter()
        .collect()
}

pub fn opt_i32s(b: &RecordBatch, col: &str) -> Vec<Option<i32>> {
    b.column_by_name(col)
        .unwrap()
        .as_primitive::<Int32Type>()
        .iter()
        .collect()
}

pub fn opt_dates(b: &RecordBatch, col: &str) -> Vec<Option<i32>> {
    b.column_by_name(col)
        .unwrap()
        .as_primitive::<Date32Type>()
        .iter()
        .collect()
}

pub fn f64s(b: &RecordBatch, col: &str) -> Vec<f64> {
    b.column_by_name(col)
        .unwrap()
        .as_primitive::<Float64Type>()
        .values()
        .to_vec()
}

pub fn micros(b: &RecordBatch, col: &str) -> Vec<i64> {
    b.column_by_name(col)
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>()
        .values()
        .to_vec()
}

pub fn strs(b: &RecordBatch, col: &str) -> Vec<String> {
    let a = b.column_by_name(col).unwrap().as_string::<i32>();
    (0..a.len()).map(|i| a.value(i).to_string()).collect()
}

pub fn opt_strs(b: &RecordBatch, col: &str) -> Vec<Option<String>> {
    let a = b.column_by_name(col).unwrap().as_string::<i32>();
    a.iter().map(|v| v.map(str::to_string)).collect()
}

/// `(line, reason)` of every quarantined row of `t`.
pub fn reasons(sink: &VecSink, t: &'static str) -> Vec<(i64, String)> {
    let q = table(sink, Target::Quarantine(t));
    i64s(&q, "line")
        .into_iter()
        .zip(strs(&q, "reason"))
        .collect()
}

/// `(user, movie, rating, rated_at)` of clean.ratings, in emitted order.
pub fn clean_ratings(sink: &VecSink) -> Vec<(i64, i64, f64, i64)> {
    let b = table(sink, Target::Clean("ratings"));
    let (u, m, r, t) = (
        i64s(&b, "user_id"),
        i64s(&b, "movie_id"),
        f64s(&b, "rating"),
        micros(&b, "rated_at"),
    );
    (0..u.len()).map(|i| (u[i], m[i], r[i], t[i])).collect()
}

/// Per-table `(table, read, loaded, quarantined, duplicates)` of a report, for exact asserts.
pub fn counts(report: &reel_ingest::movielens::IngestReport) -> Vec<(&str, u64, u64, u64, u64)> {
    report
        .tables
        .iter()
        .map(|c| (c.table.as_str(), c.read, c.loaded, c.quarantined, c.duplicates))
        .collect()
}
