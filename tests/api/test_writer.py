"""The single writer: group commit, a failing job rolls back alone, deferred rescoring once per group."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from leadscore.api.writer import WriteContext, Writer
from leadscore.storage.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "w.duckdb")
    s.con.execute("CREATE TABLE t (k VARCHAR)")
    return s


def _insert(k: str, fail: bool = False):  # type: ignore[no-untyped-def]
    def job(ctx: WriteContext) -> str:
        ctx.store.con.execute("INSERT INTO t VALUES (?)", [k])
        ctx.rescore_later([k])
        if fail:
            raise ValueError(f"job {k} fails after writing")
        return k
    return job


def test_a_failing_job_in_a_group_rolls_back_alone(store: Store) -> None:
    flushed: list[list[str]] = []
    gate = threading.Event()
    writer = Writer(store, flush=lambda s, ids: flushed.append(ids)).start()
    # hold the writer busy so the next jobs queue up and run as one group
    blocker = writer.submit(lambda ctx: gate.wait(10))
    futures = [writer.submit(_insert(k, fail=(k == "b"))) for k in "abc"]
    gate.set()
    assert blocker.result(10)
    assert futures[0].result(10) == "a" and futures[2].result(10) == "c"
    with pytest.raises(ValueError, match="job b fails"):
        futures[1].result(10)
    writer.stop()
    assert sorted(r[0] for r in store.con.execute("SELECT k FROM t").fetchall()) == ["a", "c"]
    # the group failed before its rescoring; rerun job by job, b fails before its own
    assert flushed == [["a"], ["c"]]


def test_a_group_rescoring_once_and_finishers_see_it(store: Store) -> None:
    seen: list[list[str]] = []

    def flush(s: Store, ids: list[str]) -> None:
        seen.append(ids)
        s.con.execute("INSERT INTO t SELECT 'scored:' || unnest(?)", [ids])

    gate = threading.Event()
    writer = Writer(store, flush=flush).start()
    writer.submit(lambda ctx: gate.wait(10))
    count = "SELECT count(*) FROM t WHERE k LIKE 'scored:%'"
    futures = [writer.submit(_insert(k), finish=lambda ctx, v: ctx.store.con.execute(count).fetchone()[0])
               for k in "xyz"]
    gate.set()
    assert [f.result(10) for f in futures] == [3, 3, 3]
    writer.stop()
    assert seen == [["x", "y", "z"]]


def test_stop_finishes_queued_jobs_then_refuses(store: Store) -> None:
    writer = Writer(store).start()
    futures = [writer.submit(_insert(str(i))) for i in range(20)]
    writer.stop()
    assert all(f.done() for f in futures)
    with pytest.raises(RuntimeError):
        writer.submit(_insert("late"))
    assert store.con.execute("SELECT count(*) FROM t").fetchone() == (20,)


def test_a_write_conflict_is_retried(store: Store, tmp_path: Path) -> None:
    """Two connections updating one row: the second to commit gets DuckDB's conflict error, and the
    writer runs its job again on a fresh transaction."""
    store.con.execute("INSERT INTO t VALUES ('row')")
    other = store.cursor()
    attempts: list[int] = []

    def job(ctx: WriteContext) -> int:
        attempts.append(1)
        ctx.store.con.execute("SELECT count(*) FROM t").fetchone()  # the writer's snapshot starts
        if len(attempts) == 1:  # meanwhile another connection commits a change to the same row
            other.con.execute("UPDATE t SET k = 'other' WHERE k = 'row'")
        ctx.store.con.execute("UPDATE t SET k = 'writer' WHERE k IN ('row', 'other')")
        return len(attempts)

    writer = Writer(store).start()
    assert writer.submit(job).result(10) == 2
    writer.stop()
    assert store.con.execute("SELECT k FROM t").fetchall() == [("writer",)]


def test_light_jobs_go_before_waiting_batches_and_batches_group_within_the_budget(store: Store) -> None:
    """The two lanes: single events never wait in a group behind batches (api/writer.py)."""
    from leadscore.api.writer import HEAVY_BUDGET, Weighted

    groups: list[list[str]] = []
    gate = threading.Event()
    writer = Writer(store, flush=lambda s, ids: groups.append(sorted(ids))).start()
    blocker = writer.submit(Weighted(lambda ctx: gate.wait(10), HEAVY_BUDGET))  # a batch being written
    heavy = [writer.submit(Weighted(_insert(f"h{i}"), HEAVY_BUDGET // 2 + 1)) for i in range(3)]
    light = [writer.submit(_insert(f"l{i}")) for i in range(3)]
    gate.set()
    assert blocker.result(10)
    assert [f.result(10) for f in light + heavy] == ["l0", "l1", "l2", "h0", "h1", "h2"]
    writer.stop()
    # the three single events in one group first; then each half-budget batch alone (two exceed it);
    # light and heavy alternate, so nothing starves
    assert groups == [["l0", "l1", "l2"], ["h0"], ["h1"], ["h2"]]


def test_a_small_slice_of_a_large_request_stays_in_the_heavy_lane(store: Store) -> None:
    from leadscore.api.writer import Weighted

    order: list[str] = []
    gate = threading.Event()
    writer = Writer(store).start()
    blocker = writer.submit(Weighted(lambda ctx: gate.wait(10), 5000))
    first = writer.submit(Weighted(lambda ctx: order.append("slice 1"), 1000, heavy=True))
    last = writer.submit(Weighted(lambda ctx: order.append("slice 2 (5 events)"), 5, heavy=True))
    gate.set()
    blocker.result(10), first.result(10), last.result(10)
    writer.stop()
    assert order == ["slice 1", "slice 2 (5 events)"]


def test_heavy_groups_are_sized_by_time_while_single_events_are_about(store: Store) -> None:
    """At 1M contacts an event of a batch costs ~9x what it costs on the demo store: while single
    events are about, a heavy group holds about HEAVY_SECONDS of work (so a single event waits that
    long at most); with none about, slices are grouped again up to the budget (one rescoring and
    one commit for all)."""
    import time

    from leadscore.api.writer import HEAVY_BUDGET, MIN_HEAVY, Weighted

    rescored: list[int] = []
    writer = Writer(store, flush=lambda s, ids: rescored.append(len(ids))).start()
    assert writer.slice_size() == HEAVY_BUDGET  # nothing measured yet

    def batch(tag: str, events: int, seconds: float = 0.0):  # type: ignore[no-untyped-def]
        def job(ctx: WriteContext) -> None:
            time.sleep(seconds)
            ctx.rescore_later([f"{tag}{i}" for i in range(events)])
        return Weighted(job, events)

    writer.submit(batch("slow", 100, 0.3)).result(10)  # 3 ms an event: HEAVY_SECONDS holds ~17
    assert writer.slice_size() == MIN_HEAVY

    def behind_a_gate(tags: list[str]) -> None:
        gate = threading.Event()
        blocker = writer.submit(Weighted(lambda ctx: gate.wait(10), 1, heavy=True))
        futures = [writer.submit(batch(t, MIN_HEAVY) if t.startswith("h") else _insert(t)) for t in tags]
        gate.set()
        blocker.result(10)
        for f in futures:
            f.result(10)

    rescored.clear()
    behind_a_gate(["h1-", "h2-", "h3-"])  # no single event about: one group
    assert rescored == [3 * MIN_HEAVY]
    rescored.clear()
    behind_a_gate(["l1", "h4-", "h5-", "h6-"])  # a single event about: groups of about HEAVY_SECONDS
    assert rescored == [1, MIN_HEAVY, MIN_HEAVY, MIN_HEAVY]
    writer.stop()



def _keyed(k: str, keys: set[str], weight: int = 1, *, hold: threading.Event | None = None,
           started: threading.Event | None = None):  # type: ignore[no-untyped-def]
    from leadscore.api.writer import Weighted

    def job(ctx: WriteContext) -> str:
        ctx.store.con.execute("INSERT INTO t VALUES (?)", [k])
        if started is not None:
            started.set()
        if hold is not None:
            assert hold.wait(10)
        return k
    return Weighted(job, weight, keys=keys)


def test_a_single_event_commits_while_a_batch_transaction_is_open(store: Store) -> None:
    """The side lane (api/writer.py): a light job naming its keys runs on its own connection and
    commits while a heavy job's transaction is still open on the main one. Before, it waited for
    the whole batch (a 1,000-event batch: ~0.5 s on the demo store)."""
    ended: list[bool] = []
    writer = Writer(store, side=store.cursor(), on_end=ended.append).start()
    hold, running = threading.Event(), threading.Event()
    batch = writer.submit(_keyed("batch", {"c:a", "c:b"}, 500, hold=hold, started=running))
    assert running.wait(10)
    single = writer.submit(_keyed("single", {"c:z"}))
    assert single.result(10) == "single" and not batch.done()  # committed beside the open batch
    reader = store.cursor()
    assert reader.con.execute("SELECT k FROM t").fetchall() == [("single",)]  # the batch is not committed
    hold.set()
    assert batch.result(10) == "batch"
    writer.stop()
    assert writer.side_groups == 1 and ended == [True, True]
    assert sorted(reader.con.execute("SELECT k FROM t").fetchall()) == [("batch",), ("single",)]


def test_a_single_event_of_a_contact_the_batch_holds_waits_for_it(store: Store) -> None:
    writer = Writer(store, side=store.cursor()).start()
    hold, running = threading.Event(), threading.Event()
    order: list[str] = []
    batch = writer.submit(_keyed("batch", {"c:a", "c:b"}, 500, hold=hold, started=running))
    batch.add_done_callback(lambda f: order.append("batch"))
    assert running.wait(10)
    single = writer.submit(_keyed("single", {"c:b"}))
    single.add_done_callback(lambda f: order.append("single"))
    assert not single.done()
    hold.set()
    assert single.result(10) == "single"
    writer.stop()
    assert order == ["batch", "single"]


def test_a_job_without_keys_runs_alone(store: Store) -> None:
    """A staged part, a publish, a PUT: nothing runs beside them, and they wait for the side lane."""
    writer = Writer(store, side=store.cursor()).start()
    hold, running = threading.Event(), threading.Event()

    def alone(ctx: WriteContext) -> str:
        running.set()
        assert hold.wait(10)
        return "alone"

    part = writer.submit(alone, groupable=False)
    assert running.wait(10)
    single = writer.submit(_keyed("single", {"c:z"}))
    assert not single.done()
    hold.set()
    assert part.result(10) == "alone" and single.result(10) == "single"
    writer.stop()


def test_a_side_conflict_runs_again_after_the_batch(store: Store) -> None:
    """Rows no key covers (a company both contacts belong to): the second writer of a row gets
    DuckDB's conflict; the side lane hands the job to the main lane, which runs it after the batch."""
    store.con.execute("INSERT INTO t VALUES ('company')")
    writer = Writer(store, side=store.cursor()).start()
    hold, running = threading.Event(), threading.Event()
    from leadscore.api.writer import Weighted

    def batch(ctx: WriteContext) -> str:
        ctx.store.con.execute("DELETE FROM t WHERE k = 'company'")  # a run replaces a company's row
        ctx.store.con.execute("INSERT INTO t VALUES ('company')")
        running.set()
        assert hold.wait(10)
        return "batch"

    tries: list[int] = []

    def single(ctx: WriteContext) -> str:
        tries.append(1)
        ctx.store.con.execute("DELETE FROM t WHERE k = 'company'")
        ctx.store.con.execute("INSERT INTO t VALUES ('company')")
        return "single"

    b = writer.submit(Weighted(batch, 500, keys={"c:a"}))
    assert running.wait(10)
    s = writer.submit(Weighted(single, 1, keys={"c:z"}))
    threading.Timer(0.3, hold.set).start()
    assert s.result(10) == "single" and b.result(10) == "batch"
    writer.stop()
    assert len(tries) == 2  # once beside the batch (conflict), once after it
    assert store.con.execute("SELECT count(*) FROM t").fetchone() == (1,)


def test_single_events_cannot_hold_a_job_that_runs_alone_back(store: Store) -> None:
    """While the main lane waits to run a job alone (a staged part), the side lane starts nothing:
    a stream of single events would otherwise keep it waiting."""
    import time

    writer = Writer(store, side=store.cursor()).start()
    hold, running = threading.Event(), threading.Event()
    order: list[str] = []
    first = writer.submit(_keyed("a", {"c:a"}, hold=hold, started=running))
    first.add_done_callback(lambda f: order.append("a"))
    assert running.wait(10)
    part = writer.submit(lambda ctx: order.append("part"), groupable=False)
    time.sleep(0.2)  # the main lane now waits for the side lane's group
    later = writer.submit(_keyed("b", {"c:b"}))
    later.add_done_callback(lambda f: order.append("b"))
    time.sleep(0.2)
    assert not later.done()
    hold.set()
    part.result(10), later.result(10)
    writer.stop()
    assert order == ["a", "part", "b"]


def test_a_main_lane_rerun_after_a_conflict_runs_alone(store: Store) -> None:
    """A batch that lost a conflict to a side-lane commit (a company row both rescore) claims
    everything for its rerun: the side lane commits nothing under it, so it cannot lose again.
    Before, each rerun could lose to the next single event, and after ``CONFLICT_RETRIES`` reruns
    the batch failed (a 500 for an account-model user)."""
    from leadscore.api.writer import Weighted

    store.con.execute("INSERT INTO t VALUES ('company')")
    writer = Writer(store, side=store.cursor()).start()
    runs, singles = [0], []
    rerun_started, stop = threading.Event(), threading.Event()

    def batch(ctx: WriteContext) -> str:
        runs[0] += 1
        ctx.store.con.execute("SELECT count(*) FROM t").fetchone()  # its snapshot starts
        if runs[0] > 1:
            rerun_started.set()
            time.sleep(0.3)  # a long batch: single events would keep committing meanwhile
        else:  # a long batch: single events commit meanwhile (waited for, not timed: load varies)
            deadline = time.monotonic() + 10
            while sum(f.done() for f in list(singles)) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
        ctx.store.con.execute("DELETE FROM t WHERE k = 'company'")  # a run replaces its company's row
        ctx.store.con.execute("INSERT INTO t VALUES ('company')")
        return "batch"

    def single(ctx: WriteContext) -> str:
        ctx.store.con.execute("DELETE FROM t WHERE k = 'company'")
        ctx.store.con.execute("INSERT INTO t VALUES ('company')")
        return "single"

    def stream() -> None:  # single events for other contacts of the company, one after another
        n = 0
        while not stop.is_set():
            n += 1
            f = writer.submit(Weighted(single, 1, keys={f"c:s{n}"}))
            singles.append(f)
            f.result(10)

    b = writer.submit(Weighted(batch, 500, keys={"c:a"}))
    t = threading.Thread(target=stream)
    t.start()
    try:
        assert b.result(30) == "batch"
        assert rerun_started.is_set() and runs[0] == 2  # lost once, then ran alone and committed
    finally:
        stop.set()
        t.join(10)
        writer.stop()
    assert all(f.result(10) == "single" for f in singles)


def test_a_duplicate_key_at_commit_is_rerun_like_a_conflict(store: Store) -> None:
    """Both lanes create the same new row (a list a workflow creates ``ON CONFLICT DO NOTHING``):
    DuckDB reports it only at the second COMMIT, as a constraint violation; that job runs again
    and then sees the other lane's row."""
    from leadscore.api.writer import Weighted

    store.con.execute("CREATE TABLE made (name VARCHAR PRIMARY KEY)")
    writer = Writer(store, side=store.cursor()).start()
    hold, running = threading.Event(), threading.Event()
    tries: list[int] = []

    def batch(ctx: WriteContext) -> str:
        tries.append(1)
        ctx.store.con.execute("INSERT INTO made VALUES ('hot') ON CONFLICT DO NOTHING")
        running.set()
        assert hold.wait(10)
        return "batch"

    def single(ctx: WriteContext) -> str:
        ctx.store.con.execute("INSERT INTO made VALUES ('hot') ON CONFLICT DO NOTHING")
        return "single"

    b = writer.submit(Weighted(batch, 500, keys={"c:a"}))
    assert running.wait(10)
    assert writer.submit(Weighted(single, 1, keys={"c:z"})).result(10) == "single"  # commits first
    hold.set()
    assert b.result(10) == "batch" and len(tries) == 2
    writer.stop()
    assert store.con.execute("SELECT name FROM made").fetchall() == [("hot",)]


def test_a_side_group_failing_for_another_reason_does_not_wait_for_the_batch(store: Store) -> None:
    """A side group rolled back because one job failed (bad input, a model put in quarantine) is
    rerun job by job at once: only a conflict sends jobs after the main lane's group."""
    from leadscore.api.writer import Weighted

    writer = Writer(store, side=store.cursor()).start()
    hold, running = threading.Event(), threading.Event()
    side_hold, side_running = threading.Event(), threading.Event()
    b = writer.submit(_keyed("batch", {"c:a"}, 500, hold=hold, started=running))
    assert running.wait(10)
    first = writer.submit(_keyed("first", {"c:x"}, hold=side_hold, started=side_running))
    assert side_running.wait(10)  # the side lane is busy: the next two queue up as one group
    bad = writer.submit(Weighted(_insert("bad", fail=True), 1, keys={"c:y"}))
    good = writer.submit(_keyed("good", {"c:z"}))
    side_hold.set()
    try:
        assert first.result(10) == "first" and good.result(5) == "good"
        assert isinstance(bad.exception(5), ValueError)
        assert not b.done()  # all while the batch's transaction is still open
    finally:
        hold.set()
    assert b.result(10) == "batch"
    writer.stop()
    assert writer.side_groups == 2
