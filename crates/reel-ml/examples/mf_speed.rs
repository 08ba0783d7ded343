//! Fit-time and accuracy of the matrix-factorisation models.
//!
//! ```text
//! cargo run --release -p reel-ml --example mf_speed                  # ML-100K split, every MF model
//! cargo run --release -p reel-ml --example mf_speed -- split svd     # one model
//! cargo run --release -p reel-ml --example mf_speed -- big PATH      # SVD(50, 20) on a ratings.csv
//! cargo run --release -p reel-ml --example mf_speed -- sgd [runs] [svdpp]  # ns an update, 1 vs 2 threads
//! ```
use std::path::{Path, PathBuf};
use std::time::Instant;

use reel_ml::data::{Dataset, Ratings, Scale};
use reel_ml::model::{Model, Quiet, predict};
use reel_ml::reco::{Algorithm, Params};

fn split_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/ml-100k-splits").join(name)
}

/// A `user,item,rating,timestamp[,...]` CSV with a header, parsed byte by byte in chunks so
/// that the file is never held whole in memory.
fn read_csv(path: &Path) -> std::io::Result<Ratings> {
    use std::io::Read;
    let len = std::fs::metadata(path)?.len() as usize;
    let mut f = std::fs::File::open(path)?;
    // About 27 bytes a row on the generated sets; reserve a bit more to avoid one doubling.
    let guess = len / 24 + 16;
    let mut r = Ratings {
        user: Vec::with_capacity(guess),
        item: Vec::with_capacity(guess),
        rating: Vec::with_capacity(guess),
        timestamp: Vec::with_capacity(guess),
    };
    let mut buf = vec![0u8; 1 << 22];
    let mut carry: Vec<u8> = Vec::new();
    let mut header = true;
    loop {
        let got = f.read(&mut buf)?;
        if got == 0 {
            if !carry.is_empty() {
                parse_line(&carry, &mut r);
            }
            break;
        }
        let mut chunk = &buf[..got];
        if !carry.is_empty() {
            match chunk.iter().position(|&b| b == b'\n') {
                Some(p) => {
                    carry.extend_from_slice(&chunk[..p]);
                    if header {
                        header = false;
                    } else {
                        parse_line(&carry, &mut r);
                    }
                    carry.clear();
                    chunk = &chunk[p + 1..];
                }
                None => {
                    carry.extend_from_slice(chunk);
                    continue;
                }
            }
        }
        let last = chunk.iter().rposition(|&b| b == b'\n');
        let (whole, rest) = match last {
            Some(p) => (&chunk[..p + 1], &chunk[p + 1..]),
            None => (&chunk[..0], chunk),
        };
        for line in whole.split(|&b| b == b'\n') {
            if line.is_empty() {
                continue;
            }
            if header {
                header = false;
                continue;
            }
            parse_line(line, &mut r);
        }
        carry.extend_from_slice(rest);
    }
    Ok(r)
}

fn parse_line(line: &[u8], r: &mut Ratings) {
    let mut f = line.split(|&b| b == b',');
    let int = |s: Option<&[u8]>| -> i64 { s.unwrap_or(b"0").iter().filter(|b| b.is_ascii_digit()).fold(0i64, |a, &b| a * 10 + (b - b'0') as i64) };
    let u = int(f.next());
    let i = int(f.next());
    let x = f.next().unwrap_or(b"0");
    let (mut v, mut scale, mut frac) = (0f32, 1f32, false);
    for &b in x {
        match b {
            b'.' => frac = true,
            b'0'..=b'9' => {
                if frac {
                    scale *= 0.1;
                    v += (b - b'0') as f32 * scale;
                } else {
                    v = v * 10.0 + (b - b'0') as f32;
                }
            }
            _ => {}
        }
    }
    let t = int(f.next());
    r.push(u, i, v, t);
}

fn peak_rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU time of every thread of this process so far, in seconds (Linux; 0 elsewhere). On a
/// shared machine it says how much work a fit is when the wall clock says how long it
/// waited.
fn cpu_seconds() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return 0.0 };
    dir.filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()))
        .sum::<f64>()
        / 1e9
}

fn rmse(model: &dyn Model, test: &Ratings) -> f64 {
    let mut se = 0f64;
    for k in 0..test.len() {
        let p = predict(model, test.user[k], test.item[k]).value as f64;
        se += (p - test.rating[k] as f64).powi(2);
    }
    (se / test.len() as f64).sqrt()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn settings(s: &[(&str, &str)]) -> Vec<(String, String)> {
    s.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

fn bench_split(which: &str, runs: usize) {
    let train = Dataset::try_new(&read_csv(&split_path("train.csv")).expect("train.csv"), Scale::ONE_TO_FIVE).expect("train");
    let test = read_csv(&split_path("test.csv")).expect("test.csv");
    // (label, algorithm, settings, the peer's fit time in seconds and its name)
    let cases: Vec<(&str, Algorithm, Vec<(String, String)>, f64, &str)> = vec![
        ("svd factors=50 epochs=20 seed=42", Algorithm::Svd, settings(&[("factors", "50"), ("seed", "42")]), 0.70, "Surprise"),
        ("svd defaults (100 factors)", Algorithm::Svd, settings(&[("seed", "42")]), 0.84, "Surprise"),
        ("svdpp defaults (20 factors)", Algorithm::Svdpp, settings(&[("seed", "42")]), 10.35, "Surprise"),
        ("als defaults (50 f, 20 it, reg 0.1 WR, biased)", Algorithm::Als, settings(&[("seed", "42")]), 9.1, "Spark"),
        ("als unbiased (Spark's setting)", Algorithm::Als, settings(&[("seed", "42"), ("biased", "false")]), 9.1, "Spark"),
        ("blend defaults", Algorithm::Blend, settings(&[]), f64::NAN, "-"),
    ];
    println!("ML-100K split: {} train, {} test, {} threads", train.len(), test.len(), rayon::current_num_threads());
    for (label, algo, set, peer, peer_name) in cases {
        if which != "all" && !label.starts_with(which) && which != algo.name() {
            continue;
        }
        let params = Params::with_settings(algo, &set).expect("params");
        let mut times = Vec::new();
        let mut cpu = Vec::new();
        let mut last = None;
        for _ in 0..runs.max(1) {
            let (t, c) = (Instant::now(), cpu_seconds());
            let m = params.fit(&train, &mut Quiet).expect("fit");
            times.push(t.elapsed().as_secs_f64());
            cpu.push(cpu_seconds() - c);
            last = Some(m);
        }
        let Some(m) = last else { continue };
        let fit = median(times.clone());
        let mn = times.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "{label:46} RMSE {:.4}  fit median {:8.2} ms (min {:7.2}; CPU {:8.2} ms; {} runs)  {peer_name} {peer:.2} s -> {:.0}x",
            rmse(m.as_ref(), &test),
            fit * 1e3,
            mn * 1e3,
            median(cpu) * 1e3,
            times.len(),
            peer / fit
        );
    }
}

fn bench_big(path: &Path, extra: &[String]) {
    let t = Instant::now();
    let ratings = read_csv(path).expect("ratings.csv");
    let parsed = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let data = Dataset::try_new(&ratings, Scale::HALF_TO_FIVE).expect("dataset");
    drop(ratings);
    let indexed = t.elapsed().as_secs_f64();
    println!(
        "{}: {} ratings, {} users, {} items; parse {parsed:.1} s, index {indexed:.1} s, peak RSS so far {:.0} MiB",
        path.display(),
        data.len(),
        data.n_users(),
        data.n_items(),
        peak_rss_mib()
    );
    let mut set = settings(&[("factors", "50"), ("epochs", "20"), ("seed", "42")]);
    set.extend(extra.iter().filter_map(|a| a.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())));
    let params = Params::with_settings(Algorithm::Svd, &set).expect("params");
    struct Progress(Instant);
    impl reel_ml::model::FitObserver for Progress {
        fn on_epoch(&mut self, epoch: usize, epochs: usize, loss: Option<f64>) {
            println!("  epoch {epoch:2}/{epochs}  train RMSE {:.4}  {:6.1} s", loss.unwrap_or(f64::NAN), self.0.elapsed().as_secs_f64());
        }
    }
    let t = Instant::now();
    let m = params.fit(&data, &mut Progress(Instant::now())).expect("fit");
    let fit = t.elapsed().as_secs_f64();
    println!("svd {set:?} fit {fit:.1} s on {} threads; peak RSS {:.0} MiB", rayon::current_num_threads(), peak_rss_mib());
    drop(m);
}

/// `sgd [runs] [algo]`: SVD(50, 20, seed 42) (or SVD++ defaults with `svdpp`) fit on 1 and 2
/// threads: the median wall and CPU time of `runs` fits. Also the SGD cost per rating update:
/// the median epoch of a 100-epoch fit, over the number of ratings (the median ignores the
/// epochs in which a busy machine took a core away).
fn sgd_speed(args: &[String]) {
    let runs: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(9);
    let algo: Algorithm = args.get(1).map_or("svd", String::as_str).parse().expect("algorithm");
    let train = Dataset::try_new(&read_csv(&split_path("train.csv")).expect("train.csv"), Scale::ONE_TO_FIVE).expect("train");
    let test = read_csv(&split_path("test.csv")).expect("test.csv");
    let params = |epochs: usize| {
        let mut set = settings(&[("seed", "42")]);
        if algo == Algorithm::Svd {
            set.push(("factors".into(), "50".into()));
        }
        set.push(("epochs".into(), epochs.to_string()));
        Params::with_settings(algo, &set).expect("params")
    };
    let pool = |threads: usize| rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
    struct Epochs(Vec<Instant>);
    impl reel_ml::model::FitObserver for Epochs {
        fn on_epoch(&mut self, _: usize, _: usize, _: Option<f64>) {
            self.0.push(Instant::now());
        }
    }
    {
        let (pool, p) = (pool(1), params(1));
        let mut one = Vec::new();
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            pool.install(|| p.fit(&train, &mut Quiet)).expect("fit");
            one.push(t.elapsed().as_secs_f64());
        }
        let min = one.iter().copied().fold(f64::INFINITY, f64::min);
        println!("{algo}: a 1-epoch fit takes {:.2} ms on one thread (median of {runs}; min {:.2} ms)", median(one) * 1e3, min * 1e3);
    }
    for threads in [1, 2] {
        let mut obs = Epochs(Vec::new());
        pool(threads).install(|| params(100).fit(&train, &mut obs)).expect("fit");
        let epochs: Vec<f64> = obs.0.windows(2).map(|w| w[1].duration_since(w[0]).as_secs_f64()).collect();
        let per = median(epochs.clone()) / train.len() as f64;
        let best = epochs.iter().copied().fold(f64::INFINITY, f64::min) / train.len() as f64;
        println!(
            "{algo}: {:.2} ns an update on {threads} thread(s) (wall time of the median epoch of 100, over the ratings; best {:.2} ns)",
            per * 1e9,
            best * 1e9
        );
    }
    for threads in [1, 2] {
        let pool = pool(threads);
        let p = params(20);
        let (mut wall, mut cpu, mut last) = (Vec::new(), Vec::new(), f64::NAN);
        for _ in 0..runs.max(1) {
            let (t, c) = (Instant::now(), cpu_seconds());
            let m = pool.install(|| p.fit(&train, &mut Quiet)).expect("fit");
            wall.push(t.elapsed().as_secs_f64());
            cpu.push(cpu_seconds() - c);
            last = rmse(m.as_ref(), &test);
        }
        let min = wall.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "{algo} 20 epochs, {threads} thread(s): fit median {:.2} ms wall (min {:.2}), {:.2} ms CPU ({runs} runs); RMSE {last:.4}",
            median(wall) * 1e3,
            min * 1e3,
            median(cpu) * 1e3
        );
    }
}

/// `fit ALGO name=value...`: one fit on the split with the loss of every epoch.
fn fit_one(args: &[String]) {
    let algo: Algorithm = args.first().map_or("svd", String::as_str).parse().expect("algorithm");
    let set: Vec<(String, String)> =
        args[1..].iter().filter_map(|a| a.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let train = Dataset::try_new(&read_csv(&split_path("train.csv")).expect("train.csv"), Scale::ONE_TO_FIVE).expect("train");
    let test = read_csv(&split_path("test.csv")).expect("test.csv");
    struct Losses(Vec<f64>, Vec<Instant>);
    impl reel_ml::model::FitObserver for Losses {
        fn on_epoch(&mut self, _: usize, _: usize, loss: Option<f64>) {
            self.0.push(loss.unwrap_or(f64::NAN));
            self.1.push(Instant::now());
        }
    }
    let mut obs = Losses(Vec::new(), Vec::new());
    let t = Instant::now();
    let m = Params::with_settings(algo, &set).expect("params").fit(&train, &mut obs).expect("fit");
    let fit = t.elapsed().as_secs_f64();
    let losses: Vec<String> = obs.0.iter().map(|l| format!("{l:.4}")).collect();
    println!("train loss by epoch: {}", losses.join(" "));
    let mut prev = t;
    let times: Vec<String> = obs
        .1
        .iter()
        .map(|&e| {
            let d = e.duration_since(prev).as_secs_f64() * 1e3;
            prev = e;
            format!("{d:.2}")
        })
        .collect();
    println!("ms to each epoch's end (the first includes the setup): {}", times.join(" "));
    println!("{algo} {set:?}: RMSE {:.4}, fit {:.1} ms", rmse(m.as_ref(), &test), fit * 1e3);
}

/// The 5 folds of folds5.csv: `(train, test)` per fold.
fn folds5() -> Vec<(Dataset, Ratings)> {
    let text = std::fs::read_to_string(split_path("folds5.csv")).expect("folds5.csv");
    let mut parts: Vec<Ratings> = vec![Ratings::default(); 5];
    for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        let fold: usize = f[4].parse().expect("fold");
        parts[fold].push(f[0].parse().expect("u"), f[1].parse().expect("i"), f[2].parse().expect("r"), f[3].parse().expect("t"));
    }
    (0..5)
        .map(|k| {
            let mut train = Ratings::default();
            for (j, p) in parts.iter().enumerate().filter(|(j, _)| *j != k) {
                let _ = j;
                for n in 0..p.len() {
                    train.push(p.user[n], p.item[n], p.rating[n], p.timestamp[n]);
                }
            }
            (Dataset::try_new(&train, Scale::ONE_TO_FIVE).expect("fold"), parts[k].clone())
        })
        .collect()
}

/// `cv5 ALGO name=value...`: mean RMSE over the 5 folds.
fn cv5(args: &[String]) {
    let algo: Algorithm = args.first().map_or("svd", String::as_str).parse().expect("algorithm");
    let set: Vec<(String, String)> =
        args[1..].iter().filter_map(|a| a.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let params = Params::with_settings(algo, &set).expect("params");
    let t = Instant::now();
    let rmses: Vec<f64> = folds5().iter().map(|(tr, te)| rmse(params.fit(tr, &mut Quiet).expect("fit").as_ref(), te)).collect();
    let mean = rmses.iter().sum::<f64>() / 5.0;
    let per: Vec<String> = rmses.iter().map(|r| format!("{r:.4}")).collect();
    println!("{algo} {set:?}: 5-fold RMSE {mean:.4} ({}) in {:.1} s", per.join(" "), t.elapsed().as_secs_f64());
}

/// `foldin`: test RMSE of SVD(50) and ALS when every user is folded in from their training
/// ratings (the speed layer's view of a user) rather than taken from training.
fn fold_in_accuracy() {
    use reel_ml::reco::{AlsParams, SvdParams};
    let train = Dataset::try_new(&read_csv(&split_path("train.csv")).expect("train.csv"), Scale::ONE_TO_FIVE).expect("train");
    let test = read_csv(&split_path("test.csv")).expect("test.csv");
    let svd = SvdParams { factors: 50, seed: 42, ..SvdParams::default() }.check().expect("valid").fit(&train, &mut Quiet).expect("fit");
    let als = AlsParams { seed: 42, ..AlsParams::default() }.check().expect("valid").fit(&train, &mut Quiet).expect("fit");
    let users = train.n_users();
    let by_user = train.by_user();
    let mut scores_svd = vec![Vec::new(); users];
    let mut scores_als = vec![Vec::new(); users];
    let t = Instant::now();
    for u in 0..users {
        let (items, ratings) = by_user.row(u);
        let pairs: Vec<(u32, f32)> = items.iter().copied().zip(ratings.iter().copied()).collect();
        let mut out = vec![0f32; train.n_items()];
        svd.score_items_with(&svd.fold_in(&pairs).expect("valid"), &mut out);
        scores_svd[u] = out.clone();
        als.score_items_with(&als.fold_in(&pairs).expect("valid"), &mut out);
        scores_als[u] = out;
    }
    let per_user = t.elapsed().as_secs_f64() / users as f64;
    let (mut se_svd, mut se_als, mut n) = (0f64, 0f64, 0usize);
    for k in 0..test.len() {
        let (Some(u), Some(i)) = (train.users().get(test.user[k]), train.items().get(test.item[k])) else { continue };
        let clip = |x: f32| x.clamp(1.0, 5.0) as f64;
        se_svd += (clip(scores_svd[u as usize][i as usize]) - test.rating[k] as f64).powi(2);
        se_als += (clip(scores_als[u as usize][i as usize]) - test.rating[k] as f64).powi(2);
        n += 1;
    }
    println!(
        "folded-in users on the {n} test ratings of known items: SVD RMSE {:.4} (trained {:.4}), ALS {:.4} (trained {:.4}); {:.2} ms per user for both fold-ins and scorings",
        (se_svd / n as f64).sqrt(),
        rmse(&svd, &test),
        (se_als / n as f64).sqrt(),
        rmse(&als, &test),
        per_user * 1e3
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("big") => bench_big(
            Path::new(args.get(1).map_or("/work/main/data/ml-gen-25000000/ratings.csv", String::as_str)),
            args.get(2..).unwrap_or(&[]),
        ),
        Some("split") | None => {
            let which = args.get(1).map_or("all", String::as_str);
            let runs = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(7);
            bench_split(which, runs)
        }
        Some("fit") => fit_one(&args[1..]),
        Some("cv5") => cv5(&args[1..]),
        Some("foldin") => fold_in_accuracy(),
        Some("sgd") => sgd_speed(&args[1..]),
        Some(other) => eprintln!("unknown mode {other}; use split [algo] [runs], big [path], fit, cv5, foldin or sgd [runs] [algo]"),
    }
}
