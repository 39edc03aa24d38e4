"""Tiny transformer language models trained on CPU into real loss spikes: one benign (a
corrupted batch the run recovers from) and one fatal (the LR raised for good), in bf16 and
fp16 from a plain PyTorch loop and in bf16 from the Hugging Face Trainer.

    python sample_runs/generate.py --framework spikes     # the three runs below
    python sample_runs/gen_spikes.py OUT_DIR              # one plain-loop run (fp32) into OUT_DIR

Runs (``RUNS``, recorded in ``manifest.json`` by ``generate.py``):

* ``spikes_loop_bf16``: a plain loop under ``torch.autocast("cpu", dtype=torch.bfloat16)``.
* ``spikes_loop_fp16``: the same loop under ``torch.autocast("cpu", dtype=torch.float16)``
  with a real ``torch.amp.GradScaler("cpu")`` (dynamic loss scaling: steps whose fp16
  gradients overflow are skipped and the scale halves; the scale is saved in the checkpoints).
* ``spikes_hf_trainer_bf16``: ``transformers.Trainer`` with ``bf16=True`` (CPU autocast),
  its seeded random sampler, gradient accumulation 2, and ``train_results.json`` written by
  ``trainer.save_metrics`` as Hugging Face's example scripts do (``train_samples``).

The loops read their data in order (a sequential sampler), 960 sequences in micro-batches
of 16 with gradient accumulation 2 (30 optimizer steps per epoch), log loss, LR and
grad norm to TensorBoard every step, write ``train_config.json`` as a script would, and
save ``torch.save({"model", "optimizer", "scaler", "step"})`` checkpoints. At step
``BAD_STEP`` the step's micro-batches are corrupted (their sequences count down instead of up:
the model predicts them confidently wrong), and from ``FATAL_STEP`` on the LR is
``FATAL_FACTOR`` times higher.

Ground truth: each job records, for every optimizer step, the dataset indices of the
samples that went into it, straight from the batches it trained on (not from a
reconstruction), and the parent reads back from the written files what happened: the
logged loss around each fault (did it come back?), which checkpoints hold finite weights.
The manifest keeps the spike steps, whether each recovered, the last good checkpoint and
the batches and samples of the steps around each fault. tests/test_spike_runs.py checks
the report against it.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _spec import RunSpec  # noqa: E402

SIDE_ENV = "GEN_SPIKES_SIDE_FILE"  # the job's own bookkeeping, written outside the run dir

VOCAB, SEQ, WIDTH = 32, 16, 32
NOISE = 0.1  # share of random tokens: the loss settles near 1 instead of 0
BATCH, ACCUM = 16, 2  # loop: micro-batch and gradient accumulation
N_SAMPLES = 960  # loop: 60 micro-batches, 30 optimizer steps per epoch
STEPS = 300
BASE_LR = 3e-3
BAD_STEP = 157  # the micro-batches of this optimizer step are corrupted
FATAL_STEP, FATAL_FACTOR = 263, 1000.0
CKPT_EVERY = 50
# The Trainer run: micro-batch 8, accumulation 2, 480 samples (30 steps per epoch).
HF_BATCH, HF_SAMPLES, HF_STEPS, HF_SAVE = 8, 480, 240, 40
HF_BAD_STEP, HF_FATAL_STEP = 113, 197
# Steps around each fault whose batches the manifest keeps (the report may name any of them).
AROUND = (0, 3)


def _corpus(n: int, seed: int):
    """Sequences that count up from a random start modulo VOCAB, NOISE of the tokens random."""
    import torch

    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, VOCAB, (n, 1), generator=g)
    data = (starts + torch.arange(SEQ + 1)) % VOCAB
    noisy = torch.rand(data.shape, generator=g) < NOISE
    return torch.where(noisy, torch.randint(0, VOCAB, data.shape, generator=g), data)


def _corrupt(tokens):
    """The same starts counting down: every next token is the opposite of what was learned."""
    import torch

    return (tokens[:, :1] - torch.arange(tokens.shape[1])) % VOCAB


def _lm():
    import torch

    class LM(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = torch.nn.Embedding(VOCAB, WIDTH)
            self.pos = torch.nn.Parameter(torch.zeros(SEQ, WIDTH))
            self.block = torch.nn.TransformerEncoderLayer(WIDTH, 2, 64, dropout=0.0, batch_first=True)
            self.head = torch.nn.Linear(WIDTH, VOCAB)

        def forward(self, x):
            mask = torch.nn.Transformer.generate_square_subsequent_mask(x.shape[1])
            return self.head(self.block(self.emb(x) + self.pos, src_mask=mask, is_causal=True))

    return LM()


def loop_lr(step: int, fatal_step: int = FATAL_STEP) -> float:
    return BASE_LR * FATAL_FACTOR if step >= fatal_step else BASE_LR


def train_loop(out: Path, precision: str) -> dict[str, Any]:
    """A plain PyTorch loop (precision "fp32", "bf16" or "fp16"); returns its bookkeeping."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.modules.setdefault("tensorflow", None)  # TensorBoard's pure-Python writer, no TF start-up
    import torch
    from torch.utils.tensorboard import SummaryWriter

    torch.manual_seed(0)
    torch.set_num_threads(1)
    data = _corpus(N_SAMPLES, seed=0)
    ds = torch.utils.data.TensorDataset(torch.arange(N_SAMPLES), data)
    loader = torch.utils.data.DataLoader(ds, batch_size=BATCH, shuffle=False)
    model = _lm()
    opt = torch.optim.Adam(model.parameters(), lr=BASE_LR)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    scaler = torch.amp.GradScaler("cpu", enabled=precision == "fp16")
    out.mkdir(parents=True, exist_ok=True)
    (out / "checkpoints").mkdir(exist_ok=True)
    config = {
        "model": {"vocab_size": VOCAB, "seq_len": SEQ, "d_model": WIDTH, "n_layers": 1, "n_heads": 2},
        "optimizer": "adam",
        "lr": BASE_LR,
        "batch_size": BATCH,
        "gradient_accumulation_steps": ACCUM,
        "world_size": 1,
        "shuffle": False,
        "num_train_samples": N_SAMPLES,
        "drop_last": False,
        "seed": 0,
        "precision": precision,
        "max_steps": STEPS,
    }
    (out / "train_config.json").write_text(json.dumps(config, indent=2) + "\n")
    writer = SummaryWriter(str(out / "logs"))
    seen: dict[int, list[list[int]]] = {}
    positions: dict[int, list[tuple[int, int]]] = {}
    ckpts: list[int] = []
    skipped: list[int] = []
    step = 0
    epoch = 0
    while step < STEPS:
        for b, (idx, batch) in enumerate(loader):
            micro = b % ACCUM
            if micro == 0:
                step += 1
                if step > STEPS:
                    break
                for group in opt.param_groups:
                    group["lr"] = loop_lr(step)
                opt.zero_grad()
                losses = []
            if step == BAD_STEP:
                batch = _corrupt(batch)
            seen.setdefault(step, []).append(idx.tolist())
            positions.setdefault(step, []).append((epoch, b))
            with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
                logits = model(batch[:, :-1])
            loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, VOCAB), batch[:, 1:].reshape(-1))
            scaler.scale(loss / ACCUM).backward()
            losses.append(float(loss.detach()))
            if micro == ACCUM - 1:
                scaler.unscale_(opt)
                gn = float(torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf")))
                scale_before = scaler.get_scale()
                scaler.step(opt)
                scaler.update()
                if scaler.is_enabled() and scaler.get_scale() < scale_before:
                    skipped.append(step)  # fp16 gradients overflowed: the step was skipped
                lv = sum(losses) / len(losses)
                writer.add_scalar("train/loss", lv, step)
                writer.add_scalar("train/lr", loop_lr(step), step)
                writer.add_scalar("train/grad_norm", gn, step)
                if scaler.is_enabled():
                    writer.add_scalar("train/loss_scale", scaler.get_scale(), step)
                if step % CKPT_EVERY == 0:
                    state = {
                        "model": model.state_dict(),
                        "optimizer": opt.state_dict(),
                        "scaler": scaler.state_dict(),
                        "step": step,
                        "epoch": epoch,
                    }
                    torch.save(state, out / "checkpoints" / f"step_{step:06d}.pt")
                    ckpts.append(step)
        epoch += 1
    writer.close()
    return {"seen": seen, "positions": positions, "checkpoints": ckpts, "skipped_steps": skipped}


def train_hf(out: Path) -> dict[str, Any]:
    """transformers.Trainer, bf16 autocast on CPU; returns its bookkeeping."""
    sys.modules.setdefault("tensorflow", None)
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainerCallback, TrainingArguments

    torch.set_num_threads(1)
    os.environ["TENSORBOARD_LOGGING_DIR"] = "runs/gpt2-tiny-bf16"
    data = _corpus(HF_SAMPLES, seed=1)[:, :SEQ]

    class Tokens(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return HF_SAMPLES

        def __getitem__(self, i: int) -> dict:
            return {"input_ids": data[i], "labels": data[i], "idx": torch.tensor(i)}

    seen: dict[int, list[list[int]]] = {}

    class Recording(Trainer):
        """Records the dataset indices of every micro-batch it trains on; corrupts the
        micro-batches of HF_BAD_STEP."""

        def compute_loss(self, model, inputs, *args, **kwargs):
            idx = inputs.pop("idx")
            step = self.state.global_step + 1
            if model.training:
                seen.setdefault(step, []).append(idx.tolist())
                if step == HF_BAD_STEP:
                    bad = _corrupt(inputs["input_ids"])
                    inputs = {**inputs, "input_ids": bad, "labels": bad}
            return super().compute_loss(model, inputs, *args, **kwargs)

    class Epochs(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            epochs[state.global_step + 1] = int(state.epoch or 0)

    epochs: dict[int, int] = {}
    config = GPT2Config(
        vocab_size=VOCAB, n_positions=SEQ, n_embd=32, n_layer=2, n_head=2, n_inner=64, bos_token_id=0, eos_token_id=0
    )
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    args = TrainingArguments(
        output_dir=".",
        use_cpu=True,
        bf16=True,
        seed=0,
        learning_rate=BASE_LR,
        lr_scheduler_type="constant",
        max_steps=HF_STEPS,
        per_device_train_batch_size=HF_BATCH,
        gradient_accumulation_steps=ACCUM,
        max_grad_norm=0.0,
        logging_steps=1,
        save_strategy="steps",
        save_steps=HF_SAVE,
        report_to="tensorboard",
        dataloader_num_workers=0,
        log_level="info",
        remove_unused_columns=False,  # keep the sample index the bookkeeping reads
    )
    opt = torch.optim.AdamW(model.parameters(), lr=BASE_LR)
    # the LR raised for good from HF_FATAL_STEP (the scheduler counts finished steps from 0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: FATAL_FACTOR if s + 1 >= HF_FATAL_STEP else 1.0)
    trainer = Recording(model=model, args=args, train_dataset=Tokens(), optimizers=(opt, sched), callbacks=[Epochs()])
    result = trainer.train()
    metrics = dict(result.metrics)
    metrics["train_samples"] = HF_SAMPLES  # as Hugging Face's run_clm.py does
    trainer.log_metrics("train", metrics)
    trainer.save_metrics("train", metrics)
    trainer.save_state()
    return {"seen": seen, "epochs": epochs}


# --------------------------------------------------------------------------------------------
# Parent side: launch the job, read back what it wrote.
# --------------------------------------------------------------------------------------------


def _launch(run_dir: Path, run: str, job_id: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gen_spikes_") as tmp:
        side = Path(tmp) / "side.json"
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0", CUDA_VISIBLE_DEVICES="", HF_HUB_OFFLINE="1")
        env[SIDE_ENV] = str(side)
        with open(run_dir / f"slurm-{job_id}.out", "wb") as log:
            proc = subprocess.run(
                [sys.executable, "-u", str(Path(__file__).resolve()), "worker", run],
                cwd=run_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=1800,
            )
        if proc.returncode != 0:
            raise RuntimeError(f"{run}: training job exited {proc.returncode}; see slurm-{job_id}.out")
        return json.loads(side.read_text())


def _tb(logdir: Path, tag: str) -> dict[int, float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0})
    acc.Reload()
    return {e.step: e.value for e in acc.Scalars(tag)}


def _recovered(loss: dict[int, float], fault: int, until: int) -> int | None:
    """The first step after ``fault`` whose logged loss is back within 1.25x the median of the
    50 steps before it (before ``until``, the next fault), or None."""
    before = sorted(v for s, v in loss.items() if fault - 50 <= s < fault)
    level = before[len(before) // 2]
    peak = max(range(fault, until), key=lambda s: loss.get(s, -math.inf))
    return next((s for s in range(peak + 1, until) if s in loss and loss[s] <= 1.25 * level), None)


def _finite_weights(path: Path) -> bool:
    import torch

    obj = torch.load(path, map_location="cpu", weights_only=True)
    state = obj.get("model", obj) if isinstance(obj, dict) else obj
    return all(bool(torch.isfinite(t).all()) for t in state.values() if torch.is_tensor(t) and t.is_floating_point())


def _batches(seen: dict[str, list[list[int]]], positions: dict[int, tuple[int, list[int]]], step: int) -> dict:
    epoch, micro = positions[step]
    return {"epoch": epoch, "batches": micro, "samples": sorted(i for b in seen[str(step)] for i in b)}


def _kept_steps(bad: int, fatal: int, good: int) -> list[int]:
    """The steps whose batches the manifest keeps: around each fault, and the first step after
    the last good checkpoint (where a resumed run would start skipping)."""
    steps = {s for f in (bad, fatal) for s in range(f + AROUND[0], f + AROUND[1] + 1)}
    return sorted(steps | {good + 1})


def _ground_truth(
    loss: dict[int, float], seen: dict, positions: dict, bad: int, fatal: int, ckpts: dict[int, Path], last: int
) -> dict[str, Any]:
    rec_bad = _recovered(loss, bad, fatal)
    rec_fatal = _recovered(loss, fatal, last + 1)
    if rec_bad is None or rec_fatal is not None:
        raise RuntimeError(f"the faults did not play out: bad batch recovered at {rec_bad}, fatal at {rec_fatal}")
    good = max(s for s in ckpts if s < fatal)
    if not _finite_weights(ckpts[good]):
        raise RuntimeError(f"checkpoint of step {good} is not finite")
    around = {s: _batches(seen, positions, s) for s in _kept_steps(bad, fatal, good) if str(s) in seen}
    return {
        "spikes": [
            {"fault": "corrupted batch", "step": bad, "recovered": True, "recovered_by": rec_bad},
            {"fault": "LR raised for good", "step": fatal, "recovered": False, "recovered_by": None},
        ],
        "last_good_checkpoint": {"step": good, "path": ckpts[good].name},
        "batches_by_step": {str(k): v for k, v in sorted(around.items())},
    }


def _build_loop(run: str, job_id: int, precision: str):
    def build(run_dir: Path) -> dict[str, Any]:
        book = _launch(run_dir, run, job_id)
        loss = _tb(run_dir / "logs", "train/loss")
        ckpts = {int(p.stem.split("_")[1]): p for p in (run_dir / "checkpoints").glob("step_*.pt")}
        positions = {int(s): (v[0][0], [b for _, b in v]) for s, v in book["positions"].items()}
        truth = _ground_truth(loss, book["seen"], positions, BAD_STEP, FATAL_STEP, ckpts, STEPS)
        truth["last_good_checkpoint"]["path"] = f"checkpoints/{truth['last_good_checkpoint']['path']}"
        first_nf = next((s for s, v in sorted(loss.items()) if not math.isfinite(v)), None)
        return {
            "first_nonfinite_step": first_nf,
            "step_unit": "step",
            "steps_per_epoch": N_SAMPLES // (BATCH * ACCUM),
            "precision": precision,
            "sampler": "sequential",
            "batch_size": BATCH,
            "gradient_accumulation_steps": ACCUM,
            "train_samples": N_SAMPLES,
            "checkpoints": sorted(ckpts),
            "fp16_skipped_steps": book["skipped_steps"] if precision == "fp16" else None,
            **truth,
        }

    return build


def _build_hf(run: str, job_id: int):
    def build(run_dir: Path) -> dict[str, Any]:
        book = _launch(run_dir, run, job_id)
        state = json.loads((run_dir / "trainer_state.json").read_text())
        hist = [h for h in state["log_history"] if "loss" in h and "step" in h]
        loss = {h["step"]: h["loss"] for h in hist}
        grad = {h["step"]: h.get("grad_norm", 0.0) for h in hist}
        first_nf = next((s for s, v in sorted(grad.items()) if not math.isfinite(v)), None)
        ckpts = {int(p.name.split("-")[1]): p / "model.safetensors" for p in run_dir.glob("checkpoint-*")}
        spe = HF_SAMPLES // (HF_BATCH * ACCUM)
        # the micro-batches of a step within its epoch, from the Trainer's own epoch counter
        positions = {}
        for s in book["seen"]:
            e = book["epochs"][s]
            k = int(s) - 1 - e * spe
            positions[int(s)] = (e, [k * ACCUM + m for m in range(len(book["seen"][s]))])
        last = max(loss)
        rec_bad = _recovered(loss, HF_BAD_STEP, HF_FATAL_STEP)
        cut = first_nf or last + 1  # after a NaN the Trainer logs stand-ins: no recovery is read from them
        rec_fatal = _recovered({s: v for s, v in loss.items() if s < cut}, HF_FATAL_STEP, cut)
        if rec_bad is None or rec_fatal is not None:
            raise RuntimeError(f"the faults did not play out: bad batch recovered at {rec_bad}, fatal at {rec_fatal}")
        good = max(s for s in ckpts if s < HF_FATAL_STEP)
        import numpy as np
        from safetensors.numpy import load_file

        if not all(np.isfinite(t).all() for t in load_file(str(ckpts[good])).values()):
            raise RuntimeError(f"checkpoint-{good} is not finite")
        kept = _kept_steps(HF_BAD_STEP, HF_FATAL_STEP, good)
        around = {s: _batches(book["seen"], positions, s) for s in kept if str(s) in book["seen"]}
        results = json.loads((run_dir / "train_results.json").read_text())
        return {
            "first_nonfinite_step": first_nf,
            "step_unit": "step",
            "first_nonfinite_is": "grad_norm (logging_nan_inf_filter masks the loss)" if first_nf else None,
            "steps_per_epoch": spe,
            "precision": "bf16",
            "sampler": "random (accelerate's SeedableRandomSampler: seed + epoch)",
            "seed": 0,
            "batch_size": HF_BATCH,
            "gradient_accumulation_steps": ACCUM,
            "train_samples": results["train_samples"],
            "checkpoints": sorted(ckpts),
            "spikes": [
                {"fault": "corrupted batch", "step": HF_BAD_STEP, "recovered": True, "recovered_by": rec_bad},
                {"fault": "LR raised for good", "step": HF_FATAL_STEP, "recovered": False, "recovered_by": None},
            ],
            "last_good_checkpoint": {"step": good, "path": f"checkpoint-{good}/model.safetensors"},
            "batches_by_step": {str(k): v for k, v in sorted(around.items())},
        }

    return build


def _worker(run: str) -> None:
    if run == "spikes_hf_trainer_bf16":
        book = train_hf(Path("."))
    else:
        book = train_loop(Path("."), run.rsplit("_", 1)[1])
    Path(os.environ[SIDE_ENV]).write_text(json.dumps(book))


INJECTION = (
    "tiny transformer LM, Adam 3e-3; the batch of step {bad} corrupted (sequences count down: a benign "
    "spike), the LR raised 1000x for good from step {fatal} (fatal); {how}"
)

RUNS: list[RunSpec] = [
    RunSpec(
        name="spikes_loop_bf16",
        framework="pytorch",
        cause="learning_rate",
        detail="lr_schedule_spike",
        injection=INJECTION.format(
            bad=BAD_STEP, fatal=FATAL_STEP, how="plain loop under CPU autocast bf16, sequential sampler, accumulation 2"
        ),
        build=_build_loop("spikes_loop_bf16", 7702101, "bf16"),
    ),
    RunSpec(
        name="spikes_loop_fp16",
        framework="pytorch",
        cause="learning_rate",
        detail="lr_schedule_spike",
        injection=INJECTION.format(
            bad=BAD_STEP,
            fatal=FATAL_STEP,
            how="plain loop under CPU autocast fp16 with GradScaler('cpu') loss scaling, sequential sampler",
        ),
        build=_build_loop("spikes_loop_fp16", 7702102, "fp16"),
    ),
    RunSpec(
        name="spikes_hf_trainer_bf16",
        framework="transformers",
        cause="learning_rate",
        detail="lr_schedule_spike",
        injection=INJECTION.format(
            bad=HF_BAD_STEP,
            fatal=HF_FATAL_STEP,
            how="transformers.Trainer bf16=True on CPU, seeded random sampler, accumulation 2, max_grad_norm=0",
        ),
        build=_build_hf("spikes_hf_trainer_bf16", 7702103),
    ),
]


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "worker":
        _worker(sys.argv[2])
    elif len(sys.argv) == 2:
        made = train_loop(Path(sys.argv[1]), "fp32")
        print(json.dumps({"bad_step": BAD_STEP, "fatal_step": FATAL_STEP, "checkpoints": made["checkpoints"]}))
    else:
        raise SystemExit(__doc__)
