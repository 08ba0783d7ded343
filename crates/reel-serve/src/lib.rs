//! The serving API of reelhouse: rating predictions, top-N recommendations, similar movies,
//! classification of tabular rows and review sentiment, a speed layer that folds new ratings
//! into users at once, and model swaps with no failed request. axum on hyper (HTTP/1), one
//! tower layer for shedding, timeouts, metrics and access logs.
//!
//! ```text
//!            registry (alias "champion") ──poll / POST /models/{name}/promote──┐
//!                                                                              v
//!  request ─> Guard (shed, timeout, metrics) ─> route ─> Slot (ArcSwap<Served>) ─> Model
//!                                                 │            └ folded-in users (speed layer)
//!                         POST /events ───────────┴─> fold-in ─> EventBuffer ─batches─> raw.events
//! ```
//!
//! Models come from a [`ModelSource`] (the registry and the lake in a workspace; memory in
//! tests), events go to an [`EventSink`]. [`app`] builds the router, so tests call it with
//! `oneshot` and no socket; [`serve`] runs it on a listener with the poller, the flusher
//! and graceful shutdown.
//!
//! ```
//! use std::sync::Arc;
//! use axum::body::Body;
//! use axum::http::Request;
//! use reel_ml::data::{Dataset, Ratings, Scale};
//! use reel_ml::model::Quiet;
//! use reel_ml::reco::Algorithm;
//! use reel_serve::{Catalogue, MemorySink, MemorySource, ServeParams, ServerState};
//! use tower::ServiceExt as _;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let mut r = Ratings::default();
//! r.push(1, 10, 4.0, 0);
//! r.push(2, 10, 2.0, 0);
//! let model = Algorithm::Baseline.default_params().fit(&Dataset::try_new(&r, Scale::ONE_TO_FIVE)?, &mut Quiet)?;
//! let source = MemorySource::new();
//! let v = source.add("recommender", Arc::from(model), serde_json::json!({}));
//! source.set_alias("recommender", "champion", v);
//!
//! let params = ServeParams::default().check()?;
//! let state = ServerState::new(params, Arc::new(source), Catalogue::new(vec![], &r), Arc::new(MemorySink::new()), None);
//! state.load_models().await?;
//! let req = Request::post("/predict")
//!     .header("content-type", "application/json")
//!     .body(Body::from(r#"{"user_id": 1, "movie_id": 10}"#))?;
//! let resp = reel_serve::app(state).oneshot(req).await?;
//! assert_eq!(resp.status(), 200);
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```
#![deny(missing_docs)]

pub mod api;
pub mod catalogue;
mod config;
mod error;
pub mod guard;
mod listener;
pub mod metrics;
pub mod openapi;
pub mod served;
pub mod source;
pub mod speed;
mod state;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use catalogue::{Catalogue, Movie, Rated};
pub use config::{MAX_BATCH, MAX_ID, MAX_K, ServeParams, ValidServeParams, valid_name};
pub use error::{Error, Result};
pub use guard::AccessLog;
pub use served::{Role, ServedClassic};
pub use source::{ClassicModel, Loaded, LoadedClassic, MemorySource, ModelSource, PromoteRequest, PromotionInfo, VersionInfo};
pub use speed::{Event, EventKind, EventSink, LakeSink, MemorySink};
pub use state::{AppState, Applied, ServerState, serve};

/// The router with every route and the guard layer, for `state`.
pub fn app(state: AppState) -> Router {
    let guard = guard::GuardLayer(state.guard.clone());
    let limit = state.params.body_limit;
    Router::new()
        .route("/predict", post(api::predict))
        .route("/recommend/{user_id}", get(api::recommend))
        .route("/similar/{movie_id}", get(api::similar))
        .route("/movies/{movie_id}", get(api::movie))
        .route("/users/{user_id}/history", get(api::history))
        .route("/events", post(api::events))
        .route("/models", get(api::models))
        .route("/models/{name}/promote", post(api::promote))
        .route("/classify/{model}", post(api::classify))
        .route("/sentiment", post(api::sentiment))
        .route("/health", get(api::health))
        .route("/ready", get(api::ready))
        .route("/metrics", get(api::metrics))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/docs", get(openapi::docs))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::wrong_method)
        // One `Router::layer` call: each call wraps every route in another boxed service.
        .layer(
            tower::ServiceBuilder::new()
                .layer(guard)
                .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
                .layer(DefaultBodyLimit::max(limit)),
        )
        .with_state(state)
}

fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let what = err
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into());
    use axum::response::IntoResponse as _;
    api::ApiError::Internal(format!("a handler panicked (a bug; please report it): {what}")).into_response()
}
