//! The routes: request and response types, input checks, and [`ApiError`], the one place
//! errors become HTTP responses (`{"error": ..., "field": ...}`, 4xx for every bad input,
//! 5xx only for our own failures, whose details go to the log).
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use reel_ml::model::{Fallback, top_k};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::{MAX_BATCH, MAX_ID, MAX_K, valid_name};
use crate::served::{Role, Served, ServedClassic};
use crate::source::{ClassicModel, PromoteRequest, PromotionInfo, VersionInfo};
use crate::speed::{Event, EventKind};
use crate::state::AppState;

// ---------------------------------------------------------------------------------------
// Errors.

/// An error answer: `{"error": "...", "field": "user_id"}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong and what to do.
    pub error: String,
    /// The input field at fault, when one is.
    pub field: Option<String>,
    /// The gate's verdict, for a refused promotion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion: Option<PromotionInfo>,
}

/// Everything a request can fail with.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the input is wrong.
    BadRequest {
        /// Message.
        message: String,
        /// Field.
        field: Option<String>,
    },
    /// 401: no bearer token.
    Unauthorized(String),
    /// 403: a wrong token, or write routes are off.
    Forbidden(String),
    /// 404.
    NotFound {
        /// Message.
        message: String,
        /// Field.
        field: Option<String>,
    },
    /// 409: the request is valid but conflicts with what is served (a ranking-only model
    /// asked for a rating, a gate that refused).
    Conflict {
        /// Message.
        message: String,
        /// Field.
        field: Option<String>,
        /// The verdict of a refused promotion.
        promotion: Option<PromotionInfo>,
    },
    /// 413.
    TooLarge(String),
    /// 415.
    UnsupportedMediaType(String),
    /// 503: nothing loaded yet, or the event buffer is full.
    Unavailable(String),
    /// 500: our bug or a failing dependency; details logged, not shown.
    Internal(String),
}

impl ApiError {
    fn bad(message: impl Into<String>, field: impl Into<Option<String>>) -> Self {
        ApiError::BadRequest { message: message.into(), field: field.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, field, promotion) = match self {
            ApiError::BadRequest { message, field } => (StatusCode::BAD_REQUEST, message, field, None),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m, None, None),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m, None, None),
            ApiError::NotFound { message, field } => (StatusCode::NOT_FOUND, message, field, None),
            ApiError::Conflict { message, field, promotion } => (StatusCode::CONFLICT, message, field, promotion),
            ApiError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m, None, None),
            ApiError::UnsupportedMediaType(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, m, None, None),
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m, None, None),
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error (details are in the server log)".to_string(), None, None)
            }
        };
        let mut r = json(status, &ErrorBody { error, field, promotion });
        match status {
            StatusCode::UNAUTHORIZED => {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        r
    }
}

type ApiResult<T = Response> = Result<T, ApiError>;

/// A JSON response (serialisation of our own types cannot fail; if it did, a 500).
fn json<T: Serialize>(status: StatusCode, v: &T) -> Response {
    match serde_json::to_vec(v) {
        Ok(body) => {
            let mut r = (status, body).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "serialising a response failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

// ---------------------------------------------------------------------------------------
// Input.

/// The two headers the routes read, taken without copying the whole header map (axum's
/// `HeaderMap` extractor clones every header of every request).
#[derive(Debug, Default)]
pub struct Heads {
    content_type: Option<HeaderValue>,
    authorization: Option<HeaderValue>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Heads {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Heads {
            content_type: parts.headers.get(header::CONTENT_TYPE).cloned(),
            authorization: parts.headers.get(header::AUTHORIZATION).cloned(),
        })
    }
}

/// The body as JSON: checks the content type and the size, then parses with the path of
/// the field at fault.
fn parse_json<T: DeserializeOwned>(headers: &Heads, body: Result<Bytes, BytesRejection>) -> ApiResult<T> {
    let ct = headers.content_type.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !(mime.eq_ignore_ascii_case("application/json") || (mime.starts_with("application/") && mime.ends_with("+json"))) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "the body must be JSON sent with Content-Type: application/json (got {:?})",
            if ct.is_empty() { "none" } else { ct }
        )));
    }
    let bytes = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!("the body is larger than the limit; {}", r.body_text()))
        } else {
            ApiError::bad(format!("could not read the body: {}", r.body_text()), None)
        }
    })?;
    from_json(&bytes)
}

fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    // The plain parser first; only a refused body is parsed again to find the field at fault
    // (tracking the path costs on every request).
    if let Ok(v) = serde_json::from_slice(bytes) {
        return Ok(v);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v: T = serde_path_to_error::deserialize(&mut de).map_err(json_error)?;
    de.end().map_err(|e| ApiError::bad(format!("malformed JSON: {e}"), None))?;
    Ok(v)
}

fn json_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let inner = e.inner();
    match inner.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof | serde_json::error::Category::Io => {
            ApiError::bad(format!("malformed JSON: {inner}"), None)
        }
        serde_json::error::Category::Data => {
            let msg = inner.to_string();
            // "missing field `user_id`": the path stops at the object, the name is in the message.
            let missing = msg.strip_prefix("missing field `").and_then(|r| r.split('`').next()).map(str::to_string);
            let field = match (missing, path.as_str()) {
                (Some(m), ".") => Some(m),
                (Some(m), p) => Some(format!("{p}.{m}")),
                (None, ".") => None,
                (None, p) => Some(p.to_string()),
            };
            let shown = field.as_deref().unwrap_or("body");
            ApiError::bad(format!("{shown}: {msg}"), field)
        }
    }
}

fn check_id(field: &str, v: i64) -> ApiResult<i64> {
    check_id_in("", field, v)
}

/// `prefix` locates the object in a batch (`[3].`); the name is only built for an error.
fn check_id_in(prefix: &str, field: &str, v: i64) -> ApiResult<i64> {
    if (1..=MAX_ID).contains(&v) {
        Ok(v)
    } else {
        let field = format!("{prefix}{field}");
        Err(ApiError::bad(format!("{field} {v} is out of range; ids are integers from 1 to {MAX_ID}"), field))
    }
}

fn path_id(field: &str, p: Result<Path<String>, PathRejection>) -> ApiResult<i64> {
    let Path(raw) = p.map_err(|r| ApiError::bad(format!("{field}: {}", r.body_text()), field.to_string()))?;
    let v: i64 = raw.trim().parse().map_err(|_| {
        ApiError::bad(format!("{field} {raw:?} is not an integer; ids are integers from 1 to {MAX_ID}"), field.to_string())
    })?;
    check_id(field, v)
}

fn query<T: DeserializeOwned + Default>(q: Result<Query<T>, QueryRejection>, known: &str) -> ApiResult<T> {
    match q {
        Ok(Query(v)) => Ok(v),
        Err(r) => Err(ApiError::bad(format!("bad query string: {}; the parameters are {known}", r.body_text()), None)),
    }
}

fn parse_k(raw: Option<&str>, default: usize) -> ApiResult<usize> {
    let Some(s) = raw else { return Ok(default) };
    match s.trim().parse::<i64>() {
        Ok(k) if (1..=MAX_K as i64).contains(&k) => Ok(k as usize),
        Ok(k) => Err(ApiError::bad(format!("k = {k} is out of range; ask for 1 to {MAX_K}"), "k".to_string())),
        Err(_) => Err(ApiError::bad(format!("k = {s:?} is not an integer; ask for 1 to {MAX_K}"), "k".to_string())),
    }
}

fn parse_bool(field: &str, raw: Option<&str>, default: bool) -> ApiResult<bool> {
    match raw.map(str::trim) {
        None => Ok(default),
        Some("true") | Some("1") | Some("yes") => Ok(true),
        Some("false") | Some("0") | Some("no") => Ok(false),
        Some(s) => Err(ApiError::bad(format!("{field} = {s:?} is not true or false"), field.to_string())),
    }
}

fn served(st: &AppState, role: Role) -> ApiResult<arc_swap::Guard<Option<Arc<Served>>>> {
    let g = st.slot(role).current.load();
    if g.is_none() {
        return Err(ApiError::Unavailable(format!("no version of {} is loaded yet; retry shortly", st.slot(role).name)));
    }
    Ok(g)
}

/// Checks the bearer token of a write route (constant-time comparison).
fn authorize(st: &AppState, headers: &Heads) -> ApiResult<()> {
    let Some(token) = st.params.token.as_deref() else {
        return Err(ApiError::Forbidden(
            "write routes are disabled: the server has no token (set serve.token_env in reelhouse.toml and restart)".into(),
        ));
    };
    let Some(given) = headers.authorization.as_ref().and_then(|v| v.to_str().ok()) else {
        return Err(ApiError::Unauthorized("this route needs the header Authorization: Bearer <token>".into()));
    };
    let Some(given) = given.strip_prefix("Bearer ").or_else(|| given.strip_prefix("bearer ")) else {
        return Err(ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into()));
    };
    let (a, b) = (given.trim().as_bytes(), token.as_bytes());
    let same = a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
    if same { Ok(()) } else { Err(ApiError::Forbidden("the bearer token is wrong".into())) }
}

// ---------------------------------------------------------------------------------------
// POST /predict

/// A (user, movie) pair.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
pub struct PredictRequest {
    /// The user.
    #[schema(example = 196)]
    pub user_id: i64,
    /// The movie.
    #[schema(example = 242)]
    pub movie_id: i64,
}

/// A predicted rating.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PredictResponse<'a> {
    /// The rating, clipped to the scale.
    #[schema(example = 3.9)]
    pub predicted_rating: f32,
    /// The user.
    pub user_id: i64,
    /// The movie.
    pub movie_id: i64,
    /// The model served.
    pub model: &'a str,
    /// Its version.
    pub version: i64,
    /// Set when the user or movie was unknown: what the model answered with.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "unknown user: global mean + item bias")]
    pub fallback: Option<Fallback>,
    /// True when the user's vector comes from the speed layer (ratings posted to /events).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub folded_in: bool,
}

fn predict_one<'a>(s: &'a Served, r: PredictRequest, field: &str) -> ApiResult<PredictResponse<'a>> {
    let user = check_id_in(field, "user_id", r.user_id)?;
    let movie = check_id_in(field, "movie_id", r.movie_id)?;
    let m = s.model.as_ref();
    let u = m.users().get(user);
    let i = m.items().get(movie);
    let mut folded_in = false;
    let mut score = m.score(u, i);
    if let (Some(i), Some(f)) = (i, s.fold()) {
        if let Some(v) = s.folded(user) {
            if let Some(x) = f.score_with(&v, i) {
                score = reel_ml::model::Score { value: x, fallback: None };
                folded_in = true;
            }
        }
    }
    Ok(PredictResponse {
        predicted_rating: m.scale().clip(score.value),
        user_id: user,
        movie_id: movie,
        model: &s.info.name,
        version: s.info.version,
        fallback: score.fallback,
        folded_in,
    })
}

/// Predicts ratings: one pair in, one prediction out; or a list in, a list out.
#[utoipa::path(post, path = "/predict", tag = "predictions",
    request_body(content = PredictRequest, description = "A pair, or a JSON array of up to 1000 pairs"),
    responses(
        (status = 200, description = "The prediction (an array for an array)", body = PredictResponse),
        (status = 400, description = "Malformed JSON, a wrong type, an id out of range", body = ErrorBody),
        (status = 409, description = "The served model only ranks", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn predict(State(st): State<AppState>, headers: Heads, body: Result<Bytes, BytesRejection>) -> ApiResult {
    let g = served(&st, Role::Predict)?;
    let s = g.as_ref().ok_or_else(|| ApiError::Internal("a loaded slot emptied".into()))?;
    if !s.rates() {
        return Err(ApiError::Conflict {
            message: format!(
                "{}@{} ({}) only ranks movies and cannot predict a rating; serve a rating model for /predict \
                 (reelhouse serve --predict-model NAME, e.g. an svd model)",
                s.info.name, s.info.version, s.info.algorithm
            ),
            field: None,
            promotion: None,
        });
    }
    let batch = {
        let b = body.as_ref().map(|b| b.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'['));
        matches!(b, Ok(true))
    };
    if batch {
        let list: Vec<PredictRequest> = parse_json(&headers, body)?;
        if list.is_empty() || list.len() > MAX_BATCH {
            return Err(ApiError::bad(format!("a batch holds 1 to {MAX_BATCH} pairs; this one has {}", list.len()), None));
        }
        let out = list
            .iter()
            .enumerate()
            .map(|(k, r)| predict_one(s, *r, &format!("[{k}].")))
            .collect::<ApiResult<Vec<_>>>()?;
        return Ok(json(StatusCode::OK, &out));
    }
    let r: PredictRequest = parse_json(&headers, body)?;
    Ok(json(StatusCode::OK, &predict_one(s, r, "")?))
}

// ---------------------------------------------------------------------------------------
// GET /recommend/{user_id}

/// Query of `/recommend`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecommendQuery {
    /// How many movies, 1 to 1000 (default 10).
    pub k: Option<String>,
    /// Only movies of this genre (case-insensitive).
    pub genre: Option<String>,
    /// Leave out movies the user rated (default true).
    pub exclude_rated: Option<String>,
}

/// One recommended or similar movie.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScoredMovie<'a> {
    /// The movie.
    pub movie_id: i64,
    /// Its title, when the catalogue has it.
    pub title: Option<&'a str>,
    /// The model's score (or similarity).
    pub score: f32,
}

/// A list of movies.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MovieList<'a> {
    /// The user (for /recommend) or movie (for /similar) asked about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    /// The movie asked about (for /similar).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub movie_id: Option<i64>,
    /// The model.
    pub model: &'a str,
    /// Its version.
    pub version: i64,
    /// Its algorithm.
    pub algorithm: &'a str,
    /// Set when the user or movie was unknown: what the list is instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// True when the user's vector comes from the speed layer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub folded_in: bool,
    /// Best first.
    pub items: Vec<ScoredMovie<'a>>,
}

thread_local! {
    /// Per-thread score buffer: a recommendation scores every item without allocating.
    static SCORES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Top-k movies for a user, leaving out what they rated, optionally of one genre.
#[utoipa::path(get, path = "/recommend/{user_id}", tag = "recommendations",
    params(("user_id" = i64, Path, description = "The user"), RecommendQuery),
    responses(
        (status = 200, description = "Best first; `fallback` set for unknown users", body = MovieList),
        (status = 400, description = "A bad id, k out of range, an unknown genre or parameter", body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn recommend(
    State(st): State<AppState>,
    user: Result<Path<String>, PathRejection>,
    q: Result<Query<RecommendQuery>, QueryRejection>,
) -> ApiResult {
    let user = path_id("user_id", user)?;
    let q = query(q, "k, genre, exclude_rated")?;
    let k = parse_k(q.k.as_deref(), 10)?;
    let exclude_rated = parse_bool("exclude_rated", q.exclude_rated.as_deref(), true)?;
    let cat = &st.catalogue;
    let genre = match q.genre.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(g) => Some(cat.genre_bit(g).ok_or_else(|| {
            ApiError::bad(format!("no movie has genre {g:?}; genres: {}", cat.genres().join(", ")), "genre".to_string())
        })?),
    };
    let g = served(&st, Role::Recommend)?;
    let s = g.as_ref().ok_or_else(|| ApiError::Internal("a loaded slot emptied".into()))?;
    let m = s.model.as_ref();
    let items = m.items();
    let u = m.users().get(user);
    let folded = s.fold().and_then(|f| s.folded(user).map(|v| (f, v)));
    let top = SCORES.with(|cell| {
        let mut buf = cell.borrow_mut();
        buf.clear();
        buf.resize(items.len(), 0.0);
        match &folded {
            Some((f, v)) => f.score_items_with(v, &mut buf),
            None => m.score_items(u, &mut buf),
        }
        if exclude_rated {
            cat.with_history(user, |h| {
                for r in h {
                    if let Some(i) = items.get(r.movie_id) {
                        buf[i as usize] = f32::NEG_INFINITY;
                    }
                }
            });
        }
        let cands = buf.iter().enumerate().filter_map(|(i, &x)| {
            let keep = x != f32::NEG_INFINITY && genre.is_none_or(|b| s.genre_bits[i] & b != 0);
            keep.then_some((i as u32, x))
        });
        top_k(cands, k, items)
    });
    let fallback = match (&folded, u) {
        (None, None) => Some(
            m.score(None, (!items.is_empty()).then_some(0))
                .fallback
                .map_or_else(|| "unknown user: the model's ranking for everyone".to_string(), |f| f.to_string()),
        ),
        _ => None,
    };
    let out = MovieList {
        user_id: Some(user),
        movie_id: None,
        model: &s.info.name,
        version: s.info.version,
        algorithm: &s.info.algorithm,
        fallback,
        folded_in: folded.is_some(),
        items: top.into_iter().map(|(i, x)| ScoredMovie { movie_id: items.id(i), title: cat.title(items.id(i)), score: x }).collect(),
    };
    Ok(json(StatusCode::OK, &out))
}

// ---------------------------------------------------------------------------------------
// GET /similar/{movie_id}

/// Query of `/similar`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SimilarQuery {
    /// How many movies, 1 to 1000 (default 10).
    pub k: Option<String>,
}

/// Movies similar to a movie (cosine of item factors, or the model's own similarity).
#[utoipa::path(get, path = "/similar/{movie_id}", tag = "recommendations",
    params(("movie_id" = i64, Path, description = "The movie"), SimilarQuery),
    responses(
        (status = 200, description = "Most similar first; `fallback` (the most rated movies) for unknown movies", body = MovieList),
        (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn similar(State(st): State<AppState>, movie: Result<Path<String>, PathRejection>, q: Result<Query<SimilarQuery>, QueryRejection>) -> ApiResult {
    let movie = path_id("movie_id", movie)?;
    let k = parse_k(query(q, "k")?.k.as_deref(), 10)?;
    let g = served(&st, Role::Recommend)?;
    let s = g.as_ref().ok_or_else(|| ApiError::Internal("a loaded slot emptied".into()))?;
    let cat = &st.catalogue;
    let list = reel_ml::model::similar(s.model.as_ref(), movie, k);
    let (items, fallback) = match list {
        Some(l) => (l.into_iter().map(|x| ScoredMovie { movie_id: x.item, title: cat.title(x.item), score: x.score }).collect(), None),
        None => {
            let why = if s.model.items().get(movie).is_none() { "unknown movie" } else { "the model has no notion of similar movies" };
            let pop: Vec<ScoredMovie<'_>> = cat
                .popular()
                .iter()
                .filter(|&&id| id != movie)
                .take(k)
                .map(|&id| ScoredMovie { movie_id: id, title: cat.title(id), score: cat.movie(id).map_or(0.0, |f| f.ratings as f32) })
                .collect();
            (pop, Some(format!("{why}: the most rated movies (score = number of ratings)")))
        }
    };
    let out = MovieList {
        user_id: None,
        movie_id: Some(movie),
        model: &s.info.name,
        version: s.info.version,
        algorithm: &s.info.algorithm,
        fallback,
        folded_in: false,
        items,
    };
    Ok(json(StatusCode::OK, &out))
}

// ---------------------------------------------------------------------------------------
// GET /movies/{movie_id}, GET /users/{user_id}/history

/// A movie.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MovieResponse {
    /// Its id.
    pub movie_id: i64,
    /// Title.
    pub title: String,
    /// Release year.
    pub year: Option<i64>,
    /// Genres.
    pub genres: Vec<String>,
    /// Ratings it had when the server started.
    pub ratings: u64,
    /// Their mean.
    pub mean_rating: Option<f64>,
    /// Whether the recommending model can score it.
    pub in_model: bool,
}

/// One movie of the catalogue.
#[utoipa::path(get, path = "/movies/{movie_id}", tag = "catalogue",
    params(("movie_id" = i64, Path, description = "The movie")),
    responses((status = 200, body = MovieResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn movie(State(st): State<AppState>, movie: Result<Path<String>, PathRejection>) -> ApiResult {
    let id = path_id("movie_id", movie)?;
    let f = st.catalogue.movie(id).ok_or_else(|| ApiError::NotFound {
        message: format!("movie {id} is not in the catalogue ({} movies, from clean.movies)", st.catalogue.len()),
        field: Some("movie_id".into()),
    })?;
    let in_model = st.slot(Role::Recommend).current.load().as_ref().is_some_and(|s| s.model.items().get(id).is_some());
    Ok(json(
        StatusCode::OK,
        &MovieResponse {
            movie_id: id,
            title: f.movie.title,
            year: f.movie.year,
            genres: f.movie.genres,
            ratings: f.ratings,
            mean_rating: f.mean_rating,
            in_model,
        },
    ))
}

/// Query of `/users/{user_id}/history`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Most ratings returned, newest first, 1 to 1000 (default 100).
    pub limit: Option<String>,
}

/// One rating of a history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryItem<'a> {
    /// The movie.
    pub movie_id: i64,
    /// Its title.
    pub title: Option<&'a str>,
    /// The rating.
    pub rating: f32,
    /// When (seconds since the epoch).
    pub rated_at: i64,
}

/// A user's ratings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryResponse<'a> {
    /// The user.
    pub user_id: i64,
    /// Ratings the user has in all.
    pub total: usize,
    /// Set for users without ratings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<&'static str>,
    /// Newest first.
    pub ratings: Vec<HistoryItem<'a>>,
}

/// A user's ratings (the loaded ratings plus those posted to /events), newest first.
#[utoipa::path(get, path = "/users/{user_id}/history", tag = "catalogue",
    params(("user_id" = i64, Path, description = "The user"), HistoryQuery),
    responses((status = 200, body = HistoryResponse), (status = 400, body = ErrorBody)))]
pub async fn history(State(st): State<AppState>, user: Result<Path<String>, PathRejection>, q: Result<Query<HistoryQuery>, QueryRejection>) -> ApiResult {
    let user = path_id("user_id", user)?;
    let limit = match query(q, "limit")?.limit {
        None => 100,
        Some(s) => match s.trim().parse::<i64>() {
            Ok(n) if (1..=1000).contains(&n) => n as usize,
            _ => return Err(ApiError::bad(format!("limit = {s:?} is out of range; ask for 1 to 1000"), "limit".to_string())),
        },
    };
    let cat = &st.catalogue;
    let (total, mut rows) = cat.with_history(user, |h| (h.len(), h.to_vec()));
    rows.sort_by(|a, b| b.at.cmp(&a.at).then(a.movie_id.cmp(&b.movie_id)));
    rows.truncate(limit);
    let out = HistoryResponse {
        user_id: user,
        total,
        fallback: (total == 0).then_some("unknown user: no ratings yet"),
        ratings: rows.iter().map(|r| HistoryItem { movie_id: r.movie_id, title: cat.title(r.movie_id), rating: r.rating, rated_at: r.at }).collect(),
    };
    Ok(json(StatusCode::OK, &out))
}

// ---------------------------------------------------------------------------------------
// POST /events

/// An event: a rating (`rating` set) or a view.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct EventRequest {
    /// The user (new users are created).
    #[schema(example = 196)]
    pub user_id: i64,
    /// The movie.
    #[schema(example = 242)]
    pub movie_id: i64,
    /// `rating` (the default when `rating` is set) or `view`.
    pub kind: Option<EventKind>,
    /// The rating, on the model's scale (e.g. 1 to 5).
    #[schema(example = 4.5)]
    pub rating: Option<f64>,
    /// When it happened, seconds since the epoch (default: now).
    pub at: Option<i64>,
}

/// What `/events` did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventsResponse {
    /// Events accepted.
    pub accepted: usize,
    /// Of which ratings.
    pub ratings: usize,
    /// Of which views.
    pub views: usize,
    /// User vectors recomputed by fold-in (per served model that folds in).
    pub folded_users: usize,
    /// Events waiting to be appended to the lake.
    pub pending: usize,
    /// Where they go.
    pub table: String,
}

fn check_event(r: &EventRequest, field: &str, scale: reel_ml::data::Scale, now_micros: i64) -> ApiResult<Event> {
    let user_id = check_id_in(field, "user_id", r.user_id)?;
    let movie_id = check_id_in(field, "movie_id", r.movie_id)?;
    let kind = match (r.kind, r.rating) {
        (Some(k), _) => k,
        (None, Some(_)) => EventKind::Rating,
        (None, None) => {
            return Err(ApiError::bad("give a rating, or \"kind\": \"view\" for a view", format!("{field}rating")));
        }
    };
    let rating = match (kind, r.rating) {
        (EventKind::Rating, Some(x)) if x.is_finite() && (scale.min as f64..=scale.max as f64).contains(&x) => Some(x as f32),
        (EventKind::Rating, Some(x)) => {
            return Err(ApiError::bad(format!("rating {x} is outside the scale {} to {}", scale.min, scale.max), format!("{field}rating")));
        }
        (EventKind::Rating, None) => return Err(ApiError::bad("a rating event needs a rating", format!("{field}rating"))),
        (EventKind::View, Some(_)) => return Err(ApiError::bad("a view has no rating; drop it or use kind rating", format!("{field}rating"))),
        (EventKind::View, None) => None,
    };
    let at_micros = match r.at {
        None => now_micros,
        Some(t) if (0..=now_micros / 1_000_000 + 86_400).contains(&t) => t * 1_000_000,
        Some(t) => {
            return Err(ApiError::bad(format!("at = {t} is not a time between 1970 and tomorrow (seconds since the epoch)"), format!("{field}at")));
        }
    };
    Ok(Event {
        event_id: uuid::Uuid::now_v7().to_string(),
        user_id,
        movie_id,
        kind,
        rating,
        at_micros,
        received_micros: now_micros,
    })
}

/// Posts ratings and views (one event or a list of up to 1000). Ratings are folded into
/// the user's vector at once, so the next `/recommend` reflects them; every event is
/// appended to the raw events table in batches. Needs the bearer token.
#[utoipa::path(post, path = "/events", tag = "speed layer",
    request_body(content = EventRequest, description = "An event, or a JSON array of up to 1000"),
    responses(
        (status = 202, description = "Applied and buffered for the lake", body = EventsResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 503, description = "The event buffer is full (the lake refuses writes)", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn events(State(st): State<AppState>, headers: Heads, body: Result<Bytes, BytesRejection>) -> ApiResult {
    authorize(&st, &headers)?;
    let is_list = matches!(body.as_ref().map(|b| b.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'[')), Ok(true));
    let list: Vec<EventRequest> = if is_list { parse_json(&headers, body)? } else { vec![parse_json(&headers, body)?] };
    if list.is_empty() || list.len() > MAX_BATCH {
        return Err(ApiError::bad(format!("a batch holds 1 to {MAX_BATCH} events; this one has {}", list.len()), None));
    }
    let scale = st
        .slot(Role::Recommend)
        .current
        .load()
        .as_ref()
        .map_or(reel_ml::data::Scale::HALF_TO_FIVE, |s| s.model.scale());
    let now = chrono::Utc::now().timestamp_micros();
    let checked = list
        .iter()
        .enumerate()
        .map(|(k, r)| check_event(r, if is_list { format!("[{k}].") } else { String::new() }.as_str(), scale, now))
        .collect::<ApiResult<Vec<_>>>()?;
    let n = checked.len();
    let applied = st.apply_events(checked).await.map_err(|full| {
        ApiError::Unavailable(format!(
            "{} events are waiting to be written to {} (the limit is {}): the lake is not accepting writes; retry later",
            full.pending,
            st.events.sink_name(),
            st.params.max_pending_events
        ))
    })?;
    Ok(json(
        StatusCode::ACCEPTED,
        &EventsResponse {
            accepted: n,
            ratings: applied.ratings,
            views: applied.views,
            folded_users: applied.folded_users,
            pending: st.events.pending(),
            table: st.events.sink_name(),
        },
    ))
}

// ---------------------------------------------------------------------------------------
// POST /classify/{model}, POST /sentiment

/// Whether the body is a JSON array (a batch).
fn is_batch(body: &Result<Bytes, BytesRejection>) -> bool {
    matches!(body.as_ref().map(|b| b.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'[')), Ok(true))
}

/// The classifier or sentiment model `name` serves, or the 4xx that says why not.
async fn classic_model(st: &AppState, name: &str) -> ApiResult<Arc<ServedClassic>> {
    st.classic(name).await.map_err(|e| match e {
        crate::Error::NotFound(m) => ApiError::NotFound { message: m, field: Some("model".into()) },
        crate::Error::BadRequest(m) => ApiError::Conflict { message: m, field: Some("model".into()), promotion: None },
        other => ApiError::Internal(format!("loading {name}: {other}")),
    })
}

/// A row's class.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClassifyResponse<'a> {
    /// The predicted class (for a regressor, the value as text).
    #[schema(example = "yes")]
    pub label: String,
    /// The probability of `probability_of`: the positive class for two classes (compared
    /// with the model's threshold), else the predicted class.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 0.71)]
    pub probability: Option<f64>,
    /// The class `probability` is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "yes")]
    pub probability_of: Option<String>,
    /// The decision threshold on the positive class's probability (two classes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The predicted number (regressors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The model served.
    pub model: &'a str,
    /// Its version.
    pub version: i64,
}

/// Classifies one row (a JSON object: column name -> value) or a list of up to 1000 with the
/// champion of a model trained by `reelhouse train classifier`. Every column the model reads
/// must be there (`null` = unknown, imputed as in training); other keys are ignored.
#[utoipa::path(post, path = "/classify/{model}", tag = "classifiers",
    params(("model" = String, Path, description = "The registered classifier (its champion answers)")),
    request_body(content = Object, description = "A row (column -> number, string or null), or a JSON array of up to 1000",
        example = json!({"tenure": 12, "contract": "Month-to-month", "monthly_charges": 70.35, "senior": null})),
    responses(
        (status = 200, description = "The class and its probability (an array for an array)", body = ClassifyResponse),
        (status = 400, description = "Malformed JSON, a missing column, a wrong type (`field` names it)", body = ErrorBody),
        (status = 404, description = "No model of that name has a champion", body = ErrorBody),
        (status = 409, description = "The model is not a classifier (a recommender, a sentiment model)", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn classify(
    State(st): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    headers: Heads,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let Path(name) = name.map_err(|r| ApiError::bad(r.body_text(), "model".to_string()))?;
    if !valid_name(&name) {
        return Err(ApiError::bad(format!("model name {name:?} is not valid: use 1 to 64 letters, digits, '-' or '_'"), "model".to_string()));
    }
    let batch = is_batch(&body);
    let rows: Vec<serde_json::Map<String, serde_json::Value>> =
        if batch { parse_json(&headers, body)? } else { vec![parse_json(&headers, body)?] };
    if rows.is_empty() || rows.len() > MAX_BATCH {
        return Err(ApiError::bad(format!("a batch holds 1 to {MAX_BATCH} rows; this one has {}", rows.len()), None));
    }
    let served = classic_model(&st, &name).await?;
    let ClassicModel::Tabular(model) = &served.model else {
        return Err(ApiError::Conflict {
            message: format!("{name}@{} is a sentiment model; send its texts to POST /sentiment", served.info.version),
            field: Some("model".into()),
            promotion: None,
        });
    };
    let refs: Vec<&serde_json::Map<String, serde_json::Value>> = rows.iter().collect();
    let frame = model.frame_from_json(&refs).map_err(|e| {
        let field = if batch { format!("[{}].{}", e.row, e.field) } else { e.field.clone() };
        ApiError::bad(format!("{field}: {}", e.message), field)
    })?;
    let predictions = model.predict(&frame).map_err(|e| ApiError::Internal(format!("scoring with {name}@{}: {e}", served.info.version)))?;
    let positive = model.positive_label();
    let out: Vec<ClassifyResponse> = predictions
        .into_iter()
        .map(|p| ClassifyResponse {
            probability_of: p.probability.map(|_| positive.map_or_else(|| p.label.clone(), str::to_string)),
            label: p.label,
            probability: p.probability,
            threshold: positive.and(model.threshold),
            value: p.value,
            model: &served.info.name,
            version: served.info.version,
        })
        .collect();
    if batch { Ok(json(StatusCode::OK, &out)) } else { Ok(json(StatusCode::OK, &out[0])) }
}

/// A text to label.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SentimentRequest {
    /// The review, any length up to the body limit.
    #[schema(example = "Lovely fabric, but it runs small and the zip broke.")]
    pub text: String,
}

/// A text's sentiment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SentimentResponse<'a> {
    /// The most probable label (`negative`, `neutral`, `positive` for the rating-derived labels).
    #[schema(example = "positive")]
    pub label: &'a str,
    /// Its probability.
    #[schema(example = 0.82)]
    pub probability: f64,
    /// Every label's probability.
    #[schema(value_type = Object, example = json!({"negative": 0.05, "neutral": 0.13, "positive": 0.82}))]
    pub probabilities: std::collections::BTreeMap<&'a str, f64>,
    /// The model served.
    pub model: &'a str,
    /// Its version.
    pub version: i64,
}

/// Labels the sentiment of a text (or a list of up to 1000) with the champion of the
/// sentiment model (`reelhouse serve --sentiment-model`, default `sentiment`).
#[utoipa::path(post, path = "/sentiment", tag = "classifiers",
    request_body(content = SentimentRequest, description = "A text, or a JSON array of up to 1000"),
    responses(
        (status = 200, description = "The label and every label's probability (an array for an array)", body = SentimentResponse),
        (status = 400, description = "Malformed JSON, no text, an empty text, a text that is not a string", body = ErrorBody),
        (status = 404, description = "The sentiment model has no champion", body = ErrorBody),
        (status = 409, description = "The configured model is not a sentiment model", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn sentiment(State(st): State<AppState>, headers: Heads, body: Result<Bytes, BytesRejection>) -> ApiResult {
    let batch = is_batch(&body);
    let list: Vec<SentimentRequest> = if batch { parse_json(&headers, body)? } else { vec![parse_json(&headers, body)?] };
    if list.is_empty() || list.len() > MAX_BATCH {
        return Err(ApiError::bad(format!("a batch holds 1 to {MAX_BATCH} texts; this one has {}", list.len()), None));
    }
    for (k, r) in list.iter().enumerate() {
        if r.text.trim().is_empty() {
            let field = if batch { format!("[{k}].text") } else { "text".to_string() };
            return Err(ApiError::bad(format!("{field} is empty; send the review's words"), field));
        }
    }
    let name = st.params.sentiment_model.clone();
    let served = classic_model(&st, &name).await?;
    let ClassicModel::Sentiment(model) = &served.model else {
        return Err(ApiError::Conflict {
            message: format!(
                "{name}@{} is a {}, not a sentiment model; serve one with reelhouse serve --sentiment-model NAME \
                 (trained by reelhouse train sentiment), or send rows to POST /classify/{name}",
                served.info.version,
                served.model.kind()
            ),
            field: None,
            promotion: None,
        });
    };
    let texts: Vec<String> = list.into_iter().map(|r| r.text).collect();
    let k = model.labels.len();
    let p = model.probabilities(&texts);
    let out: Vec<SentimentResponse> = p
        .chunks(k)
        .map(|row| {
            let best = (0..k).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap_or(0);
            SentimentResponse {
                label: &model.labels[best],
                probability: row[best],
                probabilities: model.labels.iter().map(String::as_str).zip(row.iter().copied()).collect(),
                model: &served.info.name,
                version: served.info.version,
            }
        })
        .collect();
    if batch { Ok(json(StatusCode::OK, &out)) } else { Ok(json(StatusCode::OK, &out[0])) }
}

// ---------------------------------------------------------------------------------------
// GET /models, POST /models/{name}/promote

/// A model being served.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServingInfo {
    /// The model name.
    pub name: String,
    /// What it answers: `predict`, `recommend`; `classify` or `sentiment` for the classifiers
    /// and sentiment models loaded by their first request.
    pub roles: Vec<String>,
    /// The version, when one is loaded.
    pub version: Option<i64>,
    /// Its algorithm.
    pub algorithm: Option<String>,
    /// `rating` or `ranking` (`classifier`, `regressor`, `sentiment`).
    pub kind: Option<String>,
    /// When it was loaded (RFC 3339).
    pub loaded_at: Option<String>,
    /// Whether it folds in users posted to /events.
    pub folds_in: bool,
    /// Users folded in so far.
    pub folded_users: usize,
}

/// `/models`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModelsResponse {
    /// The alias served.
    pub alias: String,
    /// What is served now.
    pub serving: Vec<ServingInfo>,
    /// Every registered version.
    pub registered: Vec<VersionInfo>,
}

fn serving_info(st: &AppState) -> Vec<ServingInfo> {
    let classic: Vec<Arc<ServedClassic>> = {
        let g = st.classic.read().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<Arc<ServedClassic>> = g.values().cloned().collect();
        v.sort_by(|a, b| a.info.name.cmp(&b.info.name));
        v
    };
    let classic = classic.into_iter().map(|s| ServingInfo {
        name: s.info.name.clone(),
        roles: vec![if matches!(s.model, ClassicModel::Sentiment(_)) { "sentiment" } else { "classify" }.to_string()],
        version: Some(s.info.version),
        algorithm: Some(s.info.algorithm.clone()),
        kind: Some(s.info.kind.clone()),
        loaded_at: Some(chrono::DateTime::<chrono::Utc>::from(s.loaded_at).to_rfc3339()),
        folds_in: false,
        folded_users: 0,
    });
    st.slots
        .iter()
        .map(|slot| {
            let cur = slot.current.load_full();
            ServingInfo {
                name: slot.name.clone(),
                roles: slot.roles.iter().map(|r| if *r == Role::Predict { "predict" } else { "recommend" }.to_string()).collect(),
                version: cur.as_ref().map(|s| s.info.version),
                algorithm: cur.as_ref().map(|s| s.info.algorithm.clone()),
                kind: cur.as_ref().map(|s| s.info.kind.clone()),
                loaded_at: cur.as_ref().map(|s| chrono::DateTime::<chrono::Utc>::from(s.loaded_at).to_rfc3339()),
                folds_in: cur.as_ref().is_some_and(|s| s.fold().is_some()),
                folded_users: cur.as_ref().map_or(0, |s| s.folded_users()),
            }
        })
        .chain(classic)
        .collect()
}

/// What is served, and every registered version.
#[utoipa::path(get, path = "/models", tag = "models", responses((status = 200, body = ModelsResponse), (status = 500, body = ErrorBody)))]
pub async fn models(State(st): State<AppState>) -> ApiResult {
    let registered = st.source.list().await.map_err(|e| ApiError::Internal(format!("listing the registry: {e}")))?;
    Ok(json(StatusCode::OK, &ModelsResponse { alias: st.params.alias.clone(), serving: serving_info(&st), registered }))
}

/// Body of a promotion.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteBody {
    /// The candidate version.
    #[schema(example = 3)]
    pub version: i64,
    /// The alias to move (default `champion`).
    pub alias: Option<String>,
    /// Skip the gate (default false).
    pub force: Option<bool>,
}

/// A promotion's outcome.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PromoteResponse {
    /// The gate's verdict.
    pub promotion: PromotionInfo,
    /// Whether this server swapped the version in.
    pub swapped: bool,
    /// What it serves now.
    pub serving: Vec<ServingInfo>,
}

/// Runs the promotion gate for a version and, when it passes, serves it at once (requests
/// in flight finish on the old version; none fails). Needs the bearer token.
#[utoipa::path(post, path = "/models/{name}/promote", tag = "models",
    params(("name" = String, Path, description = "The model name")),
    request_body = PromoteBody,
    responses(
        (status = 200, description = "Promoted (and swapped in when served here)", body = PromoteResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No such model or version", body = ErrorBody),
        (status = 409, description = "The gate refused: the candidate is not better", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn promote(
    State(st): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    headers: Heads,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    authorize(&st, &headers)?;
    let Path(name) = name.map_err(|r| ApiError::bad(r.body_text(), "name".to_string()))?;
    if !valid_name(&name) {
        return Err(ApiError::bad(format!("model name {name:?} is not valid: use 1 to 64 letters, digits, '-' or '_'"), "name".to_string()));
    }
    let b: PromoteBody = parse_json(&headers, body)?;
    if !(1..=MAX_ID).contains(&b.version) {
        return Err(ApiError::bad(format!("version {} is out of range; versions start at 1", b.version), "version".to_string()));
    }
    let alias = b.alias.unwrap_or_else(|| "champion".into());
    if !valid_name(&alias) {
        return Err(ApiError::bad(format!("alias {alias:?} is not valid"), "alias".to_string()));
    }
    let req = PromoteRequest { name: name.clone(), version: b.version, alias: alias.clone(), force: b.force.unwrap_or(false) };
    let verdict = st.source.promote(&req).await.map_err(|e| match e {
        crate::Error::NotFound(m) => ApiError::NotFound { message: m, field: Some("version".into()) },
        crate::Error::BadRequest(m) => ApiError::bad(m, None),
        other => ApiError::Internal(format!("promoting {name}@{}: {other}", b.version)),
    })?;
    if !verdict.promoted {
        return Err(ApiError::Conflict { message: verdict.reason.clone(), field: Some("version".into()), promotion: Some(verdict) });
    }
    let swapped = if alias == st.params.alias {
        st.swap_to(&name, b.version).await.map_err(|e| ApiError::Internal(format!("loading {name}@{} after its promotion: {e}", b.version)))?
    } else {
        false
    };
    Ok(json(StatusCode::OK, &PromoteResponse { promotion: verdict, swapped, serving: serving_info(&st) }))
}

// ---------------------------------------------------------------------------------------
// Health, readiness, metrics.

/// `/health` and `/ready`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthResponse {
    /// `ok`, or what is missing.
    pub status: String,
    /// Seconds since start.
    pub uptime_seconds: f64,
    /// What is served.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub serving: Vec<ServingInfo>,
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, body = HealthResponse)))]
pub async fn health(State(st): State<AppState>) -> Response {
    json(StatusCode::OK, &HealthResponse { status: "ok".into(), uptime_seconds: st.started.elapsed().as_secs_f64(), serving: Vec::new() })
}

/// Every served model is loaded (503 until then).
#[utoipa::path(get, path = "/ready", tag = "operations", responses((status = 200, body = HealthResponse), (status = 503, body = HealthResponse)))]
pub async fn ready(State(st): State<AppState>) -> Response {
    let serving = serving_info(&st);
    let missing: Vec<&str> = serving.iter().filter(|s| s.version.is_none()).map(|s| s.name.as_str()).collect();
    let (status, text) = if missing.is_empty() {
        (StatusCode::OK, "ok".to_string())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("not loaded yet: {}", missing.join(", ")))
    };
    json(status, &HealthResponse { status: text, uptime_seconds: st.started.elapsed().as_secs_f64(), serving })
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(st): State<AppState>) -> Response {
    let mut gauges: Vec<(&str, &str, String, f64)> = Vec::new();
    for slot in &st.slots {
        let cur = slot.current.load();
        let (v, algo) = cur.as_ref().map_or((0.0, String::new()), |s| (s.info.version as f64, s.info.algorithm.clone()));
        gauges.push(("reelhouse_model_version", "Model version served (0 = none).", format!("model=\"{}\",algorithm=\"{algo}\"", slot.name), v));
    }
    for slot in &st.slots {
        let n = slot.current.load().as_ref().map_or(0, |s| s.folded_users());
        gauges.push(("reelhouse_folded_users", "Users folded in by the speed layer.", format!("model=\"{}\"", slot.name), n as f64));
    }
    gauges.push(("reelhouse_events_pending", "Events waiting to be appended to the lake.", String::new(), st.events.pending() as f64));
    gauges.push(("reelhouse_events_flushed", "Events appended to the lake.", String::new(), st.events.flushed.load(Ordering::Relaxed) as f64));
    gauges.push(("reelhouse_event_flush_failures", "Event appends that failed.", String::new(), st.events.failures.load(Ordering::Relaxed) as f64));
    gauges.push(("reelhouse_requests_in_flight", "Requests being answered.", String::new(), st.guard.inflight() as f64));
    gauges.push(("reelhouse_uptime_seconds", "Seconds since start.", String::new(), st.started.elapsed().as_secs_f64()));
    let text = st.metrics.render(&gauges);
    let mut r = text.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    r
}

/// Unknown paths.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound { message: format!("no route {}; see /docs for the API", uri.path()), field: None }
}

/// Known paths with the wrong method.
pub async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let body = ErrorBody { error: format!("{method} is not allowed on {}; see /docs for the API", uri.path()), field: None, promotion: None };
    json(StatusCode::METHOD_NOT_ALLOWED, &body)
}
