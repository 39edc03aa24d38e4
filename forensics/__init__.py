"""forensics: the post-mortem of a failed deep-learning training run."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "analyze", "inspect"]


def inspect(path: str, **kwargs):
    """Discover and read every artifact under ``path``; returns :class:`forensics.load.RunData`."""
    from forensics.load import load_run

    return load_run(path, **kwargs)


def analyze(path: str, **kwargs):
    """Analyze the run under ``path``; returns a :class:`forensics.report.model.Report`."""
    from forensics.analysis import analyze as _analyze

    return _analyze(path, **kwargs)
