//! What the catalog stores and returns.
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use reel_common::{RunId, TableRef};
use serde::{Deserialize, Serialize};

use crate::Error;

/// One column of a table version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnEntry {
    /// The column name.
    pub name: String,
    /// The Arrow type, as Arrow prints it (`Int64`, `Utf8`, `Date32`, ...).
    pub data_type: String,
    /// Whether the column may hold nulls.
    pub nullable: bool,
}

impl ColumnEntry {
    /// The columns of an Arrow schema, in order.
    pub fn from_schema(schema: &arrow::datatypes::Schema) -> Vec<ColumnEntry> {
        schema
            .fields()
            .iter()
            .map(|f| ColumnEntry {
                name: f.name().clone(),
                data_type: f.data_type().to_string(),
                nullable: f.is_nullable(),
            })
            .collect()
    }
}

/// A source file a table version was loaded from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceEntry {
    /// The file's path or URL.
    pub path: String,
    /// Its size in bytes.
    pub size: i64,
    /// Its SHA-256, hex.
    pub sha256: String,
    /// Its modification time, if known.
    pub modified_at: Option<DateTime<Utc>>,
    /// When it was read.
    pub ingested_at: DateTime<Utc>,
}

/// A new table version to record: what [`crate::Catalog::record_version`] takes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewTableVersion {
    /// The table.
    pub table: TableRef,
    /// The Delta version written.
    pub version: i64,
    /// What the write did: `overwrite`, `replace ds=2025-04-09`, `append`.
    pub operation: String,
    /// The table's columns at this version.
    pub columns: Vec<ColumnEntry>,
    /// Rows in the table at this version (-1 if unknown).
    pub row_count: i64,
    /// Partition columns.
    pub partition_columns: Vec<String>,
    /// The table's URL.
    pub location: String,
    /// Bytes of the active data files.
    pub size_bytes: i64,
    /// Number of active data files.
    pub num_files: i64,
    /// The run that wrote it.
    pub run_id: RunId,
    /// The command line of that run.
    pub command: String,
    /// When the version was written.
    pub created_at: DateTime<Utc>,
    /// The table's description; `None` keeps the one already recorded.
    pub description: Option<String>,
    /// Tags merged into the table's tags (a key given here replaces its old value).
    pub tags: BTreeMap<String, String>,
    /// Files the version was loaded from.
    pub sources: Vec<SourceEntry>,
    /// Table versions it was computed from.
    pub upstream: Vec<(TableRef, i64)>,
}

/// A table with its current version: what [`crate::Catalog::list_tables`] returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableEntry {
    /// The table.
    pub table: TableRef,
    /// Business description (empty if none).
    pub description: String,
    /// Tags (owner, source, pii, ...).
    pub tags: BTreeMap<String, String>,
    /// The newest recorded version.
    pub version: i64,
    /// Rows at that version.
    pub row_count: i64,
    /// Columns at that version.
    pub columns: Vec<ColumnEntry>,
    /// Partition columns at that version.
    pub partition_columns: Vec<String>,
    /// The table's URL.
    pub location: String,
    /// Bytes of the active data files.
    pub size_bytes: i64,
    /// Number of active data files.
    pub num_files: i64,
    /// When the table was first recorded.
    pub created_at: DateTime<Utc>,
    /// When its entry last changed (a version, description or tags).
    pub updated_at: DateTime<Utc>,
}

/// One recorded version of a table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionEntry {
    /// The table.
    pub table: TableRef,
    /// The Delta version.
    pub version: i64,
    /// What the write did.
    pub operation: String,
    /// Rows at that version.
    pub row_count: i64,
    /// The run that wrote it.
    pub run_id: String,
    /// That run's command.
    pub command: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// One input of a table version: a source file or an upstream table version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineageEntry {
    /// The table.
    pub table: TableRef,
    /// Its version.
    pub version: i64,
    /// The run that wrote the version.
    pub run_id: String,
    /// That run's command.
    pub command: String,
    /// When the version was written.
    pub created_at: DateTime<Utc>,
    /// `file` or `table`.
    pub kind: String,
    /// The file path, or the upstream table (`raw.ratings`).
    pub source: String,
    /// The upstream table's version (tables only).
    pub source_version: Option<i64>,
    /// The file's size (files only).
    pub size: Option<i64>,
    /// The file's SHA-256 (files only).
    pub sha256: Option<String>,
    /// The file's modification time (files only, if known).
    pub modified_at: Option<DateTime<Utc>>,
}

/// The state of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Started, not finished (or the process died).
    Running,
    /// Finished without error.
    Succeeded,
    /// Finished with an error.
    Failed,
}

impl RunStatus {
    /// The status as stored: `running`, `succeeded`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "running" => Ok(RunStatus::Running),
            "succeeded" => Ok(RunStatus::Succeeded),
            "failed" => Ok(RunStatus::Failed),
            other => Err(Error::BadStoredValue {
                what: "run status",
                value: other.to_string(),
                reason: "expected running, succeeded or failed".into(),
            }),
        }
    }
}

/// One run of a command or pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunEntry {
    /// The run id.
    pub run_id: String,
    /// The command line.
    pub command: String,
    /// Its state.
    pub status: RunStatus,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished, if it did.
    pub finished_at: Option<DateTime<Utc>>,
    /// What it reported (counts, tables written, the error).
    pub summary: serde_json::Value,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use arrow::datatypes::{DataType, Field, Schema};

    #[test]
    fn columns_come_from_the_schema_in_order() {
        let s = Schema::new(vec![Field::new("user_id", DataType::Int64, false), Field::new("title", DataType::Utf8, true)]);
        let cols = ColumnEntry::from_schema(&s);
        assert_eq!(cols.len(), 2);
        assert_eq!(cols[0], ColumnEntry { name: "user_id".into(), data_type: "Int64".into(), nullable: false });
        assert_eq!(cols[1].data_type, "Utf8");
        assert!(cols[1].nullable);
    }

    #[test]
    fn run_status_round_trips() {
        for s in [RunStatus::Running, RunStatus::Succeeded, RunStatus::Failed] {
            assert_eq!(s.as_str().parse::<RunStatus>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.as_str()));
        }
        assert!("done".parse::<RunStatus>().unwrap_err().to_string().contains("succeeded"));
    }
}
