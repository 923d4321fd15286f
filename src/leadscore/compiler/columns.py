"""Which names a model may use, their logical types, and the SQL expression each one reads.

The compiler validates only what it must to emit correct SQL: a name that is not a column, or a
value of the wrong type for its column. Everything else (unknown event types, suspicious values,
style) is ``model.validate``'s job, which sees the store. Problems are collected as ``ModelIssue``
values naming the key path, so one compile reports every problem at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlglot import exp

from leadscore.errors import ModelIssue
from leadscore.model.properties import (
    CONTACT_COLUMNS,
    DERIVED_PROPERTIES,
    EVENT_COLUMNS,
    EVENT_SYSTEM_COLUMNS,
    free_email_domains,
)

from .dialects import Dialect

LOGICAL_TYPES = ("string", "number", "boolean", "timestamp")

#: Table aliases used by the generated query (contacts, per-contact aggregates).
CONTACT_ALIAS = "c"
#: The derived e-mail domain under a name no imported column can have (imports produce [a-z0-9_]).
DOMAIN_COLUMN = "ls domain"
#: Derived properties computed from other projected columns, in a second step of ``ls_contacts``.
TWO_STEP = ("is_free_email",)
AGG_ALIAS = "a"


def quoted(name: str) -> exp.Identifier:
    """A user-supplied name as a quoted identifier: never pasted into SQL text."""
    return exp.to_identifier(name, quoted=True)


def table(name: str) -> exp.Table:
    """A (possibly ``catalog.schema.``-qualified) table name, every part quoted."""
    parts = name.split(".")
    if not all(parts) or len(parts) > 3:
        raise ValueError(f"not a table name: {name!r}")
    ids: list[exp.Identifier | None] = [None] * (3 - len(parts)) + [quoted(p) for p in parts]
    return exp.Table(this=ids[2], db=ids[1], catalog=ids[0])


def _checked(mapping: Mapping[str, str], what: str) -> dict[str, str]:
    for name, logical in mapping.items():
        if logical not in LOGICAL_TYPES:
            raise ValueError(
                f"{what} column {name!r} has type {logical!r}; expected one of {', '.join(LOGICAL_TYPES)}"
            )
    return dict(mapping)


@dataclass
class Property:
    """A readable contact property: its logical type and the column of ``ls_contacts`` holding it."""

    name: str
    logical: str
    expr: exp.Expr
    lower_values: bool = False  # email_domain is lower-cased, so the model's values are too


@dataclass
class Catalog:
    """The columns of the contacts and events tables, by logical type, plus the issues found."""

    dialect: Dialect
    contact: dict[str, str]
    event: dict[str, str]
    file: str
    issues: list[ModelIssue] = field(default_factory=list)
    #: contact properties the model reads: name -> SQL over the contacts table (``ls_contacts``)
    projected: dict[str, exp.Expr] = field(default_factory=dict)

    @classmethod
    def build(cls, dialect: Dialect, file: str, contact_columns: Mapping[str, str] | None,
              event_columns: Mapping[str, str] | None) -> Catalog:
        contact = _checked(contact_columns if contact_columns is not None else CONTACT_COLUMNS, "contact")
        event = _checked(event_columns if event_columns is not None else EVENT_COLUMNS, "event")
        if "contact_id" not in contact:
            raise ValueError("the contacts table needs a contact_id column")
        return cls(dialect, contact, event, file)

    def issue(self, path: str, message: str, hint: str | None = None) -> None:
        self.issues.append(ModelIssue(self.file, path, message, hint=hint))

    # ------------------------------------------------------------------ contacts

    def contact_property(self, name: str, path: str) -> Property | None:
        """The property read from the ``ls_contacts`` CTE, registering it there; None if unknown.

        A stored column wins over a derived property of the same name (the user imported it), so
        a derived property's name is always free to be its column name in ``ls_contacts``.
        """
        if name in self.contact:
            logical, lower = self.contact[name], False
            self.projected.setdefault(name, exp.column(quoted(name), CONTACT_ALIAS))
        elif name in DERIVED_PROPERTIES and "email" in self.contact:
            logical, lower = DERIVED_PROPERTIES[name][0], name == "email_domain"
            self.projected.setdefault(name, self._derived(name))
        else:
            known = sorted(self.contact) + (sorted(DERIVED_PROPERTIES) if "email" in self.contact else [])
            self.issue(path, f"unknown contact property `{name}`",
                       hint=_closest(name, known) or "import it first; properties: " + ", ".join(known))
            return None
        return Property(name, logical, exp.column(quoted(name), CONTACT_ALIAS), lower_values=lower)

    def _derived(self, name: str) -> exp.Expr:
        if name == "email_domain":
            return self.email_domain()
        assert name == "is_free_email"
        # Tested against a column computed one level down: engines expand a long IN list into
        # comparisons that would each re-run the domain extraction (4x slower on DuckDB).
        self.projected.setdefault(DOMAIN_COLUMN, self.email_domain())
        domains = [exp.Literal.string(d) for d in free_email_domains()]
        return exp.In(this=exp.column(quoted(DOMAIN_COLUMN), CONTACT_ALIAS), expressions=domains)

    def email_domain(self) -> exp.Expr:
        """Lower-cased part of ``email`` after its last ``@``; NULL without an ``@`` or when empty."""
        email = exp.column(quoted("email"), CONTACT_ALIAS)
        has_at = exp.GT(this=exp.StrPosition(this=email, substr=exp.Literal.string("@")),
                        expression=exp.Literal.number(0))
        domain = exp.Nullif(this=exp.Lower(this=self.dialect.after_last(email.copy(), "@")),
                            expression=exp.Literal.string(""))
        return exp.Case(ifs=[exp.If(this=has_at, true=domain)])

    @property
    def has_created_at(self) -> bool:
        return "created_at" in self.contact

    # ------------------------------------------------------------------ events

    def event_property(self, name: str, path: str) -> str | None:
        """The logical type of an event column usable in ``where``; None (and an issue) otherwise."""
        if name in EVENT_SYSTEM_COLUMNS:
            self.issue(path, f"`{name}` describes the event itself and cannot be used in `where`",
                       hint="use `event:` for the type and `within_days:` for the time")
            return None
        if name not in self.event:
            known = sorted(c for c in self.event if c not in EVENT_SYSTEM_COLUMNS)
            self.issue(path, f"unknown event property `{name}`",
                       hint=_closest(name, known) or "event properties: " + ", ".join(known))
            return None
        return self.event[name]

    def require_event_system_columns(self) -> None:
        missing = [c for c in ("contact_id", "type", "occurred_at") if c not in self.event]
        if missing:
            raise ValueError(f"the events table needs the columns {', '.join(missing)}")


def _closest(name: str, known: list[str]) -> str | None:
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean `{close[0]}`?" if close else None
