"""Suites: contracts and rules turned into Great Expectations suites under expectations/."""

from eventqa.suites.derive import DerivedSuite, derive_suite, derive_suites
from eventqa.suites.store import SuiteDiff, diff_suites, load_suite, render_suite, write_suites

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
