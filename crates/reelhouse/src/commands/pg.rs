//! `reelhouse ingest postgres`, `reelhouse ingest reviews` and `reelhouse generate rental`:
//! the rental company's OLTP database and its vendor's review files.
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use reel_common::{Ds, TableRef};
use reel_pipeline::Progress;
use reel_pipeline::postgres::{PgIngestOutcome, PgIngestRequest, ingest_postgres};
use reel_pipeline::reviews::{ReviewsOutcome, ReviewsRequest, ingest_reviews};
use reel_postgres::{MappingOptions, Source};
use serde::Serialize;

use super::{command_line, display_path, open_env};
use crate::cli::{Format, GlobalArgs};
use crate::progress::Bar;
use crate::render::{Rows, print};

/// The review corpus the demo and `generate rental` use by default: 2,000 real reviews.
pub(crate) const REVIEWS_SAMPLE: &[u8] = include_bytes!("../../../../datasets/reviews/reviews_sample.csv");

#[derive(Debug, Args)]
pub struct IngestPostgresArgs {
    /// PostgreSQL URL: postgres://user:password@host:5432/database
    ///
    /// Also read from $REELHOUSE_POSTGRES_URL, which keeps the password out of the shell
    /// history. The password never reaches the catalog or the logs.
    #[arg(long, env = "REELHOUSE_POSTGRES_URL", value_name = "URL", hide_env_values = true)]
    pub url: String,

    /// Table or view to extract: name or schema.name
    #[arg(long, value_name = "TABLE", conflicts_with = "query", required_unless_present = "query")]
    pub table: Option<String>,

    /// A SELECT to extract instead of a table (needs --into)
    ///
    /// Any query without parameters; its columns are mapped like a table's (a numeric
    /// expression has no declared precision, so it gets --numeric-scale decimals).
    #[arg(long, value_name = "SQL")]
    pub query: Option<String>,

    /// Load incrementally: only rows whose COLUMN is above the last load's maximum
    ///
    /// An integer, numeric, date or timestamp column, such as last_update or payment_date.
    /// The maximum loaded is kept in the catalog and moves only when the lake commit
    /// succeeds. Rows whose COLUMN is NULL are loaded by the first (or a --full-refresh)
    /// load only.
    #[arg(long, value_name = "COLUMN")]
    pub watermark: Option<String>,

    /// Lake table to write, zone.name [default: raw.TABLE]
    #[arg(long, value_name = "TABLE")]
    pub into: Option<String>,

    /// Run day (YYYY-MM-DD): the partition of a raw table [default: today]
    #[arg(long, value_name = "DAY")]
    pub ds: Option<String>,

    /// Replace the whole lake table and restart the watermark
    #[arg(long)]
    pub full_refresh: bool,

    /// Attempts after the first when the connection breaks
    ///
    /// A retry restarts the extract on a new connection; the failed attempt committed
    /// nothing, so no row is ever loaded twice.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub retries: u32,

    /// Wait before the first retry in milliseconds (doubled each time)
    #[arg(long, default_value_t = 500, value_name = "MS")]
    pub retry_delay_ms: u64,

    /// Rows per Arrow batch (memory depends on this, not on the table's size)
    #[arg(long, default_value_t = 65_536, value_name = "N")]
    pub batch_rows: usize,

    /// Decimals kept for numeric columns declared without a precision (0-38)
    #[arg(long, default_value_t = reel_postgres::DEFAULT_NUMERIC_SCALE, value_name = "S")]
    pub numeric_scale: i8,
}

#[derive(Debug, Args)]
pub struct IngestReviewsArgs {
    /// Vendor review files (CSV or JSONL), one per day
    #[arg(value_name = "FILE", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,

    /// Run day of the file [default: the YYYY-MM-DD in its name, else today]
    #[arg(long, value_name = "DAY")]
    pub ds: Option<String>,
}

#[derive(Debug, Args)]
pub struct GenerateRentalArgs {
    /// PostgreSQL database to create the rental tables in
    #[arg(long, env = "REELHOUSE_POSTGRES_URL", value_name = "URL", hide_env_values = true)]
    pub postgres: Option<String>,

    /// Number of customers
    #[arg(long, value_name = "N")]
    pub customers: u32,

    /// Days of activity
    #[arg(long, value_name = "D")]
    pub days: u32,

    /// Random seed: the same seed and sizes give the same rows
    #[arg(long, default_value_t = reel_gen::rental::DEFAULT_SEED, value_name = "S")]
    pub seed: u64,

    /// First day of activity (YYYY-MM-DD)
    #[arg(long, default_value = "2025-01-01", value_name = "DAY")]
    pub start: String,

    /// Number of films [default: 1000 at 600 customers, scaled by the square root]
    #[arg(long, value_name = "N")]
    pub films: Option<u32>,

    /// Mean rentals per active customer per day
    #[arg(long, default_value_t = reel_gen::rental::DEFAULT_RENTALS_PER_DAY, value_name = "X")]
    pub rentals_per_day: f64,

    /// Folder for the vendor's daily review files (reviews_YYYY-MM-DD.csv)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Review corpus CSV (text and rating columns) [default: the bundled 2,000]
    #[arg(long, value_name = "FILE")]
    pub reviews_corpus: Option<PathBuf>,

    /// Share of rentals the vendor reviews (0-1)
    #[arg(long, default_value_t = reel_gen::rental::DEFAULT_REVIEW_RATE, value_name = "R")]
    pub review_rate: f64,

    /// Share of review lines made defective on purpose (0-1)
    #[arg(long, default_value_t = 0.01, value_name = "R")]
    pub review_defects: f64,

    /// PostgreSQL schema for the tables
    #[arg(long, default_value = "public", value_name = "NAME")]
    pub pg_schema: String,

    /// Drop the rental tables first if they exist
    #[arg(long)]
    pub replace: bool,
}

fn parse_ds(s: &str) -> Result<Ds> {
    s.parse::<Ds>().with_context(|| format!("--ds {s:?}: write the day as YYYY-MM-DD"))
}

pub async fn ingest_postgres_cmd(g: &GlobalArgs, a: IngestPostgresArgs) -> Result<ExitCode> {
    let source = match (&a.table, &a.query) {
        (Some(t), None) => Source::Table(t.clone()),
        (None, Some(q)) => Source::Query(q.clone()),
        _ => bail!("pass --table TABLE or --query SQL (one of them)"),
    };
    let into: TableRef = match (&a.into, &source) {
        (Some(t), _) => t.parse().with_context(|| format!("--into {t:?}: name a lake table as zone.name, e.g. raw.payment"))?,
        (None, Source::Table(t)) => PgIngestRequest::default_into(t)?,
        (None, Source::Query(_)) => bail!("--query needs --into zone.name (e.g. --into raw.user_purchase)"),
    };
    if !(1..=10_000_000).contains(&a.batch_rows) {
        bail!("--batch-rows {} is out of range: pass 1 to 10000000 (65536 is a good size)", a.batch_rows);
    }
    if !(0..=38).contains(&a.numeric_scale) {
        bail!("--numeric-scale {} is out of range: pass 0 to 38", a.numeric_scale);
    }
    if a.retries > 100 {
        bail!("--retries {} is too many: pass 100 or fewer", a.retries);
    }
    let ds = match &a.ds {
        Some(d) => parse_ds(d)?,
        None => Ds::today(),
    };
    let env = open_env(g).await?;
    let mut req = PgIngestRequest::new(&a.url, source, into, &command_line());
    req.watermark = a.watermark.clone();
    req.ds = ds;
    req.batch_rows = a.batch_rows;
    req.retries = a.retries;
    req.retry_delay = Duration::from_millis(a.retry_delay_ms);
    req.mapping = MappingOptions { numeric_scale: a.numeric_scale };
    req.full_refresh = a.full_refresh;
    let bar = Bar::new(g.no_progress);
    let what = req.source.describe();
    let o = ingest_postgres(&env, &req, &bar)
        .await
        .with_context(|| format!("extracting {what} from {}", reel_postgres::mask_url(&a.url)))?;
    print_pg(g.format, &o)?;
    Ok(ExitCode::SUCCESS)
}

fn print_pg(format: Format, o: &PgIngestOutcome) -> Result<()> {
    let mut rows = Rows::new(vec!["table", "version", "mode", "rows", "quarantined", "watermark", "low", "high", "attempts", "seconds"]);
    rows.push(vec![
        o.table.clone(),
        o.version.to_string(),
        o.mode.clone(),
        o.rows.to_string(),
        o.quarantined.to_string(),
        o.watermark_column.clone().unwrap_or_default(),
        o.low.clone().unwrap_or_default(),
        o.high.clone().unwrap_or_default(),
        o.attempts.to_string(),
        format!("{:.3}", o.seconds),
    ]);
    if format != Format::Table {
        return print(format, &rows, o);
    }
    let rate = if o.seconds > 0.0 { o.rows as f64 / o.seconds } else { 0.0 };
    println!(
        "Extracted {} rows of {} into {} ({}, version {}) in {:.2} s ({:.0} rows/s), run {}",
        o.rows, o.source, o.table, o.mode, o.version, o.seconds, rate, o.run_id
    );
    if let Some(c) = &o.watermark_column {
        match (&o.low, &o.high) {
            (_, Some(h)) => println!("Watermark {c}: {} -> {h}", o.low.as_deref().unwrap_or("(first load)")),
            (Some(l), None) => println!("Watermark {c}: no rows above {l}; it stays"),
            (None, None) => println!("Watermark {c}: the source is empty"),
        }
    }
    if o.attempts > 1 {
        println!("{} attempts: the connection broke {} time(s), nothing was loaded twice", o.attempts, o.attempts - 1);
    }
    if o.rounded > 0 {
        println!("{} numeric values had more decimals than --numeric-scale and were rounded", o.rounded);
    }
    if let Some(q) = &o.quarantine_table {
        println!("{} rows could not be stored and are in {q}: reelhouse sql \"SELECT line, reason, raw FROM {q} LIMIT 20\"", o.quarantined);
    }
    let mut cols = Rows::new(vec!["column", "postgres type", "arrow type", "nullable"]);
    for c in &o.columns {
        cols.push(vec![c.name.clone(), c.pg_type.clone(), c.arrow_type.clone(), c.nullable.to_string()]);
    }
    print(Format::Table, &cols, o)
}

/// The run day in a file name: the first `YYYY-MM-DD` in it.
fn ds_in_name(path: &std::path::Path) -> Option<Ds> {
    let name = path.file_name()?.to_str()?;
    let b = name.as_bytes();
    (0..b.len().saturating_sub(9)).find_map(|i| name.get(i..i + 10).and_then(|s| s.parse::<Ds>().ok()))
}

pub async fn ingest_reviews_cmd(g: &GlobalArgs, a: IngestReviewsArgs) -> Result<ExitCode> {
    if a.ds.is_some() && a.files.len() > 1 {
        bail!("--ds names one run day but {} files were given; load them one at a time, or leave --ds out to take each day from its file name", a.files.len());
    }
    let mut plan = Vec::new();
    for f in &a.files {
        let ds = match &a.ds {
            Some(d) => parse_ds(d)?,
            None => ds_in_name(f).unwrap_or_else(Ds::today),
        };
        let path = std::path::absolute(f).unwrap_or(f.clone());
        if !path.is_file() {
            bail!("{} is not a file; pass a vendor review file (CSV or JSONL)", display_path(&path));
        }
        plan.push((path, ds));
    }
    let env = open_env(g).await?;
    let bar = Bar::new(g.no_progress);
    let mut outcomes = Vec::new();
    for (path, ds) in plan {
        let req = ReviewsRequest { path: path.clone(), ds, command: command_line() };
        let o = ingest_reviews(&env, &req, &bar).await.with_context(|| format!("ingesting {}", display_path(&path)))?;
        outcomes.push(o);
    }
    print_reviews(g.format, &outcomes)?;
    Ok(ExitCode::SUCCESS)
}

fn print_reviews(format: Format, os: &[ReviewsOutcome]) -> Result<()> {
    let mut rows = Rows::new(vec!["file", "ds", "read", "loaded", "quarantined", "duplicates", "already_loaded"]);
    for o in os {
        rows.push(vec![
            display_path(std::path::Path::new(&o.path)),
            o.ds.clone(),
            o.read.to_string(),
            o.loaded.to_string(),
            o.quarantined.to_string(),
            o.duplicates.to_string(),
            o.already_loaded.to_string(),
        ]);
    }
    if format == Format::Json && os.len() == 1 {
        return print(format, &rows, &os[0]);
    }
    print(format, &rows, &os)?;
    if format == Format::Table {
        let q: u64 = os.iter().map(|o| o.quarantined).sum();
        if q > 0 {
            println!("{q} lines are in quarantine with the reason: reelhouse sql \"SELECT ds, line, reason FROM quarantine.reviews ORDER BY ds, line\"");
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct Generated {
    postgres: Option<String>,
    schema: String,
    customers: u32,
    days: u32,
    films: u32,
    seed: u64,
    start: String,
    tables: Vec<(String, u64)>,
    review_files: Vec<reel_gen::rental::ReviewFileReport>,
    reviews: u64,
    seconds: f64,
}

pub async fn generate_rental_cmd(g: &GlobalArgs, a: GenerateRentalArgs) -> Result<ExitCode> {
    if a.postgres.is_none() && a.out.is_none() {
        bail!("nothing to generate into: pass --postgres URL (the rental tables) and/or --out DIR (the review files)");
    }
    if !(0.0..=1.0).contains(&a.review_defects) {
        bail!("--review-defects {} is out of range: pass a share from 0 to 1", a.review_defects);
    }
    let start: Ds = a.start.parse().with_context(|| format!("--start {:?}: write the day as YYYY-MM-DD", a.start))?;
    let mut p = reel_gen::rental::RentalGenParams::new(a.customers, a.days)
        .seed(a.seed)
        .start(start.0)
        .rentals_per_day(a.rentals_per_day)
        .review_rate(a.review_rate);
    if let Some(f) = a.films {
        p = p.films(f);
    }
    let params = p.check()?;
    let corpus = match (&a.out, &a.reviews_corpus) {
        (None, _) => None,
        (Some(_), Some(f)) => Some(reel_gen::rental::Corpus::from_csv(f)?),
        (Some(_), None) => Some(
            reel_gen::rental::Corpus::from_csv_bytes(REVIEWS_SAMPLE)
                .map_err(|e| anyhow::anyhow!("the bundled review corpus is broken ({e}); this is a bug, please report it"))?,
        ),
    };
    let started = Instant::now();
    let bar = Bar::new(g.no_progress);
    let mut files = Vec::new();
    let out = a.out.clone();
    let (seed, defects) = (a.seed, a.review_defects);
    let mut write_day = |d: &reel_gen::rental::DayActivity| -> reel_gen::Result<()> {
        if let Some(dir) = &out {
            files.push(reel_gen::rental::write_review_file(dir, d.date, &d.reviews, defects, seed)?);
        }
        Ok(())
    };
    let mut tables = Vec::new();
    match &a.postgres {
        Some(url) => {
            let mut conn = reel_postgres::connect(url, "reelhouse generate rental").await?;
            bar.begin("generating", Some(params.expected_rentals() * 2 + u64::from(params.customers())));
            let opts = reel_postgres::LoadOptions { schema: a.pg_schema.clone(), replace: a.replace };
            let report = reel_postgres::load_rental(
                &mut conn,
                &params,
                &opts,
                corpus.as_ref(),
                &mut |d| write_day(d).map_err(reel_postgres::Error::from),
                &|n| bar.advance(n),
            )
            .await
            .with_context(|| format!("loading the rental company into {}", reel_postgres::mask_url(url)))?;
            bar.end();
            tables = report.rows;
        }
        None => {
            bar.begin("generating", Some(u64::from(params.days_count())));
            for d in params.days(corpus.as_ref()) {
                write_day(&d)?;
                bar.advance(1);
            }
            bar.end();
        }
    }
    let reviews = files.iter().map(|f| f.reviews).sum();
    let o = Generated {
        postgres: a.postgres.as_deref().map(reel_postgres::mask_url),
        schema: a.pg_schema.clone(),
        customers: params.customers(),
        days: params.days_count(),
        films: params.films(),
        seed: params.seed(),
        start: params.start().to_string(),
        tables,
        review_files: files,
        reviews,
        seconds: started.elapsed().as_secs_f64(),
    };
    let mut rows = Rows::new(vec!["what", "rows"]);
    for (t, n) in &o.tables {
        rows.push(vec![format!("{}.{t}", o.schema), n.to_string()]);
    }
    for f in &o.review_files {
        rows.push(vec![display_path(&f.path), f.reviews.to_string()]);
    }
    if g.format == Format::Table {
        println!(
            "Generated a rental company of {} customers and {} films over {} days from {} (seed {}) in {:.1} s",
            o.customers, o.films, o.days, o.start, o.seed, o.seconds
        );
    }
    print(g.format, &rows, &o)?;
    if g.format == Format::Table {
        if let Some(url) = &o.postgres {
            println!("Next: reelhouse ingest postgres --url {url} --table payment --watermark payment_date");
        }
        if let Some(dir) = &a.out {
            println!("      reelhouse ingest reviews {}/reviews_*.csv", display_path(dir));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_days_come_from_file_names() {
        assert_eq!(ds_in_name(std::path::Path::new("/x/reviews_2025-01-02.csv")).map(|d| d.to_string()).as_deref(), Some("2025-01-02"));
        assert_eq!(ds_in_name(std::path::Path::new("2025-01-03.jsonl")).map(|d| d.to_string()).as_deref(), Some("2025-01-03"));
        assert!(ds_in_name(std::path::Path::new("reviews.csv")).is_none());
        assert!(ds_in_name(std::path::Path::new("r_2025-13-01.csv")).is_none());
    }

    #[test]
    fn the_bundled_corpus_reads() {
        let c = reel_gen::rental::Corpus::from_csv_bytes(REVIEWS_SAMPLE).unwrap();
        assert_eq!(c.entries().len(), 2000);
    }
}
