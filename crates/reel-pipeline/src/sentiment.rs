//! Training and loading the review-sentiment model.
//!
//! Training data is either two CSV files with `text,label` columns (`label` one of
//! `negative`, `neutral`, `positive`, or a `rating` column 1-5 instead, labelled by seed 001's
//! rule), or the workspace's review table, **`clean.reviews`** by default, with these
//! columns (the contract with the rental flow that writes it):
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `review_text` (or `text`) | text | the review; empty rows are skipped |
//! | `title` | text, optional | prepended to the text when present |
//! | `rating` (or `label`) | integer 1-5 (or the label) | the label source |
//!
//! A table is split 80/20, stratified by label, with the seed.
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use reel_catalog::{ModelVersion, NewModelVersion};
use reel_common::{RunId, TableRef};
use reel_ml::tabular::metrics::ClassReport;
use reel_ml::tabular::split::stratified_split;
use reel_ml::text::{SentimentModel, SentimentParams, fit_sentiment, label_for_rating};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::tables::select;
use crate::train::code_version;
use crate::{Env, Error, Progress, Result};

/// Where the reviews come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SentimentSource {
    /// `text,label` CSV files.
    Files {
        /// Training file.
        train: PathBuf,
        /// Test file.
        test: PathBuf,
        /// SHA-256 of the training file.
        train_sha256: Option<String>,
        /// SHA-256 of the test file.
        test_sha256: Option<String>,
    },
    /// A review table, split 80/20.
    Table {
        /// `clean.reviews` by default.
        table: String,
        /// Delta version read.
        version: Option<i64>,
        /// Split seed.
        seed: u64,
    },
}

/// Texts and labels of a `text,label` (or `text,rating`) CSV.
pub fn read_labelled_csv(path: &Path) -> Result<(Vec<String>, Vec<String>)> {
    let bad = |reason: String| Error::BadRequest(format!("{}: {reason}", path.display()));
    let mut r = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    let h = r.headers().map_err(|e| bad(e.to_string()))?.clone();
    let find = |names: &[&str]| h.iter().position(|c| names.iter().any(|n| c.trim().eq_ignore_ascii_case(n)));
    let ti = find(&["text", "review_text", "review text"]).ok_or_else(|| bad(format!("no text column (columns: {}); expected text,label", h.iter().collect::<Vec<_>>().join(","))))?;
    let li = find(&["label"]);
    let ri = find(&["rating"]);
    if li.is_none() && ri.is_none() {
        return Err(bad("no label (or rating) column; expected text,label".into()));
    }
    let (mut texts, mut labels) = (Vec::new(), Vec::new());
    for (k, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| bad(format!("line {}: {e}", k + 2)))?;
        let text = rec.get(ti).unwrap_or("").trim().to_string();
        if text.is_empty() {
            continue;
        }
        let label = match (li, ri) {
            (Some(i), _) => rec.get(i).unwrap_or("").trim().to_string(),
            (None, Some(i)) => {
                let v: f64 = rec.get(i).unwrap_or("").trim().parse().map_err(|_| bad(format!("line {}: rating {:?} is not a number", k + 2, rec.get(i).unwrap_or(""))))?;
                label_for_rating(v).to_string()
            }
            (None, None) => unreachable!("checked above"),
        };
        if label.is_empty() {
            return Err(bad(format!("line {}: the label is empty", k + 2)));
        }
        texts.push(text);
        labels.push(label);
    }
    if texts.is_empty() {
        return Err(bad("no row with text".into()));
    }
    Ok((texts, labels))
}

async fn read_review_table(env: &Env, table: &str, version: Option<i64>) -> Result<(Vec<String>, Vec<String>, i64)> {
    let t: TableRef = table.parse().map_err(|e| Error::BadRequest(format!("{e}")))?;
    if !env.lake.exists(&t).await? {
        return Err(Error::MissingTable {
            table: table.to_string(),
            hint: "the rental flow writes it (columns review_text, rating, optional title); or pass --train FILE --test FILE (CSV text,label)".into(),
        });
    }
    let (batches, v) = select(&env.lake, &t, version, "*", None).await?;
    let Some(first) = batches.first() else {
        return Err(Error::BadRequest(format!("{table}@{v} has no rows")));
    };
    let schema = first.schema();
    let idx = |names: &[&str]| schema.fields().iter().position(|f| names.contains(&f.name().as_str()));
    let ti = idx(&["review_text", "text"]).ok_or_else(|| Error::BadRequest(format!("{table} has no review_text (or text) column")))?;
    let title = idx(&["title"]);
    let ri = idx(&["rating"]);
    let li = idx(&["label"]);
    if ri.is_none() && li.is_none() {
        return Err(Error::BadRequest(format!("{table} has neither a rating nor a label column")));
    }
    let (mut texts, mut labels) = (Vec::new(), Vec::new());
    let as_text = |b: &arrow::array::RecordBatch, k: usize| cast(b.column(k), &DataType::Utf8).map_err(|e| Error::Read { what: format!("{table} column {k}"), reason: e.to_string() });
    for b in &batches {
        let text = as_text(b, ti)?;
        let text = text.as_string::<i32>();
        let tt = title.map(|k| as_text(b, k)).transpose()?;
        let lab = match (li, ri) {
            (Some(k), _) => as_text(b, k)?,
            (None, Some(k)) => cast(b.column(k), &DataType::Float64).map_err(|e| Error::Read { what: format!("{table} rating"), reason: e.to_string() })?,
            (None, None) => unreachable!("checked above"),
        };
        for r in 0..b.num_rows() {
            if text.is_null(r) || text.value(r).trim().is_empty() || lab.is_null(r) {
                continue;
            }
            let mut s = String::new();
            if let Some(tt) = &tt {
                let tt = tt.as_string::<i32>();
                if !tt.is_null(r) && !tt.value(r).is_empty() {
                    s.push_str(tt.value(r));
                    s.push_str(" . ");
                }
            }
            s.push_str(text.value(r));
            texts.push(s);
            labels.push(match li {
                Some(_) => lab.as_string::<i32>().value(r).to_string(),
                None => label_for_rating(lab.as_primitive::<arrow::datatypes::Float64Type>().value(r)).to_string(),
            });
        }
    }
    Ok((texts, labels, v))
}

/// The result of [`train_sentiment`].
#[derive(Debug, Clone, Serialize)]
pub struct SentimentOutcome {
    /// Registry name.
    pub name: String,
    /// Registered version.
    pub version: Option<i64>,
    /// Parameters.
    pub params: SentimentParams,
    /// The classification report on the test rows.
    pub report: ClassReport,
    /// TF-IDF fit + transform of the training texts + classifier fit, in seconds.
    pub fit_seconds: f64,
    /// Training texts.
    pub train_rows: usize,
    /// Test texts.
    pub test_rows: usize,
    /// Vocabulary size.
    pub vocabulary: usize,
    /// The data, resolved.
    pub source: SentimentSource,
    /// Where the artifact is.
    pub artifact: Option<String>,
    /// The model (not serialised).
    #[serde(skip)]
    pub model: Option<SentimentModel>,
}

fn sha_file(p: &Path) -> Result<String> {
    let b = std::fs::read(p).map_err(|e| Error::Read { what: p.display().to_string(), reason: e.to_string() })?;
    Ok(hex::encode(Sha256::digest(&b)))
}

/// Trains, evaluates and (optionally) registers the sentiment model.
pub async fn train_sentiment(
    env: &Env,
    name: &str,
    source: &SentimentSource,
    params: &SentimentParams,
    register: bool,
    command: &str,
    progress: &dyn Progress,
) -> Result<SentimentOutcome> {
    params.check()?;
    progress.begin("reading", None);
    let (train, test, resolved) = match source {
        SentimentSource::Files { train, test, .. } => {
            let a = read_labelled_csv(train)?;
            let b = read_labelled_csv(test)?;
            let r = SentimentSource::Files { train: train.clone(), test: test.clone(), train_sha256: Some(sha_file(train)?), test_sha256: Some(sha_file(test)?) };
            (a, b, r)
        }
        SentimentSource::Table { table, version, seed } => {
            let (texts, labels, v) = read_review_table(env, table, *version).await?;
            let mut classes: Vec<&String> = labels.iter().collect();
            classes.sort();
            classes.dedup();
            let y: Vec<usize> = labels.iter().map(|l| classes.iter().position(|c| *c == l).unwrap_or(0)).collect();
            let s = stratified_split(texts.len(), Some(&y), 0.2, *seed)?;
            let pick = |rows: &[usize]| (rows.iter().map(|&r| texts[r].clone()).collect::<Vec<_>>(), rows.iter().map(|&r| labels[r].clone()).collect::<Vec<_>>());
            (pick(&s.train), pick(&s.test), SentimentSource::Table { table: table.clone(), version: Some(v), seed: *seed })
        }
    };
    progress.end();
    rayon::broadcast(|_| ());
    progress.begin("training", None);
    let started = std::time::Instant::now();
    let model = tokio::task::block_in_place(|| fit_sentiment(&train.0, &train.1, params))?;
    let fit_seconds = started.elapsed().as_secs_f64();
    progress.end();
    let report = tokio::task::block_in_place(|| model.report(&test.0, &test.1))?;
    let mut out = SentimentOutcome {
        name: name.to_string(),
        version: None,
        params: params.clone(),
        report,
        fit_seconds,
        train_rows: train.0.len(),
        test_rows: test.0.len(),
        vocabulary: model.tfidf.terms.len(),
        source: resolved,
        artifact: None,
        model: None,
    };
    if register {
        let bytes = tokio::task::block_in_place(|| model.save());
        let run = RunId::new();
        let path = format!("_models/{name}/{}.reelmodel", run.0);
        let location = env.lake.put_object(&path, bytes.clone()).await?;
        let metrics = serde_json::json!({
            "macro_f1": out.report.macro_avg.f1,
            "accuracy": out.report.accuracy,
            "weighted_f1": out.report.weighted_avg.f1,
            "per_class": out.report.classes,
            "test_rows": out.test_rows,
        });
        let card = format!(
            "# {name} (TF-IDF + logistic regression)\n\n- Trained by: `{command}` ({code})\n- Data: {train} training and {test} test reviews\n- Parameters: `{params}`\n- Vocabulary: {vocab} terms\n- Fit time: {fit:.3} s\n\n## Held-out metrics\n\n```json\n{m}\n```\n\n## Intended use and limits\n\nLabels English product or film reviews negative / neutral / positive. Trained on ratings (<= 2 negative, 3 neutral, >= 4 positive): it learns how people who gave a rating wrote, and knows no word it never saw.\n",
            code = code_version(),
            train = out.train_rows,
            test = out.test_rows,
            params = serde_json::to_string(params).unwrap_or_default(),
            vocab = out.vocabulary,
            fit = fit_seconds,
            m = serde_json::to_string_pretty(&metrics).unwrap_or_default(),
        );
        let version = env
            .catalog
            .register_model_version(&NewModelVersion {
                name: name.to_string(),
                algorithm: "tfidf-logreg".into(),
                kind: "sentiment".into(),
                params: serde_json::to_value(params).unwrap_or_default(),
                metrics,
                training: serde_json::json!({"source": out.source, "train_rows": out.train_rows, "test_rows": out.test_rows, "fit_seconds": fit_seconds}),
                artifact: path,
                artifact_bytes: bytes.len() as i64,
                artifact_sha256: hex::encode(Sha256::digest(&bytes)),
                code_version: code_version(),
                run_id: run.0.clone(),
                card,
            })
            .await?;
        out.version = Some(version);
        out.artifact = Some(location);
    }
    out.model = Some(model);
    Ok(out)
}

/// Loads a registered sentiment model, checking its SHA-256 and format.
pub async fn load_sentiment(env: &Env, v: &ModelVersion) -> Result<SentimentModel> {
    if v.kind != "sentiment" {
        return Err(Error::BadRequest(format!(
            "{}@{} is a {} model, not a sentiment model; train one with `reelhouse train sentiment`",
            v.name, v.version, v.kind
        )));
    }
    let bytes = env.lake.get_object(&v.artifact).await?;
    if hex::encode(Sha256::digest(&bytes)) != v.artifact_sha256 {
        return Err(Error::BadRequest(format!("the artifact of {}@{} was changed or corrupted (SHA-256 differs); retrain the model", v.name, v.version)));
    }
    Ok(tokio::task::block_in_place(|| SentimentModel::load(&bytes))?)
}
