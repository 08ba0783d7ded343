//! [`Lake`]: where the tables live, and the read side (open, list, info, history, scan).
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Once};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, TimeZone, Utc};
use deltalake::datafusion::prelude::SessionContext;
use deltalake::logstore::{ObjectStoreRef, StorageConfig, object_store_factories};
use deltalake::{DeltaTable, DeltaTableBuilder};
use object_store::ObjectStoreExt as _;
use object_store::path::Path;
use reel_common::{S3Config, TableRef, Zone};
use serde::Serialize;
use url::Url;

use crate::writer::TableWriter;
use crate::{Error, Result};

/// The Delta log folder of a table.
pub(crate) const DELTA_LOG: &str = "_delta_log";

/// A lake: one root (folder, `memory://` or `s3://bucket/prefix`) holding a folder per zone
/// and a Delta table per `zone/name` below it.
///
/// Cheap to clone: clones share the object store (which matters for `memory://`, whose
/// data lives only as long as the store).
#[derive(Clone)]
pub struct Lake {
    inner: Arc<Inner>,
}

struct Inner {
    /// The root as given (trailing `/` removed).
    root: String,
    /// The root as a URL ending in `/`.
    root_url: Url,
    /// The object store at the root of the URL's authority (bucket, or `/` for files).
    store: ObjectStoreRef,
    /// The lake root's path inside `store`.
    prefix: Path,
    /// Storage options passed to delta-rs (S3 endpoint, region, ...).
    options: HashMap<String, String>,
}

impl fmt::Debug for Lake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lake").field("root", &self.inner.root).finish_non_exhaustive()
    }
}

/// What [`Lake::info`] reports about a table's current version.
#[derive(Debug, Clone)]
pub struct TableInfo {
    /// The table.
    pub table: TableRef,
    /// The current Delta version.
    pub version: i64,
    /// The table's schema (partition columns included).
    pub schema: SchemaRef,
    /// The partition columns, in partition order.
    pub partition_columns: Vec<String>,
    /// Active data files.
    pub num_files: usize,
    /// Total size of the active data files.
    pub size_bytes: u64,
    /// Sum of the files' `numRecords` statistics; `None` if a file has none.
    pub row_count: Option<u64>,
    /// The table's URL.
    pub location: String,
}

/// One commit of a table, from its Delta log.
#[derive(Debug, Clone, Serialize)]
pub struct CommitEntry {
    /// The version the commit created.
    pub version: i64,
    /// When it was committed (the commit's timestamp, else the log file's time).
    pub timestamp: DateTime<Utc>,
    /// The Delta operation (`WRITE`, `CREATE TABLE`, ...).
    pub operation: String,
    /// The whole `commitInfo` action, including the commit info given to the writer.
    pub metadata: serde_json::Value,
}

impl Lake {
    /// Opens the lake at `root`: an absolute folder (created if missing), `file:///abs`,
    /// `memory://` (for tests; the data lives as long as this `Lake` and its clones) or
    /// `s3://bucket/prefix` (credentials from the usual `AWS_*` environment variables).
    pub fn try_new(root: &str, s3: Option<&S3Config>) -> Result<Lake> {
        let trimmed = root.trim();
        let bad = |reason: &str| Error::BadRoot {
            root: root.to_string(),
            reason: reason.to_string(),
        };
        if trimmed.is_empty() {
            return Err(bad("it is empty"));
        }
        let mut options = HashMap::new();
        let root_url = if let Some((scheme, _)) = trimmed.split_once("://") {
            let mut url = Url::parse(trimmed).map_err(|e| bad(&e.to_string()))?;
            match scheme {
                "file" => {
                    let path = url.to_file_path().map_err(|_| bad("not an absolute file:// path"))?;
                    create_dir(&path)?;
                }
                "memory" => {}
                "s3" | "s3a" => {
                    register_s3();
                    if url.host_str().is_none_or(str::is_empty) {
                        return Err(bad("no bucket given"));
                    }
                    if let Some(s3) = s3 {
                        if let Some(endpoint) = &s3.endpoint {
                            options.insert("aws_endpoint".to_string(), endpoint.clone());
                        }
                        if let Some(region) = &s3.region {
                            options.insert("aws_region".to_string(), region.clone());
                        }
                        if s3.allow_http {
                            options.insert("allow_http".to_string(), "true".to_string());
                        }
                    }
                }
                other => return Err(bad(&format!("unknown scheme {other:?}"))),
            }
            if !url.path().ends_with('/') {
                let path = format!("{}/", url.path());
                url.set_path(&path);
            }
            url
        } else {
            let path = std::path::Path::new(trimmed);
            let path = std::path::absolute(path).map_err(|e| Error::Io {
                path: trimmed.to_string(),
                source: e,
            })?;
            create_dir(&path)?;
            let path = path.canonicalize().map_err(|e| Error::Io {
                path: path.display().to_string(),
                source: e,
            })?;
            Url::from_directory_path(&path).map_err(|_| bad("not an absolute path"))?
        };

        let scheme = Url::parse(&format!("{}://", root_url.scheme())).map_err(|e| bad(&e.to_string()))?;
        let factory = object_store_factories()
            .get(&scheme)
            .map(|f| f.value().clone())
            .ok_or_else(|| bad("no object store is registered for this scheme"))?;
        let config = StorageConfig::parse_options(options.clone()).map_err(Error::delta(root, "configuring the store of"))?;
        let (store, prefix) = factory
            .parse_url_opts(&root_url, &config)
            .map_err(Error::delta(root, "opening the store of"))?;
        Ok(Lake {
            inner: Arc::new(Inner {
                root: trimmed.trim_end_matches('/').to_string(),
                root_url,
                store,
                prefix,
                options,
            }),
        })
    }

    /// The root as given to [`Lake::try_new`] (without a trailing `/`).
    pub fn root(&self) -> &str {
        &self.inner.root
    }

    /// The URL of a table: `<root>/<zone>/<name>`.
    pub fn table_url(&self, t: &TableRef) -> Url {
        let mut url = self.inner.root_url.clone();
        let path = format!("{}{}/{}", url.path(), t.zone, t.name);
        url.set_path(&path);
        url
    }

    /// The store path of `rel` (a `/`-separated path below the lake root, e.g.
    /// `_models/recommender/<run>.reelmodel`). Refuses empty segments and `..`.
    fn object_path(&self, rel: &str) -> Result<Path> {
        let bad = rel.is_empty() || rel.split('/').any(|p| p.is_empty() || p == "." || p == "..");
        if bad {
            return Err(Error::Store {
                action: "naming",
                path: rel.to_string(),
                source: object_store::Error::Generic {
                    store: "lake",
                    source: "a lake object path needs non-empty segments without `.` or `..`".into(),
                },
            });
        }
        let mut path = self.inner.prefix.clone();
        for part in rel.split('/') {
            path = path.join(part);
        }
        Ok(path)
    }

    /// Stores a non-table object (a model artifact) at `rel` below the lake root, in one
    /// put (readers see the whole object or nothing). Returns its URL.
    pub async fn put_object(&self, rel: &str, bytes: Vec<u8>) -> Result<String> {
        let path = self.object_path(rel)?;
        self.inner
            .store
            .put(&path, bytes.into())
            .await
            .map_err(Error::store("writing", &path))?;
        Ok(format!("{}/{rel}", self.inner.root))
    }

    /// Reads an object stored with [`Lake::put_object`].
    pub async fn get_object(&self, rel: &str) -> Result<Vec<u8>> {
        let path = self.object_path(rel)?;
        let got = self.inner.store.get(&path).await.map_err(Error::store("reading", &path))?;
        let bytes = got.bytes().await.map_err(Error::store("reading", &path))?;
        Ok(bytes.to_vec())
    }

    /// A builder for the table, sharing the lake's object store.
    fn builder(&self, t: &TableRef) -> Result<DeltaTableBuilder> {
        let url = self.table_url(t);
        Ok(DeltaTableBuilder::from_url(url.clone())
            .map_err(Error::delta(t, "locating"))?
            .with_storage_backend(self.inner.store.clone(), url)
            .with_storage_options(self.inner.options.clone()))
    }

    /// An unloaded handle on the table (no log read yet).
    pub(crate) fn handle(&self, t: &TableRef) -> Result<DeltaTable> {
        self.builder(t)?.build().map_err(Error::delta(t, "locating"))
    }

    /// Whether the table exists (has a Delta log).
    pub async fn exists(&self, t: &TableRef) -> Result<bool> {
        self.handle(t)?
            .verify_deltatable_existence()
            .await
            .map_err(Error::delta(t, "checking for"))
    }

    /// Opens the table at its latest version.
    pub async fn open(&self, t: &TableRef) -> Result<DeltaTable> {
        let mut table = self.handle(t)?;
        if !table.verify_deltatable_existence().await.map_err(Error::delta(t, "checking for"))? {
            return Err(self.not_found(t));
        }
        table.load().await.map_err(Error::delta(t, "loading"))?;
        Ok(table)
    }

    /// Opens the table as it was at `version` (time travel).
    pub async fn open_version(&self, t: &TableRef, version: i64) -> Result<DeltaTable> {
        let latest = self.open(t).await?;
        let latest_version = latest.version().map(|v| v as i64).unwrap_or(-1);
        if version < 0 || version > latest_version {
            return Err(Error::VersionNotFound {
                table: t.clone(),
                version,
                latest: latest_version,
            });
        }
        let mut table = self.handle(t)?;
        table
            .load_version(version as u64)
            .await
            .map_err(Error::delta(t, format!("loading version {version} of")))?;
        Ok(table)
    }

    pub(crate) fn not_found(&self, t: &TableRef) -> Error {
        Error::TableNotFound {
            table: t.clone(),
            location: self.table_url(t).to_string(),
        }
    }

    /// Every table of the lake: each folder under a zone folder that holds a Delta log,
    /// sorted by zone (raw, clean, curated, quarantine) then name. Folders whose names are
    /// not valid table names are skipped with a warning.
    pub async fn list(&self) -> Result<Vec<TableRef>> {
        let mut out = Vec::new();
        for zone in Zone::ALL {
            let zone_path = self.inner.prefix.clone().join(zone.as_str());
            let listing = match self.inner.store.list_with_delimiter(Some(&zone_path)).await {
                Ok(l) => l,
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(Error::store("listing", &zone_path)(e)),
            };
            for dir in listing.common_prefixes {
                let Some(name) = dir.filename() else { continue };
                let Ok(t) = TableRef::try_new(zone, name) else {
                    tracing::warn!(folder = %dir, "skipping a folder whose name is not a table name");
                    continue;
                };
                let log = dir.clone().join(DELTA_LOG);
                let has_log = match self.inner.store.list_with_delimiter(Some(&log)).await {
                    Ok(l) => !l.objects.is_empty(),
                    Err(object_store::Error::NotFound { .. }) => false,
                    Err(e) => return Err(Error::store("listing", &log)(e)),
                };
                if has_log {
                    out.push(t);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The current version of a table: schema, partitioning, files, size and row count.
    pub async fn info(&self, t: &TableRef) -> Result<TableInfo> {
        let table = self.open(t).await?;
        table_info(t, &table)
    }

    /// The table's commits, newest first, read from its Delta log.
    pub async fn history(&self, t: &TableRef) -> Result<Vec<CommitEntry>> {
        self.history_after(t, -1).await
    }

    /// The table's commits with a version above `after`, newest first: only those commit
    /// files are read, so a caller that knows the version it saw last pays for the new ones.
    pub async fn history_after(&self, t: &TableRef, after: i64) -> Result<Vec<CommitEntry>> {
        let table = self.open(t).await?;
        let store = table.object_store();
        let log = Path::from(DELTA_LOG);
        let listing = store
            .list_with_delimiter(Some(&log))
            .await
            .map_err(Error::store("listing", format!("{}/{DELTA_LOG}", self.table_url(t))))?;
        let mut commits: Vec<(i64, object_store::ObjectMeta)> = listing
            .objects
            .into_iter()
            .filter_map(|m| commit_version(m.location.filename()?).map(|v| (v, m)))
            .filter(|(v, _)| *v > after)
            .collect();
        commits.sort_by_key(|(v, _)| std::cmp::Reverse(*v));
        let mut out = Vec::with_capacity(commits.len());
        for (version, meta) in commits {
            let bytes = store
                .get(&meta.location)
                .await
                .map_err(Error::store("reading", &meta.location))?
                .bytes()
                .await
                .map_err(Error::store("reading", &meta.location))?;
            let bad = |reason: String| Error::BadLog {
                table: t.clone(),
                path: meta.location.to_string(),
                reason,
            };
            let mut info = None;
            for line in bytes.split(|b| *b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)) {
                let action: serde_json::Value = serde_json::from_slice(line).map_err(|e| bad(e.to_string()))?;
                if let Some(ci) = action.get("commitInfo") {
                    info = Some(ci.clone());
                    break;
                }
            }
            let info = info.unwrap_or(serde_json::Value::Null);
            let timestamp = info
                .get("timestamp")
                .and_then(serde_json::Value::as_i64)
                .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
                .unwrap_or(meta.last_modified);
            let operation = info
                .get("operation")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("UNKNOWN")
                .to_string();
            out.push(CommitEntry {
                version,
                timestamp,
                operation,
                metadata: info,
            });
        }
        Ok(out)
    }

    /// A writer for the table; see [`TableWriter`].
    pub fn writer(&self, t: &TableRef, schema: SchemaRef) -> TableWriter {
        TableWriter::new(self.clone(), t.clone(), schema)
    }

    /// Reads every row of the table through delta-rs's DataFusion table provider.
    ///
    /// For tests and small tables: the rows are collected in memory.
    pub async fn scan(&self, t: &TableRef) -> Result<Vec<RecordBatch>> {
        let table = self.open(t).await?;
        scan_table(t, &table).await
    }
}

/// Reads every row of an opened table (any version).
pub async fn scan_table(t: &TableRef, table: &DeltaTable) -> Result<Vec<RecordBatch>> {
    let ctx = SessionContext::new();
    table
        .update_datafusion_session(&ctx.state())
        .map_err(Error::delta(t, "registering the store of"))?;
    let provider = table.table_provider().await.map_err(|source| Error::Query {
        table: t.clone(),
        source: Box::new(source),
    })?;
    let df = ctx.read_table(provider).map_err(|source| Error::Query {
        table: t.clone(),
        source: Box::new(source),
    })?;
    df.collect().await.map_err(|source| Error::Query {
        table: t.clone(),
        source: Box::new(source),
    })
}

/// [`TableInfo`] of an opened table.
pub(crate) fn table_info(t: &TableRef, table: &DeltaTable) -> Result<TableInfo> {
    let state = table.snapshot().map_err(Error::delta(t, "reading the state of"))?;
    let schema = state.snapshot().arrow_schema();
    let partition_columns = state.metadata().partition_columns().to_vec();
    let mut num_files = 0usize;
    let mut size_bytes = 0u64;
    let mut row_count = Some(0u64);
    for f in state.log_data().iter() {
        num_files += 1;
        size_bytes += f.size().max(0) as u64;
        row_count = match (row_count, f.num_records()) {
            (Some(sum), Some(n)) => Some(sum + n as u64),
            _ => None,
        };
    }
    Ok(TableInfo {
        table: t.clone(),
        version: state.version() as i64,
        schema,
        partition_columns,
        num_files,
        size_bytes,
        row_count,
        location: table.table_url().as_str().trim_end_matches('/').to_string(),
    })
}

/// The version of a commit file name (`00000000000000000012.json` -> 12).
fn commit_version(name: &str) -> Option<i64> {
    let digits = name.strip_suffix(".json")?;
    if digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

fn create_dir(path: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| Error::Io {
        path: path.display().to_string(),
        source: e,
    })
}

fn register_s3() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| deltalake::aws::register_handlers(None));
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn commit_file_names_parse() {
        assert_eq!(commit_version("00000000000000000012.json"), Some(12));
        assert_eq!(commit_version("00000000000000000012.checkpoint.parquet"), None);
        assert_eq!(commit_version("_last_checkpoint"), None);
        assert_eq!(commit_version("12.json"), None);
    }

    #[test]
    fn table_urls_follow_zone_and_name() {
        let lake = Lake::try_new("memory://", None).unwrap();
        let t: TableRef = "clean.ratings".parse().unwrap();
        assert_eq!(lake.table_url(&t).as_str(), "memory:///clean/ratings");
        let tmp = tempfile::tempdir().unwrap();
        let lake = Lake::try_new(tmp.path().to_str().unwrap(), None).unwrap();
        assert!(lake.table_url(&t).as_str().starts_with("file:///"));
        assert!(lake.table_url(&t).as_str().ends_with("/clean/ratings"));
    }

    #[test]
    fn s3_roots_keep_their_prefix() {
        let lake = Lake::try_new(
            "s3://bucket/some/prefix",
            Some(&S3Config {
                endpoint: Some("http://127.0.0.1:9000".into()),
                region: Some("us-east-1".into()),
                allow_http: true,
            }),
        )
        .unwrap();
        let t: TableRef = "raw.ratings".parse().unwrap();
        assert_eq!(lake.table_url(&t).as_str(), "s3://bucket/some/prefix/raw/ratings");
        assert_eq!(lake.root(), "s3://bucket/some/prefix");
    }

    #[test]
    fn bad_roots_are_refused() {
        for (root, needle) in [("", "empty"), ("gs://b/x", "scheme"), ("s3:///x", "bucket")] {
            let err = Lake::try_new(root, None).unwrap_err().to_string();
            assert!(err.contains(needle), "{root}: {err}");
        }
    }
}
