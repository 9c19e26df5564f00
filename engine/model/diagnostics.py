"""Diagnostics: one line per problem, `path:line:col: CODE message`, like ruff and mypy.

Every user-facing error in the engine is a Diagnostic. Bad input never produces a traceback: the
command line prints the diagnostics it collected and exits 2.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.words import printable


@dataclass(frozen=True, order=True)
class Diagnostic:
    path: str
    line: int
    col: int
    code: str
    message: str

    def __str__(self) -> str:
        """One line, whatever the path or message holds: control characters (a newline, a terminal
        escape from the input quoted in the message) are shown escaped."""
        return printable(f"{self.path}:{self.line}:{self.col}: {self.code} {self.message}", multiline=False)


class InputError(Exception):
    """Raised with every diagnostic found in one input; the command line prints them all."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(set(diagnostics))
        super().__init__("\n".join(str(d) for d in self.diagnostics))


CODES: dict[str, str] = {
    # Y: reading YAML
    "Y000": "a file cannot be read, or is not a regular file (a FIFO, a device, a folder): checked before reading",
    "Y001": "a file too large, not UTF-8 text, or holding NUL bytes",
    "Y002": "invalid YAML",
    "Y003": "a document past the node limit, counted while it is read and after alias expansion (alias bomb)",
    "Y004": "nesting too deep",
    "Y005": "a mapping key that is not a plain name, or a merge key (<<)",
    "Y006": "a duplicate key",
    "Y007": "a scalar that cannot be read (a bad date, an integer too long)",
    "Y008": "an empty file",
    "Y009": "a file that failed to load in an unexpected way (reported as that file's problem)",
    # L, R, P, V: rules folders, rule packs, profiles, vocabulary (schema and meaning)
    "L001": "not a rules folder (no packs/ inside)",
    "L002": "a layered rules folder holds vocabulary/ (a layer adds packs and profiles; the vocabulary is the base folder's)",
    "L003": "a layered pack file has the same name as one in an earlier folder",
    "R001": "a rule pack that does not match the pack schema",
    "R002": "a pack id used twice",
    "R003": "a rule id used twice",
    "R004": "an MTUS rule without pages or a CCR subsection",
    "R005": "a rationale missing for an outcome the rule can reach",
    "R006": "a criterion without the documentation that would change it",
    "R007": "a condition that can never be true",
    "R008": "editions of one document and topic with overlapping dates",
    "R010": "an unknown service or region in a scope",
    "R011": "a pack no jurisdiction profile ranks",
    "R012": "an unknown table, or a table row key used twice",
    "R013": "a table row without a column a rule or its text reads",
    "R014": "a rule that does not say what silence means (`silence: requirement | exclusion | supporting`)",
    "R015": "a postsurgical table row and vocabulary/procedures.yaml that do not name each other (`procedure:`, `postsurgical:`)",
    "R016": "a carried-over declaration outside its pack's dates or the history period it names, or overlapping another",
    "R017": "a statute rule whose section is not a statute citation (code and section)",
    "P001": "a profile that does not match the profile schema",
    "P002": "a second profile for one jurisdiction",
    "P003": "no jurisdiction profile",
    "V001": "a vocabulary file that does not match its schema",
    "V002": "a diagnosis prefix that is not an ICD-10-CM code",
    "V003": "an unknown diagnosis group, ungrouped reason or drug class",
    "V004": "a diagnosis prefix both grouped and ungrouped",
    "V005": "an ICD-10-CM code of the treated chapters in no group of a topic and not ungrouped",
    "V006": "MTUS Drug List versions whose effective dates overlap",
    "F001": "a drug list file (CSV or XLSX) that cannot be imported: a bad header, row or cell, at its row and column",
    # C, T: the rule language
    "C001": "a condition that does not parse",
    "C002": "a condition naming an unknown fact or field, or comparing different types",
    "C003": "a `require` reading a fact that exists several times per item",
    "C004": "a comparison of two fields of the same fact",
    "C005": "a condition that expands to too many alternatives",
    "C006": "a table column read outside a table rule, or a bad column reference",
    "C007": "a number in a condition the rules engine cannot hold as written (past int64; an addend past 2^53; a decimal that needs an exponent or more digits than a double holds)",
    "T001": "a rationale template that uses what templates may not (loops, arithmetic, a filter off the allow-list), or names an unknown field",
    "T002": "a template past a limit of the template language (substitutions, expression length, nesting; a rendering past the size limit with the rule's own values)",
    "T003": "a rationale that renders past its size limit, or cannot be rendered, for one case (decide)",
    # K: limits of the rules engine
    "K001": "a topic that compiles to more engine rules than a ruleset holds",
    "K002": "a rule needing more tests or joined facts than the engine allows",
    # E, W: case files
    "E000": "a path that is missing or cannot be written",
    "E001": "a case file that is not a mapping",
    "E002": "a case that does not match the case schema",
    "E003": "a bad JSON Lines record or JSON case (invalid JSON, a line too long)",
    "E004": "an expectation naming an item that is not requested",
    "E005": "an unknown item named on the command line",
    "E006": "an expectation naming a rule the rule base does not have",
    "E007": "an expectation naming one rule both as governing and as not fired",
    "E008": "a folder holding no case file (*.yaml, *.yml, *.json): nothing to test, validate or run is not a pass",
    "E009": "a diagnosis code not in force on the request date (ICD-9-CM from 2015-10-01; an ICD-10-CM code not in the release in force), or not of the system named",
    "E011": "a request code (CPT, HCPCS, RxNorm) the crosswalks cannot read as a key: unknown, not valid on the request date, or standing for another key than the item gives",
    "E010": "a diagnosis code both ICD-9-CM and ICD-10-CM have, before 2015-10-01, without `system:`",
    "E012": "a credential that cannot be stored (an unknown role, a password under 12 characters)",
    "E013": "a decision log that cannot be replayed (a rule set its rows name is missing)",
    "W001": "a value no rule can match (a misspelt drug, service or procedure)",
    "W002": "a case file without the editor's schema line",
    "W003": "text cut short by a YAML comment",
    "W004": "text holding control characters (terminal escapes): output shows them escaped",
    "W005": "a requested item whose diagnoses fall in no diagnosis group of its topic",
    "W006": "a current medication whose drug the vocabulary does not know",
    "W007": "a diagnosis code that is a non-billable header (a category) in the release in force on the request date",
    # B: batch output
    "B001": "a batch output that is its input (the same file, a link to it, or standard output appended to it)",
    "B002": "a --resume that cannot continue: no output named, or an output that is not of this input",
    # I: reading a determination letter (imr ingest, imr agree)
    "I001": "not an IMR determination letter (no 'IMR ISSUES, DECISIONS AND RATIONALES' section)",
    "I002": "a letter without a clinical case summary before its decisions",
    "I003": "a letter whose decisions section holds no disputed item, or an item without its decision",
    "I004": "a disputed item cut short: no decision rationale, or one that never concludes (a truncated letter)",
    "I005": "a rationale that concludes against its item's decision",
    "I006": "a request line that cannot be an item of the case model (no visits, no known drug, no form)",
    "I007": "a PDF letter that cannot be read, or holds no text",
    "I008": "a letter whose summary states no date of the request",
    "I009": "a draft case that the case model refuses (nothing is written)",
    "I010": "a folder holding no letter (*.txt, *.pdf)",
    "I011": "an ingest output that is the letter itself (the same file, or a link to it)",
    # D, S: tools
    "D001": "a revision or folder `imr diff` cannot read",
    "S001": "a schema file out of date with the models",
    "S002": "a schema folder that cannot be written",
    "S003": "a generated diagnosis table out of date with the vocabulary and the rules",
}
"""Every diagnostic code, with a one-line title (`imr codes` lists them; a test keeps this complete)."""
