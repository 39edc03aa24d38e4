"""Choose the detail of a verdict's cause, with a table fitted on the dev corpus.

Each contract cause has its details (``DETAILS_OF``). The detail of a verdict is the
one of its cause with the highest score: its bias plus the sum of coefficient x
feature, where the features are the combination's (``combine.features``: each rule's
finding by cause, and what was read) plus one per finding that names a detail,
``RULE:detail`` (value 1: the rule named it). A finding counts for the detail it
names (``PRIOR_COEF`` in the prior the fit starts from and is pulled toward) and
never for another of the same cause; the other features may lean either way, as
the dev runs show (a NaN from the first step goes with some details more than
others).

So a verdict names the detail its evidence names when some finding does, and
otherwise the detail the dev runs of that cause most often had, given what was
found: a prior, said so in the report (``DetailChoice.basis``). The coefficients
(``DETAIL_BIAS``, ``DETAIL_COEF`` in ``forensics/combination_table.py``) are fitted by
``python scripts/fit_combination.py`` with the cause table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from forensics.combine import features, softmax_of_table
from forensics.rules.base import Evidence
from forensics.timeline import Timeline

# The details of each cause, as the report contract groups them.
DETAILS_OF: dict[str, tuple[str, ...]] = {
    "learning_rate": ("lr_too_high", "lr_schedule_spike"),
    "exploding_weights": ("exploding_gradients",),
    "data_or_labels": (
        "nan_in_inputs",
        "inf_in_inputs",
        "labels_out_of_range",
        "negative_labels",
        "unnormalized_inputs",
    ),
    "numerical_instability": ("log_of_zero", "division_by_zero", "fp16_overflow"),
    "healthy": (),
    "inconclusive": (),
}
# What would tell two sibling details apart where nothing read does: the reading or the check that
# decides between them (said beside a prior detail whose sibling is nearly as likely).
_DATA_SAMPLE = "a data sample holding the batch fed at that step (--data)"
TELLS_APART: dict[frozenset[str], str] = {
    frozenset(("lr_too_high", "lr_schedule_spike")): "the LR series or a config's schedule around the divergence",
    frozenset(("nan_in_inputs", "inf_in_inputs")): (
        f"np.isnan and np.isinf over the batch fed at that step, or {_DATA_SAMPLE}"
    ),
    frozenset(("labels_out_of_range", "negative_labels")): (
        f"the labels' minimum and maximum against the class count, in {_DATA_SAMPLE} or the framework's message"
    ),
    frozenset(("log_of_zero", "division_by_zero")): (
        "one step under anomaly detection (torch.autograd.set_detect_anomaly(True), "
        "tf.debugging.enable_check_numerics), which names the operation"
    ),
    frozenset(("log_of_zero", "fp16_overflow")): (
        "the precision the run computed in (a checkpoint's dtype, a config's fp16/AMP setting), or anomaly "
        "detection naming the operation"
    ),
    frozenset(("division_by_zero", "fp16_overflow")): (
        "the precision the run computed in (a checkpoint's dtype, a config's fp16/AMP setting), or anomaly "
        "detection naming the operation"
    ),
}


def tells_apart(a: str, b: str) -> str:
    """The reading that would decide between sibling details ``a`` and ``b``: the pair's own, else
    for two data details the data fed at that step."""
    pair = frozenset((a, b))
    if pair in TELLS_APART:
        return TELLS_APART[pair]
    if pair <= set(DETAILS_OF["data_or_labels"]):
        return _DATA_SAMPLE
    return "a source that names the operation or shows the data"


# A finding naming a detail counts this much for it in the prior the fit starts from:
# one finding alone then gives ~7:1 odds for its detail over a sibling.
PRIOR_COEF = 2.0


def detail_features(tl: Timeline | None, evidence: Iterable[Evidence]) -> dict[str, float]:
    """The combination's features plus ``RULE:detail`` for every finding (or context) naming a detail."""
    evidence = list(evidence)
    f = features(tl, evidence)
    for e in evidence:
        if e.detail is not None and e.weight >= 0:
            f[f"{e.rule}:{e.detail}"] = 1.0
    return f


def prior_coefficient(feature: str, detail: str) -> float:
    """The hand-set meaning of a feature for a detail: a finding counts for the detail it names."""
    parts = feature.split(":")
    return PRIOR_COEF if len(parts) == 2 and parts[1] == detail else 0.0


def _named_detail(feature: str) -> str | None:
    parts = feature.split(":")
    return parts[1] if len(parts) == 2 and parts[1] in _ALL_DETAILS else None


_ALL_DETAILS = frozenset(d for ds in DETAILS_OF.values() for d in ds)


@dataclass(frozen=True)
class DetailChoice:
    detail: str | None
    # "evidence": a finding names it; "prior": none does, it is the likeliest for the cause given
    # what was found (the fitted table); None when the cause has no details
    basis: str | None
    probabilities: dict[str, float]
    contributions: list[tuple[str, float]]  # (feature, coef x value) for the chosen detail, largest first


def choose_detail(cause: str, tl: Timeline | None, evidence: Iterable[Evidence]) -> DetailChoice:
    from forensics.combination_table import DETAIL_BIAS, DETAIL_COEF

    details = DETAILS_OF.get(cause, ())
    if not details:
        return DetailChoice(None, None, {}, [])
    f = detail_features(tl, evidence)
    named = {_named_detail(k) for k in f} & set(details)
    probs, parts = softmax_of_table(details, f, DETAIL_BIAS, DETAIL_COEF, prior_coefficient)
    best = max(details, key=lambda d: (probs[d], -details.index(d)))
    return DetailChoice(best, "evidence" if best in named else "prior", probs, parts[best])
