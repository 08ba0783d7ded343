//! `reelhouse report`: list the reports, run one, or run all of them into an HTML page.
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use reel_pipeline::{Env, Progress};
use reel_report::{ALL, ReportId, ReportParams, ReportRun, Skipped};
use reel_sql::{OutputFormat, SqlSession, write_result};
use serde::Serialize;

use super::{display_path, open_env};
use crate::cli::{Format, GlobalArgs, ReportArgs};
use crate::progress::Bar;
use crate::render::{Rows, print};

pub async fn run(g: &GlobalArgs, args: ReportArgs) -> Result<ExitCode> {
    match args.name.as_str() {
        "list" => list(g),
        "all" => {
            if !args.param.is_empty() || args.chart.is_some() {
                anyhow::bail!("`report all` runs every report with its defaults; --param and --chart go with one report, e.g. `reelhouse report top-rated --param min_votes=100 --chart top.svg`");
            }
            let env = open_env(g).await?;
            let out = all(g, &env, args.html.as_deref()).await?;
            Ok(if out == 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        name => {
            let id: ReportId = name.parse()?;
            if args.html.is_some() {
                anyhow::bail!("--html goes with `report all`: `reelhouse report all --html DIR`");
            }
            let params = ReportParams::try_from_pairs(&args.param)?;
            let env = open_env(g).await?;
            one(g, &env, id, &params, args.chart.as_deref(), args.max_rows).await
        }
    }
}

#[derive(Serialize)]
struct ListedReport {
    name: &'static str,
    title: &'static str,
    dataset: reel_report::Dataset,
    tables: &'static [&'static str],
    params: &'static [reel_report::ParamSpec],
    description: &'static str,
}

fn list(g: &GlobalArgs) -> Result<ExitCode> {
    let listed: Vec<ListedReport> = ALL
        .iter()
        .map(|&r| ListedReport {
            name: r.name(),
            title: r.title(),
            dataset: r.dataset(),
            tables: r.tables(),
            params: r.params(),
            description: r.description(),
        })
        .collect();
    if g.format == Format::Table {
        for r in &listed {
            println!("{}  ({})", r.name, r.title);
            println!("  {}", r.description);
            println!("  reads: {}", r.tables.join(", "));
            for p in r.params {
                let default = p.default.map(|d| format!(" [default: {d}]")).unwrap_or_default();
                let kind = match p.kind {
                    reel_report::ParamKind::Int { min, max } => format!("{min}..={max}"),
                    reel_report::ParamKind::Bool => "true|false".into(),
                    reel_report::ParamKind::Choice { values } => values.join("|"),
                    reel_report::ParamKind::Text => "text".into(),
                };
                println!("  --param {}=<{kind}>  {}{default}", p.name, p.help);
            }
            println!();
        }
        println!("Run one: reelhouse report NAME [--param k=v] [--chart FILE.svg|png]; all: reelhouse report all --html DIR");
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = Rows::new(vec!["name", "dataset", "tables", "params", "description"]);
    for r in &listed {
        let params: Vec<String> =
            r.params.iter().map(|p| format!("{}={}", p.name, p.default.unwrap_or(""))).collect();
        rows.push(vec![
            r.name.to_string(),
            format!("{:?}", r.dataset).to_lowercase(),
            r.tables.join(" "),
            params.join(" "),
            r.description.to_string(),
        ]);
    }
    print(g.format, &rows, &listed)?;
    Ok(ExitCode::SUCCESS)
}

fn output_format(f: Format) -> OutputFormat {
    match f {
        Format::Csv => OutputFormat::Csv,
        Format::Json => OutputFormat::Json,
        Format::Table | Format::Parquet => OutputFormat::Table,
    }
}

async fn one(g: &GlobalArgs, env: &Env, id: ReportId, params: &ReportParams, chart: Option<&Path>, max_rows: usize) -> Result<ExitCode> {
    if g.format == Format::Parquet {
        anyhow::bail!("reports print as table, csv or json; for Parquet run its SQL with `reelhouse sql --format parquet --out FILE` (see `reelhouse report list`)");
    }
    // Only the tables this report reads: opening each Delta table reads its log.
    let session = SqlSession::try_new_for(&env.lake, &reel_report::tables_of(&[id])).await.context("opening the lake for SQL")?;
    let bar = Bar::new(g.no_progress);
    bar.begin(id.name(), None);
    let run = reel_report::run(&session, id, params).await;
    bar.end();
    let run = run?;
    if let Some(path) = chart {
        run.chart.write_file(path).with_context(|| format!("drawing the chart of {id}"))?;
        eprintln!("wrote the chart to {}", display_path(path));
    }
    let result = run.table.to_result();
    let mut out = std::io::stdout().lock();
    let format = output_format(g.format);
    if format == OutputFormat::Table && result.num_rows() > max_rows {
        write_result(&result.head(max_rows), format, &mut out)?;
        eprintln!("showing {max_rows} of {} rows; use --max-rows N or --format csv for all", result.num_rows());
    } else {
        write_result(&result, format, &mut out)?;
    }
    Ok(if result.num_rows() == 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

#[derive(Serialize)]
struct AllSummary {
    reports: Vec<RanReport>,
    skipped: Vec<Skipped>,
    html: Option<String>,
    seconds: f64,
}

#[derive(Serialize)]
struct RanReport {
    report: &'static str,
    rows: usize,
    seconds: f64,
}

/// Runs every report; with `html`, writes the page. Returns how many reports ran.
pub async fn all(g: &GlobalArgs, env: &Env, html: Option<&Path>) -> Result<usize> {
    let started = Instant::now();
    let session = SqlSession::try_new_for(&env.lake, &reel_report::tables_of(&ALL)).await.context("opening the lake for SQL")?;
    let bar = Bar::new(g.no_progress);
    bar.begin("reports", Some(ALL.len() as u64));
    let result = reel_report::run_all(&session, &|_| bar.advance(1)).await;
    bar.end();
    let (runs, skipped) = result?;
    let page = match html {
        Some(dir) => Some(write_page(env, dir, &runs, &skipped, started).await?),
        None => None,
    };
    let summary = AllSummary {
        reports: runs.iter().map(|r| RanReport { report: r.id.name(), rows: r.table.len(), seconds: r.seconds }).collect(),
        skipped: skipped.clone(),
        html: page.as_ref().map(|p| p.display().to_string()),
        seconds: started.elapsed().as_secs_f64(),
    };
    let mut rows = Rows::new(vec!["report", "rows", "seconds"]);
    for r in &summary.reports {
        rows.push(vec![r.report.to_string(), r.rows.to_string(), format!("{:.3}", r.seconds)]);
    }
    print(g.format, &rows, &summary)?;
    if g.format == Format::Table {
        for s in &skipped {
            println!("skipped {}", s.reason);
        }
        if let Some(p) = &page {
            println!("wrote {} ({} reports) in {:.2} s", display_path(p), runs.len(), summary.seconds);
        }
    }
    Ok(runs.len())
}

/// Draws every chart and writes DIR/index.html.
pub async fn write_page(env: &Env, dir: &Path, runs: &[ReportRun], skipped: &[Skipped], started: Instant) -> Result<PathBuf> {
    let svgs = runs
        .iter()
        .map(|r| r.chart.to_svg().with_context(|| format!("drawing the chart of {}", r.id)))
        .collect::<Result<Vec<_>>>()?;
    let (tables, sources) = reel_report::html::catalog_facts(&env.catalog).await?;
    let page = reel_report::html::Page {
        title: format!("reelhouse reports: {}", env.workspace.dir.display()),
        built_at: chrono::Utc::now(),
        build_seconds: started.elapsed().as_secs_f64(),
        runs,
        svgs: &svgs,
        skipped,
        tables: &tables,
        sources: &sources,
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("index.html");
    // Written next to the target and renamed, so a reader never sees half a page.
    let tmp = dir.join(".index.html.tmp");
    std::fs::write(&tmp, reel_report::html::render(&page)).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
