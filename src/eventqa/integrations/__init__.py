"""Shells for the tools users orchestrate with (Dagster): thin layers over `eventqa.service`.

Each integration needs an optional extra; importing one without it raises `MissingExtraError`.
"""

from __future__ import annotations

from eventqa.errors import EventQAError


class MissingExtraError(EventQAError, ImportError):
    """An integration's library is not installed: say which extra brings it."""

    exit_code = 2

    def __init__(self, module: str, extra: str, cause: ImportError):
        install = f"pip install 'eventqa[{extra}]'"
        super().__init__(
            f"{module} needs the optional `{extra}` dependencies ({cause}): {install}",
            hint=install,
        )
