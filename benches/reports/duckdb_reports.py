#!/usr/bin/env python3
"""The report pack, computed independently with DuckDB over reelhouse's own Parquet files.

    python3 benches/reports/duckdb_reports.py --lake WS/lake --out testdata/reports/golden
    python3 benches/reports/duckdb_reports.py --lake WS/lake --time --runs 3   # timings only

The SQL below is written for DuckDB on its own (not copied from reelhouse), so a match is
a real cross-check. Each Delta table is read as the Parquet files its transaction log says
are live (add actions minus remove actions), which is exactly the table's current version.
"""
import argparse
import glob
import json
import os
import sys
import time

import duckdb

TABLES = [
    "clean.ratings", "clean.movies", "clean.movie_genres",
    "clean.tmdb_movies", "clean.tmdb_genres", "clean.tmdb_movie_genres",
    "clean.tmdb_companies", "clean.tmdb_movie_companies",
]

# name -> (needed tables, SQL). Variants with parameters are named NAME--param-value.
REPORTS = {
    "rating-histogram": (["clean.ratings"], """
        SELECT rating, count(*) AS n_ratings,
               round(100.0 * count(*) / sum(count(*)) OVER (), 3) AS pct
        FROM clean.ratings GROUP BY rating ORDER BY rating"""),
    "films-per-year": (["clean.movies"], """
        SELECT CAST(CASE WHEN release_date IS NOT NULL THEN year(release_date) ELSE year END AS BIGINT) AS release_year,
               count(*) AS n_films
        FROM clean.movies GROUP BY 1 ORDER BY 1 NULLS LAST"""),
    "genre-frequency": (["clean.movie_genres", "clean.ratings"], """
        SELECT g.genre, count(DISTINCT g.movie_id) AS n_films,
               coalesce(sum(rc.n), 0) AS n_ratings
        FROM clean.movie_genres g
        LEFT JOIN (SELECT movie_id, count(*) AS n FROM clean.ratings GROUP BY movie_id) rc USING (movie_id)
        GROUP BY g.genre ORDER BY n_films DESC, g.genre"""),
    "top-rated": (["clean.ratings", "clean.movies"], """
        SELECT m.movie_id, m.title AS movie_title, count(*) AS n_ratings, avg(r.rating) AS avg_rating
        FROM clean.ratings r JOIN clean.movies m USING (movie_id)
        GROUP BY ALL HAVING count(*) >= 50
        ORDER BY avg_rating DESC, n_ratings DESC, m.movie_id LIMIT 15"""),
    "top-rated--bayesian-true": (["clean.ratings", "clean.movies"], """
        WITH s AS (SELECT movie_id, count(*) AS v, avg(rating) AS r FROM clean.ratings GROUP BY movie_id),
             c AS (SELECT avg(rating) AS c FROM clean.ratings)
        SELECT m.movie_id, m.title AS movie_title, s.v AS n_ratings, s.r AS avg_rating,
               (s.v * s.r + 50 * c.c) / (s.v + 50) AS bayes_avg
        FROM s JOIN clean.movies m USING (movie_id), c
        WHERE s.v >= 50
        ORDER BY bayes_avg DESC, n_ratings DESC, m.movie_id LIMIT 15"""),
    "company-year": (["clean.tmdb_movies", "clean.tmdb_companies", "clean.tmdb_movie_companies"], """
        SELECT c.company_id, c.name AS company, m.year, count(DISTINCT m.id) AS releases,
               sum(m.budget) AS budget, sum(m.revenue) AS revenue,
               sum(CASE WHEN m.budget IS NOT NULL AND m.revenue IS NOT NULL THEN m.revenue - m.budget END) AS profit,
               count(CASE WHEN m.budget IS NOT NULL AND m.revenue IS NOT NULL THEN 1 END) AS with_profit,
               avg(m.popularity) AS avg_popularity
        FROM clean.tmdb_companies c
        JOIN clean.tmdb_movie_companies mc USING (company_id)
        JOIN clean.tmdb_movies m ON m.id = mc.movie_id
        WHERE m.year IS NOT NULL
        GROUP BY c.company_id, c.name, m.year
        ORDER BY company, c.company_id, m.year"""),
    "company-year--agg-avg": (["clean.tmdb_movies", "clean.tmdb_companies", "clean.tmdb_movie_companies"], """
        SELECT c.company_id, c.name AS company, m.year, count(DISTINCT m.id) AS releases,
               avg(m.budget) AS budget, avg(m.revenue) AS revenue,
               avg(m.revenue - m.budget) AS profit,
               count(m.revenue - m.budget) AS with_profit,
               avg(m.popularity) AS avg_popularity
        FROM clean.tmdb_companies c
        JOIN clean.tmdb_movie_companies mc USING (company_id)
        JOIN clean.tmdb_movies m ON m.id = mc.movie_id
        WHERE m.year IS NOT NULL
        GROUP BY c.company_id, c.name, m.year
        ORDER BY company, c.company_id, m.year"""),
    "company-year-genre": (["clean.tmdb_movies", "clean.tmdb_companies", "clean.tmdb_movie_companies",
                            "clean.tmdb_genres", "clean.tmdb_movie_genres"], """
        WITH cm AS (
            SELECT c.company_id, c.name AS company, m.id, m.year
            FROM clean.tmdb_companies c
            JOIN clean.tmdb_movie_companies mc USING (company_id)
            JOIN clean.tmdb_movies m ON m.id = mc.movie_id
            WHERE m.year IS NOT NULL),
        totals AS (SELECT company_id, year, count(DISTINCT id) AS company_releases FROM cm GROUP BY ALL),
        tagged AS (
            SELECT cm.company_id, cm.company, cm.year, cm.id, coalesce(g.name, '(no genre)') AS genre
            FROM cm
            LEFT JOIN clean.tmdb_movie_genres mg ON mg.movie_id = cm.id
            LEFT JOIN clean.tmdb_genres g ON g.genre_id = mg.genre_id)
        SELECT t.company_id, t.company, t.year, t.genre, count(DISTINCT t.id) AS releases,
               any_value(totals.company_releases) AS company_releases
        FROM tagged t JOIN totals USING (company_id, year)
        GROUP BY t.company_id, t.company, t.year, t.genre
        ORDER BY t.company, t.company_id, t.year, t.genre"""),
    "genre-year": (["clean.tmdb_movies", "clean.tmdb_genres", "clean.tmdb_movie_genres"], """
        SELECT m.year, g.name AS genre, count(DISTINCT m.id) AS releases, avg(m.popularity) AS avg_popularity,
               sum(m.budget) AS budget, sum(m.revenue) AS revenue, sum(m.revenue - m.budget) AS profit
        FROM clean.tmdb_genres g
        JOIN clean.tmdb_movie_genres mg USING (genre_id)
        JOIN clean.tmdb_movies m ON m.id = mg.movie_id
        WHERE m.year IS NOT NULL
        GROUP BY m.year, g.name
        ORDER BY m.year, avg_popularity DESC NULLS LAST, genre"""),
}


def live_files(table_dir):
    """The Parquet files of a Delta table's current version, from its JSON log."""
    log = os.path.join(table_dir, "_delta_log")
    if glob.glob(os.path.join(log, "*.checkpoint*.parquet")):
        sys.exit(f"{table_dir} has a checkpoint; this script reads JSON logs only (rebuild the workspace)")
    live = {}
    for commit in sorted(glob.glob(os.path.join(log, "*.json"))):
        with open(commit) as f:
            for line in f:
                action = json.loads(line)
                if "add" in action:
                    live[action["add"]["path"]] = True
                elif "remove" in action:
                    live.pop(action["remove"]["path"], None)
    from urllib.parse import unquote
    return [os.path.join(table_dir, unquote(p)) for p in live]


def connect(lake):
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    present = set()
    for t in TABLES:
        zone, name = t.split(".")
        d = os.path.join(lake, zone, name)
        if not os.path.isdir(os.path.join(d, "_delta_log")):
            continue
        files = live_files(d)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {zone}")
        if files:
            lst = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet([{lst}])")
            present.add(t)
    return con, present


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lake", required=True, help="the workspace's lake folder")
    ap.add_argument("--out", help="write NAME.csv golden files here")
    ap.add_argument("--only", help="comma-separated report names")
    ap.add_argument("--time", action="store_true", help="print cold timings (connect, views, query, fetch)")
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(REPORTS)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        con, present = connect(args.lake)
        for name in names:
            need, sql = REPORTS[name]
            if not set(need) <= present:
                print(f"skip {name}: no {sorted(set(need) - present)}")
                continue
            path = os.path.join(args.out, f"{name}.csv")
            con.execute(f"COPY ({sql}) TO '{path}' (HEADER, DELIMITER ',')")
            print(f"wrote {path}")
    if args.time:
        timings = {}
        for _ in range(args.runs):
            for name in names:
                if "--" in name:
                    continue
                need, sql = REPORTS[name]
                t0 = time.perf_counter()
                con, present = connect(args.lake)
                if set(need) <= present:
                    rows = con.execute(sql).fetchall()
                    timings.setdefault(name, []).append((time.perf_counter() - t0, len(rows)))
                con.close()
        print(json.dumps({k: {"seconds": [s for s, _ in v], "rows": v[0][1]} for k, v in timings.items()}))


if __name__ == "__main__":
    main()
