//! Trains one tabular model on a train/test CSV pair and prints its held-out figures:
//! `cargo run --release -p reel-ml --example tabular_fit -- TRAIN TEST TARGET ALGO [name=value ...]`.
//! Used to tune defaults and by `benches/classic/run.sh` for timings without the CLI.
use reel_ml::tabular::{Frame, TabularParams, TrainOptions, train};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        return Err("usage: tabular_fit TRAIN TEST TARGET ALGO [name=value ...] [--runs N]".into());
    }
    let mut runs = 1usize;
    let mut settings = Vec::new();
    let mut it = args[4..].iter();
    while let Some(a) = it.next() {
        if a == "--runs" {
            runs = it.next().ok_or("--runs N")?.parse()?;
        } else if let Some((k, v)) = a.split_once('=') {
            settings.push((k.to_string(), v.to_string()));
        }
    }
    let (tr, _) = Frame::from_csv(std::fs::File::open(&args[0])?, b',')?;
    let (te, _) = Frame::from_csv(std::fs::File::open(&args[1])?, b',')?;
    let mut opts = TrainOptions::new(&args[2]);
    opts.params = TabularParams::with_settings(&args[3], &settings)?;
    opts.cv_folds = 0;
    rayon::broadcast(|_| ());
    let mut fits = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let r = train(tr.clone(), Some(te.clone()), &opts, &mut reel_ml::model::Quiet)?;
        fits.push(r.fit_seconds);
        last = Some(r);
    }
    fits.sort_by(f64::total_cmp);
    let r = last.ok_or("no run")?;
    if let Some(reel_ml::tabular::model::Estimator::Linear(m)) = r.model.as_ref().map(|m| &m.estimator) {
        eprintln!("L-BFGS iterations: {} (converged: {})", m.iterations, m.converged);
    }
    let t = std::time::Instant::now();
    let (prep, _) = reel_ml::tabular::Preprocessor::fit(&tr.clone().take(&args[2])?.0, &Default::default())?;
    let _x = prep.transform(&tr)?;
    eprintln!("preprocessing alone: {:.4} s", t.elapsed().as_secs_f64());
    println!(
        "{{\"algo\": \"{}\", \"roc_auc\": {:.4}, \"accuracy\": {:.4}, \"f1\": {:.4}, \"fit_seconds_median\": {:.4}, \"fit_seconds\": {:?}}}",
        args[3],
        r.metrics.roc_auc.unwrap_or(f64::NAN),
        r.metrics.accuracy.unwrap_or(f64::NAN),
        r.metrics.f1.unwrap_or(f64::NAN),
        fits[fits.len() / 2],
        fits
    );
    Ok(())
}
