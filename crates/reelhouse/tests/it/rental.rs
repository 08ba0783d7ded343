//! Seed 001 end to end on three generated days: the committed user_behavior_metric SQL model,
//! run over our lake tables (extracted from PostgreSQL, review files ingested), gives exactly
//! what the same SQL gives when PostgreSQL runs it over its own tables.
//!
//! The sentiment classifier is a separate piece of work; until it lands, a stand-in labels
//! each review with its corpus rating (>= 4 is positive) on both sides, so `review_score` is
//! checked too, through the same join and aggregation the real labels will take.
use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use reel_lake::WriteMode;

use super::postgres::{TestDb, block_on};
use super::*;

const DAYS: [&str; 3] = ["2025-01-01", "2025-01-02", "2025-01-03"];

fn model(ds: &str) -> String {
    let sql = std::fs::read_to_string(repo().join("models/user_behavior_metric.sql")).unwrap();
    assert!(sql.contains("{{ ds }}"));
    sql.replace("{{ ds }}", ds)
}

/// The metric rows, typed the same on both sides: customer, amount as text, score, count, day.
type Metric = (i64, String, i64, i64, String);

fn lake_metric(lake: &reel_lake::Lake, ds: &str) -> Vec<Metric> {
    block_on(async {
        let s = reel_sql::SqlSession::try_new(lake, None).await.unwrap();
        let sql = format!(
            "SELECT CAST(customer_id AS BIGINT), CAST(amount_spent AS VARCHAR), CAST(review_score AS BIGINT), CAST(review_count AS BIGINT), CAST(insert_date AS VARCHAR) FROM ({}) m ORDER BY 1",
            model(ds)
        );
        let r = s.query(&sql).await.unwrap();
        let mut out = Vec::new();
        for b in &r.batches {
            use arrow::array::AsArray;
            use arrow::datatypes::Int64Type;
            // VARCHAR may come back as Utf8View; read both text columns as Utf8.
            let text = |k: usize| arrow::compute::cast(b.column(k), &DataType::Utf8).unwrap();
            let (amount, day) = (text(1), text(4));
            for i in 0..b.num_rows() {
                out.push((
                    b.column(0).as_primitive::<Int64Type>().value(i),
                    amount.as_string::<i32>().value(i).to_string(),
                    b.column(2).as_primitive::<Int64Type>().value(i),
                    b.column(3).as_primitive::<Int64Type>().value(i),
                    day.as_string::<i32>().value(i).to_string(),
                ));
            }
        }
        out
    })
}

fn pg_metric(db: &TestDb, ds: &str) -> Vec<Metric> {
    let url = db.url.clone();
    let sql = format!(
        "SELECT customer_id::int8, amount_spent::text, review_score::int8, review_count::int8, insert_date::text FROM ({}) m ORDER BY 1",
        model(ds)
    );
    block_on(async move {
        let mut c = reel_postgres::connect(&url, "reelhouse tests").await.unwrap();
        let rows: Vec<(i64, String, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&mut c).await.unwrap();
        rows
    })
}

/// Loads a CSV file into PostgreSQL with COPY, as PostgreSQL itself parses CSV.
fn pg_copy_csv(db: &TestDb, table_cols: &str, file: &Path) {
    let url = db.url.clone();
    let bytes = std::fs::read(file).unwrap();
    let stmt = format!("COPY {table_cols} FROM STDIN (FORMAT csv, HEADER true)");
    block_on(async move {
        let mut c = reel_postgres::connect(&url, "reelhouse tests").await.unwrap();
        let mut copy = c.copy_in_raw(&stmt).await.unwrap();
        copy.send(bytes.as_slice()).await.unwrap();
        copy.finish().await.unwrap();
    });
}

#[test]
fn issue_7_user_behavior_metric_matches_postgres_for_three_generated_days() {
    let Some(db) = TestDb::create("metric") else { return };
    let (tmp, ws) = workspace();
    let vendor = tmp.path().join("vendor");
    ok(&ws, &["generate", "rental", "--postgres", &db.url, "--customers", "250", "--days", "3", "--out", vendor.to_str().unwrap(), "--review-defects", "0", "--seed", "7"]);

    // The lake side: each day's purchases staged by day, each day's review file.
    for ds in DAYS {
        let q = format!(
            "SELECT payment_id, customer_id, staff_id, rental_id, amount, payment_date FROM payment WHERE payment_date >= '{ds}' AND payment_date < '{ds}'::date + 1"
        );
        ok(&ws, &["ingest", "postgres", "--url", &db.url, "--query", &q, "--into", "raw.user_purchase", "--ds", ds]);
    }
    let files: Vec<String> = DAYS.iter().map(|d| vendor.join(format!("reviews_{d}.csv")).display().to_string()).collect();
    let mut args = vec!["ingest", "reviews"];
    args.extend(files.iter().map(String::as_str));
    ok(&ws, &args);

    // Stand-in classifier, lake side: the corpus as a table, joined on the text.
    let corpus_path = repo().join("datasets/reviews/reviews_sample.csv");
    let corpus = reel_gen::rental::Corpus::from_csv(&corpus_path).unwrap();
    let env = block_on(reel_pipeline::Env::open(reel_common::Workspace::open(&ws).unwrap())).unwrap();
    block_on(async {
        let schema = Arc::new(Schema::new(vec![Field::new("text", DataType::Utf8, false), Field::new("rating", DataType::Int32, false)]));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(corpus.entries().iter().map(|e| e.text.as_str()).collect::<Vec<_>>())),
            Arc::new(Int32Array::from(corpus.entries().iter().map(|e| i32::from(e.rating)).collect::<Vec<_>>())),
        ];
        let t: reel_common::TableRef = "clean.review_corpus".parse().unwrap();
        let mut w = env.lake.writer(&t, schema.clone());
        w.write(RecordBatch::try_new(schema, cols).unwrap()).await.unwrap();
        w.commit().await.unwrap();
        let s = reel_sql::SqlSession::try_new(&env.lake, None).await.unwrap();
        let r = s
            .query(
                "SELECT r.review_id, r.customer_id, r.film_id, r.review_date, r.rating, r.text,
                        CASE WHEN c.rating <= 2 THEN 'negative' WHEN c.rating = 3 THEN 'neutral' ELSE 'positive' END AS sentiment,
                        c.rating >= 4 AS positive_review, r.ds
                 FROM clean.reviews r JOIN clean.review_corpus c ON c.text = r.text",
            )
            .await
            .unwrap();
        let t: reel_common::TableRef = "clean.classified_reviews".parse().unwrap();
        let mut w = env.lake.writer(&t, r.schema.clone()).with_mode(WriteMode::Overwrite).with_partition_columns(vec!["ds".into()]);
        for b in r.batches {
            w.write(b).await.unwrap();
        }
        w.commit().await.unwrap();
    });
    assert_eq!(
        scalar(&ws, "SELECT count(*) FROM clean.classified_reviews"),
        scalar(&ws, "SELECT count(*) FROM clean.reviews"),
        "every review text comes from the corpus"
    );

    // The PostgreSQL side: the same tables as views over its own data and the same files.
    db.exec(
        "CREATE SCHEMA raw; CREATE SCHEMA clean;
         CREATE VIEW raw.user_purchase AS
           SELECT payment_id, customer_id, staff_id, rental_id, amount, payment_date, to_char(payment_date, 'YYYY-MM-DD') AS ds FROM public.payment;
         CREATE TABLE clean.review_file (review_id bigint, customer_id bigint, film_id bigint, review_date date, rating int, text text);
         CREATE TABLE clean.corpus_file (source_row int, rating int, text text);",
    );
    for f in &files {
        pg_copy_csv(&db, "clean.review_file (review_id, customer_id, film_id, review_date, rating, text)", Path::new(f));
    }
    pg_copy_csv(&db, "clean.corpus_file (source_row, rating, text)", &corpus_path);
    db.exec(
        "CREATE VIEW clean.classified_reviews AS
           SELECT r.*, c.rating >= 4 AS positive_review, to_char(r.review_date, 'YYYY-MM-DD') AS ds
           FROM clean.review_file r JOIN clean.corpus_file c ON c.text = r.text;",
    );

    let lake = env.lake.clone();
    let mut reviewers_only = 0;
    let mut buyers_only = 0;
    for ds in DAYS {
        let ours = lake_metric(&lake, ds);
        let theirs = pg_metric(&db, ds);
        assert_eq!(ours.len(), theirs.len(), "{ds}: customers");
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(a, b, "{ds}");
        }
        // The day is not trivial: buyers, reviewers, and people who did only one of the two.
        assert!(ours.len() > 20, "{ds}: {} customers", ours.len());
        assert!(ours.iter().any(|m| m.2 > 0) && ours.iter().any(|m| m.3 > m.2), "{ds}: positive and other reviews");
        reviewers_only += ours.iter().filter(|m| m.1 == "0.00000").count();
        buyers_only += ours.iter().filter(|m| m.3 == 0).count();
        let reviews: i64 = ours.iter().map(|m| m.3).sum();
        assert_eq!(reviews, scalar(&ws, &format!("SELECT count(*) FROM clean.reviews WHERE ds = '{ds}'")), "{ds}: every review counted once");
        let spent = db.text(&format!("SELECT sum(amount)::numeric(18,5)::text FROM payment WHERE payment_date::date = '{ds}'"));
        let ours_spent: f64 = ours.iter().map(|m| m.1.parse::<f64>().unwrap()).sum();
        assert!((ours_spent - spent.parse::<f64>().unwrap()).abs() < 1e-6, "{ds}: every purchase counted once");
    }
    assert!(reviewers_only > 0 && buyers_only > 0, "the full join matters: {reviewers_only} reviewers-only, {buyers_only} buyers-only rows");
}

fn run_json(ws: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let out = ok(ws, &all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The metric of one day as materialised in the lake by the pipeline.
fn materialised(ws: &Path, ds: &str) -> Vec<Metric> {
    query(
        ws,
        &format!(
            "SELECT CAST(customer_id AS BIGINT) AS c, CAST(amount_spent AS VARCHAR) AS a, CAST(review_score AS BIGINT) AS s,
                    CAST(review_count AS BIGINT) AS n, CAST(insert_date AS VARCHAR) AS d
             FROM curated.user_behavior_metric WHERE ds = '{ds}' ORDER BY c"
        ),
    )
    .iter()
    .map(|r| {
        (
            r["c"].as_i64().unwrap(),
            r["a"].as_str().unwrap().to_string(),
            r["s"].as_i64().unwrap(),
            r["n"].as_i64().unwrap(),
            r["d"].as_str().unwrap().to_string(),
        )
    })
    .collect()
}

#[test]
fn issue_7_rental_daily_three_days_equal_the_same_sql_in_postgres() {
    let Some(db) = TestDb::create("daily") else { return };
    let (_tmp, ws) = workspace();
    let landing = ws.join("landing/reviews");
    ok(&ws, &["generate", "rental", "--postgres", &db.url, "--customers", "250", "--days", "3", "--out", landing.to_str().unwrap(), "--review-defects", "0", "--seed", "11"]);
    // The sentiment model, trained on the bundled corpus the review texts come from.
    let corpus = repo().join("datasets/reviews/reviews_sample.csv");
    ok(&ws, &["train", "sentiment", "--train", corpus.to_str().unwrap(), "--test", corpus.to_str().unwrap()]);

    let param = format!("postgres_url={}", db.url);
    let runs = run_json(&ws, &["run", "rental_daily", "--from", DAYS[0], "--to", DAYS[2], "--param", &param]);
    let runs = runs.as_array().unwrap_or_else(|| panic!("three runs: {runs}"));
    assert_eq!(runs.len(), 3);
    for r in runs {
        assert_eq!(r["status"], "succeeded", "{r}");
        let tasks: Vec<&str> = r["tasks"].as_array().unwrap().iter().map(|t| t["status"].as_str().unwrap()).collect();
        assert!(tasks.iter().all(|s| *s == "succeeded"), "{r}");
        assert_eq!(tasks.len(), 8, "{r}");
    }

    // The PostgreSQL side: the same model SQL over PostgreSQL's own payments and the same
    // review files (COPY'd by PostgreSQL's CSV parser), with the labels the pipeline's
    // sentiment model gave each review (PostgreSQL cannot run the model; the labels are data).
    db.exec(
        "CREATE SCHEMA raw; CREATE SCHEMA clean;
         CREATE VIEW raw.user_purchase AS
           SELECT payment_id, customer_id, amount, payment_date, to_char(payment_date, 'YYYY-MM-DD') AS ds FROM public.payment;
         CREATE TABLE clean.review_file (review_id bigint, customer_id bigint, film_id bigint, review_date date, rating int, text text);
         CREATE TABLE clean.review_label (review_id bigint PRIMARY KEY, positive_review boolean NOT NULL);",
    );
    for d in DAYS {
        pg_copy_csv(&db, "clean.review_file (review_id, customer_id, film_id, review_date, rating, text)", &landing.join(format!("reviews_{d}.csv")));
    }
    let labels = query(&ws, "SELECT CAST(review_id AS BIGINT) AS id, positive_review AS p FROM clean.classified_reviews");
    let ids: Vec<i64> = labels.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    let pos: Vec<bool> = labels.iter().map(|r| r["p"].as_bool().unwrap()).collect();
    assert!(pos.iter().any(|p| *p) && pos.iter().any(|p| !*p), "the model says positive and not positive");
    let url = db.url.clone();
    block_on(async move {
        let mut c = reel_postgres::connect(&url, "reelhouse tests").await.unwrap();
        sqlx::query("INSERT INTO clean.review_label SELECT * FROM unnest($1::int8[], $2::bool[])").bind(ids).bind(pos).execute(&mut c).await.unwrap();
    });
    db.exec(
        "CREATE VIEW clean.classified_reviews AS
           SELECT f.*, l.positive_review, to_char(f.review_date, 'YYYY-MM-DD') AS ds
           FROM clean.review_file f JOIN clean.review_label l USING (review_id);",
    );
    assert_eq!(db.scalar("SELECT count(*) FROM clean.classified_reviews"), db.scalar("SELECT count(*) FROM clean.review_file"), "every review has its label");

    // Both kinds of review reach the metric over the three days (any single day of a
    // small generated company may have only one kind among its customers).
    let (mut some_positive, mut some_other) = (false, false);
    for ds in DAYS {
        let ours = materialised(&ws, ds);
        let theirs = pg_metric(&db, ds);
        assert!(ours.len() > 20, "{ds}: {} customers", ours.len());
        assert_eq!(ours, theirs, "{ds}");
        some_positive |= ours.iter().any(|m| m.2 > 0);
        some_other |= ours.iter().any(|m| m.3 > m.2);
    }
    assert!(some_positive && some_other, "positive and other reviews in the metric");
    // Each day's purchases were extracted once, into that day's partition only.
    for ds in DAYS {
        let n = db.scalar(&format!("SELECT count(*) FROM payment WHERE payment_date::date = '{ds}'"));
        assert_eq!(scalar(&ws, &format!("SELECT count(*) FROM raw.user_purchase WHERE ds = '{ds}'")), n, "{ds}");
    }
    // The genre view of the same labels.
    let fs = query(&ws, "SELECT count(*) AS n, sum(reviews) AS r, min(positive_share) AS lo, max(positive_share) AS hi, count(genre) AS g FROM curated.film_sentiment");
    assert_eq!(fs[0]["r"].as_i64(), Some(scalar(&ws, "SELECT count(*) FROM clean.reviews")), "{fs:?}");
    assert_eq!(fs[0]["g"], fs[0]["n"], "every film has its genre: {fs:?}");
    assert!(fs[0]["lo"].as_f64().unwrap() >= 0.0 && fs[0]["hi"].as_f64().unwrap() <= 1.0, "{fs:?}");

    // Rerunning a day replaces it: the same rows, nothing twice.
    let before = materialised(&ws, DAYS[1]);
    let again = run_json(&ws, &["run", "rental_daily", "--ds", DAYS[1], "--param", &param]);
    assert_eq!(again["status"], "succeeded", "{again}");
    assert_eq!(materialised(&ws, DAYS[1]), before);
    let n = db.scalar(&format!("SELECT count(*) FROM payment WHERE payment_date::date = '{}'", DAYS[1]));
    assert_eq!(scalar(&ws, &format!("SELECT count(*) FROM raw.user_purchase WHERE ds = '{}'", DAYS[1])), n);
    let versions = query(&ws, "SELECT count(*) AS n FROM catalog.versions WHERE table_name = 'curated.user_behavior_metric'");
    assert_eq!(versions[0]["n"], 4, "one version per run day, and one for the rerun");
}

/// Issue 7, build point 5: `reelhouse demo --rental` on a configured server generates a small
/// company, trains the sentiment model and runs three days; run again, it replaces its own
/// tables (never another's) and gives the same metric.
#[test]
fn issue_7_demo_rental_runs_three_days_and_reruns() {
    let Some(db) = TestDb::create("demo") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let demo = |extra: &[&str]| {
        let out = bin().args(["demo", "--rental", "--dir"]).arg(&dir).args(extra).env("REELHOUSE_POSTGRES_URL", &db.url).output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
        (out.status.code(), stdout, stderr)
    };
    let (code, stdout, stderr) = demo(&[]);
    assert_eq!(code, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    for step in ["Step 1/4", "Step 2/4", "Step 3/4", "Step 4/4", "curated.user_behavior_metric", "macro"] {
        assert!(stdout.contains(step), "{step:?} missing from:\n{stdout}");
    }
    let days = |ws: &Path| query(ws, "SELECT CAST(insert_date AS VARCHAR) AS d, count(*) AS n FROM curated.user_behavior_metric GROUP BY insert_date ORDER BY d");
    let first = days(&dir);
    assert_eq!(first.iter().map(|r| r["d"].as_str().unwrap().to_string()).collect::<Vec<_>>(), DAYS.to_vec(), "{first:?}");
    assert!(first.iter().all(|r| r["n"].as_i64().unwrap() > 10), "{first:?}");

    // The second run replaces the tables it generated itself: same company, same metric.
    let (code, stdout, stderr) = demo(&[]);
    assert_eq!(code, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert_eq!(days(&dir), first);

    // Another workspace finds tables it did not create, and refuses to drop them.
    let other = tmp.path().join("other");
    let out = bin().args(["demo", "--rental", "--dir"]).arg(&other).env("REELHOUSE_POSTGRES_URL", &db.url).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("already has") && stderr.contains("--replace") && !stderr.contains("--pg-schema"), "{stderr}");
}

/// Without a server configured, the demo starts nothing and says how to get one.
#[test]
fn issue_7_demo_rental_without_a_server_says_how_to_get_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let out = bin().args(["demo", "--rental", "--dir"]).arg(&dir).env_remove("REELHOUSE_POSTGRES_URL").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("apt-get install postgresql") && stderr.contains("--postgres"), "{stderr}");
    assert!(!dir.exists(), "nothing is created without a server");
}
