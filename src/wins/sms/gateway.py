"""One text as one HTTP request to the site's SMS gateway, built from the templates in the settings (checked at
start by wins.config.check_sms_gateway). Each placeholder is escaped for where it stands: URL-encoded in the
address and in a form body, JSON-escaped in a JSON body; a header may hold only the token."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus

import httpx

from wins.config import SMS_PLACEHOLDER, Settings


@dataclass(frozen=True)
class GatewayRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None

    def __repr__(self) -> str:  # the address and body hold a phone number and maybe the token: never printed
        return f"GatewayRequest({self.method}, <{len(self.url)} characters>)"


def _fill(template: str, values: dict[str, str], escape: Callable[[str], str]) -> str:
    return SMS_PLACEHOLDER.sub(lambda m: escape(values[m[1]]), template)


def build_request(settings: Settings, *, phone: str, text: str) -> GatewayRequest:
    """The exact request for this text to this number (phone in E.164: "+" and digits)."""
    values = {"phone": phone, "phone_digits": phone.lstrip("+"), "text": text, "token": settings.sms_token}
    url = _fill(settings.sms_gateway_url, values, lambda v: quote(v, safe=""))
    headers = {
        name: _fill(value, values, lambda v: v)
        for name, value in (json.loads(settings.sms_gateway_headers) if settings.sms_gateway_headers else {}).items()
    }
    body: bytes | None = None
    if settings.sms_gateway_method == "POST" and settings.sms_gateway_body:
        if settings.sms_gateway_body_format == "json":
            body = _fill(settings.sms_gateway_body, values, lambda v: json.dumps(v)[1:-1]).encode()
            headers.setdefault("Content-Type", "application/json")
        else:
            body = _fill(settings.sms_gateway_body, values, quote_plus).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    return GatewayRequest(settings.sms_gateway_method, url, headers, body)


def send(client: httpx.Client, request: GatewayRequest) -> str:
    """Send one text; "" when the gateway took it (2xx), else what went wrong, fit for a log line (no number,
    no address, no token)."""
    try:
        response = client.request(request.method, request.url, headers=request.headers, content=request.body)
    except httpx.TimeoutException:
        return "the gateway did not answer in time"
    except Exception as exc:  # noqa: BLE001 - httpx's messages may quote the address (number, token): only the kind
        return f"could not reach the gateway ({type(exc).__name__})"
    if 200 <= response.status_code < 300:
        return ""
    return f"the gateway answered HTTP {response.status_code}"
