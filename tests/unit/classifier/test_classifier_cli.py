import io
import json
import sys

import pytest

from services.classifier import cli


def _run(monkeypatch, capsys, argv, stdin=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    rc = cli.main(argv)
    return rc, capsys.readouterr().out


def test_commands_contract():
    assert set(cli.COMMANDS) == {"score", "evaluate", "info", "bench", "train", "retrain", "calibrate", "datasheet"}
    assert all(callable(f) for f in cli.COMMANDS.values())


def test_score_stdin(monkeypatch, capsys, tiny_model_dir):
    lines = "\n".join(json.dumps({"id": i, "text": t}, ensure_ascii=False)
                      for i, t in enumerate(["死ね", "", "今日は晴れ"])) + "\n\n"
    rc, out = _run(monkeypatch, capsys, ["score", "--model", str(tiny_model_dir)], stdin=lines)
    assert rc == 0
    rows = [json.loads(l) for l in out.splitlines()]
    assert [r["id"] for r in rows] == [0, 1, 2]
    for r in rows:
        assert set(r) == {"id", "score", "categories", "model_version"}
        assert r["model_version"] == "tiny-random-test"


def test_score_input_file(monkeypatch, capsys, tiny_model_dir, tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps({"id": "a", "text": "テスト"}) + "\n", encoding="utf-8")
    monkeypatch.setenv("MODQ_CLASSIFIER_MODEL", str(tiny_model_dir))
    rc, out = _run(monkeypatch, capsys, ["score", "--input", str(f)])
    assert rc == 0 and json.loads(out)["id"] == "a"


def test_evaluate(monkeypatch, capsys, tiny_model_dir, tmp_path):
    f = tmp_path / "eval.jsonl"
    rows = [{"text": "馬鹿", "label": "insult"}, {"text": "殺す", "label": "threat"},
            {"text": "晴れ", "label": "none"}, {"text": "猫", "label": "none"}]
    f.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    rc, out = _run(monkeypatch, capsys, ["evaluate", "--model", str(tiny_model_dir), "--input", str(f), "--json"])
    assert rc == 0
    m = json.loads(out)
    assert set(m["overall"]) >= {"precision", "recall", "f1", "auc"}
    assert set(m["categories"]) == {"insult", "threat", "privacy", "defamation", "discrimination", "sexual", "none"}
    rc, out = _run(monkeypatch, capsys, ["evaluate", "--model", str(tiny_model_dir), "--input", str(f)])
    assert rc == 0 and "abusive (all)" in out


def test_info(monkeypatch, capsys, tiny_model_dir):
    rc, out = _run(monkeypatch, capsys, ["info", "--model", str(tiny_model_dir)])
    assert rc == 0
    info = json.loads(out)
    assert info["version"] == "tiny-random-test"
    assert info["model_dir"] == str(tiny_model_dir.resolve())


def test_bench_smoke(monkeypatch, capsys, tiny_model_dir, tmp_path):
    f = tmp_path / "b.jsonl"
    f.write_text("".join(json.dumps({"text": f"投稿{i}"}, ensure_ascii=False) + "\n" for i in range(8)))
    rc, out = _run(monkeypatch, capsys, ["bench", "--model", str(tiny_model_dir), "--input", str(f),
                                         "-n", "64", "--latency-n", "10", "--json"])
    assert rc == 0
    res = json.loads(out)
    for k in ("shipped_batch1_texts_per_s", "shipped_batch32_texts_per_s", "naive_fp32_batch1_texts_per_s"):
        assert res[k] > 0
    assert set(res["single_post_latency_ms"]) == {"p50", "p95"}


def test_unknown_command(capsys):
    assert cli.main(["nope"]) == 2
