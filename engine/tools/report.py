"""Machine-readable diagnostics for `imr validate --format json|sarif`.

`json`: one document, {"diagnostics": [{path, line, col, code, severity, message}], "summary": {...}}.
`sarif`: SARIF 2.1.0 (the format CI systems annotate pull requests from): one run of the tool
"imr", whose rules are the diagnostic codes (model/diagnostics.py CODES) with their one-line
titles, and one result per diagnostic at its file, line and column. A W code is a warning, every
other code an error, in both formats as in the text output (warnings do not fail the run).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from engine.model.diagnostics import CODES, Diagnostic

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def severity(code: str) -> str:
    """'warning' for a W code (shown, not failing the run), else 'error'."""
    return "warning" if code.startswith("W") else "error"


def summary(rules: int, cases: int, problems: list[Diagnostic]) -> dict:
    warnings = sum(severity(p.code) == "warning" for p in problems)
    return {"rules": rules, "case_files": cases, "errors": len(problems) - warnings, "warnings": warnings}


def render_json(rules: int, cases: int, problems: list[Diagnostic]) -> str:
    diagnostics = [{"path": p.path, "line": p.line, "col": p.col, "code": p.code, "severity": severity(p.code), "message": p.message}
                   for p in problems]
    return json.dumps({"diagnostics": diagnostics, "summary": summary(rules, cases, problems)}, indent=2) + "\n"


def artifact_uri(path: str) -> str:
    """A relative path as a URI reference (forward slashes, percent-encoded); an absolute one as file://."""
    p = Path(path)
    if p.is_absolute():
        return p.as_uri()
    return quote(p.as_posix(), safe="/")


def render_sarif(rules: int, cases: int, problems: list[Diagnostic]) -> str:
    from engine import __version__  # the package's own version

    codes = list(CODES)
    index = {code: i for i, code in enumerate(codes)}
    driver = {
        "name": "imr",
        "version": __version__,
        "rules": [{"id": code, "shortDescription": {"text": title},
                   "defaultConfiguration": {"level": severity(code)}} for code, title in CODES.items()],
    }
    results = []
    for p in problems:
        result = {"ruleId": p.code, "level": severity(p.code), "message": {"text": p.message},
                  "locations": [{"physicalLocation": {"artifactLocation": {"uri": artifact_uri(p.path)},
                                                      "region": {"startLine": max(1, p.line), "startColumn": max(1, p.col)}}}]}
        if p.code in index:
            result["ruleIndex"] = index[p.code]
        results.append(result)
    run = {"tool": {"driver": driver}, "columnKind": "unicodeCodePoints", "results": results,
           "properties": summary(rules, cases, problems)}
    return json.dumps({"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}, indent=2) + "\n"
