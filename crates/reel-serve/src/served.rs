//! A model being served ([`Served`]): the model, what it needs precomputed for the hot
//! path, and the users folded in by the speed layer; and the [`Slot`] that holds it and is
//! swapped atomically.
//!
//! A request loads the slot's current `Arc<Served>` once (an `arc-swap` load, no lock) and
//! answers from it; a swap stores a new one while older requests finish on the old one, so
//! a swap never fails a request. Turned down: a `RwLock<Arc<..>>` (a writer waiting for
//! readers stalls every reader behind it under load).
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use arc_swap::ArcSwapOption;
use reel_ml::model::{FoldIn, Model, ModelKind};
use reel_ml::reco::UserVector;
use tokio::sync::Mutex as AsyncMutex;

use crate::catalogue::{Catalogue, Rated};
use crate::source::{ClassicModel, Loaded, VersionInfo};

/// What a route uses a slot for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `/predict`.
    Predict,
    /// `/recommend` and `/similar`.
    Recommend,
}

/// A loaded model version with its serving state.
pub struct Served {
    /// The version.
    pub info: VersionInfo,
    /// The model.
    pub model: Arc<dyn Model>,
    /// When it was loaded.
    pub loaded_at: SystemTime,
    /// Genre bits of every item index (from the catalogue).
    pub genre_bits: Vec<u64>,
    /// Users folded in from their ratings (external id -> vector), for models that fold in.
    folded: RwLock<HashMap<i64, Arc<UserVector>>>,
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served").field("info", &self.info).field("algorithm", &self.model.algorithm()).finish()
    }
}

impl Served {
    /// Prepares `loaded` for serving against `catalogue`.
    pub fn new(loaded: Loaded, catalogue: &Catalogue) -> Served {
        let items = loaded.model.items();
        let genre_bits = items.ids().iter().map(|&id| catalogue.genre_bits(id)).collect();
        Served { info: loaded.info, model: loaded.model, loaded_at: SystemTime::now(), genre_bits, folded: RwLock::new(HashMap::new()) }
    }

    /// The model's fold-in, if it has one.
    pub fn fold(&self) -> Option<&dyn FoldIn> {
        self.model.as_fold_in()
    }

    /// Whether scores are ratings.
    pub fn rates(&self) -> bool {
        self.model.kind() == ModelKind::Rating
    }

    /// The folded-in vector of `user`, if the speed layer made one.
    pub fn folded(&self, user: i64) -> Option<Arc<UserVector>> {
        let g = self.folded.read().unwrap_or_else(|p| p.into_inner());
        if g.is_empty() {
            return None;
        }
        g.get(&user).cloned()
    }

    /// Number of folded-in users.
    pub fn folded_users(&self) -> usize {
        self.folded.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Folds `user` in from `history` (movies the model does not know are skipped).
    /// Returns whether the model folds in at all.
    pub fn fold_in(&self, user: i64, history: &[Rated]) -> bool {
        let Some(f) = self.fold() else { return false };
        let items = self.model.items();
        let pairs: Vec<(u32, f32)> = history.iter().filter_map(|r| items.get(r.movie_id).map(|i| (i, r.rating))).collect();
        match f.fold_in(&pairs) {
            Ok(v) => {
                // One insert: a panic cannot leave the map half-updated, so poisoning is harmless.
                self.folded.write().unwrap_or_else(|p| p.into_inner()).insert(user, Arc::new(v));
                true
            }
            Err(e) => {
                // Indices come from the model's own map and ratings were checked when posted.
                tracing::error!(user, error = %e, "fold-in refused a checked history (a bug; please report it)");
                false
            }
        }
    }
}

/// A named model served under an alias, for one or more roles.
pub struct Slot {
    /// The model name.
    pub name: String,
    /// The roles it plays.
    pub roles: Vec<Role>,
    /// The version served, swapped atomically.
    pub current: ArcSwapOption<Served>,
    /// Held while a swap of this slot is loading, so that two swaps never race.
    pub(crate) swapping: AsyncMutex<()>,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").field("name", &self.name).field("roles", &self.roles).finish()
    }
}

impl Slot {
    pub(crate) fn new(name: &str, roles: Vec<Role>) -> Slot {
        Slot { name: name.into(), roles, current: ArcSwapOption::empty(), swapping: AsyncMutex::new(()) }
    }

    /// The version served now, if any.
    pub fn version(&self) -> Option<i64> {
        self.current.load().as_ref().map(|s| s.info.version)
    }
}

/// A classifier or sentiment model being served: loaded on its first request, reloaded when
/// its alias moves (polled, or promoted through the API), swapped like a [`Slot`]'s model.
#[derive(Debug)]
pub struct ServedClassic {
    /// The version.
    pub info: VersionInfo,
    /// The model.
    pub model: ClassicModel,
    /// When it was loaded.
    pub loaded_at: SystemTime,
}
