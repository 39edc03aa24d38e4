"""Measure the analyzer on real training logs people pasted into public issue threads.

    python scripts/log_accuracy.py --logs DIR                 # print the table
    python scripts/log_accuracy.py --logs DIR --write         # and put it into docs/logs.md
    python scripts/log_accuracy.py --logs DIR --blind         # the blind split(s) too (measured once)

Each case has a label in this repository, ``tests/fixtures/real_logs/{SPLIT}/NAME.json``
(source address, toolkit, whether the run diverged, the cause the thread settled or
``unknown``, whether the log holds a loss or a known framework message), and a log,
``DIR/{SPLIT}/NAME.log``, kept outside it: the text is other people's, copied from the
thread named in the label, so it is not redistributed here (and held-out cases kept out of
the tree keep measuring what a user meets). ``DIR`` may also come from the environment
variable ``FORENSICS_REAL_LOGS``. A case is analysed as a user would: the log alone in a run folder, under the
file name the toolkit gives it (``train.log``, ``nohup.out``, ``log_rank0.txt``), through
``forensics.analyze``. What is counted, per split:

- diverged: the report's ``diverged`` against the label, where the label knows it;
- cause: the verdict's cause against the thread's, where the thread settled one;
- inconclusive with evidence: ``inconclusive`` on a log that holds a loss or a known
  message (the issue allows ``inconclusive`` only on a log that holds neither);
- crashes: an exception out of ``analyze`` (a usage error for "nothing could be read"
  counts too: the log was there).

The splits (docs/logs.md):

- dev: may be tuned on;
- heldout: never tuned on (some of its misses were read while the extractor was built);
- heldout2: collected after the extractor was last tuned; never tuned on;
- heldout3: collected blind by a helper that does not work on the extractor, labelled from the
  threads only, measured once blind (docs/logs.md) and then left ``BLIND``; seen since. A later
  blind split goes into ``BLIND``: left out unless ``--blind`` is given, so a routine run on the
  other splits does not show its cases, until it is measured once, on purpose;
- heldout4: collected blind the same way, over the toolkits most users meet (the HF Trainer and the
  projects on it, DeepSpeed, Megatron, mmengine, YOLO, Keras, Lightning, torchtune...), measured once
  blind at the end of the round that tuned on heldout3 (docs/logs.md); seen since;
- heldout5: collected blind the same way, from threads no earlier split holds (the HF Trainer and the
  projects on it, nanoGPT, fairseq, OpenNMT, ESPnet, mmsegmentation, detectron2, YOLO, Keras, TF1,
  DeepSpeed, diffusion trainers...), measured once blind at the end of the sixth round (docs/logs.md);
  seen since;
- heldout6: collected blind the same way, from threads no earlier split holds, with toolkits and
  phrasings unlike the earlier splits' (insightface, PaddleDetection, MXNet, apex, fastai, Lua Torch,
  GPT-NeoX on DeepSpeed, detectron2, diffusion trainers, bare print loops...), measured once blind at the
  end of the seventh round (docs/logs.md); seen since;
- heldout7: collected blind the same way, from threads and committed log files no earlier split holds,
  wider still (research repositories' committed ``train.log`` files, Deeplearning4j, PaddleRec, TF1
  Estimators, GAN loops, Megatron-DeepSpeed...), measured once blind at the end of the eighth round
  (docs/logs.md); seen since;
- heldout8: collected blind the same way, from threads and committed log files no earlier split holds,
  aimed at the toolkits and causes the earlier splits hardly hold (detectors' region losses, speech
  recipes, 2017-era loops...), measured once blind at the end of the ninth round (docs/logs.md); seen since;
- heldout9: collected blind the same way, from threads and committed log files no earlier split holds, with
  frameworks the earlier splits barely hold (CNTK, Caffe, PaddlePaddle, MindSpore, DeePMD-kit, Lasagne,
  ColossalAI, OLMo, RLlib, Coqui TTS, darknet...), measured once blind at the end of the tenth round
  (docs/logs.md); seen since;
- heldout10 to heldout13: collected blind the same way, each from threads and committed files no earlier split
  holds, measured once blind at the round's end (heldout10-12 in the eleventh round, heldout13 in the twelfth, after
  that round's first wave of fixes; docs/logs.md); seen since;
- heldout15 to heldout17: collected blind the same way in the thirteenth round, heldout15 measured once blind at the
  round's start, heldout16 at the start and again after the round's first wave, heldout17 at the start and after each
  of the round's two waves (docs/logs.md); seen since;
- heldout18: collected blind the same way at the fourteenth round's start by two helpers, measured then, and the
  round's fixes made on it (docs/logs.md); seen since;
- heldout19: a third helper's cases of the same collection, measured blind at the round's start and after its fixes
  (docs/logs.md); seen since;
- heldout20: collected blind late in the fourteenth round by three more helpers and measured blind at the round's start
  commit and after its fixes, no case looked at, then once more at the fifteenth round's start (0cfbbce, unchanged);
  the fifteenth round's fixes were made on it (docs/logs.md); seen since;
- heldout21: collected blind at the fifteenth round's start by three more helpers and measured blind at the round's
  start commit and after its fixes, no case looked at, then once more at the sixteenth round's start (67ec698,
  unchanged); the sixteenth round's fixes were made on it (docs/logs.md); seen since;
- heldout22: collected blind during the sixteenth round by three more helpers and measured blind at the round's start
  commit and after its fixes, no case looked at, then once more at the seventeenth round's start (ad8b38d,
  unchanged); the seventeenth round's fixes were made on it (docs/logs.md); seen since;
- heldout23: collected blind at the seventeenth round's start by three more helpers and measured blind at the round's
  start commit and after its fixes, no case looked at, then once more at the eighteenth round's start (513dfd7,
  unchanged); the eighteenth round's fixes were made on it (docs/logs.md); seen since;
- heldout24: collected blind at the eighteenth round's start by three more helpers and measured blind at the round's
  start commit and after its fixes, no case looked at, then once more at the nineteenth round's start (dda4da7,
  unchanged); the nineteenth round's fixes were made on it (docs/logs.md); seen since;
- heldout25: collected blind at the nineteenth round's start by three more helpers and measured blind at the round's
  start commit and after its fixes, no case looked at, then once more at the twentieth round's start (d3c0d7c,
  unchanged); the twentieth round's fixes were made on it (docs/logs.md); seen since;
- heldout26: collected blind at the twentieth round's start by three more helpers and measured blind at the round's
  start commit and after its fixes, no case looked at: left ``BLIND``, for the next round to measure its changes on.

A split whose folder is missing from ``DIR`` is left out of the table, with a note; so is a case whose log
the folder lacks (a copy rebuilt from the threads' stored copies may lack a few), named in the note.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # after PYTHONPATH: a baseline can be measured with another checkout

CASES = ROOT / "tests" / "fixtures" / "real_logs"  # the labels
LOGS_ENV = "FORENSICS_REAL_LOGS"  # where the logs themselves are (DIR/{split}/NAME.log)
# in table order
SPLITS = (
    "heldout",
    "heldout2",
    "heldout3",
    "heldout4",
    "heldout5",
    "heldout6",
    "heldout7",
    "heldout8",
    "heldout9",
    "heldout10",
    "heldout11",
    "heldout12",
    "heldout13",
    "heldout14",
    "heldout15",
    "heldout16",
    "heldout17",
    "heldout18",
    "heldout19",
    "heldout20",
    "heldout21",
    "heldout22",
    "heldout23",
    "heldout24",
    "heldout25",
    "heldout26",
    "dev",
)
BLIND: tuple[str, ...] = ("heldout26",)  # splits not measured yet: left out of a run unless asked for (--blind)
DOC = ROOT / "docs" / "logs.md"
START, END = "<!-- real-logs:start -->\n", "<!-- real-logs:end -->"


def logs_dir(given: str | Path | None = None) -> Path | None:
    """The folder holding the cases' logs: the one given, else ``$FORENSICS_REAL_LOGS``, else None."""
    given = given or os.environ.get(LOGS_ENV)
    return Path(given) if given else None


def load_cases(split: str, logs: Path | None = None) -> list[dict[str, Any]]:
    """The labelled cases of a split; each ``log_path`` points into ``logs`` (None without it). Given
    ``logs``, only the cases whose log the folder holds (``missing_logs`` names the others)."""
    out = []
    for meta_path in sorted((CASES / split).glob("*.json")):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta["log_path"] = logs / split / f"{meta_path.stem}.log" if logs else None
        if logs is None or meta["log_path"].is_file():
            out.append(meta)
    return out


def missing_logs(split: str, logs: Path) -> list[str]:
    """The cases of a split whose log ``logs`` does not hold: a copy rebuilt from the threads' stored
    copies may lack some (docs/logs.md); they are left out of the split's numbers, and said so."""
    return sorted(p.stem for p in (CASES / split).glob("*.json") if not (logs / split / f"{p.stem}.log").is_file())


def run_case(case: dict[str, Any], tmp: Path) -> dict[str, Any]:
    from forensics import analyze

    run = tmp / case["name"]
    run.mkdir()
    shutil.copyfile(case["log_path"], run / case.get("filename", "train.log"))
    try:
        rep = analyze(str(run))
    except Exception as e:  # a crash is what is being counted
        # the run's temporary folder is this machine's: the table names the case instead
        return {"crash": f"{type(e).__name__}: {e}".replace(str(run), case["name"])[:200]}
    return {
        "crash": None,
        "diverged": bool(rep.diverged),
        "cause": rep.verdict.cause,
        "detail": rep.verdict.detail,
        "first_nonfinite_step": rep.first_nonfinite_step,
    }


def judge(case: dict[str, Any], got: dict[str, Any]) -> dict[str, bool | None]:
    """Per measure: True/False where the case counts for it, None where it does not."""
    from forensics.rules.base import DETAILS

    # a label's detail, where its thread settles one the contract can name: a collector's own phrase
    # ('sqrt_at_zero_in_gradient_penalty', a crash's kind on a healthy run) is no detail a report could give
    detail = case.get("detail") if case.get("detail") in DETAILS else None
    if got["crash"]:
        return {
            "diverged": False if case["diverged"] is not None else None,
            "cause": False if case["cause"] != "unknown" else None,
            "detail": False if detail else None,
            "bad_inconclusive": None,
        }
    evidence = case.get("holds_loss", True) or case.get("known_message", False)
    return {
        "diverged": None if case["diverged"] is None else got["diverged"] == case["diverged"],
        "cause": None if case["cause"] == "unknown" else got["cause"] == case["cause"],
        "detail": None if not detail else (got["cause"], got["detail"]) == (case["cause"], detail),
        "bad_inconclusive": (got["cause"] == "inconclusive") if evidence else None,
    }


def splits_present(logs: Path, blind: bool = False) -> list[str]:
    """The splits whose log folder ``logs`` holds, in table order (an older copy may lack the newest);
    the blind splits only when ``blind`` is set."""
    return [split for split in SPLITS if (logs / split).is_dir() and (blind or split not in BLIND)]


def measure(split: str, logs: Path) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="real-logs-") as tmp:
        for case in load_cases(split, logs):
            got = run_case(case, Path(tmp))
            rows.append({"case": case, "got": got, "judged": judge(case, got)})
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """(hits, counted) for each measure; for bad_inconclusive and crashes the hits are the bad ones."""

    def count(key: str) -> tuple[int, int]:
        judged = [r["judged"].get(key) for r in rows if r["judged"].get(key) is not None]
        return sum(judged), len(judged)

    return {
        "diverged": count("diverged"),
        "cause": count("cause"),
        "detail": count("detail"),
        "bad_inconclusive": count("bad_inconclusive"),
        "crashes": (sum(1 for r in rows if r["got"]["crash"]), len(rows)),
    }


def _rate(hit: int, n: int) -> str:
    return f"{hit}/{n} ({hit / n:.0%})" if n else "–"


def render(results: dict[str, list[dict[str, Any]]]) -> str:
    """The summary table, one row per measured split, then one row per case."""
    lines = [
        "| split | cases | diverged right | cause right (cause known) | cause and detail right (detail known) "
        "| inconclusive on a log with a loss or message | crashes |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for split in results:
        s = summary(results[split])
        lines.append(
            f"| {split} | {len(results[split])} | {_rate(*s['diverged'])} | {_rate(*s['cause'])} | "
            f"{_rate(*s['detail'])} | {s['bad_inconclusive'][0]} of {s['bad_inconclusive'][1]} | {s['crashes'][0]} |"
        )
    lines += [
        "",
        "| split | case | toolkit | label: diverged, cause | report: diverged, cause |",
        "| --- | --- | --- | --- | --- |",
    ]
    for split in results:
        for r in results[split]:
            c, g, j = r["case"], r["got"], r["judged"]
            # the columns show the cause: a detail missed under the right cause is counted above only
            miss = any(v is False for k, v in j.items() if k in ("diverged", "cause")) or j["bad_inconclusive"]
            label = f"{_yes_no(c['diverged'])}, {c['cause']}"
            got = f"crash: {g['crash']}" if g["crash"] else f"{_yes_no(g['diverged'])}, {g['cause']}"
            name = f"[{c['name']}]({c['url']})"
            lines.append(
                f"| {split} | {name} | {c['toolkit']} | {label} | {'**' if miss else ''}{got}{'**' if miss else ''} |"
            )
    return "\n".join(lines) + "\n"


def _yes_no(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "no")


def write_doc(table: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(head + START + table + END + tail, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--logs", help=f"folder of the cases' logs, DIR/{{{','.join(SPLITS)}}}/NAME.log (default: ${LOGS_ENV})"
    )
    ap.add_argument("--write", action="store_true", help="put the table into docs/logs.md")
    ap.add_argument(
        "--blind", action="store_true", help=f"measure the blind split(s) too ({', '.join(BLIND)}): once, on purpose"
    )
    args = ap.parse_args(argv)
    logs = logs_dir(args.logs)
    if logs is None or not logs.is_dir():
        print(f"log_accuracy: no folder of real logs (--logs DIR or ${LOGS_ENV}); see docs/logs.md", file=sys.stderr)
        return 2
    present = splits_present(logs, blind=args.blind)
    for split in SPLITS:
        if split in BLIND and not args.blind:
            print(f"log_accuracy: {split} is blind until measured on purpose (--blind); left out", file=sys.stderr)
        elif split not in present:
            print(f"log_accuracy: {logs / split} is missing; the {split} split is left out", file=sys.stderr)
        elif missing := missing_logs(split, logs):
            print(
                f"log_accuracy: {len(missing)} of {len(missing) + len(load_cases(split, logs))} {split} logs are "
                f"not in {logs / split}, left out: {', '.join(missing)}",
                file=sys.stderr,
            )
    results = {split: measure(split, logs) for split in present}
    table = render(results)
    print(table)
    if args.write:
        write_doc(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
