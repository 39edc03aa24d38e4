"""Measure the analyzer on the scenario corpus and write docs/accuracy.md.

    python scripts/make_corpus.py --n 400 --seed 0 --out corpus/      # once (see docs/accuracy.md)
    python scripts/accuracy.py --corpus corpus/ --out docs/accuracy.md

Every run the generator kept is analysed in this process (``forensics.analyze``, as the
CLI does), its verdict compared with the ground truth in ``manifest.jsonl``. The page
reports the **test** split (other seeds and held-out families, never tuned on); the dev
numbers are shown beside it only for reference. ``--cache FILE`` keeps the per-run
results so a page can be re-rendered without re-analysing (``--reuse``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # after PYTHONPATH: a baseline can be measured with another checkout

CAUSE_ORDER = (
    "learning_rate",
    "exploding_weights",
    "data_or_labels",
    "numerical_instability",
    "healthy",
    "inconclusive",
)
# Calibration bins over stated confidence: [lo, hi).
BINS = ((0.0, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.01))
# A calibration bin is judged only when it holds at least this many runs (the bar).
MIN_BIN_RUNS = 20
# Columns of the detail confusion for a verdict naming no detail of the truth's cause.
OTHER_CAUSE, NO_DETAIL = "other cause", "no detail"


def load_manifest(corpus: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (corpus / "manifest.jsonl").read_text().splitlines() if line.strip()]
    by_name = {r["scenario"]["name"]: r for r in rows}  # a re-run scenario: its last line counts
    return [r for r in by_name.values() if r["status"] == "ok" and (corpus / r["scenario"]["name"]).is_dir()]


def analyse(where: dict[str, Path], rows: list[dict[str, Any]], progress: bool = True) -> list[dict[str, Any]]:
    from forensics import analyze

    out = []
    for i, r in enumerate(rows):
        name = r["scenario"]["name"]
        t0 = time.perf_counter()
        try:
            rep = analyze(where[name] / name)
            v = rep.verdict
            cands = [c for c in rep.candidates if c.cause != v.cause]
            res = {
                "cause": v.cause,
                "detail": v.detail,
                # "evidence": a finding names it; "prior": none does (an analyzer older than the field: None)
                "detail_basis": getattr(v, "detail_basis", None),
                "confidence": float(v.confidence),
                "runner_up": cands[0].cause if cands else None,
                "first_nonfinite_step": rep.first_nonfinite_step,
                # "epoch" when the reader could not place the epoch it found on steps (and says so)
                "step_unit": _unit(rep),
                "summary": v.summary,
                "error": None,
            }
        except Exception as e:  # a crash of the analyzer counts as a wrong answer, and is shown
            res = {"cause": "error", "detail": None, "confidence": 0.0, "runner_up": None,
                   "first_nonfinite_step": None, "summary": "", "error": f"{type(e).__name__}: {e}"}  # fmt: skip
        res["seconds"] = round(time.perf_counter() - t0, 3)
        res["name"] = name
        out.append(res)
        if progress:
            print(f"[{i + 1}/{len(rows)}] {name}: {res['cause']}/{res['detail']} ({res['seconds']:.1f} s)", flush=True)
    return out


def _unit(rep: Any) -> str:
    nf = rep.timeline.first_nonfinite if rep.timeline is not None else None
    return "epoch" if nf is not None and nf.unit == "epoch" else "step"


def fnf_truths(t: dict[str, Any], sc: dict[str, Any], unit: str = "step") -> set[int]:
    """The first non-finite step as each kept source logged it (events, console, a checkpoint's
    trainer_state), in global steps as the contract counts them (an epoch's record at the step
    that ended it). A report that says its step is an epoch (``step_unit``: its reader found only
    per-epoch records and nothing that places an epoch on steps) is compared with the epoch of
    the sources that logged per epoch, and is wrong against any other. An event file whose writer
    put the epoch on its step axis under a tag that does not say so records no global step: the
    number on its axis counts as its step (``first_nonfinite_events_axis``)."""
    suffix = "_epoch" if unit == "epoch" else ""
    out = set()
    if sc["evidence"] in ("all", "events") and t.get(f"first_nonfinite_events{suffix}") is not None:
        out.add(t[f"first_nonfinite_events{suffix}"])
    if unit != "epoch" and sc["evidence"] in ("all", "events") and t.get("first_nonfinite_events_axis") is not None:
        out.add(t["first_nonfinite_events_axis"])  # an event file that wrote the epoch on its step axis
    if sc["evidence"] in ("all", "log") and t.get(f"first_nonfinite_log{suffix}") is not None:
        out.add(t[f"first_nonfinite_log{suffix}"])
    if not suffix and sc["evidence"] in ("all", "ckpt", "ckpt_config") and t.get("first_nonfinite_state") is not None:
        out.add(t["first_nonfinite_state"])
    return out


def score(rows: list[dict[str, Any]], results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    cause_ok = detail_ok = detail_n = fnf_ok = fnf_n = 0
    confusion: dict[str, Counter] = defaultdict(Counter)
    bins = [[0, 0, 0.0] for _ in BINS]  # runs, right, summed confidence
    times = []
    misses = []
    by: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    # truth detail -> what the verdict said: its detail when the cause is right, else OTHER_CAUSE
    detail_confusion: dict[str, Counter] = defaultdict(Counter)
    detail_by_evidence: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # evidence kind -> [runs, right]
    detail_by_basis: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # how it was chosen -> [runs, right]
    for r in rows:
        sc, t = r["scenario"], r["truth"]
        res = results[sc["name"]]
        truth_cause = sc["cause"]
        ok = res["cause"] == truth_cause
        cause_ok += ok
        confusion[truth_cause][res["cause"]] += 1
        for key in ("framework", "arch", "evidence"):
            by[key][sc[key]][0] += 1
            by[key][sc[key]][1] += ok
        by["held-out family"]["yes" if sc["held_out"] else "no"][0] += 1
        by["held-out family"]["yes" if sc["held_out"] else "no"][1] += ok
        if sc["detail"] is not None:
            detail_n += 1
            detail_ok += ok and res["detail"] == sc["detail"]
            said = (res["detail"] or NO_DETAIL) if ok else OTHER_CAUSE
            detail_confusion[sc["detail"]][said] += 1
            detail_by_evidence[sc["evidence"]][0] += 1
            detail_by_evidence[sc["evidence"]][1] += ok and res["detail"] == sc["detail"]
            if ok and res.get("detail_basis"):  # a cache written before the field has none
                detail_by_basis[res["detail_basis"]][0] += 1
                detail_by_basis[res["detail_basis"]][1] += res["detail"] == sc["detail"]
        if fnf_truths(t, sc):
            fnf_n += 1
            fnf_ok += res["first_nonfinite_step"] in fnf_truths(t, sc, res.get("step_unit", "step"))
        c = res["confidence"]
        # calibration is of committed verdicts: an inconclusive one states no cause to be right about
        for i, (lo, hi) in enumerate(BINS if res["cause"] != "inconclusive" else ()):
            if lo <= c < hi:
                bins[i][0] += 1
                bins[i][1] += ok
                bins[i][2] += c
        times.append(res["seconds"])
        if not ok or (sc["detail"] is not None and res["detail"] != sc["detail"]):
            misses.append((sc, res))
    times.sort()
    seen = [r for r in rows if r["scenario"]["evidence"] in ("all", "events", "log")]
    return {
        "seen_n": len(seen),
        "seen_ok": sum(results[r["scenario"]["name"]]["cause"] == r["scenario"]["cause"] for r in seen),
        "inconclusive": sum(results[r["scenario"]["name"]]["cause"] == "inconclusive" for r in rows),
        "n": n, "cause_ok": cause_ok, "detail_ok": detail_ok, "detail_n": detail_n, "fnf_ok": fnf_ok,
        "fnf_n": fnf_n, "confusion": confusion, "bins": bins, "times": times, "misses": misses, "by": by,
        "detail_confusion": detail_confusion, "detail_by_evidence": detail_by_evidence,
        "detail_by_basis": detail_by_basis,
    }  # fmt: skip


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f} % ({a}/{b})" if b else "n/a"


def calibration_table(bins: list[list[Any]]) -> list[str]:
    out = ["| confidence | runs | mean stated | observed right | gap |", "| --- | --- | --- | --- | --- |"]
    for (lo, hi), (k, right, csum) in zip(BINS, bins, strict=True):
        if not k:
            out.append(f"| {lo:.1f}–{min(hi, 1.0):.1f} | 0 | | | |")
            continue
        mean, obs = csum / k, right / k
        flag = "" if k >= MIN_BIN_RUNS else " (few runs)"
        out.append(f"| {lo:.1f}–{min(hi, 1.0):.1f} | {k} | {mean:.2f} | {obs:.2f} | {obs - mean:+.2f}{flag} |")
    return out


def cv_section(cv: dict[str, Any]) -> list[str]:
    """The leave-one-family-out check of the calibration on dev (``fit_combination.py --cv``)."""
    from scripts.fit_combination import cv_table

    fam = cv["family"]
    return [
        f"### Calibration check on dev, leave one {fam} out",
        "",
        "How the confidences are calibrated: the combined probability is Platt-scaled per kind of verdict "
        "(a cause a finding spoke for; one resting only on the shape of the record at its divergence, a "
        "sudden NaN from a normal loss that a bad batch and an operation's singularity leave alike; one only "
        "inferred from other causes' findings; a healthy curve whose job's ending a source states; a healthy "
        "curve no source says how its job ended; finite checkpoints alone; a base-rate prior; a setting alone), fitted "
        f"on dev verdicts stated by a table that had not seen the run's cause in its {fam}. A kind with "
        f"fewer than {cv['min_kind_verdicts']} such verdicts "
        "takes the scaling of all kinds pooled, and a kind with more is pulled toward the pooled one "
        f"as if it had been seen on {cv['shrink_verdicts']} of its verdicts, so no bin rests on a "
        "two-parameter fit to a handful of runs. Verdicts per kind: "
        + ", ".join(f"{k} {n}" for k, n in cv["verdicts"].items())
        + ". A cause resting only on a loss non-finite from its first logged point is stated at 1/3 at most "
        "(`FIRST_POINT_MAX_CONFIDENCE`), outside any fit: a net that blew up in its first updates, a bad "
        "first batch and an operation's singularity leave that point alike, and which of them a set of runs "
        "holds is its mix of architectures, which nothing read shows (out of family on dev, 6 of 21 such "
        "verdicts were right: none of 10 on deep plain MLPs, 4 of 5 on plain MLPs).",
        "",
        f"The check (`python scripts/fit_combination.py --corpus CORPUS --check-only --cv cv.json`): each dev "
        f"{fam} is left out in turn, the scalings fitted on the other {fam}s' verdicts only, and its runs "
        "stated with them; below, every dev run so stated, and the range of one "
        f"{fam}'s own gap per bin (over {fam}s with at least 5 runs in the bin).",
        "",
        *cv_table(cv).splitlines(),
    ]


def detail_confusion_lines(s: dict[str, Any]) -> list[str]:
    """The detail confusion (rows: the truth's detail; columns: the verdict's detail where its
    cause is right, 'no detail', or 'other cause'), and detail accuracy by the evidence kept."""
    from forensics.rules.base import DETAILS as DETAIL_ORDER  # the report contract's order

    conf = s["detail_confusion"]
    truths = [d for d in DETAIL_ORDER if d in conf]
    said = {k for row in conf.values() for k in row}
    cols = [d for d in DETAIL_ORDER if d in said] + [c for c in (NO_DETAIL, OTHER_CAUSE) if c in said]
    L = [
        "",
        "### Detail confusion (test; rows: truth, columns: the verdict's detail where its cause is right)",
        "",
        "| truth \\ verdict | " + " | ".join(c.replace("_", " ") for c in cols) + " |",
        "| --- |" + " --- |" * len(cols),
    ]
    for d in truths:
        row = conf[d]
        L.append(f"| {d.replace('_', ' ')} | " + " | ".join(str(row[c]) if row[c] else "·" for c in cols) + " |")
    by_ev = s["detail_by_evidence"]
    L += [
        "",
        "Detail right, by evidence kept (test): "
        + ", ".join(f"{k} {pct(v[1], v[0])}" for k, v in sorted(by_ev.items()))
        + ".",
    ]
    by_basis = s["detail_by_basis"]
    if by_basis:
        L += [
            "",
            "Detail right where the cause is, by how the detail was chosen (`detail_basis`: a finding names it, "
            "or none does and the fitted table's likeliest for the cause is said to be a prior): "
            + ", ".join(f"{k} {pct(v[1], v[0])}" for k, v in sorted(by_basis.items()))
            + ".",
        ]
    return L


def render(
    test: dict[str, Any],
    dev: dict[str, Any],
    corpus_note: str,
    before: dict[str, Any] | None = None,
    cv: dict[str, Any] | None = None,
) -> str:
    L: list[str] = []
    L += [
        "# Accuracy on the scenario corpus",
        "",
        "Generated by `python scripts/accuracy.py --corpus CORPUS --out docs/accuracy.md`; do not edit by hand.",
        "",
        "The corpus is made of real small trainings with injected faults (`scenarios/`, generated by",
        "`python scripts/make_corpus.py`; see *How the corpus is made* below). Numbers are on the **test**",
        "split: scenarios drawn with other seeds than dev, plus whole families (for each cause, an",
        "architecture and a framework) that never appear in dev. Nothing was tuned on these runs.",
        "",
        corpus_note,
        "",
        "## Test split",
        "",
    ]
    b = before
    rows = [
        ("runs", str(test["n"]), str(b["n"]) if b else ""),
        ("cause right", pct(test["cause_ok"], test["n"]), pct(b["cause_ok"], b["n"]) if b else ""),
        (
            "cause right, runs that kept a loss curve or the job log",
            pct(test["seen_ok"], test["seen_n"]),
            pct(b["seen_ok"], b["seen_n"]) if b else "",
        ),
        (
            "detail right (runs whose truth has a detail)",
            pct(test["detail_ok"], test["detail_n"]),
            pct(b["detail_ok"], b["detail_n"]) if b else "",
        ),
        (
            "first non-finite step exact (runs whose kept evidence logs it)",
            pct(test["fnf_ok"], test["fnf_n"]),
            pct(b["fnf_ok"], b["fnf_n"]) if b else "",
        ),
        ("verdict `inconclusive`", str(test["inconclusive"]), str(b["inconclusive"]) if b else ""),
    ]
    L += [
        "| measure | now | before issue 10 |" if b else "| measure | value |",
        "| --- | --- |" + (" --- |" if b else ""),
    ]
    L += [f"| {m} | {now} |" + (f" {was} |" if b else "") for m, now, was in rows]
    ts = test["times"]
    if ts:

        def timing(t: list[float]) -> str:
            return f"{t[len(t) // 2]:.2f} s / {t[int(len(t) * 0.9)]:.2f} s / {t[-1]:.2f} s"

        L.append(
            f"| time per run (median / 90th pct / max) | {timing(ts)} |" + (f" {timing(b['times'])} |" if b else "")
        )
    L += ["", "Dev split, for reference (tuned on):", ""]
    L += [
        f"cause {pct(dev['cause_ok'], dev['n'])}, detail {pct(dev['detail_ok'], dev['detail_n'])}, "
        f"first non-finite step {pct(dev['fnf_ok'], dev['fnf_n'])}.",
        "",
        "### Confusion matrix (test; rows: truth, columns: verdict)",
        "",
    ]
    cols = [*CAUSE_ORDER, "error"]
    cols = [c for c in cols if c != "error" or any(test["confusion"][r]["error"] for r in test["confusion"])]
    L.append("| truth \\ verdict | " + " | ".join(c.replace("_", " ") for c in cols) + " |")
    L.append("| --- |" + " --- |" * len(cols))
    for r in CAUSE_ORDER:
        if r not in test["confusion"]:
            continue
        row = test["confusion"][r]
        L.append(f"| {r.replace('_', ' ')} | " + " | ".join(str(row[c]) if row[c] else "·" for c in cols) + " |")
    L += detail_confusion_lines(test)
    L += [
        "",
        "### Calibration (test)",
        "",
        "Stated confidence against how often the cause was right, over committed verdicts (an",
        "`inconclusive` one names no cause). A bin is judged when it holds at least",
        f"{MIN_BIN_RUNS} runs; the target is |gap| ≤ 0.1.",
        "",
        *calibration_table(test["bins"]),
        "",
        "Dev split, for reference (tuned on):",
        "",
        *calibration_table(dev["bins"]),
    ]
    if cv is not None:
        L += ["", *cv_section(cv)]
    L += ["", "### Cause right, by family (test)", ""]
    for key, groups in test["by"].items():
        L.append(f"- **{key}**: " + ", ".join(f"{g} {pct(v[1], v[0])}" for g, v in sorted(groups.items())))
    L += [
        "",
        "### Misses (test)",
        "",
        "| run | truth | verdict | confidence | evidence kept |",
        "| --- | --- | --- | --- | --- |",
    ]
    for sc, res in sorted(test["misses"], key=lambda m: m[0]["name"]):
        truth = f"{sc['cause']}/{sc['detail'] or sc.get('lookalike') or '-'}"
        got = f"{res['cause']}/{res['detail'] or '-'}"
        L.append(f"| {sc['name']} | {truth} | {got} | {res['confidence']:.2f} | {sc['evidence']} |")
    L += ["", HOW, ""]
    return "\n".join(L).rstrip() + "\n"


HOW = """## How the corpus is made

`scenarios/matrix.py` draws each scenario from a seeded RNG: framework (PyTorch loop, Lightning,
the Hugging Face Trainer, Keras 3, tf.keras, a raw TF2 `GradientTape` loop), architecture (MLP, deep plain MLP, CNN,
RNN/LSTM/GRU, a one-block transformer), optimizer (SGD with and without momentum, Adam, AdamW,
RMSprop; with and without gradient clipping; constant, step, cosine and warmup schedules), logging
cadence (every step, every N, per epoch; the console at its own cadence), checkpoints (every N
steps, per epoch, none), the evidence kept (everything; events only; the job log only;
checkpoints only; checkpoints and a config) and the fault, with a random magnitude and onset
(from the start, mid-run, late, one data shard only): every cause and detail of the report
contract, plus healthy look-alikes (label noise, warm restarts, loss spikes that recover, fp16
steps skipped by the loss scaler, early stopping, an out-of-memory crash, a job killed by its time
limit) and crashes of no known meaning. The workers (`scenarios/torch_worker.py`,
`lightning_worker.py`, `hf_worker.py`, `keras_worker.py`) train each scenario for real, many per
process, with the frameworks' own writers; the ground truth (cause, detail, the first non-finite
loss as each source logged it, how the job ended) is recorded from what the run really did, read
back from the event files, the console and the Trainer's `trainer_state.json` (where the Trainer's
`logging_nan_inf_filter` masks a NaN loss, the first non-finite grad norm, as the contract says).
The first non-finite step is a global step, as the contract counts it: a console line naming the
step whose loss went non-finite counts, and a per-epoch record counts at the step that ended its
epoch, its epoch kept beside it. A report that says its step is an epoch (`step_unit`: the reader
found only per-epoch records and nothing placing them on steps) is compared with that epoch; an
event file whose writer put the epoch on its step axis, under a tag that does not say so, records
no global step, and the number on its axis counts (`scenarios/retruth.py` says how a corpus made
before this convention is brought to it: `python scripts/retruth_corpus.py --corpus corpus/ --write`).
A fault that did not bite after three tries (its magnitude raised each time) is dropped, not
relabelled. The split (`HELD_OUT` in `scenarios/matrix.py`) is fixed before anything trains.

Regenerate (a few minutes per hundred PyTorch runs on 2 cores; Keras and TF runs are slower):

```
python scripts/make_corpus.py --n 400 --seed 0 --out corpus/        # and --seed 1, 2 ... into other folders
python scripts/fit_combination.py --corpus corpus/ --cv cv.json       # refit forensics/combination_table.py on dev
python scripts/accuracy.py --corpus corpus/ --out docs/accuracy.md --cache now.jsonl --calibration-cv cv.json
```

`--cv cv.json` also runs the leave-one-architecture-out check of the calibration on dev (the section
above); `--check-only` runs it without rewriting the table.

The "before issue 10" column is the same command run with the analyzer of commit 6b43928 first on
`PYTHONPATH` (`--cache before.jsonl`), then passed as `--before before.jsonl`.

`tests/fixtures/corpus_slice/` holds a few runs of the corpus with their manifest lines; the
default suite checks their ground truth against their files, and `pytest -m slow
tests/test_corpus.py` regenerates a small corpus end to end."""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, nargs="+", required=True, help="one or more corpus folders")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "accuracy.md")
    ap.add_argument("--cache", type=Path, help="per-run results (JSON lines), written after analysis")
    ap.add_argument("--reuse", action="store_true", help="render from --cache without analysing")
    ap.add_argument("--before", type=Path, help="a --cache written by an earlier analyzer, shown beside")
    ap.add_argument("--note", default="", help="a sentence put under the title (what was measured)")
    ap.add_argument("--split", choices=("test", "dev", "all"), default="all", help="which runs to analyse")
    ap.add_argument(
        "--calibration-cv", type=Path, help="the JSON of fit_combination.py --cv: its check is shown on the page"
    )
    args = ap.parse_args()
    rows, where = [], {}
    for corpus in args.corpus:
        for r in load_manifest(corpus):
            rows.append(r)
            where[r["scenario"]["name"]] = corpus
    if args.split != "all":
        rows = [r for r in rows if r["scenario"]["split"] == args.split]
    if args.reuse and args.cache and args.cache.exists():
        results = {r["name"]: r for r in map(json.loads, args.cache.read_text().splitlines())}
        rows = [r for r in rows if r["scenario"]["name"] in results]
    else:
        results = {r["name"]: r for r in analyse(where, rows)}
        if args.cache:
            args.cache.write_text("".join(json.dumps(r) + "\n" for r in results.values()))
    test_rows = [r for r in rows if r["scenario"]["split"] == "test"]
    dev_rows = [r for r in rows if r["scenario"]["split"] == "dev"]
    fw = Counter(r["scenario"]["framework"] for r in rows)
    note = (
        f"Corpus: {len(rows)} runs ({len(test_rows)} test, {len(dev_rows)} dev); "
        + ", ".join(f"{k} {v}" for k, v in sorted(fw.items()))
        + "."
    )
    if args.note:
        note = args.note + "\n\n" + note
    before = None
    if args.before and args.before.exists():
        old = {r["name"]: r for r in map(json.loads, args.before.read_text().splitlines())}
        if all(r["scenario"]["name"] in old for r in test_rows):
            before = score(test_rows, old)
    cv = json.loads(args.calibration_cv.read_text()) if args.calibration_cv else None
    page = render(score(test_rows, results), score(dev_rows, results), note, before, cv)
    args.out.write_text(page, encoding="utf-8")
    t = score(test_rows, results)
    print(f"test: cause {pct(t['cause_ok'], t['n'])}, detail {pct(t['detail_ok'], t['detail_n'])}, "
          f"fnf {pct(t['fnf_ok'], t['fnf_n'])}")  # fmt: skip
    d = score(dev_rows, results)
    print(f"dev: cause {pct(d['cause_ok'], d['n'])}, detail {pct(d['detail_ok'], d['detail_n'])}, "
          f"fnf {pct(d['fnf_ok'], d['fnf_n'])}")  # fmt: skip
    if dev_rows:  # what dev tuning reads: the dev split's detail confusion, on the console only
        print("\n".join(detail_confusion_lines(d)).replace("(test", "(dev"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
