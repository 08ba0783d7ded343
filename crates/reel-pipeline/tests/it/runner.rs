//! The runner.
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use reel_common::Ds;
use reel_pipeline::run::{Notifier, ReportRequest, ReportRunner, RunOptions, TaskStatus};

use super::*;

fn day(s: &str) -> Ds {
    s.parse().unwrap()
}

fn status(out: &reel_pipeline::run::RunOutcome, id: &str) -> TaskStatus {
    out.tasks.iter().find(|t| t.id == id).unwrap_or_else(|| panic!("no task {id}")).status
}

const DAILY: &str = r#"
[[task]]
id = "daily"
kind = "sql"
output = "curated.daily"
partition = "ds"
sql = "SELECT v AS n, '{{ ds }}' AS day FROM (VALUES (1), (2), (3)) AS t(v)"

[[task]]
id = "total"
kind = "sql"
depends_on = ["daily"]
output = "curated.total"
sql = "SELECT count(*) AS rows, count(DISTINCT ds) AS days FROM curated.daily"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_6_a_task_that_fails_twice_then_succeeds_under_three_retries() {
    let w = ws().await;
    let p = w.pipeline(
        "flaky",
        r#"
[[task]]
id = "flaky"
kind = "shell"
retries = 3
retry_delay = "10s"
retry_backoff = 2.0
command = "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo attempt $n; [ $n -ge 3 ]"
"#,
    );
    let out = w.runner().run(&p, &RunOptions::new(day("2025-04-09"))).await.unwrap();
    assert_eq!(out.status, "succeeded");
    let t = &out.tasks[0];
    assert_eq!((t.status, t.attempts), (TaskStatus::Succeeded, 3));
    assert_eq!(w.clock.sleeps(), vec![Duration::from_secs(10), Duration::from_secs(20)], "exponential backoff, on the run's clock");
    let attempts = w.env.catalog.task_runs(&out.run_id).await.unwrap();
    let st: Vec<(i64, &str)> = attempts.iter().map(|a| (a.attempt, a.status.as_str())).collect();
    assert_eq!(st, vec![(1, "up_for_retry"), (2, "up_for_retry"), (3, "succeeded")]);
    assert!(attempts[0].log.contains("attempt 1") && attempts[0].log.contains("exit status 1"), "{}", attempts[0].log);
    assert!(attempts[2].log.contains("attempt 3"));
    // With two retries only, the same task fails.
    std::fs::remove_file(w.path("count")).unwrap();
    let p2 = w.pipeline("flaky", &std::fs::read_to_string(w.path("pipelines/flaky.toml")).unwrap().replace("retries = 3", "retries = 1"));
    let out = w.runner().run(&p2, &RunOptions::new(day("2025-04-09"))).await.unwrap();
    assert_eq!(out.status, "failed");
    assert_eq!(out.tasks[0].attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_6_a_backfill_of_seven_days_writes_seven_partitions() {
    let w = ws().await;
    let p = w.pipeline("daily", DAILY);
    let r = w.runner();
    for k in 1..=7 {
        let mut o = RunOptions::new(day(&format!("2025-04-0{k}")));
        o.trigger = "backfill".into();
        let out = r.run(&p, &o).await.unwrap();
        assert_eq!(out.status, "succeeded", "{out:?}");
    }
    let parts = w.rows("SELECT ds, count(*) AS n, min(day) = max(day) AND min(day) = ds AS same FROM curated.daily GROUP BY ds").await;
    assert_eq!(parts.len(), 7, "{parts:?}");
    assert!(parts.iter().all(|l| l.ends_with(",3,true")), "{parts:?}");
    assert_eq!(w.rows("SELECT rows, days FROM curated.total").await, vec!["21,7"]);
    let folders = std::fs::read_dir(w.path("lake/curated/daily")).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("ds=")).count();
    assert_eq!(folders, 7);
    // Lineage: the total names the daily version it read.
    let lineage = w.env.catalog.lineage(&"curated.total".parse().unwrap()).await.unwrap();
    assert!(lineage.iter().any(|l| l.source == "curated.daily"), "{lineage:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_6_the_same_day_twice_gives_identical_tables() {
    let w = ws().await;
    let p = w.pipeline("daily", DAILY);
    let r = w.runner();
    r.run(&p, &RunOptions::new(day("2025-04-08"))).await.unwrap();
    r.run(&p, &RunOptions::new(day("2025-04-09"))).await.unwrap();
    let before = (w.rows("SELECT * FROM curated.daily").await, w.rows("SELECT * FROM curated.total").await);
    let v1 = w.env.lake.info(&"curated.daily".parse().unwrap()).await.unwrap().version;
    r.run(&p, &RunOptions::new(day("2025-04-09"))).await.unwrap();
    let after = (w.rows("SELECT * FROM curated.daily").await, w.rows("SELECT * FROM curated.total").await);
    assert_eq!(before, after, "a rerun of a day replaces its partition");
    assert_eq!(after.0.len(), 6);
    let v2 = w.env.lake.info(&"curated.daily".parse().unwrap()).await.unwrap().version;
    assert_eq!(v2, v1 + 1, "one new Delta version: delete + insert in one commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_6_a_failing_expectation_blocks_its_downstream_task() {
    let w = ws().await;
    w.write(
        "expectations/curated.scores.toml",
        "[[expect]]\ncheck = \"between\"\ncolumn = \"score\"\nmin = 0\nmax = 5\n[[expect]]\ncheck = \"row_count\"\nmin = 100\nseverity = \"warn\"\n",
    );
    let p = w.pipeline(
        "scores",
        r#"
[defaults]
retries = 2
[[task]]
id = "load"
kind = "sql"
output = "curated.scores"
sql = "SELECT * FROM (VALUES (1, 4.5), (2, 7.0), (3, 3.0)) AS t(id, score)"
[[task]]
id = "check"
kind = "validate"
table = "curated.scores"
depends_on = ["load"]
[[task]]
id = "publish"
kind = "sql"
output = "curated.published"
sql = "SELECT * FROM curated.scores"
depends_on = ["check"]
[[task]]
id = "side"
kind = "shell"
command = "true"
depends_on = ["load"]
"#,
    );
    let out = w.runner().run(&p, &RunOptions::new(day("2025-04-09"))).await.unwrap();
    assert_eq!(out.status, "failed");
    assert_eq!(status(&out, "load"), TaskStatus::Succeeded);
    assert_eq!(status(&out, "check"), TaskStatus::Failed);
    assert_eq!(status(&out, "publish"), TaskStatus::UpstreamFailed);
    assert_eq!(status(&out, "side"), TaskStatus::Succeeded, "a sibling branch still runs");
    let check = out.tasks.iter().find(|t| t.id == "check").unwrap();
    assert_eq!(check.attempts, 1, "a failed expectation is not retried");
    assert!(check.error.as_deref().unwrap().contains("between(score, 0, 5)"), "{check:?}");
    assert!(!w.env.lake.exists(&"curated.published".parse().unwrap()).await.unwrap(), "downstream never ran");
    let stored = w.env.catalog.validations(Some(&"curated.scores".parse().unwrap()), 5).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].run_id.as_deref(), Some(out.run_id.as_str()));
    assert_eq!(stored[0].status, "failed");
    // Fix the data, rerun what failed: load is reused, check and publish run.
    std::fs::write(w.path("expectations/curated.scores.toml"), "[[expect]]\ncheck = \"between\"\ncolumn = \"score\"\nmin = 0\nmax = 10\n").unwrap();
    let mut o = RunOptions::new(day("2025-04-09"));
    o.rerun_failed = true;
    let again = w.runner().run(&p, &o).await.unwrap();
    assert_eq!(again.status, "succeeded");
    assert_eq!(again.attempt_of.as_deref(), Some(out.run_id.as_str()));
    assert_eq!(status(&again, "load"), TaskStatus::Reused);
    assert_eq!(status(&again, "side"), TaskStatus::Reused);
    assert_eq!(status(&again, "publish"), TaskStatus::Succeeded);
    assert_eq!(w.rows("SELECT count(*) FROM curated.published").await, vec!["3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_tasks_run_in_parallel_and_timeouts_stop_a_task() {
    let w = ws().await;
    let p = w.pipeline(
        "par",
        r#"
max_parallel = 2
[[task]]
id = "a"
kind = "shell"
command = "touch a.started; while [ ! -e b.started ]; do sleep 0.05; done"
timeout = "20s"
[[task]]
id = "b"
kind = "shell"
command = "touch b.started; while [ ! -e a.started ]; do sleep 0.05; done"
timeout = "20s"
[[task]]
id = "slow"
kind = "shell"
command = "sleep 30"
timeout = "300ms"
depends_on = ["a", "b"]
"#,
    );
    let t0 = std::time::Instant::now();
    let out = w.runner().run(&p, &RunOptions::new(day("2025-04-09"))).await.unwrap();
    assert_eq!(status(&out, "a"), TaskStatus::Succeeded, "a and b wait for each other: they must run at once");
    assert_eq!(status(&out, "b"), TaskStatus::Succeeded);
    assert_eq!(status(&out, "slow"), TaskStatus::Failed);
    assert!(out.tasks[2].error.as_deref().unwrap().contains("timed out after 300ms"), "{:?}", out.tasks[2]);
    assert!(t0.elapsed() < Duration::from_secs(15), "the timeout killed sleep 30");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_dry_run_params_and_depends_on_past() {
    let w = ws().await;
    let p = w.pipeline(
        "p",
        r#"
[params]
word = "hello"
[[task]]
id = "a"
kind = "shell"
command = "echo {{ params.word }} {{ ds }} > a-{{ ds }}.txt"
[[task]]
id = "b"
kind = "shell"
depends_on = ["a"]
depends_on_past = true
command = "test -e gate && touch b-{{ ds }}.txt"
"#,
    );
    let r = w.runner();
    let plan = r.plan(&p, &RunOptions::new(day("2025-04-09"))).unwrap();
    assert_eq!(plan.tasks.len(), 2);
    assert!(plan.tasks[0].action.contains("echo hello 2025-04-09"), "{:?}", plan.tasks[0]);
    assert_eq!(plan.tasks[1].level, 1);
    assert!(!w.path("a-2025-04-09.txt").exists(), "a dry run runs nothing");

    // Day 1: b fails (no gate). Day 2: b is blocked by the past; a runs.
    let out = r.run(&p, &RunOptions::new(day("2025-04-08"))).await.unwrap();
    assert_eq!(status(&out, "b"), TaskStatus::Failed, "the first day has no past to wait for");
    let mut o = RunOptions::new(day("2025-04-09"));
    o.params = BTreeMap::from([("word".to_string(), "bye".to_string())]);
    let out = r.run(&p, &o).await.unwrap();
    assert_eq!(status(&out, "b"), TaskStatus::Blocked);
    assert_eq!(std::fs::read_to_string(w.path("a-2025-04-09.txt")).unwrap().trim(), "bye 2025-04-09");
    // Fix the first day with --only b, then the second day runs.
    std::fs::write(w.path("gate"), "").unwrap();
    let mut o = RunOptions::new(day("2025-04-08"));
    o.only = vec!["b".into()];
    let out = r.run(&p, &o).await.unwrap();
    assert_eq!(out.tasks.len(), 1, "only b ran: {out:?}");
    assert_eq!(status(&out, "b"), TaskStatus::Succeeded);
    let mut o = RunOptions::new(day("2025-04-09"));
    o.rerun_failed = true;
    let out = r.run(&p, &o).await.unwrap();
    assert_eq!(status(&out, "a"), TaskStatus::Reused);
    assert_eq!(status(&out, "b"), TaskStatus::Succeeded);

    let mut bad = RunOptions::new(day("2025-04-09"));
    bad.params = BTreeMap::from([("colour".to_string(), "x".to_string())]);
    assert!(r.run(&p, &bad).await.unwrap_err().to_string().contains("colour"));
    let mut bad = RunOptions::new(day("2025-04-09"));
    bad.only = vec!["zz".into()];
    assert!(r.run(&p, &bad).await.unwrap_err().to_string().contains("no task \"zz\""));
    let mut fresh = RunOptions::new(day("2025-05-01"));
    fresh.rerun_failed = true;
    assert!(r.run(&p, &fresh).await.unwrap_err().to_string().contains("no run for 2025-05-01"));
}

struct FakeReports(Arc<Mutex<Vec<ReportRequest>>>);
impl ReportRunner for FakeReports {
    fn run(&self, req: ReportRequest) -> BoxFuture<'static, Result<serde_json::Value, String>> {
        let seen = self.0.clone();
        Box::pin(async move {
            let name = req.report.clone();
            seen.lock().unwrap().push(req);
            if name == "broken" { Err("no such report".into()) } else { Ok(serde_json::json!({"report": name, "rows": 15})) }
        })
    }
}

struct FakeHook(Arc<Mutex<Vec<(String, serde_json::Value)>>>);
impl Notifier for FakeHook {
    fn send(&self, url: &str, payload: serde_json::Value) -> BoxFuture<'static, Result<(), String>> {
        self.0.lock().unwrap().push((url.to_string(), payload));
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_tasks_go_through_the_report_runner_and_webhooks_fire() {
    let w = ws().await;
    let p = w.pipeline(
        "rep",
        r#"
[notify]
webhook = "http://127.0.0.1:9/hook"
on = ["failure", "success"]
[[task]]
id = "top"
kind = "report"
report = "top_rated"
chart = "reports/{{ ds }}/top.svg"
[task.params]
min_votes = 50
day = "{{ ds }}"
"#,
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let hooks = Arc::new(Mutex::new(Vec::new()));
    let mut r = w.runner();
    let out = r.run(&p, &RunOptions::new(day("2025-04-09"))).await.unwrap();
    assert_eq!(out.status, "failed", "without a report runner the task fails");
    assert!(out.tasks[0].error.as_deref().unwrap().contains("report pack"));
    r.reports = Some(Arc::new(FakeReports(seen.clone())));
    r.notifier = Arc::new(FakeHook(hooks.clone()));
    let out = r.run(&p, &RunOptions::new(day("2025-04-09"))).await.unwrap();
    assert_eq!(out.status, "succeeded");
    let req = seen.lock().unwrap()[0].clone();
    assert_eq!(req.report, "top_rated");
    assert_eq!(req.params["min_votes"], "50");
    assert_eq!(req.params["day"], "2025-04-09");
    assert!(req.chart.unwrap().ends_with("reports/2025-04-09/top.svg"));
    assert_eq!(out.tasks[0].output["rows"], 15);
    let h = hooks.lock().unwrap().clone();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].0, "http://127.0.0.1:9/hook");
    assert_eq!(h[0].1["status"], "succeeded");
    assert!(h[0].1["text"].as_str().unwrap().contains("rep 2025-04-09 succeeded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_webhook_posts_json_on_failure() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = sock.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some(h) = text.find("\r\n\r\n") {
                let len = text.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.trim().parse::<usize>().unwrap())).unwrap_or(0);
                if buf.len() >= h + 4 + len {
                    sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await.unwrap();
                    return text[h + 4..].to_string();
                }
            }
            if n == 0 {
                return String::new();
            }
        }
    });
    let w = ws().await;
    let p = w.pipeline("hook", &format!("[notify]\nwebhook = \"http://127.0.0.1:{port}/x\"\n[[task]]\nid = \"boom\"\nkind = \"shell\"\ncommand = \"echo broken >&2; exit 3\"\n"));
    let out = w.runner().run(&p, &RunOptions::new(day("2025-04-09"))).await.unwrap();
    assert_eq!(out.status, "failed");
    let body: serde_json::Value = serde_json::from_str(&server.await.unwrap()).unwrap();
    assert_eq!(body["status"], "failed");
    assert_eq!(body["failed_tasks"][0], "boom");
    assert!(body["error"].as_str().unwrap().contains("exit status 3") && body["error"].as_str().unwrap().contains("broken"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_runner_is_refused_while_the_day_runs_and_a_dead_one_is_taken_over() {
    let w = ws().await;
    let p = w.pipeline("p", "[[task]]\nid = \"a\"\nkind = \"shell\"\ncommand = \"true\"\n");
    let cat = &w.env.catalog;
    let now = w.clock.now_utc();
    // A live holder (this process) on another run id.
    cat.try_lock_pipeline_day("p", "2025-04-09", "other-run", &reel_pipeline::run::Owner::current().0, now).await.unwrap();
    let e = w.runner().run(&p, &RunOptions::new(day("2025-04-09"))).await.unwrap_err();
    assert!(e.to_string().contains("already running"), "{e}");
    cat.release_lock("p", "2025-04-09", "other-run").await.unwrap();
    // A dead holder: a process of this host that does not exist.
    cat.start_pipeline_run(&reel_catalog::NewPipelineRun {
        run_id: "dead-run".into(),
        pipeline: "p".into(),
        ds: "2025-04-09".into(),
        trigger: "manual".into(),
        attempt_of: None,
        owner: "x".into(),
        params: serde_json::json!({}),
        started_at: now,
    })
    .await
    .unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
    cat.try_lock_pipeline_day("p", "2025-04-09", "dead-run", &format!("{host}:999999:1"), now).await.unwrap();
    let out = w.runner().run(&p, &RunOptions::new(day("2025-04-09"))).await.unwrap();
    assert_eq!(out.status, "succeeded");
    assert_eq!(out.took_over.as_deref(), Some("dead-run"));
    assert_eq!(cat.pipeline_run("dead-run").await.unwrap().unwrap().status, "failed");
    assert!(cat.lock_holder("p", "2025-04-09").await.unwrap().is_none(), "released at the end");
}

trait NowUtc {
    fn now_utc(&self) -> chrono::DateTime<chrono::Utc>;
}
impl NowUtc for reel_pipeline::clock::ManualClock {
    fn now_utc(&self) -> chrono::DateTime<chrono::Utc> {
        use reel_pipeline::clock::Clock;
        self.now()
    }
}
