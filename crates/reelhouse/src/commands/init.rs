//! `reelhouse init`
use std::process::ExitCode;

use anyhow::{Context, Result};
use reel_common::{CatalogConfig, LakeConfig, S3Config, Workspace, WorkspaceConfig};
use serde::Serialize;

use crate::cli::{Format, GlobalArgs, InitArgs};
use crate::render::{print, Rows};

#[derive(Serialize)]
struct Initialised {
    workspace: String,
    config: String,
    lake: String,
    catalog: String,
}

pub fn run(g: &GlobalArgs, args: InitArgs) -> Result<ExitCode> {
    let dir = match args.dir.or_else(|| g.workspace.clone()) {
        Some(d) => d,
        None => std::env::current_dir().context("reading the current folder")?,
    };
    let s3 = if args.s3_endpoint.is_some() || args.s3_region.is_some() || args.s3_allow_http {
        Some(S3Config {
            endpoint: args.s3_endpoint,
            region: args.s3_region,
            allow_http: args.s3_allow_http,
        })
    } else {
        None
    };
    let config = WorkspaceConfig {
        lake: LakeConfig { root: args.lake, s3 },
        catalog: CatalogConfig { url: args.catalog },
        serve: None,
    };
    let ws = Workspace::init(&dir, config)?;
    let shipped = crate::shipped::write_into(&ws.dir)?;
    let out = Initialised {
        workspace: ws.dir.display().to_string(),
        config: ws.dir.join(reel_common::CONFIG_FILE).display().to_string(),
        lake: ws.lake_root(),
        catalog: ws.config.catalog.url.clone(),
    };
    if g.format == Format::Table {
        println!("Created workspace {}", out.workspace);
        println!("  config   {}", out.config);
        println!("  lake     {}", out.lake);
        println!("  catalog  {}", out.catalog);
        for f in &shipped {
            println!("  shipped  {f}");
        }
        println!("\nNext: reelhouse --workspace {} ingest movielens PATH", out.workspace);
        println!("      reelhouse --workspace {} run movielens_daily --dry-run   # the shipped daily pipeline", out.workspace);
    } else {
        let mut rows = Rows::new(vec!["workspace", "config", "lake", "catalog"]);
        rows.push(vec![out.workspace.clone(), out.config.clone(), out.lake.clone(), out.catalog.clone()]);
        print(g.format, &rows, &out)?;
    }
    Ok(ExitCode::SUCCESS)
}
