"""Plain-English helpers shared by the letter, the tools and the command line (no imports, so
any layer may use them)."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 rule`, `2 rules`: summaries are read by people, and "1 problems" reads as a slip."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def spoken_list(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(words) <= 2:
        return " and ".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
