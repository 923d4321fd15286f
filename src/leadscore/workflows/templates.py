"""Jinja templates of workflow actions: task titles, e-mail subjects, bodies and recipients.

Templates come from model files, which anyone with write access to the repository can change, so
they run in Jinja's *immutable sandbox*: no attribute access to Python internals, no mutation of
the context. Every template sees the same context (``template_context``)::

    contact     the contact's columns (``{{ contact.first_name }}``), as stored when the action fired
    score, tier, grade, prev_score, prev_tier, model, model_version, workflow

Task titles are written for every contact a workflow fires for, inside the score run's
transaction, so a whole-base run must not render them one by one in Python: a template made only
of text and ``{{ contact.X }}`` / ``{{ score }}``-style names is translated to one SQL string
expression (``simple_template_sql``); anything richer (filters, ``if``) falls back to Python
rendering of the fired rows.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlglot import exp

from leadscore.errors import LeadscoreError

#: Top-level names a template may use besides ``contact``; each is a column of the fired rows.
RUN_NAMES = ("score", "tier", "grade", "prev_score", "prev_tier", "model", "model_version", "workflow")


class TemplateError(LeadscoreError):
    """A template that does not parse or fails to render (names the template)."""


@lru_cache(maxsize=8)
def environment(templates_dir: str | None = None) -> ImmutableSandboxedEnvironment:
    """The sandboxed environment; ``templates_dir`` (the workspace's ``templates/``) serves
    ``email: {template: NAME}`` files and nothing outside it."""
    loader = jinja2.FileSystemLoader(templates_dir) if templates_dir else None
    # finalize: a missing value renders empty, not "None" (and so agrees with the SQL path)
    return ImmutableSandboxedEnvironment(loader=loader, autoescape=False, keep_trailing_newline=True,
                                         finalize=_blank_none)


def _blank_none(value: Any) -> Any:
    return "" if value is None else value


@lru_cache(maxsize=256)
def _compiled(source: str) -> jinja2.Template:
    """A template string compiled once: a run renders the same title for every fired contact,
    and compiling costs ~60× rendering."""
    return environment().from_string(source)


def render(source: str, context: dict[str, Any], *, what: str) -> str:
    """Render a template string; errors name ``what`` (e.g. "task title of workflow `x`")."""
    try:
        return _compiled(source).render(context)
    except jinja2.TemplateError as exc:
        raise TemplateError(f"{what}: template {source!r} failed: {exc}") from exc


def render_file(templates_dir: Path, name: str, context: dict[str, Any], *, what: str) -> str:
    """Render ``templates_dir/name`` (the loader refuses paths leaving that directory)."""
    try:
        return environment(str(templates_dir)).get_template(name).render(context)
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"{what}: template file {name!r} not found in {templates_dir}") from exc
    except jinja2.TemplateError as exc:
        raise TemplateError(f"{what}: template file {name!r} failed: {exc}") from exc


def template_context(payload: dict[str, Any]) -> dict[str, Any]:
    """The context of every template, from an action's JSON payload (see ``outbox.payload_sql``)."""
    score = payload.get("score") or {}
    crossing = payload.get("crossing") or {}
    return {
        "contact": payload.get("contact") or {},
        "company": payload.get("company") or {},  # an account workflow's company
        "score": score.get("total"), "tier": score.get("tier"), "grade": score.get("grade"),
        "groups": score.get("groups") or {},
        "prev_score": crossing.get("from_score"), "prev_tier": crossing.get("from_tier"),
        "model": payload.get("model"), "model_version": payload.get("model_version"),
        "workflow": payload.get("workflow"),
    }


def simple_template_sql(source: str, contact_columns: set[str], contact_alias: str = "c",
                        row_alias: str = "f", subject: str = "contact") -> str | None:
    """The template as one DuckDB string expression, or None when it needs real Jinja.

    ``{{ contact.X }}`` reads column X of ``contact_alias`` (an unknown X renders empty, as Jinja's
    undefined does), ``{{ score }}`` and the other ``RUN_NAMES`` read ``row_alias``. Text parts
    become escaped literals, names quoted identifiers: nothing is pasted into SQL. An account
    workflow passes ``subject="company"``: ``{{ company.X }}`` then reads the company's columns.
    """
    try:
        tree = environment().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template {source!r} does not parse: {exc}") from exc
    parts: list[exp.Expr] = []
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            return None
        for item in node.nodes:
            part = _part_sql(item, contact_columns, contact_alias, row_alias, subject)
            if part is None:
                return None
            parts.append(part)
    if not parts:
        return exp.Literal.string("").sql("duckdb")
    return exp.func("concat", *parts).sql("duckdb")


def _part_sql(item: nodes.Node, columns: set[str], contact_alias: str, row_alias: str,
              subject: str = "contact") -> exp.Expr | None:
    if isinstance(item, nodes.TemplateData):
        return exp.Literal.string(item.data)
    if isinstance(item, nodes.Getattr | nodes.Getitem) and isinstance(item.node, nodes.Name) \
            and item.node.name == subject:
        if isinstance(item, nodes.Getattr):
            name = item.attr
        elif isinstance(item.arg, nodes.Const) and isinstance(item.arg.value, str):
            name = item.arg.value
        else:
            return None
        if name not in columns:
            return exp.Literal.string("")
        return _text(exp.column(name, table=contact_alias, quoted=True))
    if isinstance(item, nodes.Name) and item.name in RUN_NAMES and item.name not in ("model", "workflow",
                                                                                      "model_version"):
        return _text(exp.column(item.name, table=row_alias, quoted=True))
    return None


def _text(column: exp.Expr) -> exp.Expr:
    """A column as text, NULL as empty (as ``environment``'s ``finalize`` renders None)."""
    return exp.Coalesce(this=exp.cast(column, "VARCHAR"), expressions=[exp.Literal.string("")])
