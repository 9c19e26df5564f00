"""A minimal PDF writer for tests: text lines on pages in Helvetica, so a PDF letter can be made
from a text fixture without a PDF library that writes (pypdf reads; it does not lay out text)."""

from __future__ import annotations


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf_of(lines: list[str], per_page: int = 60) -> bytes:
    pages = [lines[i:i + per_page] for i in range(0, len(lines), per_page)] or [[]]
    objects: list[bytes] = []
    font_id = 3
    page_ids = []
    body = []
    for n, page in enumerate(pages):
        content = "BT /F1 9 Tf 11 TL 40 800 Td " + " ".join(f"({_escape(line)}) Tj T*" for line in page) + " ET"
        content_id = 4 + 2 * n + 1
        page_id = 4 + 2 * n
        page_ids.append(page_id)
        body.append((page_id, f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 {font_id} 0 R >> >> "
                              f"/Contents {content_id} 0 R >>".encode()))
        data = content.encode("latin-1")
        body.append((content_id, b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"))
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects = [(1, b"<< /Type /Catalog /Pages 2 0 R >>"),
               (2, f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>".encode()),
               (3, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")] + body
    objects.sort()
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, data in objects:
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + data + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
