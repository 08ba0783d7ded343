//! Pipelines and validation through the binary: the shipped pipelines, SIGKILL then
//! `--rerun-failed`, the retraining gate, `validate`, `runs`, the Airflow export.
use std::time::{Duration, Instant};

use super::*;

fn json(ws: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let text = ok(ws, &all);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn task<'a>(run: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    run["tasks"].as_array().expect("tasks").iter().find(|t| t["id"] == id).unwrap_or_else(|| panic!("no task {id} in {run}"))
}

fn ml100k(ws: &Path) {
    let data = repo().join("datasets/movielens-100k");
    ok(ws, &["ingest", "movielens", data.to_str().expect("utf-8"), "--ds", "2025-04-01"]);
}

#[test]
fn init_ships_the_pipelines_and_they_load() {
    let (_tmp, ws) = workspace();
    for f in [
        "pipelines/movielens_daily.toml",
        "pipelines/retrain_weekly.toml",
        "pipelines/rental_daily.toml",
        "expectations/clean.ratings.toml",
        "expectations/curated.user_behavior_metric.toml",
        "models/clean_ratings.sql",
        "models/user_behavior_metric.sql",
        "models/film_sentiment.sql",
    ] {
        assert!(ws.join(f).is_file(), "{f} not shipped");
    }
    let list = json(&ws, &["pipeline", "list"]);
    let names: Vec<&str> = list.as_array().expect("list").iter().map(|p| p["pipeline"].as_str().expect("name")).collect();
    assert_eq!(names, vec!["movielens_daily", "rental_daily", "retrain_weekly"]);
    assert!(list.as_array().expect("list").iter().all(|p| p["error"].is_null()), "{list}");
    let plan = json(&ws, &["run", "movielens_daily", "--ds", "2025-04-09", "--dry-run"]);
    assert_eq!(plan["tasks"].as_array().expect("tasks").len(), 6);
    assert!(plan["tasks"][0]["action"].as_str().expect("action").contains("landing/movielens/2025-04-09"), "{plan}");
    let text = ok(&ws, &["run", "movielens_daily", "--ds", "2025-04-09", "--dry-run"]);
    assert!(text.contains("dry run: nothing is written") && text.contains("replace partition ds=2025-04-09 of curated.daily_ratings"), "{text}");
    assert!(!ws.join("lake/curated").exists(), "a dry run writes nothing");
}

#[test]
fn movielens_daily_runs_a_drop_and_skips_a_day_without_one() {
    let (_tmp, ws) = workspace();
    let drop = ws.join("landing/movielens/2025-04-09");
    let out = bin().args(["generate", "movielens", "--ratings", "20000", "--seed", "3", "--out"]).arg(&drop).output().expect("generate");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = json(&ws, &["run", "movielens_daily", "--ds", "2025-04-09"]);
    assert_eq!(run["status"], "succeeded", "{run}");
    for t in ["ingest", "clean", "validate", "daily_ratings", "rating_histogram", "top_rated"] {
        assert_eq!(task(&run, t)["status"], "succeeded", "{t}: {run}");
    }
    let clean = scalar(&ws, "SELECT count(*) FROM clean.ratings");
    let raw = scalar(&ws, "SELECT count(*) FROM raw.ratings WHERE ds = '2025-04-09'");
    assert!(clean > 0 && clean <= raw, "{clean} {raw}");
    assert_eq!(scalar(&ws, "SELECT ratings FROM curated.daily_ratings WHERE ds = '2025-04-09'"), raw);
    assert_eq!(scalar(&ws, "SELECT sum(ratings) FROM curated.rating_histogram"), clean);
    // No drop for the 10th: ingest is skipped and so is everything after it; not a failure.
    let none = json(&ws, &["run", "movielens_daily", "--ds", "2025-04-10"]);
    assert_eq!(none["status"], "succeeded");
    assert_eq!(task(&none, "ingest")["status"], "skipped");
    assert_eq!(task(&none, "top_rated")["status"], "skipped");
    // The validation was stored with the run.
    let runs = json(&ws, &["runs", "list", "--pipeline", "movielens_daily"]);
    assert_eq!(runs.as_array().expect("runs").len(), 2);
    let first = runs[1]["run_id"].as_str().expect("id").to_string();
    let log = ok(&ws, &["runs", "show", &first[..13], "--log", "validate"]);
    assert!(log.contains("clean.ratings@") && log.contains("expectations in 1 scan"), "{log}");
}

#[test]
fn issue_6_sigkill_mid_run_then_rerun_failed_completes_without_duplicates() {
    let (_tmp, ws) = workspace();
    std::fs::write(
        ws.join("pipelines/killme.toml"),
        r#"
[[task]]
id = "load"
kind = "sql"
output = "curated.daily"
partition = "ds"
sql = "SELECT v AS n FROM (VALUES (1), (2), (3)) AS t(v)"

[[task]]
id = "wait"
kind = "shell"
depends_on = ["load"]
command = "echo $$ > wait.pid; touch wait.started; [ -e release ] || exec sleep 120"

[[task]]
id = "after"
kind = "sql"
depends_on = ["wait"]
output = "curated.after"
partition = "ds"
sql = "SELECT count(*) AS n FROM curated.daily WHERE ds = '{{ ds }}'"
"#,
    )
    .expect("write");
    let mut child = bin().arg("--workspace").arg(&ws).args(["run", "killme", "--ds", "2025-04-09"]).spawn().expect("spawn");
    let t0 = Instant::now();
    while !ws.join("wait.started").exists() {
        assert!(t0.elapsed() < Duration::from_secs(60), "the wait task never started");
        assert!(child.try_wait().expect("wait").is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().expect("SIGKILL"); // SIGKILL on Unix
    child.wait().expect("reap");
    // The orphaned `sleep` of the killed run, so the test leaves nothing behind.
    if let Ok(pid) = std::fs::read_to_string(ws.join("wait.pid")) {
        let _ = std::process::Command::new("kill").args(["-KILL", pid.trim()]).status();
    }
    let runs = json(&ws, &["runs", "list", "--pipeline", "killme"]);
    assert_eq!(runs[0]["status"], "running", "a killed run stays running until someone takes it over");
    let dead = runs[0]["run_id"].as_str().expect("id").to_string();
    assert_eq!(scalar(&ws, "SELECT count(*) FROM curated.daily"), 3);

    std::fs::write(ws.join("release"), "").expect("release");
    let again = json(&ws, &["run", "killme", "--ds", "2025-04-09", "--rerun-failed"]);
    assert_eq!(again["status"], "succeeded", "{again}");
    assert_eq!(again["took_over"], dead.as_str());
    assert_eq!(again["attempt_of"], dead.as_str());
    assert_eq!(task(&again, "load")["status"], "reused");
    assert_eq!(task(&again, "wait")["status"], "succeeded");
    assert_eq!(task(&again, "after")["status"], "succeeded");
    assert_eq!(scalar(&ws, "SELECT count(*) FROM curated.daily"), 3, "no duplicate rows");
    assert_eq!(scalar(&ws, "SELECT n FROM curated.after WHERE ds = '2025-04-09'"), 3);
    let old = json(&ws, &["runs", "show", &dead]);
    assert_eq!(old["status"], "failed");
    let wait = old["tasks"].as_array().expect("tasks").iter().find(|t| t["task_id"] == "wait").expect("wait");
    assert!(wait["error"].as_str().expect("error").contains("stopped without finishing"), "{old}");
    // And a full rerun of the day is still idempotent.
    json(&ws, &["run", "killme", "--ds", "2025-04-09"]);
    assert_eq!(scalar(&ws, "SELECT count(*) FROM curated.daily"), 3);
}

#[test]
fn issue_6_retrain_weekly_refuses_a_worse_model_and_promotes_a_better_one() {
    let (_tmp, ws) = workspace();
    ml100k(&ws);
    let no_knobs = ["--param", "factors=", "--param", "epochs="];
    let mut a = vec!["run", "retrain_weekly", "--ds", "2025-04-06", "--param", "algo=baseline"];
    a.extend(no_knobs);
    let first = json(&ws, &a);
    assert_eq!(first["status"], "succeeded", "{first}");
    assert_eq!(task(&first, "promote")["output"]["promoted"], true, "the first model becomes champion");

    let mut a = vec!["run", "retrain_weekly", "--ds", "2025-04-13", "--param", "algo=global-mean"];
    a.extend(no_knobs);
    let worse = json(&ws, &a);
    assert_eq!(worse["status"], "succeeded", "a refusal is not a failure: {worse}");
    let verdict = &task(&worse, "promote")["output"];
    assert_eq!(verdict["promoted"], false, "{verdict}");
    assert!(verdict["reason"].as_str().expect("reason").contains("does not beat"), "{verdict}");
    assert_eq!(json(&ws, &["models", "show", "recommender"])["version"], 1, "the champion stays");

    let better = json(&ws, &["run", "retrain_weekly", "--ds", "2025-04-20"]);
    let verdict = &task(&better, "promote")["output"];
    assert_eq!(verdict["promoted"], true, "SVD(50, 20) beats the baseline: {verdict}");
    assert!(verdict["candidate"].as_f64().expect("candidate") < verdict["incumbent"].as_f64().expect("incumbent"));
    assert_eq!(json(&ws, &["models", "show", "recommender"])["version"], 3);
    assert!(task(&better, "evaluate")["output"]["metrics"]["rmse"].as_f64().expect("rmse") < 1.0);
}

#[test]
fn validate_prints_a_report_stores_it_and_fails_on_errors() {
    let (_tmp, ws) = workspace();
    ml100k(&ws);
    let text = ok(&ws, &["validate", "clean.ratings"]);
    assert!(text.contains("100,000 rows, 10 expectations in 1 scan"), "{text}");
    assert!(text.contains("PASSED with 1 warning"), "freshness warns on 1998 data: {text}");
    let j = json(&ws, &["validate", "clean.ratings", "--ds", "2025-04-09"]);
    assert_eq!(j["status"], "warned");
    assert_eq!(j["scans"], 1);
    assert_eq!(j["results"].as_array().expect("results").len(), 10);
    std::fs::write(
        ws.join("strict.toml"),
        "table = \"clean.ratings\"\n[[expect]]\ncheck = \"between\"\ncolumn = \"rating\"\nmin = 2\n[[expect]]\ncheck = \"unique\"\ncolumn = \"user_id\"\n",
    )
    .expect("write");
    let out = run(&ws, &["validate", "clean.ratings", "--file", ws.join("strict.toml").to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1), "an error expectation failed");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("FAILED: 2 error expectations failed") && said.contains("e.g. rating=1"), "{said}");
    for (args, needle) in [
        (vec!["validate", "clean.nope"], "no expectations for clean.nope"),
        (vec!["validate", "ratings"], "zone.name"),
    ] {
        let out = run(&ws, &args);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle) && !err.contains("panicked"), "{err}");
    }
}

#[test]
fn bad_pipelines_and_requests_are_explained() {
    let (_tmp, ws) = workspace();
    std::fs::write(ws.join("pipelines/cyc.toml"), "[[task]]\nid = \"a\"\nkind = \"shell\"\ncommand = \"x\"\ndepends_on = [\"b\"]\n[[task]]\nid = \"b\"\nkind = \"shell\"\ncommand = \"x\"\ndepends_on = [\"a\"]\n").expect("write");
    let cases: &[(&[&str], &str)] = &[
        (&["run", "cyc", "--ds", "2025-04-09"], "cyc.toml:1: dependency cycle"),
        (&["run", "nope"], "no pipeline \"nope\""),
        (&["run", "movielens_daily", "--ds", "yesterday"], "YYYY-MM-DD"),
        (&["run", "movielens_daily", "--from", "2025-04-09", "--to", "2025-04-01"], "before"),
        (&["run", "retrain_weekly", "--param", "colour=red", "--dry-run"], "declares no parameter"),
        (&["runs", "show", "nosuchrun"], "no pipeline run"),
        (&["scheduler", "--poll", "soon", "--once"], "bad duration"),
    ];
    for (args, needle) in cases {
        let out = run(&ws, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle) && !err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn a_backfill_runs_each_day_and_the_airflow_export_names_every_task() {
    let (_tmp, ws) = workspace();
    std::fs::write(
        ws.join("pipelines/days.toml"),
        "schedule = \"0 6 * * *\"\n[[task]]\nid = \"d\"\nkind = \"sql\"\noutput = \"curated.days\"\npartition = \"ds\"\nsql = \"SELECT 1 AS one\"\n",
    )
    .expect("write");
    let outs = json(&ws, &["run", "days", "--from", "2025-04-01", "--to", "2025-04-07"]);
    assert_eq!(outs.as_array().expect("runs").len(), 7);
    assert_eq!(scalar(&ws, "SELECT count(DISTINCT ds) FROM curated.days"), 7);
    // The scheduler runs the latest due day once.
    let sched = ok(&ws, &["scheduler", "--once", "--pipeline", "days"]);
    assert!(sched.contains(" ran -> succeeded"), "{sched}");
    assert!(ok(&ws, &["scheduler", "--once", "--pipeline", "days"]).contains("nothing due"));
    let py = ok(&ws, &["pipeline", "export-airflow", "movielens_daily", "--reelhouse", "/opt/reelhouse"]);
    for id in ["ingest", "clean", "validate", "daily_ratings", "rating_histogram", "top_rated"] {
        assert!(py.contains(&format!("--only {id} --no-retries")), "{id}: {py}");
    }
    assert!(py.contains("task_ingest >> task_clean") && py.contains("schedule=\"0 6 * * *\""));
}

/// `report` tasks run the real report pack through this binary (a child `reelhouse report`):
/// a chart per run day, parameters templated, and the whole page with `report = "all"`; a
/// bad parameter fails the task with the report's own error.
#[test]
fn report_tasks_write_charts_and_the_page_through_the_binary() {
    let (_tmp, ws) = workspace();
    ml100k(&ws);
    std::fs::write(
        ws.join("pipelines/weekly_report.toml"),
        r#"description = "The week's charts"

[[task]]
id = "top"
kind = "report"
report = "top-rated"
chart = "reports/{{ ds }}/top.svg"
[task.params]
min_votes = 100
limit = 5

[[task]]
id = "page"
kind = "report"
report = "all"
html = "reports/{{ ds }}/page"
depends_on = ["top"]
"#,
    )
    .unwrap();
    let done = json(&ws, &["run", "weekly_report", "--ds", "2025-04-07"]);
    assert_eq!(done["status"], "succeeded", "{done}");
    let svg = std::fs::read_to_string(ws.join("reports/2025-04-07/top.svg")).expect("the chart is written");
    assert!(svg.starts_with("<svg") || svg.contains("<svg"), "{}", &svg[..svg.len().min(200)]);
    assert!(svg.contains("at least 100 ratings"), "the parameters reached the report");
    let page = std::fs::read_to_string(ws.join("reports/2025-04-07/page/index.html")).expect("the page is written");
    assert!(page.contains("Rating histogram") && page.contains("Top-rated films"), "every MovieLens report is on the page");
    assert!(!page.contains("src=\"http"), "self-contained");

    // A parameter the report does not take fails the task, naming it.
    let text = std::fs::read_to_string(ws.join("pipelines/weekly_report.toml")).unwrap();
    std::fs::write(ws.join("pipelines/weekly_report.toml"), text.replace("limit = 5", "limt = 5")).unwrap();
    let out = run(&ws, &["--format", "json", "run", "weekly_report", "--ds", "2025-04-08", "--no-retries"]);
    assert!(!out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let top = task(&v, "top");
    assert_eq!(top["status"], "failed", "{v}");
    assert!(top["error"].as_str().unwrap_or_default().contains("limt"), "{top}");
}
