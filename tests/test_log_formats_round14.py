"""Progress lines the extractor did not read (heldout14's tf_cnn_benchmarks, burn and ADGM logs), each on lines built
from the writer's own format (named in a comment), with look-alikes that must read as before.
"""

import math

from forensics.readers.logmetrics import header_columns, main_loss_and_basis, scan_line
from tests.test_log_tables_round14 import _points, _read


def _loss(line):
    found, basis = main_loss_and_basis(scan_line(line).pairs)
    return dict(found).get("loss"), basis


# ---------------------------------------------------------------- tf_cnn_benchmarks


def _perf(mean, uncertainty, jitter, scale=1):
    # benchmark_cnn.py get_perf_timing_str: the throughput with its uncertainty and jitter, or alone when scaled
    # (the writer's own %-formats, kept as it writes them)
    if scale == 1:
        return "images/sec: %.1f +/- %.1f (jitter = %.1f)" % (mean, uncertainty, jitter)  # noqa: UP031
    return "images/sec: %.1f" % mean  # noqa: UP031


def _benchmark(losses, scale=1, loss_column=True):
    # benchmark_cnn.py: the header 'Step\tImg/sec\t' + the loss's name, then '%i\t%s\t%.*f' per displayed step
    lines = ["Step\tImg/sec\ttotal_loss" if loss_column else "Step\tImg/sec"]
    for step, loss in losses:
        cell = _perf(6690.0 + step, 314.3, 813.2, scale)
        row = "%i\t%s\t%.*f" % (step, cell, 3, loss) if loss_column else "%i\t%s" % (step, cell)  # noqa: UP031
        lines.append(row)
    return lines


BENCH = [(1, 9.428), (10, 9.259), (20, math.nan), (30, math.nan)]


def test_tf_cnn_benchmarks_rows_with_tabs_read_the_loss():
    got = _points(_read("\n".join(_benchmark(BENCH)) + "\n"), "loss")
    assert [s for s, _ in got] == [1, 10, 20, 30]
    assert got[1][1] == 9.259 and math.isnan(got[2][1])


def test_tf_cnn_benchmarks_rows_pasted_with_the_tabs_turned_to_blanks():
    lines = [line.expandtabs() for line in _benchmark(BENCH)]
    assert header_columns(lines[0]) == ["Step", "Img/sec", "total_loss"]
    got = _points(_read("\n".join(lines) + "\n"), "loss")
    assert [s for s, _ in got] == [1, 10, 20, 30] and math.isnan(got[3][1])


def test_tf_cnn_benchmarks_scaled_throughput_cell():
    lines = [line.expandtabs() for line in _benchmark(BENCH, scale=2)]
    assert [s for s, _ in _points(_read("\n".join(lines) + "\n"), "loss")] == [1, 10, 20, 30]


def test_benchmark_rows_without_a_loss_column_read_no_loss():
    for lines in (_benchmark(BENCH, loss_column=False), [x.expandtabs() for x in _benchmark(BENCH, loss_column=False)]):
        assert "loss" not in _read("\n".join(lines) + "\n")
    # rows that lost their loss under a header naming one: no row fits the header
    header, *rows = _benchmark(BENCH)
    cut = [header.expandtabs()] + [r.rsplit("\t", 1)[0].expandtabs() for r in rows]
    assert "loss" not in _read("\n".join(cut) + "\n")


def test_a_blank_padded_header_off_the_tab_stops_keeps_its_names():
    # nolearn's two-blank padding: names of two words stay whole (the tab stops rule needs every name on a stop)
    assert header_columns("epoch  train loss  valid loss  dur") == ["epoch", "train loss", "valid loss", "dur"]
    # the first name on a tab stop, a word of the second off one: blanks set the names apart, not tabs
    assert header_columns("step    train loss") == ["step", "train loss"]


# ---------------------------------------------------------------- burn's CLI dashboard


def _burn(name, running, current, unit=None, stage="Train"):
    # burn-train NumericMetricState::update ('epoch {running} - batch {current}', the unit after each value where the
    # metric has one; Rust prints NaN as 'NaN') under the CLI renderer's '  - Train {name}: {formatted}'
    u = f" {unit}" if unit else ""
    return f"  - {stage} {name}: epoch {_rust(running)}{u} - batch {_rust(current)}{u}"


def _rust(value):
    return "NaN" if math.isnan(value) else f"{value:.2f}"


def test_burn_dashboard_metrics_read_the_epochs_running_mean():
    assert _loss(_burn("Loss", 2.31, 2.29)) == (2.31, None)
    assert math.isnan(_loss(_burn("Loss", math.nan, math.nan))[0])
    assert scan_line(_burn("Loss", 0.52, 0.5, stage="Valid")).pairs == [("val_loss", 0.52)]
    assert scan_line(_burn("Accuracy", 12.5, 10.0, unit="%")).pairs == [("accuracy", 12.5)]
    assert scan_line("  - Train Loss: epoch 1.5e-3 - batch 1.2e-3").pairs == [("loss", 0.0015)]


def test_burn_dashboard_block_gives_a_nan_loss():
    block = ["", "[Metrics]", _burn("Accuracy", 0.0, 0.0, unit="%"), _burn("Loss", math.nan, math.nan)]
    block += [_burn("Accuracy", 0.0, 0.0, unit="%", stage="Valid"), _burn("Loss", math.nan, math.nan, stage="Valid")]
    block += ["", "[Progress]", "  - Iteration 1422 Epoch 2/6"]
    got = _read("\n".join(block * 2) + "\n")
    assert got["loss"].values.size and all(math.isnan(v) for v in got["loss"].values.tolist())


def test_epoch_and_batch_counters_in_prose_stay_counters():
    # a log line counting the batches of an epoch (logger.info("Fit g: epoch {} - batch {}".format(epoch, bi)))
    m = scan_line("Fit g: epoch 3 - batch 12")
    assert m.pairs == [] and m.epoch == 3
    # whole numbers are a counter's; words after the readings are prose
    assert scan_line("Loss: epoch 3 - batch 12").pairs == []
    assert scan_line("Training on epoch 3 - batch 5").pairs == []


# ---------------------------------------------------------------- a variational lower bound by name


def _adgm(epoch, lb, labeled, unlabeled):
    # larsmaaloee ADGM/SDGM training loop: 'epoch=%04d; time=%0.2f;' then train_args' outputs as 'name=%0.4f;'
    # ('lb', 'lb-labeled', 'lb-unlabeled'), then test and validation as '%0.2f%%'
    return (
        f"epoch={epoch:04d}; time=115.93; lb={lb:0.4f}; lb-labeled={labeled:0.4f}; "
        f"lb-unlabeled={unlabeled:0.4f}; test=2.53%; validation=2.52%;"
    )


def test_adgm_lb_with_its_parts_is_the_loss():
    # the printed 'lb' is the negated bound (elbo = (...) / -n), positive: the loss as printed
    loss, basis = _loss(_adgm(131, 196.7493, 54.7495, 89.8326))
    assert loss == 196.7493 and "lower bound" in basis
    assert math.isnan(_loss(_adgm(133, math.nan, math.nan, math.nan))[0])
    got = _points(_read("\n".join(_adgm(e, v, 54.7, 89.8) for e, v in ((1, 200.1), (2, 199.5), (3, math.nan)))), "loss")
    assert [s for s, _ in got] == [1, 2, 3] and math.isnan(got[2][1])


def test_an_elbo_printed_below_zero_is_the_bound():
    assert _loss("Epoch 3, step 100: elbo: -98.52")[0] == 98.52
    assert _loss("epoch 1: lower_bound=-120.3 kl=3.2")[0] == 120.3


def test_bound_look_alikes_read_no_loss():
    assert _loss("lb=0.1; lb-x=2")[0] is None  # no counter: a setting
    assert _loss("epoch 3 lb=0.1; ub=1.0")[0] is None  # a range's bounds
    assert _loss("epoch 3 weight: 150 lb")[0] is None  # a weight in pounds
    assert _loss("Epoch 2 lb=-95.1")[0] is None  # 'lb' alone, without its parts
    assert _loss("epoch 1: lower_bound=-120.3 upper_bound=2")[0] is None
    assert _loss("Epoch 2, loss: 0.5, elbo: -0.5")[0] == 0.5  # a printed loss stays the loss
