"""Logs whose values carry no loss name (docs/logs.md, 'unnamed values'): a comma-separated record after a counter's
name read by position, and rows of unnamed values (or values named only by their split) that say only that every
value went non-finite. Lines are built from each writer's own format string (named in a comment); look-alikes read as
before.
"""

import math
import re
import time

import pytest

import forensics
from forensics.readers import logs
from forensics.readers.logs import MAX_SEGMENT_BYTES, parse_log_text, read_job_log
from forensics.records import Kind, Source


def _nonfinite_events(events):
    return [e for e in events if e.kind == "nonfinite_values"]


# ---------------------------------------------------------------- a counter's name, its count, values, comma-separated


def _pointnetlk(epoch, *values):
    # hmgoforth/PointNetLK train_pointlk.py and its forks: logging.basicConfig(format='%(levelname)s:%(name)s,
    # %(asctime)s, %(message)s'); LOGGER.info('epoch, %04d, %f, %f, %f, %f', epoch + 1, running_loss, val_loss,
    # running_info, val_info)
    message = "epoch, " + ", ".join([f"{epoch + 1:04d}", *(f"{v:f}" for v in values)])
    return f"INFO:__main__, 2022-03-11 09:{epoch % 60:02d}:30,690, {message}"


def test_a_comma_separated_epoch_record_reads_its_first_value_as_the_loss_per_epoch(tmp_path):
    rows = [_pointnetlk(e, 0.1 + e / 100, 0.05, 0.002, 0.001) for e in range(88, 92)]
    rows += [_pointnetlk(e, math.nan, math.nan, math.nan, math.nan) for e in (197, 198)]
    text = "\n".join(rows) + "\nDEBUG:__main__, 2022-03-11 14:23:56,727, Training completed! Yay~~ (PID=1)\n"
    series, events, *_ = parse_log_text(text)
    loss = series["loss"]
    assert loss.steps.tolist() == [89, 90, 91, 92, 198, 199]
    assert loss.values[0] == pytest.approx(0.98) and math.isnan(loss.values[-1])
    assert "value_2" in series and not _nonfinite_events(events)  # the loss speaks
    path = tmp_path / "train.log"
    path.write_text(text)
    data = read_job_log(path, Source("train.log", Kind.JOB_LOG))
    note = data.source.note or ""
    assert data.step_unit == "epoch" and "print an epoch and 4 unnamed values: the first read as the loss" in note


@pytest.mark.parametrize(
    "row",
    [
        "INFO:x, 2022-03-11 09:36:30,690, epoch, {n}, 12, 14, 15",  # integers are no values
        "INFO:x, 2022-03-11 09:36:30,690, epoch, {n}, 0.5",  # one value
        "INFO:x, 2022-03-11 09:36:30,690, epoch, {n}, 0.5, 0.6, done",  # words after the values
        "epoch,{n},loss,0.5",  # a name,value record (comma_pairs)
        "epoch: {n} 0.5 0.6",  # the blank-separated form after an epoch, as before
    ],
)
def test_comma_record_look_alikes_give_no_positional_loss(row):
    series, events, *_ = parse_log_text("".join(row.format(n=n) + "\n" for n in range(1, 6)))
    assert "value_2" not in series and not _nonfinite_events(events)


# ---------------------------------------------------------------- a timestamped step and unnamed cells


def _epe(i, values):
    # isl-org PhotorealismEnhancement epe/experiment/BaseExperiment.py LogSync.print: line = [f'{i:d} '], then per
    # scalar f'{mean:.2f} ' or '---- ' when it has no value since the last print; self._log.info(''.join(line)) under
    # logging.basicConfig(format="%(asctime)s %(message)s")
    cells = "".join("---- " if v is None else f"{v:.2f} " for v in values)
    return f"2022-05-08 16:27:{i % 60:02d},927 {i:d} {cells}"


def _epe_rows(first, last, gen, disc):
    """Generator and discriminator iterations alternating, each dashing the other's columns."""
    return [_epe(i, gen + [None] * len(disc) if i % 2 == 0 else [None] * len(gen) + disc) for i in range(first, last)]


def test_timestamped_rows_of_unnamed_cells_say_when_every_value_went_non_finite():
    rows = _epe_rows(100, 104, [0.5, 0.2, 0.1], [0.7, 0.6])
    rows += _epe_rows(104, 110, [0.0, math.nan, math.nan], [math.nan, math.nan])
    series, events, *_ = parse_log_text("\n".join(rows) + "\n")
    assert "loss" not in series  # no column is named, and none is read as the loss
    (ev,) = _nonfinite_events(events)
    assert ev.step == 105 and ev.values["columns"] == 2


def test_an_analysis_of_such_a_log_says_the_run_diverged_and_what_was_read(tmp_path):
    rows = _epe_rows(17938, 17946, [0.0, math.nan], [math.nan, math.nan, math.nan])
    (tmp_path / "train.log").write_text("\n".join(rows) + "\n")
    report = forensics.analyze(str(tmp_path))
    assert report.diverged and report.first_nonfinite_step == 17939
    assert "names no loss" in report.verdict.summary and "not in the log" in report.verdict.summary
    assert "from a weak prior, not from evidence" in report.verdict.summary


@pytest.mark.parametrize(
    "rows",
    [
        # the non-finite columns print finite values again: the run's numbers came back
        _epe_rows(100, 104, [0.5], [math.nan, math.nan]) + _epe_rows(104, 108, [0.5], [0.3, 0.2]),
        # one non-finite value among finite ones (a metric with nothing to measure)
        _epe_rows(100, 108, [0.5, 0.4], [math.nan, 0.2]),
        # a single non-finite value per row
        _epe_rows(100, 108, [0.5], [math.nan]),
    ],
)
def test_timestamped_rows_that_do_not_all_go_non_finite_say_nothing(rows):
    _, events, *_ = parse_log_text("\n".join(rows) + "\n")
    assert not _nonfinite_events(events)


@pytest.mark.parametrize(
    "text",
    [
        # a printed data frame: an index and NaN cells, no logger's timestamp
        "".join(f"{i}  NaN  NaN  NaN\n" for i in range(5)),
        # a confusion matrix's rows (the heading names no loss)
        "Confusion matrix:\n" + "".join(f"{i}: nan nan nan\n" for i in range(3)),
        # a named loss beside the rows: the loss speaks
        "step 1 loss: 0.5\nstep 2 loss: 0.4\n" + "\n".join(_epe_rows(100, 104, [math.nan], [math.nan, math.nan])),
    ],
)
def test_non_finite_look_alikes_of_unnamed_rows_give_no_finding(text):
    _, events, *_ = parse_log_text(text + "\n")
    assert not _nonfinite_events(events)


# ---------------------------------------------------------------- values named only by their split


def _qlib(message, line=254):
    # microsoft/qlib qlib/log.py's logging format '[%(process)s:%(threadName)s](%(asctime)s) %(levelname)s -
    # %(name)s - [%(filename)s:%(lineno)d] - %(message)s'; qlib/contrib/model/pytorch_lstm_ts.py fit():
    # self.logger.info("Epoch%d:", step), ... self.logger.info("train %.6f, valid %.6f" % (train_score, val_score))
    return f"[37672:MainThread](2024-01-16 23:59:58,968) INFO - qlib.LSTM - [pytorch_lstm_ts.py:{line}] - {message}"


def _qlib_epoch(epoch, train, valid):
    head = [_qlib(f"Epoch{epoch:d}:", 248), _qlib("training...", 249), _qlib("evaluating...", 251)]
    return [*head, _qlib(f"train {train:.6f}, valid {valid:.6f}")]


def test_values_named_only_by_their_split_say_when_both_went_non_finite(tmp_path):
    text = "\n".join(_qlib_epoch(0, math.nan, math.nan)) + "\n"
    series, events, *_ = parse_log_text(text)
    assert "loss" not in series and "val_loss" not in series  # a score of unknown sense is no loss curve
    (ev,) = _nonfinite_events(events)
    assert ev.step is None and ev.values["what"] == "values named only by their split"
    (tmp_path / "train.log").write_text(text)
    report = forensics.analyze(str(tmp_path))
    assert report.diverged and "nor when" in report.verdict.summary


@pytest.mark.parametrize(
    "epochs",
    [
        [(0, -0.99, -0.98), (1, -0.97, -0.98)],  # finite scores: nothing read
        [(0, math.nan, -0.98)],  # the evaluation's value finite: not every value
        [(0, math.nan, math.nan), (1, -0.97, -0.98)],  # finite again after it
    ],
)
def test_split_named_look_alikes_give_no_finding(epochs):
    text = "\n".join(line for e in epochs for line in _qlib_epoch(*e)) + "\n"
    series, events, *_ = parse_log_text(text)
    assert not _nonfinite_events(events) and "loss" not in series


def test_an_evaluation_of_unlabelled_rows_printing_nan_is_no_divergence(tmp_path):
    # christsaizyt US-Stock-Market-Prediction-by-LSTM: print(' ############## validation on', name, 'data
    # ############## ') then print('scaled data mse: ', mse): one named value, NaN on the rows with no label
    blocks = [("test", 0.0229), ("valid", 0.0753), ("lately", math.nan)]
    text = "".join(
        f" ############## validation on {n} data ############## \nscaled data mse:  {v}\n" for n, v in blocks
    )
    (tmp_path / "train.log").write_text(text)
    assert not _nonfinite_events(parse_log_text(text)[1])
    assert not forensics.analyze(str(tmp_path)).diverged


# ---------------------------------------------------------------- linear time


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "filler",
    ["a,epoch,1,1.5,1.5,", ",epoch, 1, 1.5", "1.5 ", "---- ", "1.5 ---- nan ", "train 1.5, valid ", " train 1.5,"],
)
def test_the_new_shapes_read_adversarial_lines_in_linear_time(filler):
    names = ("_COMMA_COUNTER_VALUES", "_STAMPED_STEP_CELLS", "_SPLIT_VALUES", "_CELL_SPLIT")
    for lead in ("", "2022-05-08 16:27:05,927 1 ", "INFO:x, 2022-03-11 09:36:30,690, epoch, 1"):
        line = lead + filler * ((MAX_SEGMENT_BYTES - len(lead)) // len(filler))
        start = time.process_time()
        for name in names:
            pattern: re.Pattern[str] = getattr(logs, name)
            pattern.search(line)
            pattern.fullmatch(line)
        parse_log_text(line + "\n")
        assert (time.process_time() - start) / len(line) * 1e6 < 40.0


def test_a_counter_led_row_alone_is_no_table_and_says_nothing():
    # fewer rows of the shape than a table takes: an index and NaN values may be anything's
    text = "\n".join(_epe_rows(100, 102, [math.nan, math.nan], [math.nan, math.nan])) + "\n"
    assert not _nonfinite_events(parse_log_text(text)[1])
    assert not _nonfinite_events(parse_log_text("5: nan nan\n")[1])


def test_a_data_frame_printed_with_a_date_and_time_index_is_no_training_record(tmp_path):
    # print(df.head()) of pandas' own repr: a DatetimeIndex reads as a logger's date and time, an integer column as
    # a step, and rolling features are NaN over their first window. The integer column does not grow from row to
    # row as a loop's counter does (the reader asks the same of rows it reads a loss from): no divergence.
    pd = pytest.importorskip("pandas")
    index = pd.date_range("2020-01-02 09:30", periods=40, freq="min", name="datetime")
    frame = pd.DataFrame({"volume": [1775, 1455, 1266, 904, 961] * 8}, index=index)
    frame["ma_20"] = frame.volume.rolling(20).mean()
    frame["std_20"] = frame.volume.rolling(20).std()
    text = str(frame.head()) + "\n"
    assert not _nonfinite_events(parse_log_text(text)[1])
    # the same rows with a counter that grows are a record (LogSync.print's shape), as before
    grown = re.sub(r"(:00) +\d+", lambda m: f"{m.group(1)} {100 + text.index(m.group(0))}", text)
    assert _nonfinite_events(parse_log_text(grown)[1])
