"""A letter's text with the line and column of every character, split into sentences.

Determination letters reach us as text extracted from a PDF: one printed line per text line, blank
lines between them, words hyphenated across lines. A `Text` is the letter's non-blank lines joined
by single spaces (what the parsers read), with a map back to the file's line and column, so every
sentence a fact comes from, and every problem, is reported where it stands in the file.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

from engine.load.cases import decoded_text
from engine.load.files import read_bounded
from engine.model.diagnostics import Diagnostic, InputError

MAX_BYTES = 5_000_000
"""The bound of any input file (as for case files): a letter is a few tens of kilobytes."""


@dataclass(frozen=True)
class Sentence:
    text: str
    line: int
    col: int
    start: int
    """Offset in the flat text (for ordering and for spans)."""

    def where(self) -> str:
        return f"{self.line}:{self.col}"


class Text:
    """The flat text of a letter (non-blank lines joined by one space) and where each offset came from."""

    def __init__(self, path: str, lines: list[str]):
        self.path = path
        self.lines = lines
        parts, self._starts, self._origins = [], [], []
        offset = 0
        for number, line in enumerate(lines, start=1):
            stripped = line.strip()
            if not stripped:
                continue
            col = len(line) - len(line.lstrip()) + 1
            collapsed = re.sub(r"\s+", " ", _CONTROLS.sub(" ", stripped))
            self._starts.append(offset)
            self._origins.append((number, col, offset))
            parts.append(collapsed)
            offset += len(collapsed) + 1
        self.flat = " ".join(parts)

    def loc(self, offset: int) -> tuple[int, int]:
        """The file's (line, column) of a flat-text offset (columns are approximate past collapsed spaces)."""
        if not self._origins:
            return 1, 1
        i = max(bisect_right(self._starts, offset) - 1, 0)
        number, col, start = self._origins[i]
        return number, col + (offset - start)

    @property
    def starts(self) -> list[int]:
        """Flat offsets at which a line of the file begins, ascending (read only)."""
        return self._starts

    def diagnostic(self, offset: int, code: str, message: str) -> Diagnostic:
        line, col = self.loc(offset)
        return Diagnostic(self.path, line, col, code, message)

    def error(self, offset: int, code: str, message: str) -> InputError:
        return InputError([self.diagnostic(offset, code, message)])

    def sentences(self, start: int, end: int) -> list[Sentence]:
        """The sentences of flat[start:end], each with its position."""
        out = []
        chunk = self.flat[start:end]
        pos = 0
        for m in _BOUNDARY.finditer(chunk):
            if _abbreviation_before(chunk, m.start()):
                continue
            _add(out, self, chunk[pos:m.start()], start + pos)
            pos = m.end()
        _add(out, self, chunk[pos:], start + pos)
        return out


def _add(out: list, text: Text, piece: str, offset: int) -> None:
    lead = len(piece) - len(piece.lstrip())
    piece = piece.strip()
    if piece:
        line, col = text.loc(offset + lead)
        out.append(Sentence(piece, line, col, offset + lead))


_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Control characters and bidirectional overrides: a blank in the text read, never copied into a draft."""
_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")
_ABBREVIATIONS = {"dr", "mr", "mrs", "ms", "e.g", "i.e", "pp", "p", "no", "vs", "etc", "approx", "qty", "st", "jr", "sr", "u.s"}


def _abbreviation_before(chunk: str, at: int) -> bool:
    """True when the period before `at` ends an abbreviation ("Dr.", "pp.", "e.g."), not a sentence."""
    word = re.search(r"(\S+)\.$", chunk[max(0, at - 40):at])  # a bounded look back: letters may be long
    return bool(word) and (word.group(1).lower() in _ABBREVIATIONS or len(word.group(1)) == 1)


def read_letter(path: str | Path) -> Text:
    """The letter at `path`: `.pdf` through pypdf, anything else as UTF-8 text (Y000/Y001 as for
    case files: checked before it is read; I007 for a PDF that cannot be read)."""
    label = str(path)
    raw = read_bounded(path, MAX_BYTES, "Y000", "Y001")
    if Path(path).suffix.lower() == ".pdf":
        from engine.ingest.pdf import pdf_text  # start-up cost: pypdf only for a PDF

        return Text(label, pdf_text(raw, label).splitlines())
    text = decoded_text(raw, label)
    return Text(label, text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
