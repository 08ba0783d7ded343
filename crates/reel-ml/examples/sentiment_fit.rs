//! Fits the sentiment model on a `text,label` train CSV and reports on a test CSV:
//! `cargo run --release -p reel-ml --example sentiment_fit -- TRAIN TEST [name=value ...] [--runs N]`.
//! Prints one JSON line with macro-F1, accuracy and the median training time (TF-IDF fit and
//! transform of the training texts + classifier fit), as `benches/sentiment/run.sh` reads it.
use std::time::Instant;

use reel_ml::text::{SentimentParams, fit_sentiment};

fn read(path: &str) -> Result<(Vec<String>, Vec<String>), Box<dyn std::error::Error>> {
    let mut r = csv::Reader::from_path(path)?;
    let h = r.headers()?.clone();
    let ti = h.iter().position(|c| c == "text").ok_or("no text column")?;
    let li = h.iter().position(|c| c == "label").ok_or("no label column")?;
    let (mut t, mut l) = (Vec::new(), Vec::new());
    for rec in r.records() {
        let rec = rec?;
        t.push(rec[ti].to_string());
        l.push(rec[li].to_string());
    }
    Ok((t, l))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        return Err("usage: sentiment_fit TRAIN TEST [name=value ...] [--runs N]".into());
    }
    let mut runs = 1usize;
    let mut p = serde_json::to_value(SentimentParams::default())?;
    let mut it = args[2..].iter();
    while let Some(a) = it.next() {
        if a == "--runs" {
            runs = it.next().ok_or("--runs N")?.parse()?;
        } else if let Some((k, v)) = a.split_once('=') {
            p[k] = serde_json::from_str(v).unwrap_or(serde_json::Value::String(v.to_string()));
        }
    }
    let params: SentimentParams = serde_json::from_value(p)?;
    let (tr, trl) = read(&args[0])?;
    let (te, tel) = read(&args[1])?;
    rayon::broadcast(|_| ());
    let mut times = Vec::new();
    let mut model = None;
    for _ in 0..runs {
        let t = Instant::now();
        model = Some(fit_sentiment(&tr, &trl, &params)?);
        times.push(t.elapsed().as_secs_f64());
    }
    let model = model.ok_or("no run")?;
    // The features alone, once more, to show where the time goes.
    let t = Instant::now();
    let _ = reel_ml::text::Tfidf::fit_transform(&tr, &params);
    let features = t.elapsed().as_secs_f64();
    let rep = model.report(&te, &tel)?;
    times.sort_by(f64::total_cmp);
    println!(
        "{{\"macro_f1\": {:.4}, \"accuracy\": {:.4}, \"vocabulary\": {}, \"iterations\": {}, \"features_seconds\": {:.4}, \"fit_seconds_median\": {:.4}, \"fit_seconds\": {:?}}}",
        rep.macro_avg.f1,
        rep.accuracy,
        model.tfidf.terms.len(),
        model.linear.iterations,
        features,
        times[times.len() / 2],
        times
    );
    Ok(())
}
