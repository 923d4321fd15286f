"""Account models on the embedded store: their SQL for this store, and who belongs to which company.

``engine.run.run_model`` runs an account model like a contact model (``account_sql`` for the whole
base, the cached ``account_param_sql`` for some companies); the contact models an account model
rolls up are the latest published versions, compiled into its query (``compiler/accounts.py``).
``companies_of`` answers "whose companies must be rescored" for the real-time path, and
``members_of_company`` "who are this company's contacts" for explain and the API: both render
the one membership rule of ``compiler/members.py`` for DuckDB.

As of an instant after which some property changed, the SQL reads the histories: the contacts'
(``property_history``) when a contact property changed after it, the companies'
(``company_property_history``) when a company property did (``company_history_table``); scoring
now reads ``contacts`` and ``companies`` alone, as fast as without history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from sqlglot import exp

from leadscore.compiler.accounts import compile_account_model
from leadscore.compiler.columns import Catalog
from leadscore.compiler.dialects import get_dialect
from leadscore.compiler.members import company_catalog, membership
from leadscore.compiler.properties_as_of import COMPANY_SUBJECT, properties_as_of
from leadscore.errors import ModelError, ModelIssue
from leadscore.model.account_conditions import AccountCondition
from leadscore.model.account_spec import AccountModel
from leadscore.model.loader import contact_model
from leadscore.model.spec import ScoringModel
from leadscore.storage.history import COMPANIES, needs_history
from leadscore.storage.migrations_company_history import COMPANY_HISTORY
from leadscore.storage.store import ModelVersion, Store

#: (model hash, contact models' hashes, match_by_domain, columns) → parameterised account SQL
_PARAM_SQL: dict[tuple[object, ...], str] = {}
#: the same key → the SQL of each workflow ``if:`` (``workflow_conditions``)
_CONDITION_SQL: dict[tuple[object, ...], dict[int, str]] = {}


def contact_models_for(store: Store, model: AccountModel) -> tuple[dict[str, ScoringModel], tuple[str, ...]]:
    """The latest published versions of the contact models ``model`` reads, and their hashes.

    A contact model that is not published (or is an account model) is a ModelError: the account
    model cannot score without it.
    """
    names = model.contact_models()
    if not names:
        return {}, ()
    versions = {v.model: v for v in store.latest_versions()}
    found: dict[str, ScoringModel] = {}
    hashes: list[str] = []
    for name in names:
        version = versions.get(name)
        if version is None:
            raise ModelError([ModelIssue(f"<model {model.name}>", "level", f"contact model `{name}` is not "
                                         "published", hint=f"publish it: leadscore publish models/{name}.yml")])
        found[name] = contact_model(_parsed(version), version.file or name)
        hashes.append(version.hash)
    return found, tuple(hashes)


def _parsed(version: ModelVersion) -> ScoringModel | AccountModel:
    from leadscore.engine.run import model_of  # run imports this module

    return model_of(version)


def companies_as_of_sql(store: Store, names: Sequence[str], as_of: datetime) -> str:
    """What to read in place of ``companies`` for the properties ``names`` as of ``as_of``: the
    table itself when no company property changed after ``as_of``, else a subquery of every
    company (``company_id``, ``created_at``, ``names``) with the values of then (``$``-free SQL)."""
    history = company_history_table(store, as_of)
    if history is None:
        return "companies"
    dialect = get_dialect("duckdb")
    catalog = company_catalog(dialect, "<companies as of>", store.columns("companies"), [])
    for name in names:
        catalog.contact_property(name, name)
    ctes = properties_as_of(catalog, dialect, as_of, "companies", history, None, subject=COMPANY_SUBJECT)
    if not ctes:
        return "companies"
    query = exp.select(exp.Star()).from_(ctes[-1][0])
    for name, cte in ctes:
        query = query.with_(name, as_=cte)
    return f"({query.sql(dialect='duckdb')})"


def company_history_table(store: Store, as_of: datetime) -> str | None:
    """The companies' history table when an account score as of ``as_of`` must read it (a company
    property changed after ``as_of``), else None (``engine.run.history_table`` for contacts)."""
    return COMPANY_HISTORY if needs_history(store.con, as_of, COMPANIES) else None


def _contact_history(store: Store, as_of: datetime) -> str | None:
    from leadscore.engine.run import history_table  # run imports this module

    return history_table(store, as_of)


def _columns(store: Store) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    contacts, events = store.scoring_columns()
    return store.columns("companies"), contacts, events


def account_sql(store: Store, model: AccountModel, as_of: datetime, *, company_id: str | None = None,
                detail: bool = False) -> str:
    """The DuckDB SQL of an account model for this store's columns and published contact models (on
    a store mirroring an external engine, SQL over the rows that engine computed: ``engine.mirror``)."""
    if store.scored_by is not None:
        return store.scored_by(model, as_of, company_id, detail)
    companies, contacts, events = _columns(store)
    contact_models, _ = contact_models_for(store, model)
    query = compile_account_model(model, as_of=as_of, contact_models=contact_models, company_id=company_id,
                                  detail=detail, match_by_domain=store.match_by_domain,
                                  company_columns=companies, contact_columns=contacts, event_columns=events,
                                  history_table=_contact_history(store, as_of),
                                  company_history_table=company_history_table(store, as_of))
    return query.sql(dialect="duckdb")


def account_param_sql(store: Store, version: ModelVersion, model: AccountModel, *, history: str | None = None,
                      company_history: str | None = None) -> str:
    """An account model's SQL for a list of companies (``$company_ids``), as-of bound at execution;
    with ``history`` (the property history, when a contact property changed after the as-of), the
    contacts' properties are read as of it, and with ``company_history`` the companies'.

    Cached on everything the text depends on: the version, the contact models' versions, the
    workspace's membership setting, the store's columns and the history.
    """
    companies, contacts, events = _columns(store)
    contact_models, hashes = contact_models_for(store, model)
    key = (version.hash, hashes, store.match_by_domain, tuple(companies.items()), tuple(contacts.items()),
           tuple(events.items()), history, company_history)
    sql = _PARAM_SQL.get(key)
    if sql is None:
        query = compile_account_model(model, as_of=datetime(1970, 1, 1), contact_models=contact_models, params=True,
                                      match_by_domain=store.match_by_domain, company_columns=companies,
                                      contact_columns=contacts, event_columns=events, history_table=history,
                                      company_history_table=company_history)
        sql = query.sql(dialect="duckdb")
        if len(_PARAM_SQL) >= 64:
            _PARAM_SQL.clear()
        _PARAM_SQL[key] = sql
    return sql


def workflow_conditions(store: Store, version: ModelVersion, model: AccountModel, *,
                        history: str | None = None, company_history: str | None = None) -> dict[int, str]:
    """The SQL of each workflow ``if:`` of an account model, by workflow index: ``company_id`` of the
    listed companies (``$company_ids``) for which the condition holds, as of ``$as_of``.

    ``engine.run.run_model`` asks for them in a run's compile step, so an ``if:`` this store can no
    longer compile (a contact model republished without a tier it names, say) fails that account
    model's run like its own query would (a ``ModelRunError``: quarantined, the other models score)
    instead of failing inside the workflow hook, after every model's scores are written. The
    workflow hook reads them from the cache. A ``ModelError`` names the account model and the
    workflow's ``if:`` key. With ``history`` (the property history, when a contact property changed
    after the as-of), the contacts' properties are read as of it, as ``account_param_sql`` does
    (``company_history``: the companies' too).
    """
    if not any(w.if_ is not None for w in model.workflows):
        return {}
    columns = _columns(store)
    contact_models, hashes = contact_models_for(store, model)
    key = (version.hash, hashes, store.match_by_domain, history, company_history,
           *(tuple(c.items()) for c in columns))
    found = _CONDITION_SQL.get(key)
    if found is None:
        found = _conditions(model, contact_models, store.match_by_domain, columns, (history, company_history))
        if len(_CONDITION_SQL) >= 64:
            _CONDITION_SQL.clear()
        _CONDITION_SQL[key] = found
    return found


def compile_issues(store: Store, model: AccountModel, contact_models: Mapping[str, ScoringModel]) -> list[ModelIssue]:
    """What stops ``model`` from scoring on this store with these contact models: the errors of its
    query and of its workflows' ``if:`` (none: it compiles). ``engine.publish_checks`` asks it with a
    contact model about to be published in place of the published one."""
    columns = _columns(store)
    companies, contacts, events = columns
    try:
        compile_account_model(model, as_of=datetime(1970, 1, 1), contact_models=contact_models, params=True,
                              match_by_domain=store.match_by_domain, company_columns=companies,
                              contact_columns=contacts, event_columns=events)
        _conditions(model, contact_models, store.match_by_domain, columns)
    except ModelError as exc:
        return [i for i in exc.issues if i.severity == "error"]
    return []


def _conditions(model: AccountModel, contact_models: Mapping[str, ScoringModel], match_by_domain: bool,
                columns: tuple[dict[str, str], dict[str, str], dict[str, str]],
                history: tuple[str | None, str | None] = (None, None)) -> dict[int, str]:
    return {index: _condition_sql(model, index, workflow.if_, contact_models, match_by_domain, columns, history)
            for index, workflow in enumerate(model.workflows) if workflow.if_ is not None}


def condition_account_model(model: AccountModel, cond: AccountCondition) -> AccountModel:
    """A one-rule account model (named as ``model``, with its roles) worth 1 point exactly when ``cond`` holds."""
    return AccountModel.model_validate({
        "name": model.name, "level": "account", "tiers": {"no": 0, "yes": 0.5}, "roles": model.roles,
        "groups": {_PROBE_GROUP: {"rules": [{"name": "holds", "when": cond, "points": 1}]}},
    })


_PROBE_GROUP = "condition"
_PROBE_PATH = f"groups.{_PROBE_GROUP}.rules.0.when"


def _condition_sql(model: AccountModel, index: int, cond: AccountCondition,
                   contact_models: Mapping[str, ScoringModel], match_by_domain: bool,
                   columns: tuple[dict[str, str], dict[str, str], dict[str, str]],
                   history: tuple[str | None, str | None] = (None, None)) -> str:
    """One ``if:`` compiled as a one-rule account model (contacts' and companies' properties as of
    the histories ``history`` names when given); its errors are put at ``workflows.N.if``."""
    companies, contacts, events = columns
    probe = condition_account_model(model, cond)
    try:
        query = compile_account_model(probe, as_of=datetime(1970, 1, 1), contact_models=contact_models, params=True,
                                      match_by_domain=match_by_domain, company_columns=companies,
                                      contact_columns=contacts, event_columns=events, history_table=history[0],
                                      company_history_table=history[1])
    except ModelError as exc:
        at = f"workflows.{index}.if"
        raise ModelError([replace(
            issue, path=at + issue.path[len(_PROBE_PATH):] if issue.path.startswith(_PROBE_PATH) else at,
            message=f"workflow `{model.workflows[index].name}`: {issue.message}") for issue in exc.issues]) from exc
    return f"SELECT company_id FROM ({query.sql(dialect='duckdb')}) AS cq WHERE cq.score > 0.5"


#: (model text, contact models' hashes, match_by_domain, columns) → detail SQL over ``$company_ids``
_DETAIL_SQL: dict[tuple[object, ...], str] = {}


def account_detail_sql(store: Store, model: AccountModel, as_of: datetime | None = None) -> str:
    """An account model's detail SQL (every rule's points) for ``$company_ids``, as-of bound at
    execution: what explain and the dashboard's accounts list run. Compiling an account model
    costs ~0.2 s, so the text is cached on the model (published or draft), the contact models'
    versions, the membership setting, the store's columns and the histories it reads: with
    ``as_of`` (the instant it will be bound to), those with a change after it."""
    companies, contacts, events = _columns(store)
    contact_models, hashes = contact_models_for(store, model)
    history = (None, None) if as_of is None else (_contact_history(store, as_of), company_history_table(store, as_of))
    key = (model.model_dump_json(), hashes, store.match_by_domain, tuple(companies.items()),
           tuple(contacts.items()), tuple(events.items()), history)
    sql = _DETAIL_SQL.get(key)
    if sql is None:
        query = compile_account_model(model, as_of=datetime(1970, 1, 1), contact_models=contact_models, params=True,
                                      detail=True, match_by_domain=store.match_by_domain, company_columns=companies,
                                      contact_columns=contacts, event_columns=events, history_table=history[0],
                                      company_history_table=history[1])
        sql = query.sql(dialect="duckdb")
        if len(_DETAIL_SQL) >= 64:
            _DETAIL_SQL.clear()
        _DETAIL_SQL[key] = sql
    return sql


def membership_sql(store: Store, *, as_of: datetime | None = None) -> str:
    """``contact_id, company_id`` of every contact with a company: today's, or with ``as_of`` the
    membership of then (contacts and companies existing at ``as_of``, with their ``company_id``,
    ``email`` and ``domain`` of then, from the histories when one changed after it)."""
    contacts, events = store.scoring_columns()
    dialect = get_dialect("duckdb")
    catalog = Catalog.build(dialect, "<membership>", contacts, events)
    if "company_id" not in contacts:
        return "SELECT NULL::VARCHAR AS contact_id, NULL::VARCHAR AS company_id WHERE false"
    ctes: list[tuple[str, object]] = []
    people, firms = "contacts", "companies"
    companies = company_catalog(dialect, "<membership>", store.columns("companies"), catalog.issues)
    if as_of is not None and (history := _contact_history(store, as_of)) is not None:
        found = properties_as_of(catalog, dialect, as_of, people, history, None,
                                 extra=["company_id", *(["email"] if store.match_by_domain else [])])
        ctes += found
        people = found[-1][0] if found else people
    if as_of is not None and store.match_by_domain and (history := company_history_table(store, as_of)):
        found = properties_as_of(companies, dialect, as_of, firms, history, None, subject=COMPANY_SUBJECT,
                                 extra=["domain"])
        ctes += found
        firms = found[-1][0] if found else firms
    query = membership(catalog, match_by_domain=store.match_by_domain, as_of=as_of, contacts_table=people,
                       companies_table=firms, company_dates=companies.has_created_at)
    for name, cte in ctes:
        query = query.with_(name, as_=cte)  # type: ignore[arg-type]
    return query.sql(dialect="duckdb")


def companies_of(store: Store, contact_ids: Sequence[str]) -> list[str]:
    """The companies the given contacts belong to (each once, in id order)."""
    if not contact_ids:
        return []
    rows = store.con.execute(
        f"SELECT DISTINCT company_id FROM ({membership_sql(store)}) WHERE contact_id IN (SELECT UNNEST($ids)) "
        "ORDER BY company_id", {"ids": list(contact_ids)}).fetchall()
    return [str(r[0]) for r in rows]


def company_of(store: Store, contact_id: str) -> str | None:
    """The company of one contact, or None."""
    found = companies_of(store, [contact_id])
    return found[0] if found else None


def members_of_company(store: Store, company_id: str, *, as_of: datetime | None = None) -> list[str]:
    """The contacts of a company (existing at ``as_of`` when given), in id order."""
    rows = store.con.execute(
        f"SELECT contact_id FROM ({membership_sql(store, as_of=as_of)}) WHERE company_id = ? ORDER BY contact_id",
        [company_id]).fetchall()
    return [str(r[0]) for r in rows]


def is_account(version: ModelVersion) -> bool:
    """Whether a published version scores companies (its text says ``level: account``)."""
    try:
        return isinstance(_parsed(version), AccountModel)
    except ModelError:
        return False


def contact_model_names(store: Store) -> list[str]:
    """The published models that score contacts, by name."""
    return [v.model for v in store.latest_versions() if not is_account(v)]


def account_model_names(store: Store) -> list[str]:
    """The published models that score companies, by name."""
    return [v.model for v in store.latest_versions() if is_account(v)]


__all__ = ["account_model_names", "account_param_sql", "account_sql", "companies_of", "company_of", "compile_issues",
           "condition_account_model", "contact_model_names", "contact_models_for", "is_account", "members_of_company",
           "membership_sql", "workflow_conditions"]

