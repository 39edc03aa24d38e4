"""The report: one object (:class:`Report`), two views (markdown, JSON)."""

from forensics.report.model import Report

__all__ = ["Report"]
