//! Integration tests of reel-ingest: whole releases through the public API.
#![allow(clippy::unwrap_used)]

mod api;
mod common;
mod corrupt;
mod csv;
mod dat;
mod grouping;
mod ml100k;
mod tmdb;
