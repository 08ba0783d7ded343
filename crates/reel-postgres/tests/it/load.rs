//! The rental loader: everything the generator yields arrives, with keys, and the load is
//! all or nothing.
use reel_gen::rental::RentalGenParams;
use reel_postgres::{Error, LoadOptions, load_rental};
use sqlx::Row;

use crate::TestDb;

#[tokio::test]
async fn a_generated_company_loads_with_its_keys_and_refuses_to_clobber() {
    let Some(db) = TestDb::create("load").await else { return };
    let params = RentalGenParams::new(120, 4).seed(11).check().unwrap();
    let (mut rentals, mut payments, mut cents) = (0u64, 0u64, 0i64);
    for d in params.days(None) {
        rentals += d.rentals.len() as u64;
        payments += d.payments.len() as u64;
        cents += d.payments.iter().map(|p| p.amount_cents).sum::<i64>();
    }
    let mut conn = db.conn().await;
    let mut days_seen = Vec::new();
    let sent = std::sync::atomic::AtomicU64::new(0);
    let report = load_rental(
        &mut conn,
        &params,
        &LoadOptions::default(),
        None,
        &mut |d| {
            days_seen.push(d.date);
            Ok(())
        },
        &|n| {
            sent.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        },
    )
    .await
    .unwrap();
    assert_eq!(days_seen.len(), 4);
    assert_eq!(report.rows_of("rental"), rentals);
    assert_eq!(report.rows_of("payment"), payments);
    assert_eq!(report.rows_of("category"), 16);
    assert_eq!(report.rows_of("customer"), 120);
    assert!(sent.load(std::sync::atomic::Ordering::Relaxed) >= rentals + payments);

    assert_eq!(count(&mut conn, "SELECT count(*) FROM payment").await as u64, payments);
    let total: String = sqlx::query("SELECT sum(amount)::text FROM payment").fetch_one(&mut conn).await.unwrap().get(0);
    assert_eq!(total, format!("{}.{:02}", cents / 100, cents % 100));
    // Keys: primary and foreign keys exist and hold.
    assert_eq!(count(&mut conn, "SELECT count(*) FROM pg_constraint WHERE contype = 'p' AND connamespace = 'public'::regnamespace").await, 7);
    assert_eq!(count(&mut conn, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace").await, 7);
    assert_eq!(count(&mut conn, "SELECT count(*) FROM payment p JOIN rental r USING (rental_id) WHERE p.customer_id <> r.customer_id").await, 0);
    assert_eq!(count(&mut conn, "SELECT count(*) FROM rental WHERE return_date IS NULL").await > 0, true, "some rentals are still out");
    // New rows continue the ids, and an update moves last_update.
    sqlx::query("INSERT INTO payment (customer_id, staff_id, rental_id, amount, payment_date) VALUES (1, 1, 1, 1.00, now())")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(count(&mut conn, "SELECT max(payment_id)::int8 FROM payment").await as u64, payments + 1);
    sqlx::query("UPDATE rental SET return_date = now() WHERE rental_id = 1").execute(&mut conn).await.unwrap();
    assert_eq!(count(&mut conn, "SELECT count(*) FROM rental WHERE rental_id = 1 AND last_update > now() - interval '1 minute'").await, 1);

    // A second load refuses to drop what is there, unless asked.
    let err = load_rental(&mut conn, &params, &LoadOptions::default(), None, &mut |_| Ok(()), &|_| {}).await.unwrap_err();
    assert!(matches!(err, Error::TablesExist { .. }), "{err:?}");
    assert!(err.to_string().contains("--replace") && err.to_string().contains("payment"), "{err}");
    let opts = LoadOptions { replace: true, ..Default::default() };
    load_rental(&mut conn, &params, &opts, None, &mut |_| Ok(()), &|_| {}).await.unwrap();
    assert_eq!(count(&mut conn, "SELECT count(*) FROM payment").await as u64, payments);

    // A failure half way leaves the database as it was (one transaction).
    let opts = LoadOptions { schema: "shop".into(), replace: false };
    let err = load_rental(&mut conn, &params, &opts, None, &mut |d| if d.day == 2 { Err(Error::InvalidArgument { what: "test", value: "day 2".into(), reason: "stop".into() }) } else { Ok(()) }, &|_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("stop"));
    assert_eq!(count(&mut conn, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'shop'").await, 0);
}

async fn count(c: &mut reel_postgres::PgConnection, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql).fetch_one(c).await.unwrap()
}
