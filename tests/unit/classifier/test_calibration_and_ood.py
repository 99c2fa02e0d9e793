"""Calibration, the out-of-distribution set's near-duplicate check, pair-aware
splits and the model metadata that inference reads (int8 layout, calibration)."""
import json
import shutil

import numpy as np
import pytest

from services.classifier.inference import AbuseClassifier
from services.classifier.training import data as D
from services.classifier.training import gate as G
from services.classifier.training import ood as O
from services.classifier.training.calibration import apply_platt, fit_platt, logit, reliability


def test_platt_recovers_known_parameters():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.001, 0.999, 20000)
    true_p = apply_platt(raw, 0.4, -1.0)          # an over-confident score, shifted
    y = (rng.uniform(size=raw.size) < true_p).astype(int)
    a, b = fit_platt(raw, y)
    assert abs(a - 0.4) < 0.05 and abs(b + 1.0) < 0.1
    before = reliability(raw, y)["ece"]
    after = reliability(apply_platt(raw, a, b), y)["ece"]
    assert after < 0.02 < before


def test_platt_is_finite_on_separated_data():
    a, b = fit_platt([0.01, 0.02, 0.98, 0.99], [0, 0, 1, 1])
    assert np.isfinite(a) and np.isfinite(b) and a > 0


def test_reliability_bins_and_ece():
    r = reliability([0.1, 0.1, 0.9, 0.9], [0, 0, 1, 1])
    assert r["ece"] == pytest.approx(0.1)
    assert [b["n"] for b in r["bins"]] == [2, 2]
    assert logit(np.array([0.5]))[0] == pytest.approx(0.0)


def test_near_duplicate_index_finds_rewordings_only():
    corpus = ["@ken_22 お前みたいな下手くそは二度とランクマ来んな、ゴミが", "今日は駅前のカフェで新作のケーキ食べた"]
    idx = O.NearDuplicateIndex(corpus)
    sim, i = idx.nearest("お前みたいな下手くそは二度とランクマ来んな、ゴミがｗ")
    assert i == 0 and sim >= O.NEAR_DUP_JACCARD
    sim, _ = idx.nearest("明日の天気は晴れのち曇り、洗濯日和になりそう")
    assert sim < O.NEAR_DUP_JACCARD


def test_load_ood_drops_near_duplicates_and_splits_deterministically(tmp_path):
    rows = [{"text": "今日は駅前のカフェで新作のケーキ食べたよ", "label": "none", "rough": False}]
    rows += [{"text": f"会議長すぎて死ぬ{i}回目、もう帰りてえ", "label": "none", "rough": True} for i in range(20)]
    rows += [{"text": f"お前の顔{i}回見るだけで吐き気する、消えろ", "label": "insult"} for i in range(20)]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    kept, rep = O.load_ood(["今日は駅前のカフェで新作のケーキ食べた"], tmp_path)
    assert rep["near_duplicates"] == 1 and len(kept) == 40
    a, b = O.split_ood(kept), O.split_ood(list(reversed(kept)))
    assert [e.text for e in a["ood_cal"]] == [e.text for e in b["ood_cal"]]
    assert len(a["ood_cal"]) == 12 and not {e.text for e in a["ood_cal"]} & {e.text for e in a["ood_test"]}
    assert sum(e.extra["rough"] for e in a["ood_test"]) == 14


def test_contrast_pairs_stay_in_one_split(tmp_path):
    posts = tmp_path / "posts"
    posts.mkdir()
    rows = []
    for i in range(60):
        rows.append({"text": f"@u{i} 下手すぎ、二度と来んなゴミ{i}", "label": "insult", "pair": f"w-p{i}"})
        rows.append({"text": f"@u{i} 今日の俺下手すぎてゴミ{i}", "label": "none", "kind": "self_deprecation",
                     "pair": f"w-p{i}"})
    (posts / "w.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    ex, rep = D.load_corpus(tmp_path)
    assert rep["examples"] == 120
    parts = D.split(ex)
    where = {}
    for name, items in parts.items():
        for e in items:
            where.setdefault(e.extra["pair"], set()).add(name)
    assert all(len(v) == 1 for v in where.values())
    assert {len(parts[s]) for s in D.SPLITS} == {84, 18}


def test_gate_reads_ood_and_rough_benign():
    def rep(f1, fpr=None):
        return {"overall": {"f1": f1, "n": 10}, "rough_benign": {"false_positive_rate": fpr} if fpr is not None else None}
    assert G.gate({"test": rep(0.95), "ood_cal": rep(0.91, 0.05)})["passed"]
    assert not G.gate({"test": rep(0.95), "ood_cal": rep(0.88, 0.05)})["passed"]
    assert not G.gate({"test": rep(0.95), "ood_cal": rep(0.93, 0.2)})["passed"]
    assert not G.gate({"test": rep(0.95)})["passed"]


def test_inference_applies_calibration_and_int8_layout(tmp_path, tiny_model_dir):
    raw = AbuseClassifier(tiny_model_dir)
    d = tmp_path / "cal"
    shutil.copytree(tiny_model_dir, d)
    (d / "modq.json").write_text(json.dumps({
        "version": "v-cal", "calibration": {"method": "platt", "a": 0.5, "b": -2.0},
        "int8": {"per_channel": True, "fp32_modules": [r"encoder\.layer\.\d+\.output\.dense$"]}}))
    clf = AbuseClassifier(d)
    texts = ["死ね", "今日はいい天気", "猫かわいい"]
    for r0, r1 in zip(raw.score(texts), clf.score(texts)):
        assert r1["score"] == pytest.approx(float(apply_platt(np.array([r0["score"]]), 0.5, -2.0)[0]), abs=0.02)
        assert sum(r1["categories"].values()) == pytest.approx(1.0, abs=1e-6)
        assert r1["categories"]["none"] == pytest.approx(1 - r1["score"], abs=1e-6)
    import torch

    fp32 = {n for n, m in clf.model.named_modules() if isinstance(m, torch.nn.Linear)}
    ffn_out = {n for n, _ in clf.model.named_modules() if n.endswith(".output.dense") and "attention" not in n}
    assert ffn_out and fp32 == ffn_out and clf.quantized
    assert clf.info()["calibration"]["a"] == 0.5
