"""Settings a job log states in its header (forensics/readers/log_settings.py).

The headers are what the real libraries print: argparse's Namespace and torch's optimizer
repr made here by argparse and torch themselves, and captured logs of real scripts
(tests/fixtures/make_log_fixtures.py: the torch_header_* runs print their flags and
optimizer before training; hf_training_args_header logs TrainingArguments as the Hugging
Face example scripts do).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

import forensics
from forensics.readers.log_settings import read_job_log_with_settings, settings_in_text
from forensics.records import ConfigData, Kind, LogData, Source
from forensics.rules import run_rules

LOGS = Path(__file__).parent / "fixtures" / "logs"


def _read(path: Path):
    return read_job_log_with_settings(path, Source(path=path.name, kind=Kind.JOB_LOG, size=path.stat().st_size))


def test_argparse_namespace_and_torch_optimizer_repr_as_the_libraries_print_them():
    torch = pytest.importorskip("torch")
    parser = argparse.ArgumentParser()
    parser.add_argument("--learning-rate", dest="learning_rate", type=float, default=0.3)
    parser.add_argument("--batch-size", dest="batch_size", type=int, default=128)
    parser.add_argument("--clip", dest="max_grad_norm", type=float, default=0.0)
    args = parser.parse_args([])
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.RMSprop(model.parameters(), lr=0.3, eps=0.0, momentum=0.5)
    text = f"{args}\n{opt}\nstep 1 loss 2.0 lr 0.3\n"
    tree = settings_in_text(text)
    assert tree["learning_rate"] == 0.3 and tree["batch_size"] == 128 and tree["max_grad_norm"] == 0.0
    assert tree["optimizer"] == "RMSprop" and tree["eps"] == 0.0 and tree["momentum"] == 0.5


def test_a_namespace_value_python_cannot_parse_keeps_the_other_flags():
    args = argparse.Namespace(lr=0.05, model=type, optimizer="sgd")  # model=<class 'type'>
    tree = settings_in_text(str(args))
    assert tree["lr"] == 0.05 and tree["optimizer"] == "sgd"


def test_a_loss_line_ends_the_header_its_lr_is_a_point_of_the_series():
    tree = settings_in_text("starting job 12\nstep 1 | loss 2.31 | lr=0.5\noptimizer: adam\n")
    assert tree == {}


def test_torch_script_header_gives_the_lr_optimizer_and_momentum():
    log, cfg = _read(LOGS / "torch_header_sgd_lr_too_high.log")
    assert isinstance(log, LogData) and isinstance(cfg, ConfigData)
    assert (cfg.learning_rate, cfg.optimizer, cfg.batch_size) == (8.0, "sgd", 32)
    assert cfg.raw["momentum"] == 0.9  # from the optimizer's repr (the Namespace has none)
    assert cfg.source.path == "torch_header_sgd_lr_too_high.log" and cfg.source.kind is Kind.CONFIG
    assert log.scalars  # the log itself is read as before


def test_hugging_face_training_arguments_logged_by_an_example_script():
    _, cfg = _read(LOGS / "hf_training_args_header.log")
    assert (cfg.learning_rate, cfg.batch_size, cfg.grad_accum, cfg.warmup) == (2e-5, 16, 4, 500)
    assert cfg.grad_clip == 1.0 and cfg.mixed_precision is None
    assert cfg.raw["adam_epsilon"] == 1e-8


def test_a_log_without_a_header_is_only_a_log():
    out = _read(LOGS / "torch_anomaly_div.log")
    assert isinstance(out, LogData)


def _run_of(tmp_path: Path, *files: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    for f in files:
        shutil.copy(f, run / ("train.log" if f.suffix == ".log" else "args.json"))
    return run


def test_the_header_lr_is_the_runs_stated_lr(tmp_path):
    rep = forensics.analyze(_run_of(tmp_path, LOGS / "torch_header_sgd_lr_too_high.log"))
    tl = rep.timeline
    assert tl.lr_info.value == 8.0 and tl.lr_info.family == "sgd"
    assert tl.setup.momentum == 0.9 and tl.setup.batch_size == 32
    assert rep.verdict.cause == "learning_rate"
    assert any(e.rule == "LR006" and e.weight > 0 for e in run_rules(tl))


def _timeline_of(tmp_path: Path, fixture: str):
    from forensics.load import load_run
    from forensics.timeline import build_timeline

    src = LOGS / fixture
    run = tmp_path / "only_config"
    run.mkdir()
    shutil.copy(src, run / src.name)
    return build_timeline(load_run(run))


def test_setup_of_a_keras_model_config_with_the_mixed_float16_policy(tmp_path):
    """Written by Keras 3 itself (make_log_fixtures.py keras3_model_config): its policy implies a loss
    scaler (model.fit wraps the optimizer), so the float16 prior is the weaker one."""
    tl = _timeline_of(tmp_path, "keras_config/model_config.json")
    assert tl.setup.precision == "mixed_float16" and tl.setup.epsilon == pytest.approx(1e-7)
    (ev,) = [e for e in run_rules(tl) if e.rule == "NUM006"]
    assert ev.weight == pytest.approx(0.15)


def test_setup_of_hugging_face_training_args(tmp_path):
    tl = _timeline_of(tmp_path, "hf_trainer/training_args.json")
    assert (tl.setup.batch_size, tl.setup.grad_accum, tl.setup.epsilon_key) == (8, 1, "adam_epsilon")
    assert tl.setup.epsilon == 1e-8 and tl.setup.precision is None
    assert not [e for e in run_rules(tl) if e.rule in ("NUM006", "NUM007")]
