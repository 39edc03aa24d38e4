"""Rules that read what a config states about the setup: settings that are risky in themselves.

Where a job kept no loss series (it died before its first checkpoint and left only its
config, or its checkpoints end before the fault), what it was set up to do is all that
speaks. Each rule here is a prior, weighted low, that any finding from a curve or a
checkpoint overturns; the stated LR against the usual one is LR006's
(``rules/mechanisms.py``).
"""

from __future__ import annotations

from forensics.rules.base import Finding, rule
from forensics.rules.context import FP16_MAX, may_have_failed
from forensics.rules.mechanisms import architecture
from forensics.timeline import Timeline
from forensics.util import fmt_num

# Evidence weights. A float16 run with no loss scaler stated (pure half precision, or a
# precision that does not say): its 65504 ceiling is the first suspect when it failed.
FP16_UNSCALED_WEIGHT = 0.35
# ... with a dynamic loss scaler (Lightning "16-mixed", Keras "mixed_float16", amp, DeepSpeed's
# loss_scale): overflowing steps are skipped, so float16 is a weaker suspect.
FP16_SCALED_WEIGHT = 0.15
# An optimizer's or a normalisation's epsilon stated as 0: the division it guards meets 0/0.
ZERO_EPSILON_WEIGHT = 0.45
# A recurrent net trained without clipping, by how easily its gradients explode: a plain
# recurrent cell (or a deep stack with no normalisation), or a gated cell (LSTM/GRU).
NO_CLIPPING_WEIGHT = {"recurrent": 0.3, "deep_plain": 0.3, "gated_recurrent": 0.1}

# A config's class count past the output layer's width: a label the model cannot output is
# coming (the loss refuses it, or a gather reads past the logits). Not the data sample's proof.
CLASSES_PAST_WIDTH_WEIGHT = 0.45


def _nothing_else_speaks(tl: Timeline) -> bool:
    """No loss series and no non-finite checkpoint: the rules that read a curve or a blown-up
    checkpoint (NUM002, NUM005, EXP005, ...) have nothing to judge, and a config is what is left."""
    return tl.loss is None and tl.first_nonfinite_checkpoint is None and may_have_failed(tl)


@rule("NUM006", "float16-training-stated", "numerical_instability", ("fp16_overflow",), needs=("config",))
def float16_stated(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A run with no loss series and no non-finite checkpoint (only a config,
        or checkpoints that end before the fault) whose config or checkpoints
        say it trained in float16 (a precision of fp16, 16-true, half,
        mixed_float16, an fp16 dtype policy, or float16 weights), not bfloat16.
        Weaker when a dynamic loss scaler is stated or implied (Lightning's
        16-mixed, Keras's mixed_float16, apex O1/O2, amp, DeepSpeed's
        loss_scale).

    Why it points to this cause:
        float16 overflows at 65504: an exp() of a logit past 11, a sum of
        squares, an attention score that float32 holds easily becomes Inf in
        half precision, and the NaN after it is all that is kept. Without a
        loss scaler nothing skips the overflowing steps. A prior, not a
        finding: a job that left only its config cannot show the overflow, and
        any curve or checkpoint evidence overturns it.

    Evidence it reports:
        The precision as stated and where, and whether a loss scaler is.

    Fix to suggest:
        Train with mixed precision and dynamic loss scaling (torch.amp with a
        GradScaler, Lightning 16-mixed, Keras mixed_float16) or in bfloat16;
        keep the loss and softmax in float32.
    """
    if not _nothing_else_speaks(tl) or tl.weight_dtype != "float16":
        return []
    st = tl.setup
    written = st.precision or "float16"
    scaled = st.loss_scaling is True  # stated, or implied by the precision (16-mixed, mixed_float16, amp)
    where = f" ({st.origin})" if st.origin and st.precision else ""
    scaler = "with a loss scaler" if scaled else "with no loss scaler stated"
    return [
        Finding(
            "fp16_overflow",
            f"The run trains in float16 ({written}{where}), {scaler}, and no curve or checkpoint shows how it "
            f"failed: float16 overflows at {FP16_MAX:.0f}, the likeliest operation to fail.",
            FP16_SCALED_WEIGHT if scaled else FP16_UNSCALED_WEIGHT,
            source=st.origin,
            fix="Use mixed precision with dynamic loss scaling (torch.amp + GradScaler, Lightning "
            "precision='16-mixed', Keras 'mixed_float16') or bfloat16; keep the loss and softmax in float32.",
        )
    ]


@rule("NUM007", "zero-epsilon-stated", "numerical_instability", ("division_by_zero",), needs=("config",))
def zero_epsilon(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A run that diverged, or whose loss was not kept, whose config states an
        optimizer's or a normalisation's epsilon as 0 (eps, epsilon,
        adam_epsilon, layer_norm_eps, bn_eps, rms_norm_eps ...).

    Why it points to this cause:
        The epsilon is what keeps a division away from 0. Adam divides the
        first moment by sqrt(second moment) + eps: a weight whose gradients
        have all been 0 (an unused embedding row, a dead unit) has both at 0,
        and 0/0 is NaN on its first update. A normalisation divides by
        sqrt(variance + eps): a constant channel or feature in a batch has
        variance 0. Either NaN then spreads to every weight in one step.

    Evidence it reports:
        The key, its value and the config it was read from.

    Fix to suggest:
        Restore the epsilon (Adam's default 1e-8, a norm layer's 1e-5).
    """
    st = tl.setup
    if st.epsilon is None or st.epsilon != 0 or not may_have_failed(tl):
        return []
    return [
        Finding(
            "division_by_zero",
            f"The config states {st.epsilon_key} = {fmt_num(st.epsilon)} ({st.origin}): the division it guards "
            "(Adam's sqrt(v) + eps, a norm's sqrt(var + eps)) meets 0/0 on a weight with no gradient yet or a "
            "constant feature.",
            ZERO_EPSILON_WEIGHT,
            source=st.origin,
            fix=f"Set {st.epsilon_key} back to a small positive value (Adam 1e-8, a norm layer 1e-5).",
        )
    ]


@rule(
    "EXP008",
    "recurrent-net-without-clipping",
    "exploding_weights",
    ("exploding_gradients",),
    needs=("config",),
)
def no_clipping(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A run that kept only its configs (no loss series, no checkpoint: it
        died before its first one) of a recurrent net (a config naming an RNN,
        LSTM or GRU), whose configs state no gradient clipping (not set, or set
        to 0).

    Why it points to this cause:
        Backpropagation through time multiplies the gradient by the recurrent
        Jacobian at every step, and through a plain stack by each layer's:
        when their gain passes 1 the gradient grows geometrically (Pascanu,
        Mikolov & Bengio 2013), which is why clipping the gradient norm is the
        standard cure. Without it, a failure of such a net before its first
        checkpoint is more often an exploding gradient. Gated cells (LSTM, GRU)
        bound their state and explode far less often: weaker. Checkpoints are
        left to the rules that read them: finite weights many steps in say the
        gradients did not explode from initialisation, and non-finite ones are
        EXP005's and CKPT001's to judge. A prior: any curve or checkpoint
        evidence overturns it.

    Evidence it reports:
        How the architecture was told, and what the configs say of clipping.

    Fix to suggest:
        Clip the gradient norm (clip_grad_norm_(params, 1.0), clipnorm=1.0,
        gradient_clip_val=1.0).
    """
    if not _nothing_else_speaks(tl) or tl.checkpoints or tl.setup.configs == 0:
        return []
    if tl.clipping.value is not None and tl.clipping.value > 0:
        return []
    arch, how = architecture(tl)
    if arch is None:
        return []
    clip = f"clipping off ({tl.clipping.origin})" if tl.clipping.value == 0 else "no gradient clipping in its configs"
    kind = {
        "recurrent": "a recurrent net",
        "gated_recurrent": "a gated recurrent net",
        "deep_plain": "a deep plain net",
    }
    return [
        Finding(
            "exploding_gradients",
            f"{kind[arch].capitalize()} ({how}) with {clip}: nothing bounds a gradient that grows through its "
            "steps or layers.",
            NO_CLIPPING_WEIGHT[arch],
            fix="Clip the gradient norm: torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0) / clipnorm=1.0 / "
            "Trainer(gradient_clip_val=1.0).",
        )
    ]


@rule(
    "DATA007",
    "classes-stated-past-output-width",
    "data_or_labels",
    ("labels_out_of_range",),
    needs=("config", "checkpoints"),
)
def classes_past_width(tl: Timeline) -> list[Finding]:
    """
    What it detects:
        A run that diverged, or whose loss was not kept, whose config states
        more classes (num_classes, num_labels, n_classes, an id2label map) than
        the model's output layer has units, as its checkpoint's weights say (a
        Keras model's last layer, else the length of the last bias in the
        state dict). A binary head of one unit counts as two classes.

    Why it points to this cause:
        The labels of K classes run up to K-1. An output layer of fewer units
        cannot score the higher ones: the cross-entropy refuses such a label
        (PyTorch's target check, a CUDA device-side assert) or, hand-written, a
        gather or one-hot reads past the logits and gives garbage or NaN. A
        config that says K and a head that has fewer is that fault waiting for
        the first such label; a data sample, where kept, shows it (DATA003).

    Evidence it reports:
        The class count and the config it was read from, the output width and
        where it was read.

    Fix to suggest:
        Make the output layer as wide as the number of classes (or remap the
        labels to 0..width-1).
    """
    st = tl.setup
    width, where = st.head
    if st.num_classes is None or width is None or not may_have_failed(tl):
        return []
    if width == 1:
        width = 2  # a single sigmoid unit scores two classes
    if st.num_classes <= width:
        return []
    return [
        Finding(
            "labels_out_of_range",
            f"The config states {st.num_classes} classes ({st.classes_origin}) but the output layer has {width} "
            f"units ({where}): labels {width}..{st.num_classes - 1} are outside what the model can score.",
            CLASSES_PAST_WIDTH_WEIGHT,
            source=st.classes_origin,
            fix=f"Make the output layer {st.num_classes} wide, or remap the labels to 0..{width - 1}.",
        )
    ]
