"""Hugging Face Trainer, Lightning and log-only sample runs: tiny models trained into known failures.

Two kinds of run live here:

* ``hf_*``: ``transformers.Trainer`` on CPU with a tiny GPT-2 built from a config
  (nothing is downloaded; ``HF_HUB_OFFLINE=1`` in the job). HF's default
  ``logging_nan_inf_filter=True`` hides a NaN loss: the logged ``loss`` stays finite
  (it even reads 0 once every step is NaN) while ``grad_norm`` turns ``nan``. The
  evidence is the job log, ``checkpoint-N/trainer_state.json`` and the weights, plus
  TensorBoard events in one run.
* ``logonly_*``: the only artifact is the captured console (Keras progress bars,
  a plain PyTorch ``print`` loop with tqdm, a TF traceback, a Lightning progress
  bar plus its ``metrics.csv``).

Each run is trained by this same file run as a script in a subprocess, with the run
directory as its working directory and its console captured as ``slurm-<id>.out``,
exactly as a cluster job would leave it:

    python -u gen_hf.py worker <run_name>

The parent side (``RUNS``, used by ``generate.py``) launches the job, reads back
what was written (trainer_state.json, event files, metrics.csv, the log itself) to
find the step, as logged, of the first non-finite loss, and checks it against the
worker's own bookkeeping (kept in a temp file outside the run directory). It also
checks that the fault really happened (the NaN line, the traceback), so a framework
upgrade that changes the behaviour fails the generation instead of silently
producing a healthy "failed" run.

The PyTorch-side jobs hide TensorFlow before importing anything (a torch job on a
cluster usually has none; TensorBoard would otherwise import it and print absl
start-up noise with wall-clock stamps into the log).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _spec import RunSpec  # noqa: E402

SIDE_ENV = "GEN_HF_SIDE_FILE"  # where the worker writes its own bookkeeping (outside the run dir)


# --------------------------------------------------------------------------------------------
# Parent side: launch the job, read back what it wrote.
# --------------------------------------------------------------------------------------------


def _launch(run_dir: Path, run: str, job_id: int, extra_env: dict[str, str] | None = None) -> tuple[int, dict]:
    """Run one training job in a subprocess, console to slurm-<job_id>.out; return (exit code, bookkeeping)."""
    with tempfile.TemporaryDirectory(prefix="gen_hf_") as tmp:
        side = Path(tmp) / "side.json"
        env = dict(os.environ)
        env.update(
            {
                SIDE_ENV: str(side),
                "OMP_NUM_THREADS": "1",
                "PYTHONHASHSEED": "0",
                "CUDA_VISIBLE_DEVICES": "",
                "HF_HUB_OFFLINE": "1",
                "HF_HUB_DISABLE_TELEMETRY": "1",
                "TF_CPP_MIN_LOG_LEVEL": env.get("TF_CPP_MIN_LOG_LEVEL", "2"),
            }
        )
        env.update(extra_env or {})
        with open(run_dir / f"slurm-{job_id}.out", "wb") as log:
            proc = subprocess.run(
                [sys.executable, "-u", str(Path(__file__).resolve()), "worker", run],
                cwd=run_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                check=False,
            )
        book = json.loads(side.read_text()) if side.exists() else {}
    return proc.returncode, book


def _log_text(run_dir: Path, job_id: int) -> str:
    return (run_dir / f"slurm-{job_id}.out").read_text(encoding="utf-8", errors="replace")


def _require(cond: bool, run: str, what: str) -> None:
    """Fail the generation when the run did not fail the way it was built to."""
    if not cond:
        raise RuntimeError(f"{run}: {what}")


def _trainer_state_history(run_dir: Path) -> tuple[Path, list[dict[str, Any]]]:
    """log_history of the newest checkpoint's trainer_state.json (Python's json reads its NaN tokens)."""
    ckpts = sorted(run_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    if not ckpts:
        raise RuntimeError(f"{run_dir.name}: no checkpoint-N folder written")
    state = json.loads((ckpts[-1] / "trainer_state.json").read_text())
    return ckpts[-1], [h for h in state["log_history"] if "loss" in h]


def _tb_scalar(logdir: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) of `tag` in every event file under `logdir`.

    TFRecord framing read by hand and protos parsed with TensorBoard's compiled
    classes: TensorBoard's own loaders would import TensorFlow into the parent
    (absl noise, and generate.py should not depend on it here). CRCs are not
    checked: we just wrote these files.
    """
    import struct

    from tensorboard.compat.proto.event_pb2 import Event

    points: list[tuple[int, float]] = []
    for path in sorted(logdir.rglob("events.out.tfevents*")):
        data = path.read_bytes()
        pos = 0
        while pos + 12 <= len(data):
            (length,) = struct.unpack_from("<Q", data, pos)
            start, end = pos + 12, pos + 12 + length
            if end + 4 > len(data):
                break
            ev = Event.FromString(data[start:end])
            points.extend((ev.step, v.simple_value) for v in ev.summary.value if v.tag == tag)
            pos = end + 4
    return points


def _build_hf(run: str, job_id: int) -> Callable[[Path], dict[str, Any]]:
    def build(run_dir: Path) -> dict[str, Any]:
        cfg = HF_JOBS[run]
        rc, book = _launch(run_dir, run, job_id)
        _require(rc == 0, run, f"training job exited {rc}; see slurm-{job_id}.out")
        last_ckpt, history = _trainer_state_history(run_dir)
        first = next((h["step"] for h in history if not math.isfinite(h.get("grad_norm", 0.0))), None)
        _require(first is not None, run, "grad_norm never went non-finite in trainer_state.json")
        raw = book["first_nonfinite_loss_step"]
        _require(raw is not None and raw <= first, run, f"raw loss first non-finite at {raw}, logged grad at {first}")
        masked = [h["loss"] for h in history if h["step"] >= first]
        _require(all(math.isfinite(v) for v in masked), run, "a NaN loss reached the log (filter off?)")
        log = _log_text(run_dir, job_id)
        _require("'grad_norm': 'nan'" in log, run, "no 'grad_norm': 'nan' dict line in the job log")
        extra: dict[str, Any] = {}
        if cfg["report_to"] == "tensorboard":
            tb = _tb_scalar(run_dir / cfg["tb_dir"], "train/grad_norm")
            tb_first = next((s for s, v in tb if not math.isfinite(v)), None)
            _require(tb_first == first, run, f"events say first non-finite grad_norm at {tb_first}, state {first}")
            extra["tensorboard_dir"] = cfg["tb_dir"]
        if cfg.get("shard_size"):
            _require((last_ckpt / "model.safetensors.index.json").exists(), run, "checkpoint not sharded")
            _require(not (last_ckpt / "model.safetensors").exists(), run, "unsharded weights left beside shards")
            extra["sharded_checkpoints"] = True
        return {
            "first_nonfinite_step": first,
            "step_unit": "step",
            "steps_per_epoch": book["steps_per_epoch"],
            "first_nonfinite_is": "grad_norm (logging_nan_inf_filter masks the loss)",
            "first_nonfinite_loss_step_unlogged": raw,
            "logging_steps": cfg["logging_steps"],
            "peak_lr": cfg["lr"],
            "warmup_steps": cfg["warmup_steps"],
            "lr_scheduler_type": cfg["scheduler"],
            "optimizer": "SGD momentum=0.9, max_grad_norm=0 (no clipping)",
            "checkpoints": sorted((p.name for p in run_dir.glob("checkpoint-*")), key=lambda n: int(n.split("-")[1])),
            "last_logged_step": history[-1]["step"],
            **extra,
        }

    return build


def _build_keras_nan(run: str, job_id: int) -> Callable[[Path], dict[str, Any]]:
    def build(run_dir: Path) -> dict[str, Any]:
        rc, book = _launch(run_dir, run, job_id)
        _require(rc == 0, run, f"training job exited {rc}; see slurm-{job_id}.out")
        log = _log_text(run_dir, job_id)
        m = re.search(r"Batch (\d+): Invalid loss, terminating training", log)
        _require(m is not None, run, "TerminateOnNaN did not fire")
        first = book["first_nonfinite_epoch"]
        _require(first is not None, run, "no epoch ended with a non-finite loss")
        _require(f"Epoch {first}/" in log, run, f"no 'Epoch {first}/' header in the log")
        return {
            "first_nonfinite_step": first,
            "step_unit": "epoch",
            "steps_per_epoch": book["steps_per_epoch"],
            "first_nonfinite_value": book["first_nonfinite_value"],
            "terminated_at_batch": int(m.group(1)),
            "first_nonfinite_global_batch": book["first_nonfinite_batch"],
            **{k: v for k, v in book.items() if k in ("peak_lr", "base_lr", "lr_jump_epoch", "verbose")},
        }

    return build


def _build_torch_loop(run: str, job_id: int) -> Callable[[Path], dict[str, Any]]:
    def build(run_dir: Path) -> dict[str, Any]:
        rc, book = _launch(run_dir, run, job_id)
        _require(rc == 0, run, f"training job exited {rc}; see slurm-{job_id}.out")
        log = _log_text(run_dir, job_id)
        logged = [
            (int(m.group(1)), float(m.group(2)))
            for m in re.finditer(r"^epoch \d+ step (\d+) loss (\S+) ", log, flags=re.MULTILINE)
        ]
        first = next((s for s, v in logged if not math.isfinite(v)), None)
        _require(first is not None, run, "no non-finite loss printed")
        _require(first == book["first_nonfinite_logged_step"], run, f"log says {first}, worker {book}")
        return {
            "first_nonfinite_step": first,
            "step_unit": "step",
            "steps_per_epoch": book["steps_per_epoch"],
            "first_nonfinite_loss_step_unlogged": book["first_nonfinite_step"],
            "print_every": book["print_every"],
            "lr": book["lr"],
            "max_grad_norm_printed_before_nan": book["max_finite_grad_norm"],
        }

    return build


def _build_raises(run: str, job_id: int, error_line: str) -> Callable[[Path], dict[str, Any]]:
    """A job the framework stops by raising: the traceback in the log is the evidence."""

    def build(run_dir: Path) -> dict[str, Any]:
        rc, book = _launch(run_dir, run, job_id)
        _require(rc != 0, run, "the job should have raised")
        log = _log_text(run_dir, job_id)
        raised = next((ln for ln in log.splitlines() if re.match(error_line, ln)), None)
        _require(raised is not None, run, f"no line matching {error_line!r} in the log")
        out = {
            "first_nonfinite_step": None,
            "step_unit": "step",
            "steps_per_epoch": book.get("steps_per_epoch"),
            "raised": raised.strip(),
            "exit_code": rc,
        }
        out.update({k: v for k, v in book.items() if k != "steps_per_epoch"})
        return out

    return build


def _build_lightning(run: str, job_id: int) -> Callable[[Path], dict[str, Any]]:
    def build(run_dir: Path) -> dict[str, Any]:
        rc, book = _launch(run_dir, run, job_id)
        _require(rc == 0, run, f"training job exited {rc}; see slurm-{job_id}.out")
        metrics = next(run_dir.rglob("metrics.csv"), None)
        _require(metrics is not None, run, "CSVLogger wrote no metrics.csv")
        with open(metrics, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r.get("train_loss")]
        first = next((int(r["step"]) for r in rows if not math.isfinite(float(r["train_loss"]))), None)
        _require(first is not None, run, "no non-finite train_loss in metrics.csv")
        _require(first == book["first_nonfinite_logged_step"], run, f"metrics.csv says {first}, worker {book}")
        log = _log_text(run_dir, job_id)
        _require("train_loss=nan" in log, run, "the progress bar never showed train_loss=nan")
        return {
            "first_nonfinite_step": first,
            "step_unit": "step",
            "steps_per_epoch": book["steps_per_epoch"],
            "first_nonfinite_loss_step_unlogged": book["first_nonfinite_step"],
            "log_every_n_steps": book["log_every_n_steps"],
            "lr": book["lr"],
            "metrics_csv": str(metrics.relative_to(run_dir)),
        }

    return build


# --------------------------------------------------------------------------------------------
# Worker side: the training scripts. Everything below runs inside the job, cwd = run dir.
# --------------------------------------------------------------------------------------------


class Book:
    """The worker's own record of what happened, written outside the run dir for build() to check."""

    def __init__(self, **data: Any) -> None:
        self.data: dict[str, Any] = dict(data)

    def first(self, key: str, step: int, value: float) -> None:
        """Remember `step` under `key` the first time `value` is not finite."""
        if self.data.get(key) is None and not math.isfinite(value):
            self.data[key] = step

    def save(self) -> None:
        path = os.environ.get(SIDE_ENV)
        if path:
            Path(path).write_text(json.dumps(self.data))


def _hide_tensorflow() -> None:
    # See the module docstring: behave as a torch-only environment.
    sys.modules["tensorflow"] = None  # type: ignore[assignment]


# Tiny GPT-2 and its synthetic corpus, shared by the two Trainer runs.
VOCAB, SEQ_LEN, N_SEQ = 100, 16, 512

HF_JOBS: dict[str, dict[str, Any]] = {
    # Constant LR far too high for SGD+momentum without clipping, after a token warmup.
    "hf_trainer_lr_too_high": {
        "lr": 2.0,
        "scheduler": "constant_with_warmup",
        "warmup_steps": 5,
        "max_steps": 40,
        "save_steps": 10,
        "logging_steps": 1,
        "report_to": "tensorboard",
        "tb_dir": "runs/gpt2-tiny-sgd",
        "save_only_model": False,
        "shard_size": None,
    },
    # Sane LR for the first half of a long warmup; the peak it climbs to is too high.
    "hf_trainer_logonly_lr_spike": {
        "lr": 2.0,
        "scheduler": "cosine",
        "warmup_steps": 60,
        "max_steps": 120,
        "save_steps": 30,
        "logging_steps": 5,
        "report_to": "none",
        "save_only_model": True,
        "shard_size": "20KB",
    },
}


def _next_token_corpus(seed: int):
    """Token sequences that follow a fixed random successor table: learnable, so a sane LR makes progress."""
    import numpy as np

    rng = np.random.default_rng(seed)
    successor = rng.permutation(VOCAB)
    ids = np.zeros((N_SEQ, SEQ_LEN), dtype=np.int64)
    ids[:, 0] = rng.integers(0, VOCAB, N_SEQ)
    for t in range(1, SEQ_LEN):
        ids[:, t] = successor[ids[:, t - 1]]
    return ids


def train_hf(run: str) -> None:
    cfg = HF_JOBS[run]
    _hide_tensorflow()
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainerCallback, TrainingArguments

    torch.set_num_threads(1)
    if cfg["report_to"] == "tensorboard":
        os.environ["TENSORBOARD_LOGGING_DIR"] = cfg["tb_dir"]
    ids = torch.from_numpy(_next_token_corpus(seed=17))

    class TokenDataset(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(ids)

        def __getitem__(self, i: int) -> dict:
            return {"input_ids": ids[i], "labels": ids[i]}

    class ShardedSave(TrainerCallback):
        """Re-save each checkpoint's weights in shards (as large-model projects do with max_shard_size)."""

        def on_save(self, args, state, control, model=None, **kwargs):
            ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            model.save_pretrained(ckpt, max_shard_size=cfg["shard_size"])
            (ckpt / "model.safetensors").unlink(missing_ok=True)  # the shards replace the single file

    config = GPT2Config(
        vocab_size=VOCAB,
        n_positions=SEQ_LEN,
        n_embd=32,
        n_layer=2,
        n_head=2,
        n_inner=64,
        bos_token_id=0,
        eos_token_id=0,
    )
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    batch = 16
    args = TrainingArguments(
        output_dir=".",
        use_cpu=True,
        seed=0,
        optim="sgd",
        optim_args="momentum=0.9",
        learning_rate=cfg["lr"],
        lr_scheduler_type=cfg["scheduler"],
        warmup_steps=cfg["warmup_steps"],
        max_grad_norm=0.0,
        max_steps=cfg["max_steps"],
        per_device_train_batch_size=batch,
        logging_steps=cfg["logging_steps"],
        save_strategy="steps",
        save_steps=cfg["save_steps"],
        save_only_model=cfg["save_only_model"],
        report_to=cfg["report_to"],
        dataloader_num_workers=0,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=TokenDataset(),
        callbacks=[ShardedSave()] if cfg["shard_size"] else None,
    )
    book = Book(first_nonfinite_loss_step=None, steps_per_epoch=math.ceil(N_SEQ / batch))
    # Bookkeeping only: the raw per-step loss, before the Trainer's NaN filter (never printed).
    model.register_forward_hook(
        lambda mod, inp, out: book.first(
            "first_nonfinite_loss_step", trainer.state.global_step + 1, out.loss.detach().item()
        )
    )
    trainer.train()
    book.save()


def _keras_setup(seed: int):
    import keras
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    keras.utils.set_random_seed(seed)
    return keras


def _keras_book_callback(keras, book: Book, steps_per_epoch: int):
    class Bookkeeping(keras.callbacks.Callback):
        """Record the first epoch whose logged loss is non-finite (and the batch), outside the run dir."""

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            loss = float((logs or {}).get("loss", 0.0))
            book.first("first_nonfinite_batch", self.epoch * steps_per_epoch + batch + 1, loss)

        def on_epoch_end(self, epoch, logs=None):
            loss = float((logs or {}).get("loss", 0.0))
            if book.data.get("first_nonfinite_epoch") is None and not math.isfinite(loss):
                book.data["first_nonfinite_epoch"] = epoch + 1  # as printed: "Epoch 9/40"
                book.data["first_nonfinite_value"] = str(loss)

    return Bookkeeping()


def train_keras_nan() -> None:
    """MSE regression, constant SGD LR far too high: the loss climbs every epoch until it overflows."""
    keras = _keras_setup(seed=3)
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(704, 12)).astype("float32")
    y = (3.0 * x[:, :3].sum(axis=1, keepdims=True)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((12,)),
            keras.layers.Dense(24, activation="tanh"),
            keras.layers.Dense(24, activation="tanh"),
            keras.layers.Dense(1),
        ]
    )
    lr = 0.21
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse", metrics=["mae"])
    steps = math.ceil(len(x) / 32)
    book = Book(steps_per_epoch=steps, peak_lr=lr, verbose=1)
    model.fit(
        x,
        y,
        batch_size=32,
        epochs=40,
        verbose=1,
        callbacks=[keras.callbacks.TerminateOnNaN(), _keras_book_callback(keras, book, steps)],
    )
    book.save()


def train_keras_lr_spike() -> None:
    """Poisson regression (exp link) fine at 0.02; the schedule jumps to 0.6 at epoch 7 and exp() overflows."""
    keras = _keras_setup(seed=5)
    import numpy as np

    rng = np.random.default_rng(1)
    x = rng.normal(size=(900, 9)).astype("float32")
    w = rng.normal(size=(9,)) * 0.3
    counts = rng.poisson(np.exp(x @ w + 1.0)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((9,)),
            keras.layers.Dense(16, activation="tanh"),
            keras.layers.Dense(1, activation="exponential"),
        ]
    )
    base_lr, peak_lr, jump_epoch = 0.02, 0.6, 7

    def schedule(epoch: int, lr: float) -> float:
        return base_lr if epoch + 1 < jump_epoch else peak_lr

    model.compile(optimizer=keras.optimizers.SGD(learning_rate=base_lr), loss="poisson")
    steps = math.ceil(len(x) / 64)
    book = Book(steps_per_epoch=steps, base_lr=base_lr, peak_lr=peak_lr, lr_jump_epoch=jump_epoch, verbose=2)
    model.fit(
        x,
        counts,
        batch_size=64,
        epochs=30,
        verbose=2,
        callbacks=[
            keras.callbacks.LearningRateScheduler(schedule, verbose=1),
            keras.callbacks.TerminateOnNaN(),
            _keras_book_callback(keras, book, steps),
        ],
    )
    book.save()


def train_tf_label_error() -> None:
    """5-class classifier; a later data shard was labelled with a class id (7) the model does not have."""
    keras = _keras_setup(seed=11)
    import numpy as np

    rng = np.random.default_rng(4)
    n, dim, classes = 1200, 14, 5
    centers = rng.normal(size=(classes, dim)) * 2.0
    labels = rng.integers(0, classes, n)
    features = (centers[labels] + rng.normal(size=(n, dim))).astype("float32")
    bad = np.arange(n - 3, n)  # three rows of the newest shard carry label 7
    labels[bad] = 7
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(20, activation="relu"),
            keras.layers.Dense(classes, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    book = Book(steps_per_epoch=math.ceil(n / 40), n_classes=classes, bad_label=7, bad_rows=len(bad))
    book.save()  # before fit: the job dies inside it
    model.fit(features, labels, batch_size=40, epochs=10, verbose=1)


def train_torch_print_loop() -> None:
    """ReLU RNN, recurrent weights initialised a little above unit gain, SGD 1e-3 with momentum, no clipping."""
    _hide_tensorflow()
    import numpy as np
    import torch
    from tqdm import tqdm

    torch.manual_seed(0)
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    seq_len, feat, hidden, n, batch = 30, 6, 24, 2048, 32
    x = torch.from_numpy(rng.normal(size=(n, seq_len, feat)).astype("float32"))
    w = torch.from_numpy((rng.normal(size=(feat, 1)) * 0.5).astype("float32"))
    y = x.cumsum(1)[:, -1] @ w
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(0)
    )

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = torch.nn.RNN(feat, hidden, batch_first=True, nonlinearity="relu")
            self.head = torch.nn.Linear(hidden, 1)
            with torch.no_grad():
                self.rnn.weight_hh_l0.copy_(torch.nn.init.orthogonal_(torch.empty(hidden, hidden)) * 1.1)

        def forward(self, seq):
            out, _ = self.rnn(seq)
            return self.head(out[:, -1])

    model = Model()
    lr, print_every, epochs = 1e-3, 5, 4
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    book = Book(steps_per_epoch=len(loader), print_every=print_every, lr=lr, max_finite_grad_norm=0.0)
    book.data.update(first_nonfinite_step=None, first_nonfinite_logged_step=None)
    step = 0
    for epoch in range(epochs):
        for xb, yb in tqdm(loader, desc=f"epoch {epoch}"):
            step += 1
            loss = torch.nn.functional.mse_loss(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            grad_norm = torch.sqrt(sum((p.grad.detach() ** 2).sum() for p in model.parameters())).item()
            opt.step()
            book.first("first_nonfinite_step", step, loss.item())
            if step % print_every == 0:
                tqdm.write(f"epoch {epoch} step {step} loss {loss.item():.4f} lr {lr:g} grad_norm {grad_norm:.4g}")
                book.first("first_nonfinite_logged_step", step, loss.item())
                if math.isfinite(grad_norm):
                    book.data["max_finite_grad_norm"] = max(book.data["max_finite_grad_norm"], grad_norm)
    book.save()


def train_torch_anomaly_log0() -> None:
    """Hand-written cross-entropy log(softmax) with no eps, anomaly mode on: the backward of log(0) raises."""
    _hide_tensorflow()
    import numpy as np
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(1)
    torch.autograd.set_detect_anomaly(True)
    rng = np.random.default_rng(2)
    classes, dim, n = 4, 8, 1024
    centers = rng.normal(size=(classes, dim)) * 3.0
    targets = rng.integers(0, classes, n)
    inputs = torch.from_numpy((centers[targets] + rng.normal(size=(n, dim))).astype("float32"))
    onehot = torch.nn.functional.one_hot(torch.from_numpy(targets), classes).float()
    model = torch.nn.Sequential(torch.nn.Linear(dim, 32), torch.nn.ReLU(), torch.nn.Linear(32, classes))
    lr, batch, print_every = 1e-2, 64, 25
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    book = Book(steps_per_epoch=n // batch, lr=lr, print_every=print_every, raised_at_step=None)
    book.save()
    gen = torch.Generator().manual_seed(0)
    step = 0
    for epoch in range(200):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, batch):
            idx = perm[i : i + batch]
            step += 1
            probs = torch.softmax(model(inputs[idx]), dim=1)
            loss = -(onehot[idx] * torch.log(probs)).sum(dim=1).mean()
            opt.zero_grad()
            book.data["raised_at_step"] = step
            book.data["loss_at_raise"] = str(loss.item())
            book.save()
            loss.backward()
            opt.step()
            if step % print_every == 0:
                print(f"[epoch {epoch:3d}] step {step:5d}  loss={loss.item():.6f}")


def train_lightning_lr_too_high() -> None:
    """Lightning MLP regression with plain SGD at a constant LR far too high; CSVLogger keeps metrics.csv."""
    _hide_tensorflow()
    import lightning as L
    import numpy as np
    import torch
    from lightning.pytorch.callbacks import TQDMProgressBar
    from lightning.pytorch.loggers import CSVLogger

    L.seed_everything(7, workers=True)
    torch.set_num_threads(1)
    rng = np.random.default_rng(7)
    feats = rng.normal(size=(1536, 10)).astype("float32")
    targets = (feats @ rng.normal(size=(10, 1)) + 0.1 * rng.normal(size=(1536, 1))).astype("float32")
    data = torch.utils.data.TensorDataset(torch.from_numpy(feats), torch.from_numpy(targets))
    loader = torch.utils.data.DataLoader(data, batch_size=48, shuffle=True, num_workers=0)
    lr, log_every = 0.2, 4
    book = Book(
        steps_per_epoch=len(loader),
        lr=lr,
        log_every_n_steps=log_every,
        first_nonfinite_step=None,
        first_nonfinite_logged_step=None,
    )

    class Regressor(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.save_hyperparameters({"lr": lr, "hidden": 32})
            self.net = torch.nn.Sequential(
                torch.nn.Linear(10, 32),
                torch.nn.Tanh(),
                torch.nn.Linear(32, 32),
                torch.nn.Tanh(),
                torch.nn.Linear(32, 1),
            )

        def training_step(self, batch, batch_idx):
            xb, yb = batch
            loss = torch.nn.functional.mse_loss(self.net(xb), yb)
            self.log("train_loss", loss, prog_bar=True)
            step = self.global_step  # as Lightning writes it in metrics.csv
            book.first("first_nonfinite_step", step, loss.item())
            if (step + 1) % log_every == 0:
                book.first("first_nonfinite_logged_step", step, loss.item())
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    trainer = L.Trainer(
        max_epochs=6,
        accelerator="cpu",
        devices=1,
        logger=CSVLogger(save_dir=".", name="lightning_logs"),
        log_every_n_steps=log_every,
        enable_progress_bar=True,
        callbacks=[TQDMProgressBar(refresh_rate=log_every)],
        deterministic=True,
    )
    trainer.fit(Regressor(), loader)
    book.save()


WORKERS: dict[str, Callable[[], None]] = {
    "logonly_keras_nan": train_keras_nan,
    "logonly_keras_lr_spike_verbose2": train_keras_lr_spike,
    "logonly_tf_label_error": train_tf_label_error,
    "logonly_torch_print_loop": train_torch_print_loop,
    "logonly_torch_anomaly_log0": train_torch_anomaly_log0,
    "logonly_lightning_lr_too_high": train_lightning_lr_too_high,
}


def _worker_main(argv: list[str]) -> None:
    run = argv[0]
    if run in HF_JOBS:
        train_hf(run)
    else:
        WORKERS[run]()


# --------------------------------------------------------------------------------------------
# The catalogue generate.py reads.
# --------------------------------------------------------------------------------------------

RUNS: list[RunSpec] = [
    RunSpec(
        name="hf_trainer_lr_too_high",
        framework="transformers",
        cause="learning_rate",
        detail="lr_too_high",
        injection="transformers.Trainer, tiny GPT-2, optim=sgd momentum 0.9 at constant learning_rate=2.0 after a "
        "5-step warmup, max_grad_norm=0; logging_nan_inf_filter (default) hides the NaN loss, grad_norm shows nan",
        build=_build_hf("hf_trainer_lr_too_high", 6120457),
    ),
    RunSpec(
        name="hf_trainer_logonly_lr_spike",
        framework="transformers",
        cause="learning_rate",
        detail="lr_schedule_spike",
        injection="transformers.Trainer, tiny GPT-2, sgd momentum 0.9, cosine schedule whose 60-step warmup climbs to "
        "a peak of 2.0: learns while the LR is low, explodes as it nears the peak; no TensorBoard, checkpoints sharded",
        build=_build_hf("hf_trainer_logonly_lr_spike", 6120988),
    ),
    RunSpec(
        name="logonly_keras_nan",
        framework="keras",
        cause="learning_rate",
        detail="lr_too_high",
        injection="Keras 3 MSE regression with SGD at a constant 0.21: loss climbs every epoch until it overflows; "
        "verbose=1 progress bars and TerminateOnNaN, nothing but the console log",
        build=_build_keras_nan("logonly_keras_nan", 7342210),
    ),
    RunSpec(
        name="logonly_keras_lr_spike_verbose2",
        framework="keras",
        cause="learning_rate",
        detail="lr_schedule_spike",
        injection="Keras 3 Poisson regression (exp output) fine at SGD 0.02; LearningRateScheduler(verbose=1) jumps "
        "to 0.6 at epoch 7 and the loss turns NaN; verbose=2 epoch lines and TerminateOnNaN, log only",
        build=_build_keras_nan("logonly_keras_lr_spike_verbose2", 7342291),
    ),
    RunSpec(
        name="logonly_tf_label_error",
        framework="keras",
        cause="data_or_labels",
        detail="labels_out_of_range",
        injection="Keras 3 (TF backend) 5-class softmax classifier with sparse_categorical_crossentropy; three rows "
        "carry label 7, TF's CPU kernel raises InvalidArgumentError; log only",
        build=_build_raises("logonly_tf_label_error", 7350114, r"Received a label value of 7"),
    ),
    RunSpec(
        name="logonly_torch_print_loop",
        framework="pytorch",
        cause="exploding_weights",
        detail="exploding_gradients",
        injection="plain PyTorch loop, ReLU RNN over 30 steps with recurrent weights at 1.1x orthogonal, SGD lr 1e-3 "
        "momentum 0.9, no clipping; prints 'epoch E step S loss L lr X grad_norm G' every 5 steps under tqdm",
        build=_build_torch_loop("logonly_torch_print_loop", 8801342),
    ),
    RunSpec(
        name="logonly_torch_anomaly_log0",
        framework="pytorch",
        cause="numerical_instability",
        detail="log_of_zero",
        injection="plain PyTorch loop, hand-written -sum(y*log(softmax(z))) with no eps on separable blobs, Adam 1e-2, "
        "torch.autograd.set_detect_anomaly(True): softmax underflows to 0 and LogBackward0 raises",
        build=_build_raises("logonly_torch_anomaly_log0", 8801907, r"RuntimeError: Function 'LogBackward0'"),
    ),
    RunSpec(
        name="logonly_lightning_lr_too_high",
        framework="lightning",
        cause="learning_rate",
        detail="lr_too_high",
        injection="Lightning MLP regression, plain SGD at a constant lr=0.2 (far too high), self.log('train_loss', "
        "prog_bar=True), CSVLogger metrics.csv and the progress bar are the only evidence",
        build=_build_lightning("logonly_lightning_lr_too_high", 9014466),
    ),
]


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "worker":
    _worker_main(sys.argv[2:])
