"""How the conformance kit states a verdict: named rules, each passed or broken with a reason.

A check runs every rule of its kind (a broken rule does not stop the others) and raises one
``ConformanceError`` naming each broken rule, so a plugin author sees everything to fix at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn


class ConformanceError(AssertionError):
    """A component broke one or more conformance rules.

    ``rules`` lists the broken rules' names (``"at-most-k"``), ``reasons`` what was seen;
    the message names them all on its first line (what pytest's summary shows), then has
    one line per broken rule: ``[at-most-k] query 'q1': 6 documents for k=5``. An
    ``AssertionError``, so pytest reports it as a test failure.
    """

    def __init__(self, subject: str, broken: list[tuple[str, str]]):
        self.subject = subject
        self.rules = [rule for rule, _ in broken]
        self.reasons = [reason for _, reason in broken]
        names = ", ".join(self.rules)
        lines = [f"{subject} breaks conformance rule{'s' if len(broken) > 1 else ''} {names}:"]
        lines += [f"  [{rule}] {reason}" for rule, reason in broken]
        super().__init__("\n".join(lines))


class Broken(Exception):
    """Raised inside a rule: the rule is broken for the reason given."""


def broken(reason: str) -> NoReturn:
    """Break the running rule with ``reason``."""
    raise Broken(reason)


def require(condition: bool, reason: str) -> None:
    """Break the running rule with ``reason`` unless ``condition`` holds."""
    if not condition:
        raise Broken(reason)


class Checklist:
    """The rules run on one component, and the broken ones.

    ``rule(name, function, *args)`` runs ``function(*args)``: ``Broken`` breaks the rule with
    its reason; any other exception breaks it too ("raised TypeError: ..."), since a
    component the host calls must not fail on valid input. ``verdict()`` raises the
    ``ConformanceError`` when any rule broke.
    """

    def __init__(self, subject: str):
        self.subject = subject
        self.passed: list[str] = []
        self.broken: list[tuple[str, str]] = []

    def rule(self, name: str, function: Callable[..., Any], *args: Any) -> Any:
        """Run one rule; its return value (or None when it broke)."""
        try:
            value = function(*args)
        except Broken as reason:
            self.broken.append((name, str(reason)))
            return None
        except Exception as error:  # the component failed where it must work
            text = str(error).strip().splitlines()
            self.broken.append((name, f"raised {type(error).__name__}: {text[0] if text else ''}"))
            return None
        self.passed.append(name)
        return value

    def verdict(self) -> list[str]:
        """The rules passed; raises ``ConformanceError`` when any broke."""
        if self.broken:
            raise ConformanceError(self.subject, self.broken)
        return list(self.passed)
