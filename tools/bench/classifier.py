"""The classifier's bench: texts/s at batch 1 and 32 against a naive fp32 loop, and the
single-post p50/p95 latency (``python -m services.classifier bench``)."""
from __future__ import annotations

import argparse
import json
import os
import time

from services.classifier.cli import _load, _model_args, _read_jsonl
from tools.stats import percentile


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m services.classifier bench",
                                 description="Throughput and latency of the shipped model vs a naive fp32 loop.")
    ap.add_argument("--input", default=None, help="JSON Lines with text (default: held-out test split)")
    ap.add_argument("-n", type=int, default=512, help="texts per throughput run")
    ap.add_argument("--latency-n", type=int, default=300)
    ap.add_argument("--json", action="store_true")
    _model_args(ap)
    args = ap.parse_args(argv)
    import torch

    from services.classifier.inference import AbuseClassifier, MODELS_ROOT

    path = args.input or str(MODELS_ROOT / "splits" / "test.jsonl")
    texts = [str(r.get("text") or "") for r in _read_jsonl(path)] if os.path.exists(path) else []
    if not texts:
        texts = ["今日はいい天気ですね", "お前は本当に最低だな", "駅前の新しいカフェ、コーヒーが美味しかった"]
    while len(texts) < args.n:
        texts = texts + texts
    texts = texts[: args.n]
    threads = args.threads or torch.get_num_threads()
    shipped = _load(args)
    naive = AbuseClassifier(shipped.model_dir, quantize=False, max_length=args.max_length, batch_size=1)

    def throughput(clf, batch, items):
        clf.batch_size = batch
        clf.score(items[:batch])
        t0 = time.perf_counter()
        if batch == 1:
            for t in items:
                clf.score([t])
        else:
            clf.score(items)
        return len(items) / (time.perf_counter() - t0)

    naive_items = texts[: max(64, args.n // 4)]
    r_naive = throughput(naive, 1, naive_items)
    r_b1 = throughput(shipped, 1, texts[: max(64, args.n // 2)])
    r_b32 = throughput(shipped, 32, texts)
    shipped.batch_size = 1
    lat = []
    for t in texts[: args.latency_n]:
        t0 = time.perf_counter()
        shipped.score([t])
        lat.append((time.perf_counter() - t0) * 1000)
    p50, p95 = percentile(lat, 50), percentile(lat, 95)
    res = {
        "model_version": shipped.version, "model_dir": str(shipped.model_dir),
        "quantized": shipped.quantized, "threads": threads, "texts": len(texts),
        "shipped_batch1_texts_per_s": round(r_b1, 1), "shipped_batch32_texts_per_s": round(r_b32, 1),
        "naive_fp32_batch1_texts_per_s": round(r_naive, 1),
        "speedup_batch32_vs_naive": round(r_b32 / r_naive, 2),
        "single_post_latency_ms": {"p50": round(p50, 2), "p95": round(p95, 2)},
        "goals": {"batch32_ge_400": r_b32 >= 400, "speedup_ge_3x": r_b32 / r_naive >= 3, "p95_lt_50ms": p95 < 50},
    }
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"model {shipped.version} ({'int8' if shipped.quantized else 'fp32'}), {threads} threads, {len(texts)} texts")
    print(f"{'':<34}{'texts/s':>10}")
    print(f"{'naive fp32 loop, batch 1':<34}{r_naive:>10.1f}")
    print(f"{'shipped, batch 1':<34}{r_b1:>10.1f}")
    print(f"{'shipped, batch 32':<34}{r_b32:>10.1f}   ({r_b32 / r_naive:.1f}x naive)")
    print(f"single-post latency: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    print("goals: " + ", ".join(f"{k}={'met' if v else 'MISSED'}" for k, v in res["goals"].items()))
    return 0
