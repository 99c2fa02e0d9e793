"""Score calibration: Platt scaling of the abuse score, and how well it holds.

The network's ``1 - p(none)`` ranks posts but is not a probability one can
read off: it is over-confident on the corpus it was trained on. A
two-parameter logistic map of its log-odds, ``sigmoid(a * logit(s) + b)``,
fitted on held-out posts, turns it into one. The parameters live in the
model's ``modq.json`` (``calibration``) and ``AbuseClassifier`` applies them,
so the queue priority and the compose-box nudge both read calibrated scores.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

EPS = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def apply_platt(score, a: float, b: float):
    z = np.clip(a * logit(score) + b, -40, 40)
    return 1.0 / (1.0 + np.exp(-z))


def fit_platt(scores: Sequence[float], y: Sequence[int], weights: Sequence[float] | None = None,
              l2: float = 1e-3, iters: int = 100) -> tuple[float, float]:
    """Weighted logistic regression of ``y`` on ``logit(scores)`` (Newton steps).

    Targets are smoothed as Platt proposed (``(n+ + 1)/(n+ + 2)``) so a
    perfectly separated calibration set still gives finite parameters.
    """
    x = logit(scores)
    y = np.asarray(y, dtype=np.float64)
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=np.float64)
    n_pos, n_neg = float((w * y).sum()), float((w * (1 - y)).sum())
    t = np.where(y > 0.5, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def loss(a: float, b: float) -> float:
        z = np.clip(a * x + b, -40, 40)
        # weighted cross-entropy against the smoothed targets, plus a pull of a towards 1
        return float(np.sum(w * (np.logaddexp(0, z) - t * z)) + 0.5 * l2 * (a - 1.0) ** 2)

    a, b = 1.0, 0.0
    current = loss(a, b)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(a * x + b, -40, 40)))
        g = np.array([np.sum(w * (p - t) * x) + l2 * (a - 1.0), np.sum(w * (p - t))])
        h = w * p * (1 - p)
        H = np.array([[np.sum(h * x * x) + l2, np.sum(h * x)], [np.sum(h * x), np.sum(h) + 1e-9]])
        step = np.linalg.solve(H + 1e-9 * np.eye(2), g)
        # Newton steps overshoot when the scores are nearly separated: halve until the loss falls
        scale = 1.0
        while scale > 1e-6:
            na, nb = a - scale * step[0], b - scale * step[1]
            new = loss(na, nb)
            if new <= current:
                break
            scale /= 2
        else:
            break
        converged = abs(current - new) < 1e-10 * max(1.0, abs(current))
        a, b, current = na, nb, new
        if converged:
            break
    return float(a), float(b)


def reliability(scores: Sequence[float], y: Sequence[int], bins: int = 10) -> dict:
    """Expected calibration error and the reliability curve (equal-width bins)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    rows, ece = [], 0.0
    for k in range(bins):
        lo, hi = k / bins, (k + 1) / bins
        sel = (s >= lo) & ((s < hi) if k < bins - 1 else (s <= hi))
        n = int(sel.sum())
        if not n:
            continue
        conf, acc = float(s[sel].mean()), float(y[sel].mean())
        ece += n / max(1, len(s)) * abs(conf - acc)
        rows.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": n, "mean_score": round(conf, 3),
                     "abusive_share": round(acc, 3)})
    brier = float(np.mean((s - y) ** 2)) if len(s) else math.nan
    return {"ece": round(ece, 4), "brier": round(brier, 4), "bins": rows}
