//! The evaluation module against the peers' committed ML-100K split and hand-computed cases.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use proptest::prelude::*;
use reel_ml::artifact::ArtifactWriter;
use reel_ml::data::{Dataset, IdMap, Ratings, Scale};
use reel_ml::eval::{
    self, Catalogue, CvData, Draws, EvalOptions, Metric, Progress, SavedRatings, SearchSpace, Split, SplitSpec, TopN, UserTopN,
};
use reel_ml::model::{Fallback, Model, ModelKind, Quiet, Score};
use reel_ml::reco::{Algorithm, Params, PopularityParams};

use crate::common::split_path;

fn saved(name: &str) -> SavedRatings {
    SavedRatings::read(&split_path(name)).expect("committed split file")
}

fn dataset_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datasets/movielens-100k").join(name)
}

/// Every movie id of u.item (1,682), the peers' catalogue. Read as bytes: titles are Latin-1.
fn catalogue_ids() -> Vec<i64> {
    let bytes = std::fs::read(dataset_path("u.item")).expect("u.item is committed");
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let id = l.split(|&b| b == b'|').next().expect("a field");
            std::str::from_utf8(id).expect("ascii id").parse().expect("movie id")
        })
        .collect()
}

/// u.data (tab-separated) in its original order.
fn u_data() -> Ratings {
    let text = std::fs::read_to_string(dataset_path("u.data")).expect("u.data is committed");
    let mut r = Ratings::default();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let f: Vec<i64> = line.split('\t').map(|x| x.parse().expect("number")).collect();
        r.push(f[0], f[1], f[2] as f32, f[3]);
    }
    r
}

fn four(x: f64) -> String {
    format!("{x:.4}")
}

/// The reference top-10 lists: user -> movie ids by rank, and the file's relevance flags.
fn reference_lists() -> BTreeMap<i64, Vec<(i64, bool)>> {
    let mut lists: BTreeMap<i64, Vec<(usize, i64, bool)>> = BTreeMap::new();
    for row in crate::common::csv_rows("topn_popularity_top10.csv") {
        let (u, rank, m, rel): (i64, usize, i64, u8) =
            (row[0].parse().expect("u"), row[1].parse().expect("rank"), row[2].parse().expect("m"), row[3].parse().expect("rel"));
        lists.entry(u).or_default().push((rank, m, rel == 1));
    }
    lists
        .into_iter()
        .map(|(u, mut l)| {
            l.sort_by_key(|x| x.0);
            (u, l.into_iter().map(|(_, m, r)| (m, r)).collect())
        })
        .collect()
}

#[test]
fn peers_popularity_lists_give_their_figures() {
    let test = saved("test.csv").ratings;
    let relevant = eval::relevant_items(&test, 4.0);
    let lists: Vec<UserTopN> = reference_lists()
        .into_iter()
        .map(|(u, l)| {
            let rel = relevant.get(&u).expect("every listed user has a relevant test item");
            let t = UserTopN::new(u, l.iter().map(|x| x.0).collect(), rel);
            let file_flags: Vec<bool> = l.iter().map(|x| x.1).collect();
            assert_eq!(t.hits, file_flags, "user {u}: the file's relevant column agrees with test.csv");
            t
        })
        .collect();
    assert_eq!(lists.len(), 920);
    assert_eq!(relevant.len(), 920, "the evaluated users are exactly the listed ones");
    let m = eval::summarize(&lists, 10, 1682).expect("valid lists");
    assert_eq!((four(m.precision), four(m.recall), four(m.ndcg)), ("0.1360".into(), "0.1372".into(), "0.1764".into()));
    assert_eq!(m.users, 920);
}

#[test]
fn popularity_end_to_end_matches_the_peers_lists_and_figures() {
    let train = saved("train.csv").ratings;
    let test = saved("test.csv").ratings;
    let ids = catalogue_ids();
    assert_eq!(ids.len(), 1682);
    let data = Dataset::try_new(&train, Scale::ONE_TO_FIVE).expect("valid").with_catalogue(&ids);
    let model = PopularityParams::default().check().expect("defaults").fit(&data, &mut Quiet).expect("fits");
    let ev = eval::evaluate_ranking(&model, &train, &test, &Catalogue::new(ids.iter().copied()), &TopN::default()).expect("evaluates");
    let m = ev.metrics;
    assert_eq!((four(m.precision), four(m.recall), four(m.ndcg)), ("0.1360".into(), "0.1372".into(), "0.1764".into()));
    assert_eq!(m.users, 920);
    let reference = reference_lists();
    assert_eq!(ev.lists.len(), reference.len());
    for l in &ev.lists {
        let want: Vec<i64> = reference[&l.user].iter().map(|x| x.0).collect();
        assert_eq!(l.items, want, "user {}", l.user);
    }
    // Without with_catalogue the 29 test-only movies are unknown to the model and score its
    // fallback (0 ratings), which ranks them exactly as a count of 0: same lists.
    let bare = Algorithm::Popularity
        .default_params()
        .fit(&Dataset::try_new(&train, Scale::ONE_TO_FIVE).expect("valid"), &mut Quiet)
        .expect("fits");
    let ev2 = eval::evaluate_ranking(bare.as_ref(), &train, &test, &Catalogue::new(ids), &TopN::default()).expect("evaluates");
    assert_eq!(ev2.lists, ev.lists);
}

/// A model with fixed item scores, for hand-computed cases: items 1..=6 known, anything
/// else scores the fallback 2.5.
#[derive(Debug)]
struct Fixed {
    users: IdMap,
    items: IdMap,
    scores: Vec<f32>,
    kind: ModelKind,
}

impl Fixed {
    fn new(kind: ModelKind, scores: &[f32]) -> Fixed {
        Fixed {
            users: IdMap::try_from_ids(vec![10, 20, 30]).expect("distinct"),
            items: IdMap::try_from_ids((1..=scores.len() as i64).collect()).expect("distinct"),
            scores: scores.to_vec(),
            kind,
        }
    }
}

impl Model for Fixed {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Popularity
    }
    fn kind(&self) -> ModelKind {
        self.kind
    }
    fn params(&self) -> serde_json::Value {
        serde_json::json!({})
    }
    fn users(&self) -> &IdMap {
        &self.users
    }
    fn items(&self) -> &IdMap {
        &self.items
    }
    fn scale(&self) -> Scale {
        Scale::ONE_TO_FIVE
    }
    fn score(&self, u: Option<u32>, i: Option<u32>) -> Score {
        Score { value: i.map_or(2.5, |i| self.scores[i as usize]), fallback: Fallback::for_unknown(u, i, "2.5") }
    }
    fn write(&self, _out: &mut ArtifactWriter) {}
}

fn ratings(rows: &[(i64, i64, f32)]) -> Ratings {
    let mut r = Ratings::default();
    for &(u, i, x) in rows {
        r.push(u, i, x, 0);
    }
    r
}

#[test]
fn three_users_by_hand() {
    // Scores: item 1: 6, 2: 5, 3: 4, 4: 3, 5: 3, 6: 1; item 7 is unknown -> fallback 2.5.
    // Catalogue 1..=7, k = 3, relevant = test rating >= 4.
    //
    // user 10: train {1}; test 2 (5), 5 (4), 3 (2) -> relevant {2, 5}.
    //   candidates 2..7 -> top 2, 3, 4 (4 before 5: tie at 3, smaller id) -> hits T F F.
    //   P = 1/3, R = 1/2, NDCG = 1 / (1 + 1/log2 3) = 0.6131472, AP = (1/1) / min(3, 2) = 0.5, hit 1.
    // user 20: train {1, 2, 3}; test 7 (4), 6 (3) -> relevant {7}.
    //   candidates 4, 5, 6, 7 -> top 4, 5, 7 (7 scores its fallback 2.5 > 1) -> hits F F T.
    //   P = 1/3, R = 1, NDCG = (1/log2 4) / 1 = 0.5, AP = (1/3) / 1, hit 1.
    // user 30: train {6}; test 4 (4) -> relevant {4}; top 1, 2, 3 -> no hit: all 0.
    // user 40: test 1 (3) only -> no relevant item, not evaluated.
    //
    // P = (1/3 + 1/3 + 0) / 3 = 0.2222222   R = (0.5 + 1 + 0) / 3 = 0.5
    // NDCG = (0.6131472 + 0.5 + 0) / 3 = 0.3710491   MAP = (0.5 + 1/3 + 0) / 3 = 0.2777778
    // hit rate = 2/3   coverage = |{2,3,4} ∪ {4,5,7} ∪ {1,2,3}| / 7 = 6/7
    let model = Fixed::new(ModelKind::Ranking, &[6.0, 5.0, 4.0, 3.0, 3.0, 1.0]);
    let train = ratings(&[(10, 1, 3.0), (20, 1, 3.0), (20, 2, 3.0), (20, 3, 3.0), (30, 6, 3.0)]);
    let test = ratings(&[(10, 2, 5.0), (10, 5, 4.0), (10, 3, 2.0), (20, 7, 4.0), (20, 6, 3.0), (30, 4, 4.0), (40, 1, 3.0)]);
    let ev = eval::evaluate_ranking(&model, &train, &test, &Catalogue::new(1..=7), &TopN { k: 3, threshold: 4.0 }).expect("evaluates");
    let lists: Vec<(i64, Vec<i64>)> = ev.lists.iter().map(|l| (l.user, l.items.clone())).collect();
    assert_eq!(lists, vec![(10, vec![2, 3, 4]), (20, vec![4, 5, 7]), (30, vec![1, 2, 3])]);
    let m = ev.metrics;
    let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
    assert_eq!(m.users, 3);
    assert!(close(m.precision, 2.0 / 9.0), "{m:?}");
    assert!(close(m.recall, 0.5), "{m:?}");
    assert!(close(m.ndcg, 0.3710491), "{m:?}");
    assert!(close(m.map, 0.2777778), "{m:?}");
    assert!(close(m.hit_rate, 2.0 / 3.0), "{m:?}");
    assert!(close(m.coverage, 6.0 / 7.0), "{m:?}");
}

#[test]
fn rating_metrics_by_hand() {
    // Item scores 4.5 and 6.0 (clipped to 5) for anyone; unknown items score 2.5.
    // test: (10, 1, 4): 4.5 -> err 0.5;  (10, 2, 3): clip(6) = 5 -> err 2;
    //       (99, 1, 4): unknown user, item score 4.5 -> err 0.5 (fallback);
    //       (20, 9, 1): unknown item -> 2.5, err 1.5 (fallback).
    // RMSE = sqrt((0.25 + 4 + 0.25 + 2.25) / 4) = sqrt(1.6875) = 1.2990381; MAE = 4.5 / 4 = 1.125.
    let model = Fixed::new(ModelKind::Rating, &[4.5, 6.0]);
    let test = ratings(&[(10, 1, 4.0), (10, 2, 3.0), (99, 1, 4.0), (20, 9, 1.0)]);
    let m = eval::rating_metrics(&model, &test).expect("evaluates");
    assert_eq!((m.n, m.fallbacks), (4, 2));
    assert!((m.rmse - 1.6875f64.sqrt()).abs() < 1e-9 && (m.mae - 1.125).abs() < 1e-9, "{m:?}");
    assert!(eval::rating_metrics(&model, &Ratings::default()).is_err());
}

#[test]
fn seed_42_reproduces_the_peers_split_and_folds_from_u_data() {
    let all = u_data();
    let split = eval::random(&all, 0.8, 42).expect("valid");
    let (train, test) = split.apply(&all).expect("same data");
    assert_eq!(test, saved("test.csv").ratings);
    assert_eq!(train, saved("train.csv").ratings);
    let folds = eval::kfold(&all, 5, 42).expect("valid");
    let file = saved("folds5.csv");
    assert_eq!(file.ratings, all, "folds5.csv lists u.data in order");
    assert_eq!(folds, file.folds.expect("fold column"));
}

#[test]
fn global_mean_cv_on_the_saved_folds() {
    let file = saved("folds5.csv");
    let folds = file.folds.expect("fold column");
    let splits = folds.splits();
    let mut seen = Vec::new();
    let cv = eval::cross_validate(
        &Algorithm::GlobalMean.default_params(),
        CvData { ratings: &file.ratings, splits: &splits },
        &EvalOptions::rating().with_scale(Scale::ONE_TO_FIVE),
        &mut |p: &Progress<'_>| {
            if let Progress::Fold { fold, folds, .. } = p {
                seen.push((*fold, *folds));
            }
        },
    )
    .expect("runs");
    assert_eq!(seen, (0..5).map(|f| (f, 5)).collect::<Vec<_>>());
    for (f, s) in cv.folds.iter().enumerate() {
        // The file's folds: 20,000 rows each, test rows exactly those marked f.
        let marked = folds.folds().iter().filter(|&&x| x as usize == f).count();
        assert_eq!((s.test_rows, s.train_rows), (marked, 100_000 - marked));
        // The mean of the other 4 folds predicted for everything; the same figures come
        // from a plain Python computation over folds5.csv. Fold 1 is a hair above 1.13.
        let rmse = s.rating.expect("a rating model").rmse;
        assert_eq!(four(rmse), ["1.1264", "1.1319", "1.1220", "1.1254", "1.1225"][f], "fold {f}");
    }
    let rmse = cv.rmse.expect("rating model");
    assert!(rmse.std < 0.01, "{rmse:?}");
}

#[test]
fn comparison_on_the_peers_split() {
    let train = saved("train.csv").ratings;
    let test = saved("test.csv").ratings;
    let opts = EvalOptions::rating()
        .with_scale(Scale::ONE_TO_FIVE)
        .with_topn(TopN::default())
        .with_catalogue(Catalogue::new(catalogue_ids()));
    let models = vec![
        ("global mean".to_string(), Algorithm::GlobalMean.default_params()),
        ("popularity".to_string(), Algorithm::Popularity.default_params()),
    ];
    let mut done = 0;
    let c = eval::compare(&models, &train, &test, &opts, &mut |p: &Progress<'_>| done += matches!(p, Progress::Model { .. }) as usize)
        .expect("runs");
    assert_eq!(done, 2);
    let (mean, pop) = (&c.rows[0], &c.rows[1]);
    // 31 test ratings are for movies absent from train (benchmarks README §1).
    assert_eq!(mean.fallbacks, Some(31));
    assert!(mean.rmse.is_some_and(|r| (1.1..1.2).contains(&r)), "{mean:?}");
    assert_eq!(pop.rmse, None, "popularity scores are not ratings");
    assert_eq!(pop.ndcg.map(four), Some("0.1764".to_string()));
    assert!(pop.fit_seconds >= 0.0);
    let json = serde_json::to_string(&c).expect("serializes");
    assert!(json.contains("\"model\":\"popularity\""), "{json}");
    // A bad parameter in any model is refused before the first fit.
    let bad = vec![("bad".to_string(), Params::Popularity(PopularityParams { min_rating: -1.0 }))];
    assert!(eval::compare(&bad, &train, &test, &opts, &mut |_: &Progress<'_>| {}).is_err());
}

#[test]
fn grid_and_random_search_sort_best_first() {
    let file = saved("folds5.csv");
    let splits = file.folds.expect("fold column").splits();
    let data = CvData { ratings: &file.ratings, splits: &splits[..2] };
    let opts = EvalOptions::rating().with_topn(TopN::default()).with_catalogue(Catalogue::new(catalogue_ids()));
    let space = SearchSpace::parse(&["min_rating=5,0,4"]).expect("valid");
    let mut events = (0, 0);
    let res = eval::grid_search(Algorithm::Popularity, &space, Metric::Ndcg, data, &opts, &mut |p: &Progress<'_>| match p {
        Progress::Fold { .. } => events.0 += 1,
        Progress::Candidate { .. } => events.1 += 1,
        Progress::Model { .. } => {}
    })
    .expect("runs");
    assert_eq!(events, (6, 3));
    let ndcg: Vec<f64> = res.candidates.iter().map(|c| Metric::Ndcg.mean(c).expect("measured")).collect();
    assert!(ndcg.windows(2).all(|w| w[0] >= w[1]), "{ndcg:?}");
    assert_eq!(res.best().map(|b| b.settings.len()), Some(1));

    let space = SearchSpace::parse(&["min_rating=0..5"]).expect("valid");
    let draws = Draws { n: 3, seed: 7 };
    let a = eval::random_search(Algorithm::Popularity, &space, draws, Metric::Precision, data, &opts, &mut |_: &Progress<'_>| {}).expect("runs");
    assert_eq!(a.candidates.len(), 3);
    let p: Vec<f64> = a.candidates.iter().map(|c| Metric::Precision.mean(c).expect("measured")).collect();
    assert!(p.windows(2).all(|w| w[0] >= w[1]), "{p:?}");
    let settings = |r: &eval::SearchResult| {
        let mut s: Vec<_> = r.candidates.iter().map(|c| c.settings.clone()).collect();
        s.sort();
        s
    };
    let b = eval::random_search(Algorithm::Popularity, &space, draws, Metric::Precision, data, &opts, &mut |_: &Progress<'_>| {}).expect("runs");
    assert_eq!(settings(&a), settings(&b), "seeded");

    // Refused before any fit: an unknown parameter, a ranking metric without top-N.
    let e = eval::grid_search(Algorithm::Popularity, &SearchSpace::parse(&["factors=1,2"]).expect("valid"), Metric::Ndcg, data, &opts, &mut |_: &Progress<'_>| {})
        .expect_err("popularity has no factors");
    assert!(e.to_string().contains("min_rating"), "{e}");
    assert!(eval::grid_search(Algorithm::Popularity, &space, Metric::Ndcg, data, &EvalOptions::rating(), &mut |_: &Progress<'_>| {}).is_err());
}

#[test]
fn bad_split_specs_name_the_accepted_forms() {
    for bad in ["random:1.5", "kfold:x", "temporal", "shuffle:0.8"] {
        let e = bad.parse::<SplitSpec>().expect_err(bad).to_string();
        assert!(
            ["random:0.8", "temporal:0.8", "leave-last-out", "kfold:5"].iter().all(|f| e.contains(f)),
            "{bad}: {e}"
        );
    }
}

/// Random ratings: up to 12 users, 30 items, timestamps with many ties.
fn arb_ratings() -> impl Strategy<Value = Ratings> {
    proptest::collection::vec((0i64..12, 0i64..30, 1u8..=5, 0i64..8), 1..120).prop_map(|rows| {
        let mut r = Ratings::default();
        for (u, i, x, t) in rows {
            r.push(u, i, x as f32, t);
        }
        r
    })
}

fn assert_partition(s: &Split, n: usize) {
    let mut all: Vec<usize> = s.train.iter().chain(&s.test).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..n).collect::<Vec<_>>(), "train and test are disjoint and cover every row");
}

/// Rows per user ordered by (timestamp, row).
fn by_user(r: &Ratings) -> HashMap<i64, Vec<usize>> {
    let mut m: HashMap<i64, Vec<usize>> = HashMap::new();
    for k in 0..r.len() {
        m.entry(r.user[k]).or_default().push(k);
    }
    for rows in m.values_mut() {
        rows.sort_by_key(|&k| (r.timestamp[k], k));
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_splits_partition_and_repeat(r in arb_ratings(), frac in 0.05f64..0.95, seed in 0u64..1000) {
        let s = eval::random(&r, frac, seed).expect("valid");
        assert_partition(&s, r.len());
        prop_assert_eq!(s.train.len(), ((frac * r.len() as f64).round() as usize).min(r.len()));
        prop_assert_eq!(&s, &eval::random(&r, frac, seed).expect("valid"));
        let spec = SplitSpec::Random { train: frac };
        prop_assert_eq!(spec.split(&r, seed).expect("valid"), vec![s]);
    }

    #[test]
    fn kfold_folds_are_disjoint_and_cover(r in arb_ratings(), k in 2usize..6, seed in 0u64..1000) {
        prop_assume!(k <= r.len());
        let splits = eval::kfold(&r, k, seed).expect("valid").splits();
        prop_assert_eq!(splits.len(), k);
        let mut tests: Vec<usize> = splits.iter().flat_map(|s| s.test.clone()).collect();
        tests.sort_unstable();
        prop_assert_eq!(tests, (0..r.len()).collect::<Vec<_>>());
        for s in &splits {
            assert_partition(s, r.len());
            let (lo, hi) = (r.len() / k, r.len().div_ceil(k));
            prop_assert!((lo..=hi).contains(&s.test.len()));
        }
        prop_assert_eq!(splits, eval::kfold(&r, k, seed).expect("valid").splits());
    }

    #[test]
    fn temporal_tests_each_users_latest(r in arb_ratings(), frac in 0.1f64..0.9) {
        let s = eval::temporal(&r, frac).expect("valid");
        assert_partition(&s, r.len());
        let test: HashSet<usize> = s.test.iter().copied().collect();
        for rows in by_user(&r).values() {
            let n_test = rows.iter().filter(|k| test.contains(k)).count();
            // The test rows are exactly the user's latest ones, and at least one stays in train.
            prop_assert!(rows[rows.len() - n_test..].iter().all(|k| test.contains(k)));
            prop_assert!(n_test < rows.len());
            prop_assert_eq!(rows.len() - n_test, ((frac * rows.len() as f64).round() as usize).max(1));
        }
    }

    #[test]
    fn leave_last_out_tests_one_per_user(r in arb_ratings()) {
        let s = eval::leave_last_out(&r).expect("valid");
        assert_partition(&s, r.len());
        let test: HashSet<usize> = s.test.iter().copied().collect();
        for rows in by_user(&r).values() {
            let tested: Vec<usize> = rows.iter().copied().filter(|k| test.contains(k)).collect();
            if rows.len() >= 2 {
                prop_assert_eq!(tested, vec![*rows.last().expect("non-empty")]);
            } else {
                prop_assert!(tested.is_empty());
            }
        }
    }

    #[test]
    fn ranking_metrics_stay_in_the_unit_interval(train in arb_ratings(), test in arb_ratings(), k in 1usize..8) {
        let model = Algorithm::Popularity.default_params().fit(&Dataset::try_new(&train, Scale::ONE_TO_FIVE).expect("valid"), &mut Quiet).expect("fits");
        let cat = Catalogue::new(0..35);
        match eval::evaluate_ranking(model.as_ref(), &train, &test, &cat, &TopN { k, threshold: 4.0 }) {
            Ok(ev) => {
                let m = ev.metrics;
                for v in [m.precision, m.recall, m.ndcg, m.map, m.hit_rate, m.coverage] {
                    prop_assert!((0.0..=1.0).contains(&v), "{:?}", m);
                }
                for l in &ev.lists {
                    prop_assert!(l.items.len() <= k);
                    let trained: HashSet<i64> = (0..train.len()).filter(|&j| train.user[j] == l.user).map(|j| train.item[j]).collect();
                    prop_assert!(l.items.iter().all(|i| !trained.contains(i)), "no train item is recommended");
                }
            }
            Err(e) => prop_assert!(e.to_string().contains("no user has a relevant"), "{}", e),
        }
    }
}
