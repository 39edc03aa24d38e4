"""Read a training config (JSON or YAML) into the handful of settings that matter here.

Configs come in many shapes: a flat ``config.json`` of a script, Lightning's
``hparams.yaml``, Hugging Face ``training_args.json`` and model ``config.json``,
Hydra/OmegaConf trees, DeepSpeed JSON, a Keras model config with its
``compile_config``. Rather than one parser per shape, the whole tree is walked
and the settings are found by tolerant key names (:data:`FIELDS`), the
shallowest match winning.

Safety: YAML is read with a *safe* loader only. Python-specific tags (which
Lightning writes for objects in ``hparams.yaml``) are read as plain data,
never constructed. Files over :data:`MAX_BYTES` are not read, and the walk is
bounded in depth and node count (a YAML alias bomb stays cheap).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forensics.errors import UnreadableSource
from forensics.readers.safe_open import open_binary
from forensics.readers.text import check_json_budget, read_capped_text
from forensics.records import ConfigData, Kind, Source, Status

if TYPE_CHECKING:
    import yaml

MAX_BYTES = 16 * 1024 * 1024  # configs are KBs; a bigger "config" is data or a dump
MAX_DEPTH = 32  # deeper than any real config; stops cyclic YAML aliases too
MAX_NODES = 200_000  # nodes visited in one walk

# Tolerant key names per setting, best first. Keys are compared lower-cased.
FIELDS: dict[str, tuple[str, ...]] = {
    "learning_rate": (
        "learning_rate",
        "lr",
        "base_lr",
        "max_lr",
        "peak_lr",
        "initial_learning_rate",
        "init_lr",
        "initial_lr",
        "learning-rate",
        "maximal_learning_rate",
    ),
    "optimizer": ("optimizer", "optim", "optimizer_name", "optimizer_type", "opt"),
    "batch_size": (
        "batch_size",
        "per_device_train_batch_size",
        "train_batch_size",
        "train_micro_batch_size_per_gpu",
        "micro_batch_size",
        "batchsize",
        "bs",
    ),
    "grad_clip": (
        "grad_clip",
        "max_grad_norm",
        "gradient_clip_val",
        "clipnorm",
        "global_clipnorm",
        "clip_grad_norm",
        "grad_clip_norm",
        "clip_grad",
        "gradient_clipping",
        "clipvalue",
        "clip_norm",
    ),
    "loss": ("loss", "criterion", "loss_fn", "loss_function", "loss_type", "loss_name"),
    # where a step sits in the data (forensics/batches.py): HF TrainingArguments, Lightning
    # hparams, DeepSpeed and script configs, HF example scripts' train_results.json
    "grad_accum": (
        "gradient_accumulation_steps",
        "accumulate_grad_batches",
        "grad_accum_steps",
        "grad_accum",
        "gradient_accumulation",
        "accum_steps",
    ),
    "world_size": ("world_size", "num_processes", "data_parallel_size", "dp_size"),
    "num_samples": (
        "train_samples",
        "num_train_samples",
        "num_train_examples",
        "num_examples",
        "train_size",
        "dataset_size",
        "n_train",
    ),
    "seed": ("data_seed", "seed"),
    "drop_last": ("dataloader_drop_last", "drop_last"),
    "sampler": ("train_sampling_strategy", "sampler", "shuffle"),
    "seed_per_epoch": ("use_seedable_sampler",),
    "num_classes": ("num_classes", "n_classes", "num_labels", "nb_classes", "n_labels", "num_class", "classes"),
    # the optimizer steps the run was set to train (HF TrainingArguments and Lightning's Trainer
    # write -1 when the length is set in epochs: not a length)
    "max_steps": ("max_steps", "num_training_steps", "total_steps", "train_steps", "max_iters", "max_iter"),
}
_PRECISION_KEYS = (
    "mixed_precision",
    "precision",
    "amp",
    "fp16",
    "bf16",
    "dtype_policy",
    "dtype",
    "torch_dtype",
    "half",
)
_WIDTH_KEYS = ("out_features", "units", "output_dim", "out_dim", "n_out")
# An LR warmup's length, and the factor a step/multistep schedule applies to the LR at each
# milestone (torch's StepLR/MultiStepLR gamma, a decay rate): below 1 it decays, above 1 it raises.
WARMUP_KEYS = ("warmup_steps", "num_warmup_steps", "warmup_iters", "warmup_epochs", "warmup_ratio", "warmup")
LR_STEP_FACTOR_KEYS = ("gamma", "lr_gamma", "lr_decay", "lr_decay_rate", "decay_rate", "lr_factor")


@dataclasses.dataclass(frozen=True, slots=True)
class _Hit:
    key: str  # the key as written
    value: Any
    depth: int
    order: int  # position in a depth-first walk (later = further down the file)


def read_config(path: Path, source: Source) -> ConfigData:
    """Parse one config file and pick out the settings; raw keeps the parsed tree."""
    text = read_capped_text(path, "config", MAX_BYTES, encoding="utf-8-sig")
    check_json_budget(text, "config")  # YAML flow lists and maps too
    is_yaml = path.suffix.lower() in (".yaml", ".yml")
    tree, note = _parse_yaml(text) if is_yaml else _parse_json(text)
    if not isinstance(tree, dict):
        kind = "empty" if tree is None else f"a {type(tree).__name__}"
        raise UnreadableSource(f"config holds {kind}, not a mapping of settings")
    data = extract_settings(tree)
    src = dataclasses.replace(source, status=Status.PARTIAL, note=note) if note else source
    return dataclasses.replace(data, source=src)


def extract_settings(tree: dict[str, Any]) -> ConfigData:
    """The normalised settings of an already-parsed config tree (source left as a placeholder)."""
    hits = _collect(tree)

    def first(names: tuple[str, ...], convert: Any) -> Any:
        best: tuple[int, int, int] | None = None
        chosen = None
        for rank, name in enumerate(names):
            for hit in hits.get(name, ()):
                value = convert(hit.value)
                if value is None:
                    continue
                key = (hit.depth, rank, hit.order)
                if best is None or key < best:
                    best, chosen = key, value
        return chosen

    lr = first(FIELDS["learning_rate"], _lr_value)
    optimizer = first(FIELDS["optimizer"], _name_value)
    batch = first(FIELDS["batch_size"], _positive_int)
    clip = _grad_clip(hits)
    loss = first(FIELDS["loss"], _name_value)
    classes = first(FIELDS["num_classes"], _positive_int)
    if classes is None:
        classes = _classes_from_labels(hits) or _output_width(tree)
    return ConfigData(
        source=Source(path="", kind=Kind.CONFIG),
        learning_rate=lr,
        optimizer=optimizer,
        batch_size=batch,
        grad_clip=clip,
        mixed_precision=_precision(hits),
        loss=loss,
        num_classes=classes,
        raw=tree,
        grad_accum=first(FIELDS["grad_accum"], _positive_int),
        world_size=first(FIELDS["world_size"], _positive_int),
        num_samples=first(FIELDS["num_samples"], _positive_int),
        seed=first(FIELDS["seed"], _seed_value),
        drop_last=first(FIELDS["drop_last"], _bool_value),
        sampler=first(FIELDS["sampler"], _sampler_value),
        seed_per_epoch=first(FIELDS["seed_per_epoch"], _bool_value),
        max_steps=first(FIELDS["max_steps"], _positive_int),
        warmup=_first_number(values_of(tree, WARMUP_KEYS), lambda v: v >= 0),
        lr_step_factor=_first_number(values_of(tree, LR_STEP_FACTOR_KEYS), lambda v: v > 0),
        **_setup_fields(tree, _precision(hits)),
    )


# Keys an optimizer's or a normalisation layer's epsilon is stated under (compared lower-cased).
EPSILON_KEYS = (
    "eps",
    "epsilon",
    "adam_epsilon",
    "adam_eps",
    "optimizer_eps",
    "norm_eps",
    "layer_norm_eps",
    "layer_norm_epsilon",
    "layernorm_eps",
    "ln_eps",
    "bn_eps",
    "batch_norm_eps",
    "batchnorm_eps",
    "rms_norm_eps",
)
# Keys that turn a loss scaler on or off, or set its scale (DeepSpeed, apex, Accelerate, scripts).
LOSS_SCALE_KEYS = (
    "loss_scale",
    "loss_scaler",
    "dynamic_loss_scale",
    "use_grad_scaler",
    "grad_scaler",
    "use_loss_scaling",
    "initial_scale_power",
    "init_scale",
)
# float16 precisions as frameworks write them: with a dynamic loss scaler by default (Lightning's
# "16-mixed" and older 16, Keras's "mixed_float16" policy whose model.fit wraps the optimizer in a
# LossScaleOptimizer, apex O1/O2, torch amp), and with none (everything in float16).
SCALED_FP16 = frozenset({"16-mixed", "16", "mixed_float16", "o1", "o2", "amp", "fp16-mixed", "mixed"})
PURE_FP16 = frozenset({"16-true", "half", "float16", "o3", "fp16-true", "true16"})
# Keys whose value says which float16 training it is ("16-mixed", "O1", "float16"...); a Keras
# DTypePolicy writes it as {"config": {"name": "mixed_float16"}}.
_PRECISION_VALUE_KEYS = (
    "precision",
    "mixed_precision",
    "dtype_policy",
    "dtype",
    "torch_dtype",
    "amp_level",
    "opt_level",
    "fp16_opt_level",
    "name",
)
_MODEL_NAME_KEYS = ("model", "model_name", "arch", "architecture", "model_type", "cell", "rnn_type", "network")


def _setup_fields(tree: dict[str, Any], precision: str | None) -> dict[str, Any]:
    """What else the tree states about the setup: momentum, the smallest epsilon (and its key), the
    float16 precision as written, a loss scaler, the model's name, a class count stated as one."""
    eps = [(x, k) for k in EPSILON_KEYS for v in values_of(tree, (k,)) if (x := _number(v)) is not None and x >= 0]
    written = None
    if precision == "fp16":
        values = [str(v).strip().lower().replace("torch.", "") for v in values_of(tree, _PRECISION_VALUE_KEYS)]
        written = next((w for w in values if w in SCALED_FP16 | PURE_FP16), "fp16")
    scale = values_of(tree, LOSS_SCALE_KEYS)
    names = [v.strip() for v in values_of(tree, _MODEL_NAME_KEYS) if isinstance(v, str) and v.strip()]
    return {
        "momentum": _first_number(values_of(tree, ("momentum",)), lambda v: 0 <= v < 1),
        "epsilon": min(eps)[0] if eps else None,
        "epsilon_key": min(eps)[1] if eps else None,
        "precision_written": written,
        # a key that says, else what the precision implies (a scaler with 16-mixed, none with 16-true)
        "loss_scaling": _scaler_on(scale[0]) if scale else _implied_scaler(written),
        "model_name": names[0] if names else None,
        "classes_stated": _stated_classes(tree),
    }


def _scaler_on(value: Any) -> bool | None:
    """A loss-scale setting: on unless it says off (DeepSpeed's 0 is its dynamic scaler; a fixed
    scale of 1 is no scaling)."""
    if isinstance(value, bool):
        return value
    x = _number(value)
    if x is not None:
        return x != 1.0
    s = str(value).strip().lower()
    if s in ("false", "off", "none", "no"):
        return False
    return True if s in ("true", "on", "dynamic", "yes") else None


def _implied_scaler(written: str | None) -> bool | None:
    if written in SCALED_FP16:
        return True
    return False if written in PURE_FP16 else None


def _stated_classes(tree: dict[str, Any]) -> int | None:
    """A class count stated as one (a num_classes key, or a label map), not a language model's
    vocabulary (which ``_output_width`` takes for its output width)."""
    n = _first_number(values_of(tree, FIELDS["num_classes"]), lambda v: v >= 1 and v == int(v))
    if n is not None:
        return int(n)
    for key in ("id2label", "label2id"):
        m = tree.get(key)
        if isinstance(m, dict) and m:
            return len(m)
    return None


def _first_number(values: list[Any], ok: Any) -> float | None:
    """The first finite number of ``values`` that passes ``ok`` (strings of numbers count)."""
    for v in values:
        try:
            x = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(x) and ok(x):
            return x
    return None


# ---------------------------------------------------------------- parsing


def _parse_json(text: str) -> tuple[Any, str | None]:
    try:
        return json.loads(text), None
    except json.JSONDecodeError as e:
        raise UnreadableSource(f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from e
    except RecursionError as e:
        raise UnreadableSource("JSON nested too deeply") from e


@functools.cache
def _plain_loader() -> type[yaml.SafeLoader]:
    """A SafeLoader that reads unknown tags (``!!python/object:...``) as plain data instead of failing.

    Nothing is ever constructed from a tag: a tagged mapping becomes a dict,
    a tagged sequence a list, a tagged scalar its string. Made (and PyYAML imported, ~10 ms)
    when a YAML file is first met: most runs hold none.
    """
    import yaml

    class _PlainLoader(yaml.SafeLoader):
        saw_tags = False

    def _plain(loader: _PlainLoader, suffix: str, node: yaml.Node) -> Any:
        loader.saw_tags = True
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)  # type: ignore[arg-type]

    _PlainLoader.add_multi_constructor("tag:yaml.org,2002:python/", _plain)
    _PlainLoader.add_multi_constructor("!", _plain)
    return _PlainLoader


def _parse_yaml(text: str) -> tuple[Any, str | None]:
    import yaml

    try:
        loader = _plain_loader()(text)
    except yaml.YAMLError as e:  # robustness: PyYAML refuses control characters as it makes the loader
        raise UnreadableSource(f"malformed YAML: {' '.join(str(e).split())[:160]}") from e
    try:
        docs = []
        while loader.check_data():
            docs.append(loader.get_data())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or type(e).__name__
        raise UnreadableSource(f"malformed YAML{where}: {problem}") from e
    except RecursionError as e:
        raise UnreadableSource("YAML nested too deeply") from e
    finally:
        loader.dispose()
    note = "python-specific YAML tags read as plain data (never constructed)" if loader.saw_tags else None
    dicts = [d for d in docs if isinstance(d, dict)]
    if len(docs) > 1 and dicts:
        merged: dict[str, Any] = {}
        for d in dicts:
            merged.update(d)
        return merged, note
    return (docs[0] if docs else None), note


# ---------------------------------------------------------------- walking


def _norm_key(key: Any) -> str:
    return _norm_text(str(key))


_SPACES = re.compile(r"\s+")


@functools.lru_cache(maxsize=4096)
def _norm_text(key: str) -> str:
    # cached: a model config's few hundred keys are normalised many times over (a run's configs
    # share most of them), ~3 us each through re.sub
    return _SPACES.sub("_", key.strip().lower())


def _walk(tree: Any) -> Iterator[tuple[str, Any, int]]:
    """(key, value, depth) for every mapping entry, depth first, bounded."""
    stack: list[tuple[Any, int]] = [(tree, 0)]
    seen: set[int] = set()
    nodes = 0
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH or id(node) in seen:
            continue
        if isinstance(node, (dict, list)):
            seen.add(id(node))  # aliases: each shared node walked once
        nodes += 1
        if nodes > MAX_NODES:
            return
        if isinstance(node, dict):
            items = list(node.items())
            for key, value in items:
                yield str(key), value, depth
            for _, value in reversed(items):
                if isinstance(value, (dict, list)):
                    stack.append((value, depth + 1))
        elif isinstance(node, list):
            for value in reversed(node):
                if isinstance(value, (dict, list)):
                    stack.append((value, depth + 1))


def _collect(tree: dict[str, Any]) -> dict[str, list[_Hit]]:
    wanted = {n for names in FIELDS.values() for n in names} | set(_PRECISION_KEYS) | {"id2label", "label2id"}
    hits: dict[str, list[_Hit]] = {}
    for order, (key, value, depth) in enumerate(_walk(tree)):
        k = _norm_key(key)
        if k in wanted:
            hits.setdefault(k, []).append(_Hit(str(key), value, depth, order))
    return hits


# ---------------------------------------------------------------- value conversion


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, str):
        try:
            v = float(value.strip())
        except ValueError:
            return None
        return v if math.isfinite(v) else None
    return None


def _lr_value(value: Any) -> float | None:
    """A learning rate, or the starting/peak rate of a schedule written as a mapping."""
    v = _number(value)
    if v is not None:
        return v if v > 0 else None
    if isinstance(value, dict):
        cfg = value.get("config") if isinstance(value.get("config"), dict) else value
        for key in ("initial_learning_rate", "maximal_learning_rate", "learning_rate", "lr", "max_lr", "base_lr"):
            if key in cfg:
                v = _number(cfg[key])
                if v is not None and v > 0:
                    return v
    return None


def _positive_int(value: Any) -> int | None:
    v = _number(value)
    if v is None or v <= 0 or v != int(v):
        return None
    return int(v)


def _seed_value(value: Any) -> int | None:
    """A seed: any non-negative integer (0 is a seed; None, as HF's unset data_seed, is not)."""
    if isinstance(value, bool):
        return None
    v = _number(value)
    return int(v) if v is not None and v >= 0 and v == int(v) else None


def _bool_value(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _sampler_value(value: Any) -> str | None:
    """``shuffle: true/false`` or a sampler's name, as "random", "sequential" or the name."""
    if isinstance(value, bool):
        return "random" if value else "sequential"
    name = _name_value(value)
    if name is None:
        return None
    low = name.lower()
    for kind in ("sequential", "random"):
        if kind in low:
            return kind
    return low


def _name_value(value: Any) -> str | None:
    """A class or function name: a string, or a mapping that names one (Keras, Hydra, DeepSpeed)."""
    if isinstance(value, str):
        s = value.strip()
        if not s or s.lower() in ("none", "null"):
            return None
        return s.rsplit(".", 1)[-1] if s.count(".") and " " not in s and "(" not in s else s
    if isinstance(value, dict):
        for key in ("class_name", "_target_", "type", "name", "class_path", "cls"):
            inner = value.get(key)
            if isinstance(inner, str) and inner.strip():
                return _name_value(inner)
    return None


def _grad_clip(hits: dict[str, list[_Hit]]) -> float | None:
    """The clipping threshold: None when no key says, 0.0 when a key turns it off."""
    best: tuple[int, int] | None = None
    chosen: float | None = None
    seen_off = False
    for rank, name in enumerate(FIELDS["grad_clip"]):
        for hit in hits.get(name, ()):
            v = _number(hit.value)
            if v is None:
                if hit.value is False:
                    seen_off = True
                continue
            if v <= 0:
                seen_off = True
                continue
            key = (hit.depth, rank)
            if best is None or key < best:
                best, chosen = key, v
    if chosen is not None:
        return chosen
    return 0.0 if seen_off else None


def _precision_of(key: str, value: Any) -> str | bool | None:
    """ "fp16"/"bf16" when the value turns mixed precision on, False when it says full precision."""
    if isinstance(value, dict):
        if "enabled" in value:  # DeepSpeed: "fp16": {"enabled": true}
            return _precision_of(key, value["enabled"])
        name = value.get("name")
        if name is None and isinstance(value.get("config"), dict):
            name = value["config"].get("name")  # Keras DTypePolicy
        return _precision_of(key, name) if name is not None else None
    if isinstance(value, bool):
        if key in ("fp16", "half", "amp"):
            return "fp16" if value else False
        if key == "bf16":
            return "bf16" if value else False
        return None
    if value is None:
        return None
    s = str(value).strip().lower().replace("torch.", "")
    if "bf16" in s or "bfloat16" in s:
        return "bf16"
    if s in ("16", "16-mixed", "fp16", "float16", "half", "mixed_float16", "16-true", "o1", "o2", "o3"):
        return "fp16"
    if s in ("32", "32-true", "fp32", "float32", "no", "none", "false", "64", "64-true", "float64", "o0"):
        return False
    return None


def _precision(hits: dict[str, list[_Hit]]) -> str | None:
    """Mixed precision is on if any precision key turns it on (bf16 over fp16 when both do)."""
    found: set[str] = set()
    for key in _PRECISION_KEYS:
        for hit in hits.get(key, ()):
            p = _precision_of(key, hit.value)
            if isinstance(p, str):
                found.add(p)
    if "bf16" in found:
        return "bf16"
    if "fp16" in found:
        return "fp16"
    return None


def _classes_from_labels(hits: dict[str, list[_Hit]]) -> int | None:
    """Hugging Face model configs store the label map, not num_labels."""
    for key in ("id2label", "label2id"):
        for hit in sorted(hits.get(key, ()), key=lambda h: h.depth):
            if isinstance(hit.value, dict) and hit.value:
                return len(hit.value)
    return None


def _output_width(tree: dict[str, Any]) -> int | None:
    """Width of the last layer of a layer list (Keras model config, a list of Linear specs), or an LM's vocab."""
    architectures = tree.get("architectures")
    if isinstance(architectures, list) and any(
        isinstance(a, str) and re.search(r"CausalLM|LMHead|MaskedLM|ForConditionalGeneration", a) for a in architectures
    ):
        vocab = _positive_int(tree.get("vocab_size"))
        if vocab:
            return vocab
    last: int | None = None
    for key, value, _ in _walk(tree):
        if _norm_key(key) == "layers" and isinstance(value, list) and value:
            for layer in reversed(value):
                width = _layer_width(layer)
                if width is not None:
                    last = width
                    break
    return last


def _layer_width(layer: Any) -> int | None:
    if not isinstance(layer, dict):
        return None
    cfg = layer.get("config") if isinstance(layer.get("config"), dict) else layer
    for key in _WIDTH_KEYS:
        if key in cfg:
            return _positive_int(cfg[key])
    return None


# An MLflow parameter is one short value; anything longer is not one.
MLFLOW_PARAM_MAX_BYTES = 64 * 1024


def read_mlflow_param(path: Path, source: Source) -> ConfigData:
    """One MLflow file-store parameter (``mlruns/<exp>/<run>/params/<name>``): the file's
    name is the key, its content the value (typed with YAML's safe scalar rules)."""
    try:
        with open_binary(path) as f:
            raw = f.read(MLFLOW_PARAM_MAX_BYTES + 1)
    except OSError as e:
        raise UnreadableSource(f"cannot read: {e.strerror or e}") from None
    if len(raw) > MLFLOW_PARAM_MAX_BYTES:
        raise UnreadableSource(f"larger than {MLFLOW_PARAM_MAX_BYTES} bytes: not an MLflow parameter")
    value = mlflow_param_value(raw.decode("utf-8", errors="replace"))
    cfg = extract_settings({path.name: value})
    return dataclasses.replace(cfg, source=source, raw={path.name: value})


def mlflow_param_value(text: str) -> Any:
    """An MLflow parameter (stored as text) typed with YAML's safe scalar rules: "0.5" is a
    number, "sgd" a string; a value that parses as a list or mapping stays text."""
    import yaml

    text = text.strip()
    try:
        value = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        value = text
    return text if isinstance(value, (dict, list)) else value


def values_of(tree: dict[str, Any], names: tuple[str, ...]) -> list[Any]:
    """Scalar values of the keys ``names`` (compared lower-cased) anywhere in ``tree``,
    shallowest first: for settings outside :data:`FIELDS` (seed, warmup)."""
    wanted = {_norm_key(n) for n in names}
    found = [
        (depth, order, value)
        for order, (key, value, depth) in enumerate(_walk(tree))
        if _norm_key(key) in wanted and isinstance(value, (int, float, str)) and not isinstance(value, bool)
    ]
    return [v for _, _, v in sorted(found, key=lambda t: (t[0], t[1]))]
