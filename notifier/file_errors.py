"""Mistakes in the files operators write (rules and templates), each told as file:line:column.

Rules and templates both report through these, so neither package imports the other for them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleError:
    """A finding at a place in a rule or template file: an error refuses the files, a warning
    does not."""

    file: str
    line: int
    column: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"


class RuleSetError(Exception):
    """The rule or template files cannot be loaded; ``errors`` says where and why."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))
