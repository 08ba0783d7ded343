//! Content-based ranking: TF-IDF vectors of item text (genres, tags, title words) and a
//! taste profile per user, compared by cosine.
//!
//! ```text
//!  item i:   v_i = tfidf(tokens of i) / |…|      tf = occurrences, idf = ln((1+N)/(1+df)) + 1
//!  user u:   p_u = Σ_i (r_ui − mean_u) v_i      (all weights 1 when every rating of u is equal)
//!  score(u, j) = cos(p_u, v_j) = p_u·v_j / |p_u|,   similar(i) = items by cos(v_i, v_j)
//! ```
//!
//! Centring on the user's mean makes a 2-star film push its genres down for a user who
//! mostly gives 4s; the uncentred sum (the alternative) only ever adds taste. Items with no
//! text, or no token kept after `min_df`, have a zero vector and score 0.
//!
//! Vectors are sparse (token, weight) rows: the vocabulary of tags on a large catalogue has
//! tens of thousands of tokens, a dense matrix would not fit.
//!
//! An unknown user gets the popularity order (declared); an unknown item scores 0. Fitting
//! needs [`Dataset::item_text`]: without it, `fit` fails and says how to provide it.
use std::collections::HashMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::artifact::{Artifact, ArtifactWriter};
use crate::data::{Dataset, IdMap, Scale};
use crate::model::{Fallback, FitObserver, Model, ModelKind, Score, top_k};
use crate::reco::Algorithm;
use crate::reco::ease::checked_offsets;
use crate::reco::ials::{check_usize, positive_counts};
use crate::{Error, Result};

/// Parameters of [`ContentModel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContentParams {
    /// Keep only tokens that occur in at least this many items, 1 to 1,000,000.
    pub min_df: usize,
}

impl Default for ContentParams {
    fn default() -> Self {
        ContentParams { min_df: 1 }
    }
}

/// Checked [`ContentParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidContentParams(ContentParams);

const ALGO: &str = "content";

impl ContentParams {
    /// Checks every parameter.
    pub fn check(&self) -> Result<ValidContentParams> {
        check_usize(ALGO, "min_df", self.min_df, 1, 1_000_000)?;
        Ok(ValidContentParams(self.clone()))
    }
}

/// Sparse rows: row `r` is `(idx, val)[offsets[r]..offsets[r+1]]`, tokens ascending.
#[derive(Debug, Clone, Default)]
struct Rows {
    offsets: Vec<usize>,
    idx: Vec<u32>,
    val: Vec<f32>,
}

impl Rows {
    fn row(&self, r: usize) -> (&[u32], &[f32]) {
        match self.offsets.get(r..r + 2) {
            Some(o) => (&self.idx[o[0]..o[1]], &self.val[o[0]..o[1]]),
            None => (&[], &[]),
        }
    }

    fn push(&mut self, mut row: Vec<(u32, f32)>) {
        row.sort_unstable_by_key(|p| p.0);
        for (t, w) in row {
            self.idx.push(t);
            self.val.push(w);
        }
        self.offsets.push(self.idx.len());
    }

    fn write(&self, out: &mut ArtifactWriter, name: &str) {
        out.i64s(&format!("{name}_offsets"), self.offsets.iter().map(|&o| o as i64).collect());
        out.u32s(&format!("{name}_tokens"), self.idx.clone());
        out.f32s(&format!("{name}_weights"), self.val.clone());
    }

    fn read(a: &mut Artifact, name: &str, rows: usize, vocab: usize) -> Result<Rows> {
        let offsets = a.take_i64(&format!("{name}_offsets"), Some(rows + 1))?;
        let idx = a.take_u32(&format!("{name}_tokens"), None)?;
        let val = a.take_f32(&format!("{name}_weights"), Some(idx.len()))?;
        let offsets = checked_offsets(&offsets, idx.len())?;
        if idx.iter().any(|&t| t as usize >= vocab) {
            return Err(Error::artifact(format!("a content {name} token is outside the vocabulary")));
        }
        Ok(Rows { offsets, idx, val })
    }
}

/// L2-normalises `row` in place (a zero row stays zero).
fn normalise(row: &mut [(u32, f32)]) {
    let norm = row.iter().map(|p| p.1 * p.1).sum::<f32>().sqrt();
    if norm > 0.0 {
        row.iter_mut().for_each(|p| p.1 /= norm);
    }
}

impl ValidContentParams {
    /// Builds the item vectors and the user profiles.
    pub fn fit(&self, data: &Dataset, obs: &mut dyn FitObserver) -> Result<ContentModel> {
        let text = data.item_text.as_ref().ok_or_else(|| {
            Error::Data(
                "content needs item text: build the dataset with Dataset::with_item_text, mapping each movie id \
                 to tokens such as genre:Comedy, tag:dark comedy or title words"
                    .into(),
            )
        })?;
        let items = data.items();
        // Vocabulary in order of first appearance over items by index: deterministic.
        let mut vocab: HashMap<&str, u32> = HashMap::new();
        let mut df: Vec<usize> = Vec::new();
        let mut tf: Vec<Vec<(u32, f32)>> = Vec::with_capacity(items.len());
        for &id in items.ids() {
            let mut counts: HashMap<u32, f32> = HashMap::new();
            for tok in text.tokens.get(&id).map(Vec::as_slice).unwrap_or(&[]) {
                let next = vocab.len() as u32;
                let t = *vocab.entry(tok.as_str()).or_insert_with(|| {
                    df.push(0);
                    next
                });
                let c = counts.entry(t).or_insert(0.0);
                if *c == 0.0 {
                    df[t as usize] += 1;
                }
                *c += 1.0;
            }
            tf.push(counts.into_iter().collect());
        }
        if vocab.is_empty() {
            return Err(Error::Data(
                "content found no token for any rated or catalogue item; check that the item text is keyed by \
                 the same movie ids as the ratings"
                    .into(),
            ));
        }
        let n = items.len() as f32;
        // Tokens kept by min_df get new, dense numbers; the others are dropped from the rows.
        let mut kept = vec![u32::MAX; df.len()];
        let mut idf: Vec<f32> = Vec::new();
        for (t, &d) in df.iter().enumerate() {
            if d >= self.0.min_df {
                kept[t] = idf.len() as u32;
                idf.push(((1.0 + n) / (1.0 + d as f32)).ln() + 1.0);
            }
        }
        let mut item_rows = Rows {
            offsets: vec![0],
            ..Rows::default()
        };
        for row in tf {
            let mut row: Vec<(u32, f32)> = row
                .into_iter()
                .filter(|p| kept[p.0 as usize] != u32::MAX)
                .map(|(t, c)| (kept[t as usize], c * idf[kept[t as usize] as usize]))
                .collect();
            normalise(&mut row);
            item_rows.push(row);
        }
        let v = idf.len();
        if !obs.keep_going() {
            return Err(Error::Cancelled);
        }
        // Profiles in parallel, each into a dense scratch over the vocabulary.
        let by_user = data.by_user();
        let profiles: Vec<Vec<(u32, f32)>> = (0..data.n_users())
            .into_par_iter()
            .map_init(
                || vec![0f32; v],
                |dense, u| {
                    let (cols, vals) = by_user.row(u);
                    let mean = vals.iter().sum::<f32>() / vals.len().max(1) as f32;
                    let flat = vals.iter().all(|&r| r == mean);
                    let mut touched: Vec<u32> = Vec::new();
                    for (&i, &r) in cols.iter().zip(vals) {
                        let w = if flat { 1.0 } else { r - mean };
                        let (toks, ws) = item_rows.row(i as usize);
                        for (&t, &x) in toks.iter().zip(ws) {
                            if dense[t as usize] == 0.0 {
                                touched.push(t);
                            }
                            dense[t as usize] += w * x;
                        }
                    }
                    let mut row: Vec<(u32, f32)> = Vec::with_capacity(touched.len());
                    for t in touched {
                        let x = std::mem::take(&mut dense[t as usize]);
                        if x != 0.0 {
                            row.push((t, x));
                        }
                    }
                    normalise(&mut row);
                    row
                },
            )
            .collect();
        let mut user_rows = Rows {
            offsets: vec![0],
            ..Rows::default()
        };
        for row in profiles {
            user_rows.push(row);
        }
        obs.on_epoch(1, 1, None);
        Ok(ContentModel {
            params: self.0.clone(),
            users: data.users().clone(),
            items: data.items().clone(),
            scale: data.scale(),
            vocab: v,
            item_rows,
            user_rows,
            counts: positive_counts(data, 0.0),
        })
    }
}

/// TF-IDF item vectors and user taste profiles.
#[derive(Debug, Clone)]
pub struct ContentModel {
    params: ContentParams,
    users: IdMap,
    items: IdMap,
    scale: Scale,
    vocab: usize,
    item_rows: Rows,
    user_rows: Rows,
    counts: Vec<f32>,
}

impl ContentModel {
    /// Rebuilds the model from an artifact, checking every index.
    pub fn read(users: IdMap, items: IdMap, a: &mut Artifact) -> Result<Self> {
        let params: ContentParams = a.params()?;
        let vocab = a.take_u32("vocab", Some(1))?[0] as usize;
        let item_rows = Rows::read(a, "item", items.len(), vocab)?;
        // Every kept token occurs in some item: a larger vocabulary is a damaged file (and
        // would size the scoring buffers).
        if vocab > item_rows.idx.len() {
            return Err(Error::artifact(format!(
                "content vocabulary of {vocab} tokens exceeds the {} item tokens",
                item_rows.idx.len()
            )));
        }
        let user_rows = Rows::read(a, "user", users.len(), vocab)?;
        let counts = a.take_f32("counts", Some(items.len()))?;
        Ok(ContentModel {
            params,
            users,
            items,
            scale: a.header.scale,
            vocab,
            item_rows,
            user_rows,
            counts,
        })
    }

    /// The profile of user `u` spread over the vocabulary.
    fn dense_profile(&self, u: u32) -> Vec<f32> {
        let mut dense = vec![0f32; self.vocab];
        let (toks, ws) = self.user_rows.row(u as usize);
        for (&t, &w) in toks.iter().zip(ws) {
            if let Some(d) = dense.get_mut(t as usize) {
                *d = w;
            }
        }
        dense
    }

    /// `Σ dense[t]·w` over a sparse row.
    fn dot_row(dense: &[f32], (toks, ws): (&[u32], &[f32])) -> f32 {
        toks.iter()
            .zip(ws)
            .map(|(&t, &w)| dense.get(t as usize).map_or(0.0, |d| d * w))
            .sum()
    }
}

const FALLBACK: &str = "popularity (number of ratings; 0 for an unknown item)";

impl Model for ContentModel {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Content
    }
    fn kind(&self) -> ModelKind {
        ModelKind::Ranking
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.params).unwrap_or_default()
    }
    fn users(&self) -> &IdMap {
        &self.users
    }
    fn items(&self) -> &IdMap {
        &self.items
    }
    fn scale(&self) -> Scale {
        self.scale
    }
    fn score(&self, u: Option<u32>, i: Option<u32>) -> Score {
        let value = match (u, i) {
            (_, None) => 0.0,
            (None, Some(i)) => self.counts.get(i as usize).copied().unwrap_or(0.0),
            (Some(u), Some(i)) => {
                // Two sorted sparse rows: merge them.
                let (a, b) = (self.user_rows.row(u as usize), self.item_rows.row(i as usize));
                let (mut p, mut q, mut s) = (0, 0, 0f32);
                while p < a.0.len() && q < b.0.len() {
                    match a.0[p].cmp(&b.0[q]) {
                        std::cmp::Ordering::Less => p += 1,
                        std::cmp::Ordering::Greater => q += 1,
                        std::cmp::Ordering::Equal => {
                            s += a.1[p] * b.1[q];
                            p += 1;
                            q += 1;
                        }
                    }
                }
                s
            }
        };
        Score {
            value,
            fallback: Fallback::for_unknown(u, i, FALLBACK),
        }
    }
    fn score_items(&self, u: Option<u32>, out: &mut [f32]) {
        match u.filter(|&u| (u as usize) < self.users.len()) {
            Some(u) => {
                let dense = self.dense_profile(u);
                for (i, o) in out.iter_mut().enumerate() {
                    *o = Self::dot_row(&dense, self.item_rows.row(i));
                }
            }
            None => out.iter_mut().zip(&self.counts).for_each(|(o, &c)| *o = c),
        }
    }
    fn similar(&self, i: u32, k: usize) -> Option<Vec<(u32, f32)>> {
        let mut dense = vec![0f32; self.vocab];
        let (toks, ws) = self.item_rows.row(i as usize);
        for (&t, &w) in toks.iter().zip(ws) {
            if let Some(d) = dense.get_mut(t as usize) {
                *d = w;
            }
        }
        let cands = (0..self.items.len() as u32)
            .filter(|&j| j != i)
            .map(|j| (j, Self::dot_row(&dense, self.item_rows.row(j as usize))));
        Some(top_k(cands, k, &self.items))
    }
    fn write(&self, out: &mut ArtifactWriter) {
        out.u32s("vocab", vec![self.vocab as u32]);
        self.item_rows.write(out, "item");
        self.user_rows.write(out, "user");
        out.f32s("counts", self.counts.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{ItemText, Ratings};
    use crate::model::{Quiet, recommend, similar};

    fn data() -> Dataset {
        let mut r = Ratings::default();
        // User 1 loves comedies and dislikes the horror film; user 2 the opposite.
        for (u, i, x) in [
            (1, 10, 5.0),
            (1, 11, 5.0),
            (1, 20, 1.0),
            (2, 20, 5.0),
            (2, 21, 5.0),
            (2, 10, 1.0),
        ] {
            r.push(u, i, x, 0);
        }
        let mut t = ItemText::default();
        for (i, g) in [
            (10, "Comedy"),
            (11, "Comedy"),
            (12, "Comedy"),
            (20, "Horror"),
            (21, "Horror"),
            (22, "Horror"),
        ] {
            t.tokens.insert(i, vec![format!("genre:{g}")]);
        }
        Dataset::try_new(&r, Scale::ONE_TO_FIVE)
            .expect("valid")
            .with_catalogue(&[12, 22, 30])
            .with_item_text(t)
    }

    #[test]
    fn profiles_follow_the_liked_genres() {
        let d = data();
        let m = ContentParams::default()
            .check()
            .expect("valid")
            .fit(&d, &mut Quiet)
            .expect("fits");
        let seen = |u: i64| {
            let ui = d.users().get(u).expect("known") as usize;
            let row: Vec<u32> = d.by_user().row(ui).0.to_vec();
            move |i: u32| row.contains(&i)
        };
        let (top, _) = recommend(&m, 1, 3, &seen(1));
        assert_eq!(top.iter().map(|s| s.item).collect::<Vec<_>>(), vec![12, 30, 21]);
        assert!(top[0].score > 0.7 && top[1].score == 0.0 && top[2].score < 0.0, "{top:?}");
        let (top, _) = recommend(&m, 2, 1, &seen(2));
        assert_eq!(top[0].item, 22);
        let sim = similar(&m, 10, 2).expect("has similar");
        assert_eq!(sim.iter().map(|s| s.item).collect::<Vec<_>>(), vec![11, 12]);
        let (_, fb) = recommend(&m, 99, 1, &|_| false);
        assert!(fb.is_some());
    }

    #[test]
    fn min_df_drops_rare_tokens_and_renumbers_the_rest() {
        let mut d = data();
        if let Some(t) = d.item_text.as_mut() {
            t.tokens.insert(30, vec!["tag:unique".into()]);
        }
        let m = ContentParams { min_df: 2 }
            .check()
            .expect("valid")
            .fit(&d, &mut Quiet)
            .expect("fits");
        assert_eq!(m.vocab, 2, "genre:Comedy and genre:Horror stay, tag:unique goes");
        assert!(m.item_rows.idx.iter().all(|&t| t < 2));
        let back = crate::reco::load(&crate::reco::save(&m)).expect("loads");
        assert_eq!(back.score(Some(0), Some(2)), m.score(Some(0), Some(2)));
    }

    #[test]
    fn missing_item_text_says_what_to_provide() {
        let mut r = Ratings::default();
        r.push(1, 1, 4.0, 0);
        let d = Dataset::try_new(&r, Scale::ONE_TO_FIVE).expect("valid");
        let e = ContentParams::default()
            .check()
            .expect("valid")
            .fit(&d, &mut Quiet)
            .expect_err("no text");
        assert!(e.to_string().contains("with_item_text"), "{e}");
        let e = ContentParams { min_df: 0 }.check().expect_err("zero");
        assert!(e.to_string().contains("min_df"), "{e}");
    }
}
