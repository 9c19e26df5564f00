"""Plain-English helpers shared by the letter, the tools and the command line (no imports of the
engine, so any layer may use them)."""

from __future__ import annotations

import re


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 rule`, `2 rules`: summaries are read by people, and "1 problems" reads as a slip."""
    return f"{n} {word if n == 1 else many or word + 's'}"


# "2 level(s)", "1 nerve-root level(s)": a count, up to three words, then a noun marked "(s)"
_COUNTED = re.compile(r"\b(\d+(?:\.\d+)?)((?: [A-Za-z][A-Za-z-]*){0,3}?) ([A-Za-z]+)\(s\)")


def counted(text: str) -> str:
    """`N noun(s)` written by its count: "1 level", "2 levels" (a template may mark a counted noun
    with "(s)" and leave the agreement to the letter). A "(s)" with no count before it (a value not
    documented) reads as the plural: "not documented visits"."""
    if "(s)" not in text:
        return text
    text = _COUNTED.sub(lambda m: f"{m.group(1)}{m.group(2)} {m.group(3) if m.group(1) == '1' else m.group(3) + 's'}", text)
    return re.sub(r"\b([A-Za-z]+)\(s\)", r"\1s", text)


def whole(value):
    """A float that is a whole number as an int (6.0 -> 6): "6 weeks", never "6.0 weeks"."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


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
