//! `reelhouse train classifier|sentiment`, `predict classifier|sentiment`, `segment`,
//! `features users|churn`.
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use reel_ml::cluster::KMeansParams;
use reel_ml::tabular::{PrepParams, TabularParams, ThresholdRule, TrainOptions};
use reel_ml::text::SentimentParams;
use reel_pipeline::classic::{self, ClassifierRequest, FrameSource, SegmentRequest};
use reel_pipeline::sentiment::{self, SentimentSource};
use reel_pipeline::train;
use serde::Serialize;

use super::open_env;
use crate::cli::{
    FeaturesCommand, Format, GlobalArgs, PredictCommand, SegmentArgs, TrainClassifierArgs, TrainSentimentArgs,
};
use crate::progress::Bar;
use crate::render::{Rows, print};

fn settings(params: &[String]) -> Result<Vec<(String, String)>> {
    params
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .with_context(|| format!("--param {p:?} is not NAME=VALUE; e.g. --param c=0.5"))
        })
        .collect()
}

fn f4(x: Option<f64>) -> String {
    x.map_or(String::new(), |v| format!("{v:.4}"))
}

pub async fn train_classifier_cmd(g: &GlobalArgs, a: TrainClassifierArgs) -> Result<ExitCode> {
    let source = FrameSource::parse(a.csv.as_deref(), a.table.as_deref())?;
    let mut s = settings(&a.param)?;
    if matches!(a.algo.as_str(), "forest" | "gbt") && !s.iter().any(|(k, _)| k == "seed") {
        s.push(("seed".into(), a.seed.to_string()));
    }
    let params = TabularParams::with_settings(&a.algo, &s)?;
    let threshold: ThresholdRule = a.threshold_rule.parse()?;
    let mut options = TrainOptions::new(&a.target);
    options.params = params;
    options.prep = PrepParams { drop: a.drop.clone(), ..PrepParams::default() };
    options.task = a.task.parse()?;
    options.positive = a.positive.clone();
    options.threshold = threshold;
    options.cv_folds = a.cv;
    options.seed = a.seed;
    let env = open_env(g).await?;
    let bar = Bar::new(g.no_progress);
    let req = ClassifierRequest {
        name: a.name.clone(),
        source,
        test: a.test.as_ref().map(|p| FrameSource::Csv { path: p.clone(), sha256: None }),
        options,
        register: !a.no_register,
        command: super::command_line(),
    };
    let out = classic::train_classifier(&env, &req, &bar).await?;
    let m = &out.report.metrics;
    #[derive(Serialize)]
    struct Json<'a> {
        model: &'a str,
        version: Option<i64>,
        algorithm: &'a str,
        kind: &'a str,
        params: &'a serde_json::Value,
        roc_auc: Option<f64>,
        pr_auc: Option<f64>,
        accuracy: Option<f64>,
        precision: Option<f64>,
        recall: Option<f64>,
        f1: Option<f64>,
        threshold: Option<f64>,
        mae: Option<f64>,
        rmse: Option<f64>,
        r2: Option<f64>,
        fit_seconds: f64,
        cv_seconds: f64,
        train_rows: usize,
        test_rows: usize,
        metrics: &'a reel_ml::tabular::TabularMetrics,
        report: &'a reel_ml::tabular::TrainReport,
        inference: &'a [reel_ml::tabular::Inference],
        artifact: Option<&'a str>,
    }
    if g.format == Format::Json {
        let j = Json {
            model: &out.name,
            version: out.version,
            algorithm: &out.algorithm,
            kind: &out.kind,
            params: &out.params,
            roc_auc: m.roc_auc,
            pr_auc: m.pr_auc,
            accuracy: m.accuracy,
            precision: m.precision,
            recall: m.recall,
            f1: m.f1,
            threshold: m.threshold,
            mae: m.mae,
            rmse: m.rmse,
            r2: m.r2,
            fit_seconds: out.report.fit_seconds,
            cv_seconds: out.report.cv_seconds,
            train_rows: out.report.train_rows,
            test_rows: m.test_rows,
            metrics: m,
            report: &out.report,
            inference: &out.inference,
            artifact: out.artifact.as_deref(),
        };
        print(Format::Json, &Rows::new(vec![]), &j)?;
        return Ok(ExitCode::SUCCESS);
    }
    let table = g.format == Format::Table;
    if table {
        println!(
            "Trained {} {} on {} rows of {} (target {:?}) in {:.3} s{}.",
            out.algorithm,
            out.kind,
            out.report.train_rows,
            out.source.describe(),
            req.options.target,
            out.report.fit_seconds,
            if out.report.dropped_rows > 0 { format!("; {} rows without a target skipped", out.report.dropped_rows) } else { String::new() }
        );
        println!("\nColumns:");
        let mut cols = Rows::new(vec!["column", "read as", "missing", "distinct", "action", "features", "detail"]);
        for c in &out.report.columns {
            let inf = out.inference.iter().find(|i| i.column == c.column);
            let read = match inf {
                Some(i) if i.coerced > 0 => format!("{} ({} non-numbers such as {:?} made missing)", i.inferred, i.coerced, i.coerced_examples.first().cloned().unwrap_or_default()),
                Some(i) => i.inferred.to_string(),
                None => c.kind.clone(),
            };
            cols.push(vec![c.column.clone(), read, c.missing.to_string(), c.distinct.to_string(), c.action.clone(), c.features.to_string(), c.detail.clone()]);
        }
        print(Format::Table, &cols, &())?;
        println!("\nHeld-out metrics ({} rows{}):", m.test_rows, if out.report.held_out_split { ", a stratified 20% of the data" } else { "" });
    }
    let mut rows = Rows::new(vec!["metric", "value"]);
    for (k, v) in [
        ("roc_auc", m.roc_auc),
        ("pr_auc", m.pr_auc),
        ("accuracy", m.accuracy),
        ("precision", m.precision),
        ("recall", m.recall),
        ("f1", m.f1),
        ("macro_f1", m.macro_f1),
        ("threshold", m.threshold),
        ("mae", m.mae),
        ("rmse", m.rmse),
        ("r2", m.r2),
        ("cv_mean", m.cv_mean),
        ("cv_std", m.cv_std),
    ] {
        if v.is_some() {
            rows.push(vec![k.to_string(), f4(v)]);
        }
    }
    rows.push(vec!["fit_seconds".into(), format!("{:.3}", out.report.fit_seconds)]);
    print(g.format, &rows, &())?;
    if table {
        if let Some(c) = &out.report.confusion {
            println!("\nConfusion at threshold {}: tp {} fp {} tn {} fn {}", f4(m.threshold), c.tp, c.fp, c.tn, c.fn_);
            if !out.report.threshold_rule_met {
                println!("(the threshold rule {} could not be met on the training scores; the closest threshold was used)", req.options.threshold);
            }
        }
        if let Some(cr) = &out.report.classes {
            if cr.classes.len() > 2 {
                let mut t = Rows::new(vec!["class", "precision", "recall", "f1", "support"]);
                for c in &cr.classes {
                    t.push(vec![c.label.clone(), format!("{:.4}", c.precision), format!("{:.4}", c.recall), format!("{:.4}", c.f1), c.support.to_string()]);
                }
                println!();
                print(Format::Table, &t, &())?;
            }
        }
        if !out.report.thresholds.is_empty() {
            println!("\nPrecision / recall by threshold (held-out rows):");
            let mut t = Rows::new(vec!["threshold", "precision", "recall", "f1", "fpr", "accuracy", "predicted_positive"]);
            for r in out.report.thresholds.iter().step_by(2) {
                t.push(vec![format!("{:.2}", r.threshold), format!("{:.4}", r.precision), format!("{:.4}", r.recall), format!("{:.4}", r.f1), format!("{:.4}", r.fpr), format!("{:.4}", r.accuracy), r.predicted_positive.to_string()]);
            }
            print(Format::Table, &t, &())?;
            println!("\nCalibration:");
            let mut t = Rows::new(vec!["predicted", "rows", "mean_predicted", "observed"]);
            for b in &out.report.calibration {
                t.push(vec![format!("{:.1}-{:.1}", b.from, b.to), b.count.to_string(), format!("{:.4}", b.mean_predicted), format!("{:.4}", b.observed)]);
            }
            print(Format::Table, &t, &())?;
        }
        println!("\nMost important features:");
        let mut t = Rows::new(vec!["feature", "column", "importance"]);
        for i in out.report.importances.iter().take(10) {
            t.push(vec![i.feature.clone(), i.column.clone(), format!("{:.4}", i.importance)]);
        }
        print(Format::Table, &t, &())?;
        match out.version {
            Some(v) => println!("\nRegistered {}@{v}. Score new rows: reelhouse predict classifier {}@{v} --csv FILE", out.name, out.name),
            None => println!("\nNot registered (--no-register)."),
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn train_sentiment_cmd(g: &GlobalArgs, a: TrainSentimentArgs) -> Result<ExitCode> {
    let mut v = serde_json::to_value(SentimentParams::default())?;
    for (k, val) in settings(&a.param)? {
        let key = k.replace('-', "_");
        if v.get(&key).is_none() {
            bail!("sentiment has no parameter {k:?}; its parameters are: {}", v.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default());
        }
        v[key] = serde_json::from_str(&val).unwrap_or(serde_json::Value::String(val.clone()));
    }
    let params: SentimentParams = serde_json::from_value(v).context("a --param value has the wrong type")?;
    params.check()?;
    let source = match (&a.train, &a.test) {
        (Some(tr), Some(te)) => SentimentSource::Files { train: tr.clone(), test: te.clone(), train_sha256: None, test_sha256: None },
        _ => SentimentSource::Table { table: a.table.clone(), version: None, seed: a.seed },
    };
    let env = open_env(g).await?;
    let bar = Bar::new(g.no_progress);
    let out = sentiment::train_sentiment(&env, &a.name, &source, &params, !a.no_register, &super::command_line(), &bar).await?;
    let r = &out.report;
    #[derive(Serialize)]
    struct Json<'a> {
        model: &'a str,
        version: Option<i64>,
        macro_f1: f64,
        weighted_f1: f64,
        accuracy: f64,
        per_class: &'a [reel_ml::tabular::metrics::ClassScores],
        confusion: &'a [Vec<usize>],
        labels: Vec<&'a str>,
        fit_seconds: f64,
        train_rows: usize,
        test_rows: usize,
        vocabulary: usize,
        params: &'a SentimentParams,
        artifact: Option<&'a str>,
    }
    if g.format == Format::Json {
        let j = Json {
            model: &out.name,
            version: out.version,
            macro_f1: r.macro_avg.f1,
            weighted_f1: r.weighted_avg.f1,
            accuracy: r.accuracy,
            per_class: &r.classes,
            confusion: &r.confusion,
            labels: r.classes.iter().map(|c| c.label.as_str()).collect(),
            fit_seconds: out.fit_seconds,
            train_rows: out.train_rows,
            test_rows: out.test_rows,
            vocabulary: out.vocabulary,
            params: &out.params,
            artifact: out.artifact.as_deref(),
        };
        print(Format::Json, &Rows::new(vec![]), &j)?;
        return Ok(ExitCode::SUCCESS);
    }
    if g.format == Format::Table {
        println!(
            "Trained the sentiment model on {} reviews ({} terms) in {:.3} s; {} test reviews:",
            out.train_rows, out.vocabulary, out.fit_seconds, out.test_rows
        );
    }
    let mut rows = Rows::new(vec!["class", "precision", "recall", "f1", "support"]);
    for c in &r.classes {
        rows.push(vec![c.label.clone(), format!("{:.4}", c.precision), format!("{:.4}", c.recall), format!("{:.4}", c.f1), c.support.to_string()]);
    }
    rows.push(vec!["accuracy".into(), String::new(), String::new(), format!("{:.4}", r.accuracy), r.rows.to_string()]);
    rows.push(vec!["macro avg".into(), format!("{:.4}", r.macro_avg.precision), format!("{:.4}", r.macro_avg.recall), format!("{:.4}", r.macro_avg.f1), r.rows.to_string()]);
    rows.push(vec!["weighted avg".into(), format!("{:.4}", r.weighted_avg.precision), format!("{:.4}", r.weighted_avg.recall), format!("{:.4}", r.weighted_avg.f1), r.rows.to_string()]);
    print(g.format, &rows, &())?;
    if g.format == Format::Table {
        println!("\nConfusion matrix (rows: true, columns: predicted {}):", r.classes.iter().map(|c| c.label.as_str()).collect::<Vec<_>>().join(" / "));
        for (c, row) in r.classes.iter().zip(&r.confusion) {
            println!("  {:<10} {}", c.label, row.iter().map(|n| format!("{n:>6}")).collect::<String>());
        }
        match out.version {
            Some(v) => println!("\nRegistered {}@{v}. Try it: reelhouse predict sentiment \"Loved it, fits perfectly\"", out.name),
            None => println!("\nNot registered (--no-register)."),
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn predict_cmd(g: &GlobalArgs, cmd: PredictCommand) -> Result<ExitCode> {
    let env = open_env(g).await?;
    match cmd {
        PredictCommand::Classifier(a) => {
            let v = train::resolve(&env, &a.model).await?;
            let model = classic::load_tabular(&env, &v).await?;
            let (frame, _, _) = classic::read_frame(&env, &FrameSource::Csv { path: a.csv.clone(), sha256: None }).await?;
            let preds = tokio::task::block_in_place(|| model.predict(&frame))?;
            let mut rows = Rows::new(vec!["row", "prediction", "probability"]);
            for (k, p) in preds.iter().enumerate() {
                rows.push(vec![(k + 1).to_string(), p.label.clone(), f4(p.probability)]);
            }
            #[derive(Serialize)]
            struct Json<'a> {
                model: &'a str,
                version: i64,
                target: &'a str,
                threshold: Option<f64>,
                predictions: &'a [reel_ml::tabular::RowPrediction],
            }
            if g.format == Format::Table {
                println!("{} rows of {} scored by {}@{} ({} {}, target {:?}{}):", preds.len(), a.csv.display(), v.name, v.version, v.algorithm, v.kind, model.target,
                    model.threshold.map(|t| format!(", threshold {t:.4}")).unwrap_or_default());
            }
            print(g.format, &rows, &Json { model: &v.name, version: v.version, target: &model.target, threshold: model.threshold, predictions: &preds })?;
            Ok(ExitCode::SUCCESS)
        }
        PredictCommand::Sentiment(a) => {
            let v = train::resolve(&env, &a.model).await?;
            let model = sentiment::load_sentiment(&env, &v).await?;
            let preds: Vec<reel_ml::text::TextPrediction> = a.text.iter().map(|t| model.predict(t)).collect();
            let mut header = vec!["text", "label", "probability"];
            header.extend(model.labels.iter().map(|l| match l.as_str() {
                "negative" => "p_negative",
                "neutral" => "p_neutral",
                "positive" => "p_positive",
                _ => "p_other",
            }));
            let mut rows = Rows::new(header);
            for (t, p) in a.text.iter().zip(&preds) {
                let mut r = vec![t.clone(), p.label.clone(), format!("{:.4}", p.probability)];
                r.extend(p.probabilities.iter().map(|(_, x)| format!("{x:.4}")));
                rows.push(r);
            }
            #[derive(Serialize)]
            struct One<'a> {
                text: &'a str,
                #[serde(flatten)]
                prediction: &'a reel_ml::text::TextPrediction,
            }
            let json: Vec<One<'_>> = a.text.iter().zip(&preds).map(|(t, p)| One { text: t, prediction: p }).collect();
            print(g.format, &rows, &json)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `2..10`, `3,5,8` or `4`.
fn parse_ks(s: &str) -> Result<Vec<usize>> {
    let bad = || anyhow::anyhow!("--k {s:?} is not a range like 2..10, a list like 3,5,8 or a number");
    let ks: Vec<usize> = if let Some((a, b)) = s.split_once("..") {
        let (a, b): (usize, usize) = (a.trim().parse().map_err(|_| bad())?, b.trim().trim_start_matches('=').parse().map_err(|_| bad())?);
        if a > b {
            return Err(bad());
        }
        (a..=b).collect()
    } else {
        s.split(',').map(|x| x.trim().parse::<usize>().map_err(|_| bad())).collect::<Result<_>>()?
    };
    if ks.is_empty() || ks.iter().any(|&k| k == 0 || k > 100) {
        bail!("--k {s:?}: every k must be between 1 and 100");
    }
    Ok(ks)
}

pub async fn segment_cmd(g: &GlobalArgs, a: SegmentArgs) -> Result<ExitCode> {
    let ks = parse_ks(&a.k)?;
    let env = open_env(g).await?;
    let bar = Bar::new(g.no_progress);
    let source = match (&a.what, &a.csv, &a.table) {
        (Some(_), None, None) => {
            let t = classic::build_user_features(&env, &super::command_line()).await?;
            if g.format == Format::Table {
                println!("Built {}@{} ({} users, {} columns).", t.table, t.version, t.rows, t.columns.len());
            }
            FrameSource::Table { table: t.table, version: Some(t.version) }
        }
        (Some(_), _, _) => bail!("`segment users` builds its own table; drop --csv / --table"),
        (None, csv, table) => FrameSource::parse(csv.as_deref(), table.as_deref())?,
    };
    let req = SegmentRequest {
        source,
        features: a.features.clone(),
        ks,
        params: KMeansParams { restarts: a.restarts, seed: a.seed, ..KMeansParams::default() },
        scale: !a.no_scale,
    };
    let out = classic::segment(&env, &req, &bar).await?;
    if let Some(path) = &a.chart {
        std::fs::write(path, classic::elbow_svg(&out.per_k)).with_context(|| format!("writing the chart to {}", path.display()))?;
    }
    if g.format == Format::Json {
        print(Format::Json, &Rows::new(vec![]), &out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if g.format == Format::Table {
        println!(
            "k-means on {} rows of {} ({} features{}{}):",
            out.rows,
            out.source.describe(),
            out.features.len(),
            if req.scale { ", standardised" } else { "" },
            if out.skipped_rows > 0 { format!("; {} rows with a missing value skipped", out.skipped_rows) } else { String::new() }
        );
    }
    let mut rows = Rows::new(vec!["k", "sse", "silhouette"]);
    for f in &out.per_k {
        rows.push(vec![f.k.to_string(), format!("{:.2}", f.sse), f4(f.silhouette)]);
    }
    print(g.format, &rows, &())?;
    if g.format == Format::Table {
        println!("\nSegments at k = {} (best silhouette):", out.chosen_k);
        let mut header: Vec<&'static str> = vec!["segment", "size", "share"];
        // Feature names are data, but Rows wants static headers: leak the few short names once.
        let names: Vec<&'static str> = out.features.iter().map(|f| &*Box::leak(f.clone().into_boxed_str())).collect();
        header.extend(names);
        let mut t = Rows::new(header);
        for p in &out.profiles {
            let mut r = vec![p.segment.to_string(), p.size.to_string(), format!("{:.3}", p.share)];
            r.extend(p.means.iter().map(|m| format!("{m:.3}")));
            t.push(r);
        }
        print(Format::Table, &t, &())?;
        if let Some(path) = &a.chart {
            println!("\nElbow chart: {}", super::display_path(path));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn features_cmd(g: &GlobalArgs, cmd: FeaturesCommand) -> Result<ExitCode> {
    let env = open_env(g).await?;
    let t = match cmd {
        FeaturesCommand::Users => classic::build_user_features(&env, &super::command_line()).await?,
        FeaturesCommand::Churn(a) => {
            let cutoff = match &a.cutoff {
                Some(d) => {
                    let day = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").with_context(|| format!("--cutoff {d:?} is not a day like 1998-03-01"))?;
                    Some(day.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp()).unwrap_or(0))
                }
                None => None,
            };
            classic::build_churn_features(&env, cutoff, a.silent_days, &super::command_line()).await?
        }
    };
    let mut rows = Rows::new(vec!["table", "version", "rows", "columns"]);
    rows.push(vec![t.table.clone(), t.version.to_string(), t.rows.to_string(), t.columns.join(",")]);
    print(g.format, &rows, &t)?;
    if g.format == Format::Table {
        if let (Some(c), Some(r)) = (&t.cutoff, t.churn_rate) {
            println!("Cut-off {c}: {:.1}% of users churned. Train: reelhouse train classifier --table {} --target churned", 100.0 * r, t.table);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_ranges_parse() {
        assert_eq!(parse_ks("2..5").expect("range"), vec![2, 3, 4, 5]);
        assert_eq!(parse_ks("3,5").expect("list"), vec![3, 5]);
        assert_eq!(parse_ks("4").expect("one"), vec![4]);
        assert!(parse_ks("5..2").is_err());
        assert!(parse_ks("0").is_err());
        assert!(parse_ks("x").is_err());
    }
}
