import json

import numpy as np
import pytest

from services.classifier.inference import LABELS
from services.classifier.training import data as D
from services.classifier.training.metrics import _auc, best_threshold, evaluate
from services.classifier.training.retrain import decision_label


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def corpus(tmp_path):
    _write(tmp_path / "abusive_insult.jsonl", [{"text": f"お前は馬鹿{i}", "label": "insult"} for i in range(40)])
    _write(tmp_path / "abusive_threat.jsonl", [{"text": f"殺すぞ{i}", "label": "threat"} for i in range(20)])
    _write(tmp_path / "none_everyday.jsonl", [{"text": f"今日は晴れ{i}", "label": "none"} for i in range(60)]
           + [{"text": "今日は晴れ0", "label": "none"}])          # duplicate
    _write(tmp_path / "none_conflict.jsonl", [{"text": "殺すぞ0", "label": "none"}])  # conflicting label
    return tmp_path


def test_load_corpus_dedup_and_conflicts(corpus):
    ex, rep = D.load_corpus(corpus)
    assert rep["duplicates"] == 2 and rep["conflicts"] == 1
    assert all(e.text != "殺すぞ0" for e in ex)
    assert rep["by_label"]["insult"] == 40


def test_split_is_deterministic_stratified_and_disjoint(corpus):
    ex, _ = D.load_corpus(corpus)
    a, b = D.split(ex, seed=7), D.split(ex, seed=7)
    assert [e.text for e in a["test"]] == [e.text for e in b["test"]]
    texts = [set(D.normalise(e.text) for e in a[s]) for s in D.SPLITS]
    assert not (texts[0] & texts[1]) and not (texts[0] & texts[2]) and not (texts[1] & texts[2])
    assert sum(len(a[s]) for s in D.SPLITS) == len(ex)
    n_insult_test = sum(e.label == "insult" for e in a["test"])
    assert n_insult_test == 6  # 15% of 40
    c = D.split(ex, seed=8)
    assert [e.text for e in c["test"]] != [e.text for e in a["test"]]


def test_write_and_read_splits(corpus, tmp_path):
    ex, _ = D.load_corpus(corpus)
    man = D.write_splits(D.split(ex), tmp_path / "splits")
    back = D.load_split("test", tmp_path / "splits")
    assert len(back) == man["test"]["n"]


def test_metrics_perfect_and_threshold():
    labels = ["insult", "none", "threat", "none"]
    probs = np.zeros((4, len(LABELS)))
    probs[0, LABELS.index("insult")] = 1
    probs[1, LABELS.index("none")] = 1
    probs[2, LABELS.index("threat")] = 1
    probs[3, LABELS.index("none")] = 1
    m = evaluate(labels, probs, kinds=["", "everyday", "", "criticism"])
    assert m["overall"]["f1"] == 1.0 and m["overall"]["auc"] == 1.0
    assert m["categories"]["insult"]["f1"] == 1.0
    assert m["negatives_by_kind"]["criticism"]["false_positive_rate"] == 0.0
    assert 0.05 <= best_threshold(labels, probs) <= 0.95


def test_auc_ties():
    assert _auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5
    assert _auc(np.array([1, 1]), np.array([0.1, 0.2])) is None


@pytest.mark.parametrize("rec,expected", [
    ({"text": "x", "measure": "remove", "category": "insult"}, "insult"),
    ({"text": "x", "measure": "dismiss"}, "none"),
    ({"text": "x", "measure": "no_action", "category": "threat"}, "none"),
    ({"text": "x", "measure": "hide", "clause": "第3条 個人情報の公開"}, "privacy"),
    ({"text": "x", "measure": "remove", "clause": "hate speech"}, "discrimination"),
    ({"text": "x", "measure": "remove"}, None),
])
def test_decision_label(rec, expected):
    assert decision_label(rec) == expected


def test_the_student_learns_posts_its_teacher_gets_wrong_from_the_gold_label_alone():
    import torch

    from services.classifier.inference import LABELS
    from services.classifier.training.bert import _loss
    from services.classifier.training.distil import drop_teacher_mistakes

    none, insult = LABELS.index("none"), LABELS.index("insult")
    teacher = np.zeros((3, len(LABELS)), dtype=np.float32)
    teacher[0, none] = 5.0    # benign, and the teacher says benign: kept
    teacher[1, insult] = 5.0  # benign, but the teacher says abusive: dropped
    teacher[2, insult] = 5.0  # abusive, and the teacher agrees: kept
    kept, wrong = drop_teacher_mistakes(teacher, ["none", "none", "insult"], LABELS)
    assert wrong == 1 and np.isnan(kept[1]).all() and not np.isnan(kept[[0, 2]]).any()

    logits = torch.randn(3, len(LABELS))
    gold = torch.tensor([none, none, insult])
    mixed = _loss(logits, gold, torch.tensor(kept), alpha=0.5, temperature=2.0)
    ce = torch.nn.functional.cross_entropy(logits, gold, reduction="none")
    assert torch.isfinite(mixed)
    # the untaught post counts with its cross-entropy in full, the others half and half
    only_teacher_rows = _loss(logits[[0, 2]], gold[[0, 2]], torch.tensor(kept[[0, 2]]), alpha=0.5, temperature=2.0)
    assert float(mixed) == pytest.approx((float(only_teacher_rows) * 2 + float(ce[1])) / 3, rel=1e-5)
