"""Suites: contracts and rules turned into Great Expectations suites under expectations/.

Deriving and writing suites is imported on first use: a `run` needs only `suites.columns`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventqa.suites.derive import DerivedSuite, derive_suite, derive_suites
    from eventqa.suites.store import SuiteDiff, diff_suites, load_suite, render_suite, write_suites

_HOMES = {
    "DerivedSuite": "derive", "derive_suite": "derive", "derive_suites": "derive",
    "SuiteDiff": "store", "diff_suites": "store", "load_suite": "store", "render_suite": "store",
    "write_suites": "store",
}  # fmt: skip
__all__ = [
    "DerivedSuite",
    "SuiteDiff",
    "derive_suite",
    "derive_suites",
    "diff_suites",
    "load_suite",
    "render_suite",
    "write_suites",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
