WITH ls_events AS (
  SELECT
    e."contact_id" AS cid,
    e."type" AS typ,
    CAST(1735689600000000 - EPOCH_US(e."occurred_at") AS DOUBLE) / 86400000000.0 AS age,
    e."url" AS w_0
  FROM "events" AS e
  WHERE
    e."occurred_at" <= CAST('2025-01-01 00:00:00' AS TIMESTAMP)
), ls_agg AS (
  SELECT
    cid,
    COUNT(*) FILTER(WHERE
      typ = 'demo_request' AND age <= 30) AS n_0,
    MIN(age) FILTER(WHERE
      typ = 'demo_request' AND age <= 30) AS m_0,
    COUNT(*) FILTER(WHERE
      typ = 'page_view' AND STRPOS(w_0, '/pricing') > 0) AS n_1,
    COUNT(*) FILTER(WHERE
      typ = 'trial_signup') AS n_2,
    COUNT(*) FILTER(WHERE
      (
        typ = 'page_view' AND STRPOS(w_0, '/pricing') > 0
      ) OR typ = 'trial_signup') AS n_3,
    MIN(age) FILTER(WHERE
      typ = 'page_view' AND STRPOS(w_0, '/pricing') > 0) AS m_1,
    MIN(age) FILTER(WHERE
      typ = 'trial_signup') AS m_2,
    COUNT(*) FILTER(WHERE
      typ = 'unsubscribe') AS n_4,
    COUNT(*) FILTER(WHERE
      typ = 'demo_request') AS n_5,
    MIN(age) FILTER(WHERE
      typ = 'demo_request') AS m_3,
    MIN(age) AS m_4,
    COUNT(*) FILTER(WHERE
      typ = 'email_click' AND age <= 7) AS n_6,
    COUNT(*) FILTER(WHERE
      typ = 'email_open' AND age <= 7) AS n_7,
    COUNT(*) FILTER(WHERE
      (
        typ = 'email_click' AND age <= 7
      ) OR (
        typ = 'email_open' AND age <= 7
      )) AS n_8,
    MIN(age) FILTER(WHERE
      typ = 'email_click' AND age <= 7) AS m_5,
    MIN(age) FILTER(WHERE
      typ = 'email_open' AND age <= 7) AS m_6
  FROM ls_events
  GROUP BY
    cid
), ls_contacts AS (
  SELECT
    c."contact_id",
    c."job_title",
    c."country",
    c."lifecycle_stage",
    c."industry",
    c."company_size"
  FROM "contacts" AS c
  WHERE
    c."created_at" IS NULL
    OR c."created_at" <= CAST('2025-01-01 00:00:00' AS TIMESTAMP)
), ls_base AS (
  SELECT
    c."contact_id" AS cid,
    COALESCE(c."job_title" IN ('CEO', 'CTO'), FALSE) AND COALESCE(a.n_0, 0) >= 1 AS rf_0,
    COALESCE(a.n_0, 0) AS rn_0,
    a.m_0 AS ra_0,
    COALESCE(a.n_1, 0) >= 2 OR COALESCE(a.n_2, 0) >= 1 AS rf_1,
    COALESCE(a.n_3, 0) AS rn_1,
    LEAST(a.m_1, a.m_2) AS ra_1,
    NOT COALESCE(c."country" = 'US', FALSE) AS rf_2,
    CAST(NULL AS BIGINT) AS rn_2,
    NOT COALESCE(a.n_4, 0) >= 1 AS rf_3,
    CAST(NULL AS BIGINT) AS rn_3,
    COALESCE(a.n_5, 0) >= 1
    AND NOT (
      COALESCE(a.n_4, 0) >= 1 OR COALESCE(c."lifecycle_stage" = 'customer', FALSE)
    ) AS rf_4,
    COALESCE(a.n_5, 0) AS rn_4,
    a.m_3 AS ra_4,
    (
      a.m_4 IS NULL OR a.m_4 > 14
    ) AND COALESCE(c."job_title" = 'CEO', FALSE) AS rf_5,
    CAST(NULL AS BIGINT) AS rn_5,
    (
      COALESCE(c."industry" = 'SaaS', FALSE)
      AND NOT COALESCE(c."company_size" < 10, FALSE)
    )
    OR (
      COALESCE(a.n_6, 0) >= 1 AND COALESCE(a.n_7, 0) >= 2
    ) AS rf_6,
    COALESCE(a.n_8, 0) AS rn_6,
    LEAST(a.m_5, a.m_6) AS ra_6
  FROM ls_contacts AS c
  LEFT JOIN ls_agg AS a
    ON a.cid = c."contact_id"
), ls_rules AS (
  SELECT
    *,
    CAST(CASE
      WHEN NOT rf_0
      THEN 0
      WHEN ra_0 IS NULL
      THEN 10
      ELSE 10 * POWER(0.5, ra_0 / 60)
    END AS DOUBLE) AS r_0,
    CAST(CASE WHEN rf_0 THEN 10 ELSE 0 END AS DOUBLE) AS rraw_0,
    CAST(CASE WHEN NOT rf_1 THEN 0 WHEN ra_1 IS NULL THEN 8 ELSE 8 * POWER(0.5, ra_1 / 60) END AS DOUBLE) AS r_1,
    CAST(CASE WHEN rf_1 THEN 8 ELSE 0 END AS DOUBLE) AS rraw_1,
    CAST(CASE WHEN rf_2 THEN 2 ELSE 0 END AS DOUBLE) AS r_2,
    CAST(CASE WHEN rf_2 THEN 2 ELSE 0 END AS DOUBLE) AS rraw_2,
    CAST(CASE WHEN rf_3 THEN 3 ELSE 0 END AS DOUBLE) AS r_3,
    CAST(CASE WHEN rf_3 THEN 3 ELSE 0 END AS DOUBLE) AS rraw_3,
    CAST(CASE WHEN NOT rf_4 THEN 0 WHEN ra_4 IS NULL THEN 6 ELSE 6 * POWER(0.5, ra_4 / 60) END AS DOUBLE) AS r_4,
    CAST(CASE WHEN rf_4 THEN 6 ELSE 0 END AS DOUBLE) AS rraw_4,
    CAST(CASE WHEN rf_5 THEN -4 ELSE 0 END AS DOUBLE) AS r_5,
    CAST(CASE WHEN rf_5 THEN -4 ELSE 0 END AS DOUBLE) AS rraw_5,
    CAST(CASE WHEN NOT rf_6 THEN 0 WHEN ra_6 IS NULL THEN 5 ELSE 5 * POWER(0.5, ra_6 / 60) END AS DOUBLE) AS r_6,
    CAST(CASE WHEN rf_6 THEN 5 ELSE 0 END AS DOUBLE) AS rraw_6
  FROM ls_base
), ls_groups AS (
  SELECT
    *,
    r_0 + r_1 + r_2 + r_3 + r_4 + r_5 + r_6 AS g_0
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
  CASE WHEN score >= 60 THEN 'sql' WHEN score >= 30 THEN 'nurture' ELSE 'cold' END AS tier,
  CAST(NULL AS TEXT) AS grade,
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
  rf_6
FROM ls_total
