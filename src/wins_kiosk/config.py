"""The kiosk's one configuration file (TOML) as a typed, validated dataclass."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from wins_kiosk.i18n import CATALOGUE


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or has a wrong value."""


@dataclass(frozen=True)
class KioskConfig:
    server_url: str
    device_token: str
    # None: no printer attached; the ticket is only shown on screen.
    printer_url: str | None = None
    # Empty: use the branch's `kiosk_languages` setting from the server.
    languages: list[str] = field(default_factory=list)
    default_language: str = "en"
    # Back to the start screen (and the default language, normal text) after this long without a touch.
    idle_timeout_seconds: float = 45.0
    # How long the result screen stays up before the next customer.
    result_seconds: float = 10.0
    operator_pin: str = "0000"
    fullscreen: bool = True
    # Failed slips wait here (one JSON file each) and are retried.
    spool_dir: Path = Path("/var/lib/wins-kiosk/spool")
    request_timeout_seconds: float = 5.0
    health_check_seconds: float = 5.0
    spool_retry_seconds: float = 15.0
    # Optional logo shown on screen and printed on the slip.
    logo_path: Path | None = None
    big_font_default: bool = False
    # Window size when not full screen (development, screenshots).
    window_size: tuple[int, int] = (1280, 800)
    # "Need more time?" shows this long before a timeout (at most half the timeout).
    timeout_warning_seconds: float = 15.0
    # Spoken guidance from the start (else: a long press anywhere, F1, or a headset turns it on).
    speech_default: bool = False
    # Speech volume in percent (the customer changes it with + and -).
    speech_volume: int = 70

    def __post_init__(self) -> None:
        if not self.server_url.startswith(("http://", "https://")):
            raise ConfigError(f"server_url must start with http:// or https://, got {self.server_url!r}")
        if not self.device_token:
            raise ConfigError("device_token is empty: create a kiosk device in the admin pages and paste its token")
        for code in [*self.languages, self.default_language]:
            if code not in CATALOGUE:
                raise ConfigError(f"language {code!r} has no translation; known: {', '.join(sorted(CATALOGUE))}")
        if not self.operator_pin.isdigit() or not 4 <= len(self.operator_pin) <= 12:
            raise ConfigError("operator_pin must be 4 to 12 digits")
        if not 10 <= self.speech_volume <= 100:
            raise ConfigError("speech_volume must be 10 to 100 (percent)")
        for name in (
            "idle_timeout_seconds",
            "result_seconds",
            "request_timeout_seconds",
            "health_check_seconds",
            "spool_retry_seconds",
            "timeout_warning_seconds",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")


_PATHS = {"spool_dir", "logo_path"}


def config_from_dict(data: dict[str, Any], *, base_dir: Path | None = None) -> KioskConfig:
    """Build the config from a parsed TOML table; relative paths are taken from `base_dir`."""
    known = {f.name for f in fields(KioskConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    values: dict[str, Any] = dict(data)
    for name in _PATHS & set(values):
        path = Path(values[name]).expanduser()
        values[name] = path if path.is_absolute() or base_dir is None else base_dir / path
    if "printer_url" in values and not values["printer_url"]:
        values["printer_url"] = None
    if "window_size" in values:
        width, height = values["window_size"]
        values["window_size"] = (int(width), int(height))
    if "languages" in values:
        values["languages"] = [str(code) for code in values["languages"]]
    if "operator_pin" in values:
        values["operator_pin"] = str(values["operator_pin"])
    for name in ("server_url", "device_token"):
        if name not in values:
            raise ConfigError(f"{name} is required")
    values["server_url"] = str(values["server_url"]).rstrip("/")
    try:
        return KioskConfig(**values)
    except TypeError as exc:
        raise ConfigError(str(exc)) from exc


def load_config(path: Path) -> KioskConfig:
    """Read the TOML file at `path` (settings at the top level or under a `[kiosk]` table)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    table = data.get("kiosk", data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [kiosk] must be a table")
    return config_from_dict(table, base_dir=path.parent)
