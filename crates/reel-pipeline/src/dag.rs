//! Pipeline files: `pipelines/NAME.toml`, parsed and checked at load time. Unknown keys,
//! unknown task references, cycles and bad templates are refused with their line.
//!
//! ```toml
//! description = "New MovieLens drops: ingest, clean, validate, refresh the report tables"
//! schedule = "0 6 * * *"        # cron, UTC; the run for day D starts when D's interval ends
//! catchup = false               # true: the scheduler also runs every missed day since `start`
//! start = "2025-01-01"
//! max_parallel = 2              # tasks at once
//!
//! [defaults]                    # for every task that does not say otherwise
//! retries = 2
//! retry_delay = "30s"
//! retry_backoff = 2.0           # each retry waits twice as long as the one before
//! max_retry_delay = "10m"
//! timeout = "1h"
//!
//! [params]                      # {{ params.NAME }}, overridable with `run --param NAME=VALUE`
//! algo = "svd"
//!
//! [notify]
//! webhook = "https://hooks.example.com/T000/B000"
//! on = ["failure"]              # or ["failure", "success"]
//!
//! [[task]]
//! id = "ingest"
//! kind = "ingest"
//! path = "landing/movielens/{{ ds }}"
//!
//! [[task]]
//! id = "daily"
//! kind = "sql"
//! depends_on = ["ingest"]
//! output = "curated.daily_ratings"
//! partition = "ds"              # replace only the run day's partition, in one transaction
//! sql = "SELECT count(*) AS ratings FROM raw.ratings WHERE ds = '{{ ds }}'"
//! ```
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use reel_common::template::{self, line_of};
use reel_common::{Ds, TableRef};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::cron::Cron;

/// Errors of pipeline files: always the file and the line.
#[derive(Debug, thiserror::Error)]
pub enum DagError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Anything wrong in the file.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// No such pipeline in the workspace.
    #[error("no pipeline {name:?}: {path} does not exist; pipelines here: {available}")]
    NotFound {
        /// The name asked for.
        name: String,
        /// The file looked for.
        path: PathBuf,
        /// The pipelines that exist.
        available: String,
    },
}

/// When a notification is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyOn {
    /// A run failed.
    Failure,
    /// A run succeeded.
    Success,
}

/// Where to send run notifications.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notify {
    /// URL that receives a JSON POST per run.
    pub webhook: String,
    /// Which outcomes are sent.
    pub on: Vec<NotifyOn>,
}

/// What `ingest` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IngestTables {
    /// raw, clean and quarantine tables (clean replaced whole).
    All,
    /// raw and quarantine only (the run day's partitions); a SQL task builds clean.
    Raw,
}

/// What to do when the input of an ingest is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IfMissing {
    /// The task fails.
    Fail,
    /// The task and everything downstream of it are skipped; the run succeeds.
    Skip,
}

/// What a task does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskKind {
    /// Load a dataset folder (templated path) into the lake.
    Ingest {
        /// `movielens` (any MovieLens layout).
        format: String,
        /// The folder, relative to the workspace; templated.
        path: String,
        /// raw only, or raw + clean.
        tables: IngestTables,
        /// When the folder is missing.
        if_missing: IfMissing,
    },
    /// A SQL model materialised as a table.
    Sql {
        /// The query (from `sql` or the `file`), templated.
        sql: String,
        /// The file it came from, if any.
        file: Option<PathBuf>,
        /// The table written.
        output: TableRef,
        /// With a partition column: only the run day's partition is replaced (the column is
        /// added with the run day if the query does not produce it). Without: the table is
        /// replaced whole.
        partition: Option<String>,
        /// The table's catalog description.
        description: Option<String>,
    },
    /// Check a table against its expectations; a failing `error` expectation fails the task.
    Validate {
        /// The table.
        table: TableRef,
        /// The expectations file (default `expectations/<table>.toml`).
        expectations: Option<PathBuf>,
    },
    /// Train a model on the latest data and register it.
    Train {
        /// Registry name.
        model: String,
        /// Algorithm; templated.
        algo: String,
        /// Algorithm parameters; values templated.
        params: BTreeMap<String, String>,
        /// Ratings table.
        table: String,
        /// Held-out split.
        split: String,
        /// Split and model seed.
        seed: u64,
    },
    /// Re-evaluate a model version on its held-out data; optional bounds fail the task.
    Evaluate {
        /// Registry name.
        model: String,
        /// The train task whose version to use (default: the nearest upstream train task,
        /// else the latest version).
        from: Option<String>,
        /// Fail if RMSE is above this.
        max_rmse: Option<f64>,
        /// Fail if NDCG@10 is below this.
        min_ndcg: Option<f64>,
    },
    /// Move an alias to a version if it beats the current holder (the gate).
    Promote {
        /// Registry name.
        model: String,
        /// The train task whose version to promote.
        from: Option<String>,
        /// Alias (`champion`).
        alias: String,
        /// Skip the gate.
        force: bool,
        /// Fail the task when the gate refuses (default: succeed, and say so).
        fail_if_refused: bool,
    },
    /// A report of the report pack, through the report runner the binary provides.
    Report {
        /// Report name; templated.
        report: String,
        /// Report parameters; values templated.
        params: BTreeMap<String, String>,
        /// Chart file to write (relative to the workspace); templated.
        chart: Option<String>,
        /// HTML folder (for `report = "all"`); templated.
        html: Option<String>,
    },
    /// A shell command (`sh -c`), in the workspace folder; templated.
    Shell {
        /// The command.
        command: String,
        /// Extra environment; values templated.
        env: BTreeMap<String, String>,
    },
}

impl TaskKind {
    /// `ingest`, `sql`, ...
    pub fn name(&self) -> &'static str {
        match self {
            TaskKind::Ingest { .. } => "ingest",
            TaskKind::Sql { .. } => "sql",
            TaskKind::Validate { .. } => "validate",
            TaskKind::Train { .. } => "train",
            TaskKind::Evaluate { .. } => "evaluate",
            TaskKind::Promote { .. } => "promote",
            TaskKind::Report { .. } => "report",
            TaskKind::Shell { .. } => "shell",
        }
    }
}

/// Retry policy: `retries` more attempts after the first, waiting `delay * backoff^(k-1)`
/// before retry k, at most `max_delay`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retry {
    /// Retries after the first attempt.
    pub retries: u32,
    /// Wait before the first retry.
    #[serde(with = "dur")]
    pub delay: Duration,
    /// Factor between consecutive waits (1 = constant).
    pub backoff: f64,
    /// Longest wait.
    #[serde(with = "dur")]
    pub max_delay: Duration,
}

impl Retry {
    /// The wait before retry `k` (1-based).
    pub fn delay_before(&self, k: u32) -> Duration {
        let factor = self.backoff.powi(k.saturating_sub(1) as i32);
        let secs = (self.delay.as_secs_f64() * factor).min(self.max_delay.as_secs_f64());
        Duration::from_secs_f64(secs.max(0.0))
    }
}

mod dur {
    pub fn serialize<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&reel_common::duration::format(*d))
    }
}

mod opt_dur {
    pub fn serialize<S: serde::Serializer>(d: &Option<std::time::Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&reel_common::duration::format(*d)),
            None => s.serialize_none(),
        }
    }
}

/// One task of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Task {
    /// Its id (letters, digits, `_`, `-`).
    pub id: String,
    /// What it does.
    pub kind: TaskKind,
    /// Tasks that must succeed first.
    pub depends_on: Vec<String>,
    /// Retries.
    pub retry: Retry,
    /// Longest an attempt may run.
    #[serde(with = "opt_dur")]
    pub timeout: Option<Duration>,
    /// Run only if this task succeeded for the previous run day.
    pub depends_on_past: bool,
    /// Line of its `[[task]]`.
    pub line: usize,
}

/// A checked pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pipeline {
    /// Its name (the file name without `.toml`).
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// What it is for.
    pub description: String,
    /// Its cron schedule, if the scheduler runs it.
    pub schedule: Option<Cron>,
    /// Whether the scheduler runs missed days.
    pub catchup: bool,
    /// The first run day.
    pub start: Option<Ds>,
    /// Tasks at once.
    pub max_parallel: usize,
    /// Declared parameters with their defaults.
    pub params: BTreeMap<String, String>,
    /// Notifications.
    pub notify: Option<Notify>,
    /// Tasks in a valid execution order (dependencies first, then file order).
    pub tasks: Vec<Task>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    name: Option<Spanned<String>>,
    description: Option<String>,
    schedule: Option<Spanned<String>>,
    #[serde(default)]
    catchup: bool,
    start: Option<Spanned<String>>,
    max_parallel: Option<Spanned<i64>>,
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    params: BTreeMap<String, toml::Value>,
    notify: Option<Spanned<RawNotify>>,
    #[serde(default)]
    task: Vec<Spanned<RawTask>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    retries: Option<i64>,
    retry_delay: Option<String>,
    retry_backoff: Option<f64>,
    max_retry_delay: Option<String>,
    timeout: Option<String>,
    depends_on_past: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    webhook: String,
    #[serde(default)]
    on: Option<Vec<NotifyOn>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    id: Spanned<String>,
    kind: Spanned<String>,
    #[serde(default)]
    depends_on: Vec<Spanned<String>>,
    retries: Option<i64>,
    retry_delay: Option<String>,
    retry_backoff: Option<f64>,
    max_retry_delay: Option<String>,
    timeout: Option<String>,
    depends_on_past: Option<bool>,
    description: Option<String>,
    // ingest
    format: Option<String>,
    path: Option<Spanned<String>>,
    tables: Option<IngestTables>,
    if_missing: Option<IfMissing>,
    // sql
    sql: Option<Spanned<String>>,
    file: Option<String>,
    output: Option<Spanned<String>>,
    partition: Option<String>,
    // validate
    table: Option<Spanned<String>>,
    expectations: Option<String>,
    // train / evaluate / promote
    model: Option<String>,
    algo: Option<Spanned<String>>,
    params: Option<BTreeMap<String, Spanned<toml::Value>>>,
    split: Option<String>,
    seed: Option<i64>,
    from: Option<Spanned<String>>,
    max_rmse: Option<f64>,
    min_ndcg: Option<f64>,
    alias: Option<String>,
    force: Option<bool>,
    fail_if_refused: Option<bool>,
    // report
    report: Option<Spanned<String>>,
    chart: Option<Spanned<String>>,
    html: Option<Spanned<String>>,
    // shell
    command: Option<Spanned<String>>,
    env: Option<BTreeMap<String, Spanned<String>>>,
}

/// Built-in template variables (besides `params.NAME`).
pub const VARIABLES: &[&str] = &["ds", "ds_start", "ds_end", "ds_nodash", "prev_ds", "next_ds", "run_id", "pipeline", "task", "workspace"];

fn check_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && id.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}

/// The pipelines folder of a workspace.
pub fn pipelines_dir(workspace: &Path) -> PathBuf {
    workspace.join("pipelines")
}

/// The names of the pipelines of a workspace (`pipelines/*.toml`), sorted.
pub fn list(workspace: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(pipelines_dir(workspace))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".toml")).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Loads `pipelines/NAME.toml` of a workspace.
pub fn load(workspace: &Path, name: &str) -> Result<Pipeline, DagError> {
    let path = pipelines_dir(workspace).join(format!("{name}.toml"));
    if !path.is_file() {
        let names = list(workspace);
        return Err(DagError::NotFound {
            name: name.into(),
            path,
            available: if names.is_empty() { "none (reelhouse init creates movielens_daily and retrain_weekly)".into() } else { names.join(", ") },
        });
    }
    Pipeline::from_file(&path, workspace)
}

/// Where a template error sits: the line of the string's start plus the lines before the
/// error inside the string (a `"""` string starts on the line after its delimiter).
fn template_line(text: &str, span_start: usize, value: &str, offset: usize) -> usize {
    let base = line_of(text, span_start);
    let raw = &text[span_start.min(text.len())..];
    let multi_nl = (raw.starts_with("\"\"\"") || raw.starts_with("'''")) && raw[3..].starts_with('\n');
    base + line_of(value, offset) - 1 + usize::from(multi_nl)
}

impl Pipeline {
    /// Reads and checks a pipeline file; `workspace` resolves `file = ...` of SQL tasks.
    pub fn from_file(path: &Path, workspace: &Path) -> Result<Pipeline, DagError> {
        let text = std::fs::read_to_string(path).map_err(|e| DagError::Io { path: path.to_path_buf(), source: e })?;
        Pipeline::from_toml(path, &text, workspace)
    }

    /// Parses and checks the text of a pipeline file.
    pub fn from_toml(path: &Path, text: &str, workspace: &Path) -> Result<Pipeline, DagError> {
        let invalid = |line: usize, message: String| DagError::Invalid { path: path.to_path_buf(), line, message };
        let raw: RawPipeline = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(text, s.start));
            invalid(line, e.message().trim().to_string())
        })?;
        let stem = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".toml")).unwrap_or("pipeline").to_string();
        let name = match &raw.name {
            Some(n) if *n.get_ref() != stem => {
                return Err(invalid(line_of(text, n.span().start), format!("name {:?} differs from the file name {stem:?}; drop `name` or rename the file", n.get_ref())));
            }
            _ => stem,
        };
        if !check_id(&name) {
            return Err(invalid(1, format!("pipeline name {name:?}: use letters, digits, '_' and '-', starting with a letter")));
        }
        let schedule = match &raw.schedule {
            Some(s) => Some(s.get_ref().parse::<Cron>().map_err(|e| invalid(line_of(text, s.span().start), e))?),
            None => None,
        };
        let start = match &raw.start {
            Some(s) => Some(s.get_ref().parse::<Ds>().map_err(|e| invalid(line_of(text, s.span().start), e.to_string()))?),
            None => None,
        };
        if raw.catchup && start.is_none() {
            return Err(invalid(1, "catchup = true needs `start = \"YYYY-MM-DD\"`: the first day to catch up from".into()));
        }
        let max_parallel = match &raw.max_parallel {
            Some(m) if *m.get_ref() < 1 || *m.get_ref() > 64 => {
                return Err(invalid(line_of(text, m.span().start), format!("max_parallel = {} is not within 1..64", m.get_ref())));
            }
            Some(m) => *m.get_ref() as usize,
            None => 2,
        };
        let mut params = BTreeMap::new();
        for (k, v) in &raw.params {
            if !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(invalid(1, format!("parameter name {k:?}: use letters, digits and '_'")));
            }
            params.insert(k.clone(), value_text(v).map_err(|m| invalid(1, format!("params.{k}: {m}")))?);
        }
        let notify = match raw.notify {
            Some(n) => {
                let line = line_of(text, n.span().start);
                let n = n.into_inner();
                if !(n.webhook.starts_with("http://") || n.webhook.starts_with("https://")) {
                    return Err(invalid(line, format!("notify.webhook {:?} is not an http(s) URL", n.webhook)));
                }
                Some(Notify { webhook: n.webhook, on: n.on.unwrap_or_else(|| vec![NotifyOn::Failure]) })
            }
            None => None,
        };
        let d = &raw.defaults;
        let dur = |v: &Option<String>, what: &str, line: usize, default: Option<Duration>| -> Result<Option<Duration>, DagError> {
            match v {
                Some(s) => reel_common::duration::parse(s).map(Some).map_err(|e| invalid(line, format!("{what}: {e}"))),
                None => Ok(default),
            }
        };
        let default_retry = Retry {
            retries: u32::try_from(d.retries.unwrap_or(0)).map_err(|_| invalid(1, "defaults.retries must be 0 or more".into()))?,
            delay: dur(&d.retry_delay, "defaults.retry_delay", 1, Some(Duration::from_secs(30)))?.unwrap_or_default(),
            backoff: d.retry_backoff.unwrap_or(2.0),
            max_delay: dur(&d.max_retry_delay, "defaults.max_retry_delay", 1, Some(Duration::from_secs(3600)))?.unwrap_or_default(),
        };
        let default_timeout = dur(&d.timeout, "defaults.timeout", 1, None)?;

        let known_var = |n: &str| VARIABLES.contains(&n) || n.strip_prefix("params.").is_some_and(|p| params.contains_key(p));
        let known_list = {
            let mut v: Vec<String> = VARIABLES.iter().map(|s| s.to_string()).collect();
            v.extend(params.keys().map(|k| format!("params.{k}")));
            v.join(", ")
        };
        let check_tpl = |s: &Spanned<String>, field: &str| -> Result<String, DagError> {
            template::check(s.get_ref(), &known_var, &known_list).map_err(|e| {
                invalid(template_line(text, s.span().start, s.get_ref(), e.offset), format!("in `{field}`: {e}"))
            })?;
            Ok(s.get_ref().clone())
        };

        if raw.task.is_empty() {
            return Err(invalid(1, "no tasks: add [[task]] tables with id and kind".into()));
        }
        let mut tasks = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut dep_lines: HashMap<(String, String), usize> = HashMap::new();
        for st in raw.task {
            let line = line_of(text, st.span().start);
            let t = st.into_inner();
            let id = t.id.get_ref().clone();
            let id_line = line_of(text, t.id.span().start);
            if !check_id(&id) {
                return Err(invalid(id_line, format!("task id {id:?}: use letters, digits, '_' and '-', starting with a letter")));
            }
            if let Some(first) = seen.insert(id.clone(), id_line) {
                return Err(invalid(id_line, format!("task id {id:?} is used twice (first on line {first})")));
            }
            let need = |v: Option<Spanned<String>>, field: &str| -> Result<Spanned<String>, DagError> {
                v.ok_or_else(|| invalid(line, format!("task {id}: a {} task needs `{field}`", t.kind.get_ref())))
            };
            let kind_line = line_of(text, t.kind.span().start);
            let _ = &t.description;
            // Which keys each kind takes; anything else given is refused.
            let given: Vec<(&str, bool)> = vec![
                ("format", t.format.is_some()),
                ("path", t.path.is_some()),
                ("tables", t.tables.is_some()),
                ("if_missing", t.if_missing.is_some()),
                ("sql", t.sql.is_some()),
                ("file", t.file.is_some()),
                ("output", t.output.is_some()),
                ("partition", t.partition.is_some()),
                ("table", t.table.is_some()),
                ("expectations", t.expectations.is_some()),
                ("model", t.model.is_some()),
                ("algo", t.algo.is_some()),
                ("params", t.params.is_some()),
                ("split", t.split.is_some()),
                ("seed", t.seed.is_some()),
                ("from", t.from.is_some()),
                ("max_rmse", t.max_rmse.is_some()),
                ("min_ndcg", t.min_ndcg.is_some()),
                ("alias", t.alias.is_some()),
                ("force", t.force.is_some()),
                ("fail_if_refused", t.fail_if_refused.is_some()),
                ("report", t.report.is_some()),
                ("chart", t.chart.is_some()),
                ("html", t.html.is_some()),
                ("command", t.command.is_some()),
                ("env", t.env.is_some()),
            ];
            let allowed: &[&str] = match t.kind.get_ref().as_str() {
                "ingest" => &["format", "path", "tables", "if_missing"],
                "sql" => &["sql", "file", "output", "partition"],
                "validate" => &["table", "expectations"],
                "train" => &["model", "algo", "params", "table", "split", "seed"],
                "evaluate" => &["model", "from", "max_rmse", "min_ndcg"],
                "promote" => &["model", "from", "alias", "force", "fail_if_refused"],
                "report" => &["report", "params", "chart", "html"],
                "shell" => &["command", "env"],
                other => {
                    return Err(invalid(
                        kind_line,
                        format!("task {id}: unknown kind {other:?}; use ingest, sql, validate, train, evaluate, promote, report or shell"),
                    ));
                }
            };
            if let Some((k, _)) = given.iter().find(|(k, present)| *present && !allowed.contains(k)) {
                return Err(invalid(line, format!("task {id}: a {} task does not take `{k}` (it takes {})", t.kind.get_ref(), allowed.join(", "))));
            }
            let params_text = |p: &Option<BTreeMap<String, Spanned<toml::Value>>>| -> Result<BTreeMap<String, String>, DagError> {
                let mut out = BTreeMap::new();
                for (k, v) in p.iter().flatten() {
                    let s = value_text(v.get_ref()).map_err(|m| invalid(line_of(text, v.span().start), format!("task {id}: params.{k}: {m}")))?;
                    let sp = Spanned::new(v.span(), s);
                    out.insert(k.clone(), check_tpl(&sp, &format!("params.{k}"))?);
                }
                Ok(out)
            };
            let table_ref = |s: &Spanned<String>| -> Result<TableRef, DagError> {
                s.get_ref().parse::<TableRef>().map_err(|e| invalid(line_of(text, s.span().start), format!("task {id}: {e}")))
            };
            let kind = match t.kind.get_ref().as_str() {
                "ingest" => {
                    let format = t.format.clone().unwrap_or_else(|| "movielens".into());
                    if format != "movielens" {
                        return Err(invalid(line, format!("task {id}: ingest format {format:?} is not supported here; use \"movielens\" (or a shell task calling `reelhouse ingest ...`)")));
                    }
                    TaskKind::Ingest {
                        format,
                        path: check_tpl(&need(t.path.clone(), "path")?, "path")?,
                        tables: t.tables.unwrap_or(IngestTables::All),
                        if_missing: t.if_missing.unwrap_or(IfMissing::Fail),
                    }
                }
                "sql" => {
                    let output = table_ref(&need(t.output.clone(), "output")?)?;
                    let (sql, file) = match (&t.sql, &t.file) {
                        (Some(s), None) => (check_tpl(s, "sql")?, None),
                        (None, Some(f)) => {
                            let fp = workspace.join(f);
                            let body = std::fs::read_to_string(&fp).map_err(|e| invalid(line, format!("task {id}: cannot read {}: {e}", fp.display())))?;
                            template::check(&body, &known_var, &known_list)
                                .map_err(|e| invalid(line, format!("task {id}: {}:{}: {e}", f, line_of(&body, e.offset))))?;
                            (body, Some(PathBuf::from(f)))
                        }
                        (Some(_), Some(_)) => return Err(invalid(line, format!("task {id}: give `sql` or `file`, not both"))),
                        (None, None) => return Err(invalid(line, format!("task {id}: a sql task needs `sql = \"SELECT ...\"` or `file = \"models/x.sql\"`"))),
                    };
                    if let Some(p) = &t.partition {
                        if !p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') || p.is_empty() {
                            return Err(invalid(line, format!("task {id}: partition column {p:?}: use lowercase letters, digits and '_'")));
                        }
                    }
                    TaskKind::Sql { sql, file, output, partition: t.partition.clone(), description: t.description.clone() }
                }
                "validate" => TaskKind::Validate { table: table_ref(&need(t.table.clone(), "table")?)?, expectations: t.expectations.as_ref().map(PathBuf::from) },
                "train" => TaskKind::Train {
                    model: t.model.clone().unwrap_or_else(|| "recommender".into()),
                    algo: match &t.algo {
                        Some(a) => check_tpl(a, "algo")?,
                        None => "svd".into(),
                    },
                    params: params_text(&t.params)?,
                    table: match &t.table {
                        Some(tb) => table_ref(tb)?.to_string(),
                        None => "clean.ratings".into(),
                    },
                    split: t.split.clone().unwrap_or_else(|| "random:0.8".into()),
                    seed: u64::try_from(t.seed.unwrap_or(42)).map_err(|_| invalid(line, format!("task {id}: seed must be 0 or more")))?,
                },
                "evaluate" => TaskKind::Evaluate {
                    model: t.model.clone().unwrap_or_else(|| "recommender".into()),
                    from: t.from.as_ref().map(|f| f.get_ref().clone()),
                    max_rmse: t.max_rmse,
                    min_ndcg: t.min_ndcg,
                },
                "promote" => TaskKind::Promote {
                    model: t.model.clone().unwrap_or_else(|| "recommender".into()),
                    from: t.from.as_ref().map(|f| f.get_ref().clone()),
                    alias: t.alias.clone().unwrap_or_else(|| "champion".into()),
                    force: t.force.unwrap_or(false),
                    fail_if_refused: t.fail_if_refused.unwrap_or(false),
                },
                "report" => TaskKind::Report {
                    report: check_tpl(&need(t.report.clone(), "report")?, "report")?,
                    params: params_text(&t.params)?,
                    chart: t.chart.as_ref().map(|c| check_tpl(c, "chart")).transpose()?,
                    html: t.html.as_ref().map(|c| check_tpl(c, "html")).transpose()?,
                },
                _ => {
                    let mut env = BTreeMap::new();
                    for (k, v) in t.env.iter().flatten() {
                        env.insert(k.clone(), check_tpl(v, &format!("env.{k}"))?);
                    }
                    TaskKind::Shell { command: check_tpl(&need(t.command.clone(), "command")?, "command")?, env }
                }
            };
            if let Some(f) = &t.from {
                dep_lines.insert((id.clone(), format!("from:{}", f.get_ref())), line_of(text, f.span().start));
            }
            let mut depends_on = Vec::new();
            for dep in &t.depends_on {
                dep_lines.insert((id.clone(), dep.get_ref().clone()), line_of(text, dep.span().start));
                if depends_on.contains(dep.get_ref()) {
                    return Err(invalid(line_of(text, dep.span().start), format!("task {id} lists {:?} twice in depends_on", dep.get_ref())));
                }
                depends_on.push(dep.get_ref().clone());
            }
            let retry = Retry {
                retries: match t.retries {
                    Some(r) => u32::try_from(r).map_err(|_| invalid(line, format!("task {id}: retries must be 0 or more")))?,
                    None => default_retry.retries,
                },
                delay: dur(&t.retry_delay, &format!("task {id}: retry_delay"), line, Some(default_retry.delay))?.unwrap_or_default(),
                backoff: t.retry_backoff.unwrap_or(default_retry.backoff),
                max_delay: dur(&t.max_retry_delay, &format!("task {id}: max_retry_delay"), line, Some(default_retry.max_delay))?.unwrap_or_default(),
            };
            if !(retry.backoff >= 1.0 && retry.backoff <= 10.0) {
                return Err(invalid(line, format!("task {id}: retry_backoff = {} is not within 1..10 (1 waits the same each time)", retry.backoff)));
            }
            let timeout = dur(&t.timeout, &format!("task {id}: timeout"), line, default_timeout)?;
            if timeout.is_some_and(|d| d.is_zero()) {
                return Err(invalid(line, format!("task {id}: timeout must be more than 0s")));
            }
            tasks.push(Task {
                id,
                kind,
                depends_on,
                retry,
                timeout,
                depends_on_past: t.depends_on_past.or(d.depends_on_past).unwrap_or(false),
                line,
            });
        }
        // References.
        let ids: HashSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
        for t in &tasks {
            for dep in &t.depends_on {
                if !ids.contains(dep.as_str()) {
                    let line = dep_lines.get(&(t.id.clone(), dep.clone())).copied().unwrap_or(t.line);
                    return Err(invalid(line, format!("task {} depends on {dep:?}, which is not a task of this pipeline (tasks: {})", t.id, sorted(&ids))));
                }
                if dep == &t.id {
                    return Err(invalid(t.line, format!("task {} depends on itself", t.id)));
                }
            }
            let from = match &t.kind {
                TaskKind::Evaluate { from, .. } | TaskKind::Promote { from, .. } => from.as_ref(),
                _ => None,
            };
            if let Some(f) = from {
                let line = dep_lines.get(&(t.id.clone(), format!("from:{f}"))).copied().unwrap_or(t.line);
                match tasks.iter().find(|x| &x.id == f) {
                    Some(x) if matches!(x.kind, TaskKind::Train { .. }) => {}
                    Some(_) => return Err(invalid(line, format!("task {}: from = {f:?} is not a train task", t.id))),
                    None => return Err(invalid(line, format!("task {}: from = {f:?} is not a task of this pipeline", t.id))),
                }
            }
        }
        let tasks = order(tasks).map_err(|(cycle, line)| invalid(line, format!("dependency cycle: {}; remove one of these depends_on", cycle.join(" -> "))))?;
        // `from` must be upstream, or the version it names would not exist yet.
        for t in &tasks {
            if let TaskKind::Evaluate { from: Some(f), .. } | TaskKind::Promote { from: Some(f), .. } = &t.kind {
                if !upstream_of(&tasks, &t.id).contains(f) {
                    let line = dep_lines.get(&(t.id.clone(), format!("from:{f}"))).copied().unwrap_or(t.line);
                    return Err(invalid(line, format!("task {}: from = {f:?} must also be upstream of it; add it to depends_on", t.id)));
                }
            }
        }
        Ok(Pipeline {
            name,
            path: path.to_path_buf(),
            description: raw.description.unwrap_or_default(),
            schedule,
            catchup: raw.catchup,
            start,
            max_parallel,
            params,
            notify,
            tasks,
        })
    }

    /// A task by id.
    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id == id)
    }

    /// The run day before `ds` on this pipeline's schedule (the day before, without one).
    pub fn prev_ds(&self, ds: Ds) -> Ds {
        if let Some(c) = &self.schedule {
            let start = ds.0.and_hms_opt(0, 0, 0).map(|t| chrono::TimeZone::from_utc_datetime(&chrono::Utc, &t));
            // The interval starting in day ds starts at its first firing on or after 00:00.
            if let Some(s) = start {
                let first = if c.matches(s) { Some(s) } else { c.next_after(s) };
                if let Some(p) = first.and_then(|f| c.prev_before(f)) {
                    return Ds(p.date_naive());
                }
            }
        }
        Ds(ds.0 - chrono::Duration::days(1))
    }
}

/// Every task upstream of `id` (transitively).
pub fn upstream_of(tasks: &[Task], id: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut stack = vec![id.to_string()];
    while let Some(x) = stack.pop() {
        if let Some(t) = tasks.iter().find(|t| t.id == x) {
            for d in &t.depends_on {
                if out.insert(d.clone()) {
                    stack.push(d.clone());
                }
            }
        }
    }
    out
}

/// Every task downstream of `id` (transitively).
pub fn downstream_of(tasks: &[Task], id: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut stack = vec![id.to_string()];
    while let Some(x) = stack.pop() {
        for t in tasks.iter().filter(|t| t.depends_on.contains(&x)) {
            if out.insert(t.id.clone()) {
                stack.push(t.id.clone());
            }
        }
    }
    out
}

fn sorted(ids: &HashSet<&str>) -> String {
    let mut v: Vec<&str> = ids.iter().copied().collect();
    v.sort_unstable();
    v.join(", ")
}

/// Topological order (Kahn), stable in file order; on a cycle, the cycle and a line.
fn order(tasks: Vec<Task>) -> Result<Vec<Task>, (Vec<String>, usize)> {
    let mut done: HashSet<String> = HashSet::new();
    let mut out: Vec<Task> = Vec::with_capacity(tasks.len());
    let mut left = tasks;
    while !left.is_empty() {
        let ready: Vec<usize> = (0..left.len()).filter(|&k| left[k].depends_on.iter().all(|d| done.contains(d))).collect();
        if ready.is_empty() {
            // Walk dependencies from any remaining task until one repeats: that is a cycle.
            let mut path: Vec<String> = vec![left[0].id.clone()];
            loop {
                let cur = path.last().cloned().unwrap_or_default();
                let Some(t) = left.iter().find(|t| t.id == cur) else { break };
                let Some(next) = t.depends_on.iter().find(|d| !done.contains(*d)) else { break };
                if let Some(pos) = path.iter().position(|p| p == next) {
                    let mut cycle: Vec<String> = path[pos..].to_vec();
                    cycle.reverse();
                    cycle.insert(0, next.clone());
                    cycle.dedup();
                    let first = cycle.first().cloned().unwrap_or_default();
                    if cycle.last() != Some(&first) {
                        cycle.push(first.clone());
                    }
                    let line = left.iter().find(|t| t.id == first).map_or(1, |t| t.line);
                    return Err((cycle, line));
                }
                path.push(next.clone());
            }
            return Err((left.iter().map(|t| t.id.clone()).collect(), left[0].line));
        }
        let mut taken = Vec::new();
        for k in ready.into_iter().rev() {
            taken.push(left.remove(k));
        }
        taken.reverse();
        for t in taken {
            done.insert(t.id.clone());
            out.push(t);
        }
    }
    Ok(out)
}

fn value_text(v: &toml::Value) -> Result<String, String> {
    match v {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!("must be a string, number or boolean, not {}", other.type_str())),
    }
}

/// The template variables of a run of `p` for `ds`.
pub fn variables(p: &Pipeline, ds: Ds, run_id: &str, workspace: &Path, params: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let start = ds.0.and_hms_opt(0, 0, 0).unwrap_or_default();
    let end = start + chrono::Duration::days(1);
    let mut v = BTreeMap::new();
    v.insert("ds".into(), ds.to_string());
    v.insert("ds_nodash".into(), ds.0.format("%Y%m%d").to_string());
    v.insert("ds_start".into(), start.format("%Y-%m-%d %H:%M:%S").to_string());
    v.insert("ds_end".into(), end.format("%Y-%m-%d %H:%M:%S").to_string());
    v.insert("prev_ds".into(), p.prev_ds(ds).to_string());
    v.insert("next_ds".into(), (ds.0 + chrono::Duration::days(1)).format("%Y-%m-%d").to_string());
    v.insert("run_id".into(), run_id.to_string());
    v.insert("pipeline".into(), p.name.clone());
    v.insert("workspace".into(), workspace.display().to_string());
    for (k, val) in params {
        v.insert(format!("params.{k}"), val.clone());
    }
    v
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Pipeline, DagError> {
        Pipeline::from_toml(Path::new("pipelines/p.toml"), text, Path::new("/nonexistent"))
    }

    fn err(text: &str) -> (usize, String) {
        match parse(text).unwrap_err() {
            DagError::Invalid { line, message, .. } => (line, message),
            other => panic!("{other}"),
        }
    }

    const GOOD: &str = r#"
description = "test"
schedule = "0 6 * * *"
[defaults]
retries = 2
retry_delay = "10s"
[params]
algo = "svd"
factors = 50
[[task]]
id = "c"
kind = "shell"
command = "echo {{ ds }} {{ params.algo }}"
depends_on = ["a", "b"]
[[task]]
id = "a"
kind = "shell"
command = "true"
retries = 0
[[task]]
id = "b"
kind = "sql"
output = "curated.daily"
partition = "ds"
sql = """
SELECT count(*) AS n
FROM raw.ratings WHERE ds = '{{ ds }}'
"""
depends_on = ["a"]
"#;

    #[test]
    fn a_good_file_is_ordered_and_defaults_apply() {
        let p = parse(GOOD).unwrap();
        assert_eq!(p.name, "p");
        assert_eq!(p.tasks.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), vec!["a", "b", "c"]);
        assert_eq!(p.task("c").unwrap().retry.retries, 2);
        assert_eq!(p.task("a").unwrap().retry.retries, 0);
        assert_eq!(p.task("c").unwrap().retry.delay, Duration::from_secs(10));
        assert_eq!(p.params["factors"], "50");
        assert_eq!(p.task("c").unwrap().line, 10, "the line of its [[task]]");
        assert_eq!(p.schedule.as_ref().unwrap().as_str(), "0 6 * * *");
        assert_eq!(upstream_of(&p.tasks, "c").len(), 2);
        assert_eq!(downstream_of(&p.tasks, "a"), HashSet::from(["b".to_string(), "c".to_string()]));
    }

    #[test]
    fn a_cycle_is_refused_with_its_path_and_line() {
        let (line, msg) = err("[[task]]\nid = \"a\"\nkind = \"shell\"\ncommand = \"x\"\ndepends_on = [\"c\"]\n[[task]]\nid = \"b\"\nkind = \"shell\"\ncommand = \"x\"\ndepends_on = [\"a\"]\n[[task]]\nid = \"c\"\nkind = \"shell\"\ncommand = \"x\"\ndepends_on = [\"b\"]\n");
        assert!(msg.contains("dependency cycle"), "{msg}");
        assert!(msg.contains("a -> ") && msg.contains("b") && msg.contains("c"), "{msg}");
        assert!([1, 6, 11].contains(&line), "{line}");
    }

    #[test]
    fn mistakes_are_refused_with_their_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("[[task]]\nid = \"a\"\nkind = \"shell\"\ncommand = \"x\"\ndepends_on = [\"zz\"]\n", 5, "not a task"),
            ("[[task]]\nid = \"a\"\nkind = \"shell\"\ncommand = \"x\"\n\n[[task]]\nid = \"a\"\nkind = \"shell\"\ncommand = \"y\"\n", 7, "used twice"),
            ("[[task]]\nid = \"a\"\nkind = \"bash\"\n", 3, "unknown kind"),
            ("[[task]]\nid = \"a\"\nkind = \"shell\"\ncommand = \"echo {{ dss }}\"\n", 4, "unknown template variable `dss`"),
            ("[[task]]\nid = \"a\"\nkind = \"shell\"\ncommand = \"echo {{ params.x }}\"\n", 4, "params.x"),
            ("[[task]]\nid = \"a\"\nkind = \"sql\"\noutput = \"curated.x\"\nsql = \"\"\"\nSELECT 1\nWHERE '{{ ds '\n\"\"\"\n", 7, "never closed"),
            ("[[task]]\nid = \"a\"\nkind = \"shell\"\n", 1, "needs `command`"),
            ("[[task]]\nid = \"a\"\nkind = \"shell\"\ncommand = \"x\"\noutput = \"clean.x\"\n", 1, "does not take `output`"),
            ("schedule = \"0 6 * *\"\n[[task]]\nid = \"a\"\nkind = \"shell\"\ncommand = \"x\"\n", 1, "five"),
            ("colour = 1\n[[task]]\nid = \"a\"\nkind = \"shell\"\ncommand = \"x\"\n", 1, "unknown field"),
            ("[[task]]\nid = \"a\"\nkind = \"shell\"\ncommand = \"x\"\ntimeout = \"soon\"\n", 1, "bad duration"),
            ("[[task]]\nid = \"a\"\nkind = \"sql\"\noutput = \"gold.x\"\nsql = \"SELECT 1\"\n", 4, "zone"),
            ("catchup = true\n[[task]]\nid = \"a\"\nkind = \"shell\"\ncommand = \"x\"\n", 1, "start"),
            ("[[task]]\nid = \"t\"\nkind = \"train\"\n[[task]]\nid = \"p\"\nkind = \"promote\"\nfrom = \"t\"\n", 7, "upstream"),
            ("[[task]]\nid = \"t\"\nkind = \"shell\"\ncommand = \"x\"\n[[task]]\nid = \"p\"\nkind = \"promote\"\nfrom = \"t\"\ndepends_on = [\"t\"]\n", 8, "not a train task"),
            ("", 1, "no tasks"),
        ];
        for (text, line, needle) in cases {
            let (l, msg) = err(text);
            assert!(msg.contains(needle), "{text:?}: {msg}");
            assert_eq!(l, *line, "{text:?}: {msg}");
        }
    }

    #[test]
    fn retry_delays_grow_and_are_capped() {
        let r = Retry { retries: 5, delay: Duration::from_secs(10), backoff: 2.0, max_delay: Duration::from_secs(60) };
        let d: Vec<u64> = (1..=5).map(|k| r.delay_before(k).as_secs()).collect();
        assert_eq!(d, vec![10, 20, 40, 60, 60]);
    }

    #[test]
    fn previous_run_days_follow_the_schedule() {
        let mut p = parse(GOOD).unwrap();
        let d = |s: &str| s.parse::<Ds>().unwrap();
        assert_eq!(p.prev_ds(d("2025-04-09")), d("2025-04-08"));
        p.schedule = Some("0 3 * * sun".parse().unwrap());
        assert_eq!(p.prev_ds(d("2025-04-13")), d("2025-04-06"), "weekly: a week before");
        p.schedule = None;
        assert_eq!(p.prev_ds(d("2025-03-01")), d("2025-02-28"));
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,300}") {
            let _ = parse(&text);
        }
    }
}
