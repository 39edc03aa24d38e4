"""The catalogue of framework messages, family by family and framework by framework (the audit
table in docs/logs.md): each text as the framework prints it, built here from the format string
in its own source (file and version named in each case), read to its family and to what it names;
and the look-alikes each family must not take (a warning the job goes on from, a word another
program prints).

Most of these frameworks do not install here (DeepSpeed, apex, fairseq, Megatron, JAX, Lua Torch,
Theano) or print the message only on a GPU, so the lines are filled in from the source's format
string with sample values; the CPU messages of PyTorch, Keras and TensorFlow are also covered by
logs the real frameworks wrote (tests/test_logs.py, sample_runs/).
"""

from __future__ import annotations

import json

import pytest

import forensics
from forensics.readers.logmessages import CATALOGUE, match_messages
from forensics.readers.logs import parse_log_text

# (framework and version, the line as it prints it, family, what the event must name)
PRINTED: list[tuple[str, str, str, dict]] = [
    # ---------------------------------------------------------------- labels out of range
    (
        "PyTorch 0.4 / 1.0 CPU (THNN ClassNLLCriterion.c), Lua Torch nn",
        "RuntimeError: Assertion `cur_target >= 0 && cur_target < n_classes' failed.  at "
        "/pytorch/aten/src/THNN/generic/ClassNLLCriterion.c:94",
        "label_out_of_range",
        {},
    ),
    (
        "PyTorch 2.x CUDA (aten/src/ATen/native/cuda/Loss.cu)",
        "../aten/src/ATen/native/cuda/Loss.cu:240: nll_loss_forward_reduce_cuda_kernel_2d: block: [0,0,0], "
        "thread: [5,0,0] Assertion `t >= 0 && t < n_classes` failed.",
        "label_out_of_range",
        {},
    ),
    (
        "PyTorch 2.x CPU (aten/src/ATen/native/LossNLL.cpp)",
        "IndexError: Target 5 is out of bounds.",
        "label_out_of_range",
        {"label": 5},
    ),
    (
        "TensorFlow 2.x CPU (core/kernels/sparse_xent_op.cc), Keras 2/3 on TensorFlow",
        "Received a label value of 10 which is outside the valid range of [0, 10).  Label values: 3 10 1",
        "label_out_of_range",
        {"label": 10, "classes": 10},
    ),
    (
        "Lua Torch cutorch (THCGeneral.c __THCudaCheck), PyTorch <= 0.4",
        "THCudaCheck FAIL file=/tmp/luarocks_cutorch-scm-1-1695/cutorch/lib/THC/generic/THCStorage.c line=32 "
        "error=59 : device-side assert triggered",
        "cuda_device_assert",
        {},
    ),
    (
        "Lua Torch cutorch (THCGeneral.c _THError), PyTorch <= 0.4",
        "RuntimeError: cuda runtime error (59) : device-side assert triggered at "
        "/pytorch/torch/lib/THC/generic/THCStorage.c:32",
        "cuda_device_assert",
        {},
    ),
    # ---------------------------------------------------------------- NaN guards
    (
        "PyTorch 1.9+ (torch/nn/utils/clip_grad.py, error_if_nonfinite=True)",
        "RuntimeError: The total norm of order 2.0 for gradients from `parameters` is non-finite, so it cannot "
        "be clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
        "`error_if_nonfinite=False`",
        "nan_loss",
        {},
    ),
    (
        "PyTorch Lightning 1.2 (terminate_on_nan=True, training_tricks.py detect_nan_tensors)",
        "ValueError: Detected nan and/or inf values in `layer.0.weight`. Check your forward pass for "
        "numerically unstable operations.",
        "nan_loss",
        {"parameter": "layer.0.weight"},
    ),
    (
        "neuralhydrology 1.x (training/basetrainer.py)",
        "RuntimeError: Loss was NaN for 3 times in a row. Stopped training.",
        "nan_loss",
        {},
    ),
    (
        "neuralhydrology 1.10+ (training/basetrainer.py, loss or gradients)",
        "RuntimeError: Loss/gradients were NaN for 1 times in a row. Stopped training.",
        "nan_loss",
        {},
    ),
    (
        "Mozilla TTS 0.0.x / Coqui TTS 0.x (TTS/tts/layers/losses.py, TacotronLoss.forward)",
        "RuntimeError:  [!] NaN loss with decoder_loss.",
        "nan_loss",
        {"loss": "decoder_loss"},
    ),
    (
        "Lua Torch char-rnn (train.lua)",
        "loss is NaN.  This usually indicates a bug. Please check the issues page for existing issues, or create "
        "a new issue, if none exist.  Ideally, please state: your operating system, 32-bit/64-bit, your blas "
        "version, cpu/cuda/cl?",
        "nan_loss",
        {"value": "nan"},
    ),
    ("Lua Torch char-rnn (train.lua)", "loss is exploding, aborting.", "nan_loss", {"value": "exploding"}),
    (
        "scae-pytorch (scae/models/pcae.py training_step: raise ValueError('loss is nan')), a project's own stop",
        "ValueError: loss is nan",
        "nan_loss",
        {"framework": "any"},
    ),
    (
        "a project's own stop: raise RuntimeError('Loss is NaN, gradients are not finite')",
        "RuntimeError: Loss is NaN, gradients are not finite",
        "nan_loss",
        {"framework": "any"},
    ),
    (
        "ESPnet2 0.9-202x (espnet2/train/trainer.py Trainer.run, all_steps_are_invalid)",
        "[gpu01] 2021-08-20 10:00:00,000 (trainer:404) WARNING: The gradients at all steps are invalid in this "
        "epoch. Something seems wrong. This training was stopped at 2epoch",
        "nan_loss",
        {"epoch": 2},
    ),
    # ---------------------------------------------------------------- a step thrown away, training goes on
    (
        "ESPnet2 0.9 (espnet2/train/trainer.py train_one_epoch; clip_grad_norm_ gave a float)",
        "[gpu01] 2021-08-20 10:00:00,000 (trainer:582) WARNING: The grad norm is nan. Skipping updating the model.",
        "nonfinite_step_skipped",
        {"value": "nan", "framework": "espnet2"},
    ),
    (
        "ESPnet2 202x (espnet2/train/trainer.py train_one_epoch; the norm made a tensor first)",
        "[gpu01] 2023-03-01 10:00:00,000 (trainer:612) WARNING: The grad norm is tensor(inf, device='cuda:0'). "
        "Skipping updating the model.",
        "nonfinite_step_skipped",
        {"value": "tensor(inf, device='cuda:0')", "framework": "espnet2"},
    ),
    (
        "a training loop's own check: print(f'[Epoch {epoch} Step {step}] NaN loss, skipping step')",
        "[Epoch 3 Step 1200] NaN loss, skipping step",
        "nonfinite_step_skipped",
        {"framework": "any"},
    ),
    (
        "a training loop's own check: print('Batch had nan loss, skipping this batch.')",
        "Batch had nan loss, skipping this batch.",
        "nonfinite_step_skipped",
        {"framework": "any"},
    ),
    (
        "a training loop's own check: print(f'  Step {step}: NaN loss, skipping')",
        "  Step 40: NaN loss, skipping",
        "nonfinite_step_skipped",
        {"framework": "any"},
    ),
    # ---------------------------------------------------------------- anomaly detection
    (
        "PyTorch 2.x anomaly mode (torch/csrc/autograd/engine.cpp), Lightning detect_anomaly=True",
        "RuntimeError: Function 'LogBackward0' returned nan values in its 0th output.",
        "nonfinite_gradient",
        {"function": "LogBackward0"},
    ),
    (
        "transformers 4.x DebugUnderflowOverflow (debug_utils.py dump_saved_frames)",
        "Detected inf/nan during batch_number=12",
        "nonfinite_tensor",
        {"batch": 12},
    ),
    (
        "transformers 4.x DebugUnderflowOverflow (debug_utils.py, the ValueError)",
        "ValueError: DebugUnderflowOverflow: inf/nan detected, aborting as there is no point running further. "
        "Please scroll up above this traceback to see the activation values prior to this event.",
        "nonfinite_tensor",
        {},
    ),
    (
        "fairseq 0.10-0.12 NanDetector (fairseq/nan_detector.py, through its logger)",
        "2022-05-01 10:00:00 | WARNING | fairseq.nan_detector | NaN detected in output of "
        "decoder.layers.5.self_attn, shape: torch.Size([128, 16, 512]), forward input max: 12.5, input min: -11.0",
        "nonfinite_tensor",
        {"module": "decoder.layers.5.self_attn", "what": "nan"},
    ),
    (
        "torchdiffeq 0.0-0.2 dopri5 (_impl/dopri5.py, the step size's assert, its AssertionError as CPython prints it)",
        "AssertionError: underflow in dt nan",
        "nonfinite_tensor",
        {"what": "nan"},
    ),
    (
        "JAX 0.4 checkify (jax/_src/checkify.py, float_checks)",
        "jax._src.checkify.JaxRuntimeError: nan generated by primitive: log",
        "nonfinite_tensor",
        {"op": "log"},
    ),
    (
        "JAX 0.3 checkify (jax/experimental/checkify.py)",
        "ValueError: nan generated by primitive sin at train.py:12 (loss_fn)",
        "nonfinite_tensor",
        {"op": "sin"},
    ),
    (
        "JAX jax_debug_nans (jax/_src/dispatch.py)",
        "FloatingPointError: invalid value (nan) encountered in jit(log)",
        "nonfinite_tensor",
        {"op": "log"},
    ),
    (
        "Lua Torch nngraph (gmodule.lua, checked mode)",
        "/home/u/torch/install/bin/luajit: ...install/share/lua/5.1/nngraph/gmodule.lua:265: output is nan, "
        "during forward pass, aborting...",
        "nan_loss",
        {},
    ),
    (
        "TensorFlow 1.x (core/kernels/summary_op.cc, tf.summary.histogram)",
        "tensorflow.python.framework.errors_impl.InvalidArgumentError: Nan in summary histogram for: conv2/activations",
        "nonfinite_tensor",
        {"tensor": "conv2/activations", "what": "nan"},
    ),
    (
        "Keras 2.2 TensorBoard(histogram_freq=1) on TensorFlow 1.x (summary_op.cc)",
        "InvalidArgumentError: Infinity in summary histogram for: dense_1/kernel_0",
        "nonfinite_tensor",
        {"tensor": "dense_1/kernel_0", "what": "inf"},
    ),
    (
        "PyTorch 1.8+ distributions (torch/distributions/distribution.py, validate_args)",
        "ValueError: Expected parameter loc (Tensor of shape (64, 2)) of distribution Normal(loc: "
        "torch.Size([64, 2]), scale: torch.Size([64, 2])) to satisfy the constraint Real(), but found invalid "
        "values:",
        "nonfinite_tensor",
        {"parameter": "loc", "what": "nan"},
    ),
    (
        "PyTorch 1.x-2.x torch.multinomial (aten/src/ATen/native/Distributions.cpp)",
        "RuntimeError: probability tensor contains either `inf`, `nan` or element < 0",
        "nonfinite_tensor",
        {},
    ),
    (
        "TF Object Detection API 1.x (trainer.py check_numerics on the total loss)",
        "InvalidArgumentError (see above for traceback): LossTensor is inf or nan. : Tensor had NaN values",
        "nan_loss",
        {},
    ),
    (
        "tf_slim (learning.py create_train_op, check_numerics=True)",
        "LossTensor is inf or nan : Tensor had Inf values",
        "nan_loss",
        {},
    ),
    (
        "Megatron-LM core 0.9+ (param_and_grad_buffer.py through the rerun state machine)",
        "RuntimeError: Rank 3, node gpu-17, device 3, iteration 1512: Unexpected result inf (message='found Inf in "
        "local grad norm for bucket #0 in backward pass before data-parallel communication collective')",
        "nan_loss",
        {},
    ),
    # ---------------------------------------------------------------- loss scaling and its floor
    (
        "apex 0.1 FP16_Optimizer (apex/fp16_utils/fp16_optimizer.py), Megatron-LM's first fp16 optimizer",
        "OVERFLOW! Skipping step. Attempted loss scale: 65536.0, reducing to 32768.0",
        "loss_scale_overflow_transient",
        {"loss_scale": 32768.0, "attempted": 65536.0},
    ),
    (
        "apex before 0.1 FP16_Optimizer (scale only)",
        "OVERFLOW! Skipping step. Attempted loss scale: 4294967296",
        "loss_scale_overflow_transient",
        {"loss_scale": 4294967296.0, "attempted": None},
    ),
    # MindYOLO (mindyolo/utils/trainer_factory.py, logger.warning through its '%(asctime)s [%(levelname)s] '
    # format; the scale is a float32 Tensor's asnumpy())
    (
        "MindYOLO 0.4 (overflow_still_update True)",
        "2024-12-25 09:58:34,125 [WARNING] overflow, still update, loss scale adjust to 1024.0",
        "loss_scale_overflow_transient",
        {"loss_scale": 1024.0, "still_update": True},
    ),
    (
        "MindYOLO 0.4 (overflow_still_update False)",
        "2024-12-25 09:58:34,125 [WARNING] overflow, drop step, loss scale adjust to 32768.0",
        "loss_scale_overflow_transient",
        {"loss_scale": 32768.0, "still_update": False},
    ),
    (
        "DeepSpeed <= 0.9 (zero/stage_1_and_2.py)",
        "[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 65536, reducing to 32768",
        "loss_scale_overflow_transient",
        {"loss_scale": 32768.0, "attempted": 65536.0},
    ),
    (
        "openai guided-diffusion 2021 (guided_diffusion/fp16_util.py MixedPrecisionTrainer, logger.log)",
        "Found NaN, decreased lg_loss_scale to 19.5",
        "loss_scale_overflow_transient",
        {"loss_scale": 2.0**19.5},
    ),
    (
        "DeepSpeed (runtime/fp16/loss_scaler.py)",
        "Current loss scale already at minimum - cannot decrease scale anymore. Exiting run.",
        "loss_scale_minimum",
        {},
    ),
    (
        "fairseq (optim/dynamic_loss_scaler.py)",
        "FloatingPointError: Minimum loss scale reached (0.0001). Your loss is probably exploding. Try lowering "
        "the learning rate, using gradient clipping or increasing the batch size.",
        "loss_scale_minimum",
        {"min_scale": 0.0001},
    ),
    (
        "Marian 1.11 (src/training/graph_group.cpp GraphGroup::decreaseCostScaleFactor, spdlog prefix)",
        "[2022-05-09 06:55:01] NaN/Inf percentage 0.70 in 10 gradient updates, but cost-scaling factor 7.62939e-06 "
        "is already at minimum",
        "loss_scale_minimum",
        {"min_scale": 7.62939e-06},
    ),
    (
        "k2-fsa icefall (2023, egs/*/train.py: raise RuntimeError(f'grad_scale is too small, exiting: {...}'))",
        "RuntimeError: grad_scale is too small, exiting: 2.3283064365386963e-10",
        "loss_scale_minimum",
        {"min_scale": 2.3283064365386963e-10},
    ),
    (
        "PyTorch 1.x/2.x CPU (aten/src/ATen/native/Onehot.cpp, F.one_hot)",
        "RuntimeError: Class values must be smaller than num_classes.",
        "label_out_of_range",
        {},
    ),
    (
        "PyTorch 1.x/2.x CPU (aten/src/ATen/native/Onehot.cpp, F.one_hot)",
        "RuntimeError: Class values must be non-negative.",
        "label_out_of_range",
        {"side": "negative"},
    ),
    (
        "PyTorch one_hot's check under an MPI launcher's prefix (SageMaker's mpirun: '[1,mpirank:N,host]<stderr>:')",
        "[1,mpirank:0,algo-1]<stderr>:RuntimeError: Class values must be non-negative.",
        "label_out_of_range",
        {"side": "negative"},
    ),
    (
        "NumPy >= 1.17 numpy/random/_generator.pyx and mtrand.pyx (choice with p)",
        "ValueError: Probabilities contain NaN",
        "nonfinite_tensor",
        {"framework": "numpy"},
    ),
    (
        "NumPy < 1.17 numpy/random/mtrand/mtrand.pyx (RandomState.choice with p)",
        "ValueError: probabilities contain NaN",
        "nonfinite_tensor",
        {"framework": "numpy"},
    ),
    (
        "pjreddie darknet src/yolo_layer.c forward_yolo_layer (printf of the layer's means; No Obj over every anchor)",
        "Region 82 Avg IOU: nan, Class: nan, Obj: nan, No Obj: nan, .5R: 0.000000, .75R: 0.000000,  count: 2",
        "nonfinite_tensor",
        {"framework": "darknet", "value": "nan"},
    ),
    (
        "AlexeyAB darknet src/yolo_layer.c (fprintf to stderr, 'v3 (iou loss, Normalizer: ...) Region N Avg (...)')",
        "v3 (iou loss, Normalizer: (iou: 0.07, cls: 1.00) Region 106 Avg (IOU: -nan, GIOU: -nan), Class: -nan, "
        "Obj: -nan, No Obj: -nan, .5R: 0.000000, .75R: 0.000000, count: 3, class_loss = -nan, iou_loss = -nan, "
        "total_loss = -nan ",
        "nonfinite_tensor",
        {"framework": "darknet", "value": "-nan"},
    ),
    (
        "k2-fsa icefall (2024, egs/*/zipformer/train.py: logging.warning(f'Grad scale is small: {cur_grad_scale}'))",
        "2024-01-14 01:03:00,826 WARNING [train.py:1057] (2/4) Grad scale is small: 0.0078125",
        "mixed_precision",
        {"framework": "icefall", "loss_scale": 0.0078125},
    ),
    (
        "Ultralytics 8.0 utils/checks.py check_amp, turning AMP off (the ❌ as a paste may lose it)",
        "AMP: checks failed . Anomalies were detected with AMP on your system that may lead to NaN losses or zero-mAP "
        "results, so AMP will be disabled during training.",
        "mixed_precision",
        {"framework": "ultralytics", "dtype": "float32", "amp": "disabled"},
    ),
    (
        "Ultralytics 8.3 utils/checks.py check_amp, LOGGER.error without the mark",
        "WARNING ⚠️ AMP: checks failed. Anomalies were detected with AMP on your system that may lead to NaN losses or "
        "zero-mAP results, so AMP will be disabled during training.",
        "mixed_precision",
        {"framework": "ultralytics", "dtype": "float32"},
    ),
    (
        "YOLOv5 utils/general.py check_amp (v6.2 on)",
        "AMP: checks failed ❌, disabling Automatic Mixed Precision. See https://github.com/ultralytics/yolov5/issues/7908",
        "mixed_precision",
        {"framework": "yolov5", "dtype": "float32", "amp": "disabled"},
    ),
    (
        "Ultralytics and YOLOv5 check_amp: AMP stays on (amp=True by default)",
        "AMP: checks passed ✅",
        "mixed_precision",
        {"framework": "ultralytics", "dtype": "float16"},
    ),
    (
        "ESPnet2 espnet2/train/reporter.py aggregate (FunASR's copy prints the same): every value of a weighted stat "
        "was non-finite, the stat is printed as nan",
        "/usr/local/lib/python3.8/dist-packages/funasr/train/reporter.py:79: UserWarning: No valid stats found",
        "nonfinite_logged",
        {"framework": "espnet2"},
    ),
    (
        "mmdetection 2.x mmdet/core/hook/checkloss_hook.py, 3.x mmdet/engine/hooks/checkloss_hook.py (its check hook)",
        "2022-05-27 15:51:43,674 - mmdet - INFO - loss become infinite or NaN!",
        "nan_loss",
        {"framework": "openmmlab"},
    ),
    (
        "flashlight app/asr/Train.cpp (FL_LOG(fl::FATAL) after af::isNaN on the loss), wav2letter++ 0.2 Train.cpp",
        "F0723 11:44:54.493821  2870 Train.cpp:616] Loss has NaN values. Samples - train-clean-100-4014-186175-0018",
        "nan_loss",
        {"framework": "flashlight"},
    ),
    (
        "flashlight app/asr/Train.cpp (FL_LOG(fl::FATAL) after af::isNaN on the batch's input and target)",
        "F0827 23:37:31.375236 95819 Train.cpp:527] Sample has NaN values - train-clean-100-2843-152918-0013,"
        "train-clean-100-3807-4923-0021",
        "nonfinite_input",
        {"framework": "flashlight"},
    ),
    (
        "GluonTS 0.5 gluonts/trainer/_base.py, 0.6+ gluonts/mx/trainer/_base.py (GluonTSUserError when the scheduler "
        "first lowers the LR and no epoch's loss was finite)",
        "gluonts.core.exception.GluonTSUserError: Got NaN in first epoch. Try reducing initial learning rate.",
        "nan_loss",
        {"framework": "gluonts"},
    ),
    (
        "PaddlePaddle 2.x python/paddle/amp/grad_scaler.py (AmpScaler._update: "
        "'Found inf or nan, current scale is: {}, decrease to: {}*{}'.format(scale, scale, decr_ratio))",
        "Found inf or nan, current scale is: 32768.0, decrease to: 32768.0*0.5",
        "loss_scale_overflow_transient",
        {"framework": "paddle", "loss_scale": 16384.0, "attempted": 32768.0},
    ),
    # ---------------------------------------------------------------- out of memory
    (
        "Lua Torch torch7 (lib/TH/THGeneral.c THAlloc), PyTorch <= 0.4 CPU",
        "$ Torch: not enough memory: you tried to allocate 21GB. Buy new RAM! at "
        "/tmp/luarocks_torch-scm-1-1092/torch7/lib/TH/THGeneral.c:270",
        "oom",
        {},
    ),
    (
        "PyTorch 1.1-1.3 CPU (c10/core/CPUAllocator.cpp)",
        "RuntimeError: [enforce fail at ..\\c10\\core\\CPUAllocator.cpp:72] data. DefaultCPUAllocator: not enough "
        "memory: you tried to allocate 12000000000 bytes. Buy new RAM!",
        "oom",
        {},
    ),
    (
        "PyTorch 0.3 CUDA (THC THCGeneral.c), Lua Torch cutorch",
        "RuntimeError: cuda runtime error (2) : out of memory at /pytorch/torch/lib/THC/generic/THCStorage.cu:58",
        "oom",
        {},
    ),
    (
        "PyTorch 2.x MPS (aten/src/ATen/mps/MPSAllocator.mm)",
        "RuntimeError: MPS backend out of memory (MPS allocated: 17.75 GB, other allocations: 328.00 KB, max "
        "allowed: 18.13 GB). Tried to allocate 1.00 GB on private pool.",
        "oom",
        {},
    ),
    (
        "PyTorch 1.x ROCm (CUDACachingAllocator.cpp hipified)",
        "RuntimeError: HIP out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.98 GiB total capacity; 14.20 GiB "
        "already allocated)",
        "oom",
        {},
    ),
    (
        "accelerate 0.20+ find_executable_batch_size (HF Trainer auto_find_batch_size)",
        "RuntimeError: No executable batch size found, reached zero.",
        "oom",
        {},
    ),
    (
        "Theano 0.9 (sandbox/cuda/cuda_ndarray.cu), Keras 1/2 on Theano",
        "MemoryError: Error allocating 37748736 bytes of device memory (out of memory).",
        "oom",
        {},
    ),
    (
        "Theano 0.9 (cuda_ndarray.cu device_malloc's own stderr line)",
        "Error allocating 37748736 bytes of device memory (out of memory). Driver report 3964928 bytes free and "
        "2147155968 bytes total",
        "oom",
        {},
    ),
    (
        "MXNet 1.x (src/storage/pooled_storage_manager.h GPUPooledStorageManager::Alloc, through dmlc's LOG(FATAL))",
        "  what():  [10:44:35] src/storage/./pooled_storage_manager.h:107: cudaMalloc failed: out of memory",
        "oom",
        {},
    ),
    (
        "Megatron-LM core 0.9+ (rerun_state_machine.py validate_result, reruns disabled: it names the iteration)",
        "RuntimeError: Rank 0, node gpu-a1, device 0, iteration 1234: Unexpected result nan (message='found NaN "
        "in local forward loss calculation')",
        "nan_loss",
        {"step": 1234},
    ),
    (
        "fairseq 0.10-0.12 (trainer.py train_step, through its logger)",
        "2021-03-01 10:01:00 | WARNING | fairseq.trainer | attempting to recover from OOM in forward/backward pass",
        "oom",
        {"recovered": True},
    ),
    (
        "fairseq2 (recipes' trainer)",
        "Attempting to recover from OOM on R0 (OOMS=1)",
        "oom",
        {"recovered": True},
    ),
    (
        "fairseq-py 0.6 (trainer.py), ParlAI and their copies",
        "| WARNING: ran out of memory, skipping batch: 12(train) | Message: CUDA out of memory. Tried to allocate "
        "20.00 MiB",
        "oom",
        {"recovered": True},
    ),
    (
        "JAX 0.4 / XLA (RESOURCE_EXHAUSTED status)",
        "jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate "
        "17179869184 bytes.",
        "oom",
        {},
    ),
    # ---------------------------------------------------------------- NCCL and timeouts
    (
        "PyTorch 1.12-2.x (c10d ProcessGroupNCCL.cpp WorkNCCL::handleException)",
        "[E ProcessGroupNCCL.cpp:414] Some NCCL operations have failed or timed out. Due to the asynchronous "
        "nature of CUDA kernels, subsequent GPU operations might run on corrupted/incomplete data. To avoid this "
        "inconsistency, we are taking the entire process down.",
        "distributed_failure",
        {},
    ),
    (
        "PyTorch 1.7 (torch/lib/c10d/ProcessGroupNCCL.cpp)",
        "[Rank 0] Caught collective operation timeout for work: WorkNCCL(OpType=ALLREDUCE, TensorShape=[1], "
        "Timeout(ms)=1800000)",
        "distributed_failure",
        {"what": "timeout"},
    ),
    (
        "PyTorch Gloo (third_party/gloo/gloo/transport/tcp/unbound_buffer.cc)",
        "RuntimeError: [/pytorch/third_party/gloo/gloo/transport/tcp/unbound_buffer.cc:78] Timed out waiting "
        "1800000ms for recv operation to complete",
        "distributed_failure",
        {"what": "timeout"},
    ),
    (
        "PyTorch Gloo (third_party/gloo/gloo/transport/tcp/pair.cc)",
        "RuntimeError: [../third_party/gloo/gloo/transport/tcp/pair.cc:598] Connection closed by peer [10.0.0.2]:43512",
        "distributed_failure",
        {"what": "peer_closed"},
    ),
    (
        "TensorFlow 2.4-2.15 (core/common_runtime/base_collective_executor.cc)",
        "tensorflow.python.framework.errors_impl.InternalError: Collective ops is aborted by: Error invoking "
        "NCCL: unhandled cuda error",
        "distributed_failure",
        {},
    ),
    (
        "JAX 0.4 / XLA (xla/service/gpu/nccl_api.cc XLA_NCCL_STATUS)",
        "jaxlib.xla_extension.XlaRuntimeError: INTERNAL: NCCL operation ncclGroupEnd() failed: unhandled system "
        "error. Last NCCL warning(error) log entry (may be unrelated) 'Net : Call to recv failed'.",
        "distributed_failure",
        {"what": "nccl_error", "reason": "unhandled system error"},
    ),
    (
        "YOLACT (utils/functions.py MovingAverage.add: print('Warning: Moving average ignored a value of %f' % elem))",
        "Warning: Moving average ignored a value of nan",
        "nonfinite_logged",
        {},
    ),
    # ---------------------------------------------------------------- a data-loading worker died
    (
        "PyTorch 1.x-2.x (torch/csrc/DataLoader.cpp, _error_if_any_worker_fails: strsignal(SIGKILL))",
        "RuntimeError: DataLoader worker (pid 24817) is killed by signal: Killed. ",
        "worker_died",
        {"signal": "Killed"},
    ),
    (
        "PyTorch 1.x-2.x (torch/csrc/DataLoader.cpp: SIGBUS, with its shared-memory hint)",
        "RuntimeError: DataLoader worker (pid 311) is killed by signal: Bus error. It is possible that dataloader's "
        "workers are out of shared memory. Please try to raise your shared memory limit.",
        "worker_died",
        {"signal": "Bus error"},
    ),
    (
        "PyTorch 1.x-2.x (torch/csrc/DataLoader.cpp: a worker that exited with an error code)",
        "RuntimeError: DataLoader worker (pid 9120) exited unexpectedly with exit code 1. Details are lost due to "
        "multiprocessing. Rerunning with num_workers=0 may give better error trace.",
        "worker_died",
        {"exit_code": 1},
    ),
    (
        "PyTorch 1.x-2.x (torch/utils/data/dataloader.py _try_get_data)",
        "RuntimeError: DataLoader worker (pid(s) 24817, 24818) exited unexpectedly",
        "worker_died",
        {},
    ),
    (
        "PyTorch 1.x-2.x (torch/csrc/DataLoader.cpp: strsignal(SIGTERM), a worker stopped from outside with its job)",
        "RuntimeError: DataLoader worker (pid 24817) is killed by signal: Terminated. ",
        "job_killed",
        {"what": "signal", "signal": 15},
    ),
    (
        "PyTorch 1.x-2.x (torch/csrc/DataLoader.cpp, the worker's SIGSEGV handler)",
        "ERROR: Unexpected segmentation fault encountered in worker.",
        "worker_died",
        {"signal": "segmentation fault"},
    ),
    (
        "PyTorch 1.x-2.x (torch/csrc/DataLoader.cpp), the line cut after 'is killed by' as a paste or a terminal "
        "lost its end",
        "RuntimeError: DataLoader worker (pid 2978) is killed by",
        "worker_died",
        {},
    ),
    # ---------------------------------------------------------------- a file the job could not write
    (
        "Python 3 on Linux (OSError of ENOSPC: '[Errno %d] %s' % (errno, strerror)), raised out of torch.save",
        "OSError: [Errno 28] No space left on device",
        "write_failed",
        {"what": "disk_full"},
    ),
    (
        "Python 3 on Linux (OSError of EDQUOT)",
        "OSError: [Errno 122] Disk quota exceeded",
        "write_failed",
        {"what": "quota"},
    ),
    (
        "Python 3 on Windows (OSError of ERROR_DISK_FULL: '[WinError %d] %s')",
        "OSError: [WinError 112] There is not enough space on the disk",
        "write_failed",
        {"what": "disk_full"},
    ),
    (
        "TensorFlow 2.x (tsl/platform/errors.cc IOError: StrCat(context, '; ', strerror(errno)), ENOSPC mapped to "
        "RESOURCE_EXHAUSTED), a SaveV2 on a full disk",
        "tensorflow.python.framework.errors_impl.ResourceExhaustedError: /ckpt/model.ckpt-500_temp/part-00000-of-00001"
        ".data-00000-of-00001.tempstate5914226105466155; No space left on device [Op:SaveV2]",
        "write_failed",
        {"what": "disk_full"},
    ),
    (
        "PyTorch 1.x-2.x (torch/lib/libshm/core.cpp: a DataLoader batch into a full /dev/shm)",
        "RuntimeError: unable to write to file </torch_6123_3318196932_0>: No space left on device (28)",
        "write_failed",
        {"what": "shared_memory"},
    ),
    (
        "PyTorch 1.x-2.x (caffe2/serialize/inline_container.cc PyTorchStreamWriter::valid, miniz's "
        "MZ_ZIP_FILE_WRITE_FAILED)",
        "RuntimeError: PytorchStreamWriter failed writing file data/12: file write failed",
        "write_failed",
        {"what": "short_write"},
    ),
    (
        "PyTorch 1.x-2.x (caffe2/serialize/inline_container.cc writeRecord: CAFFE_ENFORCE_EQ on the position)",
        "RuntimeError: [enforce fail at inline_container.cc:445] . unexpected pos 2368 vs 2262",
        "write_failed",
        {"what": "short_write"},
    ),
    (
        "PyTorch 1.x (caffe2/serialize/inline_container.cc PyTorchStreamWriter::setup: CAFFE_ENFORCE(file_stream_, "
        "'File ', file_name, ' cannot be opened.'))",
        "RuntimeError: File checkpoints/checkpoint_0.pt cannot be opened.",
        "write_failed",
        {"what": "open"},
    ),
    (
        "NumPy 1.x (numpy/core/src/multiarray/convert.c PyArray_ToFile: '%ld requested and %ld written')",
        "OSError: 100000 requested and 496 written",
        "write_failed",
        {"what": "short_write"},
    ),
    # ---------------------------------------------------------------- a CUDA kernel faulted
    (
        "PyTorch 1.x-2.x (c10/cuda/CUDAException: 'CUDA error: ' + cudaGetErrorString(cudaErrorIllegalAddress))",
        "RuntimeError: CUDA error: an illegal memory access was encountered",
        "cuda_fault",
        {"what": "an illegal memory access was encountered"},
    ),
    (
        "PyTorch 1.x-2.x (cudaErrorMisalignedAddress)",
        "RuntimeError: CUDA error: misaligned address",
        "cuda_fault",
        {"what": "misaligned address"},
    ),
    (
        "PyTorch 1.x-2.x (cudaErrorLaunchFailure)",
        "RuntimeError: CUDA error: unspecified launch failure",
        "cuda_fault",
        {"what": "unspecified launch failure"},
    ),
    (
        "Lua Torch / PyTorch <= 0.4 (cutorch THCGeneral.c __THCudaCheck: 'cuda runtime error (%d) : %s at %s:%d')",
        "RuntimeError: cuda runtime error (77) : an illegal memory access was encountered at "
        "/pytorch/aten/src/THC/THCCachingHostAllocator.cpp:265",
        "cuda_fault",
        {"what": "an illegal memory access was encountered"},
    ),
    (
        "TensorFlow 2.x / XLA stream executor (cuGetErrorName: cuGetErrorString)",
        "E tensorflow/stream_executor/cuda/cuda_event.cc:29] Error polling for event status: failed to query event: "
        "CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access was encountered",
        "cuda_fault",
        {"what": "illegal_address"},
    ),
    (
        'ZoeDepth (2023, zoedepth/trainers/base_trainer.py: raise ValueError(f"{name} is NaN, Stopping training"))',
        "ValueError: SILog is NaN, Stopping training",
        "nan_loss",
        {"name": "SILog"},
    ),
    (
        "ultralytics yolov5 (2020, train.py: print('WARNING: non-finite loss, ending training ', loss_items))",
        "WARNING: non-finite loss, ending training  tensor([nan, nan, nan, nan], device='cuda:0')",
        "nan_loss",
        {},
    ),
    (
        "fastText 0.9 (src/densematrix.h EncounteredNaNError, libstdc++'s terminate handler glued to the "
        "trainer's \\r progress line)",
        "Progress:   0.4% words/sec/thread:    5120 lr:  0.996012 avg.loss:  9.000000 ETA:   1h02m03s"
        "terminate called after throwing an instance of 'fasttext::DenseMatrix::EncounteredNaNError'",
        "nan_loss",
        {"framework": "fasttext"},
    ),
    (
        "fastText 0.9 (the terminate handler's what() line)",
        "  what():  Encountered NaN.",
        "nan_loss",
        {"framework": "fasttext"},
    ),
    (
        "fastText 0.9 Python module (pybind11 turns the std::runtime_error into RuntimeError)",
        "RuntimeError: Encountered NaN.",
        "nan_loss",
        {"framework": "fasttext"},
    ),
    (
        "neosr (2024, neosr/models/image.py: raise ValueError with this text when torch.isnan(l_g_total))",
        "                  NaN found, aborting training. Make sure you're using a proper learning rate.",
        "nan_loss",
        {},
    ),
    (
        'AdaBins (2021, loss.py SILogLoss.forward: print("Nan SILog loss")), copied by ZoeDepth\'s loss.py',
        "Nan SILog loss",
        "nonfinite_tensor",
        {"tensor": "SILog loss"},
    ),
    # guards that zero or skip a non-finite loss and go on, clip_grad_norm_'s non-finite norm (issue 11)
    (
        "deepspeech.pytorch 2017-2018 train.py: print('WARNING: received an inf loss, setting loss value to 0')",
        "WARNING: received an inf loss, setting loss value to 0",
        "nonfinite_step_skipped",
        {"value": "inf", "framework": "deepspeech.pytorch"},
    ),
    (
        "deepspeech.pytorch 2019-2020 utils.py check_loss (NaN branch), printed by train.py before 'Skipping grad "
        "update'",
        "WARNING: received a nan loss, setting loss value to 0",
        "nonfinite_step_skipped",
        {"value": "nan"},
    ),
    (
        "deepspeech.pytorch 2019-2020 utils.py check_loss (inf branch)",
        "WARNING: received an inf loss",
        "nonfinite_step_skipped",
        {"value": "inf"},
    ),
    (
        "deepspeech.pytorch 2019-2020 utils.py check_loss (negative branch)",
        "WARNING: received a negative loss",
        "nonfinite_step_skipped",
        {"value": "negative"},
    ),
    (
        "crnn forks of deepspeech.pytorch's check (print('Warning: received an inf loss, setting loss value to 0'))",
        "Warning: received an inf loss, setting loss value to 0",
        "nonfinite_step_skipped",
        {"value": "inf"},
    ),
    (
        "deepspeech.pytorch 2021 deepspeech_pytorch/model.py: raise Exception('WARNING: received a nan loss')",
        "Exception: WARNING: received a nan loss",
        "nan_loss",
        {"value": "nan"},
    ),
    (
        "k2-fsa icefall pruned_transducer_stateless*/train.py compute_loss: logging.info('Not all losses are "
        "finite!\\n' ...), through the logging format '%(asctime)s %(levelname)s [%(filename)s:%(lineno)d] "
        "%(message)s'",
        "2023-03-01 10:00:00,123 INFO [train.py:712] Not all losses are finite!",
        "nonfinite_step_skipped",
        {"framework": "icefall"},
    ),
    (
        "a training loop's own check in any words, ending on the skip (print('NaN in loss, skipping'))",
        "[step 1200] NaN in loss, skipping",
        "nonfinite_step_skipped",
        {},
    ),
    (
        "PyTorch 1.9-1.12 torch/nn/utils/clip_grad.py: warnings.warn(..., FutureWarning), shown as "
        "'{file}:{line}: FutureWarning: {message}'",
        "/opt/conda/lib/python3.8/site-packages/transformers/trainer.py:1410: FutureWarning: Non-finite norm "
        "encountered in torch.nn.utils.clip_grad_norm_; continuing anyway. Note that the default behavior will "
        "change in a future release to error out if a non-finite total norm is encountered. At that point, setting "
        "error_if_nonfinite=false will be required to retain the old behavior.",
        "nonfinite_grad_norm",
        {"framework": "pytorch"},
    ),
    (
        "PyTorch >= 1.9 clip_grad_norm_(..., error_if_nonfinite=True): the RuntimeError (torch 2.13 prints the "
        "same words)",
        "RuntimeError: The total norm of order 2.0 for gradients from `parameters` is non-finite, so it cannot be "
        "clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
        "`error_if_nonfinite=False`",
        "nan_loss",
        {},
    ),
    (
        "detectron2 (modeling/proposal_generator/proposal_utils.py find_top_rpn_proposals, in training)",
        "FloatingPointError: Predicted boxes or scores contain Inf/NaN. Training has diverged.",
        "nan_loss",
        {"framework": "detectron2"},
    ),
    (
        "PaddlePaddle 2.x GPU (phi/kernels/gpu/bce_loss_kernel.cu: the binary cross-entropy's check of its input)",
        "Error: /paddle/paddle/phi/kernels/gpu/bce_loss_kernel.cu:42 Assertion `(x >= static_cast<T>(0)) && (x <= "
        "one)` failed. Input is expected to be within the interval [0, 1], but recieved nan.",
        "nan_loss",
        {"framework": "any"},
    ),
    ("an op's range check in other words", "ValueError: expected a probability in [0, 1] but got nan", "nan_loss", {}),
    (
        "NeMo 0.x's warning of a non-finite loss, as its Python logging printed it (a QuartzNet run's log)",
        "2020-01-20 11:00:16,715 - WARNING - WARNING: Loss is NaN or inf tensor(nan, device='cuda:0', "
        "grad_fn=<MeanBackward0>)",
        "nan_loss",
        {"framework": "any", "name": "Loss"},
    ),
    (
        "Low-rank Multimodal Fusion's train scripts (print('Training got into NaN values...'), then its exit)",
        "Training got into NaN values...",
        "nan_loss",
        {"framework": "any", "name": "Training"},
    ),
    ("a statement in capitals and other spellings", "LOSS IS NON-FINITE", "nan_loss", {"framework": "any"}),
    ("a statement of a rank's loss", "[rank0]: loss hit inf", "nan_loss", {"framework": "any"}),
    ("a statement of a negative infinity", "loss is -inf", "nan_loss", {"framework": "any"}),
    ("a statement with the value's capital only", "Loss is Nan", "nan_loss", {"framework": "any"}),
    (
        "a trainer's own statement under a bracketed counter",
        "[Epoch 3][iter 120] total loss became inf",
        "nan_loss",
        {"framework": "any", "name": "total loss"},
    ),
    (
        "PyTorch c10 CUDA check (C10_CUDA_CHECK) of cudaErrorECCUncorrectable",
        "RuntimeError: CUDA error: uncorrectable ECC error encountered",
        "cuda_fault",
        {"what": "uncorrectable ECC error encountered"},
    ),
    (
        "Thrust's failed to synchronize, with the CUDA runtime's error name and string (PyTorch 1.x reductions)",
        "RuntimeError: transform: failed to synchronize: cudaErrorECCUncorrectable: uncorrectable ECC error "
        "encountered",
        "cuda_fault",
        {"what": "ECCUncorrectable"},
    ),
    (
        "TensorFlow / XLA stream executor (the driver API's error name)",
        "E external/xla/xla/stream_executor/cuda/cuda_driver.cc:1202] failed to synchronize the stop event: "
        "CUDA_ERROR_ECC_UNCORRECTABLE: uncorrectable ECC error encountered",
        "cuda_fault",
        {"what": "ecc_uncorrectable"},
    ),
]


@pytest.mark.parametrize(("framework", "line", "family", "names"), PRINTED, ids=[p[0] for p in PRINTED])
def test_each_framework_message_is_read_to_its_family(framework, line, family, names):
    found = match_messages(line)
    assert family in [f for f, _ in found], (framework, found)
    got = next(fields for f, fields in found if f == family)
    for key, want in names.items():
        assert got.get(key) == want, (framework, key, got)
    # and the log reader turns the line into an event of that family
    _, events, *_ = parse_log_text(f"step 1 loss 2.0\n{line}\n")
    assert family in [e.kind for e in events], framework


def test_every_printed_case_is_a_catalogue_entry_or_the_reader_s_own():
    # each case above exercises a catalogued text (or check_numerics, which logs.py reads itself)
    needles = {m.needle for m in CATALOGUE}
    for framework, line, *_ in PRINTED:
        assert any(n in line for n in needles), framework


# Lines that look like a family's message and are not: warnings a job goes on from, words other
# programs print.
NOT_A_MESSAGE = [
    # another C++ exception's what() alone (its terminate line is a native_crash: tests/test_native_crash.py)
    "  what():  stoi",
    # fastText's words quoted in a question, not printed by the handler or pybind11
    "Why does training print Encountered NaN. when the lr is 1.0?",
    # TensorFlow GPU's start-up warnings: the BFC allocator retries smaller, the job goes on
    "2019-03-01 10:00:00.1: E tensorflow/stream_executor/cuda/cuda_driver.cc:806] failed to allocate 3.45G "
    "(3706811392 bytes) from device: CUDA_ERROR_OUT_OF_MEMORY: out of memory",
    "W tensorflow/core/common_runtime/bfc_allocator.cc:243] Allocator (GPU_0_bfc) ran out of memory trying to "
    "allocate 2.26GiB with freed_by_count=0. The caller indicates that this is not a failure, but may mean that "
    "there could be performance gains if more memory were available.",
    "W tensorflow/core/framework/cpu_allocator_impl.cc:80] Allocation of 1073741824 exceeds 10% of free system memory.",
    # anomaly mode prints this for any error in backward, not only a NaN
    "UserWarning: Error detected in AddmmBackward0. Traceback of forward call that caused the error:",
    # a distribution's other constraints fail on finite values too (a scale of 0)
    "ValueError: Expected parameter scale (Tensor of shape (64, 2)) of distribution Normal(loc: "
    "torch.Size([64, 2]), scale: torch.Size([64, 2])) to satisfy the constraint GreaterThan(lower_bound=0.0), "
    "but found invalid values:",
    # NCCL's own informational and warning lines: the collective goes on
    "node1:1234:1290 [0] NCCL INFO NET/Socket : Using [0]eth0:10.0.0.1<0>",
    "node1:1234:1290 [0] misc/ibvwrap.cc:252 NCCL WARN Call to ibv_open_device failed",
    # an overflow and a loss scale in other words (a config key, a note)
    "overflow_still_update: True",
    "integer overflow, still update the counter",
    # Lightning's batch-size finder caught an out-of-memory and tries a smaller batch
    "Batch size 512 failed, trying batch size 256",
    # the same words from programs that are no training framework
    "ssh_exchange_identification: Connection closed by peer",
    "Timed out waiting for the server to start",
    "NCCL operation is slow on this node, consider NCCL_P2P_DISABLE=1",
    "the loss is exploding, aborting is what I would do",
    "Skipping step 300 (already done)",
    "nan generated by the scaler is handled",
    # GluonTS's words quoted, not raised: a question, a to-do list of a tuning repository
    "Why do I keep getting Got NaN in first epoch. Try reducing initial learning rate. with DeepAR on my data?",
    "* tune_mqcnn     # GPU issues: Got NaN in first epoch. Try reducing initial learning rate.",
    # Paddle's scaler words in a sentence that is not its print
    "If you see found inf or nan in the scaler output, lower the learning rate",
    "README: if you see 'Found inf or nan, current scale is: 1.0, decrease to: 1.0*0.5' lower the LR",
    # the TTS guard's own source line, as a traceback shows it above the error: no loss named yet
    'raise RuntimeError(f" [!] NaN loss with {key}.")',
    "warning: NaN loss with fp16 is skipped by the scaler",
    # a skip that is no non-finite value's: resuming a data loader, a disabled EMA, a finance word
    "Skipping 120 batches to resume from step 3000",
    "[ema] skipping update of the EMA weights: ema disabled",
    "skipping step 40: the infinite sampler wraps around",
    # an exception naming the loss but no non-finite value, and one naming a NaN but no loss
    "KeyError: 'loss'",
    "ValueError: Input contains NaN, infinity or a value too large for dtype('float64').",
    # Megatron-LM's training_log counts them in every record: a count of 0 is no skip (and its metrics are read)
    " iteration     5426/  250000 | consumed samples:        43408 | elapsed time per iteration (ms): 4247.9 | "
    "learning rate: 2.999E-04 | global batch size:     8 | lm loss: 2.301E+00 | loss scale: 1.0 | grad norm: 0.512 | "
    "number of skipped iterations:   0 | number of nan iterations:   0 |",
    # deepspeech.pytorch's second line says what was done, not that a value was non-finite: the first line counts
    "Skipping grad update",
    # a data loader skipping a file that holds NaN: no loss, no step
    "Found nan in data file shard_0003.csv, skipping",
    # an exception raised in the data code of a worker that is still alive: re-raised as itself, no worker died
    "KeyError: Caught KeyError in DataLoader worker process 0.",
    "Original Traceback (most recent call last):",
    # the words in other senses
    "received a new learning rate from the scheduler: 0.001",
    "Not all ranks are ready, waiting",
    "clip_grad_norm_ total norm: 2.31",
    # a disk and its space in other words, a reader's failure (a corrupt checkpoint, no write), counts of things
    "Checking free space on device: 120 GB left",
    "RuntimeError: PytorchStreamReader failed reading zip archive: failed finding central directory",
    "Warning: File data/extra.txt cannot be opened. Skipping.",
    "4 GPUs requested and 2 available",
    "TypeError: unexpected positional argument 'pos'",
    # a CUDA error that is no fault of a kernel's (the driver or the device not there)
    "RuntimeError: CUDA error: no CUDA-capable device is detected",
    "UserWarning: CUDA initialization: CUDA driver initialization failed, you might not have a CUDA gpu.",
    # the loss said to be non-finite in prose, in a condition, of an evaluation; a gradient norm's (the scaler's)
    "With the default settings the loss is nan after a while.",
    "if loss is nan: lower the learning rate",
    "Epoch 1: val loss is nan",
    "grad norm is inf",
    "the loss is nan-free since the fix",
    # a check's words with a finite value, or a NaN the expectation does not name
    "ValueError: expected 3 channels but got 4",
    "Input is expected to be within the interval [0, 1], but received 1.2.",
    "but got nano seconds of sleep",
    "Training is infeasible with these settings",
    # detectron2's last sentence alone, of a finite loss
    "Training has diverged: loss 2.0e+06 > 1e5, stopping",
    # the new entries' words quoted in prose, or a trainer's own skip in other words
    "TODO: add a check like mmdet's: loss become infinite or NaN!",
    "In darknet, Region lines with No Obj: nan mean the network diverged",
    "Reminder: np.random.choice says 'Probabilities contain NaN' when the policy breaks",
    "Make sure your Class values must be smaller than num_classes",
    "WARNING Sample has NaN values, skipping it",
    # darknet's layer that matched no object this batch: its IOU, class and object means are 0/0 by design, and the
    # mean objectness over every anchor finite
    "Region 106 Avg IOU: -nan, Class: -nan, Obj: -nan, No Obj: 0.000427, .5R: -nan, .75R: -nan,  count: 0",
    # torchdiffeq's assert with a tiny finite step: a stiff problem, no NaN
    "AssertionError: underflow in dt 1.1368683772161603e-13",
    # the warning's second line, the source line Python's warnings module echoes under it, and a question about it
    '  warnings.warn("No valid stats found")',
    # Ultralytics' other AMP lines: the check starting, and a person's words naming the passed check
    "AMP: running Automatic Mixed Precision (AMP) checks with YOLOv8n...",
    "I think AMP: checks passed is printed even when the GPU is wrong",
]


@pytest.mark.parametrize("line", NOT_A_MESSAGE)
def test_look_alikes_are_no_message(line):
    _, events, *_ = parse_log_text(f"step 1 loss 2.0\n{line}\nstep 2 loss 1.9\n")
    assert [e.kind for e in events if e.kind != "exception"] == [], line


def _analyze(tmp_path, text: str):
    run = tmp_path / "run"
    run.mkdir(parents=True)
    (run / "train.log").write_text(text, encoding="utf-8")
    return forensics.analyze(str(run))


LOSS_LINES = "".join(f"step {i} loss {2.0 - 0.01 * i:.3f}\n" for i in range(1, 40))


def _raised(frame: str, source: str, exception: str) -> str:
    """A traceback as Python prints it: one frame, its source line, the exception."""
    return f"Traceback (most recent call last):\n  {frame}\n    {source}\n{exception}\n"


def test_a_toolkit_guard_stops_a_run_that_otherwise_looks_healthy(tmp_path):
    """neuralhydrology's NaN stop after finite losses: the run diverged, stopped by its guard."""
    lines = "".join(f"# Epoch {e}: avg_loss: {0.9 - 0.05 * e:.5f}\n" for e in range(1, 8))
    stop = _raised(
        'File "neuralhydrology/training/basetrainer.py", line 248, in _train_epoch',
        'raise RuntimeError(f"Loss was NaN for {nan_count} times in a row. Stopped training.")',
        "RuntimeError: Loss was NaN for 1 times in a row. Stopped training.",
    )
    report = _analyze(tmp_path, lines + stop)
    assert report.diverged is True
    assert report.ending.ended == "stopped"


def test_a_gloo_timeout_is_a_crash_that_is_no_divergence(tmp_path):
    stop = (
        "RuntimeError: [/pytorch/third_party/gloo/gloo/transport/tcp/unbound_buffer.cc:78] Timed out waiting "
        "1800000ms for recv operation to complete\n"
    )
    report = _analyze(tmp_path, LOSS_LINES + stop)
    assert report.diverged is False
    assert report.ending.ended == "crashed" and report.ending.crash.meaning == "nccl_timeout"


def test_a_dataloader_worker_killed_mid_run_is_a_crash_that_is_no_divergence(tmp_path):
    """The host's OOM killer sends SIGKILL: PyTorch names the signal, then raises its own error."""
    stop = (
        "Traceback (most recent call last):\n"
        "RuntimeError: DataLoader worker (pid 24817) is killed by signal: Killed. \n\n"
        "The above exception was the direct cause of the following exception:\n\n"
        "Traceback (most recent call last):\n"
        "RuntimeError: DataLoader worker (pid(s) 24817) exited unexpectedly\n"
    )
    report = _analyze(tmp_path, LOSS_LINES + stop)
    assert report.diverged is False and report.verdict.cause == "healthy"
    assert report.ending.ended == "crashed" and report.ending.crash.meaning == "dataloader_worker_died"


def test_workers_stopped_with_the_job_by_a_time_limit_or_a_signal_did_not_stop_it(tmp_path):
    """Slurm's time limit sends SIGTERM to every process of the step: the main process reports its workers
    'killed by signal: Terminated' and raises. The job was stopped from outside; no worker failed it."""
    stop = (
        "slurmstepd: error: *** JOB 4242 ON gpu01 CANCELLED AT 2023-01-01T00:00:00 DUE TO TIME LIMIT ***\n"
        "Traceback (most recent call last):\n"
        "RuntimeError: DataLoader worker (pid 24817) is killed by signal: Terminated. \n\n"
        "The above exception was the direct cause of the following exception:\n\n"
        "Traceback (most recent call last):\n"
        "RuntimeError: DataLoader worker (pid(s) 24817) exited unexpectedly\n"
    )
    for i, text in enumerate((stop, stop.split("\n", 1)[1])):  # with the scheduler's line, and the signal alone
        report = _analyze(tmp_path / str(i), LOSS_LINES + text)
        assert report.diverged is False and report.verdict.cause == "healthy"
        assert report.ending.crash is None or report.ending.crash.meaning != "dataloader_worker_died"
        assert "LOG006" not in {e.rule for c in report.candidates for e in c.evidence}


@pytest.mark.parametrize(
    "stop",
    [
        "RuntimeError: DataLoader worker (pid(s) 24817) exited unexpectedly",
        "OSError: [Errno 28] No space left on device",
        "RuntimeError: CUDA error: an illegal memory access was encountered",
    ],
)
def test_a_crash_of_no_divergence_after_the_loss_went_nan_leaves_the_divergence_standing(tmp_path, stop):
    """A dead worker, a full disk, a CUDA fault after a NaN loss: the run diverged first (a NaN made into an
    index faults too)."""
    nan = "".join(f"step {i} loss nan\n" for i in range(40, 45))
    report = _analyze(tmp_path, LOSS_LINES + nan + stop + "\n")
    assert report.diverged is True and report.verdict.cause != "healthy"


def test_an_anomaly_check_that_raised_is_a_divergence_where_no_logged_loss_shows_it(tmp_path):
    """Anomaly mode raises on the backward of a finite loss: the log's losses are all finite, the
    run diverged all the same, at the last step the log reached (the sample run
    logonly_torch_anomaly_log0 is a real one: its manifest says the loss was NaN at the raise)."""
    anomaly = "RuntimeError: Function 'LogBackward0' returned nan values in its 0th output."
    report = _analyze(
        tmp_path, LOSS_LINES + _raised('File "train.py", line 40, in <module>', "loss.backward()", anomaly)
    )
    assert report.diverged is True
    first = json.loads(report.to_json())["first_nonfinite"]
    assert first is not None and first["step"] == 39
    healthy = tmp_path / "healthy"
    healthy.mkdir()
    (healthy / "train.log").write_text(LOSS_LINES, encoding="utf-8")
    assert forensics.analyze(str(healthy)).diverged is False


FAIRSEQ_LINES = [
    f"2021-03-01 10:00:00 | INFO | train_inner | epoch 001:    {i} / 1000 loss={9.9 - 0.01 * i:.3f}, "
    f"nll_loss=8.1, ppl=276.5, wps=12000, ups=3.1, wpb=3900, bsz=128, num_updates={i}, lr=0.0005, gnorm=1.2"
    for i in range(1, 120)
]
FAIRSEQ_OOM = (
    "2021-03-01 10:01:00 | WARNING | fairseq.trainer | OOM: Ran out of memory with exception: CUDA out of memory. "
    "Tried to allocate 1.95 GiB (GPU 0; 15.78 GiB total capacity; 12.10 GiB already allocated)"
)


def test_an_out_of_memory_batch_the_trainer_recovered_from_is_not_what_the_job_died_of(tmp_path):
    """fairseq logs the out-of-memory error it caught, says it recovers, and trains on: the job did not
    crash of it (it simply stops logging here), and the run is no divergence either."""
    recovered = (
        "2021-03-01 10:01:00 | WARNING | fairseq.trainer | attempting to recover from OOM in forward/backward pass"
    )
    lines = [*FAIRSEQ_LINES[:60], FAIRSEQ_OOM, recovered, *FAIRSEQ_LINES[60:]]
    report = _analyze(tmp_path, "\n".join(lines) + "\n")
    assert report.diverged is False
    assert report.ending.ended == "unknown" and report.ending.crash is None


def test_the_same_out_of_memory_line_without_the_recovery_is_the_crash(tmp_path):
    report = _analyze(tmp_path, "\n".join([*FAIRSEQ_LINES, FAIRSEQ_OOM]) + "\n")
    assert report.ending.ended == "crashed" and report.ending.crash.meaning == "out_of_memory"


# PyTorch Lightning 0.7.6 (Trainer(terminate_on_nan=True)): the tqdm bar with its loss= postfix, then a
# traceback through trainer/training_loop.py's run_training_batch, whose "if self.terminate_on_nan:" calls
# training_tricks.py's detect_nan_tensors(loss), which raises only on a non-finite loss or weight
LIGHTNING_BAR = "".join(
    f"Epoch 1:  {5 * i}%|#     | {i}/20 [00:{10 + i:02d}<00:50,  1.5it/s, loss={0.9 - 0.01 * i:.3f}, v_num=6]\n"
    for i in range(1, 14)
)
LIGHTNING_FRAMES = (
    "Traceback (most recent call last):\n"
    '  File "trainer.py", line 43, in train\n'
    "    trainer.fit(model)\n"
    '  File "site-packages/pytorch_lightning/trainer/training_loop.py", line 435, in run_training_epoch\n'
    "    _outputs = self.run_training_batch(batch, batch_idx)\n"
    '  File "site-packages/pytorch_lightning/trainer/training_loop.py", line 607, in run_training_batch\n'
)


def test_a_traceback_cut_inside_lightning_s_nan_check_is_that_guard_firing(tmp_path):
    """The paste stops at the frame that calls detect_nan_tensors: the check raised, so the loss (or a
    weight) was non-finite, though the message never made it into the log."""
    cut = LIGHTNING_FRAMES + "    self.detect_nan_tensors(loss)\n"
    _, events, *_ = parse_log_text(LIGHTNING_BAR + cut)
    guards = [e for e in events if e.kind == "nan_loss"]
    assert [(e.framework, e.op) for e in guards] == [("lightning", "detect_nan_tensors")]
    assert _analyze(tmp_path, LIGHTNING_BAR + cut).diverged is True


def test_the_whole_traceback_of_lightning_s_nan_check_is_one_guard_event():
    whole = (
        LIGHTNING_FRAMES + "    self.detect_nan_tensors(loss)\n"
        '  File "site-packages/pytorch_lightning/trainer/training_tricks.py", line 31, in detect_nan_tensors\n'
        "    'The loss returned in `training_step` is nan or inf.'\n"
        "ValueError: The loss returned in `training_step` is nan or inf.\n"
    )
    _, events, *_ = parse_log_text(LIGHTNING_BAR + whole)
    assert [e.kind for e in events if e.kind != "exception"] == ["nan_loss"]


@pytest.mark.parametrize(
    "tail",
    [
        # the same traceback cut at the training step's forward call: a crash, no NaN check involved
        LIGHTNING_FRAMES + "    output = self.training_forward(batch, batch_idx, opt_idx, hiddens)\n",
        # the check's name outside a traceback (Lightning 1.3's deprecation warning)
        "UserWarning: Internal: TrainerTrainingTricksMixin.detect_nan_tensors is deprecated in v1.3 and will be "
        "removed in v1.5. Use `pytorch_lightning.utilities.finite_checks.detect_nan_parameters` instead.\n",
    ],
)
def test_lightning_s_nan_check_named_elsewhere_is_no_guard(tmp_path, tail):
    _, events, *_ = parse_log_text(LIGHTNING_BAR + tail)
    assert [e.kind for e in events if e.kind == "nan_loss"] == []
    assert _analyze(tmp_path, LIGHTNING_BAR + tail).diverged is False


def test_a_traceback_cut_inside_detectron2_s_anomaly_check_is_that_guard_firing():
    # detectron2 engine/train_loop.py (2020): SimpleTrainer.run_step calls self._detect_anomaly(losses, loss_dict),
    # which raises FloatingPointError("Loss became infinite or NaN at iteration={}!...") and nothing else
    lines = "".join(
        f"[04/12 10:{i:02d}:00 d2.utils.events]:  iter: {20 * i}  total_loss: {2.1 - 0.01 * i:.3f}  lr: 0.000200\n"
        for i in range(1, 8)
    )
    frames = (
        "Traceback (most recent call last):\n"
        '  File "detectron2/engine/train_loop.py", line 132, in train\n'
        "    self.run_step()\n"
        '  File "detectron2/engine/train_loop.py", line 216, in run_step\n'
    )
    _, events, *_ = parse_log_text(lines + frames + "    self._detect_anomaly(losses, loss_dict)\n")
    assert [(e.kind, e.framework) for e in events if e.kind == "nan_loss"] == [("nan_loss", "detectron2")]
    # cut at the backward pass instead: a crash, no guard
    _, events, *_ = parse_log_text(lines + frames + "    losses.backward()\n")
    assert [e.kind for e in events if e.kind == "nan_loss"] == []


def _fasttext_progress(progress: float, lr: float, loss: float) -> str:
    """fastText 0.9's FastText::printInfo: '\\rProgress: ' then progress*100 (setw 5, precision 1), '%', ' words/sec/
    thread: ' (setw 7), ' lr: ' and ' avg.loss: ' (setw 9, precision 6), ' ETA: ' h (setw 3) 'h' m (setw 2) 'm' s
    (setw 2) 's', redrawn on stderr with a carriage return and no newline."""
    return (
        f"\rProgress: {progress * 100:5.1f}% words/sec/thread: {4139:7d} lr: {lr:9.6f} avg.loss: {loss:9.6f} "
        f"ETA: {2:3d}h{33:2d}m{27:2d}s"
    )


@pytest.mark.parametrize(
    ("exception", "what", "diverged"),
    [
        ("fasttext::DenseMatrix::EncounteredNaNError", "Encountered NaN.", True),
        ("std::bad_array_new_length", "x", False),
    ],
)
def test_fasttext_s_nan_abort_after_its_progress_line_is_a_divergence(tmp_path, exception, what, diverged):
    """libstdc++'s terminate handler writes "terminate called after throwing an instance of '<type>'" and
    "  what():  <what()>" right after the last redrawn progress line; the line's loss and LR are still read."""
    text = "Read 18M words\nNumber of words:  138381\nNumber of labels: 3324\n"
    text += "".join(_fasttext_progress(p, 0.9 - 0.001 * i, 110.0 + i) for i, p in enumerate((0.0, 0.001, 0.002)))
    text += f"terminate called after throwing an instance of '{exception}'\n  what():  {what}\nAborted\n"
    rep = _analyze(tmp_path, text)
    assert rep.diverged is diverged
    if diverged:
        assert json.loads(rep.to_json())["ended"] == "stopped"
        assert rep.verdict.cause == "learning_rate"  # the LR of 0.9 on the line the abort was glued to was read


def test_tensorflows_full_disk_is_no_out_of_memory(tmp_path):
    """tsl's IOError maps ENOSPC to RESOURCE_EXHAUSTED: the ResourceExhaustedError names the disk, not memory."""
    line = (
        "tensorflow.python.framework.errors_impl.ResourceExhaustedError: /ckpt/model.ckpt-500_temp/part-00000-of-"
        "00001.data-00000-of-00001.tempstate5914226105466155; No space left on device [Op:SaveV2]"
    )
    assert [f for f, _ in match_messages(line)] == ["write_failed"]
    report = _analyze(tmp_path, LOSS_LINES + line + "\n")
    assert report.ending.crash.meaning == "disk_full"
    oom = "tensorflow.python.framework.errors_impl.ResourceExhaustedError: OOM when allocating tensor with shape[8]"
    assert "oom" in [f for f, _ in match_messages(oom)]


CUDA_HINT = (
    "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be "
    "incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1.\n"
)


@pytest.mark.parametrize(
    ("frame", "source", "exception", "meaning", "rule"),
    [
        # torch.save on a full disk: the OS's ENOSPC out of the zip writer
        (
            'File "train.py", line 80, in <module>',
            "torch.save(state, path)",
            "OSError: [Errno 28] No space left on device",
            "disk_full",
            "LOG007",
        ),
        # torch.save's writer could not open its file
        (
            'File "/venv/site-packages/torch/serialization.py", line 287, in __init__',
            "super().__init__(torch._C.PyTorchFileWriter(str(name)))",
            "RuntimeError: File my_out/checkpoints/checkpoint_0.pt cannot be opened.",
            "write_failed",
            "LOG007",
        ),
        # a kernel of the backward pass faulted, then PyTorch's two hints
        (
            'File "train.py", line 183, in do_train',
            "loss_g.backward()",
            "RuntimeError: CUDA error: an illegal memory access was encountered\n" + CUDA_HINT.rstrip("\n"),
            "cuda_fault",
            "LOG008",
        ),
        # a GPU's memory failed under the job (Megatron-DeepSpeed's train_batch, then Thrust's synchronize)
        (
            'File "megatron/training.py", line 780, in train_step',
            "loss = model[0].train_batch(data_iter=data_iterator)",
            "RuntimeError: transform: failed to synchronize: cudaErrorECCUncorrectable: uncorrectable ECC error "
            "encountered",
            "cuda_fault",
            "LOG008",
        ),
    ],
)
def test_a_full_disk_or_a_cuda_fault_is_a_crash_that_is_no_divergence(
    tmp_path, frame, source, exception, meaning, rule
):
    report = _analyze(tmp_path, LOSS_LINES + _raised(frame, source, exception))
    assert report.diverged is False and report.verdict.cause == "healthy"
    assert report.ending.ended == "crashed" and report.ending.crash.meaning == meaning
    assert f'"rule": "{rule}"' in json.dumps(report.to_dict())


def test_an_illegal_memory_access_after_a_device_side_assert_is_the_assert_s(tmp_path):
    """The indexing kernels check their indices: the assert names the data, the fault after it is its doing."""
    lines = (
        "../aten/src/ATen/native/cuda/Loss.cu:240: nll_loss_forward_reduce_cuda_kernel_2d: block: [0,0,0], "
        "thread: [5,0,0] Assertion `t >= 0 && t < n_classes` failed.\n"
        "RuntimeError: CUDA error: device-side assert triggered\n"
        "RuntimeError: CUDA error: an illegal memory access was encountered\n"
    )
    report = _analyze(tmp_path, LOSS_LINES + lines)
    assert report.verdict.cause == "data_or_labels"


def _metaflow(seconds: int, text: str) -> str:
    # Metaflow's forwarded task output: '{date} {time} [{step}/{task} (pid {pid})] [{run id}] {line}'
    return f"2023-04-29 06:01:{seconds:02d}.977 [177/train/578 (pid 28936)] [09c561ee-a44c-4795-967c] {text}\n"


def test_a_traceback_under_a_runner_s_line_prefix_is_read_through_it(tmp_path):
    """A runner that leads every line with a timestamp, a task and a run id: the frames and the exception
    line come after the same prefix as the traceback's first line, and are read without it."""
    text = "".join(
        _metaflow(s, t)
        for s, t in [
            (10, "Traceback (most recent call last):"),
            (10, '  File "/venv/site-packages/torch/serialization.py", line 379, in save'),
            (10, "    _save(obj, opened_zipfile, pickle_module, pickle_protocol)"),
            (11, "OSError: [Errno 28] No space left on device"),
        ]
    )
    _, events, *_ = parse_log_text(text)
    (event,) = [e for e in events if e.kind == "write_failed"]
    assert event.traceback[0].strip().startswith('File "/venv/site-packages/torch/serialization.py"')
    report = _analyze(tmp_path, LOSS_LINES + text)
    assert report.ending.crash.exception == "OSError: [Errno 28] No space left on device"
    assert report.ending.crash.meaning == "disk_full"


def test_a_progress_bar_before_a_traceback_is_no_prefix_of_its_frames():
    """MockingBird's bar redrawn without a newline before the traceback: the frames under it do not share it."""
    text = (
        "{| Epoch: 55/167 (996/1926) | Loss: 0.2907 | 0.93 steps/s | Step: 425k | }Traceback (most recent call last):\n"
        '  File "/venv/site-packages/torch/serialization.py", line 379, in save\n'
        "    _save(obj, opened_zipfile, pickle_module, pickle_protocol)\n"
        "OSError: [Errno 28] No space left on device\n"
    )
    _, events, *_ = parse_log_text(text)
    (event,) = [e for e in events if e.kind == "write_failed"]
    assert event.traceback[-1] == "OSError: [Errno 28] No space left on device"


@pytest.mark.parametrize(
    ("exception", "meaning"),
    [
        ("FileNotFoundError: [Errno 2] No such file or directory: 'runs/x/metrics.csv'", "environment_error"),
        ("PermissionError: [Errno 13] Permission denied: '/ckpt/last.pt'", "environment_error"),
        (
            "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='huggingface.co', port=443)",
            "environment_error",
        ),
        ("BrokenPipeError: [Errno 32] Broken pipe", "environment_error"),
        ("ModuleNotFoundError: No module named 'apex'", "code_error"),
        ("AttributeError: 'NoneType' object has no attribute 'shape'", "code_error"),
        ("TypeError: linear(): argument 'input' (position 1) must be Tensor, not list", "code_error"),
        # value errors may be a NaN's doing; a lookup may be the data's: no meaning from the type
        ("ValueError: cannot convert float NaN to integer", None),
        ("RuntimeError: probability tensor contains either `inf`, `nan` or element < 0", None),
        ("KeyError: 'image_id'", None),
        ("IndexError: list index out of range", None),
        # a catalogued message inside an OSError keeps its own meaning
        ("OSError: [Errno 28] No space left on device", "disk_full"),
    ],
)
def test_an_exception_s_type_gives_its_crash_a_meaning_only_where_no_value_could_cause_it(tmp_path, exception, meaning):
    trace = 'Traceback (most recent call last):\n  File "train.py", line 88, in <module>\n    main()\n'
    report = _analyze(tmp_path, LOSS_LINES + trace + exception + "\n")
    assert report.ending.ended == "crashed"
    assert report.ending.crash.meaning == meaning
    assert (report.verdict.cause == "healthy") == (meaning in ("environment_error", "code_error", "disk_full"))


def test_a_trainers_warning_that_its_loss_is_nan_after_finite_prints_is_a_divergence(tmp_path):
    # NeMo 0.x printed 'Step: N' and 'Loss: x' every 100 steps, and warned of a non-finite loss between them
    lines = []
    for step in range(100, 600, 100):
        lines += [
            f"2020-01-20 10:56:56,094 - INFO - Step: {step}",
            f"2020-01-20 10:56:56,099 - INFO - Loss: {9.0 - step / 100}",
        ]
    # as the paste holds it, the quotes curled: the tensor's value is then not read as a loss value
    warning = "2020-01-20 11:00:16,715 - WARNING - WARNING: Loss is NaN or inf tensor(nan, device=‘cuda:0’)"
    report = _analyze(tmp_path, "\n".join([*lines, warning, warning]) + "\n")
    assert report.diverged and report.verdict.cause != "inconclusive"


def test_a_note_saying_the_loss_was_nan_beside_a_healthy_log_is_no_message_of_the_run(tmp_path):
    # the statement's words in a file of notes, a README's heading, an evaluation's line: prose or another stage
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").write_text(LOSS_LINES + "[val] loss is nan\nEpoch 3 | eval | loss is nan\n", encoding="utf-8")
    (run / "notes.txt").write_text("Loss is NaN with lr 0.1, so this run uses lr 0.01.\n", encoding="utf-8")
    (run / "TODO.txt").write_text("- loss is nan with fp16, try bf16\n# loss is nan here\n", encoding="utf-8")
    (run / "NOTES").write_text("TODO: loss is nan with fp16, try bf16\n", encoding="utf-8")
    report = forensics.analyze(str(run))
    assert not report.diverged and report.verdict.cause == "healthy"


def _flashlight_progress(epochs: int) -> list[str]:
    """flashlight's ASR trainer's epoch lines as app/asr/common/Utils.cpp getLogString builds them (insertItem with
    ' | ' between: epoch %8d, nupdates %12d, lr and lrcriterion %4.6lf, the timers %.2f, loss %10.5f, the train
    error rates %5.2f), glog-prefixed."""
    return [
        f"I0827 2{e}:00:00.000000 95819 Train.cpp:331] epoch: {e:8d} | nupdates: {e * 1000:12d} | lr: 0.400000 | "
        f"lrcriterion: 0.000000 | runtime: 00:10:00 | bch(ms): 120.00 | smp(ms): 1.00 | fwd(ms): 40.00 | "
        f"crit-fwd(ms): 5.00 | bwd(ms): 60.00 | optim(ms): 10.00 | loss: {40.0 / e:10.5f} | "
        f"train-TER: {60.0 / e:5.2f} | train-WER: {90.0 / e:5.2f}"
        for e in range(1, epochs + 1)
    ]


def test_flashlights_check_of_the_batch_names_the_data_as_the_cause_and_ends_the_job(tmp_path):
    fatal = (
        "F0827 23:37:31.375236 95819 Train.cpp:527] Sample has NaN values - train-clean-100-2843-152918-0013\n"
        "*** Check failure stack trace: ***\n"
        "    @     0x7f822f2030cd  google::LogMessage::Fail()\n"
        "Aborted (core dumped)\n"
    )
    report = _analyze(tmp_path, "\n".join(_flashlight_progress(3)) + "\n" + fatal)
    assert report.diverged is True
    assert (report.verdict.cause, report.verdict.detail) == ("data_or_labels", "nan_in_inputs")
    assert report.ending.ended == "crashed"


def test_flashlights_nan_loss_check_is_a_guard_that_names_no_cause(tmp_path):
    fatal = (
        "F0723 11:44:54.493821  2870 Train.cpp:616] Loss has NaN values. Samples - train-clean-100-4014-186175-0018\n"
        "*** Check failure stack trace: ***\n"
        "Aborted (core dumped)\n"
    )
    report = _analyze(tmp_path, "\n".join(_flashlight_progress(3)) + "\n" + fatal)
    assert report.diverged is True
    assert report.verdict.detail != "nan_in_inputs"
    assert report.ending.ended == "stopped"


def _icefall(scales: list[float]) -> str:
    """icefall's train.py: a loss line every 50 batches, and its warning when the scaler's scale is under 0.01."""
    out = []
    for i, scale in enumerate(scales):
        batch = 50 * (i + 1)
        out.append(
            f"2024-01-14 01:0{i % 10}:00,000 INFO [train.py:1095] (0/4) Epoch 3, batch {batch}, loss[loss=0.21"
            f"{i % 10}, simple_loss=0.24, pruned_loss=0.09], tot_loss[loss=0.22, simple_loss=0.25], batch size: 80, "
            f"lr: 2.1e-02, grad_scale: {scale}"
        )
        if scale < 0.01:
            out.append(f"2024-01-14 01:0{i % 10}:00,500 WARNING [train.py:1057] (0/4) Grad scale is small: {scale}")
    return "\n".join(out) + "\n"


def test_icefalls_scale_back_above_the_floor_undoes_it(tmp_path):
    # one warning under the floor, then the scaler doubles the scale back and training goes on finite
    text = (
        _icefall([0.5, 0.25])
        + "2024-01-14 01:02:00,500 WARNING [train.py:1057] (0/4) Grad scale is small: 0.00048828125\n"
    )
    text += _icefall([0.5, 1.0, 1.0, 1.0, 1.0, 1.0]).replace("Epoch 3,", "Epoch 4,")
    assert _analyze(tmp_path, text).diverged is False


def test_icefalls_warnings_alone_are_no_skipped_steps(tmp_path):
    text = "".join(
        f"2024-01-14 01:0{i}:00,500 WARNING [train.py:1057] (0/4) Grad scale is small: {s}\n"
        for i, s in enumerate((0.0078125, 0.00390625, 0.001953125))
    )
    report = _analyze(tmp_path, text)
    assert report.diverged is not True
    assert "skipped" not in report.verdict.summary


def test_icefalls_small_scale_warning_is_a_scaler_at_work_above_the_floor_and_the_floor_below_it(tmp_path):
    working = _analyze(tmp_path / "a", _icefall([0.5, 0.0078125, 0.0078125, 0.015625, 0.03125, 0.0625]))
    assert working.diverged is False
    stuck = _icefall([0.5, 0.0078125]) + (
        "2024-01-14 01:03:00,826 WARNING [train.py:1057] (2/4) Grad scale is small: 1.2924697071141057e-26\n"
    )
    floor = _analyze(tmp_path / "b", stuck)
    assert floor.diverged is True
    assert (floor.verdict.cause, floor.verdict.detail) == ("numerical_instability", "fp16_overflow")


def _darknet_batches(first: int, last: int, no_obj: str = "0.004312") -> str:
    """pjreddie darknet's detector training as it prints to the console: each yolo layer's means per subdivision
    (yolo_layer.c), then the batch's line ('%ld: %f, %f avg, %f rate, %lf seconds, %d images', detector.c)."""
    out = []
    for b in range(first, last + 1):
        for layer, count in ((82, 2), (94, 1), (106, 0)):
            if count:
                out.append(
                    f"Region {layer} Avg IOU: 0.412345, Class: 0.512345, Obj: 0.112345, No Obj: {no_obj}, .5R: "
                    f"0.500000, .75R: 0.000000,  count: {count}"
                )
            else:
                out.append(
                    f"Region {layer} Avg IOU: -nan, Class: -nan, Obj: -nan, No Obj: {no_obj}, .5R: -nan, .75R: -nan,"
                    f"  count: 0"
                )
        out.append(f"{b}: {60.0 / b:f}, {70.0 / b:f} avg, 0.000100 rate, 3.210000 seconds, {64 * b} images")
    return "\n".join(out) + "\n"


def test_darknets_layer_means_gone_nan_are_the_networks_output_and_its_empty_layers_are_not(tmp_path):
    healthy = _analyze(tmp_path / "a", _darknet_batches(1, 6))
    assert healthy.diverged is False
    # a paste of the layers' lines alone, as a thread shows them: the network's output went NaN
    layers = "".join(line + "\n" for line in _darknet_batches(1, 3, no_obj="nan").splitlines() if "Region" in line)
    broken = _analyze(tmp_path / "b", layers)
    assert broken.diverged is True


def test_openmmlabs_loss_check_stops_a_run_whose_loss_it_found_non_finite(tmp_path):
    # mmcv's text logger lines every 50 iterations, then CheckInvalidLossHook's line and its bare AssertionError
    lines = [
        f"2022-05-27 15:4{i}:00,000 - mmdet - INFO - Epoch [1][{50 * i}/4751]\tlr: 3.791e-07, eta: 1 day, 10:42:48, "
        f"time: 1.060, data_time: 0.012, memory: 7974, loss_cls: {2.0 - 0.1 * i:.4f}, loss_bbox: 1.2000, "
        f"loss: {3.2 - 0.1 * i:.4f}, grad_norm: 5.1000"
        for i in range(1, 5)
    ]
    # the paste stops at the hook's line (the bare AssertionError's traceback, which names the check, not kept)
    stop = "2022-05-27 15:51:43,674 - mmdet - INFO - loss become infinite or NaN!\n"
    report = _analyze(tmp_path, "\n".join(lines) + "\n" + stop)
    assert report.diverged is True
    assert report.ending.ended == "stopped"


def test_one_hots_range_checks_name_the_side_of_the_labels(tmp_path):
    def crash(message: str) -> str:
        return LOSS_LINES + _raised(
            'File "train.py", line 88, in train',
            "target = F.one_hot(labels, num_classes=21)",
            f"RuntimeError: {message}",
        )

    past = _analyze(tmp_path / "a", crash("Class values must be smaller than num_classes."))
    assert (past.verdict.cause, past.verdict.detail) == ("data_or_labels", "labels_out_of_range")
    negative = _analyze(tmp_path / "b", crash("Class values must be non-negative."))
    assert (negative.verdict.cause, negative.verdict.detail) == ("data_or_labels", "negative_labels")
    assert past.diverged is False and negative.diverged is False


def test_numpys_nan_probabilities_are_the_models_output_gone_nan(tmp_path):
    crash = _raised(
        'File "agent.py", line 51, in act',
        "action = np.random.choice(n_actions, p=probs)",
        "ValueError: probabilities contain NaN",
    )
    rewards = "".join(f"episode {i} reward {10.0 + i:.1f} loss {1.0 - 0.05 * i:.3f}\n" for i in range(1, 8))
    report = _analyze(tmp_path, rewards + crash)
    assert report.diverged is True
