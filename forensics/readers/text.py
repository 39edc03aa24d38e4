"""Reading a small whole-file text artifact (configs, trainer states) with a size cap."""

from __future__ import annotations

from pathlib import Path

from forensics.errors import UnreadableSource


def read_capped_text(path: Path, what: str, max_bytes: int, encoding: str = "utf-8") -> str:
    """The file's text, or UnreadableSource naming ``what`` when it is too large,
    unreadable or not valid text in ``encoding``."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UnreadableSource(f"{what} is {size} bytes, more than the {max_bytes} read")
        raw = path.read_bytes()
    except OSError as e:
        raise UnreadableSource(f"cannot read {what}: {e.strerror or e}") from e
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as e:
        raise UnreadableSource(f"{what} is not UTF-8 text (byte {e.start})") from e
