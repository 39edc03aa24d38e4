"""Lightning scenarios: the same models and data stream as the plain loop, trained by
``lightning.Trainer`` with its TensorBoardLogger and ModelCheckpoint (pickled ``.ckpt``,
as Lightning writes them). The loss the logger wrote is read back from the event files."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scenarios import common
from scenarios.common import Truth
from scenarios.matrix import Scenario
from scenarios.readback import read_scalar


def train_lightning(sc: Scenario, run_dir: Path, truth: Truth) -> dict[str, Any]:
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import TensorBoardLogger
    from torch.utils.data import DataLoader

    from scenarios.torch_worker import build_model, grad_norm, loss_fn, make_optimizer

    L.seed_everything(sc.seed % 2**31, verbose=False)
    s = common.make_stream(sc)
    model = build_model(sc, s)
    event_step = random.Random(sc.seed + 17).randint(int(sc.steps * 0.4), int(sc.steps * 0.85))
    spe = common.steps_per_epoch(sc)
    stop_after = common.stop_after_nan(sc)

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = model
            self.nan_seen: int | None = None

        def training_step(self, batch, batch_idx):
            xb, yb = batch
            step = self.global_step + 1
            if sc.lookalike == "oom" and step == event_step:
                torch.empty((2**41,), dtype=torch.float32)
            if sc.lookalike == "crash" and step == event_step:
                torch.stack([xb, xb[:1]])  # a bookkeeping bug
            loss = loss_fn(sc, s, self.net(xb), yb)
            per_step = sc.log_every != "epoch"
            self.log("train_loss", loss, on_step=per_step, on_epoch=not per_step, prog_bar=True)
            self.log("lr", self.optimizers().param_groups[0]["lr"], on_step=per_step, on_epoch=not per_step)
            lv = float(loss.detach())
            truth.step_losses.append(lv)
            truth.last_step = step
            if isinstance(sc.print_every, int) and step % sc.print_every == 0:
                print(common.log_line(sc, step, lv, self.optimizers().param_groups[0]["lr"], None))
                truth.log_loss.append((step, lv))
            if not math.isfinite(lv) and self.nan_seen is None:
                self.nan_seen = step
            return loss

        def on_after_backward(self) -> None:
            if sc.grad_norm_logged:
                self.log("grad_norm", grad_norm(self.net), on_step=sc.log_every != "epoch")

        def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
            step = self.global_step
            if sc.lookalike in ("early_stop", "time_limit") and step + 1 == event_step:
                if sc.lookalike == "time_limit":
                    print(common.time_limit_line(sc))
                    truth.ended = "killed"
                else:
                    print(f"Monitored metric val_loss did not improve in the last 5 records. Stopping at step {step}.")
                    truth.ended = "stopped"
                self.trainer.should_stop = True
            if self.nan_seen is not None and step - self.nan_seen >= stop_after:
                print(f"Loss is not finite since step {self.nan_seen}; stopping.")
                truth.ended = "stopped"
                self.trainer.should_stop = True

        def on_train_epoch_end(self) -> None:
            epoch = self.current_epoch + 1
            truth.epoch_end[epoch] = self.global_step
            if sc.print_every == "epoch":
                vals = truth.step_losses[-spe:]
                mean = float(np.mean(vals)) if vals else float("nan")
                print(common.epoch_line(sc, epoch, mean))
                truth.log_epochs.append((epoch, mean))

        def configure_optimizers(self):
            opt = make_optimizer(sc, self.parameters())
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: common.lr_at(sc, i + 1, s.onset_step) / sc.lr)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    epochs = math.ceil(sc.steps / spe)
    callbacks = []
    if sc.ckpt != "none":
        kw = {"every_n_train_steps": sc.ckpt_every} if sc.ckpt == "steps" else {"every_n_epochs": 1}
        callbacks.append(ModelCheckpoint(dirpath=run_dir / "checkpoints", save_top_k=-1, **kw))
    logger = TensorBoardLogger(str(run_dir), name="lightning_logs")
    if sc.config_written:
        common.write_config(sc, run_dir, {"seed": sc.seed % 10_000, "trainer": "lightning"})
    common.write_data_sample(sc, run_dir, s)
    trainer = L.Trainer(
        max_steps=sc.steps, max_epochs=epochs, logger=logger, callbacks=callbacks,
        log_every_n_steps=sc.log_every if isinstance(sc.log_every, int) else 50,
        enable_progress_bar=sc.seed % 2 == 0, enable_model_summary=sc.seed % 3 == 0,
        gradient_clip_val=sc.clip, accelerator="cpu", devices=1, deterministic=False,
    )  # fmt: skip
    # the stream, epoch by epoch: the dataloader re-reads the stream's next slice each epoch
    module = Module()

    class StreamLoader(torch.utils.data.IterableDataset):
        """Each epoch reads the next ``spe`` batches of the stream (never a batch twice)."""

        pos = 0

        def __iter__(self):
            for _ in range(spe):
                StreamLoader.pos += 1
                if StreamLoader.pos > sc.steps:
                    return
                xb, yb = s.batch(StreamLoader.pos, sc.batch)
                yield torch.from_numpy(np.ascontiguousarray(xb)), torch.from_numpy(np.ascontiguousarray(yb))

    stream_loader = DataLoader(StreamLoader(), batch_size=None)
    trainer.limit_train_batches = spe
    try:
        trainer.fit(module, stream_loader)
    except Exception as e:
        import traceback

        traceback.print_exc()
        truth.exception = f"{type(e).__name__}: {e}".splitlines()[0]
        truth.ended = "crashed"
    events_dir = run_dir / "lightning_logs"
    per_step = sc.log_every != "epoch"
    tag = "train_loss_step" if False else ("train_loss" if per_step else "train_loss_epoch")
    truth.events_loss = read_scalar(events_dir, tag) or read_scalar(events_dir, "train_loss")
    kinds = {
        "events": [events_dir],
        "log": [run_dir / f"slurm-{common.job_id(sc)}.out"],
        "ckpt": [run_dir / "checkpoints"],
        "config": [run_dir / n for n in ("config.json", "config.yaml", "hparams.json")],
        "data": [run_dir / "data"],
    }
    return {"kinds": kinds, "onset_step": s.onset_step, "fault_rows": s.fault_rows, "task": s.task}
