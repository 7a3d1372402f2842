"""The one error hierarchy: every failure a user can cause or meet is an `EventQAError`.

Each error knows its exit code (README "Exit codes"), so the CLI maps errors to codes in one place.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where in a user's file a problem is: `path:line[:column]`."""

    path: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        text = self.path
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        return text


class EventQAError(Exception):
    """Root of everything eventqa raises on purpose."""

    exit_code = 3
    hint: str | None = None

    def __init__(self, message: str, *, location: Location | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class UsageError(EventQAError):
    """The command line asked for something that does not exist (an unknown event, say)."""

    exit_code = 2


class ConfigError(EventQAError):
    """checks.yaml does not parse or does not validate."""

    exit_code = 2


class ContractError(EventQAError):
    """The .proto contracts do not compile or break eventqa's conventions."""

    exit_code = 2


class StaleSuitesError(EventQAError):
    """`generate --check` found expectations/ out of date with the contracts and checks.yaml."""

    exit_code = 1
    hint = "run `eventqa generate` and commit expectations/"


class SuiteFileError(EventQAError):
    """A file in expectations/ is not a suite eventqa wrote (corrupt or edited by hand)."""

    exit_code = 2
    hint = "run `eventqa generate` to rewrite expectations/ from the contracts and checks.yaml"


class ConfigErrors(ConfigError):
    """Several configuration problems found in one pass, reported together."""

    def __init__(self, errors: list[ConfigError]):
        super().__init__("\n".join(str(error) for error in errors))
        self.errors = errors

    def __str__(self) -> str:
        return self.message
