//! The model artifact format: one self-checking binary file per model version.
//!
//! ```text
//!  offset  size  content
//!  0       8     magic  b"REELMODL"
//!  8       4     format version, u32 little endian (currently 1)
//!  12      4     header length H, u32 LE
//!  16      H     header: UTF-8 JSON {"algorithm", "params", "scale", "meta",
//!                "sections": [{"name", "dtype": "f32"|"u32"|"i64"|"f64", "len"}]}
//!  16+H    ...   the sections' values in header order, little endian, no padding
//!  end-4   4     CRC-32 (IEEE) of every byte before it, u32 LE
//! ```
//!
//! Loading checks the magic, the version, the checksum and that the sections fill the file
//! exactly, before any value is read; a bad file is an [`Error::Artifact`], never a panic.
//! Values are copied out with `from_le_bytes`, so loading costs one pass over the file
//! (tens of milliseconds for a 25M-rating SVD model).
//!
//! Every recommender stores its id maps as the `i64` sections `users` and `items`.
//!
//! Other model families (tabular classifiers, the sentiment model, k-means) say so in the
//! header's optional `family` field, and keep their strings (category names, vocabulary)
//! in its optional `texts` map. Both are left out when empty, so a recommender artifact is
//! byte for byte what it was before they existed, and every older artifact still loads.
use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::data::{IdMap, Scale};
use crate::{Error, Result};

/// The first bytes of every artifact.
pub const MAGIC: &[u8; 8] = b"REELMODL";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// One section's element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// 32-bit float.
    F32,
    /// 32-bit unsigned integer.
    U32,
    /// 64-bit signed integer.
    I64,
    /// 64-bit float.
    F64,
}

impl Dtype {
    fn width(self) -> usize {
        match self {
            Dtype::F32 | Dtype::U32 => 4,
            Dtype::I64 | Dtype::F64 => 8,
        }
    }
}

/// A section's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// `f32` values.
    F32(Vec<f32>),
    /// `u32` values.
    U32(Vec<u32>),
    /// `i64` values.
    I64(Vec<i64>),
    /// `f64` values.
    F64(Vec<f64>),
}

impl Values {
    fn dtype(&self) -> Dtype {
        match self {
            Values::F32(_) => Dtype::F32,
            Values::U32(_) => Dtype::U32,
            Values::I64(_) => Dtype::I64,
            Values::F64(_) => Dtype::F64,
        }
    }

    fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::U32(v) => v.len(),
            Values::I64(v) => v.len(),
            Values::F64(v) => v.len(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SectionHeader {
    name: String,
    dtype: Dtype,
    len: usize,
}

/// The JSON header of an artifact.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    /// Algorithm name (`svd`, `ials`, ...).
    pub algorithm: String,
    /// The parameters the model was fit with.
    pub params: serde_json::Value,
    /// The rating scale.
    pub scale: Scale,
    /// Free-form facts (library version, training rows, ...).
    #[serde(default)]
    pub meta: serde_json::Value,
    /// The model family: `None` for recommenders, else `tabular`, `sentiment`, `kmeans`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// Named lists of strings (vocabularies, class labels).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub texts: BTreeMap<String, Vec<String>>,
    sections: Vec<SectionHeader>,
}

/// Collects a model's sections and writes the file.
#[derive(Debug)]
pub struct ArtifactWriter {
    algorithm: String,
    params: serde_json::Value,
    scale: Scale,
    meta: serde_json::Value,
    family: Option<String>,
    texts: BTreeMap<String, Vec<String>>,
    sections: Vec<(String, Values)>,
}

impl ArtifactWriter {
    /// A writer for a model of `algorithm` fit with `params`.
    pub fn new(algorithm: &str, params: serde_json::Value, scale: Scale) -> Self {
        ArtifactWriter {
            algorithm: algorithm.to_string(),
            params,
            scale,
            meta: serde_json::json!({ "reel_ml_version": env!("CARGO_PKG_VERSION") }),
            family: None,
            texts: BTreeMap::new(),
            sections: Vec::new(),
        }
    }

    /// Marks the artifact as a model of `family` (`tabular`, `sentiment`, `kmeans`).
    pub fn family(&mut self, family: &str) {
        self.family = Some(family.to_string());
    }

    /// Adds a named list of strings.
    pub fn strs(&mut self, name: &str, v: Vec<String>) {
        self.texts.insert(name.to_string(), v);
    }

    /// Sets a free-form fact in the header's `meta`.
    pub fn meta(&mut self, key: &str, value: serde_json::Value) {
        if let Some(m) = self.meta.as_object_mut() {
            m.insert(key.to_string(), value);
        }
    }

    /// Adds an `f32` section.
    pub fn f32s(&mut self, name: &str, v: Vec<f32>) {
        self.sections.push((name.to_string(), Values::F32(v)));
    }

    /// Adds a `u32` section.
    pub fn u32s(&mut self, name: &str, v: Vec<u32>) {
        self.sections.push((name.to_string(), Values::U32(v)));
    }

    /// Adds an `i64` section.
    pub fn i64s(&mut self, name: &str, v: Vec<i64>) {
        self.sections.push((name.to_string(), Values::I64(v)));
    }

    /// Adds an `f64` section.
    pub fn f64s(&mut self, name: &str, v: Vec<f64>) {
        self.sections.push((name.to_string(), Values::F64(v)));
    }

    /// Adds an id map as an `i64` section.
    pub fn ids(&mut self, name: &str, ids: &IdMap) {
        self.i64s(name, ids.ids().to_vec());
    }

    /// The finished file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            algorithm: self.algorithm.clone(),
            params: self.params.clone(),
            scale: self.scale,
            meta: self.meta.clone(),
            family: self.family.clone(),
            texts: self.texts.clone(),
            sections: self
                .sections
                .iter()
                .map(|(name, v)| SectionHeader {
                    name: name.clone(),
                    dtype: v.dtype(),
                    len: v.len(),
                })
                .collect(),
        };
        // Serialising plain structs of strings, numbers and JSON values cannot fail.
        let json = serde_json::to_vec(&header).unwrap_or_default();
        let body: usize = self.sections.iter().map(|(_, v)| v.len() * v.dtype().width()).sum();
        let mut out = Vec::with_capacity(16 + json.len() + body + 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        for (_, v) in &self.sections {
            match v {
                Values::F32(x) => x.iter().for_each(|e| out.extend_from_slice(&e.to_le_bytes())),
                Values::U32(x) => x.iter().for_each(|e| out.extend_from_slice(&e.to_le_bytes())),
                Values::I64(x) => x.iter().for_each(|e| out.extend_from_slice(&e.to_le_bytes())),
                Values::F64(x) => x.iter().for_each(|e| out.extend_from_slice(&e.to_le_bytes())),
            }
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }
}

/// A checked, parsed artifact.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// The header.
    pub header: Header,
    sections: HashMap<String, Values>,
}

impl Artifact {
    /// Parses and checks `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Artifact> {
        if bytes.len() < 20 {
            return Err(Error::artifact(format!("{} bytes is too short to be a model", bytes.len())));
        }
        if &bytes[..8] != MAGIC {
            return Err(Error::artifact("it does not start with REELMODL (not a reelhouse model file)"));
        }
        let version = u32::from_le_bytes(arr4(&bytes[8..12]));
        if version != FORMAT_VERSION {
            return Err(Error::artifact(format!(
                "format version {version}; this reelhouse reads version {FORMAT_VERSION}"
            )));
        }
        let (body, tail) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes(arr4(tail));
        let actual = crc32fast::hash(body);
        if stored != actual {
            return Err(Error::artifact(format!(
                "checksum mismatch (stored {stored:08x}, computed {actual:08x}): the file is corrupted or truncated"
            )));
        }
        let hlen = u32::from_le_bytes(arr4(&bytes[12..16])) as usize;
        let hend = 16usize
            .checked_add(hlen)
            .filter(|&e| e <= body.len())
            .ok_or_else(|| Error::artifact(format!("header length {hlen} runs past the end of the file")))?;
        let header: Header = serde_json::from_slice(&body[16..hend])
            .map_err(|e| Error::artifact(format!("the header is not valid: {e}")))?;
        let mut pos = hend;
        let mut sections = HashMap::with_capacity(header.sections.len());
        for s in &header.sections {
            let size = s
                .len
                .checked_mul(s.dtype.width())
                .filter(|&n| pos.checked_add(n).is_some_and(|e| e <= body.len()))
                .ok_or_else(|| Error::artifact(format!("section {} ({} values) runs past the end of the file", s.name, s.len)))?;
            let raw = &body[pos..pos + size];
            pos += size;
            let values = match s.dtype {
                Dtype::F32 => Values::F32(raw.chunks_exact(4).map(|c| f32::from_le_bytes(arr4(c))).collect()),
                Dtype::U32 => Values::U32(raw.chunks_exact(4).map(|c| u32::from_le_bytes(arr4(c))).collect()),
                Dtype::I64 => Values::I64(raw.chunks_exact(8).map(|c| i64::from_le_bytes(arr8(c))).collect()),
                Dtype::F64 => Values::F64(raw.chunks_exact(8).map(|c| f64::from_le_bytes(arr8(c))).collect()),
            };
            if sections.insert(s.name.clone(), values).is_some() {
                return Err(Error::artifact(format!("section {} appears twice", s.name)));
            }
        }
        if pos != body.len() {
            return Err(Error::artifact(format!("{} bytes after the last section", body.len() - pos)));
        }
        Ok(Artifact { header, sections })
    }

    fn take(&mut self, name: &str) -> Result<Values> {
        self.sections
            .remove(name)
            .ok_or_else(|| Error::artifact(format!("section {name} is missing for a {} model", self.header.algorithm)))
    }

    fn wrong(&self, name: &str, want: &str) -> Error {
        Error::artifact(format!("section {name} of the {} model is not {want}", self.header.algorithm))
    }

    /// Takes an `f32` section, checking its length when `len` is given.
    pub fn take_f32(&mut self, name: &str, len: Option<usize>) -> Result<Vec<f32>> {
        match self.take(name)? {
            Values::F32(v) => check_len(name, v, len),
            _ => Err(self.wrong(name, "f32")),
        }
    }

    /// Takes a `u32` section, checking its length when `len` is given.
    pub fn take_u32(&mut self, name: &str, len: Option<usize>) -> Result<Vec<u32>> {
        match self.take(name)? {
            Values::U32(v) => check_len(name, v, len),
            _ => Err(self.wrong(name, "u32")),
        }
    }

    /// Takes an `i64` section, checking its length when `len` is given.
    pub fn take_i64(&mut self, name: &str, len: Option<usize>) -> Result<Vec<i64>> {
        match self.take(name)? {
            Values::I64(v) => check_len(name, v, len),
            _ => Err(self.wrong(name, "i64")),
        }
    }

    /// Takes an `f64` section, checking its length when `len` is given.
    pub fn take_f64(&mut self, name: &str, len: Option<usize>) -> Result<Vec<f64>> {
        match self.take(name)? {
            Values::F64(v) => check_len(name, v, len),
            _ => Err(self.wrong(name, "f64")),
        }
    }

    /// Takes an id map stored with [`ArtifactWriter::ids`].
    pub fn take_ids(&mut self, name: &str) -> Result<IdMap> {
        IdMap::try_from_ids(self.take_i64(name, None)?)
    }

    /// Takes a list of strings stored with [`ArtifactWriter::strs`].
    pub fn take_strs(&mut self, name: &str) -> Result<Vec<String>> {
        self.header
            .texts
            .remove(name)
            .ok_or_else(|| Error::artifact(format!("text list {name} is missing for a {} model", self.header.algorithm)))
    }

    /// Takes a single `f32` value.
    pub fn take_scalar(&mut self, name: &str) -> Result<f32> {
        Ok(self.take_f32(name, Some(1))?[0])
    }

    /// The parameters, deserialised.
    pub fn params<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.header.params.clone())
            .map_err(|e| Error::artifact(format!("the {} parameters are not valid: {e}", self.header.algorithm)))
    }
}

fn check_len<T>(name: &str, v: Vec<T>, len: Option<usize>) -> Result<Vec<T>> {
    match len {
        Some(n) if n != v.len() => Err(Error::artifact(format!("section {name} has {} values, expected {n}", v.len()))),
        _ => Ok(v),
    }
}

fn arr4(b: &[u8]) -> [u8; 4] {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    a
}

fn arr8(b: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut w = ArtifactWriter::new("svd", serde_json::json!({"factors": 2}), Scale::ONE_TO_FIVE);
        w.f32s("p", vec![1.0, -2.5, 3.25]);
        w.i64s("users", vec![7, 9]);
        w.u32s("n", vec![4]);
        w.f64s("mean", vec![3.5]);
        w.to_bytes()
    }

    #[test]
    fn round_trip() {
        let mut a = Artifact::from_bytes(&sample()).expect("valid");
        assert_eq!(a.header.algorithm, "svd");
        assert_eq!(a.take_f32("p", Some(3)).expect("p"), vec![1.0, -2.5, 3.25]);
        assert_eq!(a.take_ids("users").expect("users").ids(), &[7, 9]);
        assert_eq!(a.take_u32("n", None).expect("n"), vec![4]);
        assert_eq!(a.take_f64("mean", Some(1)).expect("mean"), vec![3.5]);
        assert!(a.take_f32("p", None).is_err(), "taken twice");
    }

    #[test]
    fn wrong_type_or_length_is_refused() {
        let mut a = Artifact::from_bytes(&sample()).expect("valid");
        assert!(a.take_f32("p", Some(4)).is_err());
        let mut a = Artifact::from_bytes(&sample()).expect("valid");
        assert!(a.take_u32("p", None).is_err());
    }

    #[test]
    fn every_flipped_byte_and_every_truncation_is_refused() {
        let good = sample();
        for k in 0..good.len() {
            let mut bad = good.clone();
            bad[k] ^= 0x5a;
            assert!(Artifact::from_bytes(&bad).is_err(), "flip at {k} accepted");
            assert!(Artifact::from_bytes(&good[..k]).is_err(), "truncation at {k} accepted");
        }
    }

    #[test]
    fn families_and_texts_round_trip_and_recommenders_are_unchanged() {
        let mut w = ArtifactWriter::new("logreg", serde_json::json!({}), Scale { min: 0.0, max: 1.0 });
        w.family("tabular");
        w.strs("labels", vec!["No".into(), "Yes".into()]);
        w.f64s("coef", vec![0.5]);
        let mut a = Artifact::from_bytes(&w.to_bytes()).expect("valid");
        assert_eq!(a.header.family.as_deref(), Some("tabular"));
        assert_eq!(a.take_strs("labels").expect("labels"), vec!["No", "Yes"]);
        assert!(a.take_strs("labels").is_err());
        // A recommender's header has neither key: old readers and old files agree.
        let plain = sample();
        let text = String::from_utf8_lossy(&plain);
        assert!(!text.contains("family") && !text.contains("texts"));
        assert_eq!(Artifact::from_bytes(&plain).expect("valid").header.family, None);
    }

    #[test]
    fn messages_name_the_problem() {
        let e = Artifact::from_bytes(b"PK\x03\x04 this is a zip file").expect_err("not ours");
        assert!(e.to_string().contains("REELMODL"), "{e}");
        let mut bad = sample();
        let n = bad.len();
        bad[n - 10] ^= 1;
        assert!(Artifact::from_bytes(&bad).expect_err("corrupt").to_string().contains("checksum"));
    }
}
