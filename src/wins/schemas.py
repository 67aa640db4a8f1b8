"""Request and response bodies of the REST API (one module: they are small and shared across domains; past 400
lines since the settings, display configuration and device status got declared schemas, which still belong with
the bodies that carry them).

Each response payload is declared once, here; the domains build it with `fields_of` instead of restating it."""

from __future__ import annotations

import base64
import binascii
import functools
import io
import logging
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from wins.enums import DeviceKind, Role
from wins.errors import ValidationFailed
from wins.printing.printers import NETWORK_URL_MAX, PrinterUrlError, network_printer_url

logger = logging.getLogger(__name__)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def fields_of(schema: type[BaseModel], obj: object, **computed: Any) -> dict[str, Any]:
    """`obj` as the payload `schema` declares: each of the schema's fields, in the schema's order, from `computed`
    when given there, else the attribute of that name. The shape lives in the schema only; the values are our own
    rows, so nothing is validated (this runs for every event and screen refresh)."""
    return {name: computed[name] if name in computed else getattr(obj, name) for name in schema.model_fields}


# -- building blocks ------------------------------------------------------------------------------------

# Control characters have no place in names or slip text, PostgreSQL cannot store U+0000, and a lone surrogate
# (JSON allows "\ud800") cannot even be encoded as UTF-8. Tab and line breaks stay allowed.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (such as U+0000) or lone surrogates")
    return value


Text = Annotated[str, AfterValidator(_no_control)]
# Ids in bodies: the columns are 32-bit on PostgreSQL, so a bigger number can name nothing.
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]
LanguageTag = Annotated[str, Field(min_length=2, max_length=8, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,4})?$")]


def _printer_url(value: str) -> str:
    try:
        return network_printer_url(value)
    except PrinterUrlError as exc:
        raise ValueError(exc.message) from None


PrinterUrl = Annotated[str, Field(max_length=NETWORK_URL_MAX), AfterValidator(_printer_url)]

LOGO_MAX_BYTES = 256 * 1024
LOGO_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}  # no SVG: it can carry script
_LOGO_URL = re.compile(r"data:(image/(?:png|jpeg|webp));base64,([A-Za-z0-9+/]*={0,2})")


@functools.lru_cache(maxsize=8)  # settings are read on many pages; the same logo is checked once
def _logo(value: str) -> str:
    """A picture in a data: URL, checked for what it really is (the declared type must match the bytes)."""
    match = _LOGO_URL.fullmatch(value)
    if match is None:
        raise ValueError("must be a PNG, JPEG or WebP picture as a data: URL (data:image/png;base64,…)")
    try:
        data = base64.b64decode(match[2], validate=True)
    except binascii.Error:
        raise ValueError("is not valid base64") from None
    if len(data) > LOGO_MAX_BYTES:
        raise ValueError(f"is too large; keep the picture under {LOGO_MAX_BYTES // 1024} KB")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=list(LOGO_FORMATS.values())) as image:
            found = image.format
            image.verify()
    except Exception:  # Pillow raises many kinds (OSError, SyntaxError, bomb warnings …) for a bad picture
        raise ValueError("is not a readable PNG, JPEG or WebP picture") from None
    if found != LOGO_FORMATS[match[1]]:
        raise ValueError(f"says {match[1]} but the picture is {found}")
    return value


LogoUrl = Annotated[str, Field(max_length=(LOGO_MAX_BYTES + 2) // 3 * 4 + 30), AfterValidator(_logo)]

# Settings keys that would name a file on the server: refused over HTTP (the administrator sets those in the
# server's environment).
_PATH_LIKE = re.compile(r"(path|dir|file|filename|directory)$", re.IGNORECASE)


class StoredJson(BaseModel):
    """A JSON column with a declared shape: exact types (no "6" for 6), no unknown keys."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _no_paths(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if isinstance(key, str) and key not in cls.model_fields and _PATH_LIKE.search(key):
                    raise ValueError(
                        f"{key!r} names a file on the server; paths cannot be set over HTTP (the administrator "
                        "sets them in the server's configuration)"
                    )
        return data


class PriorityCategory(StoredJson):
    """One named priority category (pregnant, disability, over 75 …) of the branch setting `priority_categories`
    (issue 18: offered on kiosks whose configuration has `allow_priority`)."""

    key: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_-]+$", description="Stable identifier")
    # A plain label, or one per language code ({"en": "Pregnant", "fr": "Enceinte"}).
    label: Text | dict[LanguageTag, Text] = Field(description="Shown after 'I need priority'")
    weight: int = Field(0, ge=-100, le=100, description="Extra ordering weight (reserved for issue 16)")
    on_kiosk: bool = Field(True, description="Offered on the kiosk (else staff-only)")


class BranchSettings(StoredJson):
    """A branch's settings. In a PATCH, the keys given replace the stored ones (`null` removes the logo or the
    printer)."""

    slip_text: Text = Field("Thank you for your patience.", max_length=500, description="Printed on each slip")
    kiosk_languages: list[LanguageTag] = Field(
        default_factory=lambda: ["en", "fr"], min_length=1, max_length=20, description="Offered on the kiosks"
    )
    languages: list[LanguageTag] = Field(
        default_factory=lambda: ["en"], min_length=1, max_length=10, description="Display announcement languages"
    )
    logo: LogoUrl | None = Field(None, description=f"PNG, JPEG or WebP data: URL, up to {LOGO_MAX_BYTES // 1024} KB")
    printer_url: PrinterUrl | None = Field(
        None,
        description="Network printer for reprints, tcp://HOST:PORT; other kinds only through WINS_PRINTER_URL",
    )
    priority_categories: list[PriorityCategory] = Field(
        default_factory=list, max_length=20, description="Named priority categories (see PriorityCategory)"
    )
    remote_join: bool = Field(True, description="Customers may take a ticket from their phone (/join)")
    join_key_required: bool = Field(
        False, description="The /join page needs the rotating key shown as a QR code on the display board"
    )
    push_available: bool = Field(
        False,
        description="This site reaches the internet, so phones may ask for Web Push notifications (they travel "
        "through the browser vendor's push service). Off: the tracking page says notifications are unavailable.",
    )


class DeviceConfig(StoredJson):
    """What a device is set up to do: display filters and look (displays), priority tickets (kiosks)."""

    services: list[Id] = Field(default_factory=list, max_length=100, description="Service ids shown; [] = all")
    counters: list[Id] = Field(default_factory=list, max_length=100, description="Counter ids shown; [] = all")
    layout: Literal["calls", "counters"] = "calls"
    history: int = Field(6, ge=1, le=12, description="Recent calls listed")
    languages: list[LanguageTag] = Field(default_factory=list, max_length=10, description="[] = the branch's")
    speech: bool = True
    title: Text = Field("", max_length=80, description="Heading; empty = the branch name")
    allow_priority: bool = Field(False, description="Kiosk: may issue priority tickets")
    # The web kiosk (/kiosk) on a tablet; the Kivy kiosk has these in its own TOML file.
    default_language: LanguageTag | None = Field(None, description="Web kiosk: each customer starts in this")
    idle_timeout_seconds: int | None = Field(None, ge=5, le=3600, description="Web kiosk: back to start after")
    result_seconds: int | None = Field(None, ge=3, le=600, description="Web kiosk: the ticket stays this long")


StatusWord = Annotated[str, Field(max_length=32, pattern=r"^[a-z0-9_]*$")]


class DeviceStatusReport(StoredJson):
    """A device's health as it reports it (the kiosk: its printer). Shown to staff, so small and plain."""

    printer: StatusWord | None = Field(None, description="online, offline, paper_out, cover_open, error, unknown …")
    printer_message: Text | None = Field(None, max_length=500)
    paper_low: bool | None = None
    spooled_slips: int | None = Field(None, ge=0, le=1_000_000)
    screen: StatusWord | None = None
    # Set by the server (POST /devices/me/help), cleared by a staff acknowledge; a report keeps it.
    help_requested_at: str | None = Field(None, max_length=40, description="A customer asked for help (ISO time)")


M = TypeVar("M", bound=BaseModel)


def describe(exc: ValidationError) -> str:
    """A pydantic error in one sentence for people ("history: Input should be less than or equal to 12")."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def validated(model: type[M], data: Any) -> M:
    """`model` from `data`, or ValidationFailed with the reasons (services and web forms use this)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(describe(exc)) from None


_warned: set[tuple[str, frozenset[str]]] = set()


def read_stored(model: type[M], raw: Any, *, what: str) -> M:
    """Stored JSON → `model`, never failing: a value that does not validate (written before the schema
    existed, or by hand) falls back to that field's default, with a warning logged once per process."""
    data = dict(raw) if isinstance(raw, dict) else {}
    try:
        return model.model_validate(data)
    except ValidationError:
        pass
    dropped = {str(key) for key in data if key not in model.model_fields}
    data = {key: value for key, value in data.items() if key in model.model_fields}
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        bad = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        dropped |= bad
        data = {key: value for key, value in data.items() if key not in bad}
        try:
            result = model.model_validate(data)
        except ValidationError:
            dropped |= set(data)
            result = model.model_validate({})
    signature = (what, frozenset(dropped))
    if signature not in _warned:
        _warned.add(signature)
        logger.warning("%s: ignoring stored values that are not valid (defaults used): %s", what, sorted(dropped))
    return result


class ErrorBody(BaseModel):
    detail: str | list[Any]
    code: str


class TokenPublic(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    role: Role
    username: str


class BranchPublic(BaseModel):
    id: int
    name: str
    timezone: str
    day_rollover_hour: int
    settings: BranchSettings


class BranchUpdate(Strict):
    name: Text | None = Field(None, min_length=1, max_length=120)
    timezone: Text | None = Field(None, max_length=64)
    day_rollover_hour: int | None = Field(None, ge=0, le=23)
    settings: BranchSettings | None = Field(None, description="Only the keys given change")


class ServicePublic(BaseModel):
    id: int
    name: str
    prefix: str
    colour: str
    active: bool
    priority_weight: int
    sort_order: int


class ServiceCreate(Strict):
    name: Text = Field(min_length=1, max_length=80)
    prefix: Text = Field(min_length=1, max_length=3, description="1–3 letters that start each ticket number")
    colour: str = Field("#1f6feb", pattern=r"^#[0-9a-fA-F]{6}$")
    active: bool = True
    priority_weight: int = Field(0, ge=-100, le=100)
    sort_order: int = Field(0, ge=-10000, le=10000)


class ServiceUpdate(Strict):
    name: Text | None = Field(None, min_length=1, max_length=80)
    prefix: Text | None = Field(None, min_length=1, max_length=3)
    colour: str | None = Field(None, pattern=r"^#[0-9a-fA-F]{6}$")
    active: bool | None = None
    priority_weight: int | None = Field(None, ge=-100, le=100)
    sort_order: int | None = Field(None, ge=-10000, le=10000)


class CounterPublic(BaseModel):
    id: int
    name: str
    active: bool
    service_ids: list[int]
    is_open: bool
    staff_id: int | None
    staff_name: str | None


class CounterCreate(Strict):
    name: Text = Field(min_length=1, max_length=40)
    service_ids: list[Id] = Field(
        default_factory=list, max_length=100, description="Services this counter calls, in the order it takes them"
    )


class CounterUpdate(Strict):
    name: Text | None = Field(None, min_length=1, max_length=40)
    active: bool | None = None
    service_ids: list[Id] | None = Field(None, max_length=100)


class TicketCreate(Strict):
    service_id: int = Field(ge=1, le=2**31 - 1)
    priority: bool = False
    language: str | None = Field(
        None,
        min_length=2,
        max_length=8,
        pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,4})?$",
        description="Language chosen at the kiosk (a language tag such as `en` or `pt-BR`)",
    )


class TicketTransfer(Strict):
    service_id: int = Field(ge=1, le=2**31 - 1)
    to_end: bool = Field(False, description="Join the back of the new queue instead of keeping the place")


class TicketPublic(BaseModel):
    id: int
    number: str
    status: str
    service_id: int
    service_name: str | None
    priority: bool
    counter_id: int | None
    counter_name: str | None
    call_count: int
    language: str | None
    issued_at: str
    queue_at: str
    called_at: str | None
    serving_at: str | None
    finished_at: str | None
    business_day: str
    position: int = Field(description="1 = next to be called; 0 when not waiting")
    people_ahead: int
    estimated_wait_seconds: int
    estimated_wait_range: list[int]
    tracking_token: str
    tracking_url: str
    staff_id: int | None
    transfer_count: int


class TicketTracking(BaseModel):
    """What the customer's phone sees: no staff names, no other customers."""

    number: str
    status: str
    service_name: str | None
    counter_name: str | None
    position: int
    people_ahead: int
    estimated_wait_seconds: int
    estimated_wait_range: list[int]
    issued_at: str
    called_at: str | None


class StaffPublic(BaseModel):
    id: int
    username: str
    full_name: str
    role: Role
    active: bool
    last_counter_id: int | None


class StaffCreate(Strict):
    username: Text = Field(min_length=2, max_length=64)
    password: str = Field(min_length=8, max_length=256)
    role: Role = Role.staff
    full_name: Text = Field("", max_length=120)


class StaffUpdate(Strict):
    password: str | None = Field(None, min_length=8, max_length=256)
    role: Role | None = None
    full_name: Text | None = Field(None, max_length=120)
    active: bool | None = None


class DevicePublic(BaseModel):
    id: int
    name: str
    kind: DeviceKind
    token_hint: str
    revoked: bool
    status: dict[str, Any] = Field(description="The last DeviceStatusReport (keys reported only)")
    config: DeviceConfig
    last_seen_at: str | None


class DeviceCreate(Strict):
    name: Text = Field(min_length=1, max_length=80)
    kind: DeviceKind
    config: DeviceConfig = Field(default_factory=DeviceConfig)


class DeviceWithToken(DevicePublic):
    token: str = Field(description="Shown once: store it in the device's configuration")


class DeviceUpdate(Strict):
    name: Text | None = Field(None, min_length=1, max_length=80)
    config: DeviceConfig | None = Field(None, description="Only the keys given change")


class DeviceStatus(Strict):
    status: DeviceStatusReport = Field(description="e.g. {'printer': 'paper_out'}")


class EventPublic(BaseModel):
    id: int
    type: str
    at: str
    branch_id: int | None
    data: dict[str, Any]


class EventBatch(BaseModel):
    events: list[EventPublic]
    last_id: int = Field(description="Pass as `since` on the next call")


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded"]
    database: str
    database_ok: bool
    event_stream: Literal["ok", "stalled", "stopped"]
    version: str
    last_event_id: int | None


# -- webhooks (wins.webhooks) ---------------------------------------------------------------------------

WebhookUrl = Annotated[str, Field(min_length=8, max_length=500, examples=["https://example.org/wins-hook"])]
WebhookEventTypes = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=48)]],
    Field(min_length=1, max_length=40, description="Event types (`ticket.called`), families (`ticket.*`) or `*`"),
]


class WebhookCreate(Strict):
    url: WebhookUrl
    event_types: WebhookEventTypes
    description: Text = Field("", max_length=200)


class WebhookUpdate(Strict):
    url: WebhookUrl | None = None
    event_types: WebhookEventTypes | None = None
    description: Text | None = Field(None, max_length=200)
    active: bool | None = None


class WebhookPublic(BaseModel):
    id: int
    url: str
    description: str
    event_types: list[str]
    active: bool
    state: Literal["active", "retrying", "paused", "off"]
    failures: int = Field(description="Failed attempts in a row at the next event")
    next_attempt_at: str | None
    paused_at: str | None
    last_error: str
    cursor: int = Field(description="Id of the last event delivered (or not wanted)")
    created_at: str


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="Signs every delivery (X-WINS-Signature). Shown only in this answer: keep it.")


class WebhookDeliveryPublic(BaseModel):
    id: int
    event_id: int
    event_type: str
    delivery_id: str
    attempt: int
    status_code: int | None
    ok: bool
    error: str
    duration_ms: int
    at: str


# -- Web Push (wins.push) -------------------------------------------------------------------------------


class PushKeys(Strict):
    p256dh: str = Field(min_length=40, max_length=200, pattern=r"^[A-Za-z0-9_-]+=*$")
    auth: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+=*$")


class PushSubscribe(BaseModel):
    """The browser's PushSubscription.toJSON() (unknown keys such as expirationTime are ignored)."""

    endpoint: str = Field(min_length=10, max_length=1000)
    keys: PushKeys
    language: LanguageTag = "en"


class PushUnsubscribe(Strict):
    endpoint: str = Field(min_length=10, max_length=1000)


class PushStatus(BaseModel):
    available: bool = Field(description="Whether this ticket can have push notifications")
    reason: str = Field(description="Why not, for people (empty when available)")
    public_key: str | None = Field(description="VAPID public key (base64url): the applicationServerKey")
    subscribed: int = Field(description="Subscriptions this ticket has")
    notify_ahead: int = Field(description="A notification comes when this many people (or fewer) are ahead")


# -- remote join and push settings of a service (wins.join) ------------------------------------------


class ServiceRemoteUpdate(Strict):
    notify_ahead: int = Field(3, ge=0, le=50, description="Push 'nearly your turn' at this many people ahead")
    remote_daily_cap: int | None = Field(
        None, ge=0, le=100_000, description="Remote tickets per business day; 0: not on the join page; null: no cap"
    )


class ServiceRemotePublic(BaseModel):
    service_id: int
    notify_ahead: int
    remote_daily_cap: int | None
