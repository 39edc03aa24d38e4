"""The values a saturated cross-entropy is pinned at: the clamps frameworks put before the log.

A cross-entropy takes -log(p) of the probability the net gives the right label. Frameworks that
compute it from probabilities (not logits) keep that log finite by clamping ``p`` from below, so a
net whose outputs saturate on the wrong side (the right label's probability underflows to 0 on
every element, as logits thrown to huge values make it) prints a loss of exactly -log(the clamp),
step after step, instead of Inf. The constants below are the frameworks' own, read in their sources
and, where the framework is installed here, computed by it (``tests/test_loss_clamps.py``):

* Caffe's ``SoftmaxWithLoss`` (``softmax_loss_layer.cpp``, and the many layers copied from it) takes
  ``log(std::max(prob, Dtype(FLT_MIN)))``: -ln(float32's smallest normal) = 87.3365. Its GPU kernel
  (``softmax_loss_layer.cu``) takes CUDA's ``max``, which returns the operand that is not NaN, so a net
  whose outputs went NaN prints 87.3365 there too, not NaN;
* Caffe's ``MultinomialLogisticLoss`` and ``InfogainLoss`` clamp at ``kLOG_THRESHOLD = 1e-20``
  (``loss_layer.hpp``): 46.0517;
* Keras clips probabilities to ``[epsilon, 1 - epsilon]``, epsilon 1e-7, before a categorical
  cross-entropy: -ln(1e-7) = 16.1181. Standalone Keras 1 and 2 always do; tf.keras and Keras 3's TensorFlow
  backend first take the logits back when the probabilities come straight out of a softmax or sigmoid
  (``_get_logits``: the op's input, or the layer's ``_keras_logits``) and compute from those, with no clamp,
  so there only probabilities normalised some other way reach it. Keras 3's binary cross-entropy gives the
  same on a positive target and, on a negative one, -ln(1 - float32(1 - 1e-7)) = -ln(2^-23) = 15.9424;
* tf.keras 2.x's binary cross-entropy adds epsilon inside the log after the clip (``log(p + epsilon)``,
  ``log(1 - p + epsilon)``): -ln(2e-7) = 15.4249 on a positive target, -ln(2^-23 + 1e-7) = 15.3332 on a
  negative one;
* PyTorch's ``BCELoss`` clamps its log at -100 (``binary_cross_entropy`` in ATen): 100;
* Lua Torch's ``BCECriterion`` (``eps = 1e-12``, in ``log(input + eps)``), PyTorch's own ``BCELoss`` before
  1.0 (THNN's ``BCECriterion.c``, ``EPS 1e-12``) and MXNet's ``CrossEntropy`` metric (``eps=1e-12``):
  -ln(1e-12) = 27.6310.

A mean over elements sits exactly at the constant only when every element is saturated wrong; a net
that is right on some elements averages below it (a mixture, which no constant marks). Losses computed
from logits (TensorFlow's ``softmax_cross_entropy_with_logits``, PyTorch's ``CrossEntropyLoss``, Gluon's,
Chainer's) have no clamp: a saturated net there prints a large, unpinned value or Inf.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # FLT_MIN, 2^-126
_FLOAT32_EPS = float(np.finfo(np.float32).eps)  # 2^-23: 1 - float32(1 - 1e-7)
_KERAS_EPSILON = 1e-7  # keras.backend.epsilon()'s default, Keras 1 to 3
# PyTorch BCELoss's clamp, -(-100): also where a percentage error sits when the net predicts 0 (not a clamp then)
PERCENT_CLAMP = 100.0


@dataclass(frozen=True)
class Clamp:
    value: float  # the loss a saturated element prints
    what: str  # whose clamp, in words
    # the most any element of that loss can print (its other target's clamp where a binary loss has two): a
    # mean over elements never stands above it, so a record that did was no loss under this clamp
    ceiling: float | None = None

    @property
    def top(self) -> float:
        return self.value if self.ceiling is None else self.ceiling


CLAMPS: tuple[Clamp, ...] = (
    Clamp(-math.log(_FLOAT32_TINY), "Caffe's softmax loss clamps the probability at FLT_MIN: -ln(FLT_MIN)"),
    Clamp(-math.log(1e-20), "Caffe's multinomial logistic and infogain losses clamp it at 1e-20"),
    Clamp(-math.log(_KERAS_EPSILON), "Keras clips probabilities at its epsilon, 1e-7: -ln(1e-7)"),
    Clamp(
        -math.log(_FLOAT32_EPS),
        "Keras 3's binary cross-entropy on a negative target: -ln(1 - float32(1 - 1e-7))",
        -math.log(_KERAS_EPSILON),
    ),
    Clamp(-math.log(2 * _KERAS_EPSILON), "tf.keras 2's binary cross-entropy on a positive target: -ln(1e-7 + 1e-7)"),
    Clamp(
        -math.log(_FLOAT32_EPS + _KERAS_EPSILON),
        "tf.keras 2's binary cross-entropy on a negative target: -ln(1 - float32(1 - 1e-7) + 1e-7)",
        -math.log(2 * _KERAS_EPSILON),
    ),
    Clamp(PERCENT_CLAMP, "PyTorch's BCELoss clamps its log at -100"),
    Clamp(
        -math.log(1e-12),
        "Lua Torch's BCECriterion, PyTorch's BCELoss before 1.0 and MXNet's cross-entropy clamp it at 1e-12",
    ),
)
# A printed value within this relative distance of a clamp is at it: Caffe prints 6 significant digits
# (87.3365, and 87.3363 for a display average over iterations), Keras 4 decimals (16.1181); the
# constants sit more than 0.5 % apart.
CLAMP_TOLERANCE = 2e-4
# ... or within this absolute distance: half the last unit of a 2-decimal print ('{:.2f}'), the coarsest
# that still tells the constants apart. Relative, it is up to 3.3e-4 (tf.keras 2's 15.3332 prints 15.33,
# 15.4249 15.42), past CLAMP_TOLERANCE; 87.34 and 16.12 fall within both.
CLAMP_ROUNDING = 0.005
# Points in a row at the clamp, to the end of the record, that make it pinned: one is a value that may
# pass through it; two in a row at a constant to 4-6 digits is a net whose outputs stopped moving.
PINNED_POINTS = 2


def clamp_of(value: float) -> Clamp | None:
    """The clamp ``value`` is printed at, or None."""
    if not math.isfinite(value) or value <= 0:
        return None
    return next((c for c in CLAMPS if abs(value - c.value) <= max(CLAMP_TOLERANCE * c.value, CLAMP_ROUNDING)), None)


def pinned_from(values: np.ndarray) -> tuple[int, Clamp] | None:
    """(index, clamp) where ``values`` (in step order) reached the clamp they stay at to their end, at
    least ``PINNED_POINTS`` points in a row; None when the record does not end pinned, or when a value
    before it stood above the clamp's ceiling: the clamp is the most a saturated element prints, so a
    loss that was ever higher is no loss under it (a summed or regression loss converging from above
    to a level that happens to lie within the tolerance of a constant)."""
    if values.size < PINNED_POINTS:
        return None
    last = clamp_of(float(values[-1]))
    if last is None:
        return None
    i = values.size - 1
    while i > 0 and clamp_of(float(values[i - 1])) is last:
        i -= 1
    if values.size - i < PINNED_POINTS:
        return None
    above = values[:i] > last.top + max(CLAMP_TOLERANCE * last.top, CLAMP_ROUNDING)
    return None if above.any() else (i, last)
