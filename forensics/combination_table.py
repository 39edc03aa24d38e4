"""Coefficients of the evidence combination (``forensics/combine.py``).

Fitted by ``python scripts/fit_combination.py`` on the dev split of the scenario corpus (143 runs);
regenerate rather than edit. Features not listed keep their hand-set prior meaning.
"""

BIAS: dict[str, float] = {
    "learning_rate": 0.906,
    "exploding_weights": -0.615,
    "data_or_labels": -0.382,
    "numerical_instability": 0.381,
    "healthy": -0.290,
}
# Platt scaling of the stated confidence, fitted on out-of-fold dev verdicts: (slope, intercept).
CALIBRATION: tuple[float, float] = (0.621, 0.758)
COEF: dict[str, dict[str, float]] = {
    "DATA001:data_or_labels": {
        "learning_rate": 0.242,
        "exploding_weights": 1.276,
        "data_or_labels": 1.914,
        "numerical_instability": -0.227,
        "healthy": -0.204,
    },
    "DATA002:data_or_labels": {
        "learning_rate": -0.052,
        "exploding_weights": -0.388,
        "data_or_labels": 3.702,
        "numerical_instability": -0.247,
        "healthy": -0.015,
    },
    "DATA003:data_or_labels": {
        "learning_rate": -0.006,
        "exploding_weights": -0.002,
        "data_or_labels": 3.033,
        "numerical_instability": -0.003,
        "healthy": -0.021,
    },
    "DATA004:data_or_labels": {
        "learning_rate": -0.052,
        "exploding_weights": -0.097,
        "data_or_labels": 3.205,
        "numerical_instability": -0.052,
        "healthy": -0.004,
    },
    "DATA005:data_or_labels": {
        "learning_rate": -0.226,
        "exploding_weights": -0.569,
        "data_or_labels": 2.829,
        "numerical_instability": 1.115,
        "healthy": -0.150,
    },
    "DATA006:data_or_labels": {
        "learning_rate": -0.128,
        "exploding_weights": -0.374,
        "data_or_labels": 2.517,
        "numerical_instability": 1.022,
        "healthy": -0.036,
    },
    "EXP001:exploding_weights": {
        "learning_rate": 0.414,
        "exploding_weights": 2.747,
        "data_or_labels": -0.025,
        "numerical_instability": -0.123,
        "healthy": -0.013,
    },
    "EXP002:exploding_weights": {
        "learning_rate": 1.396,
        "exploding_weights": 2.740,
        "data_or_labels": -0.246,
        "numerical_instability": -0.281,
        "healthy": -0.610,
    },
    "EXP005:exploding_weights": {
        "learning_rate": -0.194,
        "exploding_weights": 3.082,
        "data_or_labels": -0.025,
        "numerical_instability": 0.184,
        "healthy": -0.046,
    },
    "EXP006:exploding_weights": {
        "learning_rate": -0.082,
        "exploding_weights": 3.377,
        "data_or_labels": -0.071,
        "numerical_instability": -0.210,
        "healthy": -0.013,
    },
    "LOG001:data_or_labels": {
        "learning_rate": -0.255,
        "exploding_weights": -0.072,
        "data_or_labels": 4.309,
        "numerical_instability": -0.137,
        "healthy": -0.845,
    },
    "LOG002:healthy": {
        "learning_rate": -0.029,
        "exploding_weights": -0.006,
        "data_or_labels": -0.015,
        "numerical_instability": -0.013,
        "healthy": 3.064,
    },
    "LR001:learning_rate": {
        "learning_rate": 3.258,
        "exploding_weights": -0.168,
        "data_or_labels": -0.014,
        "numerical_instability": -0.068,
        "healthy": -0.008,
    },
    "LR002:learning_rate": {
        "learning_rate": 2.922,
        "exploding_weights": -0.077,
        "data_or_labels": -0.017,
        "numerical_instability": 0.180,
        "healthy": -0.008,
    },
    "LR003:learning_rate": {
        "learning_rate": 4.123,
        "exploding_weights": -0.171,
        "data_or_labels": -0.177,
        "numerical_instability": -0.192,
        "healthy": -0.583,
    },
    "LR006:learning_rate": {
        "learning_rate": 3.769,
        "exploding_weights": -0.469,
        "data_or_labels": -0.046,
        "numerical_instability": -0.230,
        "healthy": -0.023,
    },
    "LR006:learning_rate:against": {
        "learning_rate": -3.668,
        "exploding_weights": 0.428,
        "data_or_labels": -0.090,
        "numerical_instability": 0.589,
        "healthy": -0.259,
    },
    "NUM004:numerical_instability": {
        "learning_rate": 0.968,
        "exploding_weights": 0.025,
        "data_or_labels": -0.119,
        "numerical_instability": 2.158,
        "healthy": -0.031,
    },
    "OK001:healthy": {
        "learning_rate": -0.034,
        "exploding_weights": -0.708,
        "data_or_labels": 0.718,
        "numerical_instability": -0.671,
        "healthy": 3.696,
    },
    "OK002:healthy": {
        "learning_rate": -0.013,
        "exploding_weights": -0.003,
        "data_or_labels": -0.007,
        "numerical_instability": -0.005,
        "healthy": 3.028,
    },
    "diverged": {
        "learning_rate": -0.070,
        "exploding_weights": 1.541,
        "data_or_labels": -0.369,
        "numerical_instability": 0.633,
        "healthy": -1.735,
    },
    "finite_checkpoints_only": {
        "learning_rate": 0.261,
        "exploding_weights": -0.744,
        "data_or_labels": -1.041,
        "numerical_instability": 0.385,
        "healthy": 1.139,
    },
    "no_loss_series": {
        "learning_rate": -1.298,
        "exploding_weights": -0.658,
        "data_or_labels": 1.606,
        "numerical_instability": -0.225,
        "healthy": 0.576,
    },
}
