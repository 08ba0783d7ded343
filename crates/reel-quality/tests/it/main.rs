//! Validations over real Delta tables: every check passing and failing, the one-scan
//! promise, the exact fallback for unsorted keys, examples, the row filter and storage.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use reel_lake::{Lake, WriteMode};
use reel_quality::{Severity, Status, Suite, ValidateOptions, validate};
use reel_sql::SqlSession;

struct Rows {
    user: Vec<Option<i64>>,
    movie: Vec<i64>,
    rating: Vec<f64>,
    title: Vec<&'static str>,
    at: Vec<i64>,
    ds: Vec<&'static str>,
}

const DAY: i64 = 86_400_000_000;
/// 2025-04-09 00:00:00 UTC in microseconds.
const APR9: i64 = 1_744_156_800_000_000;

fn good(n: i64) -> Rows {
    let mut r = Rows { user: vec![], movie: vec![], rating: vec![], title: vec![], at: vec![], ds: vec![] };
    for k in 0..n {
        r.user.push(Some(k / 10));
        r.movie.push(k % 10);
        r.rating.push(1.0 + (k % 9) as f64 * 0.5);
        r.title.push("Toy Story (1995)");
        r.at.push(APR9 + (k % 20) * 3_600_000_000);
        r.ds.push("2025-04-09");
    }
    r
}

async fn write(lake: &Lake, table: &str, r: &Rows) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Int64, true),
        Field::new("movie_id", DataType::Int64, false),
        Field::new("rating", DataType::Float64, false),
        Field::new("title", DataType::Utf8, false),
        Field::new("rated_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        Field::new("ds", DataType::Utf8, false),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(r.user.clone())),
        Arc::new(Int64Array::from(r.movie.clone())),
        Arc::new(Float64Array::from(r.rating.clone())),
        Arc::new(StringArray::from(r.title.clone())),
        Arc::new(TimestampMicrosecondArray::from(r.at.clone()).with_timezone("UTC")),
        Arc::new(StringArray::from(r.ds.clone())),
    ];
    let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
    let mut w = lake.writer(&table.parse().unwrap(), schema).with_mode(WriteMode::Overwrite);
    w.write(batch).await.unwrap();
    w.commit().await.unwrap();
}

const SUITE: &str = r#"
[[expect]]
check = "not_null"
column = "user_id"

[[expect]]
check = "unique"
columns = ["user_id", "movie_id"]

[[expect]]
check = "between"
column = "rating"
min = 0.5
max = 5.0

[[expect]]
check = "in_set"
column = "rating"
values = [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5]

[[expect]]
check = "regex"
column = "title"
pattern = '\(\d{4}\)$'

[[expect]]
check = "row_count"
min = 100
max = 1000000

[[expect]]
check = "mean"
column = "rating"
min = 2.5
max = 3.5

[[expect]]
check = "stddev"
column = "rating"
min = 0.5
max = 2

[[expect]]
check = "max"
column = "rating"
max = 5

[[expect]]
check = "freshness"
column = "rated_at"
max_age = "1d"
"#;

fn suite(text: &str) -> Suite {
    Suite::from_toml(Path::new("expectations/clean.ratings.toml"), text).unwrap()
}

fn opts() -> ValidateOptions {
    ValidateOptions::for_day("2025-04-09".parse().unwrap())
}

async fn lake() -> (tempfile::TempDir, Lake) {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::try_new(tmp.path().to_str().unwrap(), None).unwrap();
    (tmp, lake)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_expectations_on_a_good_table_pass_in_one_scan() {
    let (_tmp, lake) = lake().await;
    // 50,000 rows: several batches, which DataFusion deals round-robin to its partitions.
    write(&lake, "clean.ratings", &good(50_000)).await;
    let session = SqlSession::try_new(&lake, None).await.unwrap();
    let r = validate(&session, &suite(SUITE), &opts()).await.unwrap();
    assert_eq!(r.status, Status::Passed, "{}", r.to_text());
    assert_eq!(r.results.len(), 10);
    assert_eq!((r.scans, r.queries), (1, 1), "sorted keys: uniqueness settled in the one scan");
    assert_eq!(r.rows, 50_000);
    assert_eq!(r.table_version, 0);
    assert!(r.results.iter().all(|o| o.examples.is_empty()));
    let mean = r.results[6].observed.as_f64().unwrap();
    assert!((mean - 3.0).abs() < 0.01, "{mean}");
    assert!(r.to_text().contains("PASSED"), "{}", r.to_text());
    assert_eq!(r.results[9].observed["age_seconds"], 5 * 3600, "newest at 19:00, day ends at 24:00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failing_check_reports_its_count_and_examples() {
    let (_tmp, lake) = lake().await;
    let mut r = good(1000);
    r.user[10] = None; // a null key
    r.movie[21] = r.movie[20]; // user 2 rates movie 0 twice
    r.rating[30] = 7.5; // out of range and not in the set
    r.rating[31] = 2.25; // in range, not in the set
    r.title[40] = "Untitled";
    r.at = r.at.iter().map(|t| t - 3 * DAY).collect(); // three days old
    write(&lake, "clean.ratings", &r).await;
    let session = SqlSession::try_new(&lake, None).await.unwrap();
    let rep = validate(&session, &suite(SUITE), &opts()).await.unwrap();
    let by = |kind: &str| rep.results.iter().find(|o| o.kind == kind).unwrap();
    assert_eq!(rep.status, Status::Failed);
    assert_eq!(by("not_null").failing, Some(1));
    assert!(!by("not_null").passed);
    assert_eq!(by("unique").failing, Some(2), "both rows of the duplicated key");
    assert_eq!(by("unique").considered, Some(999), "the null key is ignored");
    assert_eq!(by("unique").examples.len(), 1);
    assert_eq!(by("unique").examples[0]["copies"], "2");
    assert_eq!(by("between").failing, Some(1));
    assert_eq!(by("between").examples[0]["rating"], "7.5");
    assert_eq!(by("between").observed["max"], 7.5);
    assert_eq!(by("in_set").failing, Some(2));
    assert_eq!(by("regex").failing, Some(1));
    assert_eq!(by("regex").examples[0]["title"], "Untitled");
    assert!(!by("max").passed);
    assert!(!by("freshness").passed);
    assert!(by("freshness").summary.contains("old"), "{}", by("freshness").summary);
    assert!(by("row_count").passed && by("mean").passed);
    let text = rep.to_text();
    assert!(text.contains("FAILED: 7 error expectations failed"), "{text}");
    assert!(text.contains("e.g. rating=7.5"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsorted_keys_fall_back_to_an_exact_group_by() {
    let (_tmp, lake) = lake().await;
    let mut r = good(20_000);
    // Shuffle the rows deterministically, then duplicate one key.
    let perm: Vec<usize> = (0..20_000).map(|i| (i * 7919) % 20_000).collect();
    r.user = perm.iter().map(|&i| Some(i as i64 / 10)).collect();
    r.movie = perm.iter().map(|&i| i as i64 % 10).collect();
    r.user[5] = r.user[6];
    r.movie[5] = r.movie[6];
    write(&lake, "clean.ratings", &r).await;
    let session = SqlSession::try_new(&lake, None).await.unwrap();
    let text = "[[expect]]\ncheck = \"unique\"\ncolumns = [\"user_id\", \"movie_id\"]\n";
    let rep = validate(&session, &suite(text), &opts()).await.unwrap();
    assert_eq!(rep.scans, 2, "not sorted: one more scan");
    assert_eq!(rep.results[0].failing, Some(2));
    assert!(rep.results[0].sql.contains("GROUP BY"), "{}", rep.results[0].sql);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mostly_warn_and_the_row_filter() {
    let (_tmp, lake) = lake().await;
    let mut r = good(1000);
    r.rating[1] = 9.0;
    for k in 0..500 {
        r.ds[k] = "2025-04-08";
    }
    write(&lake, "clean.ratings", &r).await;
    let session = SqlSession::try_new(&lake, None).await.unwrap();
    let text = r#"
where = "ds = '{{ ds }}'"
[[expect]]
check = "between"
column = "rating"
max = 5
mostly = 0.99
[[expect]]
check = "row_count"
min = 501
severity = "warn"
"#;
    let rep = validate(&session, &suite(text), &opts()).await.unwrap();
    assert_eq!(rep.filter.as_deref(), Some("ds = '2025-04-09'"));
    assert_eq!(rep.rows, 500, "only the run day's rows");
    assert_eq!(rep.results[0].failing, Some(0), "the bad row is on the 8th");
    assert!(!rep.results[1].passed);
    assert_eq!(rep.results[1].severity, Severity::Warn);
    assert_eq!(rep.status, Status::Warned);
    let day8 = ValidateOptions::for_day("2025-04-08".parse().unwrap());
    let rep = validate(&session, &suite(text), &day8).await.unwrap();
    assert_eq!(rep.results[0].failing, Some(1));
    assert!(rep.results[0].passed, "1 in 500 is within mostly = 0.99");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_columns_and_tables_are_explained() {
    let (_tmp, lake) = lake().await;
    write(&lake, "clean.ratings", &good(10)).await;
    let session = SqlSession::try_new(&lake, None).await.unwrap();
    let e = validate(&session, &suite("\n[[expect]]\ncheck = \"not_null\"\ncolumn = \"ratng\"\n"), &opts()).await.unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with("expectations/clean.ratings.toml:2:") && msg.contains("ratng") && msg.contains("rating Float64"), "{msg}");
    let e = validate(&session, &suite("[[expect]]\ncheck = \"mean\"\ncolumn = \"title\"\nmin = 1\n"), &opts()).await.unwrap_err();
    assert!(e.to_string().contains("numeric"), "{e}");
    let other = Suite::from_toml(Path::new("x.toml"), "table = \"clean.nope\"\n[[expect]]\ncheck = \"row_count\"\nmin = 1\n").unwrap();
    let e = validate(&session, &other, &opts()).await.unwrap_err();
    assert!(e.to_string().contains("clean.nope") && e.to_string().contains("clean.ratings"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_stored_in_the_catalog() {
    let (_tmp, lake) = lake().await;
    write(&lake, "clean.ratings", &good(100)).await;
    let session = SqlSession::try_new(&lake, None).await.unwrap();
    let rep = validate(&session, &suite(SUITE), &opts()).await.unwrap();
    let catalog = reel_catalog::Catalog::connect("sqlite::memory:").await.unwrap();
    rep.store(&catalog, Some(("run-1", "validate"))).await.unwrap();
    let got = catalog.validations(Some(&"clean.ratings".parse().unwrap()), 5).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].validation_id, rep.validation_id);
    assert_eq!(got[0].results.len(), 10);
    assert_eq!(got[0].run_id.as_deref(), Some("run-1"));
    assert_eq!(got[0].status, rep.status.as_str());
}
