//! Top-N quality and speed of the implicit and content recommenders.
//!
//! ```text
//! cargo run --release -p reel-ml --example implicit_speed              # split: the peers' ML-100K split
//! cargo run --release -p reel-ml --example implicit_speed -- tune      # grid on a validation slice of train
//! cargo run --release -p reel-ml --example implicit_speed -- grid ials alpha=1,2 reg=30,50   # any grid
//! cargo run --release -p reel-ml --example implicit_speed -- 25m [ratings.csv] [iterations] [factors]
//! ```
//!
//! `split` fits every model 5 times on testdata/ml-100k-splits/train.csv and prints the median
//! fit time and P@10 / R@10 / NDCG@10 with the definitions of shared/benchmarks/README.md §2.
//! `tune` holds out 10% of train.csv (seeded) and scores parameter grids on it, never on test.
//! `25m` parses a MovieLens-format ratings.csv (default: the generated 25M-rating set) and
//! times iALS iterations, printing the peak RSS (VmHWM).
use std::collections::HashMap;
use std::error::Error;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::time::Instant;

use reel_ml::data::{Dataset, ItemText, Ratings, Scale};
use reel_ml::model::{FitObserver, Model, Quiet, recommend};
use reel_ml::reco::ials::Confidence;
use reel_ml::reco::{BprParams, ContentParams, EaseParams, IalsParams, Params, PopularityParams};

type Res<T> = Result<T, Box<dyn Error>>;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

fn read_split(name: &str) -> Res<Ratings> {
    let text = std::fs::read_to_string(repo("testdata/ml-100k-splits").join(name))?;
    let mut r = Ratings::default();
    for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        r.push(f[0].parse()?, f[1].parse()?, f[2].parse()?, f[3].parse()?);
    }
    Ok(r)
}

/// Movie ids and tokens from u.item (latin-1, `|`-separated, 19 genre flags in u.genre order).
fn movies(title_words: bool, decade: bool) -> Res<(Vec<i64>, ItemText)> {
    let bytes = std::fs::read(repo("datasets/movielens-100k/u.item"))?;
    let text: String = bytes.iter().map(|&b| b as char).collect();
    let genres: Vec<String> = std::fs::read_to_string(repo("datasets/movielens-100k/u.genre"))?
        .lines()
        .filter_map(|l| l.split('|').next().filter(|g| !g.is_empty()).map(str::to_string))
        .collect();
    let mut ids = Vec::new();
    let mut t = ItemText::default();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split('|').collect();
        let id: i64 = f[0].parse()?;
        ids.push(id);
        let mut toks: Vec<String> = Vec::new();
        for (k, flag) in f[5..].iter().enumerate() {
            if *flag == "1" {
                toks.push(format!("genre:{}", genres[k]));
            }
        }
        let title = f[1];
        let year = title.rfind('(').and_then(|p| title.get(p + 1..p + 5)).and_then(|y| y.parse::<i32>().ok());
        if let Some(y) = year.filter(|_| decade) {
            toks.push(format!("decade:{}", y / 10 * 10));
        }
        if title_words {
            let head = title.rfind('(').map_or(title, |p| &title[..p]);
            for w in head.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 2) {
                toks.push(format!("title:{}", w.to_lowercase()));
            }
        }
        t.tokens.insert(id, toks);
    }
    Ok((ids, t))
}

/// P@10, R@10, NDCG@10 (§2): candidates = catalogue − train items, relevant = held-out ≥ 4.
fn topn(model: &dyn Model, train: &Dataset, held: &Ratings) -> (f64, f64, f64, usize) {
    let mut rel: HashMap<i64, Vec<i64>> = HashMap::new();
    for k in 0..held.len() {
        if held.rating[k] >= 4.0 {
            rel.entry(held.user[k]).or_default().push(held.item[k]);
        }
    }
    let (mut p, mut r, mut n) = (0f64, 0f64, 0f64);
    for (&user, relevant) in &rel {
        let seen: Vec<u32> = train.users().get(user).map(|u| train.by_user().row(u as usize).0.to_vec()).unwrap_or_default();
        let (top, _) = recommend(model, user, 10, &|i| seen.binary_search(&i).is_ok());
        let mut dcg = 0f64;
        let mut hits = 0usize;
        for (k, s) in top.iter().enumerate() {
            if relevant.contains(&s.item) {
                hits += 1;
                dcg += 1.0 / ((k + 2) as f64).log2();
            }
        }
        let idcg: f64 = (0..relevant.len().min(10)).map(|k| 1.0 / ((k + 2) as f64).log2()).sum();
        p += hits as f64 / 10.0;
        r += hits as f64 / relevant.len() as f64;
        n += dcg / idcg;
    }
    let m = rel.len() as f64;
    (p / m, r / m, n / m, rel.len())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn split_mode() -> Res<()> {
    let (catalogue, text) = movies(true, true)?;
    let train = Dataset::try_new(&read_split("train.csv")?, Scale::ONE_TO_FIVE)?.with_catalogue(&catalogue).with_item_text(text);
    let test = read_split("test.csv")?;
    let models: Vec<(&str, Params)> = vec![
        ("popularity", Params::Popularity(PopularityParams::default())),
        ("ials", Params::Ials(IalsParams::default())),
        ("bpr", Params::Bpr(BprParams::default())),
        ("ease", Params::Ease(EaseParams::default())),
        ("content", Params::Content(ContentParams::default())),
    ];
    println!("model       P@10    R@10    NDCG@10  fit median of 5 (min..max)");
    for (name, params) in models {
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..5 {
            let t = Instant::now();
            let m = params.fit(&train, &mut Quiet)?;
            times.push(t.elapsed().as_secs_f64());
            last = Some(m);
        }
        let m = last.ok_or("no fit")?;
        let (p, r, n, users) = topn(m.as_ref(), &train, &test);
        let (lo, hi) = (times.iter().copied().fold(f64::MAX, f64::min), times.iter().copied().fold(0.0, f64::max));
        println!(
            "{name:<10} {p:.4}  {r:.4}  {n:.4}   {:.3} s ({lo:.3}..{hi:.3}), {users} users",
            median(times)
        );
    }
    Ok(())
}

/// 90/10 split of train rows by a seeded shuffle (SplitMix64 + Fisher-Yates).
fn validation() -> Res<(Ratings, Ratings)> {
    let all = read_split("train.csv")?;
    let mut idx: Vec<usize> = (0..all.len()).collect();
    let mut s = 7u64;
    for k in (1..idx.len()).rev() {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        idx.swap(k, (z % (k as u64 + 1)) as usize);
    }
    let cut = all.len() / 10;
    Ok((all.select(&idx[cut..]), all.select(&idx[..cut])))
}

/// `grid <algo> name=v1,v2 name=v3 ...`: every combination, through `Params::with_settings`.
fn grid_mode(args: &[String]) -> Res<()> {
    let algo: reel_ml::reco::Algorithm = args.first().ok_or("grid needs an algorithm")?.parse()?;
    let axes: Vec<(String, Vec<String>)> = args[1..]
        .iter()
        .map(|a| {
            let (k, v) = a.split_once('=').unwrap_or((a, ""));
            (k.to_string(), v.split(',').map(str::to_string).collect())
        })
        .collect();
    let (fit_rows, val) = validation()?;
    let (catalogue, text) = movies(true, true)?;
    let fit = Dataset::try_new(&fit_rows, Scale::ONE_TO_FIVE)?.with_catalogue(&catalogue).with_item_text(text);
    let total: usize = axes.iter().map(|a| a.1.len()).product();
    for mut k in 0..total {
        let mut settings = Vec::new();
        for (name, values) in &axes {
            settings.push((name.clone(), values[k % values.len()].clone()));
            k /= values.len();
        }
        let params = Params::with_settings(algo, &settings)?;
        let t = Instant::now();
        let m = params.fit(&fit, &mut Quiet)?;
        let secs = t.elapsed().as_secs_f64();
        let (p, r, n, _) = topn(m.as_ref(), &fit, &val);
        let label: Vec<String> = settings.iter().map(|(a, b)| format!("{a}={b}")).collect();
        println!("{algo} {:<56} P {p:.4} R {r:.4} NDCG {n:.4}  {secs:.3} s", label.join(" "));
    }
    Ok(())
}

fn tune_mode(which: &str) -> Res<()> {
    let (fit_rows, val) = validation()?;
    let (catalogue, text) = movies(true, true)?;
    let fit = Dataset::try_new(&fit_rows, Scale::ONE_TO_FIVE)?.with_catalogue(&catalogue).with_item_text(text);
    let run = |label: String, params: Params| -> Res<()> {
        let t = Instant::now();
        let m = params.fit(&fit, &mut Quiet)?;
        let secs = t.elapsed().as_secs_f64();
        let (p, r, n, _) = topn(m.as_ref(), &fit, &val);
        println!("{label:<60} P {p:.4} R {r:.4} NDCG {n:.4}  {secs:.3} s");
        Ok(())
    };
    if which == "all" || which == "pop" {
        run("popularity".into(), Params::Popularity(PopularityParams::default()))?;
    }
    if which == "all" || which == "ease" {
        for lambda in [50.0, 100.0, 200.0, 300.0, 500.0, 800.0] {
            for min_rating in [0.0, 4.0] {
                run(format!("ease lambda={lambda} min_rating={min_rating}"), Params::Ease(EaseParams { lambda, min_rating }))?;
            }
        }
    }
    if which == "all" || which == "ials" {
        for confidence in [Confidence::Binary, Confidence::Linear, Confidence::Log] {
            for alpha in [0.25, 0.5, 1.0, 2.0] {
                for reg in [20.0, 50.0, 100.0, 200.0] {
                    let p = IalsParams { confidence, alpha, reg, ..IalsParams::default() };
                    run(format!("ials {confidence:?} alpha={alpha} reg={reg}"), Params::Ials(p))?;
                }
            }
        }
    }
    if which == "ials2" {
        for factors in [16, 32, 64, 128] {
            for iterations in [5, 10, 15] {
                for min_rating in [0.0, 4.0] {
                    let p = IalsParams { factors, iterations, min_rating, ..IalsParams::default() };
                    run(format!("ials factors={factors} it={iterations} min_rating={min_rating}"), Params::Ials(p))?;
                }
            }
        }
    }
    if which == "all" || which == "bpr" {
        for lr in [0.01, 0.05, 0.1] {
            for reg in [0.0005, 0.005, 0.02] {
                for epochs in [20, 60, 150] {
                    let p = BprParams { lr, reg, epochs, ..BprParams::default() };
                    run(format!("bpr lr={lr} reg={reg} epochs={epochs}"), Params::Bpr(p))?;
                }
            }
        }
    }
    if which == "all" || which == "content" {
        for (tw, dec) in [(false, false), (false, true), (true, false), (true, true)] {
            let (_, text) = movies(tw, dec)?;
            let d = fit.clone().with_item_text(text);
            for min_df in [1, 2, 5] {
                let t = Instant::now();
                let m = Params::Content(ContentParams { min_df }).fit(&d, &mut Quiet)?;
                let secs = t.elapsed().as_secs_f64();
                let (p, r, n, _) = topn(m.as_ref(), &d, &val);
                println!("content title_words={tw} decade={dec} min_df={min_df:<20} P {p:.4} R {r:.4} NDCG {n:.4}  {secs:.3} s");
            }
        }
    }
    Ok(())
}

/// Peak resident set size in MiB, from /proc/self/status.
fn vm_hwm_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU seconds (user + system) of this process, from /proc/self/stat: on a shared machine
/// it shows the work done when wall time is stretched by other processes.
fn cpu_secs() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = s.rsplit_once(')').map_or("", |p| p.1);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |k: usize| f.get(k).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (field(11) + field(12)) / 100.0
}

/// Prints the wall and CPU time of every iteration.
struct Timer {
    last: Instant,
    last_cpu: f64,
    times: Vec<f64>,
}

impl FitObserver for Timer {
    fn on_epoch(&mut self, epoch: usize, epochs: usize, _loss: Option<f64>) {
        let dt = self.last.elapsed().as_secs_f64();
        let cpu = cpu_secs();
        self.times.push(dt);
        println!("  iteration {epoch}/{epochs}: {dt:.2} s wall, {:.2} s CPU", cpu - self.last_cpu);
        self.last = Instant::now();
        self.last_cpu = cpu;
    }
}

/// Parses `userId,movieId,rating,timestamp` lines with a byte parser (no CSV crate).
fn parse_ratings(path: &str) -> Res<Ratings> {
    let mut rd = BufReader::with_capacity(1 << 22, std::fs::File::open(path)?);
    let mut r = Ratings::default();
    let mut line = Vec::with_capacity(64);
    rd.read_until(b'\n', &mut line)?; // header
    loop {
        line.clear();
        if rd.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let mut f = line.split(|&b| b == b',');
        let mut int = |name: &str| -> Res<i64> {
            let x = f.next().ok_or_else(|| format!("missing {name}"))?;
            let mut v = 0i64;
            for &b in x.iter().filter(|b| !b.is_ascii_whitespace()) {
                if !b.is_ascii_digit() {
                    return Err(format!("bad {name} byte {b}").into());
                }
                v = v * 10 + i64::from(b - b'0');
            }
            Ok(v)
        };
        let (u, i) = (int("userId")?, int("movieId")?);
        let rating: f32 = std::str::from_utf8(f.next().ok_or("missing rating")?)?.trim().parse()?;
        let ts = f.next().map(|t| std::str::from_utf8(t).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0)).unwrap_or(0);
        r.push(u, i, rating, ts);
    }
    Ok(r)
}

fn big_mode(path: &str, iterations: usize, factors: usize) -> Res<()> {
    let t = Instant::now();
    let ratings = parse_ratings(path)?;
    println!("parsed {} ratings in {:.1} s", ratings.len(), t.elapsed().as_secs_f64());
    let t = Instant::now();
    let data = Dataset::try_new(&ratings, Scale::infer(&ratings.rating))?;
    drop(ratings);
    println!(
        "indexed {} users × {} items in {:.1} s; peak RSS so far {:.0} MiB",
        data.n_users(),
        data.n_items(),
        t.elapsed().as_secs_f64(),
        vm_hwm_mib().unwrap_or(f64::NAN)
    );
    // min_rating 0: every one of the 25M ratings is a positive (the default 4 would keep about
    // half of them and flatter the timing).
    let params = IalsParams { factors, iterations, min_rating: 0.0, ..IalsParams::default() }.check()?;
    println!(
        "ials {factors} factors, {iterations} iterations, cg_steps 3, every rating a positive, {} rayon threads",
        rayon::current_num_threads()
    );
    let mut timer = Timer { last: Instant::now(), last_cpu: cpu_secs(), times: Vec::new() };
    let t = Instant::now();
    let model = params.fit(&data, &mut timer)?;
    let total = t.elapsed().as_secs_f64();
    println!(
        "fit {total:.1} s; per iteration median {:.2} s (min {:.2}); peak RSS {:.0} MiB",
        median(timer.times.clone()),
        timer.times.iter().copied().fold(f64::MAX, f64::min),
        vm_hwm_mib().unwrap_or(f64::NAN)
    );
    let t = Instant::now();
    let first = data.users().id(0);
    let (top, _) = recommend(&model, first, 10, &|_| false);
    println!("top-10 for user {first} in {:.1} ms: {:?}", t.elapsed().as_secs_f64() * 1e3, top.iter().map(|s| s.item).collect::<Vec<_>>());
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("split") => split_mode(),
        Some("tune") => tune_mode(args.get(1).map_or("all", String::as_str)),
        Some("grid") => grid_mode(&args[1..]),
        Some("25m") => big_mode(
            args.get(1).map_or("/work/main/data/ml-gen-25000000/ratings.csv", String::as_str),
            args.get(2).map_or(Ok(3), |s| s.parse())?,
            args.get(3).map_or(Ok(64), |s| s.parse())?,
        ),
        Some(other) => Err(format!("unknown mode {other:?}; use split, tune [all|ease|ials|ials2|bpr|content|pop] or 25m").into()),
    }
}
