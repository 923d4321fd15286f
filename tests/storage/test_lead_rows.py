"""The leads list's display table always equals its recomputation from scores, history and contacts:
after whole-base runs, staged runs, real-time runs (also out of as-of order), imports, property
writes, the upgrade from a store without it, and a run killed before its commit."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.storage.test_crash_commit import kill_after

from leadscore.demo.build import build_demo
from leadscore.ingest import import_file
from leadscore.scoring import score_all, score_all_staged, score_contacts
from leadscore.storage import lead_rows, lead_rows_later
from leadscore.storage.history import write_properties
from leadscore.storage.migrations_company_history import COMPANY_HISTORY
from leadscore.storage.schema import SCHEMA_VERSION
from leadscore.storage.store import Store
from leadscore.workspace import Workspace

SIGNIFICANT = 9  # digits compared (the stored doubles are the same values, read back)


def _rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    out = []
    for row in store.con.execute(sql).fetchall():
        out.append(tuple(round(v, SIGNIFICANT) if isinstance(v, float) else v for v in row))
    return sorted(out, key=lambda r: (r[0], r[1]))


def assert_fresh(store: Store) -> list[tuple[Any, ...]]:
    """The table equals ``expected_sql`` row for row; returns its rows."""
    got = _rows(store, f"SELECT * FROM {lead_rows.TABLE}")
    assert got == _rows(store, lead_rows.expected_sql(store.con))
    return got


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, datetime]:
    root = tmp_path_factory.mktemp("lead-rows") / "ws"
    result = build_demo(root, contacts=150, events=3000, seed=11, history_weeks=3)
    return root, result.run.as_of


@pytest.fixture
def ws(template: tuple[Path, datetime], tmp_path: Path) -> Iterator[tuple[Workspace, datetime]]:
    shutil.copytree(template[0], tmp_path / "ws")
    yield Workspace.load(tmp_path / "ws"), template[1]


def _some(store: Store, n: int = 5, where: str = "TRUE") -> list[str]:
    return [str(r[0]) for r in store.con.execute(
        f"SELECT DISTINCT contact_id FROM scores WHERE {where} ORDER BY contact_id LIMIT {n}").fetchall()]


def test_whole_base_runs_leave_the_table_equal_to_its_recomputation(ws: tuple[Workspace, datetime]) -> None:
    workspace, end = ws
    with workspace.open_store() as store:
        rows = assert_fresh(store)
        assert len(rows) == store.con.execute("SELECT count(*) FROM scores").fetchone()[0] > 100
        # the demo is scored weekly: most rows have a week-ago score, some moved
        assert sum(1 for r in rows if r[5] is not None) > len(rows) / 2
        assert any(r[2] != r[5] for r in rows if r[5] is not None)
        score_all(store, as_of=end + timedelta(days=9))
        rows = assert_fresh(store)
        assert {r[4] for r in rows} == {end + timedelta(days=9)}


def test_real_time_runs_in_and_out_of_as_of_order(ws: tuple[Workspace, datetime]) -> None:
    workspace, end = ws
    with workspace.open_store() as store:
        ids = _some(store)
        with store.transaction() as con:  # a new event for one of them, as the API writes it
            con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at) VALUES (?, ?, ?, ?)",
                        ["e_new", ids[0], "demo_request", end + timedelta(days=2)])
        score_contacts(store, ids[:3], as_of=end + timedelta(days=3))
        assert_fresh(store)
        score_contacts(store, ids[2:], as_of=end - timedelta(days=12))  # an earlier as-of, after a later one
        rows = {r[1]: r for r in assert_fresh(store)}
        assert rows[ids[0]][4] == end + timedelta(days=3) and rows[ids[3]][4] == end - timedelta(days=12)
        many = _some(store, 2000)  # more than the bound keys of a small run: joined
        score_contacts(store, many, as_of=end + timedelta(days=1))
        assert_fresh(store)


def test_a_joined_partial_run_drops_the_rows_of_contacts_it_no_longer_scores(
        ws: tuple[Workspace, datetime], monkeypatch: pytest.MonkeyPatch) -> None:
    """Above ``BOUND_KEYS`` ids the rows are joined, not read by key; a requested contact the model
    no longer scores (created after the run's as-of) lost its score and must lose its row too
    (review of i12c: it kept its old score, tier and owner in the list)."""
    workspace, end = ws
    monkeypatch.setattr(lead_rows, "BOUND_KEYS", 4)
    with workspace.open_store() as store:
        ids = _some(store, 1000)
        middle = store.con.execute("SELECT median(created_at) FROM contacts").fetchone()[0]
        score_contacts(store, ids, as_of=middle)
        rows = assert_fresh(store)
        scored = store.con.execute("SELECT count(*) FROM scores WHERE model = 'b2b'").fetchone()[0]
        assert 0 < scored < len(ids)  # some contacts did not exist yet at that as-of
        assert len([r for r in rows if r[0] == "b2b"]) == scored


def test_staged_runs_and_the_contacts_they_drop(ws: tuple[Workspace, datetime]) -> None:
    workspace, end = ws
    with workspace.open_store() as store:
        def write(fn: Any) -> Any:
            with store.transaction():
                return fn(store)

        reader = store.cursor()  # the query reads on its own cursor, as the server's runs do
        score_all_staged(reader, write, as_of=end + timedelta(days=4))
        assert_fresh(store)
        # as of a moment before some contacts existed: a staged run drops their scores, and their rows
        created = store.con.execute("SELECT quantile_disc(created_at, 0.5) FROM contacts").fetchall()[0][0]
        score_all_staged(reader, write, as_of=created)
        rows = assert_fresh(store)
        assert len(rows) < store.con.execute("SELECT count(*) FROM contacts").fetchall()[0][0]
        reader.close()


def test_owner_changes_by_import_and_by_a_property_write(ws: tuple[Workspace, datetime], tmp_path: Path) -> None:
    workspace, end = ws
    with workspace.open_store() as store:
        first, second, third = _some(store, 3)
        csv = tmp_path / "owners.csv"
        csv.write_text(f"contact_id,owner,company,lead_number\n{first},Zed Zhou,Zeta Works,77001\n"
                       f"{second},Zed Zhou,,77002\n")
        import_file(store, "contacts", csv)  # no score run follows an import
        rows = {r[1]: r for r in assert_fresh(store)}
        assert rows[first][6] == "Zed Zhou" and "zeta works" in rows[first][7]
        assert "\x1f77002\x1f" in rows[second][8]  # a new id column, matched exactly by the list
        with store.transaction() as con:  # the API's PUT / the dashboard, without rescoring
            write_properties(con, third, {"owner": "Zed Zhou", "last_name": "Quixote"}, source="api",
                             now=end + timedelta(days=1))
        rows = {r[1]: r for r in assert_fresh(store)}
        assert rows[third][6] == "Zed Zhou" and "quixote" in rows[third][7]


def test_a_store_without_the_table_is_upgraded_with_it_filled(ws: tuple[Workspace, datetime]) -> None:
    workspace, _ = ws
    with workspace.open_store() as store:
        before = assert_fresh(store)
        with store.transaction() as con:
            # a store of version 10: without the display table (11) and what later migrations add
            con.execute(f"DROP TABLE {lead_rows.TABLE}")
            con.execute(f"DROP TABLE {COMPANY_HISTORY}")  # 12
            con.execute(f"DROP TABLE {lead_rows_later.MARKED}")  # 14
            con.execute("UPDATE meta SET value = '10' WHERE key = 'schema_version'")
    with workspace.open_store() as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert assert_fresh(store) == before


def test_a_run_killed_before_its_commit_leaves_table_and_scores_as_they_were(
        ws: tuple[Workspace, datetime], tmp_path: Path) -> None:
    workspace, end = ws
    with workspace.open_store() as store:
        before = assert_fresh(store)
    args = [sys.executable, "-m", "leadscore", "score", "-w", str(workspace.root),
            "--as-of", (end + timedelta(days=20)).isoformat()]
    assert kill_after(args, "score.before_commit", 0.0, tmp_path / "marker", pause=True)
    with workspace.open_store() as store:
        assert assert_fresh(store) == before
    subprocess.run(args, check=True, capture_output=True)
    with workspace.open_store() as store:
        after = assert_fresh(store)
        assert {r[4] for r in after} == {end + timedelta(days=20)}


def test_a_partial_run_adds_a_delete_a_read_and_an_insert(ws: tuple[Workspace, datetime],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The real-time cost: a delete and an insert by key, the contact's history read by key alone
    (so the server's index answers it), and the contact columns' names."""
    workspace, end = ws
    with workspace.open_store() as store:
        [cid] = _some(store, 1)
        seen: list[str] = []
        real = lead_rows.write_rows

        class Spy:
            def __init__(self, con: Any) -> None:
                self.con = con

            def execute(self, sql: str, *params: Any) -> Any:
                seen.append(sql)
                return self.con.execute(sql, *params)

        monkeypatch.setattr(lead_rows, "write_rows", lambda con, *args: real(Spy(con), *args))
        score_contacts(store, [cid], as_of=end + timedelta(days=1))
        writes = [s for s in seen if s.lstrip().startswith(("DELETE", "INSERT", "UPDATE"))]
        assert len(writes) == 2 and len(seen) <= 4, seen
        history = [s for s in seen if "score_history" in s]
        assert len(history) == 1 and "as_of" not in history[0].split("WHERE")[1], history  # by key alone
        assert_fresh(store)
