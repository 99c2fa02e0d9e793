import json
import math
import shutil

import pytest

from services.classifier import inference
from services.classifier.inference import CATEGORIES, LABELS, AbuseClassifier, default_model_dir


def _check_result(r, version):
    assert set(r) == {"score", "categories", "model_version"}
    assert 0.0 <= r["score"] <= 1.0
    assert set(r["categories"]) == set(CATEGORIES) | {"none"}
    for p in r["categories"].values():
        assert 0.0 <= p <= 1.0 and not math.isnan(p)
    assert r["model_version"] == version


def test_categories_contract():
    assert CATEGORIES == ("insult", "threat", "privacy", "defamation", "discrimination", "sexual")
    assert LABELS[-1] == "none"


def test_score_shapes_and_ranges(tiny_classifier):
    texts = ["お前は本当に馬鹿だな", "今日はいい天気ですね", "", "🥺🥺🥺", "abc"]
    out = tiny_classifier.score(texts)
    assert len(out) == len(texts)
    for r in out:
        _check_result(r, "tiny-random-test")
        # single-label softmax: categories sum to one, score = 1 - none
        assert sum(r["categories"].values()) == pytest.approx(1.0, abs=1e-4)
        assert r["score"] == pytest.approx(1.0 - r["categories"]["none"], abs=1e-6)


def test_empty_inputs(tiny_classifier):
    assert tiny_classifier.score([]) == []
    (r,) = tiny_classifier.score([""])
    _check_result(r, tiny_classifier.version)


def test_very_long_text_is_truncated(tiny_classifier):
    (r,) = tiny_classifier.score(["死ね" * 50_000])
    _check_result(r, tiny_classifier.version)
    enc = tiny_classifier._encode(["あ" * 10_000])
    assert enc["input_ids"].shape[1] <= tiny_classifier.max_length


def test_deterministic_and_order_independent(tiny_classifier):
    texts = ["短い", "これは少し長めの投稿です。" * 5, "", "馬鹿"]
    a = tiny_classifier.score(texts)
    b = tiny_classifier.score(texts)
    assert a == b
    rev = tiny_classifier.score(list(reversed(texts)))
    for x, y in zip(a, reversed(rev)):
        assert x["score"] == pytest.approx(y["score"], abs=1e-5)
    # batch composition does not change a text's score (padding is masked)
    single = [tiny_classifier.score([t])[0]["score"] for t in texts]
    for x, s in zip(a, single):
        assert x["score"] == pytest.approx(s, abs=1e-4)


def test_model_is_in_eval_mode(tiny_classifier):
    assert not tiny_classifier.model.training


def test_unquantized_close_to_quantized(tiny_model_dir, tiny_classifier):
    fp32 = AbuseClassifier(tiny_model_dir, quantize=False)
    assert not fp32.quantized
    texts = ["お前は本当に馬鹿だな", "今日はいい天気ですね"]
    for a, b in zip(fp32.score(texts), tiny_classifier.score(texts)):
        assert a["score"] == pytest.approx(b["score"], abs=0.05)


def test_version_fallback_without_metadata(tmp_path, tiny_model_dir):
    d = tmp_path / "m"
    shutil.copytree(tiny_model_dir, d)
    (d / "modq.json").unlink()
    clf = AbuseClassifier(d, quantize=False)
    assert clf.version and clf.version != "tiny-random-test"
    assert clf.version == AbuseClassifier(d, quantize=False).version


def test_default_model_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("MODQ_CLASSIFIER_MODEL", str(tmp_path))
    assert default_model_dir() == tmp_path.resolve()
    monkeypatch.delenv("MODQ_CLASSIFIER_MODEL")
    d = default_model_dir()
    assert d.is_absolute()


def test_current_pointer(tmp_path):
    (tmp_path / "v7").mkdir()
    (tmp_path / "CURRENT").write_text("v7\n")
    assert inference.current_model_dir(tmp_path) == (tmp_path / "v7").resolve()


def test_env_model_is_used_by_default(monkeypatch, tiny_model_dir):
    monkeypatch.setenv("MODQ_CLASSIFIER_MODEL", str(tiny_model_dir))
    clf = AbuseClassifier(quantize=False)
    assert clf.model_dir == tiny_model_dir.resolve()


def test_missing_dir_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        AbuseClassifier(tmp_path / "nope")


def test_label_permutation_and_aliases(tmp_path, tiny_model_dir):
    """Any checkpoint whose id2label names the categories works, in any order."""
    d = tmp_path / "perm"
    shutil.copytree(tiny_model_dir, d)
    cfg = json.loads((d / "config.json").read_text())
    order = ["NONE", "Sexual", "insult", "threat", "privacy", "defamation", "discrimination"]
    cfg["id2label"] = {str(i): l for i, l in enumerate(order)}
    cfg["label2id"] = {l: i for i, l in enumerate(order)}
    (d / "config.json").write_text(json.dumps(cfg))
    clf = AbuseClassifier(d, quantize=False)
    (r,) = clf.score(["テスト"])
    assert r["score"] == pytest.approx(1 - r["categories"]["none"], abs=1e-6)


def test_multi_label_head(tmp_path, tiny_model_dir):
    d = tmp_path / "ml"
    shutil.copytree(tiny_model_dir, d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["problem_type"] = "multi_label_classification"
    (d / "config.json").write_text(json.dumps(cfg))
    clf = AbuseClassifier(d, quantize=False)
    assert clf.multi_label
    (r,) = clf.score(["テスト"])
    assert r["score"] == pytest.approx(max(r["categories"][c] for c in CATEGORIES), abs=1e-6)


def test_rejects_checkpoint_without_categories(tmp_path, tiny_model_dir):
    d = tmp_path / "bad"
    shutil.copytree(tiny_model_dir, d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["id2label"] = {str(i): f"LABEL_{i}" for i in range(7)}
    cfg["label2id"] = {f"LABEL_{i}": i for i in range(7)}
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError):
        AbuseClassifier(d, quantize=False)


def test_offline_tokenizer_keeps_unknown_chars_separate(tiny_classifier):
    ids = tiny_classifier.tokenizer("🥺🥺🥺")["input_ids"]
    unk = tiny_classifier.tokenizer.unk_token_id
    assert ids.count(unk) == 3


def test_metadata_can_turn_off_int8(tmp_path, tiny_model_dir):
    d = tmp_path / "noq"
    shutil.copytree(tiny_model_dir, d)
    (d / "modq.json").write_text(json.dumps({"version": "v-noq", "quantize": False}))
    clf = AbuseClassifier(d)
    assert not clf.quantized and clf.version == "v-noq"


def test_a_storm_on_one_post_runs_the_model_once_per_distinct_text(tiny_classifier):
    from services.classifier.service import DistinctPostScorer

    calls = []

    class Counting:
        version = tiny_classifier.version

        def score(self, texts):
            calls.append(list(texts))
            return tiny_classifier.score(texts)

    scorer = DistinctPostScorer(Counting(), size=3)
    texts = ["燃えてる投稿", "別の投稿", "燃えてる投稿", "燃えてる投稿"]
    first = scorer.score(texts)
    assert calls == [["燃えてる投稿", "別の投稿"]]
    assert first == tiny_classifier.score(texts)  # the same results as scoring every report
    assert scorer.score(["燃えてる投稿"]) == first[:1] and len(calls) == 1  # kept from the last batch
    scorer.score(["a", "b", "c"])  # more distinct texts than it keeps: the oldest go
    scorer.score(["燃えてる投稿"])
    assert calls[-1] == ["燃えてる投稿"] and scorer.model_runs == 6
