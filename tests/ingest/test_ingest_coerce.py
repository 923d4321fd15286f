"""Coercion rules as properties: values round-trip, garbage is rejected with a reason, nothing crashes."""

from __future__ import annotations

import csv
import io
import string
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from leadscore.errors import ImportError_
from leadscore.ingest import import_file
from leadscore.ingest.coerce import coerce
from leadscore.storage.store import Store

CON = duckdb.connect()


def convert(values: list[str | None], target: str, date_format: str = "iso",
            values_map: dict[str, str] | None = None) -> list[tuple[object, str | None]]:
    """(typed value, reject reason) for each text value, through the importer's own SQL."""
    c = coerce("col", "v", "VARCHAR", target, date_format=date_format, values=values_map)
    reason = (f"CASE WHEN x IS NOT NULL AND y IS NULL THEN {c.reason.replace('{x}', 'x')} END"
              if c.reason else "NULL")
    sql = (f"SELECT y, {reason} FROM (SELECT i, x, {c.value.replace('{x}', 'x')} AS y FROM "
           f"(SELECT i, {c.clean} AS x FROM (SELECT unnest(?) AS v, generate_subscripts(?, 1) AS i)))"
           " ORDER BY i")
    return [tuple(r) for r in CON.execute(sql, [values, values]).fetchall()]


def one(value: str | None, target: str, **kw: object) -> tuple[object, str | None]:
    return convert([value], target, **kw)[0]  # type: ignore[arg-type]


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.sampled_from(["", " ", "  "]))
def test_integers_round_trip(n: int, pad: str) -> None:
    assert one(f"{pad}{n}{pad}", "BIGINT") == (n, None)
    assert one(f"{n}.0", "BIGINT") == (n, None)


@given(st.integers(min_value=-10**6, max_value=10**6), st.integers(min_value=1, max_value=9))
def test_fractions_are_not_whole_numbers(n: int, tenth: int) -> None:
    value, reason = one(f"{n}.{tenth}", "BIGINT")
    assert value is None and reason == f"col: {n}.{tenth} is not a whole number"


@pytest.mark.parametrize("text", ["0x10", "1_000", "1e3", "nan", "inf", "12abc", "1,5", "--1"])
def test_integer_lookalikes_are_rejected(text: str) -> None:
    assert one(text, "BIGINT")[0] is None


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_round_trip(f: float) -> None:
    assert one(repr(f), "DOUBLE") == (f, None)


@pytest.mark.parametrize("text", ["nan", "inf", "-Infinity", "1.2.3", "e5", "12 %"])
def test_float_lookalikes_are_rejected(text: str) -> None:
    value, reason = one(text, "DOUBLE")
    assert value is None and reason is not None and "is not a number" in reason


BOOLS = {"yes": True, "no": False, "y": True, "n": False, "true": True, "false": False,
         "t": True, "f": False, "1": True, "0": False}


@given(st.sampled_from(sorted(BOOLS)), st.data())
def test_booleans_any_case(word: str, data: st.DataObject) -> None:
    cased = "".join(ch.upper() if data.draw(st.booleans()) else ch for ch in word)
    assert one(cased, "BOOLEAN") == (BOOLS[word], None)


@pytest.mark.parametrize("text", ["on", "off", "maybe", "2", "yess"])
def test_boolean_lookalikes_are_rejected(text: str) -> None:
    value, reason = one(text, "BOOLEAN")
    assert value is None and reason == f"col: {text} is not a yes/no value"


moments = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 12, 31))


@given(moments)
def test_iso_timestamps_round_trip(dt: datetime) -> None:
    for text in (dt.isoformat(" "), dt.isoformat("T"), dt.isoformat("T") + "Z"):
        assert one(text, "TIMESTAMP") == (dt, None)
    day = dt.replace(hour=0, minute=0, second=0, microsecond=0)
    assert one(day.date().isoformat(), "TIMESTAMP") == (day, None)


@given(moments, st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_offsets_become_naive_utc(dt: datetime, minutes: int) -> None:
    aware = dt.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    expected = aware.astimezone(UTC).replace(tzinfo=None)
    assert one(aware.isoformat(), "TIMESTAMP") == (expected, None)


@given(moments.map(lambda d: d.replace(microsecond=0)))
def test_day_month_orders(dt: datetime) -> None:
    dmy, mdy = dt.strftime("%d/%m/%Y %H:%M:%S"), dt.strftime("%m/%d/%Y %H:%M:%S")
    assert one(dmy, "TIMESTAMP", date_format="dmy") == (dt, None)
    assert one(mdy, "TIMESTAMP", date_format="mdy") == (dt, None)
    assert one(dt.strftime("%d.%m.%Y"), "TIMESTAMP", date_format="dmy")[0] == dt.replace(
        hour=0, minute=0, second=0)


def test_ambiguous_dates_are_rejected_with_a_hint() -> None:
    value, reason = one("03/04/2024", "TIMESTAMP")
    assert value is None and reason is not None and "ambiguous day/month order" in reason
    assert one("2024/04/03", "TIMESTAMP")[0] == datetime(2024, 4, 3)
    assert one("4/3/2024 3:45 PM", "TIMESTAMP", date_format="mdy")[0] == datetime(2024, 4, 3, 15, 45)


def test_custom_pattern_and_value_map() -> None:
    assert one("03.04.2024", "TIMESTAMP", date_format="%d.%m.%Y")[0] == datetime(2024, 4, 3)
    assert one("Ja", "BOOLEAN", values_map={"ja": "yes", "Nein": "no"}) == (True, None)
    assert one("nein", "BOOLEAN", values_map={"ja": "yes", "Nein": "no"}) == (False, None)


@pytest.mark.parametrize("target", ["BIGINT", "DOUBLE", "BOOLEAN", "TIMESTAMP", "VARCHAR"])
def test_empty_and_blank_are_null_not_errors(target: str) -> None:
    assert convert(["", "   ", None], target) == [(None, None)] * 3


@settings(max_examples=200)
@given(st.lists(st.text(), min_size=1, max_size=20))
def test_arbitrary_text_never_raises(texts: list[str]) -> None:
    texts = [t.replace("\x00", "") for t in texts]
    for target in ("BIGINT", "DOUBLE", "BOOLEAN", "TIMESTAMP", "VARCHAR"):
        for text, (value, reason) in zip(texts, convert(texts, target), strict=True):
            blank = text.strip(" ") == ""
            assert (value is None) == (blank or reason is not None)
            if target == "VARCHAR" and not blank:
                assert value == text.strip(" ") and reason is None


# ------------------------------------------------------------------ whole files

cells = st.text(alphabet=string.printable + "éü€\u2028", max_size=12)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("fuzz")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(cells, min_size=1, max_size=5), min_size=1, max_size=8),
       st.sampled_from([",", ";", "\t"]), st.booleans())
def test_arbitrary_csv_never_crashes_the_importer(scratch: Path, table: list[list[str]],
                                                  delimiter: str, raw: bool) -> None:
    """Random cells, quoted properly or pasted raw (so rows may be malformed): the import either
    refuses the file with an ImportError_ or accounts for every row."""
    header = ["email", "Job Title", "Company Size", "extra"]
    if raw:
        text = "\n".join(delimiter.join(r) for r in [header, *table]) + "\n"
    else:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows([header, *table])
        text = buffer.getvalue()
    assume(text.strip())
    path = scratch / "fuzz.csv"
    path.write_text(text, encoding="utf-8")
    with Store.open(scratch / f"fuzz-{abs(hash(text))}.duckdb") as store:
        try:
            result = import_file(store, "contacts", path, rejects_dir=scratch / "rejects",
                                 mapping=None)
        except ImportError_:
            return
        assert result.inserted + result.updated + result.duplicates + result.rejected == result.rows_read
        assert store.count("contacts") == result.inserted
