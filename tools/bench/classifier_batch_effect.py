"""How much a post's served score depends on the posts batched with it.

int8 dynamic quantisation takes one activation scale per batch, so the same post can score a
little differently alone and in a batch. Prints the mean, p95 and largest difference between
batched and one-by-one scores on a split, and how many abusive/not decisions differ.

    python -m tools.bench.classifier_batch_effect [--input models/classifier/splits/ood_test.jsonl]
"""
import argparse
import json
import time

import numpy as np

from services.classifier.inference import AbuseClassifier
from shared.settings import REPO_ROOT


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", default=str(REPO_ROOT / "models/classifier/splits/ood_test.jsonl"))
    ap.add_argument("--model", default=None)
    args = ap.parse_args()
    texts = [json.loads(line)["text"] for line in open(args.input, encoding="utf-8") if line.strip()]
    clf = AbuseClassifier(args.model) if args.model else AbuseClassifier()
    started = time.perf_counter()
    batched = np.array([r["score"] for r in clf.score(texts)])
    batched_s = time.perf_counter() - started
    started = time.perf_counter()
    alone = np.array([clf.score([text])[0]["score"] for text in texts])
    alone_s = time.perf_counter() - started
    diff = np.abs(batched - alone)
    flipped = int(((batched >= 0.5) != (alone >= 0.5)).sum())
    print(f"model {clf.version}, {len(texts)} posts (batch {clf.batch_size}: {batched_s:.1f} s; "
          f"one by one: {alone_s:.1f} s)")
    print(f"|batched - alone|: mean {diff.mean():.4f}, p95 {np.quantile(diff, 0.95):.4f}, max {diff.max():.3f}")
    print(f"decisions at 0.5 that differ: {flipped} of {len(texts)}")


if __name__ == "__main__":
    main()
