"""Where the project keeps its rules, cases and schemas: the defaults of every command, wherever
`imr` is run from."""

from __future__ import annotations

from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
DEFAULT_RULES = PROJECT / "guideline_rules"
DEFAULT_CASES = PROJECT / "cases"
"""The project's own case corpus."""
SCHEMA_DIR = PROJECT / "schema"
