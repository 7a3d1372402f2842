"""Text of exported files: stable YAML, and user text that dbt's Jinja must not read as code."""

from __future__ import annotations

import io
from typing import Any

_JINJA = ("{{", "{%", "{#")


def dump_yaml(data: Any) -> str:
    """YAML in the order given (callers sort), block style, unwrapped lines, unicode kept."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    yaml.allow_unicode = True
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def jinja_literal(text: str) -> str:
    """`text` as dbt renders it: wrapped in `{% raw %}` when it holds Jinja delimiters."""
    if not any(mark in text for mark in _JINJA):
        return text
    # An `{% endraw %}` in the text ends the raw block: print that one as a Jinja string.
    escaped = text.replace("{% endraw %}", "{% endraw %}{{ '{% endraw %}' }}{% raw %}")
    return "{% raw %}" + escaped + "{% endraw %}"
