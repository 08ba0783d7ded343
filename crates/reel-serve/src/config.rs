//! What the server is asked to do ([`ServeParams`]) and the checked form it runs with
//! ([`ValidServeParams`]).
use std::time::Duration;

use crate::{Error, Result};

/// The largest `k` of `/recommend` and `/similar`.
pub const MAX_K: usize = 1000;
/// The largest batch of `/predict` and `/events`.
pub const MAX_BATCH: usize = 1000;
/// The largest user or movie id accepted (ids are positive 31-bit integers).
pub const MAX_ID: i64 = i32::MAX as i64;

/// Serving settings as given (flags, `[serve]` in `reelhouse.toml`). [`ServeParams::check`]
/// refuses every out-of-range value.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeParams {
    /// The model whose champion answers `/predict` (a rating model).
    pub predict_model: String,
    /// The model whose champion answers `/recommend` and `/similar` (any model).
    pub recommend_model: String,
    /// The model whose champion answers `/sentiment` (loaded on first use).
    pub sentiment_model: String,
    /// The alias served (`champion`).
    pub alias: String,
    /// How often the registry alias is polled for a new version; `None` = never.
    pub poll: Option<Duration>,
    /// Bearer token of the write routes (`/events`, promote); `None` = write routes refuse
    /// every request with 403.
    pub token: Option<String>,
    /// Requests in flight above which new ones are answered 503 at once.
    pub max_inflight: usize,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Largest request body, bytes.
    pub body_limit: usize,
    /// Time a request may take (reading its body included) before it is answered 503.
    pub timeout: Duration,
    /// How often buffered events are appended to the lake.
    pub flush_interval: Duration,
    /// Events buffered before a flush is started early.
    pub flush_events: usize,
    /// Events buffered (not yet in the lake) above which `/events` answers 503.
    pub max_pending_events: usize,
}

impl Default for ServeParams {
    fn default() -> Self {
        ServeParams {
            predict_model: "recommender".into(),
            recommend_model: "recommender".into(),
            sentiment_model: "sentiment".into(),
            alias: "champion".into(),
            poll: Some(Duration::from_secs(5)),
            token: None,
            max_inflight: 512,
            max_connections: 4096,
            body_limit: 64 * 1024,
            timeout: Duration::from_secs(10),
            flush_interval: Duration::from_secs(2),
            flush_events: 10_000,
            max_pending_events: 1_000_000,
        }
    }
}

/// [`ServeParams`] that passed [`ServeParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidServeParams(pub(crate) ServeParams);

impl ValidServeParams {
    /// The checked settings.
    pub fn get(&self) -> &ServeParams {
        &self.0
    }
}

/// Whether `s` is a valid model or alias name: 1 to 64 letters, digits, `-` or `_`,
/// starting with a letter or digit (the registry's rule).
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

impl ServeParams {
    /// Checks every setting.
    pub fn check(&self) -> Result<ValidServeParams> {
        let bad = |name: &'static str, value: String, expected: &str| Error::InvalidParam { name, value, expected: expected.into() };
        for (name, v) in [
            ("predict_model", &self.predict_model),
            ("recommend_model", &self.recommend_model),
            ("sentiment_model", &self.sentiment_model),
            ("alias", &self.alias),
        ] {
            if !valid_name(v) {
                return Err(bad(name, format!("{v:?}"), "1 to 64 letters, digits, '-' or '_' (e.g. recommender)"));
            }
        }
        if let Some(p) = self.poll {
            if p < Duration::from_millis(100) || p > Duration::from_secs(86_400) {
                return Err(bad("poll_seconds", format!("{}", p.as_secs_f64()), "from 0.1 to 86400 seconds, or 0 to never poll"));
            }
        }
        if let Some(t) = &self.token {
            if t.len() < 16 || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(bad("token", "(hidden)".into(), "at least 16 characters without spaces"));
            }
        }
        if !(1..=1_000_000).contains(&self.max_inflight) {
            return Err(bad("max_inflight", self.max_inflight.to_string(), "from 1 to 1000000"));
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return Err(bad("max_connections", self.max_connections.to_string(), "from 1 to 1000000"));
        }
        if !(1024..=256 * 1024 * 1024).contains(&self.body_limit) {
            return Err(bad("body_limit", self.body_limit.to_string(), "from 1024 to 268435456 bytes"));
        }
        if self.timeout < Duration::from_millis(10) || self.timeout > Duration::from_secs(3600) {
            return Err(bad("timeout", format!("{} ms", self.timeout.as_millis()), "from 10 ms to 3600 s"));
        }
        if self.flush_interval < Duration::from_millis(10) || self.flush_interval > Duration::from_secs(3600) {
            return Err(bad("flush_interval", format!("{} ms", self.flush_interval.as_millis()), "from 10 ms to 3600 s"));
        }
        if !(1..=10_000_000).contains(&self.flush_events) {
            return Err(bad("flush_events", self.flush_events.to_string(), "from 1 to 10000000"));
        }
        if self.max_pending_events < self.flush_events {
            return Err(bad("max_pending_events", self.max_pending_events.to_string(), "at least flush_events"));
        }
        Ok(ValidServeParams(self.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_each_bad_value_is_named() {
        ServeParams::default().check().expect("defaults are valid");
        let cases: Vec<(ServeParams, &str)> = vec![
            (ServeParams { predict_model: "".into(), ..Default::default() }, "predict_model"),
            (ServeParams { alias: "a b".into(), ..Default::default() }, "alias"),
            (ServeParams { sentiment_model: "../x".into(), ..Default::default() }, "sentiment_model"),
            (ServeParams { poll: Some(Duration::from_millis(1)), ..Default::default() }, "poll_seconds"),
            (ServeParams { token: Some("short".into()), ..Default::default() }, "token"),
            (ServeParams { max_inflight: 0, ..Default::default() }, "max_inflight"),
            (ServeParams { max_connections: 0, ..Default::default() }, "max_connections"),
            (ServeParams { body_limit: 10, ..Default::default() }, "body_limit"),
            (ServeParams { timeout: Duration::ZERO, ..Default::default() }, "timeout"),
            (ServeParams { flush_interval: Duration::ZERO, ..Default::default() }, "flush_interval"),
            (ServeParams { flush_events: 0, ..Default::default() }, "flush_events"),
            (ServeParams { max_pending_events: 5, ..Default::default() }, "max_pending_events"),
        ];
        for (p, name) in cases {
            let e = p.check().expect_err(name).to_string();
            assert!(e.contains(name), "{name}: {e}");
        }
        let e = ServeParams { token: Some("0123456789abcdef-secret".into()), ..Default::default() }.check();
        assert!(e.is_ok());
    }
}
