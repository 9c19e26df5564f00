"""Agreement with real decisions: each item of a case that has a `source:` (the published decision
it was written from), the engine's decision beside the real reviewer's, tallied into the table the
owners measure the engine by (decision by real outcome, the share decided, agreement on those,
Overturned recall, and the guideline that governed against the one the reviewer cited).

Used by `imr test` (the cases with a source, apart from the authored expectations) and `imr agree`
(ingested letters). It decides nothing: it reads determinations already made.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from engine.model.enums import DECISIONS
from engine.words import plural

REAL = ("Upheld", "Overturned")


@dataclass(frozen=True)
class AgreementRow:
    path: str
    case_id: str
    item_id: str
    engine: str
    """The engine's decision (Upheld, Overturned, No rule applies, Not covered)."""
    real: str
    """The real reviewer's decision (Upheld or Overturned)."""
    engine_guideline: str | None
    """The guideline family of the engine's governing citation (MTUS, ODG, ACOEM), None without one."""
    cited_guideline: str | None
    """The family the reviewer cited, where the source says."""
    differs: str | None = None
    """The case's explanation of a disagreement."""

    @property
    def decided(self) -> bool:
        return self.engine in REAL

    @property
    def agrees(self) -> bool:
        return self.engine == self.real

    @property
    def unexplained(self) -> bool:
        """A disagreement (a decision or not) that the case does not explain."""
        return not self.agrees and not self.differs

    @property
    def stale(self) -> bool:
        """An explanation of a disagreement on an item that now agrees."""
        return self.agrees and bool(self.differs)


def rows_for(path: Path | str, case, determination) -> list[AgreementRow]:
    """The agreement rows of one decided case (none when it has no source)."""
    if case.source is None:
        return []
    by_id = {item.item_id: item for item in determination.items}
    rows = []
    for item_id, real in case.source.items.items():
        item = by_id[item_id]
        rows.append(AgreementRow(
            path=str(path), case_id=case.case_id, item_id=item_id, engine=item.decision, real=real.outcome,
            engine_guideline=item.citations[0].guideline if item.citations else None,
            cited_guideline=real.cited_guideline, differs=real.differs,
        ))
    return rows


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "n/a"


@dataclass
class Agreement:
    rows: list[AgreementRow] = field(default_factory=list)

    @property
    def decided(self) -> list[AgreementRow]:
        return [r for r in self.rows if r.decided]

    @property
    def agreed(self) -> int:
        return sum(r.agrees for r in self.rows)

    def matrix(self) -> dict[str, dict[str, int]]:
        """Items by engine decision (rows) and real outcome (columns)."""
        counts = Counter((r.engine, r.real) for r in self.rows)
        return {d: {real: counts[d, real] for real in REAL} for d in DECISIONS}

    def overturned_recall(self) -> tuple[int, int]:
        """(real Overturned items the engine overturns, real Overturned items)."""
        over = [r for r in self.rows if r.real == "Overturned"]
        return sum(r.engine == "Overturned" for r in over), len(over)

    def guidelines(self) -> dict[str, dict[str, int]]:
        """Items by the engine's governing guideline family (rows) and the family the reviewer
        cited (columns), for the items whose source names one."""
        counts = Counter((r.engine_guideline or "none", r.cited_guideline) for r in self.rows if r.cited_guideline)
        engine = sorted({e for e, _ in counts})
        cited = sorted({c for _, c in counts})
        return {e: {c: counts[e, c] for c in cited} for e in engine}

    def problems(self) -> list[str]:
        """Each unexplained disagreement and each stale explanation, as a line naming the case."""
        lines = []
        for r in self.rows:
            if r.unexplained:
                lines.append(f"{r.path}: item {r.item_id}: the engine answers {r.engine}, the real reviewer {r.real}, "
                             f"and the case does not say why (source.items.{r.item_id}.differs)")
            elif r.stale:
                lines.append(f"{r.path}: item {r.item_id}: the engine now agrees ({r.engine}); "
                             f"remove the stale source.items.{r.item_id}.differs")
        return lines

    def text(self) -> str:
        """The table as `imr test` and `imr agree` print it."""
        n, decided = len(self.rows), self.decided
        hit, over = self.overturned_recall()
        agreed_decided = sum(r.agrees for r in decided)
        width = max(len(d) for d in DECISIONS)
        lines = [f"real decisions: {plural(n, 'item')} from {plural(len({r.path for r in self.rows}), 'case')}",
                 f"  {'engine / real':<{width}}  {'Upheld':>8}  {'Overturned':>10}"]
        for decision, row in self.matrix().items():
            lines.append(f"  {decision:<{width}}  {row['Upheld']:>8}  {row['Overturned']:>10}")
        lines.append(f"  decided {len(decided)} of {n} ({_pct(len(decided), n)}); agreement {self.agreed} of {n} "
                     f"({_pct(self.agreed, n)}), on the decided {agreed_decided} of {len(decided)} "
                     f"({_pct(agreed_decided, len(decided))}); Overturned recall {hit} of {over} ({_pct(hit, over)})")
        table = self.guidelines()
        if table:
            cited = sorted({c for row in table.values() for c in row})
            lines.append("  governing guideline (rows) by the guideline the reviewer cited (columns): "
                         + "; ".join(f"{e}: " + ", ".join(f"{c} {row[c]}" for c in cited) for e, row in table.items()))
        return "\n".join(lines)

    def to_json(self) -> dict:
        hit, over = self.overturned_recall()
        decided = self.decided
        return {
            "items": len(self.rows),
            "matrix": self.matrix(),
            "decided": len(decided),
            "agreed": self.agreed,
            "agreed_on_decided": sum(r.agrees for r in decided),
            "overturned_recall": {"found": hit, "of": over},
            "guidelines": self.guidelines(),
            "rows": [{"path": r.path, "case_id": r.case_id, "item_id": r.item_id, "engine": r.engine, "real": r.real,
                      "engine_guideline": r.engine_guideline, "cited_guideline": r.cited_guideline,
                      "differs": r.differs} for r in self.rows],
            "problems": self.problems(),
        }
