"""Reading a small whole-file text artifact (configs, trainer states) with a size cap."""

from __future__ import annotations

import os
from pathlib import Path

from forensics.errors import UnreadableSource
from forensics.readers.safe_open import open_binary


def read_capped_bytes(path: Path, what: str, max_bytes: int) -> bytes:
    """The file's bytes, or UnreadableSource naming ``what`` when it is too large or unreadable."""
    try:
        with open_binary(path) as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_bytes:
                raise UnreadableSource(f"{what} is {size} bytes, more than the {max_bytes} read")
            return f.read(max_bytes + 1)
    except OSError as e:
        raise UnreadableSource(f"cannot read {what}: {e.strerror or e}") from e


def read_capped_text(path: Path, what: str, max_bytes: int, encoding: str = "utf-8") -> str:
    """The file's text, or UnreadableSource naming ``what`` when it is too large,
    unreadable or not valid text in ``encoding``."""
    raw = read_capped_bytes(path, what, max_bytes)
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as e:
        raise UnreadableSource(f"{what} is not UTF-8 text (byte {e.start})") from e


# Lists and objects one JSON document may hold before it is parsed. Python spends about
# 80 bytes on an empty list: 64 MiB of "[]," (21 million lists) took 1.7 GB. Real
# trainer states and configs hold a few thousand; a million is far above any.
MAX_JSON_CONTAINERS = 1_000_000


def check_json_budget(text: str | bytes, what: str, limit: int = MAX_JSON_CONTAINERS) -> None:
    """Refuse (UnreadableSource) JSON whose count of ``[`` and ``{`` (an upper bound on
    its lists and objects: brackets inside strings count too) is past ``limit``,
    before parsing it into memory."""
    opening = ("[", "{") if isinstance(text, str) else (b"[", b"{")
    n = text.count(opening[0]) + text.count(opening[1])  # type: ignore[arg-type]
    if n > limit:
        raise UnreadableSource(f"{what} holds up to {n} JSON lists and objects, over the budget of {limit}: not parsed")
