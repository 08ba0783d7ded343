//! A real crash: a child process writes a table and is killed with SIGKILL mid-write.
use std::time::{Duration, Instant};

use reel_lake::{Lake, WriteMode};

use crate::{batch, data_files, expected, scan_rows, schema, t};

const CHILD_ENV: &str = "REEL_LAKE_CRASH_CHILD";

fn replace(ds: &str) -> WriteMode {
    WriteMode::ReplacePartition {
        column: "ds".into(),
        value: ds.into(),
    }
}

/// The child's side of `sigkill_mid_write_leaves_the_previous_version`: writes forever.
/// A no-op when run as a normal test.
#[test]
fn child_writer() {
    let Ok(root) = std::env::var(CHILD_ENV) else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let lake = Lake::try_new(&root, None).unwrap();
        let mut w = lake
            .writer(&t("raw.ratings"), schema())
            .with_mode(replace("a"))
            .with_target_file_rows(20_000);
        let mut i = 0i64;
        loop {
            w.write(batch(i * 10_000..(i + 1) * 10_000, "a")).await.unwrap();
            i += 1;
            if i == 8 {
                std::fs::write(format!("{root}/started"), "").unwrap();
            }
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_write_leaves_the_previous_version() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lake");
    let root = root.to_str().unwrap().to_string();
    let lake = Lake::try_new(&root, None).unwrap();
    let table = t("raw.ratings");
    let mut w = lake.writer(&table, schema()).with_mode(replace("a"));
    w.write(batch(0..10, "a")).await.unwrap();
    w.commit().await.unwrap();
    let committed = data_files(&lake, &table).await;

    for delay_ms in [0u64, 30, 120] {
        let _ = std::fs::remove_file(format!("{root}/started"));
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash::child_writer", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !std::path::Path::new(&format!("{root}/started")).exists() {
            assert!(start.elapsed() < Duration::from_secs(120), "the child never started writing");
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the child exited early: {status}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        child.kill().unwrap(); // SIGKILL on unix: no destructor runs
        child.wait().unwrap();

        let files = data_files(&lake, &table).await;
        assert!(files.len() > committed.len(), "the child wrote files before it died");
        let info = lake.info(&table).await.unwrap();
        assert_eq!(info.version, 0, "after a kill at +{delay_ms} ms");
        assert_eq!(info.row_count, Some(10));
        assert_eq!(scan_rows(&lake, &table).await, expected(&[(0..10, "a")]));
    }

    // The orphans do not bother the next writer.
    let mut w = lake.writer(&table, schema()).with_mode(replace("a"));
    w.write(batch(100..103, "a")).await.unwrap();
    assert_eq!(w.commit().await.unwrap().version, 1);
    assert_eq!(scan_rows(&lake, &table).await, expected(&[(100..103, "a")]));
}
