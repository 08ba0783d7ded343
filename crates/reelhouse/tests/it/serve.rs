//! `reelhouse serve` end to end: a real socket, the registry poll, events reaching the lake,
//! graceful shutdown.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::*;

const TOKEN: &str = "cli-test-token-0123456789";

pub(super) fn train(ws: &Path, seed: &str, promote: bool) {
    let mut args = vec!["train", "recommender", "--algo", "svd", "--factors", "10", "--epochs", "5", "--seed", seed, "--no-topn"];
    if promote {
        args.push("--promote");
    }
    ok(ws, &args);
}

/// One HTTP/1.1 request on a fresh connection; returns (status, body).
pub(super) fn http(addr: &str, method: &str, path: &str, body: Option<&str>, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let b = body.unwrap_or("");
    if body.is_some() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{b}", b.len()));
    s.write_all(req.as_bytes()).expect("writes");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("reads");
    let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

pub(super) struct Server {
    child: Child,
    pub(super) addr: String,
}

impl Server {
    pub(super) fn start(ws: &Path, extra: &[&str]) -> Server {
        let mut child = bin()
            .arg("--workspace")
            .arg(ws)
            .args(["--format", "json", "serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .env("REELHOUSE_SERVE_TOKEN", TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("a start line");
        let j: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        let addr = j["url"].as_str().expect("url").trim_start_matches("http://").to_string();
        assert_eq!(j["serving"][0]["name"], "recommender", "{j}");
        assert!(j["token"].is_null(), "a configured token is never printed: {j}");
        Server { child, addr }
    }

    pub(super) fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().expect("waits") {
                return st;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn serve_answers_picks_up_a_new_champion_and_writes_events_on_shutdown() {
    let (_tmp, ws) = workspace();
    let data = repo().join("datasets/movielens-100k");
    ok(&ws, &["ingest", "movielens", data.to_str().expect("utf-8")]);
    train(&ws, "1", true);
    let srv = Server::start(&ws, &["--poll", "0.2", "--flush-seconds", "60"]);
    let a = &srv.addr;
    assert_eq!(http(a, "GET", "/ready", None, None).0, 200);
    let (st, body) = http(a, "POST", "/predict", Some(r#"{"user_id": 196, "movie_id": 242}"#), None);
    assert_eq!(st, 200, "{body}");
    let j: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(j["version"], 1);
    assert!((1.0..=5.0).contains(&j["predicted_rating"].as_f64().expect("n")));
    let (st, body) = http(a, "GET", "/recommend/196?k=3&genre=Comedy", None, None);
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("\"title\""), "{body}");
    assert_eq!(http(a, "POST", "/events", Some(r#"{"user_id": 196, "movie_id": 1, "rating": 5}"#), None).0, 401);
    let (st, body) = http(a, "POST", "/events", Some(r#"[{"user_id": 5000, "movie_id": 1, "rating": 5}, {"user_id": 5000, "movie_id": 50, "kind": "view"}]"#), Some(TOKEN));
    assert_eq!(st, 202, "{body}");

    // Another process promotes a new version: the server picks it up from the registry.
    train(&ws, "2", false);
    ok(&ws, &["models", "promote", "recommender@2", "--force"]);
    let t0 = Instant::now();
    loop {
        let (_, body) = http(a, "POST", "/predict", Some(r#"{"user_id": 196, "movie_id": 242}"#), None);
        if body.contains("\"version\":2") {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "the new champion was not picked up: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, body) = http(a, "GET", "/recommend/5000?k=3", None, None);
    assert!(body.contains("\"folded_in\":true"), "the speed layer survived the swap: {body}");

    let status = srv.stop();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
    // The buffered events were appended at shutdown (the flush interval was 60 s).
    assert_eq!(scalar(&ws, "SELECT count(*) FROM raw.events"), 2);
    assert_eq!(scalar(&ws, "SELECT count(*) FROM raw.events WHERE kind = 'rating' AND user_id = 5000"), 1);

    // A restart replays the rating events: user 5000 is folded in at once.
    let srv = Server::start(&ws, &["--poll", "0"]);
    let (_, body) = http(&srv.addr, "GET", "/recommend/5000?k=3", None, None);
    assert!(body.contains("\"folded_in\":true"), "{body}");
    assert!(srv.stop().success());
}

#[test]
fn serve_refuses_bad_settings_and_a_workspace_without_a_champion() {
    let (_tmp, ws) = workspace();
    let out = run(&ws, &["serve", "--addr", "localhost"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HOST:PORT"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&ws, &["serve", "--addr", "127.0.0.1:0", "--max-inflight", "0"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_inflight"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&ws, &["serve", "--addr", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no champion") && err.contains("train"), "{err}");
}
