"""Discovery's second look (SECOND_LOOK_FILES): where a run folder holds nothing the quick look takes for an artifact,
its text files are parsed line by line, so a log whose lines name their loss in no word the quick look knows is read
instead of the folder being called empty. Prose, project documents and folders that hold other artifacts are left as
before."""

import pytest

import forensics
from forensics.discover import SECOND_LOOK_FILES, discover
from forensics.errors import UsageError
from forensics.records import Kind


def _nll_log(n=12, blown_from=None):
    # a print loop's '[{seen}/{total}]\tnll: {:.4f}': 'nll' is a criterion the parser reads as the loss, and no word
    # the quick look searches for ('loss', 'epoch', 'step', 'lr', 'nan'...) is on the line; from blown_from on, the
    # loss grows a thousandfold a print, still finite
    rows = []
    for i in range(1, n + 1):
        value = 2.3 / i if blown_from is None or i < blown_from else 2.3 * 1000.0 ** (i - blown_from + 1)
        rows.append(f"[{i * 100}/{n * 100}]\tnll: {value:.4f}")
    return "\n".join(rows) + "\n"


def test_a_log_the_quick_look_misses_is_read_where_nothing_else_was_found(tmp_path):
    (tmp_path / "progress.txt").write_text(_nll_log(blown_from=9))
    assert [f.kind for f in discover(tmp_path).files] == [Kind.JOB_LOG]
    report = forensics.analyze(tmp_path)
    assert report.diverged and report.verdict.cause != "inconclusive"


def test_a_single_file_named_on_the_command_line_gets_the_second_look(tmp_path):
    path = tmp_path / "progress.txt"
    path.write_text(_nll_log())
    assert [f.kind for f in discover(path).files] == [Kind.JOB_LOG]


def test_a_snapshot_of_a_fits_messages_in_markdown_is_read(tmp_path):
    # an R package's testthat snapshot of a fit stopped by its NaN check, beside the printed model
    (tmp_path / "overflow.md").write_text(
        "# NaN loss due to overflow\n\n    Loss is NaN at epoch 10. Training is stopped.\n\n---\n\n"
        "    Output\n      Multilayer perceptron\n      relu activation,\n      validation loss after 9 epochs: 0.469\n"
    )
    report = forensics.analyze(tmp_path)
    assert report.diverged


def test_prose_and_a_readme_quoting_a_loss_are_still_no_run(tmp_path):
    (tmp_path / "notes.txt").write_text("we tried a learning rate of 0.1 and then 0.01\nthe loss looked fine\n")
    (tmp_path / "README.md").write_text("# Our model\n\nWith the default settings the loss is nan after a while.\n")
    with pytest.raises(UsageError):
        forensics.analyze(tmp_path)
    (tmp_path / "README.md").write_text("## Loss is NaN\n")  # a heading alone is no one-line paste of a log
    with pytest.raises(UsageError):
        forensics.analyze(tmp_path)


def test_a_readme_quoting_the_log_of_a_run_is_read(tmp_path):
    # a repository's README that pastes the mmdetection log of the run it went on to fix
    rows = [
        f"2021-01-25 19:25:{i:02d},220 - mmdet - INFO - Epoch [1][{50 * i}/5455]\tlr: {1e-4 * i:.3e}, "
        f"loss_rpn_cls: 0.1925, loss_rpn_bbox: 0.0304, loss: {'nan' if i > 4 else f'{1.5 - 0.1 * i:.4f}'}"
        for i in range(1, 7)
    ]
    (tmp_path / "README.md").write_text("# Notes\n\n" + "\n".join(rows) + "\n\nThe labels were mapped wrong.\n")
    report = forensics.analyze(tmp_path)
    assert report.diverged and report.first_nonfinite_step == 250


def test_no_second_look_where_the_quick_look_found_an_artifact(tmp_path):
    (tmp_path / "train.log").write_text("".join(f"step {i} loss {1.0 / i:.3f}\n" for i in range(1, 6)))
    (tmp_path / "progress.txt").write_text(_nll_log(blown_from=3))
    assert [f.rel for f in discover(tmp_path).files] == ["train.log"]


@pytest.mark.parametrize(("notes", "read"), [(SECOND_LOOK_FILES - 1, True), (SECOND_LOOK_FILES + 5, False)])
def test_the_second_look_is_bounded(tmp_path, notes, read):
    for i in range(notes):
        (tmp_path / f"note_{i:03d}.txt").write_text("nothing of a run here\n")
    (tmp_path / "zz_progress.txt").write_text(_nll_log())  # the walk meets it last
    if read:
        assert [f.rel for f in discover(tmp_path).files] == ["zz_progress.txt"]
    else:
        with pytest.raises(UsageError):
            forensics.analyze(tmp_path)


def test_source_files_and_images_do_not_use_up_the_second_look(tmp_path):
    for i in range(SECOND_LOOK_FILES + 5):
        (tmp_path / f"a{i:03d}.py").write_text("print('hello')\n")
        (tmp_path / f"c{i:03d}.jl").write_text("println(1)\n")
        (tmp_path / f"b{i:03d}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (tmp_path / "zz_progress.txt").write_text(_nll_log())
    assert [f.rel for f in discover(tmp_path).files] == ["zz_progress.txt"]
