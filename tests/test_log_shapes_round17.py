"""Issue #11, seventeenth round: mechanisms behind heldout22's misses (docs/logs.md), on lines built from the writers'
own format strings (named in a comment), each with look-alikes that must read as before.
"""

from forensics.readers.logmetrics import header_columns, row_metrics, scan_line
from forensics.readers.logs import parse_log_text
from tests.test_log_shapes_round16 import _analyze, _points

# ---------------------------------------------------------------- a list printed at every step is no history


def _pinn_callback(losses, pde, bcs):
    """NeuralPDE.jl's documented callback, as users copy it: println("loss: ", l); println("pde_losses: ",
    map(l_ -> l_(p), pde_inner_loss_functions)); println("bcs_losses: ", ...), a blank line after each (Julia prints
    NaN as 'NaN' and a vector as '[a, b, ...]')."""
    out = []
    for loss, p, b in zip(losses, pde, bcs, strict=True):
        out += [f"loss: {loss}", f"pde_losses: [{', '.join(map(str, p))}]", f"bcs_losses: [{', '.join(map(str, b))}]"]
        out.append("")
    return "\n".join(out) + "\n"


def test_a_list_printed_again_at_one_length_is_per_element_values_not_a_history():
    nan = float("nan")
    text = _pinn_callback(
        [20.37, nan, nan], [[0.65, 0.45, 0.24], [nan] * 3, [nan] * 3], [[0.28, 0.22], [nan] * 2, [nan] * 2]
    )
    series, *_ = parse_log_text(text)
    assert not [tag for tag in series if "pde_losses" in tag or "bcs_losses" in tag]
    assert _points(series, "loss")[0] == (1, 20.37)


def test_a_list_printed_before_each_loss_line_is_no_history_either(tmp_path):
    # the vector first, then the counter-less loss line it goes with; the loss goes NaN at the third iteration
    nan = float("nan")
    lists = [", ".join(str(v if i < 2 else nan) for v in (0.6, 0.4, 0.2)) for i in range(4)]
    text = "".join(f"pde_losses: [{lst}]\nloss: {20.0 - i if i < 2 else nan}\n\n" for i, lst in enumerate(lists))
    series, *_ = parse_log_text(text)
    assert not [tag for tag in series if "pde_losses" in tag]
    rep, _ = _analyze(tmp_path, "output.txt", text)
    assert rep.diverged and rep.timeline.loss.tag == "loss"


def test_the_loss_beside_such_lists_is_the_run_s_loss(tmp_path):
    nan = float("nan")
    text = _pinn_callback([20.37, nan, nan], [[0.65, 0.45], [nan] * 2, [nan] * 2], [[0.28, 0.22], [nan] * 2, [nan] * 2])
    rep, _ = _analyze(tmp_path, "output.txt", text)
    assert rep.diverged and rep.timeline.loss.tag == "loss"


def test_a_history_printed_once_or_grown_between_prints_stays_a_history():
    # Keras: print(history.history) after fit, once; and after a second fit that went on, longer
    once, *_ = parse_log_text("{'loss': [0.69, 0.52, 0.41], 'accuracy': [0.5, 0.7, 0.8]}\n")
    assert [v for _, v in _points(once, "loss")] == [0.69, 0.52, 0.41]
    grown, *_ = parse_log_text("{'loss': [0.69, 0.52]}\n{'loss': [0.69, 0.52, 0.41]}\n")
    assert [v for _, v in _points(grown, "loss")][-3:] == [0.69, 0.52, 0.41]
    # histories of equal length printed after each of several fits (k-fold), no loss line between: still read
    folds, *_ = parse_log_text("{'loss': [0.69, 0.52, 0.41]}\n{'loss': [0.71, 0.55, 0.43]}\n")
    assert "loss" in folds and len(folds["loss"]) >= 3
    # a list under the loss's name, then epoch lines of the same series: the epoch lines are kept whatever the lists
    mixed = "loss: [0.5, 0.4]\nloss: [0.6, 0.3]\n" + "".join(
        f"Epoch {e} loss: {v}\n" for e, v in enumerate((0.9, 0.7, 0.5), 1)
    )
    kept, *_ = parse_log_text(mixed)
    assert any(v == 0.5 for tag in kept if tag.startswith("loss") for v in kept[tag].values.tolist())
    # the same history printed twice, identical, is one history
    twice, *_ = parse_log_text("{'loss': [0.69, 0.52, 0.41]}\n{'loss': [0.69, 0.52, 0.41]}\n")
    assert [v for _, v in _points(twice, "loss")] == [0.69, 0.52, 0.41]


# ---------------------------------------------------------------- a bar whose description prints the step counter


def _crnn_bar(epoch, it, lr, loss, n, total):
    """bes-dev crnn-pytorch train.py: iterator.set_description("epoch: {}; iter: {}; lr: {}; loss_mean: {};
    loss: {}".format(...)) on tqdm(data_loader), whose bar follows the description after ': '."""
    return (
        f"epoch: {epoch}; iter: {it}; lr: {lr}; loss_mean: {loss}; loss: {loss}: {100 * n // total}%|█████| "
        f"{n}/{total} [00:42<00:00, 46.69it/s]"
    )


def _test_bar(acc, ed):
    """The same script's test phase: tqdm(data_loader) with set_description("acc: {:.4f}; avg_ed: {:.4f}")."""
    return f"acc: {acc:.4f}; avg_ed: {ed:.4f}: 100%|██████| 1/1 [00:00<00:00, 18.10it/s]"


def test_a_bar_s_own_step_counter_places_its_values_after_another_bar_came_first():
    lines = ["Test phase", _test_bar(0.0, 0.0), "acc: 0.0\tacc_best: 0; avg_ed: 18.43"]
    lines += [_crnn_bar(e, 1998 + 2000 * e, 1e-3, "nan", 2000, 2000) for e in range(3)]
    series, *_ = parse_log_text("\n".join(lines) + "\n")
    assert [s for s, _ in _points(series, "loss")] == [1998, 3998, 5998]


def test_an_evaluation_bar_with_a_counter_stays_an_evaluation_s():
    lines = [
        "loss: 0.50: 100%|█| 1000/1000 [00:10<00:00, 99it/s]",
        "Dev step: 0; loss: nan: 100%|█| 20/20 [00:01<00:00, 20it/s]",
    ]
    series, *_ = parse_log_text("\n".join(lines) + "\n")
    assert _points(series, "loss") == [(1000, 0.5)]


def test_a_dev_bar_redrawn_after_training_bars_is_no_training_loss():
    # train and dev bars of one script, each set_description(f"{stage} step: {i}; loss: {loss}")
    lines = [f"Train step: {i}; loss: {1.0 - i / 10:.2f}: {i}%|█| {i}/10 [00:01<00:00, 9it/s]" for i in (1, 2, 3)]
    lines += [f"Dev step: {i}; loss: nan: {i * 50}%|█| {i}/2 [00:01<00:00, 9it/s]" for i in (1, 2)]
    series, *_ = parse_log_text("\n".join(lines) + "\n")
    assert [v for _, v in _points(series, "loss")] == [0.9, 0.8, 0.7]
    # 'device' and 'value' in a training bar's description are no stage
    again, *_ = parse_log_text("device 0 value loss: 0.5: 50%|█| 5/10 [00:01<00:01, 9it/s]\n")
    assert _points(again, "loss") == [(5, 0.5)]


def test_a_bar_whose_description_holds_no_counter_reads_as_before():
    # a description of metrics only (set_description(f"loss: {loss:.4f}")): placed at the bar's count
    lines = [f"loss: {0.9 - n / 100:.4f}: {n}%|███| {n}/100 [00:01<00:01, 50it/s]" for n in (10, 20, 30)]
    series, *_ = parse_log_text("\n".join(lines) + "\n")
    assert [s for s, _ in _points(series, "loss")] == [10, 20, 30]


# ---------------------------------------------------------------- Caffe's parsed-log tables


def test_caffe_parse_log_tables_are_read_by_their_camel_case_names():
    # tools/extra/parse_log.sh writes '#Iters Seconds TrainingLoss LearningRate' (one blank apart), then rows;
    # tools/extra/parse_log.py writes a csv with 'NumIters,Seconds,TrainingLoss,LearningRate'
    text = (
        "#Iters Seconds TrainingLoss LearningRate\n0 3.02 1.2578 0.0001\n20 58.91 1.3897 0.0001\n40 114.7 nan 0.0001\n"
    )
    series, *_ = parse_log_text(text)
    assert _points(series, "loss")[-1][0] == 40 and [s for s, _ in _points(series, "loss")] == [0, 20, 40]
    header = header_columns("NumIters,Seconds,TestAccuracy,TestLoss")
    lm = row_metrics(header, "1000,120.5,0.51,1.23")
    assert lm.counters == [("step", 1000, None)] and dict(lm.pairs) == {"test_accuracy": 0.51, "test_loss": 1.23}


def test_a_comment_marker_glued_to_the_first_name_is_no_column_of_its_own():
    # '#Iters ...' (names one blank apart after a glued marker) is a header of four names, not the marker and one
    # name of several words; a marker set apart by blanks before double-blank columns reads as before
    assert header_columns("#Iters Seconds TrainingLoss LearningRate") == [
        "#",
        "Iters",
        "Seconds",
        "TrainingLoss",
        "LearningRate",
    ]
    assert header_columns("# step  rmse_val  rmse_trn  lr") == ["#", "step", "rmse_val", "rmse_trn", "lr"]
    assert header_columns("# CPM-Live Training Log (June, 26)") is None  # a markdown title
    # a column no name list knows ('Momentum') leaves the header a header: a counter and a metric are among its names
    series, *_ = parse_log_text(
        "#Iters Seconds TrainingLoss LearningRate Momentum\n0 1.0 2.3 0.1 0.9\n20 2.0 nan 0.1 0.9\n"
    )
    assert [s for s, _ in _points(series, "loss")] == [0, 20]
    # a comment's words are no names: a sentence's joining word, or no counter among them
    assert header_columns("#loss weight of the iterations") is None
    # a glued marker before a title's words, not names of columns, reads as before: bare step/value rows under it
    series, *_ = parse_log_text("#Total Loss Curve\n100 2.3\n200 1.9\n300 1.7\n400 1.5\n")
    assert _points(series, "loss") == [(100, 2.3), (200, 1.9), (300, 1.7), (400, 1.5)]


def test_a_camel_case_name_that_would_repeat_another_column_s_keeps_its_own():
    # 'MinLoss' beside 'Loss': split, it would name the loss and overwrite it; it keeps its own name
    lm = row_metrics(header_columns("Iter  Loss  MinLoss"), "100  20000  0.6")
    assert dict(lm.pairs)["loss"] == 20000.0 and "minloss" in dict(lm.pairs)


# ---------------------------------------------------------------- names and values


def test_a_reading_of_the_variational_bound_is_the_bound():
    # torchdiffeq examples/latent_ode.py: print('Iter: {}, running avg elbo: {:.4f}'.format(itr, -loss_meter.avg))
    assert scan_line("Iter: 2, running avg elbo: -61205141560896.3047").pairs == [("elbo", 61205141560896.3047)]
    assert scan_line("Iter: 2, train elbo: -612.5").pairs == [("elbo", 612.5)]
    # a bound of another model's part is no reading of the run's bound
    assert scan_line("Iter: 2, prior elbo: -612.3").pairs == []


def test_a_one_element_array_after_is_names_its_value():
    # a TF1 loop's print('Total loss is :', sess.run([total_loss])) with the separator glued: 'Total loss is :[x]'
    assert scan_line("Total loss is :[0.140642926]").pairs == [("loss", 0.140642926)]
    assert scan_line("Total loss is :[nan]").pairs[0][0] == "loss"
    # a list after the filler is no array of one element, and no history of the loss: read as before, not at all
    assert scan_line("Class-wise loss is [0.21, nan, 0.12, 0.5]").pairs == []
    assert scan_line("Class-wise loss is [0.21, nan, 0.12, 0.5]").curves == {}


def test_stages_listed_after_a_loss_heading_are_that_stage_s_loss():
    # 'Loss: train = x | dev = y' (funcwj's speech trainers), 'Loss: train 0.5, val 0.6'
    assert scan_line("Loss: train = 2.5 | dev = 2.7").pairs == [("loss", 2.5), ("val_loss", 2.7)]
    assert scan_line("Epoch 2 Loss: train 0.5 | dev 0.6").pairs == [("loss", 0.5), ("val_loss", 0.6)]
    # beside the loss's terms a stage's word is a term too (an RL trainer's value loss)
    assert scan_line("Loss: pol 0.02, val 0.5, ent 1.3").pairs == [
        ("loss_pol", 0.02),
        ("loss_val", 0.5),
        ("loss_ent", 1.3),
    ]
    # readings are still no terms, and a loss's own terms are still its terms
    assert scan_line("Loss: avg 0.4, cur 0.5").pairs == []
    assert scan_line("loss: x 2.349, y 2.491, total 117.7").pairs == [
        ("loss_x", 2.349),
        ("loss_y", 2.491),
        ("loss", 117.7),
    ]


def test_a_line_ordered_curve_counts_log_indices_in_words(tmp_path):
    rep, _ = _analyze(tmp_path, "output.txt", "".join(f"loss: {v}\n\n" for v in (2.5, 2.1, 1.9, "NaN")))
    md = rep.to_markdown()
    assert "log indices 1..4" in md and "log_indexs" not in md
