//! The workspace behind `reelhouse serve`: models from the registry and the lake (checked
//! against their registered SHA-256), promotion through the gate, the catalogue from
//! `clean.movies` and `clean.ratings`, and events into a raw events table.
//!
//! ```text
//!  reel_serve::ModelSource ── RegistrySource ──> catalog registry (aliases, versions)
//!                                            └─> lake _models/<name>/<run>.reelmodel (train::load_model;
//!                                                classic::load_tabular, sentiment::load_sentiment)
//!                                            └─> train::promote (the gate)
//!  reel_serve::Catalogue  <── load_catalogue ─── clean.movies + clean.movie_genres + clean.ratings
//!                                                + rating events already in raw.events (replayed)
//!  reel_serve::LakeSink   ──> raw.events (append, partition ds)
//! ```
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float32Type, Int64Type, TimeUnit};
use futures::future::BoxFuture;
use reel_catalog::ModelVersion;
use reel_common::TableRef;
use reel_ml::data::Ratings;
use reel_serve::{Catalogue, ClassicModel, Loaded, LoadedClassic, ModelSource, Movie, PromoteRequest, PromotionInfo, VersionInfo};

use crate::classic::load_tabular;
use crate::sentiment::load_sentiment;
use crate::tables::{read_movies, read_ratings, select};
use crate::train::{load_model, promote, resolve};
use crate::{Env, Error, NoProgress, Result};

/// The default events table.
pub const EVENTS_TABLE: &str = "raw.events";

/// Models of a workspace's registry.
#[derive(Debug, Clone)]
pub struct RegistrySource {
    env: Arc<Env>,
}

impl RegistrySource {
    /// The registry of `env`.
    pub fn new(env: Arc<Env>) -> Self {
        RegistrySource { env }
    }
}

fn info(v: &ModelVersion) -> VersionInfo {
    VersionInfo {
        name: v.name.clone(),
        version: v.version,
        algorithm: v.algorithm.clone(),
        kind: v.kind.clone(),
        metrics: v.metrics.clone(),
        created_at: v.created_at.to_rfc3339(),
        aliases: v.aliases.clone(),
    }
}

fn source_err(e: Error) -> reel_serve::Error {
    match e {
        Error::BadRequest(m) if m.contains("is not registered") || m.contains("no model named") => reel_serve::Error::NotFound(m),
        Error::BadRequest(m) => reel_serve::Error::BadRequest(m),
        other => reel_serve::Error::Source(format!("{other}")),
    }
}

impl ModelSource for RegistrySource {
    fn alias<'a>(&'a self, name: &'a str, alias: &'a str) -> BoxFuture<'a, reel_serve::Result<Option<i64>>> {
        Box::pin(async move { self.env.catalog.model_alias(name, alias).await.map_err(|e| source_err(e.into())) })
    }

    fn load<'a>(&'a self, name: &'a str, version: i64) -> BoxFuture<'a, reel_serve::Result<Loaded>> {
        Box::pin(async move {
            let v = resolve(&self.env, &format!("{name}@{version}")).await.map_err(source_err)?;
            let model = load_model(&self.env, &v).await.map_err(source_err)?;
            Ok(Loaded { info: info(&v), model })
        })
    }

    fn load_classic<'a>(&'a self, name: &'a str, version: i64) -> BoxFuture<'a, reel_serve::Result<LoadedClassic>> {
        Box::pin(async move {
            let v = resolve(&self.env, &format!("{name}@{version}")).await.map_err(source_err)?;
            let model = match v.kind.as_str() {
                "classifier" | "regressor" => ClassicModel::Tabular(Arc::new(load_tabular(&self.env, &v).await.map_err(source_err)?)),
                "sentiment" => ClassicModel::Sentiment(Arc::new(load_sentiment(&self.env, &v).await.map_err(source_err)?)),
                other => {
                    return Err(reel_serve::Error::BadRequest(format!(
                        "{name}@{version} is a {other} model ({}), not a classifier or sentiment model; \
                         train one with reelhouse train classifier or reelhouse train sentiment",
                        v.algorithm
                    )));
                }
            };
            Ok(LoadedClassic { info: info(&v), model })
        })
    }

    fn list(&self) -> BoxFuture<'_, reel_serve::Result<Vec<VersionInfo>>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for name in self.env.catalog.model_names().await.map_err(|e| source_err(e.into()))? {
                let versions = self.env.catalog.model_versions(&name).await.map_err(|e| source_err(e.into()))?;
                out.extend(versions.iter().map(info));
            }
            Ok(out)
        })
    }

    fn promote<'a>(&'a self, req: &'a PromoteRequest) -> BoxFuture<'a, reel_serve::Result<PromotionInfo>> {
        Box::pin(async move {
            let p = promote(&self.env, &req.name, req.version, &req.alias, req.force, &NoProgress).await.map_err(source_err)?;
            Ok(PromotionInfo {
                name: p.name,
                version: p.version,
                alias: p.alias,
                previous: p.previous,
                promoted: p.promoted,
                metric: p.metric,
                candidate: p.candidate,
                incumbent: p.incumbent,
                reason: p.reason,
            })
        })
    }
}

/// What [`load_catalogue`] read.
#[derive(Debug)]
pub struct LoadedCatalogue {
    /// The catalogue.
    pub catalogue: Catalogue,
    /// Ratings read from `clean.ratings`.
    pub ratings: usize,
    /// Rating events replayed from the events table.
    pub replayed: Ratings,
}

/// The movies and every user's ratings (`clean.ratings` plus the rating events already in
/// `events_table`, which the server replays so that a restart keeps the speed layer).
/// Missing tables count as empty.
pub async fn load_catalogue(env: &Env, events_table: &TableRef) -> Result<LoadedCatalogue> {
    let movies_t: TableRef = "clean.movies".parse().map_err(|e| Error::Internal(format!("{e}")))?;
    let movies = if env.lake.exists(&movies_t).await? { read_movies(&env.lake).await? } else { Default::default() };
    let ratings_t: TableRef = "clean.ratings".parse().map_err(|e| Error::Internal(format!("{e}")))?;
    let mut ratings = if env.lake.exists(&ratings_t).await? { read_ratings(&env.lake, &ratings_t, None).await?.0 } else { Ratings::default() };
    let n = ratings.len();
    let replayed = if env.lake.exists(events_table).await? { read_rating_events(env, events_table).await? } else { Ratings::default() };
    for k in 0..replayed.len() {
        ratings.push(replayed.user[k], replayed.item[k], replayed.rating[k], replayed.timestamp[k]);
    }
    let mut list: Vec<Movie> = movies
        .into_iter()
        .map(|(id, m)| Movie { movie_id: id, title: m.title, year: m.year, genres: m.genres })
        .collect();
    list.sort_by_key(|m| m.movie_id);
    Ok(LoadedCatalogue { catalogue: Catalogue::new(list, &ratings), ratings: n, replayed })
}

/// The rating events of an events table, oldest first, timestamps in seconds.
pub async fn read_rating_events(env: &Env, t: &TableRef) -> Result<Ratings> {
    let (batches, _) = select(
        &env.lake,
        t,
        None,
        "user_id, movie_id, rating, rated_at",
        Some("kind = 'rating' AND rating IS NOT NULL ORDER BY rated_at, event_id"),
    )
    .await?;
    let read = |what: &str, e: arrow::error::ArrowError| Error::Read { what: format!("column {what} of {t}"), reason: e.to_string() };
    let mut r = Ratings::default();
    for b in &batches {
        let u = cast(b.column(0), &DataType::Int64).map_err(|e| read("user_id", e))?;
        let i = cast(b.column(1), &DataType::Int64).map_err(|e| read("movie_id", e))?;
        let x = cast(b.column(2), &DataType::Float32).map_err(|e| read("rating", e))?;
        let ts = cast(b.column(3), &DataType::Timestamp(TimeUnit::Second, None))
            .and_then(|a| cast(&a, &DataType::Int64))
            .map_err(|e| read("rated_at", e))?;
        let (u, i, x, ts) = (u.as_primitive::<Int64Type>(), i.as_primitive::<Int64Type>(), x.as_primitive::<Float32Type>(), ts.as_primitive::<Int64Type>());
        for k in 0..b.num_rows() {
            if u.is_null(k) || i.is_null(k) || x.is_null(k) {
                continue;
            }
            r.push(u.value(k), i.value(k), x.value(k), if ts.is_null(k) { 0 } else { ts.value(k) });
        }
    }
    Ok(r)
}
