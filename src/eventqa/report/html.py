"""The report page: one self-contained HTML file (inline CSS and JS, data as embedded JSON).

Nothing on the page asks any host for anything: styles, script and charts (SVG drawn by the
page's own script) are inline. The data is a `<script type="application/json">` block whose `<`,
`>` and `&` are JSON escapes, so no warehouse value can close the block or open a tag; the script
puts every value on the page as text (`textContent`), never as HTML.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from importlib.resources import files
from typing import Any


def embedded_json(document: Any) -> str:
    """JSON safe inside a `<script>` element: no `</script>`, `<!--` or `]]>` can appear."""
    text = json.dumps(_finite(document), ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _finite(value: Any) -> Any:
    """The document with NaN and infinities as strings: JSON.parse rejects them as numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def render_page(document: dict[str, Any]) -> str:
    """The whole page for a report document (see `data.build_document`)."""
    from jinja2 import Environment, PackageLoader, select_autoescape
    from markupsafe import Markup

    environment = Environment(
        loader=PackageLoader("eventqa.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        keep_trailing_newline=True,
    )
    template = environment.get_template("report.html.j2")
    assets = files("eventqa.report") / "templates"
    script = (assets / "report.js").read_text(encoding="utf-8")
    # The page allows this one script (by hash) and nothing else: an injected tag or handler
    # would not run even if escaping ever failed.
    digest = hashlib.sha256(f"\n{script}\n".encode()).digest()
    return template.render(
        project=document["project"],
        generated_at=document["generated_at"],
        summary=document["summary"],
        # Our own files, inlined as they are (they contain no `</`: a test holds them to it).
        style=Markup((assets / "report.css").read_text(encoding="utf-8")),
        script=Markup(script),
        script_hash=f"sha256-{base64.b64encode(digest).decode()}",
        data=Markup(embedded_json(document)),  # escaped above for the script element
    )
