//! Which Parquet settings encode ratings cheapest? Reads one data file of a table and
//! re-encodes its batches under several writer settings, timing the encode alone.
//! `cargo run --release -p reel-lake --example encode_options -- FILE.parquet`
use std::fs::File;
use std::time::Instant;

use arrow::array::RecordBatch;
use reel_lake::deltalake::parquet::arrow::ArrowWriter;
use reel_lake::deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use reel_lake::deltalake::parquet::basic::{Compression, Encoding, ZstdLevel};
use reel_lake::deltalake::parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use reel_lake::deltalake::parquet::schema::types::ColumnPath;

fn main() {
    let path = std::env::args().nth(1).expect("a parquet file");
    let file = File::open(&path).expect("open");
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).expect("parquet").with_batch_size(65536).build().expect("reader");
    let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let schema = batches[0].schema();
    let cols: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    println!("{rows} rows, columns {cols:?}");
    let base = || {
        WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level")))
            .set_dictionary_page_size_limit(64 * 1024)
    };
    let hi_card = ["_line", "timestamp", "rated_at", "movie_id"];
    let no_dict = |mut b: WriterPropertiesBuilder, names: &[&str]| {
        for c in names {
            b = b.set_column_dictionary_enabled(ColumnPath::from(*c), false);
        }
        b
    };
    let delta = |mut b: WriterPropertiesBuilder, names: &[&str]| {
        for c in names {
            b = b
                .set_column_dictionary_enabled(ColumnPath::from(*c), false)
                .set_column_encoding(ColumnPath::from(*c), Encoding::DELTA_BINARY_PACKED);
        }
        b
    };
    let plain_uncompressed = |mut b: WriterPropertiesBuilder, names: &[&str]| {
        for c in names {
            b = b.set_column_compression(ColumnPath::from(*c), Compression::UNCOMPRESSED);
        }
        b
    };
    let ts = if cols.iter().any(|c| c == "rated_at") { "rated_at" } else { "timestamp" };
    let variants: Vec<(String, WriterProperties)> = vec![
        ("current".into(), base().build()),
        ("no-dict hi-card".into(), no_dict(base(), &hi_card).build()),
        ("delta _line".into(), delta(base(), &["_line"]).build()),
        ("delta _line,user".into(), delta(base(), &["_line", "user_id"]).build()),
        ("delta _line,user,movie".into(), delta(base(), &["_line", "user_id", "movie_id"]).build()),
        (format!("delta _line,user,{ts}"), delta(base(), &["_line", "user_id", ts]).build()),
        (format!("delta _line,user,{ts} uncompressed {ts}"), plain_uncompressed(delta(base(), &["_line", "user_id", ts]), &[ts]).build()),
        (format!("delta _line,user,movie,{ts}"), delta(base(), &["_line", "user_id", "movie_id", ts]).build()),
        ("lz4 delta _line,user".into(), delta(base().set_compression(Compression::LZ4_RAW), &["_line", "user_id"]).build()),
        ("snappy delta _line,user".into(), delta(base().set_compression(Compression::SNAPPY), &["_line", "user_id"]).build()),
    ];
    // CPU time of this thread (ns), from the scheduler: other processes on the machine
    // do not inflate it the way they inflate wall time.
    fn thread_cpu_ns() -> u64 {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
            .unwrap_or(0)
    }
    for round in 0..3 {
        for (name, props) in &variants {
            let t = Instant::now();
            let c0 = thread_cpu_ns();
            let mut w = ArrowWriter::try_new(Vec::with_capacity(64 << 20), schema.clone(), Some(props.clone())).expect("writer");
            for b in &batches {
                w.write(b).expect("write");
            }
            let out = w.into_inner().expect("close");
            let s = t.elapsed().as_secs_f64();
            let cpu = (thread_cpu_ns() - c0) as f64 / 1e9;
            if round > 0 {
                println!("{name:50} wall {:6.3} s  cpu {:6.3} s {:6.1} Mrows/cpu-s {:8.1} MB", s, cpu, rows as f64 / cpu / 1e6, out.len() as f64 / 1e6);
            }
        }
    }
}
