"""The output model: a determination per requested item, shaped like an IMR letter's
"IMR ISSUES, DECISIONS AND RATIONALES" section, plus the trace that produced it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Review(Frozen):
    """The independent review of the case's jurisdiction (its profile's `review`): how the letter names it."""

    name: str
    abbreviation: str
    supported_note: str | None = None


class Citation(Frozen):
    basis: str  # "MTUS" or "Non-MTUS Citation"
    guideline: str
    document: str
    edition: str
    section: str
    pages: str
    carried_over: str | None = None
    """On a request dated where the rule's criteria are another edition's text applied under a
    later one: "values of EDITION applied (carried over into EDITION)" (rules.CarriedOver)."""

    def text(self) -> str:
        pages = "" if self.pages == "n/a" else f", {'page' if '-' not in self.pages and ',' not in self.pages else 'pages'} {self.pages}"
        prefix = "" if self.basis.startswith(self.guideline) else f"{self.basis}: "
        note = f"; {self.carried_over}" if self.carried_over else ""
        return f"{prefix}{self.guideline} {self.document} ({self.edition}), {self.section}{pages}{note}"


class RuleOutcome(Frozen):
    rule: str
    status: str  # met | not_met | not_documented
    subject: str = ""
    pack: str
    rank: int
    deciding: bool
    not_documented: list[str] = []


class Report(Frozen):
    """An answer beside the decision, from a report pack's rules (MTUS Drug Formulary: is
    prospective review needed before the drug is dispensed?)."""

    status: str
    """needed | not_needed | not_documented."""
    needed: bool | None
    """True when needed, False when not, None when the record does not document enough to tell."""
    reason: str
    """Why, from the rationale of the rules behind the answer."""
    rules: list[str]
    citations: list[Citation]
    missing_documentation: list[str] = []


class ItemDetermination(Frozen):
    item_id: str
    item: str
    decision: str  # Upheld | Overturned | No rule applies | Not covered
    reason: str
    reason_code: str
    """Why, as a stable code: not_met, not_documented, met, no_finding, no_edition, not_addressed."""
    governed_by: str | None
    governing_rank: int | None
    """Tier of the search sequence that governed (1 = first); rules[].rank uses the same numbers."""
    citations: list[Citation]
    rationale: str
    missing_documentation: list[str]
    supported: str | None
    recommendation: str
    rules: list[RuleOutcome]
    prospective_review: Report | None = None
    """For a drug under the MTUS Drug Formulary: whether prospective review is needed before it is
    dispensed, and why (a report pack's rules; None where none addressed the item)."""


class Determination(Frozen):
    case_id: str
    jurisdiction: str
    profile: str | None
    request_date: str
    rules_digest: str
    disclaimer: str
    """From the jurisdiction's profile: who alone may deny there, under which law."""
    review: Review | None = None
    """The jurisdiction's independent review (None without a profile for the jurisdiction)."""
    items: list[ItemDetermination]
