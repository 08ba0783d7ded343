//! `reelhouse sql`
use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use reel_sql::{write_parquet_file, write_result, OutputFormat, SqlSession};

use super::open_env;
use crate::cli::{Format, GlobalArgs, SqlArgs};

fn output_format(f: Format) -> OutputFormat {
    match f {
        Format::Table => OutputFormat::Table,
        Format::Csv => OutputFormat::Csv,
        Format::Json => OutputFormat::Json,
        Format::Parquet => OutputFormat::Parquet,
    }
}

pub async fn run(g: &GlobalArgs, args: SqlArgs) -> Result<ExitCode> {
    let env = open_env(g).await?;
    let session = SqlSession::try_new(&env.lake, Some(&env.catalog)).await?;
    let format = output_format(g.format);
    let Some(query) = args.query else {
        let session = session.allow_ddl();
        let history = env.workspace.dir.join(".reelhouse_history");
        reel_sql::shell::run_shell(&session, Some(history), format).await?;
        return Ok(ExitCode::SUCCESS);
    };
    let result = session.query(&query).await?;
    match (&args.out, format) {
        (Some(path), OutputFormat::Parquet) => {
            write_parquet_file(&result, path).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {} rows to {}", result.num_rows(), path.display());
        }
        (None, OutputFormat::Parquet) => anyhow::bail!("--format parquet writes a binary file; add --out FILE.parquet"),
        (Some(path), f) => {
            let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
            let mut w = std::io::BufWriter::new(file);
            write_result(&result, f, &mut w)?;
            w.flush().with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {} rows to {}", result.num_rows(), path.display());
        }
        (None, f) => {
            let mut out = std::io::stdout().lock();
            if f == OutputFormat::Table && result.num_rows() > args.max_rows {
                write_result(&result.head(args.max_rows), f, &mut out)?;
                eprintln!(
                    "showing {} of {} rows; use --max-rows N, --format csv or --out FILE for all",
                    args.max_rows,
                    result.num_rows()
                );
            } else {
                write_result(&result, f, &mut out)?;
            }
        }
    }
    Ok(if result.num_rows() == 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
