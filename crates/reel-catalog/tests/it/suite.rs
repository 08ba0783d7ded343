//! The conformance suite every backend must pass. Table names carry a fresh suffix so the
//! suite can run again on a database that already holds data (a shared PostgreSQL).
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use reel_catalog::{Catalog, ColumnEntry, Error, NewTableVersion, RunStatus, SourceEntry};
use reel_common::{RunId, TableRef, Zone};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn columns() -> Vec<ColumnEntry> {
    vec![
        ColumnEntry { name: "user_id".into(), data_type: "Int64".into(), nullable: false },
        ColumnEntry { name: "rating".into(), data_type: "Float64".into(), nullable: true },
    ]
}

fn version(table: &TableRef, v: i64, run: &RunId) -> NewTableVersion {
    NewTableVersion {
        table: table.clone(),
        version: v,
        operation: "overwrite".into(),
        columns: columns(),
        row_count: 100 * (v + 1),
        partition_columns: vec![],
        location: format!("file:///lake/{}", table.path()),
        size_bytes: 1000 + v,
        num_files: 1 + v,
        run_id: run.clone(),
        command: format!("reelhouse test v{v}"),
        created_at: at("2025-04-09T10:00:00Z") + Duration::minutes(v),
        description: None,
        tags: BTreeMap::new(),
        sources: vec![],
        upstream: vec![],
    }
}

fn source(path: &str, size: i64) -> SourceEntry {
    SourceEntry {
        path: path.into(),
        size,
        sha256: format!("{size:064x}"),
        modified_at: Some(at("2025-04-01T08:30:00.123456Z")),
        ingested_at: at("2025-04-09T10:00:00Z"),
    }
}

pub async fn run(c: &Catalog) {
    let sfx: String = RunId::new().0.chars().filter(char::is_ascii_alphanumeric).rev().take(12).collect();
    let name = |base: &str| format!("{base}_{sfx}");
    let raw = TableRef::try_new(Zone::Raw, &name("ratings")).unwrap();
    let clean = TableRef::try_new(Zone::Clean, &name("ratings")).unwrap();
    let curated = TableRef::try_new(Zone::Curated, &name("top")).unwrap();
    let quarantine = TableRef::try_new(Zone::Quarantine, &name("ratings")).unwrap();
    let movies = TableRef::try_new(Zone::Clean, &name("movies")).unwrap();
    let run1 = RunId::new();
    let run2 = RunId::new();

    // Version 0 of raw: two source files, a description and tags.
    let mut v = version(&raw, 0, &run1);
    v.operation = "replace ds=2025-04-09".into();
    v.partition_columns = vec!["ds".into()];
    v.description = Some("ratings as read".into());
    v.tags = tags(&[("source", "movielens"), ("owner", "data")]);
    v.sources = vec![source("/data/ml/ratings.csv", 2048), source("/data/ml/README.txt", 10)];
    c.record_version(v).await.unwrap();

    // Clean version 0 comes from raw version 0.
    let mut v = version(&clean, 0, &run1);
    v.upstream = vec![(raw.clone(), 0)];
    v.description = Some("one rating per user and movie".into());
    c.record_version(v).await.unwrap();

    // Raw version 1: no description given (kept), one tag changed, one added.
    let mut v = version(&raw, 1, &run2);
    v.operation = "replace ds=2025-04-10".into();
    v.partition_columns = vec!["ds".into()];
    v.tags = tags(&[("owner", "platform"), ("pii", "no")]);
    v.sources = vec![source("/data/ml/ratings-2.csv", 4096)];
    c.record_version(v).await.unwrap();

    let e = c.table(&raw).await.unwrap().unwrap();
    assert_eq!(e.table, raw);
    assert_eq!(e.version, 1);
    assert_eq!(e.row_count, 200);
    assert_eq!(e.description, "ratings as read");
    assert_eq!(e.tags, tags(&[("source", "movielens"), ("owner", "platform"), ("pii", "no")]));
    assert_eq!(e.columns, columns());
    assert_eq!(e.partition_columns, vec!["ds".to_string()]);
    assert_eq!(e.location, format!("file:///lake/{}", raw.path()));
    assert_eq!((e.size_bytes, e.num_files), (1001, 2));
    assert_eq!(e.created_at, at("2025-04-09T10:00:00Z"), "created_at is the first version's");
    assert!(e.updated_at > e.created_at);

    let vs = c.versions(&raw).await.unwrap();
    assert_eq!(vs.iter().map(|v| v.version).collect::<Vec<_>>(), vec![1, 0]);
    assert_eq!(vs[0].operation, "replace ds=2025-04-10");
    assert_eq!(vs[0].run_id, run2.0);
    assert_eq!(vs[1].run_id, run1.0);
    assert_eq!(vs[1].command, "reelhouse test v0");
    assert_eq!(vs[1].row_count, 100);
    assert_eq!(vs[0].created_at, at("2025-04-09T10:01:00Z"));

    let l = c.lineage(&raw).await.unwrap();
    let got: Vec<(i64, &str, &str)> = l.iter().map(|e| (e.version, e.kind.as_str(), e.source.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (1, "file", "/data/ml/ratings-2.csv"),
            (0, "file", "/data/ml/ratings.csv"),
            (0, "file", "/data/ml/README.txt"),
        ]
    );
    assert_eq!(l[0].size, Some(4096));
    assert_eq!(l[0].sha256.as_deref(), Some(format!("{:064x}", 4096).as_str()));
    assert_eq!(l[0].modified_at, Some(at("2025-04-01T08:30:00.123456Z")));
    assert_eq!(l[0].source_version, None);
    assert_eq!(l[0].run_id, run2.0);
    assert_eq!(l[2].run_id, run1.0);
    assert_eq!(l[2].command, "reelhouse test v0");

    let l = c.lineage(&clean).await.unwrap();
    assert_eq!(l.len(), 1);
    assert_eq!((l[0].kind.as_str(), l[0].source.clone(), l[0].source_version), ("table", raw.to_string(), Some(0)));
    assert_eq!((l[0].size, l[0].sha256.clone(), l[0].modified_at), (None, None, None));

    // Recording a version again replaces it (no duplicate lineage).
    let mut v = version(&raw, 1, &run2);
    v.operation = "replace ds=2025-04-10".into();
    v.row_count = 250;
    v.sources = vec![source("/data/ml/ratings-2.csv", 4096)];
    c.record_version(v).await.unwrap();
    assert_eq!(c.lineage(&raw).await.unwrap().len(), 3);
    assert_eq!(c.versions(&raw).await.unwrap().len(), 2);
    assert_eq!(c.table(&raw).await.unwrap().unwrap().row_count, 250);

    // Recording an older version does not move the current one back.
    c.record_version(version(&clean, 3, &run2)).await.unwrap();
    c.record_version(version(&clean, 2, &run2)).await.unwrap();
    let e = c.table(&clean).await.unwrap().unwrap();
    assert_eq!(e.version, 3);
    assert_eq!(e.description, "one rating per user and movie");

    // Description and tags set by hand, then kept by the next version.
    c.set_description(&raw, "MovieLens ratings, raw").await.unwrap();
    c.set_tags(&raw, &tags(&[("pii", "yes"), ("tier", "gold")])).await.unwrap();
    c.record_version(version(&raw, 2, &run2)).await.unwrap();
    let e = c.table(&raw).await.unwrap().unwrap();
    assert_eq!(e.description, "MovieLens ratings, raw");
    assert_eq!(
        e.tags,
        tags(&[("source", "movielens"), ("owner", "platform"), ("pii", "yes"), ("tier", "gold")])
    );
    assert_eq!(e.version, 2);

    // Unknown tables.
    let ghost = TableRef::try_new(Zone::Clean, &name("ghost")).unwrap();
    assert!(c.table(&ghost).await.unwrap().is_none());
    assert!(c.versions(&ghost).await.unwrap().is_empty());
    assert!(c.lineage(&ghost).await.unwrap().is_empty());
    let err = c.set_description(&ghost, "x").await.unwrap_err();
    assert!(matches!(err, Error::TableNotInCatalog { .. }), "{err:?}");
    assert!(err.to_string().contains(&ghost.to_string()), "{err}");
    let err = c.set_tags(&ghost, &tags(&[("a", "b")])).await.unwrap_err();
    assert!(matches!(err, Error::TableNotInCatalog { .. }), "{err:?}");
    let err = c.set_tags(&raw, &tags(&[(" ", "b")])).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");

    // List order: zone order (raw, clean, curated, quarantine), then name.
    for t in [&quarantine, &curated, &movies] {
        c.record_version(version(t, 0, &run2)).await.unwrap();
    }
    let listed: Vec<TableRef> = c
        .list_tables()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.table)
        .filter(|t| t.name.ends_with(&sfx))
        .collect();
    assert_eq!(listed, vec![raw.clone(), movies.clone(), clean.clone(), curated.clone(), quarantine.clone()]);

    // Runs: started, finished, newest first.
    let r1 = RunId::new();
    let r2 = RunId::new();
    let r3 = RunId::new();
    c.start_run(&r1, "reelhouse ingest a").await.unwrap();
    c.start_run(&r2, "reelhouse ingest b").await.unwrap();
    c.start_run(&r3, "reelhouse ingest c").await.unwrap();
    c.finish_run(&r1, RunStatus::Succeeded, &serde_json::json!({"rows": 10, "tables": ["raw.ratings"]}))
        .await
        .unwrap();
    c.finish_run(&r2, RunStatus::Failed, &serde_json::json!({"error": "bad file"})).await.unwrap();
    let runs = c.runs(3).await.unwrap();
    assert_eq!(runs.iter().map(|r| r.run_id.clone()).collect::<Vec<_>>(), vec![r3.0.clone(), r2.0.clone(), r1.0.clone()]);
    assert_eq!(runs[0].status, RunStatus::Running);
    assert_eq!(runs[0].finished_at, None);
    assert_eq!(runs[0].summary, serde_json::json!({}));
    assert_eq!(runs[1].status, RunStatus::Failed);
    assert_eq!(runs[1].summary["error"], "bad file");
    assert_eq!(runs[2].status, RunStatus::Succeeded);
    assert_eq!(runs[2].command, "reelhouse ingest a");
    assert_eq!(runs[2].summary["rows"], 10);
    assert!(runs[2].finished_at.unwrap() >= runs[2].started_at);
    assert_eq!(c.runs(1).await.unwrap().len(), 1);

    let err = c.finish_run(&RunId::new(), RunStatus::Succeeded, &serde_json::json!({})).await.unwrap_err();
    assert!(matches!(err, Error::RunNotFound { .. }), "{err:?}");
    let err = c.finish_run(&r3, RunStatus::Running, &serde_json::json!({})).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    let err = c.start_run(&r1, "again").await.unwrap_err();
    assert!(err.to_string().contains(&r1.0), "{err}");

    // Everything serialises for the CLI's JSON output.
    let json = serde_json::to_value(c.table(&raw).await.unwrap().unwrap()).unwrap();
    assert_eq!(json["table"]["zone"], "raw");
    assert_eq!(json["tags"]["tier"], "gold");
    serde_json::to_value(c.lineage(&raw).await.unwrap()).unwrap();
    serde_json::to_value(c.versions(&raw).await.unwrap()).unwrap();
    serde_json::to_value(c.runs(5).await.unwrap()).unwrap();

    // The model registry: versions count up per name, aliases move with their history.
    let model = name("reco");
    let new = |rmse: f64| reel_catalog::NewModelVersion {
        name: model.clone(),
        algorithm: "svd".into(),
        kind: "rating".into(),
        params: serde_json::json!({"factors": 50}),
        metrics: serde_json::json!({"rmse": rmse}),
        training: serde_json::json!({"source": {"kind": "table", "table": "clean.ratings", "version": 3}}),
        artifact: format!("_models/{model}/x.reelmodel"),
        artifact_bytes: 123,
        artifact_sha256: "ab".repeat(32),
        code_version: "reelhouse test".into(),
        run_id: run1.0.clone(),
        card: "# card\nwith 'quotes' and $1".into(),
    };
    assert_eq!(c.register_model_version(&new(0.95)).await.unwrap(), 1);
    assert_eq!(c.register_model_version(&new(0.93)).await.unwrap(), 2);
    assert_eq!(c.set_model_alias(&model, "champion", 1, "first").await.unwrap(), None);
    assert_eq!(c.set_model_alias(&model, "champion", 2, "rmse 0.93 beats 0.95").await.unwrap(), Some(1));
    assert_eq!(c.model_alias(&model, "champion").await.unwrap(), Some(2));
    let versions = c.model_versions(&model).await.unwrap();
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), vec![2, 1]);
    assert_eq!(versions[0].aliases, vec!["champion".to_string()]);
    assert_eq!(versions[0].card, "# card\nwith 'quotes' and $1");
    assert_eq!(versions[1].training["source"]["version"], 3);
    let events = c.model_events(&model).await.unwrap();
    assert_eq!(events.len(), 2);
    assert!(events.iter().any(|e| e.previous == Some(1) && e.reason == "rmse 0.93 beats 0.95"));
    assert!(c.model_names().await.unwrap().contains(&model));
    assert!(c.set_model_alias(&model, "champion", 9, "no such version").await.is_err());
    serde_json::to_value(&versions).unwrap();

    extracts_and_watermarks(c, &name("payment")).await;
}

/// Extracts from a source database: each one recorded with its lineage, the watermark
/// moving only as the extracts say.
async fn extracts_and_watermarks(c: &Catalog, table_name: &str) {
    use reel_catalog::{NewExtract, WatermarkChange};
    let t = TableRef::try_new(Zone::Raw, table_name).unwrap();
    let run = RunId::new();
    assert!(c.watermark(&t).await.unwrap().is_none());
    let extract = |v: i64, low: Option<&str>, high: Option<&str>, change: WatermarkChange| NewExtract {
        table: t.clone(),
        version: v,
        run_id: run.0.clone(),
        url: "postgres://reel:***@db/rental".into(),
        source: "table public.payment".into(),
        query: "SELECT \"payment_id\" FROM public.payment WHERE \"payment_date\" > '2025-01-01 00:00:00'::timestamp".into(),
        watermark_column: Some("payment_date".into()),
        low: low.map(String::from),
        high: high.map(String::from),
        rows: 10 * (v + 1),
        quarantined: v,
        attempts: 1 + v,
        change,
        created_at: at("2025-04-09T10:00:00Z") + Duration::minutes(v),
    };
    let set = |value: &str| WatermarkChange::Set { kind: "timestamp".into(), value: value.into() };
    // The table version exists first (as ingest writes it), then the extract.
    c.record_version(version(&t, 0, &run)).await.unwrap();
    c.record_extract(&extract(0, None, Some("2025-01-01 23:59:00.5"), set("2025-01-01 23:59:00.5"))).await.unwrap();
    let w = c.watermark(&t).await.unwrap().unwrap();
    assert_eq!((w.column.as_str(), w.kind.as_str(), w.value.as_str(), w.table_version), ("payment_date", "timestamp", "2025-01-01 23:59:00.5", 0));
    assert_eq!(w.source, "table public.payment");
    assert_eq!(w.run_id, run.0);

    // An extract without new rows keeps the watermark; the next one moves it.
    c.record_version(version(&t, 1, &run)).await.unwrap();
    c.record_extract(&extract(1, Some("2025-01-01 23:59:00.5"), None, WatermarkChange::Keep)).await.unwrap();
    assert_eq!(c.watermark(&t).await.unwrap().unwrap().table_version, 0);
    c.record_version(version(&t, 2, &run)).await.unwrap();
    c.record_extract(&extract(2, Some("2025-01-01 23:59:00.5"), Some("2025-01-02 21:00:00"), set("2025-01-02 21:00:00"))).await.unwrap();
    let w = c.watermark(&t).await.unwrap().unwrap();
    assert_eq!((w.value.as_str(), w.table_version), ("2025-01-02 21:00:00", 2));

    // Recording an extract again replaces it, lineage included.
    c.record_extract(&extract(2, Some("2025-01-01 23:59:00.5"), Some("2025-01-02 21:00:00"), set("2025-01-02 21:00:00"))).await.unwrap();
    let xs = c.extracts(&t).await.unwrap();
    assert_eq!(xs.iter().map(|x| x.version).collect::<Vec<_>>(), vec![2, 1, 0]);
    assert_eq!(xs[0].low.as_deref(), Some("2025-01-01 23:59:00.5"));
    assert_eq!(xs[0].high.as_deref(), Some("2025-01-02 21:00:00"));
    assert_eq!((xs[0].rows, xs[0].quarantined, xs[0].attempts), (30, 2, 3));
    assert_eq!(xs[0].watermark_kind.as_deref(), Some("timestamp"));
    assert_eq!(xs[1].watermark_kind, None);
    assert!(xs[2].query.contains("'2025-01-01 00:00:00'::timestamp"), "quotes survive: {}", xs[2].query);
    let lineage = c.lineage(&t).await.unwrap();
    let pg: Vec<&str> = lineage.iter().filter(|l| l.kind == "postgres").map(|l| l.source.as_str()).collect();
    assert_eq!(pg.len(), 3, "{lineage:?}");
    assert_eq!(pg[0], "postgres://reel:***@db/rental table public.payment, payment_date in (2025-01-01 23:59:00.5, 2025-01-02 21:00:00]");
    assert!(pg[1].ends_with("(no new rows)"), "{}", pg[1]);
    assert!(pg[2].contains("in (-inf, 2025-01-01 23:59:00.5]"), "{}", pg[2]);

    // A full extract clears it; clearing twice reports nothing to clear.
    c.record_version(version(&t, 3, &run)).await.unwrap();
    let mut full = extract(3, None, None, WatermarkChange::Clear);
    full.watermark_column = None;
    c.record_extract(&full).await.unwrap();
    assert!(c.watermark(&t).await.unwrap().is_none());
    assert!(!c.clear_watermark(&t).await.unwrap());
    c.record_extract(&extract(2, None, Some("x"), set("2025-01-03 00:00:00"))).await.unwrap();
    assert!(c.clear_watermark(&t).await.unwrap());

    // Setting a watermark needs a column.
    let mut bad = extract(4, None, Some("1"), set("1"));
    bad.watermark_column = None;
    assert!(matches!(c.record_extract(&bad).await.unwrap_err(), Error::InvalidArgument { .. }));
    serde_json::to_value(c.extracts(&t).await.unwrap()).unwrap();
}

/// Pipeline runs, task attempts and the pipeline-day lock.
pub async fn run_pipelines(c: &Catalog) {
    use reel_catalog::{NewPipelineRun, TaskRun};
    let sfx: String = RunId::new().0.chars().filter(char::is_ascii_alphanumeric).rev().take(12).collect();
    let pipeline = format!("daily_{sfx}");
    let t0 = at("2025-04-09T06:00:00Z");
    let r1 = RunId::new().0;
    let r2 = RunId::new().0;

    // The lock: first taker wins, a second run is told who holds it, the holder can renew.
    assert_eq!(c.try_lock_pipeline_day(&pipeline, "2025-04-09", &r1, "host:1:a", t0).await.unwrap(), None);
    assert_eq!(c.try_lock_pipeline_day(&pipeline, "2025-04-09", &r1, "host:1:a", t0).await.unwrap(), None, "re-entrant");
    let held = c.try_lock_pipeline_day(&pipeline, "2025-04-09", &r2, "host:2:b", t0).await.unwrap().unwrap();
    assert_eq!((held.run_id.as_str(), held.owner.as_str()), (r1.as_str(), "host:1:a"));
    assert!(c.heartbeat_lock(&pipeline, "2025-04-09", &r1, t0 + Duration::seconds(5)).await.unwrap());
    assert!(!c.heartbeat_lock(&pipeline, "2025-04-09", &r2, t0).await.unwrap(), "not the holder");
    let h = c.lock_holder(&pipeline, "2025-04-09").await.unwrap().unwrap();
    assert_eq!(h.heartbeat_at, t0 + Duration::seconds(5));
    // Another day is another lock.
    assert_eq!(c.try_lock_pipeline_day(&pipeline, "2025-04-10", &r2, "host:2:b", t0).await.unwrap(), None);
    // Taking over a dead holder's lock is a compare-and-swap: the second taker loses.
    let r3 = RunId::new().0;
    let r4 = RunId::new().0;
    assert!(c.take_over_lock(&pipeline, "2025-04-09", &r1, &r3, "host:3:c", t0).await.unwrap());
    assert!(!c.take_over_lock(&pipeline, "2025-04-09", &r1, &r4, "host:4:d", t0).await.unwrap());
    assert_eq!(c.lock_holder(&pipeline, "2025-04-09").await.unwrap().unwrap().run_id, r3);
    c.release_lock(&pipeline, "2025-04-09", &r1).await.unwrap(); // not the holder: no effect
    assert!(c.lock_holder(&pipeline, "2025-04-09").await.unwrap().is_some());
    c.release_lock(&pipeline, "2025-04-09", &r3).await.unwrap();
    assert!(c.lock_holder(&pipeline, "2025-04-09").await.unwrap().is_none());
    assert!(c.locks().await.unwrap().iter().any(|l| l.pipeline == pipeline && l.ds == "2025-04-10"));
    c.release_lock(&pipeline, "2025-04-10", &r2).await.unwrap();

    // Runs and their task attempts.
    let new = |id: &str, ds: &str, minute: i64, attempt_of: Option<&str>| NewPipelineRun {
        run_id: id.into(),
        pipeline: pipeline.clone(),
        ds: ds.into(),
        trigger: if attempt_of.is_some() { "rerun".into() } else { "manual".into() },
        attempt_of: attempt_of.map(str::to_string),
        owner: "host:1:a".into(),
        params: serde_json::json!({"algo": "svd"}),
        started_at: t0 + Duration::minutes(minute),
    };
    c.start_pipeline_run(&new(&r1, "2025-04-09", 0, None)).await.unwrap();
    c.start_pipeline_run(&new(&r2, "2025-04-10", 1, None)).await.unwrap();
    c.start_pipeline_run(&new(&r3, "2025-04-09", 2, Some(&r1))).await.unwrap();
    assert!(c.start_pipeline_run(&new(&r1, "2025-04-09", 0, None)).await.is_err(), "a run id is unique");
    let task = |run: &str, id: &str, attempt: i64, status: &str| TaskRun {
        run_id: run.into(),
        task_id: id.into(),
        attempt,
        status: status.into(),
        started_at: t0 + Duration::seconds(attempt),
        finished_at: Some(t0 + Duration::seconds(attempt + 1)),
        log: format!("attempt {attempt}\nit's 'quoted' and $1"),
        output: serde_json::json!({"rows": attempt}),
        error: (status == "failed").then(|| "exit status 1".to_string()),
    };
    c.record_task_run(&task(&r1, "ingest", 1, "running")).await.unwrap();
    c.record_task_run(&task(&r1, "ingest", 1, "failed")).await.unwrap(); // replaces the attempt
    c.record_task_run(&task(&r1, "ingest", 2, "succeeded")).await.unwrap();
    c.record_task_run(&task(&r1, "clean", 3, "failed")).await.unwrap();
    c.finish_pipeline_run(&r1, "failed", &serde_json::json!({"failed": ["clean"]}), t0 + Duration::minutes(1)).await.unwrap();
    assert!(c.finish_pipeline_run(&r2, "running", &serde_json::json!({}), t0).await.is_err());
    assert!(c.finish_pipeline_run("no-such-run", "failed", &serde_json::json!({}), t0).await.is_err());

    let tasks = c.task_runs(&r1).await.unwrap();
    assert_eq!(
        tasks.iter().map(|t| (t.task_id.as_str(), t.attempt, t.status.as_str())).collect::<Vec<_>>(),
        vec![("ingest", 1, "failed"), ("ingest", 2, "succeeded"), ("clean", 3, "failed")]
    );
    assert_eq!(tasks[0].error.as_deref(), Some("exit status 1"));
    assert_eq!(tasks[0].log, "attempt 1\nit's 'quoted' and $1");
    assert_eq!(tasks[1].output["rows"], 2);
    assert!(c.task_succeeded_for(&pipeline, "ingest", "2025-04-09").await.unwrap());
    assert!(!c.task_succeeded_for(&pipeline, "clean", "2025-04-09").await.unwrap());
    assert!(!c.task_succeeded_for(&pipeline, "ingest", "2025-04-10").await.unwrap());

    let runs = c.pipeline_runs(Some(&pipeline), None, 10).await.unwrap();
    assert_eq!(runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), vec![r3.as_str(), r2.as_str(), r1.as_str()]);
    assert_eq!(runs[0].attempt_of.as_deref(), Some(r1.as_str()));
    assert_eq!(runs[0].trigger, "rerun");
    assert_eq!(runs[2].status, "failed");
    assert_eq!(runs[2].summary["failed"][0], "clean");
    assert_eq!(runs[2].finished_at, Some(t0 + Duration::minutes(1)));
    assert_eq!(runs[1].status, "running");
    assert_eq!(runs[1].params["algo"], "svd");
    let day = c.pipeline_runs(Some(&pipeline), Some("2025-04-09"), 10).await.unwrap();
    assert_eq!(day.len(), 2);
    assert_eq!(c.pipeline_days(&pipeline).await.unwrap(), vec!["2025-04-09".to_string(), "2025-04-10".to_string()]);
    let one = c.pipeline_run(&r2).await.unwrap().unwrap();
    assert_eq!(one.ds, "2025-04-10");
    assert_eq!(c.pipeline_run(&r2[..r2.len() - 2]).await.unwrap().unwrap().run_id, r2, "a unique prefix");
    assert!(c.pipeline_run("00000000-0000").await.unwrap().is_none());
    assert!(c.pipeline_run("").await.is_err());
    serde_json::to_value(&runs).unwrap();
    serde_json::to_value(&tasks).unwrap();
}

/// Validation results.
pub async fn run_quality(c: &Catalog) {
    use reel_catalog::{ExpectationRecord, ValidationRecord};
    let sfx: String = RunId::new().0.chars().filter(char::is_ascii_alphanumeric).rev().take(12).collect();
    let table = TableRef::try_new(Zone::Clean, &format!("ratings_{sfx}")).unwrap();
    let other = TableRef::try_new(Zone::Clean, &format!("movies_{sfx}")).unwrap();
    let rec = |id: &str, t: &TableRef, minute: i64, passed: bool| ValidationRecord {
        validation_id: id.into(),
        table: t.clone(),
        table_version: minute,
        suite: "expectations/clean.ratings.toml".into(),
        run_id: (minute > 0).then(|| "run-1".to_string()),
        task_id: (minute > 0).then(|| "validate".to_string()),
        status: if passed { "passed".into() } else { "failed".into() },
        row_count: 100_000,
        scans: 1,
        started_at: at("2025-04-09T07:00:00Z") + Duration::minutes(minute),
        finished_at: at("2025-04-09T07:00:01Z") + Duration::minutes(minute),
        results: vec![
            ExpectationRecord {
                ordinal: 0,
                expectation: "not_null(user_id)".into(),
                kind: "not_null".into(),
                columns: vec!["user_id".into()],
                severity: "error".into(),
                passed: true,
                observed: serde_json::json!({"failing": 0}),
                failing: Some(0),
                considered: Some(100_000),
                examples: serde_json::json!([]),
                sql: "count(*) - count(\"user_id\")".into(),
            },
            ExpectationRecord {
                ordinal: 1,
                expectation: "between(rating, 0.5, 5)".into(),
                kind: "between".into(),
                columns: vec!["rating".into()],
                severity: "warn".into(),
                passed,
                observed: serde_json::json!({"failing": 3}),
                failing: Some(if passed { 0 } else { 3 }),
                considered: Some(100_000),
                examples: serde_json::json!([{"rating": "7.5", "user_id": "1"}]),
                sql: "count(CASE WHEN rating < 0.5 OR rating > 5 THEN 1 END)".into(),
            },
        ],
    };
    let v1 = format!("v1-{sfx}");
    let v2 = format!("v2-{sfx}");
    let v3 = format!("v3-{sfx}");
    c.record_validation(&rec(&v1, &table, 0, true)).await.unwrap();
    c.record_validation(&rec(&v2, &table, 5, false)).await.unwrap();
    c.record_validation(&rec(&v3, &other, 6, true)).await.unwrap();
    assert!(c.record_validation(&rec(&v1, &table, 0, true)).await.is_err(), "ids are unique");
    let got = c.validations(Some(&table), 10).await.unwrap();
    assert_eq!(got.iter().map(|v| v.validation_id.as_str()).collect::<Vec<_>>(), vec![v2.as_str(), v1.as_str()]);
    assert_eq!(got[0], rec(&v2, &table, 5, false), "everything round-trips");
    assert_eq!(got[1].run_id, None);
    assert_eq!(got[0].results[1].examples[0]["rating"], "7.5");
    assert!(!got[0].results[1].passed);
    let all = c.validations(None, 100).await.unwrap();
    assert!(all.iter().any(|v| v.validation_id == v3));
    assert_eq!(c.validations(Some(&table), 1).await.unwrap().len(), 1);
    serde_json::to_value(&got).unwrap();
}
