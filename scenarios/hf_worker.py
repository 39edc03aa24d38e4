"""Hugging Face Trainer scenarios: ``transformers.Trainer`` trains the same tiny models on the
same data stream as the PyTorch loop, many scenarios per process.

    python -m scenarios.hf_worker SCENARIOS.jsonl OUT_DIR RESULTS.jsonl

What the Trainer leaves is what a real job leaves: ``checkpoint-N/`` folders
(``model.safetensors``, ``optimizer.pt``, ``scheduler.pt``, ``trainer_state.json``,
``training_args.bin``), TensorBoard events through its own ``TensorBoardCallback``, and the
console: its progress bar or ``PrinterCallback`` dict lines (``{'loss': ..., 'grad_norm':
..., 'learning_rate': ..., 'epoch': ...}``), with ``logging_nan_inf_filter`` on in most runs,
so a NaN loss is logged as a finite number and only ``grad_norm`` shows the ``nan``. The
optimizer and schedule are the Trainer's own (``optim``, ``lr_scheduler_type``,
``warmup_steps``, ``max_grad_norm``) wherever it has them; a step or jump schedule is a
``LambdaLR`` passed in ``optimizers=``, as users do.

Ground truth is read back from what the run wrote: the event files, the console's dict lines
(each paired with the step the Trainer logged it at, in ``trainer_state``'s order) and the
last checkpoint's ``trainer_state.json``. Where the filter masks the loss, the first
non-finite step is the first logged step whose ``grad_norm`` is not finite (the report
contract's definition). TensorFlow is hidden, as on a torch-only job.
"""

from __future__ import annotations

import json
import os
import random
import sys
import traceback
from pathlib import Path
from typing import Any

sys.modules["tensorflow"] = None  # type: ignore[assignment]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from scenarios import common  # noqa: E402
from scenarios.common import Stream, Truth  # noqa: E402
from scenarios.matrix import Scenario  # noqa: E402
from scenarios.readback import console_points, read_scalar  # noqa: E402
from scenarios.runner import run_all  # noqa: E402
from scenarios.torch_worker import build_model, loss_fn  # noqa: E402

torch.set_num_threads(1)

# The Trainer's own schedules for ours; the others ("step", "step_jump") are a LambdaLR.
HF_SCHEDULE = {
    "constant": ("constant", 0),
    "cosine": ("cosine", 0),
    "warmup_cosine": ("cosine", None),
    "warmup_constant": ("constant_with_warmup", None),
    "warmup_jump": ("constant_with_warmup", None),
    "warm_restarts": ("cosine_with_restarts", 0),
}
HF_OPTIM = {"sgd": "sgd", "sgdm": "sgd", "adam": "adamw_torch", "adamw": "adamw_torch", "rmsprop": "rmsprop"}


class JobKilled(BaseException):
    """The scheduler's SIGTERM at the time limit: not an exception the job prints."""


class Wrapped(nn.Module):
    """The scenario's model with a Trainer-style forward: ``(x, labels) -> {"loss", "logits"}``.

    Records the raw per-step loss (before the Trainer's NaN filter) for the ground truth, and
    carries the look-alikes that happen inside a step (an allocation failure, a bookkeeping bug).
    """

    def __init__(self, net: nn.Module, sc: Scenario, s: Stream, truth: Truth, half: bool, event_step: int) -> None:
        super().__init__()
        self.net = net
        self.sc, self.s, self.truth, self.half, self.event_step = sc, s, truth, half, event_step
        self.step = 0  # set by the callback before each step

    def forward(self, x, labels=None):
        sc = self.sc
        if self.training and sc.lookalike == "oom" and self.step == self.event_step:
            torch.empty((2**41,), dtype=torch.float32)  # a real allocation failure
        if self.training and sc.lookalike == "crash" and self.step == self.event_step:
            torch.stack([x, x[:1]])  # a bookkeeping bug
        out = self.net(x.half() if self.half else x)
        loss = loss_fn(sc, self.s, out, labels)
        if self.training:
            self.truth.step_losses.append(float(loss.detach()))
            self.truth.last_step = self.step
        return {"loss": loss, "logits": out}


class StreamEpochs(torch.utils.data.Dataset):
    """The stream as a map-style dataset read in order (``train_sampling_strategy="sequential"``):
    Trainer epoch ``e`` reads the stream's rows from ``e * spe`` batches on, so no row is read twice
    and the fault's step is the stream's. The epoch is advanced by ``StepHooks.on_epoch_begin``."""

    def __init__(self, sc: Scenario, s: Stream, spe: int) -> None:
        self.s, self.rows, self.epoch = s, spe * sc.batch, -1
        self.total = sc.steps * sc.batch

    def __len__(self) -> int:
        return self.rows

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        # past the last step (a loader fetching ahead) the last row stands in: never trained on
        row = min(self.epoch * self.rows + i, self.total - 1)
        return {"x": torch.from_numpy(np.ascontiguousarray(self.s.x[row])), "labels": torch.as_tensor(self.s.y[row])}


def _eval_dataset(sc: Scenario, s: Stream):
    """A small held-out set for early stopping: fresh rows, a fifth of the labels noisy."""
    rng = np.random.default_rng(sc.seed + 23)
    n = 4 * sc.batch
    x = rng.normal(0, 1, size=(n, *s.x.shape[1:])).astype(np.float32)
    y = s.y[rng.integers(0, len(s.y), n)].copy()
    rows = [{"x": torch.from_numpy(x[i]), "labels": torch.as_tensor(y[i])} for i in range(n)]
    return rows


def train_hf(sc: Scenario, run_dir: Path, truth: Truth) -> dict[str, Any]:
    import transformers
    from transformers import EarlyStoppingCallback, Trainer, TrainerCallback, TrainingArguments

    r = random.Random(sc.seed + 29)
    torch.manual_seed(sc.seed % 2**31)
    s = common.make_stream(sc)
    half = sc.detail == "fp16_overflow"
    net = build_model(sc, s)
    if half:
        net = net.half()
    event_step = random.Random(sc.seed + 17).randint(int(sc.steps * 0.4), int(sc.steps * 0.85))
    model = Wrapped(net, sc, s, truth, half, event_step)
    spe = common.steps_per_epoch(sc)
    masked = r.random() < 0.8  # the Trainer's default is to filter NaN/Inf losses out of the log
    output_dir = r.choice(("outputs", "results", "out/run1", "."))
    tb_dir = r.choice(("runs/exp", "logs", "tensorboard"))
    report_tb = sc.evidence == "events" or r.random() < 0.8
    final_save = r.random() < 0.5
    log_info = r.random() < 0.5
    if log_info:
        transformers.logging.set_verbosity_info()
    else:
        transformers.logging.set_verbosity_warning()
    hf_sched = HF_SCHEDULE.get(sc.schedule)
    kw: dict[str, Any] = {}
    if hf_sched is not None:
        name, warm = hf_sched
        peak = common.base_lr(sc) * (sc.magnitude if sc.schedule == "warmup_jump" else 1.0)
        kw.update(lr_scheduler_type=name, warmup_steps=sc.warmup if warm is None else warm, learning_rate=peak)
        if name == "cosine_with_restarts":
            kw["lr_scheduler_kwargs"] = {"num_cycles": 3}
        kw["optim"] = HF_OPTIM[sc.optimizer]
        if sc.optimizer == "sgdm":
            kw["optim_args"] = "momentum=0.9"
        kw["weight_decay"] = 0.01 if sc.optimizer == "adamw" else 0.0
    else:
        kw["learning_rate"] = common.base_lr(sc)
    if isinstance(sc.log_every, int):
        kw.update(logging_strategy="steps", logging_steps=sc.log_every, logging_first_step=r.random() < 0.3)
    else:
        kw["logging_strategy"] = "epoch"
    if sc.ckpt == "steps":
        kw.update(save_strategy="steps", save_steps=sc.ckpt_every)
    elif sc.ckpt == "epoch":
        kw["save_strategy"] = "epoch"
    else:
        kw["save_strategy"] = "no"
    if sc.ckpt != "none":
        kw["save_total_limit"] = r.choice((None, None, 2, 3))
        kw["save_only_model"] = r.random() < 0.3
    callbacks: list[Any] = []
    eval_rows = None
    if sc.lookalike == "early_stop":
        eval_rows = _eval_dataset(sc, s)
        every = max(5, sc.steps // 12)
        kw.update(eval_strategy="steps", eval_steps=every, metric_for_best_model="eval_loss", greater_is_better=False)
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=r.choice((1, 2))))

    train_rows = StreamEpochs(sc, s, spe)

    class StepHooks(TrainerCallback):
        def on_epoch_begin(self, args, state, control, **k):
            train_rows.epoch += 1

        def on_step_begin(self, args, state, control, **k):
            model.step = state.global_step + 1
            if sc.lookalike == "time_limit" and model.step == event_step:
                print(common.time_limit_line(sc), flush=True)
                raise JobKilled

    callbacks.append(StepHooks())
    if report_tb:
        os.environ["TENSORBOARD_LOGGING_DIR"] = tb_dir
    else:
        os.environ.pop("TENSORBOARD_LOGGING_DIR", None)
    if sc.config_written:
        common.write_config(sc, run_dir, {"seed": sc.seed % 10_000, "trainer": "transformers"})
    common.write_data_sample(sc, run_dir, s)
    cwd = os.getcwd()
    os.chdir(run_dir)  # relative output/logging dirs, as a job started in its folder writes them
    trainer = None
    try:
        args = TrainingArguments(
            output_dir=output_dir, use_cpu=True, seed=sc.seed % 2**31, max_steps=sc.steps,
            per_device_train_batch_size=sc.batch, per_device_eval_batch_size=sc.batch,
            max_grad_norm=sc.clip or 0.0, logging_nan_inf_filter=masked,
            report_to=["tensorboard"] if report_tb else "none", disable_tqdm=r.random() < 0.4,
            dataloader_num_workers=0, train_sampling_strategy="sequential",
            log_level="info" if log_info else "passive", **kw,
        )  # fmt: skip
        optimizers: tuple[Any, Any] = (None, None)
        if hf_sched is None:
            from scenarios.torch_worker import make_optimizer

            opt = make_optimizer(sc, model.parameters())
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: common.lr_at(sc, i + 1, s.onset_step) / sc.lr)
            optimizers = (opt, sched)
        trainer = Trainer(
            model=model, args=args, train_dataset=train_rows, eval_dataset=eval_rows,
            callbacks=callbacks, optimizers=optimizers,
        )  # fmt: skip
        trainer.train()
        if final_save:
            trainer.save_model()
            trainer.save_state()
    except JobKilled:
        truth.ended = "killed"
    except Exception as e:
        traceback.print_exc()
        truth.exception = f"{type(e).__name__}: {e}".splitlines()[0]
        truth.ended = "crashed"
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.chdir(cwd)
        if trainer is not None:
            for cb in trainer.callback_handler.callbacks:
                if getattr(cb, "tb_writer", None) is not None:
                    cb.tb_writer.close()
        transformers.logging.set_verbosity_warning()
    out = run_dir / output_dir
    if truth.ended == "finished" and truth.last_step < sc.steps:
        truth.ended = "stopped"  # early stopping ended it: the Trainer prints nothing about that
    logged = [h for h in (trainer.state.log_history if trainer is not None else []) if "loss" in h and "step" in h]
    _read_back(sc, run_dir, out, run_dir / tb_dir, truth, masked, [int(h["step"]) for h in logged])
    ckpts = sorted(out.glob("checkpoint-*"))
    finals = [out / n for n in ("model.safetensors", "trainer_state.json", "training_args.bin")]
    kinds = {
        "events": [run_dir / tb_dir],
        "log": [run_dir / f"slurm-{common.job_id(sc)}.out"],
        "ckpt": [*ckpts, *finals],
        "config": [run_dir / n for n in ("config.json", "config.yaml", "hparams.json")],
        "data": [run_dir / "data"],
    }
    return {
        "kinds": kinds, "onset_step": s.onset_step, "fault_rows": s.fault_rows, "task": s.task,
        "nan_inf_filter": masked, "output_dir": output_dir, "tensorboard": report_tb, **s.notes,
    }  # fmt: skip


def _read_back(
    sc: Scenario, run_dir: Path, out: Path, tb: Path, truth: Truth, masked: bool, log_steps: list[int]
) -> None:
    """The logged series, from the files: events, console dict lines, the last trainer_state.json."""
    # the contract's series: the loss, or where the filter masks it, the grad norm
    truth.events_loss = read_scalar(tb, "train/grad_norm" if masked else "train/loss")
    states = sorted(out.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    if (out / "trainer_state.json").exists():
        states.append(out / "trainer_state.json")
    history: list[dict[str, Any]] = []
    if states:
        history = [h for h in json.loads(states[-1].read_text())["log_history"] if "loss" in h and "step" in h]
    key = "grad_norm" if masked else "loss"
    truth.state_loss = [(int(h["step"]), float(h.get(key, 0.0))) for h in history]
    # The console prints no step: its n-th dict line is the n-th training log of the run, at the
    # step the Trainer's own log history (``state.log_history``, what trainer_state.json saves) has.
    text = (run_dir / f"slurm-{common.job_id(sc)}.out").read_text(encoding="utf-8", errors="replace")
    printed = console_points(text)
    if len(printed) != len(log_steps):
        raise RuntimeError(f"{len(printed)} training dicts on the console, {len(log_steps)} in the Trainer's history")
    # the console places its dicts on steps only through the header the Trainer prints at INFO
    # level ("Num examples", "Total train batch size": the epoch fractions are step / steps per epoch)
    placeable = "Total optimization steps" in text and "Num examples" in text
    truth.notes["console_places_steps"] = placeable
    if placeable:
        truth.log_loss = [(st, p.get(key, 0.0)) for st, p in zip(log_steps, printed, strict=True)]


def main(argv: list[str]) -> None:
    specs, out, results = Path(argv[0]), Path(argv[1]), Path(argv[2])
    run_all(specs, out, results, lambda sc: train_hf)


if __name__ == "__main__":
    main(sys.argv[1:])
