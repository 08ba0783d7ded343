//! `reelhouse generate`
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use reel_pipeline::Progress;
use serde::Serialize;

use crate::cli::{Format, GenerateCommand, GenerateMetadataArgs, GlobalArgs};
use crate::progress::Bar;
use crate::render::{print, Rows};

#[derive(Serialize)]
struct Generated {
    out: String,
    ratings: u64,
    users: u64,
    movies: u64,
    tags: u64,
    links: u64,
    bytes: u64,
    seconds: f64,
}

pub fn run(g: &GlobalArgs, cmd: GenerateCommand) -> Result<ExitCode> {
    let args = match cmd {
        GenerateCommand::Movielens(a) => a,
        GenerateCommand::MoviesMetadata(a) => return metadata(g, a),
    };
    let params = reel_gen::MovieLensGenParams::new(args.ratings).seed(args.seed).check()?;
    let bar = Bar::new(g.no_progress);
    bar.begin("ratings", Some(args.ratings));
    let start = Instant::now();
    let report = params
        .write_csv(&args.out, &|n| bar.advance(n))
        .with_context(|| format!("generating MovieLens files in {}", args.out.display()))?;
    bar.end();
    let out = Generated {
        out: args.out.display().to_string(),
        ratings: report.ratings,
        users: report.users,
        movies: report.movies,
        tags: report.tags,
        links: report.links,
        bytes: report.bytes,
        seconds: start.elapsed().as_secs_f64(),
    };
    if g.format == Format::Table {
        println!(
            "Wrote {} ratings by {} users on {} movies ({} tags, {} links, {:.1} MB) to {} in {:.1} s",
            out.ratings, out.users, out.movies, out.tags, out.links, out.bytes as f64 / 1e6, out.out, out.seconds
        );
        println!("Next: reelhouse ingest movielens {}", out.out);
    } else {
        let mut rows = Rows::new(vec!["out", "ratings", "users", "movies", "tags", "links", "bytes", "seconds"]);
        rows.push(vec![
            out.out.clone(), out.ratings.to_string(), out.users.to_string(), out.movies.to_string(),
            out.tags.to_string(), out.links.to_string(), out.bytes.to_string(), format!("{:.3}", out.seconds),
        ]);
        print(g.format, &rows, &out)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct GeneratedMetadata {
    path: String,
    records: u64,
    companies: u64,
    bytes: u64,
    seconds: f64,
}

fn metadata(g: &GlobalArgs, args: GenerateMetadataArgs) -> Result<ExitCode> {
    let params = reel_gen::MetadataGenParams::new(args.movies).seed(args.seed).check()?;
    let bar = Bar::new(g.no_progress);
    bar.begin("movies", Some(args.movies));
    let start = Instant::now();
    let report = params
        .write_csv(&args.out, &|n| bar.advance(n))
        .with_context(|| format!("generating movies_metadata.csv in {}", args.out.display()))?;
    bar.end();
    let out = GeneratedMetadata {
        path: report.path.display().to_string(),
        records: report.records,
        companies: report.companies,
        bytes: report.bytes,
        seconds: start.elapsed().as_secs_f64(),
    };
    if g.format == Format::Table {
        println!(
            "Wrote {} movies ({} production companies, {:.1} MB) to {} in {:.1} s",
            out.records, out.companies, out.bytes as f64 / 1e6, out.path, out.seconds
        );
        println!("Next: reelhouse ingest movies-metadata {}", out.path);
    } else {
        let mut rows = Rows::new(vec!["path", "records", "companies", "bytes", "seconds"]);
        rows.push(vec![out.path.clone(), out.records.to_string(), out.companies.to_string(), out.bytes.to_string(), format!("{:.3}", out.seconds)]);
        print(g.format, &rows, &out)?;
    }
    Ok(ExitCode::SUCCESS)
}
