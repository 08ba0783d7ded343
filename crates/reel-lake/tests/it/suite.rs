//! The conformance suite: every behaviour of the lake, as a function of a [`Lake`], run on
//! each backend by the `conformance!` macro in `main.rs`.
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use object_store::ObjectStoreExt as _;
use reel_lake::{Error, Lake, WriteMode};

use crate::{active_files, batch, data_files, expected, scan_rows, schema, t};

fn replace(ds: &str) -> WriteMode {
    WriteMode::ReplacePartition {
        column: "ds".into(),
        value: ds.into(),
    }
}

fn info(run: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("run_id".into(), run.into());
    m.insert("command".into(), "reelhouse test".into());
    m
}

pub async fn overwrite_twice_keeps_only_the_second_data(lake: &Lake) {
    let table = t("clean.ratings");
    let mut w = lake.writer(&table, schema()).with_commit_info(info("run-1"));
    w.write(batch(0..100, "2025-04-09")).await.unwrap();
    w.write(batch(100..150, "2025-04-09")).await.unwrap();
    let first = w.commit().await.unwrap();
    assert_eq!(first.version, 0);
    assert_eq!(first.rows_written, 150);
    assert_eq!(first.files_removed, 0);
    assert!(first.files_added >= 1);
    assert!(first.bytes_written > 0);

    let mut w = lake.writer(&table, schema()).with_commit_info(info("run-2"));
    w.write(batch(1000..1010, "2025-04-10")).await.unwrap();
    let second = w.commit().await.unwrap();
    assert_eq!(second.version, 1);
    assert_eq!(second.rows_written, 10);
    assert_eq!(second.files_removed, first.files_added);

    assert_eq!(scan_rows(lake, &table).await, expected(&[(1000..1010, "2025-04-10")]));
    let i = lake.info(&table).await.unwrap();
    assert_eq!(i.version, 1);
    assert_eq!(i.row_count, Some(10));
    assert_eq!(i.num_files, second.files_added);
    assert_eq!(i.size_bytes, second.bytes_written);
    assert!(i.partition_columns.is_empty());
    assert_eq!(i.location, lake.table_url(&table).to_string());

    let h = lake.history(&table).await.unwrap();
    assert_eq!(h.iter().map(|c| c.version).collect::<Vec<_>>(), vec![1, 0]);
    assert_eq!(h[0].metadata["run_id"], "run-2");
    assert_eq!(h[1].metadata["run_id"], "run-1");
    assert_eq!(h[0].metadata["command"], "reelhouse test");
}

pub async fn replace_partition_replaces_only_that_partition(lake: &Lake) {
    let table = t("raw.ratings");
    let write = |ds: &'static str, ids: std::ops::Range<i64>| {
        let lake = lake.clone();
        let table = table.clone();
        async move {
            let mut w = lake.writer(&table, schema()).with_mode(replace(ds));
            w.write(batch(ids, ds)).await.unwrap();
            w.commit().await.unwrap()
        }
    };
    let a = write("2025-04-09", 0..30).await;
    assert_eq!(a.version, 0);
    let b = write("2025-04-10", 100..120).await;
    assert_eq!((b.version, b.files_removed), (1, 0));
    let a2 = write("2025-04-09", 500..505).await;
    assert_eq!(a2.version, 2);
    assert_eq!(a2.files_removed, a.files_added);

    assert_eq!(
        scan_rows(lake, &table).await,
        expected(&[(500..505, "2025-04-09"), (100..120, "2025-04-10")])
    );
    let i = lake.info(&table).await.unwrap();
    assert_eq!(i.partition_columns, vec!["ds".to_string()]);
    assert_eq!(i.row_count, Some(25));
    assert_eq!(i.version, 2);
    let h = lake.history(&table).await.unwrap();
    assert_eq!(h[0].metadata["operationParameters"]["predicate"], "ds = '2025-04-09'");
}

pub async fn partition_values_live_in_paths_not_files(lake: &Lake) {
    let table = t("raw.events");
    let mut w = lake.writer(&table, schema()).with_mode(replace("2025-04-09"));
    w.write(batch(0..10, "2025-04-09")).await.unwrap();
    w.commit().await.unwrap();

    let files = active_files(lake, &table).await;
    assert!(!files.is_empty());
    let handle = lake.open(&table).await.unwrap();
    for f in &files {
        assert!(f.starts_with("ds=2025-04-09/"), "{f}");
        let bytes = handle
            .object_store()
            .get(&object_store::path::Path::parse(f).unwrap())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let reader = reel_lake::deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
        let names: Vec<String> = reader.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, vec!["id".to_string(), "score".to_string()], "ds must not be stored in {f}");
    }
    // ...and read back as a column.
    assert_eq!(scan_rows(lake, &table).await, expected(&[(0..10, "2025-04-09")]));
}

pub async fn zero_batch_overwrite_creates_an_empty_table(lake: &Lake) {
    let table = t("curated.empty");
    let m = lake.writer(&table, schema()).commit().await.unwrap();
    assert_eq!((m.version, m.rows_written, m.files_added), (0, 0, 0));
    assert!(lake.exists(&table).await.unwrap());
    let i = lake.info(&table).await.unwrap();
    assert_eq!(i.row_count, Some(0));
    assert_eq!(i.num_files, 0);
    let names: Vec<&str> = i.schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, vec!["id", "ds", "score"]);
    assert_eq!(i.schema.field(0).data_type(), &DataType::Int64);
    assert!(lake.scan(&table).await.unwrap().iter().all(|b| b.num_rows() == 0));

    // Empty batches change nothing either; an overwrite with none empties a full table.
    let mut w = lake.writer(&table, schema());
    w.write(batch(0..5, "x")).await.unwrap();
    w.commit().await.unwrap();
    let mut w = lake.writer(&table, schema());
    w.write(batch(0..0, "x")).await.unwrap();
    let m = w.commit().await.unwrap();
    assert_eq!((m.version, m.files_removed), (2, 1));
    assert_eq!(lake.info(&table).await.unwrap().row_count, Some(0));
}

pub async fn append_adds_rows(lake: &Lake) {
    let table = t("clean.tags");
    for (i, ids) in [0..10, 10..15].into_iter().enumerate() {
        let mut w = lake.writer(&table, schema()).with_mode(WriteMode::Append);
        w.write(batch(ids, "d")).await.unwrap();
        let m = w.commit().await.unwrap();
        assert_eq!((m.version, m.files_removed), (i as i64, 0));
    }
    assert_eq!(scan_rows(lake, &table).await, expected(&[(0..15, "d")]));
    assert_eq!(lake.info(&table).await.unwrap().row_count, Some(15));
}

pub async fn overwrite_may_change_the_schema(lake: &Lake) {
    let table = t("curated.report");
    let mut w = lake.writer(&table, schema()).with_partition_columns(vec!["ds".into()]);
    w.write(batch(0..10, "a")).await.unwrap();
    w.commit().await.unwrap();
    let before_id = lake.open(&table).await.unwrap().snapshot().unwrap().metadata().id().to_string();

    let other = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
    let b = RecordBatch::try_new(other.clone(), vec![Arc::new(Int64Array::from(vec![7, 8, 9]))]).unwrap();
    let mut w = lake.writer(&table, other.clone());
    w.write(b).await.unwrap();
    let m = w.commit().await.unwrap();
    assert_eq!(m.version, 1);
    let i = lake.info(&table).await.unwrap();
    assert_eq!(i.schema.fields().len(), 1);
    assert_eq!(i.schema.field(0).name(), "n");
    assert!(i.partition_columns.is_empty(), "ds is gone, so is the partitioning");
    assert_eq!(i.row_count, Some(3));
    let after_id = lake.open(&table).await.unwrap().snapshot().unwrap().metadata().id().to_string();
    assert_eq!(before_id, after_id, "a schema change keeps the table id");
    // The old version still reads with the old schema.
    let old = lake.open_version(&table, 0).await.unwrap();
    let old_rows = crate::rows(&reel_lake::scan_table(&table, &old).await.unwrap());
    assert_eq!(old_rows, expected(&[(0..10, "a")]));
}

pub async fn append_with_another_schema_is_refused(lake: &Lake) {
    let table = t("clean.movies");
    let mut w = lake.writer(&table, schema());
    w.write(batch(0..3, "a")).await.unwrap();
    w.commit().await.unwrap();

    let other = Arc::new(Schema::new(vec![Field::new("title", DataType::Utf8, true)]));
    let err = lake
        .writer(&table, other)
        .with_mode(WriteMode::Append)
        .commit()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SchemaMismatch { .. }), "{err:?}");
    let msg = err.to_string();
    for needle in ["clean.movies", "id: Int64", "title: Utf8", "Overwrite"] {
        assert!(msg.contains(needle), "{needle} missing from: {msg}");
    }
    assert_eq!(lake.info(&table).await.unwrap().version, 0);
}

pub async fn replace_partition_with_another_schema_is_refused(lake: &Lake) {
    let table = t("raw.links");
    let mut w = lake.writer(&table, schema()).with_mode(replace("a"));
    w.write(batch(0..3, "a")).await.unwrap();
    w.commit().await.unwrap();

    // Same names, one type differs.
    let other = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        Field::new("ds", DataType::Utf8, false),
        Field::new("score", DataType::Float64, true),
    ]));
    let mut w = lake.writer(&table, other).with_mode(replace("b"));
    let err = w
        .write(
            RecordBatch::try_new(
                Arc::new(Schema::new(vec![
                    Field::new("id", DataType::Int32, false),
                    Field::new("ds", DataType::Utf8, false),
                    Field::new("score", DataType::Float64, true),
                ])),
                vec![
                    Arc::new(arrow::array::Int32Array::from(vec![1])),
                    Arc::new(arrow::array::StringArray::from(vec!["b"])),
                    Arc::new(arrow::array::Float64Array::from(vec![1.0])),
                ],
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::SchemaMismatch { .. }), "{err:?}");
    assert!(msg.contains("replace partition ds=b of raw.links"), "{msg}");
    assert!(msg.contains("id: Int32"), "{msg}");
    // The writer stays failed.
    let again = w.commit().await.unwrap_err();
    assert!(matches!(again, Error::WriterFailed { .. }), "{again:?}");

    // Another partitioning is refused too.
    let err = lake
        .writer(&table, schema())
        .with_mode(replace("b"))
        .with_partition_columns(vec!["ds".into(), "id".into()])
        .commit()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PartitionMismatch { .. }), "{err:?}");
    assert_eq!(lake.info(&table).await.unwrap().version, 0);
}

pub async fn batch_with_another_schema_is_refused(lake: &Lake) {
    let table = t("clean.users");
    let mut w = lake.writer(&table, schema());
    let other = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    let b = RecordBatch::try_new(other, vec![Arc::new(Int64Array::from(vec![1]))]).unwrap();
    let err = w.write(b).await.unwrap_err();
    assert!(matches!(err, Error::BatchSchemaMismatch { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("1 columns instead of 3") && msg.contains("clean.users"), "{msg}");
    // A bad batch does not poison the writer.
    w.write(batch(0..2, "a")).await.unwrap();
    assert_eq!(w.commit().await.unwrap().rows_written, 2);
}

pub async fn rows_of_another_partition_are_refused(lake: &Lake) {
    let table = t("quarantine.ratings");
    let mut w = lake.writer(&table, schema()).with_mode(replace("a"));
    w.write(batch(0..3, "a")).await.unwrap();
    w.commit().await.unwrap();
    let before = data_files(lake, &table).await;

    let mut w = lake.writer(&table, schema()).with_mode(replace("a"));
    w.write(batch(10..13, "a")).await.unwrap();
    w.write(batch(20..23, "b")).await.unwrap();
    let err = w.commit().await.unwrap_err();
    assert!(matches!(err, Error::PartitionValueMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains("ds=a") && err.to_string().contains("\"b\""), "{err}");
    assert_eq!(scan_rows(lake, &table).await, expected(&[(0..3, "a")]));
    assert_eq!(data_files(lake, &table).await, before, "the refused write's files are deleted");
}

pub async fn missing_table_is_reported_by_name(lake: &Lake) {
    let table = t("clean.nothing");
    assert!(!lake.exists(&table).await.unwrap());
    let err = lake.open(&table).await.unwrap_err();
    assert!(matches!(err, Error::TableNotFound { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("clean.nothing") && msg.contains("does not exist"), "{msg}");
    assert!(matches!(lake.info(&table).await.unwrap_err(), Error::TableNotFound { .. }));
    assert!(matches!(lake.history(&table).await.unwrap_err(), Error::TableNotFound { .. }));
    assert!(matches!(lake.scan(&table).await.unwrap_err(), Error::TableNotFound { .. }));
}

pub async fn dropped_writer_leaves_the_previous_version(lake: &Lake) {
    let table = t("clean.ratings");
    let mut w = lake.writer(&table, schema());
    w.write(batch(0..10, "a")).await.unwrap();
    w.commit().await.unwrap();

    // Many batches, files rolled, then the writer is dropped: a crash as far as the
    // table can tell.
    let mut w = lake.writer(&table, schema()).with_target_file_rows(1000);
    for i in 0..20 {
        w.write(batch(i * 500..(i + 1) * 500, "b")).await.unwrap();
    }
    drop(w);

    let i = lake.info(&table).await.unwrap();
    assert_eq!(i.version, 0);
    assert_eq!(i.row_count, Some(10));
    assert_eq!(scan_rows(lake, &table).await, expected(&[(0..10, "a")]));

    // The next writer commits fine.
    let mut w = lake.writer(&table, schema());
    w.write(batch(5..7, "c")).await.unwrap();
    assert_eq!(w.commit().await.unwrap().version, 1);
    assert_eq!(scan_rows(lake, &table).await, expected(&[(5..7, "c")]));
}

pub async fn abort_deletes_its_files(lake: &Lake) {
    let table = t("raw.movies");
    let mut w = lake.writer(&table, schema()).with_mode(replace("a"));
    w.write(batch(0..10, "a")).await.unwrap();
    w.commit().await.unwrap();
    let before = data_files(lake, &table).await;
    assert_eq!(before, active_files(lake, &table).await);

    let mut w = lake
        .writer(&table, schema())
        .with_mode(replace("a"))
        .with_target_file_rows(300);
    for i in 0..10 {
        w.write(batch(i * 100..(i + 1) * 100, "a")).await.unwrap();
    }
    w.abort().await.unwrap();

    assert_eq!(data_files(lake, &table).await, before);
    assert_eq!(lake.info(&table).await.unwrap().version, 0);
    assert_eq!(scan_rows(lake, &table).await, expected(&[(0..10, "a")]));
}

pub async fn time_travel_returns_old_rows(lake: &Lake) {
    let table = t("curated.top");
    for (ids, ds) in [(0..3, "v0"), (10..12, "v1"), (20..21, "v2")] {
        let mut w = lake.writer(&table, schema());
        w.write(batch(ids, ds)).await.unwrap();
        w.commit().await.unwrap();
    }
    for (v, ids, ds) in [(0, 0..3, "v0"), (1, 10..12, "v1"), (2, 20..21, "v2")] {
        let old = lake.open_version(&table, v).await.unwrap();
        assert_eq!(old.version(), Some(v as u64));
        let got = crate::rows(&reel_lake::scan_table(&table, &old).await.unwrap());
        assert_eq!(got, expected(&[(ids, ds)]), "version {v}");
    }
}

pub async fn list_finds_tables_in_every_zone(lake: &Lake) {
    assert!(lake.list().await.unwrap().is_empty());
    let names = ["quarantine.ratings", "raw.ratings", "clean.ratings", "curated.genres", "clean.movies", "raw.movies"];
    for n in names {
        lake.writer(&t(n), schema()).commit().await.unwrap();
    }
    let got: Vec<String> = lake.list().await.unwrap().iter().map(|t| t.to_string()).collect();
    assert_eq!(
        got,
        vec!["raw.movies", "raw.ratings", "clean.movies", "clean.ratings", "curated.genres", "quarantine.ratings"]
    );
}

pub async fn target_file_rows_splits_files(lake: &Lake) {
    let table = t("clean.big");
    let mut w = lake.writer(&table, schema()).with_target_file_rows(2500);
    for i in 0..10 {
        w.write(batch(i * 1000..(i + 1) * 1000, "a")).await.unwrap();
    }
    let m = w.commit().await.unwrap();
    assert_eq!(m.files_added, 4);
    assert_eq!(m.rows_written, 10_000);
    let i = lake.info(&table).await.unwrap();
    assert_eq!((i.num_files, i.row_count), (4, Some(10_000)));
    assert_eq!(scan_rows(lake, &table).await.len(), 10_000);
}

pub async fn history_lists_commits_newest_first(lake: &Lake) {
    let table = t("raw.tags");
    for (n, mode) in [("a", replace("a")), ("b", WriteMode::Append), ("c", WriteMode::Overwrite)] {
        let mut w = lake
            .writer(&table, schema())
            .with_mode(mode)
            .with_commit_info(info(&format!("run-{n}")));
        w.write(batch(0..2, "a")).await.unwrap();
        w.commit().await.unwrap();
    }
    let h = lake.history(&table).await.unwrap();
    assert_eq!(h.iter().map(|c| c.version).collect::<Vec<_>>(), vec![2, 1, 0]);
    assert_eq!(h[0].operation, "WRITE");
    assert_eq!(h[0].metadata["operationParameters"]["mode"], "Overwrite");
    assert_eq!(h[1].metadata["operationParameters"]["mode"], "Append");
    assert_eq!(h[2].metadata["run_id"], "run-a");
    assert_eq!(h[0].metadata["operationMetrics"]["numOutputRows"], 2);
    assert!(h[0].timestamp >= h[2].timestamp);
    // Only the commits after a version.
    let after = lake.history_after(&table, 0).await.unwrap();
    assert_eq!(after.iter().map(|c| c.version).collect::<Vec<_>>(), vec![2, 1]);
    assert!(lake.history_after(&table, 2).await.unwrap().is_empty());
}

pub async fn open_version_out_of_range_is_refused(lake: &Lake) {
    let table = t("clean.links");
    lake.writer(&table, schema()).commit().await.unwrap();
    let err = lake.open_version(&table, 5).await.unwrap_err();
    assert!(matches!(err, Error::VersionNotFound { version: 5, latest: 0, .. }), "{err:?}");
    assert!(err.to_string().contains("clean.links has no version 5"), "{err}");
}

pub async fn date_partitions_are_replaced_by_day(lake: &Lake) {
    use arrow::array::Date32Array;
    let table = t("raw.views");
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("day", DataType::Date32, false),
    ]));
    let day = |s: &str| {
        let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
    };
    let write = |ids: Vec<i64>, d: &'static str| {
        let lake = lake.clone();
        let table = table.clone();
        let schema = schema.clone();
        let n = ids.len();
        let days = vec![day(d); n];
        async move {
            let b = RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(Int64Array::from(ids)), Arc::new(Date32Array::from(days))],
            )
            .unwrap();
            let mut w = lake.writer(&table, schema).with_mode(WriteMode::ReplacePartition {
                column: "day".into(),
                value: d.into(),
            });
            w.write(b).await.unwrap();
            w.commit().await.unwrap()
        }
    };
    write(vec![1, 2, 3], "2025-04-09").await;
    write(vec![4], "2025-04-10").await;
    let m = write(vec![5, 6], "2025-04-09").await;
    assert_eq!(m.files_removed, 1);
    let i = lake.info(&table).await.unwrap();
    assert_eq!(i.row_count, Some(3));
    assert_eq!(i.schema.field_with_name("day").unwrap().data_type(), &DataType::Date32);
    assert!(active_files(lake, &table).await.iter().any(|f| f.starts_with("day=2025-04-10/")));
}

pub async fn timestamps_without_zone_work_and_upgrade_the_protocol(lake: &Lake) {
    use arrow::array::TimestampSecondArray;
    use arrow::datatypes::TimeUnit;
    let table = t("clean.events");
    // Version 0: no timestamp column.
    let ids = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    let mut w = lake.writer(&table, ids.clone());
    w.write(RecordBatch::try_new(ids, vec![Arc::new(Int64Array::from(vec![1, 2]))]).unwrap())
        .await
        .unwrap();
    w.commit().await.unwrap();

    // Version 1 adds a timestamp without time zone, in seconds (stored as microseconds).
    let with_ts = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("at", DataType::Timestamp(TimeUnit::Second, None), true),
    ]));
    let b = RecordBatch::try_new(
        with_ts.clone(),
        vec![
            Arc::new(Int64Array::from(vec![3, 4, 5])),
            Arc::new(TimestampSecondArray::from(vec![Some(1_700_000_000), None, Some(0)])),
        ],
    )
    .unwrap();
    let mut w = lake.writer(&table, with_ts.clone());
    w.write(b.clone()).await.unwrap();
    let m = w.commit().await.unwrap();
    assert_eq!((m.version, m.files_removed), (1, 1));
    let i = lake.info(&table).await.unwrap();
    assert_eq!(i.row_count, Some(3));
    assert_eq!(
        i.schema.field_with_name("at").unwrap().data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, None)
    );
    let got = lake.scan(&table).await.unwrap();
    let at = arrow::compute::concat(&got.iter().map(|b| b.column(1).as_ref()).collect::<Vec<_>>()).unwrap();
    let at = arrow::compute::cast(&at, &DataType::Int64).unwrap();
    let mut at: Vec<Option<i64>> = at.as_any().downcast_ref::<Int64Array>().unwrap().iter().collect();
    at.sort();
    assert_eq!(at, vec![None, Some(0), Some(1_700_000_000_000_000)]);

    // Appending more of the same schema works, and the old version still reads.
    let mut w = lake.writer(&table, with_ts).with_mode(WriteMode::Append);
    w.write(b).await.unwrap();
    assert_eq!(w.commit().await.unwrap().version, 2);
    assert_eq!(lake.info(&table).await.unwrap().row_count, Some(6));
    let old = lake.open_version(&table, 0).await.unwrap();
    assert_eq!(reel_lake::scan_table(&table, &old).await.unwrap().iter().map(|b| b.num_rows()).sum::<usize>(), 2);
}

/// A batch that spans partitions takes the general split; one that holds a single
/// partition goes straight to its file. Both end in the right folders.
pub async fn a_batch_spanning_partitions_is_split(lake: &Lake) {
    let table = t("raw.events");
    let mixed = arrow::compute::concat_batches(&schema(), &[batch(0..3, "a"), batch(3..5, "b"), batch(5..6, "a")]).unwrap();
    let mut w = lake.writer(&table, schema()).with_mode(WriteMode::Append).with_partition_columns(vec!["ds".into()]);
    w.write(mixed).await.unwrap();
    w.write(batch(6..8, "b")).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(scan_rows(lake, &table).await, expected(&[(0..3, "a"), (3..5, "b"), (5..6, "a"), (6..8, "b")]));
    let files = active_files(lake, &table).await;
    assert!(files.iter().any(|f| f.starts_with("ds=a/")) && files.iter().any(|f| f.starts_with("ds=b/")), "{files:?}");
    assert!(files.iter().all(|f| f.starts_with("ds=a/") || f.starts_with("ds=b/")), "{files:?}");
}

/// Delta-encoded columns read back the same, and are written DELTA_BINARY_PACKED
/// without a dictionary; names that are missing or not integers are ignored.
pub async fn delta_encoded_columns_round_trip(lake: &Lake) {
    use reel_lake::deltalake::parquet::basic::Encoding;
    let table = t("raw.lines");
    let mut w = lake
        .writer(&table, schema())
        .with_mode(replace("2025-04-09"))
        .with_delta_encoded(vec!["id".into(), "score".into(), "missing".into()]);
    w.write(batch(0..5000, "2025-04-09")).await.unwrap();
    w.write(batch(10_000..10_100, "2025-04-09")).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(scan_rows(lake, &table).await, expected(&[(0..5000, "2025-04-09"), (10_000..10_100, "2025-04-09")]));

    let handle = lake.open(&table).await.unwrap();
    let files = active_files(lake, &table).await;
    let bytes = handle
        .object_store()
        .get(&object_store::path::Path::parse(&files[0]).unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let reader = reel_lake::deltalake::parquet::file::reader::SerializedFileReader::new(bytes).unwrap();
    use reel_lake::deltalake::parquet::file::reader::FileReader as _;
    let rg = reader.metadata().row_group(0);
    let encodings = |name: &str| {
        let c = rg.columns().iter().find(|c| c.column_path().string() == name).unwrap();
        c.encodings().collect::<Vec<Encoding>>()
    };
    let id = encodings("id");
    assert!(id.contains(&Encoding::DELTA_BINARY_PACKED), "{id:?}");
    assert!(!id.contains(&Encoding::RLE_DICTIONARY) && !id.contains(&Encoding::PLAIN_DICTIONARY), "{id:?}");
    // A float column keeps the default (a dictionary).
    let score = encodings("score");
    assert!(!score.contains(&Encoding::DELTA_BINARY_PACKED), "{score:?}");
}
