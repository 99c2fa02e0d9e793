"""The committed model: loads offline, fits the size budget, meets the
quality goal on the held-out test split and on the independently written
out-of-distribution test split, keeps rough benign posts low and is
calibrated there."""
import json

import pytest

from services.classifier.inference import CATEGORIES, LABELS, MODELS_ROOT
from services.classifier.training import data as D
from services.classifier.training.gate import probs_of, split_report

MAX_BYTES = 60 * 1000 * 1000


def test_size_budget(shipped_dir):
    total = sum(p.stat().st_size for p in shipped_dir.rglob("*") if p.is_file())
    assert total <= MAX_BYTES, total


def test_metadata(shipped_dir, shipped):
    meta = json.loads((shipped_dir / "modq.json").read_text())
    assert meta["version"] == shipped.version
    assert meta["labels"] == list(LABELS)
    assert "shipped_test_metrics" in meta and "provenance" in meta


def test_contract(shipped):
    out = shipped.score(["", "今日はいい天気ですね", "お前みたいなゴミは消えろ", "あ" * 5000, "🥺🥺🥺"])
    assert len(out) == 5
    for r in out:
        assert 0.0 <= r["score"] <= 1.0
        assert set(r["categories"]) == set(CATEGORIES) | {"none"}
        assert r["model_version"] == shipped.version
    assert shipped.score(["お前みたいなゴミは消えろ"]) == shipped.score(["お前みたいなゴミは消えろ"])


@pytest.fixture(scope="module")
def test_split():
    path = MODELS_ROOT / "splits" / "test.jsonl"
    if not path.is_file():
        pytest.skip("no split files")
    return D.read_jsonl(path)


@pytest.fixture(scope="module")
def test_metrics(shipped, test_split):
    return split_report(probs_of(shipped, test_split), test_split)


@pytest.fixture(scope="module")
def ood_metrics(shipped):
    path = MODELS_ROOT / "splits" / "ood_test.jsonl"
    if not path.is_file():
        pytest.skip("no out-of-distribution split")
    examples = D.read_jsonl(path)
    return split_report(probs_of(shipped, examples), examples)


def test_quality_goal(test_metrics):
    assert test_metrics["overall"]["f1"] >= 0.88, test_metrics["overall"]
    assert test_metrics["overall"]["auc"] >= 0.95


def test_out_of_distribution_goal(test_metrics, ood_metrics):
    """Posts written apart from the corpus: F1 within 0.05 of the in-distribution
    F1, at most 10 % of rough benign posts flagged, calibrated scores."""
    assert ood_metrics["overall"]["f1"] >= test_metrics["overall"]["f1"] - 0.05, ood_metrics["overall"]
    assert ood_metrics["rough_benign"]["n"] >= 200
    assert ood_metrics["rough_benign"]["false_positive_rate"] <= 0.10, ood_metrics["rough_benign"]
    assert ood_metrics["calibration"]["ece"] <= 0.08, ood_metrics["calibration"]


def test_hard_negatives_scored_low(test_metrics):
    for kind, r in test_metrics["negatives_by_kind"].items():
        assert r["false_positive_rate"] <= 0.25, (kind, r)
        assert r["mean_score"] <= 0.35, (kind, r)


def test_obvious_cases(shipped):
    # with and without a reply handle: the handle must not decide the score
    abusive = ["@yuki_0412 次会ったら殺す", "次会ったら殺す", "お前ほんとに頭悪いな、消えろ", "死ね"]
    benign = ["今日の昼ごはん、会社近くの定食屋で唐揚げ定食", "明日は雨らしいので傘を忘れずに",
              "@mikan_box 今日のランチ美味しかったね"]
    s_abusive = [r["score"] for r in shipped.score(abusive)]
    s_benign = [r["score"] for r in shipped.score(benign)]
    assert min(s_abusive) > max(s_benign)
    assert max(s_benign) < 0.5
