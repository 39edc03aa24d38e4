"""Issue #11, eleventh round: a step's record read whole (docs/logs.md).

1. An epoch beside an iteration that starts again each epoch: the global step is the epochs before times an epoch's
   length plus the iteration, also when the iteration printed is the same in both epochs; a later epoch's point
   never replaces an earlier one's.

Every line is built from the toolkit's own format string (named in a comment), with look-alikes that must read as
before.
"""

import math

from forensics.readers.logs import parse_log_text


def _points(series, tag):
    s = series[tag]
    return list(zip(s.steps.tolist(), s.values.tolist(), strict=True))


# ---------------------------------------------------------------- 1. epoch and iteration counters


def test_faster_rcnn_pytorch_epoch_two_iteration_zero_follows_epoch_one():
    # jwyang/faster-rcnn.pytorch trainval_net.py (2018-2019): print("[session %d][epoch %2d][iter %4d/%4d] loss: %.4f,
    # lr: %.2e" % (args.session, epoch, step, iters_per_epoch, loss_temp, lr)), then "\t\t\tfg/bg=(%d/%d), time cost:
    # %f" and "\t\t\trpn_cls: %.4f, rpn_box: %.4f, rcnn_cls: %.4f, rcnn_box %.4f"; epochs count from 1 (its
    # TensorBoard step is (epoch - 1) * iters_per_epoch + step)
    text = (
        "[session 1][epoch  1][iter    0/  88] loss: 4.7430, lr: 1.00e-04\n"
        "\t\t\tfg/bg=(1/0), time cost: 0.255251\n"
        "\t\t\trpn_cls: 0.7192, rpn_box: 0.1429, rcnn_cls: 0.7797, rcnn_box 3.1013\n"
        "[session 1][epoch  2][iter    0/  88] loss: nan, lr: 1.00e-04\n"
        "\t\t\tfg/bg=(1/0), time cost: 0.244978\n"
        "\t\t\trpn_cls: nan, rpn_box: nan, rcnn_cls: nan, rcnn_box nan\n"
    )
    series, *_ = parse_log_text(text)
    loss = _points(series, "loss")
    assert [s for s, _ in loss] == [0, 88]
    assert loss[0][1] == 4.743 and math.isnan(loss[1][1])
    rpn_box = _points(series, "loss_rpn_box")
    assert [s for s, _ in rpn_box] == [0, 88] and rpn_box[0][1] == 0.1429 and math.isnan(rpn_box[1][1])


def test_metric_logger_epoch_bracket_iteration_zero_in_two_epochs():
    # DeiT / DINO / MAE misc.MetricLogger.log_every: header 'Epoch: [{}]'.format(epoch), then
    # '{header}  [{0:>2}/{1}]  eta: {eta}  lr: {lr}  loss: {median} ({global_avg})  time: ...'; epochs from 0
    text = (
        "Epoch: [0]  [ 0/88]  eta: 0:01:00  lr: 0.000100  loss: 6.9000 (6.9000)  time: 1.0000  data: 0.5000\n"
        "Epoch: [1]  [ 0/88]  eta: 0:01:00  lr: 0.000100  loss: nan (nan)  time: 1.0000  data: 0.5000\n"
    )
    series, *_ = parse_log_text(text)
    assert [s for s, _ in _points(series, "loss")] == [0, 88]


def test_mmcv_epoch_iteration_reads_as_before():
    # mmcv 1.x TextLoggerHook: f'Epoch [{epoch}][{iter}/{len(data_loader)}]\t' then 'lr: {:.3e}, ...'; the
    # iteration printed is inner_iter + 1, epochs from 1
    text = (
        "2020-01-01 10:00:00,000 - mmdet - INFO - Epoch [1][50/88]\tlr: 1.000e-02, eta: 0:01:00, time: 0.500, "
        "data_time: 0.100, memory: 3000, loss_cls: 0.5000, loss_bbox: 0.3000, loss: 0.8000\n"
        "2020-01-01 10:01:00,000 - mmdet - INFO - Epoch [2][50/88]\tlr: 1.000e-02, eta: 0:01:00, time: 0.500, "
        "data_time: 0.100, memory: 3000, loss_cls: nan, loss_bbox: nan, loss: nan\n"
    )
    series, *_ = parse_log_text(text)
    assert [s for s, _ in _points(series, "loss")] == [50, 138]


def test_a_global_counter_beside_the_epoch_is_read_as_global():
    # look-alike: a step counter that goes on across epochs, with the run's total
    text = "Epoch 1 step 500/10000 loss 4.5\nEpoch 2 step 1000/10000 loss 3.0\n"
    series, *_ = parse_log_text(text)
    assert [s for s, _ in _points(series, "loss")] == [500, 1000]


def test_an_epoch_and_iteration_without_a_total_keep_both_points_in_order():
    # a print loop's f'epoch {epoch}, iteration {iteration}, loss {loss}' once an epoch (OVSR train.py's wording,
    # iteration from enumerate): the second epoch's iteration 0 comes after the first's, never on it
    text = "epoch 1, iteration 0, loss 4.5\nepoch 2, iteration 0, loss nan\n"
    series, *_ = parse_log_text(text)
    loss = _points(series, "loss")
    assert len(loss) == 2 and loss[0] == (0, 4.5) and loss[1][0] > 0 and math.isnan(loss[1][1])


def test_a_log_that_begins_inside_an_epoch_puts_the_next_epoch_after_it():
    # ba-dls-deepspeech train.py: logger.info("Epoch: {}, Iteration: {}, Loss: {}".format(e, i, loss)), every
    # 10 iterations counted from 0, a paste that starts at iteration 50 of an epoch
    text = (
        "2017-08-14 17:43:18,105 INFO    (__main__) Epoch: 6, Iteration: 50, Loss: 79.07887268066406\n"
        "2017-08-14 17:44:37,734 INFO    (__main__) Epoch: 7, Iteration: 0, Loss: 86.4606704711914\n"
        "2017-08-14 17:47:57,033 INFO    (__main__) Epoch: 7, Iteration: 10, Loss: 79.75791931152344\n"
    )
    series, *_ = parse_log_text(text)
    steps = [s for s, _ in _points(series, "loss")]
    assert len(steps) == 3 and steps[0] < steps[1] < steps[2]


def test_a_later_epoch_worked_out_onto_an_earlier_step_is_moved_past_it_and_said(tmp_path):
    # an epoch's length that changed (a loader resampled each epoch): epoch 2's iteration 10 of 50 works out to
    # (2 - 1) * 50 + 10 = 60, before epoch 1's iteration 80
    from forensics.readers.logs import read_job_log
    from forensics.records import Kind, Source

    log = tmp_path / "train.log"
    log.write_text("Epoch 1 [ 0/100] loss 2.0\nEpoch 1 [80/100] loss 1.5\nEpoch 2 [10/50] loss nan\n")
    data = read_job_log(log, Source(path="train.log", kind=Kind.JOB_LOG))
    loss = data.scalars["loss"]
    assert loss.steps.tolist() == [0, 80, 81] and math.isnan(loss.values[-1])
    assert "later epoch" in (data.source.note or "")
