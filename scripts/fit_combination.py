"""Fit the evidence combination on the dev split of the scenario corpus.

    python scripts/fit_combination.py --corpus corpus/ [--out forensics/combination_table.py]

Each dev run is analysed; its features (``forensics.combine.features``: the rules'
evidence by name, and what was read) and its true cause form one example. A multinomial
logistic regression is fitted by gradient descent, each cause weighing the same, with an
L2 pull toward the hand-set prior (each rule counts for its own cause, ``PRIOR_COEF``), so
a feature seen in few dev runs moves little from its documented meaning. A finding may
count against other causes than its own, never for them: "NaN from the first step" is
the data's mechanism, and an association of the dev families (there, deep nets that blew
up at init) must not make it speak for exploding weights in a family the table never saw
— a rule that reasons from that mechanism (EXP005, EXP007) speaks for it instead. On
dev, held out by (cause, architecture), this is as accurate as the unconstrained fit. The stated
confidence is then Platt-scaled, per kind of verdict (``combine.CONFIDENCE_KINDS``), on
out-of-family dev verdicts: the runs of each cause in each architecture are left out in
turn, the table fitted on the rest, and ``diagnose`` run on them as on a new run. A kind
with fewer than MIN_KIND_VERDICTS such verdicts takes the scaling of all kinds pooled, and
a kind with more is pulled toward the pooled one (SHRINK_VERDICTS), so no kind's scaling
rests on a two-parameter fit to a handful of runs. ``--cv FILE`` checks it: each dev
architecture is left out in turn, the scalings fitted on the others' verdicts, and its runs
stated with them (per bin, the gap and each architecture's own). The
test split holds out, for each cause, whole families dev never saw, so confidences
learned in-family would promise what the table's associations do not keep there. The ``setup``
kind (a cause only a config's setting names) has no dev run of its own: each dev run that failed
is also seen as a job that died before its first checkpoint leaves it, its config files alone,
and the verdict stated on that view calibrates it. The table is written as a
Python module of plain dicts; only the test split (``scripts/accuracy.py``) says how well
it does. ``--details-only`` refits the detail tables alone (a change that moves no cause's
evidence need not move the cause table or its calibration).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forensics.combine import COMBINED_CAUSES, CONFIDENCE_KINDS, features, prior_coefficient  # noqa: E402
from forensics.details import DETAILS_OF, detail_features  # noqa: E402
from forensics.details import prior_coefficient as detail_prior  # noqa: E402

# Strength of the pull toward the prior, per coefficient (a Gaussian prior's 1/variance).
L2 = 0.5
STEPS = 4000
# The scenario field whose values are left out in turn for the out-of-family confidences.
FAMILY = "arch"
RATE = 0.05
# The detail tables are fitted on fewer runs (one cause's dev runs each) over as many
# features: a firmer pull toward the prior keeps a feature seen in a handful of runs near it
# (held out by architecture on dev, 2 and 32 did worse than 8).
DETAIL_L2 = 8.0
# A kind of verdict (``combine.CONFIDENCE_KINDS``) whose out-of-family dev verdicts number fewer
# than this gets no Platt scaling of its own, but the one of all verdicts pooled: two parameters
# fitted on ~20 verdicts of one or two families move with a handful of them (healthy_checkpoints,
# 18 verdicts, moved the test's 0.7-0.8 bin by 0.2 between two fits of nearly the same code); at
# 30 the slope's standard error is about half what it is at 10, and a bin of 20 holds its mean.
MIN_KIND_VERDICTS = 30
# A kind with enough verdicts is still pulled toward the pooled scaling as if that scaling had
# been seen on this many of its verdicts: a kind of 30-60 verdicts weighs its own rate about
# two to one against the pool's, and one of 100 barely moves from its own.
SHRINK_VERDICTS = 15
# ``--cv`` shows a family's own gap in a bin when the family holds at least this many of its runs
# (a gap over fewer is one or two verdicts' noise).
CV_FAMILY_RUNS = 5


@dataclass
class Example:
    features: dict[str, float]
    y: int
    detail: str | None
    name: str
    family: str
    timeline: Any
    evidence: list[Any]
    path: Path | None = None  # the run's folder


def examples(corpora: list[Path]) -> list[Example]:
    from forensics import analyze
    from forensics.rules import run_rules

    out = []
    for corpus in corpora:
        rows = [json.loads(line) for line in (corpus / "manifest.jsonl").read_text().splitlines() if line.strip()]
        for r in {r["scenario"]["name"]: r for r in rows}.values():  # a re-run scenario: its last line
            sc = r["scenario"]
            if r["status"] != "ok" or sc["split"] != "dev" or sc["cause"] not in COMBINED_CAUSES:
                continue
            if not (corpus / sc["name"]).is_dir():
                continue
            rep = analyze(corpus / sc["name"])
            ev = run_rules(rep.timeline)
            out.append(
                Example(
                    features(rep.timeline, ev), COMBINED_CAUSES.index(sc["cause"]), sc["detail"], sc["name"],
                    sc[FAMILY], rep.timeline, ev, corpus / sc["name"],
                )
            )  # fmt: skip
    return out


def fit(
    feats: list[dict[str, float]],
    ys: list[int],
    classes: tuple[str, ...] = COMBINED_CAUSES,
    prior: Any = prior_coefficient,
    constraints: Any = None,
    l2: float = L2,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    keys = sorted({k for f in feats for k in f})
    x = np.array([[f.get(k, 0.0) for k in keys] for f in feats])
    y = np.zeros((len(ys), len(classes)))
    y[np.arange(len(ys)), ys] = 1.0
    w0 = np.array([[prior(k, c) for c in classes] for k in keys])
    w, b = w0.copy(), np.zeros(len(classes))
    n = len(ys)
    # Each cause weighs the same in the fit, whatever its share of the dev runs: the corpus's
    # mix of causes is the generator's choice (and its drop rate), not a prior about real runs.
    counts = y.sum(0)
    balance = (y @ np.where(counts > 0, n / (len(classes) * np.maximum(counts, 1)), 0.0))[:, None]
    own, cross = (constraints or sign_constraints)(keys)
    for _ in range(STEPS):
        z = x @ w + b
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        g = balance * (p - y) / n
        w -= RATE * (x.T @ g + l2 * (w - w0) / n)
        # a finding keeps its documented direction for its own cause, and may count against
        # other causes but never for them (projected gradient descent)
        w = np.where(own & (w0 > 0), np.maximum(w, 0.0), w)
        w = np.where(own & (w0 < 0), np.minimum(w, 0.0), w)
        w = np.where(cross, np.minimum(w, 0.0), w)
        b -= RATE * g.sum(0)
    return keys, w, b


def sign_constraints(keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(own, cross) masks over (feature, cause): a rule's finding ``RULE:cause[:against]``
    against its own cause, and against every other cause. Facts of what was read
    (``diverged``, ``no_loss_series`` ...) are free."""
    own = np.zeros((len(keys), len(COMBINED_CAUSES)), dtype=bool)
    named = np.zeros((len(keys), 1), dtype=bool)
    for i, k in enumerate(keys):
        parts = k.split(":")
        if len(parts) >= 2 and parts[1] in COMBINED_CAUSES:
            own[i, COMBINED_CAUSES.index(parts[1])] = True
            named[i] = True
    return own, named & ~own


def detail_constraints(details: tuple[str, ...]) -> Any:
    """(own, cross) masks for a cause's details: a finding ``RULE:detail`` for the detail it
    names, and against the cause's other details. Other features are free."""

    def masks(keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
        own = np.zeros((len(keys), len(details)), dtype=bool)
        named = np.zeros((len(keys), 1), dtype=bool)
        for i, k in enumerate(keys):
            parts = k.split(":")
            if len(parts) == 2 and parts[1] in details:
                own[i, details.index(parts[1])] = True
                named[i] = True
        return own, named & ~own

    return masks


def fit_details(exs: list[Example]) -> tuple[dict[str, float], dict[str, dict[str, float]], dict[str, int]]:
    """Per cause with more than one detail, a multinomial logistic regression over its details,
    fitted on every dev run of that cause (each detail weighing the same): DETAIL_BIAS,
    DETAIL_COEF and how many runs each cause's table saw."""
    bias: dict[str, float] = {}
    coef: dict[str, dict[str, float]] = {}
    seen: dict[str, int] = {}
    for cause, details in DETAILS_OF.items():
        # every run of the cause, those that did not diverge too: the table is conditional on what
        # was read (``diverged``, ``no_loss_series`` ...), and a verdict names a cause on runs that
        # did not diverge (a decisive message, a crash, findings that outweigh a finite curve).
        # Their detail is what those runs teach: a label the loss cannot take stops the job before
        # any NaN, where NaN or Inf inputs always make one.
        mine = [e for e in exs if COMBINED_CAUSES[e.y] == cause and e.detail in details]
        if len(details) < 2 or not mine:
            continue
        feats = [detail_features(e.timeline, e.evidence) for e in mine]
        ys = [details.index(e.detail) for e in mine]  # type: ignore[arg-type]
        keys, w, b = fit(feats, ys, details, detail_prior, detail_constraints(details), DETAIL_L2)
        seen[cause] = len(mine)
        for j, d in enumerate(details):
            bias[d] = float(b[j])
            for i, k in enumerate(keys):
                if abs(w[i, j]) >= 5e-4:
                    coef.setdefault(k, {})[d] = float(w[i, j])
    return bias, coef, seen


def fit_calibration(
    pairs: list[tuple[float, bool]], prior: tuple[float, float] | None = None, pseudo: float = 0.0
) -> tuple[float, float]:
    """Platt scaling of the stated confidence: right ~ sigmoid(a * logit(confidence) + b),
    pulled toward the identity (1, 0) so a kind with few verdicts keeps its probability. With a
    ``prior`` scaling, ``pseudo`` more verdicts are counted at the kind's own confidences, each
    right as often as the prior scaling says (hierarchical shrinkage toward it, weighed as that
    many verdicts, not as a penalty on the parameters whose strength depends on their scale)."""
    if not pairs:
        return prior or (1.0, 0.0)
    c = np.clip(np.array([p for p, _ in pairs]), 1e-3, 1 - 1e-3)
    z = np.log(c / (1 - c))
    y = np.array([float(ok) for _, ok in pairs])
    share = pseudo / len(y) if prior is not None else 0.0
    told = 1 / (1 + np.exp(-(prior[0] * z + prior[1]))) if prior is not None else y
    a, b = 1.0, 0.0
    for _ in range(STEPS):
        p = 1 / (1 + np.exp(-(a * z + b)))
        g = (p - y) + share * (p - told)
        # a slope below 0 would state less for a stronger combination: no calibration does
        # that, it is noise of a few verdicts; at 0 the kind states its observed rate
        a = max(0.0, a - RATE * (float(np.mean(g * z)) + L2 * (a - 1.0) / len(y)))
        b -= RATE * (float(np.mean(g)) + L2 * b / len(y))
    return a, b


def fit_calibrations(
    pairs: dict[str, list[tuple[float, bool]]],
) -> tuple[dict[str, tuple[float, float]], dict[str, str]]:
    """The Platt scaling of every kind of verdict (``CONFIDENCE_KINDS``), robust to how few
    verdicts a kind holds: the scaling of all verdicts pooled is fitted first; a kind with at
    least MIN_KIND_VERDICTS verdicts gets its own fit, pulled toward the pooled one with
    SHRINK_VERDICTS pseudo-verdicts (hierarchical shrinkage); a kind with fewer takes the
    pooled scaling whole. Returns the scalings and, per kind, where its scaling came from."""
    pooled = fit_calibration([pv for v in pairs.values() for pv in v])
    out: dict[str, tuple[float, float]] = {}
    source: dict[str, str] = {}
    for k in CONFIDENCE_KINDS:
        mine = pairs.get(k, [])
        if len(mine) >= MIN_KIND_VERDICTS:
            out[k], source[k] = fit_calibration(mine, pooled, SHRINK_VERDICTS), "own, shrunk toward pooled"
        else:
            out[k], source[k] = pooled, "pooled (too few of its own)"
    return out, source


def install(keys: list[str], w: np.ndarray, b: np.ndarray, calibration: dict[str, tuple[float, float]]) -> None:
    """Make ``forensics.combine`` use this table (it reads the module's attributes per call)."""
    import forensics.combination_table as table

    table.BIAS = {c: float(b[j]) for j, c in enumerate(COMBINED_CAUSES)}
    table.COEF = {k: {c: float(w[i, j]) for j, c in enumerate(COMBINED_CAUSES)} for i, k in enumerate(keys)}
    table.CALIBRATION = dict(calibration)


@dataclass
class Stated:
    """One verdict ``diagnose`` stated with a table that never saw its run's (cause, family)."""

    family: str
    kind: str  # its confidence kind (``combine.CONFIDENCE_KINDS``)
    probability: float  # the table's probability for the cause named, before calibration
    right: bool


class _Probabilities:
    """Stands in for ``diagnose``'s ``calibrated`` while the fit runs: it keeps the probability a
    verdict's confidence was calibrated from (the last call; a cap applied after it is not the
    calibration's input) and calibrates as the installed table does."""

    def __init__(self) -> None:
        self.last: tuple[float, str] | None = None

    def __call__(self, confidence: float, kind: str = "finding") -> float:
        from forensics.combine import calibrated

        self.last = (confidence, kind)
        return calibrated(confidence, kind)

    def diagnose(self, tl: Any, evidence: list[Any]) -> tuple[Any, float | None]:
        """``diagnose``'s verdict, and the probability its confidence kind was calibrated from."""
        import forensics.diagnose as dg

        self.last = None
        was, dg.calibrated = dg.calibrated, self
        try:
            dx = dg.diagnose(tl, evidence)
        finally:
            dg.calibrated = was
        if dx.confidence_kind is None or self.last is None or self.last[1] != dx.confidence_kind:
            return dx, None
        return dx, self.last[0]


def out_of_family_verdicts(exs: list[Example]) -> tuple[list[Stated], dict[tuple[int, str], Any]]:
    """Per dev run, (kind, probability before calibration, cause right) of the verdict ``diagnose``
    states with a table fitted without the run's family (FAMILY): in-sample or in-family
    confidences are optimistic, and the test split holds families dev never saw. Fixed
    confidences (decisive findings, inconclusive) are left out, as in diagnose. Also returns the
    table each (cause, family) group was stated by (for ``--cv``)."""
    identity = {k: (1.0, 0.0) for k in CONFIDENCE_KINDS}
    out: list[Stated] = []
    tables: dict[tuple[int, str], Any] = {}
    probe = _Probabilities()
    # as the test split holds out, for each cause, whole families: each (cause, family)
    # group of dev runs is stated by a table that never saw that cause in that family
    with tempfile.TemporaryDirectory() as tmp:
        for group in sorted({(e.y, e.family) for e in exs}):
            train = [e for e in exs if (e.y, e.family) != group]
            tables[group] = fit([e.features for e in train], [e.y for e in train])
            install(*tables[group], identity)
            mine = [e for e in exs if (e.y, e.family) == group]
            for e in mine:
                dx, p = probe.diagnose(e.timeline, e.evidence)
                if p is not None:
                    out.append(Stated(e.family, dx.confidence_kind, p, dx.verdict.cause == COMBINED_CAUSES[e.y]))
            out += setup_verdicts(mine, Path(tmp), probe)
    if exs and not out:
        # every calibrated verdict records its probability through diagnose's `calibrated`: none did
        raise SystemExit("no verdict's probability was recorded: forensics.diagnose no longer calls `calibrated`")
    return out, tables


def by_kind(stated: list[Stated]) -> dict[str, list[tuple[float, bool]]]:
    pairs: dict[str, list[tuple[float, bool]]] = {k: [] for k in CONFIDENCE_KINDS}
    for s in stated:
        pairs[s.kind].append((s.probability, s.right))
    return pairs


# A config, as a job that died before its first checkpoint leaves it: the run's text settings files
# (not the Trainer's trainer_state.json, which logs the loss).
CONFIG_SUFFIXES = (".json", ".yaml", ".yml")
CONFIG_NOT = ("trainer_state.json",)


def config_only(run: Path, into: Path) -> Path:
    """A copy of ``run`` holding only its config files (their paths kept), in ``into``."""
    out = into / run.name
    for f in sorted(run.rglob("*")):
        if f.is_file() and f.suffix in CONFIG_SUFFIXES and f.name not in CONFIG_NOT:
            dest = out / f.relative_to(run)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dest)
    return out


def setup_verdicts(exs: list[Example], into: Path, probe: _Probabilities) -> list[Stated]:
    """The ``setup`` verdicts the installed table gives on the dev runs of ``exs`` seen as a job
    that died before its first checkpoint would leave them: their config alone. No dev run kept
    only its config with a setting that speaks, so the runs that failed (a healthy run never
    leaves only a config: its checkpoints come) are viewed that way."""
    from forensics import analyze
    from forensics.rules import run_rules

    out = []
    for e in exs:
        if e.path is None or COMBINED_CAUSES[e.y] == "healthy":
            continue
        view = config_only(e.path, into)
        if not any(view.rglob("*")):
            continue
        tl = analyze(view).timeline
        dx, p = probe.diagnose(tl, run_rules(tl))
        if dx.confidence_kind == "setup" and p is not None:
            out.append(Stated(e.family, "setup", p, dx.verdict.cause == COMBINED_CAUSES[e.y]))
    return out


def write_table(
    path: Path,
    keys: list[str],
    w: np.ndarray,
    b: np.ndarray,
    n: int,
    calibration: dict[str, tuple[float, float]],
    counts: dict[str, int],
    details: tuple[dict[str, float], dict[str, dict[str, float]], dict[str, int]] = ({}, {}, {}),
    sources: dict[str, str] | None = None,
) -> None:
    lines = [
        '"""Coefficients of the evidence combination (``forensics/combine.py``).',
        "",
        f"Fitted by ``python scripts/fit_combination.py`` on the dev split of the scenario corpus ({n} runs);",
        "regenerate rather than edit. Features not listed keep their hand-set prior meaning.",
        '"""',
        "",
        "BIAS: dict[str, float] = {",
        *[f'    "{c}": {b[j]:.3f},' for j, c in enumerate(COMBINED_CAUSES)],
        "}",
        "# Platt scaling of the stated confidence per kind of verdict, fitted on out-of-family dev",
        "# verdicts: (slope, intercept); the comment says on how many verdicts, and whether the kind has",
        f"# its own scaling (shrunk toward all kinds pooled) or, under {MIN_KIND_VERDICTS} verdicts, the pooled one.",
        "CALIBRATION: dict[str, tuple[float, float]] = {",
        *[
            f'    "{k}": ({calibration[k][0]:.3f}, {calibration[k][1]:.3f}),  # {counts.get(k, 0)} verdicts'
            + (f", {sources[k]}" if sources and k in sources else "")
            for k in CONFIDENCE_KINDS
        ],
        "}",
        "COEF: dict[str, dict[str, float]] = {",
    ]
    for i, k in enumerate(keys):
        lines.append(f'    "{k}": {{')
        lines += [f'        "{c}": {w[i, j]:.3f},' for j, c in enumerate(COMBINED_CAUSES) if abs(w[i, j]) >= 5e-4]
        lines.append("    },")
    lines.append("}")
    dbias, dcoef, seen = details
    lines += [
        "# The detail of a verdict's cause (forensics/details.py): per cause, fitted on its dev runs:",
        "# " + ", ".join(f"{c} {n}" for c, n in seen.items()) + ".",
        "DETAIL_BIAS: dict[str, float] = {",
        *[f'    "{d}": {v:.3f},' for d, v in dbias.items()],
        "}",
        "DETAIL_COEF: dict[str, dict[str, float]] = {",
    ]
    for k in sorted(dcoef):
        lines.append(f'    "{k}": {{')
        lines += [f'        "{d}": {v:.3f},' for d, v in dcoef[k].items()]
        lines.append("    },")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def cross_validate(
    exs: list[Example], stated: list[Stated], tables: dict[tuple[int, str], Any], fitter: Any = fit_calibrations
) -> dict[str, Any]:
    """Leave-one-family-out check of the calibration on dev. For each dev family (FAMILY) in
    turn, the scalings are fitted (``fitter``) on the other families' out-of-family verdicts
    only, and ``diagnose`` states every run of the family left out with its group's
    out-of-family table and those scalings: the stated confidence against how often the cause
    was right, per bin (over committed verdicts, as ``scripts/accuracy.py`` bins them), and each
    family's own gap in each bin. A bin whose pooled gap stays within 0.1 and whose families
    agree is a calibration that does not rest on which families the fit saw."""
    from forensics.diagnose import diagnose
    from scripts.accuracy import BINS

    rows: list[tuple[str, float, bool]] = []
    for fam in sorted({e.family for e in exs}):
        scalings = fitter(by_kind([s for s in stated if s.family != fam]))[0]
        for e in exs:
            if e.family != fam:
                continue
            install(*tables[(e.y, e.family)], scalings)
            v = diagnose(e.timeline, e.evidence).verdict
            if v.cause != "inconclusive":
                rows.append((fam, v.confidence, v.cause == COMBINED_CAUSES[e.y]))
    bins = []
    for lo, hi in BINS:
        inside = [r for r in rows if lo <= r[1] < hi]
        fams = {}
        for fam in sorted({r[0] for r in inside}):
            mine = [r for r in inside if r[0] == fam]
            fams[fam] = (len(mine), float(np.mean([r[2] for r in mine]) - np.mean([r[1] for r in mine])))
        bins.append({
            "lo": lo, "hi": min(hi, 1.0), "runs": len(inside),
            "mean": float(np.mean([r[1] for r in inside])) if inside else None,
            "observed": float(np.mean([r[2] for r in inside])) if inside else None,
            "families": fams,
        })  # fmt: skip
    return {"family": FAMILY, "runs": len(rows), "bins": bins}


def per_kind_alone(pairs: dict[str, list[tuple[float, bool]]]) -> tuple[dict[str, tuple[float, float]], dict[str, str]]:
    """The scaling before MIN_KIND_VERDICTS: each kind fitted on its own verdicts, pulled toward the
    identity (shown beside the pooled one by ``--cv``)."""
    return {k: fit_calibration(v) for k, v in pairs.items()}, {}


def cv_table(cv: dict[str, Any]) -> str:
    """The check as a markdown table: each bin's pooled gap, and the range of the families' gaps
    over those families with at least CV_FAMILY_RUNS runs in the bin."""
    out = [
        f"| confidence | runs | mean stated | observed right | gap | gap by {cv['family']} left out (min … max) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for b in cv["bins"]:
        if not b["runs"]:
            out.append(f"| {b['lo']:.1f}–{b['hi']:.1f} | 0 | | | | |")
            continue
        gaps = [g for n, g in b["families"].values() if n >= CV_FAMILY_RUNS]
        spread = f"{min(gaps):+.2f} … {max(gaps):+.2f} (of {len(gaps)} {cv['family']}s)" if gaps else "—"
        out.append(
            f"| {b['lo']:.1f}–{b['hi']:.1f} | {b['runs']} | {b['mean']:.2f} | {b['observed']:.2f} | "
            f"{b['observed'] - b['mean']:+.2f} | {spread} |"
        )
    return "\n".join(out)


DETAIL_SECTION = "# The detail of a verdict's cause"


def replace_details(path: Path, details: tuple[dict[str, float], dict[str, dict[str, float]], dict[str, int]]) -> None:
    """Rewrite only the detail tables of an existing table module, its cause table and calibration kept."""
    text = path.read_text(encoding="utf-8")
    tmp = path.with_suffix(".details.tmp")
    identity = {k: (1.0, 0.0) for k in CONFIDENCE_KINDS}
    write_table(tmp, [], np.zeros((0, len(COMBINED_CAUSES))), np.zeros(len(COMBINED_CAUSES)), 0, identity, {}, details)
    fresh = tmp.read_text(encoding="utf-8")
    tmp.unlink()
    path.write_text(text[: text.index(DETAIL_SECTION)] + fresh[fresh.index(DETAIL_SECTION) :], encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, nargs="+", required=True)
    ap.add_argument("--out", type=Path, default=ROOT / "forensics" / "combination_table.py")
    ap.add_argument(
        "--details-only", action="store_true", help="refit only the detail tables, keeping the cause table in --out"
    )
    ap.add_argument(
        "--cv",
        type=Path,
        metavar="JSON",
        help="also check the calibration leave-one-family-out on dev; print it and write it to JSON "
        "(scripts/accuracy.py --calibration-cv JSON shows it)",
    )
    ap.add_argument("--check-only", action="store_true", help="with --cv: do not write the table")
    args = ap.parse_args()
    exs = examples(args.corpus)
    if args.details_only:
        details = fit_details(exs)
        replace_details(args.out, details)
        print(f"detail tables refitted on {len(exs)} dev runs -> {args.out}")
        return 0
    stated, tables = out_of_family_verdicts(exs)
    pairs = by_kind(stated)
    calibration, source = fit_calibrations(pairs)
    keys, w, b = fit([e.features for e in exs], [e.y for e in exs])
    if not args.check_only:
        details = fit_details(exs)
        counts = {k: len(v) for k, v in pairs.items()}
        write_table(args.out, keys, w, b, len(exs), calibration, counts, details, source)
        print(f"fitted on {len(exs)} dev runs, {len(keys)} features -> {args.out}")
    for k, v in pairs.items():
        if v:
            mean, right = np.mean([p for p, _ in v]), np.mean([ok for _, ok in v])
            a, b = calibration[k]
            print(
                f"  {k}: {len(v)} out-of-family verdicts, mean {mean:.2f}, right {right:.2f}, "
                f"Platt {a:.2f}, {b:.2f} ({source[k]})"
            )
    if args.cv:
        cv = cross_validate(exs, stated, tables)
        cv["before"] = cross_validate(exs, stated, tables, per_kind_alone)
        cv["min_kind_verdicts"], cv["shrink_verdicts"] = MIN_KIND_VERDICTS, SHRINK_VERDICTS
        cv["verdicts"] = {k: len(v) for k, v in pairs.items()}
        args.cv.write_text(json.dumps(cv, indent=1) + "\n", encoding="utf-8")
        print(f"\nleave-one-{FAMILY}-out on dev, scalings as fitted now:\n" + cv_table(cv))
        print("\neach kind scaled on its own verdicts alone (before):\n" + cv_table(cv["before"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
