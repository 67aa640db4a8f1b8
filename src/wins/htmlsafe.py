"""The one way data reaches a page's `<script>`: JSON with every character that could end the script element, open
an HTML comment or break a JavaScript string escaped as \\uXXXX (still the same JSON for `JSON.parse`).

Pages put their data in `<script type="application/json" id=...>` blocks that their (external) script reads with
`JSON.parse(el.textContent)`; the Content-Security-Policy (wins.app) forbids inline script anyway, so this is the
second of two locks, not the only one.
"""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment
from markupsafe import Markup

# "<" ends the element ("</script>") or opens a comment ("<!--"), ">" closes one ("-->"), "&" starts a character
# reference in XHTML parsing, "'" ends a single-quoted attribute the data might be placed in, and U+2028/U+2029
# end a line inside a JavaScript string literal in older engines.
_ESCAPES = str.maketrans(
    {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "'": "\\u0027",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
)


def script_json(value: Any) -> str:
    """`value` as JSON that is safe to place verbatim inside a `<script>` element."""
    # ensure_ascii=False keeps accented names readable (and short); the translation then escapes what matters.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).translate(_ESCAPES)


def _script_json_filter(value: Any) -> Markup:
    return Markup(script_json(value))  # escaped above, for a <script> context


def install_filters(env: Environment) -> None:
    """Give a template environment `|script_json`, and route Jinja's own `|tojson` through the same helper, so
    no template can reach a `<script>` by another path."""
    env.filters["script_json"] = _script_json_filter
    env.filters["tojson"] = _script_json_filter
