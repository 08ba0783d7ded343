//! Integration tests against a real PostgreSQL: every mapped type read back exactly, the
//! errors a user can meet, and the rental loader. Each test creates its own database (and
//! drops it), so tests run in parallel on one server.
//!
//! The server comes from `REELHOUSE_TEST_POSTGRES_URL` (`./scripts/test.sh` starts a private
//! one); without it the tests say so and pass, unless `REELHOUSE_REQUIRE_POSTGRES=1`.
#![allow(clippy::unwrap_used)]

mod load;
mod types;

use std::sync::atomic::{AtomicU32, Ordering};

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
    pub async fn create(tag: &str) -> Option<TestDb> {
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
        let mut conn = reel_postgres::connect(&admin, "reelhouse tests").await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&format!("/{name}"));
        Some(TestDb { url: url.to_string(), admin, name })
    }

    /// A connection to the test database.
    pub async fn conn(&self) -> reel_postgres::PgConnection {
        reel_postgres::connect(&self.url, "reelhouse tests").await.unwrap()
    }

    /// Runs statements (several, separated by semicolons).
    pub async fn exec(&self, sql: &str) {
        let mut c = self.conn().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut c).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        // Async work in Drop: a thread with its own small runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(mut c) = reel_postgres::connect(&admin, "reelhouse tests").await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut c).await;
                }
            });
        })
        .join();
    }
}
