//! Classic models end to end: tabular classifiers (churn and any CSV or table), k-means
//! segmentation, and the built-in feature tables `curated.user_features` and
//! `curated.user_churn_features`.
//!
//! ```text
//!  --csv FILE | --table zone.name@v ──read_frame──> reel_ml::tabular::Frame (types inferred)
//!     ──tabular::train (CV, threshold rule, final fit, held-out metrics)──> TabularModel
//!     ──save──> <lake>/_models/<name>/<run>.reelmodel ──register (kind classifier|regressor)
//!  clean.ratings + clean.movie_genres ──user_features / churn_features──> curated.* (one commit)
//!  curated.user_features ──segment (k-means per k, SSE, silhouette, profiles)──> SegmentOutcome
//! ```
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Float64Type, Schema};
use chrono::Utc;
use reel_catalog::{ColumnEntry, ModelVersion, NewModelVersion, NewTableVersion, SourceEntry};
use reel_common::{RunId, TableRef};
use reel_lake::WriteMode;
use reel_ml::cluster::{self, KMeansParams};
use reel_ml::model::FitObserver;
use reel_ml::tabular::{self, Column, Frame, Inference, Matrix, TabularModel, TrainOptions, TrainReport};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::tables::{read_movies, read_ratings, select};
use crate::train::code_version;
use crate::{Env, Error, Progress, Result};

/// Where a frame comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FrameSource {
    /// A CSV file with a header row.
    Csv {
        /// The file.
        path: PathBuf,
        /// Its SHA-256 (filled in when read).
        sha256: Option<String>,
    },
    /// A lake table.
    Table {
        /// `zone.name`.
        table: String,
        /// The Delta version (the latest when `None`; filled in when read).
        version: Option<i64>,
    },
}

impl FrameSource {
    /// `--csv FILE` or `--table T[@V]`.
    pub fn parse(csv: Option<&Path>, table: Option<&str>) -> Result<FrameSource> {
        match (csv, table) {
            (Some(p), None) => Ok(FrameSource::Csv { path: p.to_path_buf(), sha256: None }),
            (None, Some(t)) => {
                let (name, version) = match t.split_once('@') {
                    Some((n, v)) => (n, Some(v.parse::<i64>().map_err(|_| Error::BadRequest(format!("{t}: the version after @ must be a number")))?)),
                    None => (t, None),
                };
                name.parse::<TableRef>().map_err(|e| Error::BadRequest(e.to_string()))?;
                Ok(FrameSource::Table { table: name.to_string(), version })
            }
            (Some(_), Some(_)) => Err(Error::BadRequest("pass --csv or --table, not both".into())),
            (None, None) => Err(Error::BadRequest("say what to train on: --csv FILE or --table zone.name".into())),
        }
    }

    /// For messages: the file or `table@version`.
    pub fn describe(&self) -> String {
        match self {
            FrameSource::Csv { path, .. } => path.display().to_string(),
            FrameSource::Table { table, version } => match version {
                Some(v) => format!("{table}@{v}"),
                None => table.clone(),
            },
        }
    }
}

fn sha256_bytes(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// A frame from record batches: numeric Arrow columns become numbers, everything else text.
pub fn frame_from_batches(schema: &Schema, batches: &[RecordBatch]) -> Result<(Frame, Vec<Inference>)> {
    let mut f = Frame::default();
    let mut inf = Vec::new();
    for (k, field) in schema.fields().iter().enumerate() {
        let numeric = field.data_type().is_numeric();
        let col = if numeric {
            let mut v = Vec::new();
            for b in batches {
                let a = cast(b.column(k), &DataType::Float64).map_err(|e| Error::Read { what: format!("column {}", field.name()), reason: e.to_string() })?;
                let a = a.as_primitive::<Float64Type>();
                v.extend((0..a.len()).map(|r| if a.is_null(r) { f64::NAN } else { a.value(r) }));
            }
            Column::Numeric(v)
        } else {
            let mut v = Vec::new();
            for b in batches {
                let a = cast(b.column(k), &DataType::Utf8).map_err(|e| Error::Read { what: format!("column {}", field.name()), reason: e.to_string() })?;
                let a = a.as_string::<i32>();
                v.extend((0..a.len()).map(|r| (!a.is_null(r)).then(|| a.value(r).to_string())));
            }
            Column::Text(v)
        };
        let missing = (0..col.len()).filter(|&r| col.is_missing(r)).count();
        inf.push(Inference { column: field.name().clone(), inferred: col.type_name(), missing, coerced: 0, coerced_examples: Vec::new() });
        f.push(field.name(), col)?;
    }
    Ok((f, inf))
}

/// Reads `source` into a frame, filling in its version or checksum.
pub async fn read_frame(env: &Env, source: &FrameSource) -> Result<(Frame, Vec<Inference>, FrameSource)> {
    match source {
        FrameSource::Csv { path, .. } => {
            let bytes = std::fs::read(path).map_err(|e| Error::Read { what: format!("{}", path.display()), reason: e.to_string() })?;
            let sha = sha256_bytes(&bytes);
            let (f, inf) = tokio::task::block_in_place(|| Frame::from_csv(bytes.as_slice(), b','))
                .map_err(|e| Error::BadRequest(format!("{}: {e}", path.display())))?;
            Ok((f, inf, FrameSource::Csv { path: path.clone(), sha256: Some(sha) }))
        }
        FrameSource::Table { table, version } => {
            let t: TableRef = table.parse().map_err(|e| Error::BadRequest(format!("{e}")))?;
            let (batches, v) = select(&env.lake, &t, *version, "*", None).await?;
            let schema = match batches.first() {
                Some(b) => b.schema(),
                None => return Err(Error::BadRequest(format!("{table}@{v} has no rows to train on"))),
            };
            let (f, inf) = frame_from_batches(&schema, &batches)?;
            Ok((f, inf, FrameSource::Table { table: table.clone(), version: Some(v) }))
        }
    }
}

/// What to train.
#[derive(Debug, Clone)]
pub struct ClassifierRequest {
    /// Registry name.
    pub name: String,
    /// Training data.
    pub source: FrameSource,
    /// A saved test split (same columns); without it a stratified share is held out.
    pub test: Option<FrameSource>,
    /// Target, algorithm, preprocessing, threshold rule, CV.
    pub options: TrainOptions,
    /// Register the model.
    pub register: bool,
    /// The command line.
    pub command: String,
}

/// The result of [`train_classifier`].
#[derive(Debug, Clone, Serialize)]
pub struct ClassifierOutcome {
    /// Registry name.
    pub name: String,
    /// Registered version.
    pub version: Option<i64>,
    /// Algorithm.
    pub algorithm: String,
    /// `classifier` or `regressor`.
    pub kind: String,
    /// Parameters.
    pub params: serde_json::Value,
    /// How each column of the training data was read.
    pub inference: Vec<Inference>,
    /// Everything the training run reports.
    pub report: TrainReport,
    /// The training data, resolved.
    pub source: FrameSource,
    /// The test data, resolved.
    pub test: Option<FrameSource>,
    /// Where the artifact is.
    pub artifact: Option<String>,
}

/// Bridges epochs to a [`Progress`].
struct Bar<'a> {
    progress: &'a dyn Progress,
    phase: &'static str,
    started: bool,
}

impl FitObserver for Bar<'_> {
    fn on_epoch(&mut self, epoch: usize, epochs: usize, loss: Option<f64>) {
        if !self.started {
            self.progress.begin(self.phase, Some(epochs as u64));
            self.started = true;
        }
        if let Some(l) = loss {
            self.progress.message(&format!("round {epoch}/{epochs} loss {l:.4}"));
        }
        self.progress.advance(1);
    }
}

/// Reads the data, trains, evaluates and (optionally) registers a tabular model.
pub async fn train_classifier(env: &Env, req: &ClassifierRequest, progress: &dyn Progress) -> Result<ClassifierOutcome> {
    req.options.params.check()?;
    progress.begin("reading", None);
    let (train, inference, source) = read_frame(env, &req.source).await?;
    let test = match &req.test {
        Some(t) => Some(read_frame(env, t).await?),
        None => None,
    };
    progress.end();
    rayon::broadcast(|_| ());
    let (test_frame, test_source) = match test {
        Some((f, _, s)) => (Some(f), Some(s)),
        None => (None, None),
    };
    let report = tokio::task::block_in_place(|| {
        let mut bar = Bar { progress, phase: "training", started: false };
        let r = tabular::train(train, test_frame, &req.options, &mut bar);
        if bar.started {
            progress.end();
        }
        r
    })?;
    let model = report.model.clone().ok_or_else(|| Error::Internal("training returned no model".into()))?;
    let mut out = ClassifierOutcome {
        name: req.name.clone(),
        version: None,
        algorithm: model.algorithm().to_string(),
        kind: model.kind().to_string(),
        params: model.params.values(),
        inference,
        report,
        source,
        test: test_source,
        artifact: None,
    };
    if req.register {
        let bytes = tokio::task::block_in_place(|| model.save());
        let run = RunId::new();
        let path = format!("_models/{}/{}.reelmodel", req.name, run.0);
        let location = env.lake.put_object(&path, bytes.clone()).await?;
        let training = serde_json::json!({
            "source": out.source,
            "test": out.test,
            "target": req.options.target,
            "train_rows": out.report.train_rows,
            "test_rows": out.report.metrics.test_rows,
            "held_out_split": out.report.held_out_split,
            "seed": req.options.seed,
            "fit_seconds": out.report.fit_seconds,
        });
        let version = env
            .catalog
            .register_model_version(&NewModelVersion {
                name: req.name.clone(),
                algorithm: out.algorithm.clone(),
                kind: out.kind.clone(),
                params: out.params.clone(),
                metrics: serde_json::to_value(&out.report.metrics).unwrap_or_default(),
                training,
                artifact: path,
                artifact_bytes: bytes.len() as i64,
                artifact_sha256: sha256_bytes(&bytes),
                code_version: code_version(),
                run_id: run.0.clone(),
                card: classifier_card(&out, &req.command),
            })
            .await?;
        out.version = Some(version);
        out.artifact = Some(location);
    }
    Ok(out)
}

fn classifier_card(o: &ClassifierOutcome, command: &str) -> String {
    let cols: Vec<String> = o.report.columns.iter().map(|c| format!("| {} | {} | {} | {} |", c.column, c.kind, c.action, c.detail)).collect();
    format!(
        "# {name} ({algo} {kind})\n\n- Trained by: `{command}` ({code})\n- Data: {src}{test}; {rows} training rows\n- Parameters: `{params}`\n- Fit time: {fit:.3} s\n\n\
         ## Held-out metrics\n\n```json\n{metrics}\n```\n\n## Columns\n\n| column | read as | action | detail |\n|---|---|---|---|\n{cols}\n\n\
         ## Intended use and limits\n\nScores rows with the same columns as the training data. Categories never seen in training \
         encode as all zeros, missing numbers get the training median. The threshold was chosen by `{rule}` on out-of-fold scores.\n",
        name = o.name,
        algo = o.algorithm,
        kind = o.kind,
        code = code_version(),
        src = o.source.describe(),
        test = o.test.as_ref().map(|t| format!(", tested on {}", t.describe())).unwrap_or_else(|| ", a stratified 20% held out".into()),
        rows = o.report.train_rows,
        params = o.params,
        fit = o.report.fit_seconds,
        metrics = serde_json::to_string_pretty(&o.report.metrics).unwrap_or_default(),
        cols = cols.join("\n"),
        rule = o.report.model.as_ref().map(|m| m.threshold_rule.to_string()).unwrap_or_default(),
    )
}

/// Loads a registered tabular model, checking its SHA-256 and format.
pub async fn load_tabular(env: &Env, v: &ModelVersion) -> Result<TabularModel> {
    if v.kind != "classifier" && v.kind != "regressor" {
        return Err(Error::BadRequest(format!(
            "{}@{} is a {} model, not a classifier; pass a model trained with `reelhouse train classifier`",
            v.name, v.version, v.kind
        )));
    }
    let bytes = env.lake.get_object(&v.artifact).await?;
    if sha256_bytes(&bytes) != v.artifact_sha256 {
        return Err(Error::BadRequest(format!("the artifact of {}@{} was changed or corrupted (SHA-256 differs); retrain the model", v.name, v.version)));
    }
    Ok(tokio::task::block_in_place(|| TabularModel::load(&bytes))?)
}

/// The gate's comparison of two classifier, regressor or sentiment versions: their stored
/// held-out metric, which is only comparable when both were tested on the same rows (the
/// same test file by SHA-256, or the same table version, seed and hold-out share). Returns
/// `(metric, candidate, incumbent, lower_is_better)` or why they cannot be compared.
pub fn gate_metric(candidate: &ModelVersion, incumbent: &ModelVersion) -> std::result::Result<(&'static str, f64, f64, bool), String> {
    if candidate.kind != incumbent.kind {
        return Err(format!("{}@{} is a {} and {}@{} a {}: they cannot be compared; pass --force", candidate.name, candidate.version, candidate.kind, incumbent.name, incumbent.version, incumbent.kind));
    }
    let rows = |v: &ModelVersion| {
        let t = &v.training;
        let test = if t["test"].is_null() {
            serde_json::json!({"held_out_of": t["source"], "seed": t["seed"], "share": t["held_out_split"]})
        } else {
            t["test"].clone()
        };
        let mut rows = serde_json::json!({"test": test, "target": t["target"]});
        drop_checksummed_paths(&mut rows);
        rows
    };
    if rows(candidate) != rows(incumbent) {
        return Err(format!(
            "{}@{} and {}@{} were tested on different rows (other test data, table version or seed), so their metrics do not compare; retrain on the same data or pass --force",
            candidate.name, candidate.version, incumbent.name, incumbent.version
        ));
    }
    let get = |v: &ModelVersion, k: &str| v.metrics.get(k).and_then(|x| x.as_f64());
    for (metric, lower) in [("roc_auc", false), ("macro_f1", false), ("rmse", true)] {
        if let (Some(c), Some(i)) = (get(candidate, metric), get(incumbent, metric)) {
            return Ok((metric, c, i, lower));
        }
    }
    Err("the two versions share no metric to compare; pass --force".into())
}

/// Removes file paths that sit next to their checksum (`path` beside `sha256`, `train` beside
/// `train_sha256`), so the same file copied elsewhere still counts as the same rows.
fn drop_checksummed_paths(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                let sha = if k == "path" { "sha256".to_string() } else { format!("{k}_sha256") };
                if map.get(&sha).is_some_and(|s| !s.is_null()) {
                    map.remove(&k);
                }
            }
            map.values_mut().for_each(drop_checksummed_paths);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_checksummed_paths),
        _ => {}
    }
}

/// k-means over a range of k.
#[derive(Debug, Clone)]
pub struct SegmentRequest {
    /// The data.
    pub source: FrameSource,
    /// Feature columns (numeric; text columns are refused); empty = every numeric column
    /// except id-like ones.
    pub features: Vec<String>,
    /// The k to try.
    pub ks: Vec<usize>,
    /// Restarts, seed, iterations.
    pub params: KMeansParams,
    /// Standardise the features first.
    pub scale: bool,
}

/// One k's figures.
#[derive(Debug, Clone, Serialize)]
pub struct KFigures {
    /// Clusters.
    pub k: usize,
    /// Sum of squared distances (on the scaled features).
    pub sse: f64,
    /// Mean silhouette.
    pub silhouette: Option<f64>,
}

/// The result of [`segment`].
#[derive(Debug, Clone, Serialize)]
pub struct SegmentOutcome {
    /// The data, resolved.
    pub source: FrameSource,
    /// Features used, in order.
    pub features: Vec<String>,
    /// Rows clustered.
    pub rows: usize,
    /// Rows skipped for a missing feature value.
    pub skipped_rows: usize,
    /// SSE and silhouette per k.
    pub per_k: Vec<KFigures>,
    /// The k profiled: the best silhouette.
    pub chosen_k: usize,
    /// Size and feature means per segment at `chosen_k`.
    pub profiles: Vec<cluster::Profile>,
    /// Segment of each clustered row at `chosen_k`.
    #[serde(skip)]
    pub labels: Vec<usize>,
}

fn id_like(name: &str) -> bool {
    let l = name.to_ascii_lowercase();
    l == "id" || l.ends_with("_id") || l == "rownames" || l == "index"
}

/// Runs k-means for every k of the request on the numeric features.
pub async fn segment(env: &Env, req: &SegmentRequest, progress: &dyn Progress) -> Result<SegmentOutcome> {
    if req.ks.is_empty() {
        return Err(Error::BadRequest("no k to try; e.g. --k 2..8".into()));
    }
    let (frame, _, source) = read_frame(env, &req.source).await?;
    let features: Vec<String> = if req.features.is_empty() {
        frame.iter().filter(|(n, c)| matches!(c, Column::Numeric(_)) && !id_like(n)).map(|(n, _)| n.to_string()).collect()
    } else {
        req.features.clone()
    };
    let mut cols: Vec<&Vec<f64>> = Vec::new();
    for f in &features {
        match frame.column(f) {
            Some(Column::Numeric(v)) => cols.push(v),
            Some(Column::Text(_)) => return Err(Error::BadRequest(format!("feature {f:?} is text; k-means needs numeric features"))),
            None => return Err(Error::BadRequest(format!("there is no column {f:?}; the columns are: {}", frame.names().join(", ")))),
        }
    }
    if cols.is_empty() {
        return Err(Error::BadRequest("no numeric feature to cluster on; pass --features a,b,c".into()));
    }
    let rows: Vec<usize> = (0..frame.len()).filter(|&r| cols.iter().all(|c| !c[r].is_nan())).collect();
    let p = cols.len();
    let raw = Matrix { rows: rows.len(), cols: p, data: rows.iter().flat_map(|&r| cols.iter().map(move |c| c[r])).collect() };
    let mut x = raw.clone();
    if req.scale {
        for f in 0..p {
            let n = x.rows.max(1) as f64;
            let mean = (0..x.rows).map(|r| x.data[r * p + f]).sum::<f64>() / n;
            let sd = ((0..x.rows).map(|r| (x.data[r * p + f] - mean).powi(2)).sum::<f64>() / n).sqrt();
            let sd = if sd > 1e-12 { sd } else { 1.0 };
            for r in 0..x.rows {
                x.data[r * p + f] = (x.data[r * p + f] - mean) / sd;
            }
        }
    }
    progress.begin("clustering", Some(req.ks.len() as u64));
    let mut per_k = Vec::new();
    let mut fits = Vec::new();
    for &k in &req.ks {
        progress.message(&format!("k = {k}"));
        let m = tokio::task::block_in_place(|| cluster::kmeans(&x, &KMeansParams { k, ..req.params.clone() }))?;
        let s = tokio::task::block_in_place(|| cluster::silhouette(&x, &m.labels, req.params.seed));
        per_k.push(KFigures { k, sse: m.sse, silhouette: s });
        fits.push(m);
        progress.advance(1);
    }
    progress.end();
    let best = (0..per_k.len())
        .max_by(|&a, &b| per_k[a].silhouette.unwrap_or(f64::NEG_INFINITY).total_cmp(&per_k[b].silhouette.unwrap_or(f64::NEG_INFINITY)))
        .unwrap_or(0);
    let chosen = &fits[best];
    let profiles = cluster::profiles(&raw, &chosen.labels, chosen.k());
    Ok(SegmentOutcome {
        source,
        features,
        rows: rows.len(),
        skipped_rows: frame.len() - rows.len(),
        per_k,
        chosen_k: chosen.k(),
        profiles,
        labels: chosen.labels.clone(),
    })
}

/// A small self-contained SVG line chart of SSE (and silhouette) against k: the elbow chart.
pub fn elbow_svg(per_k: &[KFigures]) -> String {
    let (w, h, l, r, t, b) = (640.0, 360.0, 70.0, 70.0, 40.0, 50.0);
    let kmin = per_k.iter().map(|f| f.k).min().unwrap_or(1) as f64;
    let kmax = per_k.iter().map(|f| f.k).max().unwrap_or(2) as f64;
    let smax = per_k.iter().map(|f| f.sse).fold(0.0, f64::max).max(1e-12);
    let xs = |k: f64| l + (k - kmin) / (kmax - kmin).max(1.0) * (w - l - r);
    let ys = |v: f64, max: f64| t + (1.0 - v / max) * (h - t - b);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">k-means: SSE (blue) and silhouette (orange) by k</text>\n\
         <line x1=\"{l}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/><line x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{}\" stroke=\"black\"/>\n",
        w / 2.0,
        h - b,
        w - r,
        h - b,
        h - b
    );
    for f in per_k {
        let x = xs(f.k as f64);
        svg.push_str(&format!("<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n", h - b + 18.0, f.k));
    }
    svg.push_str(&format!("<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">k</text>\n", w / 2.0, h - 8.0));
    for q in 0..=4 {
        let v = smax * q as f64 / 4.0;
        svg.push_str(&format!("<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#1f77b4\">{v:.0}</text>\n", l - 6.0, ys(v, smax) + 4.0));
        svg.push_str(&format!("<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#ff7f0e\">{:.2}</text>\n", w - r + 6.0, ys(q as f64 / 4.0, 1.0) + 4.0, q as f64 / 4.0));
    }
    let line = |pts: Vec<(f64, f64)>, color: &str| {
        let d: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let mut s = format!("<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\n", d.join(" "));
        for (x, y) in pts {
            s.push_str(&format!("<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"{color}\"/>\n"));
        }
        s
    };
    svg.push_str(&line(per_k.iter().map(|f| (xs(f.k as f64), ys(f.sse, smax))).collect(), "#1f77b4"));
    svg.push_str(&line(per_k.iter().filter_map(|f| f.silhouette.map(|s| (xs(f.k as f64), ys(s.max(0.0), 1.0)))).collect(), "#ff7f0e"));
    svg.push_str("</svg>\n");
    svg
}

/// One user's rating activity.
#[derive(Default)]
struct Activity {
    n: usize,
    sum: f64,
    first: i64,
    last: i64,
    genres: HashMap<String, usize>,
    recent: usize,
    after: usize,
}

fn write_table_batch(schema: Arc<Schema>, cols: Vec<ArrayRef>) -> Result<RecordBatch> {
    RecordBatch::try_new(schema, cols).map_err(|e| Error::Internal(format!("building a feature batch: {e}")))
}

async fn write_curated(env: &Env, name: &str, batch: RecordBatch, description: &str, upstream: Vec<(TableRef, i64)>, command: &str) -> Result<(TableRef, i64, usize)> {
    let t: TableRef = format!("curated.{name}").parse().map_err(|e| Error::Internal(format!("{e}")))?;
    let rows = batch.num_rows();
    let mut w = env.lake.writer(&t, batch.schema()).with_mode(WriteMode::Overwrite);
    w.write(batch).await?;
    let m = w.commit().await?;
    let info = env.lake.info(&t).await?;
    let run = RunId::new();
    let mut tags = std::collections::BTreeMap::new();
    tags.insert("zone".to_string(), "curated".to_string());
    tags.insert("kind".to_string(), "features".to_string());
    env.catalog
        .record_version(NewTableVersion {
            table: t.clone(),
            version: m.version,
            operation: "overwrite".into(),
            columns: ColumnEntry::from_schema(&info.schema),
            row_count: info.row_count.map(|n| n as i64).unwrap_or(rows as i64),
            partition_columns: info.partition_columns.clone(),
            location: info.location.clone(),
            size_bytes: info.size_bytes as i64,
            num_files: info.num_files as i64,
            run_id: run,
            command: command.to_string(),
            created_at: Utc::now(),
            description: Some(description.to_string()),
            tags,
            sources: Vec::<SourceEntry>::new(),
            upstream,
        })
        .await?;
    Ok((t, m.version, rows))
}

fn genre_column(g: &str) -> String {
    let s: String = g.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    format!("share_{}", s.trim_matches('_'))
}

/// A built feature table.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureTable {
    /// The table.
    pub table: String,
    /// Its new Delta version.
    pub version: i64,
    /// Rows (users).
    pub rows: usize,
    /// Columns.
    pub columns: Vec<String>,
    /// For the churn table: the cut-off (Unix seconds) and the silent window in days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cutoff: Option<String>,
    /// Churned share (churn table).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub churn_rate: Option<f64>,
}

/// Builds `curated.user_features` from `clean.ratings` (and `clean.movie_genres`): per user
/// `ratings`, `mean_rating`, `active_days` (first to last rating), `recency_days` (last
/// rating to the newest rating in the table) and `share_<genre>` (share of the user's
/// ratings on films of that genre; a film counts in each of its genres).
pub async fn build_user_features(env: &Env, command: &str) -> Result<FeatureTable> {
    let rt: TableRef = "clean.ratings".parse().map_err(|e| Error::Internal(format!("{e}")))?;
    let (r, v) = read_ratings(&env.lake, &rt, None).await?;
    let movies = read_movies(&env.lake).await.unwrap_or_default();
    let mut users: HashMap<i64, Activity> = HashMap::new();
    let newest = r.timestamp.iter().copied().max().unwrap_or(0);
    let mut all_genres: Vec<String> = movies.values().flat_map(|m| m.genres.iter().cloned()).collect();
    all_genres.sort();
    all_genres.dedup();
    for k in 0..r.len() {
        let a = users.entry(r.user[k]).or_insert_with(|| Activity { first: i64::MAX, last: i64::MIN, ..Activity::default() });
        a.n += 1;
        a.sum += r.rating[k] as f64;
        a.first = a.first.min(r.timestamp[k]);
        a.last = a.last.max(r.timestamp[k]);
        if let Some(m) = movies.get(&r.item[k]) {
            for g in &m.genres {
                *a.genres.entry(g.clone()).or_default() += 1;
            }
        }
    }
    if users.is_empty() {
        return Err(Error::BadRequest("clean.ratings is empty; load ratings first (reelhouse ingest movielens DIR)".into()));
    }
    let mut ids: Vec<i64> = users.keys().copied().collect();
    ids.sort_unstable();
    let mut fields = vec![
        Field::new("user_id", DataType::Int64, false),
        Field::new("ratings", DataType::Int64, false),
        Field::new("mean_rating", DataType::Float64, false),
        Field::new("active_days", DataType::Float64, false),
        Field::new("recency_days", DataType::Float64, false),
    ];
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.clone())),
        Arc::new(Int64Array::from(ids.iter().map(|u| users[u].n as i64).collect::<Vec<_>>())),
        Arc::new(Float64Array::from(ids.iter().map(|u| users[u].sum / users[u].n as f64).collect::<Vec<_>>())),
        Arc::new(Float64Array::from(ids.iter().map(|u| (users[u].last - users[u].first) as f64 / 86_400.0).collect::<Vec<_>>())),
        Arc::new(Float64Array::from(ids.iter().map(|u| (newest - users[u].last) as f64 / 86_400.0).collect::<Vec<_>>())),
    ];
    for g in &all_genres {
        fields.push(Field::new(genre_column(g), DataType::Float64, false));
        cols.push(Arc::new(Float64Array::from(ids.iter().map(|u| users[u].genres.get(g).copied().unwrap_or(0) as f64 / users[u].n as f64).collect::<Vec<_>>())));
    }
    let names = fields.iter().map(|f| f.name().clone()).collect();
    let batch = write_table_batch(Arc::new(Schema::new(fields)), cols)?;
    let (t, version, rows) = write_curated(
        env,
        "user_features",
        batch,
        "Per-user activity from clean.ratings: ratings, mean rating, active and recency days, genre shares (for segmentation)",
        vec![(rt, v)],
        command,
    )
    .await?;
    Ok(FeatureTable { table: t.to_string(), version, rows, columns: names, cutoff: None, churn_rate: None })
}

/// Builds `curated.user_churn_features`: for users who rated before the cut-off, their
/// activity up to it (`ratings`, `mean_rating`, `tenure_days`, `days_since_last`,
/// `ratings_last_30d`) and `churned` = 1 when they rated nothing in the `silent_days`
/// after it. The cut-off defaults to `silent_days` before the newest rating, so the
/// window is fully observed.
pub async fn build_churn_features(env: &Env, cutoff: Option<i64>, silent_days: u32, command: &str) -> Result<FeatureTable> {
    if silent_days == 0 {
        return Err(Error::BadRequest("--silent-days 0 would call everyone churned; pass 1 or more (e.g. 30)".into()));
    }
    let rt: TableRef = "clean.ratings".parse().map_err(|e| Error::Internal(format!("{e}")))?;
    let (r, v) = read_ratings(&env.lake, &rt, None).await?;
    let newest = r.timestamp.iter().copied().max().unwrap_or(0);
    let oldest = r.timestamp.iter().copied().min().unwrap_or(0);
    let window = silent_days as i64 * 86_400;
    let cut = cutoff.unwrap_or(newest - window);
    if cut <= oldest || cut + window > newest {
        let fmt = |s: i64| chrono::DateTime::from_timestamp(s, 0).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
        return Err(Error::BadRequest(format!(
            "cut-off {} with a {silent_days}-day window does not fit the ratings ({} to {}); pick a cut-off after the first rating and at least {silent_days} days before the last",
            fmt(cut),
            fmt(oldest),
            fmt(newest)
        )));
    }
    let mut users: HashMap<i64, Activity> = HashMap::new();
    for k in 0..r.len() {
        let ts = r.timestamp[k];
        let a = users.entry(r.user[k]).or_insert_with(|| Activity { first: i64::MAX, last: i64::MIN, ..Activity::default() });
        if ts <= cut {
            a.n += 1;
            a.sum += r.rating[k] as f64;
            a.first = a.first.min(ts);
            a.last = a.last.max(ts);
            if ts > cut - 30 * 86_400 {
                a.recent += 1;
            }
        } else if ts <= cut + window {
            a.after += 1;
        }
    }
    let mut ids: Vec<i64> = users.iter().filter(|(_, a)| a.n > 0).map(|(u, _)| *u).collect();
    ids.sort_unstable();
    if ids.is_empty() {
        return Err(Error::BadRequest("no user rated before the cut-off; pick a later --cutoff".into()));
    }
    let churned: Vec<i64> = ids.iter().map(|u| i64::from(users[u].after == 0)).collect();
    let rate = churned.iter().sum::<i64>() as f64 / ids.len() as f64;
    let fields = vec![
        Field::new("user_id", DataType::Int64, false),
        Field::new("ratings", DataType::Int64, false),
        Field::new("mean_rating", DataType::Float64, false),
        Field::new("tenure_days", DataType::Float64, false),
        Field::new("days_since_last", DataType::Float64, false),
        Field::new("ratings_last_30d", DataType::Int64, false),
        Field::new("churned", DataType::Int64, false),
    ];
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.clone())),
        Arc::new(Int64Array::from(ids.iter().map(|u| users[u].n as i64).collect::<Vec<_>>())),
        Arc::new(Float64Array::from(ids.iter().map(|u| users[u].sum / users[u].n as f64).collect::<Vec<_>>())),
        Arc::new(Float64Array::from(ids.iter().map(|u| (cut - users[u].first) as f64 / 86_400.0).collect::<Vec<_>>())),
        Arc::new(Float64Array::from(ids.iter().map(|u| (cut - users[u].last) as f64 / 86_400.0).collect::<Vec<_>>())),
        Arc::new(Int64Array::from(ids.iter().map(|u| users[u].recent as i64).collect::<Vec<_>>())),
        Arc::new(Int64Array::from(churned)),
    ];
    let names = fields.iter().map(|f| f.name().clone()).collect();
    let batch = write_table_batch(Arc::new(Schema::new(fields)), cols)?;
    let day = chrono::DateTime::from_timestamp(cut, 0).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
    let (t, version, rows) = write_curated(
        env,
        "user_churn_features",
        batch,
        &format!("Per-user activity up to {day} and churned = no rating in the {silent_days} days after it"),
        vec![(rt, v)],
        command,
    )
    .await?;
    Ok(FeatureTable { table: t.to_string(), version, rows, columns: names, cutoff: Some(format!("{day} + {silent_days} days")), churn_rate: Some(rate) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_and_refuse_ambiguity() {
        assert!(matches!(FrameSource::parse(None, Some("clean.x@3")).expect("ok"), FrameSource::Table { version: Some(3), .. }));
        assert!(FrameSource::parse(None, None).is_err());
        assert!(FrameSource::parse(Some(Path::new("a.csv")), Some("clean.x")).is_err());
        assert!(FrameSource::parse(None, Some("clean.x@v")).is_err());
    }

    #[test]
    fn the_elbow_chart_is_an_svg_with_a_point_per_k() {
        let f = vec![KFigures { k: 2, sse: 100.0, silhouette: Some(0.5) }, KFigures { k: 3, sse: 50.0, silhouette: Some(0.6) }];
        let svg = elbow_svg(&f);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 4);
    }

    #[test]
    fn genre_columns_are_sql_friendly() {
        assert_eq!(genre_column("Children's"), "share_children_s");
        assert_eq!(genre_column("Sci-Fi"), "share_sci_fi");
    }
}
