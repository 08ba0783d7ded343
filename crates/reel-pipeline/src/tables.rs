//! Reading lake tables into the in-memory shapes models train on, at an exact Delta version.
//!
//! Training records `clean.ratings@N`; reading `@N` again (Delta time travel) rebuilds the
//! same rows, which is how the promotion gate re-evaluates a champion on a challenger's
//! held-out data.
use std::collections::HashMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float32Type, Int64Type, TimeUnit};
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt as _;
use reel_common::TableRef;
use reel_lake::Lake;
use reel_ml::data::{ItemText, Ratings};

use crate::{Error, Result};

/// The plan of `SELECT {columns} FROM {t} [WHERE {filter}]` at `version` (the latest when
/// `None`), with the version read. `columns` and `filter` are SQL written by the caller,
/// never user text.
async fn plan(
    lake: &Lake,
    t: &TableRef,
    version: Option<i64>,
    columns: &str,
    filter: Option<&str>,
) -> Result<(datafusion::dataframe::DataFrame, i64)> {
    if !lake.exists(t).await? {
        return Err(Error::MissingTable {
            table: t.to_string(),
            hint: "load it first, e.g. `reelhouse ingest movielens DIR` or `reelhouse demo`".into(),
        });
    }
    let table = match version {
        Some(v) => lake.open_version(t, v).await?,
        None => lake.open(t).await?,
    };
    let read_version = i64::try_from(table.version().unwrap_or(0)).unwrap_or(i64::MAX);
    // One partition: rows come back in the table's file and row order, so a seeded split
    // of `t@version` is the same rows every time (the registry rebuilds held-out data from
    // it). With several partitions DataFusion interleaves row groups in whatever order the
    // threads finish.
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
    table
        .update_datafusion_session(&ctx.state())
        .map_err(|e| Error::Read { what: format!("registering the store of {t}"), reason: e.to_string() })?;
    let provider = table
        .table_provider()
        .await
        .map_err(|e| Error::Read { what: format!("opening {t}"), reason: e.to_string() })?;
    ctx.register_table("t", provider).map_err(df_err(t, read_version, "registering"))?;
    let sql = match filter {
        Some(f) => format!("SELECT {columns} FROM t WHERE {f}"),
        None => format!("SELECT {columns} FROM t"),
    };
    let df = ctx.sql(&sql).await.map_err(df_err(t, read_version, "planning a read of"))?;
    Ok((df, read_version))
}

fn df_err(t: &TableRef, v: i64, what: &str) -> impl Fn(datafusion::error::DataFusionError) -> Error {
    let what = format!("{what} {t}@{v}");
    move |e| Error::Read { what: what.clone(), reason: e.to_string() }
}

/// Rows of `SELECT {columns} FROM {t} [WHERE {filter}]` at `version` (the latest when
/// `None`), with the version read. `columns` and `filter` are SQL written by the caller,
/// never user text.
pub async fn select(
    lake: &Lake,
    t: &TableRef,
    version: Option<i64>,
    columns: &str,
    filter: Option<&str>,
) -> Result<(Vec<RecordBatch>, i64)> {
    let (df, v) = plan(lake, t, version, columns, filter).await?;
    let batches = df.collect().await.map_err(df_err(t, v, "reading"))?;
    Ok((batches, v))
}

fn column_i64(b: &RecordBatch, k: usize, name: &str) -> Result<Vec<i64>> {
    let col = cast(b.column(k), &DataType::Int64).map_err(|e| Error::Read { what: format!("column {name}"), reason: e.to_string() })?;
    let a = col.as_primitive::<Int64Type>();
    Ok((0..a.len()).map(|r| if a.is_null(r) { 0 } else { a.value(r) }).collect())
}

/// `clean.ratings` (or any table with `user_id, movie_id, rating, rated_at`) as [`Ratings`],
/// with the version read. Timestamps become seconds.
pub async fn read_ratings(lake: &Lake, t: &TableRef, version: Option<i64>) -> Result<(Ratings, i64)> {
    let (df, v) = plan(lake, t, version, "user_id, movie_id, rating, rated_at", None).await?;
    // Streamed batch by batch: holding every Arrow batch next to the columns being built
    // would double the peak memory of a 25M-rating read.
    let mut stream = df.execute_stream().await.map_err(df_err(t, v, "reading"))?;
    let mut r = Ratings::default();
    while let Some(b) = stream.next().await {
        let b = b.map_err(df_err(t, v, "reading"))?;
        r.user.extend(column_i64(&b, 0, "user_id")?);
        r.item.extend(column_i64(&b, 1, "movie_id")?);
        let stars = cast(b.column(2), &DataType::Float32).map_err(|e| Error::Read { what: "column rating".into(), reason: e.to_string() })?;
        let stars = stars.as_primitive::<Float32Type>();
        r.rating.extend((0..stars.len()).map(|k| if stars.is_null(k) { f32::NAN } else { stars.value(k) }));
        let secs = cast(b.column(3), &DataType::Timestamp(TimeUnit::Second, None))
            .and_then(|a| cast(&a, &DataType::Int64))
            .map_err(|e| Error::Read { what: "column rated_at".into(), reason: e.to_string() })?;
        let secs = secs.as_primitive::<Int64Type>();
        r.timestamp.extend((0..secs.len()).map(|k| if secs.is_null(k) { 0 } else { secs.value(k) }));
    }
    Ok((r, v))
}

/// One movie's display facts.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MovieInfo {
    /// Title as loaded.
    pub title: String,
    /// Release year, when known.
    pub year: Option<i64>,
    /// Genres.
    pub genres: Vec<String>,
}

/// `clean.movies` joined with `clean.movie_genres`: every movie id with its title, year and
/// genres.
pub async fn read_movies(lake: &Lake) -> Result<HashMap<i64, MovieInfo>> {
    let movies: TableRef = "clean.movies".parse().map_err(|e| Error::Internal(format!("{e}")))?;
    let (batches, _) = select(lake, &movies, None, "movie_id, title, CAST(year AS BIGINT) AS year", None).await?;
    let mut out = HashMap::new();
    for b in &batches {
        let ids = column_i64(b, 0, "movie_id")?;
        let titles = cast(b.column(1), &DataType::Utf8).map_err(|e| Error::Read { what: "column title".into(), reason: e.to_string() })?;
        let titles = titles.as_string::<i32>();
        let years = b.column(2).as_primitive::<Int64Type>();
        for (k, id) in ids.into_iter().enumerate() {
            out.insert(
                id,
                MovieInfo {
                    title: if titles.is_null(k) { String::new() } else { titles.value(k).to_string() },
                    year: (!years.is_null(k)).then(|| years.value(k)),
                    genres: Vec::new(),
                },
            );
        }
    }
    let genres: TableRef = "clean.movie_genres".parse().map_err(|e| Error::Internal(format!("{e}")))?;
    if lake.exists(&genres).await? {
        let (batches, _) = select(lake, &genres, None, "movie_id, genre", None).await?;
        for b in &batches {
            let ids = column_i64(b, 0, "movie_id")?;
            let g = cast(b.column(1), &DataType::Utf8).map_err(|e| Error::Read { what: "column genre".into(), reason: e.to_string() })?;
            let g = g.as_string::<i32>();
            for (k, id) in ids.into_iter().enumerate() {
                if let (Some(m), false) = (out.get_mut(&id), g.is_null(k)) {
                    m.genres.push(g.value(k).to_string());
                }
            }
        }
    }
    for m in out.values_mut() {
        m.genres.sort();
    }
    Ok(out)
}

/// Genre tokens per movie for content-based models (`genre:Comedy`).
pub fn item_text(movies: &HashMap<i64, MovieInfo>) -> ItemText {
    ItemText {
        tokens: movies
            .iter()
            .map(|(&id, m)| (id, m.genres.iter().map(|g| format!("genre:{g}")).collect()))
            .collect(),
    }
}
