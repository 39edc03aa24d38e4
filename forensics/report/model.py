"""The report object that ``forensics.analyze`` returns; markdown and JSON render it."""

from __future__ import annotations

from dataclasses import dataclass, field

from forensics import __version__
from forensics.diagnose import Candidate, Verdict
from forensics.records import Source, Status
from forensics.timeline import Timeline


@dataclass
class Report:
    run_dir: str
    diverged: bool
    first_nonfinite_step: int | None
    verdict: Verdict
    candidates: list[Candidate]
    sources: list[Source]
    recommendations: list[str]
    not_checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    timeline: Timeline | None = None
    tool_version: str = __version__

    @property
    def readable(self) -> bool:
        return any(s.status in (Status.OK, Status.PARTIAL) for s in self.sources)

    def unreadable_summary(self) -> str:
        bad = [f"{s.path} ({s.note})" for s in self.sources if s.status is Status.UNREADABLE]
        if not self.sources:
            return "no training artifacts found (event files, checkpoints, logs, configs, data)"
        return (
            "; ".join(bad[:3]) + (f"; and {len(bad) - 3} more" if len(bad) > 3 else "") if bad else "no readable source"
        )

    def to_dict(self) -> dict:
        from forensics.report.json_report import report_dict

        return report_dict(self)

    def to_json(self) -> str:
        from forensics.report.json_report import to_json

        return to_json(self)

    def to_markdown(self) -> str:
        from forensics.report.markdown import to_markdown

        return to_markdown(self)

    def _repr_markdown_(self) -> str:  # notebooks render the report
        return self.to_markdown()

    def __str__(self) -> str:
        v = self.verdict
        return (
            f"{self.run_dir}: {v.cause}" + (f" ({v.detail})" if v.detail else "") + f", confidence {v.confidence:.2f}"
        )
