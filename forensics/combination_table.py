"""Coefficients of the evidence combination (``forensics/combine.py``).

Fitted by ``python scripts/fit_combination.py`` on the dev split of the scenario corpus (262 runs);
regenerate rather than edit. Features not listed keep their hand-set prior meaning.
"""

BIAS: dict[str, float] = {
    "learning_rate": 0.632,
    "exploding_weights": -0.241,
    "data_or_labels": -0.063,
    "numerical_instability": 0.092,
    "healthy": -0.420,
}
# Platt scaling of the stated confidence per kind of verdict, fitted on out-of-family dev
# verdicts: (slope, intercept); the comment says on how many verdicts.
CALIBRATION: dict[str, tuple[float, float]] = {
    "finding": (1.206, -0.620),  # 82 verdicts
    "inferred": (0.242, -0.035),  # 59 verdicts
    "healthy": (0.906, 0.805),  # 61 verdicts
    "healthy_checkpoints": (0.000, 0.405),  # 28 verdicts
    "prior": (0.327, -0.150),  # 9 verdicts
}
COEF: dict[str, dict[str, float]] = {
    "CKPT001:exploding_weights": {
        "exploding_weights": 2.317,
        "numerical_instability": -0.153,
        "healthy": -0.043,
    },
    "CKPT002:data_or_labels": {
        "exploding_weights": -0.306,
        "data_or_labels": 2.715,
        "healthy": -0.075,
    },
    "DATA001:data_or_labels": {
        "learning_rate": -0.477,
        "data_or_labels": 1.871,
        "numerical_instability": -0.603,
        "healthy": -0.307,
    },
    "DATA002:data_or_labels": {
        "learning_rate": -0.057,
        "exploding_weights": -0.247,
        "data_or_labels": 3.590,
        "numerical_instability": -0.268,
        "healthy": -0.017,
    },
    "DATA003:data_or_labels": {
        "learning_rate": -0.004,
        "exploding_weights": -0.002,
        "data_or_labels": 3.020,
        "numerical_instability": -0.002,
        "healthy": -0.012,
    },
    "DATA004:data_or_labels": {
        "learning_rate": -0.031,
        "exploding_weights": -0.039,
        "data_or_labels": 3.129,
        "numerical_instability": -0.055,
        "healthy": -0.003,
    },
    "DATA005:data_or_labels": {
        "learning_rate": -0.192,
        "exploding_weights": -1.064,
        "data_or_labels": 2.754,
        "healthy": -0.187,
    },
    "DATA006:data_or_labels": {
        "learning_rate": -0.102,
        "exploding_weights": -0.222,
        "data_or_labels": 2.526,
        "healthy": -0.029,
    },
    "EXP001:exploding_weights": {
        "exploding_weights": 2.914,
        "data_or_labels": -0.019,
        "numerical_instability": -0.036,
        "healthy": -0.186,
    },
    "EXP002:exploding_weights": {
        "exploding_weights": 2.441,
        "data_or_labels": -0.081,
        "numerical_instability": -0.107,
        "healthy": -0.023,
    },
    "EXP005:exploding_weights": {
        "learning_rate": -0.095,
        "exploding_weights": 3.055,
        "data_or_labels": -0.200,
        "healthy": -0.121,
    },
    "EXP006:exploding_weights": {
        "exploding_weights": 2.151,
        "data_or_labels": -0.335,
        "healthy": -0.048,
    },
    "EXP007:exploding_weights": {
        "learning_rate": -0.101,
        "exploding_weights": 3.656,
        "data_or_labels": -0.099,
        "numerical_instability": -0.436,
        "healthy": -0.020,
    },
    "LOG001:data_or_labels": {
        "learning_rate": -0.243,
        "exploding_weights": -0.093,
        "data_or_labels": 4.463,
        "numerical_instability": -0.137,
        "healthy": -0.989,
    },
    "LOG002:healthy": {
        "learning_rate": -0.020,
        "exploding_weights": -0.006,
        "data_or_labels": -0.012,
        "numerical_instability": -0.009,
        "healthy": 3.048,
    },
    "LR001:learning_rate": {
        "learning_rate": 2.970,
        "exploding_weights": -0.126,
        "data_or_labels": -0.047,
        "healthy": -0.011,
    },
    "LR002:learning_rate": {
        "learning_rate": 3.110,
        "exploding_weights": -0.158,
        "data_or_labels": -0.015,
        "healthy": -0.007,
    },
    "LR003:learning_rate": {
        "learning_rate": 3.795,
        "exploding_weights": -0.185,
        "data_or_labels": -0.140,
        "numerical_instability": -0.116,
        "healthy": -0.354,
    },
    "LR006:learning_rate": {
        "learning_rate": 4.453,
        "exploding_weights": -0.735,
        "data_or_labels": -0.175,
        "numerical_instability": -0.503,
        "healthy": -0.040,
    },
    "LR006:learning_rate:against": {
        "learning_rate": -3.659,
        "exploding_weights": -0.334,
        "data_or_labels": -0.337,
        "healthy": -0.272,
    },
    "NUM003:numerical_instability": {
        "learning_rate": -0.005,
        "exploding_weights": -0.010,
        "data_or_labels": -0.063,
        "numerical_instability": 3.079,
        "healthy": -0.002,
    },
    "NUM004:numerical_instability": {
        "data_or_labels": -0.048,
        "numerical_instability": 2.668,
        "healthy": -0.012,
    },
    "OK001:healthy": {
        "exploding_weights": -0.926,
        "numerical_instability": -0.832,
        "healthy": 3.824,
    },
    "OK002:healthy": {
        "exploding_weights": -0.022,
        "data_or_labels": -0.026,
        "numerical_instability": -0.021,
        "healthy": 2.944,
    },
    "OK003:healthy": {
        "learning_rate": -0.046,
        "exploding_weights": -0.201,
        "data_or_labels": -0.224,
        "healthy": 3.207,
    },
    "diverged": {
        "learning_rate": 0.047,
        "exploding_weights": 1.081,
        "data_or_labels": -0.636,
        "numerical_instability": 1.263,
        "healthy": -1.754,
    },
    "finite_checkpoints_only": {
        "learning_rate": 0.557,
        "exploding_weights": -0.832,
        "data_or_labels": -0.513,
        "numerical_instability": 0.415,
        "healthy": 0.373,
    },
    "no_loss_series": {
        "learning_rate": -0.543,
        "exploding_weights": -0.772,
        "data_or_labels": 1.327,
        "numerical_instability": -0.128,
        "healthy": 0.116,
    },
}
