//! Generates a MovieLens-shaped CSV set until `reelhouse generate movielens` exists, and
//! prints shape statistics of a generated `ratings.csv`.
//!
//! ```text
//! cargo run --release -p reel-gen --example gen -- --ratings 25000000 --out data/ml-gen-25000000 [--seed 42]
//! cargo run --release -p reel-gen --example gen -- --stats data/ml-gen-25000000
//! ```
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use reel_gen::MovieLensGenParams;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut ratings, mut out, mut seed, mut stats) = (None, None, 42u64, None);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--ratings" => ratings = Some(value()?.replace('_', "").parse::<u64>()?),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--seed" => seed = value()?.parse()?,
            "--stats" => stats = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other}; see the file header").into()),
        }
    }
    if let Some(dir) = stats {
        return print_stats(&dir);
    }
    let ratings = ratings.ok_or("--ratings N is required")?;
    let out = out.ok_or("--out DIR is required")?;
    let params = MovieLensGenParams::new(ratings).seed(seed).check()?;
    let t = Instant::now();
    let done = AtomicU64::new(0);
    let report = params.write_csv(&out, &|n| {
        let d = done.fetch_add(n, Ordering::Relaxed) + n;
        if d % 5_000_000 < n {
            eprintln!("  {d} ratings written");
        }
    })?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "wrote {} ratings, {} users, {} movies, {} tags, {} links, {} bytes in {secs:.2}s ({:.1} M ratings/s)",
        report.ratings,
        report.users,
        report.movies,
        report.tags,
        report.links,
        report.bytes,
        report.ratings as f64 / secs / 1e6
    );
    Ok(())
}

fn print_stats(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let f = BufReader::new(std::fs::File::open(dir.join("ratings.csv"))?);
    let mut hist = [0u64; 11];
    let mut per_movie: HashMap<u32, u64> = HashMap::new();
    let mut per_user: Vec<u64> = Vec::new();
    let (mut n, mut sum, mut tmin, mut tmax) = (0u64, 0.0f64, i64::MAX, i64::MIN);
    for line in f.lines().skip(1) {
        let line = line?;
        let mut it = line.split(',');
        let (u, m, r, t) = (it.next(), it.next(), it.next(), it.next());
        let (Some(u), Some(m), Some(r), Some(t)) = (u, m, r, t) else {
            return Err(format!("bad line {line}").into());
        };
        let u: usize = u.parse()?;
        let r: f64 = r.parse()?;
        let t: i64 = t.parse()?;
        if per_user.len() < u {
            per_user.resize(u, 0);
        }
        per_user[u - 1] += 1;
        *per_movie.entry(m.parse()?).or_default() += 1;
        hist[(r * 2.0) as usize] += 1;
        sum += r;
        n += 1;
        tmin = tmin.min(t);
        tmax = tmax.max(t);
    }
    println!("ratings {n}, mean {:.3}, ts {tmin}..{tmax}", sum / n as f64);
    for (i, h) in hist.iter().enumerate().skip(1) {
        println!("  {:.1}: {:5.2}%", i as f64 / 2.0, 100.0 * *h as f64 / n as f64);
    }
    let mut pm: Vec<u64> = per_movie.values().copied().collect();
    pm.sort_unstable_by(|a, b| b.cmp(a));
    let movies = reel_gen::movie_count(n) as usize;
    let top1 = pm.iter().take(movies.div_ceil(100)).sum::<u64>();
    let top10 = pm.iter().take(movies.div_ceil(10)).sum::<u64>();
    println!(
        "movies {movies}, rated {}, top movie {} ({:.1}% of users), top 1% share {:.1}%, top 10% share {:.1}%, movies with < 5 ratings {}",
        pm.len(),
        pm[0],
        100.0 * pm[0] as f64 / per_user.len() as f64,
        100.0 * top1 as f64 / n as f64,
        100.0 * top10 as f64 / n as f64,
        pm.iter().filter(|&&c| c < 5).count() + movies - pm.len()
    );
    per_user.sort_unstable();
    let k = per_user.len();
    println!(
        "users {k}: min {}, median {}, mean {:.1}, p99 {}, max {}",
        per_user[0],
        per_user[k / 2],
        n as f64 / k as f64,
        per_user[k * 99 / 100],
        per_user[k - 1]
    );
    Ok(())
}
