WITH ls_events AS (
  SELECT
    e."contact_id" AS cid,
    e."type" AS typ,
    CAST(1735689600000000 - (
      EXTRACT(EPOCH FROM e."occurred_at") * 1000000
    ) AS DOUBLE PRECISION) / 86400000000.0 AS age,
    e."form" AS w_0,
    e."campaign" AS w_1,
    e."url" AS w_2,
    e."referrer" AS w_3,
    e."source" AS w_4
  FROM "events" AS e
  WHERE
    e."occurred_at" <= CAST('2025-01-01 00:00:00' AS TIMESTAMP)
), ls_agg AS (
  SELECT
    cid,
    COUNT(*) FILTER(WHERE
      typ = 'page_view') AS n_0,
    COUNT(*) FILTER(WHERE
      typ = 'webinar_attended') AS n_1,
    COUNT(*) FILTER(WHERE
      typ = 'page_view' AND age <= 7) AS n_2,
    COUNT(*) FILTER(WHERE
      typ = 'email_open') AS n_3,
    COUNT(*) FILTER(WHERE
      typ = 'demo_request') AS n_4,
    COUNT(*) FILTER(WHERE
      typ = 'email_click' AND age <= 30.5) AS n_5,
    COUNT(*) FILTER(WHERE
      typ IN ('email_open', 'email_click') AND age <= 14) AS n_6,
    COUNT(*) FILTER(WHERE
      typ = 'form_submit' AND w_0 = 'contact') AS n_7,
    COUNT(*) FILTER(WHERE
      typ = 'email_click' AND w_1 IN ('spring', 'summer')) AS n_8,
    COUNT(*) FILTER(WHERE
      typ = 'page_view'
      AND POSITION('/pricing' IN w_2) > 0
      AND w_3 IS NULL
      AND NOT w_4 IN ('bot')
      AND age <= 30) AS n_9,
    MIN(age) AS m_0,
    MIN(age) FILTER(WHERE
      typ IN ('page_view', 'email_open')) AS m_1
  FROM ls_events
  GROUP BY
    cid
), ls_contacts AS (
  SELECT
    c."contact_id"
  FROM "contacts" AS c
  WHERE
    c."created_at" IS NULL
    OR c."created_at" <= CAST('2025-01-01 00:00:00' AS TIMESTAMP)
), ls_base AS (
  SELECT
    c."contact_id" AS cid,
    COALESCE(a.n_0, 0) >= 1 AS rf_0,
    COALESCE(a.n_0, 0) AS rn_0,
    COALESCE(a.n_1, 0) >= 1 AS rf_1,
    COALESCE(a.n_1, 0) AS rn_1,
    COALESCE(a.n_2, 0) >= 3 AS rf_2,
    COALESCE(a.n_2, 0) AS rn_2,
    COALESCE(a.n_3, 0) >= 0 AND COALESCE(a.n_3, 0) <= 2 AS rf_3,
    COALESCE(a.n_3, 0) AS rn_3,
    COALESCE(a.n_4, 0) = 1 AS rf_4,
    COALESCE(a.n_4, 0) AS rn_4,
    COALESCE(a.n_5, 0) >= 2 AND COALESCE(a.n_5, 0) <= 4 AS rf_5,
    COALESCE(a.n_5, 0) AS rn_5,
    COALESCE(a.n_6, 0) >= 1 AS rf_6,
    COALESCE(a.n_6, 0) AS rn_6,
    COALESCE(a.n_7, 0) >= 1 AS rf_7,
    COALESCE(a.n_7, 0) AS rn_7,
    COALESCE(a.n_8, 0) >= 1 AS rf_8,
    COALESCE(a.n_8, 0) AS rn_8,
    COALESCE(a.n_9, 0) >= 1 AS rf_9,
    COALESCE(a.n_9, 0) AS rn_9,
    COALESCE(a.n_0, 0) >= 1 AS rf_10,
    COALESCE(a.n_0, 0) AS rn_10,
    a.m_0 IS NULL OR a.m_0 > 30 AS rf_11,
    CAST(NULL AS BIGINT) AS rn_11,
    a.m_1 IS NULL OR a.m_1 > 60 AS rf_12,
    CAST(NULL AS BIGINT) AS rn_12
  FROM ls_contacts AS c
  LEFT JOIN ls_agg AS a
    ON a.cid = c."contact_id"
), ls_rules AS (
  SELECT
    *,
    CAST(CASE WHEN rf_0 THEN 1 ELSE 0 END AS DOUBLE PRECISION) AS r_0,
    CAST(CASE WHEN rf_0 THEN 1 ELSE 0 END AS DOUBLE PRECISION) AS rraw_0,
    CAST(CASE WHEN rf_1 THEN 1 ELSE 0 END AS DOUBLE PRECISION) AS r_1,
    CAST(CASE WHEN rf_1 THEN 1 ELSE 0 END AS DOUBLE PRECISION) AS rraw_1,
    CAST(CASE WHEN rf_2 THEN 2 ELSE 0 END AS DOUBLE PRECISION) AS r_2,
    CAST(CASE WHEN rf_2 THEN 2 ELSE 0 END AS DOUBLE PRECISION) AS rraw_2,
    CAST(CASE WHEN rf_3 THEN 1 ELSE 0 END AS DOUBLE PRECISION) AS r_3,
    CAST(CASE WHEN rf_3 THEN 1 ELSE 0 END AS DOUBLE PRECISION) AS rraw_3,
    CAST(CASE WHEN rf_4 THEN 3 ELSE 0 END AS DOUBLE PRECISION) AS r_4,
    CAST(CASE WHEN rf_4 THEN 3 ELSE 0 END AS DOUBLE PRECISION) AS rraw_4,
    CAST(CASE WHEN rf_5 THEN 2 ELSE 0 END AS DOUBLE PRECISION) AS r_5,
    CAST(CASE WHEN rf_5 THEN 2 ELSE 0 END AS DOUBLE PRECISION) AS rraw_5,
    CAST(CASE WHEN rf_6 THEN 1 ELSE 0 END AS DOUBLE PRECISION) AS r_6,
    CAST(CASE WHEN rf_6 THEN 1 ELSE 0 END AS DOUBLE PRECISION) AS rraw_6,
    CAST(CASE WHEN rf_7 THEN 5 ELSE 0 END AS DOUBLE PRECISION) AS r_7,
    CAST(CASE WHEN rf_7 THEN 5 ELSE 0 END AS DOUBLE PRECISION) AS rraw_7,
    CAST(CASE WHEN rf_8 THEN 1 ELSE 0 END AS DOUBLE PRECISION) AS r_8,
    CAST(CASE WHEN rf_8 THEN 1 ELSE 0 END AS DOUBLE PRECISION) AS rraw_8,
    CAST(CASE WHEN rf_9 THEN 4 ELSE 0 END AS DOUBLE PRECISION) AS r_9,
    CAST(CASE WHEN rf_9 THEN 4 ELSE 0 END AS DOUBLE PRECISION) AS rraw_9,
    CAST(CASE WHEN rf_10 THEN 1 ELSE 0 END AS DOUBLE PRECISION) AS r_10,
    CAST(CASE WHEN rf_10 THEN 1 ELSE 0 END AS DOUBLE PRECISION) AS rraw_10,
    CAST(CASE WHEN rf_11 THEN -5 ELSE 0 END AS DOUBLE PRECISION) AS r_11,
    CAST(CASE WHEN rf_11 THEN -5 ELSE 0 END AS DOUBLE PRECISION) AS rraw_11,
    CAST(CASE WHEN rf_12 THEN -2 ELSE 0 END AS DOUBLE PRECISION) AS r_12,
    CAST(CASE WHEN rf_12 THEN -2 ELSE 0 END AS DOUBLE PRECISION) AS rraw_12
  FROM ls_base
), ls_groups AS (
  SELECT
    *,
    r_0 + r_1 + r_2 + r_3 + r_4 + r_5 + r_6 + r_7 + r_8 + r_9 + r_10 + r_11 + r_12 AS g_0
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
  CASE WHEN score >= 20 THEN 'warm' ELSE 'cold' END AS tier,
  CAST(NULL AS VARCHAR) AS grade,
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
  rf_4,
  r_5,
  rraw_5,
  rn_5,
  rf_5,
  r_6,
  rraw_6,
  rn_6,
  rf_6,
  r_7,
  rraw_7,
  rn_7,
  rf_7,
  r_8,
  rraw_8,
  rn_8,
  rf_8,
  r_9,
  rraw_9,
  rn_9,
  rf_9,
  r_10,
  rraw_10,
  rn_10,
  rf_10,
  r_11,
  rraw_11,
  rn_11,
  rf_11,
  r_12,
  rraw_12,
  rn_12,
  rf_12
FROM ls_total
