"""Coefficients of the evidence combination (``forensics/combine.py``).

Fitted by ``python scripts/fit_combination.py`` on the dev split of the scenario corpus (262 runs);
regenerate rather than edit. Features not listed keep their hand-set prior meaning.
"""

BIAS: dict[str, float] = {
    "learning_rate": 0.188,
    "exploding_weights": -0.073,
    "data_or_labels": 0.018,
    "numerical_instability": 0.189,
    "healthy": -0.322,
}
# Platt scaling of the stated confidence per kind of verdict, fitted on out-of-family dev
# verdicts: (slope, intercept); the comment says on how many verdicts.
CALIBRATION: dict[str, tuple[float, float]] = {
    "finding": (1.170, -0.599),  # 83 verdicts
    "inferred": (0.445, -0.076),  # 61 verdicts
    "healthy": (1.561, -0.084),  # 60 verdicts
    "healthy_checkpoints": (0.000, 0.492),  # 27 verdicts
    "prior": (0.252, -0.164),  # 9 verdicts
}
COEF: dict[str, dict[str, float]] = {
    "CKPT001:exploding_weights": {
        "learning_rate": -0.031,
        "exploding_weights": 2.645,
        "numerical_instability": -0.095,
        "healthy": -0.007,
    },
    "CKPT002:data_or_labels": {
        "exploding_weights": -0.326,
        "data_or_labels": 2.710,
        "healthy": -0.077,
    },
    "DATA001:data_or_labels": {
        "learning_rate": -0.128,
        "data_or_labels": 1.828,
        "numerical_instability": -0.737,
        "healthy": -0.319,
    },
    "DATA002:data_or_labels": {
        "learning_rate": -0.043,
        "exploding_weights": -0.248,
        "data_or_labels": 3.585,
        "numerical_instability": -0.276,
        "healthy": -0.018,
    },
    "DATA003:data_or_labels": {
        "learning_rate": -0.003,
        "exploding_weights": -0.002,
        "data_or_labels": 3.019,
        "numerical_instability": -0.002,
        "healthy": -0.012,
    },
    "DATA004:data_or_labels": {
        "learning_rate": -0.025,
        "exploding_weights": -0.041,
        "data_or_labels": 3.126,
        "numerical_instability": -0.056,
        "healthy": -0.004,
    },
    "DATA005:data_or_labels": {
        "learning_rate": -0.217,
        "exploding_weights": -1.058,
        "data_or_labels": 2.797,
        "healthy": -0.189,
    },
    "DATA006:data_or_labels": {
        "learning_rate": -0.073,
        "exploding_weights": -0.223,
        "data_or_labels": 2.523,
        "healthy": -0.030,
    },
    "EXP001:exploding_weights": {
        "exploding_weights": 2.967,
        "data_or_labels": -0.011,
        "numerical_instability": -0.014,
        "healthy": -0.115,
    },
    "EXP002:exploding_weights": {
        "exploding_weights": 2.712,
        "data_or_labels": -0.087,
        "numerical_instability": -0.096,
        "healthy": -0.002,
    },
    "EXP005:exploding_weights": {
        "learning_rate": -0.083,
        "exploding_weights": 3.054,
        "data_or_labels": -0.194,
        "healthy": -0.121,
    },
    "EXP006:exploding_weights": {
        "exploding_weights": 2.458,
        "data_or_labels": -0.233,
        "healthy": -0.033,
    },
    "EXP007:exploding_weights": {
        "learning_rate": -0.076,
        "exploding_weights": 3.571,
        "data_or_labels": -0.110,
        "numerical_instability": -0.363,
        "healthy": -0.022,
    },
    "LOG001:data_or_labels": {
        "learning_rate": -0.169,
        "exploding_weights": -0.100,
        "data_or_labels": 4.451,
        "numerical_instability": -0.141,
        "healthy": -1.041,
    },
    "LOG002:healthy": {
        "learning_rate": -0.012,
        "exploding_weights": -0.007,
        "data_or_labels": -0.011,
        "numerical_instability": -0.009,
        "healthy": 3.039,
    },
    "LR001:learning_rate": {
        "learning_rate": 2.883,
        "exploding_weights": -0.070,
        "data_or_labels": -0.046,
        "healthy": -0.008,
    },
    "LR002:learning_rate": {
        "learning_rate": 3.016,
        "exploding_weights": -0.079,
        "data_or_labels": -0.013,
        "healthy": -0.006,
    },
    "LR003:learning_rate": {
        "learning_rate": 3.254,
        "exploding_weights": -0.045,
        "data_or_labels": -0.063,
        "numerical_instability": -0.045,
        "healthy": -0.101,
    },
    "LR006:learning_rate": {
        "learning_rate": 3.438,
        "exploding_weights": -0.254,
        "data_or_labels": -0.053,
        "numerical_instability": -0.124,
        "healthy": -0.008,
    },
    "LR006:learning_rate:against": {
        "learning_rate": -3.439,
        "exploding_weights": -0.451,
        "data_or_labels": -0.350,
        "healthy": -0.279,
    },
    "LR007:learning_rate": {
        "learning_rate": 3.933,
        "exploding_weights": -0.321,
        "data_or_labels": -0.141,
        "numerical_instability": -0.153,
        "healthy": -0.318,
    },
    "LR008:learning_rate": {
        "learning_rate": 4.155,
        "exploding_weights": -0.307,
        "data_or_labels": -0.096,
        "numerical_instability": -0.163,
        "healthy": -0.589,
    },
    "NUM003:numerical_instability": {
        "learning_rate": -0.004,
        "exploding_weights": -0.010,
        "data_or_labels": -0.062,
        "numerical_instability": 3.077,
        "healthy": -0.002,
    },
    "NUM004:numerical_instability": {
        "learning_rate": -0.006,
        "exploding_weights": -0.022,
        "data_or_labels": -0.011,
        "numerical_instability": 3.042,
        "healthy": -0.003,
    },
    "OK001:healthy": {
        "learning_rate": -0.034,
        "exploding_weights": -0.915,
        "numerical_instability": -0.791,
        "healthy": 3.920,
    },
    "OK002:healthy": {
        "exploding_weights": -0.022,
        "data_or_labels": -0.024,
        "numerical_instability": -0.020,
        "healthy": 2.971,
    },
    "OK003:healthy": {
        "learning_rate": -0.027,
        "exploding_weights": -0.242,
        "data_or_labels": -0.212,
        "healthy": 3.209,
    },
    "diverged": {
        "learning_rate": 0.168,
        "exploding_weights": 0.982,
        "data_or_labels": -0.655,
        "numerical_instability": 1.274,
        "healthy": -1.769,
    },
    "finite_checkpoints_only": {
        "learning_rate": 0.305,
        "exploding_weights": -0.592,
        "data_or_labels": -0.508,
        "numerical_instability": 0.435,
        "healthy": 0.360,
    },
    "no_loss_series": {
        "learning_rate": -0.372,
        "exploding_weights": -0.768,
        "data_or_labels": 1.279,
        "numerical_instability": -0.210,
        "healthy": 0.071,
    },
}
