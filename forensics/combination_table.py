"""Coefficients of the evidence combination (``forensics/combine.py``).

Fitted by ``python scripts/fit_combination.py`` on the dev split of the scenario corpus (87 runs);
regenerate rather than edit. Features not listed keep their hand-set prior meaning.
"""

BIAS: dict[str, float] = {
    "learning_rate": 0.612,
    "exploding_weights": -0.526,
    "data_or_labels": -0.143,
    "numerical_instability": 0.156,
    "healthy": -0.099,
}
# Platt scaling of the stated confidence, fitted on out-of-fold dev verdicts: (slope, intercept).
CALIBRATION: tuple[float, float] = (1.152, 0.245)
COEF: dict[str, dict[str, float]] = {
    "DATA001:data_or_labels": {
        "learning_rate": 0.623,
        "exploding_weights": 0.848,
        "data_or_labels": 1.918,
        "numerical_instability": -0.220,
        "healthy": -0.169,
    },
    "DATA002:data_or_labels": {
        "learning_rate": -0.066,
        "exploding_weights": -0.155,
        "data_or_labels": 3.499,
        "numerical_instability": -0.259,
        "healthy": -0.018,
    },
    "DATA003:data_or_labels": {
        "learning_rate": -0.005,
        "exploding_weights": -0.002,
        "data_or_labels": 3.034,
        "numerical_instability": -0.003,
        "healthy": -0.024,
    },
    "DATA005:data_or_labels": {
        "learning_rate": -0.320,
        "exploding_weights": -0.899,
        "data_or_labels": 3.057,
        "numerical_instability": 1.324,
        "healthy": -0.162,
    },
    "DATA006:data_or_labels": {
        "learning_rate": -0.165,
        "exploding_weights": -0.381,
        "data_or_labels": 2.451,
        "numerical_instability": 1.141,
        "healthy": -0.046,
    },
    "EXP001:exploding_weights": {
        "learning_rate": 0.354,
        "exploding_weights": 2.778,
        "data_or_labels": -0.023,
        "numerical_instability": -0.097,
        "healthy": -0.013,
    },
    "EXP002:exploding_weights": {
        "learning_rate": 1.451,
        "exploding_weights": 2.741,
        "data_or_labels": -0.262,
        "numerical_instability": -0.238,
        "healthy": -0.692,
    },
    "EXP005:exploding_weights": {
        "learning_rate": -0.151,
        "exploding_weights": 3.032,
        "data_or_labels": -0.172,
        "numerical_instability": 0.324,
        "healthy": -0.033,
    },
    "EXP006:exploding_weights": {
        "learning_rate": -0.119,
        "exploding_weights": 3.370,
        "data_or_labels": -0.068,
        "numerical_instability": -0.169,
        "healthy": -0.014,
    },
    "LOG001:data_or_labels": {
        "learning_rate": -0.145,
        "exploding_weights": -0.060,
        "data_or_labels": 4.008,
        "numerical_instability": -0.106,
        "healthy": -0.697,
    },
    "LOG002:healthy": {
        "learning_rate": -0.011,
        "exploding_weights": -0.004,
        "data_or_labels": -0.009,
        "numerical_instability": -0.006,
        "healthy": 3.030,
    },
    "LR001:learning_rate": {
        "learning_rate": 3.133,
        "exploding_weights": -0.083,
        "data_or_labels": -0.009,
        "numerical_instability": -0.037,
        "healthy": -0.005,
    },
    "LR002:learning_rate": {
        "learning_rate": 2.992,
        "exploding_weights": 0.019,
        "data_or_labels": -0.002,
        "numerical_instability": -0.009,
        "healthy": -0.001,
    },
    "LR003:learning_rate": {
        "learning_rate": 4.282,
        "exploding_weights": -0.194,
        "data_or_labels": -0.202,
        "numerical_instability": -0.176,
        "healthy": -0.711,
    },
    "LR006:learning_rate": {
        "learning_rate": 3.663,
        "exploding_weights": -0.415,
        "data_or_labels": -0.043,
        "numerical_instability": -0.181,
        "healthy": -0.023,
    },
    "LR006:learning_rate:against": {
        "learning_rate": -3.765,
        "exploding_weights": 0.326,
        "data_or_labels": 0.103,
        "numerical_instability": 0.630,
        "healthy": -0.294,
    },
    "NUM004:numerical_instability": {
        "learning_rate": 0.985,
        "exploding_weights": 0.198,
        "data_or_labels": -0.138,
        "numerical_instability": 1.991,
        "healthy": -0.037,
    },
    "OK001:healthy": {
        "learning_rate": -0.204,
        "exploding_weights": -0.447,
        "data_or_labels": 0.565,
        "numerical_instability": -0.620,
        "healthy": 3.706,
    },
    "OK002:healthy": {
        "learning_rate": -0.010,
        "exploding_weights": -0.003,
        "data_or_labels": -0.008,
        "numerical_instability": -0.005,
        "healthy": 3.026,
    },
    "diverged": {
        "learning_rate": 0.320,
        "exploding_weights": 1.391,
        "data_or_labels": -0.615,
        "numerical_instability": 0.558,
        "healthy": -1.654,
    },
    "finite_checkpoints_only": {
        "learning_rate": 0.314,
        "exploding_weights": -0.779,
        "data_or_labels": -0.508,
        "numerical_instability": -0.083,
        "healthy": 1.055,
    },
    "no_loss_series": {
        "learning_rate": -1.095,
        "exploding_weights": -0.511,
        "data_or_labels": 0.922,
        "numerical_instability": 0.154,
        "healthy": 0.530,
    },
}
