"""The config reader, on configs written by the real frameworks, and on hand-written ones.

Real ones (tests/fixtures/make_log_fixtures.py): Hugging Face
TrainingArguments.to_json_string() and PretrainedConfig.save_pretrained(),
Lightning's hparams.yaml (CSVLogger + save_hyperparameters), and the
config.json inside Keras 3 .keras archives.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from forensics.errors import UnreadableSource
from forensics.readers.config import read_config
from forensics.records import Kind, Source, Status

FIX = Path(__file__).parent / "fixtures" / "logs"


def read(path: Path):
    return read_config(path, Source(path=path.name, kind=Kind.CONFIG))


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_hugging_face_training_args():
    c = read(FIX / "hf_trainer" / "training_args.json")
    assert c.learning_rate == 0.01
    assert c.optimizer == "adamw_torch_fused"
    assert c.batch_size == 8
    assert c.grad_clip == 1.0  # max_grad_norm
    assert c.mixed_precision is None  # fp16: false, bf16: false
    assert c.raw["logging_nan_inf_filter"] is True  # kept for the rule that knows it hides NaN losses


def test_the_planned_steps_are_read_only_when_stated_as_steps(tmp_path):
    # HF TrainingArguments and Lightning's Trainer write max_steps -1 when the length is set in epochs
    assert read(FIX / "hf_trainer" / "training_args.json").max_steps is None
    assert read(write(tmp_path, "a.yaml", "max_steps: -1\nnum_train_epochs: 3\n")).max_steps is None
    assert read(write(tmp_path, "b.yaml", "trainer:\n  max_steps: 120\n")).max_steps == 120
    assert read(write(tmp_path, "c.json", '{"num_training_steps": 5000}')).max_steps == 5000


def test_hugging_face_model_config_gives_the_number_of_labels():
    c = read(FIX / "hf_trainer" / "config.json")
    assert c.num_classes == 3  # from id2label


def test_lightning_hparams_yaml():
    c = read(FIX / "lightning" / "hparams.yaml")
    assert (c.learning_rate, c.batch_size) == (0.9, 16)
    assert c.source.status is Status.OK


def test_keras_model_config_with_compile_config_and_mixed_policy():
    c = read(FIX / "keras_config" / "model_config.json")
    assert c.learning_rate == pytest.approx(3e-3)
    assert c.optimizer == "Adam"
    assert c.grad_clip == 1.0  # clipnorm
    assert c.mixed_precision == "fp16"  # DTypePolicy mixed_float16 on the hidden layer
    assert c.loss == "sparse_categorical_crossentropy"
    assert c.num_classes == 11  # units of the last Dense


def test_keras_schedule_gives_its_initial_rate():
    c = read(FIX / "keras_config" / "schedule_config.json")
    assert c.learning_rate == 0.1
    assert (c.optimizer, c.loss, c.num_classes) == ("SGD", "CategoricalCrossentropy", 3)
    assert c.grad_clip is None and c.mixed_precision is None


def test_hydra_style_nested_yaml(tmp_path):
    p = write(
        tmp_path,
        "config.yaml",
        """
trainer:
  precision: bf16-mixed
  gradient_clip_val: 0.0
model:
  num_classes: 10
  criterion:
    _target_: torch.nn.CrossEntropyLoss
optimizer:
  _target_: torch.optim.AdamW
  lr: 3.0e-4
data:
  batch_size: 256
""",
    )
    c = read(p)
    assert c.optimizer == "AdamW" and c.learning_rate == 3e-4 and c.batch_size == 256
    assert c.mixed_precision == "bf16" and c.num_classes == 10 and c.loss == "CrossEntropyLoss"
    assert c.grad_clip == 0.0  # explicitly off, not "unknown"


def test_deepspeed_json(tmp_path):
    p = write(
        tmp_path,
        "ds_config.json",
        '{"train_micro_batch_size_per_gpu": 4, "gradient_clipping": 1.0,'
        ' "fp16": {"enabled": true, "loss_scale": 0, "initial_scale_power": 16},'
        ' "optimizer": {"type": "AdamW", "params": {"lr": 2e-5}}}',
    )
    c = read(p)
    assert (c.batch_size, c.grad_clip, c.mixed_precision, c.optimizer, c.learning_rate) == (
        4,
        1.0,
        "fp16",
        "AdamW",
        2e-5,
    )


def test_shallow_keys_win_over_deep_ones(tmp_path):
    p = write(tmp_path, "config.json", '{"lr": 0.1, "scheduler": {"max_lr": 5.0}, "model": {"head": {"lr": 9}}}')
    assert read(p).learning_rate == 0.1


def test_python_tags_in_yaml_are_read_as_plain_data_never_constructed(tmp_path):
    p = write(
        tmp_path,
        "hparams.yaml",
        "args: !!python/object:argparse.Namespace\n  lr: 0.02\n  batch_size: 32\n"
        "evil: !!python/object/apply:os.system ['touch PWNED']\n",
    )
    c = read(p)
    assert (c.learning_rate, c.batch_size) == (0.02, 32)
    assert c.source.status is Status.PARTIAL and "tags" in c.source.note
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


def test_yaml_alias_bomb_stays_cheap(tmp_path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [{', '.join(['*a' + str(i - 1)] * 9)}]")
    lines.append("lr: 0.5")
    p = write(tmp_path, "config.yaml", "\n".join(lines) + "\n")
    t0 = time.perf_counter()
    assert read(p).learning_rate == 0.5
    assert time.perf_counter() - t0 < 2.0


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("config.json", '{"lr": 0.1,'),
        ("config.json", "not json at all"),
        ("config.yaml", "lr: [0.1\nbatch: 3"),
        ("config.yaml", "a: b: c"),
        ("config.yaml", ""),
        ("config.json", "[1, 2, 3]"),
    ],
)
def test_malformed_config_is_unreadable_with_one_line(tmp_path, name, text):
    p = write(tmp_path, name, text)
    with pytest.raises(UnreadableSource) as e:
        read(p)
    assert str(e.value) and "\n" not in str(e.value)


def test_oversized_config_is_not_read(tmp_path, monkeypatch):
    from forensics.readers import config

    monkeypatch.setattr(config, "MAX_BYTES", 10)
    p = write(tmp_path, "config.json", '{"lr": 0.1, "batch_size": 3}')
    with pytest.raises(UnreadableSource, match="bytes"):
        read(p)


def test_language_model_config_gives_the_vocabulary_as_the_number_of_classes():
    c = read(FIX / "hf_trainer" / "gpt2_config.json")  # GPT2Config.save_pretrained
    assert c.num_classes == 1000  # next-token targets must lie in [0, vocab_size)
    assert c.mixed_precision is None


def test_sample_run_configs_when_present():
    root = Path(__file__).parent.parent / "sample_runs"
    found = sorted(root.glob("*/config.*")) + sorted(root.glob("*/hparams.*")) + sorted(root.glob("*/*/config.json"))
    found += sorted(root.glob("*/lightning_logs/*/hparams.yaml"))
    if not found:
        pytest.skip("no sample runs generated")
    for f in found:
        c = read(f)
        assert c.source.status is Status.OK, f
        if "vocab_size" in c.raw and any("LMHead" in a for a in c.raw.get("architectures", [])):
            assert c.num_classes == c.raw["vocab_size"], f
        elif "lr" in c.raw or "learning_rate" in c.raw:
            assert c.learning_rate == float(c.raw.get("lr", c.raw.get("learning_rate"))), f
