WITH ls_events AS (
  SELECT
    e.`contact_id` AS cid,
    e.`type` AS typ,
    CAST(1735689600000000 - UNIX_MICROS(e.`occurred_at`) AS DOUBLE) / 86400000000.0 AS age
  FROM `events` AS e
  WHERE
    e.`occurred_at` <= CAST('2025-01-01 00:00:00' AS TIMESTAMP)
    AND e.`type` IN (
      'demo_request',
      'email_click',
      'email_open',
      'product_login',
      'unsubscribe',
      'webinar_attended'
    )
), ls_agg AS (
  SELECT
    cid,
    COUNT(*) FILTER(WHERE
      typ = 'demo_request') AS n_0,
    MIN(age) FILTER(WHERE
      typ = 'demo_request') AS m_0,
    COUNT(*) FILTER(WHERE
      typ = 'webinar_attended') AS n_1,
    MIN(age) FILTER(WHERE
      typ = 'webinar_attended') AS m_1,
    COUNT(*) FILTER(WHERE
      typ = 'unsubscribe') AS n_2,
    COUNT(*) FILTER(WHERE
      typ = 'email_open') AS n_3,
    SUM(POWER(0.5, age / 30)) FILTER(WHERE
      typ = 'email_open') AS s_0,
    COUNT(*) FILTER(WHERE
      typ = 'email_click') AS n_4,
    SUM(GREATEST(0, 1 - (
      0.25 * age / 30
    ))) FILTER(WHERE
      typ = 'email_click') AS s_1,
    COUNT(*) FILTER(WHERE
      typ = 'product_login') AS n_5,
    MIN(age) FILTER(WHERE
      typ = 'product_login') AS m_2
  FROM ls_events
  GROUP BY
    cid
), ls_contacts AS (
  SELECT
    c.`contact_id`,
    c.`job_title`,
    c.`company_size`
  FROM `contacts` AS c
  WHERE
    c.`created_at` IS NULL
    OR c.`created_at` <= CAST('2025-01-01 00:00:00' AS TIMESTAMP)
), ls_base AS (
  SELECT
    c.`contact_id` AS cid,
    COALESCE(c.`job_title` IN ('CEO', 'CFO'), FALSE) AS rf_0,
    CAST(NULL AS BIGINT) AS rn_0,
    COALESCE(c.`company_size` >= 500, FALSE) AS rf_1,
    CAST(NULL AS BIGINT) AS rn_1,
    COALESCE(a.n_0, 0) >= 1 AS rf_2,
    COALESCE(a.n_0, 0) AS rn_2,
    a.m_0 AS ra_2,
    COALESCE(a.n_1, 0) >= 1 AS rf_3,
    COALESCE(a.n_1, 0) AS rn_3,
    a.m_1 AS ra_3,
    COALESCE(a.n_2, 0) >= 1 AS rf_4,
    COALESCE(a.n_2, 0) AS rn_4,
    COALESCE(a.n_3, 0) >= 1 AS rf_5,
    COALESCE(a.n_3, 0) AS rn_5,
    a.s_0 AS rs_5,
    COALESCE(a.n_4, 0) >= 1 AS rf_6,
    COALESCE(a.n_4, 0) AS rn_6,
    a.s_1 AS rs_6,
    COALESCE(a.n_5, 0) >= 1 AS rf_7,
    COALESCE(a.n_5, 0) AS rn_7,
    a.m_2 IS NULL OR a.m_2 > 45 AS rf_8,
    CAST(NULL AS BIGINT) AS rn_8
  FROM ls_contacts AS c
  LEFT JOIN ls_agg AS a
    ON a.cid = c.`contact_id`
), ls_rules AS (
  SELECT
    *,
    CAST(CASE WHEN rf_0 THEN 25 ELSE 0 END AS DOUBLE) AS r_0,
    CAST(CASE WHEN rf_0 THEN 25 ELSE 0 END AS DOUBLE) AS rraw_0,
    CAST(CASE WHEN rf_1 THEN 10 ELSE 0 END AS DOUBLE) AS r_1,
    CAST(CASE WHEN rf_1 THEN 10 ELSE 0 END AS DOUBLE) AS rraw_1,
    CAST(CASE
      WHEN NOT rf_2
      THEN 0
      WHEN ra_2 IS NULL
      THEN 20
      ELSE 20 * POWER(0.5, ra_2 / 30)
    END AS DOUBLE) AS r_2,
    CAST(CASE WHEN rf_2 THEN 20 ELSE 0 END AS DOUBLE) AS rraw_2,
    CAST(CASE
      WHEN NOT rf_3
      THEN 0
      WHEN ra_3 IS NULL
      THEN 10
      ELSE 10 * GREATEST(0, 1 - (
        0.1 * ra_3 / 30
      ))
    END AS DOUBLE) AS r_3,
    CAST(CASE WHEN rf_3 THEN 10 ELSE 0 END AS DOUBLE) AS rraw_3,
    CAST(CASE WHEN rf_4 THEN -15 ELSE 0 END AS DOUBLE) AS r_4,
    CAST(CASE WHEN rf_4 THEN -15 ELSE 0 END AS DOUBLE) AS rraw_4,
    CAST(LEAST(GREATEST(1.5 * COALESCE(rs_5, 0), -6), 6) AS DOUBLE) AS r_5,
    CAST(LEAST(GREATEST(1.5 * rn_5, -6), 6) AS DOUBLE) AS rraw_5,
    CAST(2 * COALESCE(rs_6, 0) AS DOUBLE) AS r_6,
    CAST(2 * rn_6 AS DOUBLE) AS rraw_6,
    CAST(LEAST(GREATEST(0.5 * rn_7, -5), 5) AS DOUBLE) AS r_7,
    CAST(LEAST(GREATEST(0.5 * rn_7, -5), 5) AS DOUBLE) AS rraw_7,
    CAST(CASE WHEN rf_8 THEN -10 ELSE 0 END AS DOUBLE) AS r_8,
    CAST(CASE WHEN rf_8 THEN -10 ELSE 0 END AS DOUBLE) AS rraw_8
  FROM ls_base
), ls_groups AS (
  SELECT
    *,
    LEAST(GREATEST(r_0 + r_1, 0), 30) AS g_0,
    LEAST(GREATEST(r_2 + r_3 + r_4 + r_5 + r_6 + r_7 + r_8, -20), 60) AS g_1
  FROM ls_rules
), ls_total AS (
  SELECT
    *,
    LEAST(GREATEST(g_0 + g_1, -10), 80) AS score
  FROM ls_groups
)
SELECT
  cid AS contact_id,
  score,
  CASE
    WHEN score >= 50
    THEN 'A'
    WHEN score >= 25
    THEN 'B'
    WHEN score >= 0
    THEN 'C'
    ELSE 'D'
  END AS tier,
  CONCAT(
    CASE WHEN g_0 >= 20 THEN 'A' WHEN g_0 >= 10 THEN 'B' ELSE 'C' END,
    CASE WHEN g_1 >= 30 THEN '1' WHEN g_1 >= 15 THEN '2' ELSE '3' END
  ) AS grade,
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
