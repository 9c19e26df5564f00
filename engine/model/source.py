"""Where a case came from, when it came from a real decision: the published decision's address,
level and date, and per item what the real reviewer decided and cited.

The real outcome is the measure the engine is held to (`imr test` tallies agreement on every case
that has a `source:`, apart from the authored expectations); it is never an input to a decision.
A disagreement must be explained in the case (`differs:`), so a rule change that moves a real
decision is noticed and read, never silently absorbed.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["IMR", "IRO", "CCH", "SOAH", "WCAB", "court", "commentary"]
"""Who decided (or where the decision is reported): a California IMR determination, a Texas IRO
decision, a Texas DWC contested case hearing (CCH) or SOAH decision reviewing an IRO's, a WCAB
panel or en banc decision, a court opinion, or a commentary that reprints or summarises an IMR."""

RealOutcome = Literal["Upheld", "Overturned"]
"""The reviewer's decision on the item: the denial upheld (not medically necessary) or overturned."""

CitedGuideline = Literal["MTUS", "ODG", "ACOEM", "other", "none"]
"""The guideline family the reviewer cited, to compare with the one that governed in the engine."""

Text = Annotated[str, Field(min_length=1, max_length=4000)]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SourceItem(_Closed):
    """One disputed item as the real decision states it."""

    outcome: RealOutcome
    cited_guideline: CitedGuideline | None = None
    """Which guideline the reviewer relied on; left out where the source does not say."""
    cited: Text | None = None
    """The reviewer's guideline basis in the source's words ("MTUS Chronic Pain, pp. 98-99")."""
    quote: Text | None = None
    """The source's sentence(s) giving the decision or its reason, verbatim."""
    differs: Text | None = None
    """Why the engine's answer differs from the real outcome (required when it does; an
    explanation on an item that agrees is stale and reported)."""


class Source(_Closed):
    """The published decision a case was written from."""

    address: Annotated[str, Field(min_length=1, max_length=1000)]
    """Its public address (URL), or the path of the letter a case was ingested from."""
    level: Level
    decided: dt.date | None = None
    """The decision's date, where the source gives it."""
    reviewer: Annotated[str, Field(max_length=200)] | None = None
    """Whose decision the outcomes are (the IMR reviewer, the IRO), where the level is a later
    review (a CCH decision reports the IRO's decision and then its own)."""
    items: Annotated[dict[str, SourceItem], Field(min_length=1, max_length=100)]
    """The real outcome by requested item id."""
