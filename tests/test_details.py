"""The detail of a verdict: named by the evidence when a finding names one, otherwise the
likeliest for the cause from the fitted table, and then said to be a prior."""

from __future__ import annotations

from pathlib import Path

import pytest

from forensics import analyze
from forensics.combination_table import DETAIL_BIAS, DETAIL_COEF
from forensics.details import DETAILS_OF, choose_detail
from forensics.rules import DETAILS, REGISTRY, run_rules
from forensics.rules.base import Evidence

ROOT = Path(__file__).resolve().parents[1]
SLICE = sorted(p for p in (ROOT / "tests" / "fixtures" / "corpus_slice").iterdir() if p.is_dir())


def test_every_contract_detail_belongs_to_exactly_one_cause():
    grouped = [d for ds in DETAILS_OF.values() for d in ds]
    assert sorted(grouped) == sorted(DETAILS)
    for rule in REGISTRY.values():
        assert set(rule.details) <= set(DETAILS_OF[rule.cause]), f"{rule.id} names a detail of another cause"


def test_fitted_table_keeps_each_finding_for_the_detail_it_names():
    assert set(DETAIL_BIAS) <= set(DETAILS)
    for feature, coefs in DETAIL_COEF.items():
        parts = feature.split(":")
        if len(parts) != 2 or parts[1] not in DETAILS:
            continue  # a cause-level feature: free to lean either way
        named = parts[1]
        siblings = next(ds for ds in DETAILS_OF.values() if named in ds)
        assert coefs.get(named, 0.0) >= 0.0, feature
        for d in siblings:
            if d != named:
                assert coefs.get(d, 0.0) <= 0.0, f"{feature} counts for {d}"


def _ev(rule: str, cause: str, detail: str | None, weight: float) -> Evidence:
    return Evidence(rule, cause, detail, "test finding", weight=weight)


def test_a_finding_that_names_a_detail_decides_it():
    ev = [_ev("NUM002", "numerical_instability", "fp16_overflow", 0.8), _ev("DATA001", "data_or_labels", None, 0.6)]
    choice = choose_detail("numerical_instability", None, ev)
    assert (choice.detail, choice.basis) == ("fp16_overflow", "evidence")
    assert choice.contributions[0][0] == "NUM002:fp16_overflow"


@pytest.mark.parametrize("cause", ["learning_rate", "data_or_labels", "numerical_instability"])
def test_without_a_finding_naming_one_the_detail_is_a_prior_of_the_cause(cause):
    ev = [_ev("DATA001", "data_or_labels", None, 0.6)]
    choice = choose_detail(cause, None, ev)
    assert choice.detail in DETAILS_OF[cause]
    assert choice.basis == "prior"
    assert sum(choice.probabilities.values()) == pytest.approx(1.0)


def test_a_cause_without_details_gets_none():
    assert choose_detail("healthy", None, []).detail is None
    sole = choose_detail("exploding_weights", None, [_ev("DATA001", "data_or_labels", None, 0.6)])
    assert (sole.detail, sole.basis) == ("exploding_gradients", "prior")


def test_corpus_slice_verdicts_say_how_their_detail_was_chosen():
    bases = set()
    for run in SLICE:
        rep = analyze(run)
        v = rep.verdict
        if v.cause not in DETAILS_OF or not DETAILS_OF[v.cause]:
            assert v.detail is None and v.detail_basis is None, run.name
            continue
        assert v.detail in DETAILS_OF[v.cause], run.name  # a verdict that names a cause names a detail
        bases.add(v.detail_basis)
        named = {e.detail for e in run_rules(rep.timeline) if e.weight >= 0}
        if v.detail_basis == "evidence":
            assert v.detail in named, run.name
        else:
            assert v.detail_basis == "prior" and v.detail not in named, run.name
            assert "a prior, not seen in this run" in v.summary, run.name
    assert bases == {"evidence", "prior"}  # the slice shows both kinds


def test_headline_says_a_prior_detail_is_likely_only():
    from forensics.report.markdown import CAUSES_TXT

    assert CAUSES_TXT("numerical_instability", "division_by_zero") == "numerical instability (division by zero)"
    assert CAUSES_TXT("numerical_instability", "division_by_zero", prior=True) == (
        "numerical instability (likely division by zero)"
    )
    assert CAUSES_TXT("healthy", None, prior=True) == "healthy"


def _evidence(name: str) -> list[Evidence]:
    from forensics.load import load_run
    from forensics.timeline import build_timeline

    run = load_run(ROOT / "tests" / "fixtures" / "corpus_slice" / name)
    try:
        return run_rules(build_timeline(run))
    finally:
        run.close()


@pytest.mark.parametrize(
    "name, fires",
    [
        ("s0_0030_torch_mlp_division_by_zero", True),  # a batch std of 0 at step 152, the loss near its start
        ("s3_0277_torch_lstm_nan_in_inputs", True),  # the level says nothing of a NaN batch (the data rules do)
        ("s0_0146_torch_gru_log_of_zero", False),  # a saturating softmax: log(0)
        ("s0_0159_lightning_mlp_division_by_zero", False),  # the loss had fallen to a sixth: no word either way
        ("s0_0079_torch_rnn_exploding_gradients", False),  # NaN from the first point: no level to judge
        ("s2_0107_torch_mlp_fp16_overflow", False),  # Inf first, not NaN
    ],
)
def test_num008_names_a_division_for_a_nan_at_an_unsaturated_loss(name, fires):
    found = [e for e in _evidence(name) if e.rule == "NUM008"]
    assert bool(found) == fires
    for e in found:
        assert (e.cause, e.detail, e.weight) == ("numerical_instability", "division_by_zero", 0.0)


def test_a_loss_on_the_float16_grid_says_the_model_trained_in_float16():
    """s2_0107 kept only its events (a model cast to half, its loss 4.5703125 at step 1, Inf at 2): no
    checkpoint or config states the dtype, the loss value does; every float32 run of the slice stays off it."""
    from forensics.load import load_run
    from forensics.timeline import build_timeline, loss_on_float16_grid

    for p in SLICE:
        run = load_run(p)
        tl = build_timeline(run)
        run.close()
        fp16 = "fp16_overflow" in p.name
        if not fp16:
            assert not loss_on_float16_grid(tl.loss), p.name
        if p.name == "s2_0107_torch_mlp_fp16_overflow":
            assert loss_on_float16_grid(tl.loss) and tl.weight_dtype == "float16"
    ev = _evidence("s2_0107_torch_mlp_fp16_overflow")
    assert any(e.detail == "fp16_overflow" and e.weight > 0 for e in ev)
    assert analyze(ROOT / "tests" / "fixtures" / "corpus_slice" / "s2_0107_torch_mlp_fp16_overflow").verdict.detail == (
        "fp16_overflow"
    )


@pytest.mark.parametrize(
    "value, chance",
    [
        (4.5703125, 2.0**-13),  # float32-exact, 11 significant bits: float16 holds it, bfloat16 does not
        (0.5, 1.0),  # a round value: any dtype holds it
        (0.6930999755859375, None),  # float32's ln 2 to 4 digits: off the float16 grid
        (1.6047, None),  # printed to 4 digits: float16's neighbours are 1.6045 and 1.6055
        (1.6045, 0.1),  # printed to 4 digits, on the grid to that resolution: a 1-in-10 chance
        (0.0312, 1.0),  # printed digits finer than the grid's spacing there would need: says nothing
    ],
)
def test_float16_grid_chance_of_one_value(value, chance):
    from forensics.timeline import _float16_chance

    got = _float16_chance(value)
    assert got == pytest.approx(chance, rel=0.05) if chance is not None else got is None


def test_the_whole_array_float16_check_agrees_with_each_values_chance():
    """``_off_float16_grid`` (one pass over a long loss) says True exactly when some value's
    ``_float16_chance`` is None, on float32-exact values as event files hold them: float16
    ones, float32 ones, both mixed, and the edges (zero, float16's subnormals and overflow).
    A printed decimal (not float32-exact) is left to the per-value test: never True for it."""
    import numpy as np

    from forensics.timeline import _float16_chance, _off_float16_grid

    rng = np.random.default_rng(0)
    half = rng.standard_normal(500).astype(np.float16).astype(np.float64)
    single = rng.standard_normal(500).astype(np.float32).astype(np.float64)
    edges = np.array([0.0, -0.0, 65504.0, 70000.0, 2.0**-15, 2.0**-14, 4.5703125, -3.0])
    for values in (half, single, np.r_[half, single[:1]], np.r_[half, edges], edges, edges[:2], np.empty(0)):
        want = any(_float16_chance(v) is None for v in values.tolist())
        assert _off_float16_grid(values) == want
    assert _float16_chance(1.6047) is None and not _off_float16_grid(np.array([1.6047]))


def test_num009_names_a_division_for_a_feature_constant_over_a_batch():
    """s0_0317 (HF Trainer, a batch standardisation without epsilon): its data sample holds a feature
    stuck at 0 over 38 rows, more than its batch of 16; no other run of the slice fires (Inf rows in a
    column are the data's fault, not a constant)."""
    fired = {p.name for p in SLICE if any(e.rule == "NUM009" for e in _evidence(p.name))}
    assert fired == {"s0_0317_hf_mlp_division_by_zero"}
    (e,) = [e for e in _evidence("s0_0317_hf_mlp_division_by_zero") if e.rule == "NUM009"]
    assert (e.detail, e.weight) == ("division_by_zero", 0.0) and "38 consecutive rows" in e.message


def test_constant_run_statistic_streams_across_chunks():
    import numpy as np

    from forensics.readers.data import _Acc

    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3, 4)).astype(np.float32)
    x[30:75, 1, 2] = 0.0  # 45 rows
    x[80:90, 0, 0] = np.inf  # a run of Inf is not a constant
    acc = _Acc()
    for start in range(0, 100, 16):  # chunk boundaries inside the run
        acc.add(start, x[start : start + 16])
    assert (acc.constant_run, acc.constant_run_row) == (45, 30)
    one = _Acc()
    one.add(0, x)
    assert (one.constant_run, one.constant_run_row) == (45, 30)


def _slice_evidence(name: str):
    from forensics.load import load_run
    from forensics.timeline import build_timeline

    run = load_run(ROOT / "tests" / "fixtures" / "corpus_slice" / name)
    try:
        tl = build_timeline(run)
        return tl, run_rules(tl)
    finally:
        run.close()


def test_a_prior_verdict_takes_its_detail_from_a_context_finding():
    """s0_0317 (HF Trainer, a batch standardisation without epsilon): no rule speaks for a cause, so
    the cause is the table's prior, but NUM009 (context, weight 0) names the division its data sample
    shows; the detail table was fitted with every finding, and the verdict's detail is chosen so too."""
    v = analyze(ROOT / "tests" / "fixtures" / "corpus_slice" / "s0_0317_hf_mlp_division_by_zero").verdict
    assert (v.cause, v.detail, v.detail_basis) == ("numerical_instability", "division_by_zero", "evidence")
    assert "No source says anything about the cause" in v.summary
    assert "NUM009 names the detail" in v.summary and "a prior, not seen in this run" not in v.summary


@pytest.mark.parametrize(
    "name, detail",
    [
        # the config states sgdm at 0.0186, usual for it: an LR fault would be a schedule's raise
        ("s1_0394_torch_mlp_lr_schedule_spike", "lr_schedule_spike"),
        # the config states sgd at 26.8, 536x the usual: no such context, the LR too high stays likeliest
        ("s1_0002_torch_gru_lr_too_high", "lr_too_high"),
    ],
)
def test_a_usual_stated_lr_leaves_the_schedule_as_the_lr_detail(name, detail):
    tl, ev = _slice_evidence(name)
    context = [e for e in ev if e.rule == "LR006" and e.detail == "lr_schedule_spike"]
    assert bool(context) == (detail == "lr_schedule_spike")
    for e in context:
        assert e.weight == 0.0 and any(o.rule == "LR006" and o.weight < 0 for o in ev)
    assert choose_detail("learning_rate", tl, ev).detail == detail


@pytest.mark.parametrize(
    "name, fires",
    [
        ("s2_0054_hf_mlp_lr_schedule_spike", True),  # 1.4 fell to 0.44 over 39 points, then the LR jump
        ("s0_0030_torch_mlp_division_by_zero", True),  # any cause: context for the LR's detail only
        ("s1_0002_torch_gru_lr_too_high", False),  # an LR 20x the usual from the start
        ("s0_0079_torch_rnn_exploding_gradients", False),  # NaN from the first point
    ],
)
def test_lr011_names_a_schedule_for_a_run_that_trained_before_it_broke(name, fires):
    tl, ev = _slice_evidence(name)
    found = [e for e in ev if e.rule == "LR012"]
    assert bool(found) == fires
    for e in found:
        assert (e.cause, e.detail, e.weight) == ("learning_rate", "lr_schedule_spike", 0.0)
    if fires:
        assert choose_detail("learning_rate", tl, ev).detail == "lr_schedule_spike"


def test_a_prior_detail_names_its_sibling_when_nothing_read_tells_them_apart():
    from forensics.details import DetailChoice
    from forensics.diagnose import DETAIL_TOSS_UP_SHARE, _prior_detail_sentence

    close = {"log_of_zero": 0.45, "division_by_zero": 0.45 * DETAIL_TOSS_UP_SHARE + 0.01, "fp16_overflow": 0.05}
    text = _prior_detail_sentence(DetailChoice("log_of_zero", "prior", close, []), "numerical_instability")
    assert "a prior, not seen in this run" in text
    assert "Division by zero is nearly as likely: nothing read tells them apart (what would: one step" in text
    assert text.endswith("which names the operation).")
    far = {"log_of_zero": 0.8, "division_by_zero": 0.8 * DETAIL_TOSS_UP_SHARE - 0.01, "fp16_overflow": 0.01}
    text = _prior_detail_sentence(DetailChoice("log_of_zero", "prior", far, []), "numerical_instability")
    assert "nearly as likely" not in text


def test_every_pair_of_sibling_details_has_a_reading_that_tells_them_apart():
    """A prior detail's toss-up names what would decide it: for every pair of one cause's details,
    a reading of its own (the two data details that are no pair of TELLS_APART: the data fed)."""
    import itertools

    from forensics.details import DETAILS_OF, TELLS_APART, tells_apart

    for details in DETAILS_OF.values():
        for a, b in itertools.combinations(details, 2):
            assert tells_apart(a, b) == tells_apart(b, a)
            assert "a source that names" not in tells_apart(a, b), (a, b)
    assert tells_apart("nan_in_inputs", "unnormalized_inputs").startswith("a data sample holding the batch")
    assert all(len(pair) == 2 and pair <= {d for ds in DETAILS_OF.values() for d in ds} for pair in TELLS_APART)


def test_num010_names_a_division_for_a_regression_that_went_non_finite():
    """torch_division_by_zero (a sample run: a batch standardisation without epsilon, MSE on real
    targets, float32 weights) fires; a classifier's run or a float16 one does not."""
    tl, ev = _slice_evidence("s0_0189_hf_mlp_fp16_overflow")
    assert not [e for e in ev if e.rule == "NUM010"]
    from forensics.load import load_run
    from forensics.timeline import build_timeline

    run = load_run(ROOT / "sample_runs" / "torch_division_by_zero")
    try:
        tl = build_timeline(run)
    finally:
        run.close()
    (e,) = [e for e in run_rules(tl) if e.rule == "NUM010"]
    assert (e.cause, e.detail, e.weight) == ("numerical_instability", "division_by_zero", 0.0)
    assert "takes no log" in e.message
