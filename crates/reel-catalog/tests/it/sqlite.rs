//! SQLite specifics: several writers on one file.
use std::collections::BTreeMap;

use chrono::Utc;
use reel_catalog::{Catalog, NewTableVersion};
use reel_common::{RunId, TableRef, Zone};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_on_one_file_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
    // Separate pools, as separate processes would have.
    let mut tasks = Vec::new();
    for w in 0..4 {
        let c = Catalog::connect(&url).await.unwrap();
        tasks.push(tokio::spawn(async move {
            let t = TableRef::try_new(Zone::Clean, &format!("t{w}")).unwrap();
            for v in 0..25 {
                let mut tags = BTreeMap::new();
                tags.insert(format!("k{v}"), "x".to_string());
                c.record_version(NewTableVersion {
                    table: t.clone(),
                    version: v,
                    operation: "append".into(),
                    columns: vec![],
                    row_count: v,
                    partition_columns: vec![],
                    location: String::new(),
                    size_bytes: 0,
                    num_files: 0,
                    run_id: RunId::new(),
                    command: "test".into(),
                    created_at: Utc::now(),
                    description: None,
                    tags,
                    sources: vec![],
                    upstream: vec![],
                })
                .await
                .unwrap();
                c.set_tags(&t, &BTreeMap::from([("last".to_string(), v.to_string())])).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let c = Catalog::connect(&url).await.unwrap();
    let tables = c.list_tables().await.unwrap();
    assert_eq!(tables.len(), 4);
    for e in tables {
        assert_eq!(e.version, 24);
        assert_eq!(e.tags.len(), 26);
        assert_eq!(e.tags["last"], "24");
        assert_eq!(c.versions(&e.table).await.unwrap().len(), 25);
    }
}
