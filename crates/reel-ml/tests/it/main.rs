//! Integration tests of reel-ml on the peers' ML-100K split (testdata/ml-100k-splits).
mod classic;
mod common;
mod eval;
mod implicit;
mod knn;
mod mf;
mod sentiment;
