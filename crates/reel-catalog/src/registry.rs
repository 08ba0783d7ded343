//! The model registry: versions of named models, their aliases and promotion history.
//!
//! ```text
//!  train ──> register_model_version ──> reel_model_versions (algorithm, params, metrics,
//!                                        training tables@versions, artifact, code, card)
//!  promote ─> set_alias(name, "champion", v) ──> reel_model_aliases
//!                                           └──> reel_model_events (who replaced whom, why)
//!  serve / recommend <── alias(name, "champion")
//! ```
//!
//! The artifact itself lives in the lake; the registry keeps its location, size and SHA-256.
use chrono::Utc;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::catalog::{parse_ts, ts};
use crate::{Catalog, Error, Result};

/// Statements creating the registry tables; each is idempotent.
pub(crate) const REGISTRY_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS reel_model_versions (
        name TEXT NOT NULL,
        version BIGINT NOT NULL,
        algorithm TEXT NOT NULL,
        kind TEXT NOT NULL,
        params TEXT NOT NULL,
        metrics TEXT NOT NULL,
        training TEXT NOT NULL,
        artifact TEXT NOT NULL,
        artifact_bytes BIGINT NOT NULL,
        artifact_sha256 TEXT NOT NULL,
        code_version TEXT NOT NULL,
        run_id TEXT NOT NULL,
        card TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (name, version)
    )",
    "CREATE TABLE IF NOT EXISTS reel_model_aliases (
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        version BIGINT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (name, alias)
    )",
    "CREATE TABLE IF NOT EXISTS reel_model_events (
        name TEXT NOT NULL,
        at TEXT NOT NULL,
        alias TEXT NOT NULL,
        version BIGINT NOT NULL,
        previous BIGINT,
        reason TEXT NOT NULL
    )",
];

/// A model version to register.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewModelVersion {
    /// The model's name (`recommender`, `churn`, ...).
    pub name: String,
    /// The algorithm (`svd`, `ials`, ...).
    pub algorithm: String,
    /// `rating`, `ranking` or `classifier`.
    pub kind: String,
    /// Parameters, JSON.
    pub params: serde_json::Value,
    /// Held-out metrics, JSON (`{"rmse": 0.93, ...}`).
    pub metrics: serde_json::Value,
    /// What it was trained on: tables with their Delta versions, split, rows; JSON.
    pub training: serde_json::Value,
    /// Where the artifact is (URL or path in the lake).
    pub artifact: String,
    /// Artifact size in bytes.
    pub artifact_bytes: i64,
    /// Artifact SHA-256, hex.
    pub artifact_sha256: String,
    /// reelhouse version (and git commit when known) that trained it.
    pub code_version: String,
    /// The run that trained it.
    pub run_id: String,
    /// The model card, Markdown.
    pub card: String,
}

/// A registered model version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVersion {
    /// The model's name.
    pub name: String,
    /// Version number, from 1.
    pub version: i64,
    /// The algorithm.
    pub algorithm: String,
    /// `rating`, `ranking` or `classifier`.
    pub kind: String,
    /// Parameters.
    pub params: serde_json::Value,
    /// Held-out metrics.
    pub metrics: serde_json::Value,
    /// Training data description.
    pub training: serde_json::Value,
    /// Artifact location.
    pub artifact: String,
    /// Artifact size in bytes.
    pub artifact_bytes: i64,
    /// Artifact SHA-256.
    pub artifact_sha256: String,
    /// Code version.
    pub code_version: String,
    /// Training run.
    pub run_id: String,
    /// Model card (Markdown).
    pub card: String,
    /// When it was registered.
    pub created_at: chrono::DateTime<Utc>,
    /// Aliases pointing at this version (`champion`, `challenger`).
    pub aliases: Vec<String>,
}

/// One change of an alias.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AliasEvent {
    /// The model.
    pub name: String,
    /// When.
    pub at: chrono::DateTime<Utc>,
    /// The alias moved.
    pub alias: String,
    /// The version it now points at.
    pub version: i64,
    /// The version it pointed at before, if any.
    pub previous: Option<i64>,
    /// Why (the gate's verdict, or "forced").
    pub reason: String,
}


fn json_col(r: &AnyRow, i: usize, what: &'static str, action: &str) -> Result<serde_json::Value> {
    let text: String = r.try_get(i).map_err(Error::query(action.to_string()))?;
    serde_json::from_str(&text).map_err(|e| Error::BadStoredValue {
        what,
        value: text.clone(),
        reason: e.to_string(),
    })
}

fn check_name(what: &'static str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && value.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            what,
            value: value.to_string(),
            reason: "use 1 to 64 letters, digits, '-' or '_', starting with a letter or digit".into(),
        })
    }
}

impl Catalog {
    /// Registers a new version of `v.name` and returns its number (1 for a new model).
    pub async fn register_model_version(&self, v: &NewModelVersion) -> Result<i64> {
        check_name("model name", &v.name)?;
        let action = format!("registering a version of model {}", v.name);
        // Two trainers registering at once may pick the same number; the primary key
        // refuses the second, which then tries the next number.
        for _ in 0..5 {
            let next: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) + 1 FROM reel_model_versions WHERE name = $1")
                .bind(&v.name)
                .fetch_one(self.pool())
                .await
                .and_then(|r| r.try_get(0))
                .map_err(Error::query(action.clone()))?;
            let inserted = sqlx::query(
                "INSERT INTO reel_model_versions (name, version, algorithm, kind, params, metrics, training, artifact,
                    artifact_bytes, artifact_sha256, code_version, run_id, card, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            )
            .bind(&v.name)
            .bind(next)
            .bind(&v.algorithm)
            .bind(&v.kind)
            .bind(v.params.to_string())
            .bind(v.metrics.to_string())
            .bind(v.training.to_string())
            .bind(&v.artifact)
            .bind(v.artifact_bytes)
            .bind(&v.artifact_sha256)
            .bind(&v.code_version)
            .bind(&v.run_id)
            .bind(&v.card)
            .bind(ts(Utc::now()))
            .execute(self.pool())
            .await;
            match inserted {
                Ok(_) => return Ok(next),
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => continue,
                Err(e) => return Err(Error::query(action)(e)),
            }
        }
        Err(Error::InvalidArgument {
            what: "model name",
            value: v.name.clone(),
            reason: "too many trainers registered versions at the same moment; retry".into(),
        })
    }

    /// Every version of `name`, newest first, with their aliases.
    pub async fn model_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        let action = format!("listing the versions of model {name}");
        let rows = sqlx::query(
            "SELECT name, version, algorithm, kind, params, metrics, training, artifact, artifact_bytes,
                artifact_sha256, code_version, run_id, card, created_at
             FROM reel_model_versions WHERE name = $1 ORDER BY version DESC",
        )
            .bind(name)
            .fetch_all(self.pool())
            .await
            .map_err(Error::query(action.clone()))?;
        let aliases = self.model_aliases(name).await?;
        rows.iter()
            .map(|r| {
                let mut v = version_from_row(r, &action)?;
                v.aliases = aliases.iter().filter(|(_, ver)| *ver == v.version).map(|(a, _)| a.clone()).collect();
                Ok(v)
            })
            .collect()
    }

    /// One version of `name`, if registered.
    pub async fn model_version(&self, name: &str, version: i64) -> Result<Option<ModelVersion>> {
        Ok(self.model_versions(name).await?.into_iter().find(|v| v.version == version))
    }

    /// The names of every registered model, sorted.
    pub async fn model_names(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT DISTINCT name FROM reel_model_versions ORDER BY name")
            .fetch_all(self.pool())
            .await
            .map_err(Error::query("listing models"))?;
        rows.iter().map(|r| r.try_get(0).map_err(Error::query("listing models"))).collect()
    }

    /// The aliases of `name` as `(alias, version)`, sorted by alias.
    pub async fn model_aliases(&self, name: &str) -> Result<Vec<(String, i64)>> {
        let action = format!("reading the aliases of model {name}");
        let rows = sqlx::query("SELECT alias, version FROM reel_model_aliases WHERE name = $1 ORDER BY alias")
            .bind(name)
            .fetch_all(self.pool())
            .await
            .map_err(Error::query(action.clone()))?;
        rows.iter()
            .map(|r| Ok((r.try_get(0).map_err(Error::query(action.clone()))?, r.try_get(1).map_err(Error::query(action.clone()))?)))
            .collect()
    }

    /// The version `alias` points at, if set.
    pub async fn model_alias(&self, name: &str, alias: &str) -> Result<Option<i64>> {
        Ok(self.model_aliases(name).await?.into_iter().find(|(a, _)| a == alias).map(|(_, v)| v))
    }

    /// Points `alias` of `name` at `version` and records why, in one transaction.
    /// Returns the version it pointed at before.
    pub async fn set_model_alias(&self, name: &str, alias: &str, version: i64, reason: &str) -> Result<Option<i64>> {
        check_name("alias", alias)?;
        if self.model_version(name, version).await?.is_none() {
            return Err(Error::InvalidArgument {
                what: "model version",
                value: format!("{name}@{version}"),
                reason: "no such version is registered; see `reelhouse models show NAME`".into(),
            });
        }
        let action = format!("setting alias {alias} of model {name} to version {version}");
        let q = || Error::query(action.clone());
        let mut tx = self.pool().begin().await.map_err(q())?;
        let previous: Option<i64> = sqlx::query("SELECT version FROM reel_model_aliases WHERE name = $1 AND alias = $2")
            .bind(name)
            .bind(alias)
            .fetch_optional(&mut *tx)
            .await
            .map_err(q())?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(q())?;
        let now = ts(Utc::now());
        sqlx::query("DELETE FROM reel_model_aliases WHERE name = $1 AND alias = $2")
            .bind(name)
            .bind(alias)
            .execute(&mut *tx)
            .await
            .map_err(q())?;
        sqlx::query("INSERT INTO reel_model_aliases (name, alias, version, updated_at) VALUES ($1, $2, $3, $4)")
            .bind(name)
            .bind(alias)
            .bind(version)
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(q())?;
        sqlx::query("INSERT INTO reel_model_events (name, at, alias, version, previous, reason) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(name)
            .bind(&now)
            .bind(alias)
            .bind(version)
            .bind(previous)
            .bind(reason)
            .execute(&mut *tx)
            .await
            .map_err(q())?;
        tx.commit().await.map_err(q())?;
        Ok(previous)
    }

    /// The alias history of `name`, newest first.
    pub async fn model_events(&self, name: &str) -> Result<Vec<AliasEvent>> {
        let action = format!("reading the alias history of model {name}");
        let rows = sqlx::query(
            "SELECT name, at, alias, version, previous, reason FROM reel_model_events WHERE name = $1 ORDER BY at DESC",
        )
        .bind(name)
        .fetch_all(self.pool())
        .await
        .map_err(Error::query(action.clone()))?;
        rows.iter()
            .map(|r| {
                let q = || Error::query(action.clone());
                Ok(AliasEvent {
                    name: r.try_get(0).map_err(q())?,
                    at: parse_ts(&r.try_get::<String, _>(1).map_err(q())?)?,
                    alias: r.try_get(2).map_err(q())?,
                    version: r.try_get(3).map_err(q())?,
                    previous: r.try_get(4).map_err(q())?,
                    reason: r.try_get(5).map_err(q())?,
                })
            })
            .collect()
    }
}

fn version_from_row(r: &AnyRow, action: &str) -> Result<ModelVersion> {
    let q = || Error::query(action.to_string());
    Ok(ModelVersion {
        name: r.try_get(0).map_err(q())?,
        version: r.try_get(1).map_err(q())?,
        algorithm: r.try_get(2).map_err(q())?,
        kind: r.try_get(3).map_err(q())?,
        params: json_col(r, 4, "model params", action)?,
        metrics: json_col(r, 5, "model metrics", action)?,
        training: json_col(r, 6, "model training data", action)?,
        artifact: r.try_get(7).map_err(q())?,
        artifact_bytes: r.try_get(8).map_err(q())?,
        artifact_sha256: r.try_get(9).map_err(q())?,
        code_version: r.try_get(10).map_err(q())?,
        run_id: r.try_get(11).map_err(q())?,
        card: r.try_get(12).map_err(q())?,
        created_at: parse_ts(&r.try_get::<String, _>(13).map_err(q())?)?,
        aliases: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample(name: &str, rmse: f64) -> NewModelVersion {
        NewModelVersion {
            name: name.into(),
            algorithm: "svd".into(),
            kind: "rating".into(),
            params: serde_json::json!({"factors": 50}),
            metrics: serde_json::json!({"rmse": rmse}),
            training: serde_json::json!({"tables": {"clean.ratings": 3}}),
            artifact: "file:///tmp/x.reelmodel".into(),
            artifact_bytes: 10,
            artifact_sha256: "00".into(),
            code_version: "test".into(),
            run_id: "run".into(),
            card: "# card".into(),
        }
    }

    #[tokio::test]
    async fn versions_count_up_and_aliases_move_with_history() {
        let c = Catalog::connect("sqlite::memory:").await.expect("catalog");
        assert_eq!(c.register_model_version(&sample("reco", 0.95)).await.expect("v1"), 1);
        assert_eq!(c.register_model_version(&sample("reco", 0.93)).await.expect("v2"), 2);
        assert_eq!(c.register_model_version(&sample("other", 1.0)).await.expect("other v1"), 1);
        assert_eq!(c.set_model_alias("reco", "champion", 1, "first").await.expect("set"), None);
        assert_eq!(c.set_model_alias("reco", "champion", 2, "better").await.expect("move"), Some(1));
        assert_eq!(c.model_alias("reco", "champion").await.expect("read"), Some(2));
        let versions = c.model_versions("reco").await.expect("list");
        assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), vec![2, 1]);
        assert_eq!(versions[0].aliases, vec!["champion".to_string()]);
        assert_eq!(versions[0].metrics["rmse"], 0.93);
        let events = c.model_events("reco").await.expect("events");
        assert_eq!(events.len(), 2);
        assert!(events.iter().any(|e| e.previous == Some(1) && e.version == 2 && e.reason == "better"));
        assert_eq!(c.model_names().await.expect("names"), vec!["other".to_string(), "reco".to_string()]);
    }

    #[tokio::test]
    async fn bad_names_and_missing_versions_are_refused() {
        let c = Catalog::connect("sqlite::memory:").await.expect("catalog");
        assert!(c.register_model_version(&sample("no spaces", 1.0)).await.is_err());
        c.register_model_version(&sample("reco", 1.0)).await.expect("v1");
        let e = c.set_model_alias("reco", "champion", 7, "x").await.expect_err("no v7");
        assert!(e.to_string().contains("reco@7"), "{e}");
        assert!(c.set_model_alias("reco", "bad alias", 1, "x").await.is_err());
    }
}
