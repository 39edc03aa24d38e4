"""Scenario corpus: real small trainings with injected faults, for measuring the analyzer.

Not part of the ``forensics`` package and never imported by it. ``scripts/make_corpus.py``
draws scenarios (``matrix``) and trains them with the workers; ``scripts/accuracy.py``
analyses the corpus and writes ``docs/accuracy.md``.
"""
