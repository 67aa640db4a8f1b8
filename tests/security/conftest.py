"""Browser checks of every HTML page: a live server and Debian's Chromium (the fixtures of tests/web), plus a
watcher that records what must never happen on a page: a dialog, an uncaught error, a CSP violation, a script
planted in data that ran (it sets `window.__pwned`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Page, Response

from tests.security.forms import signed_in  # noqa: F401 - form posts as a signed-in user
from tests.web.conftest import browser, new_context, site  # noqa: F401 - the web tests' fixtures, shared

# Runs in every frame before the page's own scripts.
WATCH_SCRIPT = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} ${e.sample || ""}`);
});
"""


@dataclass
class Watch:
    """What one page did that it must not: filled by Playwright's events as the page runs."""

    page: Page
    dialogs: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def problems(self, *, any_console_error: bool) -> list[str]:
        state: dict[str, Any] = self.page.evaluate("() => ({v: window.__violations || [], p: window.__pwned})")
        found = [f"dialog: {m}" for m in self.dialogs] + [f"uncaught: {m}" for m in self.page_errors]
        found += [f"CSP violation: {v}" for v in state["v"]]
        if state["p"] is not None:
            found.append(f"planted script ran: window.__pwned = {state['p']!r}")
        # Chromium also logs refused loads and inline code ("Refused to …"); other console errors (a speech
        # file a payload-named counter has no phrase for) only count on pages with ordinary data.
        found += [f"console: {m}" for m in self.console_errors if any_console_error or "Refused to" in m]
        return found


def watch(page: Page) -> Watch:
    seen = Watch(page)
    page.add_init_script(WATCH_SCRIPT)

    def on_dialog(dialog: Any) -> None:
        seen.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: seen.page_errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            seen.console_errors.append(f"{msg.text} at {msg.location.get('url')}") if msg.type == "error" else None
        ),
    )
    return seen


def assert_page_headers(response: Response | None) -> None:
    """The headers every HTML page carries (one home: wins.access_log.AccessLogMiddleware, given them by wins.app)."""
    from wins.app import CONTENT_SECURITY_POLICY

    assert response is not None
    headers = response.headers
    assert headers["content-type"].startswith("text/html"), headers
    assert headers.get("content-security-policy") == CONTENT_SECURITY_POLICY, response.url
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("referrer-policy") == "no-referrer"
    assert headers.get("x-frame-options") == "DENY"
