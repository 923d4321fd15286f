"""Which column of an input file goes where: snake_case names, CRM aliases and the user's mapping.

A HubSpot, Salesforce or Olist export should import unchanged, so every header is first normalised
("Lead Source" → ``lead_source``), then looked up in a small alias table per kind ("Record ID" →
``contact_id``), and the user's mapping (a YAML file or ``--id-column`` / ``--column`` flags) wins
over both. The mapping is strict like model files: an unknown key, or a mapping naming a column the
file does not have, is an error rather than a silently ignored typo.

Example mapping file::

    id_column: Record ID            # the column holding the row's own id
    columns:                        # source header -> destination column (null = skip it)
      Annual Revenue: annual_revenue
      Notes: null
    values:                         # per destination column, case-insensitive
      status: {Contract Sent: open, Verbal Yes: won}
    constants: {status: won}        # columns the file lacks, same value on every row
    changed_at: Last Modified Date  # contacts, companies: when the row's values became true (property history)
    date_format: dmy                # auto | iso | dmy | mdy | a strptime pattern like %d.%m.%Y
    delimiter: ";"
    encoding: latin-1
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from leadscore.errors import ImportError_

Kind = Literal["contacts", "events", "deals", "companies"]
KINDS: tuple[str, ...] = ("contacts", "events", "deals", "companies")

#: The column holding each kind's own id (what ``id_column`` names in the file).
KEY_COLUMN: dict[str, str] = {"contacts": "contact_id", "events": "event_id", "deals": "deal_id",
                              "companies": "company_id"}

#: Normalised header → destination column, per kind. Kept small on purpose: these are the headers
#: the common CRM exports use for built-in columns; everything else keeps its snake_case name.
ALIASES: dict[str, dict[str, str]] = {
    "contacts": {
        "record_id": "contact_id", "prospect_id": "contact_id", "lead_id": "contact_id",
        "email_address": "email", "e_mail": "email",
        "firstname": "first_name", "lastname": "last_name",
        "company_name": "company", "account_name": "company",
        "number_of_employees": "company_size", "employees": "company_size",
        "jobtitle": "job_title", "title": "job_title",
        "create_date": "created_at", "created_date": "created_at", "createdate": "created_at",
        "lifecyclestage": "lifecycle_stage",
        "contact_owner": "owner", "lead_owner": "owner",
        "phone_number": "phone", "original_source": "lead_source",
        "last_modified_date": "updated_at",
        "associated_company_id": "company_id", "account_id": "company_id",
    },
    "events": {
        "activity_id": "event_id",
        "record_id": "contact_id", "prospect_id": "contact_id", "lead_id": "contact_id",
        "email_address": "email", "e_mail": "email",
        "event_type": "type", "activity_type": "type",
        "timestamp": "occurred_at", "occurred_at": "occurred_at", "event_time": "occurred_at",
        "event_date": "occurred_at", "activity_date": "occurred_at",
        "page_url": "url",
    },
    "deals": {
        "record_id": "deal_id", "opportunity_id": "deal_id",
        "email_address": "email", "e_mail": "email",
        "deal_stage": "status", "stage": "status", "dealstage": "status",
        "close_date": "closed_at", "closedate": "closed_at",
        "create_date": "created_at", "created_date": "created_at", "createdate": "created_at",
        "deal_name": "name", "opportunity_name": "name", "dealname": "name",
        "associated_company_id": "company_id", "account_id": "company_id",
    },
    "companies": {
        "record_id": "company_id", "account_id": "company_id", "organization_id": "company_id",
        "company_name": "name", "account_name": "name",
        "company_domain_name": "domain", "website": "domain", "website_url": "domain",
        "number_of_employees": "employees", "employee_count": "employees",
        "company_owner": "owner", "account_owner": "owner",
        "create_date": "created_at", "created_date": "created_at", "createdate": "created_at",
        "last_modified_date": "updated_at",
    },
}

#: Deal stage → status when the mapping gives no value for it. Keys are compared after removing
#: everything but letters and digits and lower-casing, so "Closed Won", "closedwon" and
#: "Closed-Won" all match. Open stages are the default pipelines of HubSpot and Salesforce.
STATUS_VALUES: dict[str, tuple[str, ...]] = {
    "won": ("won", "closedwon", "win"),
    "lost": ("lost", "closedlost", "loss"),
    "open": ("open", "new", "inprogress", "pending",
             "appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
             "decisionmakerboughtin", "contractsent",
             "prospecting", "qualification", "needsanalysis", "valueproposition",
             "iddecisionmakers", "perceptionanalysis", "proposalpricequote", "negotiationreview"),
}

DATE_FORMATS = ("auto", "iso", "dmy", "mdy")
ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "latin-1": "latin-1", "latin1": "latin-1",
             "iso-8859-1": "latin-1", "iso8859-1": "latin-1", "utf-16": "utf-16"}
_NULL_WORDS = {"", "null", "~", "none"}
#: Letters NFKD does not decompose into ASCII.
_LETTERS = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe",
                          "Œ": "OE", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "þ": "th"})


def snake_case(name: str) -> str:
    """Normalise a header to ``[a-z0-9_]``: accents dropped, camelCase and punctuation split.

    >>> snake_case("Lead Source"), snake_case("firstName"), snake_case("Société (FR)")
    ('lead_source', 'first_name', 'societe_fr')
    """
    text = str(name).translate(_LETTERS)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()


class ColumnMapping(BaseModel):
    """How the columns of one input file map onto a table. Every field is optional."""

    model_config = ConfigDict(extra="forbid")

    id_column: str | None = Field(default=None, description="source column holding the row's id")
    columns: dict[str, str | None] = Field(default_factory=dict,
                                           description="source column -> destination (None: skip)")
    values: dict[str, dict[str, str]] = Field(default_factory=dict,
                                              description="destination column -> {from: to}")
    constants: dict[str, str] = Field(default_factory=dict,
                                      description="destination column -> value for every row")
    null_values: list[str] = Field(default_factory=list, description="values that mean empty in every column "
                                   "(case-insensitive, spaces aside), e.g. a form's placeholder `Select`")
    date_format: str | None = Field(default=None, description="auto | iso | dmy | mdy | %-pattern")
    changed_at: str | None = Field(default=None, description="contacts, companies: source column holding when the "
                                   "row's values became true (recorded in the property history)")
    delimiter: str | None = None
    encoding: str | None = None

    @field_validator("constants", mode="before")
    @classmethod
    def _constant_names(cls, value: object) -> object:
        """Constants name columns like a header does: ``Lead Source`` is ``lead_source``."""
        if isinstance(value, dict):
            out = {}
            for key, v in value.items():
                name = snake_case(str(key))
                if not name:
                    raise ValueError(f"constants: {key!r} is not a column name")
                out[name] = v
            return out
        return value

    @field_validator("columns", mode="before")
    @classmethod
    def _nulls(cls, value: object) -> object:
        if isinstance(value, dict):
            return {str(k): (None if v is None or str(v).strip().lower() in _NULL_WORDS else str(v))
                    for k, v in value.items()}
        return value

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, value: str | None) -> str | None:
        if value is None:
            return None
        lowered = value.strip().lower().replace("/", "").replace("-", "")
        aliases = {"ddmmyyyy": "dmy", "mmddyyyy": "mdy", "yyyymmdd": "iso"}
        lowered = aliases.get(lowered, lowered)
        if lowered in DATE_FORMATS:
            return lowered
        if "%" in value:
            _check_strptime(value)
            return value
        raise ValueError(f"unknown date_format {value!r}: use auto, iso, dmy, mdy or a strptime "
                         "pattern such as %d.%m.%Y")

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}.get(
            value.lower(), value)
        if len(value) != 1 or value in "\"\r\n":
            raise ValueError(f"delimiter must be one character (or tab), got {value!r}")
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.lower() not in ENCODINGS:
            raise ValueError(f"unsupported encoding {value!r}: use utf-8 or latin-1")
        return ENCODINGS[value.lower()]

    def with_flags(self, *, id_column: str | None = None,
                   columns: Iterable[str] = ()) -> ColumnMapping:
        """A copy with CLI flags applied on top: ``--id-column X`` and ``--column src=dest``.

        >>> ColumnMapping().with_flags(columns=["Lead Status=status"]).columns
        {'Lead Status': 'status'}
        """
        merged = dict(self.columns)
        for pair in columns:
            source, sep, dest = pair.partition("=")
            if not sep or not source.strip():
                raise ImportError_(f"--column expects SOURCE=DEST (DEST empty to skip), got {pair!r}")
            merged[source.strip()] = dest.strip() or None
        return self.model_copy(update={"id_column": id_column or self.id_column, "columns": merged})

    def with_null_values(self, more: Iterable[str]) -> ColumnMapping:
        """A copy that also reads ``more`` as empty (the workspace's ``null_values``)."""
        return self.model_copy(update={"null_values": list(dict.fromkeys([*self.null_values, *more]))})

    def value_map(self, dest: str, *, text: bool = True) -> dict[str, str | None] | None:
        """Column ``dest``'s value map: ``values`` for it, and every ``null_values`` entry → empty
        when the source column is text (a typed Parquet column holds no placeholder words)."""
        own = self.values.get(dest) or {}
        if not self.null_values or not text:
            return dict(own) or None
        return {**{v: None for v in self.null_values}, **own}


def load_mapping(path: str | Path) -> ColumnMapping:
    """Read a YAML mapping file. Scalars stay strings (``yes`` is not ``True`` here)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ImportError_(f"cannot read the mapping file {file}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ImportError_(f"the mapping file {file} is not UTF-8 text (byte {exc.start}): save it as "
                           "UTF-8") from exc
    try:
        # BaseLoader keeps every scalar a string: value maps like {Yes: won} must not become True.
        raw = yaml.load(text, Loader=yaml.BaseLoader) or {}
    except yaml.YAMLError as exc:
        raise ImportError_(f"{file}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ImportError_(f"{file}: a mapping file is a YAML object with keys id_column, columns, "
                           "values, constants, null_values, date_format, changed_at, delimiter, encoding")
    try:
        return ColumnMapping.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"at `{'.'.join(str(p) for p in err['loc']) or '(top)'}`: {err['msg']}"
                             for err in exc.errors())
        raise ImportError_(f"{file}: invalid mapping: {problems}") from exc


@dataclass(frozen=True)
class PlannedColumn:
    """One source column and the destination column it feeds."""

    source: str
    dest: str


def find_column(source_names: Sequence[str], name: str, what: str) -> str:
    """The file's column a mapping names: exactly, or by its snake_case form."""
    if name in source_names:
        return name
    by_norm = {snake_case(n): n for n in source_names}
    if snake_case(name) in by_norm:
        return by_norm[snake_case(name)]
    raise ImportError_(f"the mapping's {what} names column {name!r}, which the file does not "
                       f"have; its columns are: {', '.join(source_names)}")


def plan_columns(source_names: Sequence[str], kind: str,
                 mapping: ColumnMapping) -> tuple[list[PlannedColumn], list[str]]:
    """Decide the destination of every source column. Returns (plan, warnings).

    Priority: the mapping's ``columns``, then ``id_column``, then a header already equal to a
    built-in name, then the alias table, then the snake_case name. A column that would land on a
    destination already taken keeps its own snake_case name (with ``_2``... if needed) and a
    warning says so; skipped columns (mapped to null) are left out of the plan.
    """
    def find(name: str, what: str) -> str:
        return find_column(source_names, name, what)

    explicit: dict[str, str | None] = {}
    for src, dest in mapping.columns.items():
        explicit[find(src, "columns")] = snake_case(dest) if dest else None
    if mapping.id_column:
        source = find(mapping.id_column, "id_column")
        explicit.setdefault(source, KEY_COLUMN[kind])

    aliases = ALIASES[kind]
    wanted: list[tuple[int, str, str]] = []  # (priority, source, destination)
    for name in source_names:
        norm = snake_case(name) or "column"
        if name in explicit:
            if explicit[name] is not None:
                wanted.append((0, name, explicit[name] or norm))
        elif norm in aliases.values() or norm in KEY_COLUMN.values():
            wanted.append((1, name, norm))
        elif norm in aliases:
            wanted.append((2, name, aliases[norm]))
        else:
            wanted.append((3, name, norm))

    taken: dict[str, str] = {}
    warnings: list[str] = []
    for _, name, dest in sorted(wanted, key=lambda item: item[0]):
        final = dest
        if final in taken:
            final = snake_case(name) or "column"
            suffix = 2
            while final in taken:
                final = f"{snake_case(name) or 'column'}_{suffix}"
                suffix += 1
            warnings.append(f"column {name!r} would also go to `{dest}` (already fed by "
                            f"{taken[dest]!r}); it was imported as `{final}` instead")
        taken[final] = name
    for dest in mapping.constants:
        if snake_case(dest) in taken:
            raise ImportError_(f"the mapping sets constant column {dest!r}, which the file also "
                               f"has (from {taken[snake_case(dest)]!r}); drop one of them")
    order = {name: i for i, name in enumerate(source_names)}
    plan = [PlannedColumn(src, dest) for dest, src in taken.items()]
    return sorted(plan, key=lambda p: order[p.source]), warnings


def _check_strptime(pattern: str) -> None:
    """A ``date_format`` pattern DuckDB's strptime accepts (``%Q`` would fail mid-import)."""
    try:
        duckdb.connect().execute("SELECT try_strptime('2024-01-31', ?)", [pattern]).fetchall()
    except duckdb.Error as exc:
        reason = str(exc).split(":", 1)[-1].strip().splitlines()[0]
        raise ValueError(f"date_format {pattern!r} is not a strptime pattern DuckDB reads: {reason}") from None
