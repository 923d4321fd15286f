"""Stores written by released leadscore (tests/storage/fixtures, made by that release's own code, not
rebuilt from today's migrations) open, migrate and score with today's code, and a SIGKILL at any
step of a migration, or during its COMMIT, leaves a store that migrates whole on the next open."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.storage.test_crash_commit import kill_after

from leadscore.storage.schema import MIGRATIONS, SCHEMA_VERSION
from leadscore.storage.store import Store
from leadscore.workspace import init_workspace

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("release-*.duckdb.gz"))
#: what tests/storage/fixtures/make_release_store.py put in every release store
ROWS = {"contacts": 4, "events": 5, "deals": 2, "model_versions": 1, "scores": 4, "score_history": 6,
        "tier_crossings": 5, "outbox": 1, "tasks": 1, "property_changes": 1, "api_keys": 1}


def _release_workspace(fixture: Path, root: Path) -> Path:
    ws = init_workspace(root)
    for starter in ws.models_dir.glob("*.yml"):
        starter.unlink()
    (ws.root / "leadscore.duckdb").unlink()
    with gzip.open(fixture, "rb") as src, open(ws.root / "leadscore.duckdb", "wb") as dst:
        shutil.copyfileobj(src, dst)
    return ws.root


def _version(db: Path) -> int:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def _check_migrated(root: Path) -> None:
    """Everything the release wrote is there, on today's schema, and scoring works."""
    with Store.open(root / "leadscore.duckdb") as store:
        assert store.schema_version() == SCHEMA_VERSION
        counts = {t: int(store.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
                  for t in ROWS}
        assert counts == ROWS
        bands = store.con.execute("SELECT contact_id, employees_band FROM contacts ORDER BY 1").fetchall()
        assert bands == [("c1", "large"), ("c2", "small"), ("c3", "large"), ("c4", "medium")]
        assert store.check_keys() == {"contacts": 0, "deals": 0, "companies": 0}
    out = subprocess.run([sys.executable, "-m", "leadscore", "score", "--as-of", "2025-03-06", "-w", str(root)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    with Store.open(root / "leadscore.duckdb", read_only=True) as store:
        tiers = dict(store.con.execute("SELECT contact_id, tier FROM scores").fetchall())
    assert tiers["c3"] == "sql" and tiers["c2"] == "cold"


def test_the_fixtures_are_release_stores() -> None:
    versions = {f.name: _version_fixture(f) for f in FIXTURES}
    assert versions["release-d5563b2.duckdb.gz"] == 5 and versions["release-a984ea9.duckdb.gz"] == 4, versions
    assert any(v < SCHEMA_VERSION for v in versions.values())  # some migration always has a crash test


def _version_fixture(fixture: Path) -> int:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "s.duckdb"
        with gzip.open(fixture, "rb") as src, open(db, "wb") as dst:
            shutil.copyfileobj(src, dst)
        return _version(db)


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name.split(".")[0] for f in FIXTURES])
def test_a_release_store_opens_migrates_and_scores(fixture: Path, tmp_path: Path) -> None:
    _check_migrated(_release_workspace(fixture, tmp_path / "ws"))


def _pending_points(fixture: Path) -> list[str]:
    start = _version_fixture(fixture)
    return [f"store.migrate.{n}.{i}" for n in range(start + 1, SCHEMA_VERSION + 1)
            for i in range(len(MIGRATIONS[n - 1]))]


CASES = [(f, p) for f in FIXTURES for p in [*_pending_points(f), "store.commit"] if _pending_points(f)]


@pytest.mark.parametrize(("fixture", "point"), CASES, ids=[f"{f.name.split('.')[0]}-{p}" for f, p in CASES])
def test_a_kill_during_a_migration_leaves_a_store_that_migrates_whole(fixture: Path, point: str,
                                                                      tmp_path: Path) -> None:
    root = _release_workspace(fixture, tmp_path / "ws")
    before = _version(root / "leadscore.duckdb")
    killed = kill_after([sys.executable, "-m", "leadscore", "score", "--as-of", "2025-03-06", "-w", str(root)],
                        point, 0.001 if point == "store.commit" else 0.0, tmp_path / "marker",
                        pause=point != "store.commit")
    assert killed
    assert _version(root / "leadscore.duckdb") in (before, SCHEMA_VERSION)  # never a version in between
    _check_migrated(root)
