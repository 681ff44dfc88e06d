"""Errors for bad input: each problem names its place and the fix, on one line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    where: str  # key path, e.g. "flows[2].to", or "settings.vpcId"
    message: str  # what is wrong and how to fix it
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        place = ""
        if self.file:
            place = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        text = f"{place}{self.where}: {self.message}" if self.where else f"{place}{self.message}"
        return one_line(text)


def one_line(text: str) -> str:
    """Control characters (a newline inside a quoted key, say) shown as escapes,
    so every problem stays one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


class CloudfenceError(Exception):
    """Bad input. The CLI prints each problem and exits with `exit_code`."""

    exit_code = 2

    def __init__(self, problems: Iterable[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class SpecError(CloudfenceError):
    """The spec file cannot be read or is invalid."""


class CheckError(CloudfenceError):
    """A provider cannot express part of the intent, or its settings are wrong."""


class ProviderNotFound(CloudfenceError):
    """The requested provider plugin is not installed."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
