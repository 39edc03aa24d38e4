"""Training tables the extractor did not read (heldout13's nolearn, xLearn, XGBoost and stable-baselines3 logs), each
on lines built from the writer's own format (named in a comment), with look-alikes that must read as before.
"""

import math

from forensics.readers.logmetrics import header_columns, nolearn_row, xgboost_eval
from forensics.readers.logs import parse_log_text


def _read(text, filename="train.log"):
    series, *_ = parse_log_text(text, filename)
    return series


def _points(series, tag):
    return list(zip(series[tag].steps.tolist(), series[tag].values.tolist(), strict=True))


def _nan_at(points):
    return [s for s, v in points if math.isnan(v)]


# ---------------------------------------------------------------- nolearn's PrintLog


def _tabulate_simple(header, rows):
    # tabulate's 'simple' format as nolearn's PrintLog calls it (tabulate([info], headers="keys", floatfmt='.5f')):
    # numbers right-aligned, strings left-aligned, two blanks between columns, a rule of dashes under the header;
    # PrintLog prints the header and the rule with the first epoch only, then each epoch's last line
    cells = [[f"{v:.5f}" if isinstance(v, float) else str(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    numeric = [not isinstance(rows[0][i], str) for i in range(len(header))]

    def line(values):
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True))

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in cells)]


def _nolearn(rows, regression=True):
    # nolearn/lasagne/handlers.py PrintLog.table: epoch, train loss, valid loss, train/val (train_loss / valid_loss),
    # 'valid acc' unless the net is a regression, then dur as "{:.2f}s"
    header = ["epoch", "train loss", "valid loss", "train/val"] + ([] if regression else ["valid acc"]) + ["dur"]
    out = []
    for epoch, train, valid, acc in rows:
        ratio = train / valid if math.isfinite(train) and math.isfinite(valid) else math.nan
        out.append([epoch, train, valid, ratio] + ([] if regression else [acc]) + ["1.04s"])
    return _tabulate_simple(header, out)


ROWS = [(241, 1.62136, 3.61951, 0.45), (242, 1.62833, 3.60246, 0.45), (243, 1.63092, math.nan, 0.1)]
ROWS += [(244, math.nan, math.nan, 0.1)]


def test_nolearns_table_under_its_header_reads_both_losses():
    lines = _nolearn(ROWS, regression=False)
    assert header_columns(lines[0]) == ["epoch", "train loss", "valid loss", "train/val", "valid acc", "dur"]
    got = _read("\n".join(lines) + "\n")
    assert [s for s, _ in _points(got, "loss")] == [241, 242, 243, 244] and _nan_at(_points(got, "loss")) == [244]
    assert _nan_at(_points(got, "val_loss")) == [243, 244]


def test_nolearns_rows_without_their_header_are_read_by_the_ratio_they_print():
    for regression in (True, False):
        got = _read("\n".join(_nolearn(ROWS, regression)[2:]) + "\n")
        assert _nan_at(_points(got, "loss")) == [244] and _points(got, "loss")[0] == (241, 1.62136)
        assert _nan_at(_points(got, "val_loss")) == [243, 244]


def test_rows_whose_third_value_is_no_ratio_are_not_nolearns():
    # a printed DataFrame with a duration column, and a row whose third cell is not the first over the second
    assert nolearn_row("     3    1.20000    3.00000    0.90000  1.04s") is None
    frame = "     a    b    c    d\n0  0.1  0.2  0.3  1.5s\n1  0.4  0.5  nan  2.5s\n2  nan  nan  nan  3.5s\n"
    assert not {"loss", "val_loss"} & set(_read(frame))
    # a pandas DataFrame of floats, NaN and all (no duration cell)
    frame = "        x        y    ratio\n0  1.00000  2.00000  0.50000\n1      nan      nan      nan\n"
    assert not {"loss", "val_loss"} & set(_read(frame))


# ---------------------------------------------------------------- xLearn's progress table


def _xlearn(names, rows, marked=True):
    # xLearn src/solver/trainer.cc: show_head_info prints '[------------]' then print_row of 'Epoch' (width 6),
    # 'Train ' + loss_type, 'Test ' + loss_type and 'Test ' + metric_type (20 each, with a validation set), and
    # 'Time cost (sec)' (20); show_train_info prints '[ ', the percent in 4 places, '%      ]', then print_row of
    # '%d' epoch, '%.6f' losses and metric, '%.2f' time; print_row right-aligns each cell in its width
    widths = [6] + [20] * (len(names) - 1)
    head = ("[------------]" if marked else "") + "".join(n.rjust(w) for n, w in zip(names, widths, strict=True))
    out = [head]
    for epoch, values, total in rows:
        cells = [str(epoch), *(f"{v:.6f}" for v in values), "0.29"]
        pct = f"[ {int(epoch * 100 / total):4d}%      ]" if marked else ""
        out.append(pct + "".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)))
    return out


def test_xlearns_table_reads_the_train_loss_and_keeps_the_test_columns_apart():
    names = ["Epoch", "Train log_loss", "Test log_loss", "Test AUC", "Time cost (sec)"]
    rows = [(1, (0.52, 0.55, 0.71), 10), (2, (0.50, 0.54, 0.72), 10), (3, (math.nan, math.nan, 0.5), 10)]
    lines = _xlearn(names, rows)
    assert header_columns(lines[0]) == names
    got = _read("\n".join(lines) + "\n")
    assert _points(got, "loss")[:2] == [(1, 0.52), (2, 0.50)] and _nan_at(_points(got, "loss")) == [3]
    assert _points(got, "test_auc")[0] == (1, 0.71) and _nan_at(_points(got, "test_log_loss")) == [3]
    # without a validation set, and as the docs print it (no progress cells)
    rows = [(e, (0.5 - e / 100,), 10) for e in (1, 2)] + [(10, (math.nan,), 10)]
    for marked in (True, False):
        got = _read("\n".join(_xlearn(["Epoch", "Train mse", "Time cost (sec)"], rows, marked)) + "\n")
        assert [s for s, _ in _points(got, "loss")] == [1, 2, 10] and _nan_at(_points(got, "loss")) == [10]


def test_a_header_whose_names_are_metrics_apart_is_still_split_by_word():
    # 'loss acc' under uneven padding: two columns, as every word names a metric alone
    assert header_columns("epoch   loss acc") == ["epoch", "loss", "acc"]
    got = _read("epoch   loss acc\n1 0.5 0.7\n2 0.4 0.8\n")
    assert _points(got, "loss") == [(1, 0.5), (2, 0.4)]
    # a comment-marked header keeps its marker apart (DeePMD-kit's lcurve.out)
    assert header_columns("# step       rmse_val    rmse_trn    lr")[:2] == ["#", "step"]


def test_a_per_class_table_reads_no_loss():
    text = "          precision    recall  f1-score   support\n\n    class 0       0.90      0.85      0.87       100\n"
    assert "loss" not in _read(text)


# ---------------------------------------------------------------- XGBoost's evaluation lines


def _xgb(i, entries, sep="\t"):
    # xgboost/callback.py EvaluationMonitor: msg = f"[{epoch}]" then, per (data, metric), '\t' + data + '-' +
    # metric + ':' + f'{score:.5f}' (the C++ learner's EvalOneIter prints the same); SageMaker's syslog writes the
    # tab as '#011'
    return f"[{i}]" + "".join(f"{sep}{d}-{m}:{v:.5f}" for d, m, v in entries)


def test_xgboosts_loss_metrics_are_the_loss_per_set():
    lines = [
        _xgb(i, [("train", "gamma-nloglik", v), ("eval", "gamma-nloglik", v + 0.1)]) for i, v in ((0, 3.0), (1, 2.5))
    ]
    lines.append(_xgb(2, [("train", "gamma-nloglik", math.nan), ("eval", "gamma-nloglik", math.nan)]))
    got = _read("\n".join(lines) + "\n")
    assert _points(got, "loss")[:2] == [(0, 3.0), (1, 2.5)] and _nan_at(_points(got, "loss")) == [2]
    assert _nan_at(_points(got, "val_loss")) == [2]
    # the sklearn API's set names, a score printed before the loss, and the syslog's escaped tab
    line = _xgb(5, [("validation_0", "auc", 0.7), ("validation_0", "mlogloss", 1.02)], sep="#011")
    assert xgboost_eval(line).pairs == [("val_loss", 1.02), ("val_auc", 0.7)]
    assert xgboost_eval(_xgb(5, [("dtrain", "rmse", 0.4), ("dtrain", "mae", 0.3)])).pairs == [("loss", 0.4)]


def test_an_xgboost_run_scored_only_by_auc_or_error_has_no_loss():
    for metric in ("auc", "error", "map@5"):
        lines = [_xgb(i, [("train", metric, 0.6 + i / 100), ("eval", metric, 0.5)]) for i in range(4)]
        got = _read("\n".join(lines) + "\n")
        assert "loss" not in got and "val_loss" not in got
    # a bracketed counter before other words is no evaluation line
    assert xgboost_eval("[0] train loss: 0.5") is None


# ---------------------------------------------------------------- stable-baselines3's logger box


def _sb3_box(values):
    # stable_baselines3/common/logger.py HumanOutputFormat.write: keys sorted, a '<tag>/' row with an empty value
    # before the keys under it, each of them indented by 3; floats as f"{value:<8.3g}"; a border of
    # key_width + val_width + 7 dashes above and below
    rows, tag = [], ""
    for key, value in sorted(values.items()):
        shown = f"{value:<8.3g}" if isinstance(value, float) else str(value)
        if key.find("/") > 0 and key[: key.find("/") + 1] != tag:
            tag = key[: key.find("/") + 1]
            rows.append((tag, ""))
        rows.append((f"{'':3}{key[len(tag) :]}" if tag and key.startswith(tag) else key, shown))
    kw, vw = max(len(k) for k, _ in rows), max(len(v) for _, v in rows)
    dashes = "-" * (kw + vw + 7)
    return [dashes, *(f"| {k}{' ' * (kw - len(k))} | {v}{' ' * (vw - len(v))} |" for k, v in rows), dashes]


def _ppo(loss, timesteps):
    return {
        "rollout/ep_rew_mean": -1060.0,
        "time/total_timesteps": timesteps,
        "train/entropy_loss": -1.07,
        "train/loss": loss,
        "train/value_loss": 12.5,
    }


def test_sb3s_box_gives_its_loss_and_a_box_cut_by_the_pastes_end_too():
    lines = _sb3_box(_ppo(0.5, 2048)) + _sb3_box(_ppo(math.nan, 4096))
    got = _read("\n".join(lines) + "\n")
    assert _points(got, "loss")[0][1] == 0.5 and math.isnan(_points(got, "loss")[-1][1])
    cut = _sb3_box(_ppo(0.5, 2048)) + _sb3_box(_ppo(0.4, 4096))[:-1]
    assert [v for _, v in _points(_read("\n".join(cut) + "\n"), "loss")] == [0.5, 0.4]


def test_a_config_box_cut_by_the_pastes_end_reads_no_loss():
    box = _sb3_box({"batch_size": 64, "gamma": 0.99, "n_steps": 2048, "policy": "MlpPolicy"})[:-1]
    got = _read("\n".join(box) + "\n")
    assert "loss" not in got
