"""Early warnings of a spike, from the optimizer state and the weights saved in checkpoints.

Context only (weight 0), like SPK001: they say an instability was building, not which cause
drove it; the cause rules judge that. Each is what a team that trained large models through
instabilities watched:

* Adam's update norm doubling before loss spikes (Marin 32B's training log);
* Adam's second moment sitting near epsilon (Wortsman et al. 2023, "Small-scale proxies for
  large-scale Transformer training instabilities");
* attention query/key weights and the output layer growing faster than the rest of the
  model: attention logits scale with |W_q| |W_k| (Dehghani et al. 2023 fixed their growth
  with qk-layernorm), output logits with the output layer (PaLM's z-loss holds them).
"""

from __future__ import annotations

import itertools
import math
import re

from forensics.records import LayerUpdate
from forensics.rules.base import CONTEXT, Finding, rule
from forensics.rules.spikes import blowup_step
from forensics.timeline import CheckpointView, LayerTrack, Timeline
from forensics.util import fmt_num

# Marin 32B saw Adam's update norm double ahead of its loss spikes: growth of the update per
# unit of LR (||m_hat / (sqrt(v_hat) + eps)||) by this factor between two checkpoints.
UPDATE_GROWTH_FACTOR = 2.0
# A layer is on the epsilon floor when at least this share of its elements have
# sqrt(v_hat) below NEAR_EPS_FACTOR (the reader's) x eps: most of its steps are m / eps.
NEAR_EPS_SHARE = 0.5
# Attention q/k or output-layer weights grew at least this many times between the first
# checkpoint and the last finite one before the blow-up (logits grow with the product of
# two such norms: 1.5x each is 2.25x in the attention logits) ...
QK_GROWTH_FACTOR = 1.5
# ... and at least this many times faster than the median layer (a uniform growth is the
# LR or weight decay, not attention-logit growth).
QK_RELATIVE_FACTOR = 1.5
# The last part of a layer's name for attention queries/keys: separate projections, or fused
# q/k/v ones (GPT-2's c_attn, torch's MultiheadAttention whose in_proj sits on the module
# itself, BLOOM/Falcon's query_key_value, Llama-style wqkv). An output projection (out_proj,
# c_proj, o_proj, dense) is a child layer with a name of its own and is not matched.
QK_NAMES = re.compile(
    r"q_proj|k_proj|query|key|wq|wk|c_attn|in_proj|query_key_value|qkv|wqkv|self_attn|attn|attention",
    re.IGNORECASE,
)
# The last part of a layer's name for the output layer: the projection to the vocabulary or classes.
OUTPUT_NAMES = re.compile(r"lm_head|head|output|output_layer|embed_out|classifier|logits", re.IGNORECASE)
# Layers named one by one in a message.
SHOWN = 4


def _adam_layers(c: CheckpointView) -> tuple[LayerUpdate, ...]:
    opt = c.checkpoint.optimizer
    if opt is None:
        return ()
    return tuple(u for u in opt.layers if u.kind == "adam" and math.isfinite(u.update_l2))


def _lr(c: CheckpointView) -> float | None:
    opt = c.checkpoint.optimizer
    lrs = [g.lr for g in opt.groups if g.lr] if opt is not None else []
    return max(lrs) if lrs else None


def _when(step: int | None, blowup: int | None) -> str:
    if step is None or blowup is None:
        return ""
    return " before the blow-up" if step < blowup else " after the blow-up began"


@rule("SPK002", "adam-update-growth", "inconclusive", (), needs=("checkpoints",))
def adam_update_growth(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        Adam's next-step size per unit of LR, ||m_hat / (sqrt(v_hat) + eps)|| over the
        whole model (from each checkpoint's optimizer state), growing at least 2x between
        two consecutive checkpoints; the layers that grew most.

    Why it points to this cause:
        It points to none. Adam normalises its steps, so their size per unit of LR stays
        put while training is stable; when gradients turn large and consistent faster than
        the second moment follows, it climbs. Marin 32B's update norm doubled ahead of its
        loss spikes: a warning that a spike is building, whatever drives it.

    Evidence it reports:
        The two checkpoints, the growth of the update per unit of LR, the LR at each, the
        layers that grew most, and whether this came before the blow-up.

    Fix to suggest:
        Before a spike: lower the LR or tighten gradient clipping; resume from the
        checkpoint before the growth if a spike followed.
    """
    views = [c for c in tl.checkpoints if c.step is not None and _adam_layers(c) and _lr(c)]
    views.sort(key=lambda c: c.step or 0)
    blowup = blowup_step(tl)
    out: list[Finding] = []
    for a, b in itertools.pairwise(views):
        la, lb = _lr(a), _lr(b)
        ua = {u.layer: u.update_l2 / la for u in _adam_layers(a)}  # type: ignore[operator]
        ub = {u.layer: u.update_l2 / lb for u in _adam_layers(b)}  # type: ignore[operator]
        common = [k for k in ua if k in ub]
        na = math.sqrt(sum(ua[k] ** 2 for k in common))
        nb = math.sqrt(sum(ub[k] ** 2 for k in common))
        if not common or not na > 0 or nb < UPDATE_GROWTH_FACTOR * na:
            continue
        grew = sorted((k for k in common if ua[k] > 0), key=lambda k: -ub[k] / ua[k])[:SHOWN]
        layers = ", ".join(f"{k} ×{fmt_num(ub[k] / ua[k])}" for k in grew)
        out.append(
            Finding(
                None,
                f"Adam's step per unit of LR grew ×{fmt_num(nb / na)} between {a.path} (step {a.step}) and "
                f"{b.path} (step {b.step}){_when(b.step, blowup)}; LR {fmt_num(la)} → {fmt_num(lb)}; "
                f"most in {layers}.",
                step=b.step,
                source=b.path,
                weight=CONTEXT,
            )
        )
        break  # the first growth is the warning; later ones repeat it
    return out


@rule("SPK003", "adam-epsilon-floor", "inconclusive", (), needs=("checkpoints",))
def adam_epsilon_floor(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        Layers of a checkpoint whose Adam second moment sits near epsilon: at least half
        their elements have sqrt(v_hat) below 10x eps, in a layer that still moves (a
        non-zero next step; a frozen or unused layer has no second moment at all).

    Why it points to this cause:
        It points to none. Where sqrt(v_hat) is near eps, Adam's step is m / eps instead
        of a normalised one: the gradient's scale has fallen to eps (Wortsman et al. 2023
        saw gradient RMS shrink towards eps in the layers that later diverged), or eps is
        set too large for this model. Steps there are no longer controlled by the LR alone.

    Evidence it reports:
        The checkpoint, the layers and the share of their elements near eps, the eps.

    Fix to suggest:
        Lower Adam's eps (1e-8, or 1e-15 as Wortsman et al. do for large models) or keep
        the gradients of those layers from vanishing (normalisation, a larger batch).
    """
    blowup = blowup_step(tl)
    for c in sorted((c for c in tl.checkpoints if c.step is not None), key=lambda c: c.step or 0):
        low = [u for u in _adam_layers(c) if (u.near_eps or 0) >= NEAR_EPS_SHARE and u.update_l2 > 0]
        if not low:
            continue
        opt = c.checkpoint.optimizer
        eps = next((g.eps for g in opt.groups if g.eps), None) if opt is not None else None
        named = ", ".join(f"{u.layer} ({100 * (u.near_eps or 0):.0f}%)" for u in low[:SHOWN])
        more = f" and {len(low) - SHOWN} more" if len(low) > SHOWN else ""
        return [
            Finding(
                None,
                f"In {c.path} (step {c.step}{_when(c.step, blowup)}), Adam's second moment sits near eps"
                f"{f' ({fmt_num(eps)})' if eps else ''} in {len(low)} layer(s): {named}{more} of elements with "
                "sqrt(v_hat) under 10x eps.",
                step=c.step,
                source=c.path,
                weight=CONTEXT,
                fix="Lower Adam's eps (1e-8 or less) or keep those layers' gradients from vanishing.",
            )
        ]
    return []


def _last(layer: str) -> str:
    return layer.rsplit(".", 1)[-1].rsplit("/", 1)[-1]


def _growth_before(track: LayerTrack, blowup: int | None) -> float | None:
    """Growth of a layer's norm from its first checkpoint to the last finite one before the blow-up."""
    pts = [
        p
        for p in track.points
        if not p.nonfinite and p.l2 > 0 and math.isfinite(p.l2) and (blowup is None or (p.step or 0) < blowup)
    ]
    if len(pts) < 2:
        return None
    return pts[-1].l2 / pts[0].l2


@rule("SPK004", "logit-layer-growth", "inconclusive", (), needs=("checkpoints",))
def logit_layer_growth(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        Attention query/key weights (separate or fused projections) or the output layer
        whose norm grew at least 1.5x between the first checkpoint and the last finite one
        before the blow-up (its onset or fatal spike, whichever came first), and at least
        1.5x faster than the median layer.

    Why it points to this cause:
        It points to none. Attention logits grow with |W_q| |W_k| and output logits with
        the output layer; when they outgrow the rest of the model, softmax saturates and a
        loss spike follows (Dehghani et al. 2023: attention-logit growth, fixed by
        qk-layernorm; PaLM's z-loss keeps the output logits near zero).

    Evidence it reports:
        The layers, their growth and the median layer's, over which checkpoints.

    Fix to suggest:
        qk-layernorm (normalise queries and keys before their product) and a z-loss on the
        output logits (1e-4 x log^2 Z); or weight decay on those layers, a lower LR.
    """
    # before anything went wrong: the onset of a climb counts too (a layer that grew in the
    # blow-up itself is no early warning)
    marks = [s for s in (blowup_step(tl), tl.onset.step if tl.onset is not None else None) if s is not None]
    blowup = min(marks) if marks else None
    growth = {t.layer: g for t in tl.layers if (g := _growth_before(t, blowup)) is not None}
    if len(growth) < 3:
        return []
    ordered = sorted(growth.values())
    median = ordered[len(ordered) // 2]
    hot = [
        (name, g)
        for name, g in growth.items()
        if (QK_NAMES.fullmatch(_last(name)) or OUTPUT_NAMES.fullmatch(_last(name)))
        and g >= QK_GROWTH_FACTOR
        and g >= QK_RELATIVE_FACTOR * median
    ]
    if not hot:
        return []
    hot.sort(key=lambda t: -t[1])
    steps = [p.step for t in tl.layers for p in t.points if p.step is not None]
    named = ", ".join(f"{n} ×{fmt_num(g)}" for n, g in hot[:SHOWN])
    return [
        Finding(
            None,
            f"Attention query/key or output-layer weights outgrew the model before the blow-up: {named} "
            f"(median layer ×{fmt_num(median)}, checkpoints from step {min(steps)}).",
            step=min(steps),
            source=None,
            weight=CONTEXT,
            fix="Add qk-layernorm and a z-loss on the output logits (1e-4 x log^2 Z), or lower the LR.",
        )
    ]
