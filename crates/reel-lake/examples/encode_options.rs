//! Which Parquet settings encode ratings cheapest? Reads one data file of a table and
//! re-encodes its batches under several writer settings, timing the encode alone.
//! `cargo run --release -p reel-lake --example encode_options -- FILE.parquet [--per-column]`
use std::fs::File;
use std::sync::Arc;
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
    if std::env::args().any(|a| a == "--per-column") {
        return per_column(&batches);
    }
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

/// `encode_options FILE --per-column`: each column alone under each encoding, so the
/// cheapest choice per column can be read off.
fn per_column(batches: &[RecordBatch]) {
    let schema = batches[0].schema();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    for (i, field) in schema.fields().iter().enumerate() {
        let one = Arc::new(arrow::datatypes::Schema::new(vec![field.as_ref().clone()]));
        let cols: Vec<RecordBatch> = batches
            .iter()
            .map(|b| RecordBatch::try_new(one.clone(), vec![b.column(i).clone()]).expect("project"))
            .collect();
        let name = field.name().as_str();
        let path = ColumnPath::from(name);
        let base = || WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level"))).set_dictionary_page_size_limit(64 * 1024);
        let mut variants: Vec<(&str, WriterProperties)> = vec![
            ("dict+zstd", base().build()),
            ("plain+zstd", base().set_column_dictionary_enabled(path.clone(), false).build()),
            ("plain", base().set_column_dictionary_enabled(path.clone(), false).set_column_compression(path.clone(), Compression::UNCOMPRESSED).build()),
        ];
        if field.data_type().is_integer() || matches!(field.data_type(), arrow::datatypes::DataType::Timestamp(..)) {
            variants.push(("delta+zstd", base().set_column_dictionary_enabled(path.clone(), false).set_column_encoding(path.clone(), Encoding::DELTA_BINARY_PACKED).build()));
            variants.push(("delta", base().set_column_dictionary_enabled(path.clone(), false).set_column_encoding(path.clone(), Encoding::DELTA_BINARY_PACKED).set_column_compression(path.clone(), Compression::UNCOMPRESSED).build()));
        }
        if matches!(field.data_type(), arrow::datatypes::DataType::Float64) {
            variants.push(("bss+zstd", base().set_column_dictionary_enabled(path.clone(), false).set_column_encoding(path.clone(), Encoding::BYTE_STREAM_SPLIT).build()));
        }
        let with_chunk_stats: Vec<(String, WriterProperties)> = variants
            .iter()
            .flat_map(|(l, p)| {
                let chunk = p.clone().into_builder().set_statistics_enabled(reel_lake::deltalake::parquet::file::properties::EnabledStatistics::Chunk).build();
                [(l.to_string(), p.clone()), (format!("{l} chunk-stats"), chunk)]
            })
            .collect();
        // Each measurement encodes the column REPEAT times: the scheduler's CPU clock ticks
        // in milliseconds here, so short runs would be all rounding.
        const REPEAT: usize = 6;
        for (label, props) in &with_chunk_stats {
            let mut best = f64::MAX;
            let mut size = 0;
            for _ in 0..3 {
                let c0 = thread_cpu_ns();
                for _ in 0..REPEAT {
                    let mut w = ArrowWriter::try_new(Vec::with_capacity(64 << 20), one.clone(), Some(props.clone())).expect("writer");
                    for b in &cols {
                        w.write(b).expect("write");
                    }
                    size = w.into_inner().expect("close").len();
                }
                best = best.min((thread_cpu_ns() - c0) as f64 / 1e9 / REPEAT as f64);
            }
            println!("{name:10} {label:24} {:5.1} ns/value  {:6.2} bytes/value", best * 1e9 / rows as f64, size as f64 / rows as f64);
        }
    }
}

// CPU time of this thread (ns), from the scheduler.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}
