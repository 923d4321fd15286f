"""The engine legs of the conformance suite, each shared by the whole test session.

Spark allows one session per JVM and a Postgres server takes a second to start, so each leg is
built once (on first use) and every test of ``suite.py`` for that engine reuses it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.conformance.legs import DuckDBLeg, PostgresLeg, SparkLeg


@pytest.fixture(scope="session")
def duckdb_leg() -> Iterator[DuckDBLeg]:
    leg = DuckDBLeg()
    yield leg
    leg.close()


@pytest.fixture(scope="session")
def spark_leg() -> Iterator[SparkLeg]:
    leg = SparkLeg()
    yield leg
    leg.close()


@pytest.fixture(scope="session")
def postgres_leg(postgres_dsn: str) -> Iterator[PostgresLeg]:
    import psycopg

    with psycopg.connect(postgres_dsn, autocommit=True) as con:
        con.execute("DROP DATABASE IF EXISTS conformance")
        con.execute("CREATE DATABASE conformance")
    leg = PostgresLeg(postgres_dsn.replace("dbname=postgres", "dbname=conformance"))
    yield leg
    leg.close()
