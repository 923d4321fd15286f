"""The shapes of the API's requests and responses (pydantic), which FastAPI turns into OpenAPI.

Requests are strict (``extra="forbid"``): a misspelt field is a 422 naming it, not silently
dropped. Checks that need the store (is ``company_sise`` a contact property? is this value a
number for a BIGINT column?) happen in ``api/values.py`` and answer in the same 422 shape.
Segment calls are the exception: CDPs send many fields we do not use, so those models allow extras.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    PlainValidator,
    Tag,
    WithJsonSchema,
    model_validator,
)


def clean_text(value: str) -> str:
    """Reject what JSON allows but a database column should not hold."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode (lone surrogate escape)") from exc
    return value


#: Unix time in seconds reads as seconds up to this (the year 2286); milliseconds start at 10**12
#: (2001-09-09). Between the two a number is refused: 253402300800 is the year 10000 in seconds, and
#: reading it as milliseconds (1978, as pydantic does above 2e10) would store a wrong date silently.
SECONDS_BELOW = 10**10
MILLISECONDS_FROM = 10**12


def unix_time(value: Any) -> Any:
    """A JSON number as an instant (seconds or milliseconds since 1970 UTC, told apart by size)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("must be a finite number")
    if abs(value) < SECONDS_BELOW:
        seconds = float(value)
    elif MILLISECONDS_FROM <= value < SECONDS_BELOW * 1000:
        seconds = value / 1000
    else:
        raise ValueError(f"{value} is neither Unix seconds (below 10^10, up to the year 2286) nor Unix "
                         "milliseconds (10^12 to 10^13, 2001 to 2286); send ISO 8601 such as 2026-03-02T10:15:00Z")
    return datetime.fromtimestamp(seconds, UTC)


#: the instants the store accepts (years 1900 to 2200), as Unix seconds and as Unix milliseconds
_FIRST, _LAST = -2208988800, 7258118400
Instant = Annotated[datetime, BeforeValidator(unix_time), WithJsonSchema({"anyOf": [
    {"type": "string", "format": "date-time"},
    {"type": "number", "minimum": _FIRST, "maximum": _LAST},
    {"type": "number", "minimum": MILLISECONDS_FROM, "maximum": _LAST * 1000}]})]
def utc_iso(value: datetime) -> str:
    """An instant as ISO 8601 with its offset (``2026-03-02T10:15:00Z``): the store keeps naive UTC,
    and a timestamp without an offset is not the RFC 3339 ``date-time`` the OpenAPI document promises."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.isoformat().replace("+00:00", "Z")


def with_offsets(data: Any) -> Any:
    """``data`` (a response built of dicts and lists) with every datetime as ``utc_iso`` text: for
    routes whose body has no response model (explain, preview, backtest), so their timestamps carry
    their offset like every other response's."""
    if isinstance(data, datetime):
        return utc_iso(data)
    if isinstance(data, dict):
        return {k: with_offsets(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [with_offsets(v) for v in data]
    return data


#: a timestamp in a response: always with its offset (``Z``)
Timestamp = Annotated[datetime, PlainSerializer(utc_iso, return_type=str, when_used="json")]
#: what an e-mail address must look like wherever the API accepts one (events, Segment, contacts)
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"
EMAIL_MAX = 320
Text = Annotated[str, AfterValidator(clean_text)]
Id = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(clean_text)]


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("must be a finite number")
        return value
    if isinstance(value, str):
        return clean_text(value)
    raise ValueError("must be a string, number, boolean or null (not a list or object)")


#: a property value as JSON carries it; its column decides what is accepted (api/values.py)
Value = Annotated[Any, PlainValidator(_scalar), WithJsonSchema({"anyOf": [
    {"type": "string"}, {"type": "number"}, {"type": "boolean"}, {"type": "null"}]})]


class EventIn(BaseModel):
    """One thing a contact did. ``contact_id`` or ``email`` says who (a new contact is created)."""

    # the schema says what ``_who`` checks, so clients (and generated ones) see it before a 422
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "anyOf": [{"required": ["contact_id"], "properties": {"contact_id": {"type": "string"}}},
                  {"required": ["email"], "properties": {"email": {"type": "string"}}}],
        "examples": [{"event_id": "web-81723", "email": "ann@acme.com", "type": "page_view",
                      "occurred_at": "2026-03-02T10:15:00Z", "properties": {"url": "/pricing"}}]})

    event_id: Id | None = Field(None, description="Idempotency key; when absent, a hash of the event "
                                "(the id an import of the same event would get).")
    contact_id: Id | None = None
    email: Annotated[str, Field(min_length=3, max_length=EMAIL_MAX, pattern=EMAIL_PATTERN),
                     AfterValidator(clean_text)] | None = None
    type: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:\-]+$")]
    occurred_at: Instant | None = Field(None, description="ISO 8601 (naive = UTC), or a number: Unix seconds "
                                        "(below 10^10) or milliseconds (10^12 to 10^13); default: when received.")
    properties: dict[Text, Value] = Field(default_factory=dict, description="Event columns (url, campaign, "
                                          "form, ...); an unknown name is a 422.")

    @model_validator(mode="after")
    def _who(self) -> EventIn:
        if self.contact_id is None and self.email is None:
            raise ValueError("give `contact_id` or `email` to say whose event this is")
        return self


class EventBatch(BaseModel):
    """Up to ``server.max_batch_events`` (default 1,000) events, written in one transaction."""

    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] = Field(min_length=1)


def _event_or_batch(value: Any) -> str:
    return "event_batch" if isinstance(value, dict) and "events" in value else "single_event"


EventsBody = Annotated[
    Annotated[EventIn, Tag("single_event")] | Annotated[EventBatch, Tag("event_batch")],
    Discriminator(_event_or_batch),
]


class EventResult(BaseModel):
    event_id: str
    contact_id: str
    status: Literal["created", "duplicate"]


class ScoreOut(BaseModel):
    model: str
    model_version: int
    score: float
    tier: str
    grade: str | None
    groups: dict[str, float]
    as_of: Timestamp
    computed_at: Timestamp


class EventsResponse(BaseModel):
    accepted: int = Field(description="events written")
    duplicates: int = Field(description="events already stored (same event_id): nothing changed")
    events: list[EventResult]
    rescored: list[str] = Field(description="contacts rescored in the same transaction")
    scores: list[ScoreOut] | None = Field(None, description="the contact's scores after the write, "
                                          "when the request concerned one contact")


class PredictionOut(BaseModel):
    model: str | None
    model_version: int | None
    probability: float | None
    priority: str | None
    factors: Any
    as_of: Timestamp | None
    computed_at: Timestamp | None


class ContactOut(BaseModel):
    contact_id: str
    properties: dict[str, Any]
    scores: list[ScoreOut]
    prediction: PredictionOut | None
    created: bool | None = Field(None, description="PUT only: whether the contact was new")


class HistoryRow(BaseModel):
    model: str
    model_version: int
    score: float
    tier: str
    prev_score: float | None
    prev_tier: str | None
    as_of: Timestamp
    computed_at: Timestamp
    run_id: str


class PropertyChange(BaseModel):
    property: str
    old_value: str | None = Field(description="the value before (as text); before a contact's first "
                                  "change of it, the value assumed since its created_at")
    new_value: str | None = Field(description="the value from `changed_at` on (as text)")
    changed_at: Timestamp = Field(description="when the new value became true")
    source: str = Field(description="import:FILE, history:FILE, api, segment, workflow:MODEL/NAME, ...")
    run_id: str | None = Field(None, description="the import or score run that recorded it")
    recorded_at: Timestamp = Field(description="when leadscore recorded it")


class HistoryOut(BaseModel):
    contact_id: str
    scores: list[HistoryRow] = Field(description="every change of score or tier, newest first")
    property_changes: list[PropertyChange] = Field(description="every recorded change of a contact "
                                                   "property, newest first (docs/model-reference.md)")


class ScoreRow(BaseModel):
    contact_id: str
    score: float
    tier: str
    grade: str | None
    model_version: int
    as_of: Timestamp


class ScoresPage(BaseModel):
    model: str
    items: list[ScoreRow]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class AccountScoreOut(BaseModel):
    model: str
    model_version: int
    score: float
    tier: str
    grade: str | None
    groups: dict[str, float]
    as_of: datetime
    computed_at: datetime


class AccountPredictionOut(BaseModel):
    model: str
    model_version: int
    probability: float = Field(description="calibrated chance of a won deal within the model's horizon")
    priority: str = Field(description="very high / high / medium / low, by rank among the companies")
    positive: list[str] = Field(description="what raised the probability most, in words")
    negative: list[str] = Field(description="what lowered it most, in words")
    as_of: datetime
    computed_at: datetime


class CompanyOut(BaseModel):
    company_id: str
    properties: dict[str, Any]
    scores: list[AccountScoreOut] = Field(description="the company's score under each account model")
    predictions: list[AccountPredictionOut] = Field(
        [], description="its prediction under each predictive model of companies (`leadscore predict --level account`)")
    contacts: list[dict[str, Any]] = Field(description="its contacts with their scores, best first")
    created: bool | None = Field(None, description="PUT only: whether the company was new")


class AccountRowOut(BaseModel):
    company_id: str
    name: str | None
    domain: str | None
    owner: str | None
    score: float
    tier: str
    grade: str | None
    model_version: int
    as_of: datetime
    probability: float | None = Field(None, description="predicted chance of a won deal (the model of companies "
                                                        "predicted last); null before `predict --level account`")
    priority: str | None = Field(None, description="its priority bucket: very high / high / medium / low")


class AccountsPage(BaseModel):
    model: str
    items: list[AccountRowOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact_ids: list[Id] | None = Field(None, max_length=100_000, description="default: everyone")
    models: list[Id] | None = Field(None, description="default: every published model")
    as_of: datetime | None = Field(None, description="default: now; a future moment needs `allow_future`")
    allow_future: bool = Field(False, description="store scores as of a future `as_of` (refused otherwise: events "
                                                  "would count as older than they are)")


class RunOut(BaseModel):
    run_id: str
    model: str
    model_version: int
    as_of: Timestamp
    scope: str
    contacts: int
    changed: int
    crossings: int
    seconds: float
    tier_counts: dict[str, int]


class ListPage(BaseModel):
    name: str
    members: list[str]
    next_cursor: str | None


class TasksPage(BaseModel):
    tasks: list[dict[str, Any]]
    next_cursor: str | None


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Literal["read", "write", "admin"]
    name: Annotated[str, Field(max_length=200), AfterValidator(clean_text)] | None = None


class KeyOut(BaseModel):
    key_id: str
    name: str | None
    scope: str
    created_at: Timestamp
    revoked_at: Timestamp | None
    last_used_at: Timestamp | None


class KeyCreated(KeyOut):
    key: str = Field(description="the key itself: shown once, store it now")


class SegmentCall(BaseModel):
    """A Segment spec call. track / identify / page / screen are used; group and alias are
    accepted and ignored (a CDP forwarding everything must not get errors it would retry); fields
    we do not use are accepted and ignored too."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    type: Literal["track", "identify", "page", "screen", "group", "alias"]
    messageId: Id | None = None
    userId: Id | None = None
    anonymousId: Id | None = None
    event: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(clean_text)] | None = None
    name: Text | None = None
    timestamp: Instant | None = None
    properties: dict[Text, Any] = Field(default_factory=dict)
    traits: dict[Text, Any] = Field(default_factory=dict)
    context: dict[Text, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _complete(self) -> SegmentCall:
        if self.type == "track" and not self.event:
            raise ValueError("a track call needs `event` (its name)")
        return self


class SegmentBatch(BaseModel):
    model_config = ConfigDict(extra="allow")
    batch: list[SegmentCall] = Field(min_length=1)


def _segment_kind(value: Any) -> str:
    return "call_batch" if isinstance(value, dict) and "batch" in value else "single_call"


SegmentBody = Annotated[
    Annotated[SegmentCall, Tag("single_call")] | Annotated[SegmentBatch, Tag("call_batch")],
    Discriminator(_segment_kind),
]


class SegmentResponse(BaseModel):
    success: bool = True
    accepted: int
    duplicates: int
    identified: int = Field(description="identify calls applied (contact properties upserted)")
    ignored: int = Field(0, description="group and alias calls (accepted, not used)")
