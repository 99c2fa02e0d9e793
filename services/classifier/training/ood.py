"""The out-of-distribution evaluation set and its near-duplicate check.

``data/classifier_ood/*.jsonl`` holds posts written apart from the training
corpus (other writers, other instructions, no shared templates) in the
style of real timelines and anonymous boards, with a large share of rough
but benign posts (``"rough": true``). It is never trained on.

Before use, every post that is a near duplicate of a training-corpus post
(Jaccard similarity of character 3-gram sets >= ``NEAR_DUP_JACCARD``, after
NFKC folding) is dropped, so the set cannot reward memory of the corpus.
The rest is cut, per file and label, by a keyed hash into ``ood_cal``
(fits the score calibration and takes part in the promotion gate) and
``ood_test`` (reported only: never fitted, tuned or gated on).
"""
from __future__ import annotations

import hashlib
import json
import pathlib
from collections import defaultdict

from ..inference import LABELS, REPO_ROOT
from .data import Example, normalise

OOD_DIR = REPO_ROOT / "data" / "classifier_ood"
NEAR_DUP_JACCARD = 0.5
CAL_FRACTION = 0.3
OOD_SEED = 20261201
# shingles shared by this many corpus posts say nothing about near duplicates
_COMMON_SHINGLE_DF = 300


def shingles(text: str, n: int = 3) -> frozenset[str]:
    t = normalise(text).replace(" ", "")
    if len(t) <= n:
        return frozenset([t]) if t else frozenset()
    return frozenset(t[i:i + n] for i in range(len(t) - n + 1))


class NearDuplicateIndex:
    """Inverted index of corpus shingles; finds the most similar corpus post."""

    def __init__(self, texts: list[str]):
        self.texts = texts
        self.sets = [shingles(t) for t in texts]
        self.postings: dict[str, list[int]] = defaultdict(list)
        for i, sh in enumerate(self.sets):
            for g in sh:
                self.postings[g].append(i)

    def nearest(self, text: str) -> tuple[float, int]:
        q = shingles(text)
        if not q:
            return 0.0, -1
        counts: dict[int, int] = defaultdict(int)
        rare = [g for g in q if 0 < len(self.postings.get(g, ())) <= _COMMON_SHINGLE_DF]
        for g in rare:
            for i in self.postings[g]:
                counts[i] += 1
        best, best_i = 0.0, -1
        for i, shared_rare in counts.items():
            if shared_rare * 4 < len(rare):  # cannot reach a high similarity
                continue
            other = self.sets[i]
            j = len(q & other) / len(q | other)
            if j > best:
                best, best_i = j, i
        return best, best_i


def load_ood(corpus_texts: list[str], ood_dir: pathlib.Path | str = OOD_DIR,
             threshold: float = NEAR_DUP_JACCARD) -> tuple[list[Example], dict]:
    """OOD posts minus near duplicates of the corpus, and what was dropped."""
    ood_dir = pathlib.Path(ood_dir)
    index = NearDuplicateIndex(corpus_texts)
    report = {"files": {}, "near_duplicates": 0, "bad_lines": 0, "threshold": threshold, "examples": []}
    out: list[Example] = []
    seen: set[str] = set()
    for path in sorted(ood_dir.glob("*.jsonl")):
        kept = dropped = 0
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                text, label = str(rec["text"]), str(rec["label"]).strip().lower()
            except (ValueError, KeyError, TypeError):
                report["bad_lines"] += 1
                continue
            key = normalise(text)
            if label not in LABELS or not key or key in seen:
                report["bad_lines"] += 1
                continue
            seen.add(key)
            sim, idx = index.nearest(text)
            if sim >= threshold:
                dropped += 1
                if len(report["examples"]) < 10:
                    report["examples"].append({"ood": text, "corpus": corpus_texts[idx], "jaccard": round(sim, 3)})
                continue
            kept += 1
            kind = "rough" if rec.get("rough") else ("other" if label == "none" else "")
            out.append(Example(text=text, label=label, kind=kind, source=path.name,
                               extra={"set": str(rec.get("set") or path.stem), "rough": bool(rec.get("rough"))}))
        report["files"][path.name] = {"kept": kept, "near_duplicates": dropped}
        report["near_duplicates"] += dropped
    return out, report


def _hash(text: str) -> str:
    return hashlib.sha256(f"{OOD_SEED}\x00{normalise(text)}".encode()).hexdigest()


def split_ood(examples: list[Example], cal_fraction: float = CAL_FRACTION) -> dict[str, list[Example]]:
    strata: dict[tuple, list[Example]] = defaultdict(list)
    for e in examples:
        strata[(e.source, e.label, e.kind)].append(e)
    out = {"ood_cal": [], "ood_test": []}
    for key in sorted(strata):
        items = sorted(strata[key], key=lambda e: _hash(e.text))
        n_cal = int(round(len(items) * cal_fraction))
        out["ood_cal"] += items[:n_cal]
        out["ood_test"] += items[n_cal:]
    for part in out.values():
        part.sort(key=lambda e: _hash(e.text + "\x01"))
    return out


def rough_benign(examples: list[Example]) -> list[int]:
    return [i for i, e in enumerate(examples) if e.label == "none" and e.extra.get("rough")]
