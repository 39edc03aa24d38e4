"""Train PyTorch (plain loop) and Lightning scenarios, many per process.

    python -m scenarios.torch_worker SCENARIOS.jsonl OUT_DIR RESULTS.jsonl

Each scenario is trained for real into ``OUT_DIR/<name>/``; its console (file
descriptors 1 and 2) goes to ``slurm-<id>.out`` there, and an exception that ends
the job is printed there as Python prints an uncaught one. One result line per
scenario is appended to RESULTS.jsonl (ground truth + what happened). TensorFlow is
hidden, as on a torch-only cluster job, so tensorboard's writers use their pure-Python
fallbacks.
"""

from __future__ import annotations

import math
import random
import sys
import traceback
from pathlib import Path
from typing import Any

sys.modules["tensorflow"] = None  # type: ignore[assignment]

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from scenarios import common  # noqa: E402
from scenarios.common import Stream, Truth  # noqa: E402
from scenarios.matrix import Scenario  # noqa: E402
from scenarios.readback import read_scalar  # noqa: E402
from scenarios.runner import run_all  # noqa: E402

torch.set_num_threads(1)


class BatchStandardize(nn.Module):
    """(x - mean) / std over the batch, with no epsilon: the division-by-zero fault."""

    def forward(self, x):
        return (x - x.mean(0)) / x.std(0)


class SeqHead(nn.Module):
    def __init__(self, kind: str, d: int, h: int, out: int, sc: Scenario) -> None:
        super().__init__()
        self.kind = kind
        if kind == "rnn":
            self.rnn = nn.RNN(d, h, nonlinearity="relu" if sc.seed % 2 else "tanh", batch_first=True)
        elif kind == "lstm":
            self.rnn = nn.LSTM(d, h, batch_first=True)
        else:
            self.rnn = nn.GRU(d, h, batch_first=True)
        self.head = nn.Linear(h, out)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.head(y[:, -1])


class TinyTransformer(nn.Module):
    def __init__(self, d_in: int, seq: int, out: int, layers: int) -> None:
        super().__init__()
        self.proj = nn.Linear(d_in, 32)
        self.pos = nn.Parameter(torch.randn(1, seq, 32) * 0.02)
        layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(32, out)

    def forward(self, x):
        return self.head(self.enc(self.proj(x) + self.pos).mean(1))


class CosineHead(nn.Module):
    """Logits as scaled cosine similarities to class prototypes (the fp16 fault scales them)."""

    def __init__(self, body: nn.Module, classes: int, scale: float) -> None:
        super().__init__()
        self.body, self.scale = body, scale
        self.prototypes = nn.Parameter(torch.randn(classes, 32))

    def forward(self, x):
        return F.normalize(self.body(x), dim=1) @ F.normalize(self.prototypes, dim=1).T * self.scale


def _act(sc: Scenario):
    return (nn.ReLU, nn.GELU, nn.Tanh)[sc.seed % 3]


def build_model(sc: Scenario, s: Stream) -> nn.Module:
    shape = common.input_shape(sc)
    cosine = sc.detail == "fp16_overflow"
    out = 32 if cosine else (1 if s.task == "reg" or (sc.detail == "log_of_zero" and s.classes == 2) else s.classes)
    act = _act(sc)
    rng = random.Random(sc.seed + 11)
    if sc.arch == "mlp":
        h = rng.choice((32, 64))
        m: nn.Module = nn.Sequential(
            nn.Flatten(), nn.Linear(shape[0], h), act(), nn.Linear(h, h), act(), nn.Linear(h, out)
        )
    elif sc.arch == "deep_mlp":
        depth = rng.randint(8, 20)
        layers: list[nn.Module] = [nn.Flatten(), nn.Linear(shape[0], 32), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Linear(32, 32), nn.ReLU()]
        layers.append(nn.Linear(32, out))
        m = nn.Sequential(*layers)
        gain = sc.magnitude if sc.detail == "exploding_gradients" else 1.0
        for mod in m.modules():
            if isinstance(mod, nn.Linear):
                nn.init.kaiming_normal_(mod.weight, nonlinearity="relu")
                mod.weight.data *= gain
                nn.init.zeros_(mod.bias)
    elif sc.arch == "cnn":
        m = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), act(), nn.Conv2d(8, 16, 3, padding=1), act(),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(64, out),
        )  # fmt: skip
    elif sc.arch in ("rnn", "lstm", "gru"):
        m = SeqHead(sc.arch, shape[1], 32, out, sc)
        if sc.detail == "exploding_gradients":
            for name, p in m.rnn.named_parameters():
                if "weight_hh" in name:
                    for k in range(p.shape[0] // 32):
                        nn.init.orthogonal_(p.data[k * 32 : (k + 1) * 32], gain=sc.magnitude)
                elif "weight_ih" in name:
                    p.data *= sc.magnitude
    else:
        m = TinyTransformer(shape[1], shape[0], out, 1 + sc.seed % 2)
    if sc.detail == "division_by_zero":
        m = nn.Sequential(BatchStandardize(), m)
    if cosine:
        m = CosineHead(m, s.classes, sc.magnitude)
    return m


def make_optimizer(sc: Scenario, params):
    if sc.optimizer == "sgd":
        return torch.optim.SGD(params, lr=sc.lr)
    if sc.optimizer == "sgdm":
        return torch.optim.SGD(params, lr=sc.lr, momentum=0.9)
    if sc.optimizer == "adam":
        return torch.optim.Adam(params, lr=sc.lr)
    if sc.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=sc.lr, weight_decay=0.01)
    return torch.optim.RMSprop(params, lr=sc.lr)


def loss_fn(sc: Scenario, s: Stream, out, yb):
    if sc.detail == "log_of_zero":  # hand-written cross-entropy, no epsilon
        if s.classes == 2:
            p = torch.sigmoid(out[:, 0] * sc.magnitude)
            t = yb.float()
            return -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).mean()
        prob = torch.softmax(out * sc.magnitude, dim=1)
        return -torch.log(prob.gather(1, yb[:, None])).mean()
    if sc.detail == "fp16_overflow":  # hand-written log-sum-exp in the model's float16
        return (torch.log(torch.exp(out).sum(1)) - out.gather(1, yb[:, None]).squeeze(1)).mean()
    if s.task == "cls":
        return F.cross_entropy(out.float(), yb)
    return F.mse_loss(out.float(), yb)


def grad_norm(model: nn.Module) -> float:
    gs = [p.grad.detach().float() for p in model.parameters() if p.grad is not None]
    if not gs:
        return 0.0
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in gs])))


class Loggers:
    """The run's event writer, console lines and checkpoints, with the truth they leave."""

    def __init__(self, sc: Scenario, run_dir: Path, truth: Truth) -> None:
        self.sc, self.run_dir, self.truth = sc, run_dir, truth
        r = random.Random(sc.seed + 13)
        self.events_dir = run_dir / r.choice(("logs", "runs/exp1", "tb", "tensorboard", "logs/train"))
        self.tags = (
            r.choice(("train/loss", "loss", "Loss/train", "train_loss")),
            r.choice(("train/lr", "lr", "learning_rate", "LR")),
            r.choice(("train/grad_norm", "grad_norm", "GradNorm/total")),
        )
        if r.random() < 0.3:
            from tensorboardX import SummaryWriter
        else:
            from torch.utils.tensorboard import SummaryWriter
        self.writer = SummaryWriter(str(self.events_dir))
        self.ckpt_style = r.randrange(3)
        self.ckpt_paths: list[Path] = []
        self.histograms = r.random() < 0.3
        self.spe = common.steps_per_epoch(sc)
        self.epoch_losses: list[float] = []

    def step(self, model: nn.Module, step: int, loss: float, lr: float, gn: float | None) -> None:
        sc = self.sc
        self.truth.step_losses.append(loss)
        self.truth.last_step = step
        self.epoch_losses.append(loss)
        if isinstance(sc.log_every, int) and step % sc.log_every == 0:
            self._scalars(step, loss, lr, gn)
        if isinstance(sc.print_every, int) and (step % sc.print_every == 0):
            print(common.log_line(sc, step, loss, lr, gn))
            self.truth.log_loss.append((step, loss))
        if self.histograms and step % 25 == 0 and math.isfinite(loss):
            for name, p in list(model.named_parameters())[:3]:
                if torch.isfinite(p).all():
                    self.writer.add_histogram(f"weights/{name}", p.detach().float(), step, bins=20)
        if sc.ckpt == "steps" and step % sc.ckpt_every == 0:
            self.checkpoint(model, step, None)
        if step % self.spe == 0:
            self.end_epoch(model, step)

    def _scalars(self, step: int, loss: float, lr: float, gn: float | None) -> None:
        self.writer.add_scalar(self.tags[0], loss, step)
        self.writer.add_scalar(self.tags[1], lr, step)
        if gn is not None and self.sc.grad_norm_logged:
            self.writer.add_scalar(self.tags[2], gn, step)

    def end_epoch(self, model: nn.Module, step: int) -> None:
        if not self.epoch_losses:
            return
        epoch = math.ceil(step / self.spe)
        mean = float(np.mean(self.epoch_losses))
        self.epoch_losses = []
        self.truth.epoch_end[epoch] = step
        if self.sc.log_every == "epoch":
            self.writer.add_scalar(self.tags[0], mean, epoch)
        if self.sc.print_every == "epoch":
            print(common.epoch_line(self.sc, epoch, mean))
            self.truth.log_epochs.append((epoch, mean))
        self.writer.flush()
        if self.sc.ckpt == "epoch":
            self.checkpoint(model, step, epoch)

    def checkpoint(self, model: nn.Module, step: int, epoch: int | None) -> None:
        from safetensors.torch import save_file

        state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
        meta = {"step": str(step)} if self.sc.seed % 2 else None
        if epoch is not None:
            rel = (
                "checkpoints/epoch_{e:03d}.safetensors",
                "ckpt/epoch{e}.safetensors",
                "checkpoint-{s}/model.safetensors",
            )
        else:
            rel = (
                "checkpoints/step_{s:06d}.safetensors",
                "ckpt/model_step{s}.safetensors",
                "checkpoint-{s}/model.safetensors",
            )
        path = self.run_dir / rel[self.ckpt_style].format(s=step, e=epoch or 0)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(state, str(path), metadata=meta)
        self.ckpt_paths.append(path.parent if path.parent != self.run_dir else path)

    def close(self) -> None:
        self.writer.close()


def _tensors(sc: Scenario, s: Stream, step: int, half: bool):
    xb, yb = s.batch(step, sc.batch)
    x = torch.from_numpy(np.ascontiguousarray(xb))
    y = torch.from_numpy(np.ascontiguousarray(yb))
    return (x.half() if half else x), y


def train_torch(sc: Scenario, run_dir: Path, truth: Truth) -> dict[str, Any]:
    torch.manual_seed(sc.seed % 2**31)
    s = common.make_stream(sc)
    model = build_model(sc, s)
    half = sc.detail == "fp16_overflow"
    if half:
        model = model.half()
    opt = make_optimizer(sc, model.parameters())
    logs = Loggers(sc, run_dir, truth)
    if sc.config_written:
        common.write_config(sc, run_dir, {"seed": sc.seed % 10_000, "precision": "fp16" if half else "fp32"})
    common.write_data_sample(sc, run_dir, s)
    nparams = sum(p.numel() for p in model.parameters())
    lr0 = common.base_lr(sc)
    print(f"model: {sc.arch} ({nparams} parameters) | optimizer: {sc.optimizer} lr={lr0:g} | batch {sc.batch}")
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**24) if sc.lookalike == "fp16_skips" else None
    event_step = random.Random(sc.seed + 17).randint(int(sc.steps * 0.4), int(sc.steps * 0.85))
    nan_left: int | None = None
    try:
        for step in range(1, sc.steps + 1):
            if sc.lookalike == "early_stop" and step == event_step:
                print(f"Early stopping: validation loss has not improved for 5 evaluations (step {step})")
                truth.ended = "stopped"
                break
            if sc.lookalike == "time_limit" and step == event_step:
                logs.writer.flush()
                print(common.time_limit_line(sc))
                truth.ended = "killed"
                break
            if sc.lookalike == "oom" and step == event_step:
                print(f"step {step}: running evaluation on the full validation set")
                torch.empty((2**41,), dtype=torch.float32)  # a real allocation failure
            lr = common.lr_at(sc, step, s.onset_step)
            for g in opt.param_groups:
                g["lr"] = lr
            xb, yb = _tensors(sc, s, step, half)
            if sc.lookalike == "crash" and step == event_step:
                # a bookkeeping bug: stacking this batch with a slice of it
                torch.stack([xb, xb[:1]])
            opt.zero_grad()
            if scaler is not None:
                with torch.autocast("cpu", dtype=torch.float16):
                    out = model(xb)
                loss = loss_fn(sc, s, out, yb)
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
                gn = float(torch.nn.utils.clip_grad_norm_(model.parameters(), sc.clip or 1e9))
                scaler.step(opt)
                scaler.update()
                if not math.isfinite(gn) and truth.grad_norm_nonfinite_step is None:
                    truth.grad_norm_nonfinite_step = step
            else:
                out = model(xb)
                loss = loss_fn(sc, s, out, yb)
                loss.backward()
                gn = float(torch.nn.utils.clip_grad_norm_(model.parameters(), sc.clip)) if sc.clip else grad_norm(model)
                opt.step()
            lv = float(loss.item())
            logs.step(model, step, lv, lr, gn)
            if not math.isfinite(lv) and nan_left is None:
                nan_left = common.stop_after_nan(sc)
                if sc.seed % 3 == 0:
                    print(f"WARNING: non-finite loss {lv} at step {step}")
                    truth.log_loss.append((step, lv))  # the console shows this step's loss too
            if nan_left is not None:
                nan_left -= 1
                if nan_left < 0:
                    print(f"Loss is {lv} for too long; stopping at step {step}")
                    truth.ended = "stopped"
                    logs.end_epoch(model, step)
                    break
        else:
            logs.end_epoch(model, sc.steps)
    except Exception as e:
        traceback.print_exc()
        truth.exception = f"{type(e).__name__}: {e}".splitlines()[0]
        truth.ended = "crashed"
    finally:
        logs.close()
    # what the event files hold, read back (a float32 summary can turn a huge finite loss into inf)
    truth.events_loss = read_scalar(logs.events_dir, logs.tags[0])
    if sc.log_every == "epoch":  # written at the epoch number (1-based)
        truth.events_epochs, truth.events_loss = truth.events_loss, []
        truth.events_epochs_on_step_axis = True
    kinds = {
        "events": [logs.events_dir],
        "log": [run_dir / f"slurm-{common.job_id(sc)}.out"],
        "ckpt": logs.ckpt_paths,
        "config": [run_dir / n for n in ("config.json", "config.yaml", "hparams.json")],
        "data": [run_dir / "data"],
    }
    return {"kinds": kinds, "onset_step": s.onset_step, "fault_rows": s.fault_rows, "task": s.task, **s.notes}


def main(argv: list[str]) -> None:
    specs, out, results = Path(argv[0]), Path(argv[1]), Path(argv[2])
    from scenarios.lightning_worker import train_lightning

    run_all(specs, out, results, lambda sc: train_lightning if sc.framework == "lightning" else train_torch)


if __name__ == "__main__":
    main(sys.argv[1:])
