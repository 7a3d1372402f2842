"""Exports of the contracts for the tools teams already use: dbt projects and ODCS catalogs.

Each export is a pure function from the contracts, checks.yaml and the derived suites to a list
of generated files (`files.GeneratedFile`); `files.write_export` writes them, refusing to
overwrite what someone edited by hand.
"""

from eventqa.export.files import ExportResult, GeneratedFile, HandEditedFilesError, write_export

__all__ = ["ExportResult", "GeneratedFile", "HandEditedFilesError", "write_export"]
