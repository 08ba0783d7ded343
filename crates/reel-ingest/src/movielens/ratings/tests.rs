use std::collections::HashMap;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type, TimestampMicrosecondType};
use proptest::prelude::*;

use super::*;
use crate::VecSink;

fn spec(dialect: Dialect, scale: Scale) -> RatingsSpec {
    let (enc, header) = match dialect {
        Dialect::Csv => (Encoding::Utf8, Some("userId,movieId,rating,timestamp")),
        _ => (Encoding::Latin1Fallback, None),
    };
    RatingsSpec {
        line: LineSpec {
            dialect,
            enc,
            header,
        },
        scale,
    }
}

fn movies(ids: impl IntoIterator<Item = i64>) -> IdSet {
    let mut s = IdSet::default();
    for i in ids {
        s.insert(i);
    }
    s
}

fn fast_of(dialect: Dialect, line: &[u8], scale: Scale) -> Option<(Rating, usize)> {
    match dialect {
        Dialect::Tab => fast::<b'\t', false>(line, 0, scale),
        Dialect::Pipe => fast::<b'|', false>(line, 0, scale),
        Dialect::Csv => fast::<b',', false>(line, 0, scale),
        Dialect::DoubleColon => fast::<b':', true>(line, 0, scale),
    }
}

fn slow_of(dialect: Dialect, line: &[u8], scale: Scale) -> Result<Rating, String> {
    let ids = movies([]);
    let p = RatingsParser {
        spec: spec(dialect, scale),
        movies: &ids,
        streaming: false,
    };
    p.slow(line, &mut Fields::default())
}

fn sep(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Tab => "\t",
        Dialect::Pipe => "|",
        Dialect::Csv => ",",
        Dialect::DoubleColon => "::",
    }
}

#[test]
fn plain_lines_take_the_fast_path() {
    let (r, next) = fast_of(Dialect::Csv, b"1,31,2.5,1260759144\n2,", Scale::Half).unwrap();
    assert_eq!(
        r,
        Rating {
            user: 1,
            movie: 31,
            half: 5,
            ts: 1260759144
        }
    );
    assert_eq!(next, 20);
    let (r, next) = fast_of(
        Dialect::DoubleColon,
        b"1::1193::5::978300760\r\n",
        Scale::Whole,
    )
    .unwrap();
    assert_eq!((r.half, next), (10, 23));
    assert!(fast_of(Dialect::Tab, b"196\t242\t3\t881250949", Scale::Whole).is_some());
    for odd in [
        &b"1,31,2.5,12 \n"[..],
        b"1, 31,2.5,1\n",
        b"\"1\",31,2.5,1\n",
        b"1,31,2.25,1\n",
        b"0,31,2.5,1\n",
        b"1,31,6,1\n",
        b"1,31,2.5\n",
    ] {
        assert!(fast_of(Dialect::Csv, odd, Scale::Half).is_none(), "{odd:?}");
    }
    assert!(fast_of(Dialect::Csv, b"1,31,2.5,1", Scale::Whole).is_none());
}

#[test]
fn the_general_path_explains_every_refusal() {
    let cases: [(&[u8], &str); 12] = [
        (b"1,2,3", "expected 4 fields, found 3"),
        (b"1,2,3,4,5", "expected 4 fields, found 5"),
        (b"abc,2,3,4", "user_id \"abc\" is not a positive integer"),
        (b"0,2,3,4", "user_id \"0\" is not a positive integer"),
        (b"1,-2,3,4", "movie_id \"-2\" is not a positive integer"),
        (b"1,2,seven,4", "rating \"seven\" is not a number"),
        (
            b"1,2,7,4",
            "rating \"7\" is off the scale 0.5..=5.0 in half stars",
        ),
        (
            b"1,2,3.3,4",
            "rating \"3.3\" is off the scale 0.5..=5.0 in half stars",
        ),
        (
            b"1,2,3,yesterday",
            "timestamp \"yesterday\" is not a unix time in seconds",
        ),
        (
            b"1,2,3,-4",
            "timestamp \"-4\" is not a unix time in seconds",
        ),
        (
            b"1,2,3,4\xff",
            "undecodable text: invalid UTF-8 at byte 8 of the line",
        ),
        (b"1,\"2,3,4", "field 2 opens a quote that is never closed"),
    ];
    for (line, reason) in cases {
        assert_eq!(
            slow_of(Dialect::Csv, line, Scale::Half).unwrap_err(),
            reason,
            "{line:?}"
        );
    }
    assert_eq!(
        slow_of(Dialect::DoubleColon, b"1::2::3.5::4", Scale::Whole).unwrap_err(),
        "rating \"3.5\" is off the scale 1..=5 in whole stars"
    );
    // Accepted by the general path only: spaces, quotes.
    assert_eq!(
        slow_of(Dialect::Csv, b" 1 ,\"2\", 3.0 ,4 ", Scale::Half).unwrap(),
        Rating {
            user: 1,
            movie: 2,
            half: 6,
            ts: 4
        }
    );
}

#[test]
fn eight_digits_at_once() {
    assert_eq!(eight_digits(b"12345678", 0), Some(12_345_678));
    assert_eq!(eight_digits(b"x00000009", 1), Some(9));
    for bad in [
        &b"1234567"[..],
        b"1234567a",
        b"/2345678",
        b":2345678",
        b"1234 678",
        b"\xff2345678",
    ] {
        assert_eq!(eight_digits(bad, 0), None, "{bad:?}");
    }
    assert_eq!(long_uint(b"1260759144,", 0), Some((1_260_759_144, 10)));
    assert_eq!(long_uint(b"12,", 0), Some((12, 2)));
    assert_eq!(long_uint(b"1234567890123456789", 0), None);
}

#[test]
fn fallback_keys_pack_and_unpack() {
    for k in [
        (1, 1, 0, 0),
        (u32::MAX as i64, 7, (1 << TS_BITS) - 1, (1 << POS_BITS) - 1),
        (5, u32::MAX as i64, 1_700_000_000, 12),
    ] {
        assert!(packable(k.0, k.1, k.2, k.3));
        assert_eq!(unpack(pack(k.0, k.1, k.2, k.3)), k);
    }
    assert!(!packable(1 << 32, 1, 1, 1));
    assert!(!packable(1, 1, 1 << TS_BITS, 1));
    assert!(!packable(1, 1, 1, 1 << POS_BITS));
}

#[test]
fn fallback_switches_to_wide_keys_for_large_values() {
    let rows = [
        (1, 1, 4, 10),
        (1 << 40, 2, 6, 20),
        (1, 1, 8, 5),
        (1 << 40, 2, 2, MAX_TS),
    ];
    let mut f = Fallback::new();
    let mut cols = Cols::default();
    for (u, m, h, t) in rows {
        cols.push(Rating {
            user: u,
            movie: m,
            half: h,
            ts: t,
        });
    }
    f.extend(&cols);
    assert!(matches!(f.keys, Keys::Wide(_)));
    let mut sink = VecSink::new();
    let mut clean = CleanAcc::new(10);
    assert_eq!(f.finish(&mut clean, &mut sink).unwrap(), 2);
    clean.flush(&mut sink).unwrap();
    assert_eq!(
        clean_rows(&sink),
        [
            (1, 1, 2.0, 10_000_000),
            (1 << 40, 2, 1.0, MAX_TS * 1_000_000)
        ]
    );
}

#[test]
fn keep_latest_prefers_the_latest_then_the_later_line() {
    // rows: (movie, ts)
    let rows = [(5, 10), (3, 1), (5, 30), (5, 30), (3, 0), (9, 2)];
    let (kept, dropped) = keep_latest(rows.len(), |k| rows[k].0, |k| rows[k].1);
    assert_eq!(kept, [1, 3, 5]);
    assert_eq!(dropped, 3);
    let (kept, dropped) = keep_latest(0, |_| 0, |_| 0);
    assert!(kept.is_empty() && dropped == 0);
}

/// Runs `load` on `content` and returns the sink and counts.
fn load_text(
    content: &str,
    dialect: Dialect,
    known: &IdSet,
    chunk_bytes: usize,
    batch_rows: usize,
    force_fallback: bool,
) -> (VecSink, TableCounts) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ratings.x");
    std::fs::write(&path, content).unwrap();
    let mut sink = VecSink::new();
    let mut ctx = Ctx {
        ds: "2025-04-09".into(),
        batch_rows,
        chunk_bytes,
        force_fallback,
        sink: &mut sink,
        progress: &|_| {},
        sources: Vec::new(),
        tables: Vec::new(),
    };
    load(&mut ctx, &path, spec(dialect, Scale::Half), known).unwrap();
    assert_eq!(ctx.sources[0].size, content.len() as u64);
    let counts = ctx.tables.remove(0);
    (sink, counts)
}

type CleanRow = (i64, i64, f64, i64);

fn clean_rows(sink: &VecSink) -> Vec<CleanRow> {
    let b = sink.table(Target::Clean(RATINGS)).unwrap();
    let u = b.column(0).as_primitive::<Int64Type>();
    let m = b.column(1).as_primitive::<Int64Type>();
    let r = b.column(2).as_primitive::<Float64Type>();
    let t = b.column(3).as_primitive::<TimestampMicrosecondType>();
    (0..b.num_rows())
        .map(|i| (u.value(i), m.value(i), r.value(i), t.value(i)))
        .collect()
}

/// The rule, written plainly: latest timestamp wins, then the later line.
fn reference(rows: &[(i64, i64, u8, i64)], known: &IdSet) -> (Vec<CleanRow>, u64) {
    let mut best: HashMap<(i64, i64), (i64, usize, u8)> = HashMap::new();
    let mut candidates = 0;
    for (line, &(u, m, h, t)) in rows.iter().enumerate() {
        if !known.contains(m) {
            continue;
        }
        candidates += 1;
        let e = best.entry((u, m)).or_insert((t, line, h));
        if (t, line) >= (e.0, e.1) {
            *e = (t, line, h);
        }
    }
    let mut out: Vec<CleanRow> = best
        .into_iter()
        .map(|((u, m), (t, _, h))| (u, m, f64::from(h) / 2.0, t * 1_000_000))
        .collect();
    out.sort_by_key(|r| (r.0, r.1));
    let dups = (candidates - out.len()) as u64;
    (out, dups)
}

/// A tiny deterministic generator (tests pass seeds in, per the style guide).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn generate(seed: u64, users: u64, grouped: bool) -> Vec<(i64, i64, u8, i64)> {
    let mut g = Lcg(seed);
    let mut rows = Vec::new();
    for u in 1..=users {
        for _ in 0..g.next(12) {
            rows.push((
                u as i64,
                1 + g.next(15) as i64,
                1 + g.next(10) as u8,
                g.next(5) as i64,
            ));
        }
    }
    if !grouped {
        for i in (1..rows.len()).rev() {
            rows.swap(i, g.next(i as u64 + 1) as usize);
        }
    }
    rows
}

fn to_csv(rows: &[(i64, i64, u8, i64)], header: bool) -> String {
    let mut s = String::new();
    if header {
        s.push_str("userId,movieId,rating,timestamp\n");
    }
    for (u, m, h, t) in rows {
        s.push_str(&format!("{u},{m},{},{t}\n", f64::from(*h) / 2.0));
    }
    s
}

#[test]
fn streaming_and_fallback_agree_with_the_rule() {
    let known = movies(1..=13); // movies 14 and 15 are unknown
    for seed in 0..12u64 {
        for grouped in [true, false] {
            let rows = generate(seed, 1 + seed * 3, grouped);
            let (want, want_dups) = reference(&rows, &known);
            let text = to_csv(&rows, seed % 2 == 0);
            for (chunk, batch) in [(64, 3), (100, 1000), (1 << 20, 7)] {
                for force in [false, true] {
                    let (sink, c) = load_text(&text, Dialect::Csv, &known, chunk, batch, force);
                    let mut got = clean_rows(&sink);
                    let streamed = grouped && !force;
                    if !streamed {
                        assert!(
                            got.windows(2).all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)),
                            "fallback output is sorted"
                        );
                    }
                    if grouped {
                        assert!(
                            got.windows(2).all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)),
                            "seed {seed} chunk {chunk}: streaming output sorted for an ascending file"
                        );
                    }
                    got.sort_by_key(|r| (r.0, r.1));
                    assert_eq!(
                        got, want,
                        "seed {seed} grouped {grouped} chunk {chunk} force {force}"
                    );
                    assert_eq!(c.duplicates, want_dups);
                    assert_eq!(c.read, rows.len() as u64);
                    assert_eq!(c.read, c.loaded + c.quarantined + c.duplicates);
                    assert_eq!(sink.rows(Target::Raw(RATINGS)), rows.len());
                    let unknown = rows.iter().filter(|r| !known.contains(r.1)).count();
                    assert_eq!(sink.rows(Target::Quarantine(RATINGS)), unknown);
                    assert!(
                        sink.batches_for(Target::Raw(RATINGS))
                            .all(|b| b.num_rows() <= batch)
                    );
                }
            }
        }
    }
}

/// A file that is not grouped by user is read twice: optimistically as grouped, then,
/// once a user comes back, again with the fallback store. The sink sees only the second
/// read's batches, and the result is the fallback's, whatever the chunk and batch sizes.
#[test]
fn issue_2_ungrouped_files_start_over_without_a_first_pass() {
    let known = movies(1..=20);
    let long: String = (1..=9).flat_map(|u| (1..=5).map(move |m| format!("{u},{m},1,1\n"))).collect();
    let late = format!("{long}9,3,1,1\n1,7,2,5\n");
    for text in [
        "userId,movieId,rating,timestamp\n1,1,1,1\n1,2,1,1\n2,1,1,1\n\n3,1,1,1\n",
        "1,1,1,1\n2,1,1,1\n1,2,1,1\n",
        // A quoted user id is still a user id.
        "1,1,1,1\n2,1,1,1\n\"1\",2,1,1\n",
        // Lines that cannot load do not count.
        "1,1,1,1\n2,1,1,1\nbad\n3,1,1,1\n",
        // A user back late in a long file, after batches went out.
        late.as_str(),
        "",
    ] {
        for chunk in [1, 8, 1 << 20] {
            for batch in [1, 3, 1000] {
                let (sink, counts) = load_text(text, Dialect::Csv, &known, chunk, batch, false);
                let (fallback, fallback_counts) = load_text(text, Dialect::Csv, &known, chunk, batch, true);
                assert_eq!(clean_rows(&sink), clean_rows(&fallback), "{text:?} chunk {chunk}");
                for t in [Target::Raw(RATINGS), Target::Quarantine(RATINGS)] {
                    assert_eq!(sink.table(t).unwrap(), fallback.table(t).unwrap(), "{t} of {text:?}");
                }
                assert_eq!(counts, fallback_counts, "{text:?}");
            }
        }
    }
}

#[test]
fn lines_are_numbered_in_the_file() {
    let known = movies([1, 2]);
    let text = "userId,movieId,rating,timestamp\n1,1,4.0,10\n\n1,9,3.0,11\nnonsense\r\n2,2,0.5,12";
    for chunk in [1, 16, 4096] {
        let (sink, c) = load_text(text, Dialect::Csv, &known, chunk, 2, false);
        let raw = sink.table(Target::Raw(RATINGS)).unwrap();
        let lines: Vec<i64> = raw.column(5).as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(lines, [2, 4, 6]);
        let q = sink.table(Target::Quarantine(RATINGS)).unwrap();
        let qlines: Vec<i64> = q.column(1).as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(qlines, [4, 5]);
        let reasons = q.column(3).as_string::<i32>();
        assert_eq!(reasons.value(0), "unknown movie id 9");
        assert_eq!(reasons.value(1), "expected 4 fields, found 1");
        assert_eq!(q.column(2).as_string::<i32>().value(0), "1,9,3.0,11");
        assert_eq!(q.column(0).as_string::<i32>().value(0), "ratings.x");
        assert_eq!(raw.column(6).as_string::<i32>().value(2), "2025-04-09");
        assert_eq!(
            (c.read, c.loaded, c.quarantined, c.duplicates),
            (4, 2, 2, 0)
        );
        assert_eq!(
            clean_rows(&sink),
            [(1, 1, 4.0, 10_000_000), (2, 2, 0.5, 12_000_000)]
        );
        assert_eq!(raw.column(2).null_count(), 0);
    }
}

#[test]
fn a_wrong_header_is_quarantined_once() {
    let known = movies([1]);
    let (sink, c) = load_text(
        "user,movie,stars,time\n1,1,4,5\n",
        Dialect::Csv,
        &known,
        1 << 20,
        10,
        false,
    );
    assert_eq!((c.read, c.loaded, c.quarantined), (2, 1, 1));
    let q = sink.table(Target::Quarantine(RATINGS)).unwrap();
    assert!(
        q.column(3)
            .as_string::<i32>()
            .value(0)
            .starts_with("unexpected header \"user,movie,stars,time\"")
    );
    // No header at all is fine.
    let (_, c) = load_text("1,1,4,5\n", Dialect::Csv, &known, 1 << 20, 10, false);
    assert_eq!((c.read, c.loaded, c.quarantined), (1, 1, 0));
}

fn dialect() -> impl Strategy<Value = Dialect> {
    prop_oneof![
        Just(Dialect::Tab),
        Just(Dialect::Pipe),
        Just(Dialect::Csv),
        Just(Dialect::DoubleColon)
    ]
}

proptest! {
    #[test]
    fn fast_and_general_paths_agree(
        d in dialect(),
        user in 1i64..=999_999_999_999,
        movie in 1i64..=9_999_999,
        half in 1u8..=10,
        ts in 0i64..=MAX_TS,
        trailing_zero in any::<bool>(),
        crlf in any::<bool>(),
    ) {
        let s = sep(d);
        let rating = match (half % 2, trailing_zero) {
            (0, false) => format!("{}", half / 2),
            (0, true) => format!("{}.0", half / 2),
            (_, false) => format!("{}.5", half / 2),
            (_, true) => format!("{}.50", half / 2),
        };
        let line = format!("{user}{s}{movie}{s}{rating}{s}{ts}");
        let want = Rating { user, movie, half, ts };
        prop_assert_eq!(slow_of(d, line.as_bytes(), Scale::Half), Ok(want));
        let eol = if crlf { "\r\n" } else { "\n" };
        let with_eol = format!("{line}{eol}");
        let (got, next) = fast_of(d, with_eol.as_bytes(), Scale::Half).unwrap();
        prop_assert_eq!(got, want);
        prop_assert_eq!(next, with_eol.len());
    }

    #[test]
    fn fast_never_accepts_what_the_general_path_refuses(line in "[0-9.,:\t|\" -]{0,30}") {
        for d in [Dialect::Tab, Dialect::Pipe, Dialect::Csv, Dialect::DoubleColon] {
            for scale in [Scale::Whole, Scale::Half] {
                if let Some((r, _)) = fast_of(d, line.as_bytes(), scale) {
                    prop_assert_eq!(slow_of(d, line.as_bytes(), scale), Ok(r), "{:?}", d);
                }
            }
        }
    }

    #[test]
    fn eight_digits_matches_the_byte_loop(b in proptest::collection::vec(any::<u8>(), 8..9)) {
        let slow = uint(&b, 0).filter(|&(_, end)| end == 8).map(|(v, _)| v);
        prop_assert_eq!(eight_digits(&b, 0), slow);
    }

    #[test]
    fn parsing_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400), d in dialect(), streaming in any::<bool>(), index in 0u64..2) {
        let known = movies([1, 2, 3]);
        for scale in [Scale::Whole, Scale::Half] {
            let p = RatingsParser { spec: spec(d, scale), movies: &known, streaming };
            let chunk = Chunk { data: data.clone(), index };
            let out = p.parse(&chunk);
            prop_assert_eq!(out.raw.len(), out.rel.len());
            prop_assert!(out.read >= out.raw.len() as u64);
        }
    }

    #[test]
    fn parsing_structured_noise_never_panics(lines in proptest::collection::vec("[0-9]{0,3}([,:\t]{1,2}[0-9.\"a-]{0,4}){0,5}", 0..30), d in dialect()) {
        let known = movies([1, 2, 3]);
        let p = RatingsParser { spec: spec(d, Scale::Half), movies: &known, streaming: true };
        let out = p.parse(&Chunk { data: lines.join("\n").into_bytes(), index: 0 });
        prop_assert_eq!(out.raw.len(), out.rel.len());
    }
}
