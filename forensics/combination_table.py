"""Coefficients of the evidence combination (``forensics/combine.py``).

Fitted by ``python scripts/fit_combination.py`` on the dev split of the scenario corpus (65 runs);
regenerate rather than edit. Features not listed keep their hand-set prior meaning.
"""

BIAS: dict[str, float] = {
    "learning_rate": 0.349,
    "exploding_weights": -0.385,
    "data_or_labels": -0.163,
    "numerical_instability": 0.235,
    "healthy": -0.037,
}
# Platt scaling of the stated confidence, fitted on the committed dev verdicts: (slope, intercept).
CALIBRATION: tuple[float, float] = (1.562, 0.264)
COEF: dict[str, dict[str, float]] = {
    "DATA001:data_or_labels": {
        "learning_rate": -0.697,
        "exploding_weights": 1.325,
        "data_or_labels": 2.156,
        "numerical_instability": 0.341,
        "healthy": -0.126,
    },
    "DATA002:data_or_labels": {
        "learning_rate": -0.065,
        "exploding_weights": -0.386,
        "data_or_labels": 3.636,
        "numerical_instability": -0.169,
        "healthy": -0.016,
    },
    "DATA003:data_or_labels": {
        "learning_rate": -0.002,
        "exploding_weights": -0.001,
        "data_or_labels": 3.026,
        "numerical_instability": -0.002,
        "healthy": -0.021,
    },
    "DATA005:data_or_labels": {
        "learning_rate": 0.362,
        "exploding_weights": -1.057,
        "data_or_labels": 2.895,
        "numerical_instability": 0.962,
        "healthy": -0.162,
    },
    "DATA006:data_or_labels": {
        "learning_rate": -0.173,
        "exploding_weights": -0.381,
        "data_or_labels": 2.506,
        "numerical_instability": 1.090,
        "healthy": -0.042,
    },
    "EXP002:exploding_weights": {
        "learning_rate": 1.891,
        "exploding_weights": 2.676,
        "data_or_labels": -0.297,
        "numerical_instability": -0.365,
        "healthy": -0.906,
    },
    "EXP005:exploding_weights": {
        "learning_rate": -0.031,
        "exploding_weights": 3.219,
        "data_or_labels": -0.076,
        "numerical_instability": -0.100,
        "healthy": -0.011,
    },
    "EXP006:exploding_weights": {
        "learning_rate": -0.147,
        "exploding_weights": 3.199,
        "data_or_labels": 0.172,
        "numerical_instability": -0.203,
        "healthy": -0.022,
    },
    "LOG001:data_or_labels": {
        "learning_rate": -0.068,
        "exploding_weights": -0.040,
        "data_or_labels": 3.705,
        "numerical_instability": -0.074,
        "healthy": -0.524,
    },
    "LOG002:healthy": {
        "learning_rate": -0.009,
        "exploding_weights": -0.006,
        "data_or_labels": -0.012,
        "numerical_instability": -0.008,
        "healthy": 3.036,
    },
    "LR003:learning_rate": {
        "learning_rate": 3.946,
        "exploding_weights": -0.162,
        "data_or_labels": -0.148,
        "numerical_instability": -0.183,
        "healthy": -0.453,
    },
    "LR006:learning_rate:against": {
        "learning_rate": -3.678,
        "exploding_weights": 0.457,
        "data_or_labels": 0.388,
        "numerical_instability": 0.113,
        "healthy": -0.281,
    },
    "NUM004:numerical_instability": {
        "learning_rate": 2.119,
        "exploding_weights": -0.234,
        "data_or_labels": -0.303,
        "numerical_instability": 1.499,
        "healthy": -0.081,
    },
    "OK001:healthy": {
        "learning_rate": -0.500,
        "exploding_weights": -0.299,
        "data_or_labels": 0.733,
        "numerical_instability": -0.444,
        "healthy": 3.509,
    },
    "OK002:healthy": {
        "learning_rate": -0.008,
        "exploding_weights": -0.005,
        "data_or_labels": -0.011,
        "numerical_instability": -0.007,
        "healthy": 3.031,
    },
    "diverged": {
        "learning_rate": 0.468,
        "exploding_weights": 1.328,
        "data_or_labels": -0.561,
        "numerical_instability": 0.388,
        "healthy": -1.623,
    },
    "finite_checkpoints_only": {
        "learning_rate": 0.747,
        "exploding_weights": -0.839,
        "data_or_labels": -0.823,
        "numerical_instability": -0.110,
        "healthy": 1.024,
    },
    "no_loss_series": {
        "learning_rate": -0.844,
        "exploding_weights": -0.711,
        "data_or_labels": 0.911,
        "numerical_instability": 0.116,
        "healthy": 0.528,
    },
}
