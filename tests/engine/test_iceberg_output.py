"""The Spark engine's Iceberg output without Spark: commits, roll-forward, and which files are orphans."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from leadscore.engine.backends import RunRecord
from leadscore.engine.iceberg_output import CROSSINGS, HISTORY, SCORES, IcebergOutput

AS_OF = datetime(2025, 6, 1)


def _write(out: IcebergOutput, table: str, run_id: str, contacts: list[str]) -> None:
    """One Parquet file of ``table``'s columns (no field ids: as Spark writes them) in the run's directory."""
    fields = [pa.field(f.name, pa.list_(pa.float64()) if f.name == "groups" else
                       {"int": pa.int32(), "double": pa.float64(), "string": pa.string()}.get(
                           str(f.field_type), pa.timestamp("us")))
              for f in out.table(table).schema().fields]
    values = {"model": "m", "model_version": 1, "score": 1.0, "to_score": 1.0, "tier": "t", "to_tier": "t",
              "groups": [1.0], "as_of": AS_OF, "computed_at": AS_OF, "run_id": run_id}
    rows = [{f.name: (cid if f.name == "contact_id" else values.get(f.name)) for f in fields} for cid in contacts]
    directory = Path(out.data_dir(table, run_id).removeprefix("file://"))
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema(fields)), directory / "part-0.parquet")


def _run(out: IcebergOutput, run_id: str, contacts: list[str]) -> RunRecord:
    for table in (SCORES, HISTORY, CROSSINGS):
        _write(out, table, run_id, contacts)
    return RunRecord(run_id, "m", 1, AS_OF, AS_OF, len(contacts), len(contacts), len(contacts), 0,
                     {"t": len(contacts)}, store_id="s")


def test_commit_replaces_scores_appends_history_and_records_the_run(tmp_path: Path) -> None:
    out = IcebergOutput(str(tmp_path / "out"))
    for run_id, contacts in (("r1", ["a", "b"]), ("r2", ["a"])):
        record = _run(out, run_id, contacts)
        out.commit(record, {t: out.written_files(t, run_id) for t in (SCORES, HISTORY, CROSSINGS)})
    assert out.read(SCORES).column("run_id").to_pylist() == ["r2"]  # replaced for the model
    assert sorted(out.read(HISTORY).column("run_id").to_pylist()) == ["r1", "r1", "r2"]  # appended
    assert [r.run_id for r in out.committed_runs()] == ["r1", "r2"]
    assert out.committed_runs()[0].tier_counts == {"t": 2}


def test_complete_rolls_a_run_forward_once(tmp_path: Path) -> None:
    """A run whose scores were committed but not its history: `complete` adds it, once."""
    out = IcebergOutput(str(tmp_path / "out"))
    record = _run(out, "r1", ["a", "b"])
    scores = out.table(SCORES)
    with scores.transaction() as tx:
        tx.add_files(out.written_files(SCORES, "r1"), snapshot_properties={"leadscore.run-id": "r1"})
    assert out.read(HISTORY).num_rows == 0
    out.complete(record.run_id)
    out.complete(record.run_id)
    assert out.read(HISTORY).num_rows == 2 and out.read(CROSSINGS).num_rows == 2


def test_only_unreferenced_run_directories_are_removed(tmp_path: Path) -> None:
    out = IcebergOutput(str(tmp_path / "out"))
    record = _run(out, "kept", ["a"])
    out.commit(record, {t: out.written_files(t, "kept") for t in (SCORES, HISTORY, CROSSINGS)})
    _run(out, "orphan", ["b"])  # written, never committed: a run killed before its commit
    # history files whose run no snapshot summary names any more (as after expire_snapshots)
    # stay: they are current data files
    _write(out, HISTORY, "old", ["z"])
    with out.table(HISTORY).transaction() as tx:
        tx.add_files(out.written_files(HISTORY, "old"))
    removed = out.remove_uncommitted()
    assert removed == 3  # the orphan's scores, history and crossings directories
    dirs = {p.name for p in (tmp_path / "out").rglob("run_id=*")}
    assert dirs == {"run_id=kept", "run_id=old"}
    assert out.read(HISTORY).num_rows == 2
