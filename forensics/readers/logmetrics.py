"""Metrics from any line of a text log, by tokens rather than by format.

Training scripts print their metrics in a handful of *shapes* rather than in a
handful of formats: ``name: value``, ``name=value``, ``name value``, a dict or a
JSON object, columns under a header line. Around them sit step counters of a
few shapes too (``Epoch 3/10``, ``[3][120/500]``, ``Iter 120``, ``Up. 300``,
``step=120``, ``120/2000``). Rather than a pattern per toolkit, a line is cut
into tokens (numbers, words, punctuation) by one regular expression whose
alternatives are each a single greedy run, so the cut is linear in the length
of the line; the shapes are then recognised on the token list by a small
hand-written scanner (no backtracking at all). Hand-written because log
template miners (drain3 and kin) cluster lines by their constant words but do
not say which number belongs to which name, nor what a counter means.

What the scanner returns for a line (:class:`LineMetrics`):

- ``pairs``: (name, value) for every name followed by a number, NaN/Inf
  spellings included. A value followed by a bracketed number is a value and
  its running average (timm, Swin, DeiT: ``loss 6.9 (6.94)``): the average is
  skipped. Multi-word names (``Minibatch Loss``, ``Fp16 Grad Scale``) are
  matched from the longest to the shortest ending (:func:`metric_name`).
- ``counters``: (kind, n, total) for step-like names (``step``, ``iter``,
  ``num_updates``, ``Up.``, ``batch``) and for bare fractions in brackets
  (``[120/500]``, the batch within an epoch) or at the start of a line.
- ``epoch``: the epoch number when the line names one.

Names are normalised (:func:`metric_name`) to the series the rules know
(``loss``, ``learning_rate``, ``grad_norm``, ``loss_scale``, ``accuracy``...)
or kept as printed when they look like a metric (``loss_cls``, ``nll_loss``,
``acc@1``); things printed beside metrics that are not (times, speeds,
memory, ETA) are dropped. The *main* loss of a line is ``loss`` (or its
aliases: ``train_loss``, ``total_loss``, ``Minibatch Loss``...); loss
components (``loss_cls``, ``nll_loss``, ``kl_loss``) keep their own name. A
line with no main loss but a single total-like value (``cost``, ``xent``,
``objective``, ``perplexity``) has that value taken as its loss
(:func:`main_loss_of`).
"""

from __future__ import annotations

import bisect
import fnmatch
import functools
import itertools
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

# One alternative per token kind, each a single greedy run over characters the
# next token cannot start with: the scan never backtracks more than a few
# characters (the thousands-separator form falls back to plain digits). A Windows C runtime's NaN or Inf
# ("1.#QNAN", MSVC_NONFINITE) is a number token too, tried before the digits that start it, and so is YAML's spelling
# of a non-finite float (YAML_NONFINITE) where a value stands: after a blank, a separator or the line's start.
_TOKEN = re.compile(
    r"([-+]?\d\.#(?i:qnan|snan|ind|inf)\d{0,16}(?![A-Za-z_])"
    r"|(?<![^\s:=,])[-+]?\.(?i:nan|inf)(?![\w.])"
    r"|[-+]?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d*)?(?:[eE][-+]?\d{1,4})?|[-+]?\.\d+(?:[eE][-+]?\d{1,4})?)"
    r"|([A-Za-z_][\w.\-/@]*(?:\([\w/]{0,32}\))?)"
    r"|(\S)",
)
NUM, WORD, PUNCT = 0, 1, 2
MAX_NAME_WORDS = 4  # "Fp16 Grad Scale", "Minibatch Loss": the longest names printed have three words
MAX_TOKENS = 1024  # a line is read up to this many tokens: real metric lines have fewer than 200

_NONFINITE = {
    "nan": math.nan,
    "-nan": math.nan,
    "+nan": math.nan,
    "inf": math.inf,
    "infinity": math.inf,
    "-inf": -math.inf,
    "-infinity": -math.inf,
    "+inf": math.inf,
    "nan.0": math.nan,  # Lightning's bar prints every float with a trailing ".0"
    "inf.0": math.inf,
}
# YAML's spellings of a non-finite float (YAML 1.1 and 1.2 core schema; PyYAML's safe_dump writes these): a result
# dumped as YAML, as Ray's pretty_print does every RLlib and Tune result ('episode_reward_mean: .nan')
YAML_NONFINITE = {".nan": math.nan, ".inf": math.inf, "-.inf": -math.inf, "+.inf": math.inf}
_NONFINITE.update(YAML_NONFINITE)
# Other spellings of a non-finite value, as one word token: a C runtime's payload ("-nan(ind)",
# MSVC's printf; "nan(snan)"), a Python format spec's fill up to its width ("nanxxx", "-infxx":
# PaddleOCR's logger prints every value with '{:x<6f}', and the fill shows only on nan and inf,
# whose text is shorter than the width), and the full stop of a sentence ("loss is NaN.").
_NONFINITE_SPELLING = re.compile(r"([-+]?)(nan|inf(?:inity)?)(?:\([a-z]{0,8}\))?(?:x{1,16}|_{1,16}|\.0{1,8})?\.?")


# The Windows C runtime's spellings before the Universal CRT (Visual C++ up to 2013): printf writes a quiet NaN
# "1.#QNAN" (then the precision's zeros, "1.#QNAN000"), a signalling one "1.#SNAN", the indeterminate NaN that
# 0/0 gives "-1.#IND", infinity "1.#INF"; MSVC builds of CNTK 1.x, Caffe, darknet and TensorFlow print them.
# (The Universal CRT's "-nan(ind)" is a payload of _NONFINITE_SPELLING.) Bounded: linear on any text.
MSVC_NONFINITE = re.compile(r"([-+]?)\d\.#(qnan|snan|ind|inf)\d{0,16}", re.IGNORECASE)


def nonfinite_value(text: str) -> float | None:
    """The value of a NaN/Inf spelling (any case, sign, payload, fill or full stop), else None."""
    low = text.lower()
    v = _NONFINITE.get(low)
    if v is None and "#" in low[:4]:
        m = MSVC_NONFINITE.fullmatch(low)
        return None if m is None else math.inf * (-1 if m.group(1) == "-" else 1) if m.group(2) == "inf" else math.nan
    if v is not None or len(low) > 40 or low.lstrip("-+")[:3] not in ("nan", "inf"):
        return v
    m = _NONFINITE_SPELLING.fullmatch(low)
    if m is None:
        return None
    return math.nan if m.group(2) == "nan" else -math.inf if m.group(1) == "-" else math.inf


# reprs that wrap a value: torch's tensor(2.3, device='cuda:0', grad_fn=<...>) in a printed
# loss dict (detectron2's NaN guard), numpy 2's np.float64(0.41) in a dict of numpy means, numpy's
# array(0.5, dtype=float32) (a 0-d array's repr: a Keras or JAX loop's dict of fetched values), TensorFlow 2's
# eager tensor printed by Python's print: tf.Tensor(2.3025851, shape=(), dtype=float32)
_VALUE_WRAPPERS = frozenset(
    {
        "tensor",
        "tf.tensor",
        "array",
        "np.array",
        "numpy.array",
        "np.float64",
        "np.float32",
        "np.float16",
        "numpy.float64",
        "numpy.float32",
    }
)
# a repr of a non-finite scalar with nothing else in its brackets is one word token: numpy 2's np.float64(nan), a
# 0-d array's array(nan), a CPU tensor's tensor(nan)
_WRAPPED_NONFINITE = re.compile(r"(?:(?:np|numpy)\.float\d{0,2}|array|tensor)\((-?(?:nan|inf))\)", re.IGNORECASE)
# quotes around keys and values ('loss': '2.3') are not separators
_TRANSPARENT = frozenset("'\"`")
_NAME_SEPARATORS = frozenset(":=")
# A list of values each named after it, cut by these ("0.53 avg loss, 0.001 rate, 3.2 seconds"), is read
# only with at least MIN_VALUE_FIRST such items on the line: one "3 files" is no list.
_LIST_SEPARATORS = frozenset(",;|")
MIN_VALUE_FIRST = 2
_FILLER_WORDS = frozenset({"is", "was", "became", "becomes", "now"})  # "loss is nan"; not "to": "setting lr to"
# A word of these standing alone before the metrics (not part of a name that takes a value)
# says the line reports an evaluation: fairseq's "| valid | epoch 002 | valid on 'valid'
# subset | loss 9.39", pytorch/examples' "Test set: Average loss: 0.03".
_EVAL_STAGE_WORDS = frozenset(
    {"val", "valid", "validation", "validating", "eval", "evaluation", "evaluating", "test", "dev"}
)
# "Loss at step 100 : nan", "Average loss at step 2000: 4.37", "loss of epoch 3 is 0.52": a metric named
# before the counter that tells where it was taken, its value after the counter; with no number for the
# counter ("avg loss in epoch = nan", Lua loops' summaries), the value is the metric's
_COUNTER_CONNECTORS = frozenset({"at", "after", "for", "in", "of", "per"})
# a counter's name after one of these is what a quantity is counted per ("steps per epoch: 500", "save every
# epoch: 1"): the value is a setting, never the counter's
_RATE_CONNECTORS = frozenset({"per", "each", "every"})
# units of time printed after a value: whatever its name, that value is a duration, not a metric
_TIME_UNITS = frozenset({"s", "sec", "secs", "second", "seconds", "ms", "min", "mins", "minutes", "h", "hours"})
# "loss_scaler.py:183:update_scale", "train.py 221": a source file and line, not a metric
_SOURCE_SUFFIXES = (".py", ".pyx", ".cc", ".cpp", ".cu", ".cuh", ".c", ".h", ".hpp", ".lua", ".java", ".go", ".rs")

# ---------------------------------------------------------------- names

# counters: the step-like names, by what they count
GLOBAL_COUNTERS = {
    "global_step": "global",
    "global step": "global",
    "globalstep": "global",
    "num_updates": "global",
    "update": "global",
    "up.": "global",
    "_step": "global",  # wandb's own counter
    "trainer/global_step": "global",
    "global_step/max_steps": "global",  # ms-swift: 'global_step/max_steps': '10/1000'
    "step": "step",
    "train_step": "step",
    "iter": "step",
    "iteration": "step",
    "it": "step",
    "iter(train)": "step",
    "batch": "batch",
    "minibatch": "batch",
}
# (plurals are totals, settings printed at start: "epochs=5", "steps: 1000", not counters)
EPOCH_NAMES = frozenset({"epoch", "ep.", "ep", "epoch(train)", "train_epoch"})
EVAL_EPOCH_NAMES = frozenset({"epoch(val)", "epoch(test)", "iter(val)", "iter(test)"})

# aliases of the series the rules read (the Keras, tqdm and rich paths of readers/logs.py use them too)
ALIASES = {
    # main loss
    "loss": "loss",
    "train_loss": "loss",
    "training_loss": "loss",
    "train loss": "loss",
    "training loss": "loss",
    "train/loss": "loss",
    "train/train_loss": "loss",
    "tr_loss": "loss",
    "loss_step": "loss",
    "train_loss_step": "loss",
    "total_loss": "loss",
    "loss_total": "loss",
    # tensorpack's models name the sum they minimise total_cost (its monitor prints "total_cost: {}" at each epoch's
    # end, beside wd_cost and the terms filed under their groups); a 'cost' in seconds is a duration (_duration_unit)
    "total_cost": "loss",
    "total loss": "loss",
    "minibatch loss": "loss",
    "batch loss": "loss",
    "avg loss": "loss",
    "average loss": "loss",
    "mean loss": "loss",
    "avr_loss": "loss",  # kohya's sd-scripts: its tqdm postfix, the moving average of the step losses
    # the loss named with a word for its reading after it: print("Loss value:", loss), and IBM aihwkit's examples'
    # print("Loss error: {:.16f}".format(loss)) (examples/01_simple_layer.py and the examples copied from it)
    "loss value": "loss",
    "loss error": "loss",
    # graph_nets' demo notebooks (shortest_path, sort, physics; graph_nets 1.x) print "# {:05d}, T {:.1f}, Ltr {:.4f},
    # Lge {:.4f}, Ctr {:.4f}, ..." of the iteration, the time, the loss on the training graphs and on the test graphs
    # (L for loss, tr and ge for training and generalisation), then fractions correct and solved; forks keep them
    "ltr": "loss",
    "loss/train": "loss",
    "losses/train": "loss",
    # validation loss
    "val_loss": "val_loss",
    "valid_loss": "val_loss",
    "validation_loss": "val_loss",
    "val loss": "val_loss",
    "valid loss": "val_loss",
    "validation loss": "val_loss",
    "val/loss": "val_loss",
    "valid/loss": "val_loss",
    "eval_loss": "val_loss",
    "eval/loss": "val_loss",
    "test_loss": "test_loss",
    "lge": "val_loss",  # graph_nets' generalisation loss (see "ltr")
    "test loss": "test_loss",
    # learning rate
    "lr": "learning_rate",
    "learning_rate": "learning_rate",
    "learning rate": "learning_rate",
    "learningrate": "learning_rate",
    "learning-rate": "learning_rate",
    "l.r.": "learning_rate",
    "l.r": "learning_rate",
    "lr(e)": "learning_rate",
    "cur_lr": "learning_rate",
    "current lr": "learning_rate",
    "train/learning_rate": "learning_rate",
    "optimizer/lr": "learning_rate",
    # gradient norm
    "grad_norm": "grad_norm",
    "grad-norm": "grad_norm",
    "gradnorm": "grad_norm",
    "grad norm": "grad_norm",
    "gradient norm": "grad_norm",
    "gradient_norm": "grad_norm",
    "gnorm": "grad_norm",
    "total_norm": "grad_norm",
    "total_grad_norm": "grad_norm",  # the norm over all parameters, what clip_grad_norm_ returns (OLMo's optim/...)
    "total norm": "grad_norm",
    "train/grad_norm": "grad_norm",
    "grad_norm_total": "grad_norm",
    # fp16 loss scale
    "loss_scale": "loss_scale",
    "loss scale": "loss_scale",
    "loss-scale": "loss_scale",
    "lossscale": "loss_scale",
    "grad scale": "loss_scale",
    "fp16 grad scale": "loss_scale",
    "grad_scale": "loss_scale",
    # accuracy
    "acc": "accuracy",
    "accuracy": "accuracy",
    "train_acc": "accuracy",
    "train_accuracy": "accuracy",
    "training accuracy": "accuracy",
    "train accuracy": "accuracy",
    "minibatch accuracy": "accuracy",
    "sparse_categorical_accuracy": "accuracy",
    "categorical_accuracy": "accuracy",
    "binary_accuracy": "accuracy",
    "val_acc": "val_accuracy",
    "val_accuracy": "val_accuracy",
    "valid_acc": "val_accuracy",
    "eval_accuracy": "val_accuracy",
    "val accuracy": "val_accuracy",
    "validation accuracy": "val_accuracy",
    "val_sparse_categorical_accuracy": "val_accuracy",
    "val_categorical_accuracy": "val_accuracy",
    "val_binary_accuracy": "val_accuracy",
    "ppl": "perplexity",
    # the Dice coefficient printed in words (milesial Pytorch-UNet's 'Validation Dice Coeff: {}' and its many forks):
    # its last word, a coefficient, names no metric on its own
    "dice coeff": "dice",
    "dice coef": "dice",
    "dice coefficient": "dice",
    # Lua Torch names the criterion's output err ("local err = criterion:forward(...)"; NAMAS prints
    # "err  nan", fb.resnet.torch "Err 6.9077"): a loss only where the line prints no other
    "err": "err",
    "perplexity": "perplexity",
}
# a name containing one of these reads as a metric worth a series; anything else
# printed beside them (paths, sizes, ids) is not kept
_METRIC_WORDS = (
    "loss",
    "acc",
    "norm",
    "lr",
    "ppl",
    "perplex",
    "cost",
    "xent",
    "entropy",
    "nll",
    "scale",
    "f1",
    "bleu",
    "auc",
    "iou",
    "map",
    "error",
    "mse",
    "mae",
    "rmse",
    "reward",
    "kl",
    "top1",
    "top5",
    "dice",
    "wer",
    "cer",
    "psnr",
    "objective",
    "score",
    "precision",
    "recall",
)
# printed beside metrics, not metrics (even when a metric word is in them)
_NOT_METRIC_WORDS = (
    "time",
    "speed",
    "eta",
    "mem",
    "wall",
    "wps",
    "ups",
    "wpb",
    "bsz",
    "/s",
    "per_second",
    "flos",
    "runtime",
    "samples",
    "tokens",
    "remaining",
    "elapsed",
    "gb_free",
    "seed",
    "v_num",
    "count",
    "total_flos",
    "percentage",
    "reader_cost",  # PaddlePaddle's timings: "reader_cost: 0.05 s, batch_cost: 0.84 s"
    "batch_cost",
)
# sizes, limits and schedule settings: "max_norm", "num_tokens", "lr_gamma", "lr_milestones"
_NOT_METRIC_PREFIXES = ("num_", "n_", "max_", "min_", "lr_", "init_", "warmup_")
# "loss_scale", "loss_weight": a setting of a loss, never the loss ("Attempted loss scale: 65536")
_LOSS_SETTING_WORDS = ("scale", "weight", "coef", "factor")
# "l_pix", "l_g_gan", "l_d_real": a loss term by the short prefix (BasicSR and the mmsr/ESRGAN
# family name every term so); "l1", "l2" have no underscore and are no loss term (they are criteria, below)
_LOSS_TERM = re.compile(r"l_[a-z][a-z0-9_]{0,40}")
# faster-rcnn.pytorch (trainval_net.py, and the many detectors forked from it) prints its four head terms bare,
# on the line under its loss: "rpn_cls: %.4f, rpn_box: %.4f, rcnn_cls: %.4f, rcnn_box %.4f"; each is read as the
# loss term it is (loss_rpn_cls, mmdetection's and detectron2's way of naming the same heads' terms)
_HEAD_TERM = re.compile(r"(?:rpn|rcnn)_(?:cls|box)")
# a word of a loss term's name that says it trains a GAN's discriminator ("l_d_real",
# "loss_D", "d_loss"): another objective than the model's, never summed into its loss
_DISCRIMINATOR_WORDS = frozenset({"d", "disc", "discriminator"})
# a word of a loss term's name that says it is the total of the others ("l_g_total")
_TOTAL_WORDS = frozenset({"total", "sum", "all"})
# a heading that lists a loss's terms after it by name ("loss: x 2.3, y 2.4, total 4.7")
_LOSS_HEADINGS = frozenset({"loss", "losses", "loss:", "losses:"})
# What a line's loss is called when it prints none under that name, by the words of the name past
# those that say which reading it is (:func:`_reading`), in this order of preference: a loss under a
# qualifier ("cur_loss"), an objective, a cost (Marian, TF1 tutorials), a rate-distortion loss (learned
# compression's objective, bpp + lambda * distortion: CompressAI-style "avg_rd", "cur_rd").
_OBJECTIVE_CORES = ("loss", "objective", "cost", "rd")
# Names of training criteria, a loss term even without the word "loss": cross-entropy (OpenNMT's
# "xent", GluonCV's "CrossEntropy"), NLL, and the robust regression losses nobody reports as an
# evaluation (GluonCV's "SmoothL1", Huber, focal), and the L1, L2 and Charbonnier penalties that image restoration
# trains with and names its loss by (EDSR and the super-resolution trainers forked from it print each term under its
# criterion's name, '[L1: 5.9633]'); not MSE, MAE, IoU or Dice, which are metrics as often
_CRITERIA = frozenset(
    {
        *("xent", "cross_entropy", "crossentropy", "ce", "bce", "nll", "nll_loss"),
        *("smoothl1", "smooth_l1", "huber", "focal", "l1", "l2", "charbonnier"),
    }
)
# the criteria that also name other things than a training loss: a regulariser's strength ('l2: 1e-4' in a settings
# dump), a norm ('grad L2: 1.5', 'weight l2'), an evaluation's distance ('test L1: 0.2'); read only as below
_PENALTY_CRITERIA = frozenset({"l1", "l2", "charbonnier"})
# a word right before such a name that makes it another quantity's, and the stage words that make a line an evaluation's
_PENALTY_QUALIFIED = re.compile(
    r"\b(?:grad|grads|gradient|gradients|weight|weights|param|params|parameter|parameters|norm|reg|regularization|"
    r"decay|penalty|dist|distance|error|err)[ \t_/.-]{0,2}(?:l1|l2|charbonnier)\b"
)
# (a word of its own, not a folder of a path: 'saved to /data/test/models' is no evaluation)
_EVAL_STAGE = re.compile(r"(?<![\w/\\.-])(?:val|valid|validation|eval|evaluation|test|testing|dev)(?![\w/\\.-])")


def _penalty_is_a_loss(out: LineMetrics, line_low: str) -> bool:
    """An L1, L2 or Charbonnier value is the training loss only on a line of training (a step or an epoch counted on
    it, no evaluation's stage word) where its name stands alone, not qualified by a quantity it would be the norm of."""
    if not out.counters and out.epoch is None:
        return False
    return not _PENALTY_QUALIFIED.search(line_low) and not _EVAL_STAGE.search(line_low)


# a criterion may be the only name on its line (MXNet 0.x's Speedometer logs one metric a line, 'Epoch[0] Batch [20]
# \tSpeed: 20.25 samples/sec\tTrain-SmoothL1=23.4'): the line hints at a metric by the criterion's name ('ce' is too
# short to tell anything, and 'xent', 'nll' and 'cross_entropy' hold a metric word already); 'l1' and 'l2' only
# as a name before its value, for the two characters are in too many words ('model1', 'pool2')
_CRITERIA_HINTS = ("smoothl1", "smooth_l1", "huber", "focal", "bce", "l1:", "l1=", "l2:", "l2=", "charbonnier")
# a bare total ("total", "sum") is the loss only beside at least this many terms it totals
MIN_SUMMED_TERMS = 2
# with no loss, objective or term: Lua Torch's criterion output, then a perplexity (exp of a loss)
# A reading's word that says so only beside its twin: second.pytorch prints each loss term twice, 'cls_loss' (its
# metric object's running mean) and 'cls_loss_rt' (the step's value); alone, 'rt' may name a term (a pose's rotation
# and translation), so it is a reading only where the name without it is printed too. One of the two is summed.
_TWIN_READINGS = frozenset({"rt"})
# Coqui TTS's Trainer, with several optimizers (a GAN's generator and discriminator), renames each optimizer's total
# 'loss_{idx}' (and its 'grad_norm_{idx}') and prints it beside the terms it is the sum of: a total, never a term.
_PER_OPTIMIZER_TOTAL = re.compile(r"loss_\d{1,2}")
_PERPLEXITY_NAME = "perplexity"
_LAST_FALLBACKS = ("err", _PERPLEXITY_NAME)
# with none of those either: a regression error of the whole prediction measured on the training data, by the core
# of its name past the words of its reading and its stage ('rmse_trn' is 'rmse'; 'rmse_e_trn' is one target's
# 'rmse_e'). Named with the training stage it is the loss's reading, not a metric beside it as an accuracy is: the
# criterion a regression trains on is the MSE or the L1 error, and the RMSE the root of the MSE, rising and turning
# non-finite with it. DeePMD-kit's lcurve.out prints no 'loss' but 'rmse_trn', the root of its weighted total loss
# (the TF backend's EnerStdLoss.eval: results["rmse"] = np.sqrt(error) of l2_l, the loss it minimises), and
# 'mae_trn' for a property model. Without the stage word an MSE or MAE is as often an evaluation and stays a metric;
# an accuracy only rises as a model learns and never stands for the loss.
_ERROR_CORES = ("rmse", "mse", "mae")
# Words of a metric's name that say which reading it is: the step's value ("cur_rd", "batch_loss")
# or a mean over the steps so far ("avg_rd", "running_loss"); a line printing both gives the step's
# value as its point, as "loss 6.9 (6.94)" does. Words that name the stage trained say nothing more.
# names read as metrics by their words though they hold no metric word: a rate-distortion loss, a
# training criterion, and a bare total (kept only as the total of loss terms beside it, main_loss_of)
_NAMED_BY_CORE = frozenset({"rd", "total"}) | _CRITERIA
_CURRENT_WORDS = frozenset({"cur", "curr", "current", "batch", "step", "iter", "last"})
_AVERAGE_WORDS = frozenset({"avg", "average", "mean", "running", "smooth", "smoothed", "ema", "moving"})
_TRAIN_WORDS = frozenset({"train", "training", "tr", "trn", "main"})  # chainer's "main/loss": the main optimizer's
# ("trn": DeePMD-kit's lcurve.out names its training columns 'rmse_trn', 'rmse_e_trn')


# A reinforcement learner's result counts the episodes it covers and gives their mean length: RLlib's names for these,
# in the result Ray's pretty_print dumps one key a line ('episodes_this_iter: 0', 'episodes_total: 0' and, on the new
# API stack, 'num_episodes', 'num_episodes_lifetime'; 'episode_len_mean'). Neither holds a metric word, and a count is
# no metric; they are kept as series beside the episode rewards, whose mean over no finished episode is NaN.
EPISODE_COUNT = re.compile(r"(?:num_)?episodes(?:_this_iter|_total|_lifetime)?")
EPISODE_LENGTH = re.compile(r"episode_len(?:gth)?_(?:mean|max|min)")
# ... and the statistics of their returns under names holding no metric word: Stable-Baselines' 'ep_rew_mean' (SB3's
# logger box files it under 'rollout/'), OpenAI Baselines' 'eprewmean', RLlib's new stack 'episode_return_mean'
# (the names holding 'reward' are metrics by that word)
EPISODE_RETURN = re.compile(r"(?:ep_?|episode_)(?:rew|return)_?(?:mean|max|min)")


# A line that names no metric cannot give one: a cheap test before tokenizing (every alias
# above contains one of these, or "l.r", "learning" or "err")
# "rpn_" hints at faster-rcnn.pytorch's bare head terms (_HEAD_TERM), whose names hold no metric word; "ltr", "lge"
# at graph_nets' abbreviated losses; "l_g_", "l_d_" at BasicSR's loss names (l_g_pix, l_d_real: _LOSS_TERM)
_HINT_WORDS = tuple(
    dict.fromkeys(
        w.lower()
        for w in (
            *_METRIC_WORDS,
            *("l.r", "learning", "err", "rpn_", "ltr", "lge", "l_g_", "l_d_", "episodes", "episode_len"),
            *("ep_rew", "eprew", "episode_return"),
            *_CRITERIA_HINTS,
        )
    )
)


def names_a_metric(text: str) -> bool:
    """Whether ``text`` holds one of the words every metric alias contains, in any case.

    Substring tests on the lowered line, not one case-insensitive alternation: ``re`` tries every
    alternative at every position (no literal prefix scan once IGNORECASE is on), 15x slower on
    long lines; a log of kilobyte-wide padded progress lines spent seconds here."""
    low = text.lower()
    return any(w in low for w in _HINT_WORDS)


# a word before a metric's name that says it was measured on held-out data: "Vali Loss",
# "Valid Acc", "Test Loss" (the Time-Series-Library print loop)
_STAGE_PREFIXES = {
    "val": "val",
    "vali": "val",
    "valid": "val",
    "validation": "val",
    "eval": "val",
    "evaluation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
}


def _staged(stage: str, series: str) -> str:
    if series.startswith(("val_", "test_")):
        return series
    return f"{stage}_{series}"


# The stage named after the metric rather than before it: LitGPT's "loss train: 3.724, val: n/a",
# TensorBoard-style tags "loss/train", "acc/val" printed as keys. The training stage adds nothing.
_STAGE_AFTER = {**_STAGE_PREFIXES, "train": "", "training": ""}


def _unstaged(series: str) -> str:
    """``val_loss`` -> ``loss``: a series without the stage it was measured at."""
    for stage in ("val_", "test_"):
        if series.startswith(stage):
            return series[len(stage) :]
    return series


def _stage_after(words: tuple[str, ...]) -> str | None:
    """The series of a name whose last word (or last '/' part) is a stage: ("loss", "train") is
    ``loss``, ("loss/val",) ``val_loss``; None when the name does not end so."""
    last = words[-1].strip("'\"`").lower().rstrip(":")
    head: tuple[str, ...] = words[:-1]
    if "/" in last and last.count("/") == 1:
        inner, last = last.split("/")
        head = (*head, inner)
    stage = _STAGE_AFTER.get(last)
    if stage is None or not head or counter_kind(head) is not None:
        return None
    series = ALIASES.get(head[-1].strip("'\"`").lower())
    if series is None:
        return None
    return _staged(stage, series) if stage else series


# A word of a name that says its value is the best so far ("best loss", "best_validation_loss: inf", "lowest
# val_loss"): a summary of the curve, printed beside it or once at the end, never a point of it; and its first
# value is often the initial best, inf, which is no non-finite loss
_SUMMARY_WORDS = frozenset({"best", "lowest", "highest"})
_NAME_PARTS = re.compile(r"[_/.\s:'\"`()-]+")


# A word right before a name that says its value was tried and given up: DeepSpeed's "OVERFLOW! ... Attempted loss
# scale: 1, reducing to 0" (runtime/fp16/loss_scaler.py) prints the scale it had before the overflow, the new one after
# "reducing to"; read as the scale, it would put back the scale the overflow just took away
_ATTEMPT_WORDS = frozenset({"attempted", "tried"})


def _names_a_summary(words: tuple[str, ...]) -> bool:
    return any(part in _SUMMARY_WORDS for w in words for part in _NAME_PARTS.split(w.lower()))


# 'cost' after a word of time is a duration, no objective: MXNet's Module.fit logs 'Epoch[%d] Time cost=%.3f' (the
# epoch's seconds) after the epoch's 'Train-<metric>=' lines (mxnet/module/base_module.py, 0.9 to 1.9)
_TIME_WORDS = frozenset({"time", "timing", "wall"})


def _names_a_time_cost(words: tuple[str, ...]) -> bool:
    return len(words) >= 2 and words[-1].strip("'\"`:").lower() == "cost" and words[-2].lower() in _TIME_WORDS


# A word before a metric's name that says the value is the spread of its samples, not the metric: ML-Agents' trainer
# prints 'Mean Reward: X. Std of Reward: Y.' (both read as 'reward' before, the spread overwriting the mean). The
# spread is kept apart, as '<metric>_std'.
_SPREAD_WORDS = frozenset({"std", "stddev", "stdev"})


@functools.lru_cache(maxsize=8192)
def metric_name(words: tuple[str, ...]) -> str | None:
    """The series name for a printed name (one or more words), or None when it is no metric.

    Longer endings are tried first: ``("Minibatch", "Loss")`` is ``loss`` because
    ``minibatch loss`` is an alias; ``("samples/sec", "Loss")`` is ``loss`` because
    ``loss`` is. A best-so-far value is no metric (``_SUMMARY_WORDS``).
    """
    if _names_a_summary(words) or _names_a_time_cost(words):
        return None
    if len(words) > 1 and any(w.strip("'\"`").lower() in _SPREAD_WORDS for w in words[:-1]):
        of = metric_name(words[-1:])
        return f"{of}_std" if of is not None else None
    for i in range(len(words)):
        tail = [w.strip("'\"`").lower() for w in words[i:]]
        key = " ".join(tail)
        if not key:
            continue
        for k in (key, key.rstrip("."), key.replace(" ", "_")):
            if k in ALIASES:
                if i and words[i - 1].strip("'\"`.").lower() in _ATTEMPT_WORDS:
                    return None  # a value tried, not the one in effect (_ATTEMPT_WORDS)
                return _stage_before(words[: i + 1], ALIASES[k])
    staged = _stage_after(words)
    if staged is not None:
        return staged
    leaf = _grouped_leaf(words)
    if leaf is not None and leaf in ALIASES:
        return ALIASES[leaf]
    key = words[-1].strip("'\"`").lower().rstrip(".:")
    if not key or len(key) > 64 or not key[0].isalpha() or key.endswith(_SOURCE_SUFFIXES):
        return None
    if key.startswith(("lr-", "lr/")) or key.endswith(("/lr", "_lr")):
        return "learning_rate" if "base" not in key else None  # Lightning "lr-Adam"; mmengine base_lr kept out
    if EPISODE_COUNT.fullmatch(key) or EPISODE_LENGTH.fullmatch(key):
        return key
    if EPISODE_RETURN.fullmatch(key.rsplit("/", 1)[-1]):
        return key
    if any(w in key for w in _NOT_METRIC_WORDS) or key.startswith(_NOT_METRIC_PREFIXES):
        return None
    if _HEAD_TERM.fullmatch(key):
        return _stage_before(words, f"loss_{key}")
    if any(w in key for w in _METRIC_WORDS) or _LOSS_TERM.fullmatch(key) or _reading(key)[0] in _NAMED_BY_CORE:
        return _stage_before(words, key)
    return None


def _stage_before(words: tuple[str, ...], series: str) -> str:
    """``series`` under the stage the word before its name (the last of ``words``) says: "valid loss_att" is
    ``val_loss_att``, "Vali Loss" ``val_loss``."""
    stage = _STAGE_PREFIXES.get(words[-2].strip("'\"`").lower()) if len(words) > 1 else None
    return _staged(stage, series) if stage else series


# A counter named with the name of its total after a slash, as its value is printed with the total: "step/total_step:
# 5/60" (a BiLSTM-CRF NER trainer's print("Epoch {}, step/total_step: {}/{} {:.2f}% Loss:{:.4f}"), copied by many),
# ms-swift's "global_step/max_steps"; the total's name is the counter's under one of these prefixes
_TOTAL_PREFIXES = ("total_", "max_", "num_", "n_")


def _counter_over_total(key: str) -> str | None:
    head, sep, tail = key.partition("/")
    if not sep or "/" in tail or head not in GLOBAL_COUNTERS:
        return None
    core = next((tail[len(p) :] for p in _TOTAL_PREFIXES if tail.startswith(p)), None)
    if core is None or core.rstrip("s") != head.rsplit("_", 1)[-1]:
        return None
    return GLOBAL_COUNTERS[head]


# A key filed under a group by a logger that flattens a nested dict of metrics with a dot or a slash: second.pytorch's
# train.py prints 'runtime.step=.., loss.cls_loss=.., misc.lr=..', OLMo's trainer 'optim/total_grad_norm=..'
# and 'train/CrossEntropyLoss=..'. These groups name the run's bookkeeping, not what is measured: the leaf says
# which metric or counter it is, read as if printed alone. A group naming a part of the model or a player ('G/loss',
# 'encoder.grad_norm') is no such group: the whole key stays the name (a term beside the others). A unit before a
# slash ('time/step', 'samples/step') is a rate, not a group. The loss's own group ('loss.cls_loss') needs no
# reading: its keys say loss and are the loss's terms by the rules of main_loss_and_basis. Nor does a stage's
# ('train/..', 'val/..'): _stage_after and the aliases read those, and a leaf alone would make OLMo's
# 'train/Perplexity', printed on a line of its own, the line's objective.
_KEY_GROUPS = frozenset({"runtime", "misc", "optim", "optimizer", "trainer", "progress", "metrics", "stats"})


def _grouped_leaf(words: tuple[str, ...]) -> str | None:
    """The leaf of a one-word key under one of _KEY_GROUPS ('runtime.step' -> 'step'), else None."""
    if len(words) != 1:
        return None
    key = words[0].strip("'\"`").lower().rstrip(":")
    cut = max(key.rfind("."), key.rfind("/"))
    if cut <= 0 or re.split(r"[./]", key, maxsplit=1)[0] not in _KEY_GROUPS:
        return None
    return key[cut + 1 :] or None


@functools.lru_cache(maxsize=8192)
def counter_kind(words: tuple[str, ...]) -> str | None:
    """ "global", "step" or "batch" for a step-like name; "epoch" / "eval_epoch" for an epoch; else None."""
    leaf = _grouped_leaf(words)
    if leaf is not None:
        words = (leaf,)
    for i in range(len(words)):
        key = " ".join(w.strip("'\"`").lower() for w in words[i:]).rstrip(":")
        if key in GLOBAL_COUNTERS:
            return GLOBAL_COUNTERS[key]
        over_total = _counter_over_total(key) if "/" in key else None
        if over_total is not None:
            return over_total
        if key in EPOCH_NAMES:
            return "epoch"
        if key in EVAL_EPOCH_NAMES:
            return "eval_epoch"
    return None


# The longest printed number read: "%f" writes every integer digit of a float (OpenNMT-py's capped
# perplexity e^100 is 44 digits, a float32 near its limit 39, a float64's largest 309), plus sign,
# point and decimals. Longer runs of digits are damage.
MAX_NUMBER_CHARS = 330


def parse_number(text: str) -> float | None:
    """A printed number or NaN/Inf spelling; None if it is not one."""
    if len(text) <= 40:
        try:
            return float(text)  # the common case: "2.345", "1e-3", "nan"
        except ValueError:
            pass
    t = text.strip().strip("'\"").replace(",", "")
    if not t:
        return None
    nonfinite = nonfinite_value(t)
    if nonfinite is not None:
        return nonfinite
    if len(t) > MAX_NUMBER_CHARS:
        return None
    try:
        return float(t)
    except ValueError:
        return None


# ---------------------------------------------------------------- tokens


def tokens(line: str) -> list[tuple[int, str]]:
    """(kind, text) tokens of a line, blanks dropped, at most MAX_TOKENS. Linear in the line's length."""
    return [
        (NUM, num) if num else (WORD, word) if word else (PUNCT, punct)
        for num, word, punct in _TOKEN.findall(line)[:MAX_TOKENS]
    ]


# ---------------------------------------------------------------- one line


@dataclass
class LineMetrics:
    pairs: list[tuple[str, float]] = field(default_factory=list)  # (series name, value)
    counters: list[tuple[str, int, int | None]] = field(default_factory=list)  # (kind, n, total)
    epoch: int | None = None
    epoch_total: int | None = None
    eval_context: bool = False  # "Epoch(val)", "Validation:": the metrics are evaluation metrics
    score_is_loss: bool = False  # a bare 'score' that is the training objective (:func:`_score_is_loss`)
    error_is_loss: bool = False  # a bare 'error' that is the training objective (:func:`_error_is_loss`)
    curves: dict[str, list[float]] = field(default_factory=dict)  # a printed history: series -> its values in order
    truncated: bool = False  # the line held more than MAX_TOKENS tokens: the rest was not read


# A line of just a step, a stage word and one value names that stage's loss by the stage alone:
# build-nanogpt's train_gpt2.py (and its many forks) writes f"{step} train {loss:.6f}" and
# f"{step} val {loss:.4f}" to log.txt. Only this whole-line shape: elsewhere a stage word qualifies a
# name ("train loss", "Epoch(train)") or marks an evaluation line.
_STAGE_ALONE = {"train": "loss", "training": "loss", "val": "val_loss", "valid": "val_loss", "validation": "val_loss"}
# the same shape as one cheap test on a whole line, for the readers' gate before scan_line
# (every quantifier bounded, so a search over any line stays linear; the gate strips the line first)
STAGE_ROW = re.compile(rf"\d{{1,12}}[ \t]{{1,16}}(?:{'|'.join(_STAGE_ALONE)})[ \t]{{1,16}}\S{{1,40}}", re.IGNORECASE)


# The stage word glued between the two counters as one label, then the step's loss and whatever else: yolov3-tf2's
# train.py logs "{}_train_{}, {}, {}".format(epoch, batch, total_loss, per-output losses) and "{}_val_{}, ..."
# for each batch (the per-output list after the total is its terms). The same rule as STAGE_ROW: the stage alone
# names the loss, the first value after the label is it. Bounded quantities and fixed separators: linear.
STAGE_LABEL = re.compile(
    rf"(?<![\w.])(\d{{1,9}})_({'|'.join(_STAGE_ALONE)})_(\d{{1,12}}),?[ \t]{{1,8}}"
    r"([-+]?(?:\d{1,30}(?:\.\d{0,30})?(?:[eE][-+]?\d{1,4})?|nan|inf(?:inity)?))(?![\w.])",
    re.IGNORECASE,
)


def _stage_label(line: str, line_low: str) -> LineMetrics | None:
    m = STAGE_LABEL.search(line) if "_train" in line_low or "_val" in line_low else None
    value = parse_number(m.group(4)) if m else None
    if m is None or value is None:
        return None
    tag = _STAGE_ALONE[m.group(2).lower()]
    counters: list[tuple[str, int, int | None]] = [("batch", int(m.group(3)), None)]
    return LineMetrics(pairs=[(tag, value)], counters=counters, epoch=int(m.group(1)), eval_context=tag != "loss")


def _stage_row(texts: list[str]) -> LineMetrics | None:
    step = parse_number(texts[0])
    iv = _int_of(step) if step is not None else None
    value = parse_number(texts[2])
    if value is None:
        value = nonfinite_value(texts[2])
    if iv is None or iv < 0 or value is None:
        return None
    tag = _STAGE_ALONE[texts[1].lower()]
    return LineMetrics(pairs=[(tag, value)], counters=[("step", iv, None)], eval_context=tag != "loss")


def _is_nonfinite(text: str) -> bool:
    return nonfinite_value(text) is not None


def _duration_unit(texts: list[str], kinds: list[int], i: int) -> bool:
    """Is token ``i``, right after a value, a unit of time ("0.84 s", "12.3 sec, lr 0.1")? Not when the word
    names the next pair: a separator or a value follows it ("loss: 0.52 seconds: 12", "loss 0.52 h 3")."""
    if i >= len(texts) or kinds[i] != WORD or texts[i].lower() not in _TIME_UNITS:
        return False
    return i + 1 >= len(texts) or not (texts[i + 1] in (":", "=") or kinds[i + 1] == NUM)


def _int_of(value: float) -> int | None:
    return int(value) if math.isfinite(value) and value == int(value) and abs(value) < 2**62 else None


def _range_end(texts: list[str], kinds: list[int], i: int, start: int) -> tuple[int, int] | None:
    """(end, index after it) of a counter printed as a range from ``start`` whose end is at ``texts[i]``:
    CNTK 1.x prints 'Minibatch[%4d-%4d]' (the first and the last minibatch a line averages over), which the
    tokenizer cuts as '501', '-1000' or '1', '-', ' 500'. A counter never counts down, so a negative number or
    a dash and a number right after a counter's value, no smaller than it, is the range's end, where the range
    closes there (:data:`_RANGE_CLOSERS`: CNTK's ']' or ', 25.00%]'; a ':' before a name, or the line's end): after
    'Iter 5 - ' a time ('12:30:01'), a date ('2023-01-01') or a count ('150 samples') is no range's end."""
    n = len(texts)
    if i < n and kinds[i] == NUM and texts[i].startswith("-"):
        digits, nxt = texts[i][1:], i + 1
    elif i + 1 < n and texts[i] == "-" and kinds[i + 1] == NUM and texts[i + 1][0].isdigit():
        digits, nxt = texts[i + 1], i + 2
    else:
        return None
    if nxt < n and not (
        texts[nxt] in _RANGE_CLOSERS or (texts[nxt] == ":" and (nxt + 1 == n or kinds[nxt + 1] != NUM))
    ):
        return None
    end = _int_of(parse_number(digits) or math.nan)
    return (end, nxt) if end is not None and end >= start else None


# what may follow a range's end: its bracket closing, or the bracket's next field ('Minibatch[ 501-1000, 25.00%]')
_RANGE_CLOSERS = frozenset({"]", ")", ","})


# A GAN's terms grouped in brackets under the player they train: GracoNet's train loop logs "[Epoch %d/%d] [Batch %d/%d]
# [G - gan1: %.3f, gan2: %.3f, rec: %.3f, kld: %.4f] [D - real: %.3f, fake1: %.3f, fake2: %.3f]" (running means).
# Each key of the G group is a term of the generator's loss, the model's, and those of the D group the
# discriminator's, another objective: read as the terms 'loss_G_<key>' and 'loss_D_<key>', as main_loss_and_basis
# reads a GAN's named terms (the generator's summed into the loss, the discriminator's set apart).
_NUMBER_TEXT = r"[-+]?(?:\d{1,30}(?:\.\d{0,30})?(?:[eE][-+]?\d{1,4})?|nan|inf)"
_PLAYER_GROUP = re.compile(
    rf"\[([GD]) {{0,4}}- {{0,4}}((?:[A-Za-z_]\w{{0,23}}: {{0,4}}{_NUMBER_TEXT}(?:, {{0,4}}|(?=\]))){{1,16}})\]",
    re.IGNORECASE,
)
_GROUP_KEY = re.compile(r"([A-Za-z_]\w{0,23}):")


def _player_groups(line: str) -> str:
    """``line`` with each player's bracketed group of terms written as the terms' own keys, when it holds both
    players' groups (:data:`_PLAYER_GROUP`); else unchanged."""
    groups = list(_PLAYER_GROUP.finditer(line))
    if {m.group(1).upper() for m in groups} != {"G", "D"}:
        return line
    out, at = [], 0
    for m in groups:
        player = m.group(1).upper()
        terms = _GROUP_KEY.sub(lambda k, p=player: f"loss_{p}_{k.group(1)}:", m.group(2))
        out += [line[at : m.start()], " ", terms, " "]
        at = m.end()
    return "".join([*out, line[at:]])


# A metric printed as two readings, the epoch's running mean then the last batch's value: burn's dashboard
# (burn-train NumericMetricState::update formats 'epoch {running} - batch {current}', a unit after each value where
# the metric has one, and the CLI renderer writes '  - Train {name}: {formatted}' under '[Metrics]'). The epoch's
# mean is the metric's value, as an 'avg loss' is; the batch's reading is dropped. Only after a name that names a
# metric, with a reading a float prints (a point, an exponent, NaN or inf) and nothing after it on the line: 'Fit g:
# epoch 3 - batch 12' and 'Loss: epoch 3 - batch 12 done' count, and keep their counters.
_TWO_READINGS = re.compile(
    rf"(?P<name>[A-Za-z][\w .-]{{0,40}}?):[ ]epoch[ ](?P<running>{_NUMBER_TEXT})(?:[ ][^\s\d-][^\s]{{0,7}})?"
    rf"[ ]-[ ]batch[ ]{_NUMBER_TEXT}(?:[ ][^\s\d-][^\s]{{0,7}})?",
    re.IGNORECASE,
)


def _running_readings(line: str) -> str:
    """``line`` with each metric's two readings (:data:`_TWO_READINGS`) cut to the epoch's: 'Train Loss: 0.5'."""

    def epoch_reading(m: re.Match[str]) -> str:
        running = m.group("running")
        if m.end() < len(line.rstrip()) or running.lstrip("+-").isdigit():
            return m.group()  # a counter's number in prose, or more words after it
        if metric_name(tuple(m.group("name").split())) is None:
            return m.group()
        return f"{m.group('name')}: {m.group('running')}"

    return _TWO_READINGS.sub(epoch_reading, line)


# An aside in parentheses between a metric's name and its counter or value, saying over what it was taken: the Keras
# guide's custom training loop (copied into countless scripts) prints "Training loss (for one batch) at step {step}:
# {loss:.4f}", Keras 3's "(for 1 batch)"; also "loss (over 100 batches): 0.41". A preposition opens it and it holds
# a few words, so no value sits inside it; the first such aside on a line is dropped before the line is read
_ASIDE = re.compile(
    r"(?<=[A-Za-z]) \((?:for|over|of|per|on|in|across) "
    # an aside that names another stage says which loss this is ('loss (on validation set): 0.9'): kept
    r"(?![^)]{0,30}\b(?:val|valid|validation|test|testing|dev|eval|evaluation|held|holdout)\b)"
    r"[A-Za-z0-9 ]{1,30}\)(?= |:|=)",
    re.IGNORECASE,
)


# A stage's name in brackets heading the pairs after it: ESPnet2's reporter, and FunASR's copy, prints an epoch's
# results as f"{epoch}epoch results: " + ", ".join(f"[{key}] {stats}") per phase (espnet2/train/reporter.py
# log_message), '[train] loss=0.57, acc=0.87, [valid] loss=0.01, acc=1.0'. The group runs to the next such bracket.
_STAGE_BRACKET = re.compile(rf"\[({'|'.join(_STAGE_AFTER)})\][ \t]", re.IGNORECASE)
# a reporter prints a group per phase (train, valid, a plot's): past this many brackets a line is no such record, and
# is read whole, as any line (each group costs a scan of its own)
MAX_STAGE_GROUPS = 8


def _stage_groups(line: str) -> LineMetrics | None:
    """The metrics of a line whose pairs are grouped under stages in brackets (:data:`_STAGE_BRACKET`), each group's
    read as that stage's; None for a line with no such bracket."""
    marks = list(itertools.islice(_STAGE_BRACKET.finditer(line), MAX_STAGE_GROUPS + 1))
    if not marks or len(marks) > MAX_STAGE_GROUPS:
        return None
    bounds = [*(m.start() for m in marks), len(line)]
    pieces = [(0, marks[0].start(), "")]
    pieces += [(m.end(), bounds[k + 1], _STAGE_AFTER[m.group(1).lower()]) for k, m in enumerate(marks)]
    out = LineMetrics()
    read: list[tuple[str, str, float]] = []  # (stage, name, value) of each pair
    flags = []  # what each piece of no evaluation says of its own pairs
    for start, end, stage in pieces:
        part = scan_line(line[start:end])
        read += [(stage, t, v) for t, v in part.pairs]
        out.counters += part.counters
        if out.epoch is None:
            out.epoch, out.epoch_total = part.epoch, part.epoch_total
        out.truncated = out.truncated or part.truncated
        if not stage:
            flags.append(part)
    evaluated = any(s for s, _, _ in read)
    if read and {s for s, _, _ in read} == {"val"}:
        # a validation's group alone is a validation's line, as one opening on its stage word is (Marian's '[valid]
        # Ep. 1 : Up. 5000 : perplexity : 1175.13'): its names as printed, the reader staging them (a perplexity is
        # then the validation's loss)
        out.pairs, out.eval_context = [(t, v) for _, t, v in read], True
    else:
        out.pairs = [(t if not s or t == "epoch" else _staged(s, t), v) for s, t, v in read]
    if not evaluated:
        # no evaluation's group beside them: what the training's pieces say of their objective ('Error' or 'score'
        # as the loss, a printed history) holds for the line, as it would without the brackets
        out.score_is_loss = any(p.score_is_loss for p in flags)
        out.error_is_loss = any(p.error_is_loss for p in flags)
        for p in flags:
            out.curves.update(p.curves)
    return out


def scan_line(line: str) -> LineMetrics:
    """Names, values and counters of one cleaned log line."""
    if "[" in line and (grouped := _stage_groups(line)) is not None:
        return grouped
    if ": epoch " in line and " - batch " in line:
        line = _running_readings(line)
    if "[G" in line and "[D" in line:
        line = _player_groups(line)
    if " (" in line and (aside := _ASIDE.search(line)) is not None:
        line = line[: aside.start()] + line[aside.end() :]
    line_low = line.lower()
    labelled = _stage_label(line, line_low)
    if labelled is not None:
        return labelled
    out = LineMetrics()
    raw = _TOKEN.findall(line)
    if len(raw) > MAX_TOKENS:
        raw, out.truncated = raw[:MAX_TOKENS], True
    _glued_counters(line, out)
    texts = [num or word or punct for num, word, punct in raw]
    kinds = [NUM if num else WORD if word else PUNCT for num, word, punct in raw]
    n = len(texts)
    if n == 3 and kinds[:2] == [NUM, WORD] and texts[1].lower() in _STAGE_ALONE:
        staged = _stage_row(texts)
        if staged is not None:
            return staged
    words: list[str] = []  # the name being read
    sep = False  # a ':' or '=' followed the name
    bracket_owner: tuple[str, ...] | None = None  # "Epoch: [3]": the bracket's number belongs to the name
    in_bracket = False
    bracket_words_only = False  # "[Loss] nan", "[step] 89": a bracket holding only a name names what follows
    pending: tuple[str, ...] | None = None  # "Loss at step 100 : nan": the name waiting for its value
    train_epoch: int | None = None  # timm "Train: 3 [120/500 (24%)]": the number before the bracket is the epoch

    # darknet's "74: 0.51, 0.53 avg loss, 0.001 rate, 3.2 seconds": values named after them, each
    # name read up to the next comma; the value that had no name before it, and whether the words
    # being read came right after it
    orphan: float | None = None
    orphan_next = -1
    after_orphan = False
    value_first: list[tuple[tuple[str, ...], float]] = []
    plural: tuple[str, int, None] | None = None  # "steps: 16" opening a line, a counter if a metric follows
    eval_from = 0  # the pairs read before the stage word (pytorch-kaldi's "loss=0.67 ... valid=dev loss=0.69")
    printed: dict[int, tuple[str, ...]] = {}  # the name printed for each pair read as "loss", by its index
    errors: list[tuple[tuple[str, ...], bool]] = []  # each pair read as "error": its printed name, a rate or count
    staged_core: str | None = None  # the metric of the last pair whose stage came after its name ("loss train")
    loss_dict = False  # inside braces printed under a name that says they hold losses: their keys are loss terms
    loss_list = False  # "loss: x 2.3, y 2.4, ..., total 9.1": name-value pairs listed after a loss's heading
    list_stages: list[tuple[int, str]] = []  # pairs of such a list read as a stage's loss ("Loss: train 0.5, val 0.6")
    list_terms = False  # and whether the list named a term of the loss too
    unnamed: list[tuple[str, float]] = []  # values under a one-word name that names no metric, in order
    lists: dict[str, list[float]] = {}  # the values of each list printed under a metric's (or a stage's) name
    from_lists: set[int] = set()  # which of out.pairs are a list's entries

    def drop(words: list[str]) -> None:
        """Words that named nothing: a stage word among them marks an evaluation line."""
        nonlocal eval_from
        if not out.eval_context and any(w.strip("'\"`").lower() in _EVAL_STAGE_WORDS for w in words):
            out.eval_context = True
            eval_from = len(out.pairs)

    i = 0
    while i < n:
        kind, text = kinds[i], texts[i]
        if kind == PUNCT:
            if text in _TRANSPARENT:
                i += 1
                continue
            if text in _NAME_SEPARATORS and words:
                sep = True
            elif text in _NAME_SEPARATORS and pending:
                pass  # "Loss at step 100 : nan": the separator before the pending name's value
            elif text == "(" and words and sep and i + 1 < n and (kinds[i + 1] == NUM or _is_nonfinite(texts[i + 1])):
                # "lr:(1.000e-04,)": a tuple of values (one per optimizer or param group); the
                # name takes the first, the rest are bare numbers that name nothing
                pass
            elif (
                text == "("
                and words
                and not sep
                and i + 2 < n
                and texts[i + 1] in _NAME_SEPARATORS
                and (kinds[i + 2] == NUM or _is_nonfinite(texts[i + 2]))
            ):
                # "loss (=250000064.000000) is not correct": the value in brackets after its own sign (ESPnet's
                # logging.warning('loss (=%f) is not correct', loss_data)); the name takes it as after "loss="
                sep = True
                i += 2
                continue
            elif text == "(" and words and not sep and i + 2 < n and kinds[i + 1] == WORD and texts[i + 2] == ")":
                # "Loss (train): 0.52", "Loss (avg): 0.5": a word in brackets after the name qualifies it; a
                # stage is kept as the name's last word, anything else says which reading it is and is dropped
                if _STAGE_AFTER.get(texts[i + 1].lower()):  # the training stage adds nothing
                    words.append(texts[i + 1])
                i += 3
                continue
            elif text == "{" and words and any("loss" in w.lower() for w in words):
                # "losses: {'total': 2.1, 'cls': 0.3}": a dict printed under a name that says it holds losses
                loss_dict = True
                drop(words)
                words, sep = [], False
            elif text == "}":
                loss_dict = False
                drop(words)
                words, sep = [], False
            elif text == "[":
                in_bracket = True
                bracket_words_only = True
                one = 2 if i + 1 < n and texts[i + 1] == "-" else 1  # "[-inf]": the sign, then the word
                owner = list(words)
                if i + one + 1 < n and texts[i + one + 1] == "]":
                    # "Total loss is :[0.14]": a value printed as an array of one element, the filler no part of its
                    # name; a list after the filler ("Class-wise loss is [0.21, nan, ...]") is no history of it
                    while owner and owner[-1].lower() in _FILLER_WORDS:
                        owner.pop()
                bracket_owner = tuple(owner) if owner else None
                if (
                    not words
                    and pending
                    and i > 0
                    and texts[i - 1] in _NAME_SEPARATORS
                    and i + one + 1 < n
                    and ((kinds[i + one] == NUM and one == 1) or _is_nonfinite(texts[i + one]))
                    and texts[i + one + 1] == "]"
                ):
                    # "loss for step: 622 = [-0.9068]": the waiting name's value, after its sign, printed as an
                    # array of one element
                    bracket_owner = pending
                words, sep = [], False
            elif text == "-" and i + 1 < n and kinds[i + 1] == WORD and _is_nonfinite(texts[i + 1]):
                texts[i + 1] = "-" + texts[i + 1]  # "-nan", "-inf"
            elif text == "]" and in_bracket and bracket_words_only and words and bracket_owner is None:
                in_bracket = False  # "[Loss]": the name stays for the value after the bracket
                sep = False
            else:
                if text in "])":
                    in_bracket = False
                    bracket_owner = None
                    loss_list = False
                if after_orphan and words and not sep and text in _LIST_SEPARATORS and orphan is not None:
                    value_first.append((tuple(words), orphan))
                orphan, after_orphan = None, False
                drop(words)
                words, sep, pending = [], False, None
            i += 1
            continue
        value: float | None = None
        if kind == WORD:
            low = text.lower()
            nonfinite = nonfinite_value(text)
            if nonfinite is not None:  # a value, named or not ("74: -nan, -nan avg loss")
                value = nonfinite
            elif (
                low in _VALUE_WRAPPERS
                and (words or (in_bracket and bracket_owner))
                and i + 2 < n
                and texts[i + 1] == "("
                and f"{low}(" in line_low
            ):
                # a repr glues its bracket to the name ("array(0.5"); "loss array (32,)" prints a shape
                # tensor(2.3, device='cuda:0'), tensor(nan, ...), tensor(-inf, ...), tensor([2.3]) (one element)
                j = i + 3 if texts[i + 2] in ("-", "[") and i + 3 < n else i + 2
                if texts[i + 2] == "[" and texts[j] == "-" and j + 1 < n:
                    j += 1
                one = texts[i + 2] != "[" or (j + 1 < n and texts[j + 1] == "]")  # "[2.3, 1.1]" is no scalar
                v = texts[j].lower()
                value = parse_number(texts[j]) if kinds[j] == NUM else nonfinite_value(v) if kinds[j] == WORD else None
                if value is not None and texts[j - 1] == "-":
                    value = -value
                if not one:
                    value = None
                i = j
                while i + 1 < n and texts[i] != ")" and i - j < 32:
                    i += 1
            elif (words or (in_bracket and bracket_owner)) and (wrapped := _WRAPPED_NONFINITE.fullmatch(text)):
                value = _NONFINITE[wrapped.group(1).lower()]
            else:
                if sep:
                    if (
                        not loss_list
                        and words[-1].strip("'\"`").lower() in _LOSS_HEADINGS
                        and i + 1 < n
                        and (
                            kinds[i + 1] == NUM
                            or _is_nonfinite(texts[i + 1])
                            or (  # "Loss: train = 0.5 | dev = 0.6": the word's own separator before its value
                                texts[i + 1] in _NAME_SEPARATORS
                                and i + 2 < n
                                and (kinds[i + 2] == NUM or _is_nonfinite(texts[i + 2]))
                            )
                        )
                    ):
                        # "loss: x 2.349, y 2.491, ..., total 117.7" (pytorch-yolo2's region loss and its
                        # forks), "[Losses: x nan, ..., total nan]" (PyTorch-YOLOv3): the heading's name is
                        # followed by a word and its value, so what follows lists the loss's terms by name,
                        # as the keys of a dict printed under it do
                        loss_list = True
                    drop(words)
                    words, sep = [], False
                if low not in _FILLER_WORDS:
                    pending = None  # "loss of epoch 3 is 0.52": the filler keeps the name waiting for its value
                if not words:
                    after_orphan = orphan is not None and i == orphan_next
                words.append(text)
                if len(words) > MAX_NAME_WORDS:
                    drop(words[:1])
                    del words[0]
                i += 1
                continue
        else:
            value = parse_number(text)
        if in_bracket:
            bracket_words_only = False
        # a number (or NaN spelling): whose is it?
        total: int | None = None
        if i + 2 < n and texts[i + 1] == "/" and kinds[i + 2] == NUM:
            t = parse_number(texts[i + 2])
            total = _int_of(t) if t is not None else None
            i += 2
        while words and words[-1].lower() in _FILLER_WORDS:  # "loss is nan", "loss became inf"
            words.pop()
        name = tuple(words) if words else (bracket_owner if in_bracket else pending)
        listed = not words and in_bracket and bracket_owner is not None  # "'loss': [0.69, 0.52, ...]": a list's entry
        pending = None
        i += 1
        orphan, after_orphan = None, False
        if value is None:
            words, sep = [], False
            continue
        if name:
            if (
                words
                and not sep
                and total is None
                and not out.counters
                and _counter_after_loss(name, text, texts, kinds, i)
            ):
                # "Train loss 7 5.797815", "Validation loss 61000:  0.325403": the integer is the step, the
                # value after it the loss's (the name waits for it as after "Loss at step 100 :")
                out.counters.append(("step", int(text), None))
                pending = name
                words, sep = [], False
                continue
            ck = counter_kind(name)
            if ck is not None and len(name) > 1 and name[-2].strip("'\"`").lower() in _RATE_CONNECTORS:
                ck = None  # "steps per epoch: 500": how many per counter, a setting, not the counter's value
            iv = _int_of(value)
            core_before, staged_core = staged_core, None
            head = _named_before_counter(name) if ck is not None and len(name) > 2 else None
            if head is not None and iv is None:
                # "avg loss in epoch = nan": the counter is named without its number, so the value is
                # the metric's, not the counter's
                out.pairs.append((metric_name(head) or "", value))
                words, sep = [], False
                continue
            pending = head
            if ck is not None and len(name) > 1:
                # "Evaluation result for step 435000: loss = ...": the stage word is read into the
                # counter's name, and still says that the metrics after it are the evaluation's
                drop(list(name[:-1]))
            if ck in ("epoch", "eval_epoch") and iv is None:
                out.pairs.append(("epoch", value))  # a fractional epoch (the HF Trainer's 'epoch': 0.4)
            elif ck in ("epoch", "eval_epoch"):
                if out.epoch is None:
                    out.epoch, out.epoch_total = iv, total
                out.eval_context = out.eval_context or ck == "eval_epoch"
            elif ck is not None and iv is not None:
                end = _range_end(texts, kinds, i, iv) if total is None else None
                if end is not None:  # "Minibatch[ 501-1000]": the steps a line reports on end at the range's end
                    iv, i = end
                out.counters.append((ck, iv, total))
            elif (
                iv is not None
                and total is None
                and not out.pairs
                and len(name) == 1
                and (plural_kind := _plural_counter(name[0])) is not None
            ):
                plural = (plural_kind, iv, None)
            elif (
                (total is not None or not listed)  # Swin's "Train: [3/300]" is its epoch; "'train': [2.8e10," a list
                and name[-1].strip("'\"").lower().rstrip(":") in ("train", "training")
                and iv is not None
            ):
                train_epoch = iv if total is None else train_epoch
                if total is not None and out.epoch is None:  # Swin: "Train: [3/300][120/1251]"
                    out.epoch, out.epoch_total = iv, total
            elif total is None or not in_bracket:
                tag = metric_name(name)
                if loss_list and len(name) == 1 and _names_a_reading(name[0]):
                    # "loss: avg 0.4, cur 0.5": readings, not terms; "Loss: train = 0.5 | dev = 0.6" (uPIT's
                    # trainer): the stages the loss was measured at, each that stage's loss
                    stage = name[0].strip("'\"`").lower()
                    tag = None
                    if stage in _STAGE_AFTER:
                        tag = _staged(_STAGE_AFTER[stage], "loss") if _STAGE_AFTER[stage] else "loss"
                        list_stages.append((len(out.pairs), name[0]))
                elif (loss_dict or loss_list) and len(name) == 1 and (tag is None or tag in _TOTAL_WORDS):
                    tag = _loss_dict_key(name[0])
                    list_terms = list_terms or (loss_list and tag is not None)
                if tag is not None and _duration_unit(texts, kinds, i):
                    tag = None  # "cost: 0.84 s", "eval: 12.3 sec": a value in a unit of time is a duration
                stage_word = name[-1].strip("'\"`").lower().rstrip(":")
                if tag is None and len(name) == 1 and core_before and stage_word in _STAGE_AFTER:
                    # "Loss train: 0.52, val: 0.61": the stage alone names the metric just read at another stage
                    tag = _staged(_STAGE_AFTER[stage_word], core_before) if _STAGE_AFTER[stage_word] else core_before
                elif tag is not None and len(name) > 1 and stage_word in _STAGE_AFTER:
                    staged_core = _unstaged(tag)
                if listed and tag is None and len(name) == 1 and stage_word in _STAGE_ALONE:
                    tag = _STAGE_ALONE[stage_word]  # "'train': [...]": the stage alone names its loss (STAGE_ROW)
                    lists.setdefault(tag, []).append(value)
                    tag = None
                elif listed and tag is not None:
                    lists.setdefault(tag, []).append(value)
                if tag is None and len(name) == 1 and not in_bracket:
                    unnamed.append((name[0].strip("'\"`"), value))
                elif tag is None and not in_bracket and (bound := _read_bound(name)) is not None:
                    unnamed.append((bound, value))  # 'running avg elbo: x': which reading of the bound it is
                if tag is not None:
                    if tag == "loss":
                        printed[len(out.pairs)] = name
                    elif tag == "error":
                        errors.append((name, total is not None or _printed_as_rate_or_count(texts, kinds, i)))
                    if listed:
                        from_lists.add(len(out.pairs))
                    out.pairs.append((tag, value))
        else:
            iv = _int_of(value)
            if iv is not None and total is not None and 0 <= iv <= total:
                # a bare fraction: in brackets the batch within an epoch, else a step counter
                out.counters.append(("bracket" if in_bracket else "bare", iv, total))
        words, sep = [], False
        # a running average in brackets right after the value: skip it
        if i < n and texts[i] == "(":
            j = i + 1
            while j < n and texts[j] != ")" and j - i < 16:
                j += 1
            if j < n and texts[j] == ")":
                i = j + 1
        if not name and total is None:
            orphan, orphan_next = value, i
    if list_stages and list_terms:
        # "Loss: pol 0.02, val 0.5, ent 1.3": beside the loss's terms a stage's word is a term too (an RL value loss)
        for k, word in list_stages:
            if k < len(out.pairs) and (term := _loss_dict_key(word)) is not None:
                out.pairs[k] = (term, out.pairs[k][1])
    if after_orphan and words and not sep and orphan is not None:
        value_first.append((tuple(words), orphan))
    if len(value_first) >= MIN_VALUE_FIRST:
        for words_, v in value_first:
            tag = metric_name(words_)
            if tag is not None:
                out.pairs.append((tag, v))
        darknet = _darknet_loss(line, value_first, out)
        if darknet is not None:
            out.pairs.append(("loss", darknet[1]))
            out.counters.append(("step", darknet[0], None))
        elif not out.counters and n > 1 and kinds[0] == NUM and texts[1] == ":":
            iv = _int_of(parse_number(texts[0]) or math.nan)  # darknet's "74:" opens with the iteration
            if iv is not None and iv >= 0:
                out.counters.append(("step", iv, None))
    if len(unnamed) >= MIN_LETTER_TERMS and not any("loss" in tag for tag, _ in out.pairs):
        out.pairs.extend(_gan_players(unnamed))
    if not any(tag == "loss" for tag, _ in out.pairs) and ("lb" in line_low or "bound" in line_low):
        # 'lower_bound' holds a metric's word by chance ('wer'), so it may be among the pairs read
        named = [(tag, v) for tag, v in out.pairs if tag in _BOUND_NAMES]
        bound = _variational_bound([*unnamed, *named], out, line_low)
        if bound is not None:
            out.pairs.append((BOUND_SERIES, bound))
    if plural is not None and not out.counters and out.pairs:
        out.counters.append(plural)
    if out.epoch is None and train_epoch is not None and any(c[0] == "bracket" for c in out.counters):
        out.epoch = train_epoch
    if len(printed) > 1:
        _qualified_losses(out.pairs, printed)
    out.score_is_loss = _score_is_loss(out, line_low)
    out.error_is_loss = bool(errors) and _error_is_loss(out, errors)
    if lists and not out.counters and out.epoch is None:
        _history_curves(out, lists, from_lists)
    if any(tag in _PENALTY_CRITERIA for tag, _ in out.pairs) and not _penalty_is_a_loss(out, line_low):
        out.pairs = [(tag, v) for tag, v in out.pairs if tag not in _PENALTY_CRITERIA]
    if out.eval_context and eval_from:
        # the stage word came after metrics of its own: those before it are the training's, those
        # after it the evaluation's (one line printing both under the same names)
        out.pairs[eval_from:] = [(t if t == "epoch" else _staged("val", t), v) for t, v in out.pairs[eval_from:]]
        out.eval_context = False
    return out


# A variational lower bound (ELBO) printed under its own name, one word: 'elbo', 'lower_bound', or 'lb' where the line
# also prints its parts ('lb-labeled', 'lb_unlabeled'). The bound is maximised, but what a writer prints under its
# name is either the bound or its negative: the auxiliary deep generative models' Theano code (larsmaaloee's ADGM/SDGM)
# computes elbo = ((lb_l.mean() + lb_u.mean()) * n + weight_priors) / -n, hands it to T.grad and Adam, and prints it
# as 'lb=%0.4f' with lb-labeled = -lb_l.mean() beside it: the negated bound, the loss it minimises. The name does not
# settle the sign; the value does where the likelihood is of discrete data (binarised images, tokens), whose bound is
# never above 0: a value below 0 is the bound (the loss is its negative), one above 0 the negated bound (the loss
# itself). A bound of continuous data can be above 0 and is then misread as its own negative; the non-finite values
# that mark a divergence read the same either way. Read only on a line of training (an epoch or step counter on it),
# with its separator ('lb=', 'elbo:'), and with no upper bound beside it ('lb=0.1; ub=1.0' is a range; '150 lb' is
# a weight).
_BOUND_NAMES = frozenset({"elbo", "lower_bound", "lowerbound"})
_BOUND_PART = re.compile(r"lb[-_][a-z]{1,24}")
_BOUND_NAMED = re.compile(r"(?<![\w.-])(elbo|lower_?bound|lb)[ \t]{0,2}[=:]")
_UPPER_BOUND = re.compile(r"(?<![\w.-])(?:ub|upper_?bound|upper)(?![\w.-])")
BOUND_SERIES = "elbo"
BOUND_BASIS = "the variational lower bound's magnitude, its negative when printed below 0 (no 'loss' printed)"


def _read_bound(name: tuple[str, ...]) -> str | None:
    """The bound's one-word name when a longer ``name`` says which reading of it it is and nothing else ('running avg
    elbo', 'train elbo', torchdiffeq's latent_ode example: 'Iter: {}, running avg elbo: {:.4f}'), else None."""
    words = [w.strip("'\"`").lower().rstrip(":") for w in name]
    if len(words) < 2 or words[-1] not in _BOUND_NAMES:
        return None
    return words[-1] if all(w in _READING_WORDS for w in words[:-1]) else None


def names_a_bound(text: str) -> bool:
    """Whether ``text`` may print a variational bound by name (:data:`_BOUND_NAMED`): the readers' gate, as
    :func:`names_a_metric` is for the other metrics."""
    low = text.lower()
    return ("lb" in low or "bound" in low) and _BOUND_NAMED.search(low) is not None


def _variational_bound(values: list[tuple[str, float]], out: LineMetrics, line_low: str) -> float | None:
    """The loss a line's printed variational bound stands for (:data:`_BOUND_NAMES`), among its one-word ``values``,
    or None when it prints none or the line does not say unambiguously that the name is the bound."""
    if not out.counters and out.epoch is None:
        return None
    names = [name.lower() for name, _ in values]
    pick = next((i for i, name in enumerate(names) if name in _BOUND_NAMES), None)
    if pick is None and "lb" in names and any(_BOUND_PART.fullmatch(name) for name in names):
        pick = names.index("lb")
    if pick is None or _BOUND_NAMED.search(line_low) is None or _UPPER_BOUND.search(line_low) is not None:
        return None
    value = values[pick][1]
    return -value if value < 0 else value


# darknet's training line opens with the iteration (the classifiers' with the epochs seen after it), then the loss
# unnamed and its running mean named 'avg' after it: pjreddie's examples/detector.c printf("%ld: %f, %f avg, %f rate,
# %lf seconds, %d images\n", get_current_batch(net), loss, avg_loss, ...) (rnn.c and the forks the same; classifier.c
# "%ld, %.3f: %f, %f avg, ..."); AlexeyAB's fork names the mean 'avg loss', read as the loss as before. The first
# value is the step's loss where the mean is named 'avg' alone: 'avg' says which reading of the unnamed value it is.
_DARKNET_HEAD = re.compile(
    rf"\s{{0,16}}(\d{{1,12}})(?:, {{0,4}}\d{{1,12}}\.\d{{1,12}})?: {{0,4}}({_NUMBER_TEXT}), ", re.IGNORECASE
)
_DARKNET_MEAN = ("avg",)


def is_darknet_line(line: str) -> bool:
    """A cheap gate for readers that skip lines naming no metric: darknet's line names its loss by 'avg' alone."""
    return " avg, " in line and _DARKNET_HEAD.match(line) is not None


def _darknet_loss(
    line: str, value_first: list[tuple[tuple[str, ...], float]], out: LineMetrics
) -> tuple[int, float] | None:
    """(iteration, loss) of darknet's training line whose running mean is named 'avg' alone, else None."""
    names = [tuple(w.lower() for w in words) for words, _ in value_first]
    if _DARKNET_MEAN not in names or out.counters or any(t == "loss" for t, _ in out.pairs):
        return None
    m = _DARKNET_HEAD.match(line)
    if m is None:
        return None
    value = parse_number(m.group(2))
    if value is None:
        value = nonfinite_value(m.group(2))
    return (int(m.group(1)), value) if value is not None else None


# A 'score' is what a toolkit that calls its objective so prints at each training iteration: Deeplearning4j's
# Model.score() is the loss (with its regularisation terms), which ScoreIterationListener logs as
# "Score at iteration {} is {}" and PerformanceListener as "iteration {}; ...; score: {};". Elsewhere a score is
# something maximised (an evaluation's F1 or BLEU, an RL episode's return), so it is the loss only where the line
# counts training steps, is no evaluation, prints no other metric (an accuracy beside it makes it a metric among
# metrics) and no reinforcement-learning word; and only in the wordings of the toolkits that call their objective so
# (_OBJECTIVE_SCORE): a bare 'score' at a step elsewhere is as often a training F1, a BLEU or a reward model's output,
# which rise as the model learns and would read as a divergence.
_SCORE_CORE = "score"
# Deeplearning4j's two listeners' wordings (their Scala and Kotlin wrappers print them unchanged): the score after
# "Score at iteration N is", or after the per-iteration timings "iteration time: ..." on PerformanceListener's line.
_OBJECTIVE_SCORE = re.compile(r"\bscore at iteration \d{1,19} is |\biteration time: [^;]{0,40}; .{0,200}?; score: ")
_SCORE_COUNTERS = frozenset({"global", "step", "batch"})
_SCORE_COMPANIONS = frozenset({"learning_rate", "grad_norm", "loss_scale", "epoch"})
_RL_WORDS = ("episode", "reward", "return")


def _score_is_loss(out: LineMetrics, line_low: str) -> bool:
    if out.eval_context or "score" not in line_low or not any(c[0] in _SCORE_COUNTERS for c in out.counters):
        return False
    scores = [t for t, _ in out.pairs if _reading(t)[0] == _SCORE_CORE]
    others = [t for t, _ in out.pairs if t not in scores and t not in _SCORE_COMPANIONS]
    return (
        len(scores) == 1
        and not others
        and not any(w in line_low for w in _RL_WORDS)
        and _OBJECTIVE_SCORE.search(line_low) is not None
    )


# An 'error' is the training objective of the loops that call it so (a criterion's output, Lua Torch's
# nn.StochasticGradient 'current error = %f'; a sum or mean of squared errors a from-scratch SGD or a small NN library
# prints each epoch: 'Iteration: %d ; error = %.4f', 'Epoch: %d, Error: %f, MSE: %f'), and as often a classification
# error rate (1 - accuracy: 'top-1 error', 'test error: 0.23 %'). It is the loss only where the line says which: the
# error is named alone or by a word of its reading ('current', 'avg', 'total'; not 'top-1', 'test', 'classification',
# 'absolute', 'squared', whose errors are rates or metrics), printed once, as a decimal or non-finite value (an integer
# is a code or a count: a segfault's 'error 4', 'error: 3 files'), with no percent sign after it, no classification
# score beside it (an error beside an accuracy is its complement) and no evaluation's stage; and where the line counts
# the step or epoch it is printed at, or names the reading (a bare 'Error: 0.5' with neither is a message's number).
_ERROR_CORE = "error"
_ERROR_READINGS = _CURRENT_WORDS | _AVERAGE_WORDS | frozenset({"total"})
# words of a metric's name that say it scores a classifier or a decoder: a rate beside them, no objective
_RATE_SCORE_WORDS = frozenset(
    {"acc", "accuracy", "acc1", "acc5", "top1", "top5", "precision", "recall", "f1", "auc", "dice", "iou", "miou"}
    | {"map", "bleu", "wer", "cer"}
)


def _printed_as_rate_or_count(texts: list[str], kinds: list[int], i: int) -> bool:
    """Whether the value just read (``texts[i - 1]``, ``i`` past it) is printed as a percentage ('%' after it) or as
    an integer: no objective's value."""
    if i < len(texts) and texts[i] == "%":
        return True
    text = texts[i - 1]
    return kinds[i - 1] == NUM and not any(c in text for c in ".eE")


def _error_is_loss(out: LineMetrics, errors: list[tuple[tuple[str, ...], bool]]) -> bool:
    if out.eval_context or len(errors) != 1 or sum(t == _ERROR_CORE for t, _ in out.pairs) != 1:
        return False
    name, rate = errors[0]
    words = [w.strip("'\"`").lower().rstrip(":") for w in name]
    if rate or words[-1] != _ERROR_CORE or not set(words[:-1]) <= _ERROR_READINGS:
        return False
    if any(set(_NAME_PARTS.split(t.lower())) & _RATE_SCORE_WORDS for t, _ in out.pairs):
        return False
    return bool(out.counters) or out.epoch is not None or len(words) > 1


# A list of at least this many values under a loss's or an accuracy's name, on a line with no counter, is that
# series' history, one entry per epoch: Keras's print(history.history) ({'loss': [0.69, 0.52, ...], ...}), a
# trainer's returned history dict pretty-printed ('train': [array(2.8e10), array(nan), ...]). A list on a line
# with a counter is that step's per-output values, and a list of learning rates is one per parameter group.
MIN_HISTORY_ENTRIES = 2


def _names_a_loss(tag: str) -> bool:
    """A series named as a loss, not as one of its settings (a loss scale, a loss weight)."""
    return "loss" in tag and not any(w in tag for w in _LOSS_SETTING_WORDS)


def _history_curves(out: LineMetrics, lists: dict[str, list[float]], from_lists: set[int]) -> None:
    """``out``'s lists as curves when they are a history (``from_lists``: which of its pairs are their entries)."""
    if any(tag == "loss" and k not in from_lists for k, (tag, _) in enumerate(out.pairs)):
        # the training loss printed as one value beside the lists: a history prints every series as a list, so these
        # are this step's values per element or per head (Det3D's 'loss: nan, ..., loc_loss_elem: ['nan', ...]'), and
        # the line is read by its single values
        out.pairs = [pair for k, pair in enumerate(out.pairs) if k not in from_lists]
        return
    curves = {
        tag: values
        for tag, values in lists.items()
        if len(values) >= MIN_HISTORY_ENTRIES and (_names_a_loss(tag) or _unstaged(tag) == "accuracy")
    }
    if curves:
        out.curves = curves
        out.pairs = [(tag, v) for tag, v in out.pairs if tag not in curves]


# A word before a loss's name that says which loss it is, on a line printing several: "S1 loss: nan | S2 loss:
# ... | Total loss: nan" (a stage of a multi-stage network), "D loss: 0.69, G loss: 0.71" (a GAN's two
# players). Each is a term under its own name then, the unqualified one (or "Total loss") the main loss.
_QUALIFIER = re.compile(r"[a-z][a-z0-9]{0,15}|[a-z]{0,4}\d{1,3}")


# words before 'loss' that say which reading of the one loss it is ("cur loss", "avg loss", "train loss"), not
# which loss: never a term's name
_READING_WORDS = _TRAIN_WORDS | _CURRENT_WORDS | _AVERAGE_WORDS | _TOTAL_WORDS


def _names_a_reading(key: str) -> bool:
    """Whether a key listed after a loss's heading says which reading or stage of the loss it is ('avg', 'cur',
    'train', 'val'), not which of its terms ('total' is the loss itself, read as a term named so)."""
    word = key.strip("'\"`").lower()
    return word not in _TOTAL_WORDS and (word in _READING_WORDS or word in _STAGE_AFTER or word in _STAGE_ALONE)


def _loss_dict_key(key: str) -> str | None:
    """The series of a key of a dict printed under a loss's name: 'total' is the loss ('loss_total'), 'cls' the
    term 'loss_cls'; a key that is no identifier names nothing."""
    word = key.strip("'\"`").lower()
    return metric_name((f"loss_{word}",)) if _QUALIFIER.fullmatch(word) or word.isidentifier() else None


def _qualified_losses(pairs: list[tuple[str, float]], printed: dict[int, tuple[str, ...]]) -> None:
    """Rename in place the pairs read as ``loss`` whose printed name has a qualifier before the alias."""
    for k, name in printed.items():
        for i in range(len(name)):  # the longest tail that names the loss, as metric_name reads it
            tail = " ".join(w.strip("'\"`").lower() for w in name[i:])
            if ALIASES.get(tail) == "loss" or ALIASES.get(tail.replace(" ", "_")) == "loss":
                word = name[i - 1].strip("'\"`").lower() if i else ""
                if _QUALIFIER.fullmatch(word) and word not in _READING_WORDS and word not in _STAGE_PREFIXES:
                    pairs[k] = (f"{word}_loss", pairs[k][1])
                break


# A GAN's loss terms named by the player they train, "G_" or "D_" and the term (pix2pix and CycleGAN's
# get_current_losses: 'G_GAN', 'G_L1', 'D_real', 'D_fake'; 'D_A', 'G_A', 'cycle_A', 'idt_A'...), printed with
# no "loss" in their names: util/visualizer.py print_current_losses writes '(epoch: %d, iters: %d, time: %.3f,
# data: %.3f) ' then '%s: %.3f ' per term.
_PLAYER_KEY = re.compile(r"([GD])_[A-Za-z0-9]{1,24}")


def _gan_players(unnamed: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Loss terms of a line printing both players' terms under such keys: from the first of them on, every
    identifier-like key is a term, the discriminator's ('D_...') set apart as another objective; [] when the
    line does not name both players."""
    first = next((k for k, (key, _) in enumerate(unnamed) if _PLAYER_KEY.fullmatch(key)), None)
    if first is None:
        return []
    keys = [(key, v) for key, v in unnamed[first:] if key.isidentifier()]
    players = {m.group(1) for key, _ in keys if (m := _PLAYER_KEY.fullmatch(key))}
    if players != {"G", "D"} or len(keys) < MIN_LETTER_TERMS:
        return []
    return [(f"loss_D_{key[2:]}" if key.startswith("D_") else f"loss_{key}", v) for key, v in keys]


# A counter's number glued before its name ("1epoch", "1-1000batch": ESPnet2's reporter prints
# f"{epoch}epoch:{phase}:{start}-{end}batch: " before each interval's means, espnet2/train/reporter.py
# log_message); of a range the end is the counter (the last batch the means cover)
# The name glued before its number ("step110": FPN_Tensorflow's train.py prints " {}: step{}    image_name:{} |")
# is read the same way, a word standing alone (not "model_step100", not "epoch3.pth")
_GLUED_COUNTER = re.compile(
    r"(?<![\w.])(?:(?:\d{1,12}-)?(\d{1,12})(epoch|batch|iter|step)(?![a-z])|(epoch|batch|iter|step)(\d{1,12})(?![\w.]))",
    re.IGNORECASE,
)
_GLUED_HINTS = ("epoch", "batch", "iter", "step")


def _glued_counters(line: str, out: LineMetrics) -> None:
    """The epoch and counters a line prints as a number glued before the counter's name."""
    low = line.lower()
    if not any(h in low for h in _GLUED_HINTS):
        return
    for m in _GLUED_COUNTER.finditer(line[:200]):
        n, word = int(m.group(1) or m.group(4)), (m.group(2) or m.group(3)).lower()
        if word == "epoch":
            if out.epoch is None:
                out.epoch = n
        else:
            out.counters.append((GLOBAL_COUNTERS[word], n, None))


# A plural counter name is a total when alone ("steps: 1000" among the settings printed at start),
# but a counter when it opens a line that goes on with a metric: DeepSpeed's pipeline engine prints
# f"steps: {self.global_steps} loss: {loss:0.4f} iter time (s): ..." (runtime/pipe/engine.py).
PLURAL_COUNTERS = {"steps": "global", "iters": "step", "iterations": "step"}


def _plural_counter(word: str) -> str | None:
    return PLURAL_COUNTERS.get(word.strip("'\"").lower().rstrip(":"))


def _counter_after_loss(name: tuple[str, ...], text: str, texts: list[str], kinds: list[int], i: int) -> bool:
    """Is ``text``, printed right after a loss's name, the step rather than the loss? NVIDIA's Tacotron 2 and
    its forks print 'Train loss {iteration} {loss:.6f} ...' and 'Validation loss {iteration}: {loss:9f}': an
    integer with no decimal point, then (past one colon) a value printed with one, or a NaN or Inf. An
    integer followed by a word ('loss 0 acc 0.9', 'loss 5 of 10'), after a separator ('loss: 2 0.5') or
    before another integer ('loss 3 4') stays the loss's value."""
    if not text.isdigit() or i >= len(texts):
        return False
    tag = metric_name(name)
    if tag is None or not (_unstaged(tag) == "loss" or tag.endswith("_loss")):
        return False
    j = i + 1 if texts[i] == ":" and i + 1 < len(texts) else i
    nxt = texts[j]
    if kinds[j] == NUM:
        return any(c in nxt for c in ".eE") and ("," not in nxt)
    return kinds[j] == WORD and _is_nonfinite(nxt)


def _named_before_counter(name: tuple[str, ...]) -> tuple[str, ...] | None:
    """("Loss", "at", "step") -> ("Loss",): the metric whose value follows the counter, if one is named."""
    for j in range(len(name) - 2, 0, -1):
        if name[j].lower() in _COUNTER_CONNECTORS:
            head = name[:j]
            return head if metric_name(head) is not None else None
    return None


def main_loss_of(pairs: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """``pairs`` with a main loss named ``loss`` (:func:`main_loss_and_basis`)."""
    return main_loss_and_basis(pairs)[0]


def main_loss_and_basis(
    pairs: list[tuple[str, float]], score_is_loss: bool = False, error_is_loss: bool = False
) -> tuple[list[tuple[str, float]], str | None]:
    """``pairs`` with a main loss named ``loss``, and how it was found when the line printed none
    under that name (for the source note), else None.

    When the line prints no ``loss``, its objective is taken: a name whose words, past the ones that
    say which reading it is (``cur_``, ``avg_``, ``train_``), are a loss, an objective, a cost or a
    rate-distortion loss (``cur_rd``; the step's value over its running mean), or a training step's
    ``score`` where the line says it is the objective (``score_is_loss``, :func:`_score_is_loss`); failing that, its
    single loss term or training criterion (``xent``, ``CrossEntropy``, ``nll_loss``), its one total
    of terms (``l_g_total``, a bare ``total`` beside them) or, when it prints several terms and no
    total, their sum (what detectron2, mmdet, YOLO and GluonCV's SSD optimise: the sum of the terms
    they print; a non-finite term makes it non-finite). A GAN's discriminator terms are another
    objective and are left out. A bare ``total`` that is no total of loss terms is dropped: alone it
    counts anything. Last, a bare ``error`` where the line says it is the objective (``error_is_loss``,
    :func:`_error_is_loss`)."""
    names = list(dict.fromkeys(name for name, _ in pairs))
    if "loss" in names:
        return _without_bare_totals(pairs), None
    readings = {name: _reading(name) for name in names}
    for name in names:
        base, _, word = name.rpartition("_")
        if word in _TWIN_READINGS and base in readings:
            readings[name] = (readings[base][0], 0)  # 'cls_loss_rt' beside 'cls_loss': the same term, the step's value
    # a cost beside loss terms is no objective of theirs: "cost" names a time as often as a loss (GluonCV's
    # '[Epoch N] Training cost: {seconds}, ObjLoss=..., ...'), while the terms name what is optimised
    terms_printed = any(_is_loss_term(name) or readings[name][0] in _CRITERIA for name in names)
    for core in _OBJECTIVE_CORES:
        if core == "cost" and terms_printed:
            continue
        found = [name for name in names if readings[name][0] == core]
        if found:
            pick = min(found, key=lambda name: readings[name][1])
            return _renamed(pairs, pick), f"'{pick}' (no 'loss' printed)"
    if BOUND_SERIES in names:
        return _renamed(pairs, BOUND_SERIES), BOUND_BASIS
    per_optimizer = sorted(name for name in names if _PER_OPTIMIZER_TOTAL.fullmatch(name))
    if len(per_optimizer) >= MIN_SUMMED_TERMS and per_optimizer[0] == "loss_0" and len(names) > len(per_optimizer):
        # the terms are printed beside each optimizer's total: the first optimizer's is the model's (a GAN's generator)
        return _renamed(pairs, "loss_0"), "'loss_0', the first optimizer's total (no 'loss' printed)"
    if score_is_loss:
        pick = next(name for name in names if readings[name][0] == _SCORE_CORE)
        return _renamed(pairs, pick), f"'{pick}' at each training iteration, the toolkit's name for its objective"
    terms: dict[str, str] = {}  # one reading per term, by its core: the step's value over a running mean
    for name in names:
        core, rank = readings[name]
        if (_is_loss_term(name) or core in _CRITERIA) and (core not in terms or rank < readings[terms[core]][1]):
            terms[core] = name
    losses = list(terms.values())
    if len(losses) == 1 and readings[losses[0]][0] in _CRITERIA:
        return _renamed(pairs, losses[0]), f"'{losses[0]}' (no 'loss' printed)"
    if "val_loss" in names or "test_loss" in names:
        return _without_bare_totals(pairs), None
    own = [name for name in losses if not _words_of(name) & _DISCRIMINATOR_WORDS]
    if not own and len(losses) >= MIN_SUMMED_TERMS and len(terms) == len(losses):
        # only the discriminator's terms printed (BasicSR's ESRGAN: 'l_d_real: x l_d_fake: y', each backpropagated
        # into the discriminator, which minimises their sum): no generator loss to read, the discriminator's loss is
        # the run's one loss series, said so in the note (as one 'D loss' alone is read)
        value = math.fsum(v for name, v in pairs if name in losses)
        return [*pairs, ("loss", value)], f"the discriminator's loss, the sum of {', '.join(losses)} (no other printed)"
    totals = [name for name in own if _words_of(name) & _TOTAL_WORDS]
    if not totals and len(own) >= MIN_SUMMED_TERMS:
        totals = [name for name in names if readings[name][0] in _TOTAL_WORDS]  # "x y w h conf cls total"
    # one term left once a GAN's discriminator terms are set aside ("D loss", "G loss"): the generator's
    only = (
        losses[0]
        if len(losses) == 1
        else totals[0]
        if len(totals) == 1
        else own[0]
        if len(own) == 1 and not totals
        else None
    )
    if only is not None:
        return _renamed(pairs, only), f"'{only}' (no 'loss' printed)"
    if len(own) > 1 and not totals:
        pairs = _without_bare_totals(pairs)
        # each term once: a line holding two records run together (a print without its newline before the next)
        # names every term twice, and the loss is one record's sum, the first's
        kept: dict[str, float] = {}
        for name, v in pairs:
            if name in own:
                kept.setdefault(name, v)
        for part in _parts_of_a_term(kept):
            del kept[part]
        own = [name for name in own if name in kept]
        return [*pairs, ("loss", math.fsum(kept.values()))], f"the sum of {', '.join(own)} (no total printed)"
    for fallback in _LAST_FALLBACKS:
        # a training perplexity by its stage word too: Sockeye's (MXNet's EvalMetric names) 'Train-perplexity='
        ppl = [name for name in names if readings[name][0] == _PERPLEXITY_NAME] if fallback == _PERPLEXITY_NAME else []
        if ppl:
            pick = min(ppl, key=lambda name: readings[name][1])
            return _loss_of_perplexity(
                pairs, pick
            ), f"the log of '{pick}', the loss it is the exp of (no 'loss' printed)"
        if fallback in names:
            return _renamed(pairs, fallback), f"'{fallback}' (no 'loss' printed)"
    for core in _ERROR_CORES:
        found = [name for name in names if readings[name][0] == core and _words_of(name) & _TRAIN_WORDS]
        if found:
            pick = min(found, key=lambda name: readings[name][1])
            return _renamed(pairs, pick), f"'{pick}', the regression error of the whole prediction (no 'loss' printed)"
    if error_is_loss and _ERROR_CORE in names:
        return _renamed(pairs, _ERROR_CORE), "'error', the objective the training loop prints (no 'loss' printed)"
    return _without_bare_totals(pairs), None


def _first_word(name: str) -> str:
    """A term's first word past the loss's group ('loss.cls_pos_rt' -> 'cls')."""
    words = [w for w in re.split(r"[_/.\s-]+", name.lower()) if w]
    return words[1] if len(words) > 1 and words[0] in _LOSS_HEADINGS else words[0] if words else ""


# The words of a split of one term by the samples it is taken over: positive and negative anchors, foreground
# and background (second.pytorch's 'cls_pos_rt', 'cls_neg_rt')
_SPLIT_WORDS = frozenset({"pos", "neg", "positive", "negative", "fg", "bg"})


def _parts_of_a_term(terms: dict[str, float]) -> list[str]:
    """The terms that split another printed beside them by its samples: named after it (the same first word), each
    by a split's word (pos / neg, fg / bg), and adding up to it as printed (second.pytorch's 'cls_pos_rt' and
    'cls_neg_rt', the classification loss over the positive and over the negative anchors, beside 'cls_loss_rt',
    their sum): summed again they would count it twice."""
    # the split terms by their first word, each group's sum taken once: linear in the terms a line prints
    first = {name: _first_word(name) for name in terms}
    groups: dict[str, list[str]] = {}
    for name in terms:
        if _words_of(name) & _SPLIT_WORDS:
            groups.setdefault(first[name], []).append(name)
    sums = {w: math.fsum(terms[n] for n in group) for w, group in groups.items()}
    finite = {w: all(math.isfinite(terms[n]) for n in group) for w, group in groups.items()}
    members = {w: set(group) for w, group in groups.items()}
    # per group, the names that the rest of it adds up to ('' for a name outside it: then the whole group)
    wholes: dict[str, set[str]] = {}
    for name, value in terms.items():
        w = first[name]
        if w not in groups or value == 0 or not math.isfinite(value) or not finite[w]:
            continue
        inside = name in members[w]
        rest = sums[w] - value if inside else sums[w]
        if len(groups[w]) - inside >= MIN_SUMMED_TERMS and math.isclose(
            rest, value, rel_tol=_PRINTED_SUM_TOLERANCE, abs_tol=1e-6
        ):
            wholes.setdefault(w, set()).add(name if inside else "")
    parts: list[str] = []
    for w, named in wholes.items():
        kept = next(iter(named)) if len(named) == 1 else ""  # one part the others add up to is no part itself
        parts.extend(n for n in groups[w] if n != kept)
    return parts


def _loss_of_perplexity(pairs: list[tuple[str, float]], perplexity: str) -> list[tuple[str, float]]:
    """``pairs`` with the loss a printed perplexity is the exp of: its natural log, the mean cross-entropy
    per token (seq2seq-attn's and OpenNMT's 'PPL: p'). The perplexity stays beside it, so the tests that
    judge a perplexity (its implausible size, its climb) weigh it as they weigh one printed beside a
    loss, and the loss's own tests (its size, its spikes) see nats, as they do for any cross-entropy: a
    first perplexity of 350000 is a loss of 12.8, a vocabulary's chance level, no blown-up output.
    A non-finite perplexity stays so in its log; one not above 0 is no exp of anything and is left
    as printed."""
    out = _without_bare_totals(pairs)
    v = next(v for name, v in out if name == perplexity)
    return [*out, ("loss", math.log(v) if v > 0 else v)]


def _renamed(pairs: list[tuple[str, float]], main: str) -> list[tuple[str, float]]:
    return [("loss", v) if name == main else (name, v) for name, v in _without_bare_totals(pairs, main)]


def _without_bare_totals(pairs: list[tuple[str, float]], keep: str = "") -> list[tuple[str, float]]:
    return [(name, v) for name, v in pairs if name == keep or name not in _TOTAL_WORDS]


@functools.lru_cache(maxsize=8192)  # asked of every name on every line that prints no "loss": a log repeats its names
def _reading(name: str) -> tuple[str, int]:
    """(core, rank) of a metric's name: the words that name what it measures, and which reading it
    is (0 the step's value, 1 unqualified, 2 a running mean): ("rd", 0) for ``cur_rd``."""
    rank = 1
    core = []
    for w in re.split(r"[_/.\s-]+", name.lower()):
        if w in _CURRENT_WORDS:
            rank = 0
        elif w in _AVERAGE_WORDS:
            rank = rank and 2  # "cur_avg_loss" is still the step's
        elif w and w not in _TRAIN_WORDS:
            core.append(w)
    return "_".join(core), rank


@functools.lru_cache(maxsize=8192)
def _words_of(name: str) -> frozenset[str]:
    return frozenset(re.split(r"[_/.\s-]+", name.lower()))


# what a trainer prints beside a step's loss and terms, of that same step
_STEP_COMPANIONS = frozenset({"learning_rate", "grad_norm", "loss_scale"})


def only_terms(pairs: list[tuple[str, float]]) -> bool:
    """A line that prints only loss terms (never the loss itself, nor an evaluation's) and a step's companions (its
    LR, grad norm, loss scale): under a line that printed a step's loss, the rest of that step's record
    (tf-faster-rcnn's ' >>> rpn_loss_cls: {}' ... ' >>> lr: {}' under 'iter: {} / {}, total loss: {}'); an
    evaluation's terms ('giou_val_loss') are no step's."""
    return bool(pairs) and all(
        name in _STEP_COMPANIONS or (name != "loss" and _is_loss_term(name) and not names_an_evaluation(name))
        for name, _ in pairs
    )


def names_an_evaluation(name: str) -> bool:
    """A series name with an evaluation's word among its words ('giou_val_loss', 'loss_test')."""
    return not _EVAL_STAGE_WORDS.isdisjoint(_NAME_PARTS.split(name))


# A key filed under a loss's group is a term of it ('seg_loss/dice', 'rpn_losses/box_loss'), but for the statistics a
# toolkit files there beside the terms: tensorpack's 'rpn_losses/num_pos_anchor' and
# 'rpn_losses/label_metrics/recall_th0.5', counts and rates of the head's matching that are no loss
_COUNT_OR_RATE_LEAF = re.compile(
    r"^(?:num|n|count|number)_|(?:^|_)(?:precision|recall|accuracy|acc|iou|ratio|fraction|rate)(?:_|$|\d)"
    # and a leaf that names another stage: the group's evaluation value ('seg_loss/val'), no term of the training loss
    r"|^(?:val|valid|validation|test|eval|dev)(?:_|$)"
)


def one_term_printed(pairs: list[tuple[str, float]]) -> bool:
    """Does a line print one loss term and nothing else of the loss (no 'loss', no objective or cost, no total)?
    Its term then stands in for the loss (main_loss_and_basis) until a line under it prints the total."""
    names = {name for name, _ in pairs}
    terms = [name for name in names if _is_loss_term(name)]
    return (
        len(terms) == 1
        and "loss" not in names
        and not any(_reading(name)[0] in _OBJECTIVE_CORES or _words_of(name) & _TOTAL_WORDS for name in names)
    )


def _is_loss_term(name: str) -> bool:
    # a setting's word before the word loss names which loss (GluonCV's 'BoxScaleLoss', the box-size term), after
    # it a setting of the loss ('loss_scale', 'cls_loss_weight')
    head, sep, leaf = name.rpartition("/")
    if sep and (_COUNT_OR_RATE_LEAF.search(leaf) or any("metric" in part for part in head.split("/"))):
        return False
    return (
        ("loss" in name or _LOSS_TERM.fullmatch(name) is not None)
        and not name.startswith(("val", "eval", "test", "valid"))
        and (name.endswith("loss") or not any(w in name for w in _LOSS_SETTING_WORDS))
    )


# ---------------------------------------------------------------- other shapes


# Names and values alternating, separated by commas, the whole line (keras-frcnn's epoch summary and CSV-ish
# loggers that write a dict's items flat: 'loss_rpn_cls,0.77,loss_rpn_regr,0.11,...,elapsed_time,9.77'); at least
# two pairs, every name an identifier: a CSV header (names only) or a data row (numbers only) is neither
_COMMA_NAME = r"[A-Za-z_][\w./-]{0,63}"
_COMMA_VALUE = r"[-+]?(?:\d{1,30}(?:\.\d{0,30})?(?:[eE][-+]?\d{1,4})?|\.\d{1,30}|nan|inf)"
MAX_COMMA_PAIRS = 64
_COMMA_PAIRS = re.compile(
    rf"[ \t]{{0,16}}{_COMMA_NAME},[ \t]?{_COMMA_VALUE}"
    rf"(?:,[ \t]?{_COMMA_NAME},[ \t]?{_COMMA_VALUE}){{1,{MAX_COMMA_PAIRS - 1}}},?[ \t]{{0,16}}",
    re.IGNORECASE,
)


def comma_pairs(line: str) -> LineMetrics | None:
    """A line of 'name,value,name,value,...' alone, read as the same names and values printed 'name: value'."""
    if line.count(",") < 3 or _COMMA_PAIRS.fullmatch(line) is None:
        return None
    items = [item.strip() for item in line.strip().rstrip(",").split(",")]
    return scan_line(" ".join(f"{name}: {value}" for name, value in zip(items[::2], items[1::2], strict=True)))


# A log-likelihood printed as the objective the trainer maximises: EESEN's CTC trainer (net/ctc-loss.cc) logs
# 'Obj(log[Pzx]) = x' per block of sequences, the mean log-probability of the label sequences, higher is better.
# The loss it minimises is its negative (the CTC loss); a run that blows up prints it hugely negative.
_LOG_LIKELIHOOD = re.compile(rf"\bObj\(log\[Pzx\]\)[ \t]{{0,8}}=[ \t]{{0,8}}({_COMMA_VALUE})(?![\w.])", re.IGNORECASE)
LOG_LIKELIHOOD_BASIS = "the negative of 'Obj(log[Pzx])', the log-likelihood the CTC trainer maximises"


# Kaldi's nnet3 trainer (src/nnet3/nnet-training.cc, ObjectiveFunctionInfo::PrintStatsForThisPhase) logs per phase of
# minibatches "Average objective function for '<output>' for minibatches A-B is X over W frames." (with auxiliary
# objectives "is X + a + b = S over"; a short phase "... using N minibatches in  minibatch range A-B is ..."): the
# objective is the log-likelihood of the targets (cross-entropy's negative; -0.5 x the squared error for a quadratic
# output), maximised. The main output's ('output') is the run's; its loss is the negative, at the phase's last
# minibatch.
_KALDI_OBJECTIVE = re.compile(
    rf"Average objective function for '(?P<name>[\w.-]{{1,64}})'? (?:for minibatches|using \d{{1,12}} minibatches in "
    rf"{{1,2}}minibatch range) \d{{1,12}}-(?P<end>\d{{1,12}}) is (?P<objf>{_COMMA_VALUE})"
    rf"(?: \+ {_COMMA_VALUE}(?: \+ {_COMMA_VALUE}){{0,15}} = (?P<sum>{_COMMA_VALUE}))? over ",
    re.IGNORECASE,
)
KALDI_OBJECTIVE_BASIS = "the negative of the objective (a log-likelihood) Kaldi's nnet3 trainer maximises"


def kaldi_objective(line: str) -> LineMetrics | None:
    """The loss of one of Kaldi nnet3's per-phase objective lines (:data:`_KALDI_OBJECTIVE`), for the main output only,
    stepped at the phase's last minibatch; None for any other line."""
    m = _KALDI_OBJECTIVE.search(line) if "objective function for" in line else None
    if m is None or m.group("name") != "output":
        return None
    value = parse_number(m.group("sum") or m.group("objf"))
    if value is None:
        return None
    return LineMetrics(pairs=[("loss", -value)], counters=[("step", int(m.group("end")), None)])


# A variational Monte Carlo trainer's energy, the quantity it minimises (its loss), printed in Hartree: FermiNet's
# train.py (google-deepmind/ferminet, 2020-2024) logs 'Step %05d: %03.4f E_h, variance=%03.4f E_h^2, pmove=%0.2f'
# per step (a later fork puts the time before 'Step', another 'energy=' before the value). Read only with its
# unit: the energy is the number the unit 'E_h' follows, right after the step's counter.
_HARTREE_ENERGY = re.compile(
    rf"\bStep[ \t]{{1,4}}(?P<step>\d{{1,12}}):[ \t]{{1,4}}(?:energy[ \t]{{0,2}}=[ \t]{{0,2}})?"
    rf"(?P<energy>{_COMMA_VALUE})[ \t]{{1,4}}E_h\b",
    re.IGNORECASE,
)
HARTREE_ENERGY_BASIS = "the energy in Hartree (E_h), the quantity the variational Monte Carlo trainer minimises"


def hartree_energy(line: str) -> LineMetrics | None:
    """The loss of a VMC trainer's step line (:data:`_HARTREE_ENERGY`): its energy, at its step; None for any other."""
    m = _HARTREE_ENERGY.search(line) if "E_h" in line else None
    value = parse_number(m.group("energy")) if m else None
    if m is None or value is None:
        return None
    return LineMetrics(pairs=[("loss", value)], counters=[("step", int(m.group("step")), None)])


# A loss summarised over an epoch's batches by its statistics, named in brackets and printed as a tuple in their
# order: 'train loss (min, avg, max): (-0.276, nan, 1152.610)' (a warp-ctc OCR trainer's per-epoch summary). The
# mean is the epoch's loss, as an 'avg loss' is; the extremes are single batches'. The stage word before 'loss'
# says whose (an evaluation's is 'val_loss'); the names and the values must pair up one to one.
_STAT_NAMES = ("min", "avg", "mean", "max", "std", "median")
_STAT_NAME = "|".join(_STAT_NAMES)
_LOSS_STATISTICS = re.compile(
    rf"(?:^|[\s|,;\]])(?P<stage>[A-Za-z]{{1,12}}[ \t_-]{{1,2}})?loss[ \t]{{0,4}}"
    rf"\((?P<names>(?:{_STAT_NAME})(?:,[ \t]{{0,4}}(?:{_STAT_NAME})){{1,5}})\)[ \t]{{0,4}}[:=]?[ \t]{{0,4}}"
    rf"[(\[](?P<values>{_COMMA_VALUE}(?:,[ \t]{{0,4}}{_COMMA_VALUE}){{1,5}})[)\]]",
    re.IGNORECASE,
)
_MEAN_STATS = ("avg", "mean")


def loss_statistics(line: str) -> LineMetrics | None:
    """The loss of a line printing its statistics over the epoch (:data:`_LOSS_STATISTICS`): the mean's value, named
    by the stage word before 'loss'; None for any other line, or one whose names and values do not pair up."""
    m = _LOSS_STATISTICS.search(line) if "(" in line else None
    if m is None:
        return None
    names = [n.strip().lower() for n in m.group("names").split(",")]
    values = [parse_number(v.strip()) for v in m.group("values").split(",")]
    mean = next((i for i, n in enumerate(names) if n in _MEAN_STATS), None)
    if mean is None or len(names) != len(values) or values[mean] is None:
        return None
    stage = (m.group("stage") or "").strip(" \t_-").lower()
    if stage and stage not in _TRAIN_WORDS and stage not in _EVAL_STAGE_WORDS:
        return None  # another loss's statistics ('box loss (min, avg, max)'): a term, not the loss
    return LineMetrics(pairs=[("val_loss" if stage in _EVAL_STAGE_WORDS else "loss", values[mean])])


def negated_log_likelihood(line: str) -> float | None:
    """The loss of a line printing the log-likelihood objective (:data:`_LOG_LIKELIHOOD`): its negative."""
    m = _LOG_LIKELIHOOD.search(line) if "Pzx" in line else None
    value = parse_number(m.group(1)) if m else None
    return None if value is None else -value


# ---------------------------------------------------------------- JSON lines


# {"train": {"loss": ...}} is flattened to train/loss; deeper, {"train": {"metrics": {"loss": ...}}} is named by its
# leaf and the last stage word on its path (train/loss), the groups between ("metrics", "scalars") saying nothing
# of which metric it is; past this depth an object is a config or a payload, not a line of metrics
MAX_JSON_DEPTH = 4


def json_metrics(line: str) -> LineMetrics | None:
    """Metrics of a line holding one JSON object, or None when it is no JSON object."""
    s = line.strip()
    if len(s) < 2 or s[0] != "{" or s[-1] != "}" or '"' not in s:
        return None
    try:
        obj = json.loads(s)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    out = LineMetrics()
    for key, val in _flatten(obj, "", 1):
        words = (key,)
        ck = counter_kind(words)
        v = parse_number(val) if isinstance(val, str) else float(val) if isinstance(val, (int, float)) else None
        if v is None:
            continue
        iv = _int_of(v)
        if ck in ("epoch", "eval_epoch"):
            if iv is not None:
                out.epoch = iv
            continue
        if ck is not None:
            if iv is not None:
                out.counters.append((ck, iv, None))
            continue
        tag = metric_name(words)
        if tag is not None:
            out.pairs.append((tag, v))
    return out


def json_leaves(obj: dict, max_depth: int, prefix: str = "", depth: int = 1) -> Iterator[tuple[str, object, int]]:
    """(path, value, depth) of every value of a JSON object that is not itself an object, nested objects' values
    under 'outer/inner', down to ``max_depth`` levels (the top object is level ``depth``)."""
    for key, val in obj.items():
        name = f"{prefix}{key}"
        if isinstance(val, dict):
            if depth < max_depth:
                yield from json_leaves(val, max_depth, name + "/", depth + 1)
        else:
            yield name, val, depth


def _flatten(obj: dict, prefix: str, depth: int) -> Iterator[tuple[str, object]]:
    for name, val, level in json_leaves(obj, MAX_JSON_DEPTH, prefix, depth):
        if isinstance(val, (int, float, str)) and not isinstance(val, bool):
            yield (name if level <= 2 else _deep_json_name(name)), val


def _deep_json_name(path: str) -> str:
    """train/metrics/loss -> train/loss, eval/scalars/loss -> eval/loss, metrics/epoch_0/loss -> loss: the leaf,
    under the last stage word on its path if there is one."""
    *groups, leaf = path.split("/")
    stages = [g for g in groups if g.lower() in _STAGE_AFTER]
    return f"{stages[-1]}/{leaf}" if stages else leaf


# ---------------------------------------------------------------- columns under a header


MIN_COLUMNS = 2


# The progress cell xLearn's Trainer prints before its table's cells (src/solver/trainer.cc): '[------------]' before
# the header (show_head_info), '[ ' then the percent of the epochs done in four places, '%      ]' before each row
# (show_train_info). It is no column: the header's names and the row's cells follow it.
_PROGRESS_CELL = re.compile(r"\s{0,8}\[(?:-{4,16}|[ \t]{0,4}\d{1,3}%[ \t]{0,8})\]")


# tf_cnn_benchmarks' throughput cell (benchmark_cnn.py get_perf_timing_str: 'images/sec: %.1f +/- %.1f (jitter = %.1f)',
# or 'images/sec: %.1f' alone when scaled), printed between the step and the loss of its rows
# ('%i\t%s\t%.*f' under 'Step\tImg/sec\ttotal_loss'): one cell, though it holds blanks. A paste that turned the tabs
# into blanks leaves the row's cells set apart by blanks only, so the cell is closed up before such a row is split.
_THROUGHPUT_CELL = re.compile(
    rf"images/sec:[ ]{{0,4}}({_NUMBER_TEXT})(?:[ ]{{1,4}}\+/-[ ]{{1,4}}{_NUMBER_TEXT}"
    rf"[ ]{{1,4}}\(jitter[ ]{{0,4}}=[ ]{{0,4}}{_NUMBER_TEXT}\))?",
    re.IGNORECASE,
)


def split_columns(line: str) -> list[str]:
    """Fields of a table row: by ``|``, tabs, commas, or runs of blanks, whichever the line uses."""
    if line[:1] in " [" and (m := _PROGRESS_CELL.match(line)) is not None:
        line = line[m.end() :]
    if "images/sec:" in line:
        line = _THROUGHPUT_CELL.sub(r"images/sec:\1", line)
    s = line.strip().strip("|")
    for sep in ("|", "\t", ","):
        if sep in s:
            return [f.strip() for f in s.split(sep)]
    return s.split()


# Columns of a progress table that count things in the batch, not metrics ("labels", "Instances")
_COUNT_COLUMNS = frozenset({"labels", "targets", "instances", "img_size", "imgsz", "size", "images"})


def _progress_header(cols: list[str]) -> list[str] | None:
    """A detection trainer's progress header: the epoch (and the batch), then the GPU memory or the
    running means of the loss terms under short names and their ``total``, then batch counts and
    times (YOLOv3 and YOLOv5 up to 6.1: "Epoch gpu_mem box obj cls [total] labels img_size";
    ultralytics 8: "... box_loss ..."; early YOLOv3: "Epoch Batch x y w h conf cls total nTargets
    time"). The unnamed columns before the total are loss terms ("box" is "box_loss") and "total" is
    the loss; without a memory column, it takes a total beside at least MIN_SUMMED_TERMS of them."""
    if len(cols) < 3 or counter_kind((cols[0],)) != "epoch":
        return None
    memory = "mem" in cols[1].lower()
    total_at = next((i for i, c in enumerate(cols) if c.lower() in _TOTAL_WORDS), len(cols))
    out = []
    for i, c in enumerate(cols):
        low = c.lower()
        if i == 0 or (memory and i == 1) or i > total_at:
            out.append(c)  # after the total: counts and times ("nTargets", "time"), no loss terms
        elif i == total_at:
            out.append("loss")
        elif low in _COUNT_COLUMNS or metric_name((c,)) is not None or counter_kind((c,)) is not None:
            out.append(c)
        elif any(w in low for w in _NOT_METRIC_WORDS) or low.startswith(_NOT_METRIC_PREFIXES):
            out.append(c)  # a time, a speed, a memory or a setting ("data_time", "batch_time"): never a loss term
        else:
            out.append(f"{c}_loss")
    terms = sum(c.endswith("_loss") and c not in cols for c in out)
    if memory or (total_at < len(cols) and terms >= MIN_SUMMED_TERMS):
        return out
    return None


# A detection trainer's progress row whose header the log does not hold (a paste that kept only the bar rows):
# ultralytics YOLOv3 and YOLOv5 (to 2021) describe their bar with ('%10s' * 2 + '%10.4g' * 6) % ('%g/%g' % (epoch,
# epochs - 1), '%.3gG' % memory, *mean_losses, targets, img_size), the mean loss terms then their total; YOLOv5 6.x
# and ultralytics 8 the same with three terms and no total; forks add terms or put the total first. The epoch and
# its total, the memory in G or M, then these many numbers: the loss columns, then the two counts of the batch.
_HEADERLESS_ROW = re.compile(
    r"(\d{1,9})/(\d{1,9})[ \t]{1,32}\d{1,6}(?:\.\d{1,6})?[GM][ \t]{1,32}((?:[^\s/]{1,24}[ \t]{1,32}){3,7}[^\s/]{1,24})"
)
HEADERLESS_COUNT_COLUMNS = 2  # the targets (labels, instances) of the batch and its image size
# a loss column that is the sum of the others, as printed to 4 significant digits each ('%10.4g'): their total
_PRINTED_SUM_TOLERANCE = 2e-3


def headerless_row(desc: str) -> LineMetrics | None:
    """The epoch and the loss of a progress row printed without its header (:data:`_HEADERLESS_ROW`), or None.
    The loss is the column that is the sum of the others where one is (the printed total), else the sum of them
    all (the trainer optimises the sum of its terms, non-finite when one is); the terms stay unnamed."""
    m = _HEADERLESS_ROW.fullmatch(desc.strip())
    if m is None:
        return None
    values = [parse_number(f) for f in m.group(3).split()]
    if any(v is None for v in values):
        return None
    losses = [float(v) for v in values[:-HEADERLESS_COUNT_COLUMNS] if v is not None]
    if len(losses) < MIN_SUMMED_TERMS:
        return None
    total = math.fsum(losses)
    loss = next(
        (v for v in losses if math.isclose(v, total - v, rel_tol=_PRINTED_SUM_TOLERANCE, abs_tol=1e-6) and v != 0),
        total,
    )
    out = LineMetrics()
    out.epoch, out.epoch_total = int(m.group(1)), int(m.group(2))
    out.pairs.append(("loss", loss))
    return out


# A row of nolearn's PrintLog (nolearn/lasagne/handlers.py) printed without its header (a paste that kept only the
# last epochs): tabulate's row of the epoch, the training and the validation loss, their ratio ('train/val', the
# training loss divided by the validation loss), the validation accuracy and any scores, then the epoch's duration
# as '{:.2f}s'. Nothing names the cells; the ratio does: the third value is the first divided by the second (to the
# five decimals printed), which says the two before it are the losses it was taken of.
_NOLEARN_ROW = re.compile(
    rf"[ \t]{{0,16}}(\d{{1,9}})((?:[ \t]{{1,32}}{_NUMBER_TEXT}){{3,16}})[ \t]{{1,32}}\d{{1,9}}\.\d\ds[ \t]{{0,8}}",
    re.IGNORECASE,
)
# the ratio as printed ('.5f') against the ratio of the two losses as printed (each '.5f' too): both roundings
_PRINTED_RATIO_TOLERANCE = 1e-5


def _is_ratio(train: float, valid: float, ratio: float) -> bool:
    """Is ``ratio`` what train / valid prints, non-finite where a loss is (a NaN loss makes a NaN ratio)?"""
    if not (math.isfinite(train) and math.isfinite(valid)) or valid == 0:
        return not math.isfinite(ratio)
    if not math.isfinite(ratio):
        return False
    exact = train / valid
    # each loss is off by up to half a unit of its fifth decimal: the quotient moves by that much relative to each
    slack = 0.5 * _PRINTED_RATIO_TOLERANCE * (1 / abs(valid) + abs(exact) / abs(valid))
    return abs(ratio - exact) <= _PRINTED_RATIO_TOLERANCE + slack


def nolearn_row(line: str) -> LineMetrics | None:
    """The epoch and the two losses of a headerless nolearn PrintLog row (:data:`_NOLEARN_ROW`), or None."""
    m = _NOLEARN_ROW.fullmatch(line)
    if m is None:
        return None
    values = [parse_number(f) for f in m.group(2).split()]
    if any(v is None for v in values[:3]):
        return None
    train, valid, ratio = (float(v) for v in values[:3] if v is not None)
    if not _is_ratio(train, valid, ratio):
        return None
    out = LineMetrics()
    out.epoch = int(m.group(1))
    out.pairs += [("loss", train), ("val_loss", valid)]
    return out


# ultralytics YOLOv3's train.py until mid-2019, and the many forks that copied it, printed each batch as two counters
# ('%g/%g' % (epoch, epochs - 1), '%g/%g' % (i, nb - 1)), then the running means of the loss's terms and their total,
# then bookkeeping, all '%10.3g' (or '%11.3g'). The versions differ in the terms and what follows them:
# - spring 2019: xy, wh, conf, cls, total, then the batch's targets and its time (later its image size): 7 numbers;
#   results.txt kept the epoch's last row with '%11.3g' * 5 more (P, R, mAP, F1 and the test loss): 12;
# - 2018 to early 2019: x, y, w, h, conf, cls, total, then nT and the time (9), or the running precision and recall
#   before them (11), or precision, recall, nGT, TP, FP, FN and the time (14).
# No header names the cells: the two counters do, and the total, the sum of the terms before it, says which are the
# loss's terms (a row of other numbers after two counters is no such row).
_YOLO_2019_ROW = re.compile(
    rf"[ \t]{{0,16}}(\d{{1,9}})/(\d{{1,9}})[ \t]{{1,32}}(\d{{1,9}})/(\d{{1,9}})"
    rf"((?:[ \t]{{1,32}}{_NUMBER_TEXT}){{7,14}})[ \t]{{0,8}}",
    re.IGNORECASE,
)
# the terms before the total, by how many numbers the row prints after its counters (the layouts above)
YOLO_2019_LAYOUTS = {7: 4, 12: 4, 9: 6, 11: 6, 14: 6}
YOLO_2019_RESULTS_ROW = 12  # the spring-2019 results.txt row: its last number is the test loss
# the total against the sum of its terms, each printed to 3 significant digits ('%10.3g'): their rounding
_YOLO_2019_SUM_TOLERANCE = 1e-2


def yolo_2019_row(line: str) -> LineMetrics | None:
    """The epoch, the batch within it, the loss (the printed total) and, in results.txt, the test loss of a row of
    ultralytics YOLOv3's 2018-2019 train.py (:data:`_YOLO_2019_ROW`), or None."""
    m = _YOLO_2019_ROW.fullmatch(line)
    if m is None:
        return None
    epoch, last_epoch, batch, last_batch = (int(m.group(k)) for k in range(1, 5))
    if epoch > last_epoch or batch > last_batch:
        return None
    values = [parse_number(f) for f in m.group(5).split()]
    n_terms = YOLO_2019_LAYOUTS.get(len(values))
    if n_terms is None or any(v is None for v in values):
        return None
    terms = [float(v) for v in values[:n_terms] if v is not None]
    total = float(values[n_terms] or 0.0)
    if all(map(math.isfinite, terms)) != math.isfinite(total):
        return None  # a non-finite term makes a non-finite total, and only one does
    if math.isfinite(total):
        if not any(terms):
            return None  # a sum of zeros says nothing of which columns are the loss's terms
        if not math.isclose(math.fsum(terms), total, rel_tol=_YOLO_2019_SUM_TOLERANCE, abs_tol=1e-3):
            return None
    out = LineMetrics()
    out.epoch, out.epoch_total = epoch, last_epoch + 1
    out.counters.append(("batch", batch, last_batch + 1))
    out.pairs.append(("loss", total))
    if len(values) == YOLO_2019_RESULTS_ROW and values[-1] is not None:
        out.pairs.append(("val_loss", float(values[-1])))
    return out


# XGBoost's evaluation line per boosting round: '[%d]' of the round, then for each evaluation set and metric a tab,
# the set's name, '-', the metric's name, ':' and its value (the C++ learner's EvalOneIter and the Python package's
# EvaluationMonitor alike, 'train-rmse:0.48' or 'validation_0-mlogloss:1.02'; xgb.cv adds '+' and the standard
# deviation; a syslog that escapes the tab writes '#011', as SageMaker's logs show it).
MAX_EVAL_ENTRIES = 32
_XGB_ENTRY = rf"(?:\t|#011)[\w.]{{1,64}}-[\w@.-]{{1,64}}:{_NUMBER_TEXT}(?:(?:\+|±){_NUMBER_TEXT})?"
_XGB_EVAL = re.compile(
    rf"[ \t]{{0,8}}\[(\d{{1,9}})\]((?:{_XGB_ENTRY}){{1,{MAX_EVAL_ENTRIES}}})[ \t]{{0,8}}", re.IGNORECASE
)
_XGB_PAIR = re.compile(rf"(?:\t|#011)([\w.]{{1,64}})-([\w@.-]{{1,64}}):({_NUMBER_TEXT})", re.IGNORECASE)
# XGBoost's metrics that measure the fit as a loss does (lower is better, non-finite when the model is): the squared,
# absolute and percentage errors, the (multi-class) log loss and the negative log-likelihoods of the count, survival
# and gamma objectives, the gamma deviance. Each is the default metric of its objective, so the objective's own loss.
# The ranking and classification scores (auc, aucpr, error, merror, map, ndcg, pre) are no loss.
_XGB_LOSS_METRIC = re.compile(
    r"(?:rmse|rmsle|mae|mape|mphe|logloss|mlogloss|(?:\w{1,16}-)?nloglik|gamma-deviance)(?:@[\w.-]{0,32})?"
)


def xgboost_eval(line: str) -> LineMetrics | None:
    """The round and the loss of each evaluation set of an XGBoost evaluation line (:data:`_XGB_EVAL`), or None.
    A set named for the training data gives ``loss``, any other ``val_loss``; of several loss metrics per set the
    first printed. A line whose metrics are all scores gives the round and no loss."""
    m = _XGB_EVAL.fullmatch(line)
    if m is None:
        return None
    out = LineMetrics()
    out.counters.append(("step", int(m.group(1)), None))
    seen: set[str] = set()
    for data, metric, value in _XGB_PAIR.findall(m.group(2)):
        tag = "loss" if "train" in data.lower() else "val_loss"
        v = parse_number(value)
        if tag in seen or v is None or _XGB_LOSS_METRIC.fullmatch(metric.lower()) is None:
            continue
        seen.add(tag)
        out.pairs.append((tag, v))
    for data, metric, value in _XGB_PAIR.findall(m.group(2)):
        name = metric_name((metric.lower(),)) if _XGB_LOSS_METRIC.fullmatch(metric.lower()) is None else None
        v = parse_number(value)
        if name is not None and v is not None:  # a score ('auc', 'map'), kept under its name as a score
            out.pairs.append((name if "train" in data.lower() else _staged("val", name), v))
    return out


def _two_word_names(cols: list[str]) -> list[str]:
    """Blank-separated header words with the names of two words joined back: fastai 1's Recorder writes
    ``'  '.join(['epoch', 'train loss', 'valid loss'] + metric names)`` (basic_train.py), and a paste
    that collapses blanks leaves one space everywhere. A pair is joined when it is a known name."""
    out: list[str] = []
    i = 0
    while i < len(cols):
        pair = f"{cols[i]} {cols[i + 1]}" if i + 1 < len(cols) else ""
        if pair and pair.lower() in ALIASES:
            out.append(pair)
            i += 2
        else:
            out.append(cols[i])
            i += 1
    return out


# Columns set apart by at least two blanks, as fixed-width printers pad them: tabulate's two blanks between columns
# (nolearn's PrintLog: 'epoch', 'train loss', 'valid loss', 'train/val', 'valid acc', 'dur'), xLearn's names
# right-aligned in 20 places ('Train log_loss', 'Test AUC', 'Time cost (sec)'). Between two such runs one blank
# joins the words of one name, unless each of its words names a metric or a counter alone ('loss acc': two columns
# of a header whose own padding is uneven).
_WIDE_GAP = re.compile(r"[ ]{2,}")


# A terminal or a paste shows a tab as blanks up to the next multiple of this many places
TAB_STOP = 8


def _tab_stop_names(line: str) -> list[str] | None:
    """The names of a tab-separated header whose tabs were turned into blanks (tf_cnn_benchmarks' 'Step\tImg/sec\t
    total_loss' pasted): every name starts at a tab stop and some gap is wider than one blank, so each blank-free
    word is a name, even where only one blank was left before the next stop. None for any other line."""
    words = list(_FIELD.finditer(line))
    if len(words) < MIN_COLUMNS or any(m.start() % TAB_STOP for m in words):
        return None
    if not any(b.start() - a.end() > 1 for a, b in itertools.pairwise(words)):
        return None
    return [m.group() for m in words]


def _spaced_names(line: str, glued_marker: bool = False) -> list[str] | None:
    """The names of a header whose columns are set apart by runs of blanks and whose names hold single blanks, or
    None when the line is not so (no name of several words, or a paste that collapsed the blanks). ``glued_marker``:
    the line's comment marker was glued to its first name ('#Iters Seconds TrainingLoss', Caffe's parse_log.sh), so
    it is no column, and one cell after it is names one blank apart, no name of several words."""
    tabbed = _tab_stop_names(line)
    if tabbed is not None:
        return tabbed
    start = _PROGRESS_CELL.match(line)
    cells = [c for c in _WIDE_GAP.split(line[start.end() if start else 0 :].strip()) if c]
    marked = bool(cells) and cells[0][:1] == COMMENT_MARKER
    if marked:  # '# step  rmse_val': the marker is no word of the first name
        cells = [COMMENT_MARKER, *filter(None, [cells[0][1:].strip()]), *cells[1:]]
    if marked and glued_marker and len(cells) == 2 and _names_of_columns(cells[1].split()):
        return None  # '#Iters Seconds TrainingLoss LearningRate': four names; '#Total Loss Curve' is a title
    if len(cells) < MIN_COLUMNS or not any(" " in c for c in cells):
        return None
    for c in cells:
        words = tuple(c.split())
        if len(words) > 1 and all(metric_name((w,)) or counter_kind((w,)) for w in words):
            return None
    return cells


# A column name written in camel case, its words run together with a capital at each ('TrainingLoss',
# 'LearningRate', 'NumIters' in Caffe's tools/extra/parse_log.py and parse_log.sh tables): read as its words.
# (every quantifier bounded, a name's words being short, so a search over any line stays linear)
_CAMEL_WORDS = re.compile(r"[A-Z]?[a-z]{1,24}|[A-Z]{1,8}(?![a-z])")
_CAMEL_NAME = re.compile(r"[A-Z]?[a-z]{1,24}(?:[A-Z][a-z]{1,24}){1,6}")

# Counters a table's column names with a plural, as no key=value line does (there a plural is a total, a setting:
# 'steps: 1000'): a column's value changes from row to row, so 'Iters' is the iteration of each row (Caffe's
# parse_log.sh '#Iters', parse_log.py 'NumIters').
_COLUMN_COUNTERS = {"iters": "step", "iterations": "step", "num iters": "step", "num iterations": "step"}


@functools.lru_cache(maxsize=256)
def _header_words(header: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Each column's words under ``header``: a camel-case name split (:func:`column_words`) unless the metric it then
    names is another column's ('MinLoss' beside 'Loss' would overwrite it): such a name keeps its own, unsplit."""
    split = {col: column_words(col) for col in header}
    named = [metric_name(split[col]) for col in header]
    out = {}
    for col, tag in zip(header, named, strict=True):
        words = split[col]
        if tag is not None and words != tuple(col.split()) and named.count(tag) > 1:
            words = tuple(col.split())
        out[col] = words
    return out


def column_words(col: str) -> tuple[str, ...]:
    """The words of a table column's name, a camel-case one split at its capitals."""
    words = tuple(col.split())
    if len(words) == 1 and _CAMEL_NAME.fullmatch(words[0]):
        return tuple(_CAMEL_WORDS.findall(words[0]))
    return words


# Words that join a sentence's words, in no column's name: '#learning rate and loss per iterations' is a comment
_FUNCTION_WORDS = frozenset(
    {"and", "or", "of", "per", "the", "for", "with", "vs", "in", "on", "to", "at", "by", "a", "an"}
)


def _names_of_columns(words: list[str]) -> bool:
    """Whether the words after a glued comment marker are a header's names rather than a comment's or a title's: a
    counter and a metric among them ('#Iters Seconds TrainingLoss LearningRate Momentum', '#Step Loss TokensPerSec'),
    and no word that joins a sentence's ('#loss weight of the iterations')."""
    if any(w.lower() in _FUNCTION_WORDS for w in words):
        return False
    split = [column_words(w) for w in words]
    return any(column_counter(s) for s in split) and any(metric_name(s) for s in split)


def column_counter(words: tuple[str, ...]) -> str | None:
    """The counter kind a table column's name says, plural counters included (:data:`_COLUMN_COUNTERS`)."""
    return counter_kind(words) or _COLUMN_COUNTERS.get(" ".join(w.lower() for w in words))


# The comment marker before a header that a file of rows writes for readers such as np.loadtxt and gnuplot to skip
# ('#  step  rmse_val  rmse_trn ... lr' in DeePMD-kit's lcurve.out, '# step loss acc' from research scripts): no
# column of the rows, which hold one field fewer; glued to the first name ('#step') it is cut off that name.
COMMENT_MARKER = "#"


def header_columns(line: str) -> list[str] | None:
    """The column names when ``line`` is a table header naming at least one metric; else None."""
    lead = line.lstrip()
    glued = lead[:1] == COMMENT_MARKER and lead[1:2] not in ("", " ", "\t", COMMENT_MARKER)
    if glued:
        line = line.replace(COMMENT_MARKER, COMMENT_MARKER + " ", 1)  # '#step loss' is '# step loss'
    cols = split_columns(line)
    if " " in line and not any(sep in line for sep in "|\t,"):
        cols = _spaced_names(line, glued) or _two_word_names(cols)
    progress = _progress_header(cols) if len(cols) <= 64 else None
    if progress is not None and all(c and len(c) <= 48 and c[0].isalpha() for c in cols):
        return progress
    if not names_a_metric(line):
        return None  # a header names at least one metric
    if len(cols) < MIN_COLUMNS or len(cols) > 64:
        return None
    if not all(c and len(c) <= 48 and (c[0].isalpha() or c[0] in "_#") for c in cols):
        return None
    if any(_is_nonfinite(c) for c in cols):
        return None  # a row of values, not of names
    if cols[-1].endswith(".") and not any(sep in line for sep in "|\t,"):
        # a sentence's full stop: another writer's message ("... rebuilt in this iteration."), no header;
        # cells cut by tabs or bars are names, and an abbreviated one keeps its dot ("Valid Acc.")
        return None
    named = [metric_name(column_words(c)) or column_counter(column_words(c)) for c in cols]
    if not any(m is not None and m not in ("epoch", "eval_epoch", "global", "step", "batch") for m in named):
        return None
    return cols


# Files some toolkits write with a fixed column layout and no header line of their own (or whose header
# a paste leaves out), by file name: each layout taken from the toolkit's source, the row's number of
# fields picking among them. A row is read only when every metric and counter field holds a number.
HEADERLESS_LAYOUTS: dict[str, tuple[tuple[str, ...], ...]] = {
    # timm train.py, timm/utils/summary.py update_summary: a csv.DictWriter row of epoch, train_ then
    # eval_ metrics (loss; loss, top1, top5), then the LR from timm 0.4 on; the header is written only
    # with the first epoch's row, so a resumed run's file or a paste of its tail has none
    "summary.csv": (
        ("epoch", "train_loss", "eval_loss", "eval_top1", "eval_top5"),
        ("epoch", "train_loss", "eval_loss", "eval_top1", "eval_top5", "lr"),
    ),
    # YOLOv5 up to 5.0 and YOLOv3 (ultralytics, 2019-2021) train.py: "%10s" * 2 + "%10.4g" * 6 of
    # epoch/epochs, GPU memory, the running means of box, obj, cls and their total, the targets and the
    # image size, then "%10.4g" * 7 of P, R, mAP@.5, mAP@.5:.95 (YOLOv3: F1) and the three val losses;
    # results.txt never had a header (YOLOv5 6.0 moved to results.csv, which has one)
    "results.txt": (
        (
            "epoch",
            "gpu_mem",
            "box_loss",
            "obj_loss",
            "cls_loss",
            "loss",
            "targets",
            "img_size",
            "precision",
            "recall",
            "map_0.5",
            "map_0.5:0.95",
            "val_box_loss",
            "val_obj_loss",
            "val_cls_loss",
        ),
    ),
}


def headerless_layouts(file_name: str | None) -> tuple[list[str], ...]:
    """The column layouts a file of this name is known to be written in without a header."""
    if not file_name:
        return ()
    return tuple(list(cols) for cols in HEADERLESS_LAYOUTS.get(file_name.lower(), ()))


# A markdown table's delimiter row under its header ("-- | -- | --", "|:---|---:|"): GitHub turns a
# notebook's HTML table (the HF Trainer's progress table) into one when it is pasted into an issue
# what a table prints in a cell that holds no value this row: transformers' notebook tracker
# (utils/notebook.py) fills "No log" for a loss not logged yet and "No Log" for a column a later row added
_NO_VALUE_CELLS = frozenset({"no log"})


def is_table_delimiter(line: str) -> bool:
    """True for a markdown table's delimiter row, which sits between the header and its rows."""
    if "|" not in line or "--" not in line:
        return False
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    return len(cells) >= 2 and all(_is_delimiter_cell(c) for c in cells)


def _is_delimiter_cell(cell: str) -> bool:
    """ "--", ":---", "---:" or ":---:": dashes, with the alignment colons markdown allows."""
    core = cell.removeprefix(":").removesuffix(":")
    return len(core) >= 2 and core.count("-") == len(core)


# A key/value box: OpenAI baselines' and stable-baselines' logger (logger.py HumanOutputFormat.writekvs)
# prints each record as a border of dashes, one "| key | value |" row per name, then the border again;
# stable-baselines3 groups the keys under "| train/ |  |" rows and indents them. A border is at least
# this many dashes (the logger's is key and value widths + 7), so a short rule is not taken for one.
MIN_BOX_BORDER = 10
# a record holds tens of keys; more rows than this between two borders is no record (memory stays bounded)
MAX_BOX_ROWS = 512


def is_box_border(line: str | bytes) -> bool:
    """True for a line of dashes only, long enough to be a key/value box's border (text, or the raw
    bytes the log sniff looks at)."""
    s = line.strip()
    return len(s) >= MIN_BOX_BORDER and s.count(b"-" if isinstance(s, bytes) else "-") == len(s)


def box_row(line: str) -> tuple[str, str] | None:
    """(key, value) of a "| key | value |" row (the key keeps its indent), or None for any other line."""
    s = line.strip()
    if len(s) < 5 or s[0] != "|" or s[-1] != "|" or s.count("|") != 3:
        return None
    key, value = s[1:-1].split("|")
    return key.removeprefix(" ").rstrip(), value.strip()


def box_metrics(rows: list[tuple[str, str]]) -> LineMetrics:
    """The metrics of one key/value box; an indented key is under the group row above it."""
    out = LineMetrics()
    group = ""
    for key, value in rows:
        name = key.strip()
        if not value and name.endswith("/"):
            group = name  # stable-baselines3: "| train/ |  |", its keys indented below
            continue
        if not key.startswith(" "):
            group = ""
        tag = metric_name((group + name,))
        v = parse_number(value)
        if tag is not None and v is not None:
            out.pairs.append((tag, v))
    return out


_FIELD = re.compile(r"\S+")


def column_starts(line: str, cols: list[str]) -> list[int] | None:
    """Where each column name starts in a blank-separated header line (None for any other separator)."""
    if any(sep in line for sep in "|\t,"):
        return None
    starts, pos = [], 0
    for col in cols:
        at = line.find(col, pos)
        if at < 0:
            return None
        starts.append(at)
        pos = at + len(col)
    return starts


def _aligned_fields(line: str, starts: list[int]) -> list[str] | None:
    """The cells of a fixed-width row under a header whose columns start at ``starts``, a blank cell as "";
    None when two values fall under one column."""
    fields = [""] * len(starts)
    for m in _FIELD.finditer(line):
        k = bisect.bisect_right(starts, m.start()) - 1
        if k < 0 or fields[k]:
            return None
        fields[k] = m.group()
    return fields


# words of a column's name that say it is measured on held-out data ('rmse_val', 'loss_tst', 'val/loss'): the
# columns a header names for an evaluation its rows may not hold (see _without_eval_columns)
_EVAL_COLUMN_WORDS = frozenset({*_STAGE_PREFIXES, "tst"})


def _without_eval_columns(header: list[str], fields: int) -> list[str] | None:
    """The header without its evaluation columns, when that leaves as many columns as the row has fields.

    A writer that prints the held-out columns only when it has held-out data can still head the table with them:
    DeePMD-kit writes '   %11s %11s' % (k + '_val', k + '_trn') per key in the header when it expects
    validation data, while each row has '   %11.2e' of the training value only when there is none (its v3.0.0a1
    header was written so for a run without validation data, fixed since); the rows are then the training
    columns in the header's order. Read by name, not by position: such a header's widths do not match the rows'."""
    kept = [c for c in header if not (_words_of(c) & _EVAL_COLUMN_WORDS)]
    return kept if len(kept) == fields and len(kept) < len(header) else None


# A note under a header that names the columns printing NaN when the data to measure them is missing: DeePMD-kit
# writes '# If there is no available reference data, rmse_*_{val,trn} will print nan' under its lcurve.out header
# (a system without energy or force labels has no error to print). NaN in such a column is no value, not a
# divergence; the note's shell pattern says which columns ('rmse_e_trn' but not the total 'rmse_trn').
_NAN_NOTE = re.compile(
    r"(?<![\w*?{},])([\w*?{},]{1,64}) (?:will |would |may )?(?:print|show|be)s? nan\b", re.IGNORECASE
)
_NO_DATA = re.compile(r"\bno\b[ \w]{0,40}\bdata\b", re.IGNORECASE)


def nan_note_columns(line: str, header: list[str]) -> frozenset[str]:
    """The columns of ``header`` a comment line under it says print NaN for missing data (:data:`_NAN_NOTE`)."""
    m = _NAN_NOTE.search(line) if "nan" in line.lower() else None
    if m is None or _NO_DATA.search(line[: m.start()]) is None:
        return frozenset()
    pattern = m.group(1).lower()
    brace = re.search(r"\{([^{}]{1,64})\}", pattern)
    options = brace.group(1).split(",") if brace else [""]
    globs = [pattern[: brace.start()] + o + pattern[brace.end() :] for o in options] if brace else [pattern]
    return frozenset(c for c in header if any(fnmatch.fnmatchcase(c.lower(), g) for g in globs))


def row_metrics(
    header: list[str], line: str, starts: list[int] | None = None, nan_missing: frozenset[str] = frozenset()
) -> LineMetrics | None:
    """The metrics of one row under ``header``, or None when the row does not fit it. With the header's
    column positions (``starts``), a row with blank cells is read by position: Chainer's PrintReport pads
    every column to its header's width and writes blanks for an entry the row has no value of
    (training/extensions/print_report.py: '{:<%dg}  ' per value, ' ' * (w + 2) for a missing one).
    A header's comment marker is no column; NaN in a column of ``nan_missing`` is no value (:data:`_NAN_NOTE`)."""
    fields = split_columns(line)
    if header and header[0] == COMMENT_MARKER and len(fields) < len(header):
        bare = header[1:]
        if len(fields) == len(bare) or _without_eval_columns(bare, len(fields)) is not None:
            header, starts = bare, starts[1:] if starts else None
    if len(fields) != len(header):
        kept = _without_eval_columns(header, len(fields)) if len(fields) < len(header) else None
        if kept is not None:
            header, starts = kept, None
        else:
            aligned = _aligned_fields(line, starts) if starts and len(fields) < len(header) else None
            if aligned is None:
                return None
            fields = aligned
    out = LineMetrics()
    names = _header_words(tuple(header))
    for col, f in zip(header, fields, strict=True):
        words = names.get(col) or column_words(col)
        ck = column_counter(words)
        tag = metric_name(words) if ck is None else None
        if ck is None and tag is None:
            continue  # a column that is no metric ("GPU_mem 2.61G", "Size 640") may hold anything
        stage = _STAGE_PREFIXES.get(words[0].lower()) if tag is not None and len(words) > 1 else None
        if stage is not None:
            tag = _staged(stage, tag)  # xLearn's 'Test log_loss' beside its 'Train log_loss': the held-out one
        elif tag in _ERROR_CORES and len(words) > 1 and words[0].lower() in _TRAIN_WORDS:
            tag = f"train_{tag}"  # xLearn's 'Train mse': the training error its stage word names (main_loss_and_basis)
        if ck is None and (not f or f.lower() in _NO_VALUE_CELLS):
            continue  # a metric this row does not hold
        if col in nan_missing and f.lower().lstrip("+-") == "nan":
            continue  # the note under the header: NaN here means no data to measure it on
        n, _, total = f.partition("/")  # a counter with its total: YOLO's "Epoch 3/100"
        v = parse_number(n.rstrip("%")) if ck is not None and total else parse_number(f.rstrip("%"))
        if v is None:
            return None  # a metric or counter column that holds no number: the row does not fit
        iv = _int_of(v)
        tv = parse_number(total) if total else None
        if ck in ("epoch", "eval_epoch"):
            out.epoch = iv
            out.epoch_total = _int_of(tv) if tv is not None else None
        elif ck is not None:
            if iv is not None:
                out.counters.append((ck, iv, _int_of(tv) if tv is not None else None))
        elif tag is not None:
            out.pairs.append((tag, v))
    return out


# A table row whose cells are lists of numbers (DeepXDE's TrainingDisplay: 'Step', 'Train loss', 'Test loss', 'Test
# metric' padded to the cells' widths, each loss cell list_to_str of the per-term losses, '[{:.2e}, ...]', an empty
# list where no metric is set): the step, then nothing but such lists. DeepXDE minimises the sum of the terms it lists
# (each already multiplied by its loss weight), so a loss cell reads as that sum.
MAX_LIST_TERMS = 64
_NUMBER_LIST = rf"\[(?:{_NUMBER_TEXT}(?:,[ \t]{{0,4}}{_NUMBER_TEXT}){{0,{MAX_LIST_TERMS - 1}}})?\]"
_LIST_CELLS_ROW = re.compile(
    rf"[ \t]{{0,16}}\d{{1,12}}(?:[ \t]{{1,64}}{_NUMBER_LIST}){{1,8}}[ \t]{{0,64}}", re.IGNORECASE
)
_LIST_CELL = re.compile(_NUMBER_LIST, re.IGNORECASE)
LIST_CELLS_BASIS = "the sum of each loss cell's listed terms (the weighted terms the toolkit adds into its loss)"


def summed_list_cells(line: str) -> str | None:
    """``line`` with each list of numbers replaced by their sum, padded to the list's width so that the cells stay
    under their header's columns (an empty list by blanks: no value); None for a line of any other shape."""
    if _LIST_CELLS_ROW.fullmatch(line) is None:
        return None

    def total(m: re.Match[str]) -> str:
        values = [parse_number(v) for v in m.group(0)[1:-1].split(",") if v.strip()]
        if not values or None in values:
            return " " * len(m.group(0))
        return f"{sum(v for v in values if v is not None):.6g}".ljust(len(m.group(0)))

    return _LIST_CELL.sub(total, line)


# ---------------------------------------------------------------- bracketed status lines


# DeepFaceLab's trainer status line: mainscripts/Trainer.py builds "{time_str}[#{iter:06d}][{ms:04d}ms]" (or
# "[{s:.5s}s]" for a slow iteration) and appends "[%.4f]" for each of the model's losses in the order the model
# returns them (SAEHD: the src and the dst reconstruction losses, optimised together), the mean since the last save
# on the line after a save; 2019 versions printed the time brackets alone before the losses ("[0282ms][nan][nan]").
# The bracketed time is what marks the line: bare bracketed numbers elsewhere are anything (indices, shapes).
_STATUS_LINE = re.compile(
    r"[ \t]{0,16}(?:\[\d{1,2}:\d\d:\d\d\])?(?:\[#(\d{1,12})\])?\[(?:\d{1,7}ms|\d{1,6}(?:\.\d{0,6})?s)\]"
    rf"((?:\[{_NUMBER_TEXT}\]){{1,8}})[ \t]{{0,16}}",
    re.IGNORECASE,
)


def status_line_metrics(line: str) -> LineMetrics | None:
    """The loss of a bracketed status line (:data:`_STATUS_LINE`): the sum of its losses (non-finite when one is),
    as the model optimises their sum; the iteration as its step when printed. None for any other line."""
    if "s][" not in line:
        return None
    m = _STATUS_LINE.fullmatch(line)
    if m is None:
        return None
    values = [parse_number(v) for v in m.group(2)[1:-1].split("][")]
    if any(v is None for v in values):
        return None
    out = LineMetrics()
    out.pairs.append(("loss", math.fsum(v for v in values if v is not None)))
    if m.group(1) is not None:
        out.counters.append(("step", int(m.group(1)), None))
    return out


# ---------------------------------------------------------------- one-letter loss keys


# Loss terms printed under one capital letter each, between pipes, with their total under ``T``:
# YOLACT and its forks, train.py's "[%3d] %7d ||" + " %s: %.3f |" per term + " T: %.3f || ETA: %s"
# (B box, C class confidence, M mask, S semantic segmentation, ... and T their sum). A letter
# names nothing by itself, so the shape is read only with at least this many terms beside the total.
MIN_LETTER_TERMS = 2
LETTER_TOTAL = "T"
_LETTER_PAIR = re.compile(
    r"(?:^|\|) {0,8}([A-Z]): {0,8}(-?(?:nan|inf|\d{1,64}(?:\.\d{0,20})?(?:[eE][-+]?\d{1,4})?)) {0,8}(?=\|)",
    re.IGNORECASE,
)
# the "[epoch] iteration ||" such a line opens with
_LETTER_COUNTERS = re.compile(r"^\[ {0,8}(\d{1,9})\] {1,16}(\d{1,19}) {0,8}\|\|")


# A progress bar's postfix (tqdm's set_postfix) holds only what the script chose to watch: keys of one
# to three capitals there that name nothing known are its loss terms, as YOLACT's letters are (musika's
# GAN: "DR=713, DF=nan, G=nan, GP=2.16e+4, LR=0.0001, TIME=0.06"). With a G and a D key side by side
# (a GAN's generator and discriminator), the D keys are the discriminator's, another objective.
_POSTFIX_LETTERS = re.compile(r"(?:^|[,\s])([A-Z][A-Z0-9]{0,2})=([-+]?[\w.+-]{1,64})")


def postfix_letter_terms(postfix: str) -> list[tuple[str, float]]:
    """The loss terms a bar's postfix shows under capital-letter keys (``loss_G``, ``loss_GP``; a
    GAN's discriminator terms as ``loss_D_R``...), or [] with fewer than MIN_LETTER_TERMS."""
    found = []
    for key, text in _POSTFIX_LETTERS.findall(postfix):
        low = key.lower()
        if metric_name((key,)) is not None or counter_kind((key,)) is not None or low in EPOCH_NAMES:
            continue  # LR, ACC, IT...: a known name, read as such
        if any(w in low for w in _NOT_METRIC_WORDS):
            continue  # ETA, MEM
        value = parse_number(text)
        if value is not None:
            found.append((key, value))
    if len({k for k, _ in found}) < MIN_LETTER_TERMS:
        return []
    gan = any(k[0] == "G" for k, _ in found) and any(k[0] == "D" for k, _ in found)
    return [(f"loss_D_{k[1:]}".rstrip("_") if gan and k[0] == "D" else f"loss_{k}", v) for k, v in found]


def letter_metrics(line: str) -> LineMetrics | None:
    """The loss of a line that prints its terms under one-letter keys between pipes and their total
    under ``T`` (the total is the loss; the terms are kept as ``loss_B``, ``loss_C``...), with the
    epoch and iteration it opens with; None for any other line."""
    if "|" not in line:
        return None
    found = [(k, v) for k, v in _LETTER_PAIR.findall(line) if k.isupper()]
    keys = [k for k, _ in found]
    if LETTER_TOTAL not in keys or len(set(keys)) - 1 < MIN_LETTER_TERMS or len(set(keys)) != len(keys):
        return None
    out = LineMetrics()
    for k, text in found:
        v = parse_number(text)
        if v is None:
            return None
        out.pairs.append(("loss" if k == LETTER_TOTAL else f"loss_{k}", v))
    m = _LETTER_COUNTERS.match(line.strip())
    if m:
        out.epoch = int(m.group(1))
        out.counters.append(("global", int(m.group(2)), None))
    return out
