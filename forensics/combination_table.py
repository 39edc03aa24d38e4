"""Coefficients of the evidence combination (``forensics/combine.py``).

Fitted by ``python scripts/fit_combination.py`` on the dev split of the scenario corpus (81 runs);
regenerate rather than edit. Features not listed keep their hand-set prior meaning.
"""

BIAS: dict[str, float] = {
    "learning_rate": 0.235,
    "exploding_weights": -0.402,
    "data_or_labels": -0.074,
    "numerical_instability": 0.206,
    "healthy": 0.036,
}
# Platt scaling of the stated confidence, fitted on the committed dev verdicts: (slope, intercept).
CALIBRATION: tuple[float, float] = (1.542, 0.272)
COEF: dict[str, dict[str, float]] = {
    "DATA001:data_or_labels": {
        "learning_rate": -0.659,
        "exploding_weights": 1.489,
        "data_or_labels": 2.203,
        "numerical_instability": 0.101,
        "healthy": -0.134,
    },
    "DATA002:data_or_labels": {
        "learning_rate": -0.070,
        "exploding_weights": -0.184,
        "data_or_labels": 3.542,
        "numerical_instability": -0.266,
        "healthy": -0.021,
    },
    "DATA003:data_or_labels": {
        "learning_rate": -0.002,
        "exploding_weights": -0.001,
        "data_or_labels": 3.024,
        "numerical_instability": -0.002,
        "healthy": -0.020,
    },
    "DATA005:data_or_labels": {
        "learning_rate": 0.057,
        "exploding_weights": -1.006,
        "data_or_labels": 2.847,
        "numerical_instability": 1.273,
        "healthy": -0.171,
    },
    "DATA006:data_or_labels": {
        "learning_rate": -0.162,
        "exploding_weights": -0.418,
        "data_or_labels": 2.504,
        "numerical_instability": 1.125,
        "healthy": -0.049,
    },
    "EXP001:exploding_weights": {
        "learning_rate": 0.496,
        "exploding_weights": 2.688,
        "data_or_labels": -0.033,
        "numerical_instability": -0.132,
        "healthy": -0.019,
    },
    "EXP002:exploding_weights": {
        "learning_rate": 1.573,
        "exploding_weights": 2.721,
        "data_or_labels": -0.318,
        "numerical_instability": -0.267,
        "healthy": -0.709,
    },
    "EXP005:exploding_weights": {
        "learning_rate": -0.040,
        "exploding_weights": 3.253,
        "data_or_labels": -0.076,
        "numerical_instability": -0.122,
        "healthy": -0.014,
    },
    "EXP006:exploding_weights": {
        "learning_rate": -0.121,
        "exploding_weights": 3.434,
        "data_or_labels": -0.081,
        "numerical_instability": -0.211,
        "healthy": -0.020,
    },
    "LOG001:data_or_labels": {
        "learning_rate": -0.086,
        "exploding_weights": -0.057,
        "data_or_labels": 3.887,
        "numerical_instability": -0.101,
        "healthy": -0.643,
    },
    "LOG002:healthy": {
        "learning_rate": -0.006,
        "exploding_weights": -0.004,
        "data_or_labels": -0.009,
        "numerical_instability": -0.006,
        "healthy": 3.024,
    },
    "LR001:learning_rate": {
        "learning_rate": 3.185,
        "exploding_weights": -0.116,
        "data_or_labels": -0.012,
        "numerical_instability": -0.049,
        "healthy": -0.007,
    },
    "LR002:learning_rate": {
        "learning_rate": 2.995,
        "exploding_weights": 0.013,
        "data_or_labels": -0.001,
        "numerical_instability": -0.005,
        "healthy": -0.001,
    },
    "LR003:learning_rate": {
        "learning_rate": 3.787,
        "exploding_weights": -0.140,
        "data_or_labels": -0.159,
        "numerical_instability": -0.133,
        "healthy": -0.355,
    },
    "LR006:learning_rate": {
        "learning_rate": 3.930,
        "exploding_weights": -0.584,
        "data_or_labels": -0.062,
        "numerical_instability": -0.248,
        "healthy": -0.035,
    },
    "LR006:learning_rate:against": {
        "learning_rate": -3.682,
        "exploding_weights": 0.443,
        "data_or_labels": 0.225,
        "numerical_instability": 0.323,
        "healthy": -0.309,
    },
    "NUM004:numerical_instability": {
        "learning_rate": 1.420,
        "exploding_weights": 0.041,
        "data_or_labels": -0.179,
        "numerical_instability": 1.770,
        "healthy": -0.053,
    },
    "OK001:healthy": {
        "learning_rate": -0.521,
        "exploding_weights": -0.348,
        "data_or_labels": 0.662,
        "numerical_instability": -0.504,
        "healthy": 3.711,
    },
    "OK002:healthy": {
        "learning_rate": -0.005,
        "exploding_weights": -0.003,
        "data_or_labels": -0.008,
        "numerical_instability": -0.005,
        "healthy": 3.021,
    },
    "diverged": {
        "learning_rate": 0.537,
        "exploding_weights": 1.334,
        "data_or_labels": -0.706,
        "numerical_instability": 0.525,
        "healthy": -1.691,
    },
    "finite_checkpoints_only": {
        "learning_rate": 0.621,
        "exploding_weights": -0.831,
        "data_or_labels": -0.586,
        "numerical_instability": -0.168,
        "healthy": 0.965,
    },
    "no_loss_series": {
        "learning_rate": -0.842,
        "exploding_weights": -0.667,
        "data_or_labels": 0.978,
        "numerical_instability": 0.109,
        "healthy": 0.422,
    },
}
