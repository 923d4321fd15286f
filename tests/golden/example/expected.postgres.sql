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
), ls_agg AS (
  SELECT
    cid,
    COUNT(*) FILTER(WHERE
      typ = 'page_view' AND POSITION('/pricing' IN w_0) > 0 AND age <= 30) AS n_0,
    MIN(age) FILTER(WHERE
      typ = 'page_view' AND POSITION('/pricing' IN w_0) > 0 AND age <= 30) AS m_0,
    COUNT(*) FILTER(WHERE
      typ = 'email_open') AS n_1,
    SUM(POWER(0.5, CAST(age AS DOUBLE PRECISION) / 90)) FILTER(WHERE
      typ = 'email_open') AS s_0,
    COUNT(*) FILTER(WHERE
      typ = 'demo_request') AS n_2,
    MIN(age) FILTER(WHERE
      typ = 'demo_request') AS m_1,
    COUNT(*) FILTER(WHERE
      typ = 'page_view' AND age <= 7) AS n_3,
    MIN(age) FILTER(WHERE
      typ = 'page_view' AND age <= 7) AS m_2,
    MIN(age) AS m_3,
    COUNT(*) FILTER(WHERE
      typ = 'unsubscribe') AS n_4,
    MIN(age) FILTER(WHERE
      typ = 'unsubscribe') AS m_4
  FROM ls_events
  GROUP BY
    cid
), ls_contacts AS (
  SELECT
    c."contact_id",
    c."job_title",
    CASE
      WHEN POSITION('@' IN c."email") > 0
      THEN NULLIF(LOWER(SPLIT_PART(c."email", '@', -1)), '')
    END AS "email_domain",
    c."company_size"
  FROM "contacts" AS c
  WHERE
    c."created_at" IS NULL
    OR c."created_at" <= CAST('2025-01-01 00:00:00' AS TIMESTAMP)
), ls_base AS (
  SELECT
    c."contact_id" AS cid,
    COALESCE(c."job_title" IN ('CEO', 'CMO', 'VP Sales'), FALSE) AS rf_0,
    CAST(NULL AS BIGINT) AS rn_0,
    COALESCE(c."email_domain" IN ('gmail.com', 'hotmail.com'), FALSE) AS rf_1,
    CAST(NULL AS BIGINT) AS rn_1,
    COALESCE(c."company_size" BETWEEN 50 AND 1000, FALSE) AS rf_2,
    CAST(NULL AS BIGINT) AS rn_2,
    COALESCE(a.n_0, 0) >= 1 AS rf_3,
    COALESCE(a.n_0, 0) AS rn_3,
    a.m_0 AS ra_3,
    COALESCE(a.n_1, 0) >= 1 AS rf_4,
    COALESCE(a.n_1, 0) AS rn_4,
    a.s_0 AS rs_4,
    COALESCE(a.n_2, 0) >= 1 AS rf_5,
    COALESCE(a.n_2, 0) AS rn_5,
    a.m_1 AS ra_5,
    COALESCE(a.n_3, 0) >= 3 AS rf_6,
    COALESCE(a.n_3, 0) AS rn_6,
    a.m_2 AS ra_6,
    a.m_3 IS NULL OR a.m_3 > 30 AS rf_7,
    CAST(NULL AS BIGINT) AS rn_7,
    COALESCE(a.n_4, 0) >= 1 AS rf_8,
    COALESCE(a.n_4, 0) AS rn_8,
    a.m_4 AS ra_8
  FROM ls_contacts AS c
  LEFT JOIN ls_agg AS a
    ON a.cid = c."contact_id"
), ls_rules AS (
  SELECT
    *,
    CAST(CASE WHEN rf_0 THEN 10 ELSE 0 END AS DOUBLE PRECISION) AS r_0,
    CAST(CASE WHEN rf_0 THEN 10 ELSE 0 END AS DOUBLE PRECISION) AS rraw_0,
    CAST(CASE WHEN rf_1 THEN -10 ELSE 0 END AS DOUBLE PRECISION) AS r_1,
    CAST(CASE WHEN rf_1 THEN -10 ELSE 0 END AS DOUBLE PRECISION) AS rraw_1,
    CAST(CASE WHEN rf_2 THEN 5 ELSE 0 END AS DOUBLE PRECISION) AS r_2,
    CAST(CASE WHEN rf_2 THEN 5 ELSE 0 END AS DOUBLE PRECISION) AS rraw_2,
    CAST(CASE
      WHEN NOT rf_3
      THEN 0
      WHEN ra_3 IS NULL
      THEN 15
      ELSE 15 * POWER(0.5, CAST(ra_3 AS DOUBLE PRECISION) / 90)
    END AS DOUBLE PRECISION) AS r_3,
    CAST(CASE WHEN rf_3 THEN 15 ELSE 0 END AS DOUBLE PRECISION) AS rraw_3,
    CAST(LEAST(GREATEST(2 * COALESCE(rs_4, 0), -10), 10) AS DOUBLE PRECISION) AS r_4,
    CAST(LEAST(GREATEST(2 * rn_4, -10), 10) AS DOUBLE PRECISION) AS rraw_4,
    CAST(CASE
      WHEN NOT rf_5
      THEN 0
      WHEN ra_5 IS NULL
      THEN 20
      ELSE 20 * POWER(0.5, CAST(ra_5 AS DOUBLE PRECISION) / 90)
    END AS DOUBLE PRECISION) AS r_5,
    CAST(CASE WHEN rf_5 THEN 20 ELSE 0 END AS DOUBLE PRECISION) AS rraw_5,
    CAST(CASE
      WHEN NOT rf_6
      THEN 0
      WHEN ra_6 IS NULL
      THEN 5
      ELSE 5 * POWER(0.5, CAST(ra_6 AS DOUBLE PRECISION) / 90)
    END AS DOUBLE PRECISION) AS r_6,
    CAST(CASE WHEN rf_6 THEN 5 ELSE 0 END AS DOUBLE PRECISION) AS rraw_6,
    CAST(CASE WHEN rf_7 THEN -20 ELSE 0 END AS DOUBLE PRECISION) AS r_7,
    CAST(CASE WHEN rf_7 THEN -20 ELSE 0 END AS DOUBLE PRECISION) AS rraw_7,
    CAST(CASE
      WHEN NOT rf_8
      THEN 0
      WHEN ra_8 IS NULL
      THEN -15
      ELSE -15 * POWER(0.5, CAST(ra_8 AS DOUBLE PRECISION) / 90)
    END AS DOUBLE PRECISION) AS r_8,
    CAST(CASE WHEN rf_8 THEN -15 ELSE 0 END AS DOUBLE PRECISION) AS rraw_8
  FROM ls_base
), ls_groups AS (
  SELECT
    *,
    LEAST(r_0 + r_1 + r_2, 50) AS g_0,
    LEAST(r_3 + r_4 + r_5 + r_6 + r_7 + r_8, 100) AS g_1
  FROM ls_rules
), ls_total AS (
  SELECT
    *,
    g_0 + g_1 AS score
  FROM ls_groups
)
SELECT
  cid AS contact_id,
  score,
  CASE WHEN score >= 60 THEN 'sql' WHEN score >= 30 THEN 'nurture' ELSE 'cold' END AS tier,
  CAST(NULL AS VARCHAR) AS grade,
  g_0,
  g_1,
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
  rf_8
FROM ls_total
