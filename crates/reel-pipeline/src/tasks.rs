//! What each task kind does when it runs.
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::LogicalPlan;
use futures::StreamExt as _;
use reel_catalog::{ColumnEntry, NewTableVersion};
use reel_common::template::{self, TemplateError};
use reel_common::{RunId, TableRef};
use reel_lake::WriteMode;
use reel_ml::eval::TopN;
use reel_ml::reco::{Algorithm, Params};

use crate::dag::{IfMissing, IngestTables, Task, TaskKind};
use crate::run::{ReportRequest, RunCtx, TaskDone, TaskFailure, TaskLog};
use crate::{Progress, ingest, train};

/// Progress of a task: nothing drawn, but cancellation (timeouts) passed through.
struct TaskProgress {
    cancel: Arc<AtomicBool>,
    log: Arc<TaskLog>,
}

impl Progress for TaskProgress {
    fn begin(&self, phase: &str, _total: Option<u64>) {
        self.log.line(&format!("{phase}..."));
    }
    fn advance(&self, _n: u64) {}
    fn end(&self) {}
    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }
}

fn render(s: &str, vars: &BTreeMap<String, String>, task: &str) -> Result<String, TemplateError> {
    template::render(s, &|n| if n == "task" { Some(task.to_string()) } else { vars.get(n).cloned() })
}

/// The answer of a task whose input file is not there: skipped (logged, `skip` says why) or
/// a failure worth retrying (`fail` says what has not arrived), as `if_missing` says.
fn missing_input(abs: &Path, rel: &str, if_missing: &IfMissing, log: &TaskLog, skip: &str, fail: &str) -> Result<TaskDone, TaskFailure> {
    match if_missing {
        IfMissing::Skip => {
            log.line(&format!("{} does not exist: {skip}; skipped", abs.display()));
            Ok(TaskDone { output: serde_json::json!({"skipped": format!("{rel} is missing")}), skipped: true })
        }
        IfMissing::Fail => Err(TaskFailure::retry(format!(
            "{} does not exist: {fail} (set if_missing = \"skip\" to skip days without one)",
            abs.display()
        ))),
    }
}

fn fatal<E: std::fmt::Display>(e: E) -> TaskFailure {
    TaskFailure::fatal(e.to_string())
}

/// One line saying what a task would do, templates rendered (for `--dry-run`).
pub(crate) fn describe(kind: &TaskKind, vars: &BTreeMap<String, String>, id: &str) -> Result<String, TemplateError> {
    let r = |s: &str| render(s, vars, id);
    Ok(match kind {
        TaskKind::Ingest { format, path, tables, if_missing } => format!(
            "ingest {format} from {} ({}; if missing: {})",
            r(path)?,
            match tables {
                IngestTables::All => "raw, clean and quarantine tables",
                IngestTables::Raw => "raw and quarantine partitions only",
            },
            match if_missing {
                IfMissing::Fail => "fail",
                IfMissing::Skip => "skip",
            }
        ),
        TaskKind::IngestPostgres { url, table, query, output, watermark } => format!(
            "extract {} from {} into {output}{}",
            match (table, query) {
                (Some(tb), _) => format!("table {}", r(tb)?),
                (None, Some(q)) => format!("query {:?}", r(q)?.split_whitespace().collect::<Vec<_>>().join(" ")),
                (None, None) => "nothing".into(),
            },
            match url.as_ref().map(|u| r(u)).transpose()? {
                Some(u) if !u.trim().is_empty() => reel_postgres::mask_url(&u),
                _ => "$REELHOUSE_POSTGRES_URL".into(),
            },
            watermark.as_ref().map(|w| format!(", incrementally by {w}")).unwrap_or_default()
        ),
        TaskKind::IngestReviews { path, if_missing } => format!(
            "ingest the review file {} into raw, clean and quarantine.reviews (if missing: {})",
            r(path)?,
            match if_missing {
                IfMissing::Fail => "fail",
                IfMissing::Skip => "skip",
            }
        ),
        TaskKind::Sentiment { model, table, output } => format!(
            "label the reviews of {table} ds={} with the sentiment model {model}, replace that partition of {output}",
            vars.get("ds").cloned().unwrap_or_default()
        ),
        TaskKind::Sql { sql, output, partition, .. } => {
            let how = match partition {
                Some(c) => format!("replace partition {c}={} of {output}", vars.get("ds").cloned().unwrap_or_default()),
                None => format!("replace {output}"),
            };
            let text = r(sql)?;
            let code: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with("--")).collect();
            format!("{how} with: {}", code.join(" ").split_whitespace().collect::<Vec<_>>().join(" "))
        }
        TaskKind::Validate { table, expectations } => format!(
            "validate {table} against {}",
            expectations.as_ref().map_or_else(|| format!("expectations/{table}.toml"), |p| p.display().to_string())
        ),
        TaskKind::Train { model, algo, params, table, split, seed } => {
            let p: Vec<String> = params.iter().map(|(k, v)| Ok(format!("{k}={}", r(v)?))).collect::<Result<_, TemplateError>>()?;
            format!("train {} ({}) on {table} split {split} seed {seed}, register as {model}", r(algo)?, p.join(" "))
        }
        TaskKind::Evaluate { model, from, max_rmse, min_ndcg } => format!(
            "evaluate {model}{} on its held-out data{}{}",
            from.as_ref().map(|f| format!(" (the version of {f})")).unwrap_or_default(),
            max_rmse.map(|m| format!("; fail if RMSE > {m}")).unwrap_or_default(),
            min_ndcg.map(|m| format!("; fail if NDCG@10 < {m}")).unwrap_or_default()
        ),
        TaskKind::Promote { model, alias, force, .. } => {
            format!("promote {model} to {alias}{}", if *force { " (forced)" } else { " if it beats the current one (the gate)" })
        }
        TaskKind::Report { report, chart, html, .. } => format!(
            "report {}{}{}",
            r(report)?,
            chart.as_ref().map(|c| r(c).map(|c| format!(" chart {c}"))).transpose()?.unwrap_or_default(),
            html.as_ref().map(|c| r(c).map(|c| format!(" html {c}"))).transpose()?.unwrap_or_default()
        ),
        TaskKind::Shell { command, .. } => format!("sh -c {:?}", r(command)?),
    })
}

/// Runs one attempt of `t`.
pub(crate) async fn execute(
    ctx: &RunCtx,
    t: &Task,
    log: &Arc<TaskLog>,
    cancel: &Arc<AtomicBool>,
    upstream: &HashMap<String, serde_json::Value>,
) -> Result<TaskDone, TaskFailure> {
    let r = |s: &str| render(s, &ctx.vars, &t.id).map_err(fatal);
    let progress = TaskProgress { cancel: cancel.clone(), log: log.clone() };
    let ws = ctx.env.workspace.dir.clone();
    let done = |output: serde_json::Value| Ok(TaskDone { output, skipped: false });
    match &t.kind {
        TaskKind::Ingest { path, tables, if_missing, .. } => {
            let rel = r(path)?;
            let abs = ws.join(&rel);
            if !abs.exists() {
                let (skip, fail) = (format!("nothing to ingest for {}", ctx.ds), format!("no drop for {} yet", ctx.ds));
                return missing_input(&abs, &rel, if_missing, log, &skip, &fail);
            }
            let req = ingest::IngestRequest::new(&abs, &format!("{} (task {})", ctx.command, t.id))
                .with_ds(ctx.ds)
                .with_raw_only(*tables == IngestTables::Raw);
            let out = ingest::ingest_movielens(&ctx.env, &req, &progress).await?;
            for c in &out.counts {
                log.line(&format!("{}: {} read, {} loaded, {} quarantined, {} duplicates", c.table, c.read, c.loaded, c.quarantined, c.duplicates));
            }
            for tb in &out.tables {
                log.line(&format!("wrote {}@{} ({} rows)", tb.table, tb.version, tb.rows_written));
            }
            done(serde_json::to_value(&out).unwrap_or_default())
        }
        TaskKind::IngestPostgres { url, table, query, output, watermark } => {
            let url = match url {
                Some(u) => r(u)?,
                None => String::new(),
            };
            let url = if url.trim().is_empty() { std::env::var("REELHOUSE_POSTGRES_URL").unwrap_or_default() } else { url };
            if url.trim().is_empty() {
                return Err(TaskFailure::fatal(format!(
                    "task {}: no PostgreSQL URL: give the task `url = \"{{{{ params.postgres_url }}}}\"` and run with --param postgres_url=postgres://..., or set $REELHOUSE_POSTGRES_URL",
                    t.id
                )));
            }
            let source = match (table, query) {
                (Some(tb), _) => reel_postgres::Source::Table(r(tb)?),
                (None, Some(q)) => reel_postgres::Source::Query(r(q)?),
                (None, None) => return Err(TaskFailure::fatal(format!("task {}: neither table nor query", t.id))),
            };
            let mut req = crate::postgres::PgIngestRequest::new(&url, source, output.clone(), &format!("{} (task {})", ctx.command, t.id));
            req.watermark = watermark.clone();
            req.ds = ctx.ds;
            let o = crate::postgres::ingest_postgres(&ctx.env, &req, &progress).await?;
            log.line(&format!(
                "extracted {} rows of {} into {}@{} ({}{}; {} attempt{})",
                o.rows,
                o.source,
                o.table,
                o.version,
                o.mode,
                o.high.as_ref().map(|h| format!(", watermark {} -> {h}", o.low.as_deref().unwrap_or("(first load)"))).unwrap_or_default(),
                o.attempts,
                if o.attempts == 1 { "" } else { "s" }
            ));
            if o.quarantined > 0 {
                log.line(&format!("{} rows could not be stored and are in {}", o.quarantined, o.quarantine_table.as_deref().unwrap_or("quarantine")));
            }
            done(serde_json::to_value(&o).unwrap_or_default())
        }
        TaskKind::IngestReviews { path, if_missing } => {
            let rel = r(path)?;
            let abs = ws.join(&rel);
            if !abs.is_file() {
                let skip = format!("no review file for {}", ctx.ds);
                let fail = format!("the vendor's review file for {} has not arrived", ctx.ds);
                return missing_input(&abs, &rel, if_missing, log, &skip, &fail);
            }
            let req = crate::reviews::ReviewsRequest { path: abs, ds: ctx.ds, command: format!("{} (task {})", ctx.command, t.id) };
            let o = crate::reviews::ingest_reviews(&ctx.env, &req, &progress).await?;
            log.line(&format!(
                "{}: {} lines read, {} reviews loaded, {} quarantined, {} duplicates, {} already loaded on another day",
                o.path, o.read, o.loaded, o.quarantined, o.duplicates, o.already_loaded
            ));
            done(serde_json::to_value(&o).unwrap_or_default())
        }
        TaskKind::Sentiment { model, table, output } => sentiment_task(ctx, t, model, table, output, log).await,
        TaskKind::Sql { sql, output, partition, description, .. } => {
            let sql = r(sql)?;
            sql_task(ctx, t, &sql, output, partition.as_deref(), description.as_deref(), log).await
        }
        TaskKind::Validate { table, expectations } => {
            let path = match expectations {
                Some(p) => ws.join(p),
                None => reel_quality::Suite::default_path(&ws, table),
            };
            let suite = reel_quality::Suite::from_file(&path).map_err(fatal)?;
            if &suite.table != table {
                return Err(TaskFailure::fatal(format!("{} validates {}, not {table}", path.display(), suite.table)));
            }
            let session = reel_sql::SqlSession::try_new(&ctx.env.lake, None).await.map_err(|e| TaskFailure::retry(e.to_string()))?;
            let report = reel_quality::validate(&session, &suite, &reel_quality::ValidateOptions::for_day(ctx.ds)).await.map_err(fatal)?;
            report.store(&ctx.env.catalog, Some((&ctx.run_id, &t.id))).await.map_err(|e| TaskFailure::retry(e.to_string()))?;
            log.line(&report.to_text());
            let output = serde_json::json!({
                "validation_id": report.validation_id,
                "table": report.table,
                "version": report.table_version,
                "status": report.status,
                "errors": report.errors(),
                "warnings": report.warnings(),
                "rows": report.rows,
                "scans": report.scans,
            });
            if report.status == reel_quality::Status::Failed {
                let failed: Vec<String> = report
                    .results
                    .iter()
                    .filter(|o| !o.passed && o.severity == reel_quality::Severity::Error)
                    .map(|o| format!("{} ({})", o.name, o.summary))
                    .collect();
                return Err(TaskFailure::fatal(format!(
                    "{} error expectation{} failed on {}@{}: {}",
                    failed.len(),
                    if failed.len() == 1 { "" } else { "s" },
                    report.table,
                    report.table_version,
                    failed.join("; ")
                )));
            }
            done(output)
        }
        TaskKind::Train { model, algo, params, table, split, seed } => {
            let algo_name = r(algo)?;
            let algorithm: Algorithm = algo_name.parse().map_err(fatal)?;
            let mut settings: Vec<(String, String)> = Vec::new();
            for (k, v) in params {
                // An empty value means the algorithm's default (so one pipeline file can
                // switch to an algorithm without that knob: --param factors=).
                let v = r(v)?;
                if !v.trim().is_empty() {
                    settings.push((k.clone(), v));
                }
            }
            let defaults = algorithm.default_params().values();
            if !settings.iter().any(|(k, _)| k == "seed") && defaults.get("seed").is_some() {
                settings.push(("seed".into(), seed.to_string()));
            }
            let p = Params::with_settings(algorithm, &settings).map_err(fatal)?;
            p.check().map_err(fatal)?;
            let req = train::TrainRequest {
                name: model.clone(),
                params: p,
                source: train::TrainSource::Table { table: table.clone(), version: None, split: split.clone(), seed: *seed },
                topn: Some(TopN::default()),
                max_eval_users: 5000,
                register: true,
                command: format!("{} (task {})", ctx.command, t.id),
            };
            let out = train::train(&ctx.env, &req, &progress).await.map_err(|e| {
                if cancel.load(Ordering::SeqCst) { TaskFailure::retry("cancelled (timeout)") } else { TaskFailure::from(e) }
            })?;
            log.line(&format!(
                "trained {model}@{} ({}) on {} ratings in {:.2} s: {}",
                out.version.unwrap_or(0),
                out.algorithm,
                out.train_rows,
                out.fit_seconds,
                serde_json::to_string(&out.metrics).unwrap_or_default()
            ));
            done(serde_json::json!({
                "model": model,
                "version": out.version,
                "algorithm": out.algorithm,
                "params": out.params,
                "metrics": out.metrics,
                "fit_seconds": out.fit_seconds,
            }))
        }
        TaskKind::Evaluate { model, from, max_rmse, min_ndcg } => {
            let v = version_of(ctx, t, model, from.as_deref(), upstream).await?;
            let mv = train::resolve(&ctx.env, &format!("{model}@{v}")).await?;
            let prepared = train::held_out(&ctx.env, &mv, &progress).await?;
            let m = train::load_model(&ctx.env, &mv).await?;
            let topn = TopN::default();
            let metrics = tokio::task::block_in_place(|| train::evaluate(m.as_ref(), &prepared, Some(&topn), 5000, 42))?;
            log.line(&format!("{model}@{v} on {} held-out rows: {}", metrics.test_rows, serde_json::to_string(&metrics).unwrap_or_default()));
            let out = serde_json::json!({"model": model, "version": v, "metrics": metrics});
            if let (Some(limit), Some(rmse)) = (max_rmse, metrics.rmse) {
                if rmse > *limit {
                    return Err(TaskFailure::fatal(format!("{model}@{v} has RMSE {rmse:.4} on its held-out data, above max_rmse = {limit}")));
                }
            }
            if let Some(limit) = min_ndcg {
                let ndcg = metrics.ndcg_at_k.unwrap_or(0.0);
                if ndcg < *limit {
                    return Err(TaskFailure::fatal(format!("{model}@{v} has NDCG@10 {ndcg:.4}, below min_ndcg = {limit}")));
                }
            }
            done(out)
        }
        TaskKind::Promote { model, from, alias, force, fail_if_refused } => {
            let v = version_of(ctx, t, model, from.as_deref(), upstream).await?;
            let verdict = train::promote(&ctx.env, model, v, alias, *force, &progress).await?;
            log.line(&verdict.reason);
            if !verdict.promoted && *fail_if_refused {
                return Err(TaskFailure::fatal(format!("the gate refused: {}", verdict.reason)));
            }
            done(serde_json::to_value(&verdict).unwrap_or_default())
        }
        TaskKind::Report { report, params, chart, html } => {
            let Some(runner) = ctx.reports.clone() else {
                return Err(TaskFailure::fatal(
                    "report tasks need the report pack, and this reelhouse was built without one (`reelhouse report` is missing); \
                     refresh report tables with a sql task instead",
                ));
            };
            let mut p = BTreeMap::new();
            for (k, v) in params {
                p.insert(k.clone(), r(v)?);
            }
            let req = ReportRequest {
                workspace: ws.clone(),
                report: r(report)?,
                params: p,
                chart: chart.as_ref().map(|c| r(c).map(|c| ws.join(c))).transpose()?,
                html: html.as_ref().map(|c| r(c).map(|c| ws.join(c))).transpose()?,
                ds: ctx.ds.to_string(),
            };
            log.line(&format!("report {} {:?}", req.report, req.params));
            let out = runner.run(req).await.map_err(TaskFailure::retry)?;
            done(out)
        }
        TaskKind::Shell { command, env } => {
            let cmd = r(command)?;
            let mut vars: Vec<(String, String)> = vec![
                ("REELHOUSE_DS".into(), ctx.ds.to_string()),
                ("REELHOUSE_RUN_ID".into(), ctx.run_id.clone()),
                ("REELHOUSE_PIPELINE".into(), ctx.pipeline.name.clone()),
                ("REELHOUSE_TASK".into(), t.id.clone()),
                ("REELHOUSE_WORKSPACE".into(), ws.display().to_string()),
            ];
            for (k, v) in env {
                vars.push((k.clone(), r(v)?));
            }
            shell(&cmd, &ws, &vars, log, cancel).await
        }
    }
}

/// The version a model task acts on: the `from` train task's, else the nearest upstream
/// train task's, else the latest registered.
async fn version_of(
    ctx: &RunCtx,
    t: &Task,
    model: &str,
    from: Option<&str>,
    upstream: &HashMap<String, serde_json::Value>,
) -> Result<i64, TaskFailure> {
    let of = |id: &str| upstream.get(id).and_then(|o| o["version"].as_i64());
    if let Some(f) = from {
        return of(f).ok_or_else(|| TaskFailure::fatal(format!("task {f} registered no model version (did it run in this run?)")));
    }
    let trains: Vec<&Task> = ctx
        .pipeline
        .tasks
        .iter()
        .filter(|x| matches!(&x.kind, TaskKind::Train { model: m, .. } if m == model) && upstream.contains_key(&x.id))
        .collect();
    if let Some(v) = trains.iter().rev().find_map(|x| of(&x.id)) {
        return Ok(v);
    }
    let versions = ctx.env.catalog.model_versions(model).await.map_err(|e| TaskFailure::retry(e.to_string()))?;
    let _ = t;
    versions.first().map(|v| v.version).ok_or_else(|| TaskFailure::fatal(format!("no version of model {model:?} is registered; add a train task upstream")))
}

/// Every table a plan reads, subqueries included.
fn tables_read(plan: &LogicalPlan) -> Vec<String> {
    let mut names = Vec::new();
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let n = scan.table_name.to_string();
            if !names.contains(&n) {
                names.push(n);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    names
}

async fn sql_task(
    ctx: &RunCtx,
    t: &Task,
    sql: &str,
    output: &TableRef,
    partition: Option<&str>,
    description: Option<&str>,
    log: &TaskLog,
) -> Result<TaskDone, TaskFailure> {
    let session = reel_sql::SqlSession::try_new(&ctx.env.lake, Some(&ctx.env.catalog)).await.map_err(|e| TaskFailure::retry(e.to_string()))?;
    let options = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
    let df = session
        .context()
        .sql_with_options(sql, options)
        .await
        .map_err(|e| TaskFailure::fatal(format!("the SQL of {} does not plan: {}", t.id, e.find_root())))?;
    let upstream: Vec<(TableRef, i64)> = tables_read(df.logical_plan())
        .into_iter()
        .filter_map(|n| {
            let v = session.table_version(&n)?;
            Some((n.parse::<TableRef>().ok()?, v))
        })
        .collect();
    let mut schema = Arc::new(df.schema().as_arrow().clone());
    let ds = ctx.ds.to_string();
    let add_partition = match partition {
        Some(c) if schema.field_with_name(c).is_err() => {
            let mut fields: Vec<arrow::datatypes::FieldRef> = schema.fields().iter().cloned().collect();
            fields.push(Arc::new(arrow::datatypes::Field::new(c, arrow::datatypes::DataType::Utf8, false)));
            schema = Arc::new(arrow::datatypes::Schema::new(fields));
            true
        }
        _ => false,
    };
    let mut info = serde_json::Map::new();
    info.insert("run_id".into(), ctx.run_id.clone().into());
    info.insert("pipeline".into(), ctx.pipeline.name.clone().into());
    info.insert("task".into(), t.id.clone().into());
    info.insert("ds".into(), ds.clone().into());
    let writer = ctx.env.lake.writer(output, schema.clone()).with_commit_info(info);
    let mut writer = match partition {
        Some(c) => writer
            .with_partition_columns(vec![c.to_string()])
            .with_mode(WriteMode::ReplacePartition { column: c.into(), value: ds.clone() }),
        None => writer.with_partition_columns(vec![]).with_mode(WriteMode::Overwrite),
    };
    let mut stream = df.execute_stream().await.map_err(|e| TaskFailure::retry(format!("running the SQL of {}: {}", t.id, e.find_root())))?;
    let mut failure = None;
    while let Some(b) = stream.next().await {
        let b = match b {
            Ok(b) => b,
            Err(e) => {
                failure = Some(TaskFailure::retry(format!("running the SQL of {}: {}", t.id, e.find_root())));
                break;
            }
        };
        let b = if add_partition {
            let mut cols = b.columns().to_vec();
            cols.push(Arc::new(arrow::array::StringArray::from(vec![ds.as_str(); b.num_rows()])));
            match arrow::record_batch::RecordBatch::try_new(schema.clone(), cols) {
                Ok(b) => b,
                Err(e) => {
                    failure = Some(TaskFailure::fatal(e.to_string()));
                    break;
                }
            }
        } else {
            b
        };
        if let Err(e) = writer.write(b).await {
            failure = Some(TaskFailure::fatal(e.to_string()));
            break;
        }
    }
    if let Some(f) = failure {
        let _ = writer.abort().await;
        return Err(f);
    }
    let m = writer.commit().await.map_err(|e| {
        // A row outside the run day's partition is the query's fault, not the disk's.
        let msg = e.to_string();
        if matches!(e, reel_lake::Error::PartitionValueMismatch { .. }) { TaskFailure::fatal(msg) } else { TaskFailure::retry(msg) }
    })?;
    let lake_info = ctx.env.lake.info(output).await.map_err(|e| TaskFailure::retry(e.to_string()))?;
    let now = Utc::now();
    let mut tags = BTreeMap::new();
    tags.insert("pipeline".to_string(), ctx.pipeline.name.clone());
    tags.insert("task".to_string(), t.id.clone());
    ctx.env
        .catalog
        .record_version(NewTableVersion {
            table: output.clone(),
            version: m.version,
            operation: match partition {
                Some(c) => format!("replace {c}={ds}"),
                None => "overwrite".into(),
            },
            columns: ColumnEntry::from_schema(&lake_info.schema),
            row_count: lake_info.row_count.map_or(-1, |n| n as i64),
            partition_columns: lake_info.partition_columns.clone(),
            location: lake_info.location.clone(),
            size_bytes: lake_info.size_bytes as i64,
            num_files: lake_info.num_files as i64,
            run_id: RunId(ctx.run_id.clone()),
            command: format!("{} (task {})", ctx.command, t.id),
            created_at: now,
            description: description.map(str::to_string).or_else(|| Some(format!("SQL model {} of pipeline {}", t.id, ctx.pipeline.name))),
            tags,
            sources: Vec::new(),
            upstream: upstream.clone(),
        })
        .await
        .map_err(|e| TaskFailure::retry(e.to_string()))?;
    log.line(&format!(
        "wrote {output}@{} ({} rows{}), from {}",
        m.version,
        m.rows_written,
        partition.map(|c| format!(", partition {c}={ds}")).unwrap_or_default(),
        upstream.iter().map(|(t, v)| format!("{t}@{v}")).collect::<Vec<_>>().join(", ")
    ));
    Ok(TaskDone {
        output: serde_json::json!({
            "table": output.to_string(),
            "version": m.version,
            "rows": m.rows_written,
            "partition": partition.map(|c| format!("{c}={ds}")),
            "upstream": upstream.iter().map(|(t, v)| format!("{t}@{v}")).collect::<Vec<_>>(),
        }),
        skipped: false,
    })
}

/// Labels the run day's reviews of `table` with the registered sentiment model `model` and
/// replaces that day's partition of `output` with them (the input's columns, then
/// `sentiment` and `positive_review`).
async fn sentiment_task(ctx: &RunCtx, t: &Task, model: &str, table: &TableRef, output: &TableRef, log: &TaskLog) -> Result<TaskDone, TaskFailure> {
    use arrow::array::{Array, BooleanArray, StringArray};
    let retry = |e: &dyn std::fmt::Display| TaskFailure::retry(e.to_string());
    let name = model.split(['@', ':']).next().unwrap_or(model);
    let versions = ctx.env.catalog.model_versions(name).await.map_err(|e| retry(&e))?;
    if versions.is_empty() {
        return Err(TaskFailure::fatal(format!(
            "task {}: no sentiment model {name:?} is registered; train one first: `reelhouse train sentiment --name {name}` (on clean.reviews) or `--train FILE --test FILE`",
            t.id
        )));
    }
    let mv = train::resolve(&ctx.env, model).await?;
    let m = crate::sentiment::load_sentiment(&ctx.env, &mv).await?;
    if !ctx.env.lake.exists(table).await.map_err(|e| retry(&e))? {
        return Err(TaskFailure::fatal(format!("task {}: {table} does not exist; load reviews first (an ingest task with format = \"reviews\")", t.id)));
    }
    let ds = ctx.ds.to_string();
    let session = reel_sql::SqlSession::try_new(&ctx.env.lake, None).await.map_err(|e| retry(&e))?;
    let res = session
        .query(&format!("SELECT * FROM {table} WHERE ds = '{ds}'"))
        .await
        .map_err(|e| TaskFailure::fatal(format!("task {}: reading {table} ds={ds}: {e}", t.id)))?;
    let in_version = session.table_version(&table.to_string());
    let text_col = ["text", "review_text"]
        .iter()
        .find_map(|c| res.schema.index_of(c).ok())
        .ok_or_else(|| TaskFailure::fatal(format!("task {}: {table} has no text (or review_text) column", t.id)))?;
    let mut fields: Vec<arrow::datatypes::FieldRef> = res.schema.fields().iter().cloned().collect();
    fields.push(Arc::new(arrow::datatypes::Field::new("sentiment", arrow::datatypes::DataType::Utf8, false)));
    fields.push(Arc::new(arrow::datatypes::Field::new("positive_review", arrow::datatypes::DataType::Boolean, false)));
    let schema = Arc::new(arrow::datatypes::Schema::new(fields));
    let mut info = serde_json::Map::new();
    info.insert("run_id".into(), ctx.run_id.clone().into());
    info.insert("pipeline".into(), ctx.pipeline.name.clone().into());
    info.insert("task".into(), t.id.clone().into());
    info.insert("ds".into(), ds.clone().into());
    info.insert("model".into(), format!("{}@{}", mv.name, mv.version).into());
    let mut writer = ctx
        .env
        .lake
        .writer(output, schema.clone())
        .with_commit_info(info)
        .with_partition_columns(vec!["ds".into()])
        .with_mode(WriteMode::ReplacePartition { column: "ds".into(), value: ds.clone() });
    let (mut rows, mut positive) = (0u64, 0u64);
    for b in &res.batches {
        let texts = arrow::compute::cast(b.column(text_col), &arrow::datatypes::DataType::Utf8).map_err(|e| TaskFailure::fatal(e.to_string()))?;
        let texts = texts.as_any().downcast_ref::<StringArray>().ok_or_else(|| TaskFailure::fatal("the text column is not text"))?;
        let docs: Vec<String> = (0..texts.len()).map(|i| if texts.is_null(i) { String::new() } else { texts.value(i).to_string() }).collect();
        let classes = tokio::task::block_in_place(|| m.classify(&docs));
        let labels: Vec<&str> = classes.iter().map(|&c| m.labels.get(c).map_or("unknown", String::as_str)).collect();
        let pos: Vec<bool> = labels.iter().map(|l| *l == "positive").collect();
        rows += docs.len() as u64;
        positive += pos.iter().filter(|p| **p).count() as u64;
        let mut cols = b.columns().to_vec();
        cols.push(Arc::new(StringArray::from(labels)));
        cols.push(Arc::new(BooleanArray::from(pos)));
        let out = arrow::record_batch::RecordBatch::try_new(schema.clone(), cols).map_err(|e| TaskFailure::fatal(e.to_string()))?;
        if let Err(e) = writer.write(out).await {
            let _ = writer.abort().await;
            return Err(TaskFailure::fatal(e.to_string()));
        }
    }
    let done = writer.commit().await.map_err(|e| retry(&e))?;
    let lake_info = ctx.env.lake.info(output).await.map_err(|e| retry(&e))?;
    let mut tags = BTreeMap::new();
    tags.insert("pipeline".to_string(), ctx.pipeline.name.clone());
    tags.insert("task".to_string(), t.id.clone());
    tags.insert("model".to_string(), format!("{}@{}", mv.name, mv.version));
    ctx.env
        .catalog
        .record_version(NewTableVersion {
            table: output.clone(),
            version: done.version,
            operation: format!("replace ds={ds}"),
            columns: ColumnEntry::from_schema(&lake_info.schema),
            row_count: lake_info.row_count.map_or(-1, |n| n as i64),
            partition_columns: lake_info.partition_columns.clone(),
            location: lake_info.location.clone(),
            size_bytes: lake_info.size_bytes as i64,
            num_files: lake_info.num_files as i64,
            run_id: RunId(ctx.run_id.clone()),
            command: format!("{} (task {})", ctx.command, t.id),
            created_at: Utc::now(),
            description: Some(format!("{table} labelled negative / neutral / positive by the sentiment model {}", mv.name)),
            tags,
            sources: Vec::new(),
            upstream: in_version.map(|v| vec![(table.clone(), v)]).unwrap_or_default(),
        })
        .await
        .map_err(|e| retry(&e))?;
    log.line(&format!("labelled {rows} reviews of {table} ds={ds} with {}@{}: {positive} positive; wrote {output}@{}", mv.name, mv.version, done.version));
    Ok(TaskDone {
        output: serde_json::json!({
            "table": output.to_string(),
            "version": done.version,
            "rows": rows,
            "positive": positive,
            "model": format!("{}@{}", mv.name, mv.version),
        }),
        skipped: false,
    })
}

/// Kills a process group when dropped (a timeout or an abort drops the task's future).
struct GroupGuard {
    pgid: Option<u32>,
}

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // `kill` the command: std has no killpg, and this keeps the crate free of unsafe.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn shell(cmd: &str, dir: &Path, env: &[(String, String)], log: &Arc<TaskLog>, cancel: &Arc<AtomicBool>) -> Result<TaskDone, TaskFailure> {
    use tokio::io::{AsyncBufReadExt, BufReader};
    log.line(&format!("$ {cmd}"));
    let mut command = tokio::process::Command::new("sh");
    command
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| TaskFailure::fatal(format!("cannot start sh: {e}")))?;
    let mut guard = GroupGuard { pgid: child.id() };
    let out = child.stdout.take();
    let err = child.stderr.take();
    let pump = |r: Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>, log: Arc<TaskLog>, tail: Arc<std::sync::Mutex<Vec<String>>>| async move {
        let Some(r) = r else { return };
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(l)) = lines.next_line().await {
            log.line(&l);
            if let Ok(mut t) = tail.lock() {
                t.push(l);
                if t.len() > 5 {
                    t.remove(0);
                }
            }
        }
    };
    let tail = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let a = tokio::spawn(pump(out.map(|o| Box::new(o) as Box<dyn tokio::io::AsyncRead + Send + Unpin>), log.clone(), tail.clone()));
    let b = tokio::spawn(pump(err.map(|o| Box::new(o) as Box<dyn tokio::io::AsyncRead + Send + Unpin>), log.clone(), tail.clone()));
    let status = loop {
        tokio::select! {
            s = child.wait() => break s,
            _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => {
                if cancel.load(Ordering::SeqCst) {
                    guard.kill();
                    let _ = child.kill().await;
                    return Err(TaskFailure::retry("cancelled"));
                }
            }
        }
    };
    let _ = a.await;
    let _ = b.await;
    // The command is over; nothing is left to kill (its own background children are its
    // business, as with cron).
    guard.pgid = None;
    let status = status.map_err(|e| TaskFailure::retry(format!("waiting for sh: {e}")))?;
    if status.success() {
        return Ok(TaskDone { output: serde_json::json!({"exit_code": 0}), skipped: false });
    }
    let last = tail.lock().map(|t| t.join(" | ")).unwrap_or_default();
    let code = status.code().map_or_else(|| "killed by a signal".to_string(), |c| format!("exit status {c}"));
    Err(TaskFailure::retry(if last.is_empty() { format!("the command failed: {code}") } else { format!("the command failed: {code}; last output: {last}") }))
}
