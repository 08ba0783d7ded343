//! Review sentiment: tokenisation, stop words, TF-IDF word n-grams and a multinomial
//! logistic regression, with a classification report.
//!
//! ```text
//!  text ──tokenize (lowercase; runs of letters, digits, _; 2+ chars; optional stop words)──> tokens
//!       ──n-grams (1..=2)──> terms ──vocabulary (min_df documents) + idf──> sparse TF-IDF rows
//!  (tf = 1 + ln(count) when sublinear; idf = ln((1 + n) / (1 + df)) + 1; rows L2-normalised)
//!       ──linear::LinearFit (softmax, L2, optional balanced class weights, L-BFGS)──> SentimentModel
//! ```
//!
//! The features are scikit-learn's `TfidfVectorizer(ngram_range=(1, 2), min_df=2,
//! sublinear_tf=True)` (the same token pattern `\b\w\w+\b`, the same idf and norm), so the
//! vocabulary of the shared split has the same 75,177 terms. The stop-word list is
//! scikit-learn's English list minus the words that carry sentiment ("not", "no", "nor",
//! "never", "very", "too", "few", "more", "most", "against", "cannot", "but"), because a
//! review's "not" is the point.
//!
//! ```
//! use reel_ml::text::{SentimentParams, fit_sentiment};
//! let texts = ["love it", "great fit love", "awful fabric", "returned it awful", "ok i guess", "it is ok"];
//! let labels = ["positive", "positive", "negative", "negative", "neutral", "neutral"];
//! let texts: Vec<String> = texts.iter().map(|s| s.to_string()).collect();
//! let labels: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
//! let p = SentimentParams { min_df: 1, c: 10.0, ..SentimentParams::default() };
//! let model = fit_sentiment(&texts, &labels, &p)?;
//! assert_eq!(model.predict("awful").label, "negative");
//! let back = reel_ml::text::SentimentModel::load(&model.save())?;
//! assert_eq!(back.predict("love").label, "positive");
//! # Ok::<(), reel_ml::Error>(())
//! ```
use std::collections::HashMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::artifact::{Artifact, ArtifactWriter};
use crate::data::Scale;
use crate::optim::LbfgsOptions;
use crate::tabular::linear::{ClassWeight, Csr, LinearFit, LinearModel, Loss, Targets};
use crate::tabular::metrics::ClassReport;
use crate::{Error, Result};

/// English stop words (scikit-learn's list without the sentiment-bearing words).
pub const STOP_WORDS: &[&str] = &[
    "a", "about", "above", "across", "after", "afterwards", "again", "all", "almost", "alone", "along", "already", "also", "although",
    "always", "am", "among", "amongst", "amoungst", "amount", "an", "and", "another", "any", "anyhow", "anyone", "anything", "anyway",
    "anywhere", "are", "around", "as", "at", "back", "be", "became", "because", "become", "becomes", "becoming", "been", "before",
    "beforehand", "behind", "being", "below", "beside", "besides", "between", "beyond", "bill", "both", "bottom", "by", "call", "can",
    "co", "con", "could", "couldnt", "cry", "de", "describe", "detail", "do", "done", "down", "due", "during", "each", "eg", "eight",
    "either", "eleven", "else", "elsewhere", "empty", "enough", "etc", "even", "ever", "every", "everyone", "everything", "everywhere",
    "except", "fifteen", "fifty", "fill", "find", "fire", "first", "five", "for", "former", "formerly", "forty", "found", "four", "from",
    "front", "full", "further", "get", "give", "go", "had", "has", "hasnt", "have", "he", "hence", "her", "here", "hereafter", "hereby",
    "herein", "hereupon", "hers", "herself", "him", "himself", "his", "how", "however", "hundred", "i", "ie", "if", "in", "inc", "indeed",
    "interest", "into", "is", "it", "its", "itself", "keep", "last", "latter", "latterly", "least", "less", "ltd", "made", "many", "may",
    "me", "meanwhile", "might", "mill", "mine", "moreover", "mostly", "move", "much", "must", "my", "myself", "name", "namely",
    "neither", "nevertheless", "next", "nine", "nobody", "none", "noone", "nothing", "now", "nowhere", "of", "off", "often", "on",
    "once", "one", "only", "onto", "or", "other", "others", "otherwise", "our", "ours", "ourselves", "out", "over", "own", "part", "per",
    "perhaps", "please", "put", "rather", "re", "same", "see", "seem", "seemed", "seeming", "seems", "serious", "several", "she",
    "should", "show", "side", "since", "sincere", "six", "sixty", "so", "some", "somehow", "someone", "something", "sometime",
    "sometimes", "somewhere", "still", "such", "system", "take", "ten", "than", "that", "the", "their", "them", "themselves", "then",
    "thence", "there", "thereafter", "thereby", "therefore", "therein", "thereupon", "these", "they", "thick", "thin", "third", "this",
    "those", "though", "three", "through", "throughout", "thru", "thus", "to", "together", "top", "toward", "towards", "twelve",
    "twenty", "two", "un", "under", "until", "up", "upon", "us", "via", "was", "we", "well", "were", "what", "whatever", "when",
    "whence", "whenever", "where", "whereafter", "whereas", "whereby", "wherein", "whereupon", "wherever", "whether", "which", "while",
    "whither", "who", "whoever", "whole", "whom", "whose", "why", "will", "with", "within", "without", "would", "yet", "you", "your",
    "yours", "yourself", "yourselves",
];

/// The label of a 1-5 rating (seed 001's rule): ≤ 2 negative, 3 neutral, ≥ 4 positive.
pub fn label_for_rating(rating: f64) -> &'static str {
    if rating <= 2.0 {
        "negative"
    } else if rating < 4.0 {
        "neutral"
    } else {
        "positive"
    }
}

/// Lowercased tokens of two or more letters, digits or underscores (`\b\w\w+\b`).
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = 0usize;
    for ch in text.chars() {
        if ch.is_alphanumeric() || ch == '_' {
            cur.extend(ch.to_lowercase());
            chars += 1;
        } else {
            if chars >= 2 {
                out.push(std::mem::take(&mut cur));
            }
            cur.clear();
            chars = 0;
        }
    }
    if chars >= 2 {
        out.push(cur);
    }
    out
}

/// Sentiment model parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SentimentParams {
    /// Longest n-gram (1 = words only, 2 = words and pairs).
    pub max_ngram: usize,
    /// Terms in fewer documents than this are dropped.
    pub min_df: usize,
    /// `1 + ln(tf)` instead of raw counts.
    pub sublinear_tf: bool,
    /// Drop English stop words (negations kept).
    pub stop_words: bool,
    /// Inverse L2 strength (scikit-learn's `C`).
    pub c: f64,
    /// Class weights (`balanced` lifts the minority classes' recall, and macro-F1).
    pub class_weight: ClassWeight,
    /// Most L-BFGS iterations.
    pub max_iter: usize,
    /// Stop when the largest gradient component is below this.
    pub tol: f64,
}

impl Default for SentimentParams {
    fn default() -> Self {
        SentimentParams { max_ngram: 2, min_df: 2, sublinear_tf: true, stop_words: false, c: 1.0, class_weight: ClassWeight::Balanced, max_iter: 300, tol: 1e-4 }
    }
}

impl SentimentParams {
    /// Refuses out-of-range values.
    pub fn check(&self) -> Result<()> {
        if !(1..=3).contains(&self.max_ngram) {
            return Err(Error::param("sentiment", "max_ngram", self.max_ngram, "expected 1, 2 or 3"));
        }
        if self.min_df == 0 {
            return Err(Error::param("sentiment", "min_df", 0, "expected at least 1"));
        }
        if !(self.c > 0.0 && self.c.is_finite()) {
            return Err(Error::param("sentiment", "c", self.c, "expected a positive number such as 1.0"));
        }
        if self.max_iter == 0 {
            return Err(Error::param("sentiment", "max_iter", 0, "expected at least 1"));
        }
        Ok(())
    }
}

/// A fast, seeded-free hasher for integer and short-string keys (FxHash's multiply-rotate).
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(i as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(i as u64);
    }
}

type FxBuild = std::hash::BuildHasherDefault<Fx>;
type FxMap<K, V> = HashMap<K, V, FxBuild>;

/// Unknown token id (a word never seen in training).
const UNKNOWN: u32 = u32::MAX;

/// The key of a unigram (`a`) or bigram (`a b`) of token ids; trigrams hash their third id in.
fn key(ids: &[u32]) -> u64 {
    match ids {
        [a] => (1u64 << 63) | *a as u64,
        [a, b] => ((*a as u64) << 32) | *b as u64,
        [a, b, c] => (((*a as u64) << 32) | *b as u64).rotate_left(17) ^ (*c as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | (1u64 << 62),
        _ => 0,
    }
}

/// Token ids of `text`, interning new tokens when `intern` is given.
fn token_ids(text: &str, vocab: &FxMap<String, u32>, stop: bool, buf: &mut String, out: &mut Vec<u32>, mut intern: Option<&mut FxMap<String, u32>>) {
    out.clear();
    let mut flush = |buf: &mut String, chars: usize, out: &mut Vec<u32>| {
        if chars >= 2 && !(stop && STOP_WORDS.binary_search(&buf.as_str()).is_ok()) {
            let id = match vocab.get(buf.as_str()) {
                Some(&id) => id,
                None => match intern.as_deref_mut() {
                    Some(m) => {
                        let n = m.len() as u32;
                        *m.entry(buf.clone()).or_insert(n)
                    }
                    None => UNKNOWN,
                },
            };
            out.push(id);
        }
        buf.clear();
    };
    let mut chars = 0usize;
    buf.clear();
    for ch in text.chars() {
        if ch.is_alphanumeric() || ch == '_' {
            if ch.is_ascii() {
                buf.push(ch.to_ascii_lowercase());
            } else {
                buf.extend(ch.to_lowercase());
            }
            chars += 1;
        } else if chars > 0 {
            flush(buf, chars, out);
            chars = 0;
        }
    }
    if chars > 0 {
        flush(buf, chars, out);
    }
}

/// A fitted TF-IDF vocabulary.
#[derive(Debug, Clone, PartialEq)]
pub struct Tfidf {
    /// Terms (`word` or `word word`), in column order.
    pub terms: Vec<String>,
    /// idf per term.
    pub idf: Vec<f64>,
    tokens: FxMap<String, u32>,
    columns: FxMap<u64, u32>,
    max_ngram: usize,
    sublinear: bool,
    stop_words: bool,
}

impl Tfidf {
    fn keys_of(&self, ids: &[u32], out: &mut Vec<u64>) {
        out.clear();
        for n in 1..=self.max_ngram {
            for w in ids.windows(n) {
                if !w.contains(&UNKNOWN) {
                    out.push(key(w));
                }
            }
        }
    }

    /// Learns the vocabulary and idf of `docs`; returns the TF-IDF rows of `docs` too
    /// (they come almost free from the same pass).
    pub fn fit_transform(docs: &[String], p: &SentimentParams) -> (Tfidf, Csr) {
        // Pass 1: intern every token (one thread: the map is shared), keep each document's ids.
        let mut tokens: FxMap<String, u32> = FxMap::default();
        let empty: FxMap<String, u32> = FxMap::default();
        let mut offsets = Vec::with_capacity(docs.len() + 1);
        offsets.push(0usize);
        let mut flat: Vec<u32> = Vec::new();
        let (mut buf, mut ids) = (String::new(), Vec::new());
        for d in docs {
            token_ids(d, &empty, p.stop_words, &mut buf, &mut ids, Some(&mut tokens));
            flat.extend_from_slice(&ids);
            offsets.push(flat.len());
        }
        let mut t = Tfidf { terms: Vec::new(), idf: Vec::new(), tokens, columns: FxMap::default(), max_ngram: p.max_ngram, sublinear: p.sublinear_tf, stop_words: p.stop_words };
        // Pass 2: document frequency of every n-gram key, in parallel chunks.
        let n = docs.len();
        let chunk = (n / (2 * rayon::current_num_threads().max(1))).max(256);
        let starts: Vec<usize> = (0..n).step_by(chunk.max(1)).collect();
        let parts: Vec<FxMap<u64, u32>> = starts
            .par_iter()
            .map(|&s| {
                let mut df: FxMap<u64, u32> = FxMap::default();
                let mut keys = Vec::new();
                for d in s..(s + chunk).min(n) {
                    t.keys_of(&flat[offsets[d]..offsets[d + 1]], &mut keys);
                    keys.sort_unstable();
                    keys.dedup();
                    for &k in &keys {
                        *df.entry(k).or_default() += 1;
                    }
                }
                df
            })
            .collect();
        let mut parts = parts.into_iter();
        let mut df = parts.next().unwrap_or_default();
        for part in parts {
            for (k, v) in part {
                *df.entry(k).or_default() += v;
            }
        }
        // The kept terms as text, sorted like scikit-learn's vocabulary.
        let mut words = vec![String::new(); t.tokens.len()];
        for (w, &id) in &t.tokens {
            words[id as usize] = w.clone();
        }
        let mut kept: Vec<(String, u64, u32)> = Vec::new();
        for (&k, &c) in &df {
            if (c as usize) < p.min_df {
                continue;
            }
            kept.push((String::new(), k, c));
        }
        // Each kept key's text. Unigram and bigram keys hold their token ids, so up to
        // bigrams the text is read off the key; trigram keys are hashed, so their text comes
        // from a document that holds them.
        if t.max_ngram <= 2 {
            for e in &mut kept {
                let k = e.1;
                e.0 = if k >> 63 == 1 {
                    words[(k & u64::from(u32::MAX)) as usize].clone()
                } else {
                    format!("{} {}", words[(k >> 32) as usize], words[(k & u64::from(u32::MAX)) as usize])
                };
            }
        } else {
            let mut text_of: FxMap<u64, String> = FxMap::default();
            text_of.reserve(kept.len());
            for &(_, k, _) in &kept {
                text_of.insert(k, String::new());
            }
            for d in 0..n {
                let ids = &flat[offsets[d]..offsets[d + 1]];
                for m in 1..=t.max_ngram {
                    for w in ids.windows(m) {
                        let k = key(w);
                        if let Some(s) = text_of.get_mut(&k) {
                            if s.is_empty() {
                                *s = w.iter().map(|&i| words[i as usize].as_str()).collect::<Vec<_>>().join(" ");
                            }
                        }
                    }
                }
            }
            for e in &mut kept {
                e.0 = text_of.remove(&e.1).unwrap_or_default();
            }
        }
        kept.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let nf = n as f64;
        t.idf = kept.iter().map(|(_, _, c)| ((1.0 + nf) / (1.0 + *c as f64)).ln() + 1.0).collect();
        t.columns = kept.iter().enumerate().map(|(j, (_, k, _))| (*k, j as u32)).collect();
        t.terms = kept.into_iter().map(|(s, _, _)| s).collect();
        // Pass 3: the rows, from the ids already in hand.
        let rows: Vec<Vec<(u32, f32)>> = (0..n).into_par_iter().map(|d| t.row_of(&flat[offsets[d]..offsets[d + 1]])).collect();
        let csr = Self::to_csr(rows, t.terms.len());
        (t, csr)
    }

    /// Learns the vocabulary and idf of `docs`.
    pub fn fit(docs: &[String], p: &SentimentParams) -> Tfidf {
        Self::fit_transform(docs, p).0
    }

    fn row_of(&self, ids: &[u32]) -> Vec<(u32, f32)> {
        let mut keys = Vec::new();
        self.keys_of(ids, &mut keys);
        let mut cols: Vec<u32> = keys.iter().filter_map(|k| self.columns.get(k).copied()).collect();
        cols.sort_unstable();
        let mut row: Vec<(u32, f64)> = Vec::with_capacity(cols.len());
        for id in cols {
            match row.last_mut() {
                Some((j, c)) if *j == id => *c += 1.0,
                _ => row.push((id, 1.0)),
            }
        }
        let mut norm = 0.0;
        for (j, v) in row.iter_mut() {
            let tf = if self.sublinear { 1.0 + v.ln() } else { *v };
            *v = tf * self.idf[*j as usize];
            norm += *v * *v;
        }
        let norm = norm.sqrt();
        row.into_iter().map(|(j, v)| (j, if norm > 0.0 { (v / norm) as f32 } else { 0.0 })).collect()
    }

    fn to_csr(rows: Vec<Vec<(u32, f32)>>, cols: usize) -> Csr {
        let nnz: usize = rows.iter().map(Vec::len).sum();
        let mut csr = Csr { cols, indptr: Vec::with_capacity(rows.len() + 1), indices: Vec::with_capacity(nnz), values: Vec::with_capacity(nnz) };
        csr.indptr.push(0);
        for r in rows {
            for (j, v) in r {
                csr.indices.push(j);
                csr.values.push(v);
            }
            csr.indptr.push(csr.indices.len());
        }
        csr
    }

    /// The TF-IDF rows of `docs`.
    pub fn transform(&self, docs: &[String]) -> Csr {
        let rows: Vec<Vec<(u32, f32)>> = docs
            .par_iter()
            .map_init(
                || (String::new(), Vec::new()),
                |(buf, ids), d| {
                    token_ids(d, &self.tokens, self.stop_words, buf, ids, None);
                    self.row_of(ids)
                },
            )
            .collect();
        Self::to_csr(rows, self.terms.len())
    }

    /// Rebuilds the lookup tables from the stored terms.
    fn from_terms(terms: Vec<String>, idf: Vec<f64>, p: &SentimentParams) -> Tfidf {
        let mut tokens: FxMap<String, u32> = FxMap::default();
        let mut columns: FxMap<u64, u32> = FxMap::default();
        for (j, term) in terms.iter().enumerate() {
            let ids: Vec<u32> = term
                .split(' ')
                .map(|w| {
                    let n = tokens.len() as u32;
                    *tokens.entry(w.to_string()).or_insert(n)
                })
                .collect();
            columns.insert(key(&ids), j as u32);
        }
        Tfidf { terms, idf, tokens, columns, max_ngram: p.max_ngram, sublinear: p.sublinear_tf, stop_words: p.stop_words }
    }
}

/// A fitted sentiment model.
#[derive(Debug, Clone, PartialEq)]
pub struct SentimentModel {
    /// Class labels, in output order.
    pub labels: Vec<String>,
    /// The features.
    pub tfidf: Tfidf,
    /// The classifier.
    pub linear: LinearModel,
    /// The parameters it was fit with.
    pub params: SentimentParams,
}

/// One text's prediction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextPrediction {
    /// The most probable label.
    pub label: String,
    /// Its probability.
    pub probability: f64,
    /// Every label's probability, in label order.
    pub probabilities: Vec<(String, f64)>,
}

/// Fits TF-IDF and the classifier on `texts` with `labels`.
pub fn fit_sentiment(texts: &[String], labels: &[String], p: &SentimentParams) -> Result<SentimentModel> {
    p.check()?;
    if texts.len() != labels.len() {
        return Err(Error::Internal(format!("{} texts for {} labels", texts.len(), labels.len())));
    }
    let mut classes: Vec<String> = labels.to_vec();
    classes.sort();
    classes.dedup();
    if classes.len() < 2 {
        return Err(Error::Data(format!(
            "the training reviews have {} label ({}); a classifier needs at least two",
            classes.len(),
            classes.first().map_or("none".to_string(), |c| format!("{c:?}"))
        )));
    }
    let (tfidf, x) = Tfidf::fit_transform(texts, p);
    if tfidf.terms.is_empty() {
        return Err(Error::Data(format!("no term appears in {} or more training texts; lower min_df or add texts", p.min_df)));
    }
    let y: Vec<usize> = labels.iter().map(|l| classes.iter().position(|c| c == l).unwrap_or(0)).collect();
    let w = p.class_weight.row_weights(&y, classes.len());
    let loss = if classes.len() == 2 { Loss::Logistic } else { Loss::Softmax };
    let fit = LinearFit { loss, c: p.c, opts: LbfgsOptions { max_iter: p.max_iter, gtol: p.tol, ftol: 1e-9, ..LbfgsOptions::default() } };
    let linear = fit.fit(&x, Targets::Classes(&y), &w, classes.len());
    Ok(SentimentModel { labels: classes, tfidf, linear, params: p.clone() })
}

impl SentimentModel {
    /// Probabilities per text (`texts * labels`).
    pub fn probabilities(&self, texts: &[String]) -> Vec<f64> {
        self.linear.predict(&self.tfidf.transform(texts))
    }

    /// The predicted label index of each text.
    pub fn classify(&self, texts: &[String]) -> Vec<usize> {
        let k = self.labels.len();
        self.probabilities(texts).chunks(k).map(|r| (0..k).max_by(|&a, &b| r[a].total_cmp(&r[b])).unwrap_or(0)).collect()
    }

    /// One text's prediction.
    pub fn predict(&self, text: &str) -> TextPrediction {
        let p = self.probabilities(&[text.to_string()]);
        let best = (0..self.labels.len()).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0);
        TextPrediction {
            label: self.labels[best].clone(),
            probability: p[best],
            probabilities: self.labels.iter().cloned().zip(p.iter().copied()).collect(),
        }
    }

    /// The classification report on `texts` with true `labels` (unknown labels are refused).
    pub fn report(&self, texts: &[String], labels: &[String]) -> Result<ClassReport> {
        let truth: Vec<usize> = labels
            .iter()
            .map(|l| {
                self.labels.iter().position(|c| c == l).ok_or_else(|| {
                    Error::Data(format!("test label {l:?} is not one the model was trained on ({})", self.labels.join(", ")))
                })
            })
            .collect::<Result<_>>()?;
        Ok(ClassReport::new(&self.labels, &truth, &self.classify(texts)))
    }

    /// The artifact bytes (family `sentiment`).
    pub fn save(&self) -> Vec<u8> {
        let mut w = ArtifactWriter::new("tfidf-logreg", serde_json::to_value(&self.params).unwrap_or_default(), Scale { min: 0.0, max: 1.0 });
        w.family("sentiment");
        w.strs("labels", self.labels.clone());
        w.strs("terms", self.tfidf.terms.clone());
        w.f64s("idf", self.tfidf.idf.clone());
        w.u32s("outputs", vec![self.linear.outputs as u32]);
        w.f64s("coef", self.linear.coef.clone());
        w.f64s("intercept", self.linear.intercept.clone());
        w.to_bytes()
    }

    /// Loads and checks an artifact written by [`SentimentModel::save`].
    pub fn load(bytes: &[u8]) -> Result<SentimentModel> {
        let mut a = Artifact::from_bytes(bytes)?;
        if a.header.family.as_deref() != Some("sentiment") {
            return Err(Error::artifact(format!("a {} model, not a sentiment model", a.header.family.as_deref().unwrap_or("recommender"))));
        }
        let params: SentimentParams = a.params()?;
        let labels = a.take_strs("labels")?;
        let terms = a.take_strs("terms")?;
        let idf = a.take_f64("idf", Some(terms.len()))?;
        let k = a.take_u32("outputs", Some(1))?[0] as usize;
        let coef = a.take_f64("coef", Some(terms.len() * k))?;
        let intercept = a.take_f64("intercept", Some(k))?;
        let loss = if k == 1 { Loss::Logistic } else { Loss::Softmax };
        if (k == 1 && labels.len() != 2) || (k > 1 && labels.len() != k) {
            return Err(Error::artifact(format!("{} labels for {k} outputs", labels.len())));
        }
        let tfidf = Tfidf::from_terms(terms, idf, &params);
        Ok(SentimentModel { labels, tfidf, linear: LinearModel { loss, outputs: k, coef, intercept, iterations: 0, converged: true }, params })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms_of(text: &str, max_ngram: usize, stop: bool) -> Vec<String> {
        let mut toks = tokenize(text);
        if stop {
            toks.retain(|t| STOP_WORDS.binary_search(&t.as_str()).is_err());
        }
        let mut out = Vec::new();
        for n in 1..=max_ngram {
            for w in toks.windows(n) {
                out.push(w.join(" "));
            }
        }
        out
    }

    #[test]
    fn tokens_follow_sklearns_pattern() {
        assert_eq!(tokenize("It's GREAT, a 10/10 fit!"), vec!["it", "great", "10", "10", "fit"]);
        assert_eq!(tokenize("Très élégant_robe"), vec!["très", "élégant_robe"]);
        assert!(tokenize("a b c").is_empty());
    }

    #[test]
    fn stop_words_are_sorted_and_keep_negations() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]), "binary search needs a sorted list");
        for kept in ["not", "no", "nor", "never", "very", "too", "but"] {
            assert!(STOP_WORDS.binary_search(&kept).is_err(), "{kept}");
        }
        assert_eq!(terms_of("this is not the dress", 1, true), vec!["not", "dress"]);
    }

    #[test]
    fn tfidf_matches_sklearn_on_a_tiny_corpus() {
        // TfidfVectorizer(ngram_range=(1,2), min_df=1, sublinear_tf=True) on these two docs:
        // vocabulary [aa, aa bb, aa cc, bb, bb aa, cc]; doc 0 = "aa bb aa" -> aa tf 1+ln2.
        let docs = vec!["aa bb aa".to_string(), "aa cc".to_string()];
        let p = SentimentParams { min_df: 1, ..SentimentParams::default() };
        let t = Tfidf::fit(&docs, &p);
        assert_eq!(t.terms, vec!["aa", "aa bb", "aa cc", "bb", "bb aa", "cc"]);
        let x = t.transform(&docs);
        let (idx, val) = x.row(0);
        let norm: f32 = val.iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        // aa: tf 1 + ln 2, idf ln(3/3) + 1 = 1; bb: tf 1, idf ln(3/2) + 1.
        let aa = val[idx.iter().position(|&j| j == 0).expect("aa")];
        let bb = val[idx.iter().position(|&j| j == 3).expect("bb")];
        let ratio = aa / bb;
        let want = (1.0 + 2f32.ln()) / (1.5f32.ln() + 1.0);
        assert!((ratio - want).abs() < 1e-4, "{ratio} vs {want}");
    }

    /// fit_transform builds the training rows from the token ids of its first pass;
    /// transform tokenises the text again. Both must give the same matrix, for 1-, 2- and 3-grams,
    /// across more documents than one parallel chunk holds (repeated words, empty texts).
    #[test]
    fn fit_transform_rows_equal_transform_rows() {
        let words = ["good", "bad", "fit", "not", "small", "lovely", "fabric", "runs", "size", "x"];
        let docs: Vec<String> = (0..1500)
            .map(|d| {
                let len = (d * 7) % 13;
                (0..len).map(|i| words[(d * 31 + i * i * 17 + i) % words.len()]).collect::<Vec<_>>().join(" ")
            })
            .collect();
        for max_ngram in 1..=3 {
            let p = SentimentParams { max_ngram, min_df: 2, ..SentimentParams::default() };
            let (t, x) = Tfidf::fit_transform(&docs, &p);
            assert!(!t.terms.is_empty());
            let y = t.transform(&docs);
            assert_eq!(x.indptr, y.indptr, "{max_ngram}-grams");
            assert_eq!(x.indices, y.indices, "{max_ngram}-grams");
            for (a, b) in x.values.iter().zip(&y.values) {
                assert!((a - b).abs() < 1e-6, "{max_ngram}-grams: {a} vs {b}");
            }
        }
    }

    #[test]
    fn one_label_and_bad_parameters_are_refused() {
        let t = vec!["good".to_string(), "fine".to_string()];
        let l = vec!["positive".to_string(), "positive".to_string()];
        let e = fit_sentiment(&t, &l, &SentimentParams { min_df: 1, ..SentimentParams::default() }).expect_err("one class");
        assert!(e.to_string().contains("at least two"), "{e}");
        assert!(SentimentParams { c: 0.0, ..SentimentParams::default() }.check().is_err());
        assert_eq!(label_for_rating(2.0), "negative");
        assert_eq!(label_for_rating(3.0), "neutral");
        assert_eq!(label_for_rating(4.0), "positive");
    }
}
