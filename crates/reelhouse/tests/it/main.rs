//! End-to-end tests of the `reelhouse` binary: run it as a user would, read what it prints.
mod classify;
mod cli;
mod crash;
mod demo;
mod ingest;
mod ml;
mod pipelines;
mod serve;
mod reports;
mod sql;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_reelhouse"));
    c.arg("--no-progress");
    c.env_remove("REELHOUSE_WORKSPACE");
    c.env_remove("REELHOUSE_LOG");
    c
}

/// Runs the binary in `ws` with `args`; returns the output.
pub fn run(ws: &Path, args: &[&str]) -> Output {
    let out = bin()
        .arg("--workspace")
        .arg(ws)
        .args(args)
        .output()
        .expect("the reelhouse binary runs");
    out
}

/// Runs and asserts success; returns stdout.
pub fn ok(ws: &Path, args: &[&str]) -> String {
    let out = run(ws, args);
    assert!(
        out.status.success(),
        "reelhouse {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// Runs a query and returns the rows as JSON objects.
pub fn query(ws: &Path, sql: &str) -> Vec<serde_json::Value> {
    let text = ok(ws, &["--format", "json", "sql", sql]);
    serde_json::from_str::<Vec<serde_json::Value>>(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A single integer answer.
pub fn scalar(ws: &Path, sql: &str) -> i64 {
    let rows = query(ws, sql);
    let obj = rows[0].as_object().expect("a row");
    obj.values().next().and_then(|v| v.as_i64()).unwrap_or_else(|| panic!("no integer in {rows:?}"))
}

/// A fresh workspace in a temp folder.
pub fn workspace() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ws = tmp.path().join("ws");
    let out = bin().arg("init").arg(&ws).output().expect("init runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (tmp, ws)
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The fixtures of reel-ingest.
pub fn fixtures() -> PathBuf {
    repo().join("crates/reel-ingest/tests/fixtures")
}
