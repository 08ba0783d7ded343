//! `reelhouse demo`: the whole flow on the bundled MovieLens 100K and movie metadata.
use std::process::ExitCode;

use anyhow::{Context, Result};
use reel_common::{Workspace, WorkspaceConfig};
use reel_pipeline::ingest::{ingest_movielens, IngestRequest};
use reel_pipeline::Env;
use reel_ml::eval::TopN;
use reel_ml::model::predict;
use reel_ml::reco::{Algorithm, Params};
use reel_pipeline::tables::read_movies;
use reel_pipeline::tmdb::ingest_movies_metadata;
use reel_pipeline::train::{self, TrainRequest, TrainSource};
use serde::Serialize;

use super::{command_line, display_path, ingest::print_outcome};
use crate::cli::{DemoArgs, Format, GlobalArgs};
use crate::progress::Bar;

#[derive(Serialize)]
struct DemoSummary {
    workspace: String,
    ingest: reel_pipeline::ingest::IngestOutcome,
    model: DemoModel,
    metadata: reel_pipeline::ingest::IngestOutcome,
    html_report: String,
    try_next: Vec<String>,
}

#[derive(Serialize)]
struct DemoModel {
    name: String,
    version: Option<i64>,
    algorithm: String,
    rmse: Option<f64>,
    mae: Option<f64>,
    fit_seconds: f64,
    promotion: String,
    predictions: Vec<DemoPrediction>,
}

#[derive(Serialize)]
struct DemoPrediction {
    user_id: i64,
    movie_id: i64,
    title: String,
    predicted: f32,
    real: f32,
    error: f32,
}

pub async fn run(g: &GlobalArgs, args: DemoArgs) -> Result<ExitCode> {
    let ws = open_or_init(&args.dir)?;
    let data = ws.dir.join("datasets/movielens-100k");
    crate::embedded::write_ml100k(&data)?;
    let env = Env::open(ws).await.context("opening the demo workspace")?;
    let shown = display_path(&env.workspace.dir);
    if g.format == Format::Table {
        println!("reelhouse demo: workspace {shown}\n");
        println!("Step 1/3  ingest the bundled MovieLens 100K ({})", display_path(&data));
    }
    let req = IngestRequest::new(data, &command_line());
    let bar = Bar::new(g.no_progress);
    let outcome = ingest_movielens(&env, &req, &bar).await.context("ingesting MovieLens 100K")?;
    if g.format == Format::Table {
        print_outcome(Format::Table, &outcome)?;
        println!("\nStep 2/3  train SVD (50 factors, 20 epochs) on a random 80/20 split, register and promote it");
    }
    let model = train_demo_model(&env, &bar).await.context("training the demo model")?;
    if g.format == Format::Table {
        print_model(&model);
    }
    let metadata_file = crate::embedded::write_movies_metadata(&env.workspace.dir.join("datasets/movies-metadata"))?;
    if g.format == Format::Table {
        println!("\nStep 3/3  ingest the bundled movie metadata ({}) and build the HTML report", display_path(&metadata_file));
    }
    let req = IngestRequest::new(metadata_file, &command_line());
    let metadata = ingest_movies_metadata(&env, &req, &bar).await.context("ingesting the bundled movies_metadata.csv")?;
    if g.format == Format::Table {
        print_outcome(Format::Table, &metadata)?;
    }
    let started = std::time::Instant::now();
    let session = reel_sql::SqlSession::try_new_for(&env.lake, &reel_report::tables_of(&reel_report::ALL))
        .await
        .context("opening the lake for SQL")?;
    let (runs, skipped) = reel_report::run_all(&session, &|_| {}).await.context("running the report pack")?;
    let html_dir = env.workspace.dir.join("report");
    let page = super::report::write_page(&env, &html_dir, &runs, &skipped, started).await?;
    if g.format == Format::Table {
        println!("  {} reports with charts in {} ({:.2} s)", runs.len(), display_path(&page), started.elapsed().as_secs_f64());
    }
    // Show a command that can be pasted: `reelhouse` when it is on PATH, else this binary's
    // path (users of `cargo run` have it in target/release only).
    let exe = invocation_name();
    let ws_flag = format!("--workspace {shown}");
    let try_next = vec![
        format!("{exe} {ws_flag} sql \"SELECT rating, count(*) AS n FROM clean.ratings GROUP BY rating ORDER BY rating\""),
        format!("{exe} {ws_flag} sql \"SELECT m.title, count(*) AS n, round(avg(r.rating), 2) AS mean FROM clean.ratings r JOIN clean.movies m USING (movie_id) GROUP BY m.title HAVING count(*) >= 100 ORDER BY mean DESC LIMIT 10\""),
        format!("{exe} {ws_flag} sql \"SELECT genre, count(*) AS films FROM clean.movie_genres GROUP BY genre ORDER BY films DESC\""),
        format!("{exe} {ws_flag} catalog lineage clean.ratings"),
        format!("{exe} {ws_flag} recommend --user 196 -k 10"),
        format!("{exe} {ws_flag} compare --algos popularity,baseline,svd,item-knn,ials"),
        format!("{exe} {ws_flag} models show recommender"),
        format!("{exe} {ws_flag} validate clean.ratings"),
        format!("{exe} {ws_flag} run retrain_weekly      # train, evaluate, promote behind the gate"),
        format!("{exe} {ws_flag} runs list"),
        format!("{exe} {ws_flag} serve      # then: curl -s localhost:8080/recommend/196?k=5 (API at localhost:8080/docs)"),
        format!("{exe} {ws_flag} report list"),
        format!("{exe} {ws_flag} report company-year --param company=warner --chart company.svg"),
        format!("{exe} {ws_flag} report top-rated --param bayesian=true --param min_votes=100"),
        format!("{exe} {ws_flag} sql \"SELECT reason, count(*) FROM quarantine.tmdb_movies GROUP BY reason\""),
        format!("{exe} {ws_flag} sql          # the interactive shell"),
    ];
    if g.format == Format::Table {
        println!("\nWhere to look:");
        println!("  HTML report          {}", display_path(&page));
        println!("  lake (Delta tables)  {}", display_path(std::path::Path::new(&env.workspace.lake_root())));
        println!("  catalog              {}", env.workspace.catalog_url());
        println!("\nTry:");
        for t in &try_next {
            println!("  {t}");
        }
    } else {
        let summary = DemoSummary {
            workspace: env.workspace.dir.display().to_string(),
            ingest: outcome,
            model,
            metadata,
            html_report: page.display().to_string(),
            try_next,
        };
        println!("{}", serde_json::to_string_pretty(&summary)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// The demo workspace in `dir`: opened, or created with the defaults, and the shipped
/// pipelines, expectations and models written into it (the demos run them).
pub(super) fn open_or_init(dir: &std::path::Path) -> Result<Workspace> {
    let dir = std::path::absolute(dir).with_context(|| format!("resolving {}", dir.display()))?;
    let ws = match Workspace::open(&dir) {
        Ok(ws) => ws,
        Err(reel_common::Error::NoWorkspace { .. }) => Workspace::init(&dir, WorkspaceConfig::default())?,
        Err(e) => return Err(e.into()),
    };
    crate::shipped::write_into(&ws.dir)?;
    Ok(ws)
}

/// `reelhouse` if that name on PATH is this binary, else the path of this binary.
fn invocation_name() -> String {
    let Ok(me) = std::env::current_exe().and_then(|p| p.canonicalize()) else {
        return "reelhouse".into();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("reelhouse"))
            .any(|p| p.canonicalize().is_ok_and(|p| p == me))
    });
    if on_path { "reelhouse".into() } else { display_path(&me) }
}

/// SVD(50, 20) on random:0.8 with seed 42, the settings of the original project (seed 000),
/// registered as `recommender` and promoted through the gate.
async fn train_demo_model(env: &Env, bar: &Bar) -> Result<DemoModel> {
    let params = Params::with_settings(
        "svd".parse::<Algorithm>()?,
        &[("factors".into(), "50".into()), ("epochs".into(), "20".into()), ("seed".into(), "42".into())],
    )?;
    let req = TrainRequest {
        name: "recommender".into(),
        params,
        source: TrainSource::Table { table: "clean.ratings".into(), version: None, split: "random:0.8".into(), seed: 42 },
        topn: Some(TopN::default()),
        max_eval_users: 0,
        register: true,
        command: command_line(),
    };
    let out = train::train(env, &req, bar).await?;
    let version = out.version.context("the demo model was not registered")?;
    let promotion = train::promote(env, "recommender", version, "champion", false, bar).await?;
    let movies = read_movies(&env.lake).await?;
    let mut predictions = Vec::new();
    if let Some(m) = &out.model {
        // Six rows spread over the test set (it is ordered by user).
        let n = out.test.len();
        for k in (0..6).map(|j| j * n / 6).filter(|&k| k < n) {
            let (u, i, real) = (out.test.user[k], out.test.item[k], out.test.rating[k]);
            let p = predict(m.as_ref(), u, i).value;
            predictions.push(DemoPrediction {
                user_id: u,
                movie_id: i,
                title: movies.get(&i).map(|m| m.title.clone()).unwrap_or_default(),
                predicted: p,
                real,
                error: (p - real).abs(),
            });
        }
    }
    Ok(DemoModel {
        name: out.name,
        version: out.version,
        algorithm: out.algorithm,
        rmse: out.metrics.rmse,
        mae: out.metrics.mae,
        fit_seconds: out.fit_seconds,
        promotion: promotion.reason,
        predictions,
    })
}

fn print_model(m: &DemoModel) {
    let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.4}"));
    println!(
        "  {}@{} ({}): RMSE {}  MAE {}  fit {:.3} s",
        m.name,
        m.version.unwrap_or(0),
        m.algorithm,
        f(m.rmse),
        f(m.mae),
        m.fit_seconds
    );
    println!("  {}", m.promotion);
    println!("\n  {:>7} {:>8}  {:<40} {:>10} {:>5} {:>6}", "user_id", "movie_id", "title", "prediction", "real", "error");
    for p in &m.predictions {
        let title: String = p.title.chars().take(40).collect();
        println!("  {:>7} {:>8}  {:<40} {:>10.1} {:>5.1} {:>6.1}", p.user_id, p.movie_id, title, p.predicted, p.real, p.error);
    }
}
