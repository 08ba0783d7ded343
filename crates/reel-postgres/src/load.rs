//! Loading a generated rental company into PostgreSQL: dvdrental's tables, filled with
//! `COPY ... FROM STDIN` in one transaction, keys and indexes added after the data (the
//! way `pg_dump` restores: building an index once is far cheaper than maintaining it row by
//! row).
//!
//! ```text
//!  BEGIN
//!   DROP (with --replace) / CREATE category, film, film_category, customer, inventory,
//!                                  rental, payment        (identity ids, last_update)
//!   COPY category, film, film_category, customer, inventory   <- Company
//!   COPY rental   <- days(), pass 1 (the day callback writes the review files)
//!   COPY payment  <- days(), pass 2 (regenerated: only one day is ever in memory)
//!   primary keys, foreign keys, indexes, identity sequences past the max id,
//!   BEFORE UPDATE triggers that keep last_update current
//!  COMMIT            (a failure anywhere leaves the database as it was)
//! ```
use std::time::Instant;

use reel_gen::rental::{Company, DayActivity, ValidRentalGenParams, push_date, push_timestamp};
use serde::Serialize;
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection as _};

use crate::source::quote_ident;
use crate::{Error, Result};

/// The tables the generator creates, in load order.
pub const RENTAL_TABLES: [&str; 7] = ["category", "film", "film_category", "customer", "inventory", "rental", "payment"];

/// Where and how to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// The schema to create the tables in (created if missing).
    pub schema: String,
    /// Drop the rental tables first if they exist (otherwise existing tables are an error).
    pub replace: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            schema: "public".into(),
            replace: false,
        }
    }
}

/// What a load wrote.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LoadReport {
    /// Rows per table, in load order.
    pub rows: Vec<(String, u64)>,
    /// Bytes of COPY data sent.
    pub bytes: u64,
    /// Seconds spent loading data.
    pub copy_seconds: f64,
    /// Seconds spent building keys and indexes.
    pub index_seconds: f64,
}

impl LoadReport {
    /// Rows loaded into `table`.
    pub fn rows_of(&self, table: &str) -> u64 {
        self.rows.iter().find(|(t, _)| t == table).map(|(_, n)| *n).unwrap_or(0)
    }
}

/// COPY text rows, sent to the server a megabyte at a time.
struct CopyText<'a> {
    copy: sqlx::postgres::PgCopyIn<&'a mut PgConnection>,
    buf: Vec<u8>,
    rows: u64,
    bytes: u64,
    table: &'static str,
}

impl<'a> CopyText<'a> {
    async fn begin(conn: &'a mut PgConnection, schema: &str, table: &'static str, columns: &str) -> Result<Self> {
        let sql = format!("COPY {}.{table} ({columns}) FROM STDIN", quote_ident(schema));
        let copy = conn.copy_in_raw(&sql).await.map_err(Error::query(format!("starting the COPY into {table}")))?;
        Ok(CopyText { copy, buf: Vec::with_capacity(1 << 20), rows: 0, bytes: 0, table })
    }

    fn int(&mut self, v: i64) {
        push_i64(&mut self.buf, v);
        self.buf.push(b'\t');
    }

    fn text(&mut self, s: &str) {
        for &b in s.as_bytes() {
            match b {
                b'\\' => self.buf.extend_from_slice(b"\\\\"),
                b'\t' => self.buf.extend_from_slice(b"\\t"),
                b'\n' => self.buf.extend_from_slice(b"\\n"),
                b'\r' => self.buf.extend_from_slice(b"\\r"),
                _ => self.buf.push(b),
            }
        }
        self.buf.push(b'\t');
    }

    fn cents(&mut self, c: i64) {
        if c < 0 {
            self.buf.push(b'-');
        }
        let a = c.unsigned_abs();
        push_i64(&mut self.buf, (a / 100) as i64);
        self.buf.push(b'.');
        self.buf.push(b'0' + (a / 10 % 10) as u8);
        self.buf.push(b'0' + (a % 10) as u8);
        self.buf.push(b'\t');
    }

    fn ts(&mut self, micros: i64) {
        push_timestamp(&mut self.buf, micros);
        self.buf.push(b'\t');
    }

    fn date(&mut self, days: i32) {
        push_date(&mut self.buf, days);
        self.buf.push(b'\t');
    }

    fn null(&mut self) {
        self.buf.extend_from_slice(b"\\N\t");
    }

    fn bool(&mut self, v: bool) {
        self.buf.extend_from_slice(if v { b"t\t" } else { b"f\t" });
    }

    /// Ends the row (replacing the last tab).
    async fn end_row(&mut self) -> Result<()> {
        if let Some(last) = self.buf.last_mut() {
            *last = b'\n';
        }
        self.rows += 1;
        if self.buf.len() >= 1 << 20 {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            self.bytes += self.buf.len() as u64;
            self.copy.send(self.buf.as_slice()).await.map_err(Error::query(format!("sending rows of {}", self.table)))?;
            self.buf.clear();
        }
        Ok(())
    }

    async fn abort(self) {
        if let Err(e) = self.copy.abort("the load stopped").await {
            tracing::warn!(table = self.table, error = %e, "could not abort a COPY");
        }
    }

    async fn finish(mut self) -> Result<(u64, u64)> {
        self.flush().await?;
        let table = self.table;
        let n = self.copy.finish().await.map_err(Error::query(format!("finishing the COPY into {table}")))?;
        Ok((n, self.bytes))
    }
}

/// Appends the decimal form of `v`.
fn push_i64(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    let mut u = v.unsigned_abs();
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

fn ddl(s: &str) -> Vec<String> {
    let s = quote_ident(s);
    vec![
        format!("CREATE SCHEMA IF NOT EXISTS {s}"),
        format!(
            "CREATE TABLE {s}.category (
                category_id integer GENERATED BY DEFAULT AS IDENTITY,
                name varchar(25) NOT NULL,
                last_update timestamp NOT NULL DEFAULT now())"
        ),
        format!(
            "CREATE TABLE {s}.film (
                film_id integer GENERATED BY DEFAULT AS IDENTITY,
                title varchar(255) NOT NULL,
                description text,
                release_year integer,
                rental_duration smallint NOT NULL DEFAULT 3,
                rental_rate numeric(4,2) NOT NULL DEFAULT 4.99,
                length smallint,
                replacement_cost numeric(5,2) NOT NULL DEFAULT 19.99,
                rating varchar(5) DEFAULT 'G',
                last_update timestamp NOT NULL DEFAULT now())"
        ),
        format!(
            "CREATE TABLE {s}.film_category (
                film_id integer NOT NULL,
                category_id integer NOT NULL,
                last_update timestamp NOT NULL DEFAULT now())"
        ),
        format!(
            "CREATE TABLE {s}.customer (
                customer_id integer GENERATED BY DEFAULT AS IDENTITY,
                store_id smallint NOT NULL,
                first_name varchar(45) NOT NULL,
                last_name varchar(45) NOT NULL,
                email varchar(50),
                activebool boolean NOT NULL DEFAULT true,
                create_date date NOT NULL DEFAULT current_date,
                last_update timestamp DEFAULT now(),
                active integer)"
        ),
        format!(
            "CREATE TABLE {s}.inventory (
                inventory_id integer GENERATED BY DEFAULT AS IDENTITY,
                film_id integer NOT NULL,
                store_id smallint NOT NULL,
                last_update timestamp NOT NULL DEFAULT now())"
        ),
        format!(
            "CREATE TABLE {s}.rental (
                rental_id integer GENERATED BY DEFAULT AS IDENTITY,
                rental_date timestamp NOT NULL,
                inventory_id integer NOT NULL,
                customer_id integer NOT NULL,
                return_date timestamp,
                staff_id smallint NOT NULL,
                last_update timestamp NOT NULL DEFAULT now())"
        ),
        format!(
            "CREATE TABLE {s}.payment (
                payment_id integer GENERATED BY DEFAULT AS IDENTITY,
                customer_id integer NOT NULL,
                staff_id smallint NOT NULL,
                rental_id integer NOT NULL,
                amount numeric(5,2) NOT NULL,
                payment_date timestamp NOT NULL,
                last_update timestamp NOT NULL DEFAULT now())"
        ),
    ]
}

fn keys(s: &str) -> Vec<String> {
    let q = quote_ident(s);
    let mut v = vec![
        format!("ALTER TABLE {q}.category ADD PRIMARY KEY (category_id)"),
        format!("ALTER TABLE {q}.film ADD PRIMARY KEY (film_id)"),
        format!("ALTER TABLE {q}.film_category ADD PRIMARY KEY (film_id, category_id)"),
        format!("ALTER TABLE {q}.customer ADD PRIMARY KEY (customer_id)"),
        format!("ALTER TABLE {q}.inventory ADD PRIMARY KEY (inventory_id)"),
        format!("ALTER TABLE {q}.rental ADD PRIMARY KEY (rental_id)"),
        format!("ALTER TABLE {q}.payment ADD PRIMARY KEY (payment_id)"),
        format!("ALTER TABLE {q}.film_category ADD FOREIGN KEY (film_id) REFERENCES {q}.film (film_id)"),
        format!("ALTER TABLE {q}.film_category ADD FOREIGN KEY (category_id) REFERENCES {q}.category (category_id)"),
        format!("ALTER TABLE {q}.inventory ADD FOREIGN KEY (film_id) REFERENCES {q}.film (film_id)"),
        format!("ALTER TABLE {q}.rental ADD FOREIGN KEY (inventory_id) REFERENCES {q}.inventory (inventory_id)"),
        format!("ALTER TABLE {q}.rental ADD FOREIGN KEY (customer_id) REFERENCES {q}.customer (customer_id)"),
        format!("ALTER TABLE {q}.payment ADD FOREIGN KEY (customer_id) REFERENCES {q}.customer (customer_id)"),
        format!("ALTER TABLE {q}.payment ADD FOREIGN KEY (rental_id) REFERENCES {q}.rental (rental_id)"),
        format!("CREATE INDEX ON {q}.rental (customer_id)"),
        format!("CREATE INDEX ON {q}.rental (last_update)"),
        format!("CREATE INDEX ON {q}.payment (customer_id)"),
        format!("CREATE INDEX ON {q}.payment (payment_date)"),
        format!("CREATE INDEX ON {q}.inventory (film_id)"),
        format!(
            "CREATE OR REPLACE FUNCTION {q}.reel_last_updated() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN NEW.last_update = now(); RETURN NEW; END $$"
        ),
    ];
    for (t, id) in [
        ("category", Some("category_id")),
        ("film", Some("film_id")),
        ("film_category", None),
        ("customer", Some("customer_id")),
        ("inventory", Some("inventory_id")),
        ("rental", Some("rental_id")),
        ("payment", Some("payment_id")),
    ] {
        v.push(format!(
            "CREATE TRIGGER last_updated BEFORE UPDATE ON {q}.{t} FOR EACH ROW EXECUTE FUNCTION {q}.reel_last_updated()"
        ));
        if let Some(id) = id {
            // New rows (inserted by hand or by a test) continue after the generated ids.
            v.push(format!(
                "SELECT setval(pg_get_serial_sequence('{}.{t}', '{id}'), COALESCE((SELECT max({id}) FROM {q}.{t}), 0) + 1, false)",
                q.replace('\'', "''")
            ));
        }
    }
    v.push(format!("ANALYZE {q}.payment"));
    v.push(format!("ANALYZE {q}.rental"));
    v
}

/// Loads the company of `params` into `conn`'s database. `on_day` sees every day once, in
/// order (during the rental pass), e.g. to write the day's review file; `on_rows` is told
/// of rows sent, for a progress bar. All or nothing: one transaction.
pub async fn load_rental(
    conn: &mut PgConnection,
    params: &ValidRentalGenParams,
    opts: &LoadOptions,
    corpus: Option<&reel_gen::rental::Corpus>,
    on_day: &mut (dyn FnMut(&DayActivity) -> Result<()> + Send),
    on_rows: &(dyn Fn(u64) + Sync),
) -> Result<LoadReport> {
    if opts.schema.trim().is_empty() {
        return Err(Error::InvalidArgument { what: "--pg-schema", value: opts.schema.clone(), reason: "it is empty".into() });
    }
    let existing: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 AND table_name = ANY($2) ORDER BY 1",
    )
    .bind(&opts.schema)
    .bind(RENTAL_TABLES.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await
    .map_err(Error::query("looking for existing rental tables"))?;
    if !existing.is_empty() && !opts.replace {
        return Err(Error::TablesExist { schema: opts.schema.clone(), tables: existing.join(", ") });
    }

    let mut tx = conn.begin().await.map_err(Error::query("starting the load transaction"))?;
    let s = quote_ident(&opts.schema);
    if opts.replace {
        for t in RENTAL_TABLES.iter().rev() {
            sqlx::raw_sql(AssertSqlSafe(format!("DROP TABLE IF EXISTS {s}.{t} CASCADE")))
                .execute(&mut *tx)
                .await
                .map_err(Error::query(format!("dropping {t}")))?;
        }
    }
    for stmt in ddl(&opts.schema) {
        sqlx::raw_sql(AssertSqlSafe(stmt)).execute(&mut *tx).await.map_err(Error::query("creating the rental tables"))?;
    }

    let started = Instant::now();
    let company = params.company();
    let mut report = LoadReport::default();
    let schema = opts.schema.as_str();
    copy_catalogue(&mut *tx, schema, &company, &mut report, on_rows).await?;

    // Pass 1: rentals (and the day callback).
    let mut c = CopyText::begin(&mut *tx, schema, "rental", "rental_id, rental_date, inventory_id, customer_id, return_date, staff_id, last_update").await?;
    let pass: Result<()> = async {
        for day in params.days(corpus) {
            on_day(&day)?;
            for r in &day.rentals {
                c.int(r.rental_id.into());
                c.ts(r.rental_date);
                c.int(r.inventory_id.into());
                c.int(r.customer_id.into());
                match r.return_date {
                    Some(t) => c.ts(t),
                    None => c.null(),
                }
                c.int(r.staff_id.into());
                c.ts(r.last_update);
                c.end_row().await?;
            }
            on_rows(day.rentals.len() as u64);
        }
        Ok(())
    }
    .await;
    if let Err(e) = pass {
        // The server must hear that the COPY is off, or the connection stays in COPY mode.
        c.abort().await;
        return Err(e);
    }
    let (n, b) = c.finish().await?;
    report.rows.push(("rental".into(), n));
    report.bytes += b;

    // Pass 2: payments, regenerated day by day (no reviews needed).
    let mut c = CopyText::begin(&mut *tx, schema, "payment", "payment_id, customer_id, staff_id, rental_id, amount, payment_date, last_update").await?;
    for day in params.days(None) {
        for p in &day.payments {
            c.int(p.payment_id.into());
            c.int(p.customer_id.into());
            c.int(p.staff_id.into());
            c.int(p.rental_id.into());
            c.cents(p.amount_cents);
            c.ts(p.payment_date);
            c.ts(p.last_update);
            c.end_row().await?;
        }
        on_rows(day.payments.len() as u64);
    }
    let (n, b) = c.finish().await?;
    report.rows.push(("payment".into(), n));
    report.bytes += b;
    report.copy_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    for stmt in keys(&opts.schema) {
        let action = format!("adding keys and indexes ({stmt})");
        sqlx::raw_sql(AssertSqlSafe(stmt)).execute(&mut *tx).await.map_err(Error::query(action))?;
    }
    tx.commit().await.map_err(Error::query("committing the load"))?;
    report.index_seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

async fn copy_catalogue(conn: &mut PgConnection, schema: &str, company: &Company, report: &mut LoadReport, on_rows: &(dyn Fn(u64) + Sync)) -> Result<()> {
    let mut c = CopyText::begin(conn, schema, "category", "category_id, name, last_update").await?;
    for r in &company.categories {
        c.int(r.category_id.into());
        c.text(r.name);
        c.ts(r.last_update);
        c.end_row().await?;
    }
    let (n, b) = c.finish().await?;
    report.rows.push(("category".into(), n));
    report.bytes += b;

    let mut c = CopyText::begin(conn, schema, "film", "film_id, title, description, release_year, rental_duration, rental_rate, length, replacement_cost, rating, last_update").await?;
    for f in &company.films {
        c.int(f.film_id.into());
        c.text(&f.title);
        c.text(&f.description);
        c.int(f.release_year.into());
        c.int(f.rental_duration.into());
        c.cents(f.rental_rate_cents);
        c.int(f.length.into());
        c.cents(f.replacement_cost_cents);
        c.text(f.rating);
        c.ts(f.last_update);
        c.end_row().await?;
    }
    let (n, b) = c.finish().await?;
    report.rows.push(("film".into(), n));
    report.bytes += b;

    let mut c = CopyText::begin(conn, schema, "film_category", "film_id, category_id, last_update").await?;
    for fc in &company.film_categories {
        c.int(fc.film_id.into());
        c.int(fc.category_id.into());
        c.ts(fc.last_update);
        c.end_row().await?;
    }
    let (n, b) = c.finish().await?;
    report.rows.push(("film_category".into(), n));
    report.bytes += b;

    let mut c = CopyText::begin(conn, schema, "customer", "customer_id, store_id, first_name, last_name, email, activebool, create_date, last_update, active").await?;
    let mut count = 0u64;
    for cu in company.customers() {
        c.int(cu.customer_id.into());
        c.int(cu.store_id.into());
        c.text(cu.first_name);
        c.text(cu.last_name);
        c.text(&cu.email);
        c.bool(cu.active);
        c.date(cu.create_date);
        c.ts(cu.last_update);
        c.int(i64::from(cu.active));
        c.end_row().await?;
        count += 1;
        if count % 65_536 == 0 {
            on_rows(65_536);
        }
    }
    on_rows(count % 65_536);
    let (n, b) = c.finish().await?;
    report.rows.push(("customer".into(), n));
    report.bytes += b;

    let mut c = CopyText::begin(conn, schema, "inventory", "inventory_id, film_id, store_id, last_update").await?;
    for i in &company.inventory {
        c.int(i.inventory_id.into());
        c.int(i.film_id.into());
        c.int(i.store_id.into());
        c.ts(i.last_update);
        c.end_row().await?;
    }
    let (n, b) = c.finish().await?;
    report.rows.push(("inventory".into(), n));
    report.bytes += b;
    Ok(())
}
