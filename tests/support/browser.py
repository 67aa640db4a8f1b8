"""Debian's Chromium driven by Playwright (never `playwright install`: nothing is downloaded)."""

from __future__ import annotations

from playwright.sync_api import Browser, BrowserContext, Playwright

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach Google on a machine with no internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright: Playwright, *extra_args: str) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])


# Every page of a context reports Content-Security-Policy violations to the test (see watch_csp).
_CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__winsCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} on ${location.pathname}`);
});
"""


def watch_csp(context: BrowserContext) -> list[str]:
    """The CSP violations any page of `context` reports from now on (the pages must work under the policy)."""
    violations: list[str] = []
    context.expose_function("__winsCspViolation", lambda text: violations.append(text))  # a bound builtin is refused
    context.add_init_script(_CSP_REPORTER)
    return violations
