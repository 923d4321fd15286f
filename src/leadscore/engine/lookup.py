"""Find a contact the way a user names it: its id, its e-mail address, or any id column of theirs.

A user who imported an export knows a lead by its e-mail or by the export's own number
(`Lead Number` 660737, a CRM's record id), not by the ``contact_id`` leadscore stored.
``find_contact`` tries, in order: the ``contact_id``; the e-mail (case and spaces aside, as the
importer matches them); then every other text or whole-number column, where the value must
belong to exactly one contact (``Mumbai`` in ``city`` is not an id, and saying so is the answer).
"""

from __future__ import annotations

import re

from leadscore.errors import NotFoundError
from leadscore.storage.store import Store

#: DuckDB types a column holding ids can have
_ID_TYPES = ("VARCHAR", "BIGINT", "INTEGER", "HUGEINT", "UBIGINT")
_SKIP = {"contact_id", "email"}


def _name(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def find_contact(store: Store, ref: str) -> str:
    """The ``contact_id`` of the contact ``ref`` names (see the module docstring).

    Raises ``NotFoundError`` naming what was tried, or why ``ref`` is not one contact's.
    """
    con = store.con
    if con.execute("SELECT 1 FROM contacts WHERE contact_id = ? LIMIT 1", [ref]).fetchone():
        return ref
    if "@" in ref:
        ids = [r[0] for r in con.execute("SELECT contact_id FROM contacts WHERE lower(trim(email)) = "
                                         "lower(trim(?)) ORDER BY 1 LIMIT 6", [ref]).fetchall()]
        if len(ids) == 1:
            return str(ids[0])
        if ids:
            raise NotFoundError(f"e-mail `{ref}` belongs to several contacts ({', '.join(ids[:5])}"
                                f"{', ...' if len(ids) > 5 else ''}): give the contact id")
    types = store.column_types("contacts")
    columns = [c for c, t in types.items() if c not in _SKIP and t.upper() in _ID_TYPES]
    whole = re.fullmatch(r"-?[0-9]{1,18}", ref.strip()) is not None  # not str.isdigit: "²" is a digit to it
    used = [c for c in columns if types[c].upper() == "VARCHAR" or whole]
    parts = [f"SELECT {i} AS k, contact_id FROM contacts WHERE {_name(c)} = ?" for i, c in enumerate(used)]
    if parts:
        params: list[object] = [ref if types[c].upper() == "VARCHAR" else int(ref.strip()) for c in used]
        rows = con.execute(f"SELECT k, count(*), min(contact_id) FROM ({' UNION ALL '.join(parts)}) GROUP BY k "
                           "ORDER BY k", params).fetchall()
        unique = {str(cid) for k, n, cid in rows if n == 1}
        if len(unique) == 1:
            return unique.pop()
        if len(unique) > 1:
            raise NotFoundError(f"`{ref}` is the id of different contacts in different columns "
                                f"({', '.join(used[k] for k, n, _ in rows if n == 1)}): give the contact id")
        if rows:
            k, n, _ = max(rows, key=lambda r: r[1])
            raise NotFoundError(f"`{ref}` is not an id: {n:,} contacts have it in `{used[k]}`")
    raise NotFoundError(f"no contact with id `{ref}`" + (", nor with that e-mail" if "@" in ref else "")
                        + " (a contact is also found by its e-mail or by a value of another id column)")


def find_company(store: Store, company_id: str) -> str:
    """``company_id`` when ``companies`` holds it; else a ``NotFoundError`` naming up to three close
    ids (by Jaro-Winkler similarity, computed in the store: cheap even over 100k companies)."""
    con = store.con
    if con.execute("SELECT 1 FROM companies WHERE company_id = ? LIMIT 1", [company_id]).fetchone():
        return company_id
    close = [str(r[0]) for r in con.execute(
        "SELECT company_id FROM (SELECT DISTINCT company_id, jaro_winkler_similarity(lower(company_id), lower($id)) "
        "AS s FROM companies WHERE company_id IS NOT NULL) WHERE s >= 0.8 ORDER BY s DESC, company_id LIMIT 3",
        {"id": company_id}).fetchall()]
    hint = f"; did you mean {', '.join(f'`{c}`' for c in close)}?" if close else \
        " (`leadscore top --level account` lists them; `leadscore import companies FILE` adds them)"
    raise NotFoundError(f"no company with id `{company_id}`" + hint)


def checked_model(store: Store, model: str | None) -> str | None:
    """``model`` when it is published (None: the first published contact model, or None when there
    is none); an unknown name is a ``NotFoundError`` naming the published ones, never an empty result."""
    from leadscore.engine.account_sql import contact_model_names  # the compiler: not for a light lookup

    names = store.published_models()
    if model is None:
        contact_models = contact_model_names(store)  # an account model's scores are not in `scores`
        return contact_models[0] if contact_models else None
    if model not in names:
        raise NotFoundError(f"no published model `{model}` (published: {', '.join(names) or 'none yet'})")
    return model


def checked_tier(store: Store, model: str, tier: str | None) -> None:
    """Refuse a ``tier`` that the model never had (its latest version's tiers, or any stored score's)."""
    if tier is None:
        return
    from leadscore.engine.run import model_of  # the version's YAML, parsed once and cached

    known = list(model_of(store.get_version(model)).tiers)
    known += [r[0] for r in store.con.execute("SELECT DISTINCT tier FROM scores WHERE model = ? ORDER BY 1",
                                              [model]).fetchall() if r[0] not in known]
    if tier not in known:
        raise NotFoundError(f"model `{model}` has no tier `{tier}` (tiers: {', '.join(known)})")
