"""Regenerate docs/example-report.md (with its figures in docs/example-report_files/),
the report pasted into the README, and the screenshots of its HTML page.

    python scripts/make_example_report.py                 # the markdown and its figures
    python scripts/make_example_report.py --screenshots   # also docs/screenshots/*.png

It also refreshes the opening lines quoted in README.md. tests/test_docs.py fails
when the example no longer matches what the tool prints. The screenshots need a
headless Chromium (Debian: apt-get install chromium) and are looked at, not compared.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import forensics
from forensics.report.model import Report
from forensics.report.output import markdown_with_figures, write_figures

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_RUN = "sample_runs/torch_lr_schedule_spike"
EXAMPLE = ROOT / "docs" / "example-report.md"
SCREENSHOTS = ROOT / "docs" / "screenshots"
# (file name, window width, height): the first screen on a laptop, the whole page, a phone
SHOTS = (("report-first-screen.png", 1280, 900), ("report-full-page.png", 1280, 3300), ("report-narrow.png", 480, 1400))
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--hide-scrollbars")


@functools.cache
def _report() -> Report:
    cwd = os.getcwd()
    os.chdir(ROOT)  # the report names the run as given on the command line
    try:
        return forensics.analyze(EXAMPLE_RUN)
    finally:
        os.chdir(cwd)


def render() -> str:
    """docs/example-report.md as the tool writes it with ``-o docs/example-report.md``."""
    return markdown_with_figures(_report(), EXAMPLE)[0]


def opening(report: str) -> list[str]:
    """The lines the README quotes: the headline, the summary and the fix."""
    head = report.split("\n## ", 1)[0].split("\n_Confidence", 1)[0]
    return [line for line in head.splitlines() if line.strip()]


def quote_in_readme(report: str) -> None:
    """Refresh the report's opening lines quoted in README.md (between the markers)."""
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = "<!-- example-report:start -->\n", "<!-- example-report:end -->"
    a, b = text.index(start) + len(start), text.index(end)
    head = "\n\n".join(opening(report))
    readme.write_text(text[:a] + f"```markdown\n{head}\n```\n" + text[b:], encoding="utf-8")


def screenshots() -> list[Path]:
    """Screenshots of the example's HTML page in headless Chromium."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        sys.exit("no chromium on PATH: apt-get install chromium")
    SCREENSHOTS.mkdir(exist_ok=True)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(_report().to_html(), encoding="utf-8")
        for name, width, height in SHOTS:
            target = SCREENSHOTS / name
            subprocess.run(
                [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile", f"--window-size={width},{height}",
                 f"--screenshot={target}", page.as_uri()],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            out.append(target)
    return out


if __name__ == "__main__":
    text, files = markdown_with_figures(_report(), EXAMPLE)
    write_figures(files)
    EXAMPLE.write_text(text, encoding="utf-8")
    quote_in_readme(text)
    if "--screenshots" in sys.argv[1:]:
        for path in screenshots():
            print(path.relative_to(ROOT))
