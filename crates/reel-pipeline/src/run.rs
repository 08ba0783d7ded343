//! The runner: one pipeline run for one day, tasks in parallel (bounded), retries with
//! backoff, timeouts, `depends_on_past`, run history and task logs in the catalog, and the
//! lock that keeps one run per pipeline-day.
//!
//! ```text
//!  run(pipeline, ds)
//!    lock pipeline-day in the catalog ──held by a live run──> Error::AlreadyRunning
//!        (holder dead: same host and its pid gone, or silent past the lease -> take over,
//!         its run is marked failed)
//!    record the run (running) ── heartbeat every few seconds
//!    loop: start every task whose upstream succeeded (at most max_parallel at once)
//!          a failed task -> its downstream are `upstream_failed`; a skipped one -> `skipped`
//!          each attempt is recorded (status, log, output, error); retries wait
//!          delay * backoff^(k-1) on the run's clock
//!    record the end, release the lock, call the webhook
//! ```
//!
//! `--rerun-failed` starts a new run for the same day that reuses the tasks that succeeded
//! in the latest run and runs the others: with day-partitioned outputs replaced in one
//! transaction, nothing is written twice.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use reel_catalog::{LockHolder, NewPipelineRun, PipelineRun, RunStatus, TaskRun};
use reel_common::{Ds, RunId};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::clock::Clock;
use crate::dag::{self, NotifyOn, Pipeline, Task};
use crate::{Env, Error, Result, tasks};

/// The state of a task in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Running now.
    Running,
    /// Done.
    Succeeded,
    /// Failed on its last attempt.
    Failed,
    /// Failed, and will be retried.
    UpForRetry,
    /// Not run: something upstream failed.
    UpstreamFailed,
    /// Not run: its input was missing (`if_missing = "skip"`) or something upstream was
    /// skipped. Not a failure.
    Skipped,
    /// Not run: it succeeded in the run this one reruns.
    Reused,
    /// Not run: `depends_on_past` and it did not succeed for the previous day.
    Blocked,
}

impl TaskStatus {
    /// The status as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Running => "running",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::UpForRetry => "up_for_retry",
            TaskStatus::UpstreamFailed => "upstream_failed",
            TaskStatus::Skipped => "skipped",
            TaskStatus::Reused => "reused",
            TaskStatus::Blocked => "blocked",
        }
    }

    /// Whether downstream tasks may run after it.
    pub fn ok(self) -> bool {
        matches!(self, TaskStatus::Succeeded | TaskStatus::Reused)
    }

    fn is_failure(self) -> bool {
        matches!(self, TaskStatus::Failed | TaskStatus::UpstreamFailed | TaskStatus::Blocked | TaskStatus::UpForRetry | TaskStatus::Running)
    }
}

/// Receives what happens in a run as it happens (the CLI prints it). Every method has an
/// empty default.
pub trait RunEvents: Send + Sync {
    /// A run started.
    fn run_started(&self, pipeline: &str, ds: &str, run_id: &str) {
        let _ = (pipeline, ds, run_id);
    }
    /// A task attempt started.
    fn task_started(&self, task: &str, attempt: u32) {
        let _ = (task, attempt);
    }
    /// A task reached a status (after an attempt, or without running).
    fn task_finished(&self, task: &str, status: TaskStatus, attempt: u32, seconds: f64, error: Option<&str>) {
        let _ = (task, status, attempt, seconds, error);
    }
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;
impl RunEvents for NoEvents {}

/// What a `report` task asks for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRequest {
    /// The workspace folder.
    pub workspace: PathBuf,
    /// The report's name (`top_rated`, `all`, ...).
    pub report: String,
    /// Its parameters, rendered.
    pub params: BTreeMap<String, String>,
    /// A chart file to write, absolute.
    pub chart: Option<PathBuf>,
    /// An HTML folder to write, absolute.
    pub html: Option<PathBuf>,
    /// The run day.
    pub ds: String,
}

/// Runs the report pack for `report` tasks. The binary provides it (the pipeline crate does
/// not know the report pack).
///
/// Contract: `run` builds the report (and the chart or HTML when asked) and returns a JSON
/// summary for the task's output, or an error message for the task's log. It must not
/// panic and should finish in bounded time (the task's timeout applies anyway).
///
/// ```
/// use reel_pipeline::run::{ReportRequest, ReportRunner};
/// struct Echo;
/// impl ReportRunner for Echo {
///     fn run(&self, req: ReportRequest) -> futures::future::BoxFuture<'static, Result<serde_json::Value, String>> {
///         Box::pin(async move { Ok(serde_json::json!({"report": req.report})) })
///     }
/// }
/// ```
pub trait ReportRunner: Send + Sync {
    /// Builds one report.
    fn run(&self, req: ReportRequest) -> BoxFuture<'static, std::result::Result<serde_json::Value, String>>;
}

/// Sends run notifications.
pub trait Notifier: Send + Sync {
    /// POSTs `payload` (JSON) to `url`.
    fn send(&self, url: &str, payload: serde_json::Value) -> BoxFuture<'static, std::result::Result<(), String>>;
}

/// Webhooks over HTTP(S): one JSON POST, 10 s timeout, a non-2xx answer is an error.
#[derive(Debug, Default, Clone, Copy)]
pub struct HttpNotifier;

impl Notifier for HttpNotifier {
    fn send(&self, url: &str, payload: serde_json::Value) -> BoxFuture<'static, std::result::Result<(), String>> {
        let url = url.to_string();
        Box::pin(async move {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().map_err(|e| e.to_string())?;
            let resp = client
                .post(&url)
                .header("content-type", "application/json")
                .body(payload.to_string())
                .send()
                .await
                .map_err(|e| format!("POST {url}: {e}"))?;
            if resp.status().is_success() { Ok(()) } else { Err(format!("POST {url}: HTTP {}", resp.status())) }
        })
    }
}

/// This process, as lock owners are written: `host:pid:start`, where `start` is the
/// process start time from /proc (so a reused pid is not mistaken for the holder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner(pub String);

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Field 22 of /proc/PID/stat: the start time in clock ticks since boot.
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; it ends at the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19).map(str::to_string)
}

impl Owner {
    /// This process.
    pub fn current() -> Self {
        let pid = std::process::id();
        Owner(format!("{}:{pid}:{}", hostname(), start_time(pid).unwrap_or_else(|| "0".into())))
    }

    /// Whether the process named by `owner` is alive: `Some(false)` when it ran on this host
    /// and is gone, `None` when that cannot be told (another host).
    pub fn alive(owner: &str) -> Option<bool> {
        let mut parts = owner.rsplitn(3, ':');
        let start = parts.next()?;
        let pid: u32 = parts.next()?.parse().ok()?;
        let host = parts.next()?;
        if host != hostname() {
            return None;
        }
        Some(start_time(pid).is_some_and(|s| s == start))
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run day.
    pub ds: Ds,
    /// Run only these tasks (their upstream is taken as done).
    pub only: Vec<String>,
    /// Reuse what succeeded in the latest run of the day; run the rest.
    pub rerun_failed: bool,
    /// Overrides of the pipeline's `[params]`.
    pub params: BTreeMap<String, String>,
    /// Who asked: `manual`, `backfill`, `scheduler`.
    pub trigger: String,
    /// One attempt per task (when another orchestrator owns retries, e.g. Airflow).
    pub no_retries: bool,
    /// Overrides the pipeline's `max_parallel`.
    pub max_parallel: Option<usize>,
    /// Do nothing if the day already has a run (checked under the lock; the scheduler).
    pub skip_if_exists: bool,
}

impl RunOptions {
    /// A manual run of every task for `ds`.
    pub fn new(ds: Ds) -> Self {
        Self {
            ds,
            only: Vec::new(),
            rerun_failed: false,
            params: BTreeMap::new(),
            trigger: "manual".into(),
            no_retries: false,
            max_parallel: None,
            skip_if_exists: false,
        }
    }
}

/// One task of a finished run.
#[derive(Debug, Clone, Serialize)]
pub struct TaskOutcome {
    /// Task id.
    pub id: String,
    /// Its kind.
    pub kind: String,
    /// Final status.
    pub status: TaskStatus,
    /// Attempts made (0 when not run).
    pub attempts: u32,
    /// Time spent over all attempts.
    pub seconds: f64,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// What it produced.
    pub output: serde_json::Value,
}

/// A finished run.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    /// The run id.
    pub run_id: String,
    /// The pipeline.
    pub pipeline: String,
    /// The day.
    pub ds: String,
    /// `succeeded`, `failed`, or `exists` (nothing done: the day already had a run).
    pub status: String,
    /// The run this one reran.
    pub attempt_of: Option<String>,
    /// A run taken over from a dead runner, if any.
    pub took_over: Option<String>,
    /// Every task.
    pub tasks: Vec<TaskOutcome>,
    /// Wall time.
    pub seconds: f64,
}

impl RunOutcome {
    /// Whether every task succeeded (or was reused or skipped).
    pub fn succeeded(&self) -> bool {
        self.status == "succeeded" || self.status == "exists"
    }
}

/// Runs pipelines. Cheap to clone.
#[derive(Clone)]
pub struct Runner {
    /// Lake and catalog.
    pub env: Arc<Env>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// The report pack, for `report` tasks.
    pub reports: Option<Arc<dyn ReportRunner>>,
    /// Webhooks.
    pub notifier: Arc<dyn Notifier>,
    /// Progress.
    pub events: Arc<dyn RunEvents>,
    /// This process.
    pub owner: Owner,
    /// A lock holder silent for this long is taken for dead (2 minutes by default).
    pub lease: Duration,
    /// How often a run renews its lock (10 s by default).
    pub heartbeat: Duration,
    /// The command line, for lineage.
    pub command: String,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").field("owner", &self.owner).finish_non_exhaustive()
    }
}

/// The shared state of one run, handed to its tasks.
pub(crate) struct RunCtx {
    pub env: Arc<Env>,
    pub clock: Arc<dyn Clock>,
    pub reports: Option<Arc<dyn ReportRunner>>,
    pub events: Arc<dyn RunEvents>,
    pub pipeline: Arc<Pipeline>,
    pub ds: Ds,
    pub run_id: String,
    pub vars: BTreeMap<String, String>,
    pub no_retries: bool,
    pub command: String,
}

/// A task's log: timestamped lines, capped at 1 MiB (the tail is kept).
pub(crate) struct TaskLog {
    clock: Arc<dyn Clock>,
    text: std::sync::Mutex<String>,
}

impl TaskLog {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock, text: std::sync::Mutex::new(String::new()) }
    }
    pub fn line(&self, msg: &str) {
        let now = self.clock.now().format("%Y-%m-%d %H:%M:%S%.3f");
        if let Ok(mut t) = self.text.lock() {
            for l in msg.lines() {
                t.push_str(&format!("[{now}] {l}\n"));
            }
            const CAP: usize = 1 << 20;
            if t.len() > CAP {
                let cut = t.len() - CAP / 2;
                let cut = (cut..t.len()).find(|&i| t.is_char_boundary(i)).unwrap_or(t.len());
                *t = format!("[... earlier output dropped ...]\n{}", &t[cut..]);
            }
        }
    }
    pub fn text(&self) -> String {
        self.text.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

/// How an attempt ended badly.
#[derive(Debug)]
pub(crate) struct TaskFailure {
    pub message: String,
    /// Worth another attempt (I/O, a command's exit status), or not (a bad request, a
    /// failed expectation, a refused gate).
    pub retryable: bool,
}

impl TaskFailure {
    pub fn retry(m: impl Into<String>) -> Self {
        Self { message: m.into(), retryable: true }
    }
    pub fn fatal(m: impl Into<String>) -> Self {
        Self { message: m.into(), retryable: false }
    }
}

impl From<Error> for TaskFailure {
    fn from(e: Error) -> Self {
        let retryable = !matches!(e, Error::BadRequest(_) | Error::MissingTable { .. } | Error::Dag(_));
        Self { message: e.to_string(), retryable }
    }
}

/// A successful attempt.
pub(crate) struct TaskDone {
    pub output: serde_json::Value,
    pub skipped: bool,
}

/// What a spawned task reports back.
struct Finished {
    id: String,
    status: TaskStatus,
    attempts: u32,
    seconds: f64,
    error: Option<String>,
    output: serde_json::Value,
}

impl Runner {
    /// A runner on the wall clock with HTTP webhooks and no report pack.
    pub fn new(env: Arc<Env>, clock: Arc<dyn Clock>) -> Self {
        Self {
            env,
            clock,
            reports: None,
            notifier: Arc::new(HttpNotifier),
            events: Arc::new(NoEvents),
            owner: Owner::current(),
            lease: Duration::from_secs(120),
            heartbeat: Duration::from_secs(10),
            command: "reelhouse run".into(),
        }
    }

    fn stale(&self, h: &LockHolder) -> bool {
        if Owner::alive(&h.owner) == Some(false) {
            return true;
        }
        let silent = self.clock.now().signed_duration_since(h.heartbeat_at);
        silent > chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::MAX)
    }

    /// Takes the day's lock; a dead holder's run is marked failed and its lock taken over.
    /// Returns the dead run's id, if any.
    async fn lock(&self, p: &Pipeline, ds: &str, run_id: &str) -> Result<Option<String>> {
        for _ in 0..3 {
            let now = self.clock.now();
            match self.env.catalog.try_lock_pipeline_day(&p.name, ds, run_id, &self.owner.0, now).await? {
                None => return Ok(None),
                Some(h) if self.stale(&h) => {
                    if self.env.catalog.take_over_lock(&p.name, ds, &h.run_id, run_id, &self.owner.0, now).await? {
                        self.bury(&h).await?;
                        return Ok(Some(h.run_id));
                    }
                }
                Some(h) => {
                    return Err(Error::AlreadyRunning {
                        pipeline: p.name.clone(),
                        ds: ds.into(),
                        run_id: h.run_id,
                        owner: h.owner,
                        since: h.acquired_at.to_rfc3339(),
                    });
                }
            }
        }
        Err(Error::Internal(format!("could not take the lock of {} for {ds} after 3 tries", p.name)))
    }

    /// Marks the run of a dead holder (and its running attempts) failed.
    async fn bury(&self, h: &LockHolder) -> Result<()> {
        let now = self.clock.now();
        let Some(run) = self.env.catalog.pipeline_run(&h.run_id).await? else { return Ok(()) };
        if run.status != "running" {
            return Ok(());
        }
        let why = format!("the runner {} stopped without finishing (killed or crashed)", h.owner);
        for mut t in self.env.catalog.task_runs(&run.run_id).await? {
            if t.status == "running" || t.status == "up_for_retry" {
                t.status = "failed".into();
                t.finished_at = Some(now);
                t.error = Some(why.clone());
                self.env.catalog.record_task_run(&t).await?;
            }
        }
        self.env.catalog.finish_pipeline_run(&run.run_id, "failed", &serde_json::json!({"error": why}), now).await?;
        let _ = self.env.catalog.finish_run(&RunId(run.run_id.clone()), RunStatus::Failed, &serde_json::json!({"error": why})).await;
        tracing::warn!(run = %run.run_id, owner = %h.owner, "took over the lock of a dead run");
        Ok(())
    }

    /// Runs `p` for one day.
    pub async fn run(&self, p: &Pipeline, opts: &RunOptions) -> Result<RunOutcome> {
        let started = Instant::now();
        let ds = opts.ds.to_string();
        let params = merged_params(p, &opts.params)?;
        for id in &opts.only {
            if p.task(id).is_none() {
                return Err(Error::BadRequest(format!(
                    "--only {id}: {} has no task {id:?}; its tasks: {}",
                    p.name,
                    p.tasks.iter().map(|t| t.id.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        let run_id = RunId::new().0;
        let took_over = self.lock(p, &ds, &run_id).await?;
        let result = self.run_locked(p, opts, &params, &run_id, took_over.clone(), started).await;
        if let Err(e) = self.env.catalog.release_lock(&p.name, &ds, &run_id).await {
            tracing::warn!(error = %e, "could not release the pipeline lock; it expires with its lease");
        }
        result
    }

    async fn run_locked(
        &self,
        p: &Pipeline,
        opts: &RunOptions,
        params: &BTreeMap<String, String>,
        run_id: &str,
        took_over: Option<String>,
        started: Instant,
    ) -> Result<RunOutcome> {
        let ds = opts.ds.to_string();
        let cat = &self.env.catalog;
        if opts.skip_if_exists && !cat.pipeline_runs(Some(&p.name), Some(&ds), 1).await?.is_empty() && took_over.is_none() {
            return Ok(RunOutcome {
                run_id: String::new(),
                pipeline: p.name.clone(),
                ds,
                status: "exists".into(),
                attempt_of: None,
                took_over: None,
                tasks: Vec::new(),
                seconds: 0.0,
            });
        }
        // What the rerun keeps.
        let mut reused: HashMap<String, serde_json::Value> = HashMap::new();
        let mut attempt_of = None;
        if opts.rerun_failed {
            let prev: Option<PipelineRun> = cat.pipeline_runs(Some(&p.name), Some(&ds), 10).await?.into_iter().find(|r| r.run_id != run_id);
            let Some(prev) = prev else {
                return Err(Error::BadRequest(format!(
                    "--rerun-failed: {} has no run for {ds} to rerun; run it first: reelhouse run {} --ds {ds}",
                    p.name, p.name
                )));
            };
            let mut last: HashMap<String, TaskRun> = HashMap::new();
            for t in cat.task_runs(&prev.run_id).await? {
                let keep = last.get(&t.task_id).is_none_or(|old| t.attempt >= old.attempt);
                if keep {
                    last.insert(t.task_id.clone(), t);
                }
            }
            for (id, t) in last {
                if (t.status == "succeeded" || t.status == "reused") && p.task(&id).is_some() {
                    reused.insert(id, t.output);
                }
            }
            attempt_of = Some(prev.run_id);
        }
        let now = self.clock.now();
        cat.start_pipeline_run(&NewPipelineRun {
            run_id: run_id.into(),
            pipeline: p.name.clone(),
            ds: ds.clone(),
            trigger: if opts.rerun_failed { "rerun".into() } else { opts.trigger.clone() },
            attempt_of: attempt_of.clone(),
            owner: self.owner.0.clone(),
            params: serde_json::to_value(params).unwrap_or_default(),
            started_at: now,
        })
        .await?;
        cat.start_run(&RunId(run_id.into()), &format!("pipeline {} --ds {ds} ({})", p.name, self.command)).await?;
        self.events.run_started(&p.name, &ds, run_id);

        // Heartbeat: renew the lock while the run lasts.
        let hb = {
            let catalog = cat.clone();
            let clock = self.clock.clone();
            let (name, ds, id, every) = (p.name.clone(), ds.clone(), run_id.to_string(), self.heartbeat);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    if let Err(e) = catalog.heartbeat_lock(&name, &ds, &id, clock.now()).await {
                        tracing::warn!(error = %e, "lock heartbeat failed");
                    }
                }
            })
        };

        let ctx = Arc::new(RunCtx {
            env: self.env.clone(),
            clock: self.clock.clone(),
            reports: self.reports.clone(),
            events: self.events.clone(),
            pipeline: Arc::new(p.clone()),
            ds: opts.ds,
            run_id: run_id.into(),
            vars: dag::variables(p, opts.ds, run_id, &self.env.workspace.dir, params),
            no_retries: opts.no_retries,
            command: self.command.clone(),
        });
        let outcome = self.drive(&ctx, opts, &reused).await;
        hb.abort();
        let tasks = outcome?;
        let failed: Vec<&TaskOutcome> = tasks.iter().filter(|t| t.status.is_failure()).collect();
        let status = if failed.is_empty() { "succeeded" } else { "failed" };
        let summary = serde_json::json!({
            "tasks": tasks.iter().map(|t| (t.id.clone(), t.status.as_str())).collect::<BTreeMap<_, _>>(),
            "failed": failed.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
            "errors": failed.iter().filter_map(|t| t.error.clone().map(|e| (t.id.clone(), e))).collect::<BTreeMap<_, _>>(),
        });
        let end = self.clock.now();
        cat.finish_pipeline_run(run_id, status, &summary, end).await?;
        cat.finish_run(&RunId(run_id.into()), if failed.is_empty() { RunStatus::Succeeded } else { RunStatus::Failed }, &summary).await?;
        let out = RunOutcome {
            run_id: run_id.into(),
            pipeline: p.name.clone(),
            ds,
            status: status.into(),
            attempt_of,
            took_over,
            tasks,
            seconds: started.elapsed().as_secs_f64(),
        };
        self.notify(p, &out, now, end).await;
        Ok(out)
    }

    async fn notify(&self, p: &Pipeline, out: &RunOutcome, start: DateTime<Utc>, end: DateTime<Utc>) {
        let Some(n) = &p.notify else { return };
        let want = if out.succeeded() { NotifyOn::Success } else { NotifyOn::Failure };
        if !n.on.contains(&want) {
            return;
        }
        let failed: Vec<String> = out.tasks.iter().filter(|t| t.status.is_failure()).map(|t| t.id.clone()).collect();
        let first_error = out.tasks.iter().find_map(|t| t.error.clone().map(|e| format!("{}: {e}", t.id)));
        let text = if out.succeeded() {
            format!("reelhouse: {} {} succeeded in {:.1} s", out.pipeline, out.ds, out.seconds)
        } else {
            format!("reelhouse: {} {} FAILED ({}); see `reelhouse runs show {}`", out.pipeline, out.ds, first_error.as_deref().unwrap_or("failed"), out.run_id)
        };
        let payload = serde_json::json!({
            "text": text,
            "pipeline": out.pipeline,
            "ds": out.ds,
            "run_id": out.run_id,
            "status": out.status,
            "failed_tasks": failed,
            "error": first_error,
            "started_at": start.to_rfc3339(),
            "finished_at": end.to_rfc3339(),
        });
        if let Err(e) = self.notifier.send(&n.webhook, payload).await {
            tracing::warn!(error = %e, "the run's webhook failed");
        }
    }

    /// Runs the DAG: starts what is ready, records what cannot run, until every task has a
    /// status.
    async fn drive(&self, ctx: &Arc<RunCtx>, opts: &RunOptions, reused: &HashMap<String, serde_json::Value>) -> Result<Vec<TaskOutcome>> {
        let p = &ctx.pipeline;
        let selected: HashSet<String> = if opts.only.is_empty() { p.tasks.iter().map(|t| t.id.clone()).collect() } else { opts.only.iter().cloned().collect() };
        let max_parallel = opts.max_parallel.unwrap_or(p.max_parallel).max(1);
        let mut status: HashMap<String, TaskStatus> = HashMap::new();
        let mut outputs: HashMap<String, serde_json::Value> = HashMap::new();
        let mut result: HashMap<String, TaskOutcome> = HashMap::new();
        let now = self.clock.now();
        for t in &p.tasks {
            if !selected.contains(&t.id) {
                // Outside --only: taken as done, not recorded.
                status.insert(t.id.clone(), TaskStatus::Reused);
                continue;
            }
            if let Some(out) = reused.get(&t.id) {
                status.insert(t.id.clone(), TaskStatus::Reused);
                outputs.insert(t.id.clone(), out.clone());
                self.record(ctx, t, 1, TaskStatus::Reused, now, Some(now), "reused from the run this one reruns\n", out.clone(), None).await?;
                result.insert(t.id.clone(), outcome(t, TaskStatus::Reused, 0, 0.0, None, out.clone()));
                self.events.task_finished(&t.id, TaskStatus::Reused, 0, 0.0, None);
            }
        }
        let mut running: HashSet<String> = HashSet::new();
        let mut join: JoinSet<Finished> = JoinSet::new();
        loop {
            // Resolve everything that can be resolved without waiting.
            let mut changed = true;
            while changed {
                changed = false;
                for t in &p.tasks {
                    if status.contains_key(&t.id) || running.contains(&t.id) {
                        continue;
                    }
                    let deps: Vec<Option<TaskStatus>> = t.depends_on.iter().map(|d| status.get(d).copied()).collect();
                    if deps.iter().any(Option::is_none) {
                        continue;
                    }
                    let now = self.clock.now();
                    let mark = |st: TaskStatus, why: String| (st, why);
                    let blocked = if deps.iter().flatten().any(|s| s.is_failure()) {
                        let up: Vec<&str> = t.depends_on.iter().filter(|d| status.get(*d).is_some_and(|s| s.is_failure())).map(String::as_str).collect();
                        Some(mark(TaskStatus::UpstreamFailed, format!("not run: upstream {} did not succeed", up.join(", "))))
                    } else if deps.iter().flatten().any(|s| *s == TaskStatus::Skipped) {
                        Some(mark(TaskStatus::Skipped, "not run: an upstream task was skipped".into()))
                    } else if running.len() >= max_parallel {
                        continue;
                    } else if t.depends_on_past {
                        self.past_blocker(ctx, t).await?.map(|why| mark(TaskStatus::Blocked, why))
                    } else {
                        None
                    };
                    changed = true;
                    if let Some((st, why)) = blocked {
                        let err = (st != TaskStatus::Skipped).then(|| why.clone());
                        self.record(ctx, t, 1, st, now, Some(now), &format!("{why}\n"), serde_json::Value::Null, err.clone()).await?;
                        self.events.task_finished(&t.id, st, 0, 0.0, err.as_deref());
                        status.insert(t.id.clone(), st);
                        result.insert(t.id.clone(), outcome(t, st, 0, 0.0, err, serde_json::Value::Null));
                        continue;
                    }
                    running.insert(t.id.clone());
                    let upstream: HashMap<String, serde_json::Value> =
                        dag::upstream_of(&p.tasks, &t.id).into_iter().filter_map(|u| outputs.get(&u).map(|o| (u, o.clone()))).collect();
                    let (ctx, task, runner) = (ctx.clone(), t.clone(), self.clone());
                    join.spawn(async move { runner.attempts(ctx, task, upstream).await });
                }
            }
            let Some(done) = join.join_next().await else { break };
            let f = done.map_err(|e| Error::Internal(format!("a task panicked: {e}")))?;
            running.remove(&f.id);
            status.insert(f.id.clone(), f.status);
            outputs.insert(f.id.clone(), f.output.clone());
            if let Some(t) = p.task(&f.id) {
                result.insert(f.id.clone(), outcome(t, f.status, f.attempts, f.seconds, f.error, f.output));
            }
        }
        Ok(p.tasks.iter().filter_map(|t| result.remove(&t.id)).collect())
    }

    /// Why `t` may not run because of the previous day, if it may not.
    async fn past_blocker(&self, ctx: &RunCtx, t: &Task) -> Result<Option<String>> {
        let p = &ctx.pipeline;
        let prev = p.prev_ds(ctx.ds);
        if p.start.is_some_and(|s| prev < s) {
            return Ok(None);
        }
        let cat = &self.env.catalog;
        if cat.task_succeeded_for(&p.name, &t.id, &prev.to_string()).await? {
            return Ok(None);
        }
        let days = cat.pipeline_days(&p.name).await?;
        let has_earlier = days.iter().any(|d| d.as_str() < ctx.ds.to_string().as_str());
        if !has_earlier {
            return Ok(None); // the first run day: there is no past
        }
        Ok(Some(format!(
            "not run: depends_on_past and {} did not succeed for {prev}; run that day first (reelhouse run {} --ds {prev})",
            t.id, p.name
        )))
    }

    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        ctx: &RunCtx,
        t: &Task,
        attempt: u32,
        status: TaskStatus,
        started: DateTime<Utc>,
        finished: Option<DateTime<Utc>>,
        log: &str,
        output: serde_json::Value,
        error: Option<String>,
    ) -> Result<()> {
        self.env
            .catalog
            .record_task_run(&TaskRun {
                run_id: ctx.run_id.clone(),
                task_id: t.id.clone(),
                attempt: i64::from(attempt),
                status: status.as_str().into(),
                started_at: started,
                finished_at: finished,
                log: log.into(),
                output,
                error,
            })
            .await?;
        Ok(())
    }

    /// Every attempt of one task, with retries and timeouts; never fails itself (catalog
    /// errors become the task's error).
    async fn attempts(self, ctx: Arc<RunCtx>, t: Task, upstream: HashMap<String, serde_json::Value>) -> Finished {
        let retries = if ctx.no_retries { 0 } else { t.retry.retries };
        let clock = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let log = Arc::new(TaskLog::new(ctx.clock.clone()));
            let started = ctx.clock.now();
            let cancel = Arc::new(AtomicBool::new(false));
            log.line(&format!("attempt {attempt} of {} ({} task) for {}", retries + 1, t.kind.name(), ctx.ds));
            if let Err(e) = self.record(&ctx, &t, attempt, TaskStatus::Running, started, None, &log.text(), serde_json::Value::Null, None).await {
                return Finished { id: t.id.clone(), status: TaskStatus::Failed, attempts: attempt, seconds: 0.0, error: Some(e.to_string()), output: serde_json::Value::Null };
            }
            ctx.events.task_started(&t.id, attempt);
            let t0 = Instant::now();
            let result = match t.timeout {
                Some(limit) => {
                    // A watchdog on its own task: it fires even while the task blocks a thread
                    // (training), and the flag stops training at its next epoch.
                    let flag = cancel.clone();
                    let dog = tokio::spawn(async move {
                        tokio::time::sleep(limit).await;
                        flag.store(true, Ordering::SeqCst);
                    });
                    let run = tasks::execute(&ctx, &t, &log, &cancel, &upstream);
                    tokio::pin!(run);
                    let r = loop {
                        tokio::select! {
                            r = &mut run => break r,
                            _ = tokio::time::sleep(Duration::from_millis(50)) => {
                                if cancel.load(Ordering::SeqCst) {
                                    break Err(TaskFailure::retry(format!("timed out after {}", reel_common::duration::format(limit))));
                                }
                            }
                        }
                    };
                    dog.abort();
                    match r {
                        Err(_) if cancel.load(Ordering::SeqCst) => {
                            Err(TaskFailure::retry(format!("timed out after {}", reel_common::duration::format(limit))))
                        }
                        other => other,
                    }
                }
                None => tasks::execute(&ctx, &t, &log, &cancel, &upstream).await,
            };
            let secs = t0.elapsed().as_secs_f64();
            let end = ctx.clock.now();
            match result {
                Ok(done) => {
                    let st = if done.skipped { TaskStatus::Skipped } else { TaskStatus::Succeeded };
                    log.line(&format!("{} in {secs:.2} s", st.as_str()));
                    let rec = self.record(&ctx, &t, attempt, st, started, Some(end), &log.text(), done.output.clone(), None).await;
                    ctx.events.task_finished(&t.id, st, attempt, secs, None);
                    return Finished {
                        id: t.id.clone(),
                        status: if rec.is_ok() { st } else { TaskStatus::Failed },
                        attempts: attempt,
                        seconds: clock.elapsed().as_secs_f64(),
                        error: rec.err().map(|e| e.to_string()),
                        output: done.output,
                    };
                }
                Err(f) => {
                    let again = f.retryable && attempt <= retries;
                    log.line(&format!("failed: {}", f.message));
                    let st = if again { TaskStatus::UpForRetry } else { TaskStatus::Failed };
                    let delay = t.retry.delay_before(attempt);
                    if again {
                        log.line(&format!("retry {attempt} of {retries} in {}", reel_common::duration::format(delay)));
                    } else if !f.retryable && attempt <= retries {
                        log.line("not retried: another attempt would fail the same way");
                    }
                    let _ = self.record(&ctx, &t, attempt, st, started, Some(end), &log.text(), serde_json::Value::Null, Some(f.message.clone())).await;
                    ctx.events.task_finished(&t.id, st, attempt, secs, Some(&f.message));
                    if !again {
                        return Finished {
                            id: t.id.clone(),
                            status: TaskStatus::Failed,
                            attempts: attempt,
                            seconds: clock.elapsed().as_secs_f64(),
                            error: Some(f.message),
                            output: serde_json::Value::Null,
                        };
                    }
                    ctx.clock.sleep(delay).await;
                }
            }
        }
    }

    /// The plan of a run, for `--dry-run`: tasks in order with what they would do (templates
    /// rendered), without touching the lake or the catalog.
    pub fn plan(&self, p: &Pipeline, opts: &RunOptions) -> Result<Plan> {
        let params = merged_params(p, &opts.params)?;
        let vars = dag::variables(p, opts.ds, "<run id>", &self.env.workspace.dir, &params);
        let selected: HashSet<&str> = if opts.only.is_empty() { p.tasks.iter().map(|t| t.id.as_str()).collect() } else { opts.only.iter().map(String::as_str).collect() };
        let mut level: HashMap<&str, usize> = HashMap::new();
        let mut out = Vec::new();
        for t in &p.tasks {
            let l = t.depends_on.iter().filter_map(|d| level.get(d.as_str())).max().map_or(0, |m| m + 1);
            level.insert(&t.id, l);
            if !selected.contains(t.id.as_str()) {
                continue;
            }
            out.push(PlannedTask {
                id: t.id.clone(),
                kind: t.kind.name().into(),
                level: l,
                depends_on: t.depends_on.clone(),
                retries: if opts.no_retries { 0 } else { t.retry.retries },
                timeout: t.timeout.map(reel_common::duration::format),
                depends_on_past: t.depends_on_past,
                action: tasks::describe(&t.kind, &vars, &t.id).map_err(|e| Error::BadRequest(e.message))?,
            });
        }
        Ok(Plan { pipeline: p.name.clone(), ds: opts.ds.to_string(), params, tasks: out })
    }
}

fn outcome(t: &Task, status: TaskStatus, attempts: u32, seconds: f64, error: Option<String>, output: serde_json::Value) -> TaskOutcome {
    TaskOutcome { id: t.id.clone(), kind: t.kind.name().into(), status, attempts, seconds, error, output }
}

/// The pipeline's params with `overrides` applied; an unknown name is refused.
pub fn merged_params(p: &Pipeline, overrides: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>> {
    let mut params = p.params.clone();
    for (k, v) in overrides {
        if !params.contains_key(k) {
            return Err(Error::BadRequest(format!(
                "--param {k}: {} declares no parameter {k:?}; its [params]: {}",
                p.name,
                if p.params.is_empty() { "none".to_string() } else { p.params.keys().cloned().collect::<Vec<_>>().join(", ") }
            )));
        }
        params.insert(k.clone(), v.clone());
    }
    Ok(params)
}

/// What a run would do.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The pipeline.
    pub pipeline: String,
    /// The day.
    pub ds: String,
    /// Parameters.
    pub params: BTreeMap<String, String>,
    /// Tasks in order.
    pub tasks: Vec<PlannedTask>,
}

/// One task of a plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedTask {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Depth in the DAG (tasks of one level can run at once).
    pub level: usize,
    /// Upstream tasks.
    pub depends_on: Vec<String>,
    /// Retries.
    pub retries: u32,
    /// Timeout.
    pub timeout: Option<String>,
    /// Whether it waits for the previous day.
    pub depends_on_past: bool,
    /// What it would do, templates rendered.
    pub action: String,
}
