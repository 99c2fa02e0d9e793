"""Evaluation metrics shared by training, ``evaluate`` and ``retrain``."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..inference import CATEGORIES, LABELS, NONE_LABEL


def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


def _auc(y: np.ndarray, s: np.ndarray) -> float | None:
    """ROC AUC (Mann-Whitney U with average ranks for ties); None if one class."""
    y = np.asarray(y).astype(int)
    s = np.asarray(s, dtype=np.float64)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    u = ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0
    return round(float(u / (n_pos * n_neg)), 4)


def evaluate(labels: Sequence[str], probs: np.ndarray, threshold: float = 0.5,
             kinds: Sequence[str] | None = None) -> dict:
    """``probs``: [n, 7] probabilities in ``LABELS`` order."""
    labels = list(labels)
    probs = np.asarray(probs, dtype=np.float64)
    n = len(labels)
    y_abuse = np.array([lab != NONE_LABEL for lab in labels], dtype=int)
    score = 1.0 - probs[:, LABELS.index(NONE_LABEL)]
    pred_abuse = (score >= threshold).astype(int)
    tp = int(((pred_abuse == 1) & (y_abuse == 1)).sum())
    fp = int(((pred_abuse == 1) & (y_abuse == 0)).sum())
    fn = int(((pred_abuse == 0) & (y_abuse == 1)).sum())
    overall = _prf(tp, fp, fn)
    overall.update({"auc": _auc(y_abuse, score), "threshold": threshold, "n": n,
                    "positives": int(y_abuse.sum()),
                    "accuracy": round(float((pred_abuse == y_abuse).mean()), 4) if n else 0.0})
    # category prediction: the most probable abusive category if the post is
    # flagged, else none
    cat_probs = probs[:, : len(CATEGORIES)]
    pred_cat = [CATEGORIES[int(i)] if a else NONE_LABEL
                for i, a in zip(cat_probs.argmax(axis=1), pred_abuse)]
    per_cat = {}
    for j, c in enumerate(LABELS):
        yt = np.array([lab == c for lab in labels])
        yp = np.array([p == c for p in pred_cat])
        m = _prf(int((yt & yp).sum()), int((~yt & yp).sum()), int((yt & ~yp).sum()))
        m["auc"] = _auc(yt.astype(int), probs[:, j])
        m["support"] = int(yt.sum())
        per_cat[c] = m
    macro = float(np.mean([per_cat[c]["f1"] for c in CATEGORIES if per_cat[c]["support"]] or [0.0]))
    out = {"overall": overall, "categories": per_cat, "macro_f1_categories": round(macro, 4),
           "category_accuracy": round(float(np.mean([p == l for p, l in zip(pred_cat, labels)])), 4) if n else 0.0}
    if kinds is not None:
        hard = {}
        for kind in sorted({k for k, lab in zip(kinds, labels) if lab == NONE_LABEL}):
            idx = [i for i, (k, lab) in enumerate(zip(kinds, labels)) if k == kind and lab == NONE_LABEL]
            s = score[idx]
            hard[kind] = {"n": len(idx), "false_positive_rate": round(float((s >= threshold).mean()), 4),
                          "mean_score": round(float(s.mean()), 4)}
        out["negatives_by_kind"] = hard
    return out


def best_threshold(labels: Sequence[str], probs: np.ndarray) -> float:
    """Threshold on the abuse score maximising F1 (ties -> closest to 0.5)."""
    y = np.array([lab != NONE_LABEL for lab in labels], dtype=int)
    score = 1.0 - np.asarray(probs)[:, LABELS.index(NONE_LABEL)]
    best, best_t = -1.0, 0.5
    for t in np.round(np.arange(0.05, 0.96, 0.01), 2):
        pred = score >= t
        tp = int((pred & (y == 1)).sum()); fp = int((pred & (y == 0)).sum()); fn = int((~pred & (y == 1)).sum())
        f = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f > best + 1e-9 or (abs(f - best) <= 1e-9 and abs(t - 0.5) < abs(best_t - 0.5)):
            best, best_t = f, float(t)
    return best_t


def summary_line(name: str, m: dict) -> str:
    o = m["overall"]
    auc = "n/a" if o["auc"] is None or (isinstance(o["auc"], float) and math.isnan(o["auc"])) else f"{o['auc']:.4f}"
    return (f"{name:<22} F1 {o['f1']:.4f}  P {o['precision']:.4f}  R {o['recall']:.4f}  AUC {auc}  "
            f"macro-F1(categories) {m['macro_f1_categories']:.4f}")
