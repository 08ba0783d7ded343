//! The DataFusion session over the lake and the catalog.
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::datasource::MemTable;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::common::TableReference;
use reel_catalog::Catalog;
use reel_common::Zone;
use reel_lake::Lake;
use serde::Serialize;

use crate::{Error, QueryResult, Result};

/// The schema (in SQL terms) that exposes the catalog's own tables.
const CATALOG_SCHEMA: &str = "catalog";

/// A DataFusion session that sees every lake table as `zone.name`.
///
/// Tables are pinned to the Delta version current when the session was built, so a
/// long shell session reads a consistent snapshot; build a new session to see new writes.
pub struct SqlSession {
    ctx: SessionContext,
    tables: Vec<String>,
    versions: std::collections::BTreeMap<String, i64>,
    read_only: bool,
}

impl std::fmt::Debug for SqlSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlSession").field("tables", &self.tables).finish()
    }
}

impl SqlSession {
    /// Registers every table of `lake` (and, when given, the catalog tables). Read-only:
    /// DDL and DML statements are refused.
    pub async fn try_new(lake: &Lake, catalog: Option<&Catalog>) -> Result<Self> {
        Self::build(lake, catalog, None).await
    }

    /// Like [`SqlSession::try_new`] without the catalog, registering only `tables` (those
    /// that exist): opening a Delta table reads its log, so a query that needs three tables
    /// of a big lake starts faster. Used by reports, which know their tables.
    pub async fn try_new_for(lake: &Lake, tables: &[reel_common::TableRef]) -> Result<Self> {
        Self::build(lake, None, Some(tables)).await
    }

    async fn build(lake: &Lake, catalog: Option<&Catalog>, only: Option<&[reel_common::TableRef]>) -> Result<Self> {
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema("datafusion", "clean");
        let ctx = SessionContext::new_with_config(config);
        let df_catalog = ctx
            .catalog("datafusion")
            .ok_or_else(|| internal("the default DataFusion catalog is missing"))?;
        for zone in Zone::ALL {
            df_catalog.register_schema(zone.as_str(), Arc::new(MemorySchemaProvider::new()))?;
        }
        let mut tables = Vec::new();
        let mut versions = std::collections::BTreeMap::new();
        let listed = match only {
            Some(wanted) => {
                let mut v = Vec::new();
                for t in wanted {
                    if lake.exists(t).await? {
                        v.push(t.clone());
                    }
                }
                v
            }
            None => lake.list().await?,
        };
        for t in listed {
            let table = lake.open(&t).await?;
            versions.insert(t.to_string(), table.version().map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX)));
            table
                .update_datafusion_session(&ctx.state())
                .map_err(|e| internal(&format!("registering the object store of {t}: {e}")))?;
            let provider = table
                .table_provider()
                .await
                .map_err(|e| internal(&format!("building the scan of {t}: {e}")))?;
            ctx.register_table(TableReference::partial(t.zone.as_str(), t.name.as_str()), provider)?;
            tables.push(t.to_string());
        }
        if let Some(catalog) = catalog {
            df_catalog.register_schema(CATALOG_SCHEMA, Arc::new(MemorySchemaProvider::new()))?;
            register_catalog_tables(&ctx, catalog).await?;
            for name in ["tables", "columns", "versions", "lineage"] {
                tables.push(format!("{CATALOG_SCHEMA}.{name}"));
            }
        }
        Ok(Self {
            ctx,
            tables,
            versions,
            read_only: true,
        })
    }

    /// Allows DDL such as `CREATE VIEW` (kept in this session only; the lake is untouched).
    pub fn allow_ddl(mut self) -> Self {
        self.read_only = false;
        self
    }

    /// The DataFusion context, for callers that need more than [`SqlSession::query`].
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Every table the session can query, as `zone.name`.
    pub fn table_names(&self) -> &[String] {
        &self.tables
    }

    /// The Delta version each lake table (`zone.name`) is pinned to in this session.
    pub fn table_version(&self, table: &str) -> Option<i64> {
        self.versions.get(table).copied()
    }

    /// Plans and runs one statement, collecting the rows.
    pub async fn query(&self, sql: &str) -> Result<QueryResult> {
        let options = SQLOptions::new()
            .with_allow_ddl(!self.read_only)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let df = self
            .ctx
            .sql_with_options(sql, options)
            .await
            .map_err(|e| self.explain_error(e))?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await.map_err(|e| self.explain_error(e))?;
        Ok(QueryResult { schema, batches })
    }

    /// The columns of a table (`zone.name`).
    pub async fn schema_of(&self, table: &str) -> Result<SchemaRef> {
        let provider = self
            .ctx
            .table_provider(TableReference::from(table))
            .await
            .map_err(|e| self.explain_error(e))?;
        Ok(provider.schema())
    }

    fn explain_error(&self, e: datafusion::error::DataFusionError) -> Error {
        let message = e.to_string();
        if message.contains("not found") && message.contains("table") {
            let message = message.replace("datafusion.", "");
            let available = if self.tables.is_empty() {
                "none yet (ingest something first, e.g. `reelhouse ingest movielens DIR`)".to_string()
            } else {
                self.tables.join(", ")
            };
            return Error::UnknownTable { message, available };
        }
        Error::from(e)
    }
}

fn internal(msg: &str) -> Error {
    Error::Query {
        message: format!("internal error: {msg} (this is a bug in reelhouse; please report it)"),
    }
}

/// Turns serializable rows into a batch of the given schema.
fn rows_to_batch<T: Serialize>(schema: SchemaRef, rows: &[T]) -> Result<RecordBatch> {
    let mut decoder = arrow::json::ReaderBuilder::new(schema.clone()).build_decoder()?;
    decoder.serialize(rows)?;
    Ok(decoder.flush()?.unwrap_or_else(|| RecordBatch::new_empty(schema)))
}

fn register_mem(ctx: &SessionContext, name: &str, batch: RecordBatch) -> Result<()> {
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
    ctx.register_table(TableReference::partial(CATALOG_SCHEMA, name), Arc::new(table))?;
    Ok(())
}

async fn register_catalog_tables(ctx: &SessionContext, catalog: &Catalog) -> Result<()> {
    let s = |n: &str| Field::new(n, DataType::Utf8, true);
    let i = |n: &str| Field::new(n, DataType::Int64, true);
    let b = |n: &str| Field::new(n, DataType::Boolean, true);

    #[derive(Serialize)]
    struct TableRow {
        table_name: String,
        zone: String,
        name: String,
        description: String,
        tags: String,
        version: i64,
        row_count: i64,
        partition_columns: String,
        location: String,
        size_bytes: i64,
        num_files: i64,
        created_at: String,
        updated_at: String,
    }
    #[derive(Serialize)]
    struct ColumnRow {
        table_name: String,
        position: i64,
        column_name: String,
        data_type: String,
        nullable: bool,
    }
    #[derive(Serialize)]
    struct VersionRow {
        table_name: String,
        version: i64,
        operation: String,
        row_count: i64,
        run_id: String,
        command: String,
        created_at: String,
    }
    #[derive(Serialize)]
    struct LineageRow {
        table_name: String,
        version: i64,
        kind: String,
        source: String,
        source_version: Option<i64>,
        size: Option<i64>,
        sha256: Option<String>,
        modified_at: Option<String>,
        run_id: String,
        command: String,
        created_at: String,
    }

    let entries = catalog.list_tables().await?;
    let mut table_rows = Vec::new();
    let mut column_rows = Vec::new();
    let mut version_rows = Vec::new();
    let mut lineage_rows = Vec::new();
    for e in &entries {
        let table_name = e.table.to_string();
        table_rows.push(TableRow {
            table_name: table_name.clone(),
            zone: e.table.zone.to_string(),
            name: e.table.name.clone(),
            description: e.description.clone(),
            tags: serde_json::to_string(&e.tags).unwrap_or_default(),
            version: e.version,
            row_count: e.row_count,
            partition_columns: e.partition_columns.join(","),
            location: e.location.clone(),
            size_bytes: e.size_bytes,
            num_files: e.num_files,
            created_at: e.created_at.to_rfc3339(),
            updated_at: e.updated_at.to_rfc3339(),
        });
        for (pos, c) in e.columns.iter().enumerate() {
            column_rows.push(ColumnRow {
                table_name: table_name.clone(),
                position: pos as i64 + 1,
                column_name: c.name.clone(),
                data_type: c.data_type.clone(),
                nullable: c.nullable,
            });
        }
        for v in catalog.versions(&e.table).await? {
            version_rows.push(VersionRow {
                table_name: table_name.clone(),
                version: v.version,
                operation: v.operation,
                row_count: v.row_count,
                run_id: v.run_id,
                command: v.command,
                created_at: v.created_at.to_rfc3339(),
            });
        }
        for l in catalog.lineage(&e.table).await? {
            lineage_rows.push(LineageRow {
                table_name: table_name.clone(),
                version: l.version,
                kind: l.kind,
                source: l.source,
                source_version: l.source_version,
                size: l.size,
                sha256: l.sha256,
                modified_at: l.modified_at.map(|t| t.to_rfc3339()),
                run_id: l.run_id,
                command: l.command,
                created_at: l.created_at.to_rfc3339(),
            });
        }
    }

    let tables_schema = Arc::new(Schema::new(vec![
        s("table_name"), s("zone"), s("name"), s("description"), s("tags"), i("version"),
        i("row_count"), s("partition_columns"), s("location"), i("size_bytes"), i("num_files"),
        s("created_at"), s("updated_at"),
    ]));
    let columns_schema = Arc::new(Schema::new(vec![
        s("table_name"), i("position"), s("column_name"), s("data_type"), b("nullable"),
    ]));
    let versions_schema = Arc::new(Schema::new(vec![
        s("table_name"), i("version"), s("operation"), i("row_count"), s("run_id"), s("command"),
        s("created_at"),
    ]));
    let lineage_schema = Arc::new(Schema::new(vec![
        s("table_name"), i("version"), s("kind"), s("source"), i("source_version"), i("size"),
        s("sha256"), s("modified_at"), s("run_id"), s("command"), s("created_at"),
    ]));
    register_mem(ctx, "tables", rows_to_batch(tables_schema, &table_rows)?)?;
    register_mem(ctx, "columns", rows_to_batch(columns_schema, &column_rows)?)?;
    register_mem(ctx, "versions", rows_to_batch(versions_schema, &version_rows)?)?;
    register_mem(ctx, "lineage", rows_to_batch(lineage_schema, &lineage_rows)?)?;
    Ok(())
}
