"""The one helper that puts data into a page's <script>, and a guard that templates and scripts use no other way."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jinja2 import Environment

from tests.security.test_xss import PAYLOADS
from wins.htmlsafe import install_filters, script_json

SRC = Path(__file__).parents[2] / "src" / "wins"


@pytest.mark.parametrize("text", [*PAYLOADS.values(), "<!-- <script>", "a & b", "\u2028\u2029", "é ü 🎫"])
def test_script_json_cannot_end_the_script_and_round_trips(text: str) -> None:
    value = {"name": text, "list": [text, 1, None, True], text: 2.5}
    out = script_json(value)
    for bad in ("<", ">", "&", "'", "\u2028", "\u2029"):
        assert bad not in out, bad
    assert json.loads(out) == value
    assert "</script" not in out.lower() and "<!--" not in out


def test_templates_tojson_goes_through_the_helper() -> None:
    env = Environment(autoescape=True)
    install_filters(env)
    rendered = env.from_string("<script type=application/json>{{ v | tojson }}|{{ v | script_json }}</script>").render(
        v={"n": PAYLOADS["lines"] + "'"}
    )
    a, b = rendered.removeprefix("<script type=application/json>").removesuffix("</script>").split("|")
    assert a == b == script_json({"n": PAYLOADS["lines"] + "'"})


def _templates() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.html") if "vendor" not in p.parts)


def test_templates_reach_scripts_only_through_the_helper() -> None:
    """No inline script, event handler, style attribute, `|safe` or javascript: URL in any template: data goes to
    scripts through `| script_json` in a JSON block, code lives in static files (the CSP forbids the rest)."""
    assert len(_templates()) >= 15
    for path in _templates():
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(SRC)
        assert "|safe" not in text.replace(" ", ""), where
        assert not re.search(r"\son[a-z]+\s*=", text, re.I), f"{where}: inline event handler"
        assert not re.search(r"\sstyle\s*=", text, re.I), f"{where}: style attribute"
        assert "javascript:" not in text.lower(), where
        for tag in re.findall(r"<script\b[^>]*>", text, re.I):
            inline_data = 'type="application/json"' in tag
            assert "src=" in tag or inline_data, f"{where}: inline script {tag}"
        for block in re.findall(r'<script[^>]*type="application/json"[^>]*>(.*?)</script>', text, re.S):
            assert re.fullmatch(r"\{\{ [a-z_]+ \| script_json \}\}", block.strip()), f"{where}: {block}"


def test_scripts_write_data_as_text() -> None:
    """Names reach the DOM through textContent; the one innerHTML takes the dashboard fragment the server escaped."""
    for path in sorted(SRC.rglob("*.js")):
        if "vendor" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        uses = re.findall(r"\.(innerHTML|outerHTML|insertAdjacentHTML)\b|document\.write|\beval\(|new Function", text)
        allowed = ["innerHTML"] if path.name == "dashboard.js" else []
        assert uses == allowed, f"{path.relative_to(SRC)}: {uses}"
