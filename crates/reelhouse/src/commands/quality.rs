//! `reelhouse validate TABLE`: run a table's expectations, print the report, store it.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use reel_common::{Ds, TableRef};
use reel_quality::{Status, Suite, ValidateOptions, validate};

use super::open_env;
use crate::cli::{Format, GlobalArgs};
use crate::render::{Rows, print};

/// `reelhouse validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The table, as zone.name (e.g. clean.ratings)
    #[arg(value_name = "TABLE")]
    pub table: String,

    /// Expectations file [default: expectations/TABLE.toml in the workspace]
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Run day for the file's `where` and for freshness (end of that day)
    ///
    /// Without it, freshness is measured from now and a `where` that uses {{ ds }}
    /// cannot be rendered.
    #[arg(long, value_name = "DAY")]
    pub ds: Option<String>,

    /// Failing rows to show per failing check
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub examples: usize,

    /// Do not store the result in the catalog
    #[arg(long)]
    pub no_store: bool,
}

pub async fn run(g: &GlobalArgs, a: ValidateArgs) -> Result<ExitCode> {
    let table: TableRef = a.table.parse()?;
    let env = open_env(g).await?;
    let path = match &a.file {
        Some(f) => f.clone(),
        None => Suite::default_path(&env.workspace.dir, &table),
    };
    if !path.is_file() {
        anyhow::bail!(
            "no expectations for {table}: {} does not exist; write one (see docs/quality.md), e.g.\n\n  [[expect]]\n  check = \"not_null\"\n  column = \"user_id\"\n\nor pass --file FILE",
            super::display_path(&path)
        );
    }
    let mut suite = Suite::from_file(&path)?;
    if suite.table != table {
        anyhow::bail!("{} validates {}, not {table}; pass the right --file", path.display(), suite.table);
    }
    suite.path = PathBuf::from(super::display_path(&path));
    let mut opts = match &a.ds {
        Some(d) => ValidateOptions::for_day(d.parse::<Ds>()?),
        None => ValidateOptions::default(),
    };
    opts.examples = a.examples;
    let session = reel_sql::SqlSession::try_new(&env.lake, None).await.context("opening the lake for SQL")?;
    let report = validate(&session, &suite, &opts).await?;
    if !a.no_store {
        report.store(&env.catalog, None).await.context("storing the validation in the catalog")?;
    }
    match g.format {
        Format::Json => print(Format::Json, &Rows::new(vec![]), &report)?,
        Format::Csv => {
            let mut rows = Rows::new(vec!["ordinal", "expectation", "kind", "severity", "passed", "failing", "considered", "observed", "line"]);
            for r in &report.results {
                rows.push(vec![
                    (r.ordinal + 1).to_string(),
                    r.name.clone(),
                    r.kind.clone(),
                    r.severity.as_str().into(),
                    r.passed.to_string(),
                    r.failing.map(|f| f.to_string()).unwrap_or_default(),
                    r.considered.map(|f| f.to_string()).unwrap_or_default(),
                    r.summary.clone(),
                    r.line.to_string(),
                ]);
            }
            print(Format::Csv, &rows, &())?;
        }
        _ => {
            print!("{}", report.to_text());
            if !a.no_store {
                println!("\nStored in the catalog as validation {}.", report.validation_id);
            }
        }
    }
    Ok(if report.status == Status::Failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
