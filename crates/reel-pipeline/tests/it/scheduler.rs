//! The scheduler on a manual clock: due days, catch-up, restarts and races.
use reel_pipeline::scheduler::Scheduler;

use super::*;

const P: &str = r#"
schedule = "0 6 * * *"
start = "2025-04-07"
[[task]]
id = "mark"
kind = "shell"
command = "echo {{ ds }} >> days.txt"
"#;

fn sched(w: &Ws) -> Scheduler {
    Scheduler { runner: w.runner(), only: vec![] }
}

fn days_run(w: &Ws) -> Vec<String> {
    std::fs::read_to_string(w.path("days.txt")).unwrap_or_default().lines().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_6_a_scheduler_restart_does_not_duplicate_a_run() {
    let w = ws().await;
    w.pipeline("daily", P);
    // 07:00 on the 10th: the 9th's interval ended at 06:00.
    let a = sched(&w);
    let done = a.tick().await.unwrap();
    assert_eq!(done.iter().map(|d| (d.ds.as_str(), d.action.as_str())).collect::<Vec<_>>(), vec![("2025-04-09", "ran")]);
    assert!(done[0].run.as_ref().unwrap().succeeded());
    assert!(a.tick().await.unwrap().is_empty(), "nothing new is due");
    drop(a);
    // A new scheduler process (new runner, same catalog) a few minutes later.
    w.clock.advance(chrono::Duration::minutes(5));
    let b = sched(&w);
    assert!(b.tick().await.unwrap().is_empty(), "the restarted scheduler finds the day done");
    assert_eq!(days_run(&w), vec!["2025-04-09"]);
    // The next day comes due at 06:00 on the 11th, once.
    w.clock.set("2025-04-11T06:00:30Z".parse().unwrap());
    assert_eq!(b.tick().await.unwrap().len(), 1);
    assert!(sched(&w).tick().await.unwrap().is_empty());
    assert_eq!(days_run(&w), vec!["2025-04-09", "2025-04-10"]);
    assert_eq!(w.env.catalog.pipeline_runs(Some("daily"), None, 10).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catchup_runs_every_missed_day_in_order_and_two_schedulers_share_them() {
    let w = ws().await;
    w.pipeline("daily", &P.replace("start =", "catchup = true\nstart ="));
    let (a, b) = (sched(&w), sched(&w));
    let (ra, rb) = tokio::join!(a.tick(), b.tick());
    let mut ran: Vec<String> = ra.unwrap().into_iter().chain(rb.unwrap()).filter(|d| d.action == "ran").map(|d| d.ds).collect();
    ran.sort();
    assert_eq!(ran, vec!["2025-04-07", "2025-04-08", "2025-04-09"], "each day once between the two");
    let mut seen = days_run(&w);
    seen.sort();
    assert_eq!(seen, vec!["2025-04-07", "2025-04-08", "2025-04-09"]);
    assert_eq!(w.env.catalog.pipeline_days("daily").await.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_left_by_a_dead_scheduler_is_resumed_not_repeated() {
    let w = ws().await;
    w.pipeline(
        "daily",
        r#"
schedule = "0 6 * * *"
[[task]]
id = "first"
kind = "shell"
command = "echo first >> log.txt"
[[task]]
id = "second"
kind = "shell"
command = "echo second >> log.txt"
depends_on = ["first"]
"#,
    );
    // What a scheduler killed after `first` leaves behind: a running run, `first` done,
    // and a lock whose holder is gone.
    let cat = &w.env.catalog;
    let t0: chrono::DateTime<chrono::Utc> = "2025-04-10T06:00:05Z".parse().unwrap();
    cat.start_pipeline_run(&reel_catalog::NewPipelineRun {
        run_id: "zombie".into(),
        pipeline: "daily".into(),
        ds: "2025-04-09".into(),
        trigger: "scheduler".into(),
        attempt_of: None,
        owner: "elsewhere:42:7".into(),
        params: serde_json::json!({}),
        started_at: t0,
    })
    .await
    .unwrap();
    cat.record_task_run(&reel_catalog::TaskRun {
        run_id: "zombie".into(),
        task_id: "first".into(),
        attempt: 1,
        status: "succeeded".into(),
        started_at: t0,
        finished_at: Some(t0),
        log: String::new(),
        output: serde_json::json!({}),
        error: None,
    })
    .await
    .unwrap();
    std::fs::write(w.path("log.txt"), "first\n").unwrap();
    cat.try_lock_pipeline_day("daily", "2025-04-09", "zombie", "elsewhere:42:7", t0).await.unwrap();
    // 07:00: the lock's heartbeat is 55 minutes old, past the 2-minute lease.
    let done = sched(&w).tick().await.unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0].action, "resumed");
    let run = done[0].run.as_ref().unwrap();
    assert_eq!(run.attempt_of.as_deref(), Some("zombie"));
    assert_eq!(std::fs::read_to_string(w.path("log.txt")).unwrap(), "first\nsecond\n", "first is not run again");
    assert_eq!(cat.pipeline_run("zombie").await.unwrap().unwrap().status, "failed");
    assert!(sched(&w).tick().await.unwrap().is_empty());
}
