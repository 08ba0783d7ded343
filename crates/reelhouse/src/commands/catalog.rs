//! `reelhouse catalog`
use std::process::ExitCode;

use anyhow::Result;
use reel_common::TableRef;
use serde::Serialize;

use super::open_env;
use crate::cli::{CatalogCommand, Format, GlobalArgs};
use crate::render::{print, Rows};

pub async fn run(g: &GlobalArgs, cmd: CatalogCommand) -> Result<ExitCode> {
    let env = open_env(g).await?;
    match cmd {
        CatalogCommand::List => {
            let tables = env.catalog.list_tables().await?;
            let mut rows = Rows::new(vec!["table", "version", "rows", "partitions", "description"]);
            for t in &tables {
                rows.push(vec![
                    t.table.to_string(),
                    t.version.to_string(),
                    t.row_count.to_string(),
                    t.partition_columns.join(","),
                    t.description.clone(),
                ]);
            }
            if tables.is_empty() && g.format == Format::Table {
                println!("The catalog is empty. Load something: reelhouse ingest movielens PATH");
                return Ok(ExitCode::from(1));
            }
            print(g.format, &rows, &tables)?;
            Ok(ExitCode::SUCCESS)
        }
        CatalogCommand::Show(arg) => {
            let t: TableRef = arg.table.parse()?;
            let Some(entry) = env.catalog.table(&t).await? else {
                return not_found(&env, &t).await;
            };
            let versions = env.catalog.versions(&t).await?;
            #[derive(Serialize)]
            struct Show<'a> {
                #[serde(flatten)]
                entry: &'a reel_catalog::TableEntry,
                versions: &'a [reel_catalog::VersionEntry],
            }
            if g.format == Format::Table {
                println!("{}", entry.table);
                println!("  description  {}", entry.description);
                println!("  location     {}", entry.location);
                println!("  version      {}", entry.version);
                println!("  rows         {}", entry.row_count);
                println!("  files        {} ({} bytes)", entry.num_files, entry.size_bytes);
                println!("  partitions   {}", if entry.partition_columns.is_empty() { "none".to_string() } else { entry.partition_columns.join(", ") });
                let tags: Vec<String> = entry.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                println!("  tags         {}", tags.join(" "));
                println!("  updated      {}", entry.updated_at.to_rfc3339());
                let mut cols = Rows::new(vec!["column", "type", "nullable"]);
                for c in &entry.columns {
                    cols.push(vec![c.name.clone(), c.data_type.clone(), c.nullable.to_string()]);
                }
                print(Format::Table, &cols, &())?;
                let mut vs = Rows::new(vec!["version", "operation", "rows", "run", "created"]);
                for v in &versions {
                    vs.push(vec![v.version.to_string(), v.operation.clone(), v.row_count.to_string(), v.run_id.clone(), v.created_at.to_rfc3339()]);
                }
                print(Format::Table, &vs, &())?;
            } else {
                let mut cols = Rows::new(vec!["column", "type", "nullable"]);
                for c in &entry.columns {
                    cols.push(vec![c.name.clone(), c.data_type.clone(), c.nullable.to_string()]);
                }
                print(g.format, &cols, &Show { entry: &entry, versions: &versions })?;
            }
            Ok(ExitCode::SUCCESS)
        }
        CatalogCommand::Lineage(arg) => {
            let t: TableRef = arg.table.parse()?;
            if env.catalog.table(&t).await?.is_none() {
                return not_found(&env, &t).await;
            }
            let lineage = env.catalog.lineage(&t).await?;
            let mut rows = Rows::new(vec!["version", "kind", "source", "size", "sha256", "run", "command", "created"]);
            for l in &lineage {
                let source = match l.source_version {
                    Some(v) => format!("{}@v{v}", l.source),
                    None => l.source.clone(),
                };
                rows.push(vec![
                    l.version.to_string(),
                    l.kind.clone(),
                    source,
                    l.size.map(|s| s.to_string()).unwrap_or_default(),
                    l.sha256.clone().unwrap_or_default(),
                    l.run_id.clone(),
                    l.command.clone(),
                    l.created_at.to_rfc3339(),
                ]);
            }
            print(g.format, &rows, &lineage)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn not_found(env: &reel_pipeline::Env, t: &TableRef) -> Result<ExitCode> {
    let names: Vec<String> = env.catalog.list_tables().await?.iter().map(|e| e.table.to_string()).collect();
    let known = if names.is_empty() { "none yet".to_string() } else { names.join(", ") };
    anyhow::bail!("no table {t} in the catalog; tables: {known}")
}
