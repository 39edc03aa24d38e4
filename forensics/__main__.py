"""python -m forensics ..."""

from forensics.cli import entry

entry()
