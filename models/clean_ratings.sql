-- clean.ratings rebuilt from every raw.ratings drop: one rating per (user, movie), the
-- latest by its timestamp (then the later drop day, then the later line), the same rule as
-- `reelhouse ingest`. Sorted by user and movie, so uniqueness checks settle in one scan.
SELECT user_id, movie_id, rating, rated_at
FROM (
    SELECT user_id,
           movie_id,
           rating,
           arrow_cast(to_timestamp_seconds("timestamp"), 'Timestamp(µs, "UTC")') AS rated_at,
           row_number() OVER (PARTITION BY user_id, movie_id ORDER BY "timestamp" DESC, ds DESC, _line DESC) AS pick
    FROM raw.ratings
) AS latest
WHERE pick = 1
ORDER BY user_id, movie_id
