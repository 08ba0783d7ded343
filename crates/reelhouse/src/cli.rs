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

    /// Check a table against its expectations (expectations/TABLE.toml)
    #[command(
        long_about = "Runs a table's expectations (not null, unique, between, in set, regex, row count, \
                      mean/stddev/min/max, freshness) as one SQL scan, prints what was observed with \
                      failing counts and a few failing rows, and stores the result in the catalog.\n\n\
                      Exit code 1 when an `error` expectation fails (warnings do not count).",
        after_help = "Examples:\n  reelhouse validate clean.ratings\n  reelhouse validate clean.ratings --ds 2025-04-09 --format json\n  reelhouse validate curated.top_rated --file checks/top.toml"
    )]
    Validate(crate::commands::quality::ValidateArgs),

    /// Run a pipeline for a day or a range of days (pipelines/NAME.toml)
    #[command(
        long_about = "Runs a pipeline's tasks for one run day: independent tasks in parallel, retries with \
                      backoff, timeouts, and downstream tasks skipped after a failure. Day-partitioned \
                      outputs replace that day's partition in one transaction, so running a day again \
                      gives the same tables. History and logs go to the catalog (reelhouse runs).\n\n\
                      Exit code 0 when every task succeeded, 1 when a task failed, 2 when the run could \
                      not start (bad file, the day already running).",
        after_help = "Examples:\n  reelhouse run movielens_daily --ds 2025-04-09\n  reelhouse run movielens_daily --from 2025-04-01 --to 2025-04-07     # backfill\n  reelhouse run movielens_daily --ds 2025-04-09 --rerun-failed\n  reelhouse run movielens_daily --ds 2025-04-09 --only validate\n  reelhouse run retrain_weekly --param algo=svdpp --dry-run"
    )]
    Run(crate::commands::pipelines::RunArgs),

    /// Pipeline run history: list runs, show one with its tasks and logs
    #[command(subcommand)]
    Runs(crate::commands::pipelines::RunsCommand),

    /// Run every scheduled pipeline on its cron (catch-up, no duplicate days)
    #[command(
        long_about = "Runs each pipeline of the workspace that has a schedule when its day's interval has \
                      ended (\"0 6 * * *\" runs day D at D+1 06:00, as Airflow does), and every missed \
                      day since `start` when the pipeline says catchup = true. Which days ran is read \
                      from the catalog, so a restarted scheduler (or a second one) never runs a \
                      pipeline-day twice; a run left behind by a killed scheduler is resumed.",
        after_help = "Examples:\n  reelhouse scheduler\n  reelhouse scheduler --once --pipeline movielens_daily\n  reelhouse scheduler --poll 1m"
    )]
    Scheduler(crate::commands::pipelines::SchedulerArgs),

    /// Pipeline files: list, check, export to Airflow
    #[command(subcommand)]
    Pipeline(crate::commands::pipelines::PipelineCommand),
    /// Serve predictions, recommendations and events over HTTP (the champion models)
    #[command(
        long_about = "Serves the champion of each model over HTTP: POST /predict, GET /recommend/{user_id}, \
                      GET /similar/{movie_id}, GET /movies/{movie_id}, GET /users/{user_id}/history, \
                      POST /events (the speed layer), GET /models, POST /models/{name}/promote, /health, \
                      /ready, /metrics (Prometheus), /openapi.json and /docs.\n\n\
                      A new champion promoted by another process is picked up within --poll seconds; \
                      POST /models/{name}/promote swaps at once. Write routes need a bearer token: \
                      set serve.token_env (or serve.token) in reelhouse.toml, or REELHOUSE_SERVE_TOKEN; \
                      without one a token is generated and printed. Settings also come from the \
                      [serve] section of reelhouse.toml; flags override it. See docs/serving.md.",
        after_help = "Examples:\n  reelhouse serve\n  reelhouse serve --addr 0.0.0.0:8080 --poll 10\n  reelhouse serve --predict-model recommender --recommend-model ranker\n  curl -s localhost:8080/predict -H 'content-type: application/json' -d '{\"user_id\": 196, \"movie_id\": 242}'\n  curl -s localhost:8080/sentiment -H 'content-type: application/json' -d '{\"text\": \"Runs small, lovely fabric\"}'"
    )]
    Serve(ServeArgs),
    /// Score rows or texts with a registered classifier or sentiment model
    #[command(subcommand)]
    Predict(PredictCommand),

    /// Customer segmentation: k-means over a range of k, SSE, silhouette, profiles
    #[command(
        long_about = "Clusters the rows of a table or CSV with k-means (k-means++ seeds, several restarts) for every k \
                      of --k, reports SSE and silhouette per k (the elbow chart, --chart FILE.svg) and the profile \
                      (size, mean of each feature) of every segment at the k with the best silhouette.\n\n\
                      `reelhouse segment users` builds curated.user_features from clean.ratings first (activity, mean \
                      rating, recency, genre shares) and clusters MovieLens users out of the box.",
        after_help = "Examples:\n  reelhouse segment users --k 2..8 --chart elbow.svg\n  reelhouse segment --table curated.user_features --features ratings,mean_rating,recency_days --k 2..10\n  reelhouse segment --csv customers.csv --features age,spend --k 3 --format json"
    )]
    Segment(SegmentArgs),

    /// Build the built-in feature tables (curated.user_features, user_churn_features)
    #[command(subcommand)]
    Features(FeaturesCommand),

    /// Run the whole flow on the bundled MovieLens 100K and say where to look
    /// Named reports with charts: list, one report, or all of them as an HTML page
    #[command(
        long_about = "Runs a named SQL report over the lake and prints its rows (--format table, csv or json); \
                      --chart draws it as SVG or PNG. `reelhouse report list` describes every report and \
                      its parameters; `reelhouse report all --html DIR` writes one self-contained page \
                      with every chart and table.\n\n\
                      MovieLens reports: rating-histogram, films-per-year, genre-frequency, top-rated. \
                      Movie-metadata reports: company-year, company-year-genre, genre-year.",
        after_help = "Examples:\n  reelhouse report list\n  reelhouse report top-rated --param min_votes=100 --param bayesian=true --chart top.svg\n  reelhouse report company-year --param agg=avg --param company=pixar --format csv\n  reelhouse report genre-year --param from=1990 --chart genres.png\n  reelhouse report all --html report/"
    )]
    Report(ReportArgs),

    /// Run the whole flow on the bundled MovieLens 100K and metadata; say where to look
    #[command(after_help = "Examples:\n  reelhouse demo            # creates ./reelhouse-demo\n  reelhouse demo --dir /tmp/demo\n  reelhouse demo --rental --postgres postgres://me@localhost/rental   # seed 001, on your PostgreSQL")]
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

    /// Kaggle/TMDB movies_metadata.csv into the clean.tmdb_* tables
    #[command(
        long_about = "Loads Kaggle's \"The Movies Dataset\" movies_metadata.csv (or a folder holding it) \
                      into clean.tmdb_movies and the many-to-many tables clean.tmdb_genres / \
                      tmdb_movie_genres, tmdb_companies / tmdb_movie_companies, tmdb_countries / \
                      tmdb_movie_countries and tmdb_languages / tmdb_movie_languages.\n\n\
                      The list columns are Python literals (single quotes, None/True/False) and are \
                      read by a real parser. budget and revenue of 0 mean unknown and load as null. \
                      Records with shifted columns, unparseable numbers or dates, release dates after \
                      the ingest day, negative money or a repeated id go to quarantine.tmdb_movies \
                      with the reason; the rest load.",
        after_help = "Examples:\n  reelhouse ingest movies-metadata ~/data/the-movies-dataset/movies_metadata.csv\n  reelhouse ingest movies-metadata datasets/movies-metadata --ds 2025-04-09 --format json\n  reelhouse sql \"SELECT reason, count(*) FROM quarantine.tmdb_movies GROUP BY reason\""
    )]
    MoviesMetadata(IngestMovielensArgs),
}

#[derive(Debug, Args)]
pub struct IngestMovielensArgs {
    /// The dataset folder (or a file in it)
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

    /// A movies_metadata.csv shaped like Kaggle's, with N movies
    #[command(after_help = "Example:\n  reelhouse generate movies-metadata --movies 1000000 --out data/meta-1m --seed 42")]
    MoviesMetadata(GenerateMetadataArgs),
}

#[derive(Debug, Args)]
pub struct GenerateMetadataArgs {
    /// Number of movies (records) to write
    #[arg(long, value_name = "N")]
    pub movies: u64,

    /// Output folder (created if missing); the file is movies_metadata.csv
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Random seed: the same seed gives the same file
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
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
pub struct ServeArgs {
    /// Address to listen on [default: serve.addr, else 127.0.0.1:8080]
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<String>,

    /// Model whose champion answers /predict (a rating model)
    #[arg(long, value_name = "NAME")]
    pub predict_model: Option<String>,

    /// Model whose champion answers /recommend and /similar
    #[arg(long, value_name = "NAME")]
    pub recommend_model: Option<String>,

    /// Model whose champion answers /sentiment [default: sentiment]
    #[arg(long, value_name = "NAME")]
    pub sentiment_model: Option<String>,

    /// Registry alias to serve
    #[arg(long, default_value = "champion", value_name = "ALIAS")]
    pub alias: String,

    /// Seconds between registry polls for a new champion (0 = never) [default: 5]
    #[arg(long, value_name = "SECONDS")]
    pub poll: Option<f64>,

    /// Turn the write routes (/events, promote) off
    #[arg(long)]
    pub read_only: bool,

    /// Write a JSON access log line per request to FILE (- for stderr)
    #[arg(long, value_name = "FILE")]
    pub access_log: Option<PathBuf>,

    /// Requests in flight above which new ones get 503 at once
    #[arg(long, default_value_t = 512, value_name = "N")]
    pub max_inflight: usize,

    /// Connections served at once (more wait in the backlog)
    #[arg(long, default_value_t = 4096, value_name = "N")]
    pub max_connections: usize,

    /// Request timeout in milliseconds (answered 503 past it)
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub timeout_ms: u64,

    /// Largest request body in bytes
    #[arg(long, default_value_t = 65_536, value_name = "BYTES")]
    pub body_limit: usize,

    /// Seconds between appends of buffered events to the lake
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub flush_seconds: f64,

    /// Lake table the events go to [default: serve.events_table or raw.events]
    #[arg(long, value_name = "TABLE")]
    pub events_table: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A report name, `list` (describe them) or `all` (run every report)
    #[arg(value_name = "NAME")]
    pub name: String,

    /// A report parameter, as NAME=VALUE (repeatable; see `report list`)
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub param: Vec<String>,

    /// Draw the chart to this file (.svg or .png)
    #[arg(long, value_name = "FILE")]
    pub chart: Option<PathBuf>,

    /// With `all`: write DIR/index.html with every chart and table
    #[arg(long, value_name = "DIR")]
    pub html: Option<PathBuf>,

    /// Most rows to print as a table (csv and json get every row)
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_rows: usize,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to build the demo workspace
    #[arg(long, value_name = "DIR", default_value = "reelhouse-demo")]
    pub dir: PathBuf,

    /// Seed 001 instead: a rental company in PostgreSQL, three days of rental_daily
    #[arg(long)]
    pub rental: bool,

    /// With --rental: the PostgreSQL server (a database the demo may create tables in)
    #[arg(long, env = "REELHOUSE_POSTGRES_URL", value_name = "URL", hide_env_values = true, requires = "rental")]
    pub postgres: Option<String>,

    /// With --rental: drop and regenerate rental tables this workspace did not create
    #[arg(long, requires = "rental")]
    pub replace: bool,
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

    /// Train a tabular classifier (or regressor) on any CSV or table with a target
    #[command(
        long_about = "Trains logistic regression, a random forest or gradient-boosted trees on a CSV or lake table \
                      with a target column, evaluates it on --test FILE (or a stratified 20% held out) and registers it.\n\n\
                      Preprocessing is fitted on the training rows only and saved with the model: one-hot (or \
                      ordinal) text columns with unseen categories handled, standardised numbers, median \
                      imputation with a missing indicator, and identifiers, all-missing and constant columns \
                      dropped; the report says what happened to every column (docs/classifiers.md has the rules).\n\n\
                      Reports ROC AUC, PR AUC, accuracy, precision, recall, F1, a confusion matrix, a calibration \
                      table, the precision/recall/threshold table and feature importance; numeric targets get MAE, \
                      RMSE and R². --threshold-rule picks the cut-off on out-of-fold scores (k-fold CV on the \
                      training rows) and stores it with the model.",
        after_help = "Examples:\n  reelhouse train classifier --csv train.csv --test test.csv --target churn\n  reelhouse train classifier --csv train.csv --test test.csv --target churn --algo gbt --format json\n  reelhouse train classifier --csv train.csv --target churn --algo logreg --param bins=10 --param class_weight=balanced --param c=0.05\n  reelhouse train classifier --table curated.user_churn_features --target churned --threshold-rule precision>=0.6\n  reelhouse train classifier --csv houses.csv --target price --task regression"
    )]
    Classifier(TrainClassifierArgs),

    /// Train the review sentiment model (TF-IDF + logistic regression)
    #[command(
        long_about = "Trains the negative / neutral / positive review classifier: tokens, optional stop words, TF-IDF \
                      of word 1- and 2-grams (min_df, sublinear tf), multinomial logistic regression with balanced \
                      class weights by default; prints the classification report (precision, recall, F1 per class, \
                      macro and weighted averages, confusion matrix) and registers the model.\n\n\
                      Data: --train FILE --test FILE (CSV with text,label columns, or text,rating with ratings 1-5: \
                      <= 2 negative, 3 neutral, >= 4 positive), or the workspace's review table (clean.reviews: \
                      review_text, rating, optional title), split 80/20.",
        after_help = "Examples:\n  reelhouse train sentiment --train reviews-train.csv --test reviews-test.csv\n  reelhouse train sentiment --format json --param c=2\n  reelhouse train sentiment --table clean.reviews --no-register"
    )]
    Sentiment(TrainSentimentArgs),
}

#[derive(Debug, Args)]
pub struct TrainClassifierArgs {
    /// Training data: a CSV file with a header row
    #[arg(long, value_name = "FILE", conflicts_with = "table")]
    pub csv: Option<std::path::PathBuf>,

    /// Training data: a lake table, zone.name or zone.name@VERSION
    #[arg(long, value_name = "TABLE")]
    pub table: Option<String>,

    /// Test data with the same columns (default: hold out a stratified 20%)
    #[arg(long, value_name = "FILE")]
    pub test: Option<std::path::PathBuf>,

    /// The column to predict
    #[arg(long, value_name = "COLUMN")]
    pub target: String,

    /// Algorithm: logreg, forest or gbt
    #[arg(long, default_value = "logreg", value_name = "NAME")]
    pub algo: String,

    /// Any algorithm parameter, as NAME=VALUE (repeatable)
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub param: Vec<String>,

    /// Decision threshold: 0.5, max-f1, precision>=P or recall>=R
    #[arg(long, default_value = "0.5", value_name = "RULE")]
    pub threshold_rule: String,

    /// The positive class of a two-class target (default: yes-like, else the rarer)
    #[arg(long, value_name = "LABEL")]
    pub positive: Option<String>,

    /// auto, classification or regression
    #[arg(long, default_value = "auto", value_name = "TASK")]
    pub task: String,

    /// Columns to leave out, comma-separated
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub drop: Vec<String>,

    /// Folds of the cross-validation on the training rows (0 = none)
    #[arg(long, default_value_t = 5, value_name = "K")]
    pub cv: usize,

    /// Seed of the split, the folds and the models
    #[arg(long, default_value_t = 42, value_name = "N")]
    pub seed: u64,

    /// Registry name of the model
    #[arg(long, default_value = "classifier", value_name = "NAME")]
    pub name: String,

    /// Do not store or register the model
    #[arg(long)]
    pub no_register: bool,
}

#[derive(Debug, Args)]
pub struct TrainSentimentArgs {
    /// Training reviews (CSV: text,label or text,rating)
    #[arg(long, value_name = "FILE", requires = "test")]
    pub train: Option<std::path::PathBuf>,

    /// Test reviews (CSV: text,label or text,rating)
    #[arg(long, value_name = "FILE", requires = "train")]
    pub test: Option<std::path::PathBuf>,

    /// Review table to train on without files
    #[arg(long, default_value = "clean.reviews", value_name = "TABLE")]
    pub table: String,

    /// Any parameter (c, min_df, max_ngram, stop_words, class_weight...), NAME=VALUE
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub param: Vec<String>,

    /// Seed of the table's 80/20 split
    #[arg(long, default_value_t = 42, value_name = "N")]
    pub seed: u64,

    /// Registry name of the model
    #[arg(long, default_value = "sentiment", value_name = "NAME")]
    pub name: String,

    /// Do not store or register the model
    #[arg(long)]
    pub no_register: bool,
}

#[derive(Debug, Subcommand)]
pub enum PredictCommand {
    /// Score every row of a CSV with a registered classifier
    #[command(after_help = "Examples:\n  reelhouse predict classifier classifier --csv new-customers.csv\n  reelhouse predict classifier churn@2 --csv rows.csv --format csv > scored.csv")]
    Classifier(PredictClassifierArgs),
    /// Label a review negative, neutral or positive
    #[command(after_help = "Examples:\n  reelhouse predict sentiment \"Loved it, fits perfectly\"\n  reelhouse predict sentiment --model sentiment@2 \"meh\" --format json")]
    Sentiment(PredictSentimentArgs),
}

#[derive(Debug, Args)]
pub struct PredictClassifierArgs {
    /// NAME (its champion, else latest), NAME@VERSION or NAME:ALIAS
    #[arg(value_name = "MODEL")]
    pub model: String,

    /// Rows to score (CSV with the training columns; the target may be absent)
    #[arg(long, value_name = "FILE")]
    pub csv: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct PredictSentimentArgs {
    /// The review text (several texts: several arguments)
    #[arg(value_name = "TEXT", required = true, num_args = 1..)]
    pub text: Vec<String>,

    /// NAME (its champion, else latest), NAME@VERSION or NAME:ALIAS
    #[arg(long, default_value = "sentiment", value_name = "MODEL")]
    pub model: String,
}

#[derive(Debug, Args)]
pub struct SegmentArgs {
    /// `users`: build curated.user_features and cluster MovieLens users
    #[arg(value_name = "WHAT", value_parser = ["users"])]
    pub what: Option<String>,

    /// Rows to cluster: a lake table (zone.name[@VERSION])
    #[arg(long, value_name = "TABLE", conflicts_with = "csv")]
    pub table: Option<String>,

    /// Rows to cluster: a CSV file
    #[arg(long, value_name = "FILE")]
    pub csv: Option<std::path::PathBuf>,

    /// Numeric feature columns, comma-separated (default: every numeric column)
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub features: Vec<String>,

    /// k values: 2..10 (inclusive), 3,5,8 or one number
    #[arg(short = 'k', long = "k", default_value = "2..8", value_name = "RANGE")]
    pub k: String,

    /// k-means++ restarts per k (the lowest SSE wins)
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub restarts: usize,

    /// Seed of the seeds
    #[arg(long, default_value_t = 42, value_name = "N")]
    pub seed: u64,

    /// Cluster the raw values instead of standardised ones
    #[arg(long)]
    pub no_scale: bool,

    /// Write the elbow chart (SSE and silhouette by k) to this SVG file
    #[arg(long, value_name = "FILE")]
    pub chart: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum FeaturesCommand {
    /// curated.user_features: activity, mean rating, recency, genre shares per user
    #[command(after_help = "Example:\n  reelhouse features users")]
    Users,
    /// curated.user_churn_features: activity up to a cut-off, churned = silent N days after
    #[command(after_help = "Examples:\n  reelhouse features churn --silent-days 30\n  reelhouse features churn --cutoff 1998-03-01 --silent-days 14\n  reelhouse train classifier --table curated.user_churn_features --target churned --drop user_id")]
    Churn(ChurnFeaturesArgs),
}

#[derive(Debug, Args)]
pub struct ChurnFeaturesArgs {
    /// Cut-off day YYYY-MM-DD [default: silent-days before the newest rating]
    #[arg(long, value_name = "DAY")]
    pub cutoff: Option<String>,

    /// A user is churned when silent this many days after the cut-off
    #[arg(long, default_value_t = 30, value_name = "DAYS")]
    pub silent_days: u32,
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
