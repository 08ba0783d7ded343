//! Connecting: bad URLs, unreachable servers, schema versions.
use reel_catalog::{Catalog, Error, SCHEMA_VERSION};

#[tokio::test]
async fn unsupported_urls_are_refused() {
    let err = Catalog::connect("mysql://u:secret@h/db").await.unwrap_err();
    assert!(matches!(err, Error::UnsupportedUrl { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("mysql://u:***@h/db") && !msg.contains("secret"), "{msg}");
    assert!(msg.contains("sqlite") && msg.contains("postgres"), "{msg}");
}

#[tokio::test]
async fn a_sqlite_file_in_a_missing_folder_names_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("no/such/folder/c.db").display());
    let err = Catalog::connect(&url).await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&url) && msg.contains("folder exists"), "{msg}");
}

#[tokio::test]
async fn an_unreachable_server_is_reported_without_the_password() {
    // Port 1 on localhost refuses connections at once.
    let err = Catalog::connect("postgres://reel:topsecret@127.0.0.1:1/reel").await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("postgres://reel:***@127.0.0.1:1/reel"), "{msg}");
    assert!(!msg.contains("topsecret"), "{msg}");
    assert!(msg.contains("server is running"), "{msg}");
}

#[tokio::test]
async fn a_catalog_from_a_newer_reelhouse_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
    drop(Catalog::connect(&url).await.unwrap());
    {
        use sqlx::ConnectOptions;
        let mut conn = url.parse::<sqlx::sqlite::SqliteConnectOptions>().unwrap().connect().await.unwrap();
        sqlx::query("UPDATE reel_schema_version SET version = 99").execute(&mut conn).await.unwrap();
    }
    let err = Catalog::connect(&url).await.unwrap_err();
    assert!(matches!(err, Error::NewerSchema { found: 99, .. }), "{err:?}");
    assert!(err.to_string().contains("upgrade reelhouse"), "{err}");
    assert_eq!(SCHEMA_VERSION, 1);
}

#[tokio::test]
async fn connecting_twice_keeps_one_schema_version_row() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
    drop(Catalog::connect(&url).await.unwrap());
    drop(Catalog::connect(&url).await.unwrap());
    use sqlx::ConnectOptions;
    let mut conn = url.parse::<sqlx::sqlite::SqliteConnectOptions>().unwrap().connect().await.unwrap();
    let (n, mode): (i64, String) = (
        sqlx::query_scalar("SELECT COUNT(*) FROM reel_schema_version").fetch_one(&mut conn).await.unwrap(),
        sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut conn).await.unwrap(),
    );
    assert_eq!(n, 1);
    assert_eq!(mode, "wal");
}
