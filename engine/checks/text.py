"""Text that would act on a terminal instead of being shown: control characters (an escape
sequence such as "\\x1b[2J" that clears the screen, a carriage return that overwrites a line, a
bidirectional override) in any value or key of a case or rule file. Output shows them escaped
(words.printable); `imr validate` warns on each value that holds one (W004), at its position."""

from __future__ import annotations

from engine.model.diagnostics import Diagnostic
from engine.words import has_controls, printable


def control_warnings(source) -> list[Diagnostic]:
    """One W004 per string (value or key) of the parsed file that holds a control character other
    than newline and tab (which multi-line text may hold)."""
    out: list[Diagnostic] = []

    def warn(path: tuple, text: str, what: str) -> None:
        found = sorted({printable(ch, multiline=False) for ch in text if has_controls(ch)})
        line, col = source.value_loc(path) if what == "value" else source.loc(path)
        out.append(Diagnostic(source.path, line, col, "W004",
                              f"{what} holds control characters ({', '.join(found)}): output shows them escaped; remove them"))

    def walk(value, path: tuple) -> None:
        if isinstance(value, str):
            if has_controls(value):
                warn(path, value, "value")
        elif isinstance(value, dict):
            for key, child in value.items():
                if isinstance(key, str) and has_controls(key):
                    warn(path + (key,), key, "key")
                walk(child, path + (key,))
        elif isinstance(value, list):
            for i, child in enumerate(value):
                walk(child, path + (i,))

    walk(source.data, ())
    return out
