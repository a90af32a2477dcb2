"""Error types shared by every stage.

Every user-facing failure is a :class:`BitframeError` carrying one or more
:class:`Problem` records. A problem knows *where* it happened (file, line and
column for YAML; file, row and column for tables), *what* was wrong, and *how*
to fix it, and has a stable ``code`` that tests and users can rely on.
The CLI prints ``error.report()`` and exits 1; it never shows a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the user's input.

    ``line`` and ``column`` are 1-based (as editors show them). ``row`` is the row
    number a spreadsheet shows (the header is row 1, the first data row is row 2). A
    ``"warning"`` flags input that is valid but implausible: it is reported beside the errors
    and never blocks.
    """

    code: str
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    row: int | None = None
    field: str | None = None
    hint: str | None = None
    snippet: str | None = None
    severity: Literal["error", "warning"] = "error"

    @property
    def location(self) -> str:
        parts: list[str] = []
        if self.file:
            parts.append(self.file)
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        loc = ":".join(parts)
        if self.row is not None:
            loc = f"{loc}, row {self.row}" if loc else f"row {self.row}"
        # In a table the field is a column; in YAML the line:column already points at it.
        if self.field and self.line is None:
            loc = f"{loc}, column '{self.field}'" if loc else f"column '{self.field}'"
        return loc

    def format(self) -> str:
        head = f"{self.location}: " if self.location else ""
        lines = [f"{head}{self.severity}[{self.code}]: {self.message}"]
        if self.snippet:
            lines.append(self.snippet)
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class BitframeError(Exception):
    """Base class: input the user can fix. Carries every problem found."""

    def __init__(self, problems: Problem | Sequence[Problem] | str, *, code: str = "BF000"):
        if isinstance(problems, str):
            problems = [Problem(code=code, message=problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__(self.report())

    def report(self) -> str:
        n = len(self.problems)
        body = "\n\n".join(p.format() for p in self.problems)
        warnings = sum(p.severity == "warning" for p in self.problems)
        if warnings:
            body += f"\n\n{n - warnings} error(s) and {warnings} warning(s) found."
        elif n > 1:
            body += f"\n\n{n} problems found."
        return body


class ProtocolError(BitframeError):
    """The protocol YAML is invalid (syntax, schema or cross-field rules)."""


class DataError(BitframeError):
    """A participant, list or outcome file is unusable as given."""


class OutputExistsError(BitframeError):
    """Refusing to overwrite an existing output without ``force``."""


def did_you_mean(word: str, choices: Iterable[str], *, n: int = 1, cutoff: float = 0.6) -> str | None:
    """Return the closest valid spelling of ``word``, or None."""
    matches = difflib.get_close_matches(str(word), list(choices), n=n, cutoff=cutoff)
    return matches[0] if matches else None


def choice_hint(word: str, choices: Iterable[str]) -> str:
    """A hint line: 'did you mean X?' plus the valid options."""
    choices = sorted(set(choices))
    guess = did_you_mean(word, choices)
    listed = ", ".join(f"'{c}'" for c in choices)
    if guess:
        return f"did you mean '{guess}'? Valid values: {listed}"
    return f"valid values: {listed}"


def check_choice(parameter: str, value: str, choices: Iterable[str]) -> str:
    """Validate a registry/enum argument, raising ValueError with a suggestion."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"Unknown {parameter} {value!r}; {choice_hint(value, choices)}.")
    return value
