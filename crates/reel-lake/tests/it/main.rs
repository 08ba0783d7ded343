//! Integration tests of the lake. One conformance suite ([`suite`]) runs on every backend
//! (a temp folder, `memory://`, and S3 when `REELHOUSE_TEST_S3_ROOT` is set); [`local_only`] checks the folder layout; [`crash`] kills a writer process mid-write;
//! [`speed`] is an ignored throughput check (`--ignored --nocapture`).
#![allow(clippy::unwrap_used)]

mod crash;
mod local_only;
mod suite;

use std::sync::Arc;

use arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use reel_common::TableRef;
use reel_lake::Lake;

/// A lake and the folder that keeps it alive (for local backends).
pub struct Backend {
    pub lake: Lake,
    pub _dir: Option<tempfile::TempDir>,
}

pub fn memory() -> Option<Backend> {
    Some(Backend {
        lake: Lake::try_new("memory://", None).unwrap(),
        _dir: None,
    })
}

pub fn local() -> Option<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::try_new(dir.path().join("lake").to_str().unwrap(), None).unwrap();
    Some(Backend { lake, _dir: Some(dir) })
}

/// The env var naming an S3 root the suite may write to (`s3://bucket/prefix`).
pub const S3_ROOT_ENV: &str = "REELHOUSE_TEST_S3_ROOT";
/// The env var naming the S3 endpoint (MinIO, ...); unset for AWS.
pub const S3_ENDPOINT_ENV: &str = "REELHOUSE_TEST_S3_ENDPOINT";

/// S3 when `REELHOUSE_TEST_S3_ROOT` is set (credentials from `AWS_*`), each test under a
/// fresh prefix; `None` (the test is skipped) otherwise.
pub fn s3() -> Option<Backend> {
    let root = std::env::var(S3_ROOT_ENV).ok()?;
    let endpoint = std::env::var(S3_ENDPOINT_ENV).ok();
    let config = reel_common::S3Config {
        allow_http: endpoint.as_deref().is_some_and(|e| e.starts_with("http://")),
        endpoint,
        region: std::env::var("AWS_REGION").ok(),
    };
    let root = format!("{}/{}", root.trim_end_matches('/'), reel_common::RunId::new());
    Some(Backend {
        lake: Lake::try_new(&root, Some(&config)).unwrap(),
        _dir: None,
    })
}

pub fn t(name: &str) -> TableRef {
    name.parse().unwrap()
}

/// `(id: Int64, ds: Utf8, score: Float64?)`.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("ds", DataType::Utf8, false),
        Field::new("score", DataType::Float64, true),
    ]))
}

pub fn batch(ids: std::ops::Range<i64>, ds: &str) -> RecordBatch {
    let n = (ids.end - ids.start) as usize;
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(ids.clone())),
            Arc::new(StringArray::from(vec![ds; n])),
            Arc::new(Float64Array::from_iter(ids.map(|i| (i % 3 != 0).then_some(i as f64 / 2.0)))),
        ],
    )
    .unwrap()
}

/// Every `(id, ds)` of the batches, sorted.
pub fn rows(batches: &[RecordBatch]) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for b in batches {
        let id = b.column_by_name("id").unwrap();
        let id = arrow::compute::cast(id, &DataType::Int64).unwrap();
        let id = id.as_any().downcast_ref::<Int64Array>().unwrap();
        let ds = b.column_by_name("ds").unwrap();
        let ds = arrow::compute::cast(ds, &DataType::Utf8).unwrap();
        let ds = ds.as_any().downcast_ref::<StringArray>().unwrap();
        for i in 0..b.num_rows() {
            out.push((id.value(i), ds.value(i).to_string()));
        }
    }
    out.sort();
    out
}

pub async fn scan_rows(lake: &Lake, table: &TableRef) -> Vec<(i64, String)> {
    rows(&lake.scan(table).await.unwrap())
}

pub fn expected(ranges: &[(std::ops::Range<i64>, &str)]) -> Vec<(i64, String)> {
    let mut out: Vec<(i64, String)> = ranges
        .iter()
        .flat_map(|(r, ds)| r.clone().map(move |i| (i, ds.to_string())))
        .collect();
    out.sort();
    out
}

/// Paths of every object under the table folder except the Delta log.
pub async fn data_files(lake: &Lake, table: &TableRef) -> Vec<String> {
    use futures::TryStreamExt;
    let handle = lake.open(table).await.unwrap();
    let store = handle.object_store();
    let mut out: Vec<String> = store
        .list(None)
        .map_ok(|m| m.location.to_string())
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .filter(|p| !p.starts_with("_delta_log"))
        .collect();
    out.sort();
    out
}

/// Paths of the files the table's current version references.
pub async fn active_files(lake: &Lake, table: &TableRef) -> Vec<String> {
    let handle = lake.open(table).await.unwrap();
    let mut out: Vec<String> = handle
        .snapshot()
        .unwrap()
        .log_data()
        .iter()
        .map(|f| f.object_store_path().to_string())
        .collect();
    out.sort();
    out
}

/// Runs the whole conformance suite on one backend, one test per behaviour.
macro_rules! conformance {
    ($backend:ident) => {
        mod $backend {
            use crate::suite;

            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let Some(b) = crate::$backend() else {
                            println!("skipped: set {} to run the lake suite on S3", crate::S3_ROOT_ENV);
                            return;
                        };
                        suite::$name(&b.lake).await;
                    }
                };
            }

            case!(overwrite_twice_keeps_only_the_second_data);
            case!(replace_partition_replaces_only_that_partition);
            case!(partition_values_live_in_paths_not_files);
            case!(zero_batch_overwrite_creates_an_empty_table);
            case!(append_adds_rows);
            case!(overwrite_may_change_the_schema);
            case!(append_with_another_schema_is_refused);
            case!(replace_partition_with_another_schema_is_refused);
            case!(batch_with_another_schema_is_refused);
            case!(rows_of_another_partition_are_refused);
            case!(missing_table_is_reported_by_name);
            case!(dropped_writer_leaves_the_previous_version);
            case!(abort_deletes_its_files);
            case!(time_travel_returns_old_rows);
            case!(list_finds_tables_in_every_zone);
            case!(target_file_rows_splits_files);
            case!(history_lists_commits_newest_first);
            case!(open_version_out_of_range_is_refused);
            case!(date_partitions_are_replaced_by_day);
            case!(timestamps_without_zone_work_and_upgrade_the_protocol);
            case!(a_batch_spanning_partitions_is_split);
            case!(delta_encoded_columns_round_trip);
        }
    };
}

conformance!(memory);
conformance!(local);
conformance!(s3);
