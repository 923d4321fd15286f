"""Type inference and coercion as SQL expressions: one CASE per column, never a Python loop per row.

Each destination column gets a :class:`Coercion`: ``clean`` (the source value, trimmed, '' → NULL,
value map applied), ``value`` (the typed value, NULL when it does not parse) and ``reason`` (why a
non-empty value gave NULL). The importer stacks them in three projections so each value is parsed
once, and rejects a row when any reason is not NULL.

Rules, chosen so that a column of an export never silently changes meaning:

* integers: ``[+-]digits``, also ``12.0`` (spreadsheets write whole numbers that way), not ``12.5``
  (DuckDB's own cast would round it), hex, ``1_000`` or ``1e3``;
* floats: decimal or exponent notation; no ``nan`` / ``inf``;
* booleans: yes/no, y/n, true/false, t/f, 1/0, any case;
* timestamps: ISO dates and times (``T`` or space, optional seconds and fraction); ``Z`` and offsets
  are converted to naive UTC; ``DD/MM/YYYY`` or ``MM/DD/YYYY`` (also with ``-`` or ``.``, with an
  optional time, 12-hour times too) when the column's data says which, or the mapping does;
  ``YYYY/MM/DD``. Ambiguous columns accept ISO only and reject the rest, naming the problem.

New (custom) columns are inferred from all their values: a type is chosen only if every non-empty
value fits it, else VARCHAR; values with leading zeros (``02134``) or a plus sign (``+4915…``) stay
text, as they are codes and phone numbers, and so do whole numbers too long for BIGINT
(``12345678901234567890123``): as DOUBLE they would lose digits.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from leadscore.ingest.readers import first_row, sql_str
from leadscore.storage.types import is_floating_point, is_zoned_timestamp, type_kind

INT_RE = r"[+-]?[0-9]+(\.0*)?"
INFER_INT_RE = r"-?(0|[1-9][0-9]*)"
FLOAT_RE = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
INFER_FLOAT_RE = r"-?((0|[1-9][0-9]*)(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
#: A time followed by an offset (``+02:00``) or a zone's name (``EST``, ``Europe/Berlin``): an instant.
OFFSET_RE = r":[0-9]{2}(\.[0-9]+)? ?([+-][0-9]{2}(:?[0-9]{2})?|[A-Za-z][A-Za-z_/+-]*[0-9]*)$"
DAY_MONTH_RE = r"^[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{4}([ ,T]|$)"

_TIMES = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p", ", %I:%M %p", ", %H:%M",
          "T%H:%M:%S")


def _formats(order: str) -> list[str]:
    date = {"dmy": "%d{s}%m{s}%Y", "mdy": "%m{s}%d{s}%Y", "ymd": "%Y{s}%m{s}%d"}[order]
    seps = ("/",) if order == "ymd" else ("/", "-", ".")
    return [date.format(s=s) + t for s in seps for t in _TIMES]


@dataclass(frozen=True)
class Coercion:
    """SQL for one destination column. ``value`` and ``reason`` refer to the cleaned value as
    ``{x}``; ``reason`` is the message for a non-empty value whose ``value`` is NULL (None when
    that cannot happen). The importer fills ``{x}`` in and adds the condition."""

    dest: str
    target: str
    clean: str
    value: str
    reason: str | None


def clean_text(ref: str, values: dict[str, str | None] | None = None, *, trim: bool = True,
               never_empty: bool = False) -> str:
    """Text with '' → NULL, trimmed (text formats), then the user's value map (case-insensitive;
    a value mapped to None, from the mapping's ``null_values``, becomes NULL).

    Trimming is guarded by a prefix/suffix test: ``trim`` itself costs several times more than
    the test on the millions of values that have nothing to trim. A column the file's statistics
    prove never empty (``never_empty``, Parquet) and that needs no trimming is taken as it is.
    """
    if never_empty and not trim:
        cleaned = ref
    elif trim:
        cleaned = (f"(CASE WHEN prefix({ref}, ' ') OR suffix({ref}, ' ') THEN NULLIF(trim({ref}), '') "
                   f"ELSE NULLIF({ref}, '') END)")
    else:
        cleaned = f"NULLIF({ref}, '')"
    if not values:
        return cleaned
    cases = " ".join(f"WHEN {sql_str(k.strip().lower())} THEN {'NULL' if v is None else sql_str(v)}"
                     for k, v in values.items())
    return f"(CASE lower({cleaned}) {cases} ELSE {cleaned} END)"


def iso_timestamp(x: str) -> str:
    """ISO text → naive UTC TIMESTAMP (NULL when not ISO). Offsets and zone names (``EST``,
    ``Europe/Berlin``) go through TIMESTAMPTZ, which converts to the instant; a plain TIMESTAMP
    cast would silently drop them (``12:00 EST`` stored as 12:00)."""
    return (f"(CASE WHEN suffix({x}, 'Z') THEN TRY_CAST({x} AS TIMESTAMP) "  # Z is UTC: fast path
            f"WHEN regexp_matches({x}, {sql_str(OFFSET_RE)}) "
            f"THEN timezone('UTC', TRY_CAST({x} AS TIMESTAMPTZ)) ELSE TRY_CAST({x} AS TIMESTAMP) END)")


def timestamp_value(x: str, date_format: str) -> str:
    """Text → TIMESTAMP with the column's format: iso, dmy, mdy or a strptime pattern."""
    iso = iso_timestamp(x)
    ymd = f"try_strptime({x}, {_list(_formats('ymd'))})"
    if date_format in ("dmy", "mdy"):
        return f"COALESCE({iso}, try_strptime({x}, {_list(_formats(date_format))}), {ymd})"
    if "%" in date_format:
        parsed = f"try_strptime({x}, {sql_str(date_format)})"
        if "%z" in date_format or "%Z" in date_format:
            parsed = f"timezone('UTC', {parsed})"
        return f"COALESCE({parsed}, {iso})"
    return f"COALESCE({iso}, {ymd})"


def _list(items: list[str]) -> str:
    return "[" + ", ".join(sql_str(i) for i in items) + "]"


def coerce(dest: str, ref: str, source_type: str, target: str, *, date_format: str = "iso",
           values: dict[str, str | None] | None = None, trim: bool = True,
           never_empty: bool = False) -> Coercion:
    """The SQL that turns source column ``ref`` (of ``source_type``) into ``target``."""
    src, dst = type_kind(source_type), type_kind(target)
    label = sql_str(dest)
    if src != "string" and not values:
        typed = _typed_source(ref, source_type, src, dst, target)
        if typed is not None:
            clean, value = typed
            reason = (None if value == "{x}" else
                      f"printf('%s: %s does not fit a {target} column', {label}, CAST({{x}} AS VARCHAR))")
            return Coercion(dest, target, clean, value, reason)
        ref = f"CAST({ref} AS VARCHAR)"
    clean = clean_text(ref, values, trim=trim, never_empty=never_empty and src == "string")
    what = {"integer": "a whole number", "float": "a number", "boolean": "a yes/no value",
            "timestamp": "a date or timestamp"}.get(dst, f"a {target} value")
    shown = "left({x}, 80)"
    reason = f"printf('%s: %s is not {what}', {label}, {shown})"
    if dst == "string":
        return Coercion(dest, target, clean, "{x}", None)
    if dst == "integer":
        value = (f"CASE WHEN regexp_full_match({{x}}, {sql_str(INT_RE)}) "
                 "THEN TRY_CAST(split_part({x}, '.', 1) AS BIGINT) END")
    elif dst == "float":
        value = f"CASE WHEN regexp_full_match({{x}}, {sql_str(FLOAT_RE)}) THEN TRY_CAST({{x}} AS DOUBLE) END"
    elif dst == "boolean":
        value = "TRY_CAST({x} AS BOOLEAN)"
    elif dst == "timestamp":
        value = timestamp_value("{x}", date_format)
        if date_format == "iso":
            ambiguous = (f"printf('%s: %s has an ambiguous day/month order (set date_format: dmy "
                         f"or mdy in the mapping)', {label}, {shown})")
            reason = (f"CASE WHEN regexp_matches({{x}}, {sql_str(DAY_MONTH_RE)}) THEN {ambiguous} "
                      f"ELSE {reason} END")
    else:
        value = f"TRY_CAST({{x}} AS {target})"
    if dst in ("integer", "float", "timestamp") and target.upper() not in ("BIGINT", "DOUBLE", "TIMESTAMP"):
        value = f"TRY_CAST({value} AS {target})"
    return Coercion(dest, target, clean, value, reason)


def _typed_source(ref: str, source_type: str, src: str, dst: str,
                  target: str) -> tuple[str, str] | None:
    """(clean, value) for a typed (Parquet) source, or None to go through text.

    A floating-point NaN (pandas' "missing") is cleaned to NULL: stored, DuckDB would order it
    above every number, so `gt: 1000000` would hold for it; as NULL it is a missing value, which
    matches nothing but `is_empty`, in every engine. (Not ``isnan``: Parquet's min/max statistics
    leave NaN out, and DuckDB then folds ``isnan`` to false for the whole row group.)
    """
    x = "{x}"
    if is_floating_point(source_type):
        ref = f"(CASE WHEN NOT isfinite({ref}) AND NOT isinf({ref}) THEN NULL ELSE {ref} END)"
    if source_type.upper() == target.upper():
        return ref, x
    if src == dst == "timestamp":
        if is_zoned_timestamp(source_type):
            return ref, f"CAST(timezone('UTC', {x}) AS {target})"
        return ref, f"CAST({x} AS {target})"
    if src == "integer" and dst in ("integer", "float"):
        return ref, f"TRY_CAST({x} AS {target})"
    if src == "float" and dst == "float":
        return ref, f"CAST({x} AS {target})"
    if src == "float" and dst == "integer":
        return ref, f"CASE WHEN {x} = trunc({x}) THEN TRY_CAST({x} AS {target}) END"
    if dst == "string" and src != "other":
        return ref, f"CAST({x} AS VARCHAR)"
    return None


def enum_coercion(dest: str, ref: str, choices: dict[str, tuple[str, ...]],
                  values: dict[str, str | None] | None, hint: str) -> Coercion:
    """Text matched against known spellings (letters and digits only, lower case)."""
    clean = clean_text(f"CAST({ref} AS VARCHAR)", values)
    norm = "lower(regexp_replace({x}, '[^A-Za-z0-9]+', '', 'g'))"
    cases = " ".join(f"WHEN {norm} IN ({', '.join(sql_str(s) for s in spellings)}) THEN {sql_str(out)}"
                     for out, spellings in choices.items())
    reason = f"printf('%s: unknown value %s ({hint})', {sql_str(dest)}, left({{x}}, 80))"
    return Coercion(dest, "VARCHAR", clean, f"CASE {cases} END", reason)


@dataclass(frozen=True)
class TextProfile:
    """What the values of one text column look like (from one aggregate pass)."""

    nonempty: int
    ints: int
    floats: int
    bools: int
    iso: int
    day_month: int  # values shaped like 01/02/2024 that are not ISO
    dmy_ok: int
    mdy_ok: int

    def date_order(self) -> str | None:
        """dmy / mdy when the data decides it, iso when there is nothing to decide, None if not."""
        if not self.day_month:
            return "iso"
        if self.dmy_ok > self.mdy_ok:
            return "dmy"
        if self.mdy_ok > self.dmy_ok:
            return "mdy"
        return None

    def inferred_type(self) -> tuple[str, str]:
        """(DuckDB type, date order) for a new column holding these values."""
        n = self.nonempty
        if n == 0:
            return "VARCHAR", "iso"
        if self.ints == n:
            return "BIGINT", "iso"
        if self.floats == n:
            return "DOUBLE", "iso"
        if self.bools == n:
            return "BOOLEAN", "iso"
        order = self.date_order()
        if order is not None and self.iso + max(self.dmy_ok, self.mdy_ok) == n:
            return "TIMESTAMP", order
        return "VARCHAR", "iso"


#: Rows looked at to guess a new column's type before checking the guess against every row.
SAMPLE_ROWS = 10_000


#: Columns profiled per query. One query for every column of a 300-column export holds ~2,400
#: aggregates of CASE and strptime expressions, and DuckDB spent 18 s planning it (for 200 rows);
#: in groups of this size, with each column cleaned once (``_profile_batch``), the whole import of
#: that file took 1.7 s.
PROFILE_BATCH = 24


def profile_text_columns(con: duckdb.DuckDBPyConnection, relation: str, cleaned: dict[str, str],
                         counts: dict[str, set[str]]) -> dict[str, TextProfile]:
    """Profile text columns, ``PROFILE_BATCH`` columns per pass over ``relation``."""
    refs = list(cleaned)
    out: dict[str, TextProfile] = {}
    for start in range(0, len(refs), PROFILE_BATCH):
        batch = {ref: cleaned[ref] for ref in refs[start:start + PROFILE_BATCH]}
        out.update(_profile_batch(con, relation, batch, counts))
    return out


def _profile_batch(con: duckdb.DuckDBPyConnection, relation: str, cleaned: dict[str, str],
                   counts: dict[str, set[str]]) -> dict[str, TextProfile]:
    """Profile text columns in one pass over ``relation``.

    ``cleaned`` maps a key to the SQL of its cleaned value (see :func:`clean_text`, value map
    included); ``counts`` says which groups of counts each key needs: ``num`` (integers, floats,
    booleans), ``ts`` (timestamps) and/or ``order`` (day/month order). Counts not asked for are 0.
    """
    parts: list[str] = []
    # each cleaned value once, in a subquery: the aggregates then read a plain column instead of
    # repeating the cleaning CASE a dozen times (planning those trees was most of the cost)
    inner = ", ".join(f"{x} AS __p{i}" for i, x in enumerate(cleaned.values()))
    for i, ref in enumerate(cleaned):
        x = f"__p{i}"
        wanted = counts.get(ref, set())
        iso = iso_timestamp(x)
        # CASE, not AND: DuckDB evaluates every operand of an AND inside FILTER, and
        # try_strptime with a list of formats is slow on the values it cannot parse
        dm = (f"CASE WHEN {iso} IS NULL THEN regexp_matches({x}, {sql_str(DAY_MONTH_RE)}) "
              "ELSE false END")
        parts.append(f"count({x})")
        if "num" in wanted:
            parts += [f"count(CASE WHEN regexp_full_match({x}, {sql_str(INFER_INT_RE)}) "
                      f"THEN TRY_CAST({x} AS BIGINT) END)",
                      # a whole number too long for BIGINT is a code, not a float
                      f"count(*) FILTER (regexp_full_match({x}, {sql_str(INFER_FLOAT_RE)}) AND NOT "
                      f"(regexp_full_match({x}, {sql_str(INFER_INT_RE)}) AND TRY_CAST({x} AS BIGINT) IS NULL))",
                      f"count(TRY_CAST({x} AS BOOLEAN))"]
        else:
            parts += ["0", "0", "0"]
        parts.append(f"count(CASE WHEN length({x}) >= 8 THEN {iso} END)" if wanted & {"ts", "iso"} else "0")
        parts.append(f"count(*) FILTER ({dm})" if wanted & {"ts", "order", "dm"} else "0")
        if wanted & {"ts", "order"}:
            parts += [f"count(CASE WHEN {dm} THEN try_strptime({x}, {_list(_formats('dmy'))}) END)",
                      f"count(CASE WHEN {dm} THEN try_strptime({x}, {_list(_formats('mdy'))}) END)"]
        else:
            parts += ["0", "0"]
    if not parts:
        return {}
    row = first_row(con, f"SELECT {', '.join(parts)} FROM (SELECT {inner} FROM {relation})")
    return {ref: TextProfile(*(int(v or 0) for v in row[i * 8:(i + 1) * 8]))
            for i, ref in enumerate(cleaned)}


def infer_text_columns(con: duckdb.DuckDBPyConnection, relation: str,
                       cleaned: dict[str, str]) -> dict[str, TextProfile]:
    """Profiles deciding the type of new text columns, without profiling every row of each.

    A sample (the first rows, or a column's first non-empty values) suggests a type; only
    columns that look typed are then checked against every row, and only for the counts their
    candidate type needs. Text columns, the common case in CRM exports, cost a sample only.
    """
    # the sample's first look leaves out the day/month parsing (two strptime lists a column, about
    # a tenth of the planning measured on a 300-column file): only columns with dates like
    # 03/04/2024 need it
    cheap = {ref: {"num", "iso", "dm"} for ref in cleaned}
    everything = {ref: {"num", "ts"} for ref in cleaned}
    head = f"(SELECT * FROM {relation} LIMIT {SAMPLE_ROWS})"
    sample = profile_text_columns(con, head, cleaned, cheap)
    dated = {ref: cleaned[ref] for ref, profile in sample.items() if profile.day_month}
    sample.update(profile_text_columns(con, head, dated, everything))
    for ref, profile in list(sample.items()):
        if profile.nonempty == 0:  # empty at the top of the file: look further down
            rows = f"(SELECT * FROM {relation} WHERE {cleaned[ref]} IS NOT NULL LIMIT {SAMPLE_ROWS})"
            sample.update(profile_text_columns(con, rows, {ref: cleaned[ref]}, everything))
    wanted: dict[str, set[str]] = {}
    for ref, profile in sample.items():
        candidate = profile.inferred_type()[0]
        if candidate in ("BIGINT", "DOUBLE", "BOOLEAN"):
            wanted[ref] = {"num"}
        elif candidate == "TIMESTAMP":
            wanted[ref] = {"ts"}
    checked = profile_text_columns(con, relation, {r: cleaned[r] for r in wanted}, wanted)
    return {**sample, **checked}


def inferred_type_of_typed(source_type: str) -> str:
    """The column type a new column gets from a typed (Parquet) source column."""
    return {"integer": "BIGINT", "float": "DOUBLE", "boolean": "BOOLEAN", "timestamp": "TIMESTAMP"}.get(
        type_kind(source_type), "VARCHAR")
