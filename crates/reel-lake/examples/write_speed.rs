//! Write throughput and memory of the lake writer (release build):
//! `cargo run --release -p reel-lake --example write_speed`
//! `REEL_SPEED_ROWS` sets the row count (10M for speed, 20M for memory by default).
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use reel_lake::deltalake::parquet::basic::{Compression, ZstdLevel};
use reel_lake::{Lake, WriteMode};

use reel_common::TableRef;

fn t(name: &str) -> TableRef {
    name.parse().expect("valid table name")
}

fn ratings_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Int64, false),
        Field::new("movie_id", DataType::Int64, false),
        Field::new("rating", DataType::Float64, false),
        Field::new("timestamp", DataType::Int64, false),
    ]))
}

/// MovieLens-like ratings: 160k users, 60k movies, half-star ratings, rising timestamps.
fn ratings(start: u64, n: usize) -> RecordBatch {
    let mut x = start.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        x >> 33
    };
    let mut users = Vec::with_capacity(n);
    let mut movies = Vec::with_capacity(n);
    let mut stars = Vec::with_capacity(n);
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        users.push((next() % 160_000) as i64);
        movies.push((next() % 60_000) as i64);
        stars.push((next() % 10 + 1) as f64 / 2.0);
        times.push(800_000_000 + (start as i64 + i as i64) * 3);
    }
    RecordBatch::try_new(
        ratings_schema(),
        vec![
            Arc::new(Int64Array::from(users)),
            Arc::new(Int64Array::from(movies)),
            Arc::new(Float64Array::from(stars)),
            Arc::new(Int64Array::from(times)),
        ],
    )
    .unwrap()
}

async fn write_speed() {
    let rows: usize = std::env::var("REEL_SPEED_ROWS").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000_000);
    let batch_rows = 65_536;
    // Generate up front so only the write is timed.
    let batches: Vec<RecordBatch> = (0..rows.div_ceil(batch_rows))
        .map(|i| ratings((i * batch_rows) as u64, batch_rows.min(rows - i * batch_rows)))
        .collect();
    for (name, compression) in [
        ("zstd(1)", Compression::ZSTD(ZstdLevel::try_new(1).unwrap())),
        ("snappy", Compression::SNAPPY),
        ("lz4_raw", Compression::LZ4_RAW),
        ("none", Compression::UNCOMPRESSED),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::try_new(dir.path().to_str().unwrap(), None).unwrap();
        let start = Instant::now();
        let mut w = lake
            .writer(&t("clean.ratings"), ratings_schema())
            .with_mode(WriteMode::Overwrite)
            .with_compression(compression);
        for b in &batches {
            w.write(b.clone()).await.unwrap();
        }
        let m = w.commit().await.unwrap();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name:>8}: {rows} rows in {secs:.2} s = {:.2} M rows/s, {} files, {:.1} MB",
            rows as f64 / secs / 1e6,
            m.files_added,
            m.bytes_written as f64 / 1e6
        );
        assert_eq!(m.rows_written as usize, rows);
    }
}

/// Peak memory (VmHWM) of this process in MB, on Linux.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

async fn write_memory_stays_flat() {
    // Batches are made on the fly, so the peak is the writer's own working set.
    let rows: usize = std::env::var("REEL_SPEED_ROWS").ok().and_then(|s| s.parse().ok()).unwrap_or(20_000_000);
    let batch_rows = 65_536;
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::try_new(dir.path().to_str().unwrap(), None).unwrap();
    let before = peak_rss_mb().unwrap_or(0.0);
    let start = Instant::now();
    let mut w = lake.writer(&t("clean.ratings"), ratings_schema());
    let mut written = 0;
    while written < rows {
        let n = batch_rows.min(rows - written);
        w.write(ratings(written as u64, n)).await.unwrap();
        written += n;
    }
    let m = w.commit().await.unwrap();
    let after = peak_rss_mb().unwrap_or(0.0);
    println!(
        "{rows} rows ({:.0} MB as Arrow) in {:.2} s, {} files; peak RSS {before:.0} MB -> {after:.0} MB",
        rows as f64 * 32.0 / 1e6,
        start.elapsed().as_secs_f64(),
        m.files_added,
    );
    assert!(after - before < 1024.0, "the writer held {:.0} MB", after - before);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    write_speed().await;
    write_memory_stays_flat().await;
}
