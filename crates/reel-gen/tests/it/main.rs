//! Integration tests of reel-gen: one binary, a module per area.
mod movielens;
