"""Contract conventions: names, metadata, owners and enum zero values."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator

from eventqa.contracts.model import ContractSet
from eventqa.lint.model import RULES, Finding

_SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
# Past tenses that do not end in -ed, common in product events.
_IRREGULAR_PAST = frozenset(
    [
        "began",
        "bought",
        "built",
        "came",
        "chose",
        "did",
        "drew",
        "fed",
        "felt",
        "found",
        "gave",
        "got",
        "grew",
        "heard",
        "held",
        "hid",
        "kept",
        "knew",
        "laid",
        "led",
        "left",
        "lent",
        "let",
        "lost",
        "made",
        "meant",
        "met",
        "paid",
        "put",
        "quit",
        "ran",
        "read",
        "rode",
        "rose",
        "said",
        "sat",
        "saw",
        "sent",
        "set",
        "shook",
        "shot",
        "showed",
        "shut",
        "sold",
        "spent",
        "spoke",
        "stood",
        "stole",
        "struck",
        "swam",
        "swept",
        "swore",
        "took",
        "taught",
        "told",
        "thought",
        "threw",
        "understood",
        "undid",
        "unfroze",
        "upheld",
        "went",
        "withdrew",
        "woke",
        "won",
        "wore",
        "wound",
        "wrote",
        "signed",
        "logged",
    ]
)


def snake_case(name: str) -> str:
    """`UserFollowedUser` -> `user_followed_user`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _is_past_tense(word: str) -> bool:
    return word.endswith("ed") or word in _IRREGULAR_PAST


def _finding(rule: str, location: object, message: str) -> Finding:
    return Finding(rule, RULES[rule].severity, location, message)  # type: ignore[arg-type]


def conventions(contracts: ContractSet, teams: set[str]) -> Iterator[Finding]:
    """Every convention finding for the contracts (before checks.yaml's rule settings)."""
    for event in contracts.events.values():
        message = event.message.rsplit(".", 1)[-1]
        expected = snake_case(message.removesuffix("Event"))
        if event.name != expected:
            yield _finding(
                "EQ001", event.location,
                f"event {event.name!r} carries {message}; name it {expected!r} "
                f"(or its message {''.join(w.title() for w in event.name.split('_'))}Event)",
            )  # fmt: skip
        words = event.name.split("_")
        if len(words) < 3 or not _is_past_tense(words[1]):
            yield _finding(
                "EQ002",
                event.location,
                f"event {event.name!r} does not read actor_action_object with a past-tense "
                "action, like user_followed_user",
            )
        for label, value in (("description", event.description), ("team_owner", event.owner)):
            if not value:
                yield _finding("EQ003", event.location, f"event {event.name!r} has no {label}")
        if event.owner and event.owner not in teams:
            close = difflib.get_close_matches(event.owner, sorted(teams), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else " (add it under `teams:`)"
            yield _finding(
                "EQ004", event.location,
                f"event {event.name!r} is owned by {event.owner!r}, a team checks.yaml does not "
                f"know{hint}",
            )  # fmt: skip

    index = contracts.index
    if index is None:
        return
    for full_name, message in sorted(index.messages.items()):
        if message.file.name not in index.own_files or message.proto.options.map_entry:
            continue
        for number, field in enumerate(message.proto.field):
            if not _SNAKE.match(field.name):
                yield _finding(
                    "EQ005", index.location(message, 2, number),
                    f"field {full_name.lstrip('.')}.{field.name} is not snake_case "
                    f"({snake_case(field.name)!r})",
                )  # fmt: skip
    for full_name, enum in sorted(index.enum_protos.items()):
        if enum.file.name not in index.own_files:
            continue
        for number, value in enumerate(enum.proto.value):
            if value.number == 0 and not value.name.endswith("_UNSPECIFIED"):
                yield _finding(
                    "EQ006", index.location(enum, 2, number),
                    f"{full_name.lstrip('.')}.{value.name} is the zero value; name it "
                    f"{snake_case(enum.proto.name).upper()}_UNSPECIFIED so an unset field is "
                    "not mistaken for a real value",
                )  # fmt: skip
