"""Keras 3, tf_keras (Keras 2) and TF2 custom-loop sample runs, made to fail for known reasons.

Every run is trained in a child process started the way a cluster job would start it
(``python -c <job>`` with the run directory as working directory, stdout and stderr
captured into ``slurm-<id>.out``), so the job log holds exactly what TensorFlow and
Keras printed: progress lines, warnings and, where the framework raises instead of
producing NaN, the real traceback.

The job code is the source of the ``job_*`` functions below, shipped to the child with
``inspect.getsource``; they import TensorFlow themselves, so importing this module does
not. After the child exits, ``build`` reads the event files the job wrote (TFRecord
framing + TensorBoard protos, no TensorFlow needed) to report the first non-finite
training loss exactly as logged.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import re
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _spec import RunSpec

# ----------------------------------------------------------------------------- job helpers
# These run inside the child process (their source is shipped with every job).


def setup_determinism(seed: int, keras_module: Any) -> None:
    """Same seed, one thread: the same run every time on CPU.

    Not ``enable_op_determinism()``: it swaps the fused sparse cross-entropy kernel for a
    gather, which changes the very error message a label fault raises in real jobs.
    """
    import random

    import numpy as np
    import tensorflow as tf

    random.seed(seed)
    np.random.seed(seed)
    keras_module.utils.set_random_seed(seed)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)


# ----------------------------------------------------------------------------- the jobs


def job_lr_too_high(seed: int, lr: float, epochs: int, batch_size: int) -> None:
    """Keras 2 (tf_keras) MLP regressor, plain SGD at a constant LR ~15x too high."""
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    print(f"TensorFlow {tf.__version__} / tf_keras {keras.__version__}", flush=True)
    setup_determinism(seed, keras)
    rng = np.random.default_rng(seed)
    n_train, n_val, d = 512, 128, 16
    x = rng.normal(size=(n_train + n_val, d)).astype("float32")
    w = rng.normal(size=(d,))
    y = (x @ w + 0.5 * np.sin(2.0 * x[:, 0]) + 0.1 * rng.normal(size=len(x))).astype("float32")

    model = keras.Sequential(
        [
            keras.layers.Dense(64, activation="tanh", input_shape=(d,), name="hidden_1"),
            keras.layers.Dense(64, activation="tanh", name="hidden_2"),
            keras.layers.Dense(1, name="output"),
        ],
        name="regressor",
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse", metrics=["mae"])
    model.summary()
    print(f"lr={lr} batch_size={batch_size} epochs={epochs}", flush=True)
    callbacks = [
        # tf_keras only calls the batch hooks (and so writes batch_* scalars) when
        # write_steps_per_second or profiling is on
        keras.callbacks.TensorBoard(
            log_dir="logs/fit/mlp_sgd", histogram_freq=1, update_freq=5, write_steps_per_second=True
        ),
        keras.callbacks.ModelCheckpoint("checkpoints/weights.{epoch:02d}-{loss:.2f}.h5"),
    ]
    model.fit(
        x[:n_train],
        y[:n_train],
        validation_data=(x[n_train:], y[n_train:]),
        batch_size=batch_size,
        epochs=epochs,
        callbacks=callbacks,
        verbose=2,
    )


def job_labels_out_of_range_so(seed: int) -> None:
    """The Stack Overflow reproduction: 20 rows labelled 0..4 and one row labelled 8000."""
    import keras
    import numpy as np
    import tensorflow as tf

    print(f"TensorFlow {tf.__version__} / Keras {keras.__version__}", flush=True)
    setup_determinism(seed, keras)
    rng = np.random.default_rng(seed)
    x = rng.random((21, 4)).astype("float32")
    y = np.append(rng.integers(0, 5, size=20), 8000).astype("int64")
    os.makedirs("data", exist_ok=True)
    np.savez("data/train_sample.npz", x=x, y=y)

    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(10, activation="relu"),
            keras.layers.Dense(5, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=10, callbacks=[keras.callbacks.TensorBoard(log_dir="logs")])


def job_mlp300_label8000(seed: int, epochs: int, batch_size: int, bad_row: int) -> None:
    """[300, 300, 300] MLP, 11 classes; one target in the file is 8000."""
    import keras
    import numpy as np
    import tensorflow as tf

    print(f"TensorFlow {tf.__version__} / Keras {keras.__version__}", flush=True)
    setup_determinism(seed, keras)
    rng = np.random.default_rng(seed)
    n, d, k = 640, 20, 11
    centers = rng.normal(size=(k, d)) * 1.5
    targets = rng.integers(0, k, size=n)
    features = (centers[targets] + rng.normal(size=(n, d))).astype("float32")
    targets[bad_row] = 8000  # a corrupt row in the label column
    os.makedirs("data", exist_ok=True)
    np.savez("data/train_sample.npz", features=features, targets=targets)

    model = keras.Sequential(
        [keras.Input(shape=(d,))]
        + [keras.layers.Dense(300, activation="relu") for _ in range(3)]
        + [keras.layers.Dense(k, activation="softmax")]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = [
        keras.callbacks.TensorBoard(log_dir="tb", update_freq=2),
        keras.callbacks.ModelCheckpoint("checkpoints/mlp300.weights.h5", save_weights_only=True),
    ]
    model.fit(features, targets, batch_size=batch_size, epochs=epochs, validation_split=0.1, callbacks=callbacks)


def job_negative_labels(seed: int, epochs: int, batch_size: int) -> None:
    """Sentiment classes coded -1/0/1 fed to a 3-way sparse cross-entropy."""
    import keras
    import numpy as np
    import tensorflow as tf

    print(f"TensorFlow {tf.__version__} / Keras {keras.__version__}", flush=True)
    setup_determinism(seed, keras)
    rng = np.random.default_rng(seed)
    n, d = 600, 12
    inputs = rng.normal(size=(n, d)).astype("float32")
    score = inputs[:, :3].sum(axis=1)
    labels = np.where(score < -0.8, -1, np.where(score > 0.8, 1, 0)).astype("int32")  # negative/neutral/positive
    os.makedirs("data", exist_ok=True)
    np.savez("data/train_sample.npz", inputs=inputs, labels=labels)
    print("label counts:", {int(c): int((labels == c).sum()) for c in np.unique(labels)}, flush=True)

    ds = tf.data.Dataset.from_tensor_slices((inputs, labels)).shuffle(n, seed=seed).batch(batch_size)
    model = keras.Sequential(
        [keras.Input(shape=(d,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(3)], name="sentiment"
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(ds, epochs=epochs, verbose=2, callbacks=[keras.callbacks.TensorBoard(log_dir="tensorboard")])


def make_images(seed: int, n: int, size: int) -> tuple[Any, Any]:
    """Grey 8-bit images of one bar or blob each, and the object's centre (row, col) in [0, 1]."""
    import numpy as np

    rng = np.random.default_rng(seed)
    masks = np.zeros((n, size, size), np.float32)
    r = np.arange(size)
    for i in range(n):
        kind, p = rng.integers(0, 4), rng.integers(2, size - 2)
        if kind == 0:
            masks[i, p - 1 : p + 1, :] = 1
        elif kind == 1:
            masks[i, :, p - 1 : p + 1] = 1
        elif kind == 2:
            masks[i][np.abs(r[:, None] - r[None, :] - (p - size // 2)) <= 1] = 1
        else:
            cy, cx = rng.integers(4, size - 4, 2)
            masks[i][(r[:, None] - cy) ** 2 + (r[None, :] - cx) ** 2 <= 9] = 1
    centres = np.stack([np.argwhere(m).mean(axis=0) / size for m in masks]).astype("float32")
    pixels = masks * rng.uniform(140, 255, size=(n, 1, 1)) + rng.normal(40, 25, size=masks.shape)
    return np.clip(pixels, 0, 255).astype(np.uint8)[..., None], centres


def job_unnormalized_inputs(seed: int, lr: float, epochs: int, batch_size: int, scale_inputs: bool) -> None:
    """Small CNN regressing the object centre from raw 0..255 pixels (the x / 255.0 step is missing)."""
    import keras
    import numpy as np
    import tensorflow as tf

    print(f"TensorFlow {tf.__version__} / Keras {keras.__version__}", flush=True)
    setup_determinism(seed, keras)
    x_train, y_train = make_images(seed, 768, 16)
    os.makedirs("data", exist_ok=True)
    np.savez("data/train_sample.npz", x_train=x_train[:160], y_train=y_train[:160])
    x = x_train.astype("float32")
    if scale_inputs:
        x = x / 255.0
    print(f"x: dtype={x.dtype} min={x.min():.1f} max={x.max():.1f}  lr={lr}", flush=True)

    model = keras.Sequential(
        [
            keras.Input(shape=(16, 16, 1)),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(2),
        ],
        name="centre_cnn",
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr, momentum=0.9), loss="mse", metrics=["mae"])
    callbacks = [
        keras.callbacks.TensorBoard(log_dir="logs/fit/cnn_centre", histogram_freq=1, update_freq=1),
        keras.callbacks.ModelCheckpoint("checkpoints/epoch_{epoch:02d}.weights.h5", save_weights_only=True),
    ]
    model.fit(
        x[:640],
        y_train[:640],
        validation_data=(x[640:], y_train[640:]),
        batch_size=batch_size,
        epochs=epochs,
        callbacks=callbacks,
        verbose=2,
    )


def job_nan_in_inputs(seed: int, epochs: int, steps_per_epoch: int, batch_size: int, nan_from_row: int) -> None:
    """Streaming sensor records; from one shard on, a dropped-out sensor is written as NaN."""
    import keras
    import numpy as np
    import tensorflow as tf

    print(f"TensorFlow {tf.__version__} / Keras {keras.__version__}", flush=True)
    setup_determinism(seed, keras)
    rng = np.random.default_rng(seed)
    d = 10
    total = epochs * steps_per_epoch * batch_size
    inputs = rng.normal(size=(total, d)).astype("float32")
    labels = (inputs[:, 0] + 0.5 * inputs[:, 1] * inputs[:, 2] > 0).astype("float32")
    dropped = np.flatnonzero(rng.random(total) < 0.05)
    dropped = dropped[dropped >= nan_from_row]
    inputs[dropped, 4] = np.nan  # sensor 4 drops out: NaN in the export from here on
    shard = steps_per_epoch * batch_size
    first_bad_shard = nan_from_row // shard
    os.makedirs("data", exist_ok=True)
    sl = slice(first_bad_shard * shard, (first_bad_shard + 1) * shard)
    np.savez("data/train_sample.npz", inputs=inputs[sl], labels=labels[sl])

    def records():
        for start in range(0, total, batch_size):
            yield inputs[start : start + batch_size], labels[start : start + batch_size]

    ds = tf.data.Dataset.from_generator(
        records,
        output_signature=(
            tf.TensorSpec(shape=(None, d), dtype=tf.float32),
            tf.TensorSpec(shape=(None,), dtype=tf.float32),
        ),
    )
    model = keras.Sequential(
        [
            keras.Input(shape=(d,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ],
        name="sensor_clf",
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    os.makedirs("ckpt", exist_ok=True)
    callbacks = [
        keras.callbacks.TensorBoard(log_dir="tb", update_freq=1),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.ModelCheckpoint("ckpt/model_epoch{epoch:02d}.keras"),
    ]
    model.fit(ds, epochs=epochs, steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=2)


def job_log_of_zero(seed: int, lr: float, epochs: int, batch_size: int) -> None:
    """Hand-written cross-entropy -sum(y * log(p)) with no epsilon, on a separable 3-class task."""
    import keras
    import numpy as np
    import tensorflow as tf

    print(f"TensorFlow {tf.__version__} / Keras {keras.__version__}", flush=True)
    setup_determinism(seed, keras)
    rng = np.random.default_rng(seed)
    d, k, n = 10, 3, 1024
    teacher = rng.normal(size=(d, k))
    pool = rng.normal(size=(4 * n, d))
    scores = np.sort(pool @ teacher, axis=1)
    pool = pool[(scores[:, -1] - scores[:, -2]) > 0.5][:n]  # keep a clear margin: separable
    x = pool.astype("float32")
    y = np.eye(k, dtype="float32")[np.argmax(pool @ teacher, axis=1)]

    steps_per_epoch = n // batch_size

    def cross_entropy(y_true, y_pred):
        return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)

    model = keras.Sequential(
        [
            keras.Input(shape=(d,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(k, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=cross_entropy, metrics=["accuracy"])
    callbacks = [
        keras.callbacks.TensorBoard(log_dir="logs/fit/teacher_3class", update_freq=4, write_graph=False),
        keras.callbacks.ModelCheckpoint(
            "checkpoints/cp-{epoch:04d}.weights.h5", save_weights_only=True, save_freq=5 * steps_per_epoch
        ),
    ]
    model.fit(x, y, batch_size=batch_size, epochs=epochs, callbacks=callbacks, verbose=2)


def job_healthy(seed: int, epochs: int, batch_size: int) -> None:
    """A clean MLP classifier: scaled inputs, sane LR, labels in range."""
    import keras
    import numpy as np
    import tensorflow as tf

    print(f"TensorFlow {tf.__version__} / Keras {keras.__version__}", flush=True)
    setup_determinism(seed, keras)
    rng = np.random.default_rng(seed)
    n, d, k = 1024, 16, 4
    centers = rng.normal(size=(k, d))
    y = rng.integers(0, k, size=n)
    x = (centers[y] + 1.5 * rng.normal(size=(n, d))).astype("float32")
    model = keras.Sequential(
        [
            keras.Input(shape=(d,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(k, activation="softmax"),
        ],
        name="baseline",
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = [
        keras.callbacks.TensorBoard(log_dir="logs/fit/baseline", histogram_freq=1, update_freq=8),
        keras.callbacks.ModelCheckpoint("checkpoints/best.keras", monitor="val_loss", save_best_only=True),
    ]
    model.fit(x, y, batch_size=batch_size, epochs=epochs, validation_split=0.2, callbacks=callbacks, verbose=2)


def job_lr_schedule_spike(
    seed: int,
    boundary: int,
    lr_values: list[float],
    total_steps: int,
    save_every: int,
    batch_size: int,
    tf_checkpoints: bool = False,
) -> None:
    """TF2 GradientTape loop; PiecewiseConstantDecay whose second value was typed far too high."""
    import keras
    import numpy as np
    import tensorflow as tf

    print(f"TensorFlow {tf.__version__} / Keras {keras.__version__}", flush=True)
    setup_determinism(seed, keras)
    rng = np.random.default_rng(seed)
    n, d = 2048, 16
    x = rng.normal(size=(n, d)).astype("float32")
    w = rng.normal(size=(d,))
    y = (x @ w + 0.5 * np.sin(2.0 * x[:, 0]) + 0.1 * rng.normal(size=n)).astype("float32")[:, None]
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(n, seed=seed).repeat().batch(batch_size)

    model = keras.Sequential(
        [
            keras.Input(shape=(d,)),
            keras.layers.Dense(64, activation="tanh"),
            keras.layers.Dense(64, activation="tanh"),
            keras.layers.Dense(1),
        ]
    )
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries=[boundary], values=lr_values)
    optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)
    loss_fn = keras.losses.MeanSquaredError()
    writer = tf.summary.create_file_writer("logs/train")
    os.makedirs("checkpoints", exist_ok=True)
    # the twin saves what a TF2 custom loop usually keeps: tf.train.Checkpoint bundles of model and optimizer
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(model=model, optimizer=optimizer), "checkpoints", max_to_keep=None
    )

    @tf.function
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        lr_now = schedule(optimizer.iterations)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss, tf.linalg.global_norm(grads), lr_now

    print(f"schedule: boundaries=[{boundary}] values={lr_values}", flush=True)
    with writer.as_default():
        for xb, yb in ds.take(total_steps):
            loss, gnorm, lr_now = train_step(xb, yb)
            step = int(optimizer.iterations.numpy())
            tf.summary.scalar("loss", loss, step=step)
            tf.summary.scalar("learning_rate", lr_now, step=step)
            tf.summary.scalar("grad_norm", gnorm, step=step)
            if step % 10 == 0:
                print(f"step {step:5d}  loss {float(loss):.4f}  lr {float(lr_now):.2e}  grad_norm {float(gnorm):.3f}")
            if step % save_every == 0 and tf_checkpoints:
                manager.save(checkpoint_number=step)
            elif step % save_every == 0:
                model.save_weights(f"checkpoints/step_{step:06d}.weights.h5")
    writer.flush()
    print("done", flush=True)


def job_exploding_gradients(
    seed: int,
    depth: int,
    width: int,
    init_std: float,
    lr: float,
    max_steps: int,
    batch_size: int,
    save_every: int,
    tf_checkpoints: bool = False,
) -> None:
    """A 20-layer plain ReLU MLP, no normalisation, no clipping, SGD at a normal LR."""
    import keras
    import numpy as np
    import tensorflow as tf

    print(f"TensorFlow {tf.__version__} / Keras {keras.__version__}", flush=True)
    setup_determinism(seed, keras)
    rng = np.random.default_rng(seed)
    n, d = 2048, 16
    x = rng.normal(size=(n, d)).astype("float32")
    y = (5.0 * np.sin(x[:, :4]).sum(axis=1, keepdims=True)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(n, seed=seed).batch(batch_size).repeat()

    init = keras.initializers.RandomNormal(stddev=init_std)
    layers = [
        keras.layers.Dense(width, activation="relu", kernel_initializer=init, name=f"fc{i:02d}") for i in range(depth)
    ]
    model = keras.Sequential([keras.Input(shape=(d,)), *layers, keras.layers.Dense(1, name="head")], name="deep_mlp")
    optimizer = keras.optimizers.SGD(learning_rate=lr)
    writer = tf.summary.create_file_writer("summaries")
    os.makedirs("ckpt", exist_ok=True)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    print(f"depth={depth} width={width} init=RandomNormal(stddev={init_std}) SGD lr={lr}", flush=True)

    @tf.function
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(xb, training=True) - yb))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss, tf.linalg.global_norm(grads)

    with writer.as_default():
        for step, (xb, yb) in enumerate(ds.take(max_steps), start=1):
            loss, gnorm = train_step(xb, yb)
            tf.summary.scalar("loss", loss, step=step)
            tf.summary.scalar("lr", optimizer.learning_rate, step=step)
            tf.summary.scalar("grad_norm", gnorm, step=step)
            tf.summary.scalar("weight_norm", tf.linalg.global_norm(model.trainable_variables), step=step)
            if step % 10 == 0:
                for layer in model.layers:
                    tf.summary.histogram(f"{layer.name}/kernel", layer.kernel, step=step)
            if step % save_every == 0 and tf_checkpoints:
                checkpoint.write(f"ckpt/step-{step}")  # a bundle: step-30.index + step-30.data-00000-of-00001
            elif step % save_every == 0:
                model.save_weights(f"ckpt/step-{step}.weights.h5")
            if step % 10 == 0 or not np.isfinite(float(loss)):
                print(f"step {step}: loss={float(loss):.4g} grad_norm={float(gnorm):.4g}", flush=True)
            if not np.isfinite(float(loss)):
                print(f"non-finite loss at step {step}, stopping", flush=True)
                break
    writer.flush()


# ----------------------------------------------------------------------------- parent side

_HELPERS: tuple[Callable[..., Any], ...] = (setup_determinism, make_images)


def _run_job(run_dir: Path, job: Callable[..., Any], job_id: int, **params: Any) -> int:
    """Run ``job(**params)`` in a child Python with cwd=run_dir; its console goes to slurm-<id>.out.

    A nonzero exit (the framework raised) is returned, not raised: that traceback is the evidence.
    """
    code = "\n".join(
        ["from __future__ import annotations", "", "import os", "import sys", "from typing import Any", ""]
        + [inspect.getsource(h) for h in _HELPERS]
        + [inspect.getsource(job), f"{job.__name__}(**{params!r})", ""]
    )
    env = dict(os.environ)
    env.update(
        {
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "CUDA_VISIBLE_DEVICES": "",
            "TF_ENABLE_ONEDNN_OPTS": "0",  # same float rounding on every x86 CPU: same crash step
            "PYTHONHASHSEED": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    with open(run_dir / f"slurm-{job_id}.out", "wb") as log:
        proc = subprocess.run([sys.executable, "-c", code], cwd=run_dir, stdout=log, stderr=subprocess.STDOUT, env=env)
    return proc.returncode


def _records(path: Path):
    """Raw TFRecord payloads of one event file (length, crc, payload, crc); stops at a short read."""
    with open(path, "rb") as f:
        while True:
            head = f.read(12)
            if len(head) < 12:
                return
            (length,) = struct.unpack("<Q", head[:8])
            payload = f.read(length)
            if len(payload) < length or len(f.read(4)) < 4:
                return
            yield payload


def read_scalars(root: Path) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """{event-file folder relative to root: {tag: [(step, value), ...]}} for every scalar written."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.util import tensor_util

    out: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for path in sorted(root.rglob("events.out.tfevents*")):
        sub = path.parent.relative_to(root).as_posix()
        tags = out.setdefault(sub, {})
        for payload in _records(path):
            ev = event_pb2.Event.FromString(payload)
            for v in ev.summary.value:
                if v.HasField("tensor"):
                    arr = tensor_util.make_ndarray(v.tensor)
                    if arr.size != 1 or arr.dtype.kind not in "fiu":
                        continue  # histograms, text, graphs
                    val = float(arr.reshape(()))
                elif v.HasField("simple_value"):
                    val = float(v.simple_value)
                else:
                    continue
                tags.setdefault(v.tag, []).append((int(ev.step), val))
    return out


def _first_nonfinite(points: list[tuple[int, float]]) -> int | None:
    return next((s for s, v in points if not math.isfinite(v)), None)


def _raised(run_dir: Path) -> str | None:
    """The exception the job died with, read back from its log: 'Type: key line'."""
    text = "".join(p.read_text(errors="replace") for p in run_dir.glob("slurm-*.out"))
    exc = re.findall(r"^([A-Za-z_][\w.]*(?:Error|Exception)): ?(.*)$", text, flags=re.MULTILINE)
    if not exc:
        return None
    name, msg = exc[-1]
    detail = re.search(r"(Received a label value of .*?valid range of \[[^)]*\))", text)
    return f"{name.rsplit('.', 1)[-1]}: {detail.group(1) if detail else msg.strip()}"


def _keras_result(run_dir: Path, train_sub: str, steps_per_epoch: int | None, **extra: Any) -> dict[str, Any]:
    """first non-finite loss from Keras' TensorBoard callback: batch_loss if logged, else epoch_loss."""
    scalars = read_scalars(run_dir).get(train_sub, {})
    batch, epoch = scalars.get("batch_loss", []), scalars.get("epoch_loss", [])
    result: dict[str, Any] = {}
    if batch:
        result.update(first_nonfinite_step=_first_nonfinite(batch), step_unit="step")
    else:
        result.update(first_nonfinite_step=_first_nonfinite(epoch), step_unit="epoch")
    result["steps_per_epoch"] = steps_per_epoch
    result["first_nonfinite_epoch"] = _first_nonfinite(epoch)  # 0-based, as Keras logs epoch_* scalars
    result["last_logged_step"] = max((s for s, _ in batch or epoch), default=None)
    result["train_events"] = train_sub
    result.update(extra)
    return result


# ----------------------------------------------------------------------------- builds


def build_lr_too_high(run_dir: Path) -> dict[str, Any]:
    lr = 0.15
    _run_job(run_dir, job_lr_too_high, 4817263, seed=7, lr=lr, epochs=5, batch_size=32)
    return _keras_result(run_dir, "logs/fit/mlp_sgd/train", 16, peak_lr=lr, optimizer="SGD", keras="tf_keras 2")


def build_labels_out_of_range_so(run_dir: Path) -> dict[str, Any]:
    rc = _run_job(run_dir, job_labels_out_of_range_so, 4817301, seed=0)
    res = _keras_result(run_dir, "logs/train", 1, peak_lr=1e-3, exit_code=rc, raised=_raised(run_dir))
    res["bad_label"] = 8000
    return res


def build_mlp300_label8000(run_dir: Path) -> dict[str, Any]:
    rc = _run_job(run_dir, job_mlp300_label8000, 4817322, seed=1, epochs=5, batch_size=64, bad_row=411)
    # validation_split=0.1 keeps the first 576 rows for training: ceil(576 / 64) batches
    return _keras_result(run_dir, "tb/train", 9, peak_lr=1e-3, exit_code=rc, raised=_raised(run_dir), bad_label=8000)


def build_negative_labels(run_dir: Path) -> dict[str, Any]:
    rc = _run_job(run_dir, job_negative_labels, 4817340, seed=2, epochs=5, batch_size=32)
    return _keras_result(run_dir, "tensorboard/train", 19, peak_lr=1e-3, exit_code=rc, raised=_raised(run_dir))


def build_unnormalized_inputs(run_dir: Path) -> dict[str, Any]:
    lr = 0.01
    _run_job(run_dir, job_unnormalized_inputs, 4817388, seed=11, lr=lr, epochs=5, batch_size=32, scale_inputs=False)
    return _keras_result(run_dir, "logs/fit/cnn_centre/train", 20, peak_lr=lr, input_range=[0, 255])


def build_nan_in_inputs(run_dir: Path) -> dict[str, Any]:
    spe, bs = 25, 32
    nan_from_row = 3 * spe * bs + 11 * bs + 5  # 4th shard, 12th batch
    _run_job(
        run_dir,
        job_nan_in_inputs,
        4817402,
        seed=4,
        epochs=6,
        steps_per_epoch=spe,
        batch_size=bs,
        nan_from_row=nan_from_row,
    )
    return _keras_result(run_dir, "tb/train", spe, peak_lr=1e-3, nan_from_row=nan_from_row)


def build_log_of_zero(run_dir: Path) -> dict[str, Any]:
    lr = 0.01
    _run_job(run_dir, job_log_of_zero, 4817415, seed=3, lr=lr, epochs=35, batch_size=32)
    return _keras_result(run_dir, "logs/fit/teacher_3class/train", 32, peak_lr=lr)


def build_healthy(run_dir: Path) -> dict[str, Any]:
    _run_job(run_dir, job_healthy, 4817430, seed=8, epochs=12, batch_size=32)
    return _keras_result(run_dir, "logs/fit/baseline/train", 26, peak_lr=1e-3)


def build_lr_schedule_spike(run_dir: Path, tf_checkpoints: bool = False) -> dict[str, Any]:
    boundary, values = 150, [1e-3, 0.3]  # meant 3e-4: a decay typed as a 300x jump
    _run_job(
        run_dir,
        job_lr_schedule_spike,
        4817456,
        seed=9,
        boundary=boundary,
        lr_values=values,
        total_steps=240,
        save_every=40,
        batch_size=32,
        tf_checkpoints=tf_checkpoints,
    )
    scalars = read_scalars(run_dir).get("logs/train", {})
    # the first logged step trained at the high LR, read back (the schedule sees the 0-based
    # iteration count; the loop logs the count after the update)
    jump = next((s for s, v in scalars.get("learning_rate", []) if v > 2 * values[0]), None)
    return {
        "first_nonfinite_step": _first_nonfinite(scalars.get("loss", [])),
        "step_unit": "step",
        "steps_per_epoch": 64,
        "lr_before": values[0],
        "peak_lr": values[1],
        "lr_jump_step": jump,
    }


def build_exploding_gradients(run_dir: Path, tf_checkpoints: bool = False) -> dict[str, Any]:
    lr = 1e-2
    _run_job(
        run_dir,
        job_exploding_gradients,
        4817471,
        seed=8,
        depth=20,
        width=32,
        init_std=0.25,
        lr=lr,
        max_steps=1000,
        batch_size=32,
        save_every=30,
        tf_checkpoints=tf_checkpoints,
    )
    loss = read_scalars(run_dir).get("summaries", {}).get("loss", [])
    return {"first_nonfinite_step": _first_nonfinite(loss), "step_unit": "step", "steps_per_epoch": 64, "peak_lr": lr}


RUNS: list[RunSpec] = [
    RunSpec(
        "keras_lr_too_high",
        "keras",
        "learning_rate",
        "lr_too_high",
        "Keras 2 (tf_keras) MLP regressor trained with plain SGD at a constant learning rate of 0.15, "
        "about 15x what the model tolerates.",
        build_lr_too_high,
    ),
    RunSpec(
        "keras_labels_out_of_range_so",
        "keras",
        "data_or_labels",
        "labels_out_of_range",
        "Stack Overflow reproduction: 20 rows labelled 0..4 plus one row labelled 8000 fed to a 5-unit softmax "
        "with sparse_categorical_crossentropy; TensorFlow on CPU raises on the first batch.",
        build_labels_out_of_range_so,
    ),
    RunSpec(
        "keras_mlp300_11class_label8000",
        "keras",
        "data_or_labels",
        "labels_out_of_range",
        "[300, 300, 300] MLP with 11 classes; one training target is 8000, so the batch holding it raises.",
        build_mlp300_label8000,
    ),
    RunSpec(
        "keras_negative_labels",
        "keras",
        "data_or_labels",
        "negative_labels",
        "Sentiment labels coded -1/0/1 fed to a 3-class sparse categorical cross-entropy; TensorFlow raises.",
        build_negative_labels,
    ),
    RunSpec(
        "keras_unnormalized_inputs",
        "keras",
        "data_or_labels",
        "unnormalized_inputs",
        "CNN regressor fed raw 0..255 pixels (the /255 step is missing) with SGD lr=0.01, momentum 0.9, "
        "a setting that converges on the same images scaled to [0, 1].",
        build_unnormalized_inputs,
    ),
    RunSpec(
        "keras_nan_in_inputs",
        "keras",
        "data_or_labels",
        "nan_in_inputs",
        "A tf.data generator streams sensor records; from the 4th shard on about 5% of rows carry NaN in one "
        "feature; TerminateOnNaN stops training at the first NaN batch.",
        build_nan_in_inputs,
    ),
    RunSpec(
        "keras_log_of_zero",
        "keras",
        "numerical_instability",
        "log_of_zero",
        "Hand-written loss -sum(y_true * log(y_pred)) with no epsilon on a separable task; once a softmax "
        "probability underflows to exactly 0, 0 * log(0) = NaN.",
        build_log_of_zero,
    ),
    RunSpec(
        "keras_healthy",
        "keras",
        "healthy",
        None,
        "Clean MLP classifier on scaled inputs with Adam 1e-3; converges.",
        build_healthy,
    ),
    RunSpec(
        "tf2_lr_schedule_spike",
        "tf2",
        "learning_rate",
        "lr_schedule_spike",
        "TF2 GradientTape loop with SGD (momentum 0.9) on PiecewiseConstantDecay(boundaries=[150], "
        "values=[1e-3, 0.3]): trains at 1e-3, then the LR jumps 300x after the 150th update.",
        build_lr_schedule_spike,
    ),
    RunSpec(
        "tf2_exploding_gradients",
        "tf2",
        "exploding_weights",
        "exploding_gradients",
        "TF2 GradientTape loop: 20-layer plain ReLU MLP (no normalisation, RandomNormal(0.25) init, no "
        "clipping) trained with SGD at lr=0.01 on unscaled regression targets.",
        build_exploding_gradients,
    ),
]

# Twins: the same TF2 jobs (same seeds, so the same training), keeping tf.train.Checkpoint
# bundles (.index + .data) instead of .weights.h5 files, for the TensorFlow checkpoint reader.
_TWINS = {"tf2_exploding_gradients": build_exploding_gradients, "tf2_lr_schedule_spike": build_lr_schedule_spike}
for _spec in list(RUNS):
    if _spec.name in _TWINS:
        RUNS.append(
            RunSpec(
                f"{_spec.name}_tfckpt",
                _spec.framework,
                _spec.cause,
                _spec.detail,
                f"{_spec.name} trained again with its seed, saving tf.train.Checkpoint bundles (model and "
                "optimizer) instead of .weights.h5 files.",
                functools.partial(_TWINS[_spec.name], tf_checkpoints=True),
            )
        )
