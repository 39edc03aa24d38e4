"""Issue #11, twentieth round: mechanisms behind heldout25's misses (docs/logs.md), on lines built from the writers'
own format strings (named in a comment), each with look-alikes that must read as before.
"""

from pathlib import Path

import pytest

from forensics.readers.logmessages import match_messages
from tests.test_log_shapes_round16 import _analyze

# ---------------------------------------------------------------- Unsloth's check of the data's untrained tokens

# unsloth/tokenizer_utils.py fix_untrained_tokens: the older raise names no token, the newer one (also
# unsloth_zoo/tokenizer_utils.py) names the ids it found in the dataset, formatted from a list inside brackets
UNSLOTH_OLD = (
    "ValueError: Unsloth: Untrained tokens found, but embed_tokens & lm_head not trainable, causing NaNs. Restart "
    'then add `embed_tokens` & `lm_head` to `FastLanguageModel.get_peft_model(target_modules = [..., "embed_tokens", '
    '"lm_head",]). `Are you using the `base` model? Instead, use the `instruct` version to silence this warning.'
)
UNSLOTH_NEW = (
    "ValueError: Untrained tokens of [[128011, 128256]] found, but embed_tokens & lm_head not trainable, causing NaNs. "
)


@pytest.mark.parametrize(("line", "tokens"), [(UNSLOTH_OLD, None), (UNSLOTH_NEW, "[128011, 128256]")])
def test_unsloth_s_untrained_token_check_is_read_with_the_ids_it_names(line, tokens):
    found = dict(match_messages(line))
    assert found["untrained_tokens"]["framework"] == "unsloth"
    assert found["untrained_tokens"].get("tokens") == tokens


@pytest.mark.parametrize(
    "line",
    [
        # the same function's notes when the embedding is trainable: it rescales the rows and trains on
        "No untrained tokens found in train_dataset. No embeddings were modified.",
        "Rescaling embeddings for tokens seen in train_dataset: [128011, 128256]",
        # a question about the check, not the check
        "Why do I get untrained tokens found with the base model?",
    ],
)
def test_unsloth_s_notes_when_the_embedding_trains_are_no_check_failing(line):
    assert "untrained_tokens" not in dict(match_messages(line))


def _unsloth_log(tail):
    return "\n".join(
        [
            "==((====))==  Unsloth 2024.8: Fast Llama patching. Transformers = 4.44.0.",
            "Map: 100%|██████████| 1000/1000 [00:01<00:00, 812.01 examples/s]",
            *tail,
            "",
        ]
    )


@pytest.mark.parametrize(
    "tail",
    [
        # the raise with its traceback, and the message alone (a notebook's cell output keeps only it)
        [
            "Traceback (most recent call last):",
            '  File "train.py", line 41, in <module>',
            "    trainer_stats = trainer.train()",
            UNSLOTH_NEW,
        ],
        [UNSLOTH_OLD.removeprefix("ValueError: ")],
    ],
)
def test_a_run_unsloth_stopped_on_untrained_tokens_crashed_on_its_data(tmp_path, tail):
    rep, _ = _analyze(tmp_path, "output.txt", _unsloth_log(tail))
    assert rep.verdict.cause == "data_or_labels" and "chat template" in rep.verdict.fix
    # stopped before any step: no loss went non-finite, the job died of the check
    assert rep.diverged is False and rep.ending.ended == "crashed"
    assert rep.ending.crash is not None and "Untrained tokens" in rep.ending.crash.exception
    md = rep.to_markdown()
    assert ": crashed — data or labels" in md.splitlines()[0]
    # the verdict rests on the check's message, quoted, not on settings the log never stated
    assert "Untrained tokens" in md.split("**Fix:**")[0] and "settings state" not in md


# ---------------------------------------------------------------- a loss scale gone to zero


def _apex_zero_division(last_frames, exception="ZeroDivisionError: float division by zero"):
    # YOLOv5's tqdm row (its format string in train.py: '%10s' * 2 + '%10.4g' * 6), then the traceback of apex's
    # LossScaler (apex/amp/handle.py scale_loss -> _process_optimizer.py -> scaler.py unscale_with_stashed, whose
    # 'out_scale/grads_have_scale' divides by a scale halved to 0.0 overflow after overflow)
    return "\n".join(
        [
            "     Epoch   gpu_mem      GIoU       obj       cls     total   targets  img_size",
            "     0/299     10.3G      7.81      6.47      7.85      22.1        73       608:   7%|▋  | "
            "1091/14658 [04:57<1:01:38,  3.67it/s]",
            "",
            "Traceback (most recent call last):",
            '  File "train.py", line 278, in train',
            "    scaled_loss.backward()",
            *last_frames,
            exception,
            "",
        ]
    )


APEX_FRAMES = [
    '  File "/usr/local/lib/python3.7/site-packages/apex/amp/handle.py", line 123, in scale_loss',
    "    optimizer._post_amp_backward(loss_scaler)",
    '  File "/usr/local/lib/python3.7/site-packages/apex/amp/scaler.py", line 176, in unscale_with_stashed',
    "    out_scale/grads_have_scale,   # 1./scale,",
]


def test_a_zero_division_in_apex_s_scaler_is_its_scale_at_the_floor(tmp_path):
    rep, _ = _analyze(tmp_path, "output.txt", _apex_zero_division(APEX_FRAMES))
    assert rep.diverged is True
    assert (rep.verdict.cause, rep.verdict.detail) == ("numerical_instability", "fp16_overflow")
    assert rep.ending.ended == "crashed" and rep.ending.crash.meaning == "fp16_overflow"


@pytest.mark.parametrize(
    ("frames", "exception"),
    [
        # the same division in the job's own code (an average over an empty epoch): no scaler's
        (['  File "train.py", line 301, in train', "    mloss = tloss / nb"], "ZeroDivisionError: division by zero"),
        # another exception in the scaler's file: not the scale gone to 0
        (APEX_FRAMES, "RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB"),
        # a scheduler's file is no scaler's
        (
            [
                '  File "/opt/lib/python3.9/site-packages/timm/scheduler/scheduler.py", line 90, in step',
                "    x = a / b",
            ],
            "ZeroDivisionError: float division by zero",
        ),
    ],
)
def test_a_zero_division_elsewhere_or_another_error_in_the_scaler_is_no_floor(tmp_path, frames, exception):
    rep, _ = _analyze(tmp_path, "output.txt", _apex_zero_division(frames, exception))
    assert not any(e.kind == "loss_scale_minimum" for _, e in rep.timeline.log_events)
    assert rep.ending.crash is not None and rep.ending.crash.meaning != "fp16_overflow"


# ---------------------------------------------------------------- 3DETR's loss check and its offspring's


def _threedetr_log(tail):
    # 3D-R1's / LL3DA's iteration line ('Epoch [{e}/{E}]; Iter [{i}/{N}]; Loss {loss:0.2f}; LR {lr:0.2e}; ...'),
    # then its engine's check, 'Loss in not finite.' as 3DETR's engine.py writes it
    return "\n".join(
        [
            "Epoch [0/5]; Iter [0/9450]; Loss 10.08; LR 1.00e-06; Iter time 3.72; ETA 9:46:15; Mem 29072.79MB",
            *tail,
            "",
        ]
    )


@pytest.mark.parametrize(
    "tail",
    [
        ["Loss in not finite. Skip this training step."] * 4 + ["Loss in not finite. Terminate training."],
        ["Loss in not finite. Training will be stopped."],
        # the same stop in any project's words: 'not finite' is as non-finite as 'nan'
        ["Loss is not finite, stopping training"],
    ],
)
def test_3detr_s_loss_check_stopping_the_run_is_a_divergence(tmp_path, tail):
    rep, _ = _analyze(tmp_path, "log.txt", _threedetr_log(tail))
    assert rep.diverged is True and rep.ending.ended == "stopped"


def test_3detr_s_skipped_steps_alone_are_no_stop(tmp_path):
    # LL3DA's engine skips up to max_tolerant_nan steps in a row and trains on: finite prints after the skips
    rep, _ = _analyze(
        tmp_path,
        "log.txt",
        _threedetr_log(
            ["Loss in not finite. Skip this training step."]
            + [
                f"Epoch [0/5]; Iter [{i}/9450]; Loss {9 - i / 20:.2f}; LR 1.00e-06; Iter time 3.72"
                for i in range(10, 60, 10)
            ]
        ),
    )
    assert any(e.kind == "nonfinite_step_skipped" for _, e in rep.timeline.log_events)
    assert rep.diverged is False and rep.ending.ended != "stopped"


@pytest.mark.parametrize(
    "line",
    [
        "if the loss is not finite, stop training",  # a condition: the check described
        "val loss is not finite, stopping training",  # an evaluation's
    ],
)
def test_not_finite_in_a_described_check_or_an_evaluation_is_no_stop(line):
    assert "nan_loss" not in dict(match_messages(line))


# ---------------------------------------------------------------- Ultralytics' own progress bar

# ultralytics/engine/trainer.py: the header ('\n' + '%11s' * (4 + len(loss_names)) % ('Epoch', 'GPU_mem', *loss_names,
# 'Instances', 'Size')), then each batch's row as the bar's description ('%11s' * 2 + '%11.4g' * (2 + n)); the bar is
# ultralytics/utils/tqdm.py's TQDM._display: f"{desc}: {percent:.0f}% {bar} {n}/{total} {rate} {elapsed}{remaining}"
ULTRA_HEADER = "      Epoch    GPU_mem   box_loss   cls_loss   dfl_loss  Instances       Size"


def _ultra_bar(n, total, done=False):
    filled = 12 * n // total
    bar = "━" * filled + "─" * (12 - filled)
    return f"{100 * n / total:.0f}% {bar} {n}/{total} 5.2it/s {n / 5.2:.1f}s" + ("" if done else "<12.0s")


def _ultra_row(epoch, epochs, losses, n, total):
    cells = "".join(f"{v:11.4g}" for v in losses)
    return f"{f'{epoch}/{epochs}':>11}{'2.61G':>11}{cells}{13:11.4g}{640:11.4g}: {_ultra_bar(n, total, n == total)}"


def _ultra_log(rows, header_first=True):
    lines = ["Starting training for 30 epochs...", ""]
    for i, (epoch, losses) in enumerate(rows):
        if header_first or i:
            lines.append(ULTRA_HEADER)
        lines.append(_ultra_row(epoch, 30, losses, 100, 100))
        lines.append(
            "                 Class     Images  Instances      Box(P          R      mAP50  mAP50-95): 100% "
            + "━" * 12
            + " 8/8 9.1it/s 0.9s"
        )
        lines.append("                   all        128        929      0.641      0.545      0.601      0.447")
    return "\n".join([*lines, ""])


@pytest.mark.parametrize("header_first", [True, False])
def test_ultralytics_own_bar_rows_are_read_as_its_tqdm_rows_were(tmp_path, header_first):
    # a paste may start at the first row, its header printed above the next one only
    rows = [(1, (1.5, 2.9, 1.3)), (2, (1.4, 2.5, 1.25)), (3, (1.35, 2.2, 1.21))]
    from forensics.readers.logs import parse_log_text

    series, *_ = parse_log_text(_ultra_log(rows, header_first), "output.txt")
    assert list(series["loss"].steps) == [100, 200, 300]
    assert series["loss"].values[0] == pytest.approx(1.5 + 2.9 + 1.3)
    rep, _ = _analyze(tmp_path, "output.txt", _ultra_log(rows, header_first))
    assert rep.diverged is False


def test_ultralytics_own_bar_rows_gone_nan_are_a_divergence(tmp_path):
    nan = float("nan")
    rep, _ = _analyze(tmp_path, "output.txt", _ultra_log([(1, (1.5, 2.9, 1.3)), (2, (nan, nan, nan))]))
    assert rep.diverged is True and rep.first_nonfinite_step == 200


@pytest.mark.parametrize(
    "line",
    [
        # the same bar drawing a download, and a validation pass under its header: no loss
        "Downloading https://github.com/ultralytics/assets/releases/download/v8.3.0/yolo11n.pt to 'yolo11n.pt': "
        "100% ━━━━━━━━━━━━ 5.4/5.4MB 32.1MB/s 0.2s",
        "                 Class     Images  Instances      Box(P          R      mAP50  mAP50-95): 100% "
        "━━━━━━━━━━━━ 8/8 9.1it/s 0.9s",
        # Keras 3's bar draws the same characters with no percentage
        "8/8 ━━━━━━━━━━━━━━━━━━━━ 0s 8ms/step - accuracy: 0.9 - loss: 0.3",
    ],
)
def test_lines_drawing_the_same_characters_read_as_before(line):
    from forensics.readers.logs import parse_log_text

    series, *_ = parse_log_text(line + "\n", "output.txt")
    assert set(series) <= {"loss", "accuracy"} and ("loss" not in series or "━━ 0s" in line)


# ---------------------------------------------------------------- a loss masked as 0 from its first print


def _trainer_dicts(losses, evals, every=3):
    # the HF Trainer's log lines (Trainer.log prints the logs dict): {'loss': ..., 'learning_rate': ..., 'epoch': ...}
    # and, every few, {'eval_loss': ..., 'eval_runtime': ..., 'epoch': ...}
    lines, evals = [], list(evals)
    for i, loss in enumerate(losses, 1):
        lines.append(f"{{'loss': {loss}, 'learning_rate': 1.0533245556287031e-07, 'epoch': {i / 1000:.2f}}}")
        if i % every == 0 and evals:
            lines.append(f"{{'eval_loss': {evals.pop(0)}, 'eval_runtime': 2365.9772, 'epoch': {i / 1000:.2f}}}")
    return "\n".join([*lines, ""])


def test_a_loss_at_zero_from_its_first_print_beside_a_nan_evaluation_is_a_masked_nan(tmp_path):
    rep, rules = _analyze(tmp_path, "output.txt", _trainer_dicts([0.0] * 9, ["nan"] * 3))
    assert rep.diverged is True and rep.timeline.exploded_verb == "collapsed"
    assert "NUM011" in rules


@pytest.mark.parametrize(
    ("losses", "evals"),
    [
        # a loss at 0 from the start with a finite evaluation: a GRPO or DPO loss, a margin met (NUM011 stays silent)
        ([0.0] * 9, ["0.412"] * 3),
        # a training loss that learns beside a NaN evaluation: the evaluation's own fault (OK004)
        ([2.31, 2.1, 1.9, 1.8, 1.7, 1.65, 1.6, 1.58, 1.55], ["nan"] * 3),
        # too few zeros to say where the run stood
        ([0.0, 0.0], ["nan"]),
    ],
)
def test_zeros_with_a_finite_evaluation_or_a_learning_loss_stay_as_they_were(tmp_path, losses, evals):
    rep, rules = _analyze(tmp_path, "output.txt", _trainer_dicts(losses, evals, every=min(3, len(losses))))
    assert rep.diverged is False and "NUM011" not in rules


# ---------------------------------------------------------------- Keras' History saved by pandas

HISTORY = Path(__file__).resolve().parent / "fixtures" / "logs" / "keras_history"  # make_log_fixtures.py


def _run_with(tmp_path, *files):
    run = tmp_path / "run"
    run.mkdir()
    for f in files:
        (run / f.name).write_bytes(f.read_bytes())
    return run


@pytest.mark.parametrize("name", ["diverged_history.csv", "diverged_history_noindex.csv"])
def test_a_keras_history_saved_by_pandas_is_read_with_its_nan_epochs(tmp_path, name):
    # Keras 3 trained at a too-high LR; pandas writes the NaN epochs as empty cells
    from forensics import analyze

    rep = analyze(_run_with(tmp_path, HISTORY / name))
    assert rep.diverged is True and rep.timeline.unit == "epoch"
    assert rep.first_nonfinite_step == 3  # rows 0 and 1 finite, row 2 NaN: the third epoch


@pytest.mark.parametrize("name", ["healthy_history.csv", "healthy_history_noindex.csv"])
def test_a_healthy_keras_history_saved_by_pandas_is_healthy(tmp_path, name):
    from forensics import analyze

    rep = analyze(_run_with(tmp_path, HISTORY / name))
    assert rep.timeline.loss is not None and len(rep.timeline.loss) == 12
    assert rep.diverged is False and rep.verdict.cause == "healthy"


@pytest.mark.parametrize(
    "header",
    [
        "loss,claim_amount,region",  # an insurer's data: a loss column with no 'val_' twin
        "loss,val_loss,feature_1",  # a column that is no History key
        "id,loss,val_loss",  # an id column first is no pandas index
    ],
)
def test_a_csv_that_is_no_keras_history_stays_no_metrics_file(header):
    from forensics.readers.metrics_csv import looks_like_metrics_csv

    assert not looks_like_metrics_csv(header)


# ---------------------------------------------------------------- a climb over two finite points


@pytest.mark.parametrize(
    ("values", "onset"),
    [
        ([5.29, 132.0], 1),  # tenfold and more straight into the NaN: a climb from the first point
        ([2.3, 4.1], None),  # under tenfold: two points are no trend
        ([0.0, 132.0], None),  # a loss of 0 sets no scale to rise from
    ],
)
def test_two_finite_points_before_a_blow_up_show_a_climb_only_when_tenfold(values, onset):
    import numpy as np

    from forensics.timeline import find_onset

    found = find_onset(np.array([1, 2]), np.array(values))
    assert (found.step if found is not None else None) == onset


def test_a_per_epoch_history_that_climbed_tenfold_into_nan_names_the_step_size(tmp_path):
    # the Keras 3 run at SGD 0.25 with momentum: 5.29, then 132, then NaN, one point per epoch
    from forensics import analyze

    rep = analyze(_run_with(tmp_path, HISTORY / "diverged_history.csv"))
    assert rep.verdict.cause == "learning_rate"
    assert "LR002" in {e.rule for c in rep.candidates for e in c.evidence if e.weight > 0}


# ---------------------------------------------------------------- the review's look-alikes


def test_an_out_of_memory_line_alone_beside_a_stated_lr_rests_on_the_settings(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "output.txt").write_text("RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n")
    (run / "config.json").write_text('{"learning_rate": 50.0, "optimizer": "sgd"}')
    from forensics import analyze

    rep = analyze(run)
    assert "its log says what stopped it" not in rep.verdict.summary


@pytest.mark.parametrize("path", ["src/proj/utils/my_scaler.py", "src/proj/datasets/feature_scaler.py"])
def test_a_zero_division_in_a_data_scaler_s_file_is_no_loss_scale(tmp_path, path):
    frames = [f'  File "{path}", line 12, in normalize', "    return x / (hi - lo)"]
    rep, _ = _analyze(tmp_path, "output.txt", _apex_zero_division(frames))
    assert not any(e.kind == "loss_scale_minimum" for _, e in rep.timeline.log_events)


def test_a_sparse_writer_s_empty_cells_are_no_nan(tmp_path):
    # a hand-rolled DictWriter filling one column a row: its empty cells are values left out, not pandas' NaN
    run = tmp_path / "run"
    run.mkdir()
    rows = ["loss,val_loss"] + [f"{1 - i / 20:.2f}," if i % 2 == 0 else f",{1 - i / 20:.2f}" for i in range(8)]
    (run / "history.csv").write_text("\n".join(rows) + "\n")
    from forensics import analyze

    assert analyze(run).diverged is False
