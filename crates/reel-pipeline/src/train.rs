//! Training a recommender end to end: read the ratings at a known Delta version, split,
//! fit with progress, evaluate on the held-out rows, store the artifact in the lake and
//! register the version.
//!
//! ```text
//!  clean.ratings@N ─split (seeded)─> train / test
//!        train ─Params::fit─> model ─rating_metrics / evaluate_ranking(test)─> metrics
//!        model ─reco::save─> <lake>/_models/<name>/<run id>.reelmodel   (written first)
//!        catalog.register_model_version(name, algo, params, metrics, clean.ratings@N, artifact, card)
//! ```
//!
//! The split is recorded (spec, seed, table version), so the held-out rows can be rebuilt
//! exactly later: [`held_out`] does it for `evaluate` and for the promotion gate.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use reel_catalog::{ModelVersion, NewModelVersion};
use reel_common::{RunId, TableRef};
use reel_ml::data::{Dataset, Ratings, Scale};
use reel_ml::eval::{self, Catalogue, RankingMetrics, RatingMetrics, SavedRatings, SplitSpec, TopN};
use reel_ml::model::{FitObserver, Model, ModelKind};
use reel_ml::reco::{self, Params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::tables::{item_text, read_movies, read_ratings};
use crate::{Env, Error, Progress, Result};

/// Where the ratings come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TrainSource {
    /// A lake table, split by `split` with `seed`.
    Table {
        /// The ratings table (`clean.ratings`).
        table: String,
        /// Its Delta version (the latest when training; recorded).
        version: Option<i64>,
        /// The split spec, e.g. `random:0.8`.
        split: String,
        /// The split seed.
        seed: u64,
    },
    /// Saved split files (`user_id,movie_id,rating,timestamp`).
    Files {
        /// Training ratings.
        train: PathBuf,
        /// Held-out ratings; without it the model is not evaluated.
        test: Option<PathBuf>,
        /// SHA-256 of the training file.
        train_sha256: Option<String>,
        /// SHA-256 of the test file.
        test_sha256: Option<String>,
    },
}

/// What to train.
#[derive(Debug, Clone)]
pub struct TrainRequest {
    /// The registry name (`recommender` by default).
    pub name: String,
    /// Algorithm and parameters.
    pub params: Params,
    /// The data.
    pub source: TrainSource,
    /// Top-N metrics to compute (None: rating metrics only).
    pub topn: Option<TopN>,
    /// Evaluate top-N on at most this many users (sampled with the split seed); 0 = all.
    pub max_eval_users: usize,
    /// Register the model (and store its artifact).
    pub register: bool,
    /// The command line, for the registry.
    pub command: String,
}

/// Held-out metrics of a model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Root mean squared error of clipped predictions (rating models).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rmse: Option<f64>,
    /// Mean absolute error (rating models).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mae: Option<f64>,
    /// Test rows answered by a fallback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallbacks: Option<usize>,
    /// Rows evaluated.
    pub test_rows: usize,
    /// k of the top-N metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<usize>,
    /// precision@k.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision_at_k: Option<f64>,
    /// recall@k.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recall_at_k: Option<f64>,
    /// NDCG@k.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ndcg_at_k: Option<f64>,
    /// MAP@k.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map_at_k: Option<f64>,
    /// Hit rate@k.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hit_rate_at_k: Option<f64>,
    /// Catalogue coverage@k.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage_at_k: Option<f64>,
    /// Users evaluated for top-N.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranking_users: Option<usize>,
}

impl Metrics {
    fn set_rating(&mut self, m: &RatingMetrics) {
        self.rmse = Some(m.rmse);
        self.mae = Some(m.mae);
        self.fallbacks = Some(m.fallbacks);
    }

    fn set_ranking(&mut self, m: &RankingMetrics) {
        self.k = Some(m.k);
        self.precision_at_k = Some(m.precision);
        self.recall_at_k = Some(m.recall);
        self.ndcg_at_k = Some(m.ndcg);
        self.map_at_k = Some(m.map);
        self.hit_rate_at_k = Some(m.hit_rate);
        self.coverage_at_k = Some(m.coverage);
        self.ranking_users = Some(m.users);
    }

    /// The metric the promotion gate compares: RMSE (lower is better) when both sides have
    /// it, else NDCG@k (higher is better). Returns `(name, value, lower_is_better)`.
    pub fn gate_metric(&self, other: &Metrics) -> Option<(&'static str, f64, f64, bool)> {
        if let (Some(a), Some(b)) = (self.rmse, other.rmse) {
            return Some(("rmse", a, b, true));
        }
        if let (Some(a), Some(b)) = (self.ndcg_at_k, other.ndcg_at_k) {
            return Some(("ndcg_at_k", a, b, false));
        }
        None
    }
}

/// The result of [`train`].
#[derive(Debug, Clone, Serialize)]
pub struct TrainOutcome {
    /// Registry name.
    pub name: String,
    /// Registered version (None with `register = false`).
    pub version: Option<i64>,
    /// Algorithm.
    pub algorithm: String,
    /// Parameters used.
    pub params: serde_json::Value,
    /// Held-out metrics.
    pub metrics: Metrics,
    /// Seconds spent in `fit` alone (no loading, no evaluation).
    pub fit_seconds: f64,
    /// Seconds spent evaluating.
    pub eval_seconds: f64,
    /// Training rows, users and items.
    pub train_rows: usize,
    /// Users in the training data.
    pub users: usize,
    /// Items the model can score.
    pub items: usize,
    /// Where the artifact was stored.
    pub artifact: Option<String>,
    /// Artifact size in bytes.
    pub artifact_bytes: Option<usize>,
    /// What it was trained on.
    pub training: TrainSource,
    /// The model itself (not serialised).
    #[serde(skip)]
    pub model: Option<Arc<dyn Model>>,
    /// The held-out rows (not serialised).
    #[serde(skip)]
    pub test: Ratings,
}

/// Train and test ratings, the catalogue, and the resolved source.
#[derive(Debug)]
pub struct Prepared {
    /// Training rows.
    pub train: Ratings,
    /// Held-out rows (may be empty).
    pub test: Ratings,
    /// The dataset to fit on (catalogue and item text added when the lake has movies).
    pub data: Dataset,
    /// Every item id to rank over.
    pub catalogue: Catalogue,
    /// The source with its version and file hashes filled in.
    pub source: TrainSource,
}

fn sha256_file(path: &std::path::Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::Read { what: format!("{}", path.display()), reason: e.to_string() })?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// Reads and splits the data of `source`.
pub async fn prepare(env: &Env, source: &TrainSource, progress: &dyn Progress) -> Result<Prepared> {
    progress.begin("loading ratings", None);
    let (train, test, source) = match source {
        TrainSource::Table { table, version, split, seed } => {
            let t: TableRef = table.parse().map_err(|e| Error::BadRequest(format!("{e}")))?;
            let (all, v) = read_ratings(&env.lake, &t, *version).await?;
            let spec: SplitSpec = split.parse()?;
            if matches!(spec, SplitSpec::KFold { .. }) {
                return Err(Error::BadRequest(format!(
                    "--split {split} makes several folds; train takes one split such as random:0.8 \
                     (use `reelhouse compare --split {split}` for cross-validation)"
                )));
            }
            let s = spec.split(&all, *seed)?;
            let first = s.into_iter().next().ok_or_else(|| Error::Internal("a split spec gave no split".into()))?;
            let (tr, te) = first.apply(&all)?;
            (tr, te, TrainSource::Table { table: table.clone(), version: Some(v), split: split.clone(), seed: *seed })
        }
        TrainSource::Files { train, test, .. } => {
            let tr = SavedRatings::read(train)?.ratings;
            let te = match test {
                Some(p) => SavedRatings::read(p)?.ratings,
                None => Ratings::default(),
            };
            let src = TrainSource::Files {
                train: train.clone(),
                test: test.clone(),
                train_sha256: Some(sha256_file(train)?),
                test_sha256: test.as_deref().map(sha256_file).transpose()?,
            };
            (tr, te, src)
        }
    };
    progress.end();
    let lowest = train.rating.iter().chain(&test.rating).copied().fold(f32::INFINITY, f32::min);
    let scale = Scale::infer(&[lowest]);
    let mut data = Dataset::try_new(&train, scale)?;
    let movies_table: TableRef = "clean.movies".parse().map_err(|e| Error::Internal(format!("{e}")))?;
    let catalogue = if env.lake.exists(&movies_table).await? {
        let movies = read_movies(&env.lake).await?;
        let mut ids: Vec<i64> = movies.keys().copied().collect();
        ids.sort_unstable();
        data = data.with_catalogue(&ids).with_item_text(item_text(&movies));
        Catalogue::new(ids)
    } else {
        Catalogue::from_ratings(&[&train, &test])
    };
    Ok(Prepared { train, test, data, catalogue, source })
}

/// Bridges model epochs to a [`Progress`].
struct EpochProgress<'a> {
    progress: &'a dyn Progress,
    started: bool,
}

impl FitObserver for EpochProgress<'_> {
    fn on_epoch(&mut self, epoch: usize, epochs: usize, loss: Option<f64>) {
        if !self.started {
            self.progress.begin("training", Some(epochs as u64));
            self.started = true;
        }
        if let Some(l) = loss {
            self.progress.message(&format!("epoch {epoch}/{epochs} loss {l:.4}"));
        }
        self.progress.advance(1);
    }

    fn keep_going(&self) -> bool {
        !self.progress.cancelled()
    }
}

/// Evaluates `model` on `test` (rating metrics for rating models, top-N when asked).
pub fn evaluate(model: &dyn Model, p: &Prepared, topn: Option<&TopN>, max_users: usize, seed: u64) -> Result<Metrics> {
    let mut m = Metrics { test_rows: p.test.len(), ..Metrics::default() };
    if p.test.is_empty() {
        return Ok(m);
    }
    if model.kind() == ModelKind::Rating {
        m.set_rating(&eval::rating_metrics(model, &p.test)?);
    }
    if let Some(topn) = topn {
        let test = sample_users(&p.test, max_users, seed);
        let r = eval::evaluate_ranking(model, &p.train, &test, &p.catalogue, topn)?;
        m.set_ranking(&r.metrics);
    }
    Ok(m)
}

/// The test rows of at most `max` users (all when `max` is 0 or there are fewer), chosen by
/// a seeded hash so the same users are chosen every time.
fn sample_users(test: &Ratings, max: usize, seed: u64) -> Ratings {
    let mut users: Vec<i64> = test.user.clone();
    users.sort_unstable();
    users.dedup();
    if max == 0 || users.len() <= max {
        return test.clone();
    }
    let mix = |u: i64| {
        let mut x = (u as u64) ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    };
    users.sort_by_key(|&u| mix(u));
    let keep: std::collections::HashSet<i64> = users.into_iter().take(max).collect();
    let rows: Vec<usize> = (0..test.len()).filter(|&k| keep.contains(&test.user[k])).collect();
    test.select(&rows)
}

/// The lake path of a new artifact.
fn artifact_path(name: &str, run: &RunId) -> String {
    format!("_models/{name}/{}.reelmodel", run.0)
}

/// Trains, evaluates and (optionally) registers one model.
pub async fn train(env: &Env, req: &TrainRequest, progress: &dyn Progress) -> Result<TrainOutcome> {
    req.params.check()?;
    let prepared = prepare(env, &req.source, progress).await?;
    let params = req.params.clone();
    let data = &prepared.data;
    // Start rayon's worker threads before the clock: spawning them is a once-per-process
    // cost (like an interpreter's start-up for the peers), not part of fitting.
    rayon::broadcast(|_| ());
    let started = Instant::now();
    // Fitting is CPU bound (rayon inside); keep it off the async workers.
    let model: Box<dyn Model> = tokio::task::block_in_place(|| {
        let mut obs = EpochProgress { progress, started: false };
        let m = params.fit(data, &mut obs);
        if obs.started {
            progress.end();
        }
        m
    })?;
    let fit_seconds = started.elapsed().as_secs_f64();
    let seed = match &prepared.source {
        TrainSource::Table { seed, .. } => *seed,
        TrainSource::Files { .. } => 42,
    };
    let t = Instant::now();
    progress.begin("evaluating", None);
    let metrics = tokio::task::block_in_place(|| evaluate(model.as_ref(), &prepared, req.topn.as_ref(), req.max_eval_users, seed))?;
    progress.end();
    let eval_seconds = t.elapsed().as_secs_f64();
    let model: Arc<dyn Model> = Arc::from(model);
    let mut outcome = TrainOutcome {
        name: req.name.clone(),
        version: None,
        algorithm: model.algorithm().name().to_string(),
        params: model.params(),
        metrics,
        fit_seconds,
        eval_seconds,
        train_rows: prepared.train.len(),
        users: model.users().len(),
        items: model.items().len(),
        artifact: None,
        artifact_bytes: None,
        training: prepared.source.clone(),
        model: Some(model.clone()),
        test: Ratings::default(),
    };
    let Prepared { test, .. } = prepared;
    outcome.test = test;
    if req.register {
        let run = RunId::new();
        let bytes = reco::save(model.as_ref());
        let path = artifact_path(&req.name, &run);
        let location = env.lake.put_object(&path, bytes.clone()).await?;
        let card = model_card(&outcome, &req.command);
        let version = env
            .catalog
            .register_model_version(&NewModelVersion {
                name: req.name.clone(),
                algorithm: outcome.algorithm.clone(),
                kind: kind_name(model.kind()).into(),
                params: outcome.params.clone(),
                metrics: serde_json::to_value(&outcome.metrics).unwrap_or_default(),
                training: training_json(&outcome),
                artifact: path.clone(),
                artifact_bytes: bytes.len() as i64,
                artifact_sha256: hex::encode(Sha256::digest(&bytes)),
                code_version: code_version(),
                run_id: run.0.clone(),
                card,
            })
            .await?;
        outcome.version = Some(version);
        outcome.artifact = Some(location);
        outcome.artifact_bytes = Some(bytes.len());
    }
    Ok(outcome)
}

fn kind_name(k: ModelKind) -> &'static str {
    match k {
        ModelKind::Rating => "rating",
        ModelKind::Ranking => "ranking",
    }
}

fn training_json(o: &TrainOutcome) -> serde_json::Value {
    serde_json::json!({
        "source": o.training,
        "train_rows": o.train_rows,
        "test_rows": o.test.len(),
        "users": o.users,
        "items": o.items,
        "fit_seconds": o.fit_seconds,
    })
}

/// The reelhouse version that trains models.
pub fn code_version() -> String {
    format!("reelhouse {}", env!("CARGO_PKG_VERSION"))
}

/// A Markdown model card: what the model is, what it was trained on, how well it does and
/// how it answers the unknown.
pub fn model_card(o: &TrainOutcome, command: &str) -> String {
    let data = match &o.training {
        TrainSource::Table { table, version, split, seed } => {
            format!("`{table}` at Delta version {}, split `{split}` with seed {seed}", version.unwrap_or(0))
        }
        TrainSource::Files { train, test, .. } => format!(
            "files `{}` (train) and {}",
            train.display(),
            test.as_ref().map_or("no test file".to_string(), |t| format!("`{}` (test)", t.display()))
        ),
    };
    let metrics = serde_json::to_string_pretty(&o.metrics).unwrap_or_default();
    format!(
        "# {name} ({algo})\n\n\
         - Trained by: `{command}` ({code})\n\
         - Data: {data}; {rows} training ratings, {users} users, {items} items\n\
         - Parameters: `{params}`\n\
         - Fit time: {fit:.3} s\n\n\
         ## Held-out metrics\n\n```json\n{metrics}\n```\n\n\
         ## Intended use and limits\n\n\
         Predicts ratings and ranks movies for users seen in training. Unknown users and \
         movies get the algorithm's declared fallback (reported with every answer). Scores \
         reflect past ratings only: popular movies and active users dominate, and the model \
         does not know about movies added after its training data.\n",
        name = o.name,
        algo = o.algorithm,
        code = code_version(),
        rows = o.train_rows,
        users = o.users,
        items = o.items,
        params = o.params,
        fit = o.fit_seconds,
    )
}

/// Loads a registered version's model from the lake, checking its SHA-256 and format.
pub async fn load_model(env: &Env, v: &ModelVersion) -> Result<Arc<dyn Model>> {
    let bytes = env.lake.get_object(&v.artifact).await?;
    let sha = hex::encode(Sha256::digest(&bytes));
    if sha != v.artifact_sha256 {
        return Err(Error::BadRequest(format!(
            "the artifact of {}@{} at {} has SHA-256 {sha}, but {} was registered: it was changed or corrupted; retrain the model",
            v.name, v.version, v.artifact, v.artifact_sha256
        )));
    }
    let model = tokio::task::block_in_place(|| reco::load(&bytes))?;
    Ok(Arc::from(model))
}

/// Rebuilds the data a registered version was trained and tested on (same table version,
/// split and seed, or the same files).
pub async fn held_out(env: &Env, v: &ModelVersion, progress: &dyn Progress) -> Result<Prepared> {
    let source: TrainSource = serde_json::from_value(v.training["source"].clone()).map_err(|e| {
        Error::BadRequest(format!("{}@{} has no usable training record ({e}); it cannot be re-evaluated", v.name, v.version))
    })?;
    prepare(env, &source, progress).await
}

/// `NAME`, `NAME@VERSION` or `NAME:ALIAS` resolved to a registered version (`NAME` alone
/// means its champion, or its latest version when it has none).
pub async fn resolve(env: &Env, spec: &str) -> Result<ModelVersion> {
    let (name, pick) = if let Some((n, v)) = spec.split_once('@') {
        (n, Some(v))
    } else if let Some((n, a)) = spec.split_once(':') {
        (n, Some(a))
    } else {
        (spec, None)
    };
    let versions = env.catalog.model_versions(name).await?;
    if versions.is_empty() {
        let names = env.catalog.model_names().await?;
        return Err(Error::BadRequest(format!(
            "no model named {name:?} is registered{}; train one with `reelhouse train recommender`",
            if names.is_empty() { String::new() } else { format!(" (registered: {})", names.join(", ")) }
        )));
    }
    let found = match pick {
        Some(p) if p.chars().all(|c| c.is_ascii_digit()) => {
            let n: i64 = p.parse().map_err(|_| Error::BadRequest(format!("bad version {p:?}")))?;
            versions.iter().find(|v| v.version == n)
        }
        Some(alias) => versions.iter().find(|v| v.aliases.iter().any(|a| a == alias)),
        None => versions.iter().find(|v| v.aliases.iter().any(|a| a == "champion")).or(versions.first()),
    };
    found.cloned().ok_or_else(|| {
        let list: Vec<String> = versions.iter().map(|v| format!("{}@{}", v.name, v.version)).collect();
        Error::BadRequest(format!("{spec} is not registered; versions: {}", list.join(", ")))
    })
}

/// The verdict of the promotion gate.
#[derive(Debug, Clone, Serialize)]
pub struct Promotion {
    /// The model.
    pub name: String,
    /// The candidate version.
    pub version: i64,
    /// The alias set (or not).
    pub alias: String,
    /// The version the alias pointed at before.
    pub previous: Option<i64>,
    /// Whether the alias now points at the candidate.
    pub promoted: bool,
    /// The metric compared.
    pub metric: Option<String>,
    /// Candidate's value on its held-out data.
    pub candidate: Option<f64>,
    /// Incumbent's value on the same data.
    pub incumbent: Option<f64>,
    /// Why.
    pub reason: String,
}

/// Points `alias` at `name@version` if it beats the current holder on the candidate's
/// held-out data (the incumbent is re-evaluated on exactly those rows), or when `force`.
///
/// Re-evaluating the incumbent on the candidate's test rows favours the incumbent when it
/// saw some of them in training, so the gate errs on the side of keeping it.
pub async fn promote(env: &Env, name: &str, version: i64, alias: &str, force: bool, progress: &dyn Progress) -> Result<Promotion> {
    let candidate = resolve(env, &format!("{name}@{version}")).await?;
    let current = env.catalog.model_alias(name, alias).await?;
    let mut verdict = Promotion {
        name: name.to_string(),
        version,
        alias: alias.to_string(),
        previous: current,
        promoted: false,
        metric: None,
        candidate: None,
        incumbent: None,
        reason: String::new(),
    };
    if current == Some(version) {
        verdict.promoted = true;
        verdict.reason = format!("{name}@{version} already is the {alias}");
        return Ok(verdict);
    }
    let reason = match current {
        None => format!("{name} had no {alias}"),
        Some(_) if force => "forced (--force): the gate was skipped".to_string(),
        Some(inc) if matches!(candidate.kind.as_str(), "classifier" | "regressor" | "sentiment") => {
            let incumbent = resolve(env, &format!("{name}@{inc}")).await?;
            let (metric, c, i, lower) = crate::classic::gate_metric(&candidate, &incumbent).map_err(Error::BadRequest)?;
            verdict.metric = Some(metric.to_string());
            verdict.candidate = Some(c);
            verdict.incumbent = Some(i);
            let better = if lower { c < i } else { c > i };
            if !better {
                verdict.reason = format!(
                    "{name}@{version} does not beat {name}@{inc} on {metric} over the same held-out rows ({c:.4} vs {i:.4}); \
                     the {alias} stays {name}@{inc} (pass --force to override)"
                );
                return Ok(verdict);
            }
            format!("{metric} {c:.4} beats {name}@{inc}'s {i:.4} on the same held-out rows")
        }
        Some(inc) => {
            let incumbent = resolve(env, &format!("{name}@{inc}")).await?;
            let prepared = held_out(env, &candidate, progress).await?;
            let cand_model = load_model(env, &candidate).await?;
            let inc_model = load_model(env, &incumbent).await?;
            let cand_metrics: Metrics = serde_json::from_value(candidate.metrics.clone()).unwrap_or_default();
            let k = cand_metrics.k.unwrap_or(10);
            let topn = TopN { k, ..TopN::default() };
            let users = cand_metrics.ranking_users.unwrap_or(0);
            let cand_m = tokio::task::block_in_place(|| evaluate(cand_model.as_ref(), &prepared, Some(&topn), users, 42))?;
            let inc_m = tokio::task::block_in_place(|| evaluate(inc_model.as_ref(), &prepared, Some(&topn), users, 42))?;
            let Some((metric, c, i, lower)) = cand_m.gate_metric(&inc_m) else {
                return Err(Error::BadRequest(format!(
                    "{name}@{version} and {name}@{inc} share no metric to compare; pass --force to promote anyway"
                )));
            };
            verdict.metric = Some(metric.to_string());
            verdict.candidate = Some(c);
            verdict.incumbent = Some(i);
            let better = if lower { c < i } else { c > i };
            if !better {
                verdict.reason = format!(
                    "{name}@{version} does not beat {name}@{inc} on {metric} over the candidate's held-out data ({c:.4} vs {i:.4}); \
                     the {alias} stays {name}@{inc} (pass --force to override)"
                );
                return Ok(verdict);
            }
            format!("{metric} {c:.4} beats {name}@{inc}'s {i:.4} on the candidate's held-out data")
        }
    };
    env.catalog.set_model_alias(name, alias, version, &reason).await?;
    verdict.promoted = true;
    verdict.reason = reason;
    Ok(verdict)
}
