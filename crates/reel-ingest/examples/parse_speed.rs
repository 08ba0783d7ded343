//! Throwaway timing (not committed): generates a grouped ratings.csv and times ingest.
#![allow(clippy::unwrap_used)]
use std::io::Write;
use std::time::Instant;

use arrow::record_batch::RecordBatch;
use reel_ingest::movielens::{IngestOptions, detect, ingest};
use reel_ingest::{Result, Sink, Target};

#[derive(Default)]
struct Count(std::collections::BTreeMap<String, usize>);
impl Sink for Count {
    fn emit(&mut self, t: Target, b: RecordBatch) -> Result<()> {
        *self.0.entry(t.to_string()).or_default() += b.num_rows();
        Ok(())
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(&args[1]);
    let lines: u64 = args.get(2).map_or(10_000_000, |s| s.parse().unwrap());
    let shuffled = args.get(3).is_some_and(|s| s == "shuffled");
    if !dir.join("ratings.csv").exists() {
        std::fs::create_dir_all(&dir).unwrap();
        let mut m = std::io::BufWriter::new(std::fs::File::create(dir.join("movies.csv")).unwrap());
        writeln!(m, "movieId,title,genres").unwrap();
        for i in 1..=90_000 {
            writeln!(m, "{i},Movie {i} ({}),Drama|Comedy", 1900 + i % 120).unwrap();
        }
        let mut r = std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(dir.join("ratings.csv")).unwrap(),
        );
        writeln!(r, "userId,movieId,rating,timestamp").unwrap();
        let mut x: u64 = 42;
        let mut next = |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        let mut written = 0;
        let mut user = 0;
        while written < lines {
            user += 1;
            let count = 1 + next(200);
            let mut movie = 0;
            for _ in 0..count {
                movie += 1 + next(300);
                let u = if shuffled { 1 + next(user) } else { user };
                let half = 1 + next(10);
                let rating = if half % 2 == 0 {
                    format!("{}.0", half / 2)
                } else {
                    format!("{}.5", half / 2)
                };
                writeln!(
                    r,
                    "{u},{},{rating},{}",
                    movie % 90_000 + 1,
                    1_000_000_000 + next(600_000_000)
                )
                .unwrap();
                written += 1;
            }
        }
        r.flush().unwrap();
    }
    let found = detect(&dir).unwrap();
    let total = found.total_bytes();
    let mut sink = Count::default();
    let t = Instant::now();
    let report = ingest(
        &found,
        &IngestOptions::new("2025-01-01".parse().unwrap()),
        &mut sink,
        &|_| {},
    )
    .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("");
    println!("{:?}", report.tables);
    println!("{:?}", sink.0);
    println!(
        "{} MB in {secs:.2}s = {:.0} MB/s; {hwm}",
        total / 1_000_000,
        total as f64 / 1e6 / secs
    );
}
