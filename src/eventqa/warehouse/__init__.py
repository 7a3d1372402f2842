"""Warehouse adapters behind one small interface (DuckDB embedded by default)."""

from eventqa.warehouse.base import (
    TerminalWarehouseError,
    TransientWarehouseError,
    Warehouse,
    WarehouseBusyError,
    WarehouseError,
    dialect_for,
    open_warehouse,
)

__all__ = [
    "TerminalWarehouseError",
    "TransientWarehouseError",
    "Warehouse",
    "WarehouseBusyError",
    "WarehouseError",
    "dialect_for",
    "open_warehouse",
]
