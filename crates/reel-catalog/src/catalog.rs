//! [`Catalog`]: the connection and every statement.
//!
//! One set of SQL for both backends: `$n` placeholders, `TEXT` and `BIGINT` columns,
//! timestamps as RFC 3339 text in UTC with a fixed number of digits (so they sort as text)
//! and JSON as text. The alternative, native `TIMESTAMPTZ`/`JSONB` on PostgreSQL, would need
//! two SQL dialects and the `Any` driver cannot decode those types anyway.
use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reel_common::{RunId, TableRef, Zone};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::model::{LineageEntry, NewTableVersion, RunEntry, RunStatus, TableEntry, VersionEntry};
use crate::{Error, Result};

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: i64 = 1;

/// Statements creating the schema; each is idempotent.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS reel_schema_version (version BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS reel_tables (
        zone TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT NOT NULL,
        tags TEXT NOT NULL,
        current_version BIGINT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (zone, name)
    )",
    "CREATE TABLE IF NOT EXISTS reel_table_versions (
        zone TEXT NOT NULL,
        name TEXT NOT NULL,
        version BIGINT NOT NULL,
        operation TEXT NOT NULL,
        row_count BIGINT NOT NULL,
        columns TEXT NOT NULL,
        partition_columns TEXT NOT NULL,
        location TEXT NOT NULL,
        size_bytes BIGINT NOT NULL,
        num_files BIGINT NOT NULL,
        run_id TEXT NOT NULL,
        command TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (zone, name, version)
    )",
    "CREATE TABLE IF NOT EXISTS reel_lineage (
        zone TEXT NOT NULL,
        name TEXT NOT NULL,
        version BIGINT NOT NULL,
        ordinal BIGINT NOT NULL,
        kind TEXT NOT NULL,
        source TEXT NOT NULL,
        source_version BIGINT,
        size BIGINT,
        sha256 TEXT,
        modified_at TEXT,
        ingested_at TEXT,
        PRIMARY KEY (zone, name, version, ordinal)
    )",
    "CREATE INDEX IF NOT EXISTS reel_lineage_source ON reel_lineage (source)",
    "CREATE TABLE IF NOT EXISTS reel_runs (
        run_id TEXT NOT NULL PRIMARY KEY,
        command TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        summary TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS reel_runs_started ON reel_runs (started_at)",
];

/// The columns of a table entry: the table row joined with its current version. A macro
/// so that `concat!` can add a `WHERE` and the statements stay `'static`.
macro_rules! table_select {
    () => {
        "SELECT t.zone, t.name, t.description, t.tags, t.current_version, t.created_at, t.updated_at,
            v.row_count, v.columns, v.partition_columns, v.location, v.size_bytes, v.num_files
        FROM reel_tables t
        JOIN reel_table_versions v ON v.zone = t.zone AND v.name = t.name AND v.version = t.current_version"
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The catalog: tables, their versions and lineage, and runs, in SQLite or PostgreSQL.
///
/// Cheap to clone (a connection pool).
#[derive(Debug, Clone)]
pub struct Catalog {
    pool: AnyPool,
    backend: Backend,
}

impl Catalog {
    /// Connects and creates the schema if needed.
    ///
    /// `url` is `sqlite:///abs/path.db?mode=rwc` (`mode=rwc` creates the file),
    /// `sqlite::memory:` (private to this `Catalog` and its clones) or
    /// `postgres://user:pass@host/db`.
    pub async fn connect(url: &str) -> Result<Catalog> {
        sqlx::any::install_default_drivers();
        let masked = mask_password(url);
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(Error::UnsupportedUrl { url: masked });
        };
        let in_memory = backend == Backend::Sqlite && (url.contains(":memory:") || url.contains("mode=memory"));
        let mut options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        options = match (backend, in_memory) {
            // An in-memory database lives as long as one of its connections: keep exactly
            // one open forever.
            (Backend::Sqlite, true) => options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None),
            (Backend::Sqlite, false) => options.max_connections(4),
            (Backend::Postgres, _) => options.max_connections(5),
        };
        if backend == Backend::Sqlite {
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // A writer waits up to 10 s for another instead of failing at once
                    // (with WAL, readers never block the writer).
                    sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                    Ok(())
                })
            });
        }
        let hint = match backend {
            Backend::Sqlite => "check that the folder exists and is writable, and add ?mode=rwc to create the file",
            Backend::Postgres => "check that the server is running, the database exists and the user and password are right",
        };
        let connect_error = |source| Error::Connect {
            url: masked.clone(),
            hint,
            source,
        };
        if !in_memory {
            // One plain connection first: the pool retries refused connections until its
            // acquire timeout, which would turn a typo into a 30 s hang.
            use sqlx::{ConnectOptions, Connection};
            let probe: sqlx::any::AnyConnectOptions = url.parse().map_err(connect_error)?;
            probe.connect().await.map_err(connect_error)?.close().await.map_err(connect_error)?;
        }
        let pool = options.connect(url).await.map_err(connect_error)?;
        let catalog = Catalog { pool, backend };
        if backend == Backend::Sqlite && !in_memory {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&catalog.pool)
                .await
                .map_err(Error::query(format!("enabling WAL on {masked}")))?;
        }
        catalog.create_schema(&masked).await?;
        Ok(catalog)
    }

    /// The connection pool (for the registry's statements).
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    async fn create_schema(&self, masked_url: &str) -> Result<()> {
        for stmt in SCHEMA
            .iter()
            .chain(crate::registry::REGISTRY_SCHEMA)
            .chain(crate::pipeline::PIPELINE_SCHEMA)
            .chain(crate::quality::QUALITY_SCHEMA)
            .chain(crate::extract::EXTRACT_SCHEMA)
        {
            sqlx::query(*stmt)
                .execute(&self.pool)
                .await
                .map_err(Error::query(format!("creating the catalog schema in {masked_url}")))?;
        }
        let found: Option<i64> = sqlx::query("SELECT MAX(version) FROM reel_schema_version")
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(Error::query(format!("reading the schema version of {masked_url}")))?;
        match found {
            None => {
                sqlx::query("INSERT INTO reel_schema_version (version) VALUES ($1)")
                    .bind(SCHEMA_VERSION)
                    .execute(&self.pool)
                    .await
                    .map_err(Error::query(format!("recording the schema version of {masked_url}")))?;
            }
            Some(v) if v > SCHEMA_VERSION => {
                return Err(Error::NewerSchema {
                    url: masked_url.to_string(),
                    found: v,
                    supported: SCHEMA_VERSION,
                });
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Records a new table version in one transaction: registers the table (or updates
    /// it: the description only if one is given, tags merged), the version and its
    /// lineage. Recording the same version again replaces it.
    pub async fn record_version(&self, v: NewTableVersion) -> Result<()> {
        let t = &v.table;
        let action = format!("recording version {} of {t}", v.version);
        let q = || Error::query(action.clone());
        let now = ts(Utc::now());
        let columns = to_json(&v.columns);
        let partition_columns = to_json(&v.partition_columns);

        let mut tx = self.pool.begin().await.map_err(q())?;
        // Write first, so SQLite takes its write lock before the read below (a read then
        // write in one transaction can fail with SQLITE_BUSY instead of waiting).
        sqlx::query(
            "INSERT INTO reel_tables (zone, name, description, tags, current_version, created_at, updated_at)
             VALUES ($1, $2, '', '{}', $3, $4, $5)
             ON CONFLICT (zone, name) DO NOTHING",
        )
        .bind(t.zone.as_str())
        .bind(t.name.as_str())
        .bind(v.version)
        .bind(ts(v.created_at))
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(q())?;
        let row = sqlx::query("SELECT description, tags, current_version FROM reel_tables WHERE zone = $1 AND name = $2")
            .bind(t.zone.as_str())
            .bind(t.name.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(q())?;
        let old_description: String = row.try_get(0).map_err(q())?;
        let old_tags: String = row.try_get(1).map_err(q())?;
        let old_version: i64 = row.try_get(2).map_err(q())?;
        let mut tags = parse_tags(&old_tags)?;
        tags.extend(v.tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        let description = v.description.clone().unwrap_or(old_description);
        sqlx::query(
            "UPDATE reel_tables SET description = $3, tags = $4, current_version = $5, updated_at = $6
             WHERE zone = $1 AND name = $2",
        )
        .bind(t.zone.as_str())
        .bind(t.name.as_str())
        .bind(&description)
        .bind(to_json(&tags))
        .bind(old_version.max(v.version))
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(q())?;

        for stmt in [
            "DELETE FROM reel_lineage WHERE zone = $1 AND name = $2 AND version = $3",
            "DELETE FROM reel_table_versions WHERE zone = $1 AND name = $2 AND version = $3",
        ] {
            sqlx::query(stmt)
                .bind(t.zone.as_str())
                .bind(t.name.as_str())
                .bind(v.version)
                .execute(&mut *tx)
                .await
                .map_err(q())?;
        }
        sqlx::query(
            "INSERT INTO reel_table_versions (zone, name, version, operation, row_count, columns, partition_columns,
                location, size_bytes, num_files, run_id, command, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(t.zone.as_str())
        .bind(t.name.as_str())
        .bind(v.version)
        .bind(&v.operation)
        .bind(v.row_count)
        .bind(&columns)
        .bind(&partition_columns)
        .bind(&v.location)
        .bind(v.size_bytes)
        .bind(v.num_files)
        .bind(&v.run_id.0)
        .bind(&v.command)
        .bind(ts(v.created_at))
        .execute(&mut *tx)
        .await
        .map_err(q())?;

        const LINEAGE_INSERT: &str = "INSERT INTO reel_lineage (zone, name, version, ordinal, kind, source, source_version,
                size, sha256, modified_at, ingested_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
        let mut ordinal = 0i64;
        for s in &v.sources {
            sqlx::query(LINEAGE_INSERT)
                .bind(t.zone.as_str())
                .bind(t.name.as_str())
                .bind(v.version)
                .bind(ordinal)
                .bind("file")
                .bind(&s.path)
                .bind(None::<i64>)
                .bind(Some(s.size))
                .bind(Some(s.sha256.as_str()))
                .bind(s.modified_at.map(ts))
                .bind(Some(ts(s.ingested_at)))
                .execute(&mut *tx)
                .await
                .map_err(q())?;
            ordinal += 1;
        }
        for (up, up_version) in &v.upstream {
            sqlx::query(LINEAGE_INSERT)
                .bind(t.zone.as_str())
                .bind(t.name.as_str())
                .bind(v.version)
                .bind(ordinal)
                .bind("table")
                .bind(up.to_string())
                .bind(Some(*up_version))
                .bind(None::<i64>)
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(None::<String>)
                .execute(&mut *tx)
                .await
                .map_err(q())?;
            ordinal += 1;
        }
        tx.commit().await.map_err(q())?;
        Ok(())
    }

    /// Sets a table's description.
    pub async fn set_description(&self, t: &TableRef, text: &str) -> Result<()> {
        let done = sqlx::query("UPDATE reel_tables SET description = $3, updated_at = $4 WHERE zone = $1 AND name = $2")
            .bind(t.zone.as_str())
            .bind(t.name.as_str())
            .bind(text)
            .bind(ts(Utc::now()))
            .execute(&self.pool)
            .await
            .map_err(Error::query(format!("setting the description of {t}")))?;
        if done.rows_affected() == 0 {
            return Err(Error::TableNotInCatalog { table: t.clone() });
        }
        Ok(())
    }

    /// Merges tags into a table's tags (a key given here replaces its old value).
    pub async fn set_tags(&self, t: &TableRef, tags: &BTreeMap<String, String>) -> Result<()> {
        for k in tags.keys() {
            if k.trim().is_empty() {
                return Err(Error::InvalidArgument {
                    what: "tag key",
                    value: k.clone(),
                    reason: "it is empty; use a name such as owner or pii".into(),
                });
            }
        }
        let action = format!("setting the tags of {t}");
        let q = || Error::query(action.clone());
        let mut tx = self.pool.begin().await.map_err(q())?;
        // Write first (see record_version), which also tells whether the table exists.
        let done = sqlx::query("UPDATE reel_tables SET updated_at = $3 WHERE zone = $1 AND name = $2")
            .bind(t.zone.as_str())
            .bind(t.name.as_str())
            .bind(ts(Utc::now()))
            .execute(&mut *tx)
            .await
            .map_err(q())?;
        if done.rows_affected() == 0 {
            return Err(Error::TableNotInCatalog { table: t.clone() });
        }
        let old: String = sqlx::query("SELECT tags FROM reel_tables WHERE zone = $1 AND name = $2")
            .bind(t.zone.as_str())
            .bind(t.name.as_str())
            .fetch_one(&mut *tx)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(q())?;
        let mut merged = parse_tags(&old)?;
        merged.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        sqlx::query("UPDATE reel_tables SET tags = $3 WHERE zone = $1 AND name = $2")
            .bind(t.zone.as_str())
            .bind(t.name.as_str())
            .bind(to_json(&merged))
            .execute(&mut *tx)
            .await
            .map_err(q())?;
        tx.commit().await.map_err(q())?;
        Ok(())
    }

    /// Every table with its current version, by zone (raw, clean, curated, quarantine)
    /// then name.
    pub async fn list_tables(&self) -> Result<Vec<TableEntry>> {
        let rows = sqlx::query(table_select!())
            .fetch_all(&self.pool)
            .await
            .map_err(Error::query("listing the catalog's tables"))?;
        let mut out = rows.iter().map(table_entry).collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.table.cmp(&b.table));
        Ok(out)
    }

    /// One table with its current version, if recorded.
    pub async fn table(&self, t: &TableRef) -> Result<Option<TableEntry>> {
        const SQL: &str = concat!(table_select!(), " WHERE t.zone = $1 AND t.name = $2");
        let row = sqlx::query(SQL)
            .bind(t.zone.as_str())
            .bind(t.name.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(Error::query(format!("reading {t} from the catalog")))?;
        row.as_ref().map(table_entry).transpose()
    }

    /// The recorded versions of a table, newest first.
    pub async fn versions(&self, t: &TableRef) -> Result<Vec<VersionEntry>> {
        let action = format!("reading the versions of {t}");
        let rows = sqlx::query(
            "SELECT version, operation, row_count, run_id, command, created_at FROM reel_table_versions
             WHERE zone = $1 AND name = $2 ORDER BY version DESC",
        )
        .bind(t.zone.as_str())
        .bind(t.name.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(Error::query(action.clone()))?;
        rows.iter()
            .map(|r| {
                let q = || Error::query(action.clone());
                Ok(VersionEntry {
                    table: t.clone(),
                    version: r.try_get(0).map_err(q())?,
                    operation: r.try_get(1).map_err(q())?,
                    row_count: r.try_get(2).map_err(q())?,
                    run_id: r.try_get(3).map_err(q())?,
                    command: r.try_get(4).map_err(q())?,
                    created_at: parse_ts(&r.try_get::<String, _>(5).map_err(q())?)?,
                })
            })
            .collect()
    }

    /// The inputs of every recorded version of a table: newest version first, then in
    /// the order they were recorded (files, then upstream tables).
    pub async fn lineage(&self, t: &TableRef) -> Result<Vec<LineageEntry>> {
        let action = format!("reading the lineage of {t}");
        let rows = sqlx::query(
            "SELECT l.version, v.run_id, v.command, v.created_at, l.kind, l.source, l.source_version, l.size,
                    l.sha256, l.modified_at
             FROM reel_lineage l
             JOIN reel_table_versions v ON v.zone = l.zone AND v.name = l.name AND v.version = l.version
             WHERE l.zone = $1 AND l.name = $2
             ORDER BY l.version DESC, l.ordinal ASC",
        )
        .bind(t.zone.as_str())
        .bind(t.name.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(Error::query(action.clone()))?;
        rows.iter()
            .map(|r| {
                let q = || Error::query(action.clone());
                let modified_at: Option<String> = r.try_get(9).map_err(q())?;
                Ok(LineageEntry {
                    table: t.clone(),
                    version: r.try_get(0).map_err(q())?,
                    run_id: r.try_get(1).map_err(q())?,
                    command: r.try_get(2).map_err(q())?,
                    created_at: parse_ts(&r.try_get::<String, _>(3).map_err(q())?)?,
                    kind: r.try_get(4).map_err(q())?,
                    source: r.try_get(5).map_err(q())?,
                    source_version: r.try_get(6).map_err(q())?,
                    size: r.try_get(7).map_err(q())?,
                    sha256: r.try_get(8).map_err(q())?,
                    modified_at: modified_at.as_deref().map(parse_ts).transpose()?,
                })
            })
            .collect()
    }

    /// Records that a run started (status `running`).
    pub async fn start_run(&self, run: &RunId, command: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO reel_runs (run_id, command, status, started_at, finished_at, summary)
             VALUES ($1, $2, $3, $4, NULL, '{}')",
        )
        .bind(&run.0)
        .bind(command)
        .bind(RunStatus::Running.as_str())
        .bind(ts(Utc::now()))
        .execute(&self.pool)
        .await
        .map_err(Error::query(format!("recording the start of run {run}")))?;
        Ok(())
    }

    /// Records how a run ended, with its summary.
    pub async fn finish_run(&self, run: &RunId, status: RunStatus, summary: &serde_json::Value) -> Result<()> {
        if status == RunStatus::Running {
            return Err(Error::InvalidArgument {
                what: "final run status",
                value: status.to_string(),
                reason: "a run finishes as succeeded or failed".into(),
            });
        }
        let done = sqlx::query("UPDATE reel_runs SET status = $2, finished_at = $3, summary = $4 WHERE run_id = $1")
            .bind(&run.0)
            .bind(status.as_str())
            .bind(ts(Utc::now()))
            .bind(summary.to_string())
            .execute(&self.pool)
            .await
            .map_err(Error::query(format!("recording the end of run {run}")))?;
        if done.rows_affected() == 0 {
            return Err(Error::RunNotFound { run_id: run.0.clone() });
        }
        Ok(())
    }

    /// The newest `limit` runs, newest first.
    pub async fn runs(&self, limit: usize) -> Result<Vec<RunEntry>> {
        let action = "listing runs";
        let rows = sqlx::query(
            "SELECT run_id, command, status, started_at, finished_at, summary FROM reel_runs
             ORDER BY started_at DESC, run_id DESC LIMIT $1",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(Error::query(action))?;
        rows.iter()
            .map(|r| {
                let q = || Error::query(action);
                let finished: Option<String> = r.try_get(4).map_err(q())?;
                let summary: String = r.try_get(5).map_err(q())?;
                Ok(RunEntry {
                    run_id: r.try_get(0).map_err(q())?,
                    command: r.try_get(1).map_err(q())?,
                    status: r.try_get::<String, _>(2).map_err(q())?.parse()?,
                    started_at: parse_ts(&r.try_get::<String, _>(3).map_err(q())?)?,
                    finished_at: finished.as_deref().map(parse_ts).transpose()?,
                    summary: serde_json::from_str(&summary).map_err(|e| Error::BadStoredValue {
                        what: "run summary",
                        value: summary.clone(),
                        reason: e.to_string(),
                    })?,
                })
            })
            .collect()
    }
}

fn table_entry(r: &AnyRow) -> Result<TableEntry> {
    let q = || Error::query("reading a catalog table row");
    let zone: String = r.try_get(0).map_err(q())?;
    let name: String = r.try_get(1).map_err(q())?;
    let zone: Zone = zone.parse().map_err(|e: reel_common::Error| Error::BadStoredValue {
        what: "zone",
        value: zone.clone(),
        reason: e.to_string(),
    })?;
    let table = TableRef::try_new(zone, &name).map_err(|e| Error::BadStoredValue {
        what: "table name",
        value: name.clone(),
        reason: e.to_string(),
    })?;
    let tags: String = r.try_get(3).map_err(q())?;
    let columns: String = r.try_get(8).map_err(q())?;
    let partition_columns: String = r.try_get(9).map_err(q())?;
    Ok(TableEntry {
        table,
        description: r.try_get(2).map_err(q())?,
        tags: parse_tags(&tags)?,
        version: r.try_get(4).map_err(q())?,
        created_at: parse_ts(&r.try_get::<String, _>(5).map_err(q())?)?,
        updated_at: parse_ts(&r.try_get::<String, _>(6).map_err(q())?)?,
        row_count: r.try_get(7).map_err(q())?,
        columns: from_json("columns", &columns)?,
        partition_columns: from_json("partition columns", &partition_columns)?,
        location: r.try_get(10).map_err(q())?,
        size_bytes: r.try_get(11).map_err(q())?,
        num_files: r.try_get(12).map_err(q())?,
    })
}

/// RFC 3339 in UTC with microseconds and `Z`: fixed width, so text order is time order.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::BadStoredValue {
            what: "timestamp",
            value: s.to_string(),
            reason: e.to_string(),
        })
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Serialising maps of strings and plain structs cannot fail.
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn from_json<T: serde::de::DeserializeOwned>(what: &'static str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::BadStoredValue {
        what,
        value: s.to_string(),
        reason: e.to_string(),
    })
}

fn parse_tags(s: &str) -> Result<BTreeMap<String, String>> {
    from_json("tags", s)
}

/// The URL with the password replaced by `***`.
pub(crate) fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(mask_password("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(mask_password("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(mask_password("postgres://h/db?user=x"), "postgres://h/db?user=x");
        assert_eq!(mask_password("sqlite:///tmp/c.db?mode=rwc"), "sqlite:///tmp/c.db?mode=rwc");
        assert_eq!(mask_password("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(mask_password("postgres://u:p@ss@h/db"), "postgres://u:***@h/db");
    }

    #[test]
    fn timestamps_have_a_fixed_width_and_round_trip() {
        let t = DateTime::parse_from_rfc3339("2025-04-09T12:00:00Z").unwrap().with_timezone(&Utc);
        let s = ts(t);
        assert_eq!(s, "2025-04-09T12:00:00.000000Z");
        assert_eq!(parse_ts(&s).unwrap(), t);
        assert!(parse_ts("yesterday").unwrap_err().to_string().contains("timestamp"));
    }
}
