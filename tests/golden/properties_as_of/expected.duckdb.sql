WITH ls_events AS (
  SELECT
    e."contact_id" AS cid,
    e."type" AS typ,
    CAST(1735689600000000 - EPOCH_US(e."occurred_at") AS DOUBLE) / 86400000000.0 AS age
  FROM "events" AS e
  WHERE
    e."occurred_at" <= CAST('2025-01-01 00:00:00' AS TIMESTAMP)
    AND e."type" = 'demo_request'
), ls_agg AS (
  SELECT
    cid,
    COUNT(*) FILTER(WHERE
      typ = 'demo_request') AS n_0
  FROM ls_events
  GROUP BY
    cid
), ls_past AS (
  SELECT
    h."contact_id" AS "contact_id",
    MIN(h."changed_at") FILTER(WHERE
      h."property" = 'lifecycle_stage') AS t_0,
    ARG_MIN_NULL(h."old_value", h."changed_at") FILTER(WHERE
      h."property" = 'lifecycle_stage') AS v_0,
    MIN(h."changed_at") FILTER(WHERE
      h."property" = 'company_size') AS t_1,
    ARG_MIN_NULL(h."old_value", h."changed_at") FILTER(WHERE
      h."property" = 'company_size') AS v_1,
    MIN(h."changed_at") FILTER(WHERE
      h."property" = 'email') AS t_2,
    ARG_MIN_NULL(h."old_value", h."changed_at") FILTER(WHERE
      h."property" = 'email') AS v_2,
    MIN(h."changed_at") FILTER(WHERE
      h."property" = 'updated_at') AS t_3,
    ARG_MIN_NULL(h."old_value", h."changed_at") FILTER(WHERE
      h."property" = 'updated_at') AS v_3,
    MIN(h."changed_at") FILTER(WHERE
      h."property" = 'job_title') AS t_4,
    ARG_MIN_NULL(h."old_value", h."changed_at") FILTER(WHERE
      h."property" = 'job_title') AS v_4
  FROM "property_history" AS h
  WHERE
    h."changed_at" > CAST('2025-01-01 00:00:00' AS TIMESTAMP)
    AND h."property" IN ('lifecycle_stage', 'company_size', 'email', 'updated_at', 'job_title')
  GROUP BY
    h."contact_id"
), ls_people AS (
  SELECT
    c."contact_id",
    c."created_at",
    CASE WHEN p.t_0 IS NULL THEN c."lifecycle_stage" ELSE p.v_0 END AS "lifecycle_stage",
    CASE WHEN p.t_1 IS NULL THEN c."company_size" ELSE CAST(p.v_1 AS DOUBLE) END AS "company_size",
    CASE WHEN p.t_2 IS NULL THEN c."email" ELSE p.v_2 END AS "email",
    CASE WHEN p.t_3 IS NULL THEN c."updated_at" ELSE CAST(p.v_3 AS TIMESTAMP) END AS "updated_at",
    CASE WHEN p.t_4 IS NULL THEN c."job_title" ELSE p.v_4 END AS "job_title"
  FROM "contacts" AS c
  LEFT JOIN ls_past AS p
    ON p."contact_id" = c."contact_id"
), ls_contacts AS (
  SELECT
    *,
    c."ls domain" IN (
      '126.com',
      '163.com',
      'aol.com',
      'att.net',
      'bigpond.com',
      'bluewin.ch',
      'btinternet.com',
      'comcast.net',
      'cox.net',
      'earthlink.net',
      'email.com',
      'fastmail.com',
      'fastmail.fm',
      'free.fr',
      'freenet.de',
      'gmail.com',
      'gmx.at',
      'gmx.com',
      'gmx.de',
      'gmx.net',
      'googlemail.com',
      'hey.com',
      'hotmail.co.uk',
      'hotmail.com',
      'hotmail.de',
      'hotmail.es',
      'hotmail.fr',
      'hotmail.it',
      'hushmail.com',
      'icloud.com',
      'inbox.com',
      'laposte.net',
      'libero.it',
      'live.co.uk',
      'live.com',
      'live.fr',
      'mac.com',
      'mail.com',
      'mail.ru',
      'me.com',
      'msn.com',
      'naver.com',
      'orange.fr',
      'outlook.com',
      'outlook.de',
      'outlook.fr',
      'pm.me',
      'proton.me',
      'protonmail.com',
      'qq.com',
      'rambler.ru',
      'rediffmail.com',
      'rocketmail.com',
      'sbcglobal.net',
      'sfr.fr',
      'shaw.ca',
      't-online.de',
      'tiscali.it',
      'tutanota.com',
      'verizon.net',
      'virgilio.it',
      'wanadoo.fr',
      'web.de',
      'yahoo.ca',
      'yahoo.co.in',
      'yahoo.co.jp',
      'yahoo.co.uk',
      'yahoo.com',
      'yahoo.com.br',
      'yahoo.de',
      'yahoo.es',
      'yahoo.fr',
      'yahoo.in',
      'yahoo.it',
      'yandex.com',
      'yandex.ru',
      'ymail.com',
      'zoho.com'
    ) AS "is_free_email"
  FROM (
    SELECT
      c."contact_id",
      c."lifecycle_stage",
      c."company_size",
      CASE
        WHEN STRPOS(c."email", '@') > 0
        THEN NULLIF(LOWER(SPLIT_PART(c."email", '@', -1)), '')
      END AS "ls domain",
      CASE
        WHEN STRPOS(c."email", '@') > 0
        THEN NULLIF(LOWER(SPLIT_PART(c."email", '@', -1)), '')
      END AS "email_domain",
      c."updated_at",
      c."created_at",
      c."job_title"
    FROM "ls_people" AS c
    WHERE
      c."created_at" IS NULL
      OR c."created_at" <= CAST('2025-01-01 00:00:00' AS TIMESTAMP)
  ) AS c
), ls_base AS (
  SELECT
    c."contact_id" AS cid,
    COALESCE(c."lifecycle_stage" = 'customer', FALSE) AS rf_0,
    CAST(NULL AS BIGINT) AS rn_0,
    COALESCE(NOT c."lifecycle_stage" IN ('lead', 'subscriber'), FALSE) AS rf_1,
    CAST(NULL AS BIGINT) AS rn_1,
    COALESCE(c."company_size" BETWEEN 50 AND 1000, FALSE) AS rf_2,
    CAST(NULL AS BIGINT) AS rn_2,
    COALESCE(c."is_free_email" = TRUE, FALSE) AS rf_3,
    CAST(NULL AS BIGINT) AS rn_3,
    COALESCE(c."email_domain" = 'acme.io', FALSE) AS rf_4,
    CAST(NULL AS BIGINT) AS rn_4,
    COALESCE(
      CAST(1735689600000000 - EPOCH_US(c."updated_at") AS DOUBLE) / 86400000000.0 BETWEEN 0 AND 30,
      FALSE
    ) AS rf_5,
    CAST(NULL AS BIGINT) AS rn_5,
    COALESCE(
      CAST(1735689600000000 - EPOCH_US(c."created_at") AS DOUBLE) / 86400000000.0 BETWEEN 0 AND 90,
      FALSE
    ) AS rf_6,
    CAST(NULL AS BIGINT) AS rn_6,
    COALESCE(a.n_0, 0) >= 1 AND COALESCE(NOT c."job_title" IS NULL, FALSE) AS rf_7,
    COALESCE(a.n_0, 0) AS rn_7
  FROM ls_contacts AS c
  LEFT JOIN ls_agg AS a
    ON a.cid = c."contact_id"
), ls_rules AS (
  SELECT
    *,
    CAST(CASE WHEN rf_0 THEN 20 ELSE 0 END AS DOUBLE) AS r_0,
    CAST(CASE WHEN rf_0 THEN 20 ELSE 0 END AS DOUBLE) AS rraw_0,
    CAST(CASE WHEN rf_1 THEN 1 ELSE 0 END AS DOUBLE) AS r_1,
    CAST(CASE WHEN rf_1 THEN 1 ELSE 0 END AS DOUBLE) AS rraw_1,
    CAST(CASE WHEN rf_2 THEN 5 ELSE 0 END AS DOUBLE) AS r_2,
    CAST(CASE WHEN rf_2 THEN 5 ELSE 0 END AS DOUBLE) AS rraw_2,
    CAST(CASE WHEN rf_3 THEN -5 ELSE 0 END AS DOUBLE) AS r_3,
    CAST(CASE WHEN rf_3 THEN -5 ELSE 0 END AS DOUBLE) AS rraw_3,
    CAST(CASE WHEN rf_4 THEN 3 ELSE 0 END AS DOUBLE) AS r_4,
    CAST(CASE WHEN rf_4 THEN 3 ELSE 0 END AS DOUBLE) AS rraw_4,
    CAST(CASE WHEN rf_5 THEN 2 ELSE 0 END AS DOUBLE) AS r_5,
    CAST(CASE WHEN rf_5 THEN 2 ELSE 0 END AS DOUBLE) AS rraw_5,
    CAST(CASE WHEN rf_6 THEN 1 ELSE 0 END AS DOUBLE) AS r_6,
    CAST(CASE WHEN rf_6 THEN 1 ELSE 0 END AS DOUBLE) AS rraw_6,
    CAST(CASE WHEN rf_7 THEN 10 ELSE 0 END AS DOUBLE) AS r_7,
    CAST(CASE WHEN rf_7 THEN 10 ELSE 0 END AS DOUBLE) AS rraw_7
  FROM ls_base
), ls_groups AS (
  SELECT
    *,
    r_0 + r_1 + r_2 + r_3 + r_4 + r_5 + r_6 AS g_0,
    r_7 AS g_1
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
  CASE WHEN score >= 25 THEN 'hot' WHEN score >= 10 THEN 'warm' ELSE 'cold' END AS tier,
  CAST(NULL AS TEXT) AS grade,
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
  rf_7
FROM ls_total
