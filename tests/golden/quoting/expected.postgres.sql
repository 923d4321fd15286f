WITH ls_events AS (
  SELECT
    e."contact_id" AS cid,
    e."type" AS typ,
    CAST(1735689600000000 - (
      EXTRACT(EPOCH FROM e."occurred_at") * 1000000
    ) AS DOUBLE PRECISION) / 86400000000.0 AS age,
    e."url" AS w_0
  FROM "events" AS e
  WHERE
    e."occurred_at" <= CAST('2025-01-01 00:00:00' AS TIMESTAMP)
    AND e."type" = 'it''s; DELETE FROM events'
), ls_agg AS (
  SELECT
    cid,
    COUNT(*) FILTER(WHERE
      typ = 'it''s; DELETE FROM events' AND LEFT(w_0, 3) = '/''x') AS n_0
  FROM ls_events
  GROUP BY
    cid
), ls_contacts AS (
  SELECT
    c."contact_id",
    c."last_name",
    c."company",
    c."city",
    c."job_title"
  FROM "contacts" AS c
  WHERE
    c."created_at" IS NULL
    OR c."created_at" <= CAST('2025-01-01 00:00:00' AS TIMESTAMP)
), ls_base AS (
  SELECT
    c."contact_id" AS cid,
    COALESCE(c."last_name" = 'O''Brien''; DROP TABLE contacts; --', FALSE) AS rf_0,
    CAST(NULL AS BIGINT) AS rn_0,
    COALESCE(c."company" IN ('C:\temp\', 'a\''b'), FALSE) AS rf_1,
    CAST(NULL AS BIGINT) AS rn_1,
    COALESCE(c."city" ~ '^[A-Za-z0-9_]+\\', FALSE) AS rf_2,
    CAST(NULL AS BIGINT) AS rn_2,
    COALESCE(POSITION('100%_sure"; --' IN c."job_title") > 0, FALSE) AS rf_3,
    CAST(NULL AS BIGINT) AS rn_3,
    COALESCE(a.n_0, 0) >= 1 AS rf_4,
    COALESCE(a.n_0, 0) AS rn_4
  FROM ls_contacts AS c
  LEFT JOIN ls_agg AS a
    ON a.cid = c."contact_id"
), ls_rules AS (
  SELECT
    *,
    CAST(CASE WHEN rf_0 THEN 10 ELSE 0 END AS DOUBLE PRECISION) AS r_0,
    CAST(CASE WHEN rf_0 THEN 10 ELSE 0 END AS DOUBLE PRECISION) AS rraw_0,
    CAST(CASE WHEN rf_1 THEN 1 ELSE 0 END AS DOUBLE PRECISION) AS r_1,
    CAST(CASE WHEN rf_1 THEN 1 ELSE 0 END AS DOUBLE PRECISION) AS rraw_1,
    CAST(CASE WHEN rf_2 THEN 1 ELSE 0 END AS DOUBLE PRECISION) AS r_2,
    CAST(CASE WHEN rf_2 THEN 1 ELSE 0 END AS DOUBLE PRECISION) AS rraw_2,
    CAST(CASE WHEN rf_3 THEN 1 ELSE 0 END AS DOUBLE PRECISION) AS r_3,
    CAST(CASE WHEN rf_3 THEN 1 ELSE 0 END AS DOUBLE PRECISION) AS rraw_3,
    CAST(CASE WHEN rf_4 THEN 1 ELSE 0 END AS DOUBLE PRECISION) AS r_4,
    CAST(CASE WHEN rf_4 THEN 1 ELSE 0 END AS DOUBLE PRECISION) AS rraw_4
  FROM ls_base
), ls_groups AS (
  SELECT
    *,
    r_0 + r_1 + r_2 + r_3 + r_4 AS g_0
  FROM ls_rules
), ls_total AS (
  SELECT
    *,
    g_0 AS score
  FROM ls_groups
)
SELECT
  cid AS contact_id,
  score,
  CASE WHEN score >= 10 THEN 'hot "x"' ELSE 'cold''; --' END AS tier,
  CASE WHEN g_0 >= 5 THEN 'B\' ELSE 'A''' END || '1;' AS grade,
  g_0,
  r_0,
  rraw_0,
  rn_0,
  rf_0,
  r_1,
  rraw_1,
  rn_1,
  rf_1,
  r_2,
  rraw_2,
  rn_2,
  rf_2,
  r_3,
  rraw_3,
  rn_3,
  rf_3,
  r_4,
  rraw_4,
  rn_4,
  rf_4
FROM ls_total
