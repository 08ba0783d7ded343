//! `reelhouse train recommender`, `evaluate`, `compare`, `recommend`, `similar`, `models`.
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use reel_ml::eval::{self, EvalOptions, SavedRatings, SplitSpec, TopN};
use reel_ml::model::{Scored, recommend, similar};
use reel_ml::reco::{Algorithm, Params};
use reel_pipeline::tables::{MovieInfo, read_movies, select};
use reel_pipeline::train::{self, Metrics, TrainRequest, TrainSource};
use serde::Serialize;

use super::open_env;
use crate::cli::{
    CompareArgs, EvaluateArgs, TuneArgs, Format, GlobalArgs, ModelsCommand, RecommendArgs, SimilarArgs, TrainCommand, TrainRecommenderArgs,
};
use crate::progress::Bar;
use crate::render::{Rows, print};

/// Parameters from the dedicated flags and `--param k=v`, checked against the algorithm.
pub fn settings_of(a: &TrainRecommenderArgs) -> Result<Params> {
    let algo: Algorithm = a.algo.parse()?;
    let defaults = algo.default_params().values();
    let known = |names: &[&str]| names.iter().find(|n| defaults.get(**n).is_some()).map(|n| n.to_string());
    let mut settings: Vec<(String, String)> = Vec::new();
    let mut flag = |flag: &str, names: &[&str], value: Option<String>| -> Result<()> {
        if let Some(v) = value {
            match known(names) {
                Some(n) => settings.push((n, v)),
                None => bail!("{algo} has no {flag} setting; its parameters are: {}", param_names(&defaults)),
            }
        }
        Ok(())
    };
    flag("--factors", &["factors", "n_factors"], a.factors.map(|x| x.to_string()))?;
    flag("--epochs", &["epochs", "n_epochs", "iterations"], a.epochs.map(|x| x.to_string()))?;
    flag("--lr", &["lr", "learning_rate"], a.lr.map(|x| x.to_string()))?;
    flag("--reg", &["reg"], a.reg.map(|x| x.to_string()))?;
    for p in &a.param {
        let (k, v) = p
            .split_once('=')
            .with_context(|| format!("--param {p:?} is not NAME=VALUE; e.g. --param lr=0.01"))?;
        settings.push((k.trim().to_string(), v.trim().to_string()));
    }
    if !settings.iter().any(|(k, _)| k == "seed") {
        if let Some(n) = known(&["seed", "random_state"]) {
            settings.push((n, a.seed.to_string()));
        }
    }
    let params = Params::with_settings(algo, &settings)?;
    params.check()?;
    Ok(params)
}

fn param_names(v: &serde_json::Value) -> String {
    v.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default()
}

fn source_of(a: &TrainRecommenderArgs) -> Result<TrainSource> {
    Ok(match (&a.train, &a.test) {
        (Some(train), test) => TrainSource::Files { train: train.clone(), test: test.clone(), train_sha256: None, test_sha256: None },
        (None, Some(_)) => bail!("--test needs --train (the saved split's training file)"),
        (None, None) => {
            a.split.parse::<SplitSpec>()?;
            TrainSource::Table { table: a.table.clone(), version: None, split: a.split.clone(), seed: a.seed }
        }
    })
}

#[derive(Serialize)]
struct TrainJson<'a> {
    model: &'a str,
    version: Option<i64>,
    algorithm: &'a str,
    params: &'a serde_json::Value,
    metrics: &'a Metrics,
    rmse: Option<f64>,
    mae: Option<f64>,
    fit_seconds: f64,
    eval_seconds: f64,
    train_rows: usize,
    test_rows: usize,
    users: usize,
    items: usize,
    artifact: Option<&'a str>,
    promotion: Option<&'a train::Promotion>,
}

pub async fn train_cmd(g: &GlobalArgs, cmd: TrainCommand) -> Result<ExitCode> {
    let TrainCommand::Recommender(a) = cmd else {
        bail!("internal error: {cmd:?} is not a recommender command (please report it)");
    };
    let params = settings_of(&a)?;
    let source = source_of(&a)?;
    let env = open_env(g).await?;
    let bar = Bar::new(g.no_progress);
    let req = TrainRequest {
        name: a.name.clone(),
        params,
        source,
        topn: (!a.no_topn).then(|| TopN { k: a.k, ..TopN::default() }),
        max_eval_users: a.eval_users,
        register: !a.no_register,
        command: super::command_line(),
    };
    let out = train::train(&env, &req, &bar).await?;
    let promotion = match (a.promote, out.version) {
        (true, Some(v)) => Some(train::promote(&env, &a.name, v, "champion", a.force, &bar).await?),
        _ => None,
    };
    if g.format == Format::Json {
        let j = TrainJson {
            model: &out.name,
            version: out.version,
            algorithm: &out.algorithm,
            params: &out.params,
            metrics: &out.metrics,
            rmse: out.metrics.rmse,
            mae: out.metrics.mae,
            fit_seconds: out.fit_seconds,
            eval_seconds: out.eval_seconds,
            train_rows: out.train_rows,
            test_rows: out.metrics.test_rows,
            users: out.users,
            items: out.items,
            artifact: out.artifact.as_deref(),
            promotion: promotion.as_ref(),
        };
        print(Format::Json, &Rows::new(vec![]), &j)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = Rows::new(vec!["metric", "value"]);
    for (k, v) in metric_pairs(&out.metrics) {
        rows.push(vec![k, v]);
    }
    rows.push(vec!["fit_seconds".into(), format!("{:.3}", out.fit_seconds)]);
    if g.format == Format::Table {
        println!(
            "Trained {} {} on {} ratings ({} users, {} items) in {:.3} s.",
            out.algorithm, out.params, out.train_rows, out.users, out.items, out.fit_seconds
        );
    }
    print(g.format, &rows, &())?;
    if g.format == Format::Table {
        match out.version {
            Some(v) => println!("Registered {}@{v}. See it: reelhouse models show {}@{v}", out.name, out.name),
            None => println!("Not registered (--no-register)."),
        }
        if let Some(p) = &promotion {
            println!("{}", p.reason);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `(name, formatted value)` of every metric present.
fn metric_pairs(m: &Metrics) -> Vec<(String, String)> {
    let v = serde_json::to_value(m).unwrap_or_default();
    let mut out = Vec::new();
    if let Some(map) = v.as_object() {
        for (k, x) in map {
            let s = match x.as_f64() {
                Some(f) if x.is_f64() => format!("{f:.4}"),
                _ => x.to_string(),
            };
            out.push((k.clone(), s));
        }
    }
    out
}

pub async fn evaluate_cmd(g: &GlobalArgs, a: EvaluateArgs) -> Result<ExitCode> {
    let env = open_env(g).await?;
    let bar = Bar::new(g.no_progress);
    let v = train::resolve(&env, &a.model).await?;
    let prepared = train::held_out(&env, &v, &bar).await?;
    let model = train::load_model(&env, &v).await?;
    let topn = TopN { k: a.k, ..TopN::default() };
    let started = Instant::now();
    let m = tokio::task::block_in_place(|| train::evaluate(model.as_ref(), &prepared, Some(&topn), a.eval_users, 42))?;
    let secs = started.elapsed().as_secs_f64();
    let mut rows = Rows::new(vec!["metric", "value"]);
    for (k, v) in metric_pairs(&m) {
        rows.push(vec![k, v]);
    }
    #[derive(Serialize)]
    struct Eval<'a> {
        model: &'a str,
        version: i64,
        algorithm: &'a str,
        metrics: &'a Metrics,
        eval_seconds: f64,
    }
    if g.format == Format::Table {
        println!("{}@{} ({}) on its held-out data ({} rows):", v.name, v.version, v.algorithm, m.test_rows);
    }
    print(g.format, &rows, &Eval { model: &v.name, version: v.version, algorithm: &v.algorithm, metrics: &m, eval_seconds: secs })?;
    Ok(ExitCode::SUCCESS)
}

pub async fn compare_cmd(g: &GlobalArgs, a: CompareArgs) -> Result<ExitCode> {
    let mut models: Vec<(String, Params)> = Vec::new();
    for name in a.algos.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let algo: Algorithm = name.parse()?;
        let mut settings = Vec::new();
        if algo.default_params().values().get("seed").is_some() {
            settings.push(("seed".to_string(), a.seed.to_string()));
        }
        let p = Params::with_settings(algo, &settings)?;
        p.check()?;
        models.push((algo.name().to_string(), p));
    }
    if models.is_empty() {
        bail!("--algos is empty; e.g. --algos svd,svdpp,item-knn,ials,popularity");
    }
    let env = open_env(g).await?;
    let bar = Bar::new(g.no_progress);
    let (ratings, source) = match (&a.train, &a.test) {
        (Some(tr), Some(te)) => {
            let train = SavedRatings::read(tr)?.ratings;
            let test = SavedRatings::read(te)?.ratings;
            (None, Some((train, test)))
        }
        (Some(_), None) | (None, Some(_)) => bail!("pass both --train and --test, or neither (then --split applies to --table)"),
        (None, None) => {
            let t = a.table.parse()?;
            let (all, _) = reel_pipeline::tables::read_ratings(&env.lake, &t, None).await?;
            (Some(all), None)
        }
    };
    let movies = read_movies(&env.lake).await.unwrap_or_default();
    let mut catalogue_ids: Vec<i64> = movies.keys().copied().collect();
    catalogue_ids.sort_unstable();
    let topn = TopN { k: a.k, ..TopN::default() };
    // One step per model (compare) or per fold of a model (cross-validation).
    let steps = match (&ratings, a.split.parse::<SplitSpec>()) {
        (Some(_), Ok(SplitSpec::KFold { k, .. })) => models.len() * k,
        _ => models.len(),
    };
    reel_pipeline::Progress::begin(&bar, "comparing", Some(steps as u64));
    let mut progress = |p: &eval::Progress<'_>| match p {
        eval::Progress::Model { row, .. } => {
            reel_pipeline::Progress::message(&bar, &row.model);
            reel_pipeline::Progress::advance(&bar, 1);
        }
        eval::Progress::Fold { .. } => reel_pipeline::Progress::advance(&bar, 1),
        _ => {}
    };
    let comparison = match (ratings, source) {
        (_, Some((train, test))) => {
            let mut opts = EvalOptions::rating().with_topn(topn);
            let catalogue = if catalogue_ids.is_empty() { eval::Catalogue::from_ratings(&[&train, &test]) } else { eval::Catalogue::new(catalogue_ids.clone()) };
            opts = opts.with_catalogue(catalogue);
            tokio::task::block_in_place(|| eval::compare(&models, &train, &test, &opts, &mut progress))?
        }
        (Some(all), None) => {
            let spec: SplitSpec = a.split.parse()?;
            let splits = spec.split(&all, a.seed)?;
            let catalogue = if catalogue_ids.is_empty() { eval::Catalogue::from_ratings(&[&all]) } else { eval::Catalogue::new(catalogue_ids.clone()) };
            let opts = EvalOptions::rating().with_topn(topn).with_catalogue(catalogue);
            if splits.len() > 1 {
                let mut rows = Rows::new(vec!["algorithm", "folds", "rmse", "mae", "ndcg@k", "precision@k", "fit_seconds"]);
                let mut results = Vec::new();
                for (name, p) in &models {
                    let cv = tokio::task::block_in_place(|| eval::cross_validate(p, eval::CvData { ratings: &all, splits: &splits }, &opts, &mut progress))?;
                    let ms = |m: Option<eval::MeanStd>| m.map_or(String::new(), |m| format!("{:.4} ± {:.4}", m.mean, m.std));
                    rows.push(vec![
                        name.clone(),
                        cv.folds.len().to_string(),
                        ms(cv.rmse),
                        ms(cv.mae),
                        ms(cv.ranking.as_ref().map(|r| r.ndcg)),
                        ms(cv.ranking.as_ref().map(|r| r.precision)),
                        format!("{:.3}", cv.fit_seconds),
                    ]);
                    results.push(cv);
                }
                reel_pipeline::Progress::end(&bar);
                print(g.format, &rows, &results)?;
                return Ok(ExitCode::SUCCESS);
            }
            let (train, test) = splits[0].apply(&all)?;
            tokio::task::block_in_place(|| eval::compare(&models, &train, &test, &opts, &mut progress))?
        }
        (None, None) => bail!("no data to compare on"),
    };
    reel_pipeline::Progress::end(&bar);
    let mut rows = Rows::new(vec!["algorithm", "rmse", "mae", "precision@k", "recall@k", "ndcg@k", "map@k", "coverage", "fit_seconds"]);
    let f = |x: Option<f64>| x.map_or(String::new(), |v| format!("{v:.4}"));
    for r in &comparison.rows {
        rows.push(vec![
            r.model.clone(),
            f(r.rmse),
            f(r.mae),
            f(r.precision),
            f(r.recall),
            f(r.ndcg),
            f(r.map),
            f(r.coverage),
            format!("{:.3}", r.fit_seconds),
        ]);
    }
    print(g.format, &rows, &comparison.rows)?;
    Ok(ExitCode::SUCCESS)
}

fn movie_row(rank: usize, s: &Scored, movies: &HashMap<i64, MovieInfo>) -> Vec<String> {
    let m = movies.get(&s.item);
    vec![
        rank.to_string(),
        s.item.to_string(),
        m.map(|m| m.title.clone()).unwrap_or_default(),
        m.map(|m| m.genres.join("|")).unwrap_or_default(),
        format!("{:.4}", s.score),
    ]
}

#[derive(Serialize)]
struct ListJson<'a> {
    model: &'a str,
    version: i64,
    algorithm: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fallback: Option<String>,
    items: Vec<ItemJson<'a>>,
}

#[derive(Serialize)]
struct ItemJson<'a> {
    movie_id: i64,
    title: Option<&'a str>,
    genres: Option<&'a [String]>,
    score: f32,
}

fn items_json<'a>(list: &[Scored], movies: &'a HashMap<i64, MovieInfo>) -> Vec<ItemJson<'a>> {
    list.iter()
        .map(|s| {
            let m = movies.get(&s.item);
            ItemJson { movie_id: s.item, title: m.map(|m| m.title.as_str()), genres: m.map(|m| m.genres.as_slice()), score: s.score }
        })
        .collect()
}

pub async fn recommend_cmd(g: &GlobalArgs, a: RecommendArgs) -> Result<ExitCode> {
    if a.k == 0 || a.k > 1000 {
        bail!("-k {} is out of range; ask for 1 to 1000 movies", a.k);
    }
    let env = open_env(g).await?;
    let v = train::resolve(&env, &a.model).await?;
    let model = train::load_model(&env, &v).await?;
    let movies = read_movies(&env.lake).await.unwrap_or_default();
    let t = "clean.ratings".parse()?;
    let (seen_batches, _) = select(&env.lake, &t, None, "movie_id", Some(&format!("user_id = {}", a.user))).await?;
    let mut seen = std::collections::HashSet::new();
    for b in &seen_batches {
        let col = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Int64)?;
        let col = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(&col);
        seen.extend(col.values().iter().copied());
    }
    let genre = a.genre.as_ref().map(|g| g.to_lowercase());
    if let Some(gn) = &genre {
        if !movies.values().any(|m| m.genres.iter().any(|x| x.to_lowercase() == *gn)) {
            let mut all: Vec<&String> = movies.values().flat_map(|m| m.genres.iter()).collect();
            all.sort();
            all.dedup();
            bail!("no movie has genre {:?}; genres: {}", a.genre.as_deref().unwrap_or(""), all.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "));
        }
    }
    let items = model.items().clone();
    let exclude = |i: u32| {
        let id = items.id(i);
        seen.contains(&id) || genre.as_ref().is_some_and(|gn| !movies.get(&id).is_some_and(|m| m.genres.iter().any(|x| x.to_lowercase() == *gn)))
    };
    let (list, fallback) = recommend(model.as_ref(), a.user, a.k, &exclude);
    let mut rows = Rows::new(vec!["rank", "movie_id", "title", "genres", "score"]);
    for (k, s) in list.iter().enumerate() {
        rows.push(movie_row(k + 1, s, &movies));
    }
    if g.format == Format::Table {
        println!("Top {} for user {} from {}@{} ({}), excluding {} rated movies{}:", a.k, a.user, v.name, v.version, v.algorithm, seen.len(),
            a.genre.as_ref().map(|g| format!(", genre {g}")).unwrap_or_default());
        if let Some(f) = &fallback {
            println!("(fallback: {f})");
        }
    }
    print(g.format, &rows, &ListJson { model: &v.name, version: v.version, algorithm: &v.algorithm, fallback: fallback.map(|f| f.to_string()), items: items_json(&list, &movies) })?;
    Ok(ExitCode::SUCCESS)
}

pub async fn similar_cmd(g: &GlobalArgs, a: SimilarArgs) -> Result<ExitCode> {
    if a.k == 0 || a.k > 1000 {
        bail!("-k {} is out of range; ask for 1 to 1000 movies", a.k);
    }
    let env = open_env(g).await?;
    let v = train::resolve(&env, &a.model).await?;
    let model = train::load_model(&env, &v).await?;
    let movies = read_movies(&env.lake).await.unwrap_or_default();
    let Some(list) = similar(model.as_ref(), a.movie, a.k) else {
        if model.items().get(a.movie).is_none() {
            bail!("movie {} is not known to {}@{}; check the id with: reelhouse sql \"SELECT * FROM clean.movies WHERE movie_id = {}\"", a.movie, v.name, v.version, a.movie);
        }
        bail!("{}@{} ({}) has no notion of similar movies; train an item-knn, ials or content model and pass --model NAME", v.name, v.version, v.algorithm);
    };
    let mut rows = Rows::new(vec!["rank", "movie_id", "title", "genres", "similarity"]);
    for (k, s) in list.iter().enumerate() {
        rows.push(movie_row(k + 1, s, &movies));
    }
    if g.format == Format::Table {
        let title = movies.get(&a.movie).map(|m| m.title.as_str()).unwrap_or("?");
        println!("Movies like {} {title} from {}@{} ({}):", a.movie, v.name, v.version, v.algorithm);
    }
    print(g.format, &rows, &ListJson { model: &v.name, version: v.version, algorithm: &v.algorithm, fallback: None, items: items_json(&list, &movies) })?;
    Ok(ExitCode::SUCCESS)
}

fn short_metrics(m: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    for key in ["rmse", "mae", "ndcg_at_k", "precision_at_k", "roc_auc", "macro_f1", "accuracy", "r2"] {
        if let Some(x) = m.get(key).and_then(|x| x.as_f64()) {
            parts.push(format!("{key}={x:.4}"));
        }
    }
    parts.join(" ")
}

pub async fn models_cmd(g: &GlobalArgs, cmd: ModelsCommand) -> Result<ExitCode> {
    let env = open_env(g).await?;
    match cmd {
        ModelsCommand::List => {
            let mut rows = Rows::new(vec!["model", "versions", "champion", "challenger", "latest", "algorithm", "metrics"]);
            let mut all = Vec::new();
            for name in env.catalog.model_names().await? {
                let versions = env.catalog.model_versions(&name).await?;
                let aliases = env.catalog.model_aliases(&name).await?;
                let alias = |a: &str| aliases.iter().find(|(x, _)| x == a).map(|(_, v)| v.to_string()).unwrap_or_default();
                if let Some(latest) = versions.first() {
                    rows.push(vec![
                        name.clone(),
                        versions.len().to_string(),
                        alias("champion"),
                        alias("challenger"),
                        latest.version.to_string(),
                        latest.algorithm.clone(),
                        short_metrics(&latest.metrics),
                    ]);
                }
                all.extend(versions);
            }
            if all.is_empty() && g.format == Format::Table {
                println!("No models yet. Train one: reelhouse train recommender --algo svd");
                return Ok(ExitCode::from(1));
            }
            print(g.format, &rows, &all)?;
            Ok(ExitCode::SUCCESS)
        }
        ModelsCommand::Show(a) => {
            let v = train::resolve(&env, &a.model).await?;
            if g.format == Format::Table {
                println!("{}\n", v.card.trim_end());
                println!("Version {} of {} (aliases: {}), registered {}", v.version, v.name,
                    if v.aliases.is_empty() { "none".to_string() } else { v.aliases.join(", ") }, v.created_at.to_rfc3339());
                println!("Artifact {} ({} bytes, sha256 {})", v.artifact, v.artifact_bytes, v.artifact_sha256);
                let mut rows = Rows::new(vec!["version", "algorithm", "aliases", "metrics", "created"]);
                for x in env.catalog.model_versions(&v.name).await? {
                    rows.push(vec![x.version.to_string(), x.algorithm.clone(), x.aliases.join(","), short_metrics(&x.metrics), x.created_at.to_rfc3339()]);
                }
                print(Format::Table, &rows, &())?;
            } else {
                let rows = Rows::new(vec!["version"]);
                print(g.format, &rows, &v)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelsCommand::Promote(a) => {
            let bar = Bar::new(g.no_progress);
            let (name, version) = match a.model.split_once('@') {
                Some((n, v)) => (n.to_string(), v.parse::<i64>().with_context(|| format!("{v:?} is not a version number"))?),
                None => {
                    let Some(v) = a.version else { bail!("say which version: reelhouse models promote {}@VERSION", a.model) };
                    (a.model.clone(), v)
                }
            };
            let p = train::promote(&env, &name, version, &a.alias, a.force, &bar).await?;
            let mut rows = Rows::new(vec!["model", "version", "alias", "promoted", "metric", "candidate", "incumbent", "reason"]);
            let f = |x: Option<f64>| x.map_or(String::new(), |v| format!("{v:.4}"));
            rows.push(vec![p.name.clone(), p.version.to_string(), p.alias.clone(), p.promoted.to_string(), p.metric.clone().unwrap_or_default(), f(p.candidate), f(p.incumbent), p.reason.clone()]);
            if g.format == Format::Table {
                println!("{}", p.reason);
            } else {
                print(g.format, &rows, &p)?;
            }
            Ok(if p.promoted { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        ModelsCommand::Compare(a) => {
            let mut rows = Rows::new(vec!["model", "algorithm", "aliases", "rmse", "mae", "ndcg@k", "precision@k", "fit_seconds", "params"]);
            let mut all = Vec::new();
            for spec in &a.models {
                let v = train::resolve(&env, spec).await?;
                let m = &v.metrics;
                let f = |k: &str| m.get(k).and_then(|x| x.as_f64()).map_or(String::new(), |x| format!("{x:.4}"));
                rows.push(vec![
                    format!("{}@{}", v.name, v.version),
                    v.algorithm.clone(),
                    v.aliases.join(","),
                    f("rmse"),
                    f("mae"),
                    f("ndcg_at_k"),
                    f("precision_at_k"),
                    v.training.get("fit_seconds").and_then(|x| x.as_f64()).map_or(String::new(), |x| format!("{x:.3}")),
                    v.params.to_string(),
                ]);
                all.push(v);
            }
            print(g.format, &rows, &all)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub async fn tune_cmd(g: &GlobalArgs, a: TuneArgs) -> Result<ExitCode> {
    let algo: Algorithm = a.algo.parse()?;
    let space = eval::SearchSpace::parse(&a.space)?;
    let metric: eval::Metric = a.metric.parse()?;
    let mut candidates = match a.random {
        Some(n) => space.sample(n, a.seed)?,
        None => space.grid()?,
    };
    if algo.default_params().values().get("seed").is_some() {
        for c in &mut candidates {
            if !c.iter().any(|(k, _)| k == "seed") {
                c.push(("seed".into(), a.seed.to_string()));
            }
        }
    }
    let env = open_env(g).await?;
    let (all, folds) = match &a.ratings {
        Some(path) => {
            let saved = SavedRatings::read(path)?;
            (saved.ratings, saved.folds)
        }
        None => (reel_pipeline::tables::read_ratings(&env.lake, &a.table.parse()?, None).await?.0, None),
    };
    let splits = match folds {
        Some(f) if a.ratings.is_some() => f.splits(),
        _ => a.split.parse::<SplitSpec>()?.split(&all, a.seed)?,
    };
    let mut opts = EvalOptions::rating();
    if metric.is_ranking() {
        let catalogue = eval::Catalogue::from_ratings(&[&all]);
        opts = opts.with_topn(TopN { k: a.k, ..TopN::default() }).with_catalogue(catalogue);
    }
    let bar = Bar::new(g.no_progress);
    let total = (candidates.len() * splits.len()) as u64;
    reel_pipeline::Progress::begin(&bar, "tuning", Some(total));
    let mut progress = |p: &eval::Progress<'_>| {
        if let eval::Progress::Fold { candidate, candidates, .. } = p {
            reel_pipeline::Progress::message(&bar, &format!("candidate {}/{candidates}", candidate + 1));
            reel_pipeline::Progress::advance(&bar, 1);
        }
    };
    let result = tokio::task::block_in_place(|| {
        eval::search(algo, &candidates, metric, eval::CvData { ratings: &all, splits: &splits }, &opts, &mut progress)
    })?;
    reel_pipeline::Progress::end(&bar);
    let mut rows = Rows::new(vec!["rank", "settings", "rmse", "mae", "ndcg@k", "fit_seconds"]);
    let ms = |m: Option<eval::MeanStd>| m.map_or(String::new(), |m| format!("{:.4} ± {:.4}", m.mean, m.std));
    for (k, c) in result.candidates.iter().enumerate() {
        let shown: Vec<String> = c.settings.iter().filter(|(n, _)| n != "seed").map(|(n, v)| format!("{n}={v}")).collect();
        rows.push(vec![
            (k + 1).to_string(),
            shown.join(" "),
            ms(c.rmse),
            ms(c.mae),
            ms(c.ranking.as_ref().map(|r| r.ndcg)),
            format!("{:.3}", c.fit_seconds),
        ]);
    }
    if g.format == Format::Table {
        println!("{} candidates of {algo}, {} folds each, sorted by {}:", result.candidates.len(), splits.len(), metric.name());
    }
    print(g.format, &rows, &result)?;
    if g.format == Format::Table {
        if let Some(best) = result.best() {
            let flags: Vec<String> = best.settings.iter().map(|(n, v)| format!("--param {n}={v}")).collect();
            println!("Train the best: reelhouse train recommender --algo {algo} {}", flags.join(" "));
        }
    }
    Ok(ExitCode::SUCCESS)
}
