"""``engine.spark``: what the differential test relies on, checked where it could silently go wrong."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from leadscore.engine.spark import local_session, register_rows, run_sql, spark_type
from leadscore.errors import BackendError
from leadscore.timeutil import epoch_micros


@pytest.fixture(scope="module")
def spark() -> Any:
    return local_session("leadscore-tests", cores=1)  # the differential test's session, if it ran first


@pytest.fixture
def berlin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The Python process in a zone with summer time (PySpark's own datetime conversion uses it)."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_naive_timestamps_are_utc_whatever_the_process_zone(spark: Any, berlin: None) -> None:
    moments = [datetime(2025, 3, 30, 1, 30), datetime(2025, 3, 30, 2, 30), datetime(2025, 10, 26, 2, 30)]
    register_rows(spark, "t", {"id": "VARCHAR", "at": "TIMESTAMP"},
                  [{"id": str(i), "at": m} for i, m in enumerate(moments)])
    rows = run_sql(spark, "SELECT id, unix_micros(at) AS us, CAST(at AS STRING) AS text FROM t ORDER BY id")
    assert [r["us"] for r in rows] == [epoch_micros(m) for m in moments]  # 02:30 on 30 March exists in UTC
    assert [r["text"] for r in rows] == [m.strftime("%Y-%m-%d %H:%M:%S") for m in moments]


def test_types_follow_the_store(spark: Any) -> None:
    register_rows(spark, "t", {"n": "DOUBLE", "b": "BOOLEAN", "k": "BIGINT", "s": "VARCHAR"},
                  [{"n": 3, "b": True, "k": 2**40, "s": "o'neil"}, {}])
    rows = run_sql(spark, "SELECT n / 2 AS half, b, k + 1 AS k1, s FROM t ORDER BY s NULLS LAST")
    assert rows == [{"half": 1.5, "b": True, "k1": 2**40 + 1, "s": "o'neil"},
                    {"half": None, "b": None, "k1": None, "s": None}]
    assert spark_type("DECIMAL(18,3)") == "DECIMAL(18,3)"
    with pytest.raises(BackendError, match="INTERVAL"):
        spark_type("INTERVAL")
    # values cast as DuckDB would: true into a DOUBLE, 3.0 into a BIGINT; what cannot be, named
    register_rows(spark, "t", {"n": "DOUBLE", "k": "BIGINT"}, [{"n": True, "k": 3.0}])
    assert run_sql(spark, "SELECT n, k FROM t") == [{"n": 1.0, "k": 3}]
    with pytest.raises(BackendError, match="column `k` \\(BIGINT\\): cannot take 2.5"):
        register_rows(spark, "t", {"k": "BIGINT"}, [{"k": 2.5}])
    with pytest.raises(BackendError, match="HUGEINT"):
        register_rows(spark, "t", {"h": "HUGEINT"}, [{"h": 1}])


def test_a_refused_query_is_one_clear_error(spark: Any) -> None:
    with pytest.raises(BackendError, match="Spark refused the query"):
        run_sql(spark, "SELECT no_such_column FROM t")
