"""Diagnostics: one line per problem, `path:line:col: CODE message`, like ruff and mypy.

Every user-facing error in the engine is a Diagnostic. Bad input never produces a traceback: the
command line prints the diagnostics it collected and exits 2.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Diagnostic:
    path: str
    line: int
    col: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.code} {self.message}"


class InputError(Exception):
    """Raised with every diagnostic found in one input; the command line prints them all."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(set(diagnostics))
        super().__init__("\n".join(str(d) for d in self.diagnostics))
