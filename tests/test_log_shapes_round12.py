"""Issue #11, twelfth round: classes of heldout10's unread losses (docs/logs.md), each on lines built from the toolkit's
own format string (named in a comment), with look-alikes that must read as before.
"""

import math

import pytest

from forensics.readers.logmetrics import comma_pairs, main_loss_and_basis, summed_list_cells
from forensics.readers.logs import parse_log_text, read_job_log
from forensics.records import Kind, Source


def _read(text, filename="train.log", tmp_path=None):
    """The series read from ``text``, and the source note's sentences when the log is written out (tmp_path)."""
    series, *_ = parse_log_text(text, filename)
    if tmp_path is None:
        return series, []
    path = tmp_path / filename
    path.write_text(text, encoding="utf-8")
    note = read_job_log(path, Source(filename, Kind.JOB_LOG, size=path.stat().st_size)).source.note or ""
    return series, [note]


def _points(series, tag):
    return list(zip(series[tag].steps.tolist(), series[tag].values.tolist(), strict=True))


# ---------------------------------------------------------------- comma-separated name,value pairs


def _frcnn_record(cls, regr, ccls, cregr, acc, elapsed):
    # keras-frcnn (yhenon, Keras 2, 2017) keeps per epoch the record loss_rpn_cls, loss_rpn_regr, loss_class_cls,
    # loss_class_regr, class_acc, elapsed_time; written flat, one 'name,value' after another
    return (
        f"loss_rpn_cls,{cls},loss_rpn_regr,{regr},loss_class_cls,{ccls},loss_class_regr,{cregr},"
        f"class_acc,{acc},elapsed_time,{elapsed}"
    )


def test_comma_separated_pairs_are_read_and_their_loss_terms_summed(tmp_path):
    text = "\n".join(
        [
            "Epoch 1:",
            _frcnn_record(0.77, 0.11, 1.49, 0.36, 0.57, 9.77),
            "Epoch 2:",
            _frcnn_record(0.7, 0.1, "nan", 0.3, 0.5, 9.8),
        ]
    )
    series, notes = _read(text + "\n", tmp_path=tmp_path)
    values = [v for _, v in _points(series, "loss")]
    # keras-frcnn's curr_loss is the sum of the four terms; a NaN term makes it NaN
    assert values[0] == pytest.approx(0.77 + 0.11 + 1.49 + 0.36) and math.isnan(values[1])
    assert any("sum of" in n for n in notes)


@pytest.mark.parametrize(
    "line",
    [
        "epoch,loss,acc,lr",  # a CSV header: names only
        "1,0.5,0.8,0.001",  # a CSV row: numbers only
        "loss,0.5",  # one pair: too little to tell from prose
        "loss_rpn_cls,0.77,loss_rpn_regr",  # a name without its value
        "a, b, c, d",  # words
        "2023-01-01,12:00:01,loss,0.5",  # a date and a time are no names
    ],
)
def test_comma_separated_look_alikes_are_no_pairs(line):
    assert comma_pairs(line) is None


# ---------------------------------------------------------------- keras-rl's interval summary, OpenPCDet's epochs bar


def _keras_rl_interval(n, steps, reward, loss):
    # keras-rl 0.x rl/callbacks.py TrainIntervalLogger: 'Interval {} ({} steps performed)', a Progbar over the
    # interval (' - reward: x'), then '{} episodes - episode_reward: {:.3f} [{:.3f}, {:.3f}]' and ' - {}: {:.3f}'
    # per metric
    return (
        f"Interval {n} ({steps} steps performed)\n"
        f"10000/10000 [==============================] - 45s - reward: {reward}\n"
        f"50 episodes - episode_reward: {reward * 200:.3f} [-1778.884, -888.810] - loss: {loss} - "
        "mean_absolute_error: 0.539 - mean_q: -31.124\n\n"
    )


def test_keras_rl_interval_summary_is_read_at_the_intervals_last_step():
    text = "Training for 1000000 steps ...\n" + "".join(
        _keras_rl_interval(i + 1, i * 10000, r, loss)
        for i, (r, loss) in enumerate([(-6.6, 0.8), (-3.2, 1.6), (-1.7, 3.5)])
    )
    series, _ = _read(text)
    assert _points(series, "loss") == [(10000, 0.8), (20000, 1.6), (30000, 3.5)]
    assert [s for s, _ in _points(series, "reward")] == [10000, 20000, 30000]


def test_a_keras_style_line_not_under_a_bar_reads_as_before(tmp_path):
    # the same ' - name: value' line with no Keras bar above it: numbered in line order, as before
    line = "50 episodes - episode_reward: -1338.704 [-1778.884, -888.810] - loss: 0.804 - mean_q: -31.124"
    series, notes = _read(f"{line}\n{line}\n", tmp_path=tmp_path)
    assert [v for _, v in _points(series, "loss")] == [0.804, 0.804]
    assert any("order the lines were printed" in n for n in notes)


def _pcdet_lines(it, loss):
    # OpenPCDet tools/train_utils/train_utils.py: tqdm.trange(..., desc='epochs') over the epochs and
    # tqdm(total=total_it_each_epoch, desc='train') within one; per iteration pbar.set_postfix(dict(total_it=...)) and
    # tbar.set_postfix(disp_dict) with disp_dict {'loss': .., 'lr': .., 'd_time': .., ...} (DSVT adds the terms)
    return (
        f"train:   0%|          | {it}/19761 [00:23<3:55:35,  1.40it/s, total_it={it}]\n"
        f"epochs:   0%|          | 0/24 [00:25<?, ?it/s, loss_hm={loss}, loss_loc=0.5, loss={loss}, lr=2e-5, "
        "d_time=0.00(0.02), f_time=0.68(0.70), b_time=0.70(0.72)]\n"
    )


def test_openpcdet_epochs_bar_postfix_is_the_iterations_values():
    series, _ = _read(_pcdet_lines(32, 1.5) + _pcdet_lines(33, "nan"))
    points = _points(series, "loss")
    assert [s for s, _ in points] == [32, 33] and points[0][1] == 1.5 and math.isnan(points[1][1])


def test_an_epochs_bar_with_no_iteration_counter_is_placed_on_its_running_epoch():
    # the bar cut by another writer's warning before the inner bar is drawn (the paste keeps only the outer one)
    line = "epochs:   0%| | 0/24 [00:25<?, ?it/s, loss_hm=nan, loss_loc=nan, loss=nan, lr=2e-5, d_time=0.00(0.02)]"
    series, _ = _read(line + "\n")
    assert [s for s, _ in _points(series, "loss")] == [1]


def test_a_bar_described_epoch_n_reads_as_before():
    # Lightning's 'Epoch 3:' bar is no bar over the epochs: its count is the batch
    text = "Epoch 3:  50%|#####     | 50/100 [00:10<00:10, 5.00it/s, loss=0.25, v_num=0]\n"
    series, _ = _read(text)
    assert _points(series, "loss") == [(349, 0.25)]


# ---------------------------------------------------------------- a table of lists


def _deepxde(step, train, test):
    # DeepXDE deepxde/display.py TrainingDisplay: print_one(s1, s2, s3, s4) pads 'Step' to 10 and the other cells to
    # the widths of the first row's; utils list_to_str writes '[{:.2e}, ...]' (an empty metric list: '[]')
    cell = "[" + ", ".join(f"{v:.2e}" for v in train) + "]"
    tcell = "[" + ", ".join(f"{v:.2e}" for v in test) + "]"
    return f"{step:<10}{cell:<34}{tcell:<34}[]"


def test_deepxde_loss_cells_read_as_the_sum_of_their_terms(tmp_path):
    header = f"{'Step':<10}{'Train loss':<34}{'Test loss':<34}Test metric"
    rows = [_deepxde(s, t, t) for s, t in [(0, [1.2e-1, 3.4e-2, 1e-3]), (1000, [1.6e-3, 4.9e-6, 1.2e-3])]]
    rows.append(_deepxde(2000, [math.nan, math.nan, math.nan], [math.nan, math.nan, math.nan]))
    series, notes = _read("\n".join(["Training model...", "", header, *rows]) + "\n", tmp_path=tmp_path)
    points = _points(series, "loss")
    assert [s for s, _ in points] == [0, 1000, 2000]
    assert points[0][1] == pytest.approx(0.12 + 0.034 + 0.001, rel=1e-4) and math.isnan(points[2][1])
    assert any("sum of each loss cell" in n for n in notes)


@pytest.mark.parametrize(
    "line",
    [
        "15000     0.5    [0.1, 0.2]",  # a plain value beside a list: not a row of lists only
        "[0.1, 0.2]    [0.3, 0.4]",  # no step before the lists
        "15000     [1, 2, 3] shapes",  # words after the lists
        "15000     [0.1; 0.2]",  # not a printed list of numbers
    ],
)
def test_list_cell_look_alikes_are_left_as_they_are(line):
    assert summed_list_cells(line) is None


# ---------------------------------------------------------------- unnamed values after a counter's name


def test_bare_values_after_a_batch_counter_read_by_position():
    # a loop of the user's over DeepCTR's model (xDeepFM, TF/Keras, 2020): print('batch:', i, total_loss, bce, acc)
    rows = [(383, "0.6420018", "0.6280691", "0.7282944"), (384, "0.6263658", "0.6280647", "0.7282823")]
    rows += [(387, "nan", "0.6595617", "0.72703314"), (388, "nan", "0.69080186", "0.72551566")]
    series, _ = _read("".join(f"batch: {n} {a} {b} {c}\n" for n, a, b, c in rows))
    assert [s for s, _ in _points(series, "loss")] == [383, 384, 387, 388]
    assert math.isnan(_points(series, "loss")[2][1])


@pytest.mark.parametrize(
    "row",
    [
        "epoch: {n} 0.5 0.6",  # an epoch is no step
        "batch: {n} 10.0.0.1 0.6",  # an address
        "batch: {n} 1.2.3 0.5",  # a version
        "batch: {n} 2023-01-01 0.5",  # a date
        "batch: {n} 12 14",  # integers
    ],
)
def test_bare_value_look_alikes_after_a_counter_give_no_loss(row):
    series, _ = _read("".join(row.format(n=n) + "\n" for n in range(1, 6)))
    assert "loss" not in series


# ---------------------------------------------------------------- objectives maximised, a discriminator alone


def _eesen(seqs, hours, obj, acc):
    # EESEN net/ctc-loss.cc (2016): KALDI_VLOG(1) << "After " << sequences_num_ << " sequences (" << hours << "Hr): "
    # << "Obj(log[Pzx]) = " << obj << "   TokenAcc = " << acc << "%"
    return (
        f"VLOG[1] (train-ctc-parallel:EvalParallel():ctc-loss.cc:182) After {seqs} sequences ({hours}Hr): "
        f"Obj(log[Pzx]) = {obj}   TokenAcc = {acc}%"
    )


def test_eesen_log_likelihood_objective_is_read_as_its_negative(tmp_path):
    text = "\n".join(_eesen(s, h, o, a) for s, h, o, a in [(1000, 1.2, -8.45, 97.5), (2000, 2.3, -8.6e29, 19.0)])
    series, notes = _read(text + "\n", "tr.iter14.log", tmp_path)
    assert [v for _, v in _points(series, "loss")] == [8.45, 8.6e29]
    assert any("negative of 'Obj(log[Pzx])'" in n for n in notes)


def _kaldi_phase(start, end, objf, aux=None):
    # Kaldi src/nnet3/nnet-training.cc ObjectiveFunctionInfo::PrintStatsForThisPhase: "Average objective function for
    # '" << output_name << "' for minibatches " << start << '-' << end << " is " << objf << " over " << w << " frames."
    # (with auxiliary objectives: objf << " + " << aux.Str() << " = " << sum)
    value = f"{objf}" if aux is None else f"{objf} + {aux} = {objf + aux:g}"
    return (
        "LOG (nnet3-train[5.5]:PrintStatsForThisPhase():nnet-training.cc:228) Average objective function for "
        f"'output' for minibatches {start}-{end} is {value} over 12800 frames."
    )


def test_kaldi_nnet3_objective_is_read_as_its_negative_at_the_phases_end(tmp_path):
    text = "\n".join([_kaldi_phase(0, 9, -2.41), _kaldi_phase(10, 19, -2.2, -0.1)])
    text += "\nLOG (nnet3-train[5.5]:PrintTotalStats():nnet-training.cc:290) Overall average objective function for "
    text += "'output' is -2.3 over 25600 frames.\n"
    series, notes = _read(text, tmp_path=tmp_path)
    assert _points(series, "loss") == [(9, 2.41), (19, pytest.approx(2.3))]
    assert any("Kaldi" in n for n in notes)


def test_kaldi_objective_of_an_auxiliary_output_is_not_the_loss():
    text = _kaldi_phase(0, 9, -2.41).replace("'output'", "'output-xent'") + "\n"
    series, _ = _read(text * 3)
    assert "loss" not in series


def test_a_discriminator_printing_alone_gives_its_loss_and_says_whose():
    # BasicSR / mmsr ESRGAN (2019): the iteration line's losses in '%.4e' format, only the discriminator's printed
    pairs = [("l_d_real", 0.32484), ("l_d_fake", 0.53701)]
    found, basis = main_loss_and_basis(pairs)
    assert dict(found)["loss"] == pytest.approx(0.86185) and "discriminator" in basis
    series, _ = _read("l_d_real: 3.2484e-01 l_d_fake: 5.3701e-01 D_real: -1.0425e+01 D_fake: -1.2688e+01\n")
    assert series["loss"].values.tolist() == [pytest.approx(0.86185)]


def test_generator_terms_beside_the_discriminators_keep_the_generators_loss():
    # BasicSR's full line: l_g_pix, l_g_percep, l_g_gan beside the discriminator's: the loss is the generator's sum
    pairs = [("l_g_pix", 0.01), ("l_g_percep", 1.0), ("l_g_gan", 0.05), ("l_d_real", 0.3), ("l_d_fake", 0.5)]
    found, basis = main_loss_and_basis(pairs)
    assert dict(found)["loss"] == pytest.approx(1.06) and "discriminator" not in basis
