//! Speed and agreement of the baseline and item-kNN models, against Surprise's figures
//! (benchmarks/README.md §1: BaselineOnly fit 0.19 s / predict 0.06 s; KNNBaseline item
//! pearson_baseline k=40 fit 0.90 s / predict 2.64 s, on this machine).
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-knn cargo run --release -p reel-ml --example knn_speed [-- RUNS [RATINGS_CSV]]
//! ```
//! RUNS (default 5) repetitions give the medians; RATINGS_CSV (default
//! /work/main/data/ml-gen-1000000/ratings.csv, `userId,movieId,rating,timestamp`, half stars)
//! is the large set on which fit time and peak memory (VmHWM) are shown; pass `-` to skip it.
use std::path::{Path, PathBuf};
use std::time::Instant;

use reel_ml::data::{Dataset, Ratings, Scale};
use reel_ml::model::{Model, Quiet, predict};
use reel_ml::reco::{BaselineParams, ItemKnnParams};

fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().skip(1).filter(|l| !l.is_empty()).map(|l| l.split(',').map(str::to_string).collect()).collect()
}

/// Streams a `user,item,rating,timestamp` file: a line at a time, so that loading 1M
/// ratings does not set the peak memory the fit is measured against.
fn ratings(path: &Path) -> Ratings {
    use std::io::BufRead;
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut r = Ratings::default();
    for line in std::io::BufReader::new(file).lines().skip(1) {
        let line = line.expect("readable");
        let mut f = line.split(',');
        let mut next = || f.next().expect("4 columns").trim();
        let (u, i, x, t) = (
            next().parse().expect("user"),
            next().parse().expect("item"),
            next().parse().expect("rating"),
            next().parse().expect("timestamp"),
        );
        r.push(u, i, x, t);
    }
    r
}

/// CPU seconds (user + system) of this process so far, from /proc/self/stat (clock ticks of
/// 1/100 s): on a shared machine, wall time alone says little.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |k: usize| f.get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median wall and CPU seconds of `runs` calls of `f`, and the last result.
fn timed<T>(runs: usize, mut f: impl FnMut() -> T) -> ((f64, f64), T) {
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..runs {
        let (t, c) = (Instant::now(), cpu_seconds());
        let out = f();
        wall.push(t.elapsed().as_secs_f64());
        cpu.push(cpu_seconds() - c);
        last = Some(out);
    }
    ((median(wall), median(cpu)), last.expect("runs >= 1"))
}

fn status(key: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(key)).map(|l| l.trim_start_matches(key).trim().to_string()))
        .unwrap_or_else(|| "?".into())
}

/// Predicts every test row; returns (seconds, max |diff| vs the reference, RMSE).
fn score(model: &dyn Model, test: &Ratings, reference: &[Vec<String>], runs: usize) -> (f64, f64, f64) {
    let ((secs, _), preds) =
        timed(runs, || (0..test.len()).map(|k| predict(model, test.user[k], test.item[k]).value).collect::<Vec<f32>>());
    let mut worst = 0f64;
    let mut se = 0f64;
    for (k, row) in reference.iter().enumerate() {
        assert_eq!((row[0].parse::<i64>().ok(), row[1].parse::<i64>().ok()), (Some(test.user[k]), Some(test.item[k])));
        let est: f64 = row[3].parse().expect("est");
        worst = worst.max((preds[k] as f64 - est).abs());
        se += (preds[k] as f64 - test.rating[k] as f64).powi(2);
    }
    (secs, worst, (se / test.len() as f64).sqrt())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5).max(1);
    let big = args.get(2).cloned().unwrap_or_else(|| "/work/main/data/ml-gen-1000000/ratings.csv".into());
    let splits = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/ml-100k-splits");
    let train = Dataset::try_new(&ratings(&splits.join("train.csv")), Scale::ONE_TO_FIVE).expect("train split");
    let test = ratings(&splits.join("test.csv"));
    println!(
        "ML-100K split: {} train ratings, {} users, {} items; {} test rows; median of {runs} runs; {} rayon threads",
        train.len(),
        train.n_users(),
        train.n_items(),
        test.len(),
        rayon::current_num_threads()
    );

    let ((fit, fit_cpu), m) =
        timed(runs, || BaselineParams::default().check().expect("valid").fit(&train, &mut Quiet).expect("fits"));
    let (pred, worst, rmse) = score(&m, &test, &read_csv(&splits.join("surprise_baselineonly_test_predictions.csv")), runs);
    println!(
        "baseline (ALS)        fit {fit:.4} s (cpu {fit_cpu:.2} s)  predict 20k {pred:.4} s  RMSE {rmse:.4}  max |ours - Surprise| {worst:.2e}   (Surprise: 0.19 s, 0.06 s, 0.9417)"
    );

    let ((fit, fit_cpu), m) =
        timed(runs, || ItemKnnParams::default().check().expect("valid").fit(&train, &mut Quiet).expect("fits"));
    let (pred, worst, rmse) = score(&m, &test, &read_csv(&splits.join("surprise_knnbaseline_test_predictions.csv")), runs);
    println!(
        "item-knn (pb, k=40)   fit {fit:.4} s (cpu {fit_cpu:.2} s)  predict 20k {pred:.4} s  RMSE {rmse:.4}  max |ours - Surprise| {worst:.2e}   (Surprise: 0.90 s, 2.64 s, 0.9156)"
    );
    println!(
        "  kept {} neighbour pairs ({:.1} MB); VmHWM so far {}",
        m.neighbor_pairs(),
        m.neighbor_pairs() as f64 * 8.0 / 1e6,
        status("VmHWM:")
    );

    if big == "-" {
        return;
    }
    let t = Instant::now();
    let r = ratings(Path::new(&big));
    let data = Dataset::try_new(&r, Scale::HALF_TO_FIVE).expect("large ratings");
    drop(r);
    println!(
        "\n{big}: {} ratings, {} users, {} items, loaded in {:.2} s; VmRSS {} VmHWM {}",
        data.len(),
        data.n_users(),
        data.n_items(),
        t.elapsed().as_secs_f64(),
        status("VmRSS:"),
        status("VmHWM:")
    );
    let big_runs = runs.min(3);
    for (label, p) in [
        ("item-knn default (auto: top max(200, 5k))", ItemKnnParams::default()),
        (
            "user-knn msd (auto)",
            ItemKnnParams { user_based: true, similarity: reel_ml::reco::Similarity::Msd, ..Default::default() },
        ),
    ] {
        let valid = p.check().expect("valid");
        let ((fit, fit_cpu), m) = timed(big_runs, || valid.fit(&data, &mut Quiet).expect("fits"));
        let sample: Vec<(i64, i64)> = (0..20_000)
            .map(|k| {
                let row = (k * 7919) % data.len();
                (data.users().id(data.u[row]), data.items().id(data.i[row]))
            })
            .collect();
        let ((pred, _), _) = timed(big_runs, || sample.iter().map(|&(u, i)| predict(&m, u, i).value).sum::<f32>());
        println!(
            "{label}: fit {fit:.3} s (cpu {fit_cpu:.2} s; median of {big_runs}), predict 20k {pred:.4} s; {} neighbour pairs ({:.1} MB); VmHWM {}",
            m.neighbor_pairs(),
            m.neighbor_pairs() as f64 * 8.0 / 1e6,
            status("VmHWM:")
        );
    }
}
