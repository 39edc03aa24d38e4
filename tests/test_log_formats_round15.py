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


def test_a_real_loss_beside_an_l1_term_stays_the_loss():
    text = "".join(f"step {i} loss: {1.0 / i:.4f} l1: {0.5 / i:.4f}\n" for i in range(1, 5))
    assert [v for _, v in _points(_read(text), "loss")] == [1.0, 0.5, 0.3333, 0.25]

