//! Extracting a table or a query: connect, describe the columns, stream `COPY ... TO STDOUT
//! (FORMAT binary)` through the [`Decoder`].
//!
//! ```text
//!  connect ──> plan: resolve the table (to_regclass) or prepare the query, map every
//!              column's type (pg_attribute / pg_type), build the COPY statement with
//!              WHERE watermark > low
//!          ──> Extraction::start: COPY ... TO STDOUT (FORMAT binary)
//!          ──> next(): batches of `batch_rows` rows, quarantined rows, the highest watermark
//! ```
//!
//! One `COPY` statement sees one snapshot, so an extract is consistent without a
//! transaction around it, and the highest watermark value is taken from the rows that were
//! actually read (no second `max()` query that could see a different snapshot).
use std::str::FromStr;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use futures::StreamExt as _;
use futures::stream::BoxStream;
use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, Column as _, ConnectOptions as _, Executor as _, Row as _, SqlSafeStr as _, Statement as _};

use crate::binary::{BadRow, DecodeStats, Decoder};
use crate::types::{ColumnSpec, MappingOptions, PgKind, TypeRow, builtin_kind};
use crate::watermark::WatermarkValue;
use crate::{Error, Result};

/// What to extract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum Source {
    /// A table or view, `name` or `schema.name` (quoted parts keep their case).
    Table(String),
    /// A `SELECT` (no parameters, no trailing semicolon needed).
    Query(String),
}

impl Source {
    /// `table public.payment` or `query SELECT ...`.
    pub fn describe(&self) -> String {
        match self {
            Source::Table(t) => format!("table {t}"),
            Source::Query(q) => format!("query {}", one_line(q)),
        }
    }
}

fn one_line(q: &str) -> String {
    q.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The URL with the password replaced by `***`.
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    let tail = mask_query_password(tail);
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => format!("{scheme}://{userinfo}@{host}{tail}"),
    }
}

fn mask_query_password(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_string(),
        })
        .collect();
    format!("{path}?{}", parts.join("&"))
}

/// Opens one connection, named `application_name` in `pg_stat_activity`.
pub async fn connect(url: &str, application_name: &str) -> Result<PgConnection> {
    let masked = mask_url(url);
    let opts = PgConnectOptions::from_str(url).map_err(|e| Error::BadUrl {
        url: masked.clone(),
        reason: e.to_string(),
    })?;
    opts.application_name(application_name)
        .connect()
        .await
        .map_err(|source| Error::Connect { url: masked, source })
}

/// `"name"` with inner quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A planned extract: the columns, their Arrow schema and the COPY statement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExtractPlan {
    /// What is extracted.
    pub source: Source,
    /// The table, schema-qualified and quoted as PostgreSQL prints it (tables only).
    pub qualified: Option<String>,
    /// The columns, in order.
    pub columns: Vec<ColumnSpec>,
    /// The watermark column's index and name, if incremental.
    pub watermark: Option<(usize, String)>,
    /// Rows above this value are extracted (`None`: every row).
    pub low: Option<WatermarkValue>,
    /// The `SELECT` the COPY runs.
    pub select: String,
    /// The whole `COPY` statement.
    pub copy: String,
}

impl ExtractPlan {
    /// The Arrow schema of the batches.
    pub fn schema(&self) -> SchemaRef {
        std::sync::Arc::new(Schema::new(self.columns.iter().map(ColumnSpec::field).collect::<Vec<_>>()))
    }

    /// The watermark kind (`timestamp`, `int`, ...), if incremental.
    pub fn watermark_kind(&self) -> Option<&'static str> {
        self.watermark.as_ref().and_then(|(i, _)| WatermarkValue::kind_of(self.columns[*i].kind))
    }
}

/// What to plan.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractRequest {
    /// The table or query.
    pub source: Source,
    /// The watermark column, for an incremental extract.
    pub watermark: Option<String>,
    /// The highest value loaded before (rows above it are extracted).
    pub low: Option<WatermarkValue>,
    /// Type mapping options.
    pub mapping: MappingOptions,
}

/// Describes the source and builds its COPY statement.
pub async fn plan(conn: &mut PgConnection, req: &ExtractRequest) -> Result<ExtractPlan> {
    let (qualified, plain_table, columns, from) = match &req.source {
        Source::Table(t) => {
            let (qualified, relkind) = resolve_table(conn, t).await?;
            let columns = table_columns(conn, &qualified, req.mapping).await?;
            (Some(qualified.clone()), relkind == "r", columns, qualified)
        }
        Source::Query(q) => {
            let q = q.trim().trim_end_matches(';').trim();
            if q.is_empty() {
                return Err(Error::InvalidArgument {
                    what: "--query",
                    value: String::new(),
                    reason: "it is empty; pass a SELECT".into(),
                });
            }
            let from = format!("({q}) AS reel_q");
            let columns = query_columns(conn, &format!("SELECT * FROM {from}"), req.mapping).await?;
            (None, false, columns, from)
        }
    };
    let mut seen = std::collections::HashSet::new();
    for c in &columns {
        if !seen.insert(c.name.as_str()) {
            return Err(Error::BadColumnName {
                column: c.name.clone(),
                reason: "appears twice in the result",
            });
        }
    }
    let watermark = match &req.watermark {
        None => None,
        Some(w) => {
            let Some(i) = columns.iter().position(|c| &c.name == w) else {
                return Err(Error::BadWatermark {
                    column: w.clone(),
                    reason: format!(
                        "the source has no such column (it has {})",
                        columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                });
            };
            let kind = columns[i].kind;
            if !kind.orderable_watermark() {
                return Err(Error::BadWatermark {
                    column: w.clone(),
                    reason: format!(
                        "its type {} is not an integer, numeric, date or timestamp; pick a column such as last_update",
                        columns[i].pg_type
                    ),
                });
            }
            if let Some(low) = &req.low
                && WatermarkValue::kind_of(kind) != Some(low.kind())
            {
                return Err(Error::BadWatermark {
                    column: w.clone(),
                    reason: format!(
                        "it is now {} but the stored watermark is a {}; pass --full-refresh to reload from scratch",
                        columns[i].pg_type,
                        low.kind()
                    ),
                });
            }
            Some((i, w.clone()))
        }
    };
    let list = columns.iter().map(|c| quote_ident(&c.name)).collect::<Vec<_>>().join(", ");
    let predicate = match (&watermark, &req.low) {
        (Some((_, w)), Some(low)) => Some(format!("{} > {}", quote_ident(w), low.sql_literal())),
        _ => None,
    };
    let select = match &predicate {
        Some(p) => format!("SELECT {list} FROM {from} WHERE {p}"),
        None => format!("SELECT {list} FROM {from}"),
    };
    // A plain table copies faster as `COPY table (cols) TO` than through a SELECT.
    let copy = if plain_table && predicate.is_none() {
        format!("COPY {from} ({list}) TO STDOUT (FORMAT binary)")
    } else {
        format!("COPY ({select}) TO STDOUT (FORMAT binary)")
    };
    Ok(ExtractPlan {
        source: req.source.clone(),
        qualified,
        columns,
        watermark,
        low: req.low,
        select,
        copy,
    })
}

async fn resolve_table(conn: &mut PgConnection, t: &str) -> Result<(String, String)> {
    let row = sqlx::query(
        "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relkind::text
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.oid = to_regclass($1)",
    )
    .bind(t)
    .fetch_optional(&mut *conn)
    .await
    .map_err(Error::query(format!("looking up table {t}")))?;
    match row {
        Some(r) => {
            let q: String = r.try_get(0).map_err(Error::query(format!("looking up table {t}")))?;
            let kind: String = r.try_get(1).map_err(Error::query(format!("looking up table {t}")))?;
            if !matches!(kind.as_str(), "r" | "v" | "m" | "p" | "f") {
                return Err(Error::NoSuchTable { table: t.to_string(), found: vec![] });
            }
            Ok((q, kind))
        }
        None => {
            let found: Vec<String> = sqlx::query_scalar(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables
                 WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1 LIMIT 12",
            )
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
            Err(Error::NoSuchTable { table: t.to_string(), found })
        }
    }
}

/// Columns of a table, straight from `pg_attribute` (typmods and NOT NULL included).
async fn table_columns(conn: &mut PgConnection, qualified: &str, mapping: MappingOptions) -> Result<Vec<ColumnSpec>> {
    let action = format!("reading the columns of {qualified}");
    let rows = sqlx::query(
        "SELECT a.attname::text, a.atttypid::int8, a.atttypmod, a.attnotnull, format_type(a.atttypid, a.atttypmod)
         FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY a.attnum",
    )
    .bind(qualified)
    .fetch_all(&mut *conn)
    .await
    .map_err(Error::query(action.clone()))?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let q = || Error::query(action.clone());
        let name: String = r.try_get(0).map_err(q())?;
        let oid: i64 = r.try_get(1).map_err(q())?;
        let typmod: i32 = r.try_get(2).map_err(q())?;
        let notnull: bool = r.try_get(3).map_err(q())?;
        let pg_type: String = r.try_get(4).map_err(q())?;
        let kind = resolve_kind(conn, &name, &pg_type, oid as u32, typmod, mapping).await?;
        out.push(ColumnSpec { name, pg_type, kind, nullable: !notnull });
    }
    Ok(out)
}

/// Columns of a query: prepared (not run), then each column's typmod looked up in
/// `pg_attribute` when it comes straight from a table column. Computed columns have no
/// typmod (a `numeric` expression follows the undeclared-precision rule); every query
/// column is nullable, since an outer join can bring NULLs into a NOT NULL column.
async fn query_columns(conn: &mut PgConnection, select: &str, mapping: MappingOptions) -> Result<Vec<ColumnSpec>> {
    let described: Vec<(String, u32, Option<(u32, i16)>)> = {
        let stmt = (&mut *conn).prepare(AssertSqlSafe(select.to_string()).into_sql_str()).await.map_err(Error::query("preparing the query"))?;
        stmt.columns()
            .iter()
            .map(|c| {
                let oid = c.type_info().oid().map(|o| o.0).unwrap_or(0);
                let origin = c.relation_id().zip(c.relation_attribute_no()).map(|(r, a)| (r.0, a));
                (c.name().to_string(), oid, origin)
            })
            .collect()
    };
    let mut out = Vec::with_capacity(described.len());
    for (name, oid, origin) in described {
        let (typmod, pg_type) = match origin {
            Some((rel, att)) => {
                let row = sqlx::query(
                    "SELECT a.atttypmod, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                     WHERE a.attrelid = $1::int8::oid AND a.attnum = $2",
                )
                .bind(i64::from(rel))
                .bind(att)
                .fetch_optional(&mut *conn)
                .await
                .map_err(Error::query(format!("reading the type of column {name}")))?;
                match row {
                    Some(r) => (
                        r.try_get::<i32, _>(0).map_err(Error::query(format!("reading the type of column {name}")))?,
                        r.try_get::<String, _>(1).map_err(Error::query(format!("reading the type of column {name}")))?,
                    ),
                    None => (-1, type_name(conn, oid).await?),
                }
            }
            None => (-1, type_name(conn, oid).await?),
        };
        let kind = resolve_kind(conn, &name, &pg_type, oid, typmod, mapping).await?;
        out.push(ColumnSpec { name, pg_type, kind, nullable: true });
    }
    Ok(out)
}

async fn type_name(conn: &mut PgConnection, oid: u32) -> Result<String> {
    sqlx::query_scalar("SELECT format_type($1::int8::oid, NULL)")
        .bind(i64::from(oid))
        .fetch_one(&mut *conn)
        .await
        .map_err(Error::query(format!("naming type {oid}")))
}

/// The kind of a column's type: built in, or an enum, a domain (its base type) or citext.
async fn resolve_kind(conn: &mut PgConnection, column: &str, pg_type: &str, oid: u32, typmod: i32, mapping: MappingOptions) -> Result<PgKind> {
    let (mut oid, mut typmod) = (oid, typmod);
    for _ in 0..8 {
        if let Some(k) = builtin_kind(oid, typmod, mapping) {
            return Ok(k);
        }
        let row = sqlx::query("SELECT typname::text, typtype::text, typbasetype::int8, typtypmod FROM pg_type WHERE oid = $1::int8::oid")
            .bind(i64::from(oid))
            .fetch_optional(&mut *conn)
            .await
            .map_err(Error::query(format!("reading the type of column {column}")))?;
        let Some(r) = row else { break };
        let q = || Error::query(format!("reading the type of column {column}"));
        let t = TypeRow {
            name: r.try_get(0).map_err(q())?,
            typtype: r.try_get::<String, _>(1).map_err(q())?.chars().next().unwrap_or('b'),
            base: r.try_get::<i64, _>(2).map_err(q())? as u32,
            base_typmod: r.try_get(3).map_err(q())?,
        };
        match t.typtype {
            'e' => return Ok(PgKind::Text),
            'd' => {
                // A domain's own typmod is on the domain; the column's typmod is -1.
                oid = t.base;
                typmod = if typmod >= 0 { typmod } else { t.base_typmod };
            }
            'b' if t.name == "citext" => return Ok(PgKind::Text),
            _ => break,
        }
    }
    Err(Error::UnsupportedType {
        column: column.to_string(),
        pg_type: pg_type.to_string(),
    })
}

/// What [`Extraction::next`] returns.
#[derive(Debug, Default)]
pub struct Chunk {
    /// Full (or, at the end, the last) batches.
    pub batches: Vec<RecordBatch>,
    /// Rows that went to quarantine.
    pub bad: Vec<BadRow>,
}

/// A running extract: the COPY stream and its decoder.
pub struct Extraction<'c> {
    stream: BoxStream<'c, sqlx::Result<bytes::Bytes>>,
    decoder: Decoder,
    label: String,
    done: bool,
}

impl std::fmt::Debug for Extraction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extraction").field("label", &self.label).field("stats", &self.decoder.stats()).finish_non_exhaustive()
    }
}

impl<'c> Extraction<'c> {
    /// Starts the plan's COPY on `conn`; batches hold at most `batch_rows` rows.
    pub async fn start(conn: &'c mut PgConnection, plan: &ExtractPlan, batch_rows: usize) -> Result<Extraction<'c>> {
        let label = plan.source.describe();
        let decoder = Decoder::try_new(plan.columns.clone(), batch_rows, plan.watermark.as_ref().map(|(i, _)| *i))?;
        let stream = conn
            .copy_out_raw(&plan.copy)
            .await
            .map_err(Error::query(format!("starting the COPY of {label}")))?;
        Ok(Extraction {
            stream,
            decoder,
            label,
            done: false,
        })
    }

    /// The next batches and quarantined rows; `None` once the stream has ended cleanly.
    pub async fn next(&mut self) -> Result<Option<Chunk>> {
        if self.done {
            return Ok(None);
        }
        loop {
            match self.stream.next().await {
                Some(Ok(bytes)) => {
                    self.decoder.feed(&bytes)?;
                    let batches = self.decoder.take_batches();
                    let bad = self.decoder.take_bad_rows();
                    if !batches.is_empty() || !bad.is_empty() {
                        return Ok(Some(Chunk { batches, bad }));
                    }
                }
                Some(Err(e)) => {
                    return Err(Error::Query {
                        action: format!("reading the COPY stream of {} after {} rows", self.label, self.decoder.stats().rows),
                        source: e,
                    });
                }
                None => {
                    self.done = true;
                    let last = self.decoder.finish()?;
                    let bad = self.decoder.take_bad_rows();
                    return Ok(Some(Chunk { batches: last.into_iter().collect(), bad }));
                }
            }
        }
    }

    /// Counts so far.
    pub fn stats(&self) -> DecodeStats {
        self.decoder.stats()
    }

    /// The highest watermark value among the rows loaded so far.
    pub fn high(&self) -> Option<WatermarkValue> {
        self.decoder.high()
    }
}

/// The backend process id of `conn` (what `pg_terminate_backend` takes).
pub async fn backend_pid(conn: &mut PgConnection) -> Result<i32> {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .map_err(Error::query("reading the backend pid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(mask_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(mask_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(mask_url("postgres://u@h/db?password=x&sslmode=off"), "postgres://u@h/db?password=***&sslmode=off");
        assert_eq!(mask_url("postgres://u:p@ss@h/db"), "postgres://u:***@h/db");
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("last_update"), "\"last_update\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }

    #[test]
    fn sources_describe_themselves_on_one_line() {
        assert_eq!(Source::Query("SELECT *\n  FROM payment".into()).describe(), "query SELECT * FROM payment");
        assert_eq!(Source::Table("public.payment".into()).describe(), "table public.payment");
    }
}
