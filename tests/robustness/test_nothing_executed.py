"""Nothing found in a run is ever executed: pickles are read as data or listed as skipped, object arrays
are not loaded, YAML tags are not constructed, Lambda-layer bytecode is not unmarshalled.

Three kinds of proof: the source tree holds no call that could unpickle or evaluate
(checked on its syntax tree, and by plain text search as a second net); a run planted
with payloads that would create a marker file is analysed (API and CLI) and the marker
never appears, while a positive control shows each payload does fire when loaded the
unsafe way; and Python's audit hooks see no unpickling, unmarshalling or process
spawning while that run is analysed.
"""

from __future__ import annotations

import ast
import base64
import json
import marshal
import pickle
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from robust_util import ROOT, SAMPLES, count, run_cli

SOURCE = ROOT / "forensics"
PICKLE_EXTENSIONS = [".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle", ".joblib", ".tar"]

# ---------------------------------------------------------------- the source tree

# module.attribute calls that load code or objects from bytes, or start processes
FORBIDDEN_CALLS = {
    ("pickle", "load"), ("pickle", "loads"), ("pickle", "Unpickler"), ("_pickle", "load"), ("_pickle", "loads"),
    ("cPickle", "load"), ("cPickle", "loads"), ("dill", "load"), ("dill", "loads"), ("joblib", "load"),
    ("torch", "load"), ("marshal", "load"), ("marshal", "loads"), ("shelve", "open"),
    ("yaml", "load"), ("yaml", "load_all"), ("yaml", "unsafe_load"), ("yaml", "unsafe_load_all"),
    ("yaml", "full_load"), ("yaml", "full_load_all"), ("os", "system"), ("os", "popen"),
    ("os", "execv"), ("os", "execvp"), ("os", "spawnv"), ("os", "posix_spawn"),
}  # fmt: skip
FORBIDDEN_NAMES = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_MODULES = {"pickle", "_pickle", "cPickle", "dill", "joblib", "marshal", "shelve", "subprocess", "torch",
                     "tensorflow", "tensorboardX", "tbparse", "pandas", "keras", "tf_keras"}  # fmt: skip
UNSAFE_YAML_LOADERS = {"Loader", "UnsafeLoader", "FullLoader"}
# The one reviewed exception: the restricted unpickler of PyTorch files runs the standard
# pickle machine with a find_class that imports nothing (tests/test_torch_hostile.py).
# And report.to_frame() builds a pandas DataFrame from the timeline's arrays (the notebook
# API), Sweep.dataframe() one of plain rows (the sweep summary); no pandas reader is called
# anywhere (the text search below checks read_*).
ALLOWED = {("torch_pickle.py", "import pickle"), ("frames.py", "import pandas"), ("sweep.py", "import pandas")}
TORCH_EXTENSIONS = {".pt", ".pth", ".bin", ".ckpt", ".tar"}


def _sources() -> list[Path]:
    files = sorted(SOURCE.rglob("*.py"))
    assert len(files) > 20
    return files


def _dotted(node: ast.AST) -> tuple[str, ...]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return tuple(reversed(parts))


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            out += [f"{where}: import {a.name}" for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
            out.append(f"{where}: from {node.module} import ...")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name[-2:] in FORBIDDEN_CALLS:
                out.append(f"{where}: {'.'.join(name)}()")
            if len(name) == 1 and name[0] in FORBIDDEN_NAMES:
                out.append(f"{where}: {name[0]}()")
            if name[-1:] == ("load",) and name[-2:-1] in (("np",), ("numpy",)):
                allow = {k.arg: k.value for k in node.keywords}.get("allow_pickle")
                if not (isinstance(allow, ast.Constant) and allow.value is False):
                    out.append(f"{where}: np.load without allow_pickle=False")
            for k in node.keywords:
                if k.arg == "Loader" and _dotted(k.value)[-1:] and _dotted(k.value)[-1] in UNSAFE_YAML_LOADERS:
                    out.append(f"{where}: YAML Loader={'.'.join(_dotted(k.value))}")
        elif isinstance(node, ast.ClassDef):
            for base in node.bases:
                if _dotted(base)[:1] == ("yaml",) and _dotted(base)[-1] in UNSAFE_YAML_LOADERS:
                    out.append(f"{where}: class {node.name} derives from {'.'.join(_dotted(base))}")
    return [v for v in out if (path.name, v.split(": ", 1)[1]) not in ALLOWED]


def test_no_code_path_can_unpickle_evaluate_or_spawn() -> None:
    violations = [v for p in _sources() for v in _violations(p)]
    assert violations == []


def test_the_syntax_check_catches_what_it_is_meant_to_catch(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        textwrap.dedent(
            """
            import pickle, yaml, numpy as np
            import torch
            pickle.loads(b"")
            np.load("x.npy", allow_pickle=True)
            np.load("y.npy")
            yaml.load("a: 1", Loader=yaml.Loader)
            eval("1")
            class L(yaml.FullLoader): pass
            """
        )
    )
    found = _violations(bad)
    lines = sorted(int(v.split(":")[1]) for v in found)
    assert lines == [2, 3, 4, 5, 6, 7, 7, 8, 9], found  # line 7: yaml.load() and its Loader=


def test_a_plain_text_search_finds_no_unpickling_call_either() -> None:
    needles = ("pickle.load", "torch.load", "allow_pickle=True", "allow_pickle = True", "yaml.unsafe_load")
    needles += ("read_pickle", "pd.read_", "pandas.read_")
    hits = [
        f"{p.relative_to(ROOT)}:{i}: {line.strip()}"
        for p in _sources()
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if any(n in line for n in needles) and not line.lstrip().startswith("#")
    ]
    assert hits == []


def test_yaml_configs_are_parsed_by_a_safe_loader() -> None:
    import yaml

    from forensics.readers import config

    loaders = [v for v in vars(config).values() if isinstance(v, type) and issubclass(v, yaml.reader.Reader)]
    loaders.append(config._plain_loader())  # made when a YAML file is first met
    for loader in loaders:  # the unsafe constructors (python/object, apply) live in FullConstructor and below
        assert issubclass(loader, yaml.constructor.SafeConstructor)
        assert not issubclass(loader, yaml.constructor.FullConstructor)


# ---------------------------------------------------------------- a run planted with payloads


class _Payload:
    """Unpickling this creates the marker file (builtins.open in write mode)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _lambda_config(marker: Path) -> dict:
    """A Keras Lambda layer whose function is marshalled bytecode that creates the marker."""
    code = compile(f"open({str(marker)!r}, 'w').close()", "<lambda>", "exec")
    blob = base64.b64encode(marshal.dumps(code)).decode()
    lam = {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {"name": "evil", "function": {"class_name": "__lambda__", "config": {"code": blob}}},
    }
    return {"class_name": "Sequential", "config": {"name": "seq", "layers": [lam]}}


def _plant(run: Path, marker: Path) -> dict[str, str]:
    """Every payload of the brief; returns path -> what it is."""
    payload = pickle.dumps(_Payload(marker))
    planted = {}
    for ext in PICKLE_EXTENSIONS:
        (run / f"evil{ext}").write_bytes(payload)
        planted[f"evil{ext}"] = "pickle"
    with zipfile.ZipFile(run / "evil_torch_zip.pt", "w") as z:  # torch.save's zip layout
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/version", "3\n")
    planted["evil_torch_zip.pt"] = "pickle"
    obj = np.empty(2, dtype=object)
    obj[0], obj[1] = _Payload(marker), 1
    np.save(run / "evil_objects.npy", obj, allow_pickle=True)
    planted["evil_objects.npy"] = "object npy"
    np.savez(run / "evil_objects.npz", features=obj, labels=np.arange(3))
    planted["evil_objects.npz"] = "object npz"
    (run / "config.yaml").write_text(f"lr: 0.1\nx: !!python/object/apply:builtins.open [{str(marker)!r}, w]\n")
    planted["config.yaml"] = "yaml"
    keras_src = SAMPLES / "keras_nan_in_inputs" / "ckpt" / "model_epoch01.keras"
    with zipfile.ZipFile(keras_src) as src, zipfile.ZipFile(run / "evil_lambda.keras", "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "config.json":
                data = json.dumps(_lambda_config(marker)).encode()
            dst.writestr(info, data)
    planted["evil_lambda.keras"] = "keras lambda"
    return planted


def _unsafe_loads(run: Path) -> list[str]:
    """Python source that loads every payload the unsafe way: the positive control."""
    return [
        f"import pickle; pickle.loads(open({str(run / 'evil.pkl')!r}, 'rb').read())",
        f"import numpy as np; np.load({str(run / 'evil_objects.npy')!r}, allow_pickle=True)",
        f"import numpy as np; np.load({str(run / 'evil_objects.npz')!r}, allow_pickle=True)['features']",
        f"import yaml; yaml.unsafe_load(open({str(run / 'config.yaml')!r}))",
        "import json, zipfile, base64, marshal; "
        f"c = json.loads(zipfile.ZipFile({str(run / 'evil_lambda.keras')!r}).read('config.json')); "
        "exec(marshal.loads(base64.b64decode(c['config']['layers'][0]['config']['function']['config']['code'])))",
    ]


@pytest.fixture
def planted_run(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    run = tmp_path / "run"
    shutil.copytree(SAMPLES / "tbx_lr_too_high", run)
    marker = tmp_path / "MARKER"
    return run, marker, _plant(run, marker)


def test_each_payload_does_fire_when_loaded_the_unsafe_way(planted_run) -> None:
    """The positive control: without it, an absent marker would prove nothing."""
    run, marker, _ = planted_run
    for code in _unsafe_loads(run):
        assert not marker.exists()
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert marker.exists(), (code, r.stderr[-500:])
        marker.unlink()


AUDITED = r"""
import json, sys
import forensics
forensics.analyze(sys.argv[1])  # first pass: every lazy import is done
events = []
WATCH = ("pickle.", "marshal.", "exec", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.",
         "ctypes.", "compile")
def hook(event, args):
    if event.startswith(WATCH):
        events.append([event, repr(args)[:120]])
sys.addaudithook(hook)
report = forensics.analyze(sys.argv[1])  # second pass, watched
print(json.dumps({"events": events, "verdict": report.verdict.cause,
                  "sources": {s.path: [str(s.status), s.note] for s in report.sources}}))
"""


def test_a_run_planted_with_payloads_is_analysed_and_none_of_them_runs(planted_run) -> None:
    run, marker, planted = planted_run
    r = subprocess.run([sys.executable, "-c", AUDITED, str(run)], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    count("planted payloads", len(planted))
    assert not marker.exists()
    # numpy parses .npy header dicts with ast.literal_eval (compiled to a tree, never run)
    unexpected = [e for e in out["events"] if not (e[0] == "compile" and "'descr'" in e[1])]
    assert unexpected == []
    src = out["sources"]
    for path, what in planted.items():
        status, note = src[path]
        if what == "pickle" and Path(path).suffix in TORCH_EXTENSIONS:
            # read by the restricted unpickler: the payload's global arrives as a name, never called
            assert status == "skipped" and "never executed" in note and "io.open" in note, (path, note)
        elif what == "pickle":
            assert status == "skipped" and "pickle" in note and "never loaded" in note, (path, note)
        elif what == "object npy":
            assert status == "skipped" and "pickle" in note, (path, note)
        elif what == "object npz":
            assert status == "partial" and "features" in note and "pickle" in note, (path, note)
        elif what == "yaml":
            assert status == "partial" and "never constructed" in note, (path, note)
        elif what == "keras lambda":
            assert status in ("ok", "partial"), (path, note)
    assert out["verdict"] == "learning_rate"  # the rest of the run is analysed as before


@pytest.mark.parametrize("cmd", ["analyze", "inspect"])
def test_the_command_line_runs_none_of_them_either(planted_run, cmd: str) -> None:
    run, marker, planted = planted_run
    r = run_cli(cmd, str(run), "--format", "json", cwd=run)
    assert r.returncode == 0, r.stderr
    count("planted payloads", len(planted))
    assert not marker.exists()
