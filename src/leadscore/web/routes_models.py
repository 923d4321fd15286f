"""The model editor (marketing and admins): every model and version, the YAML with live validation,
try on leads, the distribution, a backtest beside the published model, save a draft, publish.

The editor is one form around the text. Its buttons post the text to one address each; the page's
script sends "try", "distribution" and "backtest" in the background and shows the answer in its
tab, and without the script the same addresses answer with the whole editor page, the text kept.
Checks are ``leadscore validate``'s (``api.routes_models.checked_text``: line, key path, hint).
Publishing asks first, stating how many contacts change tier (as of now), then records the version and
rescores everyone as of now in one transaction through the server's writer (``api.routes_models.publish_and_rescore``,
which runs ``leadscore.scoring`` through the runtime's ``rescore_all``; a model the engine cannot score
is not published).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from markupsafe import Markup

from leadscore.api.routes_models import InvalidModelText, checked_text, publish_and_rescore
from leadscore.api.writer import WriteContext
from leadscore.engine.preview import preview_contacts
from leadscore.engine.run import RunResult, last_as_of
from leadscore.errors import LeadscoreError, ModelIssue, NotFoundError
from leadscore.model.loader import LoadedModel
from leadscore.reports.backtest import run_backtest
from leadscore.reports.frame import Target, published_target
from leadscore.storage.store import ModelVersion, Store
from leadscore.timeutil import parse_as_of, utcnow
from leadscore.web.auth import MarketingUser, PostedForm
from leadscore.web.drafts import check_slot, discard_draft, save_draft, saved_draft, saved_drafts
from leadscore.web.model_preview import distribution, when_for
from leadscore.web.publish_guard import environment_refusals
from leadscore.web.render import tier_palette
from leadscore.web.routes_leads import lead_url
from leadscore.web.routing import Forbidden, WebRoute, field, page, redirect, wants_fragment, web, write
from leadscore.workspace import example_model_text

router = APIRouter(route_class=WebRoute, include_in_schema=False)

HORIZONS = ("30d", "60d", "90d", "180d", "365d")
LABEL_NAME = re.compile(r"convert|won|customer|closed", re.IGNORECASE)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _issue(i: ModelIssue) -> dict[str, Any]:
    return {"severity": i.severity, "line": i.line, "path": i.path, "message": i.message, "hint": i.hint}


def check(store: Store, text: str, slot: str) -> tuple[LoadedModel | None, list[ModelIssue]]:
    """The parsed model (None if it has errors) and every issue, as ``leadscore validate`` finds them."""
    try:
        loaded, warnings = checked_text(store, text, f"models/{slot}.yml")
    except InvalidModelText as exc:
        return None, exc.issues
    return loaded, warnings


def label_options(store: Store) -> list[str]:
    """Contact properties a backtest can use as its outcome: yes/no columns and conversion-like names."""
    return [c for c, kind in store.columns("contacts").items()
            if kind == "boolean" or (LABEL_NAME.search(c) and kind in ("number", "string"))]


def _versions(store: Store) -> dict[str, list[dict[str, Any]]]:
    rows = store.con.execute("""SELECT model, version, file, published_at, published_by FROM model_versions
                                ORDER BY model, version DESC""").fetchall()
    out: dict[str, list[dict[str, Any]]] = {}
    for model, version, file, at, by in rows:
        out.setdefault(model, []).append({"version": version, "file": file, "published_at": at, "published_by": by})
    return out


@router.get("/models")
def models(request: Request, _user: MarketingUser) -> Response:
    store = web(request).rt.reader()
    versions = _versions(store)
    drafts = saved_drafts(store)
    names = sorted(set(versions) | set(drafts))
    counts = dict(store.con.execute("SELECT model, count(*) FROM scores GROUP BY model").fetchall())
    files = [p.name for p in web(request).rt.ws.model_files() if p.stem not in names]
    return page(request, "models.html", section="models", names=names, versions=versions, drafts=drafts,
                counts=counts, last_as_of={n: last_as_of(store, n) for n in versions}, files=files)


@router.get("/models/{slot}/versions/{version}")
def model_version(request: Request, _user: MarketingUser, slot: str, version: int) -> Response:
    store = web(request).rt.reader()
    found = store.get_version(check_slot(slot), version)
    return page(request, "model_version.html", section="models", v=found)


def _editor(request: Request, store: Store, slot: str, text: str, *, status: int = 200,
            tab: str = "try", result: Markup | None = None, leads: list[str] | None = None,
            as_of: str = "", horizon: str = "90d", label: str = "", error: str | None = None,
            refused: list[ModelIssue] | None = None) -> Response:
    loaded, issues = check(store, text, slot)
    issues = sorted([*(refused or []), *issues], key=lambda i: i.line or 0)
    published = store.latest_version(slot)
    when = last_as_of(store, slot)
    return page(request, "model_edit.html", status=status, section="models", slot=slot, text=text,
                issues=[_issue(i) for i in issues], valid=loaded is not None and not refused,
                lines=text.count("\n") + 1, bad_lines={i.line for i in issues if i.line and i.severity == "error"},
                published=published, draft=saved_draft(store, slot), tab=tab, result=result, leads=leads or ["", ""],
                as_of=as_of or (f"{when:%Y-%m-%d}" if when else ""), horizon=horizon, horizons=HORIZONS,
                label=label, labels=label_options(store), error=error)


@router.get("/models/new")
def new_model(request: Request, _user: MarketingUser,
              name: Annotated[str, Query(max_length=100)] = "new_model",
              file: Annotated[str | None, Query(max_length=300)] = None) -> Response:
    """The editor on the commented example, or on a model file of the workspace (``models/*.yml``)."""
    state = web(request)
    if file is not None:
        found = {p.name: p for p in state.rt.ws.model_files()}
        if file not in found:  # only a name from the listing: never a path
            raise NotFoundError(f"no model file `{file}` in {state.rt.ws.settings.models_dir}/")
        return _editor(request, state.rt.reader(), check_slot(found[file].stem), found[file].read_text("utf-8"))
    slot = check_slot(name)
    text = re.sub(r"(?m)^name: *\S+", f"name: {slot}", example_model_text(), count=1)
    return _editor(request, state.rt.reader(), slot, text)


@router.get("/models/{slot}/edit")
def edit_model(request: Request, _user: MarketingUser, slot: str,
               from_version: Annotated[int | None, Query(ge=1)] = None) -> Response:
    """The editor on the saved draft, else the latest published text (or a chosen version)."""
    store = web(request).rt.reader()
    check_slot(slot)
    draft = saved_draft(store, slot)
    if from_version is not None:
        text = store.get_version(slot, from_version).text
    elif draft is not None:
        text = draft.text
    else:
        latest = store.latest_version(slot)
        if latest is None:
            raise NotFoundError(f"no model `{slot}` (no published version and no saved draft); start one from "
                                "Models → New model")
        text = latest.text
    return _editor(request, store, slot, text)


@router.post("/models/{slot}/edit")
def edit_posted(request: Request, _user: MarketingUser, form: PostedForm, slot: str) -> Response:
    """The editor on text sent back from another step (the publish confirmation), as it was typed."""
    return _editor(request, web(request).rt.reader(), check_slot(slot), field(form, "text"))


@router.post("/models/validate")
async def validate(request: Request, _user: MarketingUser, form: PostedForm) -> Response:
    """The editor's live check: every issue with its line, as JSON."""
    text, slot = field(form, "text"), field(form, "slot") or "draft"
    state = web(request)  # the cursor is taken on the worker thread: each thread reads through its own
    loaded, issues = await run_in_threadpool(lambda: check(state.rt.reader(), text, slot))
    return JSONResponse({"valid": loaded is not None, "model": loaded.model.name if loaded else None,
                         "issues": [_issue(i) for i in issues]})


def _result(request: Request, store: Store, slot: str, form: dict[str, list[str]], tab: str, template: str,
            status: int = 200, **context: Any) -> Response:
    """The tab's answer: a fragment for the page's script, else the editor with it in place."""
    if wants_fragment(request):
        return page(request, template, status=status, slot=slot, **context)
    html = Markup(web(request).env.get_template(template).render(request=request, slot=slot, csrf="", **context))  # noqa: S704 - autoescaped template
    return _editor(request, store, slot, field(form, "text"), status=status, tab=tab, result=html,
                   leads=form.get("lead", ["", ""]), as_of=field(form, "bt_as_of"), horizon=field(form, "horizon"),
                   label=field(form, "label"))


def _valid_draft(request: Request, form: dict[str, list[str]], slot: str, tab: str
                 ) -> tuple[Store, LoadedModel | None, Response]:
    """The store and the posted draft; when it does not validate, None and the answer listing its errors."""
    store = web(request).rt.reader()
    check_slot(slot)
    loaded, issues = check(store, field(form, "text"), slot)
    refused = _result(request, store, slot, form, tab, "partials/invalid.html", status=422,
                      issues=[_issue(i) for i in issues if i.severity == "error"]) if loaded is None else Response()
    return store, loaded, refused


def _as_of(form: dict[str, list[str]], name: str = "as_of") -> datetime | None:
    text = field(form, name).strip()
    return parse_as_of(text) if text else None


@router.post("/models/{slot}/try")
def try_on_leads(request: Request, _user: MarketingUser, form: PostedForm, slot: str) -> Response:
    store, loaded, refused = _valid_draft(request, form, slot, "try")
    if loaded is None:
        return refused
    ids = [i.strip() for i in form.get("lead", []) if i.strip()][:2]
    if not ids:
        return _result(request, store, slot, form, "try", "partials/message.html", status=422,
                       message="Pick one or two leads to try the draft on (search by name, e-mail or id).")
    try:
        previews = preview_contacts(store, loaded, ids, as_of=when_for(store, loaded.model.name, _as_of(form)))
    except LeadscoreError as exc:
        return _result(request, store, slot, form, "try", "partials/message.html", status=422, message=str(exc))
    tiers = {k: float(v) for k, v in loaded.model.tiers.items()}
    names = dict(store.con.execute("SELECT contact_id, concat_ws(' ', first_name, last_name) FROM contacts "
                                   "WHERE contact_id IN (SELECT unnest($i))", {"i": ids}).fetchall())
    return _result(request, store, slot, form, "try", "partials/try.html", previews=previews,
                   palette=tier_palette(tiers), names=names, lead_url=lead_url)


@router.post("/models/{slot}/distribution")
def draft_distribution(request: Request, _user: MarketingUser, form: PostedForm, slot: str) -> Response:
    store, loaded, refused = _valid_draft(request, form, slot, "distribution")
    if loaded is None:
        return refused
    d = distribution(store, loaded, as_of=_as_of(form))
    return _result(request, store, slot, form, "distribution", "partials/distribution.html", d=d, lead_url=lead_url)


@router.post("/models/{slot}/backtest")
def draft_backtest(request: Request, _user: MarketingUser, form: PostedForm, slot: str) -> Response:
    store, loaded, refused = _valid_draft(request, form, slot, "backtest")
    if loaded is None:
        return refused
    horizon = field(form, "horizon") if field(form, "horizon") in HORIZONS else "90d"
    label = field(form, "label") or None
    draft = Target(loaded.model, "draft", loaded.text)
    try:
        when = _as_of(form, "bt_as_of")
        if store.latest_version(loaded.model.name) is not None:
            run_ = run_backtest(store, draft, as_of=when, horizon=horizon, label=label,
                                vs=published_target(store, loaded.model.name))
        else:
            run_ = run_backtest(store, draft, as_of=when, horizon=horizon, label=label)
    except LeadscoreError as exc:
        return _result(request, store, slot, form, "backtest", "partials/message.html", status=422, message=str(exc))
    palette = tier_palette({k: float(v) for k, v in loaded.model.tiers.items()})
    return _result(request, store, slot, form, "backtest", "partials/backtest.html", run=run_, palette=palette)


@router.post("/models/{slot}/draft")
async def save(request: Request, session: MarketingUser, form: PostedForm, slot: str) -> Response:
    """Keep the text as this model's draft (it need not validate yet); nothing is scored."""
    check_slot(slot)
    text = field(form, "text")
    state = web(request)
    try:
        await write(request, lambda ctx: save_draft(ctx.store, slot, text, session.user.username))
    except LeadscoreError as exc:
        message = str(exc)
        return await run_in_threadpool(lambda: _editor(request, state.rt.reader(), slot, text, status=422,
                                                       error=message))
    return redirect(f"/models/{slot}/edit", flash=f"Draft of {slot} saved. It is not scored until you publish it.")


@router.post("/models/{slot}/publish")
def confirm_publish(request: Request, session: MarketingUser, form: PostedForm, slot: str) -> Response:
    """Step one of publishing: what would change (tier counts and moves), and a button to confirm."""
    store = web(request).rt.reader()
    check_slot(slot)
    text = field(form, "text")
    refused = environment_refusals(store, session.user, text, slot)
    if refused:
        return _editor(request, store, slot, text, status=422, refused=refused,
                       error="Only an admin may publish a model that reads the server's environment "
                             "(`${...}`); nothing was published.")
    loaded, issues = check(store, text, slot)
    if loaded is None:
        return _editor(request, store, slot, text, status=422,
                       error="Fix the errors below before publishing; nothing was published.")
    # as of now, as publishing will score: the latest run's as-of would leave out (and the staged
    # rescoring drop the scores of) every contact created since
    d = distribution(store, loaded, as_of=utcnow())
    latest = store.latest_version(loaded.model.name)
    same = latest is not None and latest.hash == loaded.hash
    return page(request, "publish_confirm.html", section="models", slot=slot, text=text, hash=text_hash(text),
                d=d, latest=latest, same=same, model=loaded.model.name,
                warnings=[_issue(i) for i in issues])


@router.post("/models/{slot}/publish/confirmed")
async def publish(request: Request, session: MarketingUser, form: PostedForm, slot: str) -> Response:
    """Step two: record the version and rescore everyone with it, in one transaction."""
    check_slot(slot)
    text = field(form, "text")
    if text_hash(text) != field(form, "hash"):
        raise LeadscoreError("the text changed after the confirmation was shown; publish again from the editor")
    refused = environment_refusals(web(request).rt.reader(), session.user, text, slot)
    if refused:
        raise Forbidden(f"{refused[0].message} (line {refused[0].line}); nothing was published.")
    state = web(request)
    loaded, _issues = await run_in_threadpool(lambda: check(state.rt.reader(), text, slot))
    if loaded is None:
        raise LeadscoreError("the model does not validate any more (the store's columns changed?); nothing was "
                             "published")
    # ${VAR} in the text (an admin's, or kept from one: publish_guard) is filled from the server's environment only
    # now, in a workflow's webhook and e-mail fields, as `leadscore publish` does
    environment_loaded, _ = await run_in_threadpool(
        lambda: checked_text(state.rt.reader(), text, f"models/{slot}.yml", environment=True))

    def job(ctx: WriteContext) -> tuple[ModelVersion, bool, list[RunResult]]:
        # as of now, as `POST /v1/models` does (never a time from the form: an earlier instant would
        # treat the contacts created since as not existing yet, and drop their scores)
        done = publish_and_rescore(state.rt, ctx.store, environment_loaded, f"models/{slot}.yml",
                                   published_by=session.user.username)
        discard_draft(ctx.store, slot)
        return done

    try:
        version, new, runs = await write(request, job, groupable=False)
    except InvalidModelText as exc:  # the engine could not score it: the transaction rolled back
        raise LeadscoreError("Nothing was published. " + " ".join(i.message for i in exc.issues)) from exc
    if not new:
        message = f"{version.model} v{version.version} already has this text: nothing published, nothing rescored."
    else:
        changed = sum(r.crossings for r in runs)
        scored = sum(r.contacts for r in runs)
        message = (f"Published {version.model} v{version.version}: {scored:,} contacts rescored, "
                   f"{changed:,} changed tier.")
    return redirect(f"/models/{version.model}/edit" if version.model == slot else "/models", flash=message)

