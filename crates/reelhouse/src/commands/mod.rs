//! One module per subcommand. Each returns the process exit code.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use reel_common::Workspace;
use reel_pipeline::Env;

use crate::cli::{Cli, Command, GlobalArgs};

mod catalog;
mod classify;
mod demo;
mod generate;
mod ingest;
mod init;
mod ml;
pub(crate) mod pg;
pub mod pipelines;
pub mod quality;
mod rental_demo;
mod serve;
mod report;
mod sql;

pub async fn run(cli: Cli) -> Result<ExitCode> {
    let g = cli.global;
    match cli.command {
        Command::Init(args) => init::run(&g, args),
        Command::Ingest(cmd) => ingest::run(&g, cmd).await,
        Command::Catalog(cmd) => catalog::run(&g, cmd).await,
        Command::Sql(args) => sql::run(&g, args).await,
        Command::Generate(cmd) => generate::run(&g, cmd).await,
        Command::Report(args) => report::run(&g, args).await,
        Command::Demo(args) if args.rental => rental_demo::run(&g, args).await,
        Command::Demo(args) => demo::run(&g, args).await,
        Command::Train(crate::cli::TrainCommand::Classifier(a)) => classify::train_classifier_cmd(&g, a).await,
        Command::Train(crate::cli::TrainCommand::Sentiment(a)) => classify::train_sentiment_cmd(&g, a).await,
        Command::Train(cmd) => ml::train_cmd(&g, cmd).await,
        Command::Predict(cmd) => classify::predict_cmd(&g, cmd).await,
        Command::Segment(a) => classify::segment_cmd(&g, a).await,
        Command::Features(cmd) => classify::features_cmd(&g, cmd).await,
        Command::Evaluate(args) => ml::evaluate_cmd(&g, args).await,
        Command::Compare(args) => ml::compare_cmd(&g, args).await,
        Command::Recommend(args) => ml::recommend_cmd(&g, args).await,
        Command::Tune(args) => ml::tune_cmd(&g, args).await,
        Command::Similar(args) => ml::similar_cmd(&g, args).await,
        Command::Models(cmd) => ml::models_cmd(&g, cmd).await,
        Command::Validate(args) => quality::run(&g, args).await,
        Command::Run(args) => pipelines::run_cmd(&g, args).await,
        Command::Runs(cmd) => pipelines::runs_cmd(&g, cmd).await,
        Command::Scheduler(args) => pipelines::scheduler_cmd(&g, args).await,
        Command::Pipeline(cmd) => pipelines::pipeline_cmd(&g, cmd).await,
        Command::Serve(args) => serve::run(&g, args).await,
    }
}

/// The workspace named by --workspace / $REELHOUSE_WORKSPACE, or found from the current folder.
pub fn find_workspace(g: &GlobalArgs) -> Result<Workspace> {
    let start = match &g.workspace {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("reading the current folder")?,
    };
    Ok(Workspace::discover(&start)?)
}

/// Opens the workspace's lake and catalog.
pub async fn open_env(g: &GlobalArgs) -> Result<Env> {
    let ws = find_workspace(g)?;
    let dir = ws.dir.clone();
    Env::open(ws)
        .await
        .with_context(|| format!("opening the workspace at {}", dir.display()))
}

/// The command line as typed, for lineage, with the password of any URL in it masked
/// (`postgres://u:***@h/db`): lineage and commit info are readable by everyone.
pub fn command_line() -> String {
    let args: Vec<String> = std::env::args().collect();
    let mut parts = vec!["reelhouse".to_string()];
    parts.extend(args.into_iter().skip(1).map(|a| {
        let a = if a.contains("://") { reel_postgres::mask_url(&a) } else { a };
        if a.contains(char::is_whitespace) { format!("{a:?}") } else { a }
    }));
    parts.join(" ")
}

pub fn display_path(p: &std::path::Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    match p.strip_prefix(&cwd) {
        Ok(rel) if !rel.as_os_str().is_empty() => format!("./{}", rel.display()),
        _ => p.display().to_string(),
    }
}
