//! `reelhouse demo`: the whole flow on the bundled MovieLens 100K.
use std::process::ExitCode;

use anyhow::{Context, Result};
use reel_common::{Workspace, WorkspaceConfig};
use reel_pipeline::ingest::{ingest_movielens, IngestRequest};
use reel_pipeline::Env;
use serde::Serialize;

use super::{command_line, display_path, ingest::print_outcome};
use crate::cli::{DemoArgs, Format, GlobalArgs};
use crate::progress::Bar;

#[derive(Serialize)]
struct DemoSummary {
    workspace: String,
    ingest: reel_pipeline::ingest::IngestOutcome,
    try_next: Vec<String>,
}

pub async fn run(g: &GlobalArgs, args: DemoArgs) -> Result<ExitCode> {
    let dir = std::path::absolute(&args.dir).with_context(|| format!("resolving {}", args.dir.display()))?;
    let ws = match Workspace::open(&dir) {
        Ok(ws) => ws,
        Err(reel_common::Error::NoWorkspace { .. }) => Workspace::init(&dir, WorkspaceConfig::default())?,
        Err(e) => return Err(e.into()),
    };
    let data = ws.dir.join("datasets/movielens-100k");
    crate::embedded::write_ml100k(&data)?;
    let env = Env::open(ws).await.context("opening the demo workspace")?;
    let shown = display_path(&env.workspace.dir);
    if g.format == Format::Table {
        println!("reelhouse demo: workspace {shown}\n");
        println!("Step 1/1  ingest the bundled MovieLens 100K ({})", display_path(&data));
    }
    let req = IngestRequest::new(data, &command_line());
    let bar = Bar::new(g.no_progress);
    let outcome = ingest_movielens(&env, &req, &bar).await.context("ingesting MovieLens 100K")?;
    // Show a command that can be pasted: `reelhouse` when it is on PATH, else this binary's
    // path (users of `cargo run` have it in target/release only).
    let exe = invocation_name();
    let ws_flag = format!("--workspace {shown}");
    let try_next = vec![
        format!("{exe} {ws_flag} sql \"SELECT rating, count(*) AS n FROM clean.ratings GROUP BY rating ORDER BY rating\""),
        format!("{exe} {ws_flag} sql \"SELECT m.title, count(*) AS n, round(avg(r.rating), 2) AS mean FROM clean.ratings r JOIN clean.movies m USING (movie_id) GROUP BY m.title HAVING count(*) >= 100 ORDER BY mean DESC LIMIT 10\""),
        format!("{exe} {ws_flag} sql \"SELECT genre, count(*) AS films FROM clean.movie_genres GROUP BY genre ORDER BY films DESC\""),
        format!("{exe} {ws_flag} catalog lineage clean.ratings"),
        format!("{exe} {ws_flag} sql          # the interactive shell"),
    ];
    if g.format == Format::Table {
        print_outcome(Format::Table, &outcome)?;
        println!("\nWhere to look:");
        println!("  lake (Delta tables)  {}", display_path(std::path::Path::new(&env.workspace.lake_root())));
        println!("  catalog              {}", env.workspace.catalog_url());
        println!("\nTry:");
        for t in &try_next {
            println!("  {t}");
        }
    } else {
        let summary = DemoSummary { workspace: env.workspace.dir.display().to_string(), ingest: outcome, try_next };
        println!("{}", serde_json::to_string_pretty(&summary)?);
    }
    Ok(ExitCode::SUCCESS)
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
