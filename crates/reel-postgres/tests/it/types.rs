//! Every mapped type, extracted from a real server and compared value by value.
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::*;
use reel_postgres::{Chunk, Error, ExtractPlan, ExtractRequest, Extraction, MappingOptions, Source, WatermarkValue, plan};

use crate::TestDb;

const SCHEMA: &str = "
    CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
    CREATE DOMAIN price AS numeric(7,2) CHECK (VALUE >= 0);
    CREATE TABLE every_type (
        id integer PRIMARY KEY,
        i2 smallint, i4 integer, i8 bigint NOT NULL,
        f4 real, f8 double precision,
        flag boolean,
        amount numeric(5,2), big numeric(38,0), wide numeric(50,10), free numeric,
        day date, at timestamp, at_tz timestamptz,
        name text, code varchar(10), pad char(5),
        uid uuid, doc json, docb jsonb, blob bytea,
        feeling mood, cost price, o oid
    );
    INSERT INTO every_type VALUES
      (1, -32768, -2147483648, 9223372036854775807, 1.5, -2.25e300, true,
       -999.99, 99999999999999999999999999999999999999, 1234567890.0123456789, 3.14159265358979323846264338327950288,
       '2000-01-01', '1999-12-31 23:59:59.999999', '2025-03-30 01:30:00+01',
       E'h\u{00e9}llo\\ttab\\n\"q\" ''s', 'abc', 'ab', '550e8400-e29b-41d4-a716-446655440000',
       '{\"a\": [1, 2]}', '{\"b\": null}', '\\xdeadbeef', 'happy', 12.5, 12345),
      (2, NULL, NULL, 0, 'NaN', '-Infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (3, 32767, 2147483647, -9223372036854775808, 'Infinity', 0, false,
       0.00, 0, -0.0000000001, -0.000000000000000000000001,
       '1900-02-28', '2262-04-11 23:47:16', '1970-01-01 00:00:00+00',
       '', '', '', '00000000-0000-0000-0000-000000000000', '[]', '[]', '', 'sad', 0, 0);
";

async fn extract(db: &TestDb, source: Source, watermark: Option<&str>, low: Option<WatermarkValue>) -> (ExtractPlan, Vec<RecordBatch>, Vec<reel_postgres::BadRow>, reel_postgres::DecodeStats, Option<WatermarkValue>) {
    let mut conn = db.conn().await;
    let req = ExtractRequest { source, watermark: watermark.map(String::from), low, mapping: MappingOptions::default() };
    let p = plan(&mut conn, &req).await.unwrap();
    let mut ex = Extraction::start(&mut conn, &p, 2).await.unwrap();
    let mut batches = Vec::new();
    let mut bad = Vec::new();
    while let Some(Chunk { batches: b, bad: q }) = ex.next().await.unwrap() {
        batches.extend(b);
        bad.extend(q);
    }
    let (stats, high) = (ex.stats(), ex.high());
    (p, batches, bad, stats, high)
}

fn one(batches: &[RecordBatch]) -> RecordBatch {
    arrow::compute::concat_batches(&batches[0].schema(), batches).unwrap()
}

#[tokio::test]
async fn every_mapped_type_reads_back_exactly() {
    let Some(db) = TestDb::create("types").await else { return };
    db.exec(SCHEMA).await;
    let (plan, batches, bad, stats, high) = extract(&db, Source::Table("every_type".into()), Some("id"), None).await;
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(plan.qualified.as_deref(), Some("public.every_type"));
    assert!(plan.copy.starts_with("COPY public.every_type (\"id\", "), "no low watermark yet: a plain table COPY: {}", plan.copy);
    let b = one(&batches);
    assert_eq!(b.num_rows(), 3);
    assert_eq!(batches.len(), 2, "batches of 2 rows");

    let s = b.schema();
    let ty = |name: &str| s.field_with_name(name).unwrap().data_type().clone();
    let utc = Some("UTC".into());
    let expected = [
        ("id", DataType::Int32),
        ("i2", DataType::Int16),
        ("i4", DataType::Int32),
        ("i8", DataType::Int64),
        ("f4", DataType::Float32),
        ("f8", DataType::Float64),
        ("flag", DataType::Boolean),
        ("amount", DataType::Decimal128(5, 2)),
        ("big", DataType::Decimal128(38, 0)),
        ("wide", DataType::Decimal128(38, 10)),
        ("free", DataType::Decimal128(38, 18)),
        ("day", DataType::Date32),
        ("at", DataType::Timestamp(TimeUnit::Microsecond, None)),
        ("at_tz", DataType::Timestamp(TimeUnit::Microsecond, utc)),
        ("name", DataType::Utf8),
        ("code", DataType::Utf8),
        ("pad", DataType::Utf8),
        ("uid", DataType::Utf8),
        ("doc", DataType::Utf8),
        ("docb", DataType::Utf8),
        ("blob", DataType::Binary),
        ("feeling", DataType::Utf8),
        ("cost", DataType::Decimal128(7, 2)),
        ("o", DataType::Int64),
    ];
    for (name, t) in &expected {
        assert_eq!(&ty(name), t, "{name}");
    }
    assert_eq!(s.fields().len(), expected.len());
    assert!(!s.field_with_name("id").unwrap().is_nullable(), "a primary key is NOT NULL");
    assert!(!s.field_with_name("i8").unwrap().is_nullable());
    assert!(s.field_with_name("i2").unwrap().is_nullable());
    let pg_types: Vec<&str> = plan.columns.iter().map(|c| c.pg_type.as_str()).collect();
    assert!(pg_types.contains(&"numeric(5,2)") && pg_types.contains(&"character(5)") && pg_types.contains(&"mood"), "{pg_types:?}");

    let col = |n: &str| b.column(s.index_of(n).unwrap()).clone();
    assert_eq!(col("id").as_primitive::<Int32Type>().values().to_vec(), vec![1, 2, 3]);
    let i2 = col("i2");
    let i2 = i2.as_primitive::<Int16Type>();
    assert_eq!((i2.value(0), i2.is_null(1), i2.value(2)), (i16::MIN, true, i16::MAX));
    let i4 = col("i4");
    assert_eq!((i4.as_primitive::<Int32Type>().value(0), i4.as_primitive::<Int32Type>().value(2)), (i32::MIN, i32::MAX));
    assert_eq!(col("i8").as_primitive::<Int64Type>().values().to_vec(), vec![i64::MAX, 0, i64::MIN]);
    let f4 = col("f4");
    let f4 = f4.as_primitive::<Float32Type>();
    assert_eq!(f4.value(0), 1.5);
    assert!(f4.value(1).is_nan());
    assert_eq!(f4.value(2), f32::INFINITY);
    let f8 = col("f8");
    let f8 = f8.as_primitive::<Float64Type>();
    assert_eq!((f8.value(0), f8.value(1), f8.value(2)), (-2.25e300, f64::NEG_INFINITY, 0.0));
    let flag = col("flag");
    let flag = flag.as_boolean();
    assert!(flag.value(0) && flag.is_null(1) && !flag.value(2));

    let dec = |n: &str| {
        let a = col(n);
        let a = a.as_primitive::<Decimal128Type>();
        (0..3).map(|i| (!a.is_null(i)).then(|| a.value(i))).collect::<Vec<_>>()
    };
    assert_eq!(dec("amount"), vec![Some(-99_999), None, Some(0)]);
    assert_eq!(dec("big"), vec![Some(99_999_999_999_999_999_999_999_999_999_999_999_999), None, Some(0)]);
    assert_eq!(dec("wide"), vec![Some(12_345_678_900_123_456_789), None, Some(-1)]);
    // Undeclared precision: 18 decimals, the rest rounded half away from zero (and counted).
    assert_eq!(dec("free"), vec![Some(3_141_592_653_589_793_238), None, Some(0)]);
    assert_eq!(stats.rounded, 2, "pi and -1e-24 were rounded");
    assert_eq!(dec("cost"), vec![Some(1250), None, Some(0)], "a domain reads as its base type");

    let day = col("day");
    let day = day.as_primitive::<Date32Type>();
    assert_eq!((day.value(0), day.is_null(1), day.value(2)), (10_957, true, -25_509));
    let at = col("at");
    let at = at.as_primitive::<TimestampMicrosecondType>();
    assert_eq!(at.value(0), 946_684_799_999_999);
    assert_eq!(at.value(2), 9_223_372_036_000_000);
    let tz = col("at_tz");
    let tz = tz.as_primitive::<TimestampMicrosecondType>();
    assert_eq!(tz.value(0), 1_743_294_600_000_000, "01:30+01 is 00:30 UTC");
    assert_eq!(tz.value(2), 0);

    let text = |n: &str| {
        let a = col(n);
        let a = a.as_string::<i32>();
        (0..3).map(|i| (!a.is_null(i)).then(|| a.value(i).to_string())).collect::<Vec<_>>()
    };
    assert_eq!(text("name"), vec![Some("héllo\ttab\n\"q\" 's".into()), None, Some(String::new())]);
    assert_eq!(text("code")[0].as_deref(), Some("abc"));
    assert_eq!(text("pad"), vec![Some("ab   ".into()), None, Some("     ".into())], "char(n) keeps its padding");
    assert_eq!(text("uid")[0].as_deref(), Some("550e8400-e29b-41d4-a716-446655440000"));
    assert_eq!(text("doc")[0].as_deref(), Some("{\"a\": [1, 2]}"));
    assert_eq!(text("docb")[0].as_deref(), Some("{\"b\": null}"));
    assert_eq!(text("feeling"), vec![Some("happy".into()), None, Some("sad".into())]);
    let blob = col("blob");
    let blob = blob.as_binary::<i32>();
    assert_eq!((blob.value(0), blob.is_null(1), blob.value(2)), (&[0xde, 0xad, 0xbe, 0xef][..], true, &[][..]));
    assert_eq!(col("o").as_primitive::<Int64Type>().value(0), 12345);

    assert_eq!(high, Some(WatermarkValue::Int(3)));
    assert_eq!((stats.rows, stats.loaded, stats.quarantined), (3, 3, 0));
}

#[tokio::test]
async fn queries_map_their_columns_and_expressions_follow_the_undeclared_rule() {
    let Some(db) = TestDb::create("query").await else { return };
    db.exec(SCHEMA).await;
    let q = "SELECT e.id, e.amount, e.amount * 2 AS doubled, e.at_tz, e.day, upper(e.name) AS shout
             FROM every_type e LEFT JOIN every_type f ON f.id = e.id + 100 ORDER BY e.id;";
    let (plan, batches, bad, _, high) = extract(&db, Source::Query(q.into()), Some("at_tz"), None).await;
    assert!(bad.is_empty());
    let b = one(&batches);
    let s = b.schema();
    assert_eq!(s.field_with_name("amount").unwrap().data_type(), &DataType::Decimal128(5, 2), "a column keeps its typmod");
    assert_eq!(s.field_with_name("doubled").unwrap().data_type(), &DataType::Decimal128(38, 18), "an expression has none");
    assert!(s.fields().iter().all(|f| f.is_nullable()), "query columns are nullable");
    let d = b.column(2).as_primitive::<Decimal128Type>();
    assert_eq!(d.value(0), -1_999_980_000_000_000_000_000);
    assert_eq!(high, Some(WatermarkValue::Timestamptz(1_743_294_600_000_000)));
    assert!(plan.copy.contains("AS reel_q"), "{}", plan.copy);

    // Incremental: only rows above the watermark.
    let low = WatermarkValue::Timestamptz(0);
    let (plan, batches, _, _, high) = extract(&db, Source::Query(q.into()), Some("at_tz"), Some(low)).await;
    assert!(plan.select.ends_with("WHERE \"at_tz\" > '1970-01-01 00:00:00+00'::timestamptz"), "{}", plan.select);
    assert_eq!(one(&batches).num_rows(), 1);
    assert_eq!(high, Some(WatermarkValue::Timestamptz(1_743_294_600_000_000)));
}

#[tokio::test]
async fn values_without_an_arrow_form_go_to_quarantine_with_the_row() {
    let Some(db) = TestDb::create("bad").await else { return };
    db.exec(
        "CREATE TABLE odd (id int NOT NULL, free numeric, day date, at timestamptz);
         INSERT INTO odd VALUES (1, 1.5, '2025-01-01', now()), (2, 'NaN', '2025-01-01', now()),
           (3, 1, 'infinity', now()), (4, 1, '2025-01-01', '-infinity'), (5, 1e30, NULL, NULL),
           (6, 2.5, '2025-01-02', '2025-01-02 00:00:00+00');",
    )
    .await;
    let (_, batches, bad, stats, high) = extract(&db, Source::Table("odd".into()), Some("day"), None).await;
    let ids: Vec<i32> = batches.iter().flat_map(|b| b.column(0).as_primitive::<Int32Type>().values().to_vec()).collect();
    assert_eq!(ids, vec![1, 6]);
    assert_eq!(stats.quarantined, 4);
    let got: Vec<(u64, &str)> = bad.iter().map(|b| (b.row, b.reason.as_str())).collect();
    assert!(got[0].1.contains("free: NaN has no decimal form"), "{got:?}");
    assert!(got[1].1.contains("day: date infinity"), "{got:?}");
    assert!(got[2].1.contains("at: timestamp -infinity"), "{got:?}");
    assert!(got[3].1.contains("does not fit decimal(38,18)"), "{got:?}");
    let rec: serde_json::Value = serde_json::from_str(&bad[1].record).unwrap();
    assert_eq!(rec["day"], "infinity");
    assert_eq!(rec["id"], "3");
    assert_eq!(rec["free"], "1");
    assert_eq!(high, Some(WatermarkValue::Date(20_090)), "quarantined rows do not move the watermark");
}

#[tokio::test]
async fn mistakes_are_refused_with_the_fix() {
    let Some(db) = TestDb::create("errors").await else { return };
    db.exec("CREATE TABLE t (id int, span interval, tags text[], at timestamp, note text); CREATE TABLE other (x int);").await;
    let mut conn = db.conn().await;
    let req = |source: Source, watermark: Option<&str>| ExtractRequest { source, watermark: watermark.map(String::from), low: None, mapping: MappingOptions::default() };

    let err = plan(&mut conn, &req(Source::Table("nope".into()), None)).await.unwrap_err();
    assert!(matches!(err, Error::NoSuchTable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("no table or view nope") && msg.contains("public.other") && msg.contains("public.t"), "{msg}");

    let err = plan(&mut conn, &req(Source::Table("t".into()), None)).await.unwrap_err().to_string();
    assert!(err.contains("column span has type interval") && err.contains("span::text AS span"), "{err}");

    let err = plan(&mut conn, &req(Source::Query("SELECT id, tags FROM t".into()), None)).await.unwrap_err().to_string();
    assert!(err.contains("column tags has type text[]"), "{err}");

    let ok = Source::Query("SELECT id, at, note FROM t".into());
    let err = plan(&mut conn, &req(ok.clone(), Some("missing"))).await.unwrap_err().to_string();
    assert!(err.contains("no such column (it has id, at, note)"), "{err}");
    let err = plan(&mut conn, &req(ok.clone(), Some("note"))).await.unwrap_err().to_string();
    assert!(err.contains("its type text is not an integer"), "{err}");
    let mut r = req(ok.clone(), Some("at"));
    r.low = Some(WatermarkValue::Int(5));
    let err = plan(&mut conn, &r).await.unwrap_err().to_string();
    assert!(err.contains("stored watermark is a int") && err.contains("--full-refresh"), "{err}");

    let err = plan(&mut conn, &req(Source::Query("SELECT id, id FROM t".into()), None)).await.unwrap_err().to_string();
    assert!(err.contains("\"id\" appears twice"), "{err}");
    let err = plan(&mut conn, &req(Source::Query("SELEC id FROM t".into()), None)).await.unwrap_err();
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("SQLSTATE 42601"), "{err}");

    let err = reel_postgres::connect("postgres://nobody:secret@127.0.0.1:1/db", "t").await.unwrap_err();
    assert!(err.is_retryable(), "a refused connection may come back");
    let msg = err.to_string();
    assert!(msg.contains("postgres://nobody:***@127.0.0.1:1/db") && !msg.contains("secret"), "{msg}");
    let err = reel_postgres::connect("postgres://h:notaport/db", "t").await.unwrap_err();
    assert!(matches!(err, Error::BadUrl { .. }), "{err:?}");
}
