//! `ingest postgres` against a real server: incremental loads, a connection killed
//! mid-extract, a lost catalog update, the type mapping through the lake, and the errors a
//! user meets. Each test creates its own database.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use reel_pipeline::postgres::{ExtractObserver, PgIngestRequest, ingest_postgres};
use reel_pipeline::{Env, NoProgress};
use reel_postgres::Source;

use super::*;

/// The env var naming a PostgreSQL server the tests may create databases on.
pub const POSTGRES_ENV: &str = "REELHOUSE_TEST_POSTGRES_URL";

/// A database created for one test, dropped when the test ends.
pub struct TestDb {
    /// Its URL.
    pub url: String,
    admin: String,
    name: String,
}

impl TestDb {
    /// A fresh database, or `None` (with a message) when no server is configured.
    pub fn create(tag: &str) -> Option<TestDb> {
        let Ok(admin) = std::env::var(POSTGRES_ENV) else {
            if std::env::var("REELHOUSE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("{POSTGRES_ENV} is not set but REELHOUSE_REQUIRE_POSTGRES=1");
            }
            println!("skipped: set {POSTGRES_ENV}=postgres://user@host/db to run the PostgreSQL tests");
            return None;
        };
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "reel_{tag}_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
        );
        block_on(async {
            let mut c = reel_postgres::connect(&admin, "reelhouse tests").await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut c).await.unwrap();
        });
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&format!("/{name}"));
        Some(TestDb { url: url.to_string(), admin, name })
    }

    /// Runs statements (several, separated by semicolons).
    pub fn exec(&self, sql: &str) {
        let url = self.url.clone();
        let sql = sql.to_string();
        block_on(async move {
            let mut c = reel_postgres::connect(&url, "reelhouse tests").await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).execute(&mut c).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        });
    }

    /// One integer.
    pub fn scalar(&self, sql: &str) -> i64 {
        let url = self.url.clone();
        let sql = sql.to_string();
        block_on(async move {
            let mut c = reel_postgres::connect(&url, "reelhouse tests").await.unwrap();
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(&mut c).await.unwrap()
        })
    }

    /// One text value.
    pub fn text(&self, sql: &str) -> String {
        let url = self.url.clone();
        let sql = sql.to_string();
        block_on(async move {
            let mut c = reel_postgres::connect(&url, "reelhouse tests").await.unwrap();
            sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).fetch_one(&mut c).await.unwrap()
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            block_on(async {
                if let Ok(mut c) = reel_postgres::connect(&admin, "reelhouse tests").await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut c).await;
                }
            });
        })
        .join();
    }
}

/// Runs a future on a small runtime of its own (the tests themselves are synchronous, like
/// the binary's users).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap().block_on(f)
}

fn json(ws: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let out = ok(ws, &all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The URL with a password: its own if it has one, else a made-up one.
fn with_password(url: &str) -> (String, String) {
    let mut u = url::Url::parse(url).unwrap();
    if let Some(p) = u.password() {
        return (url.to_string(), p.to_string());
    }
    u.set_password(Some("sekrit-7")).unwrap();
    (u.to_string(), "sekrit-7".to_string())
}

fn fails(ws: &Path, args: &[&str]) -> String {
    let out = run(ws, args);
    assert_eq!(out.status.code(), Some(2), "{args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn issue_7_incremental_loads_pick_up_only_new_rows() {
    let Some(db) = TestDb::create("incr") else { return };
    let (_tmp, ws) = workspace();
    ok(&ws, &["generate", "rental", "--postgres", &db.url, "--customers", "80", "--days", "2"]);
    let total = db.scalar("SELECT count(*) FROM payment");
    assert!(total > 10, "{total} payments");

    let first = json(&ws, &["ingest", "postgres", "--url", &db.url, "--table", "payment", "--watermark", "payment_date", "--ds", "2025-01-02"]);
    assert_eq!(first["rows"].as_i64(), Some(total));
    assert_eq!(first["mode"], "append");
    assert!(first["low"].is_null());
    let high = db.text("SELECT to_char(max(payment_date), 'YYYY-MM-DD HH24:MI:SS.US') FROM payment");
    assert_eq!(first["high"].as_str().unwrap(), high.trim_end_matches(".000000"));
    assert_eq!(scalar(&ws, "SELECT count(*) FROM raw.payment"), total);

    // Five new payments after the watermark, one late-arriving one before it.
    db.exec(
        "INSERT INTO payment (customer_id, staff_id, rental_id, amount, payment_date)
         SELECT 1, 1, 1, 2.99 + g, (SELECT max(payment_date) FROM payment) + g * interval '1 minute' FROM generate_series(1, 5) g;
         INSERT INTO payment (customer_id, staff_id, rental_id, amount, payment_date) VALUES (2, 1, 1, 0.99, '2025-01-01 12:00:00');",
    );
    let second = json(&ws, &["ingest", "postgres", "--url", &db.url, "--table", "payment", "--watermark", "payment_date", "--ds", "2025-01-03"]);
    assert_eq!(second["rows"], 5);
    assert_eq!(second["low"], first["high"]);
    assert_eq!(scalar(&ws, "SELECT count(*) FROM raw.payment"), total + 5);
    assert_eq!(scalar(&ws, "SELECT count(DISTINCT payment_id) FROM raw.payment"), total + 5, "no payment twice");
    assert_eq!(scalar(&ws, "SELECT count(*) FROM raw.payment WHERE ds = '2025-01-03'"), 5);

    // Nothing new: nothing loaded, the watermark stays.
    let third = json(&ws, &["ingest", "postgres", "--url", &db.url, "--table", "payment", "--watermark", "payment_date", "--ds", "2025-01-03"]);
    assert_eq!(third["rows"], 0);
    assert!(third["high"].is_null());
    let fourth_low = json(&ws, &["ingest", "postgres", "--url", &db.url, "--table", "payment", "--watermark", "payment_date"]);
    assert_eq!(fourth_low["low"], second["high"]);

    // The catalog keeps the range of each load.
    let lineage = ok(&ws, &["catalog", "lineage", "raw.payment"]);
    assert!(lineage.contains("payment_date in ("), "{lineage}");
    // A URL with a password (the test server trusts local connections and ignores it): the
    // password reaches neither the catalog nor the lake's commit info.
    let (with_pw, pw) = with_password(&db.url);
    json(&ws, &["ingest", "postgres", "--url", &with_pw, "--table", "customer", "--into", "clean.customer"]);
    let lineage = ok(&ws, &["catalog", "lineage", "clean.customer"]);
    assert!(lineage.contains(":***@") && !lineage.contains(&pw), "{lineage}");
    let log = std::fs::read_dir(ws.join("lake/clean/customer/_delta_log")).unwrap();
    for f in log {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap_or_default();
        assert!(!text.contains(&pw), "the password is in the Delta log");
    }

    // By last_update: an update is picked up again (raw keeps every version of a row).
    json(&ws, &["ingest", "postgres", "--url", &db.url, "--table", "rental", "--watermark", "last_update"]);
    db.exec("UPDATE rental SET return_date = rental_date + interval '2 days' WHERE rental_id = 3");
    let upd = json(&ws, &["ingest", "postgres", "--url", &db.url, "--table", "rental", "--watermark", "last_update"]);
    assert_eq!(upd["rows"], 1);
    assert_eq!(scalar(&ws, "SELECT count(*) FROM raw.rental WHERE rental_id = 3"), 2);

    // Changing the watermark column of a table is refused; --full-refresh starts over.
    let err = fails(&ws, &["ingest", "postgres", "--url", &db.url, "--table", "payment", "--watermark", "last_update"]);
    assert!(err.contains("by payment_date, not") && err.contains("--full-refresh"), "{err}");
    let full = json(&ws, &["ingest", "postgres", "--url", &db.url, "--table", "payment", "--watermark", "last_update", "--full-refresh"]);
    assert_eq!(full["mode"], "overwrite");
    assert_eq!(full["rows"].as_i64(), Some(total + 6));
    assert_eq!(scalar(&ws, "SELECT count(*) FROM raw.payment"), total + 6);
}

#[test]
fn issue_7_full_extracts_replace_their_day_and_query_sources_need_into() {
    let Some(db) = TestDb::create("full") else { return };
    let (_tmp, ws) = workspace();
    ok(&ws, &["generate", "rental", "--postgres", &db.url, "--customers", "40", "--days", "2"]);
    let day = "SELECT payment_id, customer_id, amount, payment_date FROM payment WHERE payment_date >= '2025-01-02' AND payment_date < '2025-01-03'";
    let n = db.scalar(&format!("SELECT count(*) FROM ({day}) d"));
    for _ in 0..2 {
        let o = json(&ws, &["ingest", "postgres", "--url", &db.url, "--query", day, "--into", "raw.user_purchase", "--ds", "2025-01-02"]);
        assert_eq!(o["mode"], "replace ds=2025-01-02");
        assert_eq!(o["rows"].as_i64(), Some(n));
    }
    assert_eq!(scalar(&ws, "SELECT count(*) FROM raw.user_purchase"), n, "a rerun of the day replaces it");
    let table = ok(&ws, &["ingest", "postgres", "--url", &db.url, "--table", "customer", "--into", "clean.customer"]);
    assert!(table.contains("Extracted 40 rows of table customer into clean.customer (overwrite"), "{table}");
    assert!(table.contains("numeric") || table.contains("character varying(45)"), "the column mapping is shown: {table}");

    let err = fails(&ws, &["ingest", "postgres", "--url", &db.url, "--query", "SELECT 1"]);
    assert!(err.contains("--query needs --into"), "{err}");
    let err = fails(&ws, &["ingest", "postgres", "--url", &db.url, "--table", "paymnt"]);
    assert!(err.contains("no table or view paymnt") && err.contains("public.payment"), "{err}");
    let err = fails(&ws, &["ingest", "postgres", "--url", "postgres://me:hunter2@127.0.0.1:1/x", "--table", "t", "--retries", "0"]);
    assert!(err.contains("postgres://me:***@127.0.0.1:1/x") && !err.contains("hunter2"), "{err}");
    let err = fails(&ws, &["ingest", "postgres", "--url", &db.url, "--table", "payment", "--into", "gold.x"]);
    assert!(err.contains("--into \"gold.x\""), "{err}");
    // A table that already has rows cannot start an incremental load (it would load them again).
    let err = fails(&ws, &["ingest", "postgres", "--url", &db.url, "--query", day, "--into", "raw.user_purchase", "--watermark", "payment_date"]);
    assert!(err.contains("already holds") && err.contains("--full-refresh"), "{err}");
    let help = ok(&ws, &["ingest", "postgres", "--help"]);
    assert!(help.contains("Examples:") && help.contains("--watermark"), "{help}");
}

#[test]
fn issue_7_every_mapped_type_lands_in_the_lake() {
    let Some(db) = TestDb::create("lake_types") else { return };
    db.exec(
        "CREATE TABLE t (id int PRIMARY KEY, amount numeric(5,2), free numeric, day date, at timestamp, at_tz timestamptz,
                         name text, code varchar(4), uid uuid, doc jsonb, blob bytea, flag boolean, f8 float8, i2 smallint, i8 bigint);
         INSERT INTO t VALUES (1, -12.34, 1.5, '2025-01-02', '2025-01-02 10:00:00.5', '2025-01-02 10:00:00+02', 'é\"q\"', 'ab',
                               '550e8400-e29b-41d4-a716-446655440000', '{\"k\": 1}', '\\x00ff', true, 0.25, -7, 9007199254740993),
                              (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
                              (3, 1, 'NaN', '2025-01-02', now(), now(), 'x', 'x', NULL, NULL, NULL, NULL, NULL, NULL, NULL);",
    );
    let (_tmp, ws) = workspace();
    let o = json(&ws, &["ingest", "postgres", "--url", &db.url, "--table", "t", "--ds", "2025-01-02"]);
    assert_eq!((o["rows"].as_i64(), o["quarantined"].as_i64()), (Some(2), Some(1)));
    assert_eq!(o["quarantine_table"], "quarantine.t");
    let show = json(&ws, &["catalog", "show", "raw.t"]);
    let types: std::collections::BTreeMap<String, String> = show["columns"]
        .as_array()
        .or_else(|| show["table"]["columns"].as_array())
        .unwrap_or_else(|| panic!("no columns in {show}"))
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_string(), c["data_type"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(types["amount"], "Decimal128(5, 2)");
    assert_eq!(types["free"], "Decimal128(38, 18)");
    assert_eq!(types["at"], "Timestamp(µs)", "{types:?}");
    assert!(types["at_tz"].contains("UTC"), "{types:?}");
    assert_eq!(types["uid"], "Utf8");
    assert_eq!(types["blob"], "Binary");
    let rows = query(&ws, "SELECT id, CAST(amount AS VARCHAR) AS amount, CAST(day AS VARCHAR) AS day, CAST(at AS VARCHAR) AS at, CAST(at_tz AS VARCHAR) AS at_tz, name, uid, doc, i8 FROM raw.t ORDER BY id");
    assert_eq!(rows[0]["amount"], "-12.34");
    assert_eq!(rows[0]["day"], "2025-01-02");
    assert!(rows[0]["at"].as_str().unwrap().starts_with("2025-01-02T10:00:00.5"), "{rows:?}");
    assert!(rows[0]["at_tz"].as_str().unwrap().starts_with("2025-01-02T08:00:00"), "{rows:?}");
    assert_eq!(rows[0]["name"], "é\"q\"");
    assert_eq!(rows[0]["uid"], "550e8400-e29b-41d4-a716-446655440000");
    assert_eq!(rows[0]["doc"], "{\"k\": 1}");
    assert_eq!(rows[0]["i8"], 9_007_199_254_740_993i64);
    assert!(rows[1]["amount"].is_null() && rows[1]["name"].is_null());
    let q = query(&ws, "SELECT line, reason, raw FROM quarantine.t");
    assert_eq!(q.len(), 1);
    assert!(q[0]["reason"].as_str().unwrap().contains("free: NaN"), "{q:?}");
    assert!(q[0]["raw"].as_str().unwrap().contains("\"id\":\"3\""), "{q:?}");
}

/// Kills the COPY's server process after the first batch of the first attempt.
struct KillOnce {
    admin_url: String,
    killed: AtomicBool,
    attempts_seen: AtomicU32,
}

impl ExtractObserver for KillOnce {
    fn after_batch(&self, attempt: u32, _rows: u64, pid: i32) -> futures::future::BoxFuture<'static, ()> {
        self.attempts_seen.fetch_max(attempt, Ordering::SeqCst);
        if attempt != 1 || self.killed.swap(true, Ordering::SeqCst) {
            return Box::pin(async {});
        }
        let url = self.admin_url.clone();
        Box::pin(async move {
            let mut c = reel_postgres::connect(&url, "reelhouse tests killer").await.unwrap();
            let done: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)").bind(pid).fetch_one(&mut c).await.unwrap();
            assert!(done, "the backend {pid} was terminated");
        })
    }
}

fn env_of(ws: &Path) -> Env {
    block_on(Env::open(reel_common::Workspace::open(ws).unwrap())).unwrap()
}

#[test]
fn issue_7_a_connection_killed_mid_extract_is_retried_without_duplicates() {
    let Some(db) = TestDb::create("kill") else { return };
    // ~25 MB of COPY data: far more than the socket buffers, so the kill lands mid-stream.
    db.exec(
        "CREATE TABLE events (id bigint PRIMARY KEY, payload text NOT NULL, at timestamp NOT NULL);
         INSERT INTO events SELECT g, repeat('x', 100), timestamp '2025-01-01' + g * interval '1 second' FROM generate_series(1, 200000) g;",
    );
    let (_tmp, ws) = workspace();
    let into: reel_common::TableRef = "raw.events".parse().unwrap();
    let request = |observer: Option<Arc<dyn ExtractObserver>>, retries: u32| {
        let mut r = PgIngestRequest::new(&db.url, Source::Table("events".into()), into.clone(), "test kill");
        r.watermark = Some("at".into());
        r.batch_rows = 10_000;
        r.retries = retries;
        r.retry_delay = Duration::from_millis(20);
        r.ds = "2025-01-02".parse().unwrap();
        r.observer = observer;
        r
    };
    let kill = || Arc::new(KillOnce { admin_url: db.url.clone(), killed: AtomicBool::new(false), attempts_seen: AtomicU32::new(0) });

    // Without retries the extract fails, and nothing is visible: no table, no watermark.
    {
        let env = env_of(&ws);
        let err = block_on(ingest_postgres(&env, &request(Some(kill()), 0), &NoProgress)).unwrap_err().to_string();
        assert!(err.contains("gave up after 1 attempts") && err.contains("nothing was committed"), "{err}");
        assert!(!block_on(env.lake.exists(&into)).unwrap());
        assert!(block_on(env.catalog.watermark(&into)).unwrap().is_none());
    }

    // With retries: the second attempt loads every row once.
    let k = kill();
    let env = env_of(&ws);
    let o = block_on(ingest_postgres(&env, &request(Some(k.clone()), 2), &NoProgress)).unwrap();
    assert!(k.killed.load(Ordering::SeqCst));
    assert_eq!(o.attempts, 2, "{:?}", o.retried_errors);
    // The server's FATAL 57P01 or a cut socket, depending on which the client reads first.
    assert!(o.retried_errors[0].contains("reading the COPY stream of table events after"), "{:?}", o.retried_errors);
    assert_eq!(o.rows, 200_000);
    assert_eq!(o.high.as_deref(), Some("2025-01-03 07:33:20"));
    drop(env);
    assert_eq!(scalar(&ws, "SELECT count(*) FROM raw.events"), 200_000);
    assert_eq!(scalar(&ws, "SELECT count(DISTINCT id) FROM raw.events"), 200_000);

    // Incremental: new rows (again far more than the socket buffers hold, so the kill lands
    // mid-stream), another kill, still each row once.
    db.exec("INSERT INTO events SELECT g, repeat('y', 100), timestamp '2025-01-01' + g * interval '1 second' FROM generate_series(200001, 400000) g;");
    let env = env_of(&ws);
    let o = block_on(ingest_postgres(&env, &request(Some(kill()), 2), &NoProgress)).unwrap();
    assert_eq!((o.attempts, o.rows), (2, 200_000), "{:?}", o.retried_errors);
    assert_eq!(o.low.as_deref(), Some("2025-01-03 07:33:20"));
    drop(env);
    assert_eq!(scalar(&ws, "SELECT count(*) FROM raw.events"), 400_000);
    assert_eq!(scalar(&ws, "SELECT count(DISTINCT id) FROM raw.events"), 400_000);
    let runs = query(&ws, "SELECT count(*) AS n FROM catalog.versions WHERE table_name = 'raw.events'");
    assert_eq!(runs[0]["n"], 2, "one version per successful extract, none for the failed attempts");
}

#[test]
fn issue_7_a_lost_catalog_update_is_repaired_from_the_lake() {
    let Some(db) = TestDb::create("repair") else { return };
    db.exec(
        "CREATE TABLE orders (id int PRIMARY KEY, total numeric(8,2) NOT NULL, updated bigint NOT NULL);
         INSERT INTO orders SELECT g, g * 1.25, g FROM generate_series(1, 1000) g;",
    );
    let (_tmp, ws) = workspace();
    let into: reel_common::TableRef = "raw.orders".parse().unwrap();
    let mut req = PgIngestRequest::new(&db.url, Source::Table("orders".into()), into.clone(), "test repair");
    req.watermark = Some("updated".into());
    let env = env_of(&ws);
    assert_eq!(block_on(ingest_postgres(&env, &req, &NoProgress)).unwrap().rows, 1000);
    // As if the process died after the lake commit, before the catalog heard of it.
    assert!(block_on(env.catalog.clear_watermark(&into)).unwrap());
    db.exec("INSERT INTO orders SELECT g, g * 1.25, g FROM generate_series(1001, 1010) g;");
    let o = block_on(ingest_postgres(&env, &req, &NoProgress)).unwrap();
    assert_eq!((o.rows, o.low.as_deref(), o.high.as_deref()), (10, Some("1000"), Some("1010")));
    let w = block_on(env.catalog.watermark(&into)).unwrap().unwrap();
    assert_eq!((w.column.as_str(), w.kind.as_str(), w.value.as_str()), ("updated", "int", "1010"));
    drop(env);
    assert_eq!(scalar(&ws, "SELECT count(*) FROM raw.orders"), 1010);
    assert_eq!(query(&ws, "SELECT CAST(sum(total) AS VARCHAR) AS s FROM raw.orders")[0]["s"], "638193.75");
}

#[test]
fn issue_7_review_files_load_into_raw_clean_and_quarantine() {
    let (tmp, ws) = workspace();
    let vendor = tmp.path().join("vendor");
    let generated = json(&ws, &["generate", "rental", "--customers", "300", "--days", "2", "--out", vendor.to_str().unwrap(), "--review-defects", "0.05"]);
    let files = generated["review_files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    let day1 = files[0]["path"].as_str().unwrap().to_string();
    let defects = |f: &serde_json::Value| ["empty_text", "bad_date", "bad_id", "bad_rating", "short_line"].iter().map(|k| f["defects"][*k].as_u64().unwrap()).sum::<u64>();
    let o = json(&ws, &["ingest", "reviews", &day1]);
    assert_eq!(o["ds"], "2025-01-01", "the run day comes from the file name");
    assert_eq!(o["loaded"].as_u64().unwrap(), files[0]["reviews"].as_u64().unwrap() - defects(&files[0]));
    assert_eq!(o["quarantined"].as_u64().unwrap(), defects(&files[0]));
    assert_eq!(o["duplicates"], files[0]["defects"]["duplicate"]);
    let clean = scalar(&ws, "SELECT count(*) FROM clean.reviews");
    // Loading the same file again changes nothing.
    json(&ws, &["ingest", "reviews", &day1]);
    assert_eq!(scalar(&ws, "SELECT count(*) FROM clean.reviews"), clean);
    assert_eq!(scalar(&ws, "SELECT count(DISTINCT review_id) FROM clean.reviews"), clean);
    assert_eq!(scalar(&ws, "SELECT count(*) FROM quarantine.reviews"), defects(&files[0]) as i64);
    // Both days at once, each in its partition.
    json(&ws, &["ingest", "reviews", &day1, files[1]["path"].as_str().unwrap()]);
    assert_eq!(scalar(&ws, "SELECT count(DISTINCT ds) FROM clean.reviews"), 2);
    let cols = query(&ws, "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'clean' AND table_name = 'reviews' ORDER BY ordinal_position");
    let names: Vec<&str> = cols.iter().map(|c| c["column_name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["review_id", "customer_id", "film_id", "review_date", "rating", "text", "ds"]);
    // The vendor resends day 1 as day 2's file: every review is already loaded.
    let resent = tmp.path().join("reviews_2025-01-02.csv");
    std::fs::copy(&day1, &resent).unwrap();
    let before = scalar(&ws, "SELECT count(*) FROM clean.reviews WHERE ds = '2025-01-02'");
    let err = fails(&ws, &["ingest", "reviews", resent.to_str().unwrap()]);
    assert!(err.contains("nothing was written for ds=2025-01-02") && err.contains("already loaded on ds=2025-01-01"), "{err}");
    assert_eq!(scalar(&ws, "SELECT count(*) FROM clean.reviews WHERE ds = '2025-01-02'"), before, "day 2 is untouched");
    let err = fails(&ws, &["ingest", "reviews", &day1, &day1, "--ds", "2025-01-01"]);
    assert!(err.contains("--ds names one run day"), "{err}");
}
