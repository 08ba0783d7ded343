//! Flags and subcommands. Every flag has a one-line help; long help adds detail.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// reelhouse: one binary for the whole life of movie and media data.
#[derive(Debug, Parser)]
#[command(
    name = "reelhouse",
    version,
    about = "One binary for the whole life of movie and media data",
    long_about = "One binary for the whole life of movie and media data: ingest, lake, catalog, SQL \
                  and more.\n\nStart with `reelhouse demo`, or `reelhouse init DIR` for a workspace of your own.",
    after_help = "Examples:\n  reelhouse demo\n  reelhouse init ./ws && cd ws && reelhouse ingest movielens ~/ml-25m\n  reelhouse sql \"SELECT count(*) FROM clean.ratings\"",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options accepted before or after any subcommand.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Workspace folder (default: the nearest folder up with reelhouse.toml)
    ///
    /// Without it, reelhouse looks in the current folder and its parents for a
    /// reelhouse.toml; create one with `reelhouse init DIR`.
    #[arg(long, global = true, env = "REELHOUSE_WORKSPACE", value_name = "DIR")]
    pub workspace: Option<PathBuf>,

    /// Output format: table for people, csv or json for scripts
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Log more (-v info, -vv debug, -vvv trace); REELHOUSE_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// No progress bars
    #[arg(long, global = true)]
    pub no_progress: bool,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned text table
    Table,
    /// CSV with a header row
    Csv,
    /// JSON (an array of objects, or one object for a summary)
    Json,
    /// Parquet file (sql only, with --out)
    Parquet,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a workspace: reelhouse.toml, the lake folder and the catalog
    #[command(after_help = "Examples:\n  reelhouse init ./ws\n  reelhouse init ./ws --lake s3://bucket/lake --s3-endpoint http://127.0.0.1:9000\n  reelhouse init ./ws --catalog postgres://reel:secret@localhost/reel")]
    Init(InitArgs),

    /// Load a dataset into the lake (raw, clean and quarantine tables)
    #[command(subcommand)]
    Ingest(IngestCommand),

    /// Browse tables, their versions and their lineage
    #[command(subcommand)]
    Catalog(CatalogCommand),

    /// Run SQL over the lake, or open the interactive shell without a query
    #[command(after_help = "Examples:\n  reelhouse sql \"SELECT rating, count(*) FROM clean.ratings GROUP BY rating ORDER BY rating\"\n  reelhouse sql --format csv \"SELECT * FROM clean.movies\" > movies.csv\n  reelhouse sql --format parquet --out top.parquet \"SELECT * FROM clean.ratings WHERE rating = 5\"\n  reelhouse sql                      # interactive shell\n  reelhouse sql \"SELECT * FROM catalog.tables\"")]
    Sql(SqlArgs),

    /// Generate synthetic datasets for tests and benchmarks
    #[command(subcommand)]
    Generate(GenerateCommand),

    /// Train a model, evaluate it on held-out data and register it
    #[command(subcommand)]
    Train(TrainCommand),

    /// Re-evaluate a registered model on its held-out data
    #[command(after_help = "Examples:\n  reelhouse evaluate recommender          # the champion\n  reelhouse evaluate recommender@3 -k 20")]
    Evaluate(EvaluateArgs),

    /// Train several algorithms on one split and compare them side by side
    #[command(after_help = "Examples:\n  reelhouse compare --algos svd,svdpp,item-knn,ials,popularity\n  reelhouse compare --algos svd,baseline --split kfold:5\n  reelhouse compare --train train.csv --test test.csv --format csv")]
    Compare(CompareArgs),

    /// Grid or random search over an algorithm's parameters with k-fold CV
    #[command(after_help = "Examples:\n  reelhouse tune --algo svd --space factors=20,50,100 --space reg=0.02,0.05\n  reelhouse tune --algo svd --space lr=0.002..0.02 --space factors=20..200 --random 20\n  reelhouse tune --algo ials --space alpha=1,2,5 --metric ndcg --split kfold:3")]
    Tune(TuneArgs),

    /// Top-N movies for a user from a registered model (the champion by default)
    #[command(after_help = "Examples:\n  reelhouse recommend --user 196 -k 10\n  reelhouse recommend --user 196 --genre Comedy --format json")]
    Recommend(RecommendArgs),

    /// Movies similar to a movie, from a registered model
    #[command(after_help = "Examples:\n  reelhouse similar --movie 1 -k 10\n  reelhouse similar --movie 50 --model recommender@2")]
    Similar(SimilarArgs),

    /// The model registry: versions, aliases, the promotion gate
    #[command(subcommand)]
    Models(ModelsCommand),

    /// Run the whole flow on the bundled MovieLens 100K and say where to look
    #[command(after_help = "Example:\n  reelhouse demo            # creates ./reelhouse-demo\n  reelhouse demo --dir /tmp/demo")]
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Folder to create the workspace in (default: the current folder)
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Lake root: a folder relative to the workspace, or s3://bucket/prefix
    #[arg(long, value_name = "ROOT", default_value = "lake")]
    pub lake: String,

    /// Endpoint URL of an S3-compatible store (MinIO, Ceph, ...)
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,

    /// AWS region for s3:// lakes
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,

    /// Allow plain http:// for the S3 endpoint (local test stores)
    #[arg(long)]
    pub s3_allow_http: bool,

    /// Catalog database: sqlite://FILE (relative to the workspace) or postgres://...
    #[arg(long, value_name = "URL", default_value = "sqlite://catalog.db")]
    pub catalog: String,
}

#[derive(Debug, Subcommand)]
pub enum IngestCommand {
    /// MovieLens in any format: 100K (u.data), 1M/10M (.dat) or CSV (latest, 20M-33M)
    #[command(
        long_about = "Loads a MovieLens folder. The format is detected from the file names: 100K \
                      (u.data, u.item, u.user, u.genre), 1M/10M (ratings.dat, movies.dat, users.dat, \
                      tags.dat) or the CSV family (ratings.csv, movies.csv, tags.csv, links.csv).\n\n\
                      Writes raw.* (as read, partition ds), clean.* (typed, deduplicated) and \
                      quarantine.* (bad lines with the reason). Rerunning for the same day replaces \
                      that day's rows instead of adding them again.",
        after_help = "Examples:\n  reelhouse ingest movielens ~/data/ml-100k\n  reelhouse ingest movielens ~/data/ml-25m --ds 2025-04-09 --format json"
    )]
    Movielens(IngestMovielensArgs),

    /// A PostgreSQL table or query, whole or incrementally by a watermark column
    #[command(
        long_about = "Extracts a table or a query from a PostgreSQL database into a lake table, streamed \
                      with COPY in binary (memory stays flat whatever the table's size) and written in \
                      one Delta commit. Types are mapped faithfully: numeric(p,s) to Decimal128(p,s), \
                      timestamptz to Timestamp(us, UTC), timestamp, date, text, integers, floats, \
                      bool, uuid, json, bytea (docs/postgres.md has the full table).\n\n\
                      With --watermark COLUMN only rows above the last load's maximum are read; the \
                      maximum is kept in the catalog and moves only with the commit. A connection \
                      that breaks mid-extract is retried from the start; nothing is loaded twice. \
                      Rows with values that have no Arrow form go to quarantine.NAME with the reason.",
        after_help = "Examples:\n  reelhouse ingest postgres --url postgres://reel@db/rental --table payment --watermark payment_date\n  reelhouse ingest postgres --table customer --into clean.customer        # URL from $REELHOUSE_POSTGRES_URL\n  reelhouse ingest postgres --query \"SELECT customer_id, amount, payment_date FROM payment WHERE payment_date::date = '2025-01-02'\" --into raw.user_purchase --ds 2025-01-02\n  reelhouse ingest postgres --table rental --watermark last_update --full-refresh --format json"
    )]
    Postgres(crate::commands::pg::IngestPostgresArgs),

    /// Vendor review files (CSV or JSONL) into raw, clean and quarantine.reviews
    #[command(
        long_about = "Loads vendor review files: raw.reviews (every record as text), clean.reviews \
                      (review_id, customer_id, film_id, review_date, rating, text; one row per review) \
                      and quarantine.reviews (lines that do not check, with the reason), each replacing \
                      the run day's partition. The run day is the YYYY-MM-DD in the file name unless \
                      --ds is given.",
        after_help = "Examples:\n  reelhouse ingest reviews vendor/reviews_2025-01-02.csv\n  reelhouse ingest reviews vendor/reviews_*.csv --format json\n  reelhouse ingest reviews today.jsonl --ds 2025-01-03"
    )]
    Reviews(crate::commands::pg::IngestReviewsArgs),
}

#[derive(Debug, Args)]
pub struct IngestMovielensArgs {
    /// The dataset folder (or any file in it)
    #[arg(value_name = "PATH")]
    pub path: PathBuf,

    /// Run day (YYYY-MM-DD) whose raw partition the load replaces [default: today]
    #[arg(long, value_name = "DAY")]
    pub ds: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Every table with its zone, version, rows and description
    #[command(after_help = "Examples:\n  reelhouse catalog list\n  reelhouse catalog list --format json")]
    List,
    /// One table: schema, partitions, version, tags, history
    #[command(after_help = "Example:\n  reelhouse catalog show clean.ratings")]
    Show(TableArg),
    /// What produced each version of a table: files (size, sha256) and upstream tables
    #[command(after_help = "Example:\n  reelhouse catalog lineage clean.ratings")]
    Lineage(TableArg),
}

#[derive(Debug, Args)]
pub struct TableArg {
    /// The table, as zone.name (e.g. clean.ratings)
    #[arg(value_name = "TABLE")]
    pub table: String,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The query; without it, an interactive shell opens
    #[arg(value_name = "QUERY")]
    pub query: Option<String>,

    /// Write the result to this file instead of the terminal
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Most rows to print as a table (csv, json and files get every row)
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_rows: usize,
}

#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// MovieLens-like CSV files (ratings, movies, tags, links) of any size
    #[command(after_help = "Example:\n  reelhouse generate movielens --ratings 25000000 --out data/ml-25m-gen --seed 42")]
    Movielens(GenerateMovielensArgs),

    /// A DVD-rental company in PostgreSQL (dvdrental's tables) and its review files
    #[command(
        long_about = "Creates dvdrental's tables (category, film, film_category, customer, inventory, \
                      rental, payment, with keys, identity ids and last_update columns kept current by \
                      triggers) and fills them with plausible activity over --days days, loaded with COPY \
                      in one transaction. With --out DIR it also writes the vendor's review file of each \
                      day (review_id, customer_id, film_id, review_date, rating, text), the texts drawn \
                      from a real review corpus. The same seed and sizes give the same rows.",
        after_help = "Examples:\n  reelhouse generate rental --postgres postgres://reel@localhost/rental --customers 600 --days 3 --out vendor\n  reelhouse generate rental --customers 100000 --days 250 --replace          # ~5M payments\n  reelhouse generate rental --customers 50 --days 3 --out vendor               # review files only"
    )]
    Rental(crate::commands::pg::GenerateRentalArgs),
}

#[derive(Debug, Args)]
pub struct GenerateMovielensArgs {
    /// Number of ratings to write
    #[arg(long, value_name = "N")]
    pub ratings: u64,

    /// Output folder (created if missing)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Random seed: the same seed gives the same files
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to build the demo workspace
    #[arg(long, value_name = "DIR", default_value = "reelhouse-demo")]
    pub dir: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_work_before_and_after_the_subcommand() {
        let a = Cli::try_parse_from(["reelhouse", "--format", "json", "--workspace", "w", "catalog", "list"]).unwrap();
        let b = Cli::try_parse_from(["reelhouse", "catalog", "list", "--format", "json", "--workspace", "w"]).unwrap();
        assert_eq!(a.global.format, Format::Json);
        assert_eq!(b.global.format, Format::Json);
        assert_eq!(a.global.workspace, b.global.workspace);
    }

    #[test]
    fn every_flag_has_a_short_help() {
        fn walk(cmd: &clap::Command) {
            for arg in cmd.get_arguments() {
                if arg.get_id() == "help" || arg.get_id() == "version" {
                    continue;
                }
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                assert!(!help.is_empty(), "{} --{} has no help", cmd.get_name(), arg.get_id());
                assert!(help.len() <= 79, "{} --{} help is too long", cmd.get_name(), arg.get_id());
            }
            for sub in cmd.get_subcommands() {
                walk(sub);
            }
        }
        walk(&Cli::command());
    }
}

#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// Train a recommender on clean.ratings (or saved split files) and register it
    #[command(
        long_about = "Trains a recommender, evaluates it on held-out ratings and registers it as a new \
                      version of a named model (artifact in the lake, metadata in the catalog).\n\n\
                      By default it reads the workspace's clean.ratings, splits it with --split and \
                      --seed, and reports RMSE/MAE (rating models) and top-N metrics (P@k, R@k, NDCG@k, \
                      MAP@k, hit rate, coverage) on the held-out part. With --train/--test it uses \
                      saved split files (user_id,movie_id,rating,timestamp).\n\n\
                      Algorithms: global-mean, baseline, svd, svdpp, als, item-knn, ials, bpr, ease, \
                      popularity, content. Any parameter can be set with --param NAME=VALUE; \
                      an unknown name lists the algorithm's parameters (docs/recommenders.md has \
                      them all with their defaults).",
        after_help = "Examples:\n  reelhouse train recommender --algo svd --factors 50 --epochs 20 --split random:0.8 --seed 42\n  reelhouse train recommender --algo ials --param alpha=20 --promote\n  reelhouse train recommender --algo svd --train train.csv --test test.csv --format json"
    )]
    Recommender(TrainRecommenderArgs),
}

#[derive(Debug, Args)]
pub struct TrainRecommenderArgs {
    /// Algorithm: svd, svdpp, als, item-knn, ials, ease, popularity, ...
    #[arg(long, default_value = "svd", value_name = "NAME")]
    pub algo: String,

    /// Latent factors (factor models)
    #[arg(long, value_name = "N")]
    pub factors: Option<usize>,

    /// Training epochs or iterations
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,

    /// Learning rate (SGD models)
    #[arg(long, value_name = "RATE")]
    pub lr: Option<f32>,

    /// Regularisation
    #[arg(long, value_name = "LAMBDA")]
    pub reg: Option<f32>,

    /// Any algorithm parameter, as NAME=VALUE (repeatable)
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub param: Vec<String>,

    /// Held-out split: random:0.8, temporal:0.8 or leave-last-out
    #[arg(long, default_value = "random:0.8", value_name = "SPEC")]
    pub split: String,

    /// Seed of the split and of the model's random start
    #[arg(long, default_value_t = 42, value_name = "N")]
    pub seed: u64,

    /// Ratings table to train on
    #[arg(long, default_value = "clean.ratings", value_name = "TABLE")]
    pub table: String,

    /// Saved training split (CSV: user_id,movie_id,rating,timestamp)
    #[arg(long, value_name = "FILE")]
    pub train: Option<std::path::PathBuf>,

    /// Saved test split (CSV), evaluated after training
    #[arg(long, value_name = "FILE")]
    pub test: Option<std::path::PathBuf>,

    /// Registry name of the model
    #[arg(long, default_value = "recommender", value_name = "NAME")]
    pub name: String,

    /// k of the top-N metrics
    #[arg(short = 'k', long = "k", default_value_t = 10, value_name = "K")]
    pub k: usize,

    /// Top-N metrics on at most this many users (0 = all)
    #[arg(long, default_value_t = 5000, value_name = "N")]
    pub eval_users: usize,

    /// Skip the top-N metrics
    #[arg(long)]
    pub no_topn: bool,

    /// Do not store or register the model
    #[arg(long)]
    pub no_register: bool,

    /// Make it the champion if it beats the current one (the gate)
    #[arg(long)]
    pub promote: bool,

    /// With --promote: skip the gate
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// NAME (its champion), NAME@VERSION or NAME:ALIAS
    #[arg(value_name = "MODEL", default_value = "recommender")]
    pub model: String,

    /// k of the top-N metrics
    #[arg(short = 'k', long = "k", default_value_t = 10, value_name = "K")]
    pub k: usize,

    /// Top-N metrics on at most this many users (0 = all)
    #[arg(long, default_value_t = 5000, value_name = "N")]
    pub eval_users: usize,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Algorithms to compare, comma-separated
    #[arg(long, default_value = "popularity,baseline,svd,svdpp,item-knn,ials", value_name = "LIST")]
    pub algos: String,

    /// Split: random:0.8, temporal:0.8, leave-last-out or kfold:5
    #[arg(long, default_value = "random:0.8", value_name = "SPEC")]
    pub split: String,

    /// Seed of the split and of the models
    #[arg(long, default_value_t = 42, value_name = "N")]
    pub seed: u64,

    /// Ratings table
    #[arg(long, default_value = "clean.ratings", value_name = "TABLE")]
    pub table: String,

    /// Saved training split (CSV)
    #[arg(long, value_name = "FILE")]
    pub train: Option<std::path::PathBuf>,

    /// Saved test split (CSV)
    #[arg(long, value_name = "FILE")]
    pub test: Option<std::path::PathBuf>,

    /// k of the top-N metrics
    #[arg(short = 'k', long = "k", default_value_t = 10, value_name = "K")]
    pub k: usize,
}

#[derive(Debug, Args)]
pub struct RecommendArgs {
    /// User id
    #[arg(long, value_name = "ID")]
    pub user: i64,

    /// How many movies
    #[arg(short = 'k', long = "k", default_value_t = 10, value_name = "K")]
    pub k: usize,

    /// Only movies of this genre
    #[arg(long, value_name = "GENRE")]
    pub genre: Option<String>,

    /// NAME (its champion), NAME@VERSION or NAME:ALIAS
    #[arg(long, default_value = "recommender", value_name = "MODEL")]
    pub model: String,
}

#[derive(Debug, Args)]
pub struct SimilarArgs {
    /// Movie id
    #[arg(long, value_name = "ID")]
    pub movie: i64,

    /// How many movies
    #[arg(short = 'k', long = "k", default_value_t = 10, value_name = "K")]
    pub k: usize,

    /// NAME (its champion), NAME@VERSION or NAME:ALIAS
    #[arg(long, default_value = "recommender", value_name = "MODEL")]
    pub model: String,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Every model with its versions, champion and latest metrics
    List,
    /// A version's model card, metrics and lineage
    Show(ModelRefArgs),
    /// Make a version the champion if it beats the current one on held-out data
    #[command(after_help = "Examples:\n  reelhouse models promote recommender@3\n  reelhouse models promote recommender@3 --force\n  reelhouse models promote recommender@4 --alias challenger")]
    Promote(PromoteArgs),
    /// Metrics and parameters of several versions side by side
    Compare(ModelsCompareArgs),
}

#[derive(Debug, Args)]
pub struct ModelRefArgs {
    /// NAME (its champion), NAME@VERSION or NAME:ALIAS
    #[arg(value_name = "MODEL", default_value = "recommender")]
    pub model: String,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// NAME@VERSION (or NAME with a version after it)
    #[arg(value_name = "MODEL")]
    pub model: String,

    /// The version, when MODEL is only a name
    #[arg(value_name = "VERSION")]
    pub version: Option<i64>,

    /// Alias to move
    #[arg(long, default_value = "champion", value_name = "ALIAS")]
    pub alias: String,

    /// Skip the gate (promote even if it is not better)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ModelsCompareArgs {
    /// Versions to compare: NAME@V NAME@W ...
    #[arg(value_name = "MODEL", required = true, num_args = 1..)]
    pub models: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TuneArgs {
    /// Algorithm to tune
    #[arg(long, default_value = "svd", value_name = "NAME")]
    pub algo: String,

    /// Values of one parameter: NAME=a,b,c or NAME=lo..hi (repeatable)
    #[arg(long = "space", value_name = "NAME=VALUES", required = true)]
    pub space: Vec<String>,

    /// Random search with N draws (ranges sampled) instead of the full grid
    #[arg(long, value_name = "N")]
    pub random: Option<usize>,

    /// Metric to sort by: rmse, mae, ndcg, precision, recall, map, hit-rate
    #[arg(long, default_value = "rmse", value_name = "METRIC")]
    pub metric: String,

    /// Cross-validation split: kfold:5 (or one split such as random:0.8)
    #[arg(long, default_value = "kfold:5", value_name = "SPEC")]
    pub split: String,

    /// Seed of the folds, the draws and the models
    #[arg(long, default_value_t = 42, value_name = "N")]
    pub seed: u64,

    /// Ratings table
    #[arg(long, default_value = "clean.ratings", value_name = "TABLE")]
    pub table: String,

    /// Ratings file instead of a table (a fold column gives the folds)
    #[arg(long, value_name = "FILE")]
    pub ratings: Option<std::path::PathBuf>,

    /// k of the top-N metrics
    #[arg(short = 'k', long = "k", default_value_t = 10, value_name = "K")]
    pub k: usize,
}
