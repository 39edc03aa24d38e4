"""forensics: the post-mortem of a failed deep-learning training run."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "analyze", "analyze_many", "inspect"]


def inspect(path: str, **kwargs):
    """Discover and read every artifact under ``path``; returns :class:`forensics.load.RunData`."""
    from forensics.load import load_run

    return load_run(path, **kwargs)


def analyze(path: str, **kwargs):
    """Analyze the run under ``path`` (a folder, a file, or an ``s3://``/``gs://``/``az://``
    URL); returns a :class:`forensics.report.model.Report`."""
    from forensics.util import is_remote

    if is_remote(path):
        from forensics.remote import analyze_remote

        return analyze_remote(str(path), **kwargs)
    from forensics.analysis import analyze as _analyze

    return _analyze(path, **kwargs)


def analyze_many(path_or_paths, **kwargs):
    """Analyze many runs: a folder (or URL) holding several runs, or a list of run paths.

    Each run is analysed as :func:`analyze` would analyse it alone, in a local process
    pool (``jobs=N``) or on a Dask cluster (``dask="tcp://scheduler:8786"``). Returns a
    :class:`forensics.sweep.Sweep`: ``.reports()``, the summary rows, ``.findings``
    (which settings separate the diverged runs), ``.dataframe()`` with pandas.
    """
    from forensics.sweep import analyze_many as _analyze_many

    return _analyze_many(path_or_paths, **kwargs)
