"""Coefficients of the evidence combination (``forensics/combine.py``).

Fitted by ``python scripts/fit_combination.py`` on the dev split of the scenario corpus (157 runs);
regenerate rather than edit. Features not listed keep their hand-set prior meaning.
"""

BIAS: dict[str, float] = {
    "learning_rate": 0.726,
    "exploding_weights": -0.544,
    "data_or_labels": 0.034,
    "numerical_instability": 0.036,
    "healthy": -0.252,
}
# Platt scaling of the stated confidence per kind of verdict, fitted on out-of-family dev
# verdicts: (slope, intercept); the comment says on how many verdicts.
CALIBRATION: dict[str, tuple[float, float]] = {
    "finding": (1.242, -1.053),  # 53 verdicts
    "inferred": (0.000, 0.111),  # 34 verdicts
    "healthy": (1.506, 0.197),  # 31 verdicts
    "healthy_checkpoints": (0.000, 0.574),  # 23 verdicts
}
COEF: dict[str, dict[str, float]] = {
    "CKPT001:exploding_weights": {
        "exploding_weights": 2.605,
        "data_or_labels": -0.119,
        "numerical_instability": -0.035,
        "healthy": -0.053,
    },
    "CKPT002:data_or_labels": {
        "learning_rate": -0.115,
        "exploding_weights": -0.202,
        "data_or_labels": 3.011,
        "healthy": -0.058,
    },
    "DATA001:data_or_labels": {
        "learning_rate": -0.441,
        "data_or_labels": 2.096,
        "healthy": -0.224,
    },
    "DATA002:data_or_labels": {
        "learning_rate": -0.073,
        "exploding_weights": -0.173,
        "data_or_labels": 3.627,
        "numerical_instability": -0.356,
        "healthy": -0.025,
    },
    "DATA003:data_or_labels": {
        "learning_rate": -0.003,
        "exploding_weights": -0.001,
        "data_or_labels": 3.016,
        "numerical_instability": -0.002,
        "healthy": -0.009,
    },
    "DATA005:data_or_labels": {
        "learning_rate": -0.104,
        "exploding_weights": -1.194,
        "data_or_labels": 2.522,
        "healthy": -0.210,
    },
    "DATA006:data_or_labels": {
        "learning_rate": -0.119,
        "exploding_weights": -0.254,
        "data_or_labels": 2.552,
        "healthy": -0.038,
    },
    "EXP001:exploding_weights": {
        "exploding_weights": 2.912,
        "data_or_labels": -0.020,
        "numerical_instability": -0.034,
        "healthy": -0.236,
    },
    "EXP002:exploding_weights": {
        "exploding_weights": 2.393,
        "data_or_labels": -0.104,
        "numerical_instability": -0.107,
        "healthy": -0.105,
    },
    "EXP005:exploding_weights": {
        "learning_rate": -0.080,
        "exploding_weights": 3.021,
        "data_or_labels": -0.287,
        "healthy": -0.157,
    },
    "EXP006:exploding_weights": {
        "exploding_weights": 2.232,
        "data_or_labels": -0.406,
        "healthy": -0.064,
    },
    "EXP007:exploding_weights": {
        "learning_rate": -0.042,
        "exploding_weights": 3.551,
        "data_or_labels": -0.048,
        "numerical_instability": -0.448,
        "healthy": -0.013,
    },
    "LOG001:data_or_labels": {
        "learning_rate": -0.178,
        "exploding_weights": -0.060,
        "data_or_labels": 4.069,
        "numerical_instability": -0.092,
        "healthy": -0.739,
    },
    "LOG002:healthy": {
        "learning_rate": -0.009,
        "exploding_weights": -0.003,
        "data_or_labels": -0.005,
        "numerical_instability": -0.004,
        "healthy": 3.021,
    },
    "LR001:learning_rate": {
        "learning_rate": 2.854,
        "exploding_weights": -0.114,
        "data_or_labels": -0.060,
        "healthy": -0.012,
    },
    "LR002:learning_rate": {
        "learning_rate": 3.190,
        "exploding_weights": -0.139,
        "data_or_labels": -0.006,
        "numerical_instability": -0.042,
        "healthy": -0.003,
    },
    "LR003:learning_rate": {
        "learning_rate": 3.937,
        "exploding_weights": -0.199,
        "data_or_labels": -0.196,
        "numerical_instability": -0.096,
        "healthy": -0.447,
    },
    "LR006:learning_rate": {
        "learning_rate": 4.261,
        "exploding_weights": -0.638,
        "data_or_labels": -0.167,
        "numerical_instability": -0.424,
        "healthy": -0.033,
    },
    "LR006:learning_rate:against": {
        "learning_rate": -3.860,
        "exploding_weights": -0.317,
        "healthy": -0.299,
    },
    "NUM003:numerical_instability": {
        "learning_rate": -0.007,
        "exploding_weights": -0.012,
        "data_or_labels": -0.083,
        "numerical_instability": 3.105,
        "healthy": -0.002,
    },
    "NUM004:numerical_instability": {
        "data_or_labels": -0.062,
        "numerical_instability": 2.384,
        "healthy": -0.016,
    },
    "OK001:healthy": {
        "exploding_weights": -0.593,
        "numerical_instability": -0.811,
        "healthy": 3.810,
    },
    "OK002:healthy": {
        "learning_rate": -0.016,
        "exploding_weights": -0.005,
        "data_or_labels": -0.009,
        "numerical_instability": -0.007,
        "healthy": 3.037,
    },
    "OK003:healthy": {
        "learning_rate": -0.020,
        "exploding_weights": -0.172,
        "data_or_labels": -0.111,
        "healthy": 3.183,
    },
    "diverged": {
        "learning_rate": -0.092,
        "exploding_weights": 1.350,
        "data_or_labels": -0.792,
        "numerical_instability": 1.247,
        "healthy": -1.714,
    },
    "finite_checkpoints_only": {
        "learning_rate": 0.733,
        "exploding_weights": -0.808,
        "data_or_labels": -0.287,
        "numerical_instability": 0.058,
        "healthy": 0.304,
    },
    "no_loss_series": {
        "learning_rate": -0.663,
        "exploding_weights": -0.735,
        "data_or_labels": 1.379,
        "numerical_instability": -0.278,
        "healthy": 0.297,
    },
}
