//! Where served models come from: the [`ModelSource`] boundary (the registry and the
//! artifacts in the lake) and [`MemorySource`], its in-memory implementation for tests.
//!
//! The server only asks four things of a source: which version an alias points at (polled),
//! a version's model, the list of versions, and a promotion (the gate runs in the source).
//! The workspace implementation lives in `reel-pipeline` (`reel_pipeline::serving`), which
//! sees the catalog, the lake and the promotion gate.
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use reel_ml::model::Model;
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
    /// Loads `name@version`.
    fn load<'a>(&'a self, name: &'a str, version: i64) -> BoxFuture<'a, Result<Loaded>>;
    /// Every registered version of every model, newest first within a name.
    fn list(&self) -> BoxFuture<'_, Result<Vec<VersionInfo>>>;
    /// Runs the promotion (gate included) and reports the verdict.
    fn promote<'a>(&'a self, req: &'a PromoteRequest) -> BoxFuture<'a, Result<PromotionInfo>>;
}

/// A source held in memory: versions added with [`MemorySource::add`], aliases set with
/// [`MemorySource::set_alias`] (as another process promoting would). Its gate promotes a
/// candidate when its `rmse` metric is lower than the incumbent's, or when forced.
#[derive(Debug, Default, Clone)]
pub struct MemorySource {
    inner: Arc<Mutex<MemoryInner>>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    versions: BTreeMap<(String, i64), Loaded>,
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
        let version = g.versions.keys().filter(|(n, _)| n == name).map(|(_, v)| *v).max().unwrap_or(0) + 1;
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
        let found = g.versions.get(&(name.to_string(), version)).cloned().map(|mut l| {
            l.info.aliases = Self::aliases_of(&g, name, version);
            l
        });
        Box::pin(async move { found.ok_or_else(|| Error::NotFound(format!("{name}@{version} is not registered"))) })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<VersionInfo>>> {
        let g = self.lock();
        let mut out: Vec<VersionInfo> = g
            .versions
            .iter()
            .rev()
            .map(|((n, v), l)| VersionInfo { aliases: Self::aliases_of(&g, n, *v), ..l.info.clone() })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name).then(b.version.cmp(&a.version)));
        Box::pin(async move { Ok(out) })
    }

    fn promote<'a>(&'a self, req: &'a PromoteRequest) -> BoxFuture<'a, Result<PromotionInfo>> {
        let mut g = self.lock();
        let verdict = (|| {
            let cand = g
                .versions
                .get(&(req.name.clone(), req.version))
                .ok_or_else(|| Error::NotFound(format!("{}@{} is not registered", req.name, req.version)))?;
            let key = (req.name.clone(), req.alias.clone());
            let previous = g.aliases.get(&key).copied();
            let rmse = |l: &Loaded| l.info.metrics.get("rmse").and_then(|x| x.as_f64());
            let c = rmse(cand);
            let inc = previous.and_then(|p| g.versions.get(&(req.name.clone(), p))).and_then(rmse);
            let (promoted, reason) = match (previous, c, inc) {
                (Some(p), _, _) if p == req.version => (true, format!("{}@{} already is the {}", req.name, p, req.alias)),
                (None, _, _) => (true, format!("{} had no {}", req.name, req.alias)),
                _ if req.force => (true, "forced: the gate was skipped".to_string()),
                (Some(_), Some(c), Some(i)) if c < i => (true, format!("rmse {c:.4} beats {i:.4}")),
                (Some(_), Some(c), Some(i)) => (false, format!("rmse {c:.4} does not beat {i:.4}")),
                _ => return Err(Error::BadRequest("the two versions share no metric to compare; pass force".into())),
            };
            Ok(PromotionInfo {
                name: req.name.clone(),
                version: req.version,
                alias: req.alias.clone(),
                previous,
                promoted,
                metric: c.map(|_| "rmse".to_string()),
                candidate: c,
                incumbent: inc,
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
