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
    let variants: Vec<(&str, WriterProperties)> = vec![
        ("current", base().build()),
        ("no-dict hi-card", no_dict(base(), &hi_card).build()),
        ("no-dict line/ts", no_dict(base(), &["_line", "timestamp", "rated_at"]).build()),
        ("delta line/ts, no-dict", {
            let mut b = no_dict(base(), &["_line", "timestamp", "rated_at"]);
            for c in ["_line", "timestamp", "rated_at"] {
                b = b.set_column_encoding(ColumnPath::from(c), Encoding::DELTA_BINARY_PACKED);
            }
            b.build()
        }),
        ("delta line + uncompressed line, no-dict ts", {
            let mut b = no_dict(base(), &["_line", "timestamp", "rated_at"]);
            b = b.set_column_encoding(ColumnPath::from("_line"), Encoding::DELTA_BINARY_PACKED);
            b = b.set_column_compression(ColumnPath::from("_line"), Compression::UNCOMPRESSED);
            b.build()
        }),
        ("no stats", base().set_statistics_enabled(reel_lake::deltalake::parquet::file::properties::EnabledStatistics::Chunk).build()),
        ("dict 1MiB", base().set_dictionary_page_size_limit(1024 * 1024).build()),
        ("movie dict 1MiB + no-dict line/ts", {
            let b = no_dict(base().set_dictionary_page_size_limit(1024 * 1024), &["_line", "timestamp", "rated_at"]);
            b.build()
        }),
    ];
    for round in 0..2 {
        for (name, props) in &variants {
            let t = Instant::now();
            let mut w = ArrowWriter::try_new(Vec::with_capacity(64 << 20), schema.clone(), Some(props.clone())).expect("writer");
            for b in &batches {
                w.write(b).expect("write");
            }
            let out = w.into_inner().expect("close");
            let s = t.elapsed().as_secs_f64();
            if round == 1 {
                println!("{name:45} {:7.3} s {:6.1} Mrows/s {:8.1} MB", s, rows as f64 / s / 1e6, out.len() as f64 / 1e6);
            }
        }
    }
}
