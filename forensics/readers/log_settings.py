"""Training settings a job log states before training starts: what scripts print as a header.

A run that kept only its console output often still says how it was set up, in the lines a
script prints first:

- argparse's ``Namespace(lr=0.1, batch_size=64, ...)`` (``print(args)``, the usual way a
  script records its flags);
- a torch optimizer's repr (``print(optimizer)``: ``SGD (`` / ``Parameter Group 0`` /
  ``    lr: 0.1`` ... ``)``);
- Hugging Face ``TrainingArguments(`` with one ``name=value,`` a line, as the example scripts
  log it at INFO ("Training/evaluation parameters TrainingArguments(...)");
- ``key=value`` or ``key: value`` pairs of known settings on a line before the first line that
  reports a loss (``optimizer: sgd lr=0.05 | batch 16``).

Only the head of the log is read (``HEAD_BYTES``): a header comes before training, and a
per-step line that prints the LR is the log reader's series, not a setting. Values are read
as literals (``ast.literal_eval`` on each argument of a ``Namespace``, never evaluated); the
settings found are judged by the config reader (``readers.config.extract_settings``), so a
log's header states the LR, optimizer, batch size, clipping, warmup and precision as a
config file would.
"""

from __future__ import annotations

import ast
import codecs
import dataclasses
import re
from pathlib import Path
from typing import Any

from forensics.readers.config import FIELDS, WARMUP_KEYS, extract_settings
from forensics.readers.logs import read_job_log
from forensics.readers.safe_open import open_binary
from forensics.records import ConfigData, Kind, LogData, Source

# A header is printed before training: the first 256 KiB hold it even under a long banner of
# warnings (a Hugging Face TrainingArguments dump is ~8 KiB).
HEAD_BYTES = 256 * 1024
# A Namespace(...) or TrainingArguments(...) repr longer than this is not one (argparse dumps
# of the largest training scripts are a few KiB).
MAX_REPR_CHARS = 64 * 1024

# Settings read from free header lines: the config reader's names for them.
_HEADER_KEYS = frozenset(
    {
        *FIELDS["learning_rate"],
        *FIELDS["optimizer"],
        *FIELDS["batch_size"],
        *FIELDS["grad_clip"],
        *WARMUP_KEYS,
        "momentum",
        "precision",
        "mixed_precision",
        "model",
        "arch",
        "lr_scheduler_type",
        "scheduler",
        "lr_scheduler",
    }
)
_PAIR = re.compile(r"(?<![\w.-])([A-Za-z_][\w.-]*)\s*(?:=|:\s)\s*([^\s,|;()\[\]{}]+)")
_LOSS_WORD = re.compile(r"loss", re.IGNORECASE)
_NAMESPACE = re.compile(r"\bNamespace\(")
_TRAINING_ARGS = re.compile(r"\b(\w*TrainingArguments)\(\s*$", re.MULTILINE)
_OPTIMIZER_HEAD = re.compile(r"^(\w+) \(\s*\n\s*Parameter Group 0\s*$", re.MULTILINE)
_GROUP_LINE = re.compile(r"^ {4}(\w+): (.*)$")
_ARG_LINE = re.compile(r"^(\w+)=(.*),$")


def read_job_log_with_settings(path: Path, source: Source) -> LogData | tuple[LogData, ConfigData]:
    """The job log (``readers.logs.read_job_log``), and the settings its header states when it
    states any (a ConfigData whose source is the log)."""
    log = read_job_log(path, source)
    try:
        with open_binary(path) as f:
            head = f.read(HEAD_BYTES)
    except OSError:
        return log  # the log reader already said what it could read
    tree = settings_in_text(_decode(head))
    if not tree:
        return log
    cfg = extract_settings(tree)
    return log, dataclasses.replace(cfg, source=Source(path=source.path, kind=Kind.CONFIG, size=source.size))


def _decode(head: bytes) -> str:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", errors="replace")
    return head.decode("utf-8", errors="replace")


def settings_in_text(text: str) -> dict[str, Any]:
    """The settings a log's head states, as a flat tree (the first statement of a key wins:
    an argparse dump, then TrainingArguments, then an optimizer's repr, then header lines)."""
    tree: dict[str, Any] = {}
    for part in (_namespace(text), _training_arguments(text), _optimizer_repr(text), _header_pairs(text)):
        for k, v in part.items():
            tree.setdefault(k, v)
    return tree


def _literal(text: str) -> Any:
    """A value as Python writes it (a number, a string, True/None), else the text itself."""
    s = text.strip()
    try:
        return ast.literal_eval(s)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return s


def _namespace(text: str) -> dict[str, Any]:
    """argparse's ``Namespace(a=1, b='x')``: each keyword's value read as a literal (a value
    that is not one, like a class's repr, is kept as its text)."""
    m = _NAMESPACE.search(text)
    if m is None:
        return {}
    end = text.find("\n", m.start())
    body = text[m.start() : (end if end != -1 else len(text))][:MAX_REPR_CHARS].rstrip()
    try:
        call = ast.parse(body, mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return _namespace_by_commas(body)  # a value whose repr is no Python (<class 'X'>)
    if not isinstance(call, ast.Call):
        return {}
    out: dict[str, Any] = {}
    for kw in call.keywords:
        if kw.arg is None:
            continue
        try:
            out[kw.arg] = ast.literal_eval(kw.value)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            out[kw.arg] = ast.get_source_segment(body, kw.value) or ""
    return out


_NS_KEY = re.compile(r"(?:\(|, )(\w+)=")


def _namespace_by_commas(body: str) -> dict[str, Any]:
    """A Namespace repr Python cannot parse: each ``key=`` up to the next ``, key=``."""
    keys = list(_NS_KEY.finditer(body))
    out: dict[str, Any] = {}
    for i, k in enumerate(keys):
        end = keys[i + 1].start() if i + 1 < len(keys) else body.rfind(")")
        out[k.group(1)] = _literal(body[k.end() : max(end, k.end())])
    return out


def _training_arguments(text: str) -> dict[str, Any]:
    """Hugging Face ``TrainingArguments(`` followed by ``name=value,`` lines and ``)``."""
    m = _TRAINING_ARGS.search(text)
    return {} if m is None else _block(text, m.end(), _ARG_LINE)


def _optimizer_repr(text: str) -> dict[str, Any]:
    """A torch optimizer's repr: its class name and the settings of its first parameter group."""
    m = _OPTIMIZER_HEAD.search(text)
    return {} if m is None else {"optimizer": m.group(1), **_block(text, m.end(), _GROUP_LINE)}


def _block(text: str, start: int, line: re.Pattern[str]) -> dict[str, Any]:
    """The ``name`` / ``value`` pairs of the lines after ``start`` that match ``line``, up to the
    first that does not (a repr's closing parenthesis, or the log going on)."""
    out: dict[str, Any] = {}
    for row in text[start : start + MAX_REPR_CHARS].splitlines()[1:]:
        g = line.match(row)
        if g is None:
            break
        out[g.group(1)] = _literal(g.group(2))
    return out


def _header_pairs(text: str) -> dict[str, Any]:
    """``key=value`` / ``key: value`` pairs of known settings on the lines before the first one
    that reports a loss (after it, a line's LR is a point of the series, not a setting)."""
    out: dict[str, Any] = {}
    for line in text.splitlines():
        if _LOSS_WORD.search(line):
            break
        for k, v in _PAIR.findall(line):
            if k.lower() in _HEADER_KEYS:
                out.setdefault(k.lower(), _literal(v))
    return out
