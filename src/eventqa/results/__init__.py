"""Run results: typed models that execution produces, the store saves and alerting reads."""

from eventqa.results.models import CheckResult, EventResult, RunResult, Status, TableResult

__all__ = ["CheckResult", "EventResult", "RunResult", "Status", "TableResult"]
