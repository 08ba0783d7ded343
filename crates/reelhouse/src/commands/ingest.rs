//! `reelhouse ingest`
use std::process::ExitCode;

use anyhow::{Context, Result};
use reel_common::Ds;
use reel_pipeline::ingest::{ingest_movielens, IngestOutcome, IngestRequest};
use reel_pipeline::tmdb::ingest_movies_metadata;

use super::{command_line, display_path, open_env};
use crate::cli::{Format, GlobalArgs, IngestCommand};
use crate::progress::Bar;
use crate::render::{print, Rows};

pub async fn run(g: &GlobalArgs, cmd: IngestCommand) -> Result<ExitCode> {
    let (args, metadata) = match cmd {
        IngestCommand::Movielens(a) => (a, false),
        IngestCommand::MoviesMetadata(a) => (a, true),
    };
    let ds = match &args.ds {
        Some(d) => d.parse::<Ds>()?,
        None => Ds::today(),
    };
    let env = open_env(g).await?;
    let path = std::path::absolute(&args.path).unwrap_or(args.path.clone());
    let req = IngestRequest::new(path.clone(), &command_line()).with_ds(ds);
    let bar = Bar::new(g.no_progress);
    let outcome = if metadata {
        ingest_movies_metadata(&env, &req, &bar).await
    } else {
        ingest_movielens(&env, &req, &bar).await
    }
    .with_context(|| format!("ingesting {}", display_path(&path)))?;
    print_outcome(g.format, &outcome)?;
    Ok(ExitCode::SUCCESS)
}

pub fn print_outcome(format: Format, o: &IngestOutcome) -> Result<()> {
    if format != Format::Table {
        let mut rows = Rows::new(vec!["table", "read", "loaded", "quarantined", "duplicates"]);
        for c in &o.counts {
            rows.push(vec![c.table.clone(), c.read.to_string(), c.loaded.to_string(), c.quarantined.to_string(), c.duplicates.to_string()]);
        }
        return print(format, &rows, o);
    }
    println!(
        "Ingested {} ({}) for ds={} in {:.2} s, run {}",
        display_path(std::path::Path::new(&o.path)),
        o.format,
        o.ds,
        o.seconds,
        o.run_id
    );
    let mut rows = Rows::new(vec!["table", "read", "loaded", "quarantined", "duplicates"]);
    for c in &o.counts {
        rows.push(vec![c.table.clone(), c.read.to_string(), c.loaded.to_string(), c.quarantined.to_string(), c.duplicates.to_string()]);
    }
    print(Format::Table, &rows, o)?;
    let mut rows = Rows::new(vec!["lake table", "version", "rows written", "rows in table"]);
    for t in &o.tables {
        rows.push(vec![t.table.clone(), t.version.to_string(), t.rows_written.to_string(), t.rows_in_table.to_string()]);
    }
    print(Format::Table, &rows, o)?;
    if let Some(fixes) = o.fixes.as_ref().and_then(|f| f.as_object()) {
        let parts: Vec<String> = fixes.iter().map(|(k, v)| format!("{} {}", v, k.replace('_', " "))).collect();
        println!("Cleaning rules applied to loaded rows: {}", parts.join(", "));
    }
    let quarantined: u64 = o.counts.iter().map(|c| c.quarantined).sum();
    if quarantined > 0 {
        let table = o.counts.iter().find(|c| c.quarantined > 0).map(|c| c.table.as_str()).unwrap_or("ratings");
        println!(
            "{quarantined} bad records are in quarantine with the reason: reelhouse sql \"SELECT line, reason FROM quarantine.{table} LIMIT 20\""
        );
    }
    Ok(())
}
