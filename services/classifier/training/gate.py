"""Evaluation on every held-out split, calibration fitting and the promotion gate.

Shared by ``train`` and ``retrain`` so both judge a candidate the same way:

* ``test``: the corpus's held-out split (same writers and registers as train);
* ``ood_cal``: part of the independently written set; fits the calibration
  and is what the gate reads;
* ``ood_test``: the rest of that set; reported, never fitted or gated on.

A candidate passes the gate when, at the calibrated 0.5 threshold, its F1 on
``ood_cal`` is within ``MAX_OOD_F1_GAP`` of its ``test`` F1 and at most
``MAX_ROUGH_FPR`` of the rough-but-benign ``ood_cal`` posts are flagged.
"""
from __future__ import annotations

import numpy as np

from ..inference import LABELS, NONE_LABEL
from .calibration import fit_platt, reliability
from .data import Example
from .metrics import evaluate

MAX_OOD_F1_GAP = 0.05
MAX_ROUGH_FPR = 0.10
MIN_TEST_F1 = 0.85
REPORTED_SPLITS = ("test", "ood_cal", "ood_test")


def probs_of(clf, examples: list[Example]) -> np.ndarray:
    rows = clf.probabilities([e.text for e in examples])
    return np.array([[r[l] for l in LABELS] for r in rows]) if rows else np.zeros((0, len(LABELS)))


def abusive(examples: list[Example]) -> np.ndarray:
    return np.array([int(e.label != NONE_LABEL) for e in examples])


def fit_calibration(parts: list[tuple[np.ndarray, list[Example]]]) -> dict:
    """Platt parameters from raw probabilities; each part weighs the same in total."""
    scores, ys, ws = [], [], []
    for probs, examples in parts:
        if not len(examples):
            continue
        s = 1.0 - probs[:, LABELS.index(NONE_LABEL)]
        scores.append(s)
        ys.append(abusive(examples))
        ws.append(np.full(len(s), 1.0 / len(s)))
    if not scores:
        return {}
    s, y, w = np.concatenate(scores), np.concatenate(ys), np.concatenate(ws)
    w = w * len(w) / w.sum()
    a, b = fit_platt(s, y, w)
    return {"method": "platt", "a": round(a, 6), "b": round(b, 6),
            "fitted_on": [f"{len(ex)} posts" for _, ex in parts]}


def split_report(probs: np.ndarray, examples: list[Example]) -> dict:
    """Metrics of one split, with the rough-benign false-positive rate and calibration."""
    m = evaluate([e.label for e in examples], probs, kinds=[e.kind for e in examples])
    score = 1.0 - probs[:, LABELS.index(NONE_LABEL)]
    rough = [i for i, e in enumerate(examples) if e.label == NONE_LABEL and e.extra.get("rough")]
    benign = [i for i, e in enumerate(examples) if e.label == NONE_LABEL]
    m["benign_fpr"] = round(float((score[benign] >= 0.5).mean()), 4) if benign else None
    m["rough_benign"] = ({"n": len(rough), "false_positive_rate": round(float((score[rough] >= 0.5).mean()), 4),
                          "mean_score": round(float(score[rough].mean()), 4)} if rough else None)
    m["calibration"] = reliability(score, abusive(examples))
    return m


def gate(reports: dict[str, dict]) -> dict:
    test_f1 = reports["test"]["overall"]["f1"]
    checks = {"test_f1_ge_%.2f" % MIN_TEST_F1: test_f1 >= MIN_TEST_F1}
    cal = reports.get("ood_cal")
    if cal and cal["overall"]["n"]:
        checks["ood_f1_within_%.2f" % MAX_OOD_F1_GAP] = cal["overall"]["f1"] >= test_f1 - MAX_OOD_F1_GAP
        rough = cal.get("rough_benign")
        if rough:
            checks["rough_benign_fpr_le_%.2f" % MAX_ROUGH_FPR] = rough["false_positive_rate"] <= MAX_ROUGH_FPR
    else:
        checks["ood_set_present"] = False
    return {"passed": all(checks.values()), "checks": checks}


def ood_not_worse(new: dict, old: dict, tolerance: float = 0.01) -> bool:
    """Retrain must not buy test-split gains with out-of-distribution losses."""
    if "ood_cal" not in new or "ood_cal" not in old:
        return True
    n, o = new["ood_cal"], old["ood_cal"]
    worse_f1 = n["overall"]["f1"] < o["overall"]["f1"] - tolerance
    nr, orr = n.get("rough_benign"), o.get("rough_benign")
    worse_fpr = bool(nr and orr and nr["false_positive_rate"] > orr["false_positive_rate"] + tolerance)
    return not (worse_f1 or worse_fpr)


def summary(reports: dict[str, dict]) -> dict:
    out = {}
    for name, m in reports.items():
        o = m["overall"]
        out[name] = {"n": o["n"], "f1": o["f1"], "auc": o["auc"], "precision": o["precision"],
                     "recall": o["recall"], "benign_fpr": m.get("benign_fpr"),
                     "rough_benign_fpr": (m.get("rough_benign") or {}).get("false_positive_rate"),
                     "ece": m["calibration"]["ece"]}
    return out
