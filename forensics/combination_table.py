"""Coefficients of the evidence combination (``forensics/combine.py``).

Fitted by ``python scripts/fit_combination.py`` on the dev split of the scenario corpus (143 runs);
regenerate rather than edit. Features not listed keep their hand-set prior meaning.
"""

BIAS: dict[str, float] = {
    "learning_rate": 0.931,
    "exploding_weights": -0.662,
    "data_or_labels": -0.179,
    "numerical_instability": 0.425,
    "healthy": -0.515,
}
# Platt scaling of the stated confidence per kind of verdict, fitted on out-of-family dev
# verdicts: (slope, intercept); the comment says on how many verdicts.
CALIBRATION: dict[str, tuple[float, float]] = {
    "finding": (1.223, -0.294),  # 37 verdicts
    "inferred": (1.058, 0.107),  # 37 verdicts
    "healthy": (1.312, 0.483),  # 29 verdicts
    "healthy_checkpoints": (0.000, 0.451),  # 16 verdicts
}
COEF: dict[str, dict[str, float]] = {
    "CKPT001:exploding_weights": {
        "exploding_weights": 2.021,
        "numerical_instability": -0.545,
        "healthy": -0.254,
    },
    "CKPT002:data_or_labels": {
        "learning_rate": -0.144,
        "exploding_weights": -0.148,
        "data_or_labels": 2.910,
        "healthy": -0.057,
    },
    "DATA001:data_or_labels": {
        "learning_rate": -0.044,
        "data_or_labels": 1.773,
        "numerical_instability": -0.819,
        "healthy": -0.246,
    },
    "DATA002:data_or_labels": {
        "learning_rate": -0.060,
        "exploding_weights": -0.352,
        "data_or_labels": 3.665,
        "numerical_instability": -0.236,
        "healthy": -0.017,
    },
    "DATA003:data_or_labels": {
        "learning_rate": -0.007,
        "exploding_weights": -0.002,
        "data_or_labels": 3.036,
        "numerical_instability": -0.004,
        "healthy": -0.022,
    },
    "DATA004:data_or_labels": {
        "learning_rate": -0.057,
        "exploding_weights": -0.069,
        "data_or_labels": 3.195,
        "numerical_instability": -0.064,
        "healthy": -0.005,
    },
    "DATA005:data_or_labels": {
        "learning_rate": -0.230,
        "exploding_weights": -0.965,
        "data_or_labels": 2.821,
        "healthy": -0.159,
    },
    "DATA006:data_or_labels": {
        "learning_rate": -0.172,
        "exploding_weights": -0.449,
        "data_or_labels": 2.389,
        "healthy": -0.048,
    },
    "EXP001:exploding_weights": {
        "exploding_weights": 2.728,
        "data_or_labels": -0.023,
        "numerical_instability": -0.153,
        "healthy": -0.013,
    },
    "EXP002:exploding_weights": {
        "exploding_weights": 2.478,
        "data_or_labels": -0.316,
        "numerical_instability": -0.307,
        "healthy": -0.323,
    },
    "EXP005:exploding_weights": {
        "learning_rate": -0.251,
        "exploding_weights": 3.512,
        "numerical_instability": -0.235,
        "healthy": -0.104,
    },
    "EXP006:exploding_weights": {
        "learning_rate": -0.066,
        "exploding_weights": 3.242,
        "data_or_labels": -0.044,
        "numerical_instability": -0.123,
        "healthy": -0.009,
    },
    "EXP007:exploding_weights": {
        "learning_rate": -0.091,
        "exploding_weights": 3.505,
        "data_or_labels": -0.072,
        "numerical_instability": -0.326,
        "healthy": -0.017,
    },
    "LOG001:data_or_labels": {
        "learning_rate": -0.283,
        "exploding_weights": -0.075,
        "data_or_labels": 4.393,
        "numerical_instability": -0.158,
        "healthy": -0.877,
    },
    "LOG002:healthy": {
        "learning_rate": -0.031,
        "exploding_weights": -0.007,
        "data_or_labels": -0.013,
        "numerical_instability": -0.014,
        "healthy": 3.065,
    },
    "LR001:learning_rate": {
        "learning_rate": 3.303,
        "exploding_weights": -0.190,
        "data_or_labels": -0.014,
        "numerical_instability": -0.090,
        "healthy": -0.008,
    },
    "LR002:learning_rate": {
        "learning_rate": 2.925,
        "exploding_weights": -0.083,
        "data_or_labels": -0.015,
        "healthy": -0.008,
    },
    "LR003:learning_rate": {
        "learning_rate": 4.192,
        "exploding_weights": -0.299,
        "data_or_labels": -0.212,
        "numerical_instability": -0.214,
        "healthy": -0.468,
    },
    "LR006:learning_rate": {
        "learning_rate": 3.858,
        "exploding_weights": -0.505,
        "data_or_labels": -0.043,
        "numerical_instability": -0.285,
        "healthy": -0.024,
    },
    "LR006:learning_rate:against": {
        "learning_rate": -3.685,
        "exploding_weights": -0.023,
        "data_or_labels": -0.155,
        "healthy": -0.220,
    },
    "NUM004:numerical_instability": {
        "exploding_weights": -0.082,
        "data_or_labels": -0.103,
        "numerical_instability": 2.189,
        "healthy": -0.031,
    },
    "OK001:healthy": {
        "learning_rate": -0.216,
        "exploding_weights": -0.737,
        "numerical_instability": -0.826,
        "healthy": 3.749,
    },
    "OK002:healthy": {
        "learning_rate": -0.013,
        "exploding_weights": -0.003,
        "data_or_labels": -0.006,
        "numerical_instability": -0.006,
        "healthy": 3.028,
    },
    "OK003:healthy": {
        "learning_rate": -0.692,
        "exploding_weights": -0.063,
        "data_or_labels": -0.136,
        "healthy": 3.385,
    },
    "diverged": {
        "learning_rate": -0.166,
        "exploding_weights": 1.649,
        "data_or_labels": -0.778,
        "numerical_instability": 0.835,
        "healthy": -1.540,
    },
    "finite_checkpoints_only": {
        "learning_rate": 0.605,
        "exploding_weights": -0.913,
        "data_or_labels": -0.748,
        "numerical_instability": 0.567,
        "healthy": 0.489,
    },
    "no_loss_series": {
        "learning_rate": -0.903,
        "exploding_weights": -1.281,
        "data_or_labels": 1.623,
        "numerical_instability": 0.082,
        "healthy": 0.478,
    },
}
