"""Coefficients of the evidence combination (``forensics/combine.py``).

Fitted by ``python scripts/fit_combination.py`` on the dev split of the scenario corpus (86 runs);
regenerate rather than edit. Features not listed keep their hand-set prior meaning.
"""

BIAS: dict[str, float] = {
    "learning_rate": 0.611,
    "exploding_weights": -0.525,
    "data_or_labels": -0.137,
    "numerical_instability": 0.155,
    "healthy": -0.103,
}
# Platt scaling of the stated confidence, fitted on the committed dev verdicts: (slope, intercept).
CALIBRATION: tuple[float, float] = (1.194, 0.791)
COEF: dict[str, dict[str, float]] = {
    "DATA001:data_or_labels": {
        "learning_rate": 0.626,
        "exploding_weights": 0.853,
        "data_or_labels": 1.904,
        "numerical_instability": -0.214,
        "healthy": -0.168,
    },
    "DATA002:data_or_labels": {
        "learning_rate": -0.066,
        "exploding_weights": -0.156,
        "data_or_labels": 3.501,
        "numerical_instability": -0.260,
        "healthy": -0.019,
    },
    "DATA003:data_or_labels": {
        "learning_rate": -0.006,
        "exploding_weights": -0.002,
        "data_or_labels": 3.041,
        "numerical_instability": -0.003,
        "healthy": -0.029,
    },
    "DATA005:data_or_labels": {
        "learning_rate": -0.324,
        "exploding_weights": -0.898,
        "data_or_labels": 3.069,
        "numerical_instability": 1.315,
        "healthy": -0.163,
    },
    "DATA006:data_or_labels": {
        "learning_rate": -0.163,
        "exploding_weights": -0.378,
        "data_or_labels": 2.446,
        "numerical_instability": 1.141,
        "healthy": -0.046,
    },
    "EXP001:exploding_weights": {
        "learning_rate": 0.353,
        "exploding_weights": 2.779,
        "data_or_labels": -0.024,
        "numerical_instability": -0.096,
        "healthy": -0.012,
    },
    "EXP002:exploding_weights": {
        "learning_rate": 1.446,
        "exploding_weights": 2.742,
        "data_or_labels": -0.266,
        "numerical_instability": -0.236,
        "healthy": -0.686,
    },
    "EXP005:exploding_weights": {
        "learning_rate": -0.150,
        "exploding_weights": 3.034,
        "data_or_labels": -0.175,
        "numerical_instability": 0.323,
        "healthy": -0.033,
    },
    "EXP006:exploding_weights": {
        "learning_rate": -0.118,
        "exploding_weights": 3.370,
        "data_or_labels": -0.070,
        "numerical_instability": -0.168,
        "healthy": -0.014,
    },
    "LOG001:data_or_labels": {
        "learning_rate": -0.133,
        "exploding_weights": -0.055,
        "data_or_labels": 3.908,
        "numerical_instability": -0.101,
        "healthy": -0.619,
    },
    "LOG002:healthy": {
        "learning_rate": -0.011,
        "exploding_weights": -0.004,
        "data_or_labels": -0.008,
        "numerical_instability": -0.006,
        "healthy": 3.029,
    },
    "LR001:learning_rate": {
        "learning_rate": 3.133,
        "exploding_weights": -0.083,
        "data_or_labels": -0.009,
        "numerical_instability": -0.036,
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
        "learning_rate": 4.276,
        "exploding_weights": -0.193,
        "data_or_labels": -0.201,
        "numerical_instability": -0.174,
        "healthy": -0.708,
    },
    "LR006:learning_rate": {
        "learning_rate": 3.661,
        "exploding_weights": -0.413,
        "data_or_labels": -0.044,
        "numerical_instability": -0.180,
        "healthy": -0.023,
    },
    "LR006:learning_rate:against": {
        "learning_rate": -3.762,
        "exploding_weights": 0.322,
        "data_or_labels": 0.109,
        "numerical_instability": 0.625,
        "healthy": -0.294,
    },
    "NUM004:numerical_instability": {
        "learning_rate": 0.981,
        "exploding_weights": 0.198,
        "data_or_labels": -0.141,
        "numerical_instability": 1.999,
        "healthy": -0.037,
    },
    "OK001:healthy": {
        "learning_rate": -0.194,
        "exploding_weights": -0.439,
        "data_or_labels": 0.523,
        "numerical_instability": -0.610,
        "healthy": 3.719,
    },
    "OK002:healthy": {
        "learning_rate": -0.010,
        "exploding_weights": -0.003,
        "data_or_labels": -0.007,
        "numerical_instability": -0.005,
        "healthy": 3.025,
    },
    "diverged": {
        "learning_rate": 0.314,
        "exploding_weights": 1.382,
        "data_or_labels": -0.596,
        "numerical_instability": 0.552,
        "healthy": -1.652,
    },
    "finite_checkpoints_only": {
        "learning_rate": 0.312,
        "exploding_weights": -0.775,
        "data_or_labels": -0.507,
        "numerical_instability": -0.083,
        "healthy": 1.054,
    },
    "no_loss_series": {
        "learning_rate": -1.096,
        "exploding_weights": -0.517,
        "data_or_labels": 0.945,
        "numerical_instability": 0.146,
        "healthy": 0.523,
    },
}
