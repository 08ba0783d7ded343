-- curated.film_sentiment for run day {{ ds }}: per film reviewed that day, its genre, the
-- reviews and the share the sentiment model labelled positive. A film without a category
-- row keeps its reviews under genre NULL.
SELECT r.film_id,
       c.name AS genre,
       COUNT(*) AS reviews,
       SUM(CASE WHEN r.positive_review THEN 1 ELSE 0 END) AS positive_reviews,
       CAST(SUM(CASE WHEN r.positive_review THEN 1 ELSE 0 END) AS DOUBLE) / COUNT(*) AS positive_share
FROM clean.classified_reviews r
LEFT JOIN clean.film_category fc ON fc.film_id = r.film_id
LEFT JOIN clean.category c ON c.category_id = fc.category_id
WHERE r.ds = '{{ ds }}'
GROUP BY r.film_id, c.name
ORDER BY r.film_id
