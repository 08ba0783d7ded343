//! `reelhouse serve`: resolves the settings (flags over `[serve]` in reelhouse.toml), opens
//! the workspace, loads the catalogue and the champions, and runs `reel_serve` until Ctrl-C
//! or SIGTERM.
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use reel_common::{ServeConfig, TableRef};
use reel_pipeline::serving::{EVENTS_TABLE, RegistrySource, load_catalogue};
use reel_pipeline::Progress as _;
use reel_serve::{AccessLog, LakeSink, ServeParams, ServerState};
use serde::Serialize;

use super::open_env;
use crate::cli::{Format, GlobalArgs, ServeArgs};
use crate::progress::Bar;

/// The default token variable.
const TOKEN_ENV: &str = "REELHOUSE_SERVE_TOKEN";

/// Where the token came from.
fn token(cfg: &ServeConfig, read_only: bool) -> Result<(Option<String>, String)> {
    if read_only {
        return Ok((None, "write routes are off (--read-only)".into()));
    }
    if let Some(var) = &cfg.token_env {
        let v = std::env::var(var).with_context(|| {
            format!("serve.token_env names {var}, but it is not set; export {var}=<at least 16 characters> or remove token_env")
        })?;
        return Ok((Some(v), format!("token from ${var}")));
    }
    if let Some(t) = &cfg.token {
        return Ok((Some(t.clone()), "token from serve.token in reelhouse.toml".into()));
    }
    if let Ok(v) = std::env::var(TOKEN_ENV) {
        return Ok((Some(v), format!("token from ${TOKEN_ENV}")));
    }
    let generated = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    Ok((Some(generated), "token generated for this run (set serve.token_env in reelhouse.toml to keep one)".into()))
}

fn seconds(name: &str, s: f64) -> Result<Option<Duration>> {
    if !s.is_finite() || s < 0.0 {
        bail!("{name} {s} is not a number of seconds; give 0 or more (0 = never)");
    }
    Ok((s > 0.0).then(|| Duration::from_secs_f64(s)))
}

#[derive(Serialize)]
struct Started<'a> {
    url: String,
    serving: Vec<serde_json::Value>,
    token: Option<&'a str>,
    token_source: &'a str,
    catalogue_movies: usize,
    catalogue_ratings: usize,
    replayed_events: usize,
    events_table: String,
    startup_seconds: f64,
}

pub async fn run(g: &GlobalArgs, a: ServeArgs) -> Result<ExitCode> {
    let t0 = Instant::now();
    let env = Arc::new(open_env(g).await?);
    let cfg = env.workspace.config.serve.clone().unwrap_or_default();
    let addr_text = a.addr.clone().or(cfg.addr.clone()).unwrap_or_else(|| "127.0.0.1:8080".into());
    let addr: SocketAddr = addr_text
        .parse()
        .with_context(|| format!("--addr {addr_text:?} is not HOST:PORT with an IP address, e.g. 127.0.0.1:8080 or 0.0.0.0:8080"))?;
    let poll = seconds("--poll", a.poll.or(cfg.poll_seconds).unwrap_or(5.0))?;
    let flush = seconds("--flush-seconds", a.flush_seconds)?.context("--flush-seconds 0: events must be flushed; give e.g. 2")?;
    let (token, token_source) = token(&cfg, a.read_only)?;
    let events_name = a.events_table.clone().or(cfg.events_table.clone()).unwrap_or_else(|| EVENTS_TABLE.into());
    let events_table: TableRef = events_name.parse().with_context(|| format!("--events-table {events_name:?}"))?;
    let params = ServeParams {
        predict_model: a.predict_model.clone().or(cfg.predict_model.clone()).unwrap_or_else(|| "recommender".into()),
        recommend_model: a.recommend_model.clone().or(cfg.recommend_model.clone()).unwrap_or_else(|| "recommender".into()),
        sentiment_model: a.sentiment_model.clone().unwrap_or_else(|| "sentiment".into()),
        alias: a.alias.clone(),
        poll,
        token,
        max_inflight: a.max_inflight,
        max_connections: a.max_connections,
        body_limit: a.body_limit,
        timeout: Duration::from_millis(a.timeout_ms),
        flush_interval: flush,
        ..ServeParams::default()
    }
    .check()?;
    let access = match &a.access_log {
        None => None,
        Some(p) if p.as_os_str() == "-" => Some(AccessLog::start(Box::new(std::io::stderr())).context("starting the access log")?),
        Some(p) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("opening the access log {}", p.display()))?;
            Some(AccessLog::start(Box::new(f)).context("starting the access log")?)
        }
    };

    let bar = Bar::new(g.no_progress);
    bar.begin("loading catalogue", None);
    let loaded = load_catalogue(&env, &events_table).await.context("loading clean.movies and clean.ratings")?;
    bar.end();
    let (movies, ratings, replayed) = (loaded.catalogue.len(), loaded.ratings, loaded.replayed.len());
    let mut replay_users = loaded.replayed.user.clone();
    replay_users.sort_unstable();
    replay_users.dedup();
    let sink = Arc::new(LakeSink::new(env.lake.clone(), events_table.clone()));
    let state = ServerState::new(params, Arc::new(RegistrySource::new(env.clone())), loaded.catalogue, sink, access);
    state.replay(replay_users);
    bar.begin("loading models", None);
    state.load_models().await.context("loading the models to serve")?;
    bar.end();

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}; is another server on that port? pass --addr HOST:OTHER_PORT"))?;
    let url = format!("http://{}", listener.local_addr().unwrap_or(addr));
    let serving: Vec<serde_json::Value> = state
        .slots()
        .iter()
        .map(|s| {
            let cur = s.current.load();
            let roles: Vec<&str> = s.roles.iter().map(|r| if *r == reel_serve::Role::Predict { "predict" } else { "recommend" }).collect();
            serde_json::json!({
                "name": s.name,
                "version": cur.as_ref().map(|c| c.info.version),
                "algorithm": cur.as_ref().map(|c| c.info.algorithm.clone()),
                "roles": roles,
            })
        })
        .collect();
    let started = Started {
        url: url.clone(),
        serving: serving.clone(),
        token: state.params().token.as_deref().filter(|_| token_source.contains("generated")),
        token_source: &token_source,
        catalogue_movies: movies,
        catalogue_ratings: ratings,
        replayed_events: replayed,
        events_table: events_table.to_string(),
        startup_seconds: t0.elapsed().as_secs_f64(),
    };
    if g.format == Format::Json {
        println!("{}", serde_json::to_string(&started)?);
    } else {
        println!("reelhouse serve on {url}  (ready in {:.2} s)", started.startup_seconds);
        for s in &serving {
            println!(
                "  {}@{} ({}) answers {}",
                s["name"].as_str().unwrap_or("?"),
                s["version"],
                s["algorithm"].as_str().unwrap_or("?"),
                s["roles"].as_array().map(|r| r.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default()
            );
        }
        println!("  catalogue: {movies} movies, {ratings} ratings, {replayed} rating events replayed from {events_table}");
        match state.params().token.as_deref() {
            Some(t) if token_source.contains("generated") => println!("  write routes: Authorization: Bearer {t}\n    ({token_source})"),
            Some(_) => println!("  write routes: bearer {token_source}"),
            None => println!("  {token_source}"),
        }
        match poll {
            Some(p) => println!("  new champions are picked up every {} s", p.as_secs_f64()),
            None => println!("  registry polling is off (--poll 0)"),
        }
        println!("  API: {url}/docs   metrics: {url}/metrics   Ctrl-C stops (buffered events are flushed)");
    }
    reel_serve::serve(listener, state.clone(), shutdown_signal()).await.context("serving")?;
    let flushed = state.events().flushed.load(std::sync::atomic::Ordering::Relaxed);
    let pending = state.events().pending();
    if pending > 0 {
        eprintln!("error: {pending} events could not be written to {events_table}; see the log above");
        return Ok(ExitCode::from(2));
    }
    if g.format != Format::Json {
        println!("stopped; {flushed} events written to {events_table}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
