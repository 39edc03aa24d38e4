"""A tiny PyTorch transformer language model trained on CPU into two real loss spikes:
one that recovers (a short LR bump) and one that is fatal (the LR raised for good).

    python sample_runs/gen_spikes.py OUT_DIR

writes, into OUT_DIR, TensorBoard events (``logs/``: train/loss, train/lr,
train/grad_norm every step, by torch's own SummaryWriter), safetensors checkpoints
(``checkpoints/step_NNNNNN.safetensors``) every CKPT_EVERY steps, and prints what it
did as JSON: the bump and fatal steps, the checkpoint steps, the loss it saw. The
spike tests (tests/test_spike_run.py) train it into a temporary folder (a few
seconds) and check the report against that record. Seeded: two runs on one machine
write the same losses.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

STEPS = 400
BASE_LR = 3e-3
# The benign spike: the LR multiplied by BUMP_FACTOR for BUMP_STEPS steps, then back.
BUMP_AT, BUMP_STEPS, BUMP_FACTOR = 150, 1, 500.0
# The fatal spike: from FATAL_AT the LR is multiplied by FATAL_FACTOR for good.
FATAL_AT, FATAL_FACTOR = 340, 1000.0
CKPT_EVERY = 40
VOCAB, SEQ, BATCH, WIDTH = 32, 16, 16, 32
NOISE = 0.3


def lr_at(step: int) -> float:
    if BUMP_AT <= step < BUMP_AT + BUMP_STEPS:
        return BASE_LR * BUMP_FACTOR
    if step >= FATAL_AT:
        return BASE_LR * FATAL_FACTOR
    return BASE_LR


def train(out: Path) -> dict:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.modules.setdefault("tensorflow", None)  # keep TensorBoard's pure-Python writer (no TF start-up)
    import torch
    from safetensors.torch import save_file
    from torch.utils.tensorboard import SummaryWriter

    torch.manual_seed(0)
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    # a learnable language with a floor: sequences count up from a random start, modulo
    # VOCAB, with NOISE of the tokens random (the loss settles near 1 instead of 0)
    starts = torch.randint(0, VOCAB, (STEPS, BATCH, 1), generator=g)
    data = (starts + torch.arange(SEQ + 1)) % VOCAB
    noisy = torch.rand(data.shape, generator=g) < NOISE
    data = torch.where(noisy, torch.randint(0, VOCAB, data.shape, generator=g), data)

    class LM(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = torch.nn.Embedding(VOCAB, WIDTH)
            self.pos = torch.nn.Parameter(torch.zeros(SEQ, WIDTH))
            self.block = torch.nn.TransformerEncoderLayer(WIDTH, 2, 64, dropout=0.0, batch_first=True)
            self.head = torch.nn.Linear(WIDTH, VOCAB)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            mask = torch.nn.Transformer.generate_square_subsequent_mask(x.shape[1])
            return self.head(self.block(self.emb(x) + self.pos, src_mask=mask, is_causal=True))

    model = LM()
    opt = torch.optim.Adam(model.parameters(), lr=BASE_LR)
    out.mkdir(parents=True, exist_ok=True)
    (out / "checkpoints").mkdir(exist_ok=True)
    writer = SummaryWriter(str(out / "logs"))
    losses: list[float] = []
    ckpts: list[int] = []
    for step in range(1, STEPS + 1):
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        batch = data[step - 1]
        logits = model(batch[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        gn = float(torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf")))
        opt.step()
        lv = float(loss.detach())
        losses.append(lv)
        writer.add_scalar("train/loss", lv, step)
        writer.add_scalar("train/lr", lr_at(step), step)
        writer.add_scalar("train/grad_norm", gn, step)
        if step % CKPT_EVERY == 0:
            state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
            save_file(state, str(out / "checkpoints" / f"step_{step:06d}.safetensors"), metadata={"step": str(step)})
            ckpts.append(step)
    writer.close()
    return {
        "bump_at": BUMP_AT,
        "bump_steps": BUMP_STEPS,
        "fatal_at": FATAL_AT,
        "checkpoints": ckpts,
        "losses": losses,  # losses[i] is step i + 1
    }


if __name__ == "__main__":
    print(json.dumps(train(Path(sys.argv[1]))))
