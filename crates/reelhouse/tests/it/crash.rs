//! SIGKILL in the middle of a large ingest leaves every table readable at its previous
//! version, and the same command run again completes.
use std::time::{Duration, Instant};

use super::*;

fn delta_versions(ws: &Path) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for zone in ["raw", "clean", "quarantine"] {
        let Ok(tables) = std::fs::read_dir(ws.join("lake").join(zone)) else { continue };
        for t in tables {
            let t = t.unwrap().path();
            let commits = std::fs::read_dir(t.join("_delta_log"))
                .map(|d| d.filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json")).count())
                .unwrap_or(0);
            out.push((format!("{zone}.{}", t.file_name().unwrap().to_string_lossy()), commits));
        }
    }
    out.sort();
    out
}

fn counts(ws: &Path, tables: &[(String, usize)]) -> Vec<(String, i64)> {
    tables
        .iter()
        .map(|(t, _)| (t.clone(), scalar(ws, &format!("SELECT count(*) FROM {t}"))))
        .collect()
}

#[test]
fn sigkill_mid_ingest_keeps_every_table_at_its_previous_version() {
    let (tmp, ws) = workspace();
    let data = tmp.path().join("gen");
    let out = bin()
        .args(["generate", "movielens", "--ratings", "2000000", "--seed", "7", "--out"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let args = ["ingest", "movielens", data.to_str().unwrap(), "--ds", "2025-01-01"];

    let start = Instant::now();
    ok(&ws, &args);
    let full = start.elapsed();
    let before_versions = delta_versions(&ws);
    let before_counts = counts(&ws, &before_versions);
    assert!(before_counts.iter().any(|(t, n)| t == "clean.ratings" && *n == 2_000_000), "{before_counts:?}");

    // Kill the same load during its parse (commits happen only at the end).
    let mut child = bin().arg("--workspace").arg(&ws).args(args).spawn().unwrap();
    // A third of the way in: early enough to stay before the commits even if this run is
    // twice as fast as the first (parallel tests slow runs unevenly).
    std::thread::sleep(full.mul_f64(0.3).max(Duration::from_millis(50)));
    let finished_early = child.try_wait().unwrap().is_some();
    assert!(!finished_early, "the ingest finished before it could be killed; use a larger input");
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(!status.success());

    assert_eq!(delta_versions(&ws), before_versions, "a table moved to a new version");
    assert_eq!(counts(&ws, &before_versions), before_counts);

    // The same command completes afterwards, with the same result.
    ok(&ws, &args);
    assert_eq!(counts(&ws, &before_versions), before_counts);
}
