"""What a run is: run roots under a folder, the way TensorBoard finds runs plus the
layouts trainers leave (Keras splits, Lightning versions, Hugging Face output folders,
MLflow stores, a resumed run in one folder, log-only runs)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forensics.runs import find_runs, partition

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_runs"
FIXTURES = ROOT / "tests" / "fixtures"


def _runs(files: list[str]) -> list[tuple[str, str]]:
    return [(r.rel, r.layout) for r in partition(files).runs]


def test_event_folders_side_by_side_are_separate_runs_as_in_tensorboard():
    files = ["a/events.out.tfevents.1.host", "b/events.out.tfevents.2.host", "c/sub/events.out.tfevents.3.host"]
    assert _runs(files) == [("a", "tensorboard"), ("b", "tensorboard"), ("c", "tensorboard")]


def test_keras_train_and_validation_folders_are_one_run():
    files = [
        "logs/fit/20240101/train/events.out.tfevents.1.v2",
        "logs/fit/20240101/validation/events.out.tfevents.2.v2",
        "checkpoints/weights.01.h5",
    ]
    assert _runs(files) == [("", "tensorboard")]


def test_a_resumed_run_writing_a_second_event_file_into_its_folder_is_one_run():
    files = ["logs/events.out.tfevents.100.host.1.0", "logs/events.out.tfevents.200.host.1.0", "slurm-1.out"]
    assert _runs(files) == [("", "tensorboard")]


def test_hugging_face_output_folder_with_checkpoints_and_runs_is_one_run():
    files = [
        "checkpoint-10/trainer_state.json",
        "checkpoint-20/trainer_state.json",
        "runs/Dec06_01-00-00_host/events.out.tfevents.1.host",
        "runs/Dec06_02-00-00_host/events.out.tfevents.2.host",  # resumed: a second runs/ folder
    ]
    assert _runs(files) == [("", "huggingface")]


def test_lightning_versions_are_separate_runs_and_the_job_log_beside_them_is_shared():
    files = [
        "slurm-9.out",
        "lightning_logs/version_0/hparams.yaml",
        "lightning_logs/version_0/metrics.csv",
        "lightning_logs/version_1/events.out.tfevents.1.host",
        "lightning_logs/version_1/hparams.yaml",
    ]
    found = partition(files)
    assert [(r.rel, r.layout) for r in found.runs] == [
        ("lightning_logs/version_0", "lightning"),
        ("lightning_logs/version_1", "lightning"),
    ]
    assert found.shared == ["slurm-9.out"]


def test_mlflow_runs_of_several_experiments_are_each_a_run():
    files = [
        "mlruns/0/meta.yaml",
        "mlruns/1/meta.yaml",
        "mlruns/1/aaa/meta.yaml",
        "mlruns/1/aaa/metrics/loss",
        "mlruns/1/aaa/params/lr",
        "mlruns/1/bbb/meta.yaml",
        "mlruns/1/bbb/metrics/loss",
        "mlruns/2/ccc/meta.yaml",
        "mlruns/2/ccc/params/lr",
        "mlruns/2/ccc/artifacts/tb/events.out.tfevents.1.host",  # belongs to its MLflow run
    ]
    assert _runs(files) == [("mlruns/1/aaa", "mlflow"), ("mlruns/1/bbb", "mlflow"), ("mlruns/2/ccc", "mlflow")]


def test_log_only_runs_are_found_by_their_job_logs():
    assert _runs(["a/slurm-1.out", "b/slurm-2.out", "b/config.yaml"]) == [("a", "logs"), ("b", "logs")]


def test_a_job_log_in_a_sub_folder_does_not_split_a_run():
    assert _runs(["tb/events.out.tfevents.1.host", "logs/train.log", "config.yaml"]) == [("", "tensorboard")]


def test_every_sample_run_alone_is_one_run_at_its_root():
    for run in sorted(p for p in SAMPLES.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        found = find_runs(run)
        assert [r.rel for r in found.runs] == [""], run.name


def test_a_file_and_a_folder_without_anchors_are_analysed_as_given(tmp_path):
    ckpt = SAMPLES / "torch_healthy" / "checkpoints" / "last.safetensors"
    assert [r.rel for r in find_runs(ckpt).runs] == [""]
    shutil.copy(ckpt, tmp_path / "last.safetensors")
    assert [r.rel for r in find_runs(tmp_path).runs] == [""]


@pytest.mark.parametrize("layout", ["copies", "lightning", "mlflow"])
def test_real_runs_placed_together_are_found_each(tmp_path, layout):
    if layout == "copies":
        for name in ("torch_healthy", "keras_lr_too_high", "hf_trainer_lr_too_high", "logonly_keras_nan"):
            shutil.copytree(SAMPLES / name, tmp_path / name)
        want = ["hf_trainer_lr_too_high", "keras_lr_too_high", "logonly_keras_nan", "torch_healthy"]
    elif layout == "lightning":
        version = SAMPLES / "logonly_lightning_lr_too_high" / "lightning_logs" / "version_0"
        for n in range(3):
            shutil.copytree(version, tmp_path / "lightning_logs" / f"version_{n}")
        want = [f"lightning_logs/version_{n}" for n in range(3)]
    else:
        exp = next(p for p in (FIXTURES / "mlflow" / "mlruns").iterdir() if p.name != "0")
        run = next(p for p in exp.iterdir() if p.is_dir())
        shutil.copytree(FIXTURES / "mlflow" / "mlruns", tmp_path / "mlruns")
        shutil.copytree(run, tmp_path / "mlruns" / exp.name / "second")
        want = sorted([f"mlruns/{exp.name}/{run.name}", f"mlruns/{exp.name}/second"])
    assert [r.rel for r in find_runs(tmp_path).runs] == want


def test_a_missing_path_is_a_one_line_error(tmp_path):
    from forensics.errors import UsageError

    with pytest.raises(UsageError, match="no such file"):
        find_runs(tmp_path / "nope")


def test_an_mlflow_database_and_a_wandb_run_folder_are_runs():
    from forensics.runs import partition

    listing = [
        "a/mlflow.db",
        "a/ckpt/step_10.safetensors",
        "b/wandb/run-20250101_000000-abc/run-abc.wandb",
        "b/wandb/run-20250101_000000-abc/files/output.log",
        "b/wandb/run-20250101_000000-abc/logs/debug.log",
        "c/cache.db",
        "c/train.log",
    ]
    runs = partition(listing, "sweep")
    assert {(r.rel, r.layout) for r in runs.runs} == {
        ("a", "mlflow"),
        ("b", "wandb"),  # the project folder holding one W&B run: checkpoints beside wandb/ belong to it
        ("c", "logs"),
    }
