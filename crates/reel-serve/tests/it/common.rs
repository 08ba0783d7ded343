//! A small synthetic world: 40 users, 30 movies in two genres, an SVD model (and a second
//! version), a memory source and a memory sink.
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures::future::BoxFuture;
use http_body_util::BodyExt as _;
use reel_ml::data::{Dataset, Ratings, Scale};
use reel_ml::model::{Model, Quiet};
use reel_ml::reco::{Algorithm, SvdParams};
use reel_serve::{
    AppState, Catalogue, Loaded, LoadedClassic, MemorySink, MemorySource, ModelSource, Movie, PromoteRequest, PromotionInfo, ServeParams, ServerState,
    VersionInfo,
};
use serde_json::Value;
use tower::ServiceExt as _;

pub const TOKEN: &str = "test-token-0123456789";

/// Users 1..=40 rate movies 101..=130: odd users like movies 101..=115 ("Comedy"), even
/// users the others ("Drama"); each user rates about four movies in seven. Which ones
/// mixes odd and even users on the same movies: a rule that gave odd users only even
/// movies and even users only odd ones split the data in two halves that share nothing,
/// and no model can learn from one half what the other half likes.
pub fn ratings() -> Ratings {
    let mut r = Ratings::default();
    for u in 1..=40i64 {
        for i in 101..=130i64 {
            if (3 * (u + i)) % 7 < 3 {
                continue;
            }
            let likes = (u % 2 == 1) == (i <= 115);
            let x = if likes { 4.0 + ((u + i) % 2) as f32 } else { 1.0 + ((u + i) % 2) as f32 };
            r.push(u, i, x, 1_000_000 + u * 100 + i);
        }
    }
    r
}

pub fn movies() -> Vec<Movie> {
    (101..=131)
        .map(|i| Movie {
            movie_id: i,
            title: format!("Movie {i}"),
            year: Some(1990 + i % 10),
            genres: vec![if i <= 115 { "Comedy".into() } else { "Drama".into() }],
        })
        .collect()
}

pub fn svd(seed: u64) -> Arc<dyn Model> {
    let data = Dataset::try_new(&ratings(), Scale::ONE_TO_FIVE).expect("valid");
    let p = SvdParams { factors: 8, epochs: 30, lr: 0.01, seed, ..SvdParams::default() };
    Arc::new(p.check().expect("valid").fit(&data, &mut Quiet).expect("fits"))
}

pub fn popularity() -> Arc<dyn Model> {
    let data = Dataset::try_new(&ratings(), Scale::ONE_TO_FIVE).expect("valid");
    Arc::from(Algorithm::Popularity.default_params().fit(&data, &mut Quiet).expect("fits"))
}

pub struct World {
    pub state: AppState,
    pub source: MemorySource,
    pub sink: MemorySink,
    pub model: Arc<dyn Model>,
}

pub fn params() -> ServeParams {
    ServeParams { token: Some(TOKEN.into()), poll: None, ..ServeParams::default() }
}

/// recommender@1 (champion, rmse 0.9) and recommender@2 (rmse 0.8, not promoted).
pub async fn world_with(p: ServeParams, slow: Option<Duration>) -> World {
    let mem = MemorySource::new();
    let model = svd(1);
    let v1 = mem.add("recommender", model.clone(), serde_json::json!({"rmse": 0.9}));
    mem.add("recommender", svd(2), serde_json::json!({"rmse": 0.8}));
    mem.set_alias("recommender", "champion", v1);
    let sink = MemorySink::new();
    let src: Arc<dyn ModelSource> = match slow {
        Some(d) => Arc::new(SlowSource(mem.clone(), d)),
        None => Arc::new(mem.clone()),
    };
    let state = ServerState::new(p.check().expect("valid"), src, Catalogue::new(movies(), &ratings()), Arc::new(sink.clone()), None);
    state.load_models().await.expect("loads");
    World { state, source: mem, sink, model }
}

pub async fn world() -> World {
    world_with(params(), None).await
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// Asserts a 4xx JSON error with `field`, returns the message.
    pub fn error(&self, status: u16, field: Option<&str>) -> String {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        let j = self.json();
        assert_eq!(j["field"].as_str(), field, "{}", self.text);
        j["error"].as_str().expect("an error message").to_string()
    }
}

pub async fn send(state: &AppState, req: Request<Body>) -> Answer {
    let resp = reel_serve::app(state.clone()).oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    Answer { status, headers, text: String::from_utf8_lossy(&bytes).into_owned() }
}

pub async fn get(state: &AppState, uri: &str) -> Answer {
    send(state, Request::get(uri).body(Body::empty()).expect("request")).await
}

pub async fn post(state: &AppState, uri: &str, body: &str, token: Option<&str>) -> Answer {
    let mut b = Request::post(uri).header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    send(state, b.body(Body::from(body.to_string())).expect("request")).await
}

/// A source that waits `delay` before listing or promoting (to hold a request in flight).
pub struct SlowSource(pub MemorySource, pub Duration);

impl ModelSource for SlowSource {
    fn alias<'a>(&'a self, name: &'a str, alias: &'a str) -> BoxFuture<'a, reel_serve::Result<Option<i64>>> {
        self.0.alias(name, alias)
    }
    fn load<'a>(&'a self, name: &'a str, version: i64) -> BoxFuture<'a, reel_serve::Result<Loaded>> {
        self.0.load(name, version)
    }
    fn load_classic<'a>(&'a self, name: &'a str, version: i64) -> BoxFuture<'a, reel_serve::Result<LoadedClassic>> {
        self.0.load_classic(name, version)
    }
    fn list(&self) -> BoxFuture<'_, reel_serve::Result<Vec<VersionInfo>>> {
        Box::pin(async move {
            tokio::time::sleep(self.1).await;
            self.0.list().await
        })
    }
    fn promote<'a>(&'a self, req: &'a PromoteRequest) -> BoxFuture<'a, reel_serve::Result<PromotionInfo>> {
        Box::pin(async move {
            tokio::time::sleep(self.1).await;
            self.0.promote(req).await
        })
    }
}
