"""Coefficients of the evidence combination (``forensics/combine.py``).

Fitted by ``python scripts/fit_combination.py`` on the dev split of the scenario corpus (262 runs);
regenerate rather than edit. Features not listed keep their hand-set prior meaning.
"""

BIAS: dict[str, float] = {
    "learning_rate": 0.178,
    "exploding_weights": -0.055,
    "data_or_labels": 0.017,
    "numerical_instability": 0.185,
    "healthy": -0.325,
}
# Platt scaling of the stated confidence per kind of verdict, fitted on out-of-family dev
# verdicts: (slope, intercept); the comment says on how many verdicts.
CALIBRATION: dict[str, tuple[float, float]] = {
    "finding": (0.995, 0.005),  # 78 verdicts
    "inferred": (0.544, 0.171),  # 64 verdicts
    "healthy": (1.531, -0.049),  # 60 verdicts
    "healthy_checkpoints": (0.000, 0.492),  # 27 verdicts
    "prior": (0.412, 0.176),  # 11 verdicts
}
COEF: dict[str, dict[str, float]] = {
    "CKPT001:exploding_weights": {
        "learning_rate": -0.030,
        "exploding_weights": 2.643,
        "numerical_instability": -0.095,
        "healthy": -0.006,
    },
    "CKPT002:data_or_labels": {
        "exploding_weights": -0.336,
        "data_or_labels": 2.724,
        "healthy": -0.076,
    },
    "DATA001:data_or_labels": {
        "learning_rate": -0.082,
        "data_or_labels": 1.809,
        "numerical_instability": -0.738,
        "healthy": -0.321,
    },
    "DATA002:data_or_labels": {
        "learning_rate": -0.040,
        "exploding_weights": -0.285,
        "data_or_labels": 3.613,
        "numerical_instability": -0.271,
        "healthy": -0.017,
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
        "exploding_weights": -0.045,
        "data_or_labels": 3.129,
        "numerical_instability": -0.056,
        "healthy": -0.004,
    },
    "DATA005:data_or_labels": {
        "learning_rate": -0.232,
        "exploding_weights": -0.998,
        "data_or_labels": 2.775,
        "healthy": -0.190,
    },
    "DATA006:data_or_labels": {
        "learning_rate": -0.069,
        "exploding_weights": -0.246,
        "data_or_labels": 2.539,
        "healthy": -0.029,
    },
    "EXP001:exploding_weights": {
        "exploding_weights": 2.974,
        "data_or_labels": -0.011,
        "numerical_instability": -0.014,
        "healthy": -0.116,
    },
    "EXP002:exploding_weights": {
        "exploding_weights": 2.785,
        "data_or_labels": -0.090,
        "numerical_instability": -0.116,
        "healthy": -0.002,
    },
    "EXP005:exploding_weights": {
        "learning_rate": -0.198,
        "exploding_weights": 3.615,
        "numerical_instability": -0.335,
        "healthy": -0.088,
    },
    "EXP006:exploding_weights": {
        "learning_rate": -0.045,
        "exploding_weights": 3.273,
        "data_or_labels": -0.058,
        "numerical_instability": -0.159,
        "healthy": -0.011,
    },
    "EXP007:exploding_weights": {
        "learning_rate": -0.065,
        "exploding_weights": 3.493,
        "data_or_labels": -0.098,
        "numerical_instability": -0.310,
        "healthy": -0.020,
    },
    "LOG001:data_or_labels": {
        "learning_rate": -0.168,
        "exploding_weights": -0.102,
        "data_or_labels": 4.452,
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
        "learning_rate": 2.898,
        "exploding_weights": -0.083,
        "data_or_labels": -0.045,
        "healthy": -0.008,
    },
    "LR002:learning_rate": {
        "learning_rate": 2.988,
        "exploding_weights": -0.054,
        "data_or_labels": -0.012,
        "healthy": -0.006,
    },
    "LR003:learning_rate": {
        "learning_rate": 3.257,
        "exploding_weights": -0.047,
        "data_or_labels": -0.063,
        "numerical_instability": -0.045,
        "healthy": -0.102,
    },
    "LR006:learning_rate": {
        "learning_rate": 3.320,
        "exploding_weights": -0.096,
        "data_or_labels": -0.067,
        "numerical_instability": -0.147,
        "healthy": -0.010,
    },
    "LR006:learning_rate:against": {
        "learning_rate": -3.425,
        "exploding_weights": -0.391,
        "data_or_labels": -0.387,
        "healthy": -0.285,
    },
    "LR007:learning_rate": {
        "learning_rate": 3.873,
        "exploding_weights": -0.220,
        "data_or_labels": -0.147,
        "numerical_instability": -0.182,
        "healthy": -0.324,
    },
    "LR008:learning_rate": {
        "learning_rate": 4.045,
        "exploding_weights": -0.145,
        "data_or_labels": -0.112,
        "numerical_instability": -0.188,
        "healthy": -0.600,
    },
    "NUM003:numerical_instability": {
        "learning_rate": -0.004,
        "exploding_weights": -0.011,
        "data_or_labels": -0.061,
        "numerical_instability": 3.077,
        "healthy": -0.002,
    },
    "NUM004:numerical_instability": {
        "learning_rate": -0.006,
        "exploding_weights": -0.024,
        "data_or_labels": -0.011,
        "numerical_instability": 3.043,
        "healthy": -0.003,
    },
    "OK001:healthy": {
        "learning_rate": -0.012,
        "exploding_weights": -0.940,
        "numerical_instability": -0.790,
        "healthy": 3.920,
    },
    "OK002:healthy": {
        "exploding_weights": -0.023,
        "data_or_labels": -0.024,
        "numerical_instability": -0.020,
        "healthy": 2.970,
    },
    "OK003:healthy": {
        "learning_rate": -0.029,
        "exploding_weights": -0.238,
        "data_or_labels": -0.212,
        "healthy": 3.211,
    },
    "diverged": {
        "learning_rate": 0.139,
        "exploding_weights": 1.012,
        "data_or_labels": -0.659,
        "numerical_instability": 1.283,
        "healthy": -1.776,
    },
    "finite_checkpoints_only": {
        "learning_rate": 0.302,
        "exploding_weights": -0.586,
        "data_or_labels": -0.507,
        "numerical_instability": 0.426,
        "healthy": 0.364,
    },
    "no_loss_series": {
        "learning_rate": -0.340,
        "exploding_weights": -0.845,
        "data_or_labels": 1.288,
        "numerical_instability": -0.181,
        "healthy": 0.078,
    },
}
