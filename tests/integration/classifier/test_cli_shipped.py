import io
import json
import shutil
import sys

import pytest

from services.classifier import cli


def test_score_and_info(monkeypatch, capsys, shipped_dir):
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps({"id": 1, "text": "次会ったら殺す"}) + "\n"))
    assert cli.main(["score", "--model", str(shipped_dir)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["id"] == 1 and row["score"] > 0.5
    assert cli.main(["info", "--model", str(shipped_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["version"]


def test_retrain_keeps_old_version(tmp_path, capsys, shipped_dir):
    """retrain writes a new version dir only if better and never touches the old one."""
    root = tmp_path / "models"
    root.mkdir()
    old = root / shipped_dir.name
    shutil.copytree(shipped_dir, old)
    (root / "CURRENT").write_text(old.name + "\n")
    shutil.copytree(shipped_dir.parent / "splits", root / "splits")
    decisions = tmp_path / "decisions.jsonl"
    rows = [{"text": "@abc_12 お前の顔ほんと無理、二度と出てくんな", "measure": "remove", "category": "insult"},
            {"text": "この店の接客は本当にひどかった", "measure": "dismiss"},
            {"text": "@abc_12 住所特定した、〇〇市△△町2丁目", "measure": "remove", "clause": "privacy"}]
    decisions.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    before = sorted(p.name for p in old.iterdir())
    rc = cli.main(["retrain", "--decisions", str(decisions), "--model", str(old), "--epochs", "1",
                   "--replay", "64"])
    assert rc == 0
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{"):])
    assert report["old_version"] == old.name or report["old_version"]
    assert sorted(p.name for p in old.iterdir()) == before
    current = (root / "CURRENT").read_text().strip()
    versions = [p for p in root.iterdir() if p.is_dir() and p.name not in {"splits"}]
    assert old.name in [p.name for p in versions]
    if current != old.name:
        assert (root / current / "modq.json").is_file()
        meta = json.loads((root / current / "modq.json").read_text())
        assert meta["parent_version"]
