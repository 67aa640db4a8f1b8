"""All server settings in one place. Every field can be set with an environment variable `WINS_<NAME>`."""

from __future__ import annotations

import json
import re
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
    database_prepared_statements: str = Field(
        "auto",
        pattern="^(auto|on|off)$",
        description="PostgreSQL: whether psycopg prepares the statements it runs often (less work for PostgreSQL "
        "per ticket). `off` behind a transaction-pooling PgBouncer older than 1.21, or one without "
        "`max_prepared_statements` (Debian 12 ships 1.18): there a prepared statement stays on a server "
        'connection other clients share, and their requests fail (\'prepared statement "_pg3_0" already '
        "exists'). `auto`: off when WINS_DATABASE_LISTEN_URL is set (the sign of such a pooler), else on.",
    )
    database_issue_connections: int = Field(
        4,
        ge=0,
        le=64,
        description="PostgreSQL: connections each worker process keeps for issuing kiosk taps right on its event "
        "loop (the issue express lane: one statement per tap, no thread hop); at most this many taps per worker "
        "are in the database at once, the others wait their turn. 0 sends every tap through the ordinary route.",
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

    sms_gateway_url: str = Field(
        "",
        description="Text messages (SMS) through your provider's HTTP API: the address WINS calls for each text, "
        "with placeholders `{phone}` (+441234567890), `{phone_digits}` (441234567890), `{text}` and `{token}`, "
        "each URL-encoded, e.g. `https://sms.example.com/send?to={phone}&msg={text}`. Empty: no SMS at all. "
        "See docs/operations.md.",
    )
    sms_gateway_method: str = Field(
        "POST", pattern="^(GET|POST)$", description="HTTP method of the gateway call: GET or POST."
    )
    sms_gateway_body: str = Field(
        "",
        description="Body of a POST, with the same placeholders: a form (`to={phone}&text={text}`, each value "
        'URL-encoded) or JSON (`{"to": "{phone}", "text": "{text}"}`, placeholders inside JSON strings, each '
        "JSON-escaped), as `WINS_SMS_GATEWAY_BODY_FORMAT` says.",
    )
    sms_gateway_body_format: str = Field(
        "form", pattern="^(form|json)$", description="`form` (application/x-www-form-urlencoded) or `json`."
    )
    sms_gateway_headers: str = Field(
        "",
        description='Extra request headers as a JSON object, e.g. `{"Authorization": "Bearer {token}"}`; only the '
        "`{token}` placeholder is allowed in a header.",
    )
    sms_gateway_token: str = Field(
        "",
        repr=False,
        description="The gateway's API token or password, for `{token}`. Better: `WINS_SMS_GATEWAY_TOKEN_FILE`. Never "
        "logged.",
    )
    sms_gateway_token_file: Path | None = Field(
        None, description="A file holding the gateway token (read at start; surrounding white space ignored)."
    )
    sms_default_country_code: str = Field(
        "",
        pattern=r"^$|^\+[1-9][0-9]{0,3}$",
        description="Country code for numbers customers type without one (`07700 900123` becomes `+447700900123` "
        "with `+44`). Empty: customers must type the country code.",
    )
    sms_timeout_seconds: float = Field(10.0, gt=0, le=60, description="Seconds the SMS gateway has to answer.")
    sms_retry_base_seconds: float = Field(
        10.0, gt=0, le=3600, description="First wait before sending a text again after a gateway failure; doubles."
    )
    sms_retry_max_seconds: float = Field(
        300.0, gt=0, le=86400, description="Longest wait between two attempts of a text."
    )
    sms_max_attempts: int = Field(
        6, ge=1, le=100, description="Attempts per text before it is dropped (a late text helps nobody)."
    )
    sms_poll_seconds: float = Field(1.0, gt=0, le=60, description="How often the SMS sender looks for work.")

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

    @model_validator(mode="after")
    def _check_sms_gateway(self) -> Settings:
        if self.sms_gateway_url:
            check_sms_gateway(self)
        return self

    @cached_property
    def sms_token(self) -> str:
        """The gateway token: from its file if one is named, else WINS_SMS_GATEWAY_TOKEN."""
        if self.sms_gateway_token_file is not None:
            return self.sms_gateway_token_file.read_text().strip()
        return self.sms_gateway_token

    @property
    def sqlalchemy_url(self) -> str:
        url = self.database_url or f"sqlite:///{(self.data_dir / 'wins.db').as_posix()}"
        if url.startswith("postgres://"):
            url = "postgresql://" + url.removeprefix("postgres://")
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return url

    @property
    def session_conninfo(self) -> str:
        """libpq URL for PostgreSQL connections that keep state in their session (the event stream's LISTEN, the
        running-server advisory lock of wins.ops.presence): WINS_DATABASE_LISTEN_URL, which bypasses a
        transaction-pooling PgBouncer, else the database URL."""
        url = self.database_listen_url or self.sqlalchemy_url
        return url.replace("postgresql+psycopg://", "postgresql://", 1).replace("postgres://", "postgresql://", 1)

    @property
    def prepare_threshold(self) -> int | None:
        """psycopg's `prepare_threshold` for pooled PostgreSQL connections (see database_prepared_statements):
        None never prepares; 5 is psycopg's default (prepare a statement on its fifth run)."""
        setting = self.database_prepared_statements
        if setting == "off" or (setting == "auto" and self.database_listen_url):
            return None
        return 5

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


# -- the SMS gateway's templates (rendered by wins.sms.gateway) -----------------------------------------------

SMS_PLACEHOLDERS = {"phone", "phone_digits", "text", "token"}
SMS_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
SMS_SAMPLE = {"phone": "+447700900123", "phone_digits": "447700900123", "text": 'A005: it\'s "your" turn & more'}


def _unknown_placeholders(template: str, allowed: set[str], where: str) -> None:
    unknown = sorted({name for name in SMS_PLACEHOLDER.findall(template) if name not in allowed})
    if unknown:
        names = ", ".join("{" + name + "}" for name in unknown)
        known = ", ".join("{" + name + "}" for name in sorted(allowed))
        raise ValueError(f"{where} has unknown placeholder(s) {names}; use only {known}")


def check_sms_gateway(settings: Settings) -> None:
    """Refuse to start with a gateway set-up that cannot work, saying which setting to fix."""
    from urllib.parse import urlsplit

    url = settings.sms_gateway_url
    _unknown_placeholders(url, SMS_PLACEHOLDERS, "WINS_SMS_GATEWAY_URL")
    parts = urlsplit(SMS_PLACEHOLDER.sub("x", url))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "WINS_SMS_GATEWAY_URL must be an http:// or https:// address with a host name, "
            "e.g. https://sms.example.com/send?to={phone}&text={text}"
        )
    if parts.username or parts.password:
        raise ValueError("WINS_SMS_GATEWAY_URL must not hold a user or password; use {token} in a header instead")
    body = settings.sms_gateway_body
    _unknown_placeholders(body, SMS_PLACEHOLDERS, "WINS_SMS_GATEWAY_BODY")
    if body and settings.sms_gateway_method == "GET":
        raise ValueError("WINS_SMS_GATEWAY_BODY is set but WINS_SMS_GATEWAY_METHOD is GET; use POST or no body")
    if body and settings.sms_gateway_body_format == "json":
        sample = SMS_PLACEHOLDER.sub(lambda m: json.dumps(SMS_SAMPLE.get(m[1], "t"))[1:-1], body)
        try:
            json.loads(sample)
        except ValueError:
            raise ValueError(
                "WINS_SMS_GATEWAY_BODY is not valid JSON (put each placeholder inside a JSON string, "
                'e.g. {"to": "{phone}", "text": "{text}"})'
            ) from None
    used = set(SMS_PLACEHOLDER.findall(url + body))
    if not used & {"phone", "phone_digits"} or "text" not in used:
        raise ValueError("The SMS gateway URL or body must contain {phone} (or {phone_digits}) and {text}")
    headers: object = {}
    if settings.sms_gateway_headers:
        try:
            headers = json.loads(settings.sms_gateway_headers)
        except ValueError:
            headers = None
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise ValueError('WINS_SMS_GATEWAY_HEADERS must be a JSON object of strings, e.g. {"X-Api-Key": "{token}"}')
    for name, value in headers.items():
        _unknown_placeholders(value, {"token"}, f"Header {name} of WINS_SMS_GATEWAY_HEADERS")
        if any(c in name + value for c in "\r\n") or not name.strip():
            raise ValueError(f"Header {name!r} of WINS_SMS_GATEWAY_HEADERS must be one line with a name")
    if "token" in SMS_PLACEHOLDER.findall(url + body + "".join(headers.values())):
        if settings.sms_gateway_token_file is not None and not settings.sms_gateway_token_file.is_file():
            raise ValueError(f"WINS_SMS_GATEWAY_TOKEN_FILE {settings.sms_gateway_token_file} is not a readable file")
        if not settings.sms_token:
            raise ValueError("The SMS gateway set-up uses {token}: set WINS_SMS_GATEWAY_TOKEN_FILE (or _TOKEN)")


def get_settings() -> Settings:
    return Settings()
