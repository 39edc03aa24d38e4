"""PyTorch and tensorboardX sample runs: tiny models trained into known failures.

Each run is trained by this same file run as a script in a subprocess, with the
run directory as its working directory and its console captured as
``slurm-<id>.out``, exactly as a cluster job would leave it:

    python -u gen_torch.py worker <run_name> [--resume]

The parent side (``RUNS``, used by ``generate.py``) launches the job(s), then
reads the loss back from the event files that were written to find the step,
as logged, of the first non-finite loss, and checks it against the worker's own
bookkeeping (kept in a temp file outside the run directory).

The dev environment has TensorFlow installed for the Keras runs; a torch job on
a cluster usually has not, and TensorBoard/tensorboardX would otherwise import
it and print absl start-up noise (with wall-clock stamps) into every log. The
worker therefore hides TensorFlow before importing them; the writers then use
their pure-Python fallbacks, which write the same event files.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import signal
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

SIDE_ENV = "GEN_TORCH_SIDE_FILE"  # where the worker writes its own bookkeeping (outside the run dir)
# "pt": the worker saves its checkpoints with torch.save (model, optimizer, step, epoch) instead of
# safetensors: the twins of the safetensors runs, for the PyTorch checkpoint reader
CKPT_ENV = "GEN_TORCH_CKPT_FORMAT"


# --------------------------------------------------------------------------------------------
# Parent side: launch the job(s), read the events back.
# --------------------------------------------------------------------------------------------


def _launch(
    run_dir: Path, run: str, job_id: int, *args: str, ckpt_format: str | None = None
) -> tuple[int, dict[str, Any]]:
    """Run one training job in a subprocess, console to slurm-<job_id>.out; return (exit code, bookkeeping)."""
    with tempfile.TemporaryDirectory(prefix="gen_torch_") as tmp:
        side = Path(tmp) / "side.json"
        env = dict(os.environ)
        env[SIDE_ENV] = str(side)
        env.pop(CKPT_ENV, None)
        if ckpt_format:
            env[CKPT_ENV] = ckpt_format
        env["OMP_NUM_THREADS"] = "1"
        env["PYTHONHASHSEED"] = "0"
        with open(run_dir / f"slurm-{job_id}.out", "wb") as log:
            proc = subprocess.run(
                [sys.executable, "-u", str(Path(__file__).resolve()), "worker", run, *args],
                cwd=run_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                check=False,
            )
        book = json.loads(side.read_text()) if side.exists() else {}
    return proc.returncode, book


def _events(path: Path):
    """Event protos of one file: TFRecord framing read by hand, protos parsed with TensorBoard's classes.

    No TensorFlow here (generate.py may have it loaded for the Keras runs; we do not
    want either to depend on the other). CRCs are not checked: we wrote these files.
    """
    import struct

    from tensorboard.compat.proto.event_pb2 import Event

    data = path.read_bytes()
    pos = 0
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        start, end = pos + 12, pos + 12 + length
        if end + 4 > len(data):
            break  # a record cut short by a kill: everything before it stands
        yield Event.FromString(data[start:end])
        pos = end + 4


def _read_scalar(logdir: Path, tag: str) -> list[tuple[int, float]]:
    """The (step, value) series of `tag` across every event file under `logdir`, in write order.

    Files are taken in the order their first event was written. When a step goes
    back (a job restarted from a checkpoint appends to the same logdir), the
    points at and after that step are dropped, as TensorBoard does: what remains is
    the timeline the run finally followed.
    """
    files = []
    for path in logdir.rglob("events.out.tfevents*"):
        events = list(_events(path))
        if events:
            files.append((events[0].wall_time, str(path), events))
    points: list[tuple[int, float]] = []
    for _, _, events in sorted(files):
        for ev in events:
            for v in ev.summary.value:
                if v.tag != tag or not v.HasField("simple_value"):
                    continue
                while points and points[-1][0] >= ev.step:
                    points.pop()
                points.append((ev.step, v.simple_value))
    return points


def _first_nonfinite(points: list[tuple[int, float]]) -> int | None:
    return next((s for s, v in points if not math.isfinite(v)), None)


def _checked_result(run_dir: Path, logdir: str, tag: str, book: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Build()'s return value, with the first non-finite step read back from the events."""
    points = _read_scalar(run_dir / logdir, tag)
    if not points:
        raise RuntimeError(f"{run_dir.name}: no '{tag}' scalars written under {logdir}")
    first = _first_nonfinite(points)
    if first != book.get("first_nonfinite_step"):
        raise RuntimeError(
            f"{run_dir.name}: events say first non-finite '{tag}' at {first}, "
            f"the worker saw {book.get('first_nonfinite_step')}"
        )
    return {
        "first_nonfinite_step": first,
        "step_unit": "step",
        "steps_per_epoch": book.get("steps_per_epoch"),
        "last_logged_step": points[-1][0],
        **{k: v for k, v in book.items() if k not in ("first_nonfinite_step", "steps_per_epoch")},
        **extra,
    }


def _raised(run_dir: Path, job_id: int) -> str | None:
    """The exception line closing a traceback in the job's log, if the job died of one."""
    lines = (run_dir / f"slurm-{job_id}.out").read_text().splitlines()
    for i, line in enumerate(lines):
        if "Traceback (most recent call last):" in line:
            tail = [ln for ln in lines[i + 1 :] if ln and not ln.startswith((" ", "\t"))]
            return tail[0] if tail else None
    return None


def _simple_build(
    run: str, job_id: int, logdir: str, tag: str, expect_rc: int = 0, ckpt_format: str | None = None
) -> Callable[[Path], dict]:
    def build(run_dir: Path) -> dict[str, Any]:
        rc, book = _launch(run_dir, run, job_id, ckpt_format=ckpt_format)
        if rc != expect_rc:
            raise RuntimeError(f"{run}: training job exited {rc}, expected {expect_rc}; see slurm-{job_id}.out")
        extra = {"raised": _raised(run_dir, job_id)} if rc else {}
        return _checked_result(run_dir, logdir, tag, book, **extra)

    return build


def _build_restarted(run_dir: Path) -> dict[str, Any]:
    """torch_lr_schedule_spike: a first job preempted (killed) at step 130, a second resumed from step 100."""
    rc1, _ = _launch(run_dir, "torch_lr_schedule_spike", 5123801)
    if rc1 != -signal.SIGKILL:
        raise RuntimeError(f"first job should have been killed, exited {rc1}")
    rc2, book = _launch(run_dir, "torch_lr_schedule_spike", 5124377, "--resume")
    if rc2 != 0:
        raise RuntimeError(f"resumed job exited {rc2}")
    return _checked_result(
        run_dir, "logs", "train/loss", book, killed_at_step=PREEMPT_AT, resumed_from_step=book.get("resumed_from")
    )


def _build_labels(run_dir: Path) -> dict[str, Any]:
    rc, book = _launch(run_dir, "torch_labels_out_of_range", 7730412)
    raised = _raised(run_dir, 7730412)
    if rc == 0 or not raised or not raised.startswith("IndexError"):
        raise RuntimeError(f"torch_labels_out_of_range: expected an IndexError, got exit {rc} / {raised}")
    crashed_at = book.pop("last_step") + 1  # the step whose loss raised; the last logged one is before it
    return _checked_result(run_dir, "tb_logs", "train/loss", book, raised=raised, crashed_at_step=crashed_at)


# --------------------------------------------------------------------------------------------
# Worker side: the training scripts. Everything below runs inside the job, cwd = run dir.
# --------------------------------------------------------------------------------------------


class Book:
    """The worker's own record of what it logged, written outside the run dir for build() to check."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {"first_nonfinite_step": None}
        atexit.register(self.save)  # also when the job dies of an exception (not of SIGKILL)

    def loss(self, step: int, value: float) -> None:
        if self.data["first_nonfinite_step"] is None and not math.isfinite(value):
            self.data["first_nonfinite_step"] = step

    def save(self) -> None:
        path = os.environ.get(SIDE_ENV)
        if path:
            Path(path).write_text(json.dumps(self.data))


def _hide_tensorflow() -> None:
    # See the module docstring: behave as a torch-only environment.
    sys.modules["tensorflow"] = None  # type: ignore[assignment]


def _seed(seed: int):
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    return np.random.default_rng(seed)


def _grad_norm(params) -> float:
    import torch

    grads = [p.grad.detach().float() for p in params if p.grad is not None]
    if not grads:
        return 0.0
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))


def _state(model) -> dict:
    return {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}


def _save(model, path: str, metadata: dict[str, str] | None = None, *, opt=None, step=None, epoch=None) -> str:
    """Save a checkpoint as the run's format says: safetensors (the default), or torch.save of a
    training checkpoint (model, optimizer, global step, epoch) as a .pt file. Returns the path written."""
    if os.environ.get(CKPT_ENV) == "pt":
        import torch

        path = path.removesuffix(".safetensors") + ".pt"
        state = {"model": _state(model), "global_step": step, "epoch": epoch}
        if opt is not None:
            state["optimizer"] = opt.state_dict()
        torch.save(state, path)
        return path
    from safetensors.torch import save_file

    save_file(_state(model), path, metadata=metadata)
    return path


def _blobs(rng, n: int, dim: int, classes: int, spread: float = 1.0):
    """Gaussian class clusters around random centres: an easy, learnable classification task."""
    import numpy as np

    centres = rng.normal(0.0, 1.0, size=(classes, dim)) * 1.5
    y = rng.integers(0, classes, size=n)
    x = centres[y] + rng.normal(0.0, spread, size=(n, dim))
    return x.astype(np.float32), y.astype(np.int64)


def _teacher_regression(rng, n: int, dim: int, noise: float = 0.1):
    """Targets from a random two-layer tanh teacher, so a small MLP can fit them."""
    import numpy as np

    w1 = rng.normal(0, 1 / math.sqrt(dim), size=(dim, 32))
    w2 = rng.normal(0, 1 / math.sqrt(32), size=(32, 1))
    x = rng.normal(0, 1, size=(n, dim))
    y = np.tanh(x @ w1) @ w2 + noise * rng.normal(size=(n, 1))
    return x.astype(np.float32), y.astype(np.float32)


# ---- 1. torch_lr_schedule_spike -------------------------------------------------------------
# Regression MLP, SGD+momentum at a sane 0.05 after a short warmup; a milestone at step 160
# multiplies the LR by 20 (the config meant 0.2...). The first job is preempted at step 140 and
# the requeued job resumes from the last checkpoint (step 125), appending to the same logdir.

PREEMPT_AT = 140


def train_lr_schedule_spike(resume: bool) -> None:
    import numpy as np
    import torch
    import torch.nn as nn
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file
    from torch.utils.tensorboard import SummaryWriter

    book = Book()
    cfg = {
        "model": "mlp_tanh", "hidden": 64, "optimizer": "sgd", "momentum": 0.9, "base_lr": 0.05,
        "warmup_steps": 20, "lr_milestones": [160], "lr_gamma": 20.0, "batch_size": 64, "max_steps": 300,
        "save_every": 25, "seed": 0,
    }  # fmt: skip
    data_rng = _seed(cfg["seed"])
    x_np, y_np = _teacher_regression(data_rng, 6000, 16)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    # A requeued job starts a fresh sampler RNG: the replayed steps see other batches.
    rng = np.random.default_rng(1000 + (1 if resume else 0))
    model = nn.Sequential(
        nn.Linear(16, cfg["hidden"]), nn.Tanh(), nn.Linear(cfg["hidden"], cfg["hidden"]), nn.Tanh(),
        nn.Linear(cfg["hidden"], 1),
    )  # fmt: skip
    opt = torch.optim.SGD(model.parameters(), lr=cfg["base_lr"], momentum=cfg["momentum"])

    def lr_at(step: int) -> float:
        lr = cfg["base_lr"] * min(1.0, step / cfg["warmup_steps"])
        for m in cfg["lr_milestones"]:
            if step >= m:
                lr *= cfg["lr_gamma"]
        return lr

    start = 0
    if resume:
        last = sorted(Path("checkpoints").glob("step_*.safetensors"))[-1]
        with safe_open(str(last), "pt") as f:
            start = int(f.metadata()["step"])
        model.load_state_dict(load_file(str(last)))
        print(f"Resuming from {last} (step {start})")
        book.data["resumed_from"] = start
    else:
        Path("checkpoints").mkdir(exist_ok=True)
        Path("config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        print("config:", json.dumps(cfg))
    print(f"train samples: {len(x)} | params: {sum(p.numel() for p in model.parameters())}")

    writer = SummaryWriter("logs")
    nan_streak = 0
    for step in range(start + 1, cfg["max_steps"] + 1):
        idx = torch.from_numpy(rng.integers(0, len(x), size=cfg["batch_size"]))
        lr = lr_at(step)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x[idx]), y[idx])
        loss.backward()
        gn = _grad_norm(model.parameters())
        opt.step()
        lv = loss.item()
        book.loss(step, lv)
        writer.add_scalar("train/loss", lv, step)
        writer.add_scalar("train/lr", lr, step)
        writer.add_scalar("train/grad_norm", gn, step)
        if step % 10 == 0 or not math.isfinite(lv):
            print(f"step {step} | loss {lv:.4f} | lr {lr:.1e} | grad_norm {gn:.3g}")
            writer.flush()
        if step % cfg["save_every"] == 0:
            save_file(_state(model), f"checkpoints/step_{step:06d}.safetensors", metadata={"step": str(step)})
        if not resume and step == PREEMPT_AT:
            # Preemption: SIGKILL, no cleanup. What was flushed at step 140 survives, nothing else.
            book.save()
            os.kill(os.getpid(), signal.SIGKILL)
        nan_streak = nan_streak + 1 if not math.isfinite(lv) else 0
        if nan_streak >= 20:
            print(f"step {step} | 20 consecutive non-finite losses, stopping")
            break
    writer.close()
    book.save()


# ---- 2. torch_exploding_gradients -----------------------------------------------------------
# Vanilla ReLU RNN (IRNN-style orthogonal recurrent init, gain 1.0) on 50-step sequences, plain
# SGD at 2e-3, no gradient clipping. Gradient norm climbs, then the recurrent weights blow up.


def train_exploding_gradients() -> None:
    import numpy as np
    import torch
    import torch.nn as nn
    from torch.utils.tensorboard import SummaryWriter

    book = Book()
    rng = _seed(7)
    T, D, H, N, B = 50, 8, 64, 4000, 32
    x_np = rng.normal(size=(N, T, D)).astype(np.float32)
    y_np = x_np[:, :, 0].sum(1, keepdims=True).astype(np.float32)  # running sum: needs long memory
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)

    class SeqRegressor(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.RNN(D, H, nonlinearity="relu", batch_first=True)
            self.head = nn.Linear(H, 1)
            nn.init.orthogonal_(self.rnn.weight_hh_l0, gain=1.0)

        def forward(self, seq):
            out, _ = self.rnn(seq)
            return self.head(out[:, -1])

    model = SeqRegressor()
    opt = torch.optim.SGD(model.parameters(), lr=2e-3)
    writer = SummaryWriter("runs/irnn_h64_sgd2e-3")
    Path("checkpoints").mkdir(exist_ok=True)
    steps_per_epoch = N // B
    book.data["steps_per_epoch"] = steps_per_epoch
    print(f"SeqRegressor(rnn=RNN({D}, {H}, relu), head=Linear({H}, 1)) | seq_len={T} | sgd lr=2e-3 | no clipping")
    watched = ["rnn.weight_hh_l0", "rnn.weight_ih_l0", "head.weight"]
    step = 0
    for epoch in range(1, 5):
        perm = torch.from_numpy(rng.permutation(N))
        for it in range(steps_per_epoch):
            idx = perm[it * B : (it + 1) * B]
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x[idx]), y[idx])
            loss.backward()
            gn = _grad_norm(model.parameters())
            if step % 5 == 0:
                named = dict(model.named_parameters())
                for name in watched:
                    writer.add_histogram(f"weights/{name}", named[name].detach(), step, bins=30)
                    writer.add_histogram(f"grads/{name}", named[name].grad, step, bins=30)
            opt.step()
            lv = loss.item()
            book.loss(step, lv)
            writer.add_scalar("Loss/train", lv, step)
            writer.add_scalar("GradNorm/total", gn, step)
            writer.add_scalar("LR", opt.param_groups[0]["lr"], step)
            if it % 25 == 0 or not math.isfinite(lv):
                print(f"[epoch {epoch}][{it:3d}/{steps_per_epoch}] loss={lv:.4f} gnorm={gn:.2e}")
            step += 1
            if step % 50 == 0:
                _save(model, f"checkpoints/rnn_iter{step}.safetensors", opt=opt, step=step, epoch=epoch)
        saved = _save(model, f"checkpoints/epoch_{epoch:03d}.safetensors", opt=opt, step=step, epoch=epoch)
        print(f"epoch {epoch} done, saved {saved}")
    writer.close()
    book.save()


# ---- 3. torch_fp16_overflow -----------------------------------------------------------------
# Cosine-prototype classifier (temperature 0.07) trained entirely in float16, with a hand-written
# log-sum-exp: exp(logit) passes 65504 once a cosine similarity passes ~0.78 (logit > 11.09).
# The same code in float32 would not overflow until logit 88.7.


def train_fp16_overflow() -> None:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from safetensors.torch import save_file
    from torch.utils.tensorboard import SummaryWriter

    book = Book()
    rng = _seed(3)
    x_np, y_np = _blobs(rng, 6000, 32, 8, spread=3.0)
    x, y = torch.from_numpy(x_np).half(), torch.from_numpy(y_np)
    tau, lr, B = 0.07, 0.01, 128

    class CosineClassifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 64))
            self.prototypes = nn.Parameter(torch.randn(8, 64))

        def forward(self, inp):
            z = F.normalize(self.encoder(inp), dim=1)
            return z @ F.normalize(self.prototypes, dim=1).T / tau

    model = CosineClassifier().half()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    writer = SummaryWriter("tb")
    Path("checkpoints").mkdir(exist_ok=True)
    print(f"model dtype: {next(model.parameters()).dtype} | tau={tau} | lr={lr} | batch={B}")
    for it in range(1, 301):
        idx = torch.from_numpy(rng.integers(0, len(x), size=B))
        logits = model(x[idx])
        # -log softmax, written out by hand
        loss = (torch.log(torch.exp(logits).sum(1)) - logits.gather(1, y[idx, None]).squeeze(1)).mean()
        opt.zero_grad()
        loss.backward()
        gn = _grad_norm(model.parameters())
        opt.step()
        lv = loss.item()
        acc = (logits.argmax(1) == y[idx]).float().mean().item()
        book.loss(it, lv)
        writer.add_scalar("train/loss", lv, it)
        writer.add_scalar("train/acc", acc, it)
        writer.add_scalar("train/lr", lr, it)
        writer.add_scalar("train/grad_norm", gn, it)
        if it % 20 == 0 or (not math.isfinite(lv) and book.data["first_nonfinite_step"] == it):
            print(f"it {it:05d} loss {lv:.4f} acc {acc:.3f} gnorm {gn:.3f}")
        if it % 40 == 0:
            save_file(_state(model), f"checkpoints/ckpt_{it:06d}.safetensors", metadata={"step": str(it)})
    writer.close()
    book.save()


# ---- 4. torch_division_by_zero --------------------------------------------------------------
# Sensor regression; the model standardises each batch by its own std with no epsilon. Rows are
# read in time order, and sensor 5 is stuck at 0.0 for a stretch: the batch that falls wholly
# inside it has std 0 in that column, 0/0 = NaN.

STUCK_ROWS = (7090, 7240)  # rows where sensor 5 reads exactly 0.0


def train_division_by_zero() -> None:
    import numpy as np
    import torch
    import torch.nn as nn
    from safetensors.torch import save_file
    from torch.utils.tensorboard import SummaryWriter

    book = Book()
    rng = _seed(11)
    N, F_, B = 9600, 12, 64
    t = np.arange(N)[:, None]
    feats = rng.normal(0, 1, size=(N, F_)) + np.sin(t / 500.0 + np.arange(F_))
    feats[STUCK_ROWS[0] : STUCK_ROWS[1], 5] = 0.0
    target = feats[:, :4].sum(1, keepdims=True) * 0.5 + 0.1 * rng.normal(size=(N, 1))
    x, y = torch.from_numpy(feats.astype(np.float32)), torch.from_numpy(target.astype(np.float32))
    # the slice of the training data an engineer would attach: the rows around the failure
    Path("data").mkdir(exist_ok=True)
    np.savez("data/train_sample.npz", sensors=feats[6800:7400].astype(np.float32), target=target[6800:7400])

    class BatchStandardize(nn.Module):
        def forward(self, inp):
            return (inp - inp.mean(0)) / inp.std(0)

    model = nn.Sequential(BatchStandardize(), nn.Linear(F_, 64), nn.ReLU(), nn.Linear(64, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    writer = SummaryWriter("logs")
    Path("checkpoints").mkdir(exist_ok=True)
    steps = N // B
    book.data["steps_per_epoch"] = steps
    for step in range(steps):
        xb, yb = x[step * B : (step + 1) * B], y[step * B : (step + 1) * B]
        loss = nn.functional.mse_loss(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        lv = loss.item()
        book.loss(step, lv)
        writer.add_scalar("Loss/train", lv, step)
        writer.add_scalar("LR", 1e-3, step)
        if math.isnan(lv):
            print(f"WARNING: loss is nan at step {step}")
        if step % 20 == 0:
            print(f"Epoch 1 Step {step}/{steps} Loss: {lv:.4f}")
        if (step + 1) % 50 == 0:
            save_file(_state(model), f"checkpoints/model_step_{step + 1}.safetensors")
    writer.close()
    book.save()


# ---- 5. torch_labels_out_of_range -----------------------------------------------------------
# 5-class classifier; data comes in shards and shard 3 holds a raw category code 8000 that was
# never mapped to a class index. nn.CrossEntropyLoss raises on the batch that carries it.

BAD_LABEL = 8000


def train_labels_out_of_range() -> None:
    import numpy as np
    import torch
    import torch.nn as nn
    from safetensors.torch import save_file
    from torch.utils.tensorboard import SummaryWriter
    from tqdm import tqdm

    book = Book()
    rng = _seed(5)
    shards = []
    for k in range(5):
        feats, labels = _blobs(np.random.default_rng(100 + k), 600, 16, 5, spread=1.2)
        if k == 3:
            labels[417] = BAD_LABEL
            Path("data").mkdir(exist_ok=True)
            np.savez("data/train_sample.npz", features=feats, labels=labels)
        shards.append((torch.from_numpy(feats), torch.from_numpy(labels)))
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 5))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    B = 50
    steps_per_epoch = sum(len(s[1]) for s in shards) // B
    book.data["steps_per_epoch"] = steps_per_epoch
    Path("checkpoints").mkdir(exist_ok=True)
    global_step = 0
    with SummaryWriter("tb_logs") as writer:
        for epoch in range(2):
            pbar = tqdm(total=steps_per_epoch, desc=f"epoch {epoch}", mininterval=1e9, ncols=80)
            for xs, ys in shards:
                perm = torch.from_numpy(rng.permutation(len(ys)))
                for i in range(0, len(ys), B):
                    idx = perm[i : i + B]
                    out = model(xs[idx])
                    loss = criterion(out, ys[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    global_step += 1
                    book.data["last_step"] = global_step
                    book.save()
                    lv = loss.item()
                    book.loss(global_step, lv)
                    writer.add_scalar("train/loss", lv, global_step)
                    writer.add_scalar("train/acc", (out.argmax(1) == ys[idx]).float().mean().item(), global_step)
                    pbar.update(1)
                    pbar.set_postfix(loss=f"{lv:.3f}", refresh=False)
                    if global_step % 20 == 0:
                        save_file(
                            _state(model),
                            f"checkpoints/step_{global_step}.safetensors",
                            metadata={"step": str(global_step)},
                        )
            pbar.close()
    book.save()


# ---- 6. torch_bf16_lr_too_high --------------------------------------------------------------
# Parameters in bfloat16, plain SGD at a constant 0.6 where ~0.05 is sane for this model: the
# loss rises from the first steps and the weights grow geometrically until inf/NaN.


def train_bf16_lr_too_high() -> None:
    import torch
    import torch.nn as nn
    import yaml
    from safetensors.torch import save_file
    from torch.utils.tensorboard import SummaryWriter

    book = Book()
    cfg = {"lr": 0.6, "optimizer": "sgd", "momentum": 0.0, "precision": "bf16", "batch_size": 64,
           "max_steps": 60, "save_every": 5, "hidden": 96}  # fmt: skip
    Path("config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    rng = _seed(0)
    x_np, y_np = _teacher_regression(rng, 4000, 24)
    x, y = torch.from_numpy(x_np).bfloat16(), torch.from_numpy(y_np).bfloat16()
    h = cfg["hidden"]
    model = nn.Sequential(nn.Linear(24, h), nn.Tanh(), nn.Linear(h, h), nn.Tanh(), nn.Linear(h, 1)).bfloat16()
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"])
    writer = SummaryWriter("logs")
    Path("checkpoints").mkdir(exist_ok=True)
    print(f"precision={cfg['precision']} lr={cfg['lr']} params={sum(p.numel() for p in model.parameters())}")
    bad = 0
    for step in range(1, cfg["max_steps"] + 1):
        idx = torch.from_numpy(rng.integers(0, len(x), size=cfg["batch_size"]))
        loss = nn.functional.mse_loss(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        gn = _grad_norm(model.parameters())
        opt.step()
        lv = loss.item()
        book.loss(step, lv)
        writer.add_scalar("train/loss", lv, step)
        writer.add_scalar("train/lr", cfg["lr"], step)
        writer.add_scalar("train/grad_norm", gn, step)
        print(f"step={step} loss={lv:.5g} lr={cfg['lr']} gnorm={gn:.4g}")
        if step % cfg["save_every"] == 0:
            save_file(_state(model), f"checkpoints/model_{step:05d}.safetensors", metadata={"step": str(step)})
        bad = bad + 1 if not math.isfinite(lv) else 0
        if bad == 10:
            print("loss has been non-finite for 10 steps; aborting")
            break
    writer.close()
    book.save()


# ---- 7. tbx_lr_too_high ---------------------------------------------------------------------
# Small GELU CNN on 8x8 synthetic stripe images, tensorboardX writer, SGD+momentum at a constant
# LR of 1e1 (the config meant 1e-1; 0.05 trains this model well).


def _stripes(rng, n: int):
    """8x8 one-channel images of horizontal / vertical / diagonal / anti-diagonal stripes plus noise."""
    import numpy as np

    yy, xx = np.mgrid[0:8, 0:8]
    patterns = [np.sin(yy * 1.6), np.sin(xx * 1.6), np.sin((xx + yy) * 1.1), np.sin((xx - yy) * 1.1)]
    labels = rng.integers(0, 4, size=n)
    imgs = np.stack([patterns[k] for k in labels])[:, None] + rng.normal(0, 0.8, size=(n, 1, 8, 8))
    return imgs.astype(np.float32), labels.astype(np.int64)


def _small_cnn(act: str = "relu"):
    import torch.nn as nn

    a = {"relu": nn.ReLU, "gelu": nn.GELU}[act]
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), a(), nn.Conv2d(8, 16, 3, padding=1), a(),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(64, 4),
    )  # fmt: skip


def train_tbx_lr_too_high() -> None:
    import torch
    import torch.nn as nn
    from safetensors.torch import save_file
    from tensorboardX import SummaryWriter

    book = Book()
    rng = _seed(21)
    x_np, y_np = _stripes(rng, 3000)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    lr = float("1e1")
    Path("hparams.json").write_text(json.dumps({"lr": "1e1", "momentum": 0.9, "batch_size": 64, "iters": 200}) + "\n")
    model = _small_cnn("gelu")
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    writer = SummaryWriter("tensorboard")
    Path("ckpt").mkdir(exist_ok=True)
    for it in range(1, 201):
        idx = torch.from_numpy(rng.integers(0, len(x), size=64))
        out = model(x[idx])
        loss = nn.functional.cross_entropy(out, y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        lv = loss.item()
        book.loss(it, lv)
        writer.add_scalar("loss", lv, it)
        writer.add_scalar("lr", lr, it)
        writer.add_scalar("accuracy", (out.argmax(1) == y[idx]).float().mean().item(), it)
        if it % 5 == 0:
            print(f"Iter {it}: loss {lv:.4f}, lr {lr}")
            save_file(_state(model), f"ckpt/model_step{it}.safetensors")
        if not math.isfinite(lv) and it >= (book.data["first_nonfinite_step"] or it) + 10:
            print(f"Iter {it}: loss is {lv}, giving up")
            break
    writer.close()
    book.save()


# ---- 8. torch_healthy -----------------------------------------------------------------------


def train_healthy() -> None:
    import torch
    import torch.nn as nn
    from torch.utils.tensorboard import SummaryWriter

    book = Book()
    rng = _seed(2)
    x_np, y_np = _blobs(rng, 5000, 20, 6, spread=1.5)
    x, y = torch.from_numpy(x_np[:4000]), torch.from_numpy(y_np[:4000])
    xv, yv = torch.from_numpy(x_np[4000:]), torch.from_numpy(y_np[4000:])
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 6))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    tw, vw = SummaryWriter("logs/train"), SummaryWriter("logs/val")
    Path("checkpoints").mkdir(exist_ok=True)
    B, steps_per_epoch, best = 64, 4000 // 64, float("inf")
    book.data["steps_per_epoch"] = steps_per_epoch
    step = 0
    for epoch in range(1, 6):
        perm = torch.from_numpy(rng.permutation(4000))
        for i in range(steps_per_epoch):
            idx = perm[i * B : (i + 1) * B]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            gn = _grad_norm(model.parameters())
            if step % 25 == 0:
                for name, p in model.named_parameters():
                    if name.endswith("weight") and name[0] in "02":
                        tw.add_histogram(f"{name}", p.detach(), step, bins=30)
                        tw.add_histogram(f"{name}.grad", p.grad, step, bins=30)
            opt.step()
            step += 1
            book.loss(step, loss.item())
            tw.add_scalar("loss", loss.item(), step)
            tw.add_scalar("grad_norm", gn, step)
            tw.add_scalar("lr", 1e-3, step)
        with torch.no_grad():
            out = model(xv)
            vl = nn.functional.cross_entropy(out, yv).item()
            va = (out.argmax(1) == yv).float().mean().item()
        vw.add_scalar("loss", vl, step)
        vw.add_scalar("accuracy", va, step)
        print(f"epoch {epoch} step {step} train_loss {loss.item():.4f} val_loss {vl:.4f} val_acc {va:.3f}")
        meta = {"step": str(step), "epoch": str(epoch)}
        _save(model, "checkpoints/last.safetensors", meta, opt=opt, step=step, epoch=epoch)
        if vl < best:
            best = vl
            _save(model, "checkpoints/best.safetensors", meta, opt=opt, step=step, epoch=epoch)
    tw.close()
    vw.close()
    book.save()


# ---- 9. tbx_healthy_noisy -------------------------------------------------------------------
# tensorboardX; a few batches come from a shard with scrambled labels (and one short LR bump from
# a restart of the cosine cycle): the loss spikes, then recovers fully. Nothing non-finite.

NOISY_STEPS = (95, 96, 178, 262)


def train_tbx_healthy_noisy() -> None:
    import torch
    import torch.nn as nn
    from safetensors.torch import save_file
    from tensorboardX import SummaryWriter

    book = Book()
    rng = _seed(9)
    x_np, y_np = _stripes(rng, 4000)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    model = _small_cnn()
    base = 0.05
    opt = torch.optim.SGD(model.parameters(), lr=base, momentum=0.9)
    writer = SummaryWriter("logs")
    Path("ckpt").mkdir(exist_ok=True)
    steps_per_epoch = 100
    book.data["steps_per_epoch"] = steps_per_epoch
    for step in range(1, 301):
        cycle = (step - 1) % 150  # cosine with a warm restart at step 151
        lr = base * 0.5 * (1 + math.cos(math.pi * cycle / 150))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.from_numpy(rng.integers(0, len(x), size=64))
        yb = y[idx]
        if step in NOISY_STEPS:
            yb = torch.from_numpy(rng.integers(0, 4, size=64))  # a corrupted shard: labels scrambled
        loss = nn.functional.cross_entropy(model(x[idx]), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        book.loss(step, loss.item())
        writer.add_scalar("train/loss", loss.item(), step)
        writer.add_scalar("train/lr", lr, step)
        if step % 10 == 0 or step in NOISY_STEPS:
            print(f"ep {(step - 1) // steps_per_epoch + 1} it {step} loss {loss.item():.4f} lr {lr:.4f}")
        if step % steps_per_epoch == 0:
            save_file(_state(model), f"ckpt/epoch{step // steps_per_epoch}.safetensors")
    writer.close()
    book.save()


# ---- 10. torch_sharded_checkpoint -----------------------------------------------------------
# Classifier MLP, SGD+momentum at a constant 2.0 (far too high); every 3 steps the state dict is
# written by huggingface_hub.save_torch_state_dict into checkpoint-N/ as small shards + index.


def train_sharded_checkpoint() -> None:
    import torch
    import torch.nn as nn
    from huggingface_hub import save_torch_state_dict
    from torch.utils.tensorboard import SummaryWriter

    book = Book()
    rng = _seed(4)
    x_np, y_np = _blobs(rng, 4000, 24, 6, spread=2.0)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    model = nn.Sequential(nn.Linear(24, 96), nn.GELU(), nn.Linear(96, 96), nn.GELU(), nn.Linear(96, 6))
    lr, save_steps = 2.0, 3
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    writer = SummaryWriter("logs")
    print(f"learning_rate={lr} save_steps={save_steps} max_shard_size=20KB")
    bad = 0
    for step in range(1, 101):
        idx = torch.from_numpy(rng.integers(0, len(x), size=64))
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        gn = _grad_norm(model.parameters())
        opt.step()
        lv = loss.item()
        book.loss(step, lv)
        writer.add_scalar("train/loss", lv, step)
        writer.add_scalar("train/learning_rate", lr, step)
        writer.add_scalar("train/grad_norm", gn, step)
        print({"loss": round(lv, 4), "grad_norm": round(gn, 4), "learning_rate": lr, "step": step})
        if step % save_steps == 0:
            os.makedirs(f"checkpoint-{step}", exist_ok=True)
            save_torch_state_dict(model.state_dict(), f"checkpoint-{step}", max_shard_size="20KB")
        bad = bad + 1 if not math.isfinite(lv) else 0
        if bad == 5:
            print("Stopping: loss is not finite")
            break
    writer.close()
    book.save()


# ---- worker dispatch ------------------------------------------------------------------------

# ---- 11. torch_inf_in_inputs ----------------------------------------------------------------
# Tabular regression whose feature pipeline takes np.log of a count column (it meant log1p):
# about 2 % of the rows have a count of 0, so their feature is -inf. The first batch already
# holds one: the loss is non-finite from the very first step, at a perfectly sane LR.


def train_inf_in_inputs() -> None:
    import numpy as np
    import torch
    import torch.nn as nn
    from safetensors.torch import save_file
    from torch.utils.tensorboard import SummaryWriter

    book = Book()
    rng = _seed(21)
    n, dim = 3000, 8
    x_num, y = _teacher_regression(rng, n, dim)
    counts = rng.poisson(3.0, size=(n, 1)).astype(np.float64)
    counts[rng.random(n) < 0.02] = 0.0
    with np.errstate(divide="ignore"):
        log_counts = np.log(counts)  # the bug: log of a zero count is -inf
    feats = np.concatenate([x_num, log_counts.astype(np.float32)], axis=1).astype(np.float32)
    Path("data").mkdir(exist_ok=True)
    np.savez("data/train_sample.npz", features=feats[:1000], target=y[:1000])
    x, t = torch.from_numpy(feats), torch.from_numpy(y)
    model = nn.Sequential(nn.Linear(dim + 1, 64), nn.ReLU(), nn.Linear(64, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    writer = SummaryWriter("runs/tabular_logcounts")
    Path("checkpoints").mkdir(exist_ok=True)
    bs, steps = 64, 120
    book.data["steps_per_epoch"] = n // bs
    for step in range(1, steps + 1):
        i = (step - 1) % (n // bs)
        xb, yb = x[i * bs : (i + 1) * bs], t[i * bs : (i + 1) * bs]
        loss = nn.functional.mse_loss(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        gn = _grad_norm(model.parameters())
        opt.step()
        lv = loss.item()
        book.loss(step, lv)
        writer.add_scalar("train/loss", lv, step)
        writer.add_scalar("train/lr", 1e-3, step)
        writer.add_scalar("train/grad_norm", gn, step)
        if step % 10 == 0 or step == 1:
            print(f"[step {step:4d}] loss {lv:.4f} | lr 1.0e-03 | grad_norm {gn:.3f}")
        if step % 40 == 0:
            save_file(_state(model), f"checkpoints/step_{step:06d}.safetensors")
    writer.close()
    book.save()


WORKERS: dict[str, Callable[[], None]] = {
    "torch_exploding_gradients": train_exploding_gradients,
    "torch_fp16_overflow": train_fp16_overflow,
    "torch_division_by_zero": train_division_by_zero,
    "torch_inf_in_inputs": train_inf_in_inputs,
    "torch_labels_out_of_range": train_labels_out_of_range,
    "torch_bf16_lr_too_high": train_bf16_lr_too_high,
    "tbx_lr_too_high": train_tbx_lr_too_high,
    "torch_healthy": train_healthy,
    "tbx_healthy_noisy": train_tbx_healthy_noisy,
    "torch_sharded_checkpoint": train_sharded_checkpoint,
}


def _worker_main(argv: list[str]) -> None:
    _hide_tensorflow()
    name = argv[0]
    if name == "torch_lr_schedule_spike":
        train_lr_schedule_spike(resume="--resume" in argv[1:])
    else:
        WORKERS[name]()


# --------------------------------------------------------------------------------------------

RUNS: list[RunSpec] = [
    RunSpec(
        name="torch_lr_schedule_spike",
        framework="pytorch",
        cause="learning_rate",
        detail="lr_schedule_spike",
        injection=(
            "Tanh-MLP regression with SGD+momentum trains fine at LR 0.05 (after a 20-step warmup) until a "
            "step milestone at 160 multiplies the LR by 20; the job is preempted (SIGKILL) at step 140 and a "
            "second job resumes from the step-125 checkpoint, appending to the same logdir."
        ),
        build=_build_restarted,
    ),
    RunSpec(
        name="torch_exploding_gradients",
        framework="pytorch",
        cause="exploding_weights",
        detail="exploding_gradients",
        injection=(
            "Vanilla ReLU RNN (orthogonal recurrent init, gain 1.0) on 50-step sequences, plain SGD at a normal "
            "2e-3 with no gradient clipping: the gradient norm climbs over a few steps, then the recurrent "
            "weights blow up to inf/NaN; the next add_histogram call then raises on the NaN gradients."
        ),
        build=_simple_build("torch_exploding_gradients", 6620917, "runs/irnn_h64_sgd2e-3", "Loss/train", expect_rc=1),
    ),
    RunSpec(
        name="torch_fp16_overflow",
        framework="pytorch",
        cause="numerical_instability",
        detail="fp16_overflow",
        injection=(
            "Cosine-prototype classifier (temperature 0.07) trained entirely in float16 with a hand-written "
            "log-sum-exp; once a logit passes 11.09, exp() passes 65504 and becomes inf, the loss is inf and the "
            "next update NaN."
        ),
        build=_simple_build("torch_fp16_overflow", 6621004, "tb", "train/loss"),
    ),
    RunSpec(
        name="torch_division_by_zero",
        framework="pytorch",
        cause="numerical_instability",
        detail="division_by_zero",
        injection=(
            "The model standardises each batch as (x - mean) / std with no epsilon; rows are read in time order "
            "and one sensor is stuck at 0.0 for 150 rows, so the batch wholly inside that stretch divides 0 by 0."
        ),
        build=_simple_build("torch_division_by_zero", 6630555, "logs", "Loss/train"),
    ),
    RunSpec(
        name="torch_labels_out_of_range",
        framework="pytorch",
        cause="data_or_labels",
        detail="labels_out_of_range",
        injection=(
            "A 5-class classifier whose fourth data shard holds one unmapped raw label 8000; nn.CrossEntropyLoss "
            "raises 'IndexError: Target 8000 is out of bounds.' on the batch that carries it."
        ),
        build=_build_labels,
    ),
    RunSpec(
        name="torch_bf16_lr_too_high",
        framework="pytorch",
        cause="learning_rate",
        detail="lr_too_high",
        injection=(
            "Tanh-MLP regression with parameters in bfloat16 and plain SGD at a constant 0.6 (about 10x what "
            "trains): the loss rises from the first steps and the weights grow until inf/NaN."
        ),
        build=_simple_build("torch_bf16_lr_too_high", 6640023, "logs", "train/loss"),
    ),
    RunSpec(
        name="tbx_lr_too_high",
        framework="tensorboardX",
        cause="learning_rate",
        detail="lr_too_high",
        injection=(
            "Small GELU CNN on stripe images, SGD+momentum at a constant LR 1e1 from step 1 (the config meant "
            "1e-1; 0.05 trains it well): the loss rises from the first iterations to inf/NaN."
        ),
        build=_simple_build("tbx_lr_too_high", 6640187, "tensorboard", "loss"),
    ),
    RunSpec(
        name="torch_healthy",
        framework="pytorch",
        cause="healthy",
        detail=None,
        injection="None: an MLP classifier with Adam 1e-3 converging; train/val writers and weight histograms.",
        build=_simple_build("torch_healthy", 6650001, "logs/train", "loss"),
    ),
    RunSpec(
        name="tbx_healthy_noisy",
        framework="tensorboardX",
        cause="healthy",
        detail=None,
        injection=(
            "None that diverges: four batches with scrambled labels and a cosine warm restart make the loss "
            "spike, and it recovers each time."
        ),
        build=_simple_build("tbx_healthy_noisy", 6650410, "logs", "train/loss"),
    ),
    RunSpec(
        name="torch_sharded_checkpoint",
        framework="pytorch",
        cause="learning_rate",
        detail="lr_too_high",
        injection=(
            "GELU-MLP classifier with SGD+momentum at a constant LR 2.0 (0.05 trains fine); every 3 steps "
            "huggingface_hub.save_torch_state_dict writes checkpoint-N/ as 20KB safetensors shards plus index."
        ),
        build=_simple_build("torch_sharded_checkpoint", 6660932, "logs", "train/loss"),
    ),
    RunSpec(
        name="torch_inf_in_inputs",
        framework="pytorch",
        cause="data_or_labels",
        detail="inf_in_inputs",
        injection=(
            "Tabular regression whose pipeline takes np.log of a count column (meant log1p): ~2 % of rows have "
            "count 0, so a feature is -inf and the loss is non-finite from the first step at Adam 1e-3."
        ),
        build=_simple_build("torch_inf_in_inputs", 6670311, "runs/tabular_logcounts", "train/loss"),
    ),
]


# Twins: the same jobs (same seeds, so the same weights), with the checkpoints written by
# torch.save as training checkpoints (model, optimizer, step, epoch) and no safetensors file.
_TWINS = {"torch_exploding_gradients": (6620918, "runs/irnn_h64_sgd2e-3", "Loss/train", 1),
          "torch_healthy": (6650002, "logs/train", "loss", 0)}  # fmt: skip
for _spec in list(RUNS):
    if _spec.name in _TWINS:
        _job, _logdir, _tag, _rc = _TWINS[_spec.name]
        RUNS.append(
            RunSpec(
                name=f"{_spec.name}_pt",
                framework="pytorch",
                cause=_spec.cause,
                detail=_spec.detail,
                injection=f"{_spec.name} trained again with its seed, checkpoints saved with torch.save (.pt) only.",
                build=_simple_build(_spec.name, _job, _logdir, _tag, expect_rc=_rc, ckpt_format="pt"),
            )
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        _worker_main(sys.argv[2:])
    else:
        print("run sample_runs/generate.py --framework torch")
