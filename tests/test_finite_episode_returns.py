"""A reinforcement-learning log that prints episode rewards and no loss, all finite (OK005's second reading): no sign
of divergence up to its last summary, at the modest confidence of a reading that does not see the learner. Lines are
built from each writer's own format: ML-Agents' trainer summary (0.6's LOGGER.info and the later one with the time
elapsed), RLlib's result as Ray's pretty_print dumps it, Tune's result.json, Stable-Baselines 3's logger box.
Look-alikes: too few summaries, a reward NaN in episodes that finished, another series non-finite, a loss beside the
rewards (the loss decides), an episode length alone, a preference trainer's reward model output."""

from __future__ import annotations

import json
import math

import yaml
from test_log_tables_round14 import _sb3_box

import forensics
from forensics.diagnose import NO_CURVE_FINDING_CONFIDENCE
from forensics.readers.logs import parse_log_text
from forensics.timeline import MIN_RETURN_POINTS


def _mlagents(rows, elapsed: bool = False) -> str:
    """ML-Agents' trainer summary under logging's default format: 0.6's line, or the later one with the time elapsed;
    a row of None is its line for a summary window that finished no episode."""
    out = []
    for step, mean, std in rows:
        if mean is None:
            msg = f" ppo-0: Walker: Step: {step}. No episode was completed since last summary. Training."
        elif elapsed:
            msg = (
                " {}: {}: Step: {}. Time Elapsed: {:0.3f} s Mean Reward: {:0.3f}. Std of Reward: {:0.3f}. {}"
            ).format("ppo-0", "Walker", step, 12.5 * step / 1000, mean, std, "Training.")
        else:
            msg = " {}: {}: Step: {}. Mean Reward: {:0.3f}. Std of Reward: {:0.3f}. {}".format(
                "ppo-0", "Walker", step, mean, std, "Training."
            )
        out.append(f"INFO:mlagents.trainers:{msg}")
    return "\n".join(out) + "\n"


def _pretty_print(result: dict) -> str:
    """ray.tune.logger.pretty_print: the result through JSON, dumped by PyYAML's safe_dump."""
    return yaml.safe_dump(json.loads(json.dumps(result)), default_flow_style=False)


def _verdict(tmp_path, text: str, name: str = "train.log"):
    (tmp_path / name).write_text(text)
    return forensics.analyze(tmp_path)


def _ok005(rep) -> list:
    return [e for c in rep.candidates for e in c.evidence if e.rule == "OK005"]


RISING = [(1000, -91.0, 12.5), (2000, -74.25, 9.0), (3000, None, None), (4000, -51.5, 6.25), (5000, -33.0, 4.0)]


def test_the_spread_of_the_reward_is_kept_apart_from_its_mean():
    series = parse_log_text(_mlagents(RISING))[0]
    assert series["reward"].values.tolist() == [-91.0, -74.25, -51.5, -33.0]
    assert series["reward_std"].values.tolist() == [12.5, 9.0, 6.25, 4.0]
    assert series["reward"].steps.tolist() == [1000, 2000, 4000, 5000]


def test_mlagents_finite_rewards_and_no_loss_read_healthy_at_a_modest_confidence(tmp_path):
    for elapsed in (False, True):
        rep = _verdict(tmp_path, _mlagents(RISING, elapsed))
        assert not rep.diverged and rep.verdict.cause == "healthy"
        assert rep.verdict.confidence == NO_CURVE_FINDING_CONFIDENCE
        said = rep.verdict.summary
        assert "No loss was logged; read instead: reward in train.log" in said
        assert "finite at all 4 points" in said and "no sign of divergence up to step 5000" in said


def test_a_reward_that_collapses_is_no_divergence_by_itself(tmp_path):
    rep = _verdict(tmp_path, _mlagents([(1000, -5.0, 1.0), (2000, -3.0, 1.0), (3000, -90.0, 0.0), (4000, -99.0, 0.0)]))
    assert not rep.diverged and rep.verdict.cause == "healthy"
    assert "from -5 to -99" in rep.verdict.summary


def test_too_few_summaries_say_nothing_of_the_updates(tmp_path):
    rows = [(1000 * i, -50.0 + i, 1.0) for i in range(1, MIN_RETURN_POINTS)]
    rep = _verdict(tmp_path, _mlagents(rows))
    assert rep.verdict.cause == "inconclusive" and not _ok005(rep)


def test_a_reward_nan_in_episodes_that_finished_is_never_healthy(tmp_path):
    # no NumPy warning of an empty mean: the episodes the window finished returned NaN
    rows = [(1000, -5.0, 1.0), (2000, -3.0, 1.0), (3000, math.nan, math.nan), (4000, math.nan, math.nan)]
    rep = _verdict(tmp_path, _mlagents(rows))
    assert rep.verdict.cause != "healthy" and not _ok005(rep)
    result = [
        {"episode_reward_mean": r, "episodes_this_iter": 5, "training_iteration": i}
        for i, r in enumerate([10.0, 20.0, 30.0, math.nan], 1)
    ]
    rep = _verdict(tmp_path, "\n".join(_pretty_print(x) for x in result))
    assert rep.verdict.cause != "healthy" and not _ok005(rep)


def test_another_series_non_finite_keeps_the_reading_silent(tmp_path):
    rows = [
        {
            "episode_reward_mean": 10.0 * i,
            "info": {"learner": {"default_policy": {"entropy": e}}},
            "training_iteration": i,
        }
        for i, e in ((1, 1.2), (2, 1.1), (3, math.nan))
    ]
    rep = _verdict(tmp_path, "\n".join(_pretty_print(x) for x in rows))
    assert rep.verdict.cause != "healthy" and not _ok005(rep)


def test_rllib_and_tune_results_read_as_mlagents_lines_do(tmp_path):
    rows = [
        {"episode_reward_mean": r, "episodes_this_iter": 4, "training_iteration": i}
        for i, r in enumerate([21.0, 35.5, 48.0], 1)
    ]
    rep = _verdict(tmp_path, "\n".join(_pretty_print(x) for x in rows))
    assert rep.verdict.cause == "healthy" and "read instead: episode_reward_mean" in rep.verdict.summary
    new_stack = [
        {"env_runners": {"episode_return_mean": r, "num_episodes": 4}, "training_iteration": i}
        for i, r in enumerate([21.0, 35.5, 48.0], 1)
    ]
    rep = _verdict(tmp_path, "\n".join(_pretty_print(x) for x in new_stack))
    assert rep.verdict.cause == "healthy" and "episode_return_mean" in rep.verdict.summary
    tune = tmp_path / "tune"
    tune.mkdir()
    lines = [json.dumps(x | {"trial_id": "74df5_00000", "time_total_s": float(x["training_iteration"])}) for x in rows]
    rep = _verdict(tune, "\n".join(lines) + "\n", "result.json")
    assert rep.verdict.cause == "healthy" and rep.verdict.confidence == NO_CURVE_FINDING_CONFIDENCE


def test_sb3_box_of_episode_rewards_without_a_loss(tmp_path):
    boxes = []
    for i, r in enumerate([20.5, 31.0, 45.2], 1):
        boxes += _sb3_box({"rollout/ep_len_mean": 20.0, "rollout/ep_rew_mean": r, "time/total_timesteps": 1000 * i})
    rep = _verdict(tmp_path, "\n".join(boxes) + "\n")
    assert rep.verdict.cause == "healthy" and "read instead: rollout/ep_rew_mean" in rep.verdict.summary


def test_a_loss_beside_the_rewards_decides(tmp_path):
    boxes = []
    for i, r in enumerate([20.5, 31.0, 45.2], 1):
        boxes += _sb3_box({"rollout/ep_rew_mean": r, "time/total_timesteps": 1000 * i, "train/loss": 1.0 / i})
    rep = _verdict(tmp_path, "\n".join(boxes) + "\n")
    assert rep.verdict.cause == "healthy" and not _ok005(rep) and "training loss stayed finite" in rep.verdict.summary


def test_an_episode_length_or_a_reward_models_output_is_no_return(tmp_path):
    # a policy gone NaN still runs its episodes to their time limit; a preference trainer's 'rewards/chosen' scores
    # a response, not an episode
    rows = [{"episode_len_mean": 200.0, "episodes_this_iter": 4, "training_iteration": i} for i in (1, 2, 3)]
    rep = _verdict(tmp_path, "\n".join(_pretty_print(x) for x in rows))
    assert not _ok005(rep)
    text = "".join(
        f"{{'rewards/chosen': {0.1 * i}, 'rewards/rejected': {-0.1 * i}, 'epoch': {i}}}\n" for i in (1, 2, 3)
    )
    rep = _verdict(tmp_path, text)
    assert not _ok005(rep)
