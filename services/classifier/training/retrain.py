"""``retrain``: fine-tune the served model on moderators' decisions.

The decisions (mixed with replayed train posts) fine-tune the current model;
the candidate is calibrated again and judged by the same gate as ``train``
(``gate.py``). It is promoted only if it is better on the held-out test split,
no worse on the out-of-distribution set, and passes the gate. The old version
stays in place, so rolling back is editing ``CURRENT``.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import re
import shutil
import sys

from ..inference import LABELS, META_FILE, MODELS_ROOT, NONE_LABEL, AbuseClassifier, read_metadata
from . import data as D
from . import gate as G
from .common import file_sha, log, strip_training, weights_tag, write_current

_NONE_MEASURES = {"none", "no_action", "noaction", "dismiss", "dismissed", "keep", "kept", "allow",
                  "allowed", "approve", "approved", "reject", "rejected", "ignore", "ok", "restore",
                  "restored", "not_abusive", "no_violation"}
_CLAUSE_HINTS = {
    "insult": ("insult", "harass", "abuse", "暴言", "侮辱"),
    "threat": ("threat", "violence", "脅迫", "殺害", "危害"),
    "privacy": ("privacy", "doxx", "personal", "個人情報", "プライバシー"),
    "defamation": ("defam", "slander", "libel", "名誉", "誹謗"),
    "discrimination": ("discrim", "hate", "差別", "ヘイト"),
    "sexual": ("sexual", "sex", "nsfw", "性的", "わいせつ"),
}


def decision_label(rec: dict) -> str | None:
    """Map a moderator decision to a training label (None = unusable)."""
    measure = str(rec.get("measure", "")).strip().lower().replace("-", "_").replace(" ", "_")
    if measure in _NONE_MEASURES:
        return NONE_LABEL
    cat = str(rec.get("category") or "").strip().lower()
    if cat in LABELS:
        return cat
    clause = str(rec.get("clause") or "").strip().lower()
    for c, hints in _CLAUSE_HINTS.items():
        if any(h in clause for h in hints):
            return c
    if cat == "" and clause == "" and measure:
        return None
    return None


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m services.classifier retrain",
                                 description="Fine-tune the current model on moderators' decisions; "
                                             "promote only if better on the held-out test split.")
    ap.add_argument("--decisions", required=True, help="JSON Lines of {text, measure, category|clause}")
    ap.add_argument("--model", default=None, help="model dir to start from (default: current)")
    ap.add_argument("--models-root", default=None, help="where versions live (default: parent of the model dir)")
    ap.add_argument("--splits-dir", default=None, help="train/test split files (default: <models-root>/splits)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--seed", type=int, default=D.SEED)
    ap.add_argument("--replay", type=int, default=2000, help="train-split examples mixed in against forgetting")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dry-run", action="store_true", help="evaluate but never promote")
    return ap


def _read_decisions(path: str, held_out_keys: set) -> tuple[list, int, int]:
    """Moderators' decisions as labelled examples; unusable lines are counted as skipped and
    texts of a held-out split as leaked (never trained on)."""
    decided, skipped, leaked = [], 0, 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                skipped += 1
                continue
            lab = decision_label(rec)
            text = str(rec.get("text") or "")
            if lab is None or not text.strip():
                skipped += 1
                continue
            if D.normalise(text) in held_out_keys:
                leaked += 1
                continue
            decided.append(D.Example(text=text, label=lab, kind="decision"))
    return decided, skipped, leaked


def retrain(argv: list[str]) -> int:
    args = _parser().parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    old_dir = pathlib.Path(args.model).resolve() if args.model else _default_dir()
    models_root = pathlib.Path(args.models_root) if args.models_root else old_dir.parent
    splits_dir = pathlib.Path(args.splits_dir) if args.splits_dir else models_root / "splits"
    if not (splits_dir / "test.jsonl").is_file():
        splits_dir = MODELS_ROOT / "splits"
    test = D.load_split("test", splits_dir)
    train_split = D.load_split("train", splits_dir) if (splits_dir / "train.jsonl").is_file() else []
    # never train on a held-out split, in or out of distribution
    held_out = [test] + [D.load_split(n, splits_dir) for n in ("ood_cal", "ood_test")
                         if (splits_dir / f"{n}.jsonl").is_file()]
    test_keys = {D.normalise(e.text) for part in held_out for e in part}

    decided, skipped, leaked = _read_decisions(args.decisions, test_keys)
    if not decided:
        print(json.dumps({"promoted": False, "reason": "no usable decisions", "skipped": skipped,
                          "in_test_split": leaked}))
        return 1

    splits = {name: D.load_split(name, splits_dir) for name in ("dev", "test", "ood_cal", "ood_test")
              if (splits_dir / f"{name}.jsonl").is_file()}
    splits.setdefault("ood_cal", [])
    old = AbuseClassifier(old_dir)
    old_reports = {n: G.split_report(G.probs_of(old, splits[n]), splits[n]) for n in G.REPORTED_SPLITS
                   if splits.get(n)}
    stage, new_reports = _fine_tune_candidate(args, old_dir, models_root, train_split, decided, splits, old)
    if stage is None:
        return 2

    def key(m):
        return (m["overall"]["f1"], m["overall"]["auc"] or 0.0, m["macro_f1_categories"])

    verdict = G.gate(new_reports)
    better = key(new_reports["test"]) > key(old_reports["test"]) and G.ood_not_worse(new_reports, old_reports)
    report = {"old_version": old.version, "old": G.summary(old_reports), "new": G.summary(new_reports),
              "gate": verdict, "decisions": len(decided), "skipped": skipped, "in_test_split": leaked,
              "promoted": False}
    if better and verdict["passed"] and not args.dry_run:
        report.update(_promote(args, stage, models_root, old_dir, old, new_reports, report))
    else:
        report["reason"] = ("dry run" if better and verdict["passed"] else
                            "new model fails the gate" if better else
                            "new model is not better on the held-out test split without losing out of distribution")
        shutil.rmtree(stage, ignore_errors=True)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


def _fine_tune_candidate(args, old_dir, models_root, train_split, decided, splits, old):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from .bert import fine_tune, save_checkpoint
    from .pipeline import calibrate_and_report

    rng = random.Random(args.seed)
    replay = rng.sample(train_split, min(args.replay, len(train_split))) if train_split else []
    # decisions weigh more than replayed data: repeat them
    mix = replay + decided * 3
    tok = AutoTokenizer.from_pretrained(str(old_dir), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(old_dir), local_files_only=True,
                                                               dtype=torch.float32)
    for lab in LABELS:  # make sure label order matches LABELS for training
        if model.config.label2id.get(lab, LABELS.index(lab)) != LABELS.index(lab):
            print("retrain supports checkpoints whose labels are ordered as LABELS", file=sys.stderr)
            return None, None
    log(f"retrain: {len(decided)} decisions (+{len(replay)} replayed)")
    fine_tune(model, tok, [e.text for e in mix], [e.label for e in mix], epochs=args.epochs, lr=args.lr,
              head_lr=args.lr, seed=args.seed, tag="retrain")
    stage = models_root / ".staging"
    shutil.rmtree(stage, ignore_errors=True)
    # the candidate is served in the int8 layout its parent was served in
    save_checkpoint(model, tok, stage, {"version": "candidate", "int8": read_metadata(old_dir).get("int8")},
                    fp16=True)
    if splits.get("dev"):
        _cal, reports, _served = calibrate_and_report(stage, old.quantized, splits)
    else:  # an older split directory without dev: evaluate uncalibrated
        new = AbuseClassifier(stage, quantize=old.quantized)
        reports = {n: G.split_report(G.probs_of(new, splits[n]), splits[n]) for n in G.REPORTED_SPLITS
                   if splits.get(n)}
    return stage, reports


def _promote(args, stage, models_root, old_dir, old, new_reports, report) -> dict:
    base = re.sub(r"-r\d+-[0-9a-f]+$", "", old.version)
    n = 1 + sum(1 for p in models_root.glob(base + "-r*") if p.is_dir())
    name = f"{base}-r{n}-{weights_tag(stage)}"
    meta = dict(read_metadata(old_dir))
    staged = read_metadata(stage)
    meta.update({
        "version": name, "parent_version": old.version, "created_by": "python -m services.classifier retrain",
        "quantize": old.quantized, "calibration": staged.get("calibration", meta.get("calibration")),
        "shipped_test_metrics": strip_training(new_reports["test"]),
        "split_metrics": {k: strip_training(v) for k, v in new_reports.items()},
        "summary": G.summary(new_reports),
        "retrain": {k: v for k, v in report.items() if k != "promoted"} | {
            "decisions_file_sha256": file_sha(pathlib.Path(args.decisions)), "epochs": args.epochs,
            "lr": args.lr, "seed": args.seed},
    })
    final = models_root / name
    os.replace(stage, final)
    (final / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_current(models_root, name)
    return {"promoted": True, "new_version": name, "model_dir": str(final)}


def _default_dir() -> pathlib.Path:
    from ..inference import default_model_dir

    return default_model_dir()
