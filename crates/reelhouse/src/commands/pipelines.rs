//! `reelhouse run`, `reelhouse runs`, `reelhouse scheduler`, `reelhouse pipeline`.
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use futures::future::BoxFuture;
use reel_common::Ds;
use reel_pipeline::clock::SystemClock;
use reel_pipeline::dag;
use reel_pipeline::run::{ReportRequest, ReportRunner, RunEvents, RunOptions, RunOutcome, Runner, TaskStatus};
use reel_pipeline::scheduler::{Scheduled, Scheduler};
use serde::Serialize;

use super::{command_line, open_env};
use crate::cli::{Format, GlobalArgs};
use crate::render::{Rows, print};

/// `reelhouse run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline: pipelines/NAME.toml in the workspace
    #[arg(value_name = "NAME")]
    pub name: String,

    /// Run day (YYYY-MM-DD) [default: today]
    #[arg(long, value_name = "DAY", conflicts_with_all = ["from", "to"])]
    pub ds: Option<String>,

    /// Backfill: first day of the range (with --to), run in day order
    #[arg(long, value_name = "DAY", requires = "to")]
    pub from: Option<String>,

    /// Backfill: last day of the range (inclusive)
    #[arg(long, value_name = "DAY", requires = "from")]
    pub to: Option<String>,

    /// Run only these tasks (comma-separated or repeated); upstream is taken as done
    #[arg(long, value_name = "TASK", value_delimiter = ',')]
    pub only: Vec<String>,

    /// Rerun what failed or never finished in the day's latest run; reuse the rest
    #[arg(long)]
    pub rerun_failed: bool,

    /// Print the plan (tasks in order, templates rendered) and change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Override a pipeline parameter, NAME=VALUE (repeatable)
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub param: Vec<String>,

    /// One attempt per task (when another scheduler, e.g. Airflow, owns retries)
    #[arg(long)]
    pub no_retries: bool,

    /// Tasks at once [default: the pipeline's max_parallel]
    #[arg(long, value_name = "N")]
    pub max_parallel: Option<usize>,
}

/// `reelhouse runs`.
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Pipeline runs, newest first
    #[command(after_help = "Examples:\n  reelhouse runs list\n  reelhouse runs list --pipeline movielens_daily --limit 5 --format json")]
    List(RunsListArgs),
    /// One run: its tasks, attempts, errors and logs
    #[command(after_help = "Examples:\n  reelhouse runs show 01938c2e\n  reelhouse runs show 01938c2e --log validate")]
    Show(RunsShowArgs),
}

#[derive(Debug, Args)]
pub struct RunsListArgs {
    /// Only this pipeline
    #[arg(long, value_name = "NAME")]
    pub pipeline: Option<String>,
    /// Only this run day
    #[arg(long, value_name = "DAY")]
    pub ds: Option<String>,
    /// Most runs to list
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct RunsShowArgs {
    /// The run id (a unique prefix is enough)
    #[arg(value_name = "RUN")]
    pub run: String,
    /// Print the full log of this task (every attempt)
    #[arg(long, value_name = "TASK")]
    pub log: Option<String>,
}

/// `reelhouse scheduler`.
#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// One pass over the due days, then exit (for cron or tests)
    #[arg(long)]
    pub once: bool,
    /// Only these pipelines (comma-separated or repeated)
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub pipeline: Vec<String>,
    /// Time between passes
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub poll: String,
}

/// `reelhouse pipeline`.
#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Every pipeline of the workspace with its schedule and last run
    List,
    /// Check a pipeline file and show its tasks in order
    #[command(after_help = "Example:\n  reelhouse pipeline show movielens_daily")]
    Show(PipelineNameArg),
    /// Write an Airflow DAG file that runs the pipeline's tasks through this CLI
    #[command(after_help = "Examples:\n  reelhouse pipeline export-airflow movielens_daily --out ~/airflow/dags/movielens_daily.py\n  reelhouse pipeline export-airflow retrain_weekly --reelhouse /usr/local/bin/reelhouse")]
    ExportAirflow(ExportAirflowArgs),
}

#[derive(Debug, Args)]
pub struct PipelineNameArg {
    /// The pipeline name
    #[arg(value_name = "NAME")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ExportAirflowArgs {
    /// The pipeline name
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Write the DAG here instead of printing it
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The reelhouse binary the DAG calls [default: this binary's path]
    #[arg(long, value_name = "PATH")]
    pub reelhouse: Option<String>,
}

/// Prints task progress on stderr, one line per event.
struct Printer {
    out: Mutex<std::io::Stderr>,
}

impl RunEvents for Printer {
    fn run_started(&self, pipeline: &str, ds: &str, run_id: &str) {
        if let Ok(mut e) = self.out.lock() {
            let _ = writeln!(e, "{pipeline} {ds}: run {run_id}");
        }
    }
    fn task_started(&self, task: &str, attempt: u32) {
        if let Ok(mut e) = self.out.lock() {
            let again = if attempt > 1 { format!(" (attempt {attempt})") } else { String::new() };
            let _ = writeln!(e, "  {task:<20} started{again}");
        }
    }
    fn task_finished(&self, task: &str, status: TaskStatus, _attempt: u32, seconds: f64, error: Option<&str>) {
        if let Ok(mut e) = self.out.lock() {
            let why = error.map(|m| format!(": {}", m.chars().take(300).collect::<String>())).unwrap_or_default();
            let _ = writeln!(e, "  {task:<20} {} in {seconds:.1} s{why}", status.as_str());
        }
    }
}

/// Runs `report` tasks through `reelhouse report` in a child process of this binary.
struct CliReports {
    exe: PathBuf,
}

impl ReportRunner for CliReports {
    fn run(&self, req: ReportRequest) -> BoxFuture<'static, std::result::Result<serde_json::Value, String>> {
        let exe = self.exe.clone();
        Box::pin(async move {
            let mut cmd = tokio::process::Command::new(&exe);
            cmd.arg("--workspace").arg(&req.workspace).args(["--no-progress", "--format", "json", "report", &req.report]);
            for (k, v) in &req.params {
                cmd.arg("--param").arg(format!("{k}={v}"));
            }
            if let Some(c) = &req.chart {
                cmd.arg("--chart").arg(c);
            }
            if let Some(h) = &req.html {
                cmd.arg("--html").arg(h);
            }
            let out = cmd.kill_on_drop(true).output().await.map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr);
                return Err(format!("`reelhouse report {}` failed ({}): {}", req.report, out.status, err.trim()));
            }
            let text = String::from_utf8_lossy(&out.stdout);
            Ok(serde_json::from_str(&text).unwrap_or_else(|_| serde_json::json!({"stdout": text.trim()})))
        })
    }
}

fn parse_params(list: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for p in list {
        let (k, v) = p.split_once('=').with_context(|| format!("--param {p:?} is not NAME=VALUE; e.g. --param algo=svd"))?;
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(out)
}

async fn runner(g: &GlobalArgs) -> Result<Runner> {
    let env = open_env(g).await?;
    let mut r = Runner::new(Arc::new(env), Arc::new(SystemClock));
    r.command = command_line();
    if let Ok(exe) = std::env::current_exe() {
        r.reports = Some(Arc::new(CliReports { exe }));
    }
    if g.format == Format::Table {
        r.events = Arc::new(Printer { out: Mutex::new(std::io::stderr()) });
    }
    Ok(r)
}

fn days(a: &RunArgs) -> Result<Vec<Ds>> {
    match (&a.ds, &a.from, &a.to) {
        (Some(d), _, _) => Ok(vec![d.parse()?]),
        (None, Some(f), Some(t)) => {
            let (f, t): (Ds, Ds) = (f.parse()?, t.parse()?);
            if t < f {
                bail!("--to {t} is before --from {f}");
            }
            let n = (t.0 - f.0).num_days() + 1;
            if n > 3660 {
                bail!("--from {f} --to {t} is {n} days; backfill at most 10 years at once");
            }
            Ok((0..n).map(|k| Ds(f.0 + chrono::Duration::days(k))).collect())
        }
        _ => Ok(vec![Ds::today()]),
    }
}

fn print_outcomes(g: &GlobalArgs, outs: &[RunOutcome]) -> Result<()> {
    match g.format {
        Format::Json => {
            if outs.len() == 1 {
                print(Format::Json, &Rows::new(vec![]), &outs[0])?;
            } else {
                print(Format::Json, &Rows::new(vec![]), &outs)?;
            }
        }
        f => {
            let mut rows = Rows::new(vec!["ds", "task", "kind", "status", "attempts", "seconds", "detail"]);
            for o in outs {
                for t in &o.tasks {
                    rows.push(vec![
                        o.ds.clone(),
                        t.id.clone(),
                        t.kind.clone(),
                        t.status.as_str().into(),
                        t.attempts.to_string(),
                        format!("{:.1}", t.seconds),
                        t.error.clone().unwrap_or_else(|| detail(&t.output)).chars().take(120).collect(),
                    ]);
                }
            }
            if f == Format::Table {
                println!();
            }
            print(f, &rows, &())?;
            if f == Format::Table {
                for o in outs {
                    let reran = o.attempt_of.as_ref().map(|a| format!(", reran {a}")).unwrap_or_default();
                    let took = o.took_over.as_ref().map(|a| format!(", took over from dead run {a}")).unwrap_or_default();
                    println!("{} {}: {} in {:.1} s (run {}{reran}{took})", o.pipeline, o.ds, o.status, o.seconds, o.run_id);
                }
                if outs.iter().any(|o| !o.succeeded()) {
                    let o = outs.iter().find(|o| !o.succeeded()).map(|o| o.run_id.clone()).unwrap_or_default();
                    println!("See the logs: reelhouse runs show {o} --log TASK; rerun: reelhouse run {} --ds DAY --rerun-failed", outs[0].pipeline);
                }
            }
        }
    }
    Ok(())
}

/// A short summary of a task's output.
fn detail(o: &serde_json::Value) -> String {
    if let Some(t) = o.get("table").and_then(|t| t.as_str()) {
        let rows = o.get("rows").map(|r| format!(", {r} rows")).unwrap_or_default();
        let part = o.get("partition").and_then(|p| p.as_str()).map(|p| format!(" [{p}]")).unwrap_or_default();
        let status = o.get("status").and_then(|s| s.as_str()).map(|s| format!(" {s}")).unwrap_or_default();
        return format!("{t}@{}{part}{rows}{status}", o.get("version").cloned().unwrap_or_default());
    }
    if let Some(r) = o.get("reason").and_then(|r| r.as_str()) {
        return r.to_string();
    }
    if let (Some(m), Some(v)) = (o.get("model").and_then(|m| m.as_str()), o.get("version")) {
        let rmse = o["metrics"]["rmse"].as_f64().map(|r| format!(", rmse {r:.4}")).unwrap_or_default();
        return format!("{m}@{v}{rmse}");
    }
    if let Some(s) = o.get("skipped").and_then(|s| s.as_str()) {
        return s.to_string();
    }
    if let Some(t) = o.get("tables").and_then(|t| t.as_array()) {
        return format!("{} tables written", t.len());
    }
    String::new()
}

pub async fn run_cmd(g: &GlobalArgs, a: RunArgs) -> Result<ExitCode> {
    let days = days(&a)?;
    let params = parse_params(&a.param)?;
    let r = runner(g).await?;
    let p = dag::load(&r.env.workspace.dir, &a.name)?;
    let mut outs = Vec::new();
    for ds in &days {
        let mut opts = RunOptions::new(*ds);
        opts.only = a.only.clone();
        opts.rerun_failed = a.rerun_failed;
        opts.params = params.clone();
        opts.no_retries = a.no_retries;
        opts.max_parallel = a.max_parallel;
        if days.len() > 1 {
            opts.trigger = "backfill".into();
        }
        if a.dry_run {
            let plan = r.plan(&p, &opts)?;
            if g.format == Format::Json {
                print(Format::Json, &Rows::new(vec![]), &plan)?;
            } else {
                println!("{} for {}: {} tasks (dry run: nothing is written)", plan.pipeline, plan.ds, plan.tasks.len());
                for t in &plan.tasks {
                    let deps = if t.depends_on.is_empty() { String::new() } else { format!(" after {}", t.depends_on.join(", ")) };
                    let policy = format!(
                        "retries {}{}{}",
                        t.retries,
                        t.timeout.as_ref().map(|d| format!(", timeout {d}")).unwrap_or_default(),
                        if t.depends_on_past { ", depends on past" } else { "" }
                    );
                    println!("  [{}] {} ({}{deps}; {policy})\n      {}", t.level, t.id, t.kind, t.action);
                }
            }
            continue;
        }
        outs.push(r.run(&p, &opts).await?);
    }
    if a.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    print_outcomes(g, &outs)?;
    Ok(if outs.iter().all(RunOutcome::succeeded) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

#[derive(Serialize)]
struct RunRow<'a> {
    #[serde(flatten)]
    run: &'a reel_catalog::PipelineRun,
    seconds: Option<f64>,
}

pub async fn runs_cmd(g: &GlobalArgs, cmd: RunsCommand) -> Result<ExitCode> {
    let env = open_env(g).await?;
    match cmd {
        RunsCommand::List(a) => {
            if let Some(d) = &a.ds {
                d.parse::<Ds>()?;
            }
            let runs = env.catalog.pipeline_runs(a.pipeline.as_deref(), a.ds.as_deref(), a.limit).await?;
            let secs = |r: &reel_catalog::PipelineRun| r.finished_at.map(|f| (f - r.started_at).num_milliseconds() as f64 / 1000.0);
            let mut rows = Rows::new(vec!["run_id", "pipeline", "ds", "status", "trigger", "started_at", "seconds", "failed"]);
            for r in &runs {
                let failed = r.summary.get("failed").and_then(|f| f.as_array()).map(|f| f.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(",")).unwrap_or_default();
                rows.push(vec![
                    r.run_id.clone(),
                    r.pipeline.clone(),
                    r.ds.clone(),
                    r.status.clone(),
                    r.trigger.clone(),
                    r.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    secs(r).map(|s| format!("{s:.1}")).unwrap_or_default(),
                    failed,
                ]);
            }
            let json: Vec<RunRow> = runs.iter().map(|r| RunRow { run: r, seconds: secs(r) }).collect();
            print(g.format, &rows, &json)?;
            Ok(if runs.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        RunsCommand::Show(a) => {
            let Some(run) = env.catalog.pipeline_run(&a.run).await? else {
                bail!("no pipeline run {:?}; list them with `reelhouse runs list`", a.run);
            };
            let tasks = env.catalog.task_runs(&run.run_id).await?;
            if let Some(t) = &a.log {
                let mine: Vec<_> = tasks.iter().filter(|x| &x.task_id == t).collect();
                if mine.is_empty() {
                    let ids: Vec<String> = tasks.iter().map(|x| x.task_id.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
                    bail!("run {} has no task {t:?}; its tasks: {}", run.run_id, ids.join(", "));
                }
                if g.format == Format::Json {
                    print(Format::Json, &Rows::new(vec![]), &mine)?;
                } else {
                    for x in mine {
                        println!("--- {} attempt {} ({}) ---", x.task_id, x.attempt, x.status);
                        print!("{}", x.log);
                        if let Some(e) = &x.error {
                            println!("error: {e}");
                        }
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
            if g.format == Format::Json {
                #[derive(Serialize)]
                struct Show<'a> {
                    #[serde(flatten)]
                    run: &'a reel_catalog::PipelineRun,
                    tasks: &'a [reel_catalog::TaskRun],
                }
                print(Format::Json, &Rows::new(vec![]), &Show { run: &run, tasks: &tasks })?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut rows = Rows::new(vec!["task", "attempt", "status", "started_at", "seconds", "error"]);
            for t in &tasks {
                rows.push(vec![
                    t.task_id.clone(),
                    t.attempt.to_string(),
                    t.status.clone(),
                    t.started_at.format("%H:%M:%S").to_string(),
                    t.finished_at.map(|f| format!("{:.1}", (f - t.started_at).num_milliseconds() as f64 / 1000.0)).unwrap_or_default(),
                    t.error.clone().unwrap_or_default().chars().take(100).collect(),
                ]);
            }
            if g.format == Format::Table {
                println!(
                    "run {}: {} for {}, {} ({}), started {}{}{}\n",
                    run.run_id,
                    run.pipeline,
                    run.ds,
                    run.status,
                    run.trigger,
                    run.started_at.format("%Y-%m-%d %H:%M:%S"),
                    run.finished_at.map(|f| format!(", {:.1} s", (f - run.started_at).num_milliseconds() as f64 / 1000.0)).unwrap_or_default(),
                    run.attempt_of.as_ref().map(|a| format!(", reruns {a}")).unwrap_or_default()
                );
            }
            print(g.format, &rows, &())?;
            if g.format == Format::Table {
                println!("\nLogs: reelhouse runs show {} --log TASK", run.run_id);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub async fn scheduler_cmd(g: &GlobalArgs, a: SchedulerArgs) -> Result<ExitCode> {
    let poll = reel_common::duration::parse(&a.poll).map_err(anyhow::Error::msg)?;
    if poll.as_secs() < 1 {
        bail!("--poll {} is below 1s", a.poll);
    }
    let r = runner(g).await?;
    let s = Scheduler { runner: r, only: a.pipeline.clone() };
    let (pipelines, errors) = s.pipelines();
    for e in &errors {
        eprintln!("warning: {e}");
    }
    if pipelines.is_empty() {
        bail!("no scheduled pipelines in {}: give a pipeline file a schedule = \"0 6 * * *\"", s.runner.env.workspace.dir.join("pipelines").display());
    }
    let format = g.format;
    let show = move |done: &[Scheduled]| {
        if format == Format::Json {
            for d in done {
                println!("{}", serde_json::to_string(d).unwrap_or_default());
            }
        } else {
            for d in done {
                let st = d.run.as_ref().map(|r| format!(" -> {}", r.status)).unwrap_or_default();
                let err = d.error.as_ref().map(|e| format!(": {e}")).unwrap_or_default();
                println!("{} {} {}{st}{err}", d.pipeline, d.ds, d.action);
            }
        }
    };
    if a.once {
        let done = s.tick().await?;
        if done.is_empty() && format != Format::Json {
            println!("nothing due");
        }
        show(&done);
        let failed = done.iter().any(|d| d.error.is_some() || d.run.as_ref().is_some_and(|r| !r.succeeded()));
        return Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS });
    }
    if format != Format::Json {
        let names: Vec<String> = pipelines.iter().map(|p| format!("{} ({})", p.name, p.schedule.as_ref().map(|c| c.as_str()).unwrap_or(""))).collect();
        eprintln!("scheduler: {} every {}; Ctrl-C stops after the current run", names.join(", "), a.poll);
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    s.run_until(poll, shutdown, Arc::new(show)).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn pipeline_cmd(g: &GlobalArgs, cmd: PipelineCommand) -> Result<ExitCode> {
    let ws = super::find_workspace(g)?;
    match cmd {
        PipelineCommand::List => {
            let env = open_env(g).await?;
            let mut rows = Rows::new(vec!["pipeline", "schedule", "tasks", "last_ds", "last_status", "description"]);
            #[derive(Serialize)]
            struct Item {
                pipeline: String,
                schedule: Option<String>,
                tasks: Vec<String>,
                last_run: Option<reel_catalog::PipelineRun>,
                error: Option<String>,
                description: String,
            }
            let mut items = Vec::new();
            for name in dag::list(&ws.dir) {
                let last = env.catalog.pipeline_runs(Some(&name), None, 1).await?.into_iter().next();
                match dag::load(&ws.dir, &name) {
                    Ok(p) => {
                        rows.push(vec![
                            p.name.clone(),
                            p.schedule.as_ref().map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
                            p.tasks.len().to_string(),
                            last.as_ref().map(|r| r.ds.clone()).unwrap_or_default(),
                            last.as_ref().map(|r| r.status.clone()).unwrap_or_default(),
                            p.description.chars().take(70).collect(),
                        ]);
                        items.push(Item {
                            pipeline: p.name.clone(),
                            schedule: p.schedule.as_ref().map(|c| c.to_string()),
                            tasks: p.tasks.iter().map(|t| t.id.clone()).collect(),
                            last_run: last,
                            error: None,
                            description: p.description.clone(),
                        });
                    }
                    Err(e) => {
                        rows.push(vec![name.clone(), "?".into(), "?".into(), String::new(), String::new(), format!("does not load: {e}")]);
                        items.push(Item { pipeline: name, schedule: None, tasks: vec![], last_run: last, error: Some(e.to_string()), description: String::new() });
                    }
                }
            }
            print(g.format, &rows, &items)?;
            Ok(if items.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        PipelineCommand::Show(a) => {
            let p = dag::load(&ws.dir, &a.name)?;
            if g.format == Format::Json {
                print(Format::Json, &Rows::new(vec![]), &p)?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut rows = Rows::new(vec!["task", "kind", "depends_on", "retries", "timeout", "line"]);
            for t in &p.tasks {
                rows.push(vec![
                    t.id.clone(),
                    t.kind.name().into(),
                    t.depends_on.join(","),
                    t.retry.retries.to_string(),
                    t.timeout.map(reel_common::duration::format).unwrap_or_default(),
                    t.line.to_string(),
                ]);
            }
            if g.format == Format::Table {
                println!(
                    "{} ({}): {}\nschedule {}, catchup {}, max_parallel {}\n",
                    p.name,
                    super::display_path(&p.path),
                    p.description,
                    p.schedule.as_ref().map_or("none".to_string(), |c| c.to_string()),
                    p.catchup,
                    p.max_parallel
                );
            }
            print(g.format, &rows, &())?;
            Ok(ExitCode::SUCCESS)
        }
        PipelineCommand::ExportAirflow(a) => {
            let p = dag::load(&ws.dir, &a.name)?;
            let exe = match a.reelhouse {
                Some(e) => e,
                None => std::env::current_exe().context("finding this binary")?.display().to_string(),
            };
            let py = reel_pipeline::airflow::export(&p, &exe, &ws.dir.display().to_string());
            match a.out {
                Some(f) => {
                    std::fs::write(&f, py).with_context(|| format!("writing {}", f.display()))?;
                    if g.format != Format::Json {
                        println!("Wrote {} (dag_id {}); put it in Airflow's dags folder.", f.display(), p.name);
                    }
                }
                None => print!("{py}"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
