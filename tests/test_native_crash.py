"""A job that died of a native crash, not of a Python exception (the ``native_crash`` family).

Each line is built from its writer's own format: glibc's malloc_printerr ('*** Error in `%s': %s: 0x%s ***' before
2.26, '%s' of the check after), bash's notify_of_job_status ('%s: line %d: ' then the job: its pid, strsignal's name
left-justified in bash's 24-column status field, ' (core dumped)' and the command) and dash's bare name,
libstdc++'s verbose terminate handler, CPython's faulthandler and lua.c's l_message ('%s: %s' then luaL_traceback's
'stack traceback:'). The job died of it when nothing shows training going on after it; a NaN loss before it keeps
the divergence.
"""

from __future__ import annotations

import json

import pytest

import forensics
from forensics.readers.logmessages import match_messages
from forensics.readers.logs import parse_log_text

LOSSES = "".join(f"step {i} loss {2.0 - 0.01 * i:.3f}\n" for i in range(1, 30))
LATER = "".join(f"step {i} loss {1.7 - 0.01 * i:.3f}\n" for i in range(30, 40))


def _glibc_old(argv0: str, check: str, address: int) -> str:
    return f"*** Error in `{argv0}': {check}: 0x{address:016x} ***"


def _bash(script: str, line: int, pid: int, signal: str, command: str, core: bool = True) -> str:
    return f"{script}: line {line}: {pid:5d} {signal:<24}{'(core dumped) ' if core else ''}{command}"


def _terminate(thrown: str, what: str) -> str:
    return f"terminate called after throwing an instance of '{thrown}'\n  what():  {what}"


def _faulthandler(name: str) -> str:
    return (
        f"Fatal Python error: {name}\n\nCurrent thread 0x{0x7FA7F41FDB80:016x} (most recent call first):\n"
        '  File "train.py", line 41 in train_step\n  File "train.py", line 88 in <module>'
    )


def _lua(progname: str, message: str) -> str:
    return f"{progname}: {message}\nstack traceback:\n\t[C]: in function 'error'\n\ttrain.lua:12: in main chunk"


CRASHES = [
    ("glibc < 2.26", _glibc_old("/opt/torch/install/bin/luajit", "free(): invalid next size (fast)", 0x17B4ED0)),
    ("glibc >= 2.26", "free(): invalid pointer\nAborted (core dumped)"),
    ("glibc top size", "malloc(): corrupted top size"),
    ("glibc double free", "double free or corruption (out)"),
    ("bash script", _bash("./run.sh", 3, 12345, "Segmentation fault", "python train.py")),
    ("bash fpe", _bash("./run.sh", 3, 812, "Floating point exception", "python train.py")),
    ("dash", "Segmentation fault (core dumped)"),
    ("interactive", "Illegal instruction"),
    ("bus error", "Bus error (core dumped)"),
    ("c++", _terminate("std::runtime_error", "tensor shapes do not match") + "\nAborted (core dumped)"),
    ("faulthandler", _faulthandler("Segmentation fault") + "\nSegmentation fault (core dumped)"),
    ("lua", _lua("/opt/torch/install/bin/luajit", "train.lua:12: attempt to index a nil value")),
]


def _analyze(tmp_path, text: str):
    run = tmp_path / "run"
    run.mkdir(parents=True)
    (run / "train.log").write_text(text, encoding="utf-8")
    return forensics.analyze(str(run))


@pytest.mark.parametrize(("writer", "crash"), CRASHES, ids=[c[0] for c in CRASHES])
def test_a_native_crash_after_finite_losses_is_a_crash_of_unknown_meaning(tmp_path, writer, crash):
    rep = _analyze(tmp_path, LOSSES + crash + "\n")
    out = json.loads(rep.to_json())
    assert out["ended"] == "crashed", writer
    first = crash.splitlines()[0]  # the Lua error's own line, above its trace, for Lua
    assert out["crash"]["exception"].startswith(first), (writer, out["crash"])
    assert out["crash"]["meaning"] is None
    assert out["crash"]["step"] == 29
    assert rep.diverged is False
    assert rep.verdict.cause == "inconclusive"
    assert "not a divergence" in rep.verdict.summary


@pytest.mark.parametrize(("writer", "crash"), CRASHES, ids=[c[0] for c in CRASHES])
def test_training_that_goes_on_after_it_did_not_die_of_it(tmp_path, writer, crash):
    rep = _analyze(tmp_path, LOSSES + crash + "\n" + LATER)
    assert json.loads(rep.to_json())["ended"] != "crashed", writer
    assert rep.verdict.cause == "healthy"


def test_a_nan_loss_before_the_crash_keeps_the_divergence(tmp_path):
    text = (
        LOSSES + "step 30 loss nan\nstep 31 loss nan\n" + _glibc_old("./train", "free(): invalid pointer", 0x55) + "\n"
    )
    rep = _analyze(tmp_path, text)
    assert rep.diverged is True
    assert json.loads(rep.to_json())["ended"] == "crashed"


def test_the_shell_s_report_under_a_crash_already_read_is_the_same_death():
    text = LOSSES + "double free or corruption (out)\n" + _bash("./run.sh", 3, 77, "Aborted", "python train.py") + "\n"
    _, events, died, _ = parse_log_text(text)
    crashes = [e for e in events if e.kind == "native_crash"]
    assert died and len(crashes) == 1
    assert crashes[0].message == "double free or corruption (out)"
    assert crashes[0].values["signal"] == "SIGABRT"


def test_a_segfault_at_exit_after_a_traceback_leaves_the_exception_as_what_it_died_of(tmp_path):
    text = LOSSES + (
        "Traceback (most recent call last):\n"
        '  File "train.py", line 88, in <module>\n'
        "    loss.backward()\n"
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n"
        "Segmentation fault (core dumped)\n"
    )
    rep = _analyze(tmp_path, text)
    out = json.loads(rep.to_json())
    assert out["ended"] == "crashed"
    assert out["crash"]["meaning"] == "out_of_memory"
    assert not [e for e in parse_log_text(text)[1] if e.kind == "native_crash"]


def test_a_known_message_in_what_says_what_the_abort_was(tmp_path):
    what = _terminate("c10::Error", "CUDA error: out of memory")
    rep = _analyze(tmp_path, LOSSES + what + "\nAborted (core dumped)\n")
    out = json.loads(rep.to_json())
    assert out["ended"] == "crashed"
    assert out["crash"]["meaning"] == "out_of_memory"
    assert out["crash"]["exception"].startswith("terminate called after throwing an instance of 'c10::Error'")


def test_a_message_the_job_went_on_from_does_not_name_a_later_crash(tmp_path):
    oom = "WARNING: ran out of memory with exception: CUDA out of memory. Tried to allocate 2.00 GiB; skipping batch\n"
    crash = _bash("./run.sh", 3, 77, "Segmentation fault", "python train.py")
    out = json.loads(_analyze(tmp_path, LOSSES + oom + LATER + crash + "\n").to_json())
    assert out["ended"] == "crashed"
    assert out["crash"]["meaning"] is None
    assert out["crash"]["exception"] == crash


def test_cs_terminate_after_an_unterminated_progress_line_is_quoted_from_its_own_words():
    bar = "\rProgress:  12.5% words/sec/thread:    4139 lr:  0.043750 avg.loss:  1.203400 ETA:   0h 1m 2s"
    text = LOSSES + bar + _terminate("std::length_error", "vector::_M_default_append") + "\nAborted\n"
    _, events, died, _ = parse_log_text(text)
    crash = next(e for e in events if e.kind == "native_crash")
    assert died
    assert crash.message.startswith("terminate called after throwing an instance of 'std::length_error' what():")


def test_another_c_plus_plus_exception_is_a_native_crash_and_no_nan_guard():
    found = [f for f, _ in match_messages("terminate called after throwing an instance of 'std::invalid_argument'")]
    assert found == ["native_crash"]


def test_the_shell_s_killed_is_a_kill_or_the_oom_killer(tmp_path):
    killed = _bash("./run.sh", 3, 4242, "Killed", "python train.py", core=False)
    assert [f for f, _ in match_messages(killed)] == ["job_killed"]
    assert [f for f, _ in match_messages("Killed")] == ["job_killed"]
    out = json.loads(_analyze(tmp_path / "a", LOSSES + killed + "\n").to_json())
    assert out["ended"] == "killed"
    oom = "[12345.678901] Out of memory: Killed process 4242 (python) total-vm:81234567kB, anon-rss:61234567kB\n"
    out = json.loads(_analyze(tmp_path / "b", LOSSES + oom + "Killed\n").to_json())
    assert out["ended"] == "crashed"
    assert out["crash"]["meaning"] == "out_of_memory"


def test_an_uncaught_lua_error_is_quoted_from_the_interpreter_s_line():
    text = LOSSES + _lua("luajit", "train.lua:12: attempt to index a nil value") + "\n"
    _, events, died, _ = parse_log_text(text)
    crash = next(e for e in events if e.kind == "native_crash")
    assert died and crash.message == "luajit: train.lua:12: attempt to index a nil value"


LOOK_ALIKES = [
    # prose and settings that hold the words
    "grep -n 'Error in' train.py returns nothing",
    "Error in `forward`: shape mismatch, skipping batch",
    "  what():  stoi",
    "terminate_on_nan: True",
    "The last run ended with a Segmentation fault, retrying with fewer workers",
    "Aborted!",
    "Killed process 4242 is not ours",
    "[W NNPACK.cpp:53] Could not initialize NNPACK! Reason: Unsupported hardware.",
    # a C++ warning the program goes on from
    # (c10's TORCH_WARN: '[W {file}:{line}] Warning: {message} (function {function})')
    "[W ProcessGroupNCCL.cpp:1856] Warning: NCCL_ASYNC_ERROR_HANDLING is deprecated (function operator())",
    # the DataLoader's report of its worker's segfault: the worker_died family
    "ERROR: Unexpected segmentation fault encountered in worker.",
    # a Lua trace printed by the program's own handler (no interpreter's line above it)
    "caught: bad batch\nstack traceback:\n\ttrain.lua:40: in function 'step'",
]


@pytest.mark.parametrize("line", LOOK_ALIKES)
def test_look_alikes_are_no_native_crash(line):
    _, events, died, _ = parse_log_text(LOSSES + line + "\n")
    assert [e.kind for e in events if e.kind in ("native_crash", "job_killed")] == [], line
    assert not died


def test_segmentation_fault_quoted_in_a_python_exception_is_the_exception_s():
    text = LOSSES + (
        "Traceback (most recent call last):\n"
        '  File "train.py", line 88, in <module>\n'
        "    batch = next(it)\n"
        "RuntimeError: DataLoader worker (pid 4242) is killed by signal: Segmentation fault.\n"
    )
    _, events, died, _ = parse_log_text(text)
    assert died
    assert "native_crash" not in [e.kind for e in events]
    assert "worker_died" in [e.kind for e in events]


def _glog(signal: str, pid: int, frame: str) -> str:
    """glog's failure signal handler (src/signalhandler.cc), as Caffe's solver prints it on a segfault."""
    return (
        '*** Aborted at 1435759251 (unix time) try "date -d @1435759251" if you are using GNU date ***\n'
        f"PC: @     0x7ffdd411fd24 {frame}\n"
        f"*** {signal} (@0xf372c5c0) received by PID {pid} (TID 0x7ffdd4678780) from PID 18446744073498969536; "
        "stack trace: ***\n"
        f"    @     0x7ffdd34c3d40 (unknown)\n    @     0x7ffdd411fd24 {frame}\n"
    )


def test_glog_s_failure_signal_handler_is_a_native_crash(tmp_path):
    text = LOSSES + _glog("SIGSEGV", 15058, "caffe::SoftmaxWithLossLayer<>::Forward_cpu()")
    crashes = [e for e in parse_log_text(text)[1] if e.kind == "native_crash"]
    assert len(crashes) == 1 and crashes[0].values["signal"] == "SIGSEGV"
    out = json.loads(_analyze(tmp_path, text).to_json())
    assert out["ended"] == "crashed" and out["crash"]["exception"].startswith("*** SIGSEGV")
    assert out["diverged"] is False
    # the same words in prose name no signal, nor the line quoted in a sentence
    assert not match_messages("the job was received by PID 1 after the restart")
    assert not match_messages('it printed "*** SIGSEGV (@0x0) received by PID 1" and died')
    # under a runner's prefix (kubectl's timestamps, a launcher's rank tag) it is the handler's line still
    for prefix in ("2020-12-07T12:01:00.123Z ", "[worker0] "):
        assert [f for f, _ in match_messages(prefix + "*** SIGSEGV (@0x0) received by PID 7 (TID 0x7f)")] == [
            "native_crash"
        ]


def test_glog_s_handler_on_a_signal_from_outside_is_a_kill(tmp_path):
    # a scheduler's SIGTERM (a time limit, a preemption) caught by the same handler: the job was stopped, not crashed
    out = json.loads(_analyze(tmp_path, LOSSES + _glog("SIGTERM", 15058, "caffe::Solver<>::Step()")).to_json())
    assert out["ended"] == "killed" and out["diverged"] is False


def _skip_guard(step: int) -> str:
    """A trainer's own NaN guard, MAE-style engines' print: 'Loss is nan, skipping this batch' in the words of
    LaVIN's engine ('NaN loss encountered. Skipping this batch.')."""
    return f"[12:53:{step:02d}.383037] NaN loss encountered. Skipping this batch."


def test_skipped_steps_explain_no_crash_after_them(tmp_path):
    # the guard skipped a step, then the job died of an exception of no known meaning: the crash is quoted and the
    # run is inconclusive, never 'crashed — healthy'
    text = (
        LOSSES
        + _skip_guard(30)
        + "\nTraceback (most recent call last):\n"
        + (
            '  File "util/misc.py", line 67, in global_avg\n    return self.total / self.count\n'
            "ZeroDivisionError: float division by zero\n"
        )
    )
    rep = _analyze(tmp_path, text)
    out = json.loads(rep.to_json())
    assert out["ended"] == "crashed" and rep.verdict.cause == "inconclusive"
    assert "ZeroDivisionError" in rep.verdict.summary and "skipped steps" in rep.verdict.summary


def test_a_stop_the_catalogue_explains_still_makes_the_crash_healthy_after_skips(tmp_path):
    oom = (
        "Traceback (most recent call last):\n"
        '  File "train.py", line 88, in <module>\n'
        "    loss.backward()\n"
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n"
    )
    rep = _analyze(tmp_path, LOSSES + _skip_guard(30) + "\n" + oom)
    assert json.loads(rep.to_json())["crash"]["meaning"] == "out_of_memory"
    assert rep.verdict.cause == "healthy"
