"""checks.yaml: typed, validated settings with the line of every key."""

from eventqa.config.loader import dotted, load_config
from eventqa.config.models import Config, Rule, Severity

__all__ = ["Config", "Rule", "Severity", "dotted", "load_config"]
