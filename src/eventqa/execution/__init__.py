"""Execution: suites run in the warehouse, pushed down as SQL through Great Expectations."""
