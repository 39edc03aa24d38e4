"""Issue #11, sixteenth round: mechanisms behind heldout21's misses (docs/logs.md), on lines built from the writers' own
format strings (named in a comment), each with look-alikes that must read as before.
"""

import forensics
from forensics.readers.logmetrics import scan_line
from forensics.readers.logs import _BAR_RECORD_HEAD, parse_log_text


def _points(series, tag):
    return list(zip(series[tag].steps.tolist(), series[tag].values.tolist(), strict=True))


def _analyze(tmp_path, name, text):
    run = tmp_path / "run"
    run.mkdir(parents=True, exist_ok=True)
    (run / name).write_text(text, encoding="utf-8")
    rep = forensics.analyze(str(run))
    return rep, {e.rule for c in rep.candidates for e in c.evidence if e.weight > 0}


# ---------------------------------------------------------------- a runner's prefix before a progress bar


def _musubi_bar(n, total, loss, prefix="[08:24:06] [STDERR] "):
    """kohya-ss musubi-tuner's hv_train_network.py: tqdm(range(max_train_steps), desc="steps") with
    set_postfix({"avr_loss": avr_loss}), as a GUI launcher forwards its stderr: '[HH:MM:SS] [STDERR] ' before it."""
    return (
        f"{prefix}steps:  {100 * n // total:2d}%|█████████▋| {n}/{total} [33:01<01:03, 21.31s/it, avr_loss={loss:.3g}]"
    )


def test_a_bar_under_a_launchers_time_and_stream_prefix_is_the_training_loop_s():
    lines = [_musubi_bar(n, 96, 0.09 - 0.0002 * n) for n in range(90, 97)]
    series, *_ = parse_log_text("\n".join(lines) + "\n")
    assert [s for s, _ in _points(series, "loss")] == list(range(90, 97))
    # the same bar under a logging record's head (basicConfig's '%(levelname)s: ', an ISO time with its zone), and a
    # bar with no prefix, read the same
    for prefix in ("2024-05-01 10:00:00,123 INFO ", "[INFO] ", "INFO: ", "2024-05-01T10:00:00Z ", ""):
        again, *_ = parse_log_text("\n".join(_musubi_bar(n, 96, 0.08, prefix) for n in range(90, 97)) + "\n")
        assert [s for s, _ in _points(again, "loss")] == list(range(90, 97)), prefix


def test_a_lightning_bar_under_a_logger_prefix_keeps_its_epoch():
    # Lightning's tqdm bar, "Epoch {e}: {pct}%|...| {n}/{total} [...{rate}, loss=.., v_num=..]", under logging's
    # '%(levelname)s:%(name)s:' head: the epoch in the description still places the batch
    bar = "INFO:root:Epoch 2:  {}%|███       | {}/10 [00:01<00:02, 4.1it/s, loss=0.{}, v_num=0]"
    lines = [bar.format(n * 10, n, n) for n in (3, 4)]
    series, *_ = parse_log_text("\n".join(lines) + "\n")
    assert [s for s, _ in _points(series, "loss")] == [2 * 10 + 3 - 1, 2 * 10 + 4 - 1]


def test_the_prefix_pattern_takes_times_levels_and_streams_only():
    assert _BAR_RECORD_HEAD.sub("", "[08:24:06] [STDERR] steps", count=1) == "steps"
    assert _BAR_RECORD_HEAD.sub("", "[2024/05/01 10:00:00.123] Training", count=1) == "Training"
    assert _BAR_RECORD_HEAD.sub("", "INFO:root:Epoch 2", count=1) == "Epoch 2"
    # brackets of words or of a counter are the description itself (ColossalAI's '[Epoch 1 / Train]', an epoch's
    # '[3/10]'), and a number before words is no time
    for desc in ("[Epoch 1 / Train]", "[3/10]", "2019 steps", "Dataset 3", "Evaluating"):
        assert _BAR_RECORD_HEAD.sub("", desc, count=1) == desc


# ---------------------------------------------------------------- a loss below zero that training makes worse


def _dca(totals, f1=0.75, n=953):
    """DCA (entity linking) main.py with --method RL: print('epoch', e, 'total loss', total_loss, total_loss / n) per
    epoch and print(dname, 'micro F1: ' + str(f1)) per evaluation set."""
    out = []
    for e, t in enumerate(totals):
        out.append(f"epoch {e} total loss {t} {t / n}")
        out.append(f"aida-A micro F1: {f1 + 0.01 * e}")
    return "\n".join(out) + "\n"


def test_a_negative_loss_rising_toward_zero_beside_a_score_is_no_classifier_without_its_floor(tmp_path):
    # a REINFORCE objective (-reward * log p) printed as the epoch's sum: negative by design, rising as it goes
    rep, rules = _analyze(tmp_path, "output.txt", _dca([-5881.8, -5041.1, -4401.4, -3761.1, -3198.1]))
    assert "DATA010" not in rules
    assert rep.verdict.cause == "healthy" and not rep.diverged
    # one epoch's dip on the way, never as low as where it crossed: the same
    _, rules = _analyze(tmp_path / "dip", "output.txt", _dca([-5881.8, -5041.1, -5100.0, -4401.4, -3761.1, -3198.1]))
    assert "DATA010" not in rules


def test_a_negative_loss_still_driven_down_beside_a_score_is_still_targets_out_of_range(tmp_path):
    rep, rules = _analyze(tmp_path, "output.txt", _dca([-3198.1, -3761.1, -4401.4, -5041.1, -5881.8]))
    assert "DATA010" in rules
    assert (rep.verdict.cause, rep.verdict.detail) == ("data_or_labels", "labels_out_of_range")
    # and a rise that turned back down at the end is no rise to the end either
    _, rules = _analyze(tmp_path / "b", "output.txt", _dca([-5881.8, -5041.1, -4401.4, -3761.1, -6198.1]))
    assert "DATA010" in rules
    # nor one that went lower after crossing the floor, though it ended above where it crossed
    _, rules = _analyze(tmp_path / "c", "output.txt", _dca([-3000.0, -5000.0, -2000.0, -1500.0, -1000.0]))
    assert "DATA010" in rules
    # nor one never lower than where it crossed that ended back there
    _, rules = _analyze(tmp_path / "d", "output.txt", _dca([-3000.0, -2000.0, -2500.0, -3000.0]))
    assert "DATA010" in rules


def test_a_negative_loss_that_went_lower_first_is_still_driven_down_whatever_its_last_points_do(tmp_path):
    # per-batch noise lifts the last three points of a run that kept going down (Keras 2's bar, ' - loss: x -
    # accuracy: y'): it went lower after crossing the floor, so it was driven down
    losses = [-1e4 * (i + 1) for i in range(17)] + [-1.75e5, -1.6e5, -1.4e5]
    bar = "{}/20 [==============================] - 1s 10ms/step - loss: {:.4f} - accuracy: 0.6000"
    text = "Epoch 1/1\n" + "\n".join(bar.format(i + 1, v) for i, v in enumerate(losses)) + "\n"
    _, rules = _analyze(tmp_path, "train.log", text)
    assert "DATA010" in rules


# ---------------------------------------------------------------- a score printed with no counter under a bar


def _unet_epochs(losses, dice):
    """milesial Pytorch-UNet train.py (late 2019): tqdm(total=n_train, desc=f'Epoch {epoch + 1}/{epochs}', unit='img')
    with pbar.set_postfix(**{'loss (batch)': loss.item()}), then the evaluation bar 'Validation round' and
    logging.info('Validation Dice Coeff: {}'.format(val_score)) under basicConfig's '%(levelname)s: %(message)s'."""
    out = ["INFO: Starting training:"]
    for e, loss in enumerate(losses, 1):
        bar = "100%|██████████| 79/79 [00:12<00:00,  6.33img/s"
        out.append(f"Epoch {e}/{len(losses)}: {bar}, loss (batch)={loss:.3g}]")
        out.append("Validation round: 100%|██████████| 13/13 [00:01<00:00, 12.87img/s]")
        if dice is not None:
            out.append(f"INFO: Validation Dice Coeff: {dice}")
        out.append(f"INFO: Checkpoint {e} saved !")
    return "\n".join(out) + "\n"


def test_a_dice_printed_with_no_counter_under_the_bars_makes_the_loss_a_segmenters(tmp_path):
    # masks saved as 0..255 into BCEWithLogitsLoss: the batch loss runs away below zero, the Dice past 1
    losses = [-9.27e5, -4.68e6, -1.14e7, -2.15e7, -3.4e7]
    rep, rules = _analyze(tmp_path, "output.txt", _unet_epochs(losses, 1.9721606236237745))
    assert "DATA010" in rules
    assert (rep.verdict.cause, rep.verdict.detail) == ("data_or_labels", "labels_out_of_range")
    assert rep.diverged


def test_without_the_score_or_below_zero_the_unet_run_is_no_targets_case(tmp_path):
    # no score printed: a plain 'loss' below zero may be negative by design
    _, rules = _analyze(tmp_path / "a", "output.txt", _unet_epochs([-9.27e5, -4.68e6, -1.14e7], None))
    assert "DATA010" not in rules
    # a Dice beside a loss that stays above zero
    rep, rules = _analyze(tmp_path / "b", "output.txt", _unet_epochs([0.61, 0.42, 0.33, 0.3], 0.81))
    assert "DATA010" not in rules and rep.verdict.cause == "healthy"


def test_a_setting_or_a_loaded_models_score_printed_with_no_counter_says_nothing_of_the_loss(tmp_path):
    # a flow's negative log-likelihood, negative by design, printed at its steps under a config dump or a note of the
    # pretrained classifier it loaded: no evaluation of this run scores a classification
    steps = "\n".join(f"step {100 * (i + 1)} loss {-1e5 * (i + 1):.1f}" for i in range(6)) + "\n"
    heads = (
        "precision: 16",
        "dice_weight: 1.0",
        "Loaded pretrained classifier, accuracy: 0.87",
        "val_iou_thr: 0.5",
        "eval_f1_threshold: 0.5",
        "val_acc: 0.0",  # a score never above 0 says nothing (a regression's 'accuracy')
    )
    for i, head in enumerate(heads):
        _, rules = _analyze(tmp_path / str(i), "train.log", head + "\n" + steps)
        assert "DATA010" not in rules, head


# ---------------------------------------------------------------- the loss named with a word for its reading after it


def test_a_loss_named_with_value_or_error_after_it_is_the_loss():
    # IBM aihwkit examples/01_simple_layer.py: print("Loss error: {:.16f}".format(loss))
    assert scan_line("Loss error: 1.0298337936401367").pairs == [("loss", 1.0298337936401367)]
    assert scan_line("Loss value: 0.25").pairs == [("loss", 0.25)]
    assert scan_line("val loss value: 0.3").pairs == [("val_loss", 0.3)]
    # an error of something else is still that metric
    assert scan_line("Reconstruction error: 0.5").pairs == [("error", 0.5)]


# ---------------------------------------------------------------- Catalyst's bar, its epoch before the words


def _catalyst_bar(epoch, loader, n, total, loss):
    """Catalyst's verbose logger (19.x-20.x): tqdm(desc=f"{epoch}/{num_epochs} * Epoch ({loader_name})") per loader
    and epoch, its postfix the batch metrics formatted '{:3.3f}' ('_fps' among them); here copied without its bar, as
    a notebook shows it."""
    info = f"[00:41<00:00,  2.39s/it, _fps=11.486, loss={loss:.3f}]"
    return f"{epoch}/10 * Epoch ({loader}): {100 * n // total:3d}% {n}/{total} {info}"


def test_catalysts_training_bar_is_read_at_its_epochs_batches_and_its_validation_bar_is_not():
    lines = []
    for e in (1, 2):
        lines += [_catalyst_bar(e, "train", n, 32, 1.0 / e - n / 1000) for n in (16, 32)]
        lines.append(_catalyst_bar(e, "valid", 8, 8, 9.0))
    series, *_ = parse_log_text("\n".join(lines) + "\n")
    # epochs counted from 1 (Catalyst 20.x): the first epoch's batches are steps 1..32
    assert [s for s, _ in _points(series, "loss")] == [16, 32, 32 + 16, 32 + 32]
    assert 9.0 not in series["loss"].values.tolist()
    # only a loader named 'train...' trains, as Catalyst itself decides: a 'val' or 'infer' loader's bar is no training
    for loader in ("val", "infer", "holdout"):
        other, *_ = parse_log_text(_catalyst_bar(3, loader, 40, 40, 5.0) + "\n")
        assert "loss" not in other, loader
    # and from 0, as 19.x printed them: the same steps
    zero = [_catalyst_bar(e, "train", n, 32, 0.5) for e in (0, 1) for n in (16, 32)]
    again, *_ = parse_log_text("\n".join(zero) + "\n")
    assert [s for s, _ in _points(again, "loss")] == [16, 32, 32 + 16, 32 + 32]
    # a description that only holds a fraction and words is no epoch's ('1/10 * Epoch' needs its star and 'Epoch')
    other, *_ = parse_log_text("1/10 files:  50%|██  | 16/32 [00:41<00:00,  2.39s/it, loss=0.5]\n")
    assert "loss" not in other
