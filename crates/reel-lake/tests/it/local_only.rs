//! Behaviour that only a folder can show: the layout on disk and stray folders.
use reel_lake::{Lake, WriteMode};

use crate::{batch, expected, scan_rows, schema, t};

#[tokio::test]
async fn tables_live_at_zone_and_name_below_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("a/b/lake");
    let lake = Lake::try_new(root.to_str().unwrap(), None).unwrap();
    assert!(root.is_dir(), "the root folder is created");
    let table = t("raw.ratings");
    let mut w = lake.writer(&table, schema()).with_mode(WriteMode::ReplacePartition {
        column: "ds".into(),
        value: "2025-04-09".into(),
    });
    w.write(batch(0..5, "2025-04-09")).await.unwrap();
    w.commit().await.unwrap();
    let folder = root.join("raw/ratings");
    assert!(folder.join("_delta_log/00000000000000000000.json").is_file());
    let parts: Vec<_> = std::fs::read_dir(folder.join("ds=2025-04-09"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(parts.len(), 1);
    assert!(parts[0].ends_with(".parquet"), "{parts:?}");

    // The same folder opened through a file:// URL sees the same table.
    let url = url::Url::from_directory_path(root.canonicalize().unwrap()).unwrap();
    let lake2 = Lake::try_new(url.as_str(), None).unwrap();
    assert_eq!(scan_rows(&lake2, &table).await, expected(&[(0..5, "2025-04-09")]));
}

#[tokio::test]
async fn list_skips_folders_that_are_not_tables() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::try_new(dir.path().to_str().unwrap(), None).unwrap();
    lake.writer(&t("clean.ratings"), schema()).commit().await.unwrap();
    std::fs::create_dir_all(dir.path().join("clean/not_a_table/data")).unwrap();
    std::fs::create_dir_all(dir.path().join("clean/Bad-Name/_delta_log")).unwrap();
    std::fs::write(dir.path().join("clean/Bad-Name/_delta_log/00000000000000000000.json"), "{}").unwrap();
    std::fs::create_dir_all(dir.path().join("gold/x/_delta_log")).unwrap();
    let got: Vec<String> = lake.list().await.unwrap().iter().map(|t| t.to_string()).collect();
    assert_eq!(got, vec!["clean.ratings"]);
}

#[tokio::test]
async fn relative_roots_are_made_absolute() {
    let dir = tempfile::tempdir().unwrap();
    let here = std::env::current_dir().unwrap();
    let rel = pathdiff(dir.path(), &here);
    let lake = Lake::try_new(rel.to_str().unwrap(), None).unwrap();
    assert!(lake.table_url(&t("clean.x")).as_str().starts_with("file:///"));
}

/// `target` relative to `base` (both absolute), with `..` as needed.
fn pathdiff(target: &std::path::Path, base: &std::path::Path) -> std::path::PathBuf {
    let t: Vec<_> = target.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = std::path::PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c.as_os_str());
    }
    out
}
