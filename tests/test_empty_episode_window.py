"""An episode statistic NaN because its window held no finished episode (OK005), in the writers' own formats: RLlib's
result as Ray's pretty_print dumps it (PyYAML's safe_dump: NaN is '.nan'), Tune's result.json, and ML-Agents 0.1's
'Mean Reward: {}' under NumPy's own warnings of a mean over no element. The look-alikes are real divergences seen in
an RL log: the learner's losses NaN, rewards NaN in episodes that ended, an Inf, another NumPy warning."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import yaml

import forensics
from forensics.diagnose import NO_CURVE_FINDING_CONFIDENCE
from forensics.readers.logmetrics import parse_number, tokens
from forensics.readers.logs import parse_log_text


def _pretty_print(result: dict) -> str:
    """ray.tune.logger.pretty_print (RLlib 0.8): the result through JSON, dumped by PyYAML's safe_dump."""
    return yaml.safe_dump(json.loads(json.dumps(result)), default_flow_style=False)


def _result(episodes: int, reward: float, **learner: float) -> dict:
    out: dict = {"episode_reward_mean": reward, "episode_len_mean": 200.0 if episodes else math.nan}
    out |= {"episodes_this_iter": episodes, "episodes_total": episodes, "training_iteration": 1}
    if learner:
        out["info"] = {"learner": {"default_policy": learner}}
    return out


def _numpy_mean_of_nothing() -> list[str]:
    """NumPy's warnings of np.mean([]), as Python prints them (under a neutral install path)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        np.mean([])
    path = "/env/lib/python3/site-packages/numpy/"
    return [
        warnings.formatwarning(w.message, w.category, path + w.filename.replace("\\", "/").split("/numpy/")[-1], 9)
        for w in caught
    ]


def _verdict(tmp_path, text: str, name: str = "train.log"):
    (tmp_path / name).write_text(text)
    return forensics.analyze(tmp_path)


def test_yaml_nonfinite_spellings_read_as_values_and_not_inside_words():
    assert [t for _, t in tokens("episode_reward_mean: .nan")][-1] == ".nan"
    assert math.isnan(parse_number(".nan")) and parse_number("-.inf") == -math.inf and parse_number(".Inf") == math.inf
    assert [k for k, _ in tokens("saved to out.inf a.nan")] == [1, 1, 1, 1]  # words, no values


def test_rllib_result_with_no_finished_episode_is_healthy_at_a_modest_confidence(tmp_path):
    rep = _verdict(tmp_path, _pretty_print(_result(0, math.nan)))
    assert not rep.diverged and rep.verdict.cause == "healthy"
    assert rep.verdict.confidence == NO_CURVE_FINDING_CONFIDENCE
    assert "episodes_this_iter 0" in rep.verdict.summary and "loss was not seen" in rep.verdict.summary


def test_mlagents_mean_reward_after_numpy_empty_mean_is_healthy(tmp_path):
    lines = [f"Mean Reward: {np.mean(r)}" for r in ([-83.0, -81.5], [-48.5])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lines += [*_numpy_mean_of_nothing(), f"Mean Reward: {np.mean([])}", f"Mean Reward: {np.mean([])}"]
    rep = _verdict(tmp_path, "\n".join(x.rstrip("\n") for x in lines) + "\n")
    assert rep.verdict.cause == "healthy" and "2 finite point(s) before" in rep.verdict.summary


def test_the_counts_and_the_nan_statistics_are_one_record():
    series, _, _, _ = parse_log_text(_pretty_print(_result(0, math.nan)))
    assert math.isnan(series["episode_reward_mean"].values[0]) and series["episodes_this_iter"].values[0] == 0
    assert series["episode_reward_mean"].steps.tolist() == series["episodes_total"].steps.tolist()


def test_nan_rewards_from_episodes_that_ended_are_not_an_empty_window(tmp_path):
    rep = _verdict(tmp_path, _pretty_print(_result(4, math.nan)))
    assert rep.verdict.cause != "healthy"
    assert not any(e.rule == "OK005" for c in rep.candidates for e in c.evidence)


def test_a_learner_loss_gone_nan_beside_an_empty_window_is_still_a_divergence(tmp_path):
    text = _pretty_print(_result(0, math.nan, total_loss=3.1, entropy=1.0)) + "\n"
    text += _pretty_print(_result(0, math.nan, total_loss=math.nan, entropy=math.nan))
    rep = _verdict(tmp_path, text)
    assert rep.diverged and rep.verdict.cause != "healthy"


def test_entropy_or_kl_nan_without_a_loss_keeps_the_rule_silent(tmp_path):
    rep = _verdict(tmp_path, _pretty_print(_result(0, math.nan, kl=math.nan, entropy=math.nan)))
    assert rep.verdict.cause != "healthy"


def test_an_infinite_reward_is_no_empty_mean(tmp_path):
    rep = _verdict(tmp_path, _pretty_print(_result(0, -math.inf)))
    assert rep.verdict.cause != "healthy"


def test_tune_result_json_with_no_finished_episode_and_no_loss(tmp_path):
    tune = {"trial_id": "74df5_00000", "time_this_iter_s": 1.0}  # the bookkeeping Tune adds to every result
    rows = [_result(0, math.nan) | tune | {"training_iteration": i, "time_total_s": float(i)} for i in (1, 2)]
    rows.append(_result(3, 21.0) | tune | {"training_iteration": 3, "time_total_s": 3.0})
    rep = _verdict(tmp_path, "".join(json.dumps(r) + "\n" for r in rows), "result.json")
    assert not rep.diverged and rep.verdict.cause == "healthy"
    assert "1 finite point(s) after" in rep.verdict.summary
