//! `reelhouse demo --rental`: seed 001 end to end on a PostgreSQL server the user points at.
//!
//! ```text
//!  generate rental ──> PostgreSQL (category, film, ..., payment)   + landing/reviews/reviews_DAY.csv
//!  train sentiment ──> registry "sentiment" (the bundled review corpus, 80/20)
//!  run rental_daily --from D1 --to D3 ──> curated.user_behavior_metric, curated.film_sentiment
//! ```
//!
//! It starts no server of its own: without a URL it says how to get one and exits 2. The
//! steps are the very commands a user would type, run in-process, so the demo shows their
//! real output. Generating replaces the rental tables only where this workspace generated
//! them before (a marker file records the masked URL), or with `--replace`; anything else
//! already in the database is refused with the generator's own error.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use reel_pipeline::Env;
use reel_sql::{OutputFormat, SqlSession, write_result};

use super::{classify, display_path, pg, pipelines};
use crate::cli::{DemoArgs, Format, GlobalArgs, TrainSentimentArgs};

/// The demo company: small enough to generate and run in seconds.
const CUSTOMERS: &str = "300";
const DAYS: [&str; 3] = ["2025-01-01", "2025-01-02", "2025-01-03"];
const SEED: &str = "7";
/// Records which database this workspace generated the rental tables into.
const MARKER: &str = ".rental-demo-postgres";

/// Parses `argv` (without a program name) into the arguments of one subcommand, exactly as
/// the command line would.
fn parse<A: Args>(argv: &[&str]) -> Result<A> {
    let cmd = A::augment_args(clap::Command::new("reelhouse").no_binary_name(true));
    let m = cmd.try_get_matches_from(argv).context("building a demo step's arguments (a bug; please report it)")?;
    Ok(A::from_arg_matches(&m)?)
}

fn step(g: &GlobalArgs, n: usize, what: &str) {
    if g.format == Format::Table {
        println!("\nStep {n}/4  {what}");
    }
}

/// How to get a server, for users without one.
fn no_server_help() -> String {
    "reelhouse demo --rental needs a PostgreSQL server to hold the rental company; it does not start one itself.\n\
     Get one and point the demo at it, for example on Debian or Ubuntu:\n\n  \
     sudo apt-get install postgresql\n  \
     sudo -u postgres createuser --superuser \"$USER\"\n  \
     createdb rental\n  \
     reelhouse demo --rental --postgres postgres://$USER@localhost/rental\n\n\
     (or set REELHOUSE_POSTGRES_URL, which keeps a password out of shell history)."
        .to_string()
}

pub async fn run(g: &GlobalArgs, args: DemoArgs) -> Result<ExitCode> {
    let Some(url) = args.postgres.clone().filter(|u| !u.trim().is_empty()) else {
        eprintln!("{}", no_server_help());
        return Ok(ExitCode::from(2));
    };
    let masked = reel_postgres::mask_url(&url);
    let ws = super::demo::open_or_init(&args.dir)?;
    let shown = display_path(&ws.dir);
    let g = GlobalArgs { workspace: Some(ws.dir.clone()), ..g.clone() };
    if g.format == Format::Table {
        println!("reelhouse demo --rental: workspace {shown}, PostgreSQL {masked}");
    }

    // 1. The company in PostgreSQL and the vendor's review files in the landing folder.
    step(&g, 1, &format!("generate a rental company ({CUSTOMERS} customers, {} days) in PostgreSQL, and its review files", DAYS.len()));
    let landing = ws.dir.join("landing/reviews");
    let marker = ws.dir.join(MARKER);
    let ours = std::fs::read_to_string(&marker).is_ok_and(|m| m.trim() == masked);
    let landing_s = landing.to_string_lossy().into_owned();
    let mut argv = vec!["--postgres", &url, "--customers", CUSTOMERS, "--days", "3", "--start", DAYS[0], "--seed", SEED, "--out", &landing_s];
    if args.replace || ours {
        argv.push("--replace");
    }
    let code = match pg::generate_rental_cmd(&g, parse(&argv)?).await {
        Ok(code) => code,
        // The generator's own advice names `--pg-schema`, which the demo does not take.
        Err(e) => match e.downcast_ref::<reel_postgres::Error>() {
            Some(reel_postgres::Error::TablesExist { schema, tables }) => anyhow::bail!(
                "the database {masked} already has {tables} in schema {schema}, not made by this workspace's demo; \
                 pass --replace to drop and regenerate them, or give --postgres another database"
            ),
            _ => return Err(e.context(format!("generating the rental company in {masked} (the demo needs a database it may create tables in)"))),
        },
    };
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    std::fs::write(&marker, format!("{masked}\n")).with_context(|| format!("writing {}", marker.display()))?;

    // 2. The sentiment model, on the bundled corpus the review texts were drawn from.
    step(&g, 2, "train the sentiment model on the bundled review corpus (80/20 split) and register it");
    let (train, test) = write_corpus_split(&ws.dir.join("datasets/reviews"))?;
    let (train_s, test_s) = (train.to_string_lossy().into_owned(), test.to_string_lossy().into_owned());
    let a: TrainSentimentArgs = parse(&["--train", &train_s, "--test", &test_s])?;
    let code = classify::train_sentiment_cmd(&g, a).await?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }

    // 3. Three days of the pipeline. The URL reaches its tasks as a parameter, which the
    //    catalog stores masked.
    step(&g, 3, &format!("run rental_daily for {} to {}", DAYS[0], DAYS[DAYS.len() - 1]));
    let param = format!("postgres_url={url}");
    let a: pipelines::RunArgs = parse(&["rental_daily", "--from", DAYS[0], "--to", DAYS[DAYS.len() - 1], "--param", &param])?;
    let code = pipelines::run_cmd(&g, a).await?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }

    // 4. What came out.
    step(&g, 4, "the curated tables");
    let env = Env::open(ws).await.context("opening the demo workspace")?;
    let session = SqlSession::try_new(&env.lake, Some(&env.catalog)).await?;
    let shows = [
        (
            "curated.user_behavior_metric, per day",
            "SELECT insert_date, count(*) AS customers, round(sum(amount_spent), 2) AS amount_spent, \
             sum(review_count) AS reviews, sum(review_score) AS positive_reviews \
             FROM curated.user_behavior_metric GROUP BY insert_date ORDER BY insert_date",
        ),
        (
            "curated.film_sentiment: the genres with the most reviews",
            "SELECT genre, sum(reviews) AS reviews, round(sum(positive_share * reviews) / sum(reviews), 3) AS positive_share \
             FROM curated.film_sentiment GROUP BY genre ORDER BY reviews DESC, genre LIMIT 5",
        ),
    ];
    let mut out = std::io::stdout().lock();
    for (title, sql) in shows {
        let result = session.query(sql).await.with_context(|| format!("reading {title}"))?;
        match g.format {
            Format::Table => {
                use std::io::Write as _;
                writeln!(out, "  {title}")?;
                write_result(&result, OutputFormat::Table, &mut out)?;
            }
            Format::Csv => write_result(&result, OutputFormat::Csv, &mut out)?,
            _ => write_result(&result, OutputFormat::Json, &mut out)?,
        }
    }
    drop(out);
    if g.format == Format::Table {
        let exe = "reelhouse";
        let ws_flag = format!("--workspace {shown}");
        println!("\nTry:");
        for t in [
            format!("{exe} {ws_flag} sql \"SELECT * FROM curated.user_behavior_metric ORDER BY amount_spent DESC LIMIT 10\""),
            format!("{exe} {ws_flag} runs list --pipeline rental_daily"),
            format!("{exe} {ws_flag} predict sentiment \"Runs small, but the fabric is lovely\""),
            format!("{exe} {ws_flag} run rental_daily --ds {} --param postgres_url=...   # rerun a day: it is replaced, not doubled", DAYS[1]),
            format!("{exe} {ws_flag} catalog lineage curated.user_behavior_metric"),
        ] {
            println!("  {t}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the bundled review corpus as `train.csv` and `test.csv` in `dir` (every fifth
/// review to test), leaving files alone when unchanged so reruns see the same inputs.
fn write_corpus_split(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut rd = csv::ReaderBuilder::new().from_reader(pg::REVIEWS_SAMPLE);
    let header = rd.headers().context("the bundled review corpus has no header (a bug)")?.clone();
    let (mut train, mut test) = (csv::Writer::from_writer(Vec::new()), csv::Writer::from_writer(Vec::new()));
    train.write_record(&header)?;
    test.write_record(&header)?;
    for (k, rec) in rd.records().enumerate() {
        let rec = rec.context("reading the bundled review corpus (a bug)")?;
        if k % 5 == 4 { test.write_record(&rec)? } else { train.write_record(&rec)? }
    }
    let mut paths = Vec::new();
    for (name, w) in [("train.csv", train), ("test.csv", test)] {
        let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("writing the corpus split: {e}"))?;
        let path = dir.join(name);
        if !std::fs::read(&path).is_ok_and(|b| b == bytes) {
            std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        }
        paths.push(path);
    }
    let test = paths.pop().unwrap_or_default();
    let train = paths.pop().unwrap_or_default();
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_steps_arguments_parse() {
        let a: pg::GenerateRentalArgs = parse(&["--postgres", "postgres://x@h/db", "--customers", CUSTOMERS, "--days", "3", "--replace"]).unwrap();
        assert!(a.replace);
        assert_eq!(a.customers, 300);
        let r: pipelines::RunArgs = parse(&["rental_daily", "--from", DAYS[0], "--to", DAYS[2]]).unwrap();
        assert_eq!(r.name, "rental_daily");
    }

    #[test]
    fn the_corpus_split_keeps_every_review_once() {
        let tmp = tempfile::tempdir().unwrap();
        let (train, test) = write_corpus_split(tmp.path()).unwrap();
        let count = |p: &Path| csv::Reader::from_path(p).unwrap().records().count();
        let all = csv::Reader::from_reader(pg::REVIEWS_SAMPLE).records().count();
        let (a, b) = (count(&train), count(&test));
        assert_eq!(a + b, all);
        assert!(b * 5 >= all - 4 && b * 5 <= all + 4, "{b} of {all} to test");
    }
}
