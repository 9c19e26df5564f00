"""The rule-pack model: what a policy analyst writes in guideline_rules/packs/*.yaml.

A pack encodes one guideline document (or one topic of it) in one edition, with its effective
dates. Each rule is a small entry with an id, a citation (section and pages), the items it applies
to, a condition in the rule language (conditions.py), the outcome, rationale templates and the
documentation that would change its outcome. Rule text is data: it is parsed, never executed.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{2,99}$")]
Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
Status = Literal["met", "not_met", "not_documented"]
ANY_TOPIC = "any"
"""A pack topic that compiles into every topic's ruleset."""


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class AppliesTo(Closed):
    """Which requested items a rule or pack is about. Every listed field must match (lists: any of)."""

    type: list[Literal["therapy", "medication", "procedure"]] | None = None
    service: list[Key] | None = None
    region: list[Key] | None = None
    form: list[Literal["oral", "topical", "patch", "injection"]] | None = None
    compounded: bool | None = None


class Effective(Closed):
    from_: dt.date = Field(alias="from")
    to: dt.date | None = None
    """Last day in force (inclusive); open-ended when left out."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _ordered(self):
        if self.to is not None and self.to < self.from_:
            raise ValueError(f"effective.to {self.to} is before effective.from {self.from_}")
        return self

    def covers(self, day: dt.date) -> bool:
        return self.from_ <= day and (self.to is None or day <= self.to)


class Scope(Closed):
    applies_to: AppliesTo
    when: Text | None = None


class Rationale(Closed):
    met: Text | None = None
    not_met: Text | None = None
    not_documented: Text | None = None


class Allowance(Closed):
    """The quantity the guideline supports, reported beside the decision (IMR decides items whole)."""

    visits: Annotated[int, Field(ge=0, le=1000)] | None = None
    weeks: Annotated[int, Field(ge=0, le=520)] | None = None
    text: Text | None = None


class Metadata(Closed):
    unverified: list[Text] = []
    """Values taken from reference/guidelines.md entries tagged [U]: still to check against primary text."""
    sources: list[Text] = []
    notes: Text | None = None


class Rule(Closed):
    id: RuleId
    title: Text
    section: Text
    pages: Annotated[str, Field(pattern=r"^(n/a|\d+(-\d+)?(, ?\d+(-\d+)?)*)$")]
    applies_to: AppliesTo | None = None
    """Defaults to the pack's first `addresses` scope."""
    when: Text | None = None
    require: Text | None = None
    outcome: Status | None = None
    """For rules without `require`: the fixed outcome when `when` holds."""
    decides: bool = True
    """False for intermediate findings that only other rules read (forward chaining)."""
    label: Key | None = None
    """Name of the finding, so later rules can match `finding.label == "..."`."""
    allowance: Allowance | None = None
    rationale: Rationale
    documentation: list[Text] = []
    """Documentation that, if present in the record, would change a not met / not documented outcome."""
    metadata: Metadata = Metadata()

    @model_validator(mode="after")
    def _shape(self):
        if self.require is None and self.outcome is None:
            raise ValueError("a rule needs `require` (criterion) or `outcome` (fixed outcome when `when` holds)")
        if self.require is not None and self.outcome is not None:
            raise ValueError("give `require` or `outcome`, not both")
        if self.require is None and self.when is None:
            raise ValueError("a rule with a fixed `outcome` needs a `when` condition")
        return self

    def statuses(self) -> list[str]:
        return ["met", "not_met", "not_documented"] if self.require is not None else [self.outcome]


class Pack(Closed):
    schema_: str | None = Field(default=None, alias="$schema")
    pack: RuleId
    title: Text
    guideline: Literal["MTUS", "ODG", "ACOEM"]
    document: Text
    edition: Annotated[str, Field(min_length=1, max_length=40)]
    effective: Effective
    topic: Key
    """The durable-rules ruleset the pack compiles into; `any` compiles it into every topic's ruleset
    (an edition's scope, or a rule such as the formulary's that spans every route of an item)."""
    addresses: Annotated[list[Scope], Field(min_length=1)]
    """Items this document addresses: decides which guideline governs (search sequence)."""
    scope_only: bool = False
    """The edition addresses these items but none of its criteria are encoded: where it governs, the
    answer is "No rule applies" (no finding), never a silent fall-through to a lower tier."""
    rules: Annotated[list[Rule], Field(max_length=380)] = []

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _rules_or_scope(self):
        if self.scope_only and self.rules:
            raise ValueError("a `scope_only` pack declares what an edition addresses and has no rules")
        if not self.scope_only and not self.rules:
            raise ValueError("a pack needs at least one rule, or `scope_only: true` for an edition whose criteria are not encoded")
        return self

    def compiles_into(self, topic: str) -> bool:
        """Whether this pack's rules are part of `topic`'s ruleset."""
        return self.topic in (topic, ANY_TOPIC)


class Tier(Closed):
    guideline: Literal["MTUS", "ODG", "ACOEM"]
    documents: list[Text] | None = None
    """Limit the tier to these documents of the guideline (all when left out)."""
    label: Text
    """How a determination names the basis, for example "MTUS" or "Non-MTUS Citation"."""


class Profile(Closed):
    """A jurisdiction's Medical Evidence Search Sequence, as data: tiers in order of precedence."""

    jurisdiction: Literal["CA", "TX"]
    name: Text
    authority: Text
    tiers: Annotated[list[Tier], Field(min_length=1)]

    def rank_of(self, pack: Pack) -> int | None:
        for rank, tier in enumerate(self.tiers, start=1):
            if tier.guideline == pack.guideline and (tier.documents is None or pack.document in tier.documents):
                return rank
        return None
