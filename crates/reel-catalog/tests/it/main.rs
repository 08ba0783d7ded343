//! Integration tests of the catalog: one conformance suite ([`suite`]) run on
//! `sqlite::memory:`, on a SQLite file and, when `REELHOUSE_TEST_POSTGRES_URL` is set, on
//! PostgreSQL; [`connect`] covers connection errors and schema versions; [`sqlite`] covers
//! concurrent writers on one file.
#![allow(clippy::unwrap_used)]

mod connect;
mod sqlite;
mod suite;

use reel_catalog::Catalog;

/// The env var naming a PostgreSQL database the suite may write to.
pub const POSTGRES_ENV: &str = "REELHOUSE_TEST_POSTGRES_URL";

#[tokio::test]
async fn conformance_sqlite_memory() {
    let c = Catalog::connect("sqlite::memory:").await.unwrap();
    assert_eq!(c.backend(), "sqlite");
    suite::run(&c).await;
    suite::run_pipelines(&c).await;
    suite::run_quality(&c).await;
}

#[tokio::test]
async fn conformance_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("catalog.db").display());
    let c = Catalog::connect(&url).await.unwrap();
    assert_eq!(c.backend(), "sqlite");
    suite::run(&c).await;
    suite::run_pipelines(&c).await;
    suite::run_quality(&c).await;
    drop(c);
    // Everything is still there after reconnecting.
    let c = Catalog::connect(&url).await.unwrap();
    assert!(!c.list_tables().await.unwrap().is_empty());
    assert!(!c.runs(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn conformance_postgres() {
    let Ok(url) = std::env::var(POSTGRES_ENV) else {
        println!("skipped: set {POSTGRES_ENV}=postgres://user:pass@host/db to run the catalog suite on PostgreSQL");
        return;
    };
    let c = Catalog::connect(&url).await.unwrap();
    assert_eq!(c.backend(), "postgres");
    suite::run(&c).await;
    suite::run_pipelines(&c).await;
    suite::run_quality(&c).await;
    // A second connect finds the schema in place.
    let c = Catalog::connect(&url).await.unwrap();
    suite::run(&c).await;
    suite::run_pipelines(&c).await;
    suite::run_quality(&c).await;
}
