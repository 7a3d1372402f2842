"""Event contracts: `.proto` files compiled by protoc, read into `EventContract`s.

The model is light; `load_contracts` brings protobuf in, so it is imported on first use only
(a `run` reads value types from the model and never compiles a `.proto`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventqa.contracts.model import ContractSet, Envelope, EventContract, Field, ValueType

if TYPE_CHECKING:
    from eventqa.contracts.loader import load_contracts

__all__ = ["ContractSet", "Envelope", "EventContract", "Field", "ValueType", "load_contracts"]


def __getattr__(name: str) -> Any:
    if name == "load_contracts":
        from eventqa.contracts.loader import load_contracts

        return load_contracts
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
