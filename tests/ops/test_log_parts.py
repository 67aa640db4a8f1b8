"""The parts behind the logs: redaction, trusted proxies and request ids, python-escpos' import, the version."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.seed import seed
from wins.app import create_app
from wins.config import Settings
from wins.logging_setup import JsonFormatter, Redactor, TextFormatter, redact
from wins.version import full_version, package_version

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("GET /api/v1/events/ws?since=3&token=eyJzaWQiOjF9.aBcD.xYz-123 HTTP/1.1", "eyJzaWQiOjF9.aBcD.xYz-123"),
        ("Authorization: Bearer wdt_SomeDeviceToken_123", "SomeDeviceToken_123"),
        ("headers={'authorization': 'Bearer abc.def.ghi'}", "abc.def.ghi"),
        ("username=ann&password=hunter2%21&csrf_token=zz9", "hunter2%21"),
        ("username=ann&password=hunter2%21&csrf_token=zz9", "zz9"),
        ('{"username": "ann", "password": "pa\\"ss word"}', 'pa\\"ss word'),
        ("{'new_password': 'p4ss', 'x': 1}", "p4ss"),
        ("Cookie: wins_session=eyJzaWQiOjF9.Zz.Yy; wins_flash=hello", "wins_flash=hello"),
        ("set-cookie: wins_display=wdt_abcdef; Path=/", "wdt_abcdef"),
        ("GET /t/t7anfTz53Ck_oaVmVscnvlifXTY0kWk8 200", "t7anfTz53Ck_oaVmVscnvlifXTY0kWk8"),
        ("/api/v1/public/tickets/t7anfTz53Ck_oaV/updates?since=1", "t7anfTz53Ck_oaV"),
        ("opening the display for wdt_Q1w2E3r4T5 now", "Q1w2E3r4T5"),
        ("stream ticket wst.eyJzaWQiOjF9.ZYX.abc_def given", "eyJzaWQiOjF9.ZYX.abc_def"),
    ],
)
def test_redact_masks_every_known_secret_shape(line: str, secret: str) -> None:
    clean = redact(line)
    assert secret not in clean
    assert "***" in clean


def test_redact_leaves_ordinary_lines_alone() -> None:
    for line in (
        "POST /api/v1/tickets 201 1.2ms client=127.0.0.1 user=device:kiosk id=0fed708f2d66d994",
        "ticket A001 issued for General by device:kiosk",
        "GET /t/ 404",
        "account ann locked after 5 failed sign-ins",
    ):
        assert redact(line) == line


def _record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    record = logging.LogRecord("wins.test", logging.ERROR, __file__, 1, msg, args, None)
    if exc is not None:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    return record


def test_redactor_covers_arguments_tracebacks_and_both_formats() -> None:
    try:
        raise RuntimeError("could not open https://x/display?token=wdt_SECRETSECRET")
    except RuntimeError as exc:
        record = _record("failed for %s", "password=letmein", exc=exc)
    assert Redactor().filter(record)
    for formatter in (TextFormatter(), JsonFormatter()):
        out = formatter.format(record)
        assert "letmein" not in out and "SECRETSECRET" not in out
        assert "RuntimeError" in out


def test_text_lines_cannot_be_forged_with_line_breaks() -> None:
    record = _record("hello %s", "ann\n2026-01-01 00:00:00,000 WARNING wins.security: sign-in failed from 6.6.6.6")
    Redactor().filter(record)
    out = TextFormatter().format(record)
    assert "\n" not in out
    assert json.loads(JsonFormatter().format(record))["msg"].count("\n") == 1  # JSON escapes it itself


@pytest.fixture
def settings_for(sqlite_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(**extra: object) -> Settings:
        settings = Settings(database_url=sqlite_url, data_dir=tmp_path, secret_key="p" * 40, **extra)  # type: ignore[arg-type]
        seed(settings)
        return settings

    return make


def test_forwarded_headers_only_from_trusted_proxies(settings_for, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(log_format="json", log_level="INFO", trusted_proxies="10.0.0.0/8")
    headers = {"X-Forwarded-For": "198.51.100.1, 10.0.0.7", "X-Request-ID": "from-the-proxy-1"}
    try:
        app = create_app(settings)
        with TestClient(app, client=("10.0.0.2", 1234)) as proxy, TestClient(app, client=("192.0.2.9", 1)) as direct:
            via_proxy = proxy.get("/health", headers=headers)
            spoofed = direct.get("/health", headers=headers)
            insane = proxy.get("/health", headers={"X-Request-ID": "x" * 500})
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    finally:
        logging.getLogger().setLevel(logging.WARNING)
    access = {line["request_id"]: line for line in lines if line["logger"] == "wins.access"}
    assert via_proxy.headers["x-request-id"] == "from-the-proxy-1"
    assert access["from-the-proxy-1"]["client"] == "198.51.100.1"  # the first hop that is not a proxy
    assert spoofed.headers["x-request-id"] != "from-the-proxy-1"
    assert access[spoofed.headers["x-request-id"]]["client"] == "192.0.2.9"
    assert len(insane.headers["x-request-id"]) == 16


def test_a_bad_trusted_proxy_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="not an IP address or network"):
        Settings(trusted_proxies="127.0.0.1,nginx.local")


def test_escpos_import_leaves_no_temporary_folder_and_no_second_handler(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k not in ("ESCPOS_CAPABILITIES_PICKLE_DIR",)}
    env.update({"PYTHONPATH": str(SRC), "TMPDIR": str(scratch), "WINS_DATA_DIR": str(data)})
    probe = "import logging, wins.printing, escpos.capabilities as c; print(c.pickle_dir, len(logging.root.handlers))"
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
        folder, handlers = done.stdout.split()
        assert Path(folder) == (data / "cache" / "escpos").resolve()
        assert handlers == "0"
    assert list(scratch.iterdir()) == []
    assert [p.name for p in Path(folder).glob("*.pickle")]


def test_version_comes_from_the_package_with_the_commit() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "wins.cli", "--version"],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == f"wins {full_version()}"
    assert full_version().startswith(package_version())
    assert package_version() != "0+unknown"
    if (SRC.parent / ".git").exists():
        assert "+g" in full_version()


def test_a_badly_formatted_record_does_not_break_the_caller(capsys: pytest.CaptureFixture[str]) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(Redactor())
    logger = logging.getLogger("wins.test.bad")
    logger.addHandler(handler)
    logger.propagate = False  # pytest's own capture handler re-raises logging errors
    try:
        logger.warning("two %s %s", "but one")  # logging reports this on stderr; the caller goes on
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert "Logging error" in capsys.readouterr().err
