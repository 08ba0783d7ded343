//! The server's state, model loading and swapping, applying events, and running it all on
//! a socket with graceful shutdown.
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use reel_ml::model::ModelKind;
use tokio::sync::Notify;

use crate::catalogue::{Catalogue, Rated};
use crate::config::ValidServeParams;
use crate::guard::{AccessLog, GuardShared};
use crate::metrics::Metrics;
use crate::served::{Role, Served, ServedClassic, Slot};
use crate::source::ModelSource;
use crate::speed::{BufferFull, Event, EventBuffer, EventKind, EventSink};
use crate::{Error, Result, ServeParams};

/// Everything a request can reach; shared as [`AppState`].
pub struct ServerState {
    pub(crate) params: ServeParams,
    pub(crate) source: Arc<dyn ModelSource>,
    pub(crate) slots: Vec<Arc<Slot>>,
    pub(crate) predict: usize,
    pub(crate) recommend: usize,
    pub(crate) catalogue: Arc<Catalogue>,
    /// Classifiers and sentiment models served, by name, loaded on their first request.
    pub(crate) classic: std::sync::RwLock<HashMap<String, Arc<ServedClassic>>>,
    /// Held while a classic model loads, so that a burst of first requests loads it once.
    classic_loading: tokio::sync::Mutex<()>,
    pub(crate) events: Arc<EventBuffer>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) guard: Arc<GuardShared>,
    /// Serialises applying events and the last step of a swap (folding the event users
    /// into the new version), so that no event is lost between the two.
    apply: tokio::sync::Mutex<()>,
    event_users: std::sync::Mutex<HashSet<i64>>,
    pub(crate) started: Instant,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState").field("slots", &self.slots).field("events", &self.events).finish_non_exhaustive()
    }
}

/// The shared state handed to [`crate::app`].
pub type AppState = Arc<ServerState>;

/// What applying posted events did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Rating events.
    pub ratings: usize,
    /// View events.
    pub views: usize,
    /// Users whose vectors were folded in again (per served model that folds in).
    pub folded_users: usize,
}

impl ServerState {
    /// The state for `params`, models from `source`, events into `sink`. No model is loaded
    /// yet: call [`ServerState::load_models`].
    pub fn new(
        params: ValidServeParams,
        source: Arc<dyn ModelSource>,
        catalogue: Catalogue,
        sink: Arc<dyn EventSink>,
        access: Option<AccessLog>,
    ) -> AppState {
        let p = params.0;
        let mut slots: Vec<Arc<Slot>> = Vec::new();
        let mut slot_for = |name: &str, role: Role| -> usize {
            if let Some(k) = slots.iter().position(|s| s.name == name) {
                // Slots are only built here; nothing else holds them yet.
                if let Some(s) = Arc::get_mut(&mut slots[k]) {
                    s.roles.push(role);
                }
                k
            } else {
                slots.push(Arc::new(Slot::new(name, vec![role])));
                slots.len() - 1
            }
        };
        let predict = slot_for(&p.predict_model, Role::Predict);
        let recommend = slot_for(&p.recommend_model, Role::Recommend);
        let metrics = Arc::new(Metrics::default());
        let guard = Arc::new(GuardShared::new(p.max_inflight, p.timeout, metrics.clone(), access));
        let events = Arc::new(EventBuffer::new(sink, p.flush_events, p.max_pending_events));
        Arc::new(ServerState {
            params: p,
            source,
            slots,
            predict,
            recommend,
            catalogue: Arc::new(catalogue),
            classic: std::sync::RwLock::new(HashMap::new()),
            classic_loading: tokio::sync::Mutex::new(()),
            events,
            metrics,
            guard,
            apply: tokio::sync::Mutex::new(()),
            event_users: std::sync::Mutex::new(HashSet::new()),
            started: Instant::now(),
        })
    }

    /// The settings.
    pub fn params(&self) -> &ServeParams {
        &self.params
    }

    /// The slots served (one per distinct model name).
    pub fn slots(&self) -> &[Arc<Slot>] {
        &self.slots
    }

    /// The slot answering `role`.
    pub fn slot(&self, role: Role) -> &Arc<Slot> {
        match role {
            Role::Predict => &self.slots[self.predict],
            Role::Recommend => &self.slots[self.recommend],
        }
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The event buffer.
    pub fn events(&self) -> &Arc<EventBuffer> {
        &self.events
    }

    /// The catalogue.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// Marks `users` as folded in by the speed layer (their histories in the catalogue
    /// already hold the replayed ratings): every version loaded from now on folds them in.
    pub fn replay(&self, users: impl IntoIterator<Item = i64>) {
        self.event_users.lock().unwrap_or_else(|p| p.into_inner()).extend(users);
    }

    /// Loads the version under the alias of every served model; an error names the model
    /// without one.
    pub async fn load_models(&self) -> Result<()> {
        for slot in &self.slots {
            let Some(v) = self.source.alias(&slot.name, &self.params.alias).await? else {
                return Err(Error::NoChampion {
                    name: slot.name.clone(),
                    alias: self.params.alias.clone(),
                    hint: format!(
                        "train and promote one (`reelhouse train recommender --name {} --promote`) or serve another model",
                        slot.name
                    ),
                });
            };
            let _one = slot.swapping.lock().await;
            self.swap_locked(slot, v).await?;
        }
        Ok(())
    }

    /// Asks the source where each alias points and swaps in every version that changed.
    /// Returns the `(name, version)` swapped in. A failed load keeps the old version.
    pub async fn poll_once(&self) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        for slot in &self.slots {
            let _one = slot.swapping.lock().await;
            let wanted = match self.source.alias(&slot.name, &self.params.alias).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(model = %slot.name, error = %e, "polling the registry failed; serving the current version");
                    continue;
                }
            };
            let Some(v) = wanted else { continue };
            if slot.version() == Some(v) {
                continue;
            }
            match self.swap_locked(slot, v).await {
                Ok(()) => out.push((slot.name.clone(), v)),
                Err(e) => tracing::error!(model = %slot.name, version = v, error = %e, "loading the new version failed; serving the current one"),
            }
        }
        for (name, current) in self.classic_served() {
            let _one = self.classic_loading.lock().await;
            match self.source.alias(&name, &self.params.alias).await {
                Ok(Some(v)) if v != current => match self.load_classic_locked(&name, v).await {
                    Ok(_) => out.push((name, v)),
                    Err(e) => tracing::error!(model = %name, version = v, error = %e, "loading the new version failed; serving the current one"),
                },
                Ok(Some(_)) => {}
                Ok(None) => {
                    tracing::warn!(model = %name, alias = %self.params.alias, "the alias was removed; no longer serving this model");
                    self.classic_write().remove(&name);
                }
                Err(e) => tracing::warn!(model = %name, error = %e, "polling the registry failed; serving the current version"),
            }
        }
        out
    }

    /// The classifiers and sentiment models loaded so far, with their versions.
    pub fn classic_served(&self) -> Vec<(String, i64)> {
        let g = self.classic.read().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<(String, i64)> = g.iter().map(|(n, s)| (n.clone(), s.info.version)).collect();
        v.sort();
        v
    }

    fn classic_cached(&self, name: &str) -> Option<Arc<ServedClassic>> {
        self.classic.read().unwrap_or_else(|p| p.into_inner()).get(name).cloned()
    }

    fn classic_write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<ServedClassic>>> {
        // Every update is one insert or remove: a poisoned map is still consistent.
        self.classic.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The classifier or sentiment model `name` serves under the alias: loaded (and cached)
    /// on its first request. [`Error::NotFound`] when `name` has no version under the alias,
    /// [`Error::BadRequest`] when that version is another kind of model (a recommender).
    pub async fn classic(&self, name: &str) -> Result<Arc<ServedClassic>> {
        if let Some(s) = self.classic_cached(name) {
            return Ok(s);
        }
        let _one = self.classic_loading.lock().await;
        if let Some(s) = self.classic_cached(name) {
            return Ok(s);
        }
        let Some(v) = self.source.alias(name, &self.params.alias).await? else {
            return Err(Error::NotFound(format!(
                "no model named {name:?} has a {} (it is not registered, or was never promoted); see GET /models",
                self.params.alias
            )));
        };
        self.load_classic_locked(name, v).await
    }

    async fn load_classic_locked(&self, name: &str, version: i64) -> Result<Arc<ServedClassic>> {
        let loaded = match self.source.load_classic(name, version).await {
            Ok(l) => l,
            Err(e) => {
                if !matches!(e, Error::BadRequest(_) | Error::NotFound(_)) {
                    self.metrics.swap_failures.fetch_add(1, Ordering::Relaxed);
                }
                return Err(e);
            }
        };
        let served = Arc::new(ServedClassic { info: loaded.info, model: loaded.model, loaded_at: std::time::SystemTime::now() });
        let old = self.classic_write().insert(name.to_string(), served.clone());
        tracing::info!(model = %name, version, previous = ?old.as_ref().map(|s| s.info.version), kind = served.model.kind(), "now serving");
        self.metrics.swaps.fetch_add(1, Ordering::Relaxed);
        Ok(served)
    }

    /// Swaps `name@version` in now (after a promotion). `Ok(false)` when `name` is not
    /// served or already serves that version.
    pub async fn swap_to(&self, name: &str, version: i64) -> Result<bool> {
        let Some(slot) = self.slots.iter().find(|s| s.name == name) else {
            // A classifier or sentiment model: swap it if it is being served.
            let _one = self.classic_loading.lock().await;
            return match self.classic_cached(name) {
                Some(s) if s.info.version != version => self.load_classic_locked(name, version).await.map(|_| true),
                _ => Ok(false),
            };
        };
        let _one = slot.swapping.lock().await;
        if slot.version() == Some(version) {
            return Ok(false);
        }
        self.swap_locked(slot, version).await?;
        Ok(true)
    }

    async fn swap_locked(&self, slot: &Slot, version: i64) -> Result<()> {
        let loaded = match self.source.load(&slot.name, version).await {
            Ok(l) => l,
            Err(e) => {
                self.metrics.swap_failures.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        if slot.roles.contains(&Role::Predict) && loaded.model.kind() == ModelKind::Ranking {
            tracing::warn!(model = %slot.name, version, algorithm = %loaded.info.algorithm,
                "this version only ranks movies: /predict answers 409 until a rating model is served (--predict-model)");
        }
        let served = Served::new(loaded, &self.catalogue);
        {
            let _apply = self.apply.lock().await;
            let users: Vec<i64> = self.event_users.lock().unwrap_or_else(|p| p.into_inner()).iter().copied().collect();
            for u in users {
                self.catalogue.with_history(u, |h| served.fold_in(u, h));
            }
            let old = slot.current.swap(Some(Arc::new(served)));
            tracing::info!(model = %slot.name, version, previous = ?old.as_ref().map(|s| s.info.version), "now serving");
        }
        self.metrics.swaps.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Applies checked events: ratings go into the users' histories and every served model
    /// that folds in recomputes those users' vectors; then all events are buffered for the
    /// lake. Refused whole when the buffer is full.
    pub async fn apply_events(&self, events: Vec<Event>) -> Result<Applied, BufferFull> {
        let _apply = self.apply.lock().await;
        self.events.check_room(events.len())?;
        let mut applied = Applied::default();
        let mut users: Vec<i64> = Vec::new();
        for e in &events {
            match (e.kind, e.rating) {
                (EventKind::Rating, Some(r)) => {
                    applied.ratings += 1;
                    self.catalogue.add_rating(e.user_id, Rated { movie_id: e.movie_id, rating: r, at: e.at_micros / 1_000_000 });
                    users.push(e.user_id);
                }
                _ => applied.views += 1,
            }
        }
        users.sort_unstable();
        users.dedup();
        if !users.is_empty() {
            self.event_users.lock().unwrap_or_else(|p| p.into_inner()).extend(users.iter().copied());
            for slot in &self.slots {
                if let Some(served) = slot.current.load_full() {
                    for &u in &users {
                        if self.catalogue.with_history(u, |h| served.fold_in(u, h)) {
                            applied.folded_users += 1;
                        }
                    }
                }
            }
        }
        self.metrics.events_accepted.fetch_add(events.len() as u64, Ordering::Relaxed);
        self.metrics.events_applied.fetch_add(applied.ratings as u64, Ordering::Relaxed);
        self.events.push(events);
        Ok(applied)
    }
}

/// Runs the server on `listener` until `shutdown` completes: the HTTP routes, the registry
/// poller and the event flusher. On shutdown it stops accepting, lets requests in flight
/// finish, then flushes the buffered events.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let addr: SocketAddr = listener.local_addr().map_err(|e| Error::Io { addr: ([0, 0, 0, 0], 0).into(), source: e })?;
    let stop = Arc::new(Notify::new());
    let flusher = tokio::spawn(state.events.clone().run(state.params.flush_interval, stop.clone()));
    let poller = state.params.poll.map(|every| {
        let st = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                for (name, v) in st.poll_once().await {
                    tracing::info!(model = %name, version = v, "picked up a new version from the registry");
                }
            }
        })
    });
    let app = crate::app(state.clone());
    let listener = crate::listener::Limited::new(listener, state.params.max_connections);
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    if let Some(p) = poller {
        p.abort();
    }
    stop.notify_one();
    if let Err(e) = flusher.await {
        tracing::error!(error = %e, "the event flusher stopped abnormally");
    }
    served.map_err(|e| Error::Io { addr, source: e })
}
