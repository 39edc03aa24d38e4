"""Discovery: what each file in a run directory is, and the step a checkpoint belongs to."""

import os

import pytest

from forensics.discover import classify, discover, step_from_path
from forensics.errors import UsageError
from forensics.records import Kind


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("events.out.tfevents.1700000000.host.123.0", Kind.EVENTS),
        ("events.out.tfevents.1700000000.host.v2", Kind.EVENTS),
        ("model.safetensors", Kind.SAFETENSORS),
        ("model-00001-of-00002.safetensors", Kind.SAFETENSORS),
        ("model.safetensors.index.json", Kind.SAFETENSORS_INDEX),
        ("weights.07-1.23.h5", Kind.KERAS_H5),
        ("ckpt.weights.h5", Kind.KERAS_H5),
        ("model.hdf5", Kind.KERAS_H5),
        ("model_epoch03.keras", Kind.KERAS_ARCHIVE),
        ("slurm-123456.out", Kind.JOB_LOG),
        ("train.log", Kind.JOB_LOG),
        ("job.err", Kind.JOB_LOG),
        ("stdout.txt", Kind.JOB_LOG),
        ("trainer_state.json", Kind.TRAINER_STATE),
        ("config.json", Kind.CONFIG),
        ("config.yaml", Kind.CONFIG),
        ("hparams.yaml", Kind.CONFIG),
        ("train_config.yml", Kind.CONFIG),
        ("data.npz", Kind.DATA_SAMPLE),
        ("labels.npy", Kind.DATA_SAMPLE),
        ("rows.csv", Kind.DATA_SAMPLE),
        ("pytorch_model.bin", Kind.PICKLE),
        ("optimizer.pt", Kind.PICKLE),
        ("epoch=3-step=1200.ckpt", Kind.PICKLE),
        ("model.pth", Kind.PICKLE),
    ],
)
def test_classify_names_the_kind_of_each_artifact(name, kind):
    assert classify(name) is kind


@pytest.mark.parametrize("name", ["manifest.json", "plot.png", "train.py", "README.md", "notes.txt"])
def test_classify_ignores_files_that_are_not_training_artifacts(name):
    assert classify(name) is None


@pytest.mark.parametrize(
    ("rel", "step", "origin", "epoch"),
    [
        ("checkpoint-500/model.safetensors", 500, "folder", None),
        ("out/checkpoint-1200/model-00001-of-00002.safetensors", 1200, "folder", None),
        ("checkpoints/step_000100.safetensors", 100, "name", None),
        ("ckpt/model_step200.safetensors", 200, "name", None),
        ("global_step300/model.safetensors", 300, "name", None),
        ("lightning/epoch=3-step=1200.ckpt", 1200, "name", 3),
        ("tf/ckpt-3.weights.h5", 3, "index", 3),  # a save counter, which Keras names by epoch
        ("checkpoints/weights.07-1.23.h5", None, None, 7),
        ("checkpoints/weights.03-nan.h5", None, None, 3),
        ("ckpt/model_epoch02.keras", None, None, 2),
        ("model.safetensors", None, None, None),
    ],
)
def test_step_from_path_reads_steps_folders_counters_and_epochs(rel, step, origin, epoch):
    assert step_from_path(rel) == (step, origin, epoch)


def test_discover_missing_path_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        discover(tmp_path / "nope")


def test_discover_groups_event_files_by_sub_run_and_skips_unknown_files(tmp_path):
    (tmp_path / "logs" / "train").mkdir(parents=True)
    (tmp_path / "logs" / "validation").mkdir(parents=True)
    (tmp_path / "logs" / "train" / "events.out.tfevents.1.a").write_bytes(b"")
    (tmp_path / "logs" / "validation" / "events.out.tfevents.1.b").write_bytes(b"")
    (tmp_path / "plot.png").write_bytes(b"\x89PNG")
    inv = discover(tmp_path)
    groups = sorted(f.group for f in inv.of_kind(Kind.EVENTS))
    assert groups == ["logs/train", "logs/validation"]
    assert inv.ignored == 1


def test_discover_does_not_follow_a_symlink_loop(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "train.log").write_text("step 1 loss 1.0\n")
    os.symlink(tmp_path, tmp_path / "a" / "loop")
    inv = discover(tmp_path)
    assert [f.rel for f in inv.files] == ["a/train.log"]
    inv2 = discover(tmp_path, follow_links=True)
    assert [f.rel for f in inv2.files] == ["a/train.log"]
    assert any("loop" in p for p in inv2.problems)


def test_discover_a_single_file_inventories_just_that_file(tmp_path):
    f = tmp_path / "slurm-1.out"
    f.write_text("Epoch 1/1\n")
    inv = discover(f)
    assert [x.rel for x in inv.files] == ["slurm-1.out"]


def test_shards_named_by_an_index_are_read_through_it(tmp_path):
    (tmp_path / "model-00001-of-00002.safetensors").write_bytes(b"")
    (tmp_path / "model-00002-of-00002.safetensors").write_bytes(b"")
    (tmp_path / "model.safetensors.index.json").write_text(
        '{"metadata": {}, "weight_map": '
        '{"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}'
    )
    inv = discover(tmp_path)
    shards = inv.of_kind(Kind.SAFETENSORS)
    assert all(f.group == "model.safetensors.index.json" for f in shards)


def test_a_csv_of_training_metrics_is_a_curve_not_a_data_sample(tmp_path):
    (tmp_path / "metrics.csv").write_text("epoch,step,train_loss\n0,3,2.5\n0,7,inf\n")
    (tmp_path / "rows.csv").write_text("x1,x2,label\n0.1,0.2,1\n")
    kinds = {f.rel: f.kind for f in discover(tmp_path).files}
    assert kinds == {"metrics.csv": Kind.METRICS_CSV, "rows.csv": Kind.DATA_SAMPLE}


def _nanogpt_lines(n: int) -> str:
    # karpathy/build-nanogpt train_gpt2.py's print: f"step {step:5d} | loss: {loss_accum.item():.6f} | lr {lr:.4e}
    # | norm: {norm:.4f} | dt: {dt:.2f}ms | tok/sec: {tokens_per_sec:.2f}"
    return "".join(
        f"step {s:5d} | loss: {10.9 - 0.3 * s:.6f} | lr {6e-4 * (s + 1) / 10:.4e} | norm: {1.5:.4f} | "
        f"dt: {102.95:.2f}ms | tok/sec: {9947.05:.2f}\n"
        for s in range(n)
    )


def test_a_markdown_file_holding_console_output_is_a_log_but_a_readme_is_not(tmp_path):
    """People keep a run's console output in a log.md: judged by its content when its name says it holds output. A
    project's own documents (README.md, which the HF Trainer writes as its model card with a table of
    evaluation losses, CHANGELOG.md, ...) are not the run's output, whatever numbers they hold."""
    (tmp_path / "log.md").write_text("# run 3, tf32\n\n" + _nanogpt_lines(12), encoding="utf-8")
    card = (
        "## Training results\n\n| Training Loss | Epoch | Step | Validation Loss |\n"
        "|:-------------:|:-----:|:----:|:---------------:|\n"
        + "".join(f"| {2.1 - 0.1 * e:.4f} | {e:.1f} | {500 * e} | {2.2 - 0.1 * e:.4f} |\n" for e in range(1, 6))
    )
    (tmp_path / "README.md").write_text(card, encoding="utf-8")
    (tmp_path / "CHANGELOG.md").write_text(_nanogpt_lines(4), encoding="utf-8")
    # notes or copied documentation quote losses and NaN messages: a markdown file is a log only by its name
    (tmp_path / "notes.md").write_text(_nanogpt_lines(6) + "\nthen `loss: nan` at step 900\n", encoding="utf-8")
    (tmp_path / "train_output.md").write_text(_nanogpt_lines(5), encoding="utf-8")
    kinds = {f.path.name: f.kind for f in discover(tmp_path).files}
    assert kinds == {"log.md": Kind.JOB_LOG, "train_output.md": Kind.JOB_LOG}
