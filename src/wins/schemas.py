"""Request and response bodies of the REST API (one module: they are small and shared across domains; past 400
lines since the settings, display configuration and device status got declared schemas, which still belong with
the bodies that carry them).

Each response payload is declared once, here; the domains build it with `fields_of` instead of restating it."""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import io
import logging
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from wins.enums import DeviceKind, PauseReason, Role
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
# A local wall-clock time "HH:MM" (24:00 allowed as the end of a day) and a calendar date "YYYY-MM-DD".
ClockTime = Annotated[str, Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$", description="Local time, HH:MM")]


def _real_date(value: str) -> str:
    try:
        datetime.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a date; write it like 2026-12-25") from exc
    return value


IsoDate = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$"), AfterValidator(_real_date)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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


def _minutes(clock_time: str) -> int:
    hours, minutes = clock_time.split(":")
    return int(hours) * 60 + int(minutes)


class OpeningInterval(StoredJson):
    """One stretch of opening time on a weekday, in the branch's time zone (no interval crosses midnight)."""

    opens: ClockTime
    closes: ClockTime

    @model_validator(mode="after")
    def _in_order(self) -> OpeningInterval:
        if _minutes(self.opens) >= _minutes(self.closes):
            raise ValueError(f"an interval must close after it opens ({self.opens}–{self.closes})")
        return self


class ServiceHours(StoredJson):
    """When a service takes tickets (wins.services.hours). A weekday that is not listed is closed all day; a
    service with no hours at all (`hours: null`) takes tickets at any time. Branch holidays close every service."""

    weekly: dict[Weekday, list[OpeningInterval]] = Field(
        default_factory=dict, description='Per weekday ("mon" … "sun"), one or more intervals, e.g. 08:00–12:00'
    )
    last_ticket_minutes: int = Field(
        0, ge=0, le=600, description="Stop issuing this many minutes before each closing (those waiting are served)"
    )
    stop_when_wait_exceeds_time_left: bool = Field(
        False, description="Also stop issuing when the estimated wait of a new ticket passes the closing time"
    )

    @model_validator(mode="after")
    def _no_overlap(self) -> ServiceHours:
        for day, intervals in self.weekly.items():
            if len(intervals) > 12:
                raise ValueError(f"{day}: at most 12 intervals a day")
            spans = sorted((_minutes(i.opens), _minutes(i.closes)) for i in intervals)
            for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
                if start < end:
                    raise ValueError(f"{day}: opening intervals overlap")
        return self


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
    holidays: list[IsoDate] = Field(
        default_factory=list, max_length=400, description="Dates the branch is closed: no service issues tickets"
    )
    closing_time: ClockTime | None = Field(
        None,
        description="End of the business day (local HH:MM): tickets still open then expire; none = at the rollover",
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
    sms_available: bool = Field(
        False,
        description="Customers may ask for a text message (SMS) when nearly their turn and when called; needs the "
        "site's SMS gateway (WINS_SMS_GATEWAY_URL, docs/operations.md). Off: the tracking page offers no texts.",
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
    opens_at: str | None = Field(None, description="code service_closed: when the service takes tickets again")


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


class BranchCreate(Strict):
    name: Text = Field(min_length=1, max_length=120)
    timezone: Text = Field("UTC", max_length=64, description="An IANA time zone name, like 'Europe/Paris'")
    day_rollover_hour: int = Field(0, ge=0, le=23, description="Local hour at which the business day starts")
    languages: list[LanguageTag] = Field(
        default_factory=lambda: ["en"],
        min_length=1,
        max_length=10,
        description="Languages offered on the kiosks and spoken on the displays, first is the default",
    )


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
    active: bool = Field(description="Takes new tickets; false = stopped issuing (waiting tickets are still called)")
    priority_weight: int
    sort_order: int
    archived: bool = Field(description="Retired: hidden everywhere, kept in history and reports")
    hours: ServiceHours | None = Field(description="Opening hours; null = takes tickets at any time")
    open_now: bool = Field(description="Takes tickets now (active, within its hours, before the last-ticket time)")
    opens_at: str | None = Field(description="When closed: the next time it takes tickets (local ISO time)")
    closes_at: str | None = Field(description="When open: when it stops taking tickets (local ISO time)")
    target_wait_minutes: int | None = Field(None, description="Longest wait aimed for; screens warn past it")


class ServiceCreate(Strict):
    name: Text = Field(min_length=1, max_length=80)
    prefix: Text = Field(min_length=1, max_length=3, description="1–3 letters that start each ticket number")
    colour: str = Field("#1f6feb", pattern=r"^#[0-9a-fA-F]{6}$")
    active: bool = True
    priority_weight: int = Field(0, ge=-100, le=100)
    sort_order: int = Field(0, ge=-10000, le=10000)
    hours: ServiceHours | None = Field(None, description="Opening hours; null = takes tickets at any time")
    target_wait_minutes: int | None = Field(
        None, ge=1, le=1440, description="Longest wait aimed for, in minutes; the dashboard warns past it"
    )


class ServiceUpdate(Strict):
    name: Text | None = Field(None, min_length=1, max_length=80)
    prefix: Text | None = Field(None, min_length=1, max_length=3)
    colour: str | None = Field(None, pattern=r"^#[0-9a-fA-F]{6}$")
    active: bool | None = None
    priority_weight: int | None = Field(None, ge=-100, le=100)
    sort_order: int | None = Field(None, ge=-10000, le=10000)
    hours: ServiceHours | None = Field(None, description="Opening hours; null = takes tickets at any time")
    target_wait_minutes: int | None = Field(None, ge=1, le=1440, description="null: no target")


class CounterPublic(BaseModel):
    id: int
    name: str
    active: bool
    service_ids: list[int]
    is_open: bool
    staff_id: int | None
    staff_name: str | None
    archived: bool = Field(description="Retired: hidden everywhere, kept in history and reports")
    is_paused: bool = False
    pause_reason: str | None = Field(None, description="break, paperwork or other, while paused")
    paused_at: str | None = Field(None, description="When the pause began (ISO time)")


class CounterPauseCreate(Strict):
    reason: PauseReason = Field(description="break, paperwork or other")


class CounterCreate(Strict):
    name: Text = Field(min_length=1, max_length=40)
    service_ids: list[Id] = Field(
        default_factory=list, max_length=100, description="Services this counter calls, in the order it takes them"
    )


class CounterUpdate(Strict):
    name: Text | None = Field(None, min_length=1, max_length=40)
    active: bool | None = None
    service_ids: list[Id] | None = Field(None, max_length=100)


class ArchiveRequest(Strict):
    """What to do with the tickets still waiting for a service that is being archived."""

    waiting: Literal["transfer", "cancel"] | None = Field(
        None, description="transfer: move them (keeping their place) to `to_service_id`; cancel: close them"
    )
    to_service_id: Id | None = Field(None, description="With waiting=transfer: the service that takes them")


HeldAction = Literal["complete", "requeue", "transfer"]


class HeldTicketChoice(Strict):
    """What happens to a ticket still held (called or serving) at a counter a request leaves. Without it such a
    request answers 409 (`ticket_held`) naming the ticket and these choices."""

    held_ticket: HeldAction | None = Field(
        None,
        description="complete it; requeue it (back to the front of its queue); or transfer it: to another "
        "service's queue (`to_service_id`) or to another open counter (`to_counter_id`)",
    )
    to_service_id: int | None = Field(None, ge=1, le=2**31 - 1, description="With held_ticket=transfer")
    to_counter_id: int | None = Field(None, ge=1, le=2**31 - 1, description="With held_ticket=transfer")
    to_end: bool = Field(False, description="With to_service_id: join the back of that queue")


class CounterSeat(HeldTicketChoice):
    """Body of sit down / leave / call next / call (all optional)."""

    take_over: bool = Field(
        False,
        description="Take the counter over from the colleague who sits there (audited; their workspace is "
        "told). Without it a counter someone else occupies answers 409 (`counter_occupied`).",
    )


class TicketReassign(Strict):
    counter_id: int = Field(ge=1, le=2**31 - 1, description="An open counter that holds no ticket")


class CounterTakenOver(BaseModel):
    """Data of the `counter.taken_over` event (ids only: every screen receives events)."""

    counter_id: int
    counter_name: str
    previous_staff_id: int
    staff_id: int


class StrandedTicket(BaseModel):
    """A ticket held at a counter where nobody will finish it, and why (`reason`)."""

    id: int
    number: str
    status: str
    service_id: int
    service_name: str | None
    counter_id: int
    counter_name: str
    staff_name: str | None = Field(description="Who sits at the counter, if anyone")
    held_since: str
    held_seconds: int
    reason: Literal["nobody_seated", "counter_switched_off", "no_action"]
    explanation: str


class TicketHistoryStep(BaseModel):
    type: str = Field(description="The event: ticket.issued, ticket.called, ticket.recalled, …")
    at: str = Field(description="UTC")
    local_time: str | None = Field(description="The branch's local time")
    text: str = Field(description="What happened, in words")
    counter: str | None
    service: str | None
    staff: str | None = Field(description="Who did it (staff); null for the kiosk, the customer or the system")


class TicketHistory(BaseModel):
    """A ticket's whole story, for answering a complaint (wins.tickets.history)."""

    id: int
    number: str
    business_day: str
    status: str
    priority: bool
    language: str | None
    issued_service: str | None
    service: str | None = Field(description="The service it ended in (after transfers)")
    issued_at: str | None
    issued_by: str
    finished_at: str | None
    calls: int
    transfers: int
    handled_by: list[str]
    steps: list[TicketHistoryStep]
    waits_seconds: list[int] = Field(description="Each wait in a queue, from joining it to being called")
    wait_seconds: int
    service_seconds: int | None = Field(description="Start serving (or the call) to done; null unless done")
    total_seconds: int = Field(description="Issued to finished (or to now, if still open)")


class TicketCreate(Strict):
    service_id: int = Field(ge=1, le=2**31 - 1)
    priority: bool = False
    priority_category: str | None = Field(
        None,
        max_length=32,
        pattern=r"^[a-z0-9_-]+$",
        description="A key of the branch's `priority_categories` (implies `priority`; its weight orders calling)",
    )
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
    priority_category: str | None = Field(None, description="The named priority category's key, if any")
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
    estimated_wait_text: str = Field(
        description='The wait in words, in the ticket\'s language ("5 to 12 min"); "" when not waiting. Kiosks, '
        "slips and phones all show this wording."
    )
    tracking_token: str
    tracking_url: str
    staff_id: int | None
    transfer_count: int
    arrival: str | None = Field(
        None,
        description="Arrival check-in: null (not needed), needed (tap 'I'm here' on site), passed_over (at the front "
        "but passed over until checked in), checked_in, or missed (not checked in within the grace time: no-show)",
    )
    checkin_deadline: str | None = Field(
        None, description="When a passed-over ticket not checked in becomes a no-show (UTC); null otherwise"
    )


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
    estimated_wait_text: str = Field(
        description='The wait in words, in the ticket\'s language ("5 to 12 min"); "" when not waiting. Kiosks, '
        "slips and phones all show this wording."
    )
    issued_at: str
    called_at: str | None
    arrival: str | None = Field(
        None,
        description="Arrival check-in: null (not needed), needed (tap 'I'm here' on site), passed_over (at the front "
        "but passed over until checked in), checked_in, or missed (not checked in within the grace time: no-show)",
    )
    checkin_deadline: str | None = Field(
        None, description="When a passed-over ticket not checked in becomes a no-show (UTC); null otherwise"
    )


class StaffPublic(BaseModel):
    id: int
    username: str
    full_name: str
    role: Role
    active: bool
    last_counter_id: int | None
    shortcuts_enabled: bool = True


class StaffPreferences(Strict):
    """A staff member's own settings for the workspace (each person sets theirs)."""

    shortcuts_enabled: bool = Field(description="Single-letter keyboard shortcuts in the counter workspace")


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


# -- branches: staff membership and head-office reports (wins.staff.membership, wins.reports.branches) ----


class StaffBranchRolePublic(BaseModel):
    branch_id: int
    branch_name: str
    role: Role


class StaffBranchRoleSet(Strict):
    branch_id: int = Field(ge=1, le=2**62)
    role: Role


class StaffBranchRoleChange(Strict):
    role: Role = Field(description="The account's role in this branch")


class StaffBranchRolesUpdate(Strict):
    branches: list[StaffBranchRoleSet] = Field(
        max_length=10000, description="Every branch the account works in, with its role there (replaces the list)"
    )


class BranchReportRow(BaseModel):
    branch_id: int
    branch_name: str
    issued: int
    done: int
    no_show: int
    cancelled: int
    no_show_rate: float | None = Field(description="no-shows / (done + no-shows)")
    wait_avg: float | None = Field(description="Seconds from issue to first call, average")
    service_avg: float | None = Field(description="Seconds from start of service to done, average")
    first_day: str | None = Field(None, description="The branch's first business day (its own today by default)")
    last_day: str | None = Field(None, description="The branch's last business day (its own today by default)")


class BranchesReport(BaseModel):
    first_day: str = Field(description="The earliest of the branches' first days")
    last_day: str = Field(description="The latest of the branches' last days")
    branches: list[BranchReportRow]
    total: BranchReportRow


class ReportFigures(BaseModel):
    """A group's figures (definitions: docs/staff-ui.md, Reports); durations in seconds."""

    issued: int
    done: int
    no_show: int
    cancelled: int
    no_show_rate: float | None
    wait_avg: float | None
    wait_p90: float | None
    service_avg: float | None
    service_p90: float | None


class ServiceReportRow(ReportFigures):
    service_id: int
    name: str
    prefix: str


class BranchReport(BaseModel):
    branch_id: int
    branch_name: str
    first_day: str
    last_day: str
    total: ReportFigures
    services: list[ServiceReportRow]


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


class SmsStatus(BaseModel):
    available: bool = Field(description="Whether this ticket can have text messages")
    reason: str = Field(description="Why not, for people (empty when available)")
    subscribed: bool = Field(description="A number is kept for this ticket (it is never shown)")
    last_digits: str | None = Field(description="The kept number's last 2 digits, so its owner recognises it")
    notify_ahead: int = Field(description="The first text comes when this many people (or fewer) are ahead")


class SmsSubscribe(Strict):
    phone: str = Field(min_length=4, max_length=40, description="Mobile number with country code, e.g. +447700900123")
    language: str = Field("en", max_length=16, description="Language of the texts (en, fr)")


# -- remote join and push settings of a service (wins.join) ------------------------------------------


class ServiceRemoteUpdate(Strict):
    notify_ahead: int = Field(3, ge=0, le=50, description="Push 'nearly your turn' at this many people ahead")
    remote_daily_cap: int | None = Field(
        None, ge=0, le=100_000, description="Remote tickets per business day; 0: not on the join page; null: no cap"
    )
    arrival_checkin: bool = Field(
        False,
        description="Remote tickets are called only after the customer taps 'I'm here' on site (with the code shown "
        "on the display board); until then call-next passes them over and they keep their place",
    )
    checkin_grace_minutes: int = Field(
        10, ge=1, le=240, description="A remote ticket not checked in this long after it reached the front: no-show"
    )


class ServiceRemotePublic(BaseModel):
    service_id: int
    notify_ahead: int
    remote_daily_cap: int | None
    arrival_checkin: bool
    checkin_grace_minutes: int


class ArrivalCheckIn(Strict):
    """The customer's "I'm here": the code shown on the display board (or the key of its QR code's link)."""

    code: str = Field(min_length=1, max_length=64, description="The 6-digit code on the waiting-room screen")
