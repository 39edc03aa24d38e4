"""Exceptions users can cause. Caught at the CLI edge and printed as one line."""

from __future__ import annotations


class ForensicsError(Exception):
    """Base class for errors that are the input's fault, not a bug."""


class UnreadableSource(ForensicsError):
    """A file could not be read at all. The message says what is wrong, in one line.

    Readers raise this; the loader turns it into a source with status ``unreadable``
    and goes on with the other files.
    """


class UsageError(ForensicsError):
    """The command line or the API call is wrong (missing path, bad option)."""
