"""Train Keras 3, tf.keras (Keras 2) and raw TF2 (GradientTape) scenarios, many per process.

    TF_USE_LEGACY_KERAS=0|1 python -m scenarios.keras_worker SCENARIOS.jsonl OUT_DIR RESULTS.jsonl

Keras 3 and tf.keras cannot share a process: ``make_corpus.py`` runs the tf.keras
scenarios in their own workers with ``TF_USE_LEGACY_KERAS=1``. Keras writes its own
TensorBoard events (read back for the ground truth), ``.weights.h5`` / ``.h5``
checkpoints and console lines; the TF2 loop writes ``tf.summary`` scalars and
``tf.train.Checkpoint`` files, and prints its own lines.
"""

from __future__ import annotations

import math
import os
import random
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from scenarios import common
from scenarios.common import Stream, Truth
from scenarios.matrix import Scenario
from scenarios.readback import list_tags, read_scalar

LEGACY = os.environ.get("TF_USE_LEGACY_KERAS") == "1"
if LEGACY:
    import tf_keras as keras
else:
    import keras

tf.config.threading.set_inter_op_parallelism_threads(1)
tf.config.threading.set_intra_op_parallelism_threads(1)


def _x(sc: Scenario, x: np.ndarray) -> np.ndarray:
    return np.transpose(x, (0, 2, 3, 1)) if sc.arch == "cnn" else x  # channels last


def _act(sc: Scenario) -> str:
    return ("relu", "gelu", "tanh")[sc.seed % 3]


class BatchStandardize(keras.layers.Layer):
    """(x - mean) / std over the batch, no epsilon: the division-by-zero fault."""

    def call(self, x):
        mean = tf.reduce_mean(x, axis=0)
        return (x - mean) / tf.sqrt(tf.reduce_mean(tf.square(x - mean), axis=0))


class CosineLogits(keras.layers.Layer):
    def __init__(self, classes: int, scale: float, **kw) -> None:
        super().__init__(**kw)
        self.classes, self.scale = classes, scale

    def build(self, shape) -> None:
        self.prototypes = self.add_weight(
            shape=(self.classes, int(shape[-1])), initializer="random_normal", name="prototypes"
        )

    def call(self, z):
        zn = z / tf.norm(z, axis=1, keepdims=True)
        pn = self.prototypes / tf.norm(self.prototypes, axis=1, keepdims=True)
        return tf.matmul(zn, pn, transpose_b=True) * tf.cast(self.scale, z.dtype)


def build_model(sc: Scenario, s: Stream):
    L = keras.layers
    shape = common.input_shape(sc)
    if sc.arch == "cnn":
        shape = (8, 8, 1)
    cosine = sc.detail == "fp16_overflow"
    out = 32 if cosine else (1 if s.task == "reg" or (sc.detail == "log_of_zero" and s.classes == 2) else s.classes)
    dtype = "float16" if cosine else "float32"
    rng = random.Random(sc.seed + 11)
    inp = keras.Input(shape=shape, dtype=dtype)
    x = inp
    if sc.detail == "division_by_zero":
        x = BatchStandardize(dtype=dtype)(x)
    if sc.arch == "mlp":
        h = rng.choice((32, 64))
        x = L.Dense(h, activation=_act(sc), dtype=dtype)(x)
        x = L.Dense(h, activation=_act(sc), dtype=dtype)(x)
    elif sc.arch == "deep_mlp":
        gain = sc.magnitude if sc.detail == "exploding_gradients" else 1.0
        init = keras.initializers.VarianceScaling(scale=2.0 * gain**2, mode="fan_in", distribution="truncated_normal")
        for _ in range(rng.randint(8, 20)):
            x = L.Dense(32, activation="relu", kernel_initializer=init, dtype=dtype)(x)
    elif sc.arch == "cnn":
        x = L.Conv2D(8, 3, padding="same", activation=_act(sc), dtype=dtype)(x)
        x = L.Conv2D(16, 3, padding="same", activation=_act(sc), dtype=dtype)(x)
        x = L.GlobalAveragePooling2D(dtype=dtype)(x)
    elif sc.arch in ("rnn", "lstm", "gru"):
        gain = sc.magnitude if sc.detail == "exploding_gradients" else 1.0
        kw = {"recurrent_initializer": keras.initializers.Orthogonal(gain=gain)}
        if gain != 1.0:
            kw["kernel_initializer"] = keras.initializers.GlorotUniform()
        if sc.arch == "rnn":
            x = L.SimpleRNN(32, activation="relu" if sc.seed % 2 else "tanh", dtype=dtype, **kw)(x)
        elif sc.arch == "lstm":
            x = L.LSTM(32, dtype=dtype, **kw)(x)
        else:
            x = L.GRU(32, dtype=dtype, **kw)(x)
    else:  # a one-block transformer encoder
        h = L.Dense(32, dtype=dtype)(x)
        a = L.MultiHeadAttention(4, 8, dtype=dtype)(h, h)
        h = L.LayerNormalization(dtype=dtype)(h + a)
        f = L.Dense(64, activation="relu", dtype=dtype)(h)
        h = L.LayerNormalization(dtype=dtype)(h + L.Dense(32, dtype=dtype)(f))
        x = L.GlobalAveragePooling1D(dtype=dtype)(h)
    x = L.Dense(out, dtype=dtype)(x)
    if cosine:
        x = CosineLogits(s.classes, sc.magnitude, dtype=dtype)(x)
    return keras.Model(inp, x)


def make_optimizer(sc: Scenario):
    kw: dict[str, Any] = {"learning_rate": common.lr_at(sc, 1, None)}
    if sc.clip:
        kw["clipnorm"] = sc.clip
    opts = keras.optimizers
    if sc.optimizer == "sgd":
        return opts.SGD(**kw)
    if sc.optimizer == "sgdm":
        return opts.SGD(momentum=0.9, **kw)
    if sc.optimizer == "adam":
        return opts.Adam(**kw)
    if sc.optimizer == "adamw":
        return opts.AdamW(weight_decay=0.01, **kw)
    return opts.RMSprop(**kw)


def make_loss(sc: Scenario, s: Stream):
    if sc.detail == "log_of_zero":
        m = sc.magnitude

        def hand_written_cross_entropy(y_true, y_pred):  # no epsilon
            if s.classes == 2:
                p = tf.sigmoid(y_pred[:, 0] * m)
                t = tf.cast(tf.reshape(y_true, [-1]), p.dtype)
                return -(t * tf.math.log(p) + (1 - t) * tf.math.log(1 - p))
            p = tf.nn.softmax(y_pred * m)
            onehot = tf.one_hot(tf.cast(tf.reshape(y_true, [-1]), tf.int32), s.classes)
            return -tf.reduce_sum(onehot * tf.math.log(p), axis=1)

        return hand_written_cross_entropy
    if sc.detail == "fp16_overflow":

        def logsumexp_loss(y_true, y_pred):  # float16 all the way: exp overflows past 11.09
            idx = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
            picked = tf.gather(y_pred, idx, axis=1, batch_dims=1)
            return tf.math.log(tf.reduce_sum(tf.exp(y_pred), axis=1)) - picked

        return logsumexp_loss
    return "sparse_categorical_crossentropy" if s.task == "cls" else "mse"


class Schedule(keras.callbacks.Callback):
    """Sets the scenario's LR before each batch and stops the job as the scenario says."""

    def __init__(self, sc: Scenario, s: Stream, truth: Truth) -> None:
        super().__init__()
        self.sc, self.s, self.truth = sc, s, truth
        self.step = 0
        self.event_step = random.Random(sc.seed + 17).randint(int(sc.steps * 0.4), int(sc.steps * 0.85))
        self.nan_left: int | None = None

    def on_train_batch_begin(self, batch, logs=None) -> None:
        self.step += 1
        sc = self.sc
        if sc.lookalike == "oom" and self.step == self.event_step:
            print(f"step {self.step}: building the evaluation cache")
            with tf.device("/CPU:0"):
                tf.zeros((2**21, 2**20), dtype=tf.float32)  # a real allocation failure
        lr = common.lr_at(sc, self.step, self.s.onset_step)
        opt = self.model.optimizer
        if LEGACY:
            keras.backend.set_value(opt.learning_rate, lr)
        else:
            opt.learning_rate.assign(lr)

    def on_train_batch_end(self, batch, logs=None) -> None:
        sc = self.sc
        loss = float((logs or {}).get("loss", float("nan")))
        self.truth.last_step = self.step
        # Keras reports the epoch's running mean: non-finite from the first bad batch on
        self.truth.step_losses.append(loss)
        if not math.isfinite(loss) and self.nan_left is None:
            self.nan_left = common.stop_after_nan(sc)
        if self.nan_left is not None:
            self.nan_left -= 1
            if self.nan_left < 0:
                print(f"Batch {self.step}: invalid loss, terminating training")
                self.truth.ended = "stopped"
                self.model.stop_training = True
        if sc.lookalike in ("early_stop", "time_limit") and self.step == self.event_step:
            if sc.lookalike == "time_limit":
                print(common.time_limit_line(sc))
                self.truth.ended = "killed"
            else:
                print(f"Epoch {self.step}: early stopping")
                self.truth.ended = "stopped"
            self.model.stop_training = True
        if sc.lookalike == "crash" and self.step == self.event_step:
            self.model.predict(np.zeros((2, 3), dtype=np.float32), verbose=0)  # a wrongly shaped probe

    def on_epoch_end(self, epoch, logs=None) -> None:
        loss = float((logs or {}).get("loss", float("nan")))
        self.truth.epoch_end[epoch + 1] = self.step
        self.truth.log_epochs.append((epoch + 1, loss))  # what the console's "Epoch k/N" line shows


def train_keras(sc: Scenario, run_dir: Path, truth: Truth) -> dict[str, Any]:
    keras.utils.set_random_seed(sc.seed % 2**31)
    s = common.make_stream(sc)
    model = build_model(sc, s)
    model.compile(optimizer=make_optimizer(sc), loss=make_loss(sc, s))
    spe = common.steps_per_epoch(sc)
    epochs = math.ceil(sc.steps / spe)
    x, y = _x(sc, s.x), s.y
    if sc.detail == "fp16_overflow":
        x = x.astype(np.float16)
    r = random.Random(sc.seed + 13)
    events_dir = run_dir / r.choice(("logs", "tb_logs", "tensorboard"))
    update = sc.log_every if isinstance(sc.log_every, int) else "epoch"
    callbacks: list[Any] = [Schedule(sc, s, truth), keras.callbacks.TensorBoard(str(events_dir), update_freq=update)]
    ckdir = run_dir / "checkpoints"
    if sc.ckpt != "none":
        ckdir.mkdir()
        ext = ".weights.h5" if not LEGACY else ".h5"
        if sc.ckpt == "epoch":
            path, freq = str(ckdir / ("weights_{epoch:03d}" + ext)), "epoch"
        else:
            path, freq = str(ckdir / ("ckpt_{epoch:02d}_{batch:04d}" + ext)), sc.ckpt_every
        callbacks.append(keras.callbacks.ModelCheckpoint(path, save_weights_only=True, save_freq=freq))
    if r.random() < 0.3:
        callbacks.append(keras.callbacks.CSVLogger(str(run_dir / "training_log.csv")))
    if sc.config_written:
        common.write_config(sc, run_dir, {"framework": "tf.keras" if LEGACY else "keras", "seed": sc.seed % 10_000})
    common.write_data_sample(sc, run_dir, s)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(sc.batch)
    try:
        model.fit(ds, epochs=epochs, steps_per_epoch=spe, verbose=(1 if sc.seed % 2 else 2), callbacks=callbacks)
    except Exception as e:
        traceback.print_exc()
        truth.exception = f"{type(e).__name__}: {e}".strip().splitlines()[0]
        truth.ended = "crashed"
    tags = list_tags(events_dir) if events_dir.exists() else set()
    tag = next((t for t in ("batch_loss", "epoch_loss", "loss") if t in tags), None)
    truth.events_loss = read_scalar(events_dir, tag) if tag else []
    if tag == "epoch_loss":  # the callback writes the epoch index (0-based)
        truth.events_epochs, truth.events_loss = [(e + 1, v) for e, v in truth.events_loss], []
    kinds = {
        "events": [events_dir],
        "log": [run_dir / f"slurm-{common.job_id(sc)}.out", run_dir / "training_log.csv"],
        "ckpt": [ckdir],
        "config": [run_dir / n for n in ("config.json", "config.yaml", "hparams.json")],
        "data": [run_dir / "data"],
    }
    return {"kinds": kinds, "onset_step": s.onset_step, "fault_rows": s.fault_rows, "task": s.task}


def train_tf2(sc: Scenario, run_dir: Path, truth: Truth) -> dict[str, Any]:
    """A raw GradientTape loop with tf.summary scalars and tf.train.Checkpoint."""
    keras.utils.set_random_seed(sc.seed % 2**31)
    s = common.make_stream(sc)
    model = build_model(sc, s)
    opt = make_optimizer(sc)
    loss_obj = make_loss(sc, s)
    if isinstance(loss_obj, str):
        loss_obj = keras.losses.get(loss_obj)
    r = random.Random(sc.seed + 13)
    events_dir = run_dir / r.choice(("logs/train", "summaries", "tb"))
    writer = tf.summary.create_file_writer(str(events_dir))
    ckpt = tf.train.Checkpoint(model=model, optimizer=opt)
    ckdir = run_dir / "ckpt"
    if sc.config_written:
        common.write_config(sc, run_dir, {"framework": "tensorflow", "seed": sc.seed % 10_000})
    common.write_data_sample(sc, run_dir, s)
    spe = common.steps_per_epoch(sc)
    event_step = random.Random(sc.seed + 17).randint(int(sc.steps * 0.4), int(sc.steps * 0.85))
    x_all = _x(sc, s.x)
    half = sc.detail == "fp16_overflow"

    @tf.function
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(loss_obj(yb, model(xb, training=True)))
        grads = tape.gradient(loss, model.trainable_variables)
        gn = tf.linalg.global_norm(grads)
        opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss, gn

    nan_left: int | None = None
    epoch_losses: list[float] = []
    print(f"model: {sc.arch} | {sc.optimizer} lr={common.base_lr(sc):g} | batch {sc.batch} | steps {sc.steps}")
    try:
        with writer.as_default():
            for step in range(1, sc.steps + 1):
                if sc.lookalike == "early_stop" and step == event_step:
                    print(f"early stopping at step {step}: no improvement")
                    truth.ended = "stopped"
                    break
                if sc.lookalike == "time_limit" and step == event_step:
                    writer.flush()
                    print(common.time_limit_line(sc))
                    truth.ended = "killed"
                    break
                if sc.lookalike == "oom" and step == event_step:
                    tf.zeros((2**21, 2**20), dtype=tf.float32)
                lr = common.lr_at(sc, step, s.onset_step)
                opt.learning_rate.assign(lr)
                a = (step - 1) * sc.batch
                xb, yb = x_all[a : a + sc.batch], s.y[a : a + sc.batch]
                if half:
                    xb = xb.astype(np.float16)
                if sc.lookalike == "crash" and step == event_step:
                    xb = xb[..., :-1]
                loss, gn = train_step(tf.constant(xb), tf.constant(yb))
                lv, gv = float(loss), float(gn)
                truth.step_losses.append(lv)
                truth.last_step = step
                epoch_losses.append(lv)
                if isinstance(sc.log_every, int) and step % sc.log_every == 0:
                    tf.summary.scalar("loss", lv, step=step)
                    tf.summary.scalar("learning_rate", lr, step=step)
                    if sc.grad_norm_logged:
                        tf.summary.scalar("grad_norm", gv, step=step)
                    truth.events_loss.append((step, lv))
                if isinstance(sc.print_every, int) and step % sc.print_every == 0:
                    print(common.log_line(sc, step, lv, lr, gv))
                    truth.log_loss.append((step, lv))
                if step % spe == 0 or step == sc.steps:
                    _tf2_epoch(sc, step, spe, epoch_losses, truth)
                    epoch_losses = []
                if (sc.ckpt == "steps" and step % sc.ckpt_every == 0) or (sc.ckpt == "epoch" and step % spe == 0):
                    ckpt.write(str(ckdir / f"ckpt-{step}"))
                if not math.isfinite(lv) and nan_left is None:
                    nan_left = common.stop_after_nan(sc)
                if nan_left is not None:
                    nan_left -= 1
                    if nan_left < 0:
                        print(f"NaN loss at step {step}, stopping")
                        truth.ended = "stopped"
                        _tf2_epoch(sc, step, spe, epoch_losses, truth)
                        break
    except Exception as e:
        traceback.print_exc()
        truth.exception = f"{type(e).__name__}: {e}".strip().splitlines()[0]
        truth.ended = "crashed"
    writer.close()
    kinds = {
        "events": [events_dir],
        "log": [run_dir / f"slurm-{common.job_id(sc)}.out"],
        "ckpt": [ckdir],
        "config": [run_dir / n for n in ("config.json", "config.yaml", "hparams.json")],
        "data": [run_dir / "data"],
    }
    return {"kinds": kinds, "onset_step": s.onset_step, "fault_rows": s.fault_rows, "task": s.task}


def _tf2_epoch(sc: Scenario, step: int, spe: int, losses: list[float], truth: Truth) -> None:
    if not losses:
        return
    epoch = math.ceil(step / spe)
    mean = float(np.mean(losses))
    truth.epoch_end[epoch] = step
    if sc.log_every == "epoch":
        tf.summary.scalar("epoch_loss", mean, step=epoch)
        truth.events_epochs.append((epoch, mean))
    if sc.print_every == "epoch":
        print(common.epoch_line(sc, epoch, mean))
        truth.log_epochs.append((epoch, mean))


def main(argv: list[str]) -> None:
    from scenarios.runner import run_all

    run_all(Path(argv[0]), Path(argv[1]), Path(argv[2]), lambda sc: train_tf2 if sc.framework == "tf2" else train_keras)


if __name__ == "__main__":
    main(sys.argv[1:])
