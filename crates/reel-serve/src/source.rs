//! Where served models come from: the [`ModelSource`] boundary (the registry and the
//! artifacts in the lake) and [`MemorySource`], its in-memory implementation for tests.
//!
//! The server only asks five things of a source: which version an alias points at (polled),
//! a version's recommender, a version's classifier or sentiment model, the list of versions,
//! and a promotion (the gate runs in the source).
//! The workspace implementation lives in `reel-pipeline` (`reel_pipeline::serving`), which
//! sees the catalog, the lake and the promotion gate.
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use reel_ml::model::Model;
use reel_ml::tabular::TabularModel;
use reel_ml::text::SentimentModel;
use serde::Serialize;
use utoipa::ToSchema;

use crate::{Error, Result};

/// A registered model version, as `/models` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct VersionInfo {
    /// The model's name (`recommender`).
    pub name: String,
    /// Its version number.
    pub version: i64,
    /// The algorithm (`svd`, `ials`, ...).
    pub algorithm: String,
    /// `rating` or `ranking`.
    pub kind: String,
    /// Held-out metrics as registered.
    #[schema(value_type = Object)]
    pub metrics: serde_json::Value,
    /// When it was registered (RFC 3339).
    pub created_at: String,
    /// Aliases pointing at it.
    pub aliases: Vec<String>,
}

/// A version's model, loaded and checked.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The version.
    pub info: VersionInfo,
    /// The model.
    pub model: Arc<dyn Model>,
}

/// A classifier (or regressor) of `reelhouse train classifier`, or a sentiment model of
/// `reelhouse train sentiment`.
#[derive(Debug, Clone)]
pub enum ClassicModel {
    /// A tabular model: `POST /classify/{model}`.
    Tabular(Arc<TabularModel>),
    /// A sentiment model: `POST /sentiment`.
    Sentiment(Arc<SentimentModel>),
}

impl ClassicModel {
    /// `classifier`, `regressor` or `sentiment` (the registry's kind).
    pub fn kind(&self) -> &'static str {
        match self {
            ClassicModel::Tabular(m) => m.kind(),
            ClassicModel::Sentiment(_) => "sentiment",
        }
    }

    /// The algorithm's name.
    pub fn algorithm(&self) -> &'static str {
        match self {
            ClassicModel::Tabular(m) => m.algorithm(),
            ClassicModel::Sentiment(_) => "tfidf-logreg",
        }
    }
}

/// A classifier or sentiment version, loaded and checked.
#[derive(Debug, Clone)]
pub struct LoadedClassic {
    /// The version.
    pub info: VersionInfo,
    /// The model.
    pub model: ClassicModel,
}

/// What `POST /models/{name}/promote` asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct PromoteRequest {
    /// The model.
    pub name: String,
    /// The candidate version.
    pub version: i64,
    /// The alias to move.
    pub alias: String,
    /// Skip the gate.
    pub force: bool,
}

/// The gate's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PromotionInfo {
    /// The model.
    pub name: String,
    /// The candidate version.
    pub version: i64,
    /// The alias.
    pub alias: String,
    /// Where the alias pointed before.
    pub previous: Option<i64>,
    /// Whether the alias now points at the candidate.
    pub promoted: bool,
    /// The metric compared, if the gate ran.
    pub metric: Option<String>,
    /// The candidate's value.
    pub candidate: Option<f64>,
    /// The incumbent's value on the same rows.
    pub incumbent: Option<f64>,
    /// Why.
    pub reason: String,
}

/// The registry and artifact store, as the server sees them.
///
/// Implementors guarantee that [`ModelSource::load`] returns the model registered as
/// `name@version` (checked, e.g. against its SHA-256) or an error, never a different one,
/// and that [`ModelSource::promote`] moves the alias only when it reports `promoted`.
/// Errors: [`Error::NotFound`] for unknown names and versions, [`Error::BadRequest`] for
/// requests the registry refuses, anything else for failures of the store.
pub trait ModelSource: Send + Sync + 'static {
    /// The version `alias` of `name` points at, if any.
    fn alias<'a>(&'a self, name: &'a str, alias: &'a str) -> BoxFuture<'a, Result<Option<i64>>>;
    /// Loads `name@version`, a recommender.
    fn load<'a>(&'a self, name: &'a str, version: i64) -> BoxFuture<'a, Result<Loaded>>;
    /// Loads `name@version`, a classifier, regressor or sentiment model; an
    /// [`Error::BadRequest`] naming its kind when it is another kind of model.
    fn load_classic<'a>(&'a self, name: &'a str, version: i64) -> BoxFuture<'a, Result<LoadedClassic>>;
    /// Every registered version of every model, newest first within a name.
    fn list(&self) -> BoxFuture<'_, Result<Vec<VersionInfo>>>;
    /// Runs the promotion (gate included) and reports the verdict.
    fn promote<'a>(&'a self, req: &'a PromoteRequest) -> BoxFuture<'a, Result<PromotionInfo>>;
}

/// A source held in memory: versions added with [`MemorySource::add`] (recommenders) or
/// [`MemorySource::add_classic`], aliases set with [`MemorySource::set_alias`] (as another
/// process promoting would). Its gate promotes a candidate when its `rmse` metric is lower
/// than the incumbent's (or its `roc_auc`, then `macro_f1`, higher), or when forced.
#[derive(Debug, Default, Clone)]
pub struct MemorySource {
    inner: Arc<Mutex<MemoryInner>>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    versions: BTreeMap<(String, i64), Loaded>,
    classic: BTreeMap<(String, i64), LoadedClassic>,
    aliases: BTreeMap<(String, String), i64>,
    loads: usize,
}

impl MemorySource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        // A panic while holding the lock cannot leave the maps half-updated (each update is
        // one insert), so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `model` as the next version of `name` with `metrics`; returns the version.
    pub fn add(&self, name: &str, model: Arc<dyn Model>, metrics: serde_json::Value) -> i64 {
        let mut g = self.lock();
        let version = Self::next_version(&g, name);
        let kind = match model.kind() {
            reel_ml::model::ModelKind::Rating => "rating",
            reel_ml::model::ModelKind::Ranking => "ranking",
        };
        let info = VersionInfo {
            name: name.into(),
            version,
            algorithm: model.algorithm().name().into(),
            kind: kind.into(),
            metrics,
            created_at: chrono::Utc::now().to_rfc3339(),
            aliases: Vec::new(),
        };
        g.versions.insert((name.into(), version), Loaded { info, model });
        version
    }

    /// Registers a classifier or sentiment model as the next version of `name`.
    pub fn add_classic(&self, name: &str, model: ClassicModel, metrics: serde_json::Value) -> i64 {
        let mut g = self.lock();
        let version = Self::next_version(&g, name);
        let info = VersionInfo {
            name: name.into(),
            version,
            algorithm: model.algorithm().into(),
            kind: model.kind().into(),
            metrics,
            created_at: chrono::Utc::now().to_rfc3339(),
            aliases: Vec::new(),
        };
        g.classic.insert((name.into(), version), LoadedClassic { info, model });
        version
    }

    fn next_version(g: &MemoryInner, name: &str) -> i64 {
        let of = |k: &(String, i64)| (k.0 == name).then_some(k.1);
        g.versions.keys().filter_map(of).chain(g.classic.keys().filter_map(of)).max().unwrap_or(0) + 1
    }

    fn metrics_of(g: &MemoryInner, name: &str, version: i64) -> Option<serde_json::Value> {
        let key = (name.to_string(), version);
        g.versions.get(&key).map(|l| l.info.metrics.clone()).or_else(|| g.classic.get(&key).map(|l| l.info.metrics.clone()))
    }

    /// Points `alias` of `name` at `version` (no gate).
    pub fn set_alias(&self, name: &str, alias: &str, version: i64) {
        self.lock().aliases.insert((name.into(), alias.into()), version);
    }

    /// How many models were loaded so far.
    pub fn loads(&self) -> usize {
        self.lock().loads
    }

    fn aliases_of(g: &MemoryInner, name: &str, version: i64) -> Vec<String> {
        g.aliases.iter().filter(|((n, _), v)| n == name && **v == version).map(|((_, a), _)| a.clone()).collect()
    }
}

impl ModelSource for MemorySource {
    fn alias<'a>(&'a self, name: &'a str, alias: &'a str) -> BoxFuture<'a, Result<Option<i64>>> {
        let v = self.lock().aliases.get(&(name.to_string(), alias.to_string())).copied();
        Box::pin(async move { Ok(v) })
    }

    fn load<'a>(&'a self, name: &'a str, version: i64) -> BoxFuture<'a, Result<Loaded>> {
        let mut g = self.lock();
        g.loads += 1;
        let key = (name.to_string(), version);
        let found = match (g.versions.get(&key), g.classic.get(&key)) {
            (Some(l), _) => Ok(Loaded { info: VersionInfo { aliases: Self::aliases_of(&g, name, version), ..l.info.clone() }, model: l.model.clone() }),
            (None, Some(c)) => Err(Error::BadRequest(format!("{name}@{version} is a {}, not a recommender", c.info.kind))),
            (None, None) => Err(Error::NotFound(format!("{name}@{version} is not registered"))),
        };
        Box::pin(async move { found })
    }

    fn load_classic<'a>(&'a self, name: &'a str, version: i64) -> BoxFuture<'a, Result<LoadedClassic>> {
        let mut g = self.lock();
        g.loads += 1;
        let key = (name.to_string(), version);
        let found = match (g.classic.get(&key), g.versions.get(&key)) {
            (Some(c), _) => Ok(LoadedClassic { info: VersionInfo { aliases: Self::aliases_of(&g, name, version), ..c.info.clone() }, model: c.model.clone() }),
            (None, Some(l)) => Err(Error::BadRequest(format!("{name}@{version} is a {} recommender, not a classifier or sentiment model", l.info.kind))),
            (None, None) => Err(Error::NotFound(format!("{name}@{version} is not registered"))),
        };
        Box::pin(async move { found })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<VersionInfo>>> {
        let g = self.lock();
        let mut out: Vec<VersionInfo> = g
            .versions
            .iter()
            .map(|((n, v), l)| VersionInfo { aliases: Self::aliases_of(&g, n, *v), ..l.info.clone() })
            .chain(g.classic.iter().map(|((n, v), l)| VersionInfo { aliases: Self::aliases_of(&g, n, *v), ..l.info.clone() }))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name).then(b.version.cmp(&a.version)));
        Box::pin(async move { Ok(out) })
    }

    fn promote<'a>(&'a self, req: &'a PromoteRequest) -> BoxFuture<'a, Result<PromotionInfo>> {
        let mut g = self.lock();
        let verdict = (|| {
            let cand = Self::metrics_of(&g, &req.name, req.version)
                .ok_or_else(|| Error::NotFound(format!("{}@{} is not registered", req.name, req.version)))?;
            let key = (req.name.clone(), req.alias.clone());
            let previous = g.aliases.get(&key).copied();
            let inc = previous.and_then(|p| Self::metrics_of(&g, &req.name, p));
            let get = |m: &serde_json::Value, k: &str| m.get(k).and_then(|x| x.as_f64());
            let compared = ["rmse", "roc_auc", "macro_f1"]
                .into_iter()
                .find_map(|k| Some((k, get(&cand, k)?, get(inc.as_ref()?, k)?)));
            let (metric, c, i) = match compared {
                Some((k, c, i)) => (Some(k), Some(c), Some(i)),
                None => (None, None, None),
            };
            let (promoted, reason) = match (previous, compared) {
                (Some(p), _) if p == req.version => (true, format!("{}@{} already is the {}", req.name, p, req.alias)),
                (None, _) => (true, format!("{} had no {}", req.name, req.alias)),
                _ if req.force => (true, "forced: the gate was skipped".to_string()),
                (Some(_), Some((k, c, i))) if (k == "rmse" && c < i) || (k != "rmse" && c > i) => (true, format!("{k} {c:.4} beats {i:.4}")),
                (Some(_), Some((k, c, i))) => (false, format!("{k} {c:.4} does not beat {i:.4}")),
                _ => return Err(Error::BadRequest("the two versions share no metric to compare; pass force".into())),
            };
            Ok(PromotionInfo {
                name: req.name.clone(),
                version: req.version,
                alias: req.alias.clone(),
                previous,
                promoted,
                metric: metric.map(str::to_string),
                candidate: c,
                incumbent: i,
                reason,
            })
        })();
        if let Ok(v) = &verdict {
            if v.promoted {
                g.aliases.insert((req.name.clone(), req.alias.clone()), req.version);
            }
        }
        Box::pin(async move { verdict })
    }
}
