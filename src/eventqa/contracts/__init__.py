"""Event contracts: `.proto` files compiled by protoc, read into `EventContract`s."""

from eventqa.contracts.loader import load_contracts
from eventqa.contracts.model import ContractSet, Envelope, EventContract, Field, ValueType

__all__ = ["ContractSet", "Envelope", "EventContract", "Field", "ValueType", "load_contracts"]
