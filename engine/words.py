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


# Characters a terminal acts on instead of showing: C0 and C1 controls, DEL, and the Unicode
# bidirectional overrides and isolates (text shown in another order than it is stored).
_CONTROLS = [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_ESCAPED = {c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _CONTROLS}
_MULTILINE = {c: e for c, e in _ESCAPED.items() if c not in (0x09, 0x0A)}


def has_controls(text: str, multiline: bool = True) -> bool:
    """Whether `text` holds a character `printable` would escape."""
    if text.isascii() and text.isprintable():
        return False
    table = _MULTILINE if multiline else _ESCAPED
    return any(ord(ch) in table for ch in text)


def printable(text: str, multiline: bool = True) -> str:
    """`text` safe to show on a terminal: every control character (an escape sequence that would
    clear the screen or recolour it, a carriage return that would overwrite a line) as `\\x1b`,
    `\\u202e`; newline and tab are kept in multi-line text, escaped too in a one-line text."""
    if not has_controls(text, multiline):  # the common case, at C speed
        return text
    return text.translate(_MULTILINE if multiline else _ESCAPED)
