"""The text of a PDF letter, through pypdf (pure Python, no model or network): one page after another."""

from __future__ import annotations

import io

from engine.model.diagnostics import Diagnostic, InputError


def pdf_text(raw: bytes, label: str) -> str:
    """Every page's text; a file pypdf cannot read, or one without text (a scan), is one I007 line."""
    try:
        from pypdf import PdfReader  # start-up cost: only for a PDF letter
        from pypdf.errors import PyPdfError
    except ImportError:  # pragma: no cover - pypdf is a dependency; a broken install says so in one line
        raise InputError([Diagnostic(label, 1, 1, "I007", "reading a PDF letter needs pypdf (pip install pypdf)")]) from None
    try:
        reader = PdfReader(io.BytesIO(raw))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise InputError([Diagnostic(label, 1, 1, "I007", f"cannot read the PDF: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")]) from None
    text = "\n".join(pages)
    if not text.strip():
        raise InputError([Diagnostic(label, 1, 1, "I007", "the PDF holds no text (a scanned image?): extract its text first")])
    return text
