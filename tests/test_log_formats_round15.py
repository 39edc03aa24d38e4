"""A loss printed under its criterion's name alone (heldout15's EDSR logs: '[L1: 5.9633]'), on lines built from the
writer's own format (named in a comment), with the look-alikes that must read as before: a regulariser's strength in a
settings dump, the two characters inside other words.
"""

import math
from pathlib import Path

from forensics.readers.logs import looks_like_log
from tests.test_log_tables_round14 import _points, _read


def _edsr(epochs, batch_size=16, n_train=800, losses=("L1",), spike=None):
    # EDSR-PyTorch (sanghyun-son) src/trainer.py and src/loss/__init__.py: '[Epoch {}]\tLearning rate: {:.2e}' at each
    # epoch, then '[{}/{}]\t{}\t{:.1f}+{:.1f}s' every print_every batches, the middle field Loss.display_loss(): one
    # '[{}: {:.4f}]' per loss type (its criterion's name: 'L1', 'MSE', 'VGG54', 'GAN', 'DIS', then 'Total' when there
    # are several)
    lines, value = [], 6.0
    for epoch in range(1, epochs + 1):
        lines.append("[Epoch {}]\tLearning rate: {:.2e}".format(epoch, 1e-4))  # noqa: UP032
        for seen in range(batch_size * 10, n_train + 1, batch_size * 10):
            value = spike if spike is not None and epoch == epochs and seen > n_train // 2 else value * 0.99
            shown = "".join("[{}: {:.4f}]".format(name, value) for name in losses)  # noqa: UP032
            lines.append("[{}/{}]\t{}\t{:.1f}+{:.1f}s".format(seen, n_train, shown, 65.8, 0.4))  # noqa: UP032
    return "\n".join(lines) + "\n"


def test_a_loss_named_by_its_criterion_alone_is_the_loss():
    got = _points(_read(_edsr(2)), "loss")
    assert len(got) == 10 and got[0][1] == 5.94


def test_the_criterion_named_loss_carries_its_non_finite_value():
    got = _points(_read(_edsr(2, spike=math.inf)), "loss")
    assert math.isinf(got[-1][1]) and all(math.isfinite(v) for _, v in got[:5])


def test_l2_and_charbonnier_are_criteria_too():
    for name in ("L2", "Charbonnier"):
        assert len(_points(_read(_edsr(1, losses=(name,))), "loss")) == 5


def test_a_file_of_criterion_named_losses_is_taken_for_a_log(tmp_path: Path):
    # the lines print no word the sniffer knew (no 'loss', no 'epoch' but on the header lines, which are too few)
    path = tmp_path / "log.txt"
    path.write_text("\n".join(line for line in _edsr(3).splitlines() if not line.startswith("[Epoch")) + "\n")
    assert looks_like_log(path)


def test_a_regulariser_strength_in_a_settings_dump_is_no_loss():
    text = "alpha: 0.1\nl2: 0.0001\nl1: 0.001\nbatch_size: 16\n"
    assert "loss" not in _read(text)


def test_l1_inside_other_words_reads_nothing_new():
    text = "model1 pool2 level1 cell1\n" * 3
    assert "loss" not in _read(text)


def test_an_l1_or_l2_of_another_quantity_or_an_evaluations_is_no_loss():
    # a gradient's or a weight's norm, an evaluation's distance, each on a line with a step or epoch
    for line in ("step 5 grad L2: inf", "epoch 3 acc 0.5 weight l2: 2.0", "[Epoch 2] test L1: nan L2: 0.3"):
        assert "loss" not in _read("".join(f"{line.replace('5', str(i))}\n" for i in range(1, 4))), line


def test_a_real_loss_beside_an_l1_term_stays_the_loss():
    text = "".join(f"step {i} loss: {1.0 / i:.4f} l1: {0.5 / i:.4f}\n" for i in range(1, 5))
    assert [v for _, v in _points(_read(text), "loss")] == [1.0, 0.5, 0.3333, 0.25]


# ---------------------------------------------------------------- printed arrays (heldout15's Flux model-zoo log)


def _analyze_text(tmp_path, text):
    import forensics

    (tmp_path / "train.log").write_text(text)
    return forensics.analyze(tmp_path)


def test_a_printed_array_of_nan_outputs_is_the_runs_numbers_going_non_finite(tmp_path):
    # Julia's display of a 2x10 matrix (Base.print_matrix: the summary line, then each row's values blank-separated),
    # as the Flux model zoo's transfer-learning tutorial printed its model's outputs once per epoch
    rows = ["NaN  " * 9 + "NaN"] * 2
    text = "[ Info: Epoch 1\n[ Info: Epoch 2\n2×10 CuArrays.CuArray{Float32,2,Nothing}:\n" + "\n".join(rows) + "\n"
    report = _analyze_text(tmp_path, text)
    assert report.diverged and "printed array" in report.verdict.summary


def test_pytorchs_tensor_repr_of_nan_is_read_the_same(tmp_path):
    # torch.Tensor.__repr__: 'tensor([[v, v, v],' then the other rows, then the keyword arguments
    text = (
        "tensor([[nan, nan, nan],\n        [nan, nan, nan]], device='cuda:0', grad_fn=<AddmmBackward0>)\n"
        "tensor([[nan, nan, nan],\n        [nan, nan, nan]], device='cuda:0', grad_fn=<AddmmBackward0>)\n"
    )
    assert _analyze_text(tmp_path, text).diverged


def test_arrays_that_print_finite_values_again_say_nothing(tmp_path):
    text = "tensor([nan, nan, nan])\ntensor([0.1000, 0.2000, 0.3000])\ntensor([0.1000, 0.2500, 0.3000])\n"
    report = _analyze_text(tmp_path, text)
    assert not report.diverged and report.verdict.cause == "inconclusive"  # no loss, and nothing stayed non-finite
    text = "model loaded\n" + text + "Traceback (most recent call last):\n" + '  File "t.py", line 1\nKeyError: 3\n'
    assert not _analyze_text(tmp_path, text).diverged


def test_a_matrix_row_of_nan_under_finite_rows_is_a_per_class_row(tmp_path):
    # numpy's print of a normalised confusion matrix each epoch, the last class absent from the split (0/0 = nan)
    block = "[[0.9 0.1 0.  0. ]\n [0.2 0.8 0.  0. ]\n [0.1 0.1 0.8 0. ]\n [nan nan nan nan]]\n"
    report = _analyze_text(tmp_path, "".join(f"epoch {i}\n{block}" for i in range(1, 4)))
    assert not report.diverged


def test_two_absent_classes_of_a_matrix_and_separate_prints(tmp_path):
    # two rows of nan under finite rows: both the matrix's
    block = "[[0.9 0.1 0.  0. ]\n [0.2 0.8 0.  0. ]\n [nan nan nan nan]\n [nan nan nan nan]]\n"
    assert not _analyze_text(tmp_path, "".join(f"epoch {i}\n{block}" for i in range(1, 4))).diverged
    # a tensor printed on its own after finite prints of its width: no matrix row, the run's outputs gone NaN
    (tmp_path / "train.log").unlink()
    prints = "tensor([0.1000, 0.2000, 0.3000, 0.4000])\n" * 5 + "tensor([nan, nan, nan, nan])\n"
    assert _analyze_text(tmp_path, prints).diverged


def test_a_path_holding_an_evaluation_word_leaves_the_l1_the_loss():
    text = "".join(f"iter {i}00 L1: 0.0{i} saved to /data/test/models\n" for i in range(1, 5))
    assert len(_points(_read(text), "loss")) == 4


def test_a_short_row_or_a_loss_read_leaves_the_verdict_to_the_loss(tmp_path):
    from forensics.readers.logs import array_row

    assert array_row("nan nan") is None and array_row("AP per class: nan nan nan nan") is None
    text = "".join(f"step {i} loss {1.0 / i:.3f}\n" for i in range(1, 8)) + "[nan, nan, nan, nan]\n"
    assert not _analyze_text(tmp_path, text).diverged
