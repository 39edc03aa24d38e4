"""Issue #11, eleventh round: a step's record read whole (docs/logs.md, "Records over several lines").

1. An epoch beside an iteration that starts again each epoch: the global step is the epochs before times an epoch's
   length plus the iteration, also when the iteration printed is the same in both epochs; a later epoch's point
   never replaces an earlier one's.
2. tf-faster-rcnn's ' >>> term: value' lines under 'iter: i / N, total loss: x': the terms and the LR at iteration i.
3. Caffe's 'Train net output #k' lines under 'Iteration i, loss = x': the weighted outputs are terms, the others
   metrics.

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


# ---------------------------------------------------------------- 2. tf-faster-rcnn's record of terms

# endernewton/tf-faster-rcnn lib/model/train_val.py (and ruotianluo/pytorch-faster-rcnn, its PyTorch port):
# print('iter: %d / %d, total loss: %.6f\n >>> rpn_loss_cls: %.6f\n >>> rpn_loss_box: %.6f\n >>> loss_cls: %.6f\n
# >>> loss_box: %.6f\n >>> lr: %f' % (iter, max_iters, total_loss, rpn_loss_cls, rpn_loss_box, loss_cls, loss_box,
# lr)), then print('speed: {:.3f}s / iter'.format(...))
_TF_FASTER_RCNN = (
    "iter: {i} / 70000, total loss: {total}\n >>> rpn_loss_cls: 0.648382\n >>> rpn_loss_box: {box}\n"
    " >>> loss_cls: 2.149889\n >>> loss_box: 0.199051\n >>> lr: 0.010000\nspeed: 0.794s / iter\n"
)


def test_tf_faster_rcnn_terms_and_lr_are_the_iterations():
    text = _TF_FASTER_RCNN.format(i=20, total="1.2", box="0.045217") + _TF_FASTER_RCNN.format(
        i=40, total="nan", box="nan"
    )
    series, *_ = parse_log_text(text)
    assert [s for s, _ in _points(series, "loss")] == [20, 40]
    box = _points(series, "rpn_loss_box")
    assert [s for s, _ in box] == [20, 40] and box[0][1] == 0.045217 and math.isnan(box[1][1])
    assert _points(series, "learning_rate") == [(20, 0.01), (40, 0.01)]
    assert _points(series, "loss_cls") == [(20, 2.149889), (40, 2.149889)]


def test_an_evaluations_values_under_a_training_line_are_its_evaluation_not_its_terms():
    # look-alike: a validation's terms printed under the last step's line, "giou_val_loss: %7.2f, conf_val_loss:
    # %7.2f, prob_val_loss: %7.2f, total_val_loss: %7.2f" (TensorFlow-2.0 YOLOv3 tutorials' train.py), right under it
    # or after a blank line: the evaluation at that step, its total kept under its own name
    step = (
        "epoch:49 step:    1/19, lr:0.000052, giou_loss:   2.31, conf_loss:  10.61, prob_loss:   0.08, "
        "total_loss:  12.99\n"
    )
    val = "giou_val_loss:    nan, conf_val_loss:  12.31, prob_val_loss:   0.06, total_val_loss:    nan\n"
    for text in (step + val, step + "\n" + val):
        series, *_ = parse_log_text(text)
        assert math.isnan(_points(series, "total_val_loss")[0][1]) and _points(series, "conf_val_loss") == [(1, 12.31)]
        assert _points(series, "loss") == [(1, 12.99)]


def test_a_term_line_far_under_the_loss_is_not_the_records():
    # look-alike: a line of terms with other lines between it and the loss belongs to no record it can be tied to
    text = "iter: 20 / 70000, total loss: 1.2\nspeed: 0.794s / iter\nWrote snapshot to: model_iter_20.ckpt\n"
    text += " >>> rpn_loss_box: nan\n"
    series, *_ = parse_log_text(text)
    assert "rpn_loss_box" not in series


# ---------------------------------------------------------------- 3. Caffe's train net outputs

# BVLC Caffe 1.0 src/caffe/solver.cpp Solver::Step: LOG(INFO) << "Iteration " << iter_ << ", loss = " << smoothed_loss;
# then per output blob LOG(INFO) << "    Train net output #" << score_index++ << ": " << output_name << " = " <<
# result_vec[k] << loss_msg_stream.str(), where loss_msg_stream holds " (* " << loss_weight << " = " << loss_weight
# * result_vec[k] << " loss)" for a blob with a loss weight; sgd_solver.cpp: "Iteration " << iter_ << ", lr = " << rate
_GLOG = "I0426 19:55:49.662811 30135 solver.cpp:{n}] "


def _caffe(i, loss, bbox, cls, accuracy=None):
    lines = [f"{_GLOG.format(n=229)}Iteration {i}, loss = {loss}"]
    k = 0
    if accuracy is not None:
        lines.append(f"{_GLOG.format(n=245)}    Train net output #{k}: bbox_accuracy = {accuracy}")
        k += 1
    lines.append(f"{_GLOG.format(n=245)}    Train net output #{k}: loss_bbox = {bbox} (* 1 = {bbox} loss)")
    lines.append(f"{_GLOG.format(n=245)}    Train net output #{k + 1}: loss_cls = {cls} (* 1 = {cls} loss)")
    lines.append(f"I0426 19:55:49.662895 30135 sgd_solver.cpp:106] Iteration {i}, lr = 0.001")
    return "\n".join(lines) + "\n"


def test_caffe_weighted_outputs_are_the_iterations_terms():
    series, *_ = parse_log_text(_caffe(0, "nan", "nan", "1.88031") + _caffe(20, "nan", "nan", "0.0256684"))
    assert [s for s, _ in _points(series, "loss_bbox")] == [0, 20]
    assert _points(series, "loss_cls") == [(0, 1.88031), (20, 0.0256684)]
    assert all(math.isnan(v) for _, v in _points(series, "loss"))


def test_caffe_outputs_without_a_loss_weight_are_metrics_not_terms():
    series, *_ = parse_log_text(_caffe(0, "5.06628", "0.369181", "3.12335", accuracy="0.046875"))
    assert _points(series, "bbox_accuracy") == [(0, 0.046875)]
    assert _points(series, "loss") == [(0, 5.06628)]  # the solver's loss, not a sum with the accuracy in it
    assert _points(series, "loss_bbox") == [(0, 0.369181)] and _points(series, "loss_cls") == [(0, 3.12335)]


def test_a_caffe_net_whose_one_output_is_the_loss_keeps_the_solvers_loss():
    # the solver's loss is smoothed over average_loss iterations; the output named 'loss' is this iteration's
    text = (
        f"{_GLOG.format(n=228)}Iteration 100, loss = 2.5\n"
        f"{_GLOG.format(n=244)}    Train net output #0: loss = 2.46876 (* 1 = 2.46876 loss)\n"
    )
    series, *_ = parse_log_text(text)
    assert _points(series, "loss") == [(100, 2.5)]


def test_caffe_test_net_outputs_are_the_evaluation_at_the_testing_iteration():
    # Solver::Test: LOG(INFO) << "Iteration " << iter_ << ", Testing net (#" << test_net_id << ")", the test
    # iterations (a data layer may log meanwhile), then "    Test net output #" << i << ": " << output_name << " = "
    # << mean_score and the same loss suffix
    text = (
        f"{_GLOG.format(n=330)}Iteration 100, Testing net (#0)\n"
        "I0426 19:55:50.000000 30140 data_layer.cpp:73] Restarting data prefetching from start.\n"
        f"{_GLOG.format(n=397)}    Test net output #0: accuracy = 0.5\n"
        f"{_GLOG.format(n=397)}    Test net output #1: loss_cls = 2.4 (* 1 = 2.4 loss)\n"
        f"{_GLOG.format(n=228)}Iteration 100, loss = 2.5\n"
    )
    series, *_ = parse_log_text(text)
    assert _points(series, "val_accuracy") == [(100, 0.5)] and _points(series, "val_loss_cls") == [(100, 2.4)]
    assert "accuracy" not in series and "loss_cls" not in series and _points(series, "loss") == [(100, 2.5)]


def test_caffe_outputs_that_cannot_be_placed_or_are_no_loss_give_no_point():
    # look-alikes: a test output pasted without its 'Testing net' line (no iteration to put it at), and an output
    # without a loss weight named as a loss would be (GoogLeNet's Accuracy top 'loss1/top-1')
    text = (
        f"{_GLOG.format(n=397)}    Test net output #0: accuracy = 0.5\n"
        f"{_GLOG.format(n=228)}Iteration 100, loss = 2.5\n"
        f"{_GLOG.format(n=244)}    Train net output #0: loss1/top-1 = 0.29\n"
        f"{_GLOG.format(n=244)}    Train net output #1: loss1/loss1 = 6.9 (* 0.3 = 2.07 loss)\n"
    )
    series, *_ = parse_log_text(text)
    assert "val_accuracy" not in series and not any("top-1" in tag for tag in series)
    assert _points(series, "loss1/loss1") == [(100, 6.9)] and _points(series, "loss") == [(100, 2.5)]
