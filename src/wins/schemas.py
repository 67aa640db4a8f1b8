"""Request and response bodies of the REST API (one module: they are small and shared across domains)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from wins.enums import DeviceKind, Role


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    settings: dict[str, Any]


class BranchUpdate(Strict):
    name: str | None = Field(None, min_length=1, max_length=120)
    timezone: str | None = Field(None, max_length=64)
    day_rollover_hour: int | None = Field(None, ge=0, le=23)
    settings: dict[str, Any] | None = None


class ServicePublic(BaseModel):
    id: int
    name: str
    prefix: str
    colour: str
    active: bool
    priority_weight: int
    sort_order: int


class ServiceCreate(Strict):
    name: str = Field(min_length=1, max_length=80)
    prefix: str = Field(min_length=1, max_length=3, description="1–3 letters that start each ticket number")
    colour: str = Field("#1f6feb", pattern=r"^#[0-9a-fA-F]{6}$")
    active: bool = True
    priority_weight: int = Field(0, ge=-100, le=100)
    sort_order: int = Field(0, ge=-10000, le=10000)


class ServiceUpdate(Strict):
    name: str | None = Field(None, min_length=1, max_length=80)
    prefix: str | None = Field(None, min_length=1, max_length=3)
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
    name: str = Field(min_length=1, max_length=40)
    service_ids: list[int] = Field(
        default_factory=list, max_length=100, description="Services this counter calls, in the order it takes them"
    )


class CounterUpdate(Strict):
    name: str | None = Field(None, min_length=1, max_length=40)
    active: bool | None = None
    service_ids: list[int] | None = Field(None, max_length=100)


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
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=8, max_length=256)
    role: Role = Role.staff
    full_name: str = Field("", max_length=120)


class StaffUpdate(Strict):
    password: str | None = Field(None, min_length=8, max_length=256)
    role: Role | None = None
    full_name: str | None = Field(None, max_length=120)
    active: bool | None = None


class DevicePublic(BaseModel):
    id: int
    name: str
    kind: DeviceKind
    token_hint: str
    revoked: bool
    status: dict[str, Any]
    config: dict[str, Any]
    last_seen_at: str | None


class DeviceCreate(Strict):
    name: str = Field(min_length=1, max_length=80)
    kind: DeviceKind
    config: dict[str, Any] = Field(default_factory=dict)


class DeviceWithToken(DevicePublic):
    token: str = Field(description="Shown once: store it in the device's configuration")


class DeviceUpdate(Strict):
    name: str | None = Field(None, min_length=1, max_length=80)
    config: dict[str, Any] | None = None


class DeviceStatus(Strict):
    status: dict[str, Any] = Field(description="e.g. {'printer': 'paper_out'}")


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
    version: str
    last_event_id: int | None
