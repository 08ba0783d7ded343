//! Integration tests of the serving API, through the router with `oneshot` (no socket).
mod classify;
mod common;
mod events;
mod models;
mod ops;
mod predict;
mod recommend;
