"""Coefficients of the evidence combination (``forensics/combine.py``).

Fitted by ``python scripts/fit_combination.py`` on the dev split of the scenario corpus (143 runs);
regenerate rather than edit. Features not listed keep their hand-set prior meaning.
"""

BIAS: dict[str, float] = {
    "learning_rate": 0.926,
    "exploding_weights": -0.633,
    "data_or_labels": -0.260,
    "numerical_instability": 0.366,
    "healthy": -0.400,
}
# Platt scaling of the stated confidence per kind of verdict, fitted on out-of-family dev
# verdicts: (slope, intercept); the comment says on how many verdicts.
CALIBRATION: dict[str, tuple[float, float]] = {
    "finding": (0.706, -0.008),  # 32 verdicts
    "inferred": (1.592, 0.406),  # 41 verdicts
    "healthy": (1.559, 0.242),  # 30 verdicts
    "healthy_checkpoints": (0.000, 0.451),  # 16 verdicts
}
COEF: dict[str, dict[str, float]] = {
    "CKPT001:exploding_weights": {
        "learning_rate": 1.096,
        "exploding_weights": 2.157,
        "data_or_labels": 0.274,
        "numerical_instability": -0.364,
        "healthy": -0.163,
    },
    "CKPT002:data_or_labels": {
        "learning_rate": -0.129,
        "exploding_weights": -0.145,
        "data_or_labels": 2.888,
        "numerical_instability": 0.443,
        "healthy": -0.057,
    },
    "DATA001:data_or_labels": {
        "learning_rate": 0.204,
        "exploding_weights": 1.329,
        "data_or_labels": 1.956,
        "numerical_instability": -0.269,
        "healthy": -0.220,
    },
    "DATA002:data_or_labels": {
        "learning_rate": -0.054,
        "exploding_weights": -0.395,
        "data_or_labels": 3.719,
        "numerical_instability": -0.254,
        "healthy": -0.016,
    },
    "DATA003:data_or_labels": {
        "learning_rate": -0.006,
        "exploding_weights": -0.002,
        "data_or_labels": 3.032,
        "numerical_instability": -0.003,
        "healthy": -0.021,
    },
    "DATA004:data_or_labels": {
        "learning_rate": -0.054,
        "exploding_weights": -0.097,
        "data_or_labels": 3.208,
        "numerical_instability": -0.054,
        "healthy": -0.005,
    },
    "DATA005:data_or_labels": {
        "learning_rate": -0.249,
        "exploding_weights": -0.503,
        "data_or_labels": 2.869,
        "numerical_instability": 1.045,
        "healthy": -0.162,
    },
    "DATA006:data_or_labels": {
        "learning_rate": -0.133,
        "exploding_weights": -0.357,
        "data_or_labels": 2.536,
        "numerical_instability": 0.994,
        "healthy": -0.040,
    },
    "EXP001:exploding_weights": {
        "learning_rate": 0.404,
        "exploding_weights": 2.761,
        "data_or_labels": -0.024,
        "numerical_instability": -0.127,
        "healthy": -0.013,
    },
    "EXP002:exploding_weights": {
        "learning_rate": 1.110,
        "exploding_weights": 2.567,
        "data_or_labels": -0.227,
        "numerical_instability": -0.196,
        "healthy": -0.254,
    },
    "EXP005:exploding_weights": {
        "learning_rate": -0.296,
        "exploding_weights": 3.413,
        "data_or_labels": 0.051,
        "numerical_instability": -0.054,
        "healthy": -0.114,
    },
    "EXP006:exploding_weights": {
        "learning_rate": -0.085,
        "exploding_weights": 3.387,
        "data_or_labels": -0.070,
        "numerical_instability": -0.217,
        "healthy": -0.015,
    },
    "LOG001:data_or_labels": {
        "learning_rate": -0.254,
        "exploding_weights": -0.066,
        "data_or_labels": 4.282,
        "numerical_instability": -0.139,
        "healthy": -0.822,
    },
    "LOG002:healthy": {
        "learning_rate": -0.030,
        "exploding_weights": -0.006,
        "data_or_labels": -0.016,
        "numerical_instability": -0.013,
        "healthy": 3.065,
    },
    "LR001:learning_rate": {
        "learning_rate": 3.250,
        "exploding_weights": -0.158,
        "data_or_labels": -0.014,
        "numerical_instability": -0.071,
        "healthy": -0.008,
    },
    "LR002:learning_rate": {
        "learning_rate": 2.920,
        "exploding_weights": -0.071,
        "data_or_labels": -0.016,
        "numerical_instability": 0.176,
        "healthy": -0.009,
    },
    "LR003:learning_rate": {
        "learning_rate": 4.003,
        "exploding_weights": -0.253,
        "data_or_labels": -0.172,
        "numerical_instability": -0.153,
        "healthy": -0.424,
    },
    "LR006:learning_rate": {
        "learning_rate": 3.750,
        "exploding_weights": -0.445,
        "data_or_labels": -0.044,
        "numerical_instability": -0.237,
        "healthy": -0.025,
    },
    "LR006:learning_rate:against": {
        "learning_rate": -3.650,
        "exploding_weights": 0.307,
        "data_or_labels": -0.072,
        "numerical_instability": 0.631,
        "healthy": -0.217,
    },
    "NUM004:numerical_instability": {
        "learning_rate": 0.963,
        "exploding_weights": 0.045,
        "data_or_labels": -0.113,
        "numerical_instability": 2.139,
        "healthy": -0.033,
    },
    "OK001:healthy": {
        "learning_rate": -0.047,
        "exploding_weights": -0.685,
        "data_or_labels": 0.608,
        "numerical_instability": -0.689,
        "healthy": 3.812,
    },
    "OK002:healthy": {
        "learning_rate": -0.013,
        "exploding_weights": -0.003,
        "data_or_labels": -0.007,
        "numerical_instability": -0.006,
        "healthy": 3.028,
    },
    "OK003:healthy": {
        "learning_rate": -0.533,
        "exploding_weights": -0.069,
        "data_or_labels": -0.133,
        "numerical_instability": 0.397,
        "healthy": 3.338,
    },
    "diverged": {
        "learning_rate": -0.081,
        "exploding_weights": 1.485,
        "data_or_labels": -0.554,
        "numerical_instability": 0.666,
        "healthy": -1.515,
    },
    "finite_checkpoints_only": {
        "learning_rate": 0.353,
        "exploding_weights": -0.789,
        "data_or_labels": -0.592,
        "numerical_instability": 0.526,
        "healthy": 0.502,
    },
    "no_loss_series": {
        "learning_rate": -1.088,
        "exploding_weights": -1.107,
        "data_or_labels": 1.611,
        "numerical_instability": 0.141,
        "healthy": 0.443,
    },
}
