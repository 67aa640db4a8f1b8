"""All server settings in one place. Every field can be set with an environment variable `WINS_<NAME>`."""

from __future__ import annotations

import secrets
from enum import StrEnum
from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    development = "development"
    production = "production"


class LogFormat(StrEnum):
    text = "text"
    json = "json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WINS_", env_file=None, extra="ignore")

    env: Environment = Field(
        Environment.development,
        description="`production` refuses to start without an explicit secret key and marks cookies Secure.",
    )
    data_dir: Path = Field(Path("var"), description="Folder for the SQLite file, generated secrets and caches.")
    database_url: str = Field(
        "",
        description="`sqlite:///path/to/wins.db` (default: `<data_dir>/wins.db`) or "
        "`postgresql://user@host:port/db` (the psycopg 3 driver is chosen for you).",
    )
    database_listen_url: str = Field(
        "",
        pattern=r"^$|^postgres(ql)?://",
        description="PostgreSQL behind a transaction-pooling PgBouncer: the PostgreSQL server itself "
        "(`postgresql://user@host:5432/db`), for the one LISTEN connection per worker that wakes the event "
        "stream (LISTEN needs a session of its own). Empty: WINS_DATABASE_URL.",
    )
    sqlite_synchronous: str = Field(
        "NORMAL",
        pattern="^(NORMAL|FULL)$",
        description="SQLite durability. NORMAL (WAL default): an acknowledged ticket survives a crash of WINS or "
        "of any process; a power cut may lose the last moments. FULL: also survives a power cut, at about 1.3 ms "
        "of disk sync per write (caps writes near 750/s on a typical SSD).",
    )
    secret_key: str = Field(
        "",
        description="Signs staff tokens and cookies. Required in production; in development one is generated "
        "once and kept in `<data_dir>/secret_key`.",
    )
    host: str = Field("127.0.0.1", description="Address `wins serve` listens on.")
    port: int = Field(8000, description="Port `wins serve` listens on.")
    workers: int = Field(1, ge=1, description="Server processes. Keep 1 on SQLite; use several on PostgreSQL.")
    public_url: str = Field(
        "",
        description="Base URL customers' phones reach (printed in the ticket QR code), e.g. `http://queue.lan:8000`.",
    )
    log_level: str = Field("INFO", description="Python logging level: DEBUG, INFO, WARNING, ERROR.")
    log_format: LogFormat = Field(LogFormat.text, description="`text` for people, `json` for log collectors.")
    trusted_proxies: str = Field(
        "127.0.0.1,::1",
        description="Comma-separated addresses or networks (e.g. `10.0.0.5,192.168.0.0/24`) of reverse proxies "
        "whose `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Request-ID` are believed (logs, sign-in lock-out, "
        "`/metrics` allow-list). Empty: none; the peer's address is the client's.",
    )
    metrics_token: str = Field(
        "", description="If set, `/metrics` answers only requests with `Authorization: Bearer <this token>`."
    )
    metrics_allow: str = Field(
        "",
        description="If set, `/metrics` answers only clients in these comma-separated addresses or networks "
        "(e.g. `127.0.0.1,10.0.0.0/8`).",
    )
    undo_seconds: int = Field(
        10,
        ge=0,
        le=300,
        description="How long staff can undo Done, No-show, Requeue or Transfer (the workspace's Undo button).",
    )
    token_ttl_seconds: int = Field(12 * 3600, description="How long a staff API token stays valid.")
    default_service_seconds: int = Field(
        300, description="Service time assumed for a service before any ticket of it has been served."
    )
    estimate_sample_size: int = Field(
        20, description="How many recent served tickets of a service feed its average service time."
    )
    login_max_failures: int = Field(
        5,
        ge=1,
        description="Failed sign-ins for one username from one client address before that address is locked out "
        "of that username (other addresses still sign in: an attacker cannot lock a real user out).",
    )
    login_lock_seconds: int = Field(
        300, ge=1, description="How long a client address stays locked out of a username after too many failures."
    )
    login_client_max_failures: int = Field(
        20,
        ge=1,
        description="Failed sign-ins from one client address (any usernames) within `WINS_LOGIN_CLIENT_WINDOW_SECONDS` "
        "before that address may not sign in at all for `WINS_LOGIN_CLIENT_LOCK_SECONDS`. Behind a reverse proxy, "
        "make sure WINS sees the real client address (X-Forwarded-For from a trusted proxy).",
    )
    login_client_window_seconds: int = Field(
        900, ge=1, description="Window over which failed sign-ins of a client address are counted."
    )
    login_client_lock_seconds: int = Field(
        900, ge=1, description="How long a client address with too many failed sign-ins is refused."
    )
    day_check_seconds: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="How often each server process looks for an ended business day to expire its open tickets.",
    )
    event_poll_seconds: float = Field(
        1.0, description="Safety-net poll of the event log (catches events from other processes on SQLite)."
    )
    event_buffer_size: int = Field(
        2000,
        description="Recent events kept in memory for subscribers to replay; one further behind reads the event "
        "table, 1,000 events a query.",
    )
    stream_ticket_seconds: int = Field(
        60,
        ge=5,
        le=600,
        description="How long a one-time connect ticket for the event WebSocket (`?ticket=`) stays usable.",
    )
    stream_recheck_seconds: float = Field(
        5.0,
        gt=0,
        le=300,
        description="How often an open event stream re-reads its user or device (a revoke, deactivation, "
        "password change or sign-out also closes it at once).",
    )
    stream_heartbeat_seconds: float | None = Field(
        None,
        gt=0,
        le=300,
        description="Seconds between the pings an open event WebSocket sends when nothing happens (default 20). The "
        "pages take a link that stays silent for 2.25 times this as dead and reconnect (their watchdog).",
    )
    ws_max_per_principal: int = Field(
        50, ge=1, description="Open event WebSockets one user or device may hold per server process."
    )
    ws_max_total: int = Field(5000, ge=1, description="Open event WebSockets per server process.")
    pairing_code_seconds: int = Field(
        900, ge=30, le=7 * 24 * 3600, description="How long a display pairing link stays usable (it works once)."
    )
    demo_on_first_start: bool = Field(
        True, description="`wins serve` creates demo data on an empty database (never when `WINS_ENV=production`)."
    )
    printer_url: str = Field(
        "",
        description="Network ticket printer the server reprints slips on (staff 'reprint'), e.g. "
        "`tcp://192.168.1.50:9100`; a branch's `printer_url` setting takes precedence. See docs/printing.md.",
    )
    printer_timeout: float = Field(
        3.0, gt=0, le=60, description="Seconds to wait for the ticket printer to connect or answer."
    )

    webhook_delivery: bool = Field(
        True, description="Run the webhook deliverer in this server (one claim per endpoint across all workers)."
    )
    webhook_poll_seconds: float = Field(
        1.0, gt=0, le=60, description="How often the webhook deliverer looks for new events (it is also woken)."
    )
    webhook_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="Seconds a webhook receiver has to connect and answer a delivery."
    )
    webhook_retry_base_seconds: float = Field(
        5.0, gt=0, le=3600, description="First wait before retrying a failed webhook delivery; doubles each time."
    )
    webhook_retry_max_seconds: float = Field(
        600.0, gt=0, le=86400, description="Longest wait between two attempts of a webhook delivery."
    )
    webhook_pause_after_failures: int = Field(
        10,
        ge=1,
        le=1000,
        description="Failed attempts in a row after which a webhook endpoint is paused (resume it on the admin "
        "page or with `POST /api/v1/webhooks/{id}/resume`; nothing is lost, it continues where it stopped).",
    )

    push_service_hosts: str = Field(
        "fcm.googleapis.com,*.googleapis.com,updates.push.services.mozilla.com,*.push.services.mozilla.com,"
        "*.notify.windows.com,web.push.apple.com,*.push.apple.com",
        description="Push services WINS sends Web Push to (comma-separated host names, `*.` for any subdomain): "
        "a phone's subscription names its push service, and WINS posts only to these (never to any address a "
        "visitor gives).",
    )
    push_contact: str = Field(
        "mailto:wins@localhost",
        description="Contact the push services see in the VAPID claim (`mailto:` address or https URL of the site "
        "operator); some refuse a made-up one, so set it to a real address.",
    )
    join_key_minutes: int = Field(
        60, ge=5, le=7 * 24 * 60, description="How long a join key (the QR code on the display board) stays valid."
    )
    join_per_client_per_hour: int = Field(
        3,
        ge=1,
        le=1000,
        description="Remote tickets one client address may take per clock hour in each branch "
        "(counted in the database: all workers and hosts together).",
    )
    push_poll_seconds: float = Field(1.0, gt=0, le=60, description="How often the push notifier looks for events.")

    @field_validator("trusted_proxies", "metrics_allow")
    @classmethod
    def _networks(cls, value: str) -> str:
        import ipaddress

        for part in value.split(","):
            if part.strip():
                try:
                    ipaddress.ip_network(part.strip(), strict=False)
                except ValueError:
                    raise ValueError(f"{part.strip()!r} is not an IP address or network (e.g. 10.0.0.0/8)") from None
        return value

    @model_validator(mode="after")
    def _require_secret_in_production(self) -> Settings:
        if self.env == Environment.production and len(self.secret_key) < 32:
            raise ValueError(
                "WINS_SECRET_KEY must be set to at least 32 random characters in production "
                "(generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return self

    @property
    def sqlalchemy_url(self) -> str:
        url = self.database_url or f"sqlite:///{(self.data_dir / 'wins.db').as_posix()}"
        if url.startswith("postgres://"):
            url = "postgresql://" + url.removeprefix("postgres://")
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    @cached_property
    def effective_secret_key(self) -> str:
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


def get_settings() -> Settings:
    return Settings()
