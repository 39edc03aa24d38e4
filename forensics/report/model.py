"""The report object that ``forensics.analyze`` returns; markdown and JSON render it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from forensics import __version__
from forensics.diagnose import Candidate, Verdict
from forensics.ending import Ending, ending_of
from forensics.records import Source, Status
from forensics.timeline import Timeline


@dataclass(repr=False)
class Report:
    """Everything one report says, before it is written as markdown or JSON."""

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
    # the figures, drawn once on first use (markdown files, the HTML page and a
    # notebook cell all show the same ones)
    figure_cache: list | None = field(default=None, repr=False, compare=False)  # type: ignore[type-arg]

    @property
    def ending(self) -> Ending:
        """How the job ended and what it crashed with (the contract's ``ended`` and ``crash``)."""
        if self.timeline is None:
            return Ending("unknown", None, "no source says how the job ended")
        return ending_of(self.timeline)

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
        """Markdown without figures (the curves as sparklines); :meth:`save` writes the figures too."""
        from forensics.report.markdown import to_markdown

        return to_markdown(self)

    def to_html(self) -> str:
        """One self-contained HTML page, figures inline."""
        from forensics.report.html import to_html

        return to_html(self)

    def save(self, path: str | os.PathLike[str], format: str | None = None) -> list[Path]:
        """Write the report to ``path`` as markdown (figures in ``<stem>_files/`` beside it),
        HTML or JSON, by ``format`` or the file's suffix; returns the files written."""
        from forensics.report.output import markdown_with_figures, write_figures

        out = Path(path)
        fmt = format or {".html": "html", ".htm": "html", ".json": "json"}.get(out.suffix.lower(), "markdown")
        if fmt == "html":
            out.write_text(self.to_html(), encoding="utf-8")
            return [out]
        if fmt == "json":
            out.write_text(self.to_json() + "\n", encoding="utf-8")
            return [out]
        text, files = markdown_with_figures(self, out)
        write_figures(files)
        out.write_text(text, encoding="utf-8")
        return [out, *files]

    def to_frame(self):  # type: ignore[no-untyped-def]
        """The timeline as a pandas DataFrame (needs pandas): one row per logged step,
        columns loss, lr, grad_norm, val_loss and weight_norm (at checkpoint steps)."""
        from forensics.report.frames import timeline_frame

        return timeline_frame(self.timeline)

    def _repr_html_(self) -> str:  # notebooks render the report, figures included
        from forensics.report.html import body_html

        return body_html(self)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        v = self.verdict
        return (
            f"<Report {self.run_dir!r}: {v.cause}"
            + (f"/{v.detail}" if v.detail else "")
            + (f", confidence {v.confidence:.2f}, {len(self.sources)} sources>")
        )

    def __str__(self) -> str:
        v = self.verdict
        return (
            f"{self.run_dir}: {v.cause}" + (f" ({v.detail})" if v.detail else "") + f", confidence {v.confidence:.2f}"
        )
