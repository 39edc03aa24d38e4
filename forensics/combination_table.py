"""Coefficients of the evidence combination (``forensics/combine.py``).

Fitted by ``python scripts/fit_combination.py`` on the dev split of the scenario corpus (262 runs);
regenerate rather than edit. Features not listed keep their hand-set prior meaning.
"""

BIAS: dict[str, float] = {
    "learning_rate": 0.185,
    "exploding_weights": -0.071,
    "data_or_labels": 0.018,
    "numerical_instability": 0.191,
    "healthy": -0.322,
}
# Platt scaling of the stated confidence per kind of verdict, fitted on out-of-family dev
# verdicts: (slope, intercept); the comment says on how many verdicts.
CALIBRATION: dict[str, tuple[float, float]] = {
    "finding": (1.134, -0.600),  # 83 verdicts
    "inferred": (0.452, -0.075),  # 61 verdicts
    "healthy": (1.516, -0.032),  # 60 verdicts
    "healthy_checkpoints": (0.000, 0.492),  # 27 verdicts
    "prior": (0.252, -0.164),  # 9 verdicts
}
COEF: dict[str, dict[str, float]] = {
    "CKPT001:exploding_weights": {
        "learning_rate": -0.030,
        "exploding_weights": 2.644,
        "numerical_instability": -0.095,
        "healthy": -0.007,
    },
    "CKPT002:data_or_labels": {
        "exploding_weights": -0.327,
        "data_or_labels": 2.709,
        "healthy": -0.077,
    },
    "DATA001:data_or_labels": {
        "learning_rate": -0.098,
        "data_or_labels": 1.830,
        "numerical_instability": -0.739,
        "healthy": -0.318,
    },
    "DATA002:data_or_labels": {
        "learning_rate": -0.042,
        "exploding_weights": -0.250,
        "data_or_labels": 3.585,
        "numerical_instability": -0.277,
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
        "exploding_weights": -0.042,
        "data_or_labels": 3.126,
        "numerical_instability": -0.056,
        "healthy": -0.004,
    },
    "DATA005:data_or_labels": {
        "learning_rate": -0.242,
        "exploding_weights": -1.035,
        "data_or_labels": 2.792,
        "healthy": -0.189,
    },
    "DATA006:data_or_labels": {
        "learning_rate": -0.070,
        "exploding_weights": -0.226,
        "data_or_labels": 2.524,
        "healthy": -0.030,
    },
    "EXP001:exploding_weights": {
        "exploding_weights": 2.975,
        "data_or_labels": -0.011,
        "numerical_instability": -0.014,
        "healthy": -0.116,
    },
    "EXP002:exploding_weights": {
        "exploding_weights": 2.709,
        "data_or_labels": -0.087,
        "numerical_instability": -0.096,
        "healthy": -0.002,
    },
    "EXP005:exploding_weights": {
        "learning_rate": -0.075,
        "exploding_weights": 3.046,
        "data_or_labels": -0.194,
        "healthy": -0.121,
    },
    "EXP006:exploding_weights": {
        "learning_rate": -0.085,
        "exploding_weights": 2.666,
        "data_or_labels": -0.169,
        "healthy": -0.025,
    },
    "EXP007:exploding_weights": {
        "learning_rate": -0.072,
        "exploding_weights": 3.558,
        "data_or_labels": -0.108,
        "numerical_instability": -0.356,
        "healthy": -0.022,
    },
    "LOG001:data_or_labels": {
        "learning_rate": -0.169,
        "exploding_weights": -0.101,
        "data_or_labels": 4.450,
        "numerical_instability": -0.141,
        "healthy": -1.040,
    },
    "LOG002:healthy": {
        "learning_rate": -0.012,
        "exploding_weights": -0.007,
        "data_or_labels": -0.011,
        "numerical_instability": -0.009,
        "healthy": 3.039,
    },
    "LR001:learning_rate": {
        "learning_rate": 2.894,
        "exploding_weights": -0.077,
        "data_or_labels": -0.046,
        "healthy": -0.008,
    },
    "LR002:learning_rate": {
        "learning_rate": 2.985,
        "exploding_weights": -0.048,
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
        "learning_rate": 3.313,
        "exploding_weights": -0.089,
        "data_or_labels": -0.068,
        "numerical_instability": -0.146,
        "healthy": -0.010,
    },
    "LR006:learning_rate:against": {
        "learning_rate": -3.419,
        "exploding_weights": -0.487,
        "data_or_labels": -0.344,
        "healthy": -0.278,
    },
    "LR007:learning_rate": {
        "learning_rate": 3.939,
        "exploding_weights": -0.325,
        "data_or_labels": -0.141,
        "numerical_instability": -0.154,
        "healthy": -0.319,
    },
    "LR008:learning_rate": {
        "learning_rate": 4.037,
        "exploding_weights": -0.137,
        "data_or_labels": -0.113,
        "numerical_instability": -0.188,
        "healthy": -0.600,
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
        "learning_rate": -0.018,
        "exploding_weights": -0.924,
        "numerical_instability": -0.793,
        "healthy": 3.917,
    },
    "OK002:healthy": {
        "exploding_weights": -0.022,
        "data_or_labels": -0.024,
        "numerical_instability": -0.020,
        "healthy": 2.970,
    },
    "OK003:healthy": {
        "learning_rate": -0.029,
        "exploding_weights": -0.242,
        "data_or_labels": -0.212,
        "healthy": 3.209,
    },
    "diverged": {
        "learning_rate": 0.154,
        "exploding_weights": 0.991,
        "data_or_labels": -0.654,
        "numerical_instability": 1.276,
        "healthy": -1.767,
    },
    "finite_checkpoints_only": {
        "learning_rate": 0.300,
        "exploding_weights": -0.591,
        "data_or_labels": -0.507,
        "numerical_instability": 0.437,
        "healthy": 0.360,
    },
    "no_loss_series": {
        "learning_rate": -0.362,
        "exploding_weights": -0.772,
        "data_or_labels": 1.278,
        "numerical_instability": -0.215,
        "healthy": 0.071,
    },
}
