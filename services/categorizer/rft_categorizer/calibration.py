"""Temperature scaling and the expected calibration error (ECE).

A confidence "means what it says" when, among the prompts given confidence ~p, a share ~p is
right. Temperature scaling divides the log-scores by one number T fitted to minimize the
negative log-likelihood of held-out labelled examples; it keeps the ranking (and so accuracy)
and only stretches or flattens the confidences.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar


def softmax(logits: NDArray[np.float64], temperature: float = 1.0) -> NDArray[np.float64]:
    scaled = logits / temperature
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_temperature(
    logits: NDArray[np.float64], labels: NDArray[np.int64], bounds: tuple[float, float] = (0.02, 50)
) -> float:
    """The T minimizing the mean negative log-likelihood of ``labels`` under softmax(logits/T)."""
    if len(labels) == 0:
        return 1.0
    rows = np.arange(len(labels))

    def nll(log_t: float) -> float:
        probs = softmax(logits, float(np.exp(log_t)))
        return float(-np.mean(np.log(np.maximum(probs[rows, labels], 1e-12))))

    best = minimize_scalar(nll, bounds=(np.log(bounds[0]), np.log(bounds[1])), method="bounded")
    return float(np.exp(best.x))


def temperature_for_mean_confidence(
    logits: NDArray[np.float64], target: float, bounds: tuple[float, float] = (0.02, 50)
) -> float:
    """The T at which the mean top probability of softmax(logits/T) is ``target`` (the mean
    falls as T grows), clipped to ``bounds``."""
    if not len(logits):
        return 1.0

    def mean_confidence(log_t: float) -> float:
        return float(softmax(logits, float(np.exp(log_t))).max(axis=1).mean())

    low, high = np.log(bounds[0]), np.log(bounds[1])
    if mean_confidence(low) <= target:
        return bounds[0]
    if mean_confidence(high) >= target:
        return bounds[1]
    for _ in range(60):  # bisection on log T: the mean is monotone in T
        middle = (low + high) / 2
        low, high = (middle, high) if mean_confidence(middle) > target else (low, middle)
    return float(np.exp((low + high) / 2))


def expected_calibration_error(
    confidence: NDArray[np.float64], correct: NDArray[np.bool_], bins: int = 15
) -> float:
    """Sum over equal-width confidence bins of (bin share) x |mean confidence - accuracy|."""
    if len(confidence) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    # bin i holds (edges[i], edges[i+1]]; a confidence of exactly 0 joins the first bin
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            gap = abs(float(confidence[members].mean()) - float(correct[members].mean()))
            error += members.mean() * gap
    return float(error)
