"""The rule-pack model: what a policy analyst writes in guideline_rules/packs/*.yaml.

A pack encodes one guideline document (or one topic of it) in one edition, with its effective
dates. Each rule is a small entry with an id, a citation (section and pages), the items it applies
to, a condition in the rule language (conditions.py), the outcome, rationale templates and the
documentation that would change its outcome. Rule text is data: it is parsed, never executed.
"""

from __future__ import annotations

import datetime as dt
import difflib
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator

from engine.model.enums import ANY_TOPIC, TOPICS, Form, Guideline, ItemType, Jurisdiction, ReportKind, Role, Status, Topic  # noqa: F401 (ANY_TOPIC re-exported)

RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{2,99}$")]
Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
Silence = Literal["requirement", "exclusion", "supporting"]
SILENT_STATUSES: dict[str, frozenset] = {
    "requirement": frozenset(),
    "exclusion": frozenset({"not_documented"}),
    "supporting": frozenset({"not_met", "not_documented"}),
}
"""Per `silence:` class, the outcomes of a rule that are shown but never count against a request."""


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class AppliesTo(Closed):
    """Which requested items a rule or pack is about. Every listed field must match (lists: any of)."""

    type: list[ItemType] | None = None
    service: list[Key] | None = None
    region: list[Key] | None = None
    form: list[Form] | None = None
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


class CarriedOver(Closed):
    """Criteria that are the text of one edition applied during a later edition's period (issue 11):
    the 2004 ACOEM chapter the 2009 MTUS kept, a section a later update left unchanged. The letter
    and `imr explain` name the edition whose values were applied on a request dated in `applied`."""

    values_of: Text
    """The edition whose text the criteria are: "ACOEM Practice Guidelines, 2nd Edition (2004)"."""
    into: Text
    """The later edition they are applied under: the name of a period of the history of a
    jurisdiction that ranks the pack (checked, R015), as the letter names it."""
    applied: Effective
    """The days they are applied in: inside the pack's `effective` and inside that period (R015)."""
    source: Text
    """What says the values held then (a regulation's history, a published decision quoting them)."""

    @property
    def text(self) -> str:
        return f"values of {self.values_of} applied (carried over into {self.into})"


def carried_over_on(pack: "Pack", rule: "Rule", day: dt.date) -> list[CarriedOver]:
    """The declarations of the pack and of the rule whose `applied` period holds `day`."""
    return [c for c in (*pack.carried_over, *rule.carried_over) if c.applied.covers(day)]


class Scope(Closed):
    applies_to: AppliesTo
    when: Text | None = None
    table: Key | None = None
    """One scope per row of this table of the pack; `when` reads the row as `allowance.COLUMN`."""


class Rationale(Closed):
    met: Text | None = None
    not_met: Text | None = None
    not_documented: Text | None = None


Visits = Annotated[int, Field(ge=0, le=1000)]
Weeks = Annotated[int, Field(ge=0, le=520)]


class Allowance(Closed):
    """The quantity the guideline supports, reported beside the decision (IMR decides items whole)."""

    visits: Visits | None = None
    weeks: Weeks | None = None
    text: Text | None = None


class Metadata(Closed):
    unverified: list[Text] = []
    """Values taken from reference/guidelines.md entries tagged [U]: still to check against primary text."""
    sources: list[Text] = []
    notes: Text | None = None


class Row(Allowance):
    """One row of a table: what the guideline allows for one diagnosis (group) or one surgery.

    A rule written against the table (`table: NAME`) is one rule per row: its conditions and
    templates read the row as `allowance.COLUMN`, and the row is that rule's `allowance`. Templates
    may also read three texts made from the numbers: `allowance.visits_range` ("9-10", from
    `visits_min` and `visits`), `allowance.weeks_range` ("3-5") and `allowance.course` ("9-10 visits
    over 8 weeks"). `text` (what the letter says the guideline supports) defaults to the table's
    `text`, else to `course`."""

    id: Key | None = None
    """The row's key in the ids of its rules (`rule-id[key]`); defaults to `procedure`, else `group`."""
    group: Key | None = None
    """A diagnosis group (a `dx.pm_group` value)."""
    procedure: Key | None = None
    """A surgical procedure (a `surgery.procedure` value, vocabulary/procedures.yaml)."""
    diagnosis: Text | None = None
    """A condition over the diagnosis facts (`dx.sprain_strain == true and dx.radiculopathy == false`),
    for guideline rows no single diagnosis group names; a rule reads it as `when: allowance.diagnosis`."""
    label: Text
    """How the row reads in a sentence: "discectomy/laminectomy (lumbar)"."""
    visits_min: Visits | None = None
    """The low end of a range of visits ("9-10 visits"); `visits`, the high end, is the one compared."""
    weeks_min: Weeks | None = None
    """The low end of a range of weeks ("over 3-5 weeks")."""
    period_months: Annotated[int, Field(ge=0, le=120)] | None = None
    """Postsurgical physical medicine period, in months from the date of surgery."""
    initial_visits: Visits | None = None
    """Initial course of therapy, in visits."""
    body_part: Text | None = None
    """The guideline's heading the row stands under ("Low Back"), for citations."""
    metadata: Metadata | None = None
    """Notes of this row's rules, in place of the table's `metadata`."""

    @model_validator(mode="after")
    def _row(self):
        if self.key is None:
            raise ValueError("a row needs `id`, `procedure` or `group`: its key in the ids of its rules")
        for low, high in (("visits_min", "visits"), ("weeks_min", "weeks")):
            if getattr(self, low) is not None and (getattr(self, high) is None or getattr(self, low) > getattr(self, high)):
                raise ValueError(f"`{low}` needs a `{high}` at least as large (a range {low}-{high})")
        return self

    @property
    def key(self) -> str | None:
        return self.id or self.procedure or self.group

    @computed_field
    @property
    def visits_range(self) -> str | None:
        return _range(self.visits_min, self.visits)

    @computed_field
    @property
    def weeks_range(self) -> str | None:
        return _range(self.weeks_min, self.weeks)

    @computed_field
    @property
    def course(self) -> str | None:
        if self.visits_range is None:
            return None
        return f"{self.visits_range} visits" + (f" over {self.weeks_range} weeks" if self.weeks_range else "")


def _range(low: int | None, high: int | None) -> str | None:
    """'9-10' (or '10' when there is no low end)."""
    if high is None:
        return None
    return f"{low}-{high}" if low is not None and low != high else str(high)


class Table(Closed):
    """Rows of one guideline table (visit allowances by diagnosis, courses of therapy by surgery).
    Rules and `addresses` scopes that name it (`table: NAME`) are expanded into one per row."""

    title: Text | None = None
    text: Text | None = None
    """What the letter says the guideline supports, as a template over the row
    ("{{ allowance.course }} (initial course {{ allowance.initial_visits }})"); default: the row's course."""
    metadata: Metadata = Metadata()
    """Notes every rule of every row carries (texts may read the row: "{{ allowance.course }} ...")."""
    rows: Annotated[list[Row], Field(min_length=1, max_length=200)]


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
    silence: Silence | None = None
    """What an undocumented fact does to this rule (required; a rule without it is R014):
    `requirement`: the record must show it, so not documented counts against (as not met does);
    `exclusion`: only a documented finding counts against, so not documented is shown but neutral;
    `supporting`: counts for the request when documented (met), never against (not met and not
    documented are shown but neutral)."""
    label: Key | None = None
    """Name of the finding, so later rules can match `finding.label == "..."`."""
    allowance: Allowance | None = None
    table: Key | None = None
    """One rule per row of this table of the pack (id `rule-id[row key]`): conditions and templates
    read the row as `allowance.COLUMN`, and title, section, documentation and metadata may too."""
    rationale: Rationale
    documentation: list[Text] = []
    """Documentation that, if present in the record, would change a not met / not documented outcome."""
    metadata: Metadata = Metadata()
    carried_over: list[CarriedOver] = []
    """This rule's criteria are another edition's text on these days (in addition to its pack's)."""

    @model_validator(mode="after")
    def _shape(self):
        if self.require is None and self.outcome is None:
            raise ValueError("a rule needs `require` (criterion) or `outcome` (fixed outcome when `when` holds)")
        if self.require is not None and self.outcome is not None:
            raise ValueError("give `require` or `outcome`, not both")
        if self.require is None and self.when is None:
            raise ValueError("a rule with a fixed `outcome` needs a `when` condition")
        if self.table is not None and self.allowance is not None:
            raise ValueError("a rule with a `table` has each row as its allowance: leave out `allowance`")
        return self

    def statuses(self) -> list[str]:
        return ["met", "not_met", "not_documented"] if self.require is not None else [self.outcome]


class Pack(Closed):
    schema_: str | None = Field(default=None, alias="$schema")
    pack: RuleId
    title: Text
    guideline: Guideline
    document: Text
    edition: Annotated[str, Field(min_length=1, max_length=40)]
    effective: Effective
    topic: Union[Topic, Literal["any"]]
    """The durable-rules ruleset the pack compiles into, one of the closed list of topics items are
    routed to (enums.Topic); `any` compiles it into every topic's ruleset (an edition's scope, or a
    rule such as the formulary's that spans every route of an item). A topic outside the list would
    compile into a ruleset no item reaches, silently disabling the pack: it is a schema error."""
    addresses: Annotated[list[Scope], Field(min_length=1)]
    """Items this document addresses: decides which guideline governs (search sequence)."""
    role: Role = "guideline"
    """`guideline` (a tier of the search sequence); `statute` (binds whichever tier governs: its findings
    are adopted into the governing tier, and it never governs itself); `report` (decides nothing: its
    findings answer `reports`, beside the decision)."""
    reports: ReportKind | None = None
    """For `role: report`: the question its findings answer (`prospective_review`)."""
    scope_only: bool = False
    """The edition addresses these items but none of its criteria are encoded: where it governs, the
    answer is "No rule applies" (no finding), never a silent fall-through to a lower tier."""
    tables: dict[Key, Table] = {}
    """The guideline's tables, each number written once; rules and scopes name one with `table:`."""
    rules: Annotated[list[Rule], Field(max_length=4000)] = []
    """At most 4,000 rules a pack: the compiler splits a large pack into rulesets durable-rules can hold."""
    carried_over: list[CarriedOver] = []
    """The pack's criteria are the text of `values_of`, applied during a later edition's period:
    the letter's guideline basis and `imr explain` say so for a request dated in `applied`."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _rules_or_scope(self):
        if self.scope_only and self.rules:
            raise ValueError("a `scope_only` pack declares what an edition addresses and has no rules")
        if not self.scope_only and not self.rules:
            raise ValueError("a pack needs at least one rule, or `scope_only: true` for an edition whose criteria are not encoded")
        if (self.role == "report") != (self.reports is not None):
            raise ValueError("a pack of `role: report` names what it `reports` (prospective_review), and only such a pack does")
        return self

    @field_validator("topic", mode="before")
    @classmethod
    def _known_topic(cls, value):
        """A misspelt topic named as such (the closest topic suggested), not as a 15-way Literal mismatch."""
        if isinstance(value, str) and value not in TOPICS and value != ANY_TOPIC:
            close = difflib.get_close_matches(value, [*TOPICS, ANY_TOPIC], n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(f"unknown topic '{value}'{hint}: a pack's topic is one of {', '.join(TOPICS)} or {ANY_TOPIC}; "
                             f"a pack under any other topic would never be reached")
        return value

    def compiles_into(self, topic: str) -> bool:
        """Whether this pack's rules are part of `topic`'s ruleset."""
        return self.topic in (topic, ANY_TOPIC)


class Tier(Closed):
    guideline: Guideline
    documents: list[Text] | None = None
    """Limit the tier to these documents of the guideline (all when left out)."""
    label: Text
    """How a determination names the basis, for example "MTUS" or "Non-MTUS Citation"."""


class Review(Closed):
    """The independent review a disputed denial goes to in the jurisdiction, as the letter names it."""

    name: Text
    """"Independent Medical Review" (California), "independent review organization" (Texas)."""
    abbreviation: Annotated[str, Field(pattern=r"^[A-Z]{2,8}$")]
    """"IMR", "IRO": the letter's heading ("IMR PRE-SCREEN: ...")."""
    supported_note: Text | None = None
    """Said after what the guideline supports ("IMR decides the item whole"), where the review does so."""


class Recommendation(Closed):
    """An item's recommendation line by the reason of its decision, in the jurisdiction's own terms
    (who may deny, the likely outcome at its review)."""

    not_met: Text
    """Upheld: a criterion is not met."""
    not_documented: Text
    """Upheld: nothing is unmet, but the record does not document what a criterion requires."""
    met: Text
    """Overturned: the criteria are met."""
    no_outcome: Text
    """No rule applies or Not covered: no guideline-based outcome."""


class Binding(Closed):
    """A statute a jurisdiction applies beside its search sequence, and the tiers it does not bind."""

    guideline: Guideline
    documents: list[Text] | None = None
    label: Text
    """How a letter names its basis ("Labor Code")."""
    not_under: list[Text] = []
    """Documents of the tiers whose governance lifts it: Labor Code 4604.5(c)(1) does not count
    postsurgical physical medicine under the Postsurgical Treatment Guidelines."""


class HistoryEdition(Closed):
    """One period of a jurisdiction's guideline history: which guideline (edition) governed
    medical necessity then, whether or not this rule base encodes it. A request dated inside some
    period is covered: it gets a decision or "No rule applies" with the reason, never "Not covered"."""

    name: Text
    """As the letter names it: "MTUS ACOEM-based treatment guidelines (from 2017-12-01)"."""
    effective: Effective
    encoded: Literal["yes", "partly", "no"]
    """Whether this rule base holds its criteria: "no" for a licensed edition not encoded."""
    licensed: bool = False
    """Its text is licensed (the ACOEM-based MTUS, current ODG): the engine ships only what is public,
    and a licensee adds the criteria as packs in a layered rules folder (`--layer`)."""
    source: Text
    """Where the dates come from (a regulation, an agency page)."""


class Profile(Closed):
    """A jurisdiction's Medical Evidence Search Sequence, as data: tiers in order of precedence; and
    what its letters say of the law: the disclaimer, the review process, the outcome wording."""

    jurisdiction: Jurisdiction
    name: Text
    authority: Text
    tiers: Annotated[list[Tier], Field(min_length=1)]
    review: Review
    disclaimer: Text
    """The letter's opening caution: who alone may deny in this jurisdiction, under which law."""
    recommendation: Recommendation
    sources: list[Text] = []
    """Where the legal statements of this profile were checked (statute and rule texts)."""
    binding: list[Binding] = []
    """Law that binds whichever tier governs (packs of `role: statute` or `report` whose guideline is
    in no tier, such as the Labor Code): the jurisdiction applies them, never as a tier of its own."""
    history: list[HistoryEdition] = []
    """The jurisdiction's guideline history, from its start to today: a request dated outside every
    period is "Not covered"; without a history the packs' own periods stand in for it."""

    def editions_on(self, day: dt.date) -> list[HistoryEdition]:
        """The periods of the history in force on `day` (a formulary beside a treatment guideline)."""
        return [e for e in self.history if e.effective.covers(day)]

    def rank_of(self, pack: Pack) -> int | None:
        """The pack's tier (1 = first); 0 for a statute or report pack the jurisdiction applies beside
        its tiers (they never govern); None when the jurisdiction does not apply the pack."""
        if pack.role != "guideline":
            known = any(b.guideline == pack.guideline and (b.documents is None or pack.document in b.documents) for b in self.binding)
            return 0 if known or self._tier_of(pack) is not None else None
        return self._tier_of(pack)

    def bound_ranks(self, pack: Pack) -> list[int]:
        """The tiers whose governing findings a statute pack joins (all but those its binding lifts)."""
        lifted: set = set()
        for b in self.binding:
            if b.guideline == pack.guideline and (b.documents is None or pack.document in b.documents):
                lifted |= set(b.not_under)
        return [rank for rank, tier in enumerate(self.tiers, start=1) if not (tier.documents and set(tier.documents) & lifted)]

    def _tier_of(self, pack: Pack) -> int | None:
        for rank, tier in enumerate(self.tiers, start=1):
            if tier.guideline == pack.guideline and (tier.documents is None or pack.document in tier.documents):
                return rank
        return None
