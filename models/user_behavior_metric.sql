-- curated.user_behavior_metric for run day {{ ds }} (seed 001's metric, one row per customer
-- who bought or reviewed that day). Built by the rental_daily pipeline after
--   raw.user_purchase       the day's payments, extracted from PostgreSQL by
--                           `reelhouse ingest postgres --query "SELECT ... FROM payment WHERE
--                           payment_date >= '{{ ds }}' AND payment_date < '{{ ds }}'::date + 1"
--                           --into raw.user_purchase --ds {{ ds }}`
--   clean.classified_reviews the day's vendor reviews (clean.reviews, partition ds) with the
--                           sentiment model's label: sentiment, positive_review
-- and materialised by replacing the ds = {{ ds }} partition (delete that day, insert: one
-- transaction).
--
-- Two deliberate differences from the seed's Redshift SQL:
--   * each side is aggregated before the join: the seed joined purchase rows to review rows,
--     so a customer with 3 purchases and 2 reviews had amount_spent counted twice and
--     review_count three times;
--   * a FULL OUTER JOIN keeps customers who bought without reviewing (review_count 0) and
--     reviewed without buying (amount_spent 0); the seed's inner join dropped both.
-- The SQL is plain enough to run unchanged in DataFusion and in PostgreSQL, which is how the
-- integration test checks it.
WITH purchases AS (
    SELECT customer_id, SUM(amount) AS amount_spent
    FROM raw.user_purchase
    WHERE ds = '{{ ds }}'
    GROUP BY customer_id
),
reviews AS (
    SELECT customer_id,
           SUM(CASE WHEN positive_review THEN 1 ELSE 0 END) AS review_score,
           COUNT(*) AS review_count
    FROM clean.classified_reviews
    WHERE ds = '{{ ds }}'
    GROUP BY customer_id
)
SELECT COALESCE(p.customer_id, r.customer_id) AS customer_id,
       CAST(COALESCE(p.amount_spent, 0) AS DECIMAL(18, 5)) AS amount_spent,
       COALESCE(r.review_score, 0) AS review_score,
       COALESCE(r.review_count, 0) AS review_count,
       DATE '{{ ds }}' AS insert_date
FROM purchases p
FULL OUTER JOIN reviews r ON p.customer_id = r.customer_id
