//! Issue 7's sentiment must-show on the shared split: the committed corpus
//! (datasets/reviews) and row ids (testdata/sentiment), a review being its title and text.
use std::path::PathBuf;

use reel_ml::text::{SentimentModel, SentimentParams, fit_sentiment};

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(p)
}

/// `(title + " . " + text, label)` of the split's rows.
fn split(name: &str) -> (Vec<String>, Vec<String>) {
    let mut corpus = csv::Reader::from_path(repo("datasets/reviews/womens_clothing_reviews.csv")).expect("committed corpus");
    let h = corpus.headers().expect("header").clone();
    let ti = h.iter().position(|c| c == "Title").expect("Title");
    let xi = h.iter().position(|c| c == "Review Text").expect("Review Text");
    let rows: Vec<(String, String)> = corpus.records().map(|r| r.expect("record")).map(|r| (r[ti].to_string(), r[xi].to_string())).collect();
    let mut ids = csv::Reader::from_path(repo(&format!("testdata/sentiment/{name}.csv"))).expect("committed split");
    let (mut texts, mut labels) = (Vec::new(), Vec::new());
    for rec in ids.records() {
        let rec = rec.expect("record");
        let id: usize = rec[0].parse().expect("row id");
        let (title, text) = &rows[id];
        texts.push(format!("{title} . {text}"));
        labels.push(rec[2].to_string());
    }
    (texts, labels)
}

#[test]
fn issue_7_sentiment_macro_f1_on_the_shared_split() {
    let (tr, trl) = split("train");
    let (te, tel) = split("test");
    assert_eq!((tr.len(), te.len()), (18_112, 4_529));
    let model = fit_sentiment(&tr, &trl, &SentimentParams::default()).expect("fits");
    let rep = model.report(&te, &tel).expect("known labels");
    assert!(rep.macro_avg.f1 >= 0.64, "macro-F1 {} (scikit-learn balanced: 0.634 on text alone)", rep.macro_avg.f1);
    assert!(rep.accuracy >= 0.80, "{}", rep.accuracy);
    assert_eq!(rep.classes.iter().map(|c| c.support).collect::<Vec<_>>(), vec![474, 565, 3490]);
    let back = SentimentModel::load(&model.save()).expect("loads");
    assert_eq!(back.classify(&te[..200]), model.classify(&te[..200]));
    assert_eq!(model.predict("Love it! Fits perfectly, great quality").label, "positive");
    assert_eq!(model.predict("Terrible. Cheap fabric, returned it immediately").label, "negative");
}
