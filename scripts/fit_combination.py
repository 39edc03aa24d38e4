"""Fit the evidence combination on the dev split of the scenario corpus.

    python scripts/fit_combination.py --corpus corpus/ [--out forensics/combination_table.py]

Each dev run is analysed; its features (``forensics.combine.features``: the rules'
evidence by name, and what was read) and its true cause form one example. A multinomial
logistic regression is fitted by gradient descent, each cause weighing the same, with an
L2 pull toward the hand-set prior (each rule counts for its own cause, ``PRIOR_COEF``), so
a feature seen in few dev runs moves little from its documented meaning. The stated
confidence is then Platt-scaled on out-of-fold dev verdicts (each stated by a table
fitted without it). The table is written as a Python module
of plain dicts; only the test split (``scripts/accuracy.py``) says how well it does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forensics.combine import COMBINED_CAUSES, features, prior_coefficient  # noqa: E402

# Strength of the pull toward the prior, per coefficient (a Gaussian prior's 1/variance).
L2 = 0.5
STEPS = 4000
# Folds of the out-of-fold confidences the calibration is fitted on.
FOLDS = 5
RATE = 0.05


def examples(corpora: list[Path]) -> tuple[list[dict[str, float]], list[int], list[str]]:
    from forensics import analyze
    from forensics.rules import run_rules

    feats, ys, names = [], [], []
    for corpus in corpora:
        for line in (corpus / "manifest.jsonl").read_text().splitlines():
            r = json.loads(line)
            sc = r["scenario"]
            if r["status"] != "ok" or sc["split"] != "dev" or sc["cause"] not in COMBINED_CAUSES:
                continue
            if not (corpus / sc["name"]).is_dir():
                continue
            rep = analyze(corpus / sc["name"])
            feats.append(features(rep.timeline, run_rules(rep.timeline)))
            ys.append(COMBINED_CAUSES.index(sc["cause"]))
            names.append(sc["name"])
    return feats, ys, names


def fit(feats: list[dict[str, float]], ys: list[int]) -> tuple[list[str], np.ndarray, np.ndarray]:
    keys = sorted({k for f in feats for k in f})
    x = np.array([[f.get(k, 0.0) for k in keys] for f in feats])
    y = np.zeros((len(ys), len(COMBINED_CAUSES)))
    y[np.arange(len(ys)), ys] = 1.0
    w0 = np.array([[prior_coefficient(k, c) for c in COMBINED_CAUSES] for k in keys])
    w, b = w0.copy(), np.zeros(len(COMBINED_CAUSES))
    n = len(ys)
    # Each cause weighs the same in the fit, whatever its share of the dev runs: the corpus's
    # mix of causes is the generator's choice (and its drop rate), not a prior about real runs.
    counts = y.sum(0)
    balance = (y @ np.where(counts > 0, n / (len(COMBINED_CAUSES) * np.maximum(counts, 1)), 0.0))[:, None]
    for _ in range(STEPS):
        z = x @ w + b
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        g = balance * (p - y) / n
        w -= RATE * (x.T @ g + L2 * (w - w0) / n)
        b -= RATE * g.sum(0)
    return keys, w, b


def fit_calibration(pairs: list[tuple[float, bool]]) -> tuple[float, float]:
    """Platt scaling of the stated confidence: right ~ sigmoid(a * logit(confidence) + b)."""
    c = np.clip(np.array([p for p, _ in pairs]), 1e-3, 1 - 1e-3)
    z = np.log(c / (1 - c))
    y = np.array([float(ok) for _, ok in pairs])
    a, b = 1.0, 0.0
    for _ in range(STEPS):
        p = 1 / (1 + np.exp(-(a * z + b)))
        g = p - y
        a -= RATE * (float(np.mean(g * z)) + L2 * (a - 1.0) / len(y))
        b -= RATE * (float(np.mean(g)) + L2 * b / len(y))
    return a, b


def out_of_fold_pairs(feats: list[dict[str, float]], ys: list[int]) -> list[tuple[float, bool]]:
    """(confidence, cause right) of each dev run as diagnose would state it with a table fitted
    without that run (FOLDS-fold): in-sample confidences are optimistic, and Platt scaling
    fitted on them would carry the optimism to new runs. Decisive findings (stated at a fixed
    confidence) and runs with no finding (inconclusive) are left out, as in diagnose."""
    n = len(ys)
    folds = np.arange(n) % FOLDS
    healthy = COMBINED_CAUSES.index("healthy")
    pairs = []
    for k in range(FOLDS):
        train = [i for i in range(n) if folds[i] != k]
        keys, w, b = fit([feats[i] for i in train], [ys[i] for i in train])
        for i in (i for i in range(n) if folds[i] == k):
            f = feats[i]
            if any(f.get(d, 0.0) >= 0.85 for d in ("LOG001:data_or_labels", "DATA003:data_or_labels")):
                continue
            z = np.array([f.get(key, 0.0) for key in keys]) @ w + b
            p = np.exp(z - z.max())
            p /= p.sum()
            if f.get("diverged"):
                if not any(
                    v > 0 and key.split(":")[-1] != "against" and ":healthy" not in key
                    for key, v in f.items()
                    if ":" in key
                ):
                    continue
                p[healthy] = 0.0
                p /= p.sum()
                top = int(np.argmax(p))
                pairs.append((float(p[top]), top == ys[i]))
            else:
                pairs.append((float(p[healthy]), ys[i] == healthy))
    return pairs


def write_table(
    path: Path, keys: list[str], w: np.ndarray, b: np.ndarray, n: int, calibration: tuple[float, float] = (1.0, 0.0)
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
        "# Platt scaling of the stated confidence, fitted on out-of-fold dev verdicts: (slope, intercept).",
        f"CALIBRATION: tuple[float, float] = ({calibration[0]:.3f}, {calibration[1]:.3f})",
        "COEF: dict[str, dict[str, float]] = {",
    ]
    for i, k in enumerate(keys):
        lines.append(f'    "{k}": {{')
        lines += [f'        "{c}": {w[i, j]:.3f},' for j, c in enumerate(COMBINED_CAUSES) if abs(w[i, j]) >= 5e-4]
        lines.append("    },")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, nargs="+", required=True)
    ap.add_argument("--out", type=Path, default=ROOT / "forensics" / "combination_table.py")
    args = ap.parse_args()
    feats, ys, _ = examples(args.corpus)
    keys, w, b = fit(feats, ys)
    calibration = fit_calibration(out_of_fold_pairs(feats, ys))
    write_table(args.out, keys, w, b, len(ys), calibration)
    print(f"fitted on {len(ys)} dev runs, {len(keys)} features -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
