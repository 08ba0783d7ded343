//! The scheduler: runs every pipeline of a workspace on its cron, catching up missed days
//! when the pipeline asks for it, without ever running a pipeline-day twice.
//!
//! Which days are due is decided from the catalog, not from memory: a day is due when its
//! interval has ended (`0 6 * * *` runs day D at D+1 06:00, as Airflow does) and the day has
//! no run yet. So a restarted scheduler, or two schedulers on one catalog, find the same
//! answer; the pipeline-day lock settles a race, and the runner checks again under the lock.
//! A run left `running` by a scheduler that died is resumed (`--rerun-failed` semantics)
//! once its lock is found dead.
//!
//! ```text
//!   loop every `poll`:
//!     for each pipeline with a schedule:
//!        due days = intervals ended by now (catchup: all since start; else the latest)
//!                   minus days with a run in reel_pipeline_runs
//!        + days whose latest run is `running` with a dead lock (resumed)
//!        run them in day order (one at a time per pipeline)
//! ```
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reel_common::Ds;
use serde::Serialize;

use crate::dag::{self, Pipeline};
use crate::run::{Owner, RunOptions, RunOutcome, Runner};
use crate::{Error, Result};

/// At most this many days are run per pipeline and pass (a long catch-up proceeds over
/// several passes, so a new day is never starved by an old backlog for long).
pub const MAX_DAYS_PER_PASS: usize = 31;

/// What one pass did for one pipeline-day.
#[derive(Debug, Clone, Serialize)]
pub struct Scheduled {
    /// The pipeline.
    pub pipeline: String,
    /// The day.
    pub ds: String,
    /// `ran`, `resumed`, `exists` (another scheduler got it first), `busy` (locked by a
    /// live run) or `error`.
    pub action: String,
    /// The run, when one ran.
    pub run: Option<RunOutcome>,
    /// The error, if any.
    pub error: Option<String>,
}

/// Runs the workspace's pipelines on their schedules.
#[derive(Debug, Clone)]
pub struct Scheduler {
    /// The runner (its clock is the scheduler's clock).
    pub runner: Runner,
    /// Only these pipelines (all with a schedule when empty).
    pub only: Vec<String>,
}

/// The days whose interval ended by `now`: every one since `start` with `catchup`, else the
/// latest only. `ds` is the day the interval starts in.
pub fn due_days(p: &Pipeline, now: DateTime<Utc>) -> Vec<Ds> {
    let Some(cron) = &p.schedule else { return Vec::new() };
    // The latest interval that has ended: [prev(last), last).
    use chrono::Timelike as _;
    let now = now.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(now);
    let Some(last_fire) = (if cron.matches(now) { Some(now) } else { cron.prev_before(now) }) else { return Vec::new() };
    let Some(latest_start) = cron.prev_before(last_fire) else { return Vec::new() };
    let latest = Ds(latest_start.date_naive());
    let in_range = |d: Ds| p.start.is_none_or(|s| d >= s);
    if !p.catchup {
        return if in_range(latest) { vec![latest] } else { Vec::new() };
    }
    let Some(start) = p.start else { return vec![latest] };
    let mut out: Vec<Ds> = Vec::new();
    let from = start.0.and_hms_opt(0, 0, 0).map(|t| chrono::TimeZone::from_utc_datetime(&Utc, &t));
    let Some(mut t) = from.and_then(|f| if cron.matches(f) { Some(f) } else { cron.next_after(f) }) else { return out };
    while t <= latest_start {
        let d = Ds(t.date_naive());
        if out.last() != Some(&d) {
            out.push(d);
        }
        match cron.next_after(t) {
            Some(n) => t = n,
            None => break,
        }
        if out.len() > 10_000 {
            break;
        }
    }
    out
}

impl Scheduler {
    /// The pipelines to schedule: every file of the workspace with a schedule (or the ones
    /// named). A file that does not load is reported and skipped, so one bad file does not
    /// stop the others.
    pub fn pipelines(&self) -> (Vec<Pipeline>, Vec<String>) {
        let dir = &self.runner.env.workspace.dir;
        let names = if self.only.is_empty() { dag::list(dir) } else { self.only.clone() };
        let mut ok = Vec::new();
        let mut errors = Vec::new();
        for n in names {
            match dag::load(dir, &n) {
                Ok(p) if p.schedule.is_some() => ok.push(p),
                Ok(p) if !self.only.is_empty() => errors.push(format!("{}: has no schedule; add schedule = \"0 6 * * *\"", p.name)),
                Ok(_) => {}
                Err(e) => errors.push(e.to_string()),
            }
        }
        (ok, errors)
    }

    /// One pass: runs every due pipeline-day, in day order per pipeline.
    pub async fn tick(&self) -> Result<Vec<Scheduled>> {
        let (pipelines, errors) = self.pipelines();
        for e in &errors {
            tracing::error!("{e}");
        }
        let now = self.runner.clock.now();
        let mut out = Vec::new();
        for p in pipelines {
            let have: std::collections::HashSet<String> = self.runner.env.catalog.pipeline_days(&p.name).await?.into_iter().collect();
            let mut todo: Vec<(Ds, bool)> = due_days(&p, now).into_iter().filter(|d| !have.contains(&d.to_string())).map(|d| (d, false)).collect();
            // Runs left `running` by a runner that died: resume them.
            for r in self.runner.env.catalog.pipeline_runs(Some(&p.name), None, 50).await? {
                if r.status != "running" {
                    continue;
                }
                let dead = match self.runner.env.catalog.lock_holder(&p.name, &r.ds).await? {
                    None => true,
                    Some(h) => h.run_id == r.run_id && (Owner::alive(&h.owner) == Some(false) || now.signed_duration_since(h.heartbeat_at) > chrono::Duration::from_std(self.runner.lease).unwrap_or(chrono::Duration::MAX)),
                };
                if dead {
                    if let Ok(d) = r.ds.parse::<Ds>() {
                        if !todo.iter().any(|(x, _)| *x == d) {
                            todo.push((d, true));
                        }
                    }
                }
            }
            todo.sort();
            todo.truncate(MAX_DAYS_PER_PASS);
            for (ds, resume) in todo {
                let mut opts = RunOptions::new(ds);
                opts.trigger = "scheduler".into();
                opts.rerun_failed = resume;
                opts.skip_if_exists = !resume;
                let (action, run, error) = match self.runner.run(&p, &opts).await {
                    Ok(r) if r.status == "exists" => ("exists", None, None),
                    Ok(r) => (if resume { "resumed" } else { "ran" }, Some(r), None),
                    Err(Error::AlreadyRunning { .. }) => ("busy", None, None),
                    Err(e) => ("error", None, Some(e.to_string())),
                };
                if let Some(e) = &error {
                    tracing::error!(pipeline = %p.name, %ds, error = %e, "scheduled run failed to start");
                }
                out.push(Scheduled { pipeline: p.name.clone(), ds: ds.to_string(), action: action.into(), run, error });
            }
        }
        Ok(out)
    }

    /// Passes every `poll` until `shutdown` resolves (a run in progress finishes first).
    pub async fn run_until<F>(&self, poll: Duration, shutdown: F, on_pass: Arc<dyn Fn(&[Scheduled]) + Send + Sync>) -> Result<()>
    where
        F: std::future::Future<Output = ()>,
    {
        tokio::pin!(shutdown);
        loop {
            let pass = self.tick();
            tokio::select! {
                r = pass => {
                    match r {
                        Ok(done) => on_pass(&done),
                        Err(e) => tracing::error!(error = %e, "scheduler pass failed; retrying at the next poll"),
                    }
                }
                _ = &mut shutdown => return Ok(()),
            }
            tokio::select! {
                _ = self.runner.clock.sleep(poll) => {}
                _ = &mut shutdown => return Ok(()),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::path::Path;

    fn p(extra: &str) -> Pipeline {
        let text = format!("{extra}\n[[task]]\nid = \"a\"\nkind = \"shell\"\ncommand = \"true\"\n");
        Pipeline::from_toml(Path::new("pipelines/p.toml"), &text, Path::new("/")).unwrap()
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn days(v: Vec<Ds>) -> Vec<String> {
        v.into_iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn a_day_is_due_once_its_interval_ended() {
        let daily = p("schedule = \"0 6 * * *\"");
        assert_eq!(days(due_days(&daily, t("2025-04-10T05:59:00Z"))), vec!["2025-04-08"]);
        assert_eq!(days(due_days(&daily, t("2025-04-10T06:00:00Z"))), vec!["2025-04-09"]);
        assert_eq!(days(due_days(&daily, t("2025-04-10T06:00:30Z"))), vec!["2025-04-09"], "seconds into the firing minute");
        let weekly = p("schedule = \"0 3 * * sun\"");
        assert_eq!(days(due_days(&weekly, t("2025-04-13T04:00:00Z"))), vec!["2025-04-06"]);
        assert!(due_days(&p(""), t("2025-04-13T04:00:00Z")).is_empty(), "no schedule, never due");
    }

    #[test]
    fn catchup_lists_every_missed_day_from_start() {
        let c = p("schedule = \"0 6 * * *\"\ncatchup = true\nstart = \"2025-04-05\"");
        assert_eq!(days(due_days(&c, t("2025-04-10T07:00:00Z"))), vec!["2025-04-05", "2025-04-06", "2025-04-07", "2025-04-08", "2025-04-09"]);
        let late = p("schedule = \"0 6 * * *\"\nstart = \"2025-05-01\"");
        assert!(due_days(&late, t("2025-04-10T07:00:00Z")).is_empty(), "before start");
    }
}
